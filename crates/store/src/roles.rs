//! The tenant's roles: the four built-in ones and those the tenant makes. Changes are
//! journaled like any other tenant data, so a restore brings back who could do what.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::{StoreError, TenantDb, User};
use serde::Serialize;
use skjold_domain::rights::normalise;
use skjold_domain::{FieldErrors, Grant, Right, RoleId, Visibility};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A role as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRecord {
    pub id: RoleId,
    pub name: String,
    pub description: Option<String>,
    /// Sorted, without duplicates.
    pub rights: Vec<Right>,
    pub visibility: Visibility,
    pub builtin: bool,
}

impl RoleRecord {
    /// The role with `patch` applied, and the names of the fields that changed. Built-in
    /// roles keep their names; the administrator's rights and visibility are fixed.
    pub fn patched(&self, patch: RolePatch) -> Result<(RoleRecord, Vec<String>), StoreError> {
        let mut role = self.clone();
        let mut changed = Vec::new();
        if let Some(name) = patch.name {
            let name = check_role_name(&name)?;
            if name != role.name {
                if role.builtin {
                    return Err(
                        FieldErrors::single("name", "a built-in role keeps its name").into(),
                    );
                }
                role.name = name;
                changed.push("name".to_string());
            }
        }
        if let Some(d) = patch.description {
            let d = d.filter(|d| !d.trim().is_empty());
            if d != role.description {
                role.description = d;
                changed.push("description".to_string());
            }
        }
        if let Some(rights) = patch.rights {
            let rights = normalise(rights);
            if rights != role.rights {
                role.rights = rights;
                changed.push("rights".to_string());
            }
        }
        if let Some(v) = patch.visibility {
            if v != role.visibility {
                role.visibility = v;
                changed.push("visibility".to_string());
            }
        }
        if self.id.is_administrator() && changed.iter().any(|c| c != "description") {
            return Err(StoreError::Conflict(
                "the administrator role always holds every right and sees every record".into(),
            ));
        }
        Ok((role, changed))
    }

    pub fn grant(&self) -> Grant {
        Grant {
            role: self.id.clone(),
            role_name: self.name.clone(),
            rights: self.rights.clone(),
            visibility: self.visibility,
        }
    }
}

/// A new role's fields, already checked for shape by the caller's parsing.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
    pub rights: Vec<Right>,
    pub visibility: Visibility,
}

/// A change to a role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub rights: Option<Vec<Right>>,
    pub visibility: Option<Visibility>,
}

const COLUMNS: &str = "id, name, description, rights, visibility, builtin";

fn role_from_row(row: &AnyRow) -> Result<RoleRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let rights: String = row.try_get("rights")?;
    let names: Vec<String> = serde_json::from_str(&rights)
        .map_err(|e| StoreError::Corrupt(format!("role {id}: rights: {e}")))?;
    let id = RoleId::new(id);
    let rights = if id.is_administrator() {
        // The administrator always holds every right, including ones added after the
        // tenant's row was written.
        Right::ALL.to_vec()
    } else {
        // A right this version does not know (written by a newer one) is not granted.
        names.iter().filter_map(|n| Right::parse(n).ok()).collect()
    };
    let visibility: String = row.try_get("visibility")?;
    let builtin: i64 = row.try_get("builtin")?;
    Ok(RoleRecord {
        id,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        rights: normalise(rights),
        visibility: Visibility::parse(&visibility).map_err(StoreError::Corrupt)?,
        builtin: builtin != 0,
    })
}

