//! Functional rights, record visibility and the built-in roles.
//!
//! Every route states the right it needs in its handler signature (see the server's
//! `Authorized<R>` extractor, and `Read<E>` / `Write<E>` / `Delete<E>` for CRM records, which
//! derive the right from the record type so a handler cannot name the wrong one). A role —
//! built-in or made by the tenant — is a name for a set of rights plus how much of the
//! tenant's records its holders see.

use crate::crm::EntityKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// What a user may do. Records have a read, write and delete right per resource, so that a
/// role can, for example, read companies but not touch sales.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Right {
    #[serde(rename = "companies.read")]
    CompaniesRead,
    #[serde(rename = "companies.write")]
    CompaniesWrite,
    #[serde(rename = "companies.delete")]
    CompaniesDelete,
    #[serde(rename = "persons.read")]
    PersonsRead,
    #[serde(rename = "persons.write")]
    PersonsWrite,
    #[serde(rename = "persons.delete")]
    PersonsDelete,
    #[serde(rename = "activities.read")]
    ActivitiesRead,
    #[serde(rename = "activities.write")]
    ActivitiesWrite,
    #[serde(rename = "activities.delete")]
    ActivitiesDelete,
    #[serde(rename = "sales.read")]
    SalesRead,
    #[serde(rename = "sales.write")]
    SalesWrite,
    #[serde(rename = "sales.delete")]
    SalesDelete,
    #[serde(rename = "documents.read")]
    DocumentsRead,
    #[serde(rename = "documents.write")]
    DocumentsWrite,
    #[serde(rename = "documents.delete")]
    DocumentsDelete,
    #[serde(rename = "users.read")]
    UsersRead,
    #[serde(rename = "users.manage")]
    UsersManage,
    #[serde(rename = "roles.manage")]
    RolesManage,
    #[serde(rename = "settings.manage")]
    SettingsManage,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "backup.restore")]
    BackupRestore,
    #[serde(rename = "export")]
    Export,
}

/// What a right lets its holder do to a kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Delete,
}

impl Right {
    pub const ALL: &'static [Right] = &[
        Right::CompaniesRead,
        Right::CompaniesWrite,
        Right::CompaniesDelete,
        Right::PersonsRead,
        Right::PersonsWrite,
        Right::PersonsDelete,
        Right::ActivitiesRead,
        Right::ActivitiesWrite,
        Right::ActivitiesDelete,
        Right::SalesRead,
        Right::SalesWrite,
        Right::SalesDelete,
        Right::DocumentsRead,
        Right::DocumentsWrite,
        Right::DocumentsDelete,
        Right::UsersRead,
        Right::UsersManage,
        Right::RolesManage,
        Right::SettingsManage,
        Right::AuditRead,
        Right::BackupRestore,
        Right::Export,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Right::CompaniesRead => "companies.read",
            Right::CompaniesWrite => "companies.write",
            Right::CompaniesDelete => "companies.delete",
            Right::PersonsRead => "persons.read",
            Right::PersonsWrite => "persons.write",
            Right::PersonsDelete => "persons.delete",
            Right::ActivitiesRead => "activities.read",
            Right::ActivitiesWrite => "activities.write",
            Right::ActivitiesDelete => "activities.delete",
            Right::SalesRead => "sales.read",
            Right::SalesWrite => "sales.write",
            Right::SalesDelete => "sales.delete",
            Right::DocumentsRead => "documents.read",
            Right::DocumentsWrite => "documents.write",
            Right::DocumentsDelete => "documents.delete",
            Right::UsersRead => "users.read",
            Right::UsersManage => "users.manage",
            Right::RolesManage => "roles.manage",
            Right::SettingsManage => "settings.manage",
            Right::AuditRead => "audit.read",
            Right::BackupRestore => "backup.restore",
            Right::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Right::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a right"))
    }

    /// The right to read, write or delete records of a kind. A `const fn`, so that the
    /// typed record extractors can state it as a constant.
    pub const fn on(kind: EntityKind, access: Access) -> Right {
        use Access::*;
        match (kind, access) {
            (EntityKind::Company, Read) => Right::CompaniesRead,
            (EntityKind::Company, Write) => Right::CompaniesWrite,
            (EntityKind::Company, Delete) => Right::CompaniesDelete,
            (EntityKind::Person, Read) => Right::PersonsRead,
            (EntityKind::Person, Write) => Right::PersonsWrite,
            (EntityKind::Person, Delete) => Right::PersonsDelete,
            (EntityKind::Activity, Read) => Right::ActivitiesRead,
            (EntityKind::Activity, Write) => Right::ActivitiesWrite,
            (EntityKind::Activity, Delete) => Right::ActivitiesDelete,
            (EntityKind::Sale, Read) => Right::SalesRead,
            (EntityKind::Sale, Write) => Right::SalesWrite,
            (EntityKind::Sale, Delete) => Right::SalesDelete,
        }
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many of the tenant's records a role's holders see, judged by each record's owner.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Records the user owns.
    Own,
    /// Records owned by the user or by anyone who shares a team with them.
    Team,
    /// Every record.
    All,
}

