//! Recording every request and every security event in the audit trail.
//!
//! The access layer notes each request's method, path, client address and user agent, lets
//! the extractors fill in the tenant and user they establish, and after the handler has
//! answered writes the record — durably — before the response leaves. A request whose
//! record cannot be written is answered 503 instead: nothing is served unrecorded.

use crate::audit_guard::Refusal;
use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde_json::Value;
use skjold_domain::audit::{AuditKind, Draft, SYSTEM_CHAIN};
use skjold_domain::clock::format_timestamp;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The client's true address, for handlers (sign-in records it on the session).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// What the extractors learn about a request, for its access record.
#[derive(Debug, Default, Clone)]
struct Who {
    tenant: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
}

#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Who>>);

impl AuditSlot {
    pub fn set_tenant(&self, slug: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).tenant = Some(slug.to_string());
    }

    pub fn set_user(&self, id: &str, username: &str) {
        let mut who = self.0.lock().unwrap_or_else(|p| p.into_inner());
        who.user_id = Some(id.to_string());
        who.username = Some(username.to_string());
    }

    fn take(&self) -> Who {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The peer's address, unless the peer is a trusted proxy: then the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is ignored,
/// so a client cannot choose the address it is recorded under.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // A malformed list cannot be trusted beyond the proxy itself.
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

pub async fn access_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = format_timestamp(state.clock.now());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ip = client_ip(peer, req.headers(), &state.trusted_proxies);
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(ClientIp(ip));
    let method = req.method().to_string();
    let plain_http = req
        .extensions()
        .get::<crate::redirect::PlainHttp>()
        .is_some();
    let path = recorded_path(req.uri().path());
    let browser = wants_page(&path, req.headers());
    // Summaries of refused requests whose minute has closed go in first (cheap when none).
    write_summaries(&state, false).await;
    // A request that presents no credentials cannot authenticate anyone: it is counted
    // against its address's budget before any work is done for it. One that presents some
    // is counted afterwards, if they turned out to name no one.
    let credentials = req.headers().contains_key(header::AUTHORIZATION)
        || req.headers().contains_key(header::COOKIE);
    if !credentials && !plain_http && is_static_file(&path) {
        // The web UI's style sheet, scripts and icons are the same for everyone and served
        // from memory; a browser opening the sign-in page fetches several, and an office
        // behind one address opens it many times at nine. They are never refused, and are
        // registered in the address's summary of the minute instead of one record each, so
        // they neither use up the address's budget nor fill the audit disk.
        let response = next.run(req).await;
        state.audit_guard.summarise_served(ip, SYSTEM_CHAIN, &path);
        return response;
    }
    if !credentials {
        if let Err(refusal) = admit_unauthenticated(&state, ip).await {
            let chain = addressed_tenant(&state, &path)
                .await
                .unwrap_or_else(|| SYSTEM_CHAIN.to_string());
            state.audit_guard.summarise(ip, &chain, &path, refusal);
            return refusal_response(refusal, browser);
        }
    }
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect::<String>());

    let response = next.run(req).await;

    let who = slot.take();
    if credentials && who.user_id.is_none() {
        if let Err(refusal) = admit_unauthenticated(&state, ip).await {
            let chain = match &who.tenant {
                Some(tenant) => tenant.clone(),
                None => addressed_tenant(&state, &path)
                    .await
                    .unwrap_or_else(|| SYSTEM_CHAIN.to_string()),
            };
            state.audit_guard.summarise(ip, &chain, &path, refusal);
            // A refusal (the credentials were no good) becomes this one; what the handler
            // did do is answered as it was, and summarised like the rest.
            let status = response.status();
            return if status.is_client_error() || status.is_server_error() {
                refusal_response(refusal, browser)
            } else {
                response
            };
        }
    }
    let bytes = {
        use axum::body::HttpBody;
        response.body().size_hint().exact().map(|n| n as i64)
    };
    let chain = match who.tenant {
        Some(tenant) => tenant,
        None => addressed_tenant(&state, &path)
            .await
            .unwrap_or_else(|| SYSTEM_CHAIN.to_string()),
    };
    let draft = Draft {
        at,
        kind: AuditKind::HttpAccess.into(),
        request_id: Some(crate::middleware::current_request_id()),
        user_id: who.user_id,
        username: who.username,
        ip: Some(ip.to_string()),
        method: Some(method),
        path: Some(path),
        status: Some(i64::from(response.status().as_u16())),
        duration_ms: Some(started.elapsed().as_millis() as i64),
        bytes,
        user_agent,
        detail: plain_http.then(|| serde_json::json!({"listener": "http"})),
    };
    match state.audit.record(&chain, draft).await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, "refusing to answer a request that could not be audited");
            ApiError::Unavailable.into_response()
        }
    }
}

