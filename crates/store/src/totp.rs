//! The TOTP second factor and recovery codes of a user.

use crate::journal::{self, Actor, JournalOp};
use crate::{StoreError, TenantDb};
use serde_json::Value;
use sqlx::Row;

/// The user acting on their own factor.
pub(crate) fn owner(user_id: &str) -> Actor {
    Actor::User {
        id: user_id.to_string(),
    }
}

/// Deletes the user's recovery codes inside `tx`, journaling each.
pub(crate) async fn delete_recovery_codes_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    at: &str,
    user_id: &str,
) -> Result<u64, StoreError> {
    let rows =
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 RETURNING user_id, code_hash")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
    journal::append_rows(
        tx,
        at,
        &owner(user_id),
        "recovery_codes",
        JournalOp::Delete,
        &rows,
    )
    .await
}

/// Stores new recovery codes (their hashes) inside `tx`, journaling each.
pub(crate) async fn insert_recovery_codes_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    at: &str,
    user_id: &str,
    code_hashes: &[String],
) -> Result<(), StoreError> {
    for h in code_hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(h)
            .execute(&mut **tx)
            .await?;
        journal::append_row(
            tx,
            at,
            &owner(user_id),
            "recovery_codes",
            &[Value::from(user_id), Value::from(h.as_str())],
            JournalOp::Create,
        )
        .await?;
    }
    Ok(())
}

/// Deletes the user's TOTP factor inside `tx`, journaling it; answers whether there was one.
pub(crate) async fn delete_totp_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    at: &str,
    user_id: &str,
) -> Result<bool, StoreError> {
    let rows = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1 RETURNING user_id")
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
    Ok(journal::append_rows(
        tx,
        at,
        &owner(user_id),
        "totp_factors",
        JournalOp::Delete,
        &rows,
    )
    .await?
        > 0)
}

#[derive(Debug, Clone)]
pub struct TotpFactor {
    /// Base32, as the authenticator app was given it.
    pub secret: String,
    pub confirmed: bool,
    pub last_step: i64,
}

impl TenantDb {
    pub async fn totp_factor(&self, user_id: &str) -> Result<Option<TotpFactor>, StoreError> {
        let row = sqlx::query(
            "SELECT secret, confirmed_at, last_step FROM totp_factors WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let confirmed: Option<String> = row.try_get("confirmed_at")?;
        Ok(Some(TotpFactor {
            secret: row.try_get("secret")?,
            confirmed: confirmed.is_some(),
            last_step: row.try_get("last_step")?,
        }))
    }

    /// Starts (or restarts) an enrolment with a new secret; refused once confirmed.
    pub async fn start_totp(&self, user_id: &str, secret: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let confirmed: Option<Option<String>> =
            sqlx::query_scalar("SELECT confirmed_at FROM totp_factors WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(Some(_)) = confirmed {
            return Err(StoreError::Conflict(
                "a second factor is set up already".into(),
            ));
        }
        let now = self.now();
        delete_totp_in(&mut tx, &now, user_id).await?;
        sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at, last_step) VALUES ($1, $2, $3, 0)",
        )
        .bind(user_id)
        .bind(secret)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        journal::append_row(
            &mut tx,
            &now,
            &owner(user_id),
            "totp_factors",
            &[Value::from(user_id)],
            JournalOp::Create,
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Confirms the enrolment (its first code was at `step`) and stores the recovery codes'
    /// hashes, replacing any earlier ones.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        step: i64,
        code_hashes: &[String],
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE totp_factors SET confirmed_at = $1, last_step = $2 WHERE user_id = $3",
        )
        .bind(&now)
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            journal::append_row(
                &mut tx,
                &now,
                &owner(user_id),
                "totp_factors",
                &[Value::from(user_id)],
                JournalOp::Update,
            )
            .await?;
        }
        delete_recovery_codes_in(&mut tx, &now, user_id).await?;
        insert_recovery_codes_in(&mut tx, &now, user_id, code_hashes).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Accepts a code's time step if it is later than the last accepted one (atomically, so
    /// two requests cannot both use one code).
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $1 WHERE user_id = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        journal::append_row(
            &mut tx,
            &self.now(),
            &owner(user_id),
            "totp_factors",
            &[Value::from(user_id)],
            JournalOp::Update,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Uses up a recovery code by its hash; answers whether it was there and unused.
    pub async fn use_recovery_code(&self, user_id: &str, hash: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(&now)
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        journal::append_row(
            &mut tx,
            &now,
            &owner(user_id),
            "recovery_codes",
            &[Value::from(user_id), Value::from(hash)],
            JournalOp::Update,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
