//! The TOTP second factor and recovery codes of a user.

use crate::{StoreError, TenantDb};
use sqlx::Row;

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
        sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO totp_factors (user_id, secret, created_at, last_step) VALUES ($1, $2, $3, 0)",
        )
        .bind(user_id)
        .bind(secret)
        .bind(self.now())
        .execute(&mut *tx)
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
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE totp_factors SET confirmed_at = $1, last_step = $2 WHERE user_id = $3")
            .bind(self.now())
            .bind(step)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(h)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Accepts a code's time step if it is later than the last accepted one (atomically, so
    /// two requests cannot both use one code).
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_factors SET last_step = $1 WHERE user_id = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code by its hash; answers whether it was there and unused.
    pub async fn use_recovery_code(&self, user_id: &str, hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(self.now())
        .bind(user_id)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
