//! Identity data beside the users: the tenant's settings, password history and the
//! counters of failed sign-ins that drive account lockout.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::{StoreError, TenantDb};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use sqlx::Row;

/// How many earlier hashes a user keeps at most (the policy's history rule allows up to 24).
const HISTORY_KEPT: i64 = 24;

/// Who changes the sign-in failure counters: the sign-in itself (or an administrator's
/// unlock, which the audit trail records by name).
const SIGN_IN: Actor = Actor::System { what: "sign-in" };

fn username_key(username: &str) -> [Value; 1] {
    [Value::from(username)]
}

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
    /// Another attempt of the same burst locked the username already.
    AlreadyLocked { until: DateTime<Utc> },
}

/// What reserving an attempt at a username found.
#[derive(Debug, Clone)]
pub enum Reservation {
    /// Go on and check the credentials.
    Reserved,
    /// Locked until then; `started` is the lock's number when this reservation started it
    /// (attempts that took the last places never came back).
    Locked {
        until: DateTime<Utc>,
        started: Option<i64>,
    },
    /// Every place is taken by attempts still being checked: one of them locks or clears.
    InFlight,
}

/// The lock that the `max_failures`th failure starts.
fn lock_for(
    current: &SignInLock,
    now: DateTime<Utc>,
    lock_minutes: &impl Fn(u32) -> u32,
) -> (DateTime<Utc>, i64) {
    let nth = current.lock_count + 1;
    let minutes = lock_minutes(u32::try_from(nth).unwrap_or(u32::MAX));
    (now + chrono::Duration::minutes(i64::from(minutes)), nth)
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
        actor: &Actor,
        user_id: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(Some(old)) = old {
            let added = sqlx::query(
                "INSERT INTO password_history (user_id, set_at, password_hash) \
                 VALUES ($1, $2, $3) RETURNING seq",
            )
            .bind(user_id)
            .bind(now)
            .bind(old)
            .fetch_all(&mut **tx)
            .await?;
            journal::append_rows(
                tx,
                now,
                actor,
                "password_history",
                JournalOp::Create,
                &added,
            )
            .await?;
            // Keep the newest few only.
            let dropped = sqlx::query(
                "DELETE FROM password_history WHERE user_id = $1 AND seq NOT IN \
                 (SELECT seq FROM password_history WHERE user_id = $1 \
                  ORDER BY seq DESC LIMIT $2) RETURNING seq",
            )
            .bind(user_id)
            .bind(HISTORY_KEPT)
            .fetch_all(&mut **tx)
            .await?;
            journal::append_rows(
                tx,
                now,
                actor,
                "password_history",
                JournalOp::Delete,
                &dropped,
            )
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

    /// Reserves one attempt at the username before any credential is checked, atomically
    /// (one transaction with the row locked: `FOR UPDATE` on PostgreSQL, a write
    /// transaction on SQLite). A reservation counts as a failure from the start, so however
    /// many attempts arrive at once, at most `max_failures` are let through between two
    /// successes; a success clears it ([`Self::clear_sign_in_failures`]), a check that
    /// neither failed nor succeeded gives it back ([`Self::release_sign_in_attempt`]) and a
    /// failure settles it ([`Self::count_reserved_failure`]). A reservation never settled
    /// (a cancelled request, a crash) stays counted: after `stale` it is taken as failed.
    pub async fn reserve_sign_in_attempt(
        &self,
        username: &str,
        max_failures: u32,
        stale: chrono::Duration,
        lock_minutes: impl Fn(u32) -> u32,
    ) -> Result<Reservation, StoreError> {
        let now_t = self.clock.now();
        let now = format_timestamp(now_t);
        let mut tx = self.write_tx().await?;
        let current = self.locked_failure_row(&mut tx, username, &now).await?;
        if let Some(until) = current.locked_at(now_t) {
            tx.rollback().await?;
            return Ok(Reservation::Locked {
                until,
                started: None,
            });
        }
        if current.failures >= i64::from(max_failures) {
            let in_flight_since = parse_timestamp(&current.last_failure_at).unwrap_or(now_t);
            if now_t - in_flight_since < stale {
                tx.rollback().await?;
                return Ok(Reservation::InFlight);
            }
            // The attempts that took the last places never came back: failed.
            let (until, lock_count) = lock_for(&current, now_t, &lock_minutes);
            self.write_failure_row(&mut tx, username, 0, lock_count, Some(until), &now)
                .await?;
            tx.commit().await?;
            return Ok(Reservation::Locked {
                until,
                started: Some(lock_count),
            });
        }
        self.write_failure_row(
            &mut tx,
            username,
            current.failures + 1,
            current.lock_count,
            current.locked_until.as_deref().and_then(parse_timestamp),
            &now,
        )
        .await?;
        tx.commit().await?;
        Ok(Reservation::Reserved)
    }

    /// Settles a reserved attempt as failed: the reservation already counted it; if the
    /// places are used up (`max_failures` in a row) the username is locked for
    /// `lock_minutes(nth lock)`. If a success cleared the count meanwhile, the failure is
    /// counted anew.
    pub async fn count_reserved_failure(
        &self,
        username: &str,
        max_failures: u32,
        lock_minutes: impl Fn(u32) -> u32,
    ) -> Result<FailureOutcome, StoreError> {
        let now_t = self.clock.now();
        let now = format_timestamp(now_t);
        let mut tx = self.write_tx().await?;
        let current = self.locked_failure_row(&mut tx, username, &now).await?;
        if let Some(until) = current.locked_at(now_t) {
            tx.rollback().await?;
            return Ok(FailureOutcome::AlreadyLocked { until });
        }
        let failures = current.failures.max(1);
        let outcome = if failures >= i64::from(max_failures) {
            let (until, lock_count) = lock_for(&current, now_t, &lock_minutes);
            self.write_failure_row(&mut tx, username, 0, lock_count, Some(until), &now)
                .await?;
            FailureOutcome::Locked { until, lock_count }
        } else {
            if failures != current.failures {
                self.write_failure_row(
                    &mut tx,
                    username,
                    failures,
                    current.lock_count,
                    current.locked_until.as_deref().and_then(parse_timestamp),
                    &now,
                )
                .await?;
            }
            FailureOutcome::Counted { failures }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Gives back a reserved attempt that neither failed nor succeeded (the password was
    /// right but a second factor is still to come, the server was too busy to check, …).
    pub async fn release_sign_in_attempt(&self, username: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "UPDATE sign_in_failures SET failures = failures - 1 \
             WHERE username = $1 AND failures > 0 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING username",
        )
        .bind(username)
        .bind(&now)
        .fetch_all(&mut *tx)
        .await?;
        journal::append_rows(
            &mut tx,
            &now,
            &SIGN_IN,
            "sign_in_failures",
            JournalOp::Update,
            &rows,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The username's failure row, made if missing, locked for the rest of `tx`.
    async fn locked_failure_row(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        username: &str,
        now: &str,
    ) -> Result<SignInLock, StoreError> {
        // Two first attempts at once: one inserts, the other waits for it (PostgreSQL) or
        // for the write lock (SQLite) and then finds the row.
        let made = sqlx::query(
            "INSERT INTO sign_in_failures (username, failures, lock_count, locked_until, \
             last_failure_at) VALUES ($1, 0, 0, NULL, $2) ON CONFLICT (username) DO NOTHING \
             RETURNING username",
        )
        .bind(username)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        journal::append_rows(
            tx,
            now,
            &SIGN_IN,
            "sign_in_failures",
            JournalOp::Create,
            &made,
        )
        .await?;
        let row = sqlx::query(&format!(
            "SELECT username, failures, lock_count, locked_until, last_failure_at \
             FROM sign_in_failures WHERE username = $1{}",
            self.lock_clause()
        ))
        .bind(username)
        .fetch_one(&mut **tx)
        .await?;
        lock_from_row(&row)
    }

    async fn write_failure_row(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        username: &str,
        failures: i64,
        lock_count: i64,
        locked_until: Option<DateTime<Utc>>,
        now: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sign_in_failures SET failures = $1, lock_count = $2, locked_until = $3, \
             last_failure_at = $4 WHERE username = $5",
        )
        .bind(failures)
        .bind(lock_count)
        .bind(locked_until.map(format_timestamp))
        .bind(now)
        .bind(username)
        .execute(&mut **tx)
        .await?;
        journal::append_row(
            tx,
            now,
            &SIGN_IN,
            "sign_in_failures",
            &username_key(username),
            JournalOp::Update,
        )
        .await
    }

    /// Forgets a username's failures and locks (after a successful sign-in, or when an
    /// administrator lifts the lock). Answers whether there was anything to forget.
    pub async fn clear_sign_in_failures(&self, username: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let rows =
            sqlx::query("DELETE FROM sign_in_failures WHERE username = $1 RETURNING username")
                .bind(username)
                .fetch_all(&mut *tx)
                .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        journal::append_rows(
            &mut tx,
            &self.now(),
            &SIGN_IN,
            "sign_in_failures",
            JournalOp::Delete,
            &rows,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
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
        let at = format_timestamp(now);
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "DELETE FROM sign_in_failures WHERE last_failure_at < $1 \
             AND (locked_until IS NULL OR locked_until < $2) RETURNING username",
        )
        .bind(&cutoff)
        .bind(&at)
        .fetch_all(&mut *tx)
        .await?;
        let pruned = journal::append_rows(
            &mut tx,
            &at,
            &Actor::System { what: "prune" },
            "sign_in_failures",
            JournalOp::Delete,
            &rows,
        )
        .await?;
        tx.commit().await?;
        Ok(pruned)
    }
}
