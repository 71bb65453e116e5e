//! The plain-HTTP listener: it answers every request with a permanent redirect to HTTPS and
//! serves nothing else. Its requests are audited like the HTTPS listener's (the same access
//! layer, so also the same per-address limit on unauthenticated traffic), with
//! `detail.listener = "http"` on their records.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Clone)]
pub struct RedirectTarget {
    /// The configured public origin (`https://crm.example.com`), if any.
    pub public_origin: Option<String>,
    /// The HTTPS port, used with the request's own host name when no origin is configured.
    pub https_port: u16,
}

/// Marks a request as having come in on the plain-HTTP listener, for its access record.
#[derive(Debug, Clone, Copy)]
pub struct PlainHttp;

pub fn router(target: RedirectTarget, state: crate::AppState) -> Router {
    Router::new()
        .fallback(move |req: Request| {
            let target = target.clone();
            async move { redirect(&target, &req) }
        })
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::audit::access_layer,
        ))
        .layer(axum::Extension(PlainHttp))
        .layer(axum::middleware::from_fn(crate::middleware::request_id))
}

fn redirect(target: &RedirectTarget, req: &Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let origin = match &target.public_origin {
        Some(origin) => origin.clone(),
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(host_name)
                .unwrap_or_else(|| "localhost".to_string());
            if target.https_port == 443 {
                format!("https://{host}")
            } else {
                format!("https://{host}:{}", target.https_port)
            }
        }
    };
    let location = format!("{origin}{path}");
    match HeaderValue::from_str(&location) {
        Ok(v) => (
            StatusCode::PERMANENT_REDIRECT,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// The host name of a `Host` header without its port, if it is a plausible one (so a forged
/// header cannot smuggle a path or user info into the redirect).
fn host_name(host: &str) -> Option<String> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8080
        let end = rest.find(']')?;
        format!("[{}]", &rest[..end])
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(host)
            .to_string()
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c));
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked() {
        assert_eq!(
            host_name("example.com:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_name("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(host_name("evil.com/@x"), None);
        assert_eq!(host_name("a b"), None);
    }
}
