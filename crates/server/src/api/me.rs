//! The signed-in user's own details (claim S28: users see and update their own data).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SignedIn};
use crate::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_app::Via;
use skjold_domain::{double_option, Email, FieldErrors, Grant, Right, Visibility};
use skjold_store::{TenantDb, User, UserPatch};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The id of the user's role (a built-in role's id is its name).
    pub role: String,
    pub role_name: String,
    /// What the role allows.
    pub rights: Vec<Right>,
    /// Which records the user sees: their own, their teams', or all.
    pub visibility: Visibility,
}

impl Me {
    pub fn new(u: &User, grant: &Grant) -> Self {
        Me {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            role: u.role.as_str().to_string(),
            role_name: grant.role_name.clone(),
            rights: grant.rights.clone(),
            visibility: grant.visibility,
        }
    }

    /// The user with their role's rights read from the store.
    pub async fn load(db: &TenantDb, u: &User) -> Result<Self, ApiError> {
        Ok(Me::new(u, &db.grant_of(u).await?))
    }
}

/// Personal details a user may change; `null` clears one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalDetails {
    #[serde(default, deserialize_with = "double_option")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
}

impl PersonalDetails {
    /// Checks and normalises the fields into a store patch.
    pub fn into_patch(self) -> Result<UserPatch, FieldErrors> {
        let mut errs = FieldErrors::new();
        let clean = |v: Option<Option<String>>| {
            v.map(|o| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        let display_name = clean(self.display_name);
        if let Some(Some(n)) = &display_name {
            if n.chars().count() > 100 || n.chars().any(char::is_control) {
                errs.add(
                    "display_name",
                    "has at most 100 characters and no control characters",
                );
            }
        }
        let email = clean(self.email);
        if let Some(Some(e)) = &email {
            if let Err(m) = Email::parse(e) {
                errs.add("email", m);
            }
        }
        let phone = clean(self.phone);
        if let Some(Some(p)) = &phone {
            if let Err(m) = skjold_domain::user::check_phone(p) {
                errs.add("phone", m);
            }
        }
        errs.into_result()?;
        Ok(UserPatch {
            display_name,
            email,
            phone,
            ..UserPatch::default()
        })
    }
}

/// Who am I: the signed-in user's details and rights.
#[utoipa::path(get, path = "/me", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn get_me(auth: Authorized<crate::extract::Enrolling>) -> Json<Me> {
    Json(Me::new(auth.user(), &auth.grant))
}

/// Update my own name, e-mail and phone. A new e-mail address needs a password check in
/// this session within the last 10 minutes (`POST /session/verify`; signing in counts).
#[utoipa::path(patch, path = "/me", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = PersonalDetails,
    responses(
        (status = 200, description = "Updated", body = Me),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "A new e-mail address without a password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields", body = crate::error::Problem)))]
async fn patch_me(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    ApiJson(body): ApiJson<PersonalDetails>,
) -> Result<Json<Me>, ApiError> {
    let patch = body.into_patch()?;
    let user =
        skjold_app::account::update_details(&auth.ctx(&state, ip), &auth.acting(Via::Api), patch)
            .await?;
    Ok(Json(Me::new(&user, &auth.grant)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Change my password. The tenant's password policy applies; every other session of mine
/// ends, this one stays.
#[utoipa::path(put, path = "/me/password", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Wrong current password, or the new one breaks the policy (`rule` names the rule)", body = crate::error::Problem),
        (status = 429, description = "Too many wrong current passwords (or sign-ins): the account is locked for `Retry-After` seconds", body = crate::error::Problem),
        (status = 503, description = "Too many passwords being checked at once: try again after `Retry-After` seconds", body = crate::error::Problem)))]
async fn change_password(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    let user = auth.user();
    let right = crate::signin::check_current_password(
        &state,
        &auth.tenant.record,
        auth.db(),
        user,
        body.current_password,
        ip,
        "api",
    )
    .await?;
    if !right {
        return Err(FieldErrors::single("current_password", "is not your current password").into());
    }
    skjold_app::account::change_password(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        body.new_password,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, patch_me))
        .routes(routes!(change_password))
}
