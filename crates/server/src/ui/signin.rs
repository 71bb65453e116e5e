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
use crate::extract::{SignedIn, Tenant};
use crate::signin::Outcome;
use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use skjold_domain::TenantSlug;

const FAILED: &str = "Sign-in failed. Check your username and password and try again.";
const TRY_LATER: &str = "Too many failed sign-ins. Please wait a while and try again later.";
const CODE_NEEDED: &str =
    "Enter the code from your authenticator app (or a recovery code) as well.";
const SUSPENDED: &str =
    "This organisation's account is suspended, so nobody can sign in. Contact your administrator.";
const STALE_FORM: &str =
    "The sign-in form had expired or was not sent from this site. Please sign in again.";

/// The sign-in form's double-submit token: the one the browser already has, or a new one.
fn signin_token(headers: &HeaderMap) -> String {
    match auth::cookie(headers, SIGNIN_COOKIE) {
        Some(t) if t.starts_with("skj_") && t.len() <= 100 => t.to_string(),
        _ => skjold_auth::new_token(),
    }
}

fn page(
    tenant: &Tenant,
    token: String,
    username: String,
    next: Option<String>,
    error: Option<&'static str>,
    info: Option<&'static str>,
) -> LoginPage {
    LoginPage {
        slug: tenant.record.slug.as_str().to_string(),
        tenant_name: tenant.record.display_name.clone(),
        asset_v: assets::version(),
        username,
        next,
        signin_token: token,
        error,
        info,
        notice: None,
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
                &skjold_auth::hash_token(token),
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
        _ => None,
    };
    let token = signin_token(&headers);
    let res = render(
        StatusCode::OK,
        &page(&tenant, token.clone(), String::new(), next, None, info),
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
    let retry = |error: &'static str, status: StatusCode| -> Result<Response, UiError> {
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
        },
        ip,
        "web",
    )
    .await?;
    let (user, password_expired) = match outcome {
        Outcome::SignedIn {
            user,
            password_expired,
        } => (user, password_expired),
        Outcome::Failed => return retry(FAILED, StatusCode::OK),
        Outcome::TryLater { .. } => return retry(TRY_LATER, StatusCode::TOO_MANY_REQUESTS),
        Outcome::Suspended => return retry(SUSPENDED, StatusCode::FORBIDDEN),
        Outcome::SecondFactorRequired => return retry(CODE_NEEDED, StatusCode::OK),
    };

    // A session this browser had before ends: a sign-in always starts a fresh one.
    end_previous_session(&state, &headers).await;

    let token = skjold_auth::new_token();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let timeouts = state.tenant_session_timeouts(&tenant.db).await?;
    tenant
        .db
        .create_session(
            &user.id,
            &skjold_auth::hash_token(&token),
            timeouts,
            Some(&ip.to_string()),
            user_agent,
        )
        .await?;
    Event::new(
        &state,
        "auth.sign_in.succeeded",
        Some(ip),
        serde_json::json!({ "via": "web" }),
    )
    .by(&user.id, &user.username)
    .record(&state, &slug)
    .await?;
    // An expired password: straight to the profile, where it is changed.
    let target = if password_expired {
        format!("/{slug}/me?msg=password-expired")
    } else {
        next.unwrap_or_else(|| format!("/{slug}/"))
    };
    let mut res = Redirect::to(&target).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&slug, &token, timeouts.absolute.num_seconds()),
    );
    Ok(res)
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
        let _ = db.delete_session(&skjold_auth::hash_token(token)).await;
    }
}

async fn logout_page(auth: Result<UiAuth<SignedIn>, UiError>) -> Result<Response, UiError> {
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
        let hash = skjold_auth::hash_token(token);
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
                "auth.sign_out",
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
        .route("/{tenant}/logout", get(logout_page).post(logout))
}
