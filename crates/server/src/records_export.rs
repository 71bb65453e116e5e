//! Exporting CRM records as CSV or JSON lines: what the `export` right allows (a salesperson
//! takes their accounts to a spreadsheet, an integration copies a list). Every record the
//! list's filters and the reader's sight match, in the list's order, streamed page by page.
//! The application layer checks the rights, reads the first page and records the export
//! (`records.exported`) before the first byte leaves; the API and the web UI both answer
//! with [`response`].

use crate::export::{self, cell, ExportFormat};
use axum::response::Response;
use serde_json::Value;
use skjold_domain::crm::Entity;
use skjold_store::{ListQuery, Page, TenantDb};

/// The columns of a record type's CSV: its id, every stored field, its two times. The same
/// keys as the API's JSON, in this fixed order whatever a page holds.
pub fn columns<E: Entity>() -> Vec<&'static str> {
    let mut out = vec!["id"];
    out.extend(E::COLUMNS.iter().map(|c| c.name));
    out.extend(["created_at", "updated_at"]);
    out
}

/// A JSON value as a CSV cell: text defused for spreadsheets, numbers and booleans as
/// written, nothing for null, lists and objects as their JSON.
fn value_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => cell(s),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => cell(&other.to_string()),
    }
}

fn encode<E: Entity>(items: &[E], format: ExportFormat, header: bool) -> Result<Vec<u8>, String> {
    match format {
        ExportFormat::Jsonl => export::json_lines(items),
        ExportFormat::Csv => {
            let columns = columns::<E>();
            let mut rows = Vec::with_capacity(items.len());
            for item in items {
                let value = serde_json::to_value(item).map_err(|e| e.to_string())?;
                rows.push(
                    columns
                        .iter()
                        .map(|c| value_cell(value.get(c)))
                        .collect::<Vec<_>>(),
                );
            }
            export::csv_bytes(header.then_some(&columns[..]), rows)
        }
    }
}

/// The download's name: `companies-acme-20261127T101500Z`.
fn filename<E: Entity>(db: &TenantDb, now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{}-{}",
        E::KIND.table(),
        db.slug(),
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// Where a download stands: the first page, read before answering, or the next to read.
enum Step<E> {
    Have(Page<E>, ListQuery),
    Read(ListQuery),
}

/// Streams an export that the application layer accepted and recorded
/// ([`skjold_app::records::export`]), its first page first.
pub fn response<E: Entity>(
    db: &TenantDb,
    export: skjold_app::records::Export<E>,
    format: ExportFormat,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let skjold_app::records::Export {
        first,
        query,
        sight,
    } = export;
    let filename = filename::<E>(db, now);
    let db = db.clone();
    export::download(
        format,
        &filename,
        "records",
        Step::Have(first, query),
        move |step| {
            let (db, sight) = (db.clone(), sight.clone());
            async move {
                let (page, mut q, header) = match step {
                    Step::Have(page, q) => (page, q, true),
                    Step::Read(q) => {
                        let page = db.list::<E>(&sight, &q).await.map_err(|e| e.to_string())?;
                        (page, q, false)
                    }
                };
                let bytes = encode(&page.items, format, header)?;
                let next = page.next_cursor.map(|c| {
                    q.cursor = Some(c);
                    Step::Read(q)
                });
                Ok((bytes, next))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::crm::Person;

    fn person(last_name: &str, emails: Value) -> Person {
        serde_json::from_value(serde_json::json!({
            "id": "0b0d8a3e-8f0e-4b57-9a43-111111111111",
            "last_name": last_name,
            "emails": emails,
            "phones": [],
            "created_at": "2026-11-27T10:00:00Z",
            "updated_at": "2026-11-27T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn csv_has_every_column_in_a_fixed_order_and_defuses_formulas() {
        let out = encode(
            &[person(
                "=HYPERLINK(\"x\")",
                serde_json::json!(["a@example.com", "b@example.com"]),
            )],
            ExportFormat::Csv,
            true,
        )
        .unwrap();
        let mut reader = csv::Reader::from_reader(&out[..]);
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, columns::<Person>());
        assert_eq!(header.first().map(String::as_str), Some("id"));
        assert_eq!(header.last().map(String::as_str), Some("updated_at"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let at = |name: &str| &rows[0][header.iter().position(|h| h == name).unwrap()];
        assert_eq!(at("last_name"), "'=HYPERLINK(\"x\")");
        assert_eq!(at("first_name"), "");
        assert_eq!(at("emails"), "[\"a@example.com\",\"b@example.com\"]");
        assert_eq!(at("created_at"), "2026-11-27T10:00:00Z");
    }

    #[test]
    fn json_lines_round_trip_and_later_pages_have_no_header() {
        let c = person("Berg", serde_json::json!([]));
        let out = encode(std::slice::from_ref(&c), ExportFormat::Jsonl, true).unwrap();
        let back: Person = serde_json::from_slice(out.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(back).unwrap(),
            serde_json::to_value(&c).unwrap()
        );
        let later = encode(std::slice::from_ref(&c), ExportFormat::Csv, false).unwrap();
        assert!(!String::from_utf8(later).unwrap().starts_with("id,"));
    }
}
