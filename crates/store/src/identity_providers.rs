//! Single sign-on's tables: the tenant's OpenID Connect providers, the links from a
//! provider's accounts to users, and the sign-ins sent to a provider and not back yet.
//!
//! Providers and links are journaled like credentials (a restore brings back who could sign
//! in how, and history never shows them); the sign-ins under way are not backed up.

use crate::journal::{self, Actor, JournalOp};
use crate::{NewUser, StoreError, TenantDb, User};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A provider as stored. The client secret is sealed (see `skjold_app::sealed`): this type
/// never holds it readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    pub id: String,
    /// `entra`, `google` or `oidc`.
    pub kind: String,
    pub name: String,
    pub client_id: String,
    pub sealed_secret: String,
    /// The issuer the provider's tokens must name.
    pub issuer: String,
    /// Entra ID: the directory (tenant) id the tokens' `tid` must equal.
    pub directory_id: Option<String>,
    /// Google: the Workspace domains the tokens' `hd` must be one of.
    pub hosted_domains: Vec<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    pub require_mfa: bool,
    /// With `require_mfa`: the `amr` values that prove a second factor.
    pub mfa_amr: Vec<String>,
    /// With `require_mfa`: an `acr` value that proves it too.
    pub mfa_acr: Option<String>,
    /// The role of users made on first sign-in; `None`: nobody is made.
    pub jit_role: Option<String>,
    /// Users linked to this provider sign in only through it.
    pub sso_only: bool,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A provider's account that signs in as a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub provider_id: String,
    pub subject: String,
    pub issuer: String,
    pub user_id: String,
    pub email: Option<String>,
    pub created_at: String,
}

