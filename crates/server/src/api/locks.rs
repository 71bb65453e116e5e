//! Sign-in locks: administrators see which usernames are locked after repeated failed
//! sign-ins, and lift a lock (claim S27: lockout).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{Authorized, UsersManage};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::Serialize;
use skjold_app::Via;
use skjold_domain::Username;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct LockView {
    /// The name as tried, lowercased.
    username: String,
    /// Whether a user of that name exists (attackers also try names that do not).
    known_user: bool,
    /// Locks in a row; each lasts twice as long as the one before, up to the policy's cap.
    lock_count: i64,
    #[schema(format = DateTime)]
    locked_until: Option<String>,
    #[schema(format = DateTime)]
    last_failure_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct LockList {
    items: Vec<LockView>,
}

/// `{tenant}` and `{username}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct LockPath {
    tenant: String,
    /// The locked name, as listed.
    username: String,
}

/// The usernames locked now.
#[utoipa::path(get, path = "/sign-in-locks", tag = "users", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The locks in force", body = LockList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_locks(auth: Authorized<UsersManage>) -> Result<Json<LockList>, ApiError> {
    let mut items = Vec::new();
    for lock in auth.db().active_sign_in_locks().await? {
        let known_user = match Username::parse(&lock.username) {
            Ok(u) => auth.db().user_for_sign_in(&u).await?.is_some(),
            Err(_) => false,
        };
        items.push(LockView {
            username: lock.username,
            known_user,
            lock_count: lock.lock_count,
            locked_until: lock.locked_until,
            last_failure_at: lock.last_failure_at,
        });
    }
    Ok(Json(LockList { items }))
}

/// Lift a lock: the name may sign in again at once, and its count of locks starts afresh.
#[utoipa::path(delete, path = "/sign-in-locks/{username}", tag = "users", params(LockPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the name is a user's whose role you do not hold", body = crate::error::Problem),
        (status = 404, description = "No failures recorded for that name", body = crate::error::Problem)))]
async fn lift_lock(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, username)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    skjold_app::users::lift_lock(&auth.ctx(&state, ip), &auth.acting(Via::Api), &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_locks))
        .routes(routes!(lift_lock))
}
