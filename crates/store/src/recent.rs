//! Recently changed CRM records, for the dashboard: read from the change journal, which
//! sees every write.

use crate::journal::JournalOp;
use crate::{Sight, StoreError, TenantDb};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct RecentChange {
    pub seq: i64,
    pub at: String,
    /// The user id of who made the change, or `system:<what>`.
    pub actor: String,
    /// `company`, `person`, `activity` or `sale`.
    pub entity: String,
    pub record_id: String,
    pub op: JournalOp,
}

impl TenantDb {
    /// The latest change of each of the most recently changed CRM records within `sight`,
    /// newest first. A reader who does not see everything is shown only records that exist
    /// and that they see (a deleted record's owner is no longer known).
    pub async fn recent_changes(
        &self,
        sight: &Sight,
        limit: usize,
    ) -> Result<Vec<RecentChange>, StoreError> {
        let limit = limit.clamp(1, 100);
        // Read more entries than asked for: a record changed twice counts once, and a
        // narrow sight skips others' records.
        let factor = if sight.sees_everything() { 5 } else { 50 };
        let rows = sqlx::query(&format!(
            "SELECT seq, at, actor, entity, record_id, op FROM journal \
             WHERE entity IN ('company', 'person', 'activity', 'sale') \
             ORDER BY seq DESC LIMIT {}",
            limit * factor
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<RecentChange> = Vec::with_capacity(limit);
        for row in rows {
            let entity: String = row.try_get("entity")?;
            let record_id: String = row.try_get("record_id")?;
            if out
                .iter()
                .any(|c| c.entity == entity && c.record_id == record_id)
            {
                continue;
            }
            let op: String = row.try_get("op")?;
            if !sight.sees_everything() {
                let table = skjold_domain::crm::EntityKind::from_name(&entity)
                    .map(|k| k.table())
                    .ok_or_else(|| StoreError::Corrupt(format!("journal entity '{entity}'")))?;
                if !self.sees(sight, table, &record_id).await? {
                    continue;
                }
            }
            out.push(RecentChange {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                entity,
                record_id,
                op: match op.as_str() {
                    "create" => JournalOp::Create,
                    "update" => JournalOp::Update,
                    "delete" => JournalOp::Delete,
                    other => return Err(StoreError::Corrupt(format!("journal op '{other}'"))),
                },
            });
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }
}
