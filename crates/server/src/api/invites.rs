//! Invitation links (`/users/{id}/invite`, `/invites/accept`) and the API tokens of service
//! users (`/users/{id}/tokens`): the two ways an administrator gives someone — a person or
//! an integration — access without ever handling their secret. The rules are in
//! [`crate::invites`] and [`super::tokens`].

use super::tokens::TokenList;
use super::{parse_id, RecordPath, TenantPath};
use crate::access::{self, Granter};
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, Tenant, UsersManage};
use crate::tokens::{CreatedToken, NewTokenBody, TokenView};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_app::{tokens, Via};
use skjold_domain::UserKind;
use skjold_store::User;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// An invitation just made. The link is shown only now.
#[derive(Serialize, ToSchema)]
pub struct InviteLink {
    /// The one-time link to pass to the person: on the configured `public_url`, else on
    /// the host this request was sent to.
    pub url: String,
    /// When the link stops working (7 days).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// Invite a person: a one-time link with which they set their own password (7 days; a new
/// invitation replaces the old link). Until then they cannot sign in with a password.
#[utoipa::path(post, path = "/users/{id}/invite", tag = "users", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 201, description = "Invited; the link is shown only now", body = InviteLink),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 409, description = "A service user, or a disabled user", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn invite_user(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    headers: HeaderMap,
    uri: Uri,
    Path((_, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<InviteLink>), ApiError> {
    let id = parse_id(&id)?;
    let user = auth.db().user(&id).await?;
    let link = invite(
        &state,
        &auth,
        ip,
        &user,
        crate::invites::request_host(&headers, &uri),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Makes the invitation and records it; shared with creating a user with `invite: true`.
pub(crate) async fn invite(
    state: &AppState,
    auth: &Authorized<UsersManage>,
    ip: std::net::IpAddr,
    user: &User,
    host: Option<&str>,
) -> Result<InviteLink, ApiError> {
    let issued = crate::invites::issue(
        &auth.ctx(state, ip),
        &auth.acting(skjold_app::Via::Api),
        &user.id,
    )
    .await?;
    Ok(InviteLink {
        url: issued.url(state.config.public_url.as_ref(), host),
        expires_at: issued.expires_at,
    })
}

/// Withdraw a user's open invitation: its link stops working at once.
#[utoipa::path(delete, path = "/users/{id}/invite", tag = "users", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user, or no open invitation", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn withdraw_invite(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    skjold_app::invites::withdraw(
        &auth.ctx(&state, ip),
        &auth.acting(skjold_app::Via::Api),
        &parse_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    /// The token: the last part of the link (`…/invite/<token>`).
    token: String,
    /// The password to set, under the tenant's password policy.
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct InviteAccepted {
    /// The username to sign in with.
    username: String,
}

/// Accept an invitation: set the password with the link's token. Needs no sign-in; the
/// link works once. The web page behind the link does the same.
#[utoipa::path(post, path = "/invites/accept", tag = "session", params(TenantPath),
    request_body = AcceptInvite,
    responses(
        (status = 200, description = "The password is set; sign in with it", body = InviteAccepted),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant, or the link is not valid (used, replaced, withdrawn or expired: one answer for all)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "The password breaks the tenant's policy (`rule` names the rule)", body = crate::error::Problem),
        (status = 429, description = "Too many failed attempts from this address: try again after `Retry-After` seconds", body = crate::error::Problem)))]
async fn accept_invite(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Json<InviteAccepted>, ApiError> {
    let user = crate::invites::accept_link(
        &state,
        &tenant,
        ip,
        &body.token,
        &body.password,
        skjold_app::Via::Api,
    )
    .await?;
    Ok(Json(InviteAccepted {
        username: user.username,
    }))
}

/// The service user `id`, or why not: tokens are made for service users only (a person
/// makes their own, so nobody can hold a token in another person's name).
async fn service_user(auth: &Authorized<UsersManage>, id: &str) -> Result<User, ApiError> {
    let id = parse_id(id)?;
    let user = auth.db().user(&id).await?;
    if user.kind != UserKind::Service {
        return Err(ApiError::Conflict(
            "API tokens are made by administrators only for service users; a person makes their own under /me/tokens".into(),
        ));
    }
    access::check_admit(auth.db(), Granter::User(&auth.grant), &user).await?;
    Ok(user)
}

/// A service user's API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/users/{id}/tokens", tag = "users", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The service user's tokens, newest first", body = TokenList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 409, description = "Not a service user", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn list_service_tokens(
    State(state): State<AppState>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<TokenList>, ApiError> {
    let user = service_user(&auth, &id).await?;
    let now = state.clock.now();
    let items = auth
        .db()
        .api_tokens_of(&user.id)
        .await?
        .into_iter()
        .map(|t| TokenView::new(t, now))
        .collect();
    Ok(Json(TokenList::new(items)))
}

/// Make an API token for a service user (an integration). The answer holds the token, once.
/// Scopes and expiry follow the same rules as `POST /me/tokens`; what the token reaches is
/// also bounded by the service user's role.
#[utoipa::path(post, path = "/users/{id}/tokens", tag = "users", params(RecordPath), security(("bearer" = [])),
    request_body = NewTokenBody,
    responses(
        (status = 201, description = "Created; `token` is shown only now", body = CreatedToken),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights you do not hold, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 409, description = "Not a service user, or the service user is disabled", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid name, scope or expiry", body = crate::error::Problem)))]
async fn create_service_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = tokens::mint(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        tokens::Whose::ServiceUser(&parse_id(&id)?),
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `{tenant}`, a user `{id}` and a token `{token_id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ServiceTokenPath {
    tenant: String,
    /// The service user's id.
    #[param(format = Uuid)]
    id: String,
    /// A token id from `GET /users/{id}/tokens`.
    #[param(format = Uuid)]
    token_id: String,
}

/// Revoke a service user's API token: it stops working at once.
#[utoipa::path(delete, path = "/users/{id}/tokens/{token_id}", tag = "users", params(ServiceTokenPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user, or no such token of theirs", body = crate::error::Problem),
        (status = 409, description = "Not a service user", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn revoke_service_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id, token_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        tokens::Whose::ServiceUser(&parse_id(&id)?),
        &parse_id(&token_id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite_user, withdraw_invite))
        .routes(routes!(accept_invite))
        .routes(routes!(list_service_tokens, create_service_token))
        .routes(routes!(revoke_service_token))
}
