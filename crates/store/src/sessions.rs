//! Server-side sessions. The store sees only token hashes; the tokens themselves exist only
//! in the client and, briefly, in the request that carries one.

use crate::users::User;
use crate::{StoreError, TenantDb};
use chrono::Duration;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use sqlx::Row;

#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub user: User,
    pub created_at: String,
    pub expires_at: String,
    /// Signed in with a password only, by a user who must enrol a second factor first:
    /// good for the enrolment routes only.
    pub restricted: bool,
    /// When the user last proved who they are in this session (sign-in or a step-up
    /// check); `None` for a request with an API token, which never counts as recent.
    pub verified_at: Option<String>,
}

/// A session as its owner lists it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub token_hash: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// How stale `last_seen_at` may get before a request writes it again: saves a write per
/// request at the cost of this much slack in the idle timeout.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// What [`TenantDb::end_access`] ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndedAccess {
    pub sessions: u64,
    pub api_tokens: u64,
    pub invites: u64,
}

impl TenantDb {
    /// Starts a session and returns when it expires at the latest.
    pub async fn create_session(
        &self,
        user_id: &str,
        token_hash: &str,
        timeouts: SessionTimeouts,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<String, StoreError> {
        self.create_session_restricted(user_id, token_hash, timeouts, ip, user_agent, false)
            .await
    }

    /// Starts a session that may be restricted to enrolling a second factor.
    pub async fn create_session_restricted(
        &self,
        user_id: &str,
        token_hash: &str,
        timeouts: SessionTimeouts,
        ip: Option<&str>,
        user_agent: Option<&str>,
        restricted: bool,
    ) -> Result<String, StoreError> {
        let now = self.clock.now();
        let expires = format_timestamp(now + timeouts.absolute);
        let now = format_timestamp(now);
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, restricted) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(&now)
        .bind(&expires)
        .bind(ip)
        .bind(user_agent.map(|u| u.chars().take(300).collect::<String>()))
        .bind(i64::from(restricted))
        .execute(&mut *tx)
        .await?;
        // The sign-in's audit event, when the caller gave one, is recorded before the commit.
        self.commit(tx).await?;
        Ok(expires)
    }

    /// The live session for a token hash, with its (active) user. An expired session is
    /// deleted and not returned.
    pub async fn session(
        &self,
        token_hash: &str,
        timeouts: SessionTimeouts,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.created_at AS s_created, s.last_seen_at, s.expires_at, s.restricted, \
             s.verified_at, \
             u.id, u.username, u.display_name, u.email, u.phone, u.role, u.status, u.kind, \
             u.created_at, u.updated_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = self.clock.now();
        let last_seen: String = row.try_get("last_seen_at")?;
        let expires_at: String = row.try_get("expires_at")?;
        let last_seen = parse_timestamp(&last_seen)
            .ok_or_else(|| StoreError::Corrupt("session last_seen_at".into()))?;
        let expires = parse_timestamp(&expires_at)
            .ok_or_else(|| StoreError::Corrupt("session expires_at".into()))?;
        let user = crate::users::user_from_row(&row)?;
        if now >= expires
            || now - last_seen >= timeouts.idle
            || user.status != crate::UserStatus::Active
        {
            self.delete_session(token_hash).await?;
            return Ok(None);
        }
        if now - last_seen >= TOUCH_EVERY {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(format_timestamp(now))
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
        }
        let created_at: String = row.try_get("s_created")?;
        let verified_at: Option<String> = row.try_get("verified_at")?;
        Ok(Some(Session {
            token_hash: token_hash.to_string(),
            user,
            verified_at: Some(verified_at.unwrap_or_else(|| created_at.clone())),
            created_at,
            expires_at,
            restricted: row.try_get::<i64, _>("restricted")? != 0,
        }))
    }

    /// Deletes the sessions that have ended by `timeouts` (past their absolute end, or idle
    /// too long) but were never presented again, which would have deleted them; answers how
    /// many. A session keeps its user's address and browser, so it is not kept longer than
    /// it is good for.
    pub async fn delete_ended_sessions(
        &self,
        timeouts: SessionTimeouts,
    ) -> Result<u64, StoreError> {
        let now = self.clock.now();
        // Timestamps are fixed-width UTC text, so they compare as they sort.
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(format_timestamp(now))
            .bind(format_timestamp(now - timeouts.idle))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// A user's sessions (including expired ones not yet cleaned up), newest first.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_seen_at, expires_at, ip, user_agent \
             FROM sessions WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    token_hash: row.try_get("token_hash")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Ends all of a user's sessions but `keep` (a token hash); answers how many ended.
    pub async fn delete_sessions_of(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(done.rows_affected())
    }

    /// Ends everything through which a user is in without their password: their sessions
    /// (but `keep`), their API tokens and their open invitation, in one transaction.
    /// Passkeys and TOTP stay: they are factors of a sign-in, not ways in.
    pub async fn end_access(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<EndedAccess, StoreError> {
        let mut tx = self.write_tx().await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let revoked = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 RETURNING id")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
        let api_tokens = crate::journal::append_rows(
            &mut tx,
            &self.now(),
            &crate::journal::Actor::System { what: "end-access" },
            "api_tokens",
            crate::journal::JournalOp::Delete,
            &revoked,
        )
        .await?;
        let invites = crate::invites::revoke_invites_in(&mut tx, user_id).await?;
        self.commit(tx).await?;
        Ok(EndedAccess {
            sessions,
            api_tokens,
            invites,
        })
    }

    /// Records a step-up check of the session's user now.
    pub async fn mark_session_verified(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET verified_at = $1 WHERE token_hash = $2")
            .bind(self.now())
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
