//! Second factors beyond the TOTP secret itself: passkeys (WebAuthn credentials), the state
//! of a WebAuthn ceremony between its two requests, the server's own per-tenant keys, the
//! per-user two-factor demand, and managing TOTP (turning it off, new recovery codes).
//!
//! The store keeps a passkey's credential as opaque JSON: what it means is the server's
//! business (webauthn-rs), the store only finds it by id, credential id or user.

use crate::journal::{self, Actor, Change, JournalOp};
use crate::totp::{delete_recovery_codes_in, delete_totp_in, insert_recovery_codes_in, owner};
use crate::{StoreError, TenantDb};
use serde_json::Value;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use sqlx::Row;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    pub id: String,
    pub user_id: String,
    /// The WebAuthn credential id, base64url without padding.
    pub cred_id: String,
    pub name: String,
    /// The relying-party library's record of the credential, JSON.
    pub credential: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A WebAuthn ceremony's server-side state, taken back once by its token's hash.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub kind: String,
    pub user_id: Option<String>,
    /// The username as typed, for a ceremony that started from one (counted by the lockout).
    pub username: Option<String>,
    pub state: String,
}

const PASSKEY_COLUMNS: &str = "id, user_id, cred_id, name, credential, created_at, last_used_at";

fn passkey_from_row(row: &sqlx::any::AnyRow) -> Result<PasskeyRecord, StoreError> {
    Ok(PasskeyRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        cred_id: row.try_get("cred_id")?,
        name: row.try_get("name")?,
        credential: row.try_get("credential")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl TenantDb {
    /// A user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    /// The passkey with this WebAuthn credential id, whoever holds it.
    pub async fn passkey_by_cred_id(
        &self,
        cred_id: &str,
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE cred_id = $1"
        ))
        .bind(cred_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(passkey_from_row).transpose()
    }

    /// Stores a newly registered passkey. A credential id registered before (to anyone) is a
    /// conflict: WebAuthn requires the relying party to refuse it.
    pub async fn add_passkey(
        &self,
        user_id: &str,
        cred_id: &str,
        name: &str,
        credential: &str,
    ) -> Result<PasskeyRecord, StoreError> {
        let id = self.new_record_id();
        self.add_passkey_with_id(&id, user_id, cred_id, name, credential)
            .await
    }

    /// [`TenantDb::add_passkey`] with an id from [`TenantDb::new_record_id`], so that the
    /// action's audit event can name the passkey before it is written.
    pub async fn add_passkey_with_id(
        &self,
        id: &str,
        user_id: &str,
        cred_id: &str,
        name: &str,
        credential: &str,
    ) -> Result<PasskeyRecord, StoreError> {
        let record = PasskeyRecord {
            id: id.to_string(),
            user_id: user_id.to_string(),
            cred_id: cred_id.to_string(),
            name: name.to_string(),
            credential: credential.to_string(),
            created_at: self.now(),
            last_used_at: None,
        };
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "INSERT INTO passkeys (id, user_id, cred_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&record.id)
        .bind(&record.user_id)
        .bind(&record.cred_id)
        .bind(&record.name)
        .bind(&record.credential)
        .bind(&record.created_at)
        .execute(&mut *tx)
        .await;
        match done {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "this passkey is registered already".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        journal::append_row(
            &mut tx,
            &record.created_at,
            &owner(user_id),
            "passkeys",
            &[Value::from(record.id.as_str())],
            JournalOp::Create,
        )
        .await?;
        self.commit(tx).await?;
        Ok(record)
    }

    /// Renames one of the user's passkeys; another user's id is "not found".
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
    ) -> Result<PasskeyRecord, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        journal::append_row(
            &mut tx,
            &self.now(),
            &owner(user_id),
            "passkeys",
            &[Value::from(id)],
            JournalOp::Update,
        )
        .await?;
        self.commit(tx).await?;
        self.passkeys_of(user_id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(StoreError::NotFound)
    }

    /// Removes one of the user's passkeys; answers its name.
    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> Result<String, StoreError> {
        let mut tx = self.write_tx().await?;
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let name = name.ok_or(StoreError::NotFound)?;
        sqlx::query("DELETE FROM passkeys WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        journal::append_row(
            &mut tx,
            &self.now(),
            &owner(user_id),
            "passkeys",
            &[Value::from(id)],
            JournalOp::Delete,
        )
        .await?;
        self.commit(tx).await?;
        Ok(name)
    }

    /// Records a use: the credential's new state (counter, backup flags) and the time, in
    /// one compare-and-set statement: only if the stored credential is still `seen` (what
    /// the check read). Answers `false` when it had changed meanwhile (another sign-in with
    /// the same authenticator moved its counter first: a cloned authenticator, or a replay).
    pub async fn passkey_used(
        &self,
        id: &str,
        seen: &str,
        credential: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2 \
             WHERE id = $3 AND credential = $4 RETURNING id, user_id",
        )
        .bind(credential)
        .bind(&now)
        .bind(id)
        .bind(seen)
        .fetch_all(&mut *tx)
        .await?;
        let Some(row) = rows.first() else {
            tx.rollback().await?;
            return Ok(false);
        };
        let user_id: String = row.try_get("user_id")?;
        journal::append_row(
            &mut tx,
            &now,
            &owner(&user_id),
            "passkeys",
            &[Value::from(id)],
            JournalOp::Update,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keeps a ceremony's state until `expires_at` (and drops ceremonies that expired).
    /// With `at_most`, the ceremony is kept only while fewer than that many ceremonies of
    /// the same kinds are pending (for ceremonies that anyone may start without signing
    /// in, so that they cannot grow the table without bound); answers whether it was kept.
    pub async fn put_ceremony(
        &self,
        id_hash: &str,
        ceremony: &Ceremony,
        expires_at: chrono::DateTime<chrono::Utc>,
        at_most: Option<(&[&str], i64)>,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < $1")
            .bind(self.now())
            .execute(&self.pool)
            .await?;
        let insert = "INSERT INTO webauthn_ceremonies (id, kind, user_id, username, state, \
             expires_at) SELECT $1, $2, $3, $4, $5, $6";
        let done = match at_most {
            None => {
                sqlx::query(&format!("{insert} WHERE 1 = 1"))
                    .bind(id_hash)
                    .bind(&ceremony.kind)
                    .bind(&ceremony.user_id)
                    .bind(&ceremony.username)
                    .bind(&ceremony.state)
                    .bind(format_timestamp(expires_at))
                    .execute(&self.pool)
                    .await?
            }
            Some((kinds, max)) => {
                // One statement: the count and the insert together (concurrent requests
                // may overshoot by at most their number, never without bound).
                let list = (0..kinds.len())
                    .map(|i| format!("${}", i + 8))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "{insert} WHERE (SELECT COUNT(*) FROM webauthn_ceremonies \
                     WHERE kind IN ({list})) < $7"
                );
                let mut q = sqlx::query(&sql)
                    .bind(id_hash)
                    .bind(&ceremony.kind)
                    .bind(&ceremony.user_id)
                    .bind(&ceremony.username)
                    .bind(&ceremony.state)
                    .bind(format_timestamp(expires_at))
                    .bind(max);
                for k in kinds {
                    q = q.bind(*k);
                }
                q.execute(&self.pool).await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    /// How many ceremonies are pending (for tests and diagnostics).
    pub async fn pending_ceremonies(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webauthn_ceremonies")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Takes a ceremony's state, once: of two requests with one token only one gets it. An
    /// expired ceremony is gone.
    pub async fn take_ceremony(&self, id_hash: &str) -> Result<Option<Ceremony>, StoreError> {
        let row = sqlx::query(
            "SELECT kind, user_id, username, state, expires_at FROM webauthn_ceremonies \
             WHERE id = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let done = sqlx::query("DELETE FROM webauthn_ceremonies WHERE id = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let expires: String = row.try_get("expires_at")?;
        let expires = parse_timestamp(&expires)
            .ok_or_else(|| StoreError::Corrupt("ceremony expires_at".into()))?;
        if self.clock.now() >= expires {
            return Ok(None);
        }
        Ok(Some(Ceremony {
            kind: row.try_get("kind")?,
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
            state: row.try_get("state")?,
        }))
    }

    /// The server's key of this name for the tenant, made by `make` the first time. Two
    /// first requests at once agree on one key: the first insert wins, both read it back.
    pub async fn server_key(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(v) = found {
            return Ok(v);
        }
        sqlx::query(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(make())
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Turns TOTP off: the secret and the recovery codes go.
    pub async fn disable_totp(&self, user_id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        delete_totp_in(&mut tx, &now, user_id).await?;
        delete_recovery_codes_in(&mut tx, &now, user_id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Replaces the user's recovery codes (their hashes); the old ones stop working.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: &[String],
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        delete_recovery_codes_in(&mut tx, &now, user_id).await?;
        insert_recovery_codes_in(&mut tx, &now, user_id, code_hashes).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// How many of the user's recovery codes are still unused.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Whether an administrator required a second factor of this user in particular.
    pub async fn two_factor_required_flag(&self, user_id: &str) -> Result<bool, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT two_factor_required FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        v.map(|v| v != 0).ok_or(StoreError::NotFound)
    }

    /// Sets or clears the per-user demand (journaled like every change of a user). Answers
    /// whether it changed.
    pub async fn set_two_factor_required(
        &self,
        actor: &Actor,
        user_id: &str,
        required: bool,
    ) -> Result<bool, StoreError> {
        let user = self.user(user_id).await?;
        if self.two_factor_required_flag(user_id).await? == required {
            return Ok(false);
        }
        let now = self.now();
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE users SET two_factor_required = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(required))
            .bind(&now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let mut data = self.user_journal_data(&mut tx, &user).await?;
        data["updated_at"] = serde_json::Value::String(now.clone());
        data["two_factor_required"] = serde_json::Value::Bool(required);
        journal::append(
            &mut tx,
            &now,
            actor,
            Change {
                entity: "user",
                record_id: user_id,
                op: JournalOp::Update,
                changed: vec!["two_factor_required".into()],
                data: Some(data),
            },
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// Lifts a session's restriction once its user has enrolled a second factor.
    pub async fn unrestrict_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET restricted = 0 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
