//! Browser sessions: the store's server-side sessions, carried in a cookie, and the CSRF
//! tokens that every state-changing form must send back.
//!
//! # The cookie
//!
//! `__Host-skjold_session=<tenant slug>.<token>; Path=/; Secure; HttpOnly; SameSite=Lax`.
//!
//! The `__Host-` prefix makes the browser refuse the cookie unless it is `Secure`, has
//! `Path=/` and no `Domain`, so no other host (not even a sibling subdomain) can set or
//! shadow it. All tenants share the host, so the cookie names the tenant it belongs to: a
//! request to tenant B with a cookie for tenant A is simply "not signed in" for B, and its
//! token is never even looked up in B's database (it could not match there anyway: sessions
//! live in the tenant's own database). One browser is signed in to one tenant at a time;
//! signing in to another replaces the cookie.
//!
//! The token is the same kind as the API's bearer tokens (`skjold_app::credentials::new_token`); the
//! store keeps only its hash, with the same idle and absolute timeouts.
//!
//! # CSRF
//!
//! A synchronizer token derived from the session: `HMAC-SHA256(key = session token,
//! "skjold csrf v1")`. Only the browser (in an HttpOnly cookie another site cannot read) and
//! the server (while handling a request that carries it) know the session token, so no other
//! site can compute the CSRF token; it needs no storage and no per-process secret, so it
//! survives restarts and works the same on every node of a scale-out. It is compared in
//! constant time. Requests a browser marks `Sec-Fetch-Site: cross-site` are refused too.
//!
//! The sign-in form has no session yet; it is protected by a double-submit token in a
//! separate `__Host-skjold_signin` cookie (SameSite=Strict), so another site cannot sign a
//! browser in to an account of the attacker's choosing.

use super::error::UiError;
use crate::extract::{Requirement, Tenant};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use skjold_domain::{Grant, Right};
use skjold_store::{Session, Sight, TenantDb, TenantStatus, User};
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "__Host-skjold_session";
pub const SIGNIN_COOKIE: &str = "__Host-skjold_signin";
pub const CSRF_FIELD: &str = "csrf_token";

/// The value of the first cookie called `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session token this request carries for `slug`, if any.
pub fn session_token<'a>(headers: &'a HeaderMap, slug: &str) -> Option<&'a str> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let (cookie_slug, token) = value.split_once('.')?;
    (cookie_slug == slug && !token.is_empty() && token.len() <= 200).then_some(token)
}

/// `Set-Cookie` for a new browser session.
pub fn session_cookie(slug: &str, token: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={slug}.{token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}"
    ))
    .unwrap_or_else(|_| clear_session_cookie())
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-skjold_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
    )
}

/// `Set-Cookie` for the sign-in form's double-submit token.
pub fn signin_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SIGNIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=7200"
    ))
    .unwrap_or_else(|_| {
        HeaderValue::from_static("__Host-skjold_signin=; Path=/; Secure; Max-Age=0")
    })
}

/// The CSRF token of a session.
pub fn csrf_token(session_token: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(session_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"skjold csrf v1");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of two secrets.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A browser that says the request comes from another site.
pub fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Where to go after signing in: only a path of the same tenant, never another site.
pub fn safe_next(slug: &str, next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let prefix = format!("/{slug}/");
    let ok = next.len() <= 2000
        && next.starts_with(&prefix)
        && !next.contains('\\')
        && !next.contains("//")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !has_dot_segment(next.split(['?', '#']).next().unwrap_or(""))
        && !next.starts_with(&format!("{prefix}login"))
        && !next.starts_with(&format!("{prefix}logout"));
    ok.then(|| next.to_string())
}

/// Whether a path has a `.` or `..` segment, also percent-encoded (`%2e`), which a browser
/// resolves: `/demo/..` is `/`, outside the tenant. (Found by the `session_cookie` fuzz
/// target: `/demo/..?;` passed when only `/../` was refused.)
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// The sign-in page for `slug`, coming back to `back` afterwards; `expired` says why.
pub fn login_url(slug: &str, back: Option<&str>, expired: bool) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if let Some(next) = back.and_then(|b| safe_next(slug, Some(b))) {
        ser.append_pair("next", &next);
    }
    if expired {
        ser.append_pair("msg", "expired");
    }
    let q = ser.finish();
    if q.is_empty() {
        format!("/{slug}/login")
    } else {
        format!("/{slug}/login?{q}")
    }
}

