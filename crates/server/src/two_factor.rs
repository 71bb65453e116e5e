//! The tenant's two-factor requirement: who must have a second factor (TOTP or a passkey)
//! before they may do anything but enrol one.
//!
//! The decision is [`two_factor_required_for`], the only place that knows how a policy
//! meets a user, by the user's role *name* (roles are becoming the tenant's own, named
//! things; the name is what a policy can refer to either way).

use crate::ApiError;
use serde::{Deserialize, Serialize};
use skjold_domain::FieldErrors;
use skjold_store::{StoreError, TenantDb, User};
use utoipa::ToSchema;

/// The setting's name in the tenant's `settings` table.
pub const SETTING: &str = "two_factor";

/// Whom the tenant requires to use a second factor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Required {
    /// Nobody (users may still turn one on, and an administrator may require it of one).
    #[default]
    None,
    /// Every user.
    All,
    /// Users whose role is one of `roles`.
    Roles,
}

/// The tenant's two-factor policy (`GET|PUT /settings/two-factor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorPolicy {
    pub required: Required,
    /// Role names, for `required: "roles"` (ignored otherwise).
    #[serde(default)]
    pub roles: Vec<String>,
}

impl TwoFactorPolicy {
    /// Refuses unknown role names, and `roles` without any role.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::new();
        if self.required == Required::Roles && self.roles.is_empty() {
            errs.add("roles", "name at least one role when required is 'roles'");
        }
        if self.roles.len() > 50 {
            errs.add("roles", "at most 50 roles");
        }
        for r in &self.roles {
            if !known_role(r) {
                errs.add(
                    "roles",
                    format!("'{}' is not a role", r.chars().take(40).collect::<String>()),
                );
            }
        }
        errs.into_result()
    }
}

/// Whether a role of this name exists. (Roles are a fixed set today; with the tenant's own
/// roles this asks the tenant.)
pub fn known_role(name: &str) -> bool {
    skjold_domain::Role::parse(name).is_ok()
}

/// Every role's name, for choosing the roles a policy names.
pub fn role_names() -> Vec<String> {
    skjold_domain::Role::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect()
}

/// Must this user have a second factor? By the tenant's policy (comparing the user's role
/// name) or because an administrator required it of them (`flagged`).
pub fn two_factor_required_for(policy: &TwoFactorPolicy, user: &User, flagged: bool) -> bool {
    flagged
        || match policy.required {
            Required::None => false,
            Required::All => true,
            Required::Roles => policy.roles.iter().any(|r| r == user.role.as_str()),
        }
}

/// The tenant's policy (nobody required when it never set one).
pub async fn policy(db: &TenantDb) -> Result<TwoFactorPolicy, StoreError> {
    match db.setting(SETTING).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("two-factor policy: {e}"))),
        None => Ok(TwoFactorPolicy::default()),
    }
}

/// Checks and stores a policy (API, web UI and CLI); answers it as stored.
pub async fn store_policy(
    db: &TenantDb,
    actor: &skjold_store::Actor,
    mut policy: TwoFactorPolicy,
) -> Result<TwoFactorPolicy, ApiError> {
    policy.validate()?;
    if policy.required != Required::Roles {
        policy.roles.clear();
    }
    policy.roles.sort();
    policy.roles.dedup();
    let value = serde_json::to_value(&policy).map_err(|e| ApiError::Internal(e.to_string()))?;
    db.put_setting(actor, SETTING, &value).await?;
    Ok(policy)
}

/// The second factors a user has.
#[derive(Debug, Clone, Copy)]
pub struct Factors {
    pub totp: bool,
    pub passkeys: usize,
}

impl Factors {
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

pub async fn factors_of(db: &TenantDb, user_id: &str) -> Result<Factors, StoreError> {
    Ok(Factors {
        totp: db.totp_factor(user_id).await?.is_some_and(|f| f.confirmed),
        passkeys: db.passkeys_of(user_id).await?.len(),
    })
}

/// Must this user enrol before they may do anything else: required, and has no factor yet.
pub async fn must_enrol(db: &TenantDb, user: &User, factors: Factors) -> Result<bool, StoreError> {
    if factors.any() {
        return Ok(false);
    }
    let flagged = db.two_factor_required_flag(&user.id).await?;
    Ok(two_factor_required_for(&policy(db).await?, user, flagged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::Role;
    use skjold_store::UserStatus;

    fn user(role: Role) -> User {
        User {
            id: "u".into(),
            username: "ada".into(),
            display_name: None,
            email: None,
            phone: None,
            role,
            status: UserStatus::Active,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn policy_meets_user_by_role_name() {
        let none = TwoFactorPolicy::default();
        let all = TwoFactorPolicy {
            required: Required::All,
            roles: vec![],
        };
        let admins = TwoFactorPolicy {
            required: Required::Roles,
            roles: vec!["administrator".into()],
        };
        assert!(!two_factor_required_for(&none, &user(Role::User), false));
        assert!(two_factor_required_for(&none, &user(Role::User), true));
        assert!(two_factor_required_for(&all, &user(Role::ReadOnly), false));
        assert!(two_factor_required_for(
            &admins,
            &user(Role::Administrator),
            false
        ));
        assert!(!two_factor_required_for(
            &admins,
            &user(Role::Manager),
            false
        ));
        assert!(admins.validate().is_ok());
        let bad = TwoFactorPolicy {
            required: Required::Roles,
            roles: vec!["wizard".into()],
        };
        assert!(bad.validate().is_err());
        let empty = TwoFactorPolicy {
            required: Required::Roles,
            roles: vec![],
        };
        assert!(empty.validate().is_err());
    }
}
