//! The audit event of an action, recorded inside the action's transaction.
//!
//! An action builds its event before it writes, and writes through
//! [`Audited::db`]: the store records the event durably in the audit trail just before the
//! first write transaction commits, and rolls that transaction back when the trail cannot
//! take it. The event describes the whole action, so a second transaction of the same action
//! does not record it again. An action that ends up committing nothing (a change to the same
//! value) records its event at [`Audited::finish`].

use crate::{Actor, AppError, Ctx};
use futures_util::future::BoxFuture;
use serde_json::Value;
use skjold_audit::RecordOnCommit;
use skjold_domain::audit::{AuditKind, Draft};
use skjold_domain::clock::format_timestamp;
use skjold_store::{BeforeCommit, StoreError, TenantDb};
use std::sync::Arc;

/// An action's audit event, waiting for the action's commit.
pub struct Audited {
    pending: RecordOnCommit,
}

impl Audited {
    /// The event `kind` with `detail` (an object; the way the action came is added as `via`),
    /// done by `actor` in the context's tenant.
    pub fn new(ctx: &Ctx<'_>, actor: &Actor, kind: AuditKind, detail: Value) -> Arc<Self> {
        let (user_id, username) = match actor {
            Actor::User { user, .. } => (Some(user.id.clone()), Some(user.username.clone())),
            Actor::Operator => (None, Some("operator".to_string())),
        };
        Self::drafted(ctx, user_id, username, actor.via(), kind, detail)
    }

    /// The event `kind` of an action that `user` takes before they are signed in (accepting
    /// their invitation): they are named as its actor, and the way it came is `via`.
    pub fn for_user(
        ctx: &Ctx<'_>,
        user: &skjold_store::User,
        via: crate::Via,
        kind: AuditKind,
        detail: Value,
    ) -> Arc<Self> {
        let (user_id, username) = (Some(user.id.clone()), Some(user.username.clone()));
        Self::drafted(ctx, user_id, username, via, kind, detail)
    }

    fn drafted(
        ctx: &Ctx<'_>,
        user_id: Option<String>,
        username: Option<String>,
        via: crate::Via,
        kind: AuditKind,
        mut detail: Value,
    ) -> Arc<Self> {
        if let Value::Object(map) = &mut detail {
            map.insert("via".into(), via.as_str().into());
        }
        let draft = Draft {
            at: format_timestamp(ctx.clock.now()),
            kind: kind.into(),
            request_id: ctx.request_id.clone(),
            user_id,
            username,
            ip: ctx.ip.map(|ip| ip.to_string()),
            detail: Some(detail),
            ..Draft::default()
        };
        Arc::new(Self {
            pending: RecordOnCommit::new(
                ctx.audit.clone(),
                vec![ctx.db.slug().as_str().to_string()],
                draft,
            ),
        })
    }

    /// `db`, writing through which records this event before the commit.
    pub fn db(self: &Arc<Self>, db: &TenantDb) -> TenantDb {
        db.with_before_commit(self.clone())
    }

    /// Records the event now if no commit has recorded it: for an action that changed
    /// nothing, or whose write needed no transaction.
    pub async fn finish(&self) -> Result<(), AppError> {
        self.pending
            .record_pending()
            .await
            .map_err(|e| AppError::Unaudited(e.to_string()))
    }
}

impl BeforeCommit for Audited {
    fn before_commit(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pending.before_commit()
    }
}
