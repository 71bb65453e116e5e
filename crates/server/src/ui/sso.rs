//! Signing in through an identity provider, in the browser: the buttons on the sign-in
//! screen, `GET /{tenant}/auth/oidc/{provider_id}/start` (303 to the provider) and
//! `GET /{tenant}/auth/oidc/callback` (back from it).
//!
//! The protocol's checks are [`crate::sso`]'s, the user's the application layer's
//! ([`skjold_app::identity_providers::resolve_user`]). Here: the sign-in under way is kept
//! server-side under the SHA-256 of its `state`, taken once by the callback, and bound to
//! the browser that started it by a cookie only that browser holds; every outcome is an
//! audit event naming the provider and, for a refusal, its reason.

use super::auth::{self, secrets_equal};
use super::signin::{page, start_session};
use super::templates::SsoButton;
use super::{render, UiError};
use crate::audit::Event;
use crate::extract::Tenant;
use crate::signin::Outcome;
use crate::sso::{Refusal, FLOW_MINUTES};
use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use skjold_app::identity_providers::{self as idp, NoUser};
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_store::{IdentityProvider, SsoFlow, TenantStatus};
use std::net::IpAddr;

/// The cookie that binds a sign-in under way to the browser that started it.
const SSO_COOKIE: &str = "__Host-skjold_sso";

/// The enabled providers' buttons for the sign-in screen (none when they cannot be read:
/// the password form still works).
pub(super) async fn buttons(tenant: &Tenant, next: Option<&str>) -> Vec<SsoButton> {
    let slug = tenant.record.slug.as_str();
    let providers = tenant.db.identity_providers().await.unwrap_or_default();
    let query = next
        .map(|n| {
            format!(
                "?next={}",
                url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    providers
        .into_iter()
        .filter(|p| p.enabled)
        .map(|p| {
            let kind = skjold_domain::sso::IdpKind::parse(&p.kind)
                .unwrap_or(skjold_domain::sso::IdpKind::Oidc);
            SsoButton {
                href: format!("/{slug}/auth/oidc/{}/start{query}", p.id),
                label: kind.button_label(&p.name),
                kind: p.kind,
            }
        })
        .collect()
}

/// The sign-in screen again, with `error` and the status.
async fn refused_page(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    status: StatusCode,
    error: &str,
) -> Result<Response, UiError> {
    let token = super::signin::signin_token(headers);
    let buttons = buttons(tenant, None).await;
    let mut res = render(
        status,
        &page(
            tenant,
            token.clone(),
            String::new(),
            None,
            Some(error),
            None,
            state.notices.shown(state.clock.now()),
            buttons,
        ),
    )?;
    res.headers_mut()
        .append(header::SET_COOKIE, auth::signin_cookie(&token));
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEAR_SSO_COOKIE),
    );
    Ok(res)
}

const CLEAR_SSO_COOKIE: &str =
    "__Host-skjold_sso=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0";

/// `GET /{tenant}/auth/oidc/{provider_id}/start`: off to the provider.
async fn start(
    State(state): State<AppState>,
    tenant: Result<Tenant, ApiError>,
    Path((_, provider_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let tenant = tenant?;
    let slug = tenant.record.slug.as_str().to_string();
    let params = auth::FormData::parse(raw.unwrap_or_default().as_bytes());
    let next = auth::safe_next(&slug, params.get("next"));
    let provider = match uuid::Uuid::try_parse(&provider_id) {
        Ok(id) => tenant.db.identity_provider(&id.to_string()).await.ok(),
        Err(_) => None,
    };
    let Some(provider) = provider.filter(|p| p.enabled) else {
        return refused_page(
            &state,
            &tenant,
            &headers,
            StatusCode::NOT_FOUND,
            "This way of signing in does not exist (any more). Use one of the buttons below, or your password.",
        )
        .await;
    };
    let redirect_uri = crate::sso::redirect_uri(&state.config, &slug);
    let begun = match state.sso.begin(&provider, &redirect_uri).await {
        Ok(b) => b,
        Err(refusal) => {
            tracing::warn!(tenant = %slug, provider = %provider.name, reason = refusal.reason(), detail = refusal.detail().unwrap_or(""), "single sign-on cannot start");
            return refused_page(
                &state,
                &tenant,
                &headers,
                StatusCode::BAD_GATEWAY,
                &format!(
                    "{} cannot be reached right now. Try again in a moment, or sign in with your password.",
                    provider.name
                ),
            )
            .await;
        }
    };
    let browser = skjold_app::credentials::new_token();
    let now = state.clock.now();
    let flow = SsoFlow {
        state_hash: skjold_app::credentials::hash_token(&begun.state),
        provider_id: provider.id.clone(),
        browser_hash: skjold_app::credentials::hash_token(&browser),
        nonce: begun.nonce,
        pkce_verifier: begun.pkce_verifier,
        next_path: next,
        created_at: format_timestamp(now),
        expires_at: format_timestamp(now + chrono::Duration::minutes(FLOW_MINUTES)),
    };
    if !tenant.db.insert_sso_flow(&flow).await? {
        return refused_page(
            &state,
            &tenant,
            &headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sign-ins are under way right now. Try again in a few minutes.",
        )
        .await;
    }
    let mut res = Redirect::to(&begun.url).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SSO_COOKIE}={browser}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        FLOW_MINUTES * 60
    )) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(res)
}

