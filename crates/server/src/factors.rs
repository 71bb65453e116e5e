//! Changes to a user's second factors that the API and the web UI share: what an
//! administrator sees of a user's factors, the rule that a required user keeps at least
//! one, turning TOTP on once its code matched and off after a proof, new recovery codes.

use crate::signin::Outcome;
use crate::two_factor::{self as tf, Factors};
use crate::{ApiError, AppState};
use serde::Serialize;
use skjold_app::audited::Audited;
use skjold_app::{Actor, Ctx};
use skjold_domain::audit::AuditKind;
use skjold_domain::{FieldErrors, Username};
use skjold_store::{TenantDb, User};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserTwoFactor {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    /// Required of this user in particular (beyond the tenant's policy).
    pub two_factor_required: bool,
    /// Required of this user, by the policy or in particular.
    pub two_factor_required_in_effect: bool,
    /// The user has a second factor (TOTP or a passkey).
    pub two_factor_enrolled: bool,
}

/// A user's two-factor facts as administrators see them.
pub async fn user_two_factor(db: &TenantDb, user: &User) -> Result<UserTwoFactor, ApiError> {
    let flagged = db.two_factor_required_flag(&user.id).await?;
    let factors = tf::factors_of(db, &user.id).await?;
    Ok(UserTwoFactor {
        id: user.id.clone(),
        username: user.username.clone(),
        two_factor_required: flagged,
        two_factor_required_in_effect: tf::two_factor_required_for(
            &tf::policy(db).await?,
            user,
            flagged,
        ),
        two_factor_enrolled: factors.any(),
    })
}

/// Refuses to take away a required user's last factor (`left` is what would remain).
pub async fn keep_required_factor(
    db: &TenantDb,
    user: &User,
    left: Factors,
) -> Result<(), ApiError> {
    if left.any() {
        return Ok(());
    }
    let flagged = db.two_factor_required_flag(&user.id).await?;
    if tf::two_factor_required_for(&tf::policy(db).await?, user, flagged) {
        return Err(ApiError::Conflict(
            "your organisation requires a second factor: add another one before removing this one"
                .into(),
        ));
    }
    Ok(())
}

/// Turns the actor's TOTP off after checking their password or a code (shared with the web
/// UI): a wrong one counts toward the lockout. Recorded as `auth.totp_disabled` (naming the
/// proof) in the same transaction. Answers which proof was given.
pub async fn disable_totp_checked(
    state: &AppState,
    ctx: &Ctx<'_>,
    actor: &Actor,
    password: Option<String>,
    code: Option<&str>,
) -> Result<&'static str, ApiError> {
    let user = own_user(actor)?;
    let (record, db, via) = (ctx.tenant, ctx.db, actor.via().as_str());
    let ip = ctx
        .ip
        .ok_or_else(|| ApiError::Internal("a factor change without a client address".into()))?;
    let body_password = password;
    let Some(factor) = db.totp_factor(&user.id).await?.filter(|f| f.confirmed) else {
        return Err(ApiError::Conflict("TOTP is not on".into()));
    };
    let mut left = tf::factors_of(db, &user.id).await?;
    left.totp = false;
    keep_required_factor(db, user, left).await?;
    let attempt = match crate::signin::reserve(state, record, db, &user.username, ip, via).await? {
        Ok(attempt) => attempt,
        Err(Outcome::TryLater { retry_after_secs }) => {
            return Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        Err(_) => {
            return Err(ApiError::TooManyAttempts {
                retry_after_secs: 1,
            })
        }
    };
    let (field, right) = match (body_password.filter(|p| !p.is_empty()), code.map(str::trim)) {
        (Some(password), _) => {
            let hash = match Username::parse(&user.username) {
                Ok(u) => db.user_for_sign_in(&u).await?.and_then(|(_, h)| h),
                Err(_) => None,
            };
            match skjold_app::credentials::verify_password(password, hash).await {
                Ok(right) => ("password", right),
                Err(e) => {
                    attempt.release(state, db).await?;
                    return Err(e.into());
                }
            }
        }
        (None, Some(code)) if !code.is_empty() => {
            let now = state.clock.now().timestamp().max(0) as u64;
            let ok = crate::totp::verify(db, &user.id, &user.username, &factor, code, now)
                .await?
                .is_some();
            ("code", ok)
        }
        _ => {
            attempt.release(state, db).await?;
            return Err(
                FieldErrors::single("password", "send the password or a current code").into(),
            );
        }
    };
    if !right {
        let outcome = crate::signin::failed_factor(
            state,
            record,
            db,
            attempt,
            &user.username,
            "totp_disable_refused",
            ip,
            via,
        )
        .await?;
        if let Outcome::TryLater { retry_after_secs } = outcome {
            return Err(ApiError::TooManyAttempts { retry_after_secs });
        }
        return Err(FieldErrors::single(field, "is not right").into());
    }
    attempt.release(state, db).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::AuthTotpDisabled,
        serde_json::json!({ "proof": field }),
    );
    event.db(db).disable_totp(&user.id).await?;
    Ok(field)
}

/// Ten new recovery codes for a user with TOTP on (shared with the web UI).
pub async fn regenerate_codes(ctx: &Ctx<'_>, actor: &Actor) -> Result<Vec<String>, ApiError> {
    let user = own_user(actor)?;
    if !ctx
        .db
        .totp_factor(&user.id)
        .await?
        .is_some_and(|f| f.confirmed)
    {
        return Err(ApiError::Conflict("TOTP is not on".into()));
    }
    let (codes, hashes) = recovery_codes_with_hashes();
    // Recorded in the same transaction as the new codes, or they are not stored.
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::AuthRecoveryCodesRegenerated,
        serde_json::json!({}),
    );
    event
        .db(ctx.db)
        .replace_recovery_codes(&user.id, &hashes)
        .await?;
    Ok(codes)
}

/// Ten new recovery codes (to show once) and their hashes (to store).
fn recovery_codes_with_hashes() -> (Vec<String>, Vec<String>) {
    let codes = crate::totp::new_recovery_codes();
    let hashes = codes
        .iter()
        .map(|c| crate::totp::recovery_hash(c))
        .collect();
    (codes, hashes)
}

/// The signed-in user acting on their own factors.
pub(crate) fn own_user(actor: &Actor) -> Result<&User, ApiError> {
    actor.user().ok_or_else(|| {
        ApiError::Forbidden("only a signed-in user changes their own factors".into())
    })
}

/// Turns on the actor's TOTP factor once the app's code matched `step`: makes the recovery
/// codes (returned to be shown this once), records `auth.totp_enabled` in the same
/// transaction, then lifts a session restricted to enrolment (it has enrolled now) — one
/// shape for the API and the web UI.
pub async fn turn_on_totp(
    ctx: &Ctx<'_>,
    actor: &Actor,
    session: &skjold_store::Session,
    step: i64,
) -> Result<Vec<String>, ApiError> {
    let user = own_user(actor)?;
    let (codes, hashes) = recovery_codes_with_hashes();
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::AuthTotpEnabled,
        serde_json::json!({}),
    );
    event
        .db(ctx.db)
        .confirm_totp(&user.id, step, &hashes)
        .await?;
    if session.restricted {
        ctx.db.unrestrict_session(&session.token_hash).await?;
    }
    Ok(codes)
}
