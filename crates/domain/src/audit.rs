//! Audit records and their hash chain.
//!
//! Every record carries its sequence number in its chain, the hash of the record before it
//! and its own hash: SHA-256 over the canonical JSON of all its other fields (object keys
//! sorted, no whitespace). Editing, removing, inserting or reordering any record breaks the
//! chain at that point, which `skjold audit verify` reports.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use utoipa::ToSchema;

/// The hash a chain's first record points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain of installation-level records (operators, tenantless requests).
pub const SYSTEM_CHAIN: &str = "_system";

pub use crate::audit_kind::{AuditKind, Severity, UnknownAuditKind};

/// The kind of every per-request access record, as stored ([`AuditKind::HttpAccess`]).
pub const ACCESS: &str = AuditKind::HttpAccess.as_str();

/// One audit record as stored in the database and written to the daily file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// Position in its chain, from 1, without gaps.
    pub seq: i64,
    #[schema(format = DateTime)]
    pub at: String,
    /// The tenant's slug, or `_system`.
    pub chain: String,
    /// `http.access`, or a security event such as `auth.sign_in.failed`: an [`AuditKind`]'s
    /// text, kept as text because a trail may hold kinds that are no longer written.
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
    /// The [`AuditKind`]'s text: producers name their kind with the enum (`kind.into()`).
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
        hex_sha256(self.canonical_unhashed().as_bytes())
    }

    /// The canonical JSON of every field but `hash`, written field by field with the keys
    /// already in sorted order. Every request pays for this, and the generic route (the
    /// record turned into a `Value` map, its keys sorted and each written through a string of
    /// its own) cost several allocations per field; the test
    /// `the_direct_canonical_form_is_the_generic_one` holds the two to the same bytes.
    fn canonical_unhashed(&self) -> String {
        let mut out = CanonicalObject::with_capacity(512);
        // Keys in byte order: at < bytes < chain < detail < duration_ms < ip < kind <
        // method < path < prev_hash < request_id < seq < status < user_agent < user_id <
        // username.
        out.text("at", Some(&self.at));
        out.int("bytes", self.bytes);
        out.text("chain", Some(&self.chain));
        out.key("detail");
        match &self.detail {
            Some(detail) => write_canonical(detail, &mut out.buf),
            None => out.buf.push_str("null"),
        }
        out.int("duration_ms", self.duration_ms);
        out.text("ip", self.ip.as_deref());
        out.text("kind", Some(&self.kind));
        out.text("method", self.method.as_deref());
        out.text("path", self.path.as_deref());
        out.text("prev_hash", Some(&self.prev_hash));
        out.text("request_id", self.request_id.as_deref());
        out.int("seq", Some(self.seq));
        out.int("status", self.status);
        out.text("user_agent", self.user_agent.as_deref());
        out.text("user_id", self.user_id.as_deref());
        out.text("username", self.username.as_deref());
        out.finish()
    }

    /// The UTC day the record belongs to (its file), `YYYY-MM-DD`.
    pub fn day(&self) -> &str {
        self.at.get(..10).unwrap_or("0000-00-00")
    }

    /// The record's fields as the database copy binds them, borrowed.
    pub fn row(&self) -> AuditRow<'_> {
        AuditRow {
            seq: self.seq,
            at: Cow::Borrowed(&self.at),
            chain: Cow::Borrowed(&self.chain),
            kind: Cow::Borrowed(&self.kind),
            request_id: self.request_id.as_deref().map(Cow::Borrowed),
            user_id: self.user_id.as_deref().map(Cow::Borrowed),
            username: self.username.as_deref().map(Cow::Borrowed),
            ip: self.ip.as_deref().map(Cow::Borrowed),
            method: self.method.as_deref().map(Cow::Borrowed),
            path: self.path.as_deref().map(Cow::Borrowed),
            status: self.status,
            duration_ms: self.duration_ms,
            bytes: self.bytes,
            user_agent: self.user_agent.as_deref().map(Cow::Borrowed),
            detail: self.detail.as_ref().map(|d| Cow::Owned(d.to_string())),
            prev_hash: Cow::Borrowed(&self.prev_hash),
            hash: Cow::Borrowed(&self.hash),
        }
    }
}

/// A record's fields as its database row takes them, borrowed where it can be: from an
/// [`AuditRecord`] ([`AuditRecord::row`]) or straight from the line a day file holds (the
/// same JSON), whose strings it points into unless they had to be unescaped. The trail's
/// copier binds the lines the writer wrote, so that a record's own strings are freed when
/// its request ends instead of waiting for the database copy on another thread.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditRow<'a> {
    pub seq: i64,
    #[serde(borrow)]
    pub at: Cow<'a, str>,
    #[serde(borrow)]
    pub chain: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub user_id: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub username: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub ip: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub path: Option<Cow<'a, str>>,
    pub status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    #[serde(borrow, deserialize_with = "optional_text")]
    pub user_agent: Option<Cow<'a, str>>,
    /// The details as compact JSON text, as the database keeps them.
    #[serde(deserialize_with = "detail_text")]
    pub detail: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    pub hash: Cow<'a, str>,
}

/// An optional string that borrows from the input unless it holds escapes (serde borrows a
/// `Cow` field only when it is not wrapped in an `Option`).
fn optional_text<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

