//! The one list of the tenant schema's tables, and what backups and the journal do with each.
//!
//! Every table a tenant migration creates is named here exactly once, with its key
//! column(s), the journal's name for its rows (if its changes are journaled), whether
//! snapshots carry it, and where it loads in a restore; or it is left out of backups, with
//! the reason. Snapshots, point-in-time restore, the in-place restore and record history
//! all look here instead of keeping lists of their own. A test lists the real tables after
//! every migration (on SQLite and PostgreSQL) and fails when one is missing here, or when a
//! table that snapshots carry is neither journaled nor excused with a reason: such a table
//! would come back from a restore as of the snapshot, not as of the chosen time.

use crate::StoreError;
use serde_json::Value;

/// The type of a key column: how a key value is bound and written in a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Text,
    Int,
}

/// What backups do with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Carried in snapshots, and every change is journaled (in the changing transaction) as
    /// `entity`, so a restore brings the table back as of any instant.
    Journaled {
        entity: &'static str,
        /// Whether record history (`TenantDb::history`) may show the entity's changes.
        history: bool,
        /// Credentials, factors and sign-in failures: their journal entries carry only the
        /// after-image a restore replays (no `data`, no changed fields), and no history or
        /// other API ever shows them.
        secret: bool,
    },
    /// Carried in snapshots but not journaled under a name of its own, for the reason given
    /// (e.g. kept up to date by the journal entries of other tables).
    Carried { reason: &'static str },
    /// Not in backups at all, for the reason given; a restore leaves it empty.
    Excluded { reason: &'static str },
}

/// One table of the tenant schema.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// The column(s) that identify a row, in order.
    pub key: &'static [(&'static str, KeyKind)],
    pub keep: Keep,
    /// A column whose values come from a sequence on PostgreSQL (BIGSERIAL): a restore that
    /// writes explicit values must move the sequence past them.
    pub serial: Option<&'static str>,
}

impl Table {
    /// The journal's entity name of the table's rows, if its changes are journaled.
    pub fn entity(&self) -> Option<&'static str> {
        match self.keep {
            Keep::Journaled { entity, .. } => Some(entity),
            _ => None,
        }
    }

    /// Whether the table's rows are credentials or factors, never shown by any API.
    pub fn is_secret(&self) -> bool {
        matches!(self.keep, Keep::Journaled { secret: true, .. })
    }

    /// Whether snapshots carry the table (and a restore brings it back).
    pub fn in_snapshots(&self) -> bool {
        !matches!(self.keep, Keep::Excluded { .. })
    }

    /// The key column names, comma-separated, for SQL.
    pub(crate) fn key_list(&self) -> String {
        self.key
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `k1 = $n AND k2 = $n+1 …`, numbering from `first`.
    pub(crate) fn key_condition(&self, first: usize) -> String {
        self.key
            .iter()
            .enumerate()
            .map(|(i, (n, _))| format!("{n} = ${}", first + i))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The journal's `record_id` of the row with these key values: the value itself for a
    /// one-column key (an integer in decimal), a JSON array of the values for a composite
    /// key.
    pub(crate) fn record_id(&self, key: &[Value]) -> Result<String, StoreError> {
        if key.len() != self.key.len() {
            return Err(StoreError::Corrupt(format!(
                "{}: {} key values for {} key columns",
                self.name,
                key.len(),
                self.key.len()
            )));
        }
        if let [v] = key {
            return Ok(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        Ok(Value::Array(key.to_vec()).to_string())
    }

    /// The key values a `record_id` stands for ([`Self::record_id`] read back).
    pub(crate) fn key_values(&self, record_id: &str) -> Result<Vec<Value>, StoreError> {
        let bad = || {
            StoreError::Corrupt(format!(
                "'{record_id}' is not a key of {} ({})",
                self.name,
                self.key_list()
            ))
        };
        let raw: Vec<Value> = if self.key.len() == 1 {
            vec![Value::String(record_id.to_string())]
        } else {
            match serde_json::from_str(record_id) {
                Ok(Value::Array(a)) if a.len() == self.key.len() => a,
                _ => return Err(bad()),
            }
        };
        raw.into_iter()
            .zip(self.key)
            .map(|(v, (_, kind))| match (kind, v) {
                (KeyKind::Text, Value::String(s)) => Ok(Value::String(s)),
                (KeyKind::Int, Value::Number(n)) if n.is_i64() => Ok(Value::Number(n)),
                (KeyKind::Int, Value::String(s)) => {
                    s.parse::<i64>().map(Value::from).map_err(|_| bad())
                }
                _ => Err(bad()),
            })
            .collect()
    }

    /// The key values of a row given as column → value.
    pub(crate) fn key_of_row(&self, row: &Value) -> Result<Vec<Value>, StoreError> {
        self.key
            .iter()
            .map(|(n, _)| {
                row.get(n).filter(|v| !v.is_null()).cloned().ok_or_else(|| {
                    StoreError::Corrupt(format!("a row of {} has no {n}", self.name))
                })
            })
            .collect()
    }
}

/// Binds key values to a query in key order.
pub(crate) fn bind_key<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    table: &Table,
    key: &[Value],
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, StoreError> {
    for ((name, kind), v) in table.key.iter().zip(key) {
        q = match (kind, v) {
            (KeyKind::Text, Value::String(s)) => q.bind(s.clone()),
            (KeyKind::Int, Value::Number(n)) if n.is_i64() => q.bind(n.as_i64()),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "{}.{name}: {v} is no {kind:?} key",
                    table.name
                )))
            }
        };
    }
    Ok(q)
}