/// A signed-in, active user of an active tenant who holds the right `R`, for a page of the
/// web UI: the cookie counterpart of [`crate::extract::Authorized`]. When nobody is signed
/// in, the browser is sent to the sign-in page and then back to where it was.
pub struct UiAuth<R: Requirement> {
    pub tenant: Tenant,
    pub session: Session,
    /// The user's role's rights and visibility, read for this request.
    pub grant: Grant,
    /// The session token from the cookie; only for deriving the CSRF token.
    token: String,
    ip: IpAddr,
    /// The application's state (cheap to clone: shared parts), for pages that need its
    /// clock or configuration beside the signed-in user.
    state: AppState,
    _right: PhantomData<R>,
}

impl<R: Requirement> UiAuth<R> {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn user(&self) -> &User {
        &self.session.user
    }

    pub fn db(&self) -> &TenantDb {
        &self.tenant.db
    }

    pub fn slug(&self) -> &str {
        self.tenant.record.slug.as_str()
    }

    pub fn actor(&self) -> skjold_store::Actor {
        skjold_store::Actor::User {
            id: self.session.user.id.clone(),
        }
    }

    pub fn can(&self, right: Right) -> bool {
        self.grant.has(right)
    }

    /// The signed-in user as the actor of an action taken in the web UI.
    pub fn acting(&self) -> skjold_app::Actor {
        skjold_app::Actor::User {
            user: self.session.user.clone(),
            grant: self.grant.clone(),
            credential: self.session.token_hash.clone(),
            verified_at: self.session.verified_at.clone(),
            via: skjold_app::Via::Web,
        }
    }

    /// Where an action of this request happens.
    pub fn ctx(&self) -> skjold_app::Ctx<'_> {
        skjold_app::Ctx {
            tenant: &self.tenant.record,
            db: &self.tenant.db,
            audit: &self.state.audit,
            clock: &self.state.clock,
            ip: Some(self.ip),
            request_id: Some(crate::middleware::current_request_id()),
        }
    }

    /// Which records this user sees; every record read and write takes it.
    pub fn sight(&self) -> Sight {
        Sight::of(&self.session.user.id, self.grant.visibility)
    }

    /// Names for the ids a page shows, as far as this user may see them.
    pub fn lookup(&self) -> super::fields::Lookup<'_> {
        super::fields::Lookup::new(&self.tenant.db, self.sight(), self.grant.clone())
    }

    pub fn csrf(&self) -> String {
        csrf_token(&self.token)
    }

    /// The client's address as the audit trail records it.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Records a security event done by this user in their tenant's audit chain.
    pub async fn audit_event(
        &self,
        state: &AppState,
        kind: skjold_domain::AuditKind,
        detail: serde_json::Value,
    ) -> Result<(), UiError> {
        crate::audit::Event::new(state, kind, Some(self.ip), detail)
            .by(&self.user().id, &self.user().username)
            .record(state, self.slug())
            .await
            .map_err(UiError::from)
    }
}

