//! Audit records and their hash chain.
//!
//! Every record carries its sequence number in its chain, the hash of the record before it
//! and its own hash: SHA-256 over the canonical JSON of all its other fields (object keys
//! sorted, no whitespace). Editing, removing, inserting or reordering any record breaks the
//! chain at that point, which `skjold audit verify` reports.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The hash a chain's first record points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain of installation-level records (operators, tenantless requests).
pub const SYSTEM_CHAIN: &str = "_system";

/// The kind of every per-request access record.
pub const ACCESS: &str = "http.access";

/// One audit record as stored in the database and written to the daily file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// Position in its chain, from 1, without gaps.
    pub seq: i64,
    #[schema(format = DateTime)]
    pub at: String,
    /// The tenant's slug, or `_system`.
    pub chain: String,
    /// `http.access`, or a security event such as `auth.sign_in.failed`.
    pub kind: String,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    /// The user, or for a failed sign-in the username that was tried.
    pub username: Option<String>,
    /// The true client address (see the trusted proxy setting).
    pub ip: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    pub user_agent: Option<String>,
    /// Event details, e.g. `{"reason": "wrong_password"}` (never shown to the client that
    /// caused it).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

/// What a caller knows about a record before the chain gives it a place.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub at: String,
    pub kind: String,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    pub user_agent: Option<String>,
    pub detail: Option<Value>,
}

impl Draft {
    /// Places the draft after `prev` in `chain` and computes its hash.
    pub fn seal(self, chain: &str, seq: i64, prev_hash: &str) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            at: self.at,
            chain: chain.to_string(),
            kind: self.kind,
            request_id: self.request_id,
            user_id: self.user_id,
            username: self.username,
            ip: self.ip,
            method: self.method,
            path: self.path,
            status: self.status,
            duration_ms: self.duration_ms,
            bytes: self.bytes,
            user_agent: self.user_agent,
            detail: self.detail,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        record
    }
}

impl AuditRecord {
    /// SHA-256 (hex) of the canonical JSON of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("hash");
        }
        hex_sha256(canonical_json(&value).as_bytes())
    }

    /// The UTC day the record belongs to (its file), `YYYY-MM-DD`.
    pub fn day(&self) -> &str {
        self.at.get(..10).unwrap_or("0000-00-00")
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted at every level and no insignificant whitespace, so that the
/// same record always hashes the same, whatever order a parser kept its keys in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(kind: &str) -> Draft {
        Draft {
            at: "2026-11-26T10:00:00.000000Z".into(),
            kind: kind.into(),
            username: Some("ada".into()),
            detail: Some(json!({"b": 1, "a": [2, {"d": 3, "c": 4}]})),
            ..Draft::default()
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": [2, {"d": 3, "c": 4}]});
        assert_eq!(canonical_json(&v), r#"{"a":[2,{"c":4,"d":3}],"b":1}"#);
    }

    #[test]
    fn any_change_to_a_record_changes_its_hash() {
        let r = draft("x").seal("acme", 1, GENESIS);
        assert_eq!(r.hash, r.compute_hash());
        assert_eq!(r.day(), "2026-11-26");
        let mut edited = r.clone();
        edited.username = Some("eve".into());
        assert_ne!(edited.compute_hash(), r.hash);
        let mut moved = r.clone();
        moved.seq = 2;
        assert_ne!(moved.compute_hash(), r.hash);
        let mut relinked = r.clone();
        relinked.prev_hash = "1".repeat(64);
        assert_ne!(relinked.compute_hash(), r.hash);
        // Key order in a parsed copy does not matter.
        let text = serde_json::to_string(&r).unwrap();
        let back: AuditRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.compute_hash(), r.hash);
    }
}
