//! Two-factor management: the user's own status, turning TOTP off, new recovery codes;
//! the tenant's requirement (`/settings/two-factor`) and an administrator's demand of one
//! user (`/users/{id}/require-two-factor`).

use super::{RecordPath, TenantPath};
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, Enrolling, SettingsManage, SignedIn, UsersManage};
use crate::factors::{disable_totp_checked, regenerate_codes, user_two_factor, UserTwoFactor};
use crate::passkey_flows::PasskeyView;
use crate::two_factor::{self as tf, TwoFactorPolicy};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_app::Via;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The signed-in user's second factors.
#[derive(Serialize, ToSchema)]
pub struct TwoFactorStatus {
    /// An authenticator app (TOTP) is on.
    totp: bool,
    /// Unused recovery codes left (0 without TOTP).
    recovery_codes_left: i64,
    passkeys: Vec<PasskeyView>,
    /// The tenant (its policy, or an administrator) requires this user to have a second
    /// factor.
    required: bool,
    /// This session may only enrol a factor until one is enrolled.
    enrolment_required: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTotp {
    /// The account's password …
    #[serde(default)]
    password: Option<String>,
    /// … or a current code of the app (or a recovery code).
    #[serde(default)]
    code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewRecoveryCodes {
    /// Ten new single-use codes; the earlier ones no longer work. Shown only now.
    recovery_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireTwoFactor {
    /// `true`: the user must have a second factor (they enrol one at their next sign-in);
    /// `false`: only the tenant's policy applies.
    required: bool,
}

/// The signed-in user's second factors.
#[utoipa::path(get, path = "/me/two-factor", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "TOTP, recovery codes and passkeys", body = TwoFactorStatus),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn status(auth: Authorized<Enrolling>) -> Result<Json<TwoFactorStatus>, ApiError> {
    let (db, user) = (auth.db(), auth.user());
    let factors = tf::factors_of(db, &user.id).await?;
    let flagged = db.two_factor_required_flag(&user.id).await?;
    let passkeys = db.passkeys_of(&user.id).await?;
    Ok(Json(TwoFactorStatus {
        totp: factors.totp,
        recovery_codes_left: if factors.totp {
            db.recovery_codes_left(&user.id).await?
        } else {
            0
        },
        passkeys: passkeys.iter().map(PasskeyView::from).collect(),
        required: tf::two_factor_required_for(&tf::policy(db).await?, user, flagged),
        enrolment_required: auth.session.restricted,
    }))
}

/// Turn the authenticator app off (and its recovery codes). Needs the password or a
/// current code; a wrong one counts toward the account's lockout like a failed sign-in.
/// Refused when it is the last second factor of a user the tenant requires to have one.
#[utoipa::path(post, path = "/me/totp/disable", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = DisableTotp,
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "TOTP is not on, or it is the last required second factor", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Neither password nor code, or a wrong one; `errors` names it", body = crate::error::Problem),
        (status = 429, description = "Too many wrong attempts: the account is locked for `Retry-After` seconds", body = crate::error::Problem)))]
async fn disable_totp(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    ApiJson(body): ApiJson<DisableTotp>,
) -> Result<StatusCode, ApiError> {
    disable_totp_checked(
        &state,
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        body.password,
        body.code.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes: ten fresh ones, and the earlier ones stop working.
#[utoipa::path(post, path = "/me/totp/recovery-codes", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The new codes; keep them", body = NewRecoveryCodes),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "TOTP is not on", body = crate::error::Problem)))]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
) -> Result<Json<NewRecoveryCodes>, ApiError> {
    auth.require_step_up(&state)?;
    let codes = regenerate_codes(&auth.ctx(&state, ip), &auth.acting(Via::Api)).await?;
    Ok(Json(NewRecoveryCodes {
        recovery_codes: codes,
    }))
}

/// The tenant's two-factor requirement.
#[utoipa::path(get, path = "/settings/two-factor", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The requirement", body = TwoFactorPolicy),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn get_policy(auth: Authorized<SettingsManage>) -> Result<Json<TwoFactorPolicy>, ApiError> {
    Ok(Json(tf::policy(auth.db()).await?))
}

/// Set the tenant's two-factor requirement. Users it newly covers who have no second
/// factor get, at their next sign-in, a session that can only enrol one.
#[utoipa::path(put, path = "/settings/two-factor", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    request_body = TwoFactorPolicy,
    responses(
        (status = 200, description = "The requirement now in force", body = TwoFactorPolicy),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "An unknown role, or `roles` without a role", body = crate::error::Problem)))]
async fn put_policy(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<TwoFactorPolicy>,
) -> Result<Json<TwoFactorPolicy>, ApiError> {
    let after = tf::set_policy(&auth.ctx(&state, ip), &auth.acting(Via::Api), body).await?;
    Ok(Json(after))
}

/// Require (or stop requiring) a second factor of one user, beyond the tenant's policy.
#[utoipa::path(post, path = "/users/{id}/require-two-factor", tag = "users", params(RecordPath),
    security(("bearer" = [])),
    request_body = RequireTwoFactor,
    responses(
        (status = 200, description = "The user's two-factor facts now", body = UserTwoFactor),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Malformed id or body", body = crate::error::Problem)))]
async fn require_two_factor(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RequireTwoFactor>,
) -> Result<Json<UserTwoFactor>, ApiError> {
    let id = super::parse_id(&id)?;
    skjold_app::users::require_two_factor(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        body.required,
    )
    .await?;
    let user = auth.db().user(&id).await?;
    Ok(Json(user_two_factor(auth.db(), &user).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(disable_totp))
        .routes(routes!(regenerate_recovery_codes))
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(require_two_factor))
}
