//! API tokens for integrations (`/me/tokens`): a user makes narrow, expiring tokens for
//! themself; each is shown once and stored as a hash. See [`crate::scopes`] for what a
//! token may reach.

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SignedIn};
use crate::tokens::{CreatedToken, NewTokenBody, TokenView};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::Serialize;
use skjold_app::{tokens, Via};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    items: Vec<TokenView>,
}

impl TokenList {
    pub fn new(items: Vec<TokenView>) -> Self {
        TokenList { items }
    }
}

/// My API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/me/tokens", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "My tokens, newest first", body = TokenList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_tokens(
    State(state): State<AppState>,
    auth: Authorized<SignedIn>,
) -> Result<Json<TokenList>, ApiError> {
    let now = state.clock.now();
    let items = auth
        .db()
        .api_tokens_of(&auth.user().id)
        .await?
        .into_iter()
        .map(|t| TokenView::new(t, now))
        .collect();
    Ok(Json(TokenList { items }))
}

/// Make an API token for myself. The answer holds the token, once.
#[utoipa::path(post, path = "/me/tokens", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = NewTokenBody,
    responses(
        (status = 201, description = "Created; `token` is shown only now", body = CreatedToken),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid name, scope or expiry", body = crate::error::Problem)))]
async fn create_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = tokens::mint(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        tokens::Whose::Own,
        body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `{tenant}` and a token `{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TokenPath {
    tenant: String,
    /// A token id from `GET /me/tokens`.
    #[param(format = Uuid)]
    id: String,
}

/// Revoke one of my API tokens: it stops working at once.
#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "me", params(TokenPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such token of mine", body = crate::error::Problem),
        (status = 422, description = "Not a token id", body = crate::error::Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = super::parse_id(&id)?;
    tokens::revoke(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        tokens::Whose::Own,
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}
