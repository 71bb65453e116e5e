//! Signing in and out in the browser. The rules are the API's (`crate::signin`): the same
//! answer, in the same time, for an unknown user, a wrong password and a disabled account;
//! "try again later" for a locked name or a throttled address.

use super::auth::{
    self, clear_session_cookie, cross_site, read_form, safe_next, secrets_equal, session_cookie,
    session_token, UiAuth, SESSION_COOKIE, SIGNIN_COOKIE,
};
use super::templates::{LoginPage, LogoutPage};
use super::{assets, render, Chrome, UiError};
use crate::audit::Event;
use crate::extract::{Enrolling, Tenant};
use crate::signin::Outcome;
use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_domain::audit::AuditKind;
use skjold_domain::TenantSlug;

const FAILED: &str = "Sign-in failed. Check your username and password and try again.";
const TRY_LATER: &str = "Too many failed sign-ins. Please wait a while and try again later.";
const CODE_NEEDED: &str =
    "Enter your password again with the code from your authenticator app (or a recovery code), or use a passkey.";
const PASSKEY_FAILED: &str =
    "Signing in with the passkey did not work. Try again, or use your password.";
const SUSPENDED: &str =
    "This organisation's account is suspended, so nobody can sign in. Contact your administrator.";
const STALE_FORM: &str =
    "The sign-in form had expired or was not sent from this site. Please sign in again.";

/// Why a right password did not sign in: the user's provider is their only way in.
pub(super) fn sso_only_message(provider: &str) -> String {
    format!(
        "Your account signs in only through {provider}: use the \u{201c}Sign in with\u{201d} button instead of your password."
    )
}

