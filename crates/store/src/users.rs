//! The tenant's users. Their changes are journaled like any other tenant data, so a restore
//! brings back who could sign in as well as what they kept.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::sight::{Args, Sight};
use crate::{StoreError, TenantDb};
use serde::Serialize;
use skjold_domain::{FieldErrors, Role, RoleId, Username};
use sqlx::any::AnyRow;
use sqlx::Row;

pub use skjold_domain::{UserKind, UserStatus};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The id of the user's role (a built-in role's id is its name).
    pub role: RoleId,
    pub status: UserStatus,
    /// A person or a service user (an integration without a password).
    pub kind: UserKind,
    pub created_at: String,
    pub updated_at: String,
}

pub struct NewUser {
    /// From [`TenantDb::new_record_id`], so that the action's audit event can name the user
    /// before the write.
    pub id: String,
    pub username: Username,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: RoleId,
    pub kind: UserKind,
    /// An argon2id PHC string; never a password. `None`: the user cannot sign in with a
    /// password (a service user, or a person who has not accepted their invitation yet).
    pub password_hash: Option<String>,
}

/// A change to a user; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub role: Option<RoleId>,
    pub status: Option<UserStatus>,
}

pub(crate) const COLUMNS: &str =
    "id, username, display_name, email, phone, role, status, kind, created_at, updated_at";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    user_from_parts(row, "id", "created_at")
}

