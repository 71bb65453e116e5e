//! My profile → Two-factor: the authenticator app (set up with a QR code made here, turn
//! off, new recovery codes) and passkeys (add, rename, remove). The rules are shared with the
//! API (`crate::factors`, `crate::passkey_flows`). A session restricted to enrolment is
//! sent here and can reach nothing else until it has enrolled.

use super::auth::{FormData, Post, UiAuth};
use super::fields::show_time;
use super::templates::{PasskeyRow, TotpEnrolmentView, TwoFactorPage};
use super::{render, Chrome, UiError};
use crate::extract::{Enrolling, SignedIn};
use crate::{ApiError, AppState};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

/// What the page shows beyond the stored state.
#[derive(Default)]
struct Extra {
    error: Option<String>,
    enrolment: Option<TotpEnrolmentView>,
    recovery_codes: Vec<String>,
    /// This request lifted the session's enrolment restriction.
    lifted: bool,
}

fn flash(msg: Option<&str>) -> Option<&'static str> {
    Some(match msg? {
        "totp-on" => "The authenticator app is on.",
        "totp-off" => "The authenticator app is off.",
        "passkey-added" => "The passkey is added.",
        "passkey-renamed" => "The passkey is renamed.",
        "passkey-removed" => "The passkey is removed.",
        _ => return None,
    })
}

async fn page<R: crate::extract::Requirement>(
    auth: &UiAuth<R>,
    msg: Option<&str>,
    extra: Extra,
    status: StatusCode,
) -> Result<Response, UiError> {
    let (db, user) = (auth.db(), auth.user());
    let factors = crate::two_factor::factors_of(db, &user.id).await?;
    let codes_left = if factors.totp {
        db.recovery_codes_left(&user.id).await?
    } else {
        0
    };
    let passkeys = db
        .passkeys_of(&user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            created: show_time(&p.created_at),
            last_used: p
                .last_used_at
                .as_deref()
                .map(show_time)
                .unwrap_or_else(|| "never".into()),
            id: p.id,
            name: p.name,
        })
        .collect();
    let mut chrome = Chrome::new(auth, "me", "Two-factor sign-in");
    chrome.flash = flash(msg);
    render(
        status,
        &TwoFactorPage {
            chrome,
            enrolment_required: auth.session.restricted && !extra.lifted,
            error: extra.error,
            totp_on: factors.totp,
            codes_left,
            enrolment: extra.enrolment,
            recovery_codes: extra.recovery_codes,
            passkeys,
        },
    )
}

/// A problem as the page says it; other errors become the error page.
fn message(e: ApiError) -> Result<String, UiError> {
    match e {
        ApiError::Invalid(f) => Ok(f
            .0
            .iter()
            .map(|e| format!("The {} {}.", e.field.replace('_', " "), e.message))
            .collect::<Vec<_>>()
            .join(" ")),
        ApiError::Conflict(m) => {
            let mut chars = m.chars();
            Ok(match chars.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                None => String::new(),
            })
        }
        ApiError::TooManyAttempts { .. } => {
            Ok("Too many wrong attempts. Please wait a while and try again later.".into())
        }
        other => Err(other.into()),
    }
}

async fn show(auth: UiAuth<Enrolling>, RawQuery(raw): RawQuery) -> Result<Response, UiError> {
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    page(&auth, params.get("msg"), Extra::default(), StatusCode::OK).await
}

/// The enrolment in progress as the page shows it: key, link and QR code.
fn enrolment_view(auth: &UiAuth<Enrolling>, secret: &str) -> Result<TotpEnrolmentView, UiError> {
    let issuer = format!("Skjold {}", auth.tenant.record.display_name);
    let totp = crate::totp::totp(secret, &issuer, &auth.user().username)
        .ok_or_else(|| UiError::Internal("TOTP parameters".into()))?;
    let uri = totp.get_url();
    let svg = crate::totp::qr_svg(&uri);
    // The SVG goes into the page as an element: without its XML declaration.
    let qr_svg = match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => String::new(),
    };
    Ok(TotpEnrolmentView {
        secret: secret.to_string(),
        uri,
        qr_svg,
    })
}

async fn totp_start(post: Post<Enrolling>) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    auth.require_step_up(&format!("/{}/me/two-factor", auth.slug()))?;
    let secret = crate::totp::new_secret();
    match auth.db().start_totp(&auth.user().id, &secret).await {
        Ok(()) => {}
        Err(skjold_store::StoreError::Conflict(_)) => {
            return page(&auth, None, Extra::default(), StatusCode::CONFLICT).await
        }
        Err(e) => return Err(e.into()),
    }
    let extra = Extra {
        enrolment: Some(enrolment_view(&auth, &secret)?),
        ..Extra::default()
    };
    page(&auth, None, extra, StatusCode::OK).await
}

