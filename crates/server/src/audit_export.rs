//! Exporting a search of the audit trail as CSV or JSON lines (claim S32: an auditor takes the
//! evidence away): every matching record, newest first, streamed page by page so that a year of
//! records never sits in memory. The API and the web UI both answer with [`response`]; each
//! records the export as a security event first.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;
use skjold_domain::audit::AuditRecord;
use skjold_store::{AuditQuery, TenantDb};
use utoipa::ToSchema;

/// The event every export leaves in the trail it exported.
pub const EXPORTED: &str = "audit.exported";

/// Records fetched per database round trip while streaming.
const PAGE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header row, for spreadsheets.
    Csv,
    /// One JSON record per line, exactly as stored (with `seq`, `prev_hash` and `hash`).
    Jsonl,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csv" => Some(Self::Csv),
            "jsonl" => Some(Self::Jsonl),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/x-ndjson",
        }
    }
}

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

/// A cell a spreadsheet will not run as a formula: paths, user agents and usernames come from
/// whoever sent the request, so `=HYPERLINK(…)` must arrive as text.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

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
        ExportFormat::Jsonl => {
            let mut out = Vec::with_capacity(records.len() * 400);
            for r in records {
                serde_json::to_writer(&mut out, r).map_err(|e| e.to_string())?;
                out.push(b'\n');
            }
            Ok(out)
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::with_capacity(records.len() * 400));
            if header {
                w.write_record(CSV_COLUMNS).map_err(|e| e.to_string())?;
            }
            for r in records {
                w.write_record(csv_row(r)).map_err(|e| e.to_string())?;
            }
            w.into_inner().map_err(|e| e.to_string())
        }
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
    let pages = stream::unfold(Some((query, true)), move |state| {
        let db = db.clone();
        async move {
            let (mut q, first) = state?;
            let page = match db.audit().search(&q).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped: the search failed");
                    return Some((Err(std::io::Error::other("audit export failed")), None));
                }
            };
            let (items, more) = page;
            let chunk = match encode(&items, format, first) {
                Ok(bytes) => Ok(Bytes::from(bytes)),
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped: encoding failed");
                    return Some((Err(std::io::Error::other("audit export failed")), None));
                }
            };
            let next = match (more, items.last()) {
                (true, Some(last)) => {
                    q.before = Some((last.at.clone(), last.seq));
                    Some((q, false))
                }
                _ => None,
            };
            Some((chunk, next))
        }
    });
    let mut res = Body::from_stream(pages.boxed()).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!("attachment; filename=\"{filename}.{}\"", format.as_str());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
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
