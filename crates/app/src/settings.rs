//! The tenant's security settings: the password policy (with its lockout rules) and the
//! session timeouts with the longest API-token life. Only holders of `settings.manage`
//! change them, and each change is recorded with the settings before and after.

use crate::audited::Audited;
use crate::password;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::{PasswordPolicy, Right, SessionSettings};
use skjold_store::{StoreError, TenantDb};

/// Replaces the tenant's password policy. Recorded as `settings.password_policy_changed`.
pub async fn set_password_policy(
    ctx: &Ctx<'_>,
    actor: &Actor,
    policy: PasswordPolicy,
) -> Result<PasswordPolicy, AppError> {
    actor.require(Right::SettingsManage)?;
    policy.validate()?;
    let before = password::policy(ctx.db).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsPasswordPolicyChanged,
        json!({ "before": before, "after": policy }),
    );
    password::store_policy(&event.db(ctx.db), &actor.journal(), &policy).await?;
    event.finish().await?;
    Ok(policy)
}

/// The tenant's own session settings (all `None` when it never set them).
pub async fn sessions(db: &TenantDb) -> Result<SessionSettings, StoreError> {
    match db.setting(SessionSettings::NAME).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("session settings: {e}"))),
        None => Ok(SessionSettings::default()),
    }
}

/// Replaces the tenant's session settings. Recorded as `settings.sessions_changed`.
pub async fn set_sessions(
    ctx: &Ctx<'_>,
    actor: &Actor,
    settings: SessionSettings,
) -> Result<SessionSettings, AppError> {
    actor.require(Right::SettingsManage)?;
    settings.validate()?;
    let before = sessions(ctx.db).await?;
    let value = serde_json::to_value(&settings).map_err(|e| AppError::Internal(e.to_string()))?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsSessionsChanged,
        json!({ "before": before, "after": settings }),
    );
    event
        .db(ctx.db)
        .put_setting(&actor.journal(), SessionSettings::NAME, &value)
        .await?;
    event.finish().await?;
    Ok(settings)
}
