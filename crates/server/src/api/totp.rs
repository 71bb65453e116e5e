//! Enrolling the TOTP second factor (`crate::totp`).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, Enrolling};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::FieldErrors;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The shared secret, base32 (for typing into an app).
    secret: String,
    /// The same as an `otpauth://totp/…` URI.
    otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    qr_svg: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// The app's current 6-digit code.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes for when the app is lost: shown only now, stored hashed.
    recovery_codes: Vec<String>,
}

/// Start setting up an authenticator app: a new secret, not in force until confirmed.
#[utoipa::path(post, path = "/me/totp", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 201, description = "A secret to enter into the app", body = TotpEnrolment),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 409, description = "A second factor is on already", body = crate::error::Problem)))]
async fn start(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    auth: Authorized<Enrolling>,
) -> Result<(StatusCode, Json<TotpEnrolment>), ApiError> {
    auth.require_step_up(&state)?;
    let secret = crate::totp::new_secret();
    let issuer = format!("Skjold {}", auth.tenant.record.display_name);
    let totp = crate::totp::totp(&secret, &issuer, &auth.user().username)
        .ok_or_else(|| ApiError::Internal("TOTP parameters".into()))?;
    auth.db().start_totp(&auth.user().id, &secret).await?;
    let otpauth_uri = totp.get_url();
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolment {
            qr_svg: crate::totp::qr_svg(&otpauth_uri),
            otpauth_uri,
            secret,
        }),
    ))
}

/// Turn the second factor on with the app's first code; answers the recovery codes, once.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = TotpConfirm,
    responses(
        (status = 200, description = "On; keep the recovery codes", body = RecoveryCodes),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 409, description = "No enrolment started, or already confirmed", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Wrong code", body = crate::error::Problem)))]
async fn confirm(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    ApiJson(body): ApiJson<TotpConfirm>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let user = auth.user();
    let factor = match auth.db().totp_factor(&user.id).await? {
        Some(f) if !f.confirmed => f,
        Some(_) => return Err(ApiError::Conflict("a second factor is on already".into())),
        None => return Err(ApiError::Conflict("start with POST /me/totp".into())),
    };
    let totp = crate::totp::totp(&factor.secret, "Skjold", &user.username)
        .ok_or_else(|| ApiError::Internal("TOTP parameters".into()))?;
    let now = state.clock.now().timestamp().max(0) as u64;
    let Some(step) = crate::totp::matching_step(&totp, &body.code, now) else {
        return Err(FieldErrors::single("code", "is not the app's current code").into());
    };
    let codes = crate::factors::turn_on_totp(
        &auth.ctx(&state, ip),
        &auth.acting(skjold_app::Via::Api),
        &auth.session,
        step,
    )
    .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(confirm))
}