/// A file under `/static/`: the UI's assets, public and identical for everyone.
fn is_static_file(path: &str) -> bool {
    path.starts_with("/static/")
}

/// Counts an unauthenticated request of `ip` with the audit guard; records the one
/// `system.disk_low` event when this check found the disk newly low.
async fn admit_unauthenticated(state: &AppState, ip: IpAddr) -> Result<(), Refusal> {
    let disk = state.audit_guard.check_disk();
    if let Some(space) = disk.crossed {
        tracing::error!(
            available = space.available,
            total = space.total,
            "the audit filesystem is low on space: unauthenticated requests are refused until there is room"
        );
        let limits = state.config.audit_guard_limits();
        let event = Event::new(
            state,
            AuditKind::SystemDiskLow,
            None,
            serde_json::json!({
                "available_bytes": space.available,
                "total_bytes": space.total,
                "min_free_bytes": limits.min_free_bytes,
                "min_free_percent": limits.min_free_percent,
            }),
        );
        if let Err(e) = event.record(state, SYSTEM_CHAIN).await {
            tracing::error!(error = %e.explain(), "could not record system.disk_low");
        }
    }
    state.audit_guard.admit(ip, disk.low)
}

/// The refusal as its client reads it: a problem document for the API and other programs,
/// an error page for a browser (one behind a busy office address opening the sign-in page
/// should read what happened, not JSON).
fn refusal_response(refusal: Refusal, browser: bool) -> Response {
    let (status, kind, retry_after_secs, detail, page) = match refusal {
        Refusal::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            retry_after_secs,
            "too many requests without signing in from this address; try again later",
            format!(
                "Too many requests without signing in came from your address. Try again in \
                 {} seconds.",
                retry_after_secs.max(1)
            ),
        ),
        Refusal::DiskLow => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            60,
            "the service is short of room; signed-in users are served, try again later",
            "The service is short of room and serves only signed-in users for now. Try again \
             in a few minutes."
                .to_string(),
        ),
    };
    if browser {
        let mut res = crate::ui::error_page(status, "Try again later", &page);
        res.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from(retry_after_secs.max(1)),
        );
        return res;
    }
    ApiError::Named {
        status,
        kind,
        detail: detail.into(),
    }
    .into_response_with_retry_after(retry_after_secs)
}

/// Whether a request is a browser's for a page: not the API, and HTML accepted.
fn wants_page(path: &str, headers: &HeaderMap) -> bool {
    !path.contains("/api/")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

/// Writes the summaries of refused requests whose minute has closed (all of them when
/// `all`, at shutdown). Any that cannot be written stay with the guard for the next try.
pub(crate) async fn write_summaries(state: &AppState, all: bool) {
    let closed = state.audit_guard.take_closed(all);
    if closed.is_empty() {
        return;
    }
    let mut unwritten = Vec::new();
    for (chain, draft) in closed {
        if let Err(e) = state.audit.record(&chain, draft.clone()).await {
            tracing::error!(error = %e, chain, "could not write a summary of refused requests");
            unwritten.push((chain, draft));
        }
    }
    if !unwritten.is_empty() {
        state.audit_guard.restore(unwritten);
    }
}

/// Writes closed minutes' summaries every 15 seconds, so that a flood that stops is
/// registered without waiting for the next request.
pub(crate) fn spawn_summary_writer(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            write_summaries(&state, false).await;
        }
    })
}

/// The path as the trail keeps it: at most 1000 characters, and never a secret. The only
/// path that carries one is an invitation link's (`/{tenant}/invite/{token}`), whose
/// token is replaced by `…`.
pub(crate) fn recorded_path(path: &str) -> String {
    let mut segments = path.splitn(4, '/');
    let (_, tenant, what) = (segments.next(), segments.next(), segments.next());
    if let (Some(tenant), Some("invite"), Some(_token)) = (tenant, what, segments.next()) {
        return format!("/{}/invite/…", tenant.chars().take(100).collect::<String>());
    }
    path.chars().take(1000).collect()
}

