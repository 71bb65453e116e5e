//! The tenant's settings, set by its administrators (holders of `settings.manage`).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SettingsManage};
use crate::state::SessionSettings;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Extension;
use axum::Json;
use skjold_app::{settings, Via};
use skjold_domain::PasswordPolicy;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The tenant's password policy (the defaults if it never set one).
#[utoipa::path(get, path = "/settings/password-policy", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The policy", body = PasswordPolicy),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn get_policy(auth: Authorized<SettingsManage>) -> Result<Json<PasswordPolicy>, ApiError> {
    Ok(Json(crate::password::policy(auth.db()).await?))
}

/// Replace the tenant's password policy. A field left out takes its default. Applies to
/// passwords set from now on; the lockout rules apply from the next failed sign-in.
#[utoipa::path(put, path = "/settings/password-policy", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    request_body = PasswordPolicy,
    responses(
        (status = 200, description = "The policy now in force", body = PasswordPolicy),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A value out of range; `errors` names it", body = crate::error::Problem)))]
async fn put_policy(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<PasswordPolicy>,
) -> Result<Json<PasswordPolicy>, ApiError> {
    let body =
        settings::set_password_policy(&auth.ctx(&state, ip), &auth.acting(Via::Api), body).await?;
    Ok(Json(body))
}

/// The tenant's session timeouts; `null` means the server's default, which
/// `effective_*` shows.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionSettingsView {
    // Spelled out rather than `#[serde(flatten)]`: the flattened schema became an `allOf`
    // with the closed `SessionSettings`, which no answer could match (schemathesis ST108).
    /// The tenant's idle timeout in minutes; `null`: the server's default.
    idle_minutes: Option<i64>,
    /// The tenant's absolute timeout in hours; `null`: the server's default.
    absolute_hours: Option<i64>,
    /// The tenant's longest token life in days; `null`: 365.
    token_max_days: Option<i64>,
    /// The idle timeout in force, in minutes.
    effective_idle_minutes: i64,
    /// The absolute timeout in force, in hours.
    effective_absolute_hours: i64,
    /// The longest an API token may live, in days.
    effective_token_max_days: i64,
}

async fn session_view(
    state: &AppState,
    db: &skjold_store::TenantDb,
) -> Result<SessionSettingsView, ApiError> {
    let settings = match db.setting(SessionSettings::NAME).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| ApiError::Internal(format!("session settings: {e}")))?,
        None => SessionSettings::default(),
    };
    let t = state.tenant_session_timeouts(db).await?;
    let token_max_days = settings.token_max_days.unwrap_or(365);
    Ok(SessionSettingsView {
        idle_minutes: settings.idle_minutes,
        absolute_hours: settings.absolute_hours,
        token_max_days: settings.token_max_days,
        effective_idle_minutes: t.idle.num_minutes(),
        effective_absolute_hours: t.absolute.num_hours(),
        effective_token_max_days: token_max_days,
    })
}

/// The tenant's session timeouts.
#[utoipa::path(get, path = "/settings/sessions", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The timeouts", body = SessionSettingsView),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn get_sessions(
    State(state): State<AppState>,
    auth: Authorized<SettingsManage>,
) -> Result<Json<SessionSettingsView>, ApiError> {
    Ok(Json(session_view(&state, auth.db()).await?))
}

/// Set the tenant's session timeouts. The idle timeout applies to live sessions at their
/// next request, the absolute one to sessions started from now on.
#[utoipa::path(put, path = "/settings/sessions", tag = "settings", params(TenantPath),
    security(("bearer" = [])),
    request_body = SessionSettings,
    responses(
        (status = 200, description = "The timeouts now in force", body = SessionSettingsView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A value out of range", body = crate::error::Problem)))]
async fn put_sessions(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<SessionSettings>,
) -> Result<Json<SessionSettingsView>, ApiError> {
    settings::set_sessions(&auth.ctx(&state, ip), &auth.acting(Via::Api), body).await?;
    Ok(Json(session_view(&state, auth.db()).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(get_sessions, put_sessions))
}
