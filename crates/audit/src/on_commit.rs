//! An audit record that waits for its change's commit: the one [`BeforeCommit`] every layer
//! attaches to a transaction (the application layer's actions, operators' changes, a
//! sign-in's session, a restore). It is written into each of its chains once, just before
//! the first commit that carries it; if any chain refuses it, that commit is rolled back.

use crate::AuditTrail;
use futures_util::future::BoxFuture;
use skjold_domain::audit::Draft;
use skjold_store::{BeforeCommit, StoreError};
use std::sync::Mutex;

pub struct RecordOnCommit {
    trail: AuditTrail,
    chains: Vec<String>,
    /// `None` once recorded.
    draft: Mutex<Option<Draft>>,
}

impl RecordOnCommit {
    pub fn new(trail: AuditTrail, chains: Vec<String>, draft: Draft) -> Self {
        Self {
            trail,
            chains,
            draft: Mutex::new(Some(draft)),
        }
    }

    /// Records the draft now unless a commit has: for a change that committed nothing (a
    /// change to the same value) or needed no transaction.
    pub async fn record_pending(&self) -> Result<(), StoreError> {
        let draft = self.draft.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(draft) = draft else { return Ok(()) };
        for chain in &self.chains {
            self.trail.record(chain, draft.clone()).await.map_err(|e| {
                tracing::error!(error = %e, "refusing a change whose audit event could not be recorded");
                StoreError::Unaudited(e.to_string())
            })?;
        }
        Ok(())
    }
}

impl BeforeCommit for RecordOnCommit {
    fn before_commit(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.record_pending())
    }
}
