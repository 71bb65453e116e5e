//! The audit trail: every access and security event, in the chain's database and in an
//! append-only JSON-lines file per chain and UTC day, hash-chained, durable before the
//! caller goes on, and verifiable.

mod copier;
mod files;
mod on_commit;
mod retention;
mod trail;
mod verify;
mod writer;

pub use files::{chain_dir, day_files, Seal};
pub use on_commit::RecordOnCommit;
pub use retention::{purge_before, PurgeReport};
pub use trail::{backfill, AuditError, AuditTrail};
pub use verify::{verify_chain, Damage, DamageKind, VerifyReport};

/// Where the audit files live under the data dir.
pub fn logs_root(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("logs").join("audit")
}