impl Visibility {
    pub const ALL: &'static [Visibility] = &[Visibility::Own, Visibility::Team, Visibility::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Own => "own",
            Visibility::Team => "team",
            Visibility::All => "all",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Visibility::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a visibility; use own, team or all"))
    }

    /// Whether this sight includes everything `other` does (own < team < all).
    pub fn covers(self, other: Visibility) -> bool {
        self >= other
    }
}

/// The roles every tenant has. They are rows of the tenant's `roles` table like the custom
/// ones (their ids are these names), so users reference all roles alike; none can be
/// deleted, and the administrator's rights cannot be changed, so a tenant always has a role
/// that can do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Administrator,
    Manager,
    User,
    ReadOnly,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Administrator,
        Role::Manager,
        Role::User,
        Role::ReadOnly,
    ];

    /// Its name, which is also its id.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Manager => "manager",
            Role::User => "user",
            Role::ReadOnly => "read-only",
        }
    }

    pub fn id(self) -> RoleId {
        RoleId(self.as_str().to_string())
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role '{s}'; roles are administrator, manager, user, read-only")
            })
    }

    /// The rights a tenant's copy of this role starts with (the migration that creates the
    /// roles table writes the same sets). The administrator always has all of them.
    pub fn default_rights(self) -> Vec<Right> {
        use Right::*;
        let read = [
            CompaniesRead,
            PersonsRead,
            ActivitiesRead,
            SalesRead,
            DocumentsRead,
        ];
        let write = [
            CompaniesWrite,
            PersonsWrite,
            ActivitiesWrite,
            SalesWrite,
            DocumentsWrite,
        ];
        let delete = [
            CompaniesDelete,
            PersonsDelete,
            ActivitiesDelete,
            SalesDelete,
            DocumentsDelete,
        ];
        let mut out: Vec<Right> = match self {
            Role::Administrator => Right::ALL.to_vec(),
            Role::Manager => [&read[..], &write, &delete, &[UsersRead, Export]].concat(),
            Role::User => [&read[..], &write].concat(),
            Role::ReadOnly => read.to_vec(),
        };
        out.sort();
        out
    }
}

/// A role's id: a built-in role's name, or the UUID of a tenant's own role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct RoleId(String);

impl RoleId {
    /// Wraps an id read from storage or a request; whether the role exists is the store's
    /// question.
    pub fn new(id: impl Into<String>) -> Self {
        RoleId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The built-in role with this id, if it is one.
    pub fn builtin(&self) -> Option<Role> {
        Role::parse(&self.0).ok()
    }

    pub fn is_administrator(&self) -> bool {
        self.builtin() == Some(Role::Administrator)
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<Role> for RoleId {
    fn eq(&self, other: &Role) -> bool {
        self.0 == other.as_str()
    }
}

/// What one user may do and see: their role's rights and visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: RoleId,
    pub role_name: String,
    /// Sorted, without duplicates.
    pub rights: Vec<Right>,
    pub visibility: Visibility,
}

impl Grant {
    pub fn has(&self, right: Right) -> bool {
        self.rights.binary_search(&right).is_ok()
    }

    /// Whether granting `rights` and `visibility` to someone stays within what this holder
    /// has: nobody hands out more than they hold. The error names what is missing.
    pub fn can_grant(&self, rights: &[Right], visibility: Visibility) -> Result<(), String> {
        let missing: Vec<&str> = rights
            .iter()
            .filter(|r| !self.has(**r))
            .map(|r| r.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "you cannot grant rights you do not hold yourself: {}",
                missing.join(", ")
            ));
        }
        if !self.visibility.covers(visibility) {
            return Err(format!(
                "you cannot grant visibility '{}': yours is '{}'",
                visibility.as_str(),
                self.visibility.as_str()
            ));
        }
        Ok(())
    }
}

/// Sorts and deduplicates a set of rights.
pub fn normalise(mut rights: Vec<Right>) -> Vec<Right> {
    rights.sort();
    rights.dedup();
    rights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nest() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
            assert!(r.default_rights().contains(&Right::CompaniesRead));
            assert!(r.id().builtin() == Some(*r));
        }
        assert!(!Role::ReadOnly
            .default_rights()
            .contains(&Right::CompaniesWrite));
        assert!(!Role::User.default_rights().contains(&Right::SalesDelete));
        assert!(!Role::Manager.default_rights().contains(&Right::UsersManage));
        assert_eq!(Role::Administrator.default_rights(), Right::ALL.to_vec());
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn rights_round_trip_and_follow_the_record_kind() {
        for r in Right::ALL {
            assert_eq!(Right::parse(r.as_str()).unwrap(), *r);
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(
            Right::on(EntityKind::Sale, Access::Delete),
            Right::SalesDelete
        );
        assert!(Right::parse("records.read").is_err());
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let g = Grant {
            role: RoleId::new("x"),
            role_name: "x".into(),
            rights: normalise(vec![Right::CompaniesRead, Right::UsersManage]),
            visibility: Visibility::Team,
        };
        assert!(g
            .can_grant(&[Right::CompaniesRead], Visibility::Own)
            .is_ok());
        assert!(g
            .can_grant(&[Right::CompaniesRead], Visibility::Team)
            .is_ok());
        let e = g
            .can_grant(&[Right::CompaniesWrite], Visibility::Own)
            .unwrap_err();
        assert!(e.contains("companies.write"), "{e}");
        assert!(g.can_grant(&[], Visibility::All).is_err());
    }
}
