//! The tenant's identity providers for single sign-on (Microsoft Entra ID, Google
//! Workspace, any OpenID Connect provider), managed by holders of `settings.manage`, and the
//! links between a provider's accounts and users. Each change is the application layer's
//! action ([`skjold_app::identity_providers`]).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SettingsManage, UsersManage};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use skjold_app::identity_providers::{
    self as idp, NewProvider, ProviderPatch, ProviderView, SsoOnlyPolicy,
};
use skjold_app::Via;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers, create_provider))
        .routes(routes!(get_provider, update_provider, delete_provider))
        .routes(routes!(list_links))
        .routes(routes!(delete_link))
        .routes(routes!(get_sso_only, put_sso_only))
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    items: Vec<ProviderView>,
}

/// `{tenant}` and a provider's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct ProviderPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The provider's id.
    #[param(format = Uuid)]
    id: String,
}

/// `{tenant}`, a user's `{id}` and a provider's `{provider_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct LinkPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The user's id.
    #[param(format = Uuid)]
    id: String,
    /// The provider's id.
    #[param(format = Uuid)]
    provider_id: String,
}

/// `{tenant}` and a user's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct UserLinksPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The user's id.
    #[param(format = Uuid)]
    id: String,
}

fn view(state: &AppState, tenant: &str, p: &skjold_store::IdentityProvider) -> ProviderView {
    ProviderView::of(p, crate::sso::redirect_uri(&state.config, tenant))
}

/// The tenant's identity providers.
#[utoipa::path(get, path = "/identity-providers", tag = "single sign-on", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The providers, by name (secrets as `***`)", body = ProviderList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_providers(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
) -> Result<Json<ProviderList>, ApiError> {
    let ctx = auth.ctx(&state, ip);
    let items = idp::list(&ctx, &auth.acting(Via::Api)).await?;
    let slug = auth.tenant.record.slug.as_str();
    Ok(Json(ProviderList {
        items: items.iter().map(|p| view(&state, slug, p)).collect(),
    }))
}

/// Register an identity provider: `entra` (Microsoft Entra ID / Office 365, with
/// `directory_id`), `google` (Google Workspace, with `hosted_domains`) or `oidc` (any
/// OpenID Connect provider, with `issuer`).
#[utoipa::path(post, path = "/identity-providers", tag = "single sign-on", params(TenantPath), security(("bearer" = [])),
    request_body = NewProvider,
    responses(
        (status = 201, description = "Registered; register `redirect_uri` at the provider", body = ProviderView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage, or the just-in-time role is above the caller's", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "A provider of that name exists", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn create_provider(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<NewProvider>,
) -> Result<(StatusCode, Json<ProviderView>), ApiError> {
    let made = idp::create(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &state.secrets,
        &state.sso.presets,
        body,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, auth.tenant.record.slug.as_str(), &made)),
    ))
}

/// One identity provider.
#[utoipa::path(get, path = "/identity-providers/{id}", tag = "single sign-on", params(ProviderPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The provider (the secret as `***`)", body = ProviderView),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such provider in this tenant", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn get_provider(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ProviderView>, ApiError> {
    let id = super::parse_id(&id)?;
    let found = idp::get(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(Json(view(&state, auth.tenant.record.slug.as_str(), &found)))
}

/// Change an identity provider; absent fields stay as they are (`client_secret` replaces
/// the secret; `null` clears `jit_role` and `mfa_acr`).
#[utoipa::path(patch, path = "/identity-providers/{id}", tag = "single sign-on", params(ProviderPath), security(("bearer" = [])),
    request_body = ProviderPatch,
    responses(
        (status = 200, description = "The provider as changed", body = ProviderView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage, or the just-in-time role is above the caller's", body = crate::error::Problem),
        (status = 404, description = "No such provider in this tenant", body = crate::error::Problem),
        (status = 409, description = "Changed meanwhile, or the name is taken", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn update_provider(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ProviderPatch>,
) -> Result<Json<ProviderView>, ApiError> {
    let id = super::parse_id(&id)?;
    let changed = idp::update(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &state.secrets,
        &state.sso.presets,
        &id,
        body,
    )
    .await?;
    Ok(Json(view(
        &state,
        auth.tenant.record.slug.as_str(),
        &changed,
    )))
}

/// Remove an identity provider and its links to users.
#[utoipa::path(delete, path = "/identity-providers/{id}", tag = "single sign-on", params(ProviderPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such provider in this tenant", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn delete_provider(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = super::parse_id(&id)?;
    idp::delete(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A provider's account linked to a user.
#[derive(Serialize, ToSchema)]
pub struct LinkView {
    #[schema(format = Uuid)]
    provider_id: String,
    /// The account's subject at the provider.
    subject: String,
    issuer: String,
    email: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LinkList {
    items: Vec<LinkView>,
}

/// A user's links to identity providers.
#[utoipa::path(get, path = "/users/{id}/identity-links", tag = "single sign-on", params(UserLinksPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's links, oldest first", body = LinkList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such user in this tenant", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn list_links(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<LinkList>, ApiError> {
    let id = super::parse_id(&id)?;
    let links = idp::links_of(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(Json(LinkList {
        items: links
            .into_iter()
            .map(|l| LinkView {
                provider_id: l.provider_id,
                subject: l.subject,
                issuer: l.issuer,
                email: l.email,
                created_at: l.created_at,
            })
            .collect(),
    }))
}

/// Remove a user's link to a provider (their next single sign-on links again by a
/// verified e-mail address, or not at all).
#[utoipa::path(delete, path = "/users/{id}/identity-links/{provider_id}", tag = "single sign-on", params(LinkPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role is above the caller's", body = crate::error::Problem),
        (status = 404, description = "No such user, or no such link", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn delete_link(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id, provider_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = super::parse_id(&id)?;
    let provider_id = super::parse_id(&provider_id)?;
    idp::unlink(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        &provider_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom the tenant lets in only through an identity provider.
#[utoipa::path(get, path = "/settings/single-sign-on", tag = "single sign-on", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The SSO-only policy (roles by id)", body = SsoOnlyPolicy),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn get_sso_only(auth: Authorized<SettingsManage>) -> Result<Json<SsoOnlyPolicy>, ApiError> {
    Ok(Json(idp::sso_only_policy(auth.db()).await?))
}

/// Set whom the tenant lets in only through an identity provider (`none`, `all`, or
/// `roles` with `roles`): their passwords are refused. Needs a provider that is on.
#[utoipa::path(put, path = "/settings/single-sign-on", tag = "single sign-on", params(TenantPath), security(("bearer" = [])),
    request_body = SsoOnlyPolicy,
    responses(
        (status = 200, description = "The policy as stored (roles by id)", body = SsoOnlyPolicy),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "An unknown role, or no provider is on", body = crate::error::Problem)))]
async fn put_sso_only(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<SsoOnlyPolicy>,
) -> Result<Json<SsoOnlyPolicy>, ApiError> {
    let set = idp::set_sso_only_policy(&auth.ctx(&state, ip), &auth.acting(Via::Api), body).await?;
    Ok(Json(set))
}