/// A sign-in sent to a provider: what the callback needs to finish it.
#[derive(Debug, Clone)]
pub struct SsoFlow {
    pub state_hash: String,
    pub provider_id: String,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

/// At most this many sign-ins may be under way in a tenant at once: an unauthenticated
/// client that starts sign-ins in a loop fills this, not the disk.
pub const MAX_PENDING_FLOWS: i64 = 10_000;

const COLUMNS: &str = "id, kind, name, client_id, client_secret, issuer, directory_id, \
     hosted_domains, scopes, require_mfa, mfa_amr, mfa_acr, jit_role, sso_only, enabled, \
     created_at, updated_at";

fn list(row: &AnyRow, col: &str) -> Result<Vec<String>, StoreError> {
    let raw: String = row.try_get(col)?;
    serde_json::from_str(&raw)
        .map_err(|e| StoreError::Corrupt(format!("identity_providers.{col}: {e}")))
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn provider_from_row(row: &AnyRow) -> Result<IdentityProvider, StoreError> {
    let flag = |col: &str| -> Result<bool, StoreError> { Ok(row.try_get::<i64, _>(col)? != 0) };
    Ok(IdentityProvider {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        client_id: row.try_get("client_id")?,
        sealed_secret: row.try_get("client_secret")?,
        issuer: row.try_get("issuer")?,
        directory_id: row.try_get("directory_id")?,
        hosted_domains: list(row, "hosted_domains")?,
        scopes: list(row, "scopes")?,
        require_mfa: flag("require_mfa")?,
        mfa_amr: list(row, "mfa_amr")?,
        mfa_acr: row.try_get("mfa_acr")?,
        jit_role: row.try_get("jit_role")?,
        sso_only: flag("sso_only")?,
        enabled: flag("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn link_from_row(row: &AnyRow) -> Result<IdentityLink, StoreError> {
    Ok(IdentityLink {
        provider_id: row.try_get("provider_id")?,
        subject: row.try_get("subject")?,
        issuer: row.try_get("issuer")?,
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
    })
}

fn name_taken(e: &sqlx::Error, name: &str) -> Option<StoreError> {
    StoreError::is_unique_violation(e).then(|| {
        StoreError::Conflict(format!(
            "an identity provider named '{name}' exists already"
        ))
    })
}

const LINK_KEY: fn(&str, &str) -> [Value; 2] =
    |provider, subject| [Value::from(provider), Value::from(subject)];

impl TenantDb {
    /// Every provider, by name.
    pub async fn identity_providers(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_providers ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(provider_from_row).collect()
    }

    pub async fn identity_provider(&self, id: &str) -> Result<IdentityProvider, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_providers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        provider_from_row(&row)
    }

    /// Stores a new provider (its id and times already set by the caller).
    pub async fn insert_identity_provider(
        &self,
        actor: &Actor,
        p: &IdentityProvider,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO identity_providers ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(&p.id)
        .bind(&p.kind)
        .bind(&p.name)
        .bind(&p.client_id)
        .bind(&p.sealed_secret)
        .bind(&p.issuer)
        .bind(&p.directory_id)
        .bind(json_list(&p.hosted_domains))
        .bind(json_list(&p.scopes))
        .bind(i64::from(p.require_mfa))
        .bind(json_list(&p.mfa_amr))
        .bind(&p.mfa_acr)
        .bind(&p.jit_role)
        .bind(i64::from(p.sso_only))
        .bind(i64::from(p.enabled))
        .bind(&p.created_at)
        .bind(&p.updated_at)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(name_taken(&e, &p.name).unwrap_or(e.into()));
        }
        journal::append_row(
            &mut tx,
            &p.created_at,
            actor,
            "identity_providers",
            &[Value::from(p.id.as_str())],
            JournalOp::Create,
        )
        .await?;
        self.commit(tx).await
    }

    /// Stores `after` in place of `before`, provided nobody changed the provider meanwhile
    /// (its `updated_at` is still `before`'s): a lost update is a conflict, not silent.
    pub async fn replace_identity_provider(
        &self,
        actor: &Actor,
        before: &IdentityProvider,
        after: &IdentityProvider,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE identity_providers SET name = $1, client_id = $2, client_secret = $3, \
             issuer = $4, directory_id = $5, hosted_domains = $6, scopes = $7, require_mfa = $8, \
             mfa_amr = $9, mfa_acr = $10, jit_role = $11, sso_only = $12, enabled = $13, \
             updated_at = $14 WHERE id = $15 AND updated_at = $16",
        )
        .bind(&after.name)
        .bind(&after.client_id)
        .bind(&after.sealed_secret)
        .bind(&after.issuer)
        .bind(&after.directory_id)
        .bind(json_list(&after.hosted_domains))
        .bind(json_list(&after.scopes))
        .bind(i64::from(after.require_mfa))
        .bind(json_list(&after.mfa_amr))
        .bind(&after.mfa_acr)
        .bind(&after.jit_role)
        .bind(i64::from(after.sso_only))
        .bind(i64::from(after.enabled))
        .bind(&after.updated_at)
        .bind(&before.id)
        .bind(&before.updated_at)
        .execute(&mut *tx)
        .await;
        match updated {
            Err(e) => return Err(name_taken(&e, &after.name).unwrap_or(e.into())),
            Ok(done) if done.rows_affected() == 0 => {
                return Err(StoreError::Conflict(format!(
                    "the identity provider '{}' was changed or deleted meanwhile; reload it and try again",
                    before.name
                )))
            }
            Ok(_) => {}
        }
        journal::append_row(
            &mut tx,
            &after.updated_at,
            actor,
            "identity_providers",
            &[Value::from(after.id.as_str())],
            JournalOp::Update,
        )
        .await?;
        self.commit(tx).await
    }

    /// Deletes a provider and its links; answers whether it existed.
    pub async fn delete_identity_provider(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let links = sqlx::query(
            "DELETE FROM identity_links WHERE provider_id = $1 RETURNING provider_id, subject",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        journal::append_rows(
            &mut tx,
            &now,
            actor,
            "identity_links",
            JournalOp::Delete,
            &links,
        )
        .await?;
        let done = sqlx::query("DELETE FROM identity_providers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        journal::append_row(
            &mut tx,
            &now,
            actor,
            "identity_providers",
            &[Value::from(id)],
            JournalOp::Delete,
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The users with this e-mail address (compared without regard to case).
    pub async fn users_with_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM users WHERE LOWER(email) = LOWER($1) ORDER BY id LIMIT 5",
            crate::users::COLUMNS
        ))
        .bind(email.trim())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::users::user_from_row).collect()
    }

    /// The user a provider's account is linked to, if any.
    pub async fn identity_link(
        &self,
        provider_id: &str,
        subject: &str,
    ) -> Result<Option<IdentityLink>, StoreError> {
        let row = sqlx::query(
            "SELECT provider_id, subject, issuer, user_id, email, created_at \
             FROM identity_links WHERE provider_id = $1 AND subject = $2",
        )
        .bind(provider_id)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// A user's links, oldest first.
    pub async fn identity_links_of(&self, user_id: &str) -> Result<Vec<IdentityLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT provider_id, subject, issuer, user_id, email, created_at \
             FROM identity_links WHERE user_id = $1 ORDER BY created_at, provider_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Links a provider's account to an existing user. A user has one link per provider,
    /// an account one user: either taken already is a conflict.
    pub async fn link_identity(
        &self,
        actor: &Actor,
        link: &IdentityLink,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        insert_link(&mut tx, actor, link).await?;
        self.commit(tx).await
    }

    /// Makes a user and links the provider's account to them, in one transaction
    /// (just-in-time creation at a first sign-in).
    pub async fn create_linked_user(
        &self,
        actor: &Actor,
        new: NewUser,
        link: &IdentityLink,
    ) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let user = self.insert_user(&mut tx, actor, new).await?;
        insert_link(&mut tx, actor, link).await?;
        self.commit(tx).await?;
        Ok(user)
    }

    /// Removes a user's link to a provider; answers whether there was one.
    pub async fn unlink_identity(
        &self,
        actor: &Actor,
        provider_id: &str,
        user_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "DELETE FROM identity_links WHERE provider_id = $1 AND user_id = $2 \
             RETURNING provider_id, subject",
        )
        .bind(provider_id)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        let now = self.now();
        journal::append_rows(
            &mut tx,
            &now,
            actor,
            "identity_links",
            JournalOp::Delete,
            &rows,
        )
        .await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// Records a sign-in sent to a provider. Expired ones are dropped on the way; when
    /// [`MAX_PENDING_FLOWS`] are under way anyway, the new one is refused (`false`).
    pub async fn insert_sso_flow(&self, flow: &SsoFlow) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM sso_flows WHERE expires_at <= $1")
            .bind(&flow.created_at)
            .execute(&mut *tx)
            .await?;
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sso_flows")
            .fetch_one(&mut *tx)
            .await?;
        if pending >= MAX_PENDING_FLOWS {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sso_flows (state_hash, provider_id, browser_hash, nonce, pkce_verifier, \
             next_path, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&flow.state_hash)
        .bind(&flow.provider_id)
        .bind(&flow.browser_hash)
        .bind(&flow.nonce)
        .bind(&flow.pkce_verifier)
        .bind(&flow.next_path)
        .bind(&flow.created_at)
        .bind(&flow.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes the sign-in whose state hashes to `state_hash`: it is deleted in the same
    /// statement, so a state is answered once however many callbacks race.
    pub async fn take_sso_flow(&self, state_hash: &str) -> Result<Option<SsoFlow>, StoreError> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "DELETE FROM sso_flows WHERE state_hash = $1 RETURNING state_hash, provider_id, \
             browser_hash, nonce, pkce_verifier, next_path, created_at, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SsoFlow {
            state_hash: row.try_get("state_hash")?,
            provider_id: row.try_get("provider_id")?,
            browser_hash: row.try_get("browser_hash")?,
            nonce: row.try_get("nonce")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            next_path: row.try_get("next_path")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}

async fn insert_link(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &Actor,
    link: &IdentityLink,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO identity_links (provider_id, subject, issuer, user_id, email, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&link.provider_id)
    .bind(&link.subject)
    .bind(&link.issuer)
    .bind(&link.user_id)
    .bind(&link.email)
    .bind(&link.created_at)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if StoreError::is_unique_violation(&e) => {
            return Err(StoreError::Conflict(
                "this account or this user is linked to the provider already".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    journal::append_row(
        tx,
        &link.created_at,
        actor,
        "identity_links",
        &LINK_KEY(&link.provider_id, &link.subject),
        JournalOp::Create,
    )
    .await
}
