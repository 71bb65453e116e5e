//! API tokens: checking a new token's name, scopes and expiry against the tenant's limit,
//! and making it (shown once, stored as a hash). The API (`/me/tokens`, a service user's
//! `/users/{id}/tokens`), the web UI and the CLI all make tokens here; see
//! [`crate::scopes`] for what a token may reach.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::FieldErrors;
use skjold_store::{ApiToken, NewApiToken};
use utoipa::ToSchema;

/// Default lifetime of a token when `expires_at` is left out.
pub const DEFAULT_DAYS: i64 = 90;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// What the token is for, 1–100 characters.
    pub name: String,
    /// At least one of `<resource>:read` / `<resource>:write` with resource `all`,
    /// `companies`, `persons`, `activities`, `sales`, `users`, `roles`, `teams`, `audit` or
    /// `settings`.
    pub scopes: Vec<String>,
    /// When it stops working (RFC 3339); default 90 days, at most the tenant's
    /// `token_max_days` (default 365).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    /// Past its expiry: it no longer works.
    pub expired: bool,
}

impl TokenView {
    pub fn new(t: ApiToken, now: chrono::DateTime<chrono::Utc>) -> Self {
        let expired = parse_timestamp(&t.expires_at).is_none_or(|e| now >= e);
        TokenView {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            last_used_ip: t.last_used_ip,
            expired,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token: shown only now, stored only as a hash. Send it as
    /// `Authorization: Bearer <token>`.
    pub token: String,
}

/// Checks a new token's fields and makes it.
pub async fn create(
    clock: &dyn skjold_domain::Clock,
    db: &skjold_store::TenantDb,
    user_id: &str,
    body: NewTokenBody,
) -> Result<CreatedToken, ApiError> {
    let mut errs = FieldErrors::new();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errs.add("name", "has 1 to 100 characters and no control characters");
    }
    if body.scopes.is_empty() {
        errs.add(
            "scopes",
            "must name at least one scope, e.g. companies:read",
        );
    }
    for (i, s) in body.scopes.iter().enumerate() {
        if let Err(m) = crate::scopes::check_scope(s) {
            errs.add(format!("scopes[{i}]"), m);
        }
    }
    let now = clock.now();
    let max_days = crate::state::tenant_session_settings(db)
        .await?
        .token_max_days
        .unwrap_or(365);
    let expires = match &body.expires_at {
        None => Some(now + chrono::Duration::days(DEFAULT_DAYS.min(max_days))),
        Some(s) => match parse_timestamp(s) {
            None => {
                errs.add(
                    "expires_at",
                    "must be an RFC 3339 time, e.g. 2026-05-01T14:05:00Z",
                );
                None
            }
            Some(t) if t <= now => {
                errs.add("expires_at", "must be in the future");
                None
            }
            Some(t) if t > now + chrono::Duration::days(max_days) => {
                errs.add(
                    "expires_at",
                    format!("may be at most {max_days} days ahead (the tenant's limit)"),
                );
                None
            }
            Some(t) => Some(t),
        },
    };
    errs.into_result()?;
    let Some(expires) = expires else {
        return Err(FieldErrors::single("expires_at", "is not valid").into());
    };
    let mut scopes = body.scopes;
    scopes.sort();
    scopes.dedup();
    let token = skjold_app::credentials::new_api_token();
    let created = db
        .create_api_token(NewApiToken {
            user_id,
            name: &name,
            token_hash: &skjold_app::credentials::hash_token(&token),
            scopes: &scopes,
            expires_at: &format_timestamp(expires),
        })
        .await?;
    Ok(CreatedToken {
        view: TokenView::new(created, now),
        token,
    })
}