/// The details object, written back as compact JSON text: the same text [`AuditRecord::row`]
/// makes of it.
fn detail_text<'de, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.map(|v| Cow::Owned(v.to_string())))
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A JSON object written key by key, for callers that already hold their keys in sorted
/// order (see [`AuditRecord::canonical_unhashed`]).
struct CanonicalObject {
    buf: String,
    first: bool,
}

impl CanonicalObject {
    fn with_capacity(n: usize) -> Self {
        let mut buf = String::with_capacity(n);
        buf.push('{');
        Self { buf, first: true }
    }

    /// `key` is one of the record's field names: plain ASCII that JSON needs no escape for.
    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        self.buf.push('"');
        self.buf.push_str(key);
        self.buf.push_str("\":");
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        match value {
            Some(v) => write_json_string(v, &mut self.buf),
            None => self.buf.push_str("null"),
        }
    }

    fn int(&mut self, key: &str, value: Option<i64>) {
        use std::fmt::Write;
        self.key(key);
        match value {
            Some(v) => {
                let _ = write!(self.buf, "{v}");
            }
            None => self.buf.push_str("null"),
        }
    }

    fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// A JSON string literal, escaped exactly as `serde_json` escapes it (which is what the
/// canonical form is defined by): the quote, the backslash and the control characters below
/// U+0020 (by their short escapes where JSON has one, else as `u00xx`); everything else as
/// UTF-8. The test `strings_are_escaped_as_serde_json_escapes_them` holds it to `serde_json`.
fn write_json_string(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain_from = 0;
    for (i, b) in text.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Every byte escaped is ASCII, so `i` is on a character boundary.
        out.push_str(&text[plain_from..i]);
        plain_from = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
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
                write_json_string(k, out);
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
        Value::String(text) => write_json_string(text, out),
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
    fn a_day_file_line_reads_back_as_the_row_of_its_record() {
        let plain = Draft {
            request_id: Some("r-1".into()),
            path: Some("/acme/api/v1/persons".into()),
            detail: None,
            ..draft(ACCESS)
        }
        .seal("acme", 7, GENESIS);
        let escaped = Draft {
            username: Some("åse \"quoted\" \\ back\u{1f}slash\n".into()),
            user_agent: Some("tab\there".into()),
            ..draft("auth.sign_in.failed")
        }
        .seal("acme", 8, &plain.hash);
        for record in [&plain, &escaped] {
            let line = serde_json::to_vec(record).unwrap();
            let row: AuditRow<'_> = serde_json::from_slice(&line).unwrap();
            assert_eq!(row, record.row());
        }
        // Strings without escapes point into the line rather than being copied.
        let line = serde_json::to_vec(&plain).unwrap();
        let row: AuditRow<'_> = serde_json::from_slice(&line).unwrap();
        assert!(matches!(row.path, Some(Cow::Borrowed(_))));
        assert!(matches!(row.hash, Cow::Borrowed(_)));
        assert_eq!(row.detail, None);
        let line = serde_json::to_vec(&escaped).unwrap();
        let row: AuditRow<'_> = serde_json::from_slice(&line).unwrap();
        let detail = escaped.detail.as_ref().unwrap().to_string();
        assert_eq!(row.detail.as_deref(), Some(detail.as_str()));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": [2, {"d": 3, "c": 4}]});
        assert_eq!(canonical_json(&v), r#"{"a":[2,{"c":4,"d":3}],"b":1}"#);
    }

    /// The canonical form as the format defines it: the record as a JSON value without
    /// `hash`, keys sorted at every level.
    fn generic_canonical(r: &AuditRecord) -> String {
        let mut value = serde_json::to_value(r).unwrap();
        value.as_object_mut().unwrap().remove("hash");
        canonical_json(&value)
    }

    #[test]
    fn the_direct_canonical_form_is_the_generic_one() {
        let bare = draft("x").seal("acme", 1, GENESIS);
        let full = Draft {
            at: "2026-11-26T23:59:59.999999Z".into(),
            kind: ACCESS.into(),
            request_id: Some("6b794b3455984d7cbe5654c9be5bb998".into()),
            user_id: Some("u-1".into()),
            username: Some("åse \"quoted\" \\ back\u{1f}slash\n".into()),
            ip: Some("2001:db8::1".into()),
            method: Some("GET".into()),
            path: Some("/acme/api/v1/persons/ü/\u{7f}/\u{2028}".into()),
            status: Some(404),
            duration_ms: Some(0),
            bytes: Some(-1),
            user_agent: Some("curl/8 \t tab".into()),
            detail: Some(json!({"z": null, "a": {"y": [1, "\u{0}", true], "b": 1.5}})),
        }
        .seal("_system", i64::MAX, &"f".repeat(64));
        let empty = Draft::default().seal("", i64::MIN, "");
        for r in [bare, full, empty] {
            assert_eq!(r.canonical_unhashed(), generic_canonical(&r));
            assert_eq!(r.hash, hex_sha256(generic_canonical(&r).as_bytes()));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every_ascii: String = (0u8..0x80).map(char::from).collect();
        every_ascii.push_str("æøå \u{2028} \u{10ffff} end");
        for text in [every_ascii.as_str(), "", "plain", "\"", "\\", "a\u{0}b"] {
            let mut ours = String::new();
            write_json_string(text, &mut ours);
            assert_eq!(ours, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn hex_sha256_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
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