/// A user from a row whose id and creation time columns have the given names (a join).
pub(crate) fn user_from_parts(
    row: &AnyRow,
    id_col: &str,
    created_col: &str,
) -> Result<User, StoreError> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    let kind: String = row.try_get("kind")?;
    Ok(User {
        id: row.try_get(id_col)?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        role: RoleId::new(role),
        status: match status.as_str() {
            "active" => UserStatus::Active,
            "disabled" => UserStatus::Disabled,
            other => return Err(StoreError::Corrupt(format!("user status '{other}'"))),
        },
        kind: UserKind::parse(&kind)
            .map_err(|_| StoreError::Corrupt(format!("user kind '{kind}'")))?,
        created_at: row.try_get(created_col)?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl TenantDb {
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let user = self.insert_user(&mut tx, actor, new).await?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Inserts and journals a user inside `tx` (the caller commits).
    pub(crate) async fn insert_user(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        actor: &Actor,
        new: NewUser,
    ) -> Result<User, StoreError> {
        let now = self.now();
        let id = new.id.clone();
        role_exists(tx, &new.role).await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, display_name, email, phone, role, status, kind, \
             password_hash, password_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10)",
        )
        .bind(&id)
        .bind(new.username.as_str())
        .bind(&new.display_name)
        .bind(&new.email)
        .bind(&new.phone)
        .bind(new.role.as_str())
        .bind(new.kind.as_str())
        .bind(&new.password_hash)
        .bind(new.password_hash.as_ref().map(|_| now.clone()))
        .bind(&now)
        .execute(&mut **tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "the username '{}' is taken",
                    new.username
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let user = User {
            id: id.clone(),
            username: new.username.as_str().to_string(),
            display_name: new.display_name,
            email: new.email,
            phone: new.phone,
            role: new.role,
            status: UserStatus::Active,
            kind: new.kind,
            created_at: now.clone(),
            updated_at: now.clone(),
        };
        let mut data = serde_json::to_value(&user).unwrap_or_default();
        data["password_hash"] = new
            .password_hash
            .map(serde_json::Value::String)
            .unwrap_or_default();
        let changed = vec![
            "username".into(),
            "display_name".into(),
            "email".into(),
            "phone".into(),
            "role".into(),
            "status".into(),
            "kind".into(),
            "password".into(),
        ];
        journal::append(
            tx,
            &now,
            actor,
            Change {
                entity: "user",
                record_id: &id,
                op: JournalOp::Create,
                changed,
                data: Some(data),
            },
        )
        .await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// The users whose records `sight` includes, by username: the owners a reader under it
    /// may give a record (the store refuses any other with 422), so a form offers only these.
    pub async fn users_within(&self, sight: &Sight) -> Result<Vec<User>, StoreError> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT {COLUMNS} FROM users u WHERE 1 = 1{} ORDER BY username",
            sight.condition("u.id", &mut args)
        );
        let rows = args.bind_all(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn user(&self, id: &str) -> Result<User, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    /// The user and their password hash, for signing in.
    pub async fn user_for_sign_in(
        &self,
        username: &Username,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, password_hash FROM users WHERE username = $1"
        ))
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        patch: UserPatch,
    ) -> Result<User, StoreError> {
        let mut user = self.user(id).await?;
        let mut changed = Vec::new();
        if let Some(v) = patch.display_name {
            if v != user.display_name {
                user.display_name = v;
                changed.push("display_name".to_string());
            }
        }
        if let Some(v) = patch.email {
            if v != user.email {
                user.email = v;
                changed.push("email".to_string());
            }
        }
        if let Some(v) = patch.phone {
            if v != user.phone {
                user.phone = v;
                changed.push("phone".to_string());
            }
        }
        if let Some(v) = patch.role {
            if v != user.role {
                user.role = v;
                changed.push("role".to_string());
            }
        }
        if let Some(v) = patch.status {
            if v != user.status {
                user.status = v;
                changed.push("status".to_string());
            }
        }
        if changed.is_empty() {
            return Ok(user);
        }
        let now = self.now();
        user.updated_at = now.clone();
        let mut tx = self.write_tx().await?;
        if changed.iter().any(|c| c == "role") {
            role_exists(&mut tx, &user.role).await?;
        }
        sqlx::query(
            "UPDATE users SET display_name = $1, email = $2, phone = $3, role = $4, status = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(user.role.as_str())
        .bind(user.status.as_str())
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if user.status == UserStatus::Disabled {
            // A disabled user keeps no session, and no open invitation sets their password.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            crate::invites::revoke_invites_in(&mut tx, id).await?;
        }
        let data = self.user_journal_data(&mut tx, &user).await?;
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "user",
                record_id: id,
                op: JournalOp::Update,
                changed,
                data: Some(data),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Replaces the password hash. Ends the user's sessions except `keep_session` (the one
    /// that made the change, when a user changes their own password).
    pub async fn set_password_hash(
        &self,
        actor: &Actor,
        id: &str,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        let user = self.user(id).await?;
        let mut tx = self.write_tx().await?;
        self.set_password_in(&mut tx, actor, &user, hash, keep_session)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// [`Self::set_password_hash`] inside a caller's transaction.
    pub(crate) async fn set_password_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        actor: &Actor,
        user: &User,
        hash: &str,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut user = user.clone();
        let id = user.id.clone();
        let now = self.now();
        user.updated_at = now.clone();
        self.remember_old_hash(tx, actor, &id, &now).await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(hash)
        .bind(&now)
        .bind(&id)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(&id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut **tx)
            .await?;
        // A new password ends any invitation: the link would otherwise set another one.
        crate::invites::revoke_invites_in(tx, &id).await?;
        let data = self.user_journal_data(tx, &user).await?;
        journal::append(
            tx,
            &now,
            actor,
            Change {
                entity: "user",
                record_id: &id,
                op: JournalOp::Update,
                changed: vec!["password".into()],
                data: Some(data),
            },
        )
        .await?;
        Ok(())
    }

    /// A user as the journal keeps it: everything a restore needs to bring them back,
    /// including the password hash (which never leaves the tenant's own database).
    pub(crate) async fn user_journal_data(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: &User,
    ) -> Result<serde_json::Value, StoreError> {
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(&user.id)
                .fetch_one(&mut **tx)
                .await?;
        let mut data = serde_json::to_value(user).unwrap_or_default();
        data["password_hash"] = hash.map(serde_json::Value::String).unwrap_or_default();
        Ok(data)
    }

    pub async fn count_active_administrators(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1 AND status = 'active'")
                .bind(Role::Administrator.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// A user's role must exist (the column has no foreign key: it predates the roles table).
/// Checked inside the writing transaction, which a role's deletion also takes.
async fn role_exists(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    role: &RoleId,
) -> Result<(), StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM roles WHERE id = $1")
        .bind(role.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(FieldErrors::single("role", format!("there is no role '{role}'")).into()),
    }
}

/// A new record id: UUIDv7 from the injected clock, so ids sort by creation time and keep
/// B-tree inserts local.
pub(crate) fn new_id(clock: &skjold_domain::SharedClock) -> String {
    let now = clock.now();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        now.timestamp().max(0) as u64,
        now.timestamp_subsec_nanos(),
    );
    uuid::Uuid::new_v7(ts).to_string()
}
