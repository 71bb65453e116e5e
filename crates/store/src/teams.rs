//! Teams: groups of users whose members see each other's records under a role with `team`
//! visibility. Teams and memberships are journaled like any other tenant data.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::{StoreError, TenantDb};
use serde::Serialize;
use skjold_domain::FieldErrors;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A member of a team, as a team's member list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamMember {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub added_at: String,
}

/// A change to a team; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

const COLUMNS: &str = "id, name, description, created_at, updated_at";

fn team_from_row(row: &AnyRow) -> Result<Team, StoreError> {
    Ok(Team {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn check_name(name: &str) -> Result<String, FieldErrors> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldErrors::single(
            "name",
            "must be 1 to 100 characters without control characters",
        ));
    }
    Ok(name.to_string())
}

fn taken(e: &sqlx::Error, name: &str) -> Option<StoreError> {
    StoreError::is_unique_violation(e)
        .then(|| StoreError::Conflict(format!("a team named '{name}' exists already")))
}

impl TenantDb {
    pub async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM teams ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(team_from_row).collect()
    }

    pub async fn team(&self, id: &str) -> Result<Team, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM teams WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        team_from_row(&row)
    }

    /// A team by its id or its name (the CLI names teams).
    pub async fn find_team(&self, id_or_name: &str) -> Result<Option<Team>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM teams WHERE id = $1 OR name = $1 \
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END"
        ))
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(team_from_row).transpose()
    }

    pub async fn team_members(&self, team_id: &str) -> Result<Vec<TeamMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, u.display_name, m.added_at FROM team_members m \
             JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY u.username",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TeamMember {
                    user_id: r.try_get("user_id")?,
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    added_at: r.try_get("added_at")?,
                })
            })
            .collect()
    }

    /// The teams a user belongs to.
    pub async fn teams_of(&self, user_id: &str) -> Result<Vec<Team>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.description, t.created_at, t.updated_at FROM teams t \
             JOIN team_members m ON m.team_id = t.id WHERE m.user_id = $1 ORDER BY t.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(team_from_row).collect()
    }

    /// A new team, checked and named, not yet stored: its action records it by id before
    /// [`TenantDb::insert_team`] writes it.
    pub fn planned_team(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<Team, StoreError> {
        let now = self.now();
        Ok(Team {
            id: crate::users::new_id(&self.clock),
            name: check_name(name)?,
            description: description.filter(|d| !d.trim().is_empty()),
            created_at: now.clone(),
            updated_at: now,
        })
    }

    /// Stores a team made by [`TenantDb::planned_team`]; a taken name is a conflict.
    pub async fn insert_team(&self, actor: &Actor, team: &Team) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO teams (id, name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&team.id)
        .bind(&team.name)
        .bind(&team.description)
        .bind(&team.created_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(taken(&e, &team.name).unwrap_or(e.into()));
        }
        journal::append(
            &mut tx,
            &team.created_at,
            actor,
            Change {
                entity: "team",
                record_id: &team.id,
                op: JournalOp::Create,
                changed: vec!["name".into(), "description".into()],
                data: Some(serde_json::to_value(team).unwrap_or_default()),
            },
        )
        .await?;
        self.commit(tx).await
    }

    /// `team` with `patch` applied, and the names of the fields that changed (none: the
    /// patch changes nothing).
    pub fn patched_team(
        &self,
        team: &Team,
        patch: TeamPatch,
    ) -> Result<(Team, Vec<String>), StoreError> {
        let mut after = team.clone();
        let mut changed = Vec::new();
        if let Some(name) = patch.name {
            let name = check_name(&name)?;
            if name != after.name {
                after.name = name;
                changed.push("name".to_string());
            }
        }
        if let Some(d) = patch.description {
            let d = d.filter(|d| !d.trim().is_empty());
            if d != after.description {
                after.description = d;
                changed.push("description".to_string());
            }
        }
        if !changed.is_empty() {
            after.updated_at = self.now();
        }
        Ok((after, changed))
    }

    /// Stores a team changed by [`TenantDb::patched_team`]; a taken name is a conflict.
    pub async fn replace_team(
        &self,
        actor: &Actor,
        after: &Team,
        changed: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE teams SET name = $1, description = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&after.name)
        .bind(&after.description)
        .bind(&after.updated_at)
        .bind(&after.id)
        .execute(&mut *tx)
        .await;
        match updated {
            Err(e) => return Err(taken(&e, &after.name).unwrap_or(e.into())),
            Ok(done) if done.rows_affected() == 0 => return Err(StoreError::NotFound),
            Ok(_) => {}
        }
        journal::append(
            &mut tx,
            &after.updated_at,
            actor,
            Change {
                entity: "team",
                record_id: &after.id,
                op: JournalOp::Update,
                changed,
                data: Some(serde_json::to_value(after).unwrap_or_default()),
            },
        )
        .await?;
        self.commit(tx).await
    }

    /// Deletes a team and its memberships (each journaled). Returns the team and the user
    /// ids of its members as they were.
    pub async fn delete_team(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Team, Vec<String>), StoreError> {
        let team = self.team(id).await?;
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let members: Vec<(String, String)> =
            sqlx::query("SELECT id, user_id FROM team_members WHERE team_id = $1 ORDER BY user_id")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("user_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
        for (membership, _) in &members {
            sqlx::query("DELETE FROM team_members WHERE id = $1")
                .bind(membership)
                .execute(&mut *tx)
                .await?;
            journal::append(
                &mut tx,
                &now,
                actor,
                Change {
                    entity: "team_member",
                    record_id: membership,
                    op: JournalOp::Delete,
                    changed: vec![],
                    data: None,
                },
            )
            .await?;
        }
        let deleted = sqlx::query("DELETE FROM teams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            // Deleted meanwhile by someone else.
            return Err(StoreError::NotFound);
        }
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "team",
                record_id: id,
                op: JournalOp::Delete,
                changed: vec![],
                data: None,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok((team, members.into_iter().map(|(_, u)| u).collect()))
    }

    /// Adds a user to a team. Returns false when they were a member already.
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        team_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        self.team(team_id).await?;
        if self.user(user_id).await.is_err() {
            return Err(FieldErrors::single("user_id", "no user with this id exists").into());
        }
        let now = self.now();
        let id = crate::users::new_id(&self.clock);
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO team_members (id, team_id, user_id, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(team_id)
        .bind(user_id)
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "team_member",
                record_id: &id,
                op: JournalOp::Create,
                changed: vec!["team_id".into(), "user_id".into()],
                data: Some(serde_json::json!({
                    "id": id, "team_id": team_id, "user_id": user_id, "added_at": now,
                })),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// Removes a user from a team; not a member is "not found".
    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        team_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM team_members WHERE team_id = $1 AND user_id = $2{}",
            self.lock_clause()
        ))
        .bind(team_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let id = id.ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM team_members WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let now = self.now();
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "team_member",
                record_id: &id,
                op: JournalOp::Delete,
                changed: vec![],
                data: None,
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }
}
