//! Cross-cutting layers: request ids, security headers, and reading the rest of a refused
//! request's body.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, for error bodies and log lines.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_string())
}

/// Gives every request a fresh id (a client-sent one is not trusted: it would let a client
/// plant ids in our logs) and returns it in `x-request-id`.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %crate::audit::recorded_path(req.uri().path()));
    let mut res = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    res
}

/// The content security policy: no inline script or style, nothing from elsewhere, never in
/// a frame.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every HTTPS response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// How much of a refused request's unread body is read before the refusal goes out, and
/// for how long at most.
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The request body, shared between the handler and [`drain_refused_body`], so that what
/// the handler leaves unread can be read after it has answered.
struct SharedBody(std::sync::Arc<std::sync::Mutex<Option<axum::body::Body>>>);

impl http_body::Body for SharedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match inner.as_mut() {
            Some(body) => std::pin::Pin::new(body).poll_frame(cx),
            None => std::task::Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_else(|| http_body::SizeHint::with_exact(0))
    }
}

/// A request refused before its body was read (401, 403, 413, 415, 429 …) is answered only
/// after the rest of the body has been read — up to 8 MiB and 5 seconds. Over HTTP/2 an
/// answer to a stream whose body is still coming ends that stream with a reset, which
/// clients such as curl report as "stream error" instead of the status; once the body is
/// in, the stream closes normally and the client sees the refusal.
pub async fn drain_refused_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Some(body)));
    let req = Request::from_parts(parts, axum::body::Body::new(SharedBody(shared.clone())));
    let res = next.run(req).await;
    if res.status().is_client_error() || res.status().is_server_error() {
        let rest = shared.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rest) = rest {
            let _ = tokio::time::timeout(DRAIN_MAX_WAIT, drain(rest)).await;
        }
    }
    res
}

async fn drain(mut body: axum::body::Body) {
    use http_body::Body as _;
    let mut read = 0usize;
    while read <= DRAIN_MAX_BYTES {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}
