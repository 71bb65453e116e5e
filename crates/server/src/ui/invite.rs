//! The page behind an invitation link (`/<tenant>/invite/<token>`): the invited person
//! chooses their password. Public on purpose — the link is the credential — with the
//! sign-in form's protections: a double-submit token against cross-site posts, and the
//! address guard of sign-in (each unknown link counts as a failure).

use super::auth::{self, cross_site, read_form, secrets_equal, SIGNIN_COOKIE};
use super::templates::InvitePage;
use super::{assets, render, UiError};
use crate::extract::Tenant;
use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

const STALE_FORM: &str = "The form had expired or was not sent from this site. Please try again.";
const MISMATCH: &str = "The two passwords differ. Type the same password twice.";
const TRY_LATER: &str =
    "Too many failed attempts from your network. Please wait a while and try again.";

fn signin_token(headers: &HeaderMap) -> String {
    match auth::cookie(headers, SIGNIN_COOKIE) {
        Some(t) if t.starts_with("skj_") && t.len() <= 100 => t.to_string(),
        _ => skjold_app::credentials::new_token(),
    }
}

/// The page, with the double-submit cookie set.
async fn page(
    tenant: &Tenant,
    headers: &HeaderMap,
    token: &str,
    username: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let policy = crate::password::policy(&tenant.db).await?;
    let signin_token = signin_token(headers);
    let mut res = render(
        status,
        &InvitePage {
            slug: tenant.record.slug.as_str().to_string(),
            tenant_name: tenant.record.display_name.clone(),
            asset_v: assets::version(),
            // Only a token-shaped value goes back into the form's address.
            token: if username.is_some() {
                token.to_string()
            } else {
                String::new()
            },
            username,
            hint: super::profile::policy_hint(&policy),
            signin_token: signin_token.clone(),
            error,
        },
    )?;
    res.headers_mut()
        .append(header::SET_COOKIE, auth::signin_cookie(&signin_token));
    Ok(res)
}

async fn show(
    tenant: Result<Tenant, ApiError>,
    headers: HeaderMap,
    Path((_, token)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let tenant = tenant?;
    match crate::invites::invited(&tenant.db, &token).await? {
        Some(user) => {
            page(
                &tenant,
                &headers,
                &token,
                Some(user.username),
                None,
                StatusCode::OK,
            )
            .await
        }
        None => page(&tenant, &headers, &token, None, None, StatusCode::NOT_FOUND).await,
    }
}

async fn accept(
    State(state): State<AppState>,
    Path((_, token)): Path<(String, String)>,
    req: Request,
) -> Result<Response, UiError> {
    let (mut parts, body) = req.into_parts();
    let tenant = Tenant::from_request_parts(&mut parts, &state).await?;
    let ip = auth::client_ip(&parts);
    let headers = parts.headers.clone();
    let form = read_form(Request::from_parts(parts, body), &state).await?;
    let invited = crate::invites::invited(&tenant.db, &token).await?;
    let username = invited.as_ref().map(|u| u.username.clone());
    let again = |error: &str, status: StatusCode| {
        page(
            &tenant,
            &headers,
            &token,
            username.clone(),
            Some(error.to_string()),
            status,
        )
    };

    let expected = auth::cookie(&headers, SIGNIN_COOKIE).unwrap_or("");
    let sent = form.get("signin_token").unwrap_or("");
    if cross_site(&headers) || expected.is_empty() || !secrets_equal(sent, expected) {
        return again(STALE_FORM, StatusCode::FORBIDDEN).await;
    }
    let password = form.get("password").unwrap_or("");
    if username.is_some() && password != form.get("repeat_password").unwrap_or("") {
        return again(MISMATCH, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match crate::invites::accept_link(&state, &tenant, ip, &token, password, skjold_app::Via::Web)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/{}/login?msg=invite-accepted",
            tenant.record.slug
        ))
        .into_response()),
        Err(ApiError::PasswordRefused(v)) => {
            again(
                &super::profile::refusal_text(&v),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(ApiError::TooManyAttempts { .. }) => {
            page(
                &tenant,
                &headers,
                &token,
                None,
                Some(TRY_LATER.into()),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(ApiError::NotFound(_)) => {
            page(&tenant, &headers, &token, None, None, StatusCode::NOT_FOUND).await
        }
        Err(e) => Err(e.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/invite/{token}", get(show).post(accept))
}