async fn totp_confirm(
    State(state): State<AppState>,
    post: Post<Enrolling>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let user = auth.user();
    let Some(factor) = auth
        .db()
        .totp_factor(&user.id)
        .await?
        .filter(|f| !f.confirmed)
    else {
        return Ok(Redirect::to(&format!("/{}/me/two-factor", auth.slug())).into_response());
    };
    let totp = crate::totp::totp(&factor.secret, "Skjold", &user.username)
        .ok_or_else(|| UiError::Internal("TOTP parameters".into()))?;
    let now = state.clock.now().timestamp().max(0) as u64;
    let Some(step) = crate::totp::matching_step(&totp, form.get("code").unwrap_or(""), now) else {
        let extra = Extra {
            error: Some("That is not the app's current code. Try the next one.".into()),
            enrolment: Some(enrolment_view(&auth, &factor.secret)?),
            ..Extra::default()
        };
        return page(&auth, None, extra, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let codes =
        crate::factors::turn_on_totp(&auth.ctx(), &auth.acting(), &auth.session, step).await?;
    // Rendered, not redirected: the recovery codes are shown this once.
    let extra = Extra {
        recovery_codes: codes,
        lifted: true,
        ..Extra::default()
    };
    page(&auth, Some("totp-on"), extra, StatusCode::OK).await
}

async fn totp_disable(
    State(state): State<AppState>,
    post: Post<SignedIn>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let done = crate::factors::disable_totp_checked(
        &state,
        &auth.ctx(),
        &auth.acting(),
        form.get("password").map(str::to_string),
        form.get("code"),
    )
    .await;
    match done {
        Ok(_) => Ok(
            Redirect::to(&format!("/{}/me/two-factor?msg=totp-off", auth.slug())).into_response(),
        ),
        Err(e) => {
            let status = match &e {
                ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                ApiError::Conflict(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let extra = Extra {
                error: Some(message(e)?),
                ..Extra::default()
            };
            page(&auth, None, extra, status).await
        }
    }
}

async fn recovery_codes(post: Post<SignedIn>) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    auth.require_step_up(&format!("/{}/me/two-factor", auth.slug()))?;
    let codes = match crate::factors::regenerate_codes(&auth.ctx(), &auth.acting()).await {
        Ok(c) => c,
        Err(e) => {
            let extra = Extra {
                error: Some(message(e)?),
                ..Extra::default()
            };
            return page(&auth, None, extra, StatusCode::CONFLICT).await;
        }
    };
    let extra = Extra {
        recovery_codes: codes,
        ..Extra::default()
    };
    page(&auth, None, extra, StatusCode::OK).await
}

/// Registration options as JSON, for `static/passkeys.js`.
async fn passkey_options(State(state): State<AppState>, post: Post<Enrolling>) -> Response {
    let Post { auth, .. } = post;
    // The script cannot follow a redirect here: it is told where to confirm instead.
    if let Err(UiError::StepUp(to)) =
        auth.require_step_up(&format!("/{}/me/two-factor", auth.slug()))
    {
        let body = serde_json::json!({
            "error": "Confirm it is you first: adding a passkey needs your password.",
            "step_up": to,
        });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    match crate::passkey_flows::registration_start(&state, auth.db(), auth.user()).await {
        Ok(options) => axum::Json(options).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn passkey_add(
    State(state): State<AppState>,
    post: Post<Enrolling>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let credential = serde_json::from_str(form.get("credential").unwrap_or(""))
        .unwrap_or(serde_json::Value::Null);
    let added = crate::passkey_flows::registration_finish(
        &state,
        &auth.ctx(),
        &auth.acting(),
        &auth.session,
        form.get("ceremony").unwrap_or(""),
        credential,
        form.get("name")
            .filter(|n| !n.trim().is_empty())
            .unwrap_or("Passkey"),
    )
    .await;
    match added {
        Ok(_) => Ok(
            Redirect::to(&format!("/{}/me/two-factor?msg=passkey-added", auth.slug()))
                .into_response(),
        ),
        Err(e) => {
            let extra = Extra {
                error: Some(message(e)?),
                ..Extra::default()
            };
            page(&auth, None, extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn passkey_rename(post: Post<Enrolling>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = form.text("id");
    let name = match crate::passkey_flows::check_name(form.get("name").unwrap_or("")) {
        Ok(n) => n,
        Err(e) => {
            let extra = Extra {
                error: Some(message(e)?),
                ..Extra::default()
            };
            return page(&auth, None, extra, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    match crate::passkey_flows::rename_passkey(&auth.ctx(), &auth.acting(), &id, &name).await {
        Ok(_) => {}
        Err(ApiError::NotFound(_)) => return Err(UiError::NotFound),
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!(
        "/{}/me/two-factor?msg=passkey-renamed",
        auth.slug()
    ))
    .into_response())
}

async fn passkey_remove(post: Post<Enrolling>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = form.text("id");
    match crate::passkey_flows::remove_passkey(&auth.ctx(), &auth.acting(), &id).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/{}/me/two-factor?msg=passkey-removed",
            auth.slug()
        ))
        .into_response()),
        Err(ApiError::NotFound(_)) => Err(UiError::NotFound),
        Err(e) => {
            let extra = Extra {
                error: Some(message(e)?),
                ..Extra::default()
            };
            page(&auth, None, extra, StatusCode::CONFLICT).await
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/me/two-factor", get(show))
        .route("/{tenant}/me/two-factor/totp", post(totp_start))
        .route("/{tenant}/me/two-factor/totp/confirm", post(totp_confirm))
        .route("/{tenant}/me/two-factor/totp/disable", post(totp_disable))
        .route(
            "/{tenant}/me/two-factor/totp/recovery-codes",
            post(recovery_codes),
        )
        .route(
            "/{tenant}/me/two-factor/passkeys/options",
            post(passkey_options),
        )
        .route("/{tenant}/me/two-factor/passkeys", post(passkey_add))
        .route(
            "/{tenant}/me/two-factor/passkeys/rename",
            post(passkey_rename),
        )
        .route(
            "/{tenant}/me/two-factor/passkeys/remove",
            post(passkey_remove),
        )
}