/// The sign-in form's double-submit token: the one the browser already has, or a new one.
pub(super) fn signin_token(headers: &HeaderMap) -> String {
    match auth::cookie(headers, SIGNIN_COOKIE) {
        Some(t) if t.starts_with("skj_") && t.len() <= 100 => t.to_string(),
        _ => skjold_app::credentials::new_token(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn page(
    tenant: &Tenant,
    token: String,
    username: String,
    next: Option<String>,
    error: Option<&str>,
    info: Option<&'static str>,
    notices: Vec<skjold_app::status_view::Notice>,
    sso_buttons: Vec<super::templates::SsoButton>,
) -> LoginPage {
    LoginPage {
        sso_buttons,
        slug: tenant.record.slug.as_str().to_string(),
        tenant_name: tenant.record.display_name.clone(),
        asset_v: assets::version(),
        username,
        next,
        signin_token: token,
        error: error.map(str::to_string),
        info,
        notices,
    }
}

fn with_signin_cookie(mut res: Response, token: &str) -> Response {
    res.headers_mut()
        .append(header::SET_COOKIE, auth::signin_cookie(token));
    res
}

/// Is the browser signed in to this tenant already?
async fn signed_in(tenant: &Tenant, headers: &HeaderMap, state: &AppState) -> bool {
    let Some(token) = session_token(headers, tenant.record.slug.as_str()) else {
        return false;
    };
    matches!(
        tenant
            .db
            .session(
                &skjold_app::credentials::hash_token(token),
                match state.tenant_session_timeouts(&tenant.db).await {
                    Ok(t) => t,
                    Err(_) => return false,
                },
            )
            .await,
        Ok(Some(_))
    )
}

async fn login_form(
    State(state): State<AppState>,
    tenant: Result<Tenant, ApiError>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let tenant = tenant?;
    let slug = tenant.record.slug.as_str().to_string();
    let params = auth::FormData::parse(raw.unwrap_or_default().as_bytes());
    let next = safe_next(&slug, params.get("next"));
    if signed_in(&tenant, &headers, &state).await {
        return Ok(Redirect::to(&next.unwrap_or_else(|| format!("/{slug}/"))).into_response());
    }
    let info = match params.get("msg") {
        Some("signed-out") => Some("You are signed out."),
        Some("expired") => Some("Your session has ended. Please sign in again."),
        Some("invite-accepted") => Some("Your password is set. Sign in with it now."),
        _ => None,
    };
    let token = signin_token(&headers);
    let notices = state
        .notices
        .fresh(state.tenants.catalog(), state.clock.now())
        .await;
    let buttons = super::sso::buttons(&tenant, next.as_deref()).await;
    let res = render(
        StatusCode::OK,
        &page(
            &tenant,
            token.clone(),
            String::new(),
            next,
            None,
            info,
            notices,
            buttons,
        ),
    )?;
    Ok(with_signin_cookie(res, &token))
}

async fn login(State(state): State<AppState>, req: Request) -> Result<Response, UiError> {
    let (mut parts, body) = req.into_parts();
    let tenant = Tenant::from_request_parts(&mut parts, &state).await?;
    let slug = tenant.record.slug.as_str().to_string();
    let ip = auth::client_ip(&parts);
    let headers = parts.headers.clone();
    let form = read_form(Request::from_parts(parts, body), &state).await?;
    let next = safe_next(&slug, form.get("next"));
    let username = form.get("username").unwrap_or("").trim().to_string();
    let buttons = super::sso::buttons(&tenant, next.as_deref()).await;
    let retry = |error: &str, status: StatusCode| -> Result<Response, UiError> {
        let token = signin_token(&headers);
        let res = render(
            status,
            &page(
                &tenant,
                token.clone(),
                username.chars().take(64).collect(),
                next.clone(),
                Some(error),
                None,
                state.notices.shown(state.clock.now()),
                buttons.clone(),
            ),
        )?;
        Ok(with_signin_cookie(res, &token))
    };

    let expected = auth::cookie(&headers, SIGNIN_COOKIE).unwrap_or("");
    let sent = form.get("signin_token").unwrap_or("");
    if cross_site(&headers) || expected.is_empty() || !secrets_equal(sent, expected) {
        return retry(STALE_FORM, StatusCode::FORBIDDEN);
    }

    let password = form.get("password").unwrap_or("").to_string();
    let outcome = crate::signin::check_password(
        &state,
        &tenant.record,
        &tenant.db,
        crate::signin::Credentials {
            username: &username,
            password,
            second_factor: form.get("totp"),
            then_passkey: false,
        },
        ip,
        "web",
    )
    .await?;
    match outcome {
        Outcome::SignedIn { .. } => {}
        Outcome::Failed => return retry(FAILED, StatusCode::OK),
        Outcome::TryLater { .. } => return retry(TRY_LATER, StatusCode::TOO_MANY_REQUESTS),
        Outcome::Suspended => return retry(SUSPENDED, StatusCode::FORBIDDEN),
        Outcome::SecondFactorRequired | Outcome::PasswordVerified { .. } => {
            return retry(CODE_NEEDED, StatusCode::OK)
        }
        Outcome::SsoOnly { provider } => {
            return retry(&sso_only_message(&provider), StatusCode::FORBIDDEN)
        }
    };
    start_session(
        &state,
        &tenant,
        &headers,
        ip,
        outcome,
        next,
        "web",
        serde_json::Value::Null,
    )
    .await
}

/// A signed-in outcome becomes a session cookie and a redirect: to the enrolment page when
/// the user must enrol a second factor first, to the profile when the password expired,
/// else where they were going.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start_session(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    outcome: Outcome,
    next: Option<String>,
    via: &'static str,
    extra: serde_json::Value,
) -> Result<Response, UiError> {
    let slug = tenant.record.slug.as_str().to_string();
    let Outcome::SignedIn {
        user,
        password_expired,
        must_enrol,
    } = outcome
    else {
        return Err(UiError::Internal(
            "start_session without a signed-in user".into(),
        ));
    };
    // A session this browser had before ends: a sign-in always starts a fresh one.
    end_previous_session(state, headers).await;

    let session = crate::signin::open_session_noting(
        state, tenant, &user, must_enrol, ip, headers, via, extra,
    )
    .await?;
    let target = if must_enrol {
        format!("/{slug}/me/two-factor?msg=enrol")
    } else if password_expired {
        // An expired password: straight to the profile, where it is changed.
        format!("/{slug}/me?msg=password-expired")
    } else {
        next.unwrap_or_else(|| format!("/{slug}/"))
    };
    let mut res = Redirect::to(&target).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(
            &slug,
            &session.token,
            session.timeouts.absolute.num_seconds(),
        ),
    );
    Ok(res)
}

/// Checks the sign-in form's double-submit token (and that the request is same-site).
fn signin_form_ok(headers: &HeaderMap, form: &auth::FormData) -> bool {
    let expected = auth::cookie(headers, SIGNIN_COOKIE).unwrap_or("");
    let sent = form.get("signin_token").unwrap_or("");
    !cross_site(headers) && !expected.is_empty() && secrets_equal(sent, expected)
}

/// The options for "Use a passkey" (called by `static/passkeys.js`), as JSON: with the
/// username and password typed in, the second step after them; with only a username, that
/// user's passkeys; with neither, any passkey that names its user. The rules are the API's
/// (`POST /session/passkey/options`).
async fn passkey_options(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let tenant = match Tenant::from_request_parts(&mut parts, &state).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let ip = auth::client_ip(&parts);
    let headers = parts.headers.clone();
    let form = match read_form(Request::from_parts(parts, body), &state).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if !signin_form_ok(&headers, &form) {
        return json_error(StatusCode::FORBIDDEN, STALE_FORM);
    }
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form
        .get("password")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    match crate::passkey_flows::options_for(&state, &tenant, &username, password, ip, "web").await {
        Ok(options) => axum::Json(options).into_response(),
        Err(ApiError::SignInFailed) => json_error(StatusCode::UNAUTHORIZED, FAILED),
        Err(ApiError::TooManyAttempts { .. }) => {
            json_error(StatusCode::TOO_MANY_REQUESTS, TRY_LATER)
        }
        Err(ApiError::SecondFactorRequired) => json_error(
            StatusCode::UNAUTHORIZED,
            "This account has no passkey: enter the code from your authenticator app.",
        ),
        Err(ApiError::Conflict(_)) => json_error(
            StatusCode::CONFLICT,
            "This account has no passkey: sign in with your password.",
        ),
        Err(ApiError::Forbidden(_)) => json_error(StatusCode::FORBIDDEN, SUSPENDED),
        Err(e) => e.into_response(),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The passkey's answer, posted as a form by `static/passkeys.js`.
async fn passkey_sign_in(State(state): State<AppState>, req: Request) -> Result<Response, UiError> {
    let (mut parts, body) = req.into_parts();
    let tenant = Tenant::from_request_parts(&mut parts, &state).await?;
    let slug = tenant.record.slug.as_str().to_string();
    let ip = auth::client_ip(&parts);
    let headers = parts.headers.clone();
    let form = read_form(Request::from_parts(parts, body), &state).await?;
    let next = safe_next(&slug, form.get("next"));
    let buttons = super::sso::buttons(&tenant, next.as_deref()).await;
    let retry = |error: &str, status: StatusCode| -> Result<Response, UiError> {
        let token = signin_token(&headers);
        let res = render(
            status,
            &page(
                &tenant,
                token.clone(),
                String::new(),
                next.clone(),
                Some(error),
                None,
                state.notices.shown(state.clock.now()),
                buttons.clone(),
            ),
        )?;
        Ok(with_signin_cookie(res, &token))
    };
    if !signin_form_ok(&headers, &form) {
        return retry(STALE_FORM, StatusCode::FORBIDDEN);
    }
    let credential = serde_json::from_str(form.get("credential").unwrap_or(""))
        .unwrap_or(serde_json::Value::Null);
    let outcome = crate::passkey_flows::passkey_outcome(
        &state,
        &tenant,
        form.get("ceremony").unwrap_or("").to_string(),
        credential,
        ip,
        "web",
    )
    .await?;
    match outcome {
        Outcome::SignedIn { .. } => {}
        Outcome::TryLater { .. } => return retry(TRY_LATER, StatusCode::TOO_MANY_REQUESTS),
        Outcome::Suspended => return retry(SUSPENDED, StatusCode::FORBIDDEN),
        _ => return retry(PASSKEY_FAILED, StatusCode::OK),
    };
    start_session(
        &state,
        &tenant,
        &headers,
        ip,
        outcome,
        next,
        "web_passkey",
        serde_json::Value::Null,
    )
    .await
}

/// Deletes the server side of the session cookie the browser sends, whichever tenant it
/// belongs to. Best effort: a failure leaves a session that times out by itself.
async fn end_previous_session(state: &AppState, headers: &HeaderMap) {
    let Some(value) = auth::cookie(headers, SESSION_COOKIE) else {
        return;
    };
    let Some((slug, token)) = value.split_once('.') else {
        return;
    };
    let Ok(slug) = TenantSlug::parse(slug) else {
        return;
    };
    if let Ok(Some((_, db))) = state.tenants.open(&slug).await {
        let _ = db
            .delete_session(&skjold_app::credentials::hash_token(token))
            .await;
    }
}

async fn logout_page(auth: Result<UiAuth<Enrolling>, UiError>) -> Result<Response, UiError> {
    match auth {
        Ok(auth) => render(
            StatusCode::OK,
            &LogoutPage {
                chrome: Chrome::new(&auth, "me", "Sign out"),
            },
        ),
        // Not signed in: there is nothing to sign out of.
        Err(UiError::SignIn { .. }) => Ok(Redirect::to("login").into_response()),
        Err(e) => Err(e),
    }
}

async fn logout(State(state): State<AppState>, req: Request) -> Result<Response, UiError> {
    let (mut parts, body) = req.into_parts();
    if cross_site(&parts.headers) {
        return Err(UiError::Csrf);
    }
    let tenant = Tenant::from_request_parts(&mut parts, &state).await?;
    let slug = tenant.record.slug.as_str().to_string();
    let headers = parts.headers.clone();
    let ip = auth::client_ip(&parts);
    let form = read_form(Request::from_parts(parts, body), &state).await?;
    if let Some(token) = session_token(&headers, &slug) {
        let hash = skjold_app::credentials::hash_token(token);
        let timeouts = state.tenant_session_timeouts(&tenant.db).await?;
        if let Some(session) = tenant.db.session(&hash, timeouts).await? {
            // A live session ends only by a form of its own.
            if !secrets_equal(
                form.get(auth::CSRF_FIELD).unwrap_or(""),
                &auth::csrf_token(token),
            ) {
                return Err(UiError::Csrf);
            }
            tenant.db.delete_session(&session.token_hash).await?;
            Event::new(
                &state,
                AuditKind::AuthSignOut,
                Some(ip),
                serde_json::json!({ "via": "web" }),
            )
            .by(&session.user.id, &session.user.username)
            .record(&state, &slug)
            .await?;
        }
    }
    let mut res = Redirect::to(&format!("/{slug}/login?msg=signed-out")).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(res)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/login", get(login_form).post(login))
        .route("/{tenant}/login/passkey/options", post(passkey_options))
        .route("/{tenant}/login/passkey", post(passkey_sign_in))
        .route("/{tenant}/logout", get(logout_page).post(logout))
}