/// Why the callback refused, for the event and the page.
enum Refused {
    /// The state is unknown, used, expired or from another browser.
    Flow(&'static str),
    Protocol(Refusal),
    NoUser(NoUser),
    Suspended,
    /// The token does not prove a second factor, and the user needs one.
    SecondFactorNeeded,
}

impl Refused {
    fn reason(&self) -> &'static str {
        match self {
            Refused::Flow(r) => r,
            Refused::Protocol(r) => r.reason(),
            Refused::NoUser(n) => n.reason(),
            Refused::Suspended => "tenant_suspended",
            Refused::SecondFactorNeeded => "missing_second_factor",
        }
    }

    /// What the person is told: what happened and what to do, never the token's details.
    fn message(&self, provider: &str, tenant: &str) -> String {
        match self {
            Refused::Flow(_) => "This sign-in had expired or was already used. Please start again.".into(),
            Refused::Protocol(Refusal::MissingSecondFactor) | Refused::SecondFactorNeeded => format!(
                "{tenant} requires a second factor. Sign in at {provider} with your second factor (for example your authenticator app or security key), then try again."
            ),
            Refused::Protocol(Refusal::ProviderError(_)) => format!(
                "{provider} did not sign you in. Try again, or sign in with your password."
            ),
            Refused::Protocol(Refusal::Unreachable(_)) => format!(
                "{provider} cannot be reached right now. Try again in a moment, or sign in with your password."
            ),
            Refused::Protocol(Refusal::WrongDirectory) | Refused::Protocol(Refusal::WrongDomain) => format!(
                "The account you chose at {provider} does not belong to {tenant}'s organisation. Sign in with your work account."
            ),
            Refused::Protocol(_) => format!(
                "The answer from {provider} could not be verified, so you are not signed in. Try again; if it keeps happening, tell your administrator."
            ),
            Refused::NoUser(NoUser::Unknown) => format!(
                "No account of {tenant} belongs to this {provider} account. Ask your administrator to add you."
            ),
            Refused::NoUser(NoUser::EmailUnverified) => format!(
                "{provider} has not confirmed your e-mail address, so it cannot be matched to your account. Ask your administrator."
            ),
            Refused::NoUser(NoUser::Ambiguous) => format!(
                "Your e-mail address belongs to more than one account of {tenant}. Ask your administrator to link your {provider} account."
            ),
            Refused::NoUser(NoUser::Disabled) => "Your account is disabled. Contact your administrator.".into(),
            Refused::Suspended => "This organisation's account is suspended, so nobody can sign in. Contact your administrator.".into(),
        }
    }
}

