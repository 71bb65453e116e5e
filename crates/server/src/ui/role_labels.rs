//! Roles, rights and visibilities as pages show them: in plain words.

use skjold_domain::{Role, RoleId, Visibility};

/// A role's name as pages show it: the built-in ones capitalised, the tenant's own as
/// they were named.
pub fn role_title(id: &RoleId, name: &str) -> String {
    match id.builtin() {
        Some(Role::Administrator) => "Administrator".into(),
        Some(Role::Manager) => "Manager".into(),
        Some(Role::User) => "User".into(),
        Some(Role::ReadOnly) => "Read-only".into(),
        None => name.to_string(),
    }
}

/// A right in plain words.
pub fn right_label(r: skjold_domain::Right) -> &'static str {
    use skjold_domain::Right::*;
    match r {
        CompaniesRead => "read companies",
        CompaniesWrite => "create and change companies",
        CompaniesDelete => "delete companies",
        PersonsRead => "read persons",
        PersonsWrite => "create and change persons",
        PersonsDelete => "delete persons",
        ActivitiesRead => "read activities",
        ActivitiesWrite => "create and change activities",
        ActivitiesDelete => "delete activities",
        SalesRead => "read sales",
        SalesWrite => "create and change sales",
        SalesDelete => "delete sales",
        DocumentsRead => "read documents",
        DocumentsWrite => "add and change documents",
        DocumentsDelete => "delete documents",
        UsersRead => "see users and teams",
        UsersManage => "manage users and teams",
        RolesManage => "manage roles",
        SettingsManage => "change settings",
        AuditRead => "read the audit trail",
        BackupRestore => "restore backups",
        Export => "export data",
    }
}

/// Which records a visibility shows, in plain words.
pub fn visibility_label(v: Visibility) -> &'static str {
    match v {
        Visibility::Own => "own records",
        Visibility::Team => "own and team members' records",
        Visibility::All => "all records",
    }
}
