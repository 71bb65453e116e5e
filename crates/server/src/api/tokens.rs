//! API tokens for integrations (`/me/tokens`): a user makes narrow, expiring tokens for
//! themself; each is shown once and stored as a hash. See [`crate::scopes`] for what a
//! token may reach.

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SignedIn};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::FieldErrors;
use skjold_store::{ApiToken, NewApiToken};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Default lifetime of a token when `expires_at` is left out.
pub const DEFAULT_DAYS: i64 = 90;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// What the token is for, 1–100 characters.
    pub name: String,
    /// At least one of `<resource>:read` / `<resource>:write` with resource `all`,
    /// `companies`, `persons`, `activities`, `sales`, `users`, `roles`, `teams`, `audit` or
    /// `settings`.
    pub scopes: Vec<String>,
    /// When it stops working (RFC 3339); default 90 days, at most the tenant's
    /// `token_max_days` (default 365).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    /// Past its expiry: it no longer works.
    pub expired: bool,
}

impl TokenView {
    pub fn new(t: ApiToken, now: chrono::DateTime<chrono::Utc>) -> Self {
        let expired = parse_timestamp(&t.expires_at).is_none_or(|e| now >= e);
        TokenView {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            last_used_ip: t.last_used_ip,
            expired,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token: shown only now, stored only as a hash. Send it as
    /// `Authorization: Bearer <token>`.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    items: Vec<TokenView>,
}

impl TokenList {
    pub fn new(items: Vec<TokenView>) -> Self {
        TokenList { items }
    }
}

/// Checks a new token's fields and makes it; shared by the API and the web UI.
pub async fn create(
    clock: &dyn skjold_domain::Clock,
    db: &skjold_store::TenantDb,
    user_id: &str,
    body: NewTokenBody,
) -> Result<CreatedToken, ApiError> {
    let mut errs = FieldErrors::new();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errs.add("name", "has 1 to 100 characters and no control characters");
    }
    if body.scopes.is_empty() {
        errs.add(
            "scopes",
            "must name at least one scope, e.g. companies:read",
        );
    }
    for (i, s) in body.scopes.iter().enumerate() {
        if let Err(m) = crate::scopes::check_scope(s) {
            errs.add(format!("scopes[{i}]"), m);
        }
    }
    let now = clock.now();
    let max_days = crate::state::tenant_session_settings(db)
        .await?
        .token_max_days
        .unwrap_or(365);
    let expires = match &body.expires_at {
        None => Some(now + chrono::Duration::days(DEFAULT_DAYS.min(max_days))),
        Some(s) => match parse_timestamp(s) {
            None => {
                errs.add(
                    "expires_at",
                    "must be an RFC 3339 time, e.g. 2026-05-01T14:05:00Z",
                );
                None
            }
            Some(t) if t <= now => {
                errs.add("expires_at", "must be in the future");
                None
            }
            Some(t) if t > now + chrono::Duration::days(max_days) => {
                errs.add(
                    "expires_at",
                    format!("may be at most {max_days} days ahead (the tenant's limit)"),
                );
                None
            }
            Some(t) => Some(t),
        },
    };
    errs.into_result()?;
    let Some(expires) = expires else {
        return Err(FieldErrors::single("expires_at", "is not valid").into());
    };
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    let token = skjold_auth::new_api_token();
    let created = db
        .create_api_token(NewApiToken {
            user_id,
            name: &name,
            token_hash: &skjold_auth::hash_token(&token),
            scopes: &scopes,
            expires_at: &format_timestamp(expires),
        })
        .await?;
    Ok(CreatedToken {
        view: TokenView::new(created, now),
        token,
    })
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
    auth.require_step_up(&state)?;
    let created = create(state.clock.as_ref(), auth.db(), &auth.user().id, body).await?;
    auth.audit_event(
        &state,
        ip,
        "api_token.created",
        serde_json::json!({
            "token_id": created.view.id, "name": created.view.name,
            "scopes": created.view.scopes, "expires_at": created.view.expires_at,
        }),
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
    if !auth.db().delete_api_token(&auth.user().id, &id).await? {
        return Err(ApiError::NotFound("no such token"));
    }
    auth.audit_event(
        &state,
        ip,
        "api_token.revoked",
        serde_json::json!({ "token_id": id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}