/// `GET /{tenant}/auth/oidc/callback?code=…&state=…`: back from the provider.
async fn callback(State(state): State<AppState>, req: Request) -> Result<Response, UiError> {
    let (mut parts, _) = req.into_parts();
    let tenant = Tenant::from_request_parts(&mut parts, &state).await?;
    let ip = auth::client_ip(&parts);
    let headers = parts.headers.clone();
    let params = auth::FormData::parse(parts.uri.query().unwrap_or("").as_bytes());
    let tenant_name = tenant.record.display_name.clone();

    // A client that keeps failing here is throttled and banned like one guessing
    // passwords: an attempt at the address (no name to count against), as sign-in has it.
    let attempt =
        match crate::signin::reserve(&state, &tenant.record, &tenant.db, "", ip, "sso").await? {
            Ok(attempt) => attempt,
            Err(_) => {
                return refused_page(
                    &state,
                    &tenant,
                    &headers,
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed sign-ins. Please wait a while and try again later.",
                )
                .await;
            }
        };

    let outcome = finish(&state, &tenant, &headers, &params, ip).await;
    let (provider, result) = match outcome {
        Ok(done) => done,
        Err(e) => {
            attempt.release(&state, &tenant.db).await?;
            return Err(e);
        }
    };
    let provider_name = provider
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "the identity provider".into());
    match result {
        Ok((user, next, second_factor)) => {
            attempt.succeeded(&state, &tenant.db).await?;
            state
                .metrics
                .sign_in(crate::metrics::SignInMethod::Sso, true);
            let outcome = Outcome::SignedIn {
                user,
                password_expired: false,
                must_enrol: false,
            };
            let p = provider.as_ref();
            let mut res = start_session(
                &state,
                &tenant,
                &headers,
                ip,
                outcome,
                next,
                "sso",
                serde_json::json!({
                    "provider_id": p.map(|p| p.id.clone()),
                    "provider": p.map(|p| p.name.clone()),
                    "second_factor": second_factor,
                }),
            )
            .await?;
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static(CLEAR_SSO_COOKIE),
            );
            Ok(res)
        }
        Err(refused) => {
            state
                .metrics
                .sign_in(crate::metrics::SignInMethod::Sso, false);
            let mut detail = serde_json::json!({
                "reason": refused.reason(),
                "via": "sso",
                "provider_id": provider.as_ref().map(|p| p.id.clone()),
                "provider": provider.as_ref().map(|p| p.name.clone()),
            });
            if let Refused::Protocol(r) = &refused {
                if let Some(d) = r.detail() {
                    detail["detail"] = d.chars().take(300).collect::<String>().into();
                }
            }
            Event::new(&state, AuditKind::AuthSignInFailed, Some(ip), detail)
                .record(&state, tenant.record.slug.as_str())
                .await?;
            let status = match &refused {
                Refused::Protocol(Refusal::Unreachable(_)) => StatusCode::BAD_GATEWAY,
                Refused::Flow(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            // A refusal that is the provider's or the network's says nothing about the
            // client; the rest count toward the address's throttle.
            let counts = !matches!(
                refused,
                Refused::Protocol(Refusal::Unreachable(_))
                    | Refused::Protocol(Refusal::ProviderError(_))
            );
            if counts {
                attempt
                    .failed(&state, &tenant.record, &tenant.db, false, "sso")
                    .await?;
            } else {
                attempt.release(&state, &tenant.db).await?;
            }
            refused_page(
                &state,
                &tenant,
                &headers,
                status,
                &refused.message(&provider_name, &tenant_name),
            )
            .await
        }
    }
}

type Finished = (
    Option<IdentityProvider>,
    Result<(skjold_store::User, Option<String>, bool), Refused>,
);