/// The client's true address: the audit layer's answer (which knows the trusted proxies),
/// else the peer.
pub fn client_ip(parts: &Parts) -> IpAddr {
    if let Some(crate::audit::ClientIp(ip)) = parts.extensions.get::<crate::audit::ClientIp>() {
        return *ip;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn request_path(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    uri.path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string())
}

impl<R: Requirement> FromRequestParts<AppState> for UiAuth<R> {
    type Rejection = UiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant = Tenant::from_request_parts(parts, state).await?;
        let slug = tenant.record.slug.as_str().to_string();
        let sign_in = |expired: bool| {
            // After signing in, a GET comes back to itself; a POST to the page it came from
            // (every form's action also answers GET).
            let path = request_path(parts);
            let back = if parts.method == Method::GET {
                path
            } else {
                path.split('?').next().unwrap_or("").to_string()
            };
            UiError::SignIn {
                login: login_url(&slug, Some(&back), expired),
                htmx: is_htmx(&parts.headers),
            }
        };
        let Some(token) = session_token(&parts.headers, &slug) else {
            return Err(sign_in(false));
        };
        let token = token.to_string();
        let timeouts = state.tenant_session_timeouts(&tenant.db).await?;
        let session = tenant
            .db
            .session(&skjold_app::credentials::hash_token(&token), timeouts)
            .await?;
        let Some(session) = session else {
            return Err(sign_in(true));
        };
        // From here on, this request's access record names the user.
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.set_user(&session.user.id, &session.user.username);
        }
        if tenant.record.status != TenantStatus::Active {
            return Err(UiError::Forbidden(
                "this organisation's account is suspended".into(),
            ));
        }
        // A session that may only enrol a second factor goes to the enrolment page (by the
        // same redirect as a sign-in).
        if session.restricted && !R::ENROLMENT {
            return Err(UiError::SignIn {
                login: format!("/{slug}/me/two-factor?msg=enrol"),
                htmx: is_htmx(&parts.headers),
            });
        }
        let grant = tenant.db.grant_of(&session.user).await?;
        crate::extract::check_right::<R>(&grant).map_err(UiError::Forbidden)?;
        Ok(UiAuth {
            tenant,
            session,
            grant,
            token,
            ip: client_ip(parts),
            state: state.clone(),
            _right: PhantomData,
        })
    }
}

/// A submitted form's fields, in order (a name may repeat).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> Self {
        FormData(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or "".
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }
}

/// Reads a urlencoded form body.
pub async fn read_form(req: Request, state: &AppState) -> Result<FormData, UiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(UiError::BadRequest(
            "forms are sent as application/x-www-form-urlencoded".into(),
        ));
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|_| UiError::BadRequest("the form could not be read (is it too large?)".into()))?;
    Ok(FormData::parse(&bytes))
}

/// A submitted form of a signed-in user holding the right `R`, whose CSRF token checked
/// out. A handler that takes `Post<R>` cannot run for a forged request.
pub struct Post<R: Requirement> {
    pub auth: UiAuth<R>,
    pub form: FormData,
}

impl<R: Requirement> FromRequest<AppState> for Post<R> {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        if cross_site(&parts.headers) {
            return Err(UiError::Csrf);
        }
        let auth = UiAuth::<R>::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body), state).await?;
        let sent = form.get(CSRF_FIELD).unwrap_or("");
        if !secrets_equal(sent, &auth.csrf()) {
            return Err(UiError::Csrf);
        }
        Ok(Post { auth, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_tenant() {
        assert_eq!(
            safe_next("demo", Some("/demo/companies?q=a")).as_deref(),
            Some("/demo/companies?q=a")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/demo/",
            "/\\evil.example",
            "/demo//evil",
            "/other/companies",
            "/demo",
            "/demo/../other/",
            // Dot segments at the end, before a query, or percent-encoded: all resolve
            // outside the tenant (regression: the session_cookie fuzz target).
            "/demo/..?;",
            "/demo/..",
            "/demo/.",
            "/demo/%2e%2e/other/",
            "/demo/%2E./other/",
            "/demo/.%2e#x",
            "/demo/login",
            "/demo/logout",
            "/demo/x y",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next("demo", Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn session_cookie_belongs_to_one_tenant() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; __Host-skjold_session=demo.skj_abc; c=d"),
        );
        assert_eq!(session_token(&h, "demo"), Some("skj_abc"));
        assert_eq!(session_token(&h, "acme"), None);
    }

    #[test]
    fn csrf_tokens_depend_on_the_session() {
        assert_eq!(csrf_token("skj_a"), csrf_token("skj_a"));
        assert_ne!(csrf_token("skj_a"), csrf_token("skj_b"));
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "ab"));
    }
}
