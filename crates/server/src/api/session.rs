//! Signing in and out.

use super::TenantPath;
use crate::extract::{ApiJson, Authorized, SignedIn, Tenant};
use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::Username;
use skjold_store::TenantStatus;
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewSession {
    /// The bearer token. Shown only here; the server keeps only its hash.
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
    user: super::me::Me,
}

/// Sign in with username and password. A wrong password, an unknown user and a disabled
/// user get the same answer in the same time.
#[utoipa::path(post, path = "/session", tag = "session", params(TenantPath),
    request_body = SignIn,
    responses(
        (status = 201, description = "Signed in", body = NewSession),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Sign-in failed", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Fields missing or of the wrong type", body = crate::error::Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    tenant: Tenant,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    if body.password.len() > 4096 {
        return Err(ApiError::SignInFailed);
    }
    let found = match Username::parse(&body.username) {
        Ok(u) => tenant.db.user_for_sign_in(&u).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // Always verify, against a dummy hash when there is no user, so timing tells nothing.
    let ok = skjold_auth::verify_password(body.password, hash).await;
    let user = match user {
        Some(u) if ok && u.status == skjold_store::UserStatus::Active => u,
        _ => return Err(ApiError::SignInFailed),
    };
    if tenant.record.status != TenantStatus::Active {
        return Err(ApiError::Forbidden("this tenant is suspended".into()));
    }
    let token = skjold_auth::new_token();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let expires_at = tenant
        .db
        .create_session(
            &user.id,
            &skjold_auth::hash_token(&token),
            state.session_timeouts(),
            Some(&peer.ip().to_string()),
            user_agent,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewSession {
            token,
            expires_at,
            user: super::me::Me::from(&user),
        }),
    ))
}

/// Sign out: the session's token stops working.
#[utoipa::path(delete, path = "/session", tag = "session", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn sign_out(auth: Authorized<SignedIn>) -> Result<StatusCode, ApiError> {
    auth.db().delete_session(&auth.session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, sign_out))
}