/// The callback's checks, in order: the sign-in under way (once, in time, this browser),
/// the provider's answer, the token, the user.
async fn finish(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &auth::FormData,
    ip: IpAddr,
) -> Result<Finished, UiError> {
    let Some(raw_state) = params
        .get("state")
        .filter(|s| !s.is_empty() && s.len() <= 200)
    else {
        return Ok((None, Err(Refused::Flow("missing_state"))));
    };
    // Taken (deleted) at once: a second callback with this state finds nothing.
    let Some(flow) = tenant
        .db
        .take_sso_flow(&skjold_app::credentials::hash_token(raw_state))
        .await?
    else {
        // The provider names itself in the answer (RFC 9207 `iss`): the event names it too.
        let named = match params.get("iss") {
            Some(iss) => tenant
                .db
                .identity_providers()
                .await?
                .into_iter()
                .find(|p| p.issuer == iss.trim_end_matches('/')),
            None => None,
        };
        return Ok((named, Err(Refused::Flow("replayed_state"))));
    };
    let provider = tenant.db.identity_provider(&flow.provider_id).await.ok();
    let Some(provider) = provider.filter(|p| p.enabled) else {
        return Ok((None, Err(Refused::Flow("provider_removed"))));
    };
    let p = Some(provider.clone());
    let now = state.clock.now();
    if parse_timestamp(&flow.expires_at).is_none_or(|at| at <= now) {
        return Ok((p, Err(Refused::Flow("expired_state"))));
    }
    let browser = auth::cookie(headers, SSO_COOKIE).unwrap_or("");
    if browser.is_empty()
        || !secrets_equal(
            &skjold_app::credentials::hash_token(browser),
            &flow.browser_hash,
        )
    {
        return Ok((p, Err(Refused::Flow("other_browser"))));
    }
    if let Some(error) = params.get("error") {
        let text: String = error
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(60)
            .collect();
        return Ok((p, Err(Refused::Protocol(Refusal::ProviderError(text)))));
    }
    let Some(code) = params
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return Ok((
            p,
            Err(Refused::Protocol(Refusal::ProviderError("no_code".into()))),
        ));
    };
    let slug = tenant.record.slug.as_str();
    let secret = match idp::client_secret(&state.secrets, slug, &provider) {
        Ok(s) => s,
        Err(e) => {
            return Ok((
                p,
                Err(Refused::Protocol(Refusal::Unreachable(e.to_string()))),
            ))
        }
    };
    let proven = match state
        .sso
        .finish(
            &provider,
            secret,
            &crate::sso::redirect_uri(&state.config, slug),
            code.to_string(),
            flow.pkce_verifier.clone(),
            flow.nonce.clone(),
        )
        .await
    {
        Ok(proven) => proven,
        Err(refusal) => return Ok((p, Err(Refused::Protocol(refusal)))),
    };
    let ctx = skjold_app::Ctx {
        tenant: &tenant.record,
        db: &tenant.db,
        audit: &state.audit,
        clock: &state.clock,
        ip: Some(ip),
        request_id: Some(crate::middleware::current_request_id()),
    };
    let user = match idp::resolve_user(&ctx, &provider, &proven.identity, skjold_app::Via::Web)
        .await
        .map_err(ApiError::from)?
    {
        Ok(user) => user,
        Err(no) => return Ok((p, Err(Refused::NoUser(no)))),
    };
    if tenant.record.status != TenantStatus::Active {
        return Ok((p, Err(Refused::Suspended)));
    }
    // A sign-in that proves no second factor is no better than a password: a user who has
    // or must have one signs in with it (or through a provider that proves it).
    if !proven.second_factor {
        let factors = crate::two_factor::factors_of(&tenant.db, &user.id).await?;
        if factors.any() || crate::two_factor::must_enrol(&tenant.db, &user, factors).await? {
            return Ok((p, Err(Refused::SecondFactorNeeded)));
        }
    }
    Ok((p, Ok((user, flow.next_path, proven.second_factor))))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/auth/oidc/{provider_id}/start", get(start))
        .route("/{tenant}/auth/oidc/callback", get(callback))
}