/// The existing tenant a request's path names (`/{tenant}/…`), for requests that no handler
/// took (404, 405): they belong in that tenant's trail, where its administrators look, not
/// in the operator's. Names that are not valid slugs cost no lookup.
async fn addressed_tenant(state: &AppState, path: &str) -> Option<String> {
    let first = path.trim_start_matches('/').split('/').next()?;
    let slug = skjold_domain::TenantSlug::parse(first).ok()?;
    match state.tenants.open(&slug).await {
        Ok(Some(_)) => Some(slug.to_string()),
        _ => None,
    }
}

/// A security event, built from what the request knows.
pub struct Event {
    draft: Draft,
}

impl Event {
    /// `kind` names the event, e.g. [`AuditKind::AuthSignInFailed`]; `detail` is free-form JSON.
    pub fn new(state: &AppState, kind: AuditKind, ip: Option<IpAddr>, detail: Value) -> Self {
        Self {
            draft: Draft {
                at: format_timestamp(state.clock.now()),
                kind: kind.into(),
                request_id: Some(crate::middleware::current_request_id()),
                ip: ip.map(|i| i.to_string()),
                detail: (!detail.is_null()).then_some(detail),
                ..Draft::default()
            },
        }
    }

    pub fn by(mut self, user_id: &str, username: &str) -> Self {
        self.draft.user_id = Some(user_id.to_string());
        self.draft.username = Some(username.to_string());
        self
    }

    /// The name tried at a failed sign-in (there may be no such user).
    pub fn tried(mut self, username: &str) -> Self {
        // Lowercased like usernames, so a search by user finds it however it was typed.
        self.draft.username = Some(username.trim().to_lowercase().chars().take(100).collect());
        self
    }

    /// Writes the event to the tenant's chain and waits until it is durable.
    /// This event as the before-commit work of a change: written through
    /// [`skjold_store::TenantDb::with_before_commit`], the change commits only once the event
    /// is recorded in `chain`.
    pub fn on_commit(self, state: &AppState, chain: &str) -> Arc<skjold_audit::RecordOnCommit> {
        Arc::new(skjold_audit::RecordOnCommit::new(
            state.audit.clone(),
            vec![chain.to_string()],
            self.draft,
        ))
    }

    pub async fn record(self, state: &AppState, chain: &str) -> Result<(), ApiError> {
        state
            .audit
            .record(chain, self.draft)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

impl<R: crate::extract::Requirement> crate::extract::Authorized<R> {
    /// Records a security event done by this request's user in their tenant's chain.
    pub async fn audit_event(
        &self,
        state: &AppState,
        ip: IpAddr,
        kind: AuditKind,
        detail: Value,
    ) -> Result<(), ApiError> {
        Event::new(state, kind, Some(ip), detail)
            .by(&self.user().id, &self.user().username)
            .record(state, self.db().slug().as_str())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_token_never_reaches_the_trail() {
        assert_eq!(
            recorded_path("/acme/invite/skj_SECRETtoken"),
            "/acme/invite/…"
        );
        assert_eq!(recorded_path("/acme/invite/skj_x/y"), "/acme/invite/…");
        assert_eq!(recorded_path("/acme/invite"), "/acme/invite");
        assert_eq!(
            recorded_path("/acme/api/v1/invites/accept"),
            "/acme/api/v1/invites/accept"
        );
        assert_eq!(recorded_path(&"/a".repeat(900)).chars().count(), 1000);
    }
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        // A client cannot spoof its address.
        assert_eq!(client_ip(client, &headers(&["1.2.3.4"]), &trusted), client);
        // Behind the proxy: the right-most untrusted hop.
        assert_eq!(
            client_ip(proxy, &headers(&["1.2.3.4, 203.0.113.7"]), &trusted),
            client
        );
        assert_eq!(
            client_ip(proxy, &headers(&["203.0.113.7, 10.9.9.9"]), &trusted),
            client
        );
        assert_eq!(
            client_ip(proxy, &headers(&["1.2.3.4", "203.0.113.7"]), &trusted),
            client
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers(&["nonsense"]), &trusted), proxy);
        // No trusted proxies configured: never trust the header.
        assert_eq!(client_ip(proxy, &headers(&["1.2.3.4"]), &[]), proxy);
    }
}
