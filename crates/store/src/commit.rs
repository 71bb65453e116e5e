//! What must be made durable before a tenant transaction commits.
//!
//! The application layer attaches the audit event of an action to the [`TenantDb`] it writes
//! through ([`TenantDb::with_before_commit`]); every write transaction of that handle then
//! records the event before it commits, and rolls back when the event cannot be recorded.
//! So a change is never committed without its audit record: the store cannot forget it, and
//! no handler has to remember it.

use crate::{StoreError, TenantDb};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Work that must succeed before a write transaction of the handle commits.
pub trait BeforeCommit: Send + Sync {
    /// Called once per committing write transaction, inside it. An error rolls the
    /// transaction back and is answered to the caller.
    fn before_commit(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl TenantDb {
    /// This handle, whose write transactions run `hook` before they commit.
    pub fn with_before_commit(&self, hook: Arc<dyn BeforeCommit>) -> TenantDb {
        let mut db = self.clone();
        db.before_commit = Some(hook);
        db
    }

    /// Commits a write transaction of this handle, after its [`BeforeCommit`] work.
    pub(crate) async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        commit_recorded(tx, self.before_commit.as_deref()).await
    }
}

/// Commits `tx` after `record` (the change's audit event) has succeeded — the one way a
/// tenant's or the catalog's transaction commits with its event. An error from `record`
/// drops the transaction, which rolls it back.
pub(crate) async fn commit_recorded(
    tx: sqlx::Transaction<'static, sqlx::Any>,
    record: Option<&dyn BeforeCommit>,
) -> Result<(), StoreError> {
    if let Some(record) = record {
        record.before_commit().await?;
    }
    tx.commit().await?;
    Ok(())
}
