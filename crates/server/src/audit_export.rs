//! Exporting a search of the audit trail as CSV or JSON lines (claim S32: an auditor takes the
//! evidence away): every matching record, newest first, streamed page by page so that a year of
//! records never sits in memory. The API and the web UI both answer with [`response`]; each
//! records the export as a security event first.

use crate::export::{self, cell, ExportFormat};
use crate::{ApiError, AppState};
use axum::response::Response;
use skjold_domain::audit::AuditRecord;
use skjold_store::{AuditQuery, TenantDb};

/// Records fetched per database round trip while streaming.
const PAGE: usize = 500;

const CSV_COLUMNS: [&str; 17] = [
    "seq",
    "at",
    "chain",
    "kind",
    "request_id",
    "user_id",
    "username",
    "ip",
    "method",
    "path",
    "status",
    "duration_ms",
    "bytes",
    "user_agent",
    "detail",
    "prev_hash",
    "hash",
];

fn csv_row(r: &AuditRecord) -> Vec<String> {
    let opt = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    vec![
        r.seq.to_string(),
        r.at.clone(),
        cell(&r.chain),
        cell(&r.kind),
        opt(&r.request_id),
        opt(&r.user_id),
        opt(&r.username),
        opt(&r.ip),
        opt(&r.method),
        opt(&r.path),
        num(r.status),
        num(r.duration_ms),
        num(r.bytes),
        opt(&r.user_agent),
        r.detail
            .as_ref()
            .map(|d| cell(&d.to_string()))
            .unwrap_or_default(),
        r.prev_hash.clone(),
        r.hash.clone(),
    ]
}

fn encode(records: &[AuditRecord], format: ExportFormat, header: bool) -> Result<Vec<u8>, String> {
    match format {
        ExportFormat::Jsonl => export::json_lines(records),
        ExportFormat::Csv => export::csv_bytes(
            header.then_some(&CSV_COLUMNS[..]),
            records.iter().map(csv_row),
        ),
    }
}

/// Streams every record `query` matches (its limit and cursor are ignored) as a download
/// named `filename` plus the format's extension.
pub fn response(
    db: TenantDb,
    mut query: AuditQuery,
    format: ExportFormat,
    filename: &str,
) -> Response {
    query.limit = PAGE;
    query.before = None;
    export::download(
        format,
        filename,
        "audit",
        (query, true),
        move |(mut q, first)| {
            let db = db.clone();
            async move {
                let (items, more) = db.audit().search(&q).await.map_err(|e| e.to_string())?;
                let bytes = encode(&items, format, first)?;
                let next = match (more, items.last()) {
                    (true, Some(last)) => {
                        q.before = Some((last.at.clone(), last.seq));
                        Some((q, false))
                    }
                    _ => None,
                };
                Ok((bytes, next))
            }
        },
    )
}

/// The download of an export already recorded as an event: waits for the copier so the
/// export includes every record written before it (its own event too), then streams.
pub async fn exported(
    state: &AppState,
    db: &TenantDb,
    q: AuditQuery,
    format: ExportFormat,
) -> Result<axum::response::Response, ApiError> {
    state
        .audit
        .flush()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = format!(
        "audit-{}-{}",
        db.slug(),
        state.clock.now().format("%Y%m%dT%H%M%SZ")
    );
    Ok(response(db.clone(), q, format, &name))
}

/// What an export event records: the format and the filters, so an auditor sees what left.
pub fn export_detail(format: ExportFormat, q: &AuditQuery) -> serde_json::Value {
    serde_json::json!({
        "format": format.as_str(),
        "from": q.from,
        "to": q.to,
        "user": q.username,
        "ip": q.ip,
        "event": q.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> AuditRecord {
        AuditRecord {
            seq: 7,
            at: "2026-11-26T10:00:00.000000Z".into(),
            chain: "acme".into(),
            kind: "http.access".into(),
            request_id: Some("r1".into()),
            user_id: None,
            username: Some("ann".into()),
            ip: Some("192.0.2.1".into()),
            method: Some("GET".into()),
            path: Some(path.into()),
            status: Some(200),
            duration_ms: Some(3),
            bytes: None,
            user_agent: Some("curl, \"quoted\"".into()),
            detail: None,
            prev_hash: "a".repeat(64),
            hash: "b".repeat(64),
        }
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let out = encode(&[record("=HYPERLINK(\"x\")")], ExportFormat::Csv, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
        let row = lines.next().unwrap();
        assert!(row.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{row}");
        assert!(row.contains("\"curl, \"\"quoted\"\"\""), "{row}");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(parsed.len(), 1);
        assert_eq!(&parsed[0][9], "'=HYPERLINK(\"x\")");
    }

    #[test]
    fn json_lines_round_trip() {
        let r = record("/acme/api/v1/companies");
        let out = encode(std::slice::from_ref(&r), ExportFormat::Jsonl, true).unwrap();
        let back: AuditRecord = serde_json::from_slice(out.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
