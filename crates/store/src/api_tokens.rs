//! API tokens: stored by hash, looked up with their (active) user, last use recorded.

use crate::journal::{self, Actor, JournalOp};
use crate::users::User;
use crate::{StoreError, TenantDb};
use serde_json::Value;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
}

pub struct NewApiToken<'a> {
    /// From [`TenantDb::new_record_id`]: known before the write, so the action's audit
    /// event can name the token.
    pub id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub scopes: &'a [String],
    pub expires_at: &'a str,
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes)
            .map_err(|e| StoreError::Corrupt(format!("token scopes: {e}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_ip: row.try_get("last_used_ip")?,
    })
}

const COLUMNS: &str =
    "t.id, t.user_id, t.name, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.last_used_ip";

impl TenantDb {
    /// A fresh id for a row about to be written (time-ordered, like every id here).
    pub fn new_record_id(&self) -> String {
        crate::users::new_id(&self.clock)
    }

    pub async fn create_api_token(&self, new: NewApiToken<'_>) -> Result<ApiToken, StoreError> {
        let id = new.id.to_string();
        let now = self.now();
        let scopes = serde_json::to_string(new.scopes).unwrap_or_else(|_| "[]".into());
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.name)
        .bind(new.token_hash)
        .bind(&scopes)
        .bind(&now)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await?;
        journal::append_row(
            &mut tx,
            &now,
            &Actor::User {
                id: new.user_id.to_string(),
            },
            "api_tokens",
            &[Value::from(id.as_str())],
            JournalOp::Create,
        )
        .await?;
        self.commit(tx).await?;
        Ok(ApiToken {
            id,
            user_id: new.user_id.to_string(),
            name: new.name.to_string(),
            scopes: new.scopes.to_vec(),
            created_at: now,
            expires_at: new.expires_at.to_string(),
            last_used_at: None,
            last_used_ip: None,
        })
    }

    /// A user's tokens, newest first (expired ones included, marked by their time).
    pub async fn api_tokens_of(&self, user_id: &str) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Deletes one of a user's tokens; answers whether it existed.
    pub async fn delete_api_token(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        journal::append_row(
            &mut tx,
            &self.now(),
            &Actor::User {
                id: user_id.to_string(),
            },
            "api_tokens",
            &[Value::from(id)],
            JournalOp::Delete,
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The live token for a hash, with its active user; records its use (time and address,
    /// written when either changed or a minute has passed).
    pub async fn use_api_token(
        &self,
        token_hash: &str,
        ip: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, u.id AS u_id, u.username, u.display_name, u.email, u.phone, \
             u.role, u.status, u.kind, u.created_at AS u_created_at, u.updated_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        let user = crate::users::user_from_parts(&row, "u_id", "u_created_at")?;
        let now = self.clock.now();
        let expires = parse_timestamp(&token.expires_at)
            .ok_or_else(|| StoreError::Corrupt("token expires_at".into()))?;
        if now >= expires || user.status != crate::UserStatus::Active {
            return Ok(None);
        }
        let stale = token
            .last_used_at
            .as_deref()
            .and_then(parse_timestamp)
            .is_none_or(|t| now - t >= chrono::Duration::seconds(60));
        if stale || token.last_used_ip.as_deref() != Some(ip) {
            let at = format_timestamp(now);
            let mut tx = self.write_tx().await?;
            let done = sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 WHERE id = $3",
            )
            .bind(&at)
            .bind(ip)
            .bind(&token.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                journal::append_row(
                    &mut tx,
                    &at,
                    &Actor::User {
                        id: token.user_id.clone(),
                    },
                    "api_tokens",
                    &[Value::from(token.id.as_str())],
                    JournalOp::Update,
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(Some((token, user)))
    }
}
