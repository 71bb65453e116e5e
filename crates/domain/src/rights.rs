//! Functional rights and the built-in roles that bundle them.
//!
//! Every route states the right it needs in its handler signature (see the server's
//! `Authorized<R>` extractor); roles are only names for sets of rights.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Right {
    #[serde(rename = "records.read")]
    RecordsRead,
    #[serde(rename = "records.write")]
    RecordsWrite,
    #[serde(rename = "records.delete")]
    RecordsDelete,
    #[serde(rename = "users.read")]
    UsersRead,
    #[serde(rename = "users.manage")]
    UsersManage,
    #[serde(rename = "settings.manage")]
    SettingsManage,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "backup.restore")]
    BackupRestore,
}

impl Right {
    pub const ALL: &'static [Right] = &[
        Right::RecordsRead,
        Right::RecordsWrite,
        Right::RecordsDelete,
        Right::UsersRead,
        Right::UsersManage,
        Right::SettingsManage,
        Right::AuditRead,
        Right::BackupRestore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Right::RecordsRead => "records.read",
            Right::RecordsWrite => "records.write",
            Right::RecordsDelete => "records.delete",
            Right::UsersRead => "users.read",
            Right::UsersManage => "users.manage",
            Right::SettingsManage => "settings.manage",
            Right::AuditRead => "audit.read",
            Right::BackupRestore => "backup.restore",
        }
    }
}

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

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Manager => "manager",
            Role::User => "user",
            Role::ReadOnly => "read-only",
        }
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

    pub fn rights(self) -> &'static [Right] {
        use Right::*;
        match self {
            Role::Administrator => Right::ALL,
            Role::Manager => &[RecordsRead, RecordsWrite, RecordsDelete, UsersRead],
            Role::User => &[RecordsRead, RecordsWrite],
            Role::ReadOnly => &[RecordsRead],
        }
    }

    pub fn has(self, right: Right) -> bool {
        self.rights().contains(&right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nest() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
            assert!(r.has(Right::RecordsRead));
        }
        assert!(!Role::ReadOnly.has(Right::RecordsWrite));
        assert!(!Role::User.has(Right::RecordsDelete));
        assert!(!Role::Manager.has(Right::UsersManage));
        assert!(Role::Administrator.has(Right::AuditRead));
        assert!(Role::parse("root").is_err());
    }
}
