//! Passkeys (`crate::passkeys`): a user's own list, registration and removal, and signing in
//! with one, as the second step after a password or without a password at all.

use super::session::{start_session, NewSession};
use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, Enrolling, Tenant};
use crate::passkey_flows::{
    check_name, options_for, passkey_outcome, registration_finish, registration_start,
    remove_passkey, CeremonyOptions, PasskeyView,
};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use serde::Deserialize;
use skjold_app::Via;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskey {
    /// The token from `POST /me/passkeys/options`.
    ceremony: String,
    /// What `navigator.credentials.create()` answered, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
    /// A name for the passkey, e.g. "Laptop"; 1–100 characters.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    /// 1–100 characters.
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInStart {
    /// For the second step after a password (with `password`), or to sign in with one of
    /// this user's passkeys. Leave both out to let the passkey name its user.
    #[serde(default)]
    username: Option<String>,
    /// With `username`: the password, checked (and counted) as in `POST /session`.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignIn {
    /// The token from `POST /session/passkey/options`.
    ceremony: String,
    /// What `navigator.credentials.get()` answered, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// `{tenant}` and a passkey's `{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct PasskeyPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The passkey's id (a UUID).
    #[param(format = Uuid)]
    id: String,
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/me/passkeys", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The passkeys, oldest first", body = [PasskeyView]),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list(auth: Authorized<Enrolling>) -> Result<Json<Vec<PasskeyView>>, ApiError> {
    let keys = auth.db().passkeys_of(&auth.user().id).await?;
    Ok(Json(keys.iter().map(PasskeyView::from).collect()))
}

/// Start registering a passkey: options for `navigator.credentials.create()`.
#[utoipa::path(post, path = "/me/passkeys/options", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "Options and the ceremony token", body = CeremonyOptions),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server (its public URL names no domain)", body = crate::error::Problem)))]
async fn register_options(
    State(state): State<AppState>,
    auth: Authorized<Enrolling>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    auth.require_step_up(&state)?;
    Ok(Json(
        registration_start(&state, auth.db(), auth.user()).await?,
    ))
}

/// Finish registering a passkey with the authenticator's answer.
#[utoipa::path(post, path = "/me/passkeys", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = RegisterPasskey,
    responses(
        (status = 201, description = "Registered", body = PasskeyView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "This passkey is registered already", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Unknown or expired ceremony, or an answer that does not verify; `errors` names the field", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn register(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    ApiJson(body): ApiJson<RegisterPasskey>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    let record = registration_finish(
        &state,
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &auth.session,
        &body.ceremony,
        body.credential,
        body.name.as_deref().unwrap_or("Passkey"),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(&record))))
}

/// Rename one of the signed-in user's passkeys.
#[utoipa::path(patch, path = "/me/passkeys/{id}", tag = "me", params(PasskeyPath), security(("bearer" = [])),
    request_body = RenamePasskey,
    responses(
        (status = 200, description = "Renamed", body = PasskeyView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such passkey (of this user)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A bad name", body = crate::error::Problem)))]
async fn rename(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RenamePasskey>,
) -> Result<Json<PasskeyView>, ApiError> {
    // A malformed id names no passkey of this user: the same answer as another's id.
    let id = super::parse_id(&id).map_err(|_| ApiError::NotFound("no such passkey"))?;
    let name = check_name(&body.name)?;
    let record = crate::passkey_flows::rename_passkey(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        &name,
    )
    .await?;
    Ok(Json(PasskeyView::from(&record)))
}

/// Remove one of the signed-in user's passkeys. Refused for the last second factor of a
/// user the tenant requires to have one.
#[utoipa::path(delete, path = "/me/passkeys/{id}", tag = "me", params(PasskeyPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such passkey (of this user)", body = crate::error::Problem),
        (status = 409, description = "It is the last second factor, and the tenant requires one", body = crate::error::Problem)))]
async fn remove(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = super::parse_id(&id).map_err(|_| ApiError::NotFound("no such passkey"))?;
    remove_passkey(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start signing in with a passkey. With `username` and `password`: the second step after
/// the password, which is checked and counted as in `POST /session`. With `username` only:
/// options listing that user's passkeys. With neither: options for any passkey that names
/// its user (a discoverable credential). A username without passkeys, or that does not
/// exist, gets options of the same shape that can never succeed, so the answer does not
/// tell whether an account exists.
#[utoipa::path(post, path = "/session/passkey/options", tag = "session", params(TenantPath),
    request_body = PasskeySignInStart,
    responses(
        (status = 200, description = "Options and the ceremony token", body = CeremonyOptions),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "With a password: sign-in failed (`type` …:sign-in-failed), or the user has no passkey but a TOTP app (`type` …:second-factor-required)", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "With a right password: the user has no second factor, so `POST /session` signs them in", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A password without a username, or fields of the wrong type", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: try again after `Retry-After` seconds", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn sign_in_options(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(body): ApiJson<PasskeySignInStart>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    let typed = body.username.as_deref().unwrap_or("");
    Ok(Json(
        options_for(&state, &tenant, typed, body.password, ip, "api").await?,
    ))
}

/// Finish signing in with a passkey: the authenticator's answer to the options. Every
/// failure is the same `401 sign-in-failed` and counts toward the lockout of the username
/// the ceremony started with; a signature counter that went backwards (a cloned
/// authenticator) is refused and recorded as `auth.passkey_clone_suspected`.
#[utoipa::path(post, path = "/session/passkey", tag = "session", params(TenantPath),
    request_body = PasskeySignIn,
    responses(
        (status = 201, description = "Signed in", body = NewSession),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Sign-in failed (`type` …:sign-in-failed)", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Fields missing or of the wrong type", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: try again after `Retry-After` seconds", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasskeySignIn>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let outcome =
        passkey_outcome(&state, &tenant, body.ceremony, body.credential, ip, "api").await?;
    start_session(&state, &tenant, outcome, ip, &headers, "api_passkey").await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(register_options))
        .routes(routes!(rename, remove))
        .routes(routes!(sign_in_options))
        .routes(routes!(sign_in))
}
