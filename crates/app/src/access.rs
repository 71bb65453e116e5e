//! The rules for changing who may do what: nobody grants rights or visibility they do not
//! hold themselves, nobody acts on a user whose role they do not hold, and the tenant never
//! loses its last active administrator.

use skjold_domain::{Grant, Right, Role, RoleId, Visibility};
use skjold_store::{RoleRecord, StoreError, TenantDb, User, UserStatus};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The change would hand out more than the actor holds.
    #[error("{0}")]
    Escalation(String),
    #[error(
        "this is the tenant's last active administrator: they cannot be demoted or disabled; \
         make another administrator first"
    )]
    LastAdministrator,
    /// No role has this id or name.
    #[error("there is no role '{0}'")]
    UnknownRole(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is making a change: their grant, or the operator's CLI, which acts for the system and
/// holds everything.
#[derive(Debug, Clone, Copy)]
pub enum Granter<'a> {
    User(&'a Grant),
    Operator,
}

impl Granter<'_> {
    /// Whether handing out `rights` and `visibility` stays within what the granter holds.
    pub fn may_grant(&self, rights: &[Right], visibility: Visibility) -> Result<(), AccessError> {
        match self {
            Granter::Operator => Ok(()),
            Granter::User(g) => g
                .can_grant(rights, visibility)
                .map_err(AccessError::Escalation),
        }
    }

    /// A role may be handed out, edited or deleted only by someone who holds all of it: a
    /// user manager cannot give anyone — or take from anyone — a role above their own.
    pub fn may_handle(&self, role: &RoleRecord) -> Result<(), AccessError> {
        self.may_grant(&role.rights, role.visibility)
            .map_err(|e| match e {
                AccessError::Escalation(m) => {
                    AccessError::Escalation(format!("role '{}': {m}", role.name))
                }
                other => other,
            })
    }
}

/// The role a request names, by id or name.
pub async fn find_role(db: &TenantDb, id_or_name: &str) -> Result<RoleRecord, AccessError> {
    db.find_role(id_or_name)
        .await?
        .ok_or_else(|| AccessError::UnknownRole(id_or_name.to_string()))
}

/// Checks giving someone access to `user`'s account — an invitation link, an API token of a
/// service user: the granter must hold the user's role, as for creating them.
pub async fn check_admit(
    db: &TenantDb,
    granter: Granter<'_>,
    user: &User,
) -> Result<(), AccessError> {
    let role = db.role(&user.role).await?;
    granter.may_handle(&role)
}

/// Checks giving a new user `role`.
pub fn check_new_user_role(granter: Granter<'_>, role: &RoleRecord) -> Result<(), AccessError> {
    granter.may_handle(role)
}

/// Checks a change of `user`'s role and/or status: the granter must hold both the old and
/// the new role, and the last active administrator keeps their role and stays active.
pub async fn check_user_change(
    db: &TenantDb,
    granter: Granter<'_>,
    user: &User,
    new_role: Option<&RoleRecord>,
    new_status: Option<UserStatus>,
) -> Result<(), AccessError> {
    let role_changes = new_role.filter(|r| r.id != user.role);
    let status_changes = new_status.is_some_and(|s| s != user.status);
    if role_changes.is_some() || status_changes {
        granter.may_handle(&db.role(&user.role).await?)?;
    }
    if let Some(role) = role_changes {
        granter.may_handle(role)?;
    }
    let loses_admin = user.role == Role::Administrator
        && user.status == UserStatus::Active
        && (new_role.is_some_and(|r| !r.id.is_administrator())
            || new_status == Some(UserStatus::Disabled));
    if loses_admin && db.count_active_administrators().await? <= 1 {
        return Err(AccessError::LastAdministrator);
    }
    Ok(())
}

/// A role as an audit event's before or after shows it.
pub fn role_detail(role: &RoleRecord) -> serde_json::Value {
    serde_json::json!({
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "rights": role.rights,
        "visibility": role.visibility,
    })
}

/// The role's name for a user's role id, for events and pages.
pub async fn role_name(db: &TenantDb, id: &RoleId) -> Result<String, StoreError> {
    match db.role(id).await {
        Ok(r) => Ok(r.name),
        Err(StoreError::NotFound) => Ok(id.to_string()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::rights::normalise;

    fn role(rights: Vec<Right>, visibility: Visibility) -> RoleRecord {
        RoleRecord {
            id: RoleId::new("r"),
            name: "r".into(),
            description: None,
            rights: normalise(rights),
            visibility,
            builtin: false,
        }
    }

    #[test]
    fn a_granter_hands_out_only_what_they_hold() {
        let g = Grant {
            role: RoleId::new("m"),
            role_name: "m".into(),
            rights: normalise(vec![Right::UsersManage, Right::CompaniesRead]),
            visibility: Visibility::Team,
        };
        let granter = Granter::User(&g);
        assert!(granter
            .may_handle(&role(vec![Right::CompaniesRead], Visibility::Own))
            .is_ok());
        let e = granter
            .may_handle(&role(vec![Right::AuditRead], Visibility::Own))
            .unwrap_err()
            .to_string();
        assert!(e.contains("audit.read") && e.contains("role 'r'"), "{e}");
        assert!(granter.may_handle(&role(vec![], Visibility::All)).is_err());
        assert!(Granter::Operator
            .may_handle(&role(Right::ALL.to_vec(), Visibility::All))
            .is_ok());
    }
}
