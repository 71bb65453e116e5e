//! API tokens: minting one (its name, scopes and expiry checked against the tenant's
//! limit; shown once, stored as a hash) and revoking one — for oneself, or by a user manager
//! for a service user. The API (`/me/tokens`, a service user's `/users/{id}/tokens`), the
//! web UI and the CLI all mint and revoke here. What a token may reach once made is the
//! server's `scopes` module.
//!
//! A token outlives the session it was made in, so minting one is a step-up action (a
//! password or second-factor check within the last minutes), and a user manager may mint
//! or revoke only for a service user whose role they hold.

use crate::audited::Audited;
use crate::users::may_act_on;
use crate::{step_up, Actor, AppError, Ctx};
use serde::{Deserialize, Serialize};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::{FieldErrors, Right};
use skjold_store::{ApiToken, NewApiToken, StoreError, User, UserKind, UserStatus};
use utoipa::ToSchema;

/// The resources a scope can name (`all` names every one).
pub const RESOURCES: &[&str] = &[
    "companies",
    "persons",
    "activities",
    "sales",
    "users",
    "roles",
    "teams",
    "audit",
    "settings",
];

/// Checks a scope's spelling; the message names what is wrong.
pub fn check_scope(scope: &str) -> Result<(), String> {
    let Some((resource, access)) = scope.split_once(':') else {
        return Err(format!(
            "'{scope}' is not <resource>:read or <resource>:write"
        ));
    };
    if access != "read" && access != "write" {
        return Err(format!("'{scope}': the access is read or write"));
    }
    if resource != "all" && !RESOURCES.contains(&resource) {
        return Err(format!(
            "'{scope}': the resource is all or one of {}",
            RESOURCES.join(", ")
        ));
    }
    Ok(())
}

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

/// Whose tokens an action touches.
#[derive(Debug, Clone, Copy)]
pub enum Whose<'a> {
    /// The actor's own (a signed-in user: the operator has none).
    Own,
    /// A service user's, by id: for a holder of `users.manage` who holds its role. A person
    /// makes their own tokens; nobody makes them for them.
    ServiceUser(&'a str),
}

async fn owner_for(ctx: &Ctx<'_>, actor: &Actor, whose: Whose<'_>) -> Result<User, AppError> {
    let id = match whose {
        Whose::Own => match actor.user() {
            Some(me) => return Ok(me.clone()),
            None => return Err(AppError::Forbidden("the operator has no API tokens".into())),
        },
        Whose::ServiceUser(id) => id,
    };
    let owner = match ctx.db.user(id).await {
        Err(StoreError::NotFound) => return Err(AppError::NotFound("no such user")),
        other => other?,
    };
    actor.require(Right::UsersManage)?;
    if owner.kind != UserKind::Service {
        return Err(AppError::Conflict(
            "API tokens are made by administrators only for service users; a person makes \
             their own under /me/tokens"
                .into(),
        ));
    }
    may_act_on(ctx, actor, &owner).await?;
    Ok(owner)
}

/// Mints a token: the actor's own, or a service user's they manage. Needs a recent password
/// or second-factor check. Recorded as `api_token.created`.
pub async fn mint(
    ctx: &Ctx<'_>,
    actor: &Actor,
    whose: Whose<'_>,
    body: NewTokenBody,
) -> Result<CreatedToken, AppError> {
    let owner = owner_for(ctx, actor, whose).await?;
    step_up::require_recent(actor, ctx.clock.now())?;
    if owner.status != UserStatus::Active {
        return Err(AppError::Conflict(
            "the service user is disabled: enable it first".into(),
        ));
    }
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
        if let Err(m) = check_scope(s) {
            errs.add(format!("scopes[{i}]"), m);
        }
    }
    let now = ctx.clock.now();
    let max_days = crate::settings::sessions(ctx.db)
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
    let token = crate::credentials::new_api_token();
    let id = ctx.db.new_record_id();
    let expires_at = format_timestamp(expires);
    let mut detail = json!({
        "token_id": id, "name": name, "scopes": scopes, "expires_at": expires_at,
    });
    if !actor.is(&owner) {
        detail["for_user_id"] = owner.id.clone().into();
        detail["for_username"] = owner.username.clone().into();
    }
    let event = Audited::new(ctx, actor, AuditKind::ApiTokenCreated, detail);
    let created = event
        .db(ctx.db)
        .create_api_token(NewApiToken {
            id: &id,
            user_id: &owner.id,
            name: &name,
            token_hash: &crate::credentials::hash_token(&token),
            scopes: &scopes,
            expires_at: &expires_at,
        })
        .await?;
    event.finish().await?;
    Ok(CreatedToken {
        view: TokenView::new(created, now),
        token,
    })
}

/// Revokes a token — the actor's own, or a service user's they manage: it stops working at
/// once. Recorded as `api_token.revoked`.
pub async fn revoke(
    ctx: &Ctx<'_>,
    actor: &Actor,
    whose: Whose<'_>,
    token_id: &str,
) -> Result<(), AppError> {
    let owner = owner_for(ctx, actor, whose).await?;
    let mut detail = json!({ "token_id": token_id });
    if !actor.is(&owner) {
        detail["for_user_id"] = owner.id.clone().into();
        detail["for_username"] = owner.username.clone().into();
    }
    let event = Audited::new(ctx, actor, AuditKind::ApiTokenRevoked, detail);
    if !event
        .db(ctx.db)
        .delete_api_token(&owner.id, token_id)
        .await?
    {
        return Err(AppError::NotFound("no such token"));
    }
    event.finish().await
}
