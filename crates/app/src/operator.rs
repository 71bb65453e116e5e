//! Who acts for the installation (an operator, at the command line or through the operator
//! API), and the audit event of an operator's change, recorded inside its transaction.

use crate::Via;
use futures_util::future::BoxFuture;
use skjold_audit::{AuditTrail, RecordOnCommit};
use skjold_domain::audit::{AuditKind, Draft};
use skjold_domain::clock::format_timestamp;
use skjold_store::{BeforeCommit, Catalog, StoreError};

/// An operator acting on the installation.
#[derive(Debug, Clone)]
pub struct Operator {
    /// `operator` at the command line; `operator:<token name>` through the operator API.
    pub name: String,
    pub via: Via,
}

impl Operator {
    /// The operator at this machine's command line.
    pub fn cli() -> Self {
        Self {
            name: "operator".into(),
            via: Via::Cli,
        }
    }

    /// The holder of the operator API token named `token_name`.
    pub fn api(token_name: &str) -> Self {
        Self {
            name: format!("operator:{token_name}"),
            via: Via::Api,
        }
    }
}

/// The installation's context for an operator's action: where its records live, its trail
/// and its clock.
#[derive(Clone, Copy)]
pub struct OpsCtx<'a> {
    pub catalog: &'a Catalog,
    pub audit: &'a AuditTrail,
}

/// An operator's event, recorded in each of `chains` inside the transaction of the change
/// it describes (as a [`BeforeCommit`]): if any cannot be recorded, the change is rolled back.
pub struct OperatorEvents {
    pending: RecordOnCommit,
}

impl OperatorEvents {
    fn build(
        audit: &AuditTrail,
        catalog: &Catalog,
        chains: &[&str],
        kind: AuditKind,
        username: Option<String>,
        detail: serde_json::Value,
    ) -> Self {
        let draft = Draft {
            at: format_timestamp(catalog.clock().now()),
            kind: kind.into(),
            username,
            detail: Some(detail),
            ..Draft::default()
        };
        let chains = chains.iter().map(|c| c.to_string()).collect();
        Self {
            pending: RecordOnCommit::new(audit.clone(), chains, draft),
        }
    }

    /// The event `kind` with `detail`, by the operator of the command line.
    pub fn new(
        audit: &AuditTrail,
        catalog: &Catalog,
        chains: &[&str],
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Self {
        Self::build(
            audit,
            catalog,
            chains,
            kind,
            Some("operator".into()),
            detail,
        )
    }

    /// The event `kind` with `detail`, done by someone who is not signed in (an unsubscribe
    /// link): it names no actor.
    pub fn unsigned(
        audit: &AuditTrail,
        catalog: &Catalog,
        chains: &[&str],
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Self {
        Self::build(audit, catalog, chains, kind, None, detail)
    }

    /// The event `kind` by `operator` in the installation's chain; the way it came is added
    /// to `detail` as `via`.
    pub fn by(
        ops: &OpsCtx<'_>,
        operator: &Operator,
        kind: AuditKind,
        mut detail: serde_json::Value,
    ) -> Self {
        if let serde_json::Value::Object(map) = &mut detail {
            map.insert("via".into(), operator.via.as_str().into());
        }
        Self::build(
            ops.audit,
            ops.catalog,
            &[skjold_domain::audit::SYSTEM_CHAIN],
            kind,
            Some(operator.name.clone()),
            detail,
        )
    }
}

impl BeforeCommit for OperatorEvents {
    fn before_commit(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.pending.before_commit()
    }
}