const ID: &[(&str, KeyKind)] = &[("id", KeyKind::Text)];

const fn journaled(name: &'static str, entity: &'static str, history: bool) -> Table {
    Table {
        name,
        key: ID,
        keep: Keep::Journaled {
            entity,
            history,
            secret: false,
        },
        serial: None,
    }
}

/// A credential or factor table: journaled for restores, never shown.
const fn secret(
    name: &'static str,
    key: &'static [(&'static str, KeyKind)],
    entity: &'static str,
    serial: Option<&'static str>,
) -> Table {
    Table {
        name,
        key,
        keep: Keep::Journaled {
            entity,
            history: false,
            secret: true,
        },
        serial,
    }
}

/// Every table of the tenant schema, in the order a restore loads them: parents before the
/// tables that link to them. Excluded tables come last.
pub static TABLES: &[Table] = &[
    journaled("roles", "role", false),
    journaled("users", "user", true),
    journaled("teams", "team", false),
    journaled("team_members", "team_member", false),
    journaled("companies", "company", true),
    journaled("persons", "person", true),
    journaled("sales", "sale", true),
    journaled("activities", "activity", true),
    Table {
        name: "settings",
        key: &[("name", KeyKind::Text)],
        keep: Keep::Journaled {
            entity: "setting",
            history: false,
            secret: false,
        },
        serial: None,
    },
    // Credentials and factors: journaled, so that a token revoked or a factor removed
    // before the chosen time stays gone after a restore. Never in record history.
    secret("api_tokens", ID, "api_token", None),
    secret("passkeys", ID, "passkey", None),
    secret(
        "totp_factors",
        &[("user_id", KeyKind::Text)],
        "totp_factor",
        None,
    ),
    secret(
        "recovery_codes",
        &[("user_id", KeyKind::Text), ("code_hash", KeyKind::Text)],
        "recovery_code",
        None,
    ),
    secret(
        "password_history",
        &[("seq", KeyKind::Int)],
        "password_history",
        Some("seq"),
    ),
    secret(
        "sign_in_failures",
        &[("username", KeyKind::Text)],
        "sign_in_failure",
        None,
    ),
    // Single sign-on: a provider (its client secret sealed) and the accounts linked to
    // users; journaled like credentials, so a restore brings back who signs in how.
    secret("identity_providers", ID, "identity_provider", None),
    secret(
        "identity_links",
        &[("provider_id", KeyKind::Text), ("subject", KeyKind::Text)],
        "identity_link",
        None,
    ),
    Table {
        name: "search_docs",
        key: &[("entity", KeyKind::Text), ("record_id", KeyKind::Text)],
        keep: Keep::Carried {
            reason: "a record's indexed words travel in its own journal entry's after-image \
                     (on SQLite the FTS5 index over them is kept by triggers, and is no \
                     ordinary table)",
        },
        serial: None,
    },
    Table {
        name: "journal",
        key: &[("seq", KeyKind::Int)],
        keep: Keep::Carried {
            reason: "the journal itself: a restore appends each replayed entry",
        },
        serial: Some("seq"),
    },
    Table {
        name: "_sqlx_migrations",
        key: &[("version", KeyKind::Int)],
        keep: Keep::Excluded {
            reason: "the migrations' bookkeeping: a snapshot records the schema version instead",
        },
        serial: None,
    },
    Table {
        name: "sessions",
        key: &[("token_hash", KeyKind::Text)],
        keep: Keep::Excluded {
            reason: "ephemeral sign-ins: a restore never brings one back",
        },
        serial: None,
    },
    Table {
        name: "audit_log",
        key: &[("seq", KeyKind::Int)],
        keep: Keep::Excluded {
            reason: "the audit trail's database copy: backed up as its sealed day files, never rolled back",
        },
        serial: None,
    },
    Table {
        name: "webauthn_ceremonies",
        key: ID,
        keep: Keep::Excluded {
            reason: "a WebAuthn ceremony lives for minutes: a restore never brings one back",
        },
        serial: None,
    },
    Table {
        name: "server_keys",
        key: &[("name", KeyKind::Text)],
        keep: Keep::Excluded {
            reason: "the server's own keys (decoy credential ids): a restored tenant makes new ones",
        },
        serial: None,
    },
    Table {
        name: "sso_flows",
        key: &[("state_hash", KeyKind::Text)],
        keep: Keep::Excluded {
            reason: "a single sign-on under way lives for minutes: a restore never brings one back",
        },
        serial: None,
    },
    Table {
        name: "invites",
        key: ID,
        keep: Keep::Excluded {
            reason: "invitation links, like sessions: a restore brings no old link back to life",
        },
        serial: None,
    },
];

