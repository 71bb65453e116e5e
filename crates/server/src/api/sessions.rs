//! A user's own sessions (list, revoke one) and an administrator ending all of a user's
//! sessions.

use super::{parse_id, RecordPath, TenantPath};
use crate::audit::ClientIp;
use crate::extract::{Authorized, SignedIn, UsersManage};
use crate::sessions::{live_sessions, SessionView};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::Serialize;
use skjold_app::Via;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    items: Vec<SessionView>,
}

/// My sessions: where and when I am signed in.
#[utoipa::path(get, path = "/me/sessions", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "My live sessions, newest first", body = SessionList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn my_sessions(
    State(state): State<AppState>,
    auth: Authorized<SignedIn>,
) -> Result<Json<SessionList>, ApiError> {
    let items = live_sessions(&state, auth.db(), &auth.user().id, &auth.session.token_hash).await?;
    Ok(Json(SessionList { items }))
}

/// `{tenant}` and a session `{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct SessionPath {
    tenant: String,
    /// A session id from `GET /me/sessions` (32 hexadecimal digits; not a UUID).
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// End one of my sessions (the current one too: that signs out).
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(SessionPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such session of mine", body = crate::error::Problem),
        (status = 422, description = "Not a session id", body = crate::error::Problem)))]
async fn revoke_my_session(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SignedIn>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(skjold_domain::FieldErrors::single("id", "is not a session id").into());
    }
    let ended =
        skjold_app::account::end_session(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id)
            .await?;
    if !ended {
        return Err(ApiError::NotFound("no such session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionsEnded {
    /// How many sessions ended.
    ended: u64,
    /// How many of the user's API tokens were revoked.
    api_tokens_revoked: u64,
    /// How many open invitations were withdrawn (0 or 1).
    invites_withdrawn: u64,
}

/// End all of a user's access: their sessions (the caller's own survives when administrators
/// do this to themselves), their API tokens and their open invitation. Passkeys and an
/// authenticator stay (they are factors of a sign-in, not ways in). You must hold the
/// user's role.
#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "users", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "Ended", body = SessionsEnded),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn end_user_sessions(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let id = parse_id(&id)?;
    let ended =
        skjold_app::users::end_access(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(Json(SessionsEnded {
        ended: ended.sessions,
        api_tokens_revoked: ended.api_tokens,
        invites_withdrawn: ended.invites,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_session))
        .routes(routes!(end_user_sessions))
}
