//! One-time invitation links. An administrator invites a person; the link carries a random
//! token, the store keeps only its SHA-256. The invitee sets their password through the
//! link, which takes the invitation in the same transaction, so a link works once.

use crate::journal::Actor;
use crate::users::{user_from_row, User};
use crate::{StoreError, TenantDb};
use skjold_domain::clock::parse_timestamp;
use sqlx::Row;

/// An open invitation (never its token).
#[derive(Debug, Clone)]
pub struct Invite {
    pub user_id: String,
    /// The id of the user who made it, or `operator` for the command line.
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
}

fn invite_from_row(row: &sqlx::any::AnyRow) -> Result<Invite, StoreError> {
    Ok(Invite {
        user_id: row.try_get("user_id")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl Invite {
    pub fn expired_at(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        parse_timestamp(&self.expires_at).is_none_or(|e| now >= e)
    }
}

impl TenantDb {
    /// Makes the user's invitation, replacing an earlier one (whose link stops working).
    pub async fn put_invite(
        &self,
        user_id: &str,
        token_hash: &str,
        created_by: &str,
        expires_at: &str,
    ) -> Result<Invite, StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM invites WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO invites (id, user_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(created_by)
        .bind(&now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(Invite {
            user_id: user_id.to_string(),
            created_by: created_by.to_string(),
            created_at: now,
            expires_at: expires_at.to_string(),
        })
    }

    /// The user's invitation, expired or not.
    pub async fn invite_of(&self, user_id: &str) -> Result<Option<Invite>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, created_by, created_at, expires_at FROM invites WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(invite_from_row).transpose()
    }

    /// The user an unexpired invitation with this token hash is for. An expired, used,
    /// replaced or unknown token is `None` alike.
    pub async fn invited_user(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.email, u.phone, u.role, u.status, \
             u.kind, u.created_at, u.updated_at, i.expires_at \
             FROM invites i JOIN users u ON u.id = i.user_id \
             WHERE i.id = $1 AND u.status = 'active'",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: String = row.try_get("expires_at")?;
        if parse_timestamp(&expires_at).is_none_or(|e| self.clock.now() >= e) {
            return Ok(None);
        }
        Ok(Some(user_from_row(&row)?))
    }

    /// Takes the invitation of `user` (found with [`Self::invited_user`], which checked its
    /// expiry) and sets their password, in one transaction: of two uses of the same link,
    /// one wins. `None` when the invitation is gone meanwhile (used, replaced, withdrawn).
    pub async fn accept_invite(
        &self,
        token_hash: &str,
        user: &User,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError> {
        let mut tx = self.write_tx().await?;
        // The user must still be active: an invitation never brings back a disabled
        // account, even one disabled after the link was opened.
        let taken = sqlx::query(
            "DELETE FROM invites WHERE id = $1 AND user_id = $2 \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = $2 AND u.status = 'active')",
        )
        .bind(token_hash)
        .bind(&user.id)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            return Ok(None);
        }
        let actor = Actor::User {
            id: user.id.clone(),
        };
        self.set_password_in(&mut tx, &actor, user, password_hash, None)
            .await?;
        self.commit(tx).await?;
        Ok(Some(user.clone()))
    }

    /// Withdraws the user's invitation; `false` when there was none.
    pub async fn revoke_invite(&self, user_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = revoke_invites_in(&mut tx, user_id).await?;
        if done == 0 {
            // Nothing withdrawn: nothing to commit (and no event of the action's to record).
            return Ok(false);
        }
        self.commit(tx).await?;
        Ok(true)
    }
}

/// Withdraws the user's invitation inside a caller's transaction: a password reset, a
/// disabled account and "end all access" end the link with the change itself.
pub(crate) async fn revoke_invites_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM invites WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
