//! Signing in and out.

use super::TenantPath;
use crate::audit::{ClientIp, Event};
use crate::extract::{ApiJson, Authorized, Enrolling, Tenant};
use crate::signin::Outcome;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::audit::AuditKind;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
    /// The current code of the user's authenticator app, or one of their recovery codes;
    /// needed once the user has turned on a second factor.
    #[serde(default)]
    totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewSession {
    /// The bearer token. Shown only here; the server keeps only its hash.
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
    user: super::me::Me,
    /// The tenant's maximum password age has passed: change the password
    /// (`PUT /me/password`).
    password_expired: bool,
    /// The tenant requires a second factor of this user and they have none yet: this
    /// session reaches only the enrolment routes (`/me/totp…`, `/me/passkeys…`,
    /// `/me/two-factor`, `GET /me`, `DELETE /session`) until one is enrolled.
    two_factor_enrolment_required: bool,
}

/// Sign in with username and password. A wrong password, an unknown user and a disabled
/// user get the same answer in the same time. Repeated failures lock the username (known
/// or not) for a while, and too many from one address throttle and then ban it: both are
/// answered 429 with `Retry-After`, and a locked account does not sign in even with the
/// right password.
#[utoipa::path(post, path = "/session", tag = "session", params(TenantPath),
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in", body = NewSession),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Sign-in failed (`type` …:sign-in-failed), or the password was right and a second factor is required (`type` …:second-factor-required): send `totp`, or use a passkey (`POST /session/passkey/options` with the username and password)", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: try again after `Retry-After` seconds", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Fields missing or of the wrong type", body = crate::error::Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let outcome = crate::signin::check_password(
        &state,
        &tenant.record,
        &tenant.db,
        crate::signin::Credentials {
            username: &body.username,
            password: body.password,
            second_factor: body.totp.as_deref(),
            then_passkey: false,
        },
        ip,
        "api",
    )
    .await?;
    let outcome = match outcome {
        Outcome::PasswordVerified { .. } => return Err(ApiError::SecondFactorRequired),
        other => other,
    };
    let (status, session) = start_session(&state, &tenant, outcome, ip, &headers, "api").await?;
    Ok((status, session))
}

/// Ends a sign-in, by password or passkey: a session for a signed-in user (restricted to
/// enrolment if they must enrol a second factor first), or the problem for any other
/// outcome.
pub(super) async fn start_session(
    state: &AppState,
    tenant: &Tenant,
    outcome: Outcome,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    via: &'static str,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let (user, password_expired, must_enrol) = match outcome {
        Outcome::SignedIn {
            user,
            password_expired,
            must_enrol,
        } => (user, password_expired, must_enrol),
        Outcome::Failed => return Err(ApiError::SignInFailed),
        Outcome::TryLater { retry_after_secs } => {
            return Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        Outcome::Suspended => return Err(ApiError::Forbidden("this tenant is suspended".into())),
        Outcome::SecondFactorRequired | Outcome::PasswordVerified { .. } => {
            return Err(ApiError::SecondFactorRequired)
        }
        Outcome::SsoOnly { provider } => {
            return Err(ApiError::Forbidden(format!(
                "this account signs in only through {provider} (single sign-on): passwords are refused; sign in through the web UI's \"Sign in with\" button"
            )))
        }
    };
    let session =
        crate::signin::open_session(state, tenant, &user, must_enrol, ip, headers, via).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewSession {
            token: session.token,
            expires_at: session.expires_at,
            user: super::me::Me::load(&tenant.db, &user).await?,
            password_expired,
            two_factor_enrolment_required: must_enrol,
        }),
    ))
}

/// Sign out: the session's token stops working.
#[utoipa::path(delete, path = "/session", tag = "session", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn sign_out(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
) -> Result<StatusCode, ApiError> {
    auth.db().delete_session(&auth.session.token_hash).await?;
    Event::new(
        &state,
        AuditKind::AuthSignOut,
        Some(ip),
        serde_json::Value::Null,
    )
    .by(&auth.user().id, &auth.user().username)
    .record(&state, auth.db().slug().as_str())
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUp {
    /// Your password (with `totp` too if you like).
    #[serde(default)]
    password: Option<String>,
    /// The current code of your authenticator app, instead of the password.
    #[serde(default)]
    totp: Option<String>,
}

/// Confirm it is you, in this session: your password or your authenticator's code. Minting
/// an API token, adding a passkey or an authenticator, new recovery codes and a new e-mail
/// address need this within the last 10 minutes (signing in counts). Wrong answers count
/// towards the account's lockout like failed sign-ins.
#[utoipa::path(post, path = "/session/verify", tag = "session", params(TenantPath),
    security(("bearer" = [])),
    request_body = StepUp,
    responses(
        (status = 204, description = "Confirmed: the session counts as verified for 10 minutes"),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Wrong password or code (`type` …:step-up-failed), or called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Neither password nor totp", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: the account is locked or the address throttled", body = crate::error::Problem)))]
async fn verify(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    ApiJson(body): ApiJson<StepUp>,
) -> Result<StatusCode, ApiError> {
    crate::step_up::verify(
        &state,
        &auth.tenant.record,
        auth.db(),
        &auth.session,
        crate::step_up::Proof {
            password: body.password,
            code: body.totp,
        },
        ip,
        "api",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(verify))
}
