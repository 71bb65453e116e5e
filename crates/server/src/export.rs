//! Downloads of many rows as CSV or JSON lines, shared by the audit export and the CRM
//! records' export: the two formats, spreadsheet-safe cells, and a response that streams its
//! pages as they are read, so a large export never sits in memory.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;
use std::future::Future;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values with a header row, for spreadsheets.
    Csv,
    /// One JSON object per line.
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

/// A cell a spreadsheet will not run as a formula: names, paths and user agents come from
/// whoever typed them, so `=HYPERLINK(…)` must arrive as text.
pub fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// CSV rows (a header first, when given) as bytes.
pub fn csv_bytes<I, R>(header: Option<&[&str]>, rows: I) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(h) = header {
        w.write_record(h).map_err(|e| e.to_string())?;
    }
    for row in rows {
        w.write_record(row).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// JSON lines of `items`.
pub fn json_lines<T: serde::Serialize>(items: &[T]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(items.len() * 400);
    for item in items {
        serde_json::to_writer(&mut out, item).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

/// One page of a download: its bytes, and where the next page starts (`None`: this was the
/// last).
pub type Page<S> = (Vec<u8>, Option<S>);

/// A download named `filename` plus the format's extension, whose body is the pages
/// `next_page` reads one after another, starting from `start`. A page that fails ends the
/// body with an error (the client sees a cut-off download, never a silent short file); the
/// reason is logged under `what`, never sent.
pub fn download<S, F, Fut>(
    format: ExportFormat,
    filename: &str,
    what: &'static str,
    start: S,
    next_page: F,
) -> Response
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<S>, String>> + Send + 'static,
{
    let next_page = std::sync::Arc::new(next_page);
    let pages = stream::unfold(Some(start), move |state| {
        let next_page = next_page.clone();
        async move {
            match next_page(state?).await {
                Ok((bytes, next)) => Some((Ok(Bytes::from(bytes)), next)),
                Err(e) => {
                    tracing::error!(error = %e, "{what} export stopped");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
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

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_defused() {
        for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(text), format!("'{text}"));
        }
        assert_eq!(cell("Acme"), "Acme");
        assert_eq!(cell(""), "");
    }

    #[tokio::test]
    async fn a_download_streams_every_page_in_order() {
        let res = download(ExportFormat::Csv, "x", "test", 0u32, |n| async move {
            Ok((format!("{n}\n").into_bytes(), (n < 2).then_some(n + 1)))
        });
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        assert_eq!(
            res.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"x.csv\""
        );
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], b"0\n1\n2\n");
    }

    #[tokio::test]
    async fn a_failing_page_cuts_the_download_off() {
        let res = download(ExportFormat::Jsonl, "x", "test", 0u32, |n| async move {
            if n == 0 {
                Ok((b"{}\n".to_vec(), Some(1)))
            } else {
                Err("database gone".to_string())
            }
        });
        assert!(axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .is_err());
    }
}