fn rights_json(rights: &[Right]) -> String {
    serde_json::to_string(&rights.iter().map(|r| r.as_str()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

/// A role's name: 1–64 characters, no control characters, not only spaces.
pub fn check_role_name(name: &str) -> Result<String, FieldErrors> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(FieldErrors::single(
            "name",
            "must be 1 to 64 characters without control characters",
        ));
    }
    Ok(name.to_string())
}

/// A unique-name violation as the conflict a client can act on (teams do the same).
fn taken(e: &sqlx::Error, name: &str) -> Option<StoreError> {
    StoreError::is_unique_violation(e)
        .then(|| StoreError::Conflict(format!("a role named '{name}' exists already")))
}

impl TenantDb {
    pub async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM roles ORDER BY builtin DESC, name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(role_from_row).collect()
    }

    pub async fn role(&self, id: &RoleId) -> Result<RoleRecord, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM roles WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        role_from_row(&row)
    }

    /// A role by its id or its name (the CLI and forms name roles; the API uses ids). An id
    /// wins over a name, so a role named like another role's id cannot stand in for it.
    pub async fn find_role(&self, id_or_name: &str) -> Result<Option<RoleRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM roles WHERE id = $1 OR name = $1 \
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(role_from_row).transpose()
    }

    /// What the user may do and see. A user whose role has vanished (which the store
    /// prevents) holds nothing rather than everything.
    pub async fn grant_of(&self, user: &User) -> Result<Grant, StoreError> {
        match self.role(&user.role).await {
            Ok(role) => Ok(role.grant()),
            Err(StoreError::NotFound) => Ok(Grant {
                role: user.role.clone(),
                role_name: user.role.as_str().to_string(),
                rights: Vec::new(),
                visibility: Visibility::Own,
            }),
            Err(e) => Err(e),
        }
    }

    pub async fn users_with_role(&self, id: &RoleId) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
                .bind(id.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The role `new` would make, with its id, checked name and sorted rights: what an
    /// action audits before [`TenantDb::insert_role`] stores it.
    pub fn planned_role(&self, new: NewRole) -> Result<RoleRecord, StoreError> {
        Ok(RoleRecord {
            id: RoleId::new(crate::users::new_id(&self.clock)),
            name: check_role_name(&new.name)?,
            description: new.description.filter(|d| !d.trim().is_empty()),
            rights: normalise(new.rights),
            visibility: new.visibility,
            builtin: false,
        })
    }

    /// Makes a new role of the tenant's own.
    pub async fn create_role(&self, actor: &Actor, new: NewRole) -> Result<RoleRecord, StoreError> {
        let role = self.planned_role(new)?;
        self.insert_role(actor, &role).await?;
        Ok(role)
    }

    /// Stores a role made by [`TenantDb::planned_role`].
    pub async fn insert_role(&self, actor: &Actor, role: &RoleRecord) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO roles (id, name, description, rights, visibility, builtin) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(role.id.as_str())
        .bind(&role.name)
        .bind(&role.description)
        .bind(rights_json(&role.rights))
        .bind(role.visibility.as_str())
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(taken(&e, &role.name).unwrap_or(e.into()));
        }
        let now = self.now();
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "role",
                record_id: role.id.as_str(),
                op: JournalOp::Create,
                changed: vec![
                    "name".into(),
                    "description".into(),
                    "rights".into(),
                    "visibility".into(),
                ],
                data: Some(serde_json::to_value(role).unwrap_or_default()),
            },
        )
        .await?;
        self.commit(tx).await
    }

    /// Changes a role. Built-in roles keep their names; the administrator's rights and
    /// visibility cannot change. Returns the role before and after.
    pub async fn update_role(
        &self,
        actor: &Actor,
        id: &RoleId,
        patch: RolePatch,
    ) -> Result<(RoleRecord, RoleRecord), StoreError> {
        let before = self.role(id).await?;
        let (after, changed) = before.patched(patch)?;
        if !changed.is_empty() {
            self.replace_role(actor, &before, &after, changed).await?;
        }
        Ok((before, after))
    }

    /// Stores `after` (from [`RoleRecord::patched`]) in place of `before`, provided the role
    /// is still as `before` shows it: a change made meanwhile is a conflict, not overwritten.
    pub async fn replace_role(
        &self,
        actor: &Actor,
        before: &RoleRecord,
        after: &RoleRecord,
        changed: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE roles SET name = $1, description = $2, rights = $3, visibility = $4 \
             WHERE id = $5 AND name = $6 AND rights = $7 AND visibility = $8 \
             AND COALESCE(description, '') = $9",
        )
        .bind(&after.name)
        .bind(&after.description)
        .bind(rights_json(&after.rights))
        .bind(after.visibility.as_str())
        .bind(before.id.as_str())
        .bind(&before.name)
        .bind(rights_json(&before.rights))
        .bind(before.visibility.as_str())
        .bind(before.description.clone().unwrap_or_default())
        .execute(&mut *tx)
        .await;
        match updated {
            Err(e) => return Err(taken(&e, &after.name).unwrap_or(e.into())),
            Ok(done) if done.rows_affected() == 0 => {
                return Err(StoreError::Conflict(format!(
                    "the role '{}' was changed or deleted meanwhile; reload it and try again",
                    before.name
                )))
            }
            Ok(_) => {}
        }
        let now = self.now();
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "role",
                record_id: after.id.as_str(),
                op: JournalOp::Update,
                changed,
                data: Some(serde_json::to_value(after).unwrap_or_default()),
            },
        )
        .await?;
        self.commit(tx).await
    }

    /// Deletes a tenant's own role that nobody holds. Returns the role as it was.
    pub async fn delete_role(&self, actor: &Actor, id: &RoleId) -> Result<RoleRecord, StoreError> {
        let role = self.role(id).await?;
        if role.builtin {
            return Err(StoreError::Conflict(format!(
                "'{}' is a built-in role and cannot be deleted",
                role.name
            )));
        }
        let mut tx = self.write_tx().await?;
        // Counted inside the write transaction, so no one is given the role meanwhile.
        let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if holders > 0 {
            return Err(StoreError::Conflict(format!(
                "the role '{}' is held by {holders} user{}; give them another role first",
                role.name,
                if holders == 1 { "" } else { "s" }
            )));
        }
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let now = self.now();
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "role",
                record_id: id.as_str(),
                op: JournalOp::Delete,
                changed: vec![],
                data: None,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(role)
    }
}
