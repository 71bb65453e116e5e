//! Proving again who one is, inside a session: the password (with or without the second
//! factor's code) or the authenticator's code alone. The check goes through the sign-in
//! guards — the address throttle, the account's lockout, the failure count — so a stolen
//! session cannot be used to guess the password. Success marks the session verified now,
//! which the actions in [`skjold_app::step_up`] ask for.

use crate::audit::Event;
use crate::signin::{self, Credentials, Outcome};
use crate::{ApiError, AppState};
use skjold_domain::audit::AuditKind;
use skjold_store::{Session, TenantDb, TenantRecord};
use std::net::IpAddr;

/// What the user sent to prove it is them.
pub struct Proof {
    pub password: Option<String>,
    pub code: Option<String>,
}

/// Checks the proof for the session's user and marks the session verified; records
/// `auth.step_up` (a failure is recorded and counted like a failed sign-in).
pub async fn verify(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    session: &Session,
    proof: Proof,
    ip: IpAddr,
    via: &'static str,
) -> Result<(), ApiError> {
    if session.verified_at.is_none() {
        return Err(ApiError::Forbidden(
            "an API token cannot confirm a password: sign in and confirm in that session".into(),
        ));
    }
    let user = &session.user;
    let code = proof
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let outcome = match (proof.password, code) {
        (Some(password), code) => {
            signin::check_password(
                state,
                record,
                db,
                Credentials {
                    username: &user.username,
                    password,
                    second_factor: code,
                    then_passkey: false,
                },
                ip,
                via,
            )
            .await?
        }
        (None, Some(code)) => check_code(state, record, db, session, code, ip, via).await?,
        (None, None) => {
            return Err(skjold_domain::FieldErrors::single(
                "password",
                "send your password, or the code of your authenticator app as totp",
            )
            .into())
        }
    };
    match outcome {
        // The password was right; a second factor would have been a bonus, not a need.
        Outcome::SignedIn { .. }
        | Outcome::SecondFactorRequired
        | Outcome::PasswordVerified { .. } => {}
        Outcome::Failed => {
            return Err(ApiError::Named {
                status: axum::http::StatusCode::FORBIDDEN,
                kind: "step-up-failed",
                detail: "that is not right: nothing was confirmed".into(),
            })
        }
        Outcome::TryLater { retry_after_secs } => {
            return Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        Outcome::Suspended => return Err(ApiError::Forbidden("this tenant is suspended".into())),
        Outcome::SsoOnly { provider } => {
            return Err(ApiError::Forbidden(format!(
                "your account signs in only through {provider}: sign out and in again through it to confirm it is you"
            )))
        }
    }
    db.mark_session_verified(&session.token_hash).await?;
    Event::new(
        state,
        AuditKind::AuthStepUp,
        Some(ip),
        serde_json::json!({ "via": via }),
    )
    .by(&user.id, &user.username)
    .record(state, record.slug.as_str())
    .await
}

/// The authenticator's code alone (a recovery code does not count here: it is for getting
/// in, not for confirming).
async fn check_code(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    session: &Session,
    code: &str,
    ip: IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let user = &session.user;
    let attempt = match signin::reserve(state, record, db, &user.username, ip, via).await? {
        Ok(attempt) => attempt,
        Err(refused) => return Ok(refused),
    };
    let factor = db.totp_factor(&user.id).await?.filter(|f| f.confirmed);
    let now_secs = state.clock.now().timestamp().max(0) as u64;
    let verified = match &factor {
        Some(f) if code.len() <= 12 && code.chars().all(|c| c.is_ascii_digit()) => {
            match crate::totp::verify(db, &user.id, &user.username, f, code, now_secs).await {
                Ok(v) => v,
                Err(e) => {
                    attempt.release(state, db).await?;
                    return Err(e.into());
                }
            }
        }
        _ => None,
    };
    match verified {
        Some(_) => {
            attempt.succeeded(state, db).await?;
            Ok(Outcome::SignedIn {
                user: user.clone(),
                password_expired: false,
                must_enrol: false,
            })
        }
        None => {
            signin::failed_factor(
                state,
                record,
                db,
                attempt,
                &user.username,
                "wrong_second_factor",
                ip,
                via,
            )
            .await
        }
    }
}
