//! The change journal: appended in the same transaction as every change to tenant data.

use crate::{registry, StoreError, TenantDb};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::{Any, Row, Transaction};

/// Who made a change: a user of the tenant, or the system acting for an operator.
#[derive(Debug, Clone)]
pub enum Actor {
    User { id: String },
    System { what: &'static str },
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::User { id } => id.clone(),
            Actor::System { what } => format!("system:{what}"),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User { id } => Some(id),
            Actor::System { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalOp {
    Create,
    Update,
    Delete,
}

impl JournalOp {
    fn as_str(self) -> &'static str {
        match self {
            JournalOp::Create => "create",
            JournalOp::Update => "update",
            JournalOp::Delete => "delete",
        }
    }
}

pub(crate) struct Change<'a> {
    pub entity: &'a str,
    pub record_id: &'a str,
    pub op: JournalOp,
    pub changed: Vec<String>,
    pub data: Option<Value>,
}

pub(crate) async fn append(
    tx: &mut Transaction<'_, Any>,
    at: &str,
    actor: &Actor,
    change: Change<'_>,
) -> Result<(), StoreError> {
    lock_order(tx).await?;
    let image = after_image(tx, &change).await?;
    sqlx::query(
        "INSERT INTO journal (at, actor, entity, record_id, op, changed, data, image) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(actor.label())
    .bind(change.entity)
    .bind(change.record_id)
    .bind(change.op.as_str())
    .bind(serde_json::to_string(&change.changed).unwrap_or_else(|_| "[]".into()))
    .bind(change.data.map(|d| d.to_string()))
    .bind(image.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Journal positions must become visible in their order: a backup that has seen entry n
/// must have seen every entry before it. PostgreSQL hands out sequence numbers before
/// commit, so writers take this lock from their first journal entry to their commit.
/// (SQLite's write transactions are serialised already.)
pub(crate) async fn lock_order(tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
    if tx.backend_name().eq_ignore_ascii_case("postgres")
        || tx.backend_name().eq_ignore_ascii_case("postgresql")
    {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(JOURNAL_ORDER_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Appends many entries of records just written, whose after-images the caller read back
/// (`image` as [`after_image`] builds it), in multi-row statements: the bulk write path's
/// journal, entry for entry what [`append`] writes.
pub(crate) async fn append_many(
    tx: &mut Transaction<'_, Any>,
    at: &str,
    actor: &Actor,
    entries: Vec<(Change<'_>, Value)>,
) -> Result<(), StoreError> {
    lock_order(tx).await?;
    let actor = actor.label();
    for chunk in entries.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO journal (at, actor, entity, record_id, op, changed, data, image) VALUES ",
        );
        crate::BackendKind::of(tx).push_value_rows(&mut sql, chunk.len(), 8);
        let mut q = sqlx::query(&sql);
        for (change, image) in chunk {
            q = q
                .bind(at)
                .bind(actor.clone())
                .bind(change.entity)
                .bind(change.record_id)
                .bind(change.op.as_str())
                .bind(serde_json::to_string(&change.changed).unwrap_or_else(|_| "[]".into()))
                .bind(change.data.as_ref().map(|d| d.to_string()))
                .bind(image.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A record's after-image as [`append`] writes it: the stored row and its indexed words.
pub(crate) fn record_image(table: &str, row: Value, words: &str) -> Value {
    serde_json::json!({
        "table": table,
        "row": row,
        "search": words,
    })
}

/// The advisory lock key that orders journal writers on PostgreSQL ("skjold journal").
const JOURNAL_ORDER_LOCK: i64 = 0x736b_6a6f_6c64_6a6c;

/// Journals a change of one row of a journaled table that record history never shows
/// (credentials, factors, sign-in failures): the entry carries only the after-image that a
/// restore replays, no `data` for history. `key` is the row's key in the registry's order.
pub(crate) async fn append_row(
    tx: &mut Transaction<'_, Any>,
    at: &str,
    actor: &Actor,
    table: &str,
    key: &[Value],
    op: JournalOp,
) -> Result<(), StoreError> {
    let t = registry::table(table)
        .filter(|t| t.entity().is_some())
        .ok_or_else(|| StoreError::Corrupt(format!("{table} is not a journaled table")))?;
    let entity = t.entity().unwrap_or_default();
    let record_id = t.record_id(key)?;
    append(
        tx,
        at,
        actor,
        Change {
            entity,
            record_id: &record_id,
            op,
            changed: vec![],
            data: None,
        },
    )
    .await
}

/// Journals each row a statement's `RETURNING` clause answered (the table's key columns, at
/// least) as changed by `op`; answers how many.
pub(crate) async fn append_rows(
    tx: &mut Transaction<'_, Any>,
    at: &str,
    actor: &Actor,
    table: &str,
    op: JournalOp,
    rows: &[sqlx::any::AnyRow],
) -> Result<u64, StoreError> {
    let t = registry::table(table)
        .ok_or_else(|| StoreError::Corrupt(format!("{table} is not in the registry")))?;
    for row in rows {
        let key = t.key_of_row(&crate::dump::row_to_json(row)?)?;
        append_row(tx, at, actor, table, &key, op).await?;
    }
    Ok(rows.len() as u64)
}

/// The change's after-image, read back inside the writing transaction so that it is exactly
/// what was stored: the whole row and the record's indexed words, or for a delete only the
/// table.
async fn after_image(
    tx: &mut Transaction<'_, Any>,
    change: &Change<'_>,
) -> Result<Value, StoreError> {
    let table = registry::journaled_table(change.entity)?;
    if change.op == JournalOp::Delete {
        return Ok(serde_json::json!({ "table": table.name }));
    }
    let key = table.key_values(change.record_id)?;
    let sql = format!(
        "SELECT * FROM {} WHERE {}",
        table.name,
        table.key_condition(1)
    );
    let row = registry::bind_key(sqlx::query(&sql), table, &key)?
        .fetch_one(&mut **tx)
        .await?;
    // A record's indexed words (null for entities that are not records). Before migration
    // 0013 this was the list of its search_tokens; a replay reads both.
    let search = crate::search_index::doc_words(tx, change.entity, change.record_id).await?;
    Ok(serde_json::json!({
        "table": table.name,
        "row": crate::dump::row_to_json(&row)?,
        "search": search,
    }))
}

/// One change of a record as its history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: String,
    /// The user id of who made the change, or `system:<what>`.
    pub actor: String,
    pub op: JournalOp,
    /// For each changed field: its value before and after.
    pub changes: Map<String, Value>,
}

impl TenantDb {
    /// The record's changes, oldest first, each with the fields' values before and after.
    /// Only for entities the registry lets history show (records and users): the journal
    /// entries of credentials and factors exist for restores alone, so for those this
    /// answers nothing.
    pub async fn history(
        &self,
        entity: &str,
        record_id: &str,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        if !registry::in_history(entity) {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT seq, at, actor, op, changed, data FROM journal \
             WHERE entity = $1 AND record_id = $2 ORDER BY seq",
        )
        .bind(entity)
        .bind(record_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut before: Map<String, Value> = Map::new();
        for row in rows {
            let op: String = row.try_get("op")?;
            let changed: String = row.try_get("changed")?;
            let changed: Vec<String> = serde_json::from_str(&changed)
                .map_err(|e| StoreError::Corrupt(format!("journal changed list: {e}")))?;
            let data: Option<String> = row.try_get("data")?;
            let after: Map<String, Value> = match data {
                Some(d) => serde_json::from_str(&d)
                    .map_err(|e| StoreError::Corrupt(format!("journal data: {e}")))?,
                None => Map::new(),
            };
            let op = match op.as_str() {
                "create" => JournalOp::Create,
                "update" => JournalOp::Update,
                "delete" => JournalOp::Delete,
                other => return Err(StoreError::Corrupt(format!("journal op '{other}'"))),
            };
            let mut changes = Map::new();
            for field in &changed {
                let from = before.get(field).cloned().unwrap_or(Value::Null);
                let to = after.get(field).cloned().unwrap_or(Value::Null);
                changes.insert(field.clone(), serde_json::json!({ "from": from, "to": to }));
            }
            out.push(HistoryEntry {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                op,
                changes,
            });
            before = after;
        }
        Ok(out)
    }
}
