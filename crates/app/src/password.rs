//! Where the tenant's password policy is applied: every path that sets a password (API,
//! web UI, CLI, tenant creation) comes through [`check_new_password`].

use skjold_domain::{PasswordPolicy, PolicyViolation};
use skjold_store::{StoreError, TenantDb, TenantRecord};

/// The setting's name in the tenant's `settings` table.
pub const POLICY_SETTING: &str = "password_policy";

#[derive(Debug, thiserror::Error)]
pub enum PasswordRefusal {
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The tenant's policy, or the defaults when it has not set one.
pub async fn policy(db: &TenantDb) -> Result<PasswordPolicy, StoreError> {
    match db.setting(POLICY_SETTING).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("password policy: {e}"))),
        None => Ok(PasswordPolicy::default()),
    }
}

/// Checks a password about to be set for `username` (the user `user_id`, when they exist
/// already: then the history rule applies too). Answers the policy that was applied.
pub async fn check_new_password(
    db: &TenantDb,
    tenant: &TenantRecord,
    username: &str,
    user_id: Option<&str>,
    password: &str,
) -> Result<PasswordPolicy, PasswordRefusal> {
    let policy = policy(db).await?;
    policy.check(
        password,
        username,
        &[tenant.slug.as_str(), tenant.display_name.as_str()],
        crate::credentials::is_common_password,
    )?;
    if let (Some(id), true) = (user_id, policy.history > 0) {
        for hash in db.recent_password_hashes(id, policy.history).await? {
            // Waits its turn in the hashing queue without a limit (a signed-in user's own
            // change); a failed computation counts as a match, so it never lets a reused
            // password through.
            let reused = crate::credentials::verify_password_patiently(password.to_string(), hash)
                .await
                .unwrap_or(true);
            if reused {
                return Err(PolicyViolation::history(policy.history).into());
            }
        }
    }
    Ok(policy)
}

/// Why a user's password was not reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetRefusal {
    #[error("a service user has no password: it uses API tokens")]
    ServiceUser,
    #[error(transparent)]
    Refused(#[from] PasswordRefusal),
    #[error("hashing the password failed: {0}")]
    Hash(String),
    /// The hashing queue stayed full for its wait limit.
    #[error("too many passwords are being checked at once; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
}

/// Resets `user`'s password, the one path for the API, the web UI and the CLI: `chosen`,
/// checked against the tenant's policy (history included), or else one made to fit it. All
/// of the user's sessions end but `keep` (an administrator resetting their own keeps the
/// session they do it from). Answers the password made, to be shown once; the caller
/// records the `user.password_reset` event.
pub async fn reset(
    db: &TenantDb,
    tenant: &TenantRecord,
    actor: &skjold_store::Actor,
    user: &skjold_store::User,
    chosen: Option<String>,
    keep: Option<&str>,
) -> Result<Option<String>, ResetRefusal> {
    if user.kind == skjold_store::UserKind::Service {
        return Err(ResetRefusal::ServiceUser);
    }
    let (password, made) = match chosen {
        Some(p) => {
            check_new_password(db, tenant, &user.username, Some(&user.id), &p).await?;
            (p, None)
        }
        None => {
            let policy = policy(db).await.map_err(PasswordRefusal::from)?;
            let p = generate_password(
                &policy,
                &user.username,
                &[tenant.slug.as_str(), tenant.display_name.as_str()],
            )
            .map_err(PasswordRefusal::from)?;
            (p.clone(), Some(p))
        }
    };
    let hash = crate::credentials::hash_password(password)
        .await
        .map_err(|e| match e {
            crate::credentials::PasswordError::Busy { retry_after_secs } => {
                ResetRefusal::Busy { retry_after_secs }
            }
            other => ResetRefusal::Hash(other.to_string()),
        })?;
    db.set_password_hash(actor, &user.id, &hash, keep)
        .await
        .map_err(PasswordRefusal::from)?;
    Ok(made)
}

/// A one-time password that passes the tenant's policy: random, at least 20 characters
/// (more if the policy wants more), with a symbol if the policy requires one. `names` are
/// the tenant's slug and display name, which the password must not contain.
pub fn generate_password(
    policy: &PasswordPolicy,
    username: &str,
    names: &[&str],
) -> Result<String, PolicyViolation> {
    let len = (policy.min_length as usize).max(20);
    let mut last = None;
    // Random 20+ characters from 56 pass any policy at once but for bad luck with the
    // character classes; a few tries make that vanishingly rare.
    for _ in 0..100 {
        let mut p = crate::credentials::generate_password_of(len);
        if policy.require_symbol {
            p.replace_range(len / 2..len / 2 + 1, "-");
        }
        match policy.check(&p, username, names, crate::credentials::is_common_password) {
            Ok(()) => return Ok(p),
            Err(v) => last = Some(v),
        }
    }
    Err(last.unwrap_or_else(|| {
        PolicyViolation::new(
            skjold_domain::PasswordRule::MinLength,
            "could not be generated",
        )
    }))
}

/// Stores a (validated) policy.
pub async fn store_policy(
    db: &TenantDb,
    actor: &skjold_store::Actor,
    policy: &PasswordPolicy,
) -> Result<(), StoreError> {
    let value = serde_json::to_value(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    db.put_setting(actor, POLICY_SETTING, &value).await
}
