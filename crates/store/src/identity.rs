//! Identity data beside the users: the tenant's settings, password history and the
//! counters of failed sign-ins that drive account lockout.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::{StoreError, TenantDb};
use chrono::{DateTime, Utc};
use serde::Serialize;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use sqlx::Row;

/// How many earlier hashes a user keeps at most (the policy's history rule allows up to 24).
const HISTORY_KEPT: i64 = 24;

/// The failed sign-ins of one username, and its lock if it has one.
#[derive(Debug, Clone, Serialize)]
pub struct SignInLock {
    pub username: String,
    /// Consecutive failures since the last success or lock.
    pub failures: i64,
    /// Locks in a row (each lasts longer); reset by a success or an administrator.
    pub lock_count: i64,
    pub locked_until: Option<String>,
    pub last_failure_at: String,
}

impl SignInLock {
    /// Until when a sign-in is refused, if it is now.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until
            .as_deref()
            .and_then(parse_timestamp)
            .filter(|until| *until > now)
    }
}

/// What a failed sign-in led to.
#[derive(Debug, Clone)]
pub enum FailureOutcome {
    /// Counted; not (yet) locked.
    Counted { failures: i64 },
    /// This failure locked the username until then (the `lock_count`th lock in a row).
    Locked {
        until: DateTime<Utc>,
        lock_count: i64,
    },
}

fn lock_from_row(row: &sqlx::any::AnyRow) -> Result<SignInLock, StoreError> {
    Ok(SignInLock {
        username: row.try_get("username")?,
        failures: row.try_get("failures")?,
        lock_count: row.try_get("lock_count")?,
        locked_until: row.try_get("locked_until")?,
        last_failure_at: row.try_get("last_failure_at")?,
    })
}

impl TenantDb {
    /// A setting's JSON document, if the tenant has set it.
    pub async fn setting(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        value
            .map(|v| {
                serde_json::from_str(&v)
                    .map_err(|e| StoreError::Corrupt(format!("setting '{name}': {e}")))
            })
            .transpose()
    }

    /// Stores a setting (journaled like other tenant data).
    pub async fn put_setting(
        &self,
        actor: &Actor,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let existed: Option<String> =
            sqlx::query_scalar("SELECT name FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let text = value.to_string();
        if existed.is_some() {
            sqlx::query(
                "UPDATE settings SET value = $1, updated_at = $2, updated_by = $3 WHERE name = $4",
            )
            .bind(&text)
            .bind(&now)
            .bind(actor.label())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO settings (name, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(&text)
            .bind(&now)
            .bind(actor.label())
            .execute(&mut *tx)
            .await?;
        }
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "setting",
                record_id: name,
                op: if existed.is_some() {
                    JournalOp::Update
                } else {
                    JournalOp::Create
                },
                changed: vec!["value".into()],
                data: Some(serde_json::json!({ "value": value })),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// The user's current password hash followed by up to `n - 1` earlier ones, newest
    /// first: what the history rule compares a new password with.
    pub async fn recent_password_hashes(
        &self,
        user_id: &str,
        n: u32,
    ) -> Result<Vec<String>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let current: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(Some(h)) = current {
            out.push(h);
        }
        let earlier: Vec<String> = sqlx::query_scalar(
            "SELECT password_hash FROM password_history WHERE user_id = $1 \
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(n.saturating_sub(1)))
        .fetch_all(&self.pool)
        .await?;
        out.extend(earlier);
        out.truncate(n as usize);
        Ok(out)
    }

    /// When the user's password was last set.
    pub async fn password_changed_at(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT password_changed_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Keeps the hash being replaced, for the history rule (called inside the transaction
    /// that replaces it).
    pub(crate) async fn remember_old_hash(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(Some(old)) = old {
            sqlx::query(
                "INSERT INTO password_history (user_id, set_at, password_hash) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(now)
            .bind(old)
            .execute(&mut **tx)
            .await?;
            // Keep the newest few only.
            sqlx::query(
                "DELETE FROM password_history WHERE user_id = $1 AND seq NOT IN \
                 (SELECT seq FROM password_history WHERE user_id = $1 \
                  ORDER BY seq DESC LIMIT $2)",
            )
            .bind(user_id)
            .bind(HISTORY_KEPT)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The failure record of a username, if it has one.
    pub async fn sign_in_lock(&self, username: &str) -> Result<Option<SignInLock>, StoreError> {
        let row = sqlx::query(
            "SELECT username, failures, lock_count, locked_until, last_failure_at \
             FROM sign_in_failures WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(lock_from_row).transpose()
    }

    /// Counts a failed sign-in; the `max_failures`th in a row locks the username for
    /// `lock_minutes(nth lock)`.
    pub async fn record_sign_in_failure(
        &self,
        username: &str,
        max_failures: u32,
        lock_minutes: impl Fn(u32) -> u32,
    ) -> Result<FailureOutcome, StoreError> {
        let now_t = self.clock.now();
        let now = format_timestamp(now_t);
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "SELECT username, failures, lock_count, locked_until, last_failure_at \
             FROM sign_in_failures WHERE username = $1{}",
            self.lock_clause()
        ))
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let current = row.as_ref().map(lock_from_row).transpose()?;
        let (failures, lock_count) = current
            .as_ref()
            .map(|c| (c.failures + 1, c.lock_count))
            .unwrap_or((1, 0));
        let outcome = if failures >= i64::from(max_failures) {
            let nth = lock_count + 1;
            let minutes = lock_minutes(u32::try_from(nth).unwrap_or(u32::MAX));
            FailureOutcome::Locked {
                until: now_t + chrono::Duration::minutes(i64::from(minutes)),
                lock_count: nth,
            }
        } else {
            FailureOutcome::Counted { failures }
        };
        let (failures, lock_count, locked_until) = match &outcome {
            FailureOutcome::Counted { failures } => {
                (*failures, lock_count, current.and_then(|c| c.locked_until))
            }
            FailureOutcome::Locked { until, lock_count } => {
                (0, *lock_count, Some(format_timestamp(*until)))
            }
        };
        if row.is_some() {
            sqlx::query(
                "UPDATE sign_in_failures SET failures = $1, lock_count = $2, locked_until = $3, \
                 last_failure_at = $4 WHERE username = $5",
            )
            .bind(failures)
            .bind(lock_count)
            .bind(locked_until)
            .bind(&now)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO sign_in_failures (username, failures, lock_count, locked_until, \
                 last_failure_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(username)
            .bind(failures)
            .bind(lock_count)
            .bind(locked_until)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Forgets a username's failures and locks (after a successful sign-in, or when an
    /// administrator lifts the lock). Answers whether there was anything to forget.
    pub async fn clear_sign_in_failures(&self, username: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sign_in_failures WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The usernames locked now, soonest unlocked first.
    pub async fn active_sign_in_locks(&self) -> Result<Vec<SignInLock>, StoreError> {
        let now = self.now();
        let rows = sqlx::query(
            "SELECT username, failures, lock_count, locked_until, last_failure_at \
             FROM sign_in_failures WHERE locked_until > $1 ORDER BY locked_until, username",
        )
        .bind(&now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lock_from_row).collect()
    }

    /// Removes failure records untouched for a day and no longer locked, so probing random
    /// usernames does not grow the table without bound.
    pub async fn prune_sign_in_failures(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let cutoff = format_timestamp(now - chrono::Duration::days(1));
        let done = sqlx::query(
            "DELETE FROM sign_in_failures WHERE last_failure_at < $1 \
             AND (locked_until IS NULL OR locked_until < $2)",
        )
        .bind(&cutoff)
        .bind(format_timestamp(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
