//! The tenant's settings, set by its administrators (holders of `settings.manage`).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SettingsManage};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Extension;
use axum::Json;
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
    body.validate()?;
    let before = crate::password::policy(auth.db()).await?;
    crate::password::store_policy(auth.db(), &auth.actor(), &body).await?;
    auth.audit_event(
        &state,
        ip,
        "settings.password_policy_changed",
        serde_json::json!({ "before": before, "after": body }),
    )
    .await?;
    Ok(Json(body))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_policy, put_policy))
}
