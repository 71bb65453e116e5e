//! The tenant's two-factor requirement: who must have a second factor (TOTP or a passkey)
//! before they may do anything but enrol one.
//!
//! The decision is [`two_factor_required_for`], the only place that knows how a policy
//! meets a user, by the user's role id (the tenant's own roles and the built-in ones alike;
//! a policy stores ids so that renaming a role does not change whom it covers).

use crate::audited::Audited;
use crate::{Actor, AppError, Ctx};
use serde::{Deserialize, Serialize};
use skjold_domain::audit::AuditKind;
use skjold_domain::{FieldErrors, Right};
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
    /// Role ids, for `required: "roles"` (ignored otherwise). A role's name is accepted
    /// too and stored as its id, so that renaming a role keeps the requirement; a
    /// built-in role's id is its name (`administrator`, …).
    #[serde(default)]
    pub roles: Vec<String>,
}

impl TwoFactorPolicy {
    /// Checks the policy against the tenant's roles and puts it in its stored form: each
    /// role named by its id, sorted, without repeats, and no roles unless `required` is
    /// `roles`. `Ok(Err(_))` names what is wrong with the policy itself.
    pub async fn resolved(self, db: &TenantDb) -> Result<Result<Self, FieldErrors>, StoreError> {
        let mut errs = FieldErrors::new();
        if self.required == Required::Roles && self.roles.is_empty() {
            errs.add("roles", "name at least one role when required is 'roles'");
        }
        if self.roles.len() > 50 {
            errs.add("roles", "at most 50 roles");
            return Ok(Err(errs));
        }
        let mut ids = Vec::with_capacity(self.roles.len());
        for wanted in &self.roles {
            match db.find_role(wanted).await? {
                Some(role) => ids.push(role.id.as_str().to_string()),
                None => errs.add(
                    "roles",
                    format!(
                        "'{}' is not a role",
                        wanted.chars().take(40).collect::<String>()
                    ),
                ),
            }
        }
        if let Err(errs) = errs.into_result() {
            return Ok(Err(errs));
        }
        if self.required != Required::Roles {
            ids.clear();
        }
        ids.sort();
        ids.dedup();
        Ok(Ok(TwoFactorPolicy {
            required: self.required,
            roles: ids,
        }))
    }
}

/// The tenant's roles as (id, name, named by the policy), for choosing the roles a policy
/// names.
pub async fn role_choices(
    db: &TenantDb,
    policy: &TwoFactorPolicy,
) -> Result<Vec<(String, String, bool)>, StoreError> {
    Ok(db
        .list_roles()
        .await?
        .into_iter()
        .map(|role| {
            let id = role.id.as_str().to_string();
            let on = policy.roles.contains(&id);
            (id, role.name, on)
        })
        .collect())
}

/// Must this user have a second factor? By the tenant's policy (comparing the user's role
/// id) or because an administrator required it of them (`flagged`).
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

/// Sets the tenant's policy; answers it as stored (roles named by id). Users it newly
/// covers who have no second factor get, at their next sign-in, a session that can only
/// enrol one. Recorded as `settings.two_factor_changed`.
pub async fn set_policy(
    ctx: &Ctx<'_>,
    actor: &Actor,
    wanted: TwoFactorPolicy,
) -> Result<TwoFactorPolicy, AppError> {
    actor.require(Right::SettingsManage)?;
    let after = wanted.resolved(ctx.db).await??;
    let before = policy(ctx.db).await?;
    let value = serde_json::to_value(&after).map_err(|e| AppError::Internal(e.to_string()))?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsTwoFactorChanged,
        serde_json::json!({ "before": before, "after": after }),
    );
    event
        .db(ctx.db)
        .put_setting(&actor.journal(), SETTING, &value)
        .await?;
    event.finish().await?;
    Ok(after)
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
    use skjold_domain::RoleId;
    use skjold_store::UserStatus;

    fn user(role: &str) -> User {
        User {
            id: "u".into(),
            username: "ada".into(),
            display_name: None,
            email: None,
            phone: None,
            role: RoleId::new(role),
            status: UserStatus::Active,
            kind: skjold_domain::UserKind::Person,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn policy_meets_user_by_role_id() {
        let none = TwoFactorPolicy::default();
        let all = TwoFactorPolicy {
            required: Required::All,
            roles: vec![],
        };
        let admins_and_custom = TwoFactorPolicy {
            required: Required::Roles,
            roles: vec!["administrator".into(), "7f1c0e9a-custom".into()],
        };
        assert!(!two_factor_required_for(&none, &user("user"), false));
        assert!(two_factor_required_for(&none, &user("user"), true));
        assert!(two_factor_required_for(&all, &user("read-only"), false));
        assert!(two_factor_required_for(
            &admins_and_custom,
            &user("administrator"),
            false
        ));
        assert!(two_factor_required_for(
            &admins_and_custom,
            &user("7f1c0e9a-custom"),
            false
        ));
        assert!(!two_factor_required_for(
            &admins_and_custom,
            &user("manager"),
            false
        ));
    }
}