/// The table of this name.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// The journaled table whose rows the journal calls `entity`.
pub fn by_entity(entity: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.entity() == Some(entity))
}

/// The journaled table of `entity`, or a corruption error naming the entry.
pub(crate) fn journaled_table(entity: &str) -> Result<&'static Table, StoreError> {
    by_entity(entity).ok_or_else(|| {
        StoreError::Corrupt(format!("the journal knows no table for entity '{entity}'"))
    })
}

/// Whether record history may show this entity's changes.
pub fn in_history(entity: &str) -> bool {
    matches!(
        by_entity(entity).map(|t| t.keep),
        Some(Keep::Journaled { history: true, .. })
    )
}

/// Tables that backups leave out.
pub fn not_backed_up() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| !t.in_snapshots())
}

/// The journaled tables, in load order (parents first).
pub fn journaled_tables() -> impl DoubleEndedIterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.entity().is_some())
}

/// A table's position in load order; tables the registry does not know go last.
pub(crate) fn load_position(name: &str) -> usize {
    TABLES
        .iter()
        .position(|t| t.name == name)
        .unwrap_or(TABLES.len())
}

/// What is wrong with the registry against the tables a migrated tenant database really
/// has: tables missing from it, tables it names that do not exist, and carried tables that
/// are neither journaled nor excused. Empty when all is well.
pub fn check_against(real: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in real {
        if table(name).is_none() {
            problems.push(format!(
                "table {name} is not in the registry (crates/store/src/registry.rs): say \
                 whether it is journaled, carried for a reason, or excluded for a reason"
            ));
        }
    }
    for t in TABLES {
        if !real.iter().any(|r| r == t.name) {
            problems.push(format!(
                "the registry names {} but the schema has no such table",
                t.name
            ));
        }
        match t.keep {
            Keep::Carried { reason } | Keep::Excluded { reason } if reason.trim().is_empty() => {
                problems.push(format!("{} is not journaled and gives no reason", t.name));
            }
            _ => {}
        }
        if t.key.is_empty() {
            problems.push(format!("{} has no key", t.name));
        }
        if let Some(e) = t.entity() {
            if TABLES.iter().filter(|o| o.entity() == Some(e)).count() != 1 {
                problems.push(format!("entity {e} names more than one table"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::crm::EntityKind;

    #[test]
    fn record_entities_agree_with_the_domain() {
        for kind in EntityKind::ALL {
            let t = by_entity(kind.name()).expect("every record kind is journaled");
            assert_eq!(t.name, kind.table());
            assert!(in_history(kind.name()));
        }
    }

    #[test]
    fn security_tables_are_journaled_and_never_in_history() {
        for name in [
            "api_tokens",
            "passkeys",
            "totp_factors",
            "recovery_codes",
            "password_history",
            "sign_in_failures",
        ] {
            let t = table(name).unwrap();
            let entity = t.entity().unwrap_or_else(|| panic!("{name} is journaled"));
            assert!(t.is_secret(), "{name} is a secret table");
            assert!(!in_history(entity), "{name} must not be in record history");
        }
    }

    #[test]
    fn record_ids_round_trip() {
        let codes = table("recovery_codes").unwrap();
        let key = vec![Value::from("u1"), Value::from("h\"x")];
        let id = codes.record_id(&key).unwrap();
        assert_eq!(codes.key_values(&id).unwrap(), key);
        let hist = table("password_history").unwrap();
        assert_eq!(hist.record_id(&[Value::from(42)]).unwrap(), "42");
        assert_eq!(hist.key_values("42").unwrap(), vec![Value::from(42)]);
        assert!(hist.key_values("x").is_err());
        let tokens = table("api_tokens").unwrap();
        assert_eq!(tokens.key_values("abc").unwrap(), vec![Value::from("abc")]);
    }

    #[test]
    fn load_order_puts_parents_first() {
        for (child, parent) in [
            ("team_members", "teams"),
            ("team_members", "users"),
            ("persons", "companies"),
            ("sales", "persons"),
            ("activities", "sales"),
            ("api_tokens", "users"),
            ("passkeys", "users"),
            ("totp_factors", "users"),
            ("recovery_codes", "users"),
            ("password_history", "users"),
        ] {
            assert!(
                load_position(parent) < load_position(child),
                "{parent} before {child}"
            );
        }
    }
}
