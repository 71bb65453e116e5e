//! The actions one user takes on another's account: create it, change their details, role
//! or status, reset their password, end their access, require a second factor of them, lift
//! a sign-in lock on their name. All of them need `users.manage`.
//!
//! Each one first checks that the actor holds the target's role ([`may_act_on`]): a user
//! manager cannot touch an account above their own, whatever the action — a password reset
//! or an e-mail change is as good as a takeover.

use crate::access::{self, Granter};
use crate::audited::Audited;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::{Right, UserKind, Username};
use skjold_store::{EndedAccess, NewUser, RoleRecord, User, UserPatch, UserStatus};

/// How a new user gets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstAccess {
    /// A person with this password (the tenant's policy applies).
    Password(String),
    /// A person with a generated one-time password, shown once.
    OneTimePassword,
    /// A person who sets their own password through an invitation link (issued next, by
    /// [`crate::invites::issue`]).
    Invite,
    /// A service user: no password, API tokens only.
    Service,
}

/// A new account. Details are parsed by the adapter; `role` names a role by id or name.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: Username,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: String,
    pub access: FirstAccess,
}

/// A created account, with its role and the one-time password to show once.
#[derive(Debug)]
pub struct Created {
    pub user: User,
    pub role: RoleRecord,
    pub one_time_password: Option<String>,
}

/// Creates a user. The actor must hold every right and the visibility of the role they
/// give; a chosen password must pass the tenant's policy. Recorded as `user.created`.
pub async fn create(ctx: &Ctx<'_>, actor: &Actor, new: NewAccount) -> Result<Created, AppError> {
    actor.require(Right::UsersManage)?;
    let role = access::find_role(ctx.db, &new.role).await?;
    may_give_role(actor.granter(), &role)?;
    let (password, one_time_password) = match &new.access {
        FirstAccess::Password(p) => {
            crate::password::check_new_password(ctx.db, ctx.tenant, new.username.as_str(), None, p)
                .await?;
            (Some(p.clone()), None)
        }
        FirstAccess::OneTimePassword => {
            let policy = crate::password::policy(ctx.db).await?;
            let p = crate::password::generate_password(
                &policy,
                new.username.as_str(),
                &[ctx.tenant.slug.as_str(), ctx.tenant.display_name.as_str()],
            )
            .map_err(|v| {
                AppError::Internal(format!("no one-time password passes the policy: {v}"))
            })?;
            (Some(p.clone()), Some(p))
        }
        FirstAccess::Invite | FirstAccess::Service => (None, None),
    };
    let password_hash = match password {
        Some(p) => Some(crate::credentials::hash_password(p).await?),
        None => None,
    };
    let kind = match new.access {
        FirstAccess::Service => UserKind::Service,
        _ => UserKind::Person,
    };
    let id = ctx.db.new_record_id();
    let mut detail = json!({
        "user_id": id, "username": new.username.as_str(), "role": role.id.as_str(),
        "role_name": role.name, "kind": kind,
    });
    if matches!(actor, Actor::Operator) {
        detail["by"] = "cli".into();
    }
    let event = Audited::new(ctx, actor, AuditKind::UserCreated, detail);
    let created = event
        .db(ctx.db)
        .create_user(
            &actor.journal(),
            NewUser {
                id,
                username: new.username,
                display_name: new.display_name,
                email: new.email,
                phone: new.phone,
                role: role.id.clone(),
                kind,
                password_hash,
            },
        )
        .await;
    let user = created?;
    Ok(Created {
        user,
        role,
        one_time_password,
    })
}

/// Refuses an action of `actor` on `target` unless the actor holds the target's role (an
/// operator holds everything).
pub async fn may_act_on(ctx: &Ctx<'_>, actor: &Actor, target: &User) -> Result<(), AppError> {
    match access::check_admit(ctx.db, actor.granter(), target).await {
        Ok(()) => Ok(()),
        Err(access::AccessError::Escalation(why)) => Err(AppError::Forbidden(format!(
            "you may act only on users whose role you hold yourself; {} has {why}",
            target.username
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A change of a user's details, role or status. Details are parsed by the adapter
/// (`display_name`, `email`, `phone` of the patch); `role` names a role by id or name.
#[derive(Debug, Default)]
pub struct UserChange {
    pub details: UserPatch,
    pub role: Option<String>,
    pub status: Option<UserStatus>,
}

/// Changes a user. Recorded as `user.disabled`, `user.enabled`, `user.role_changed` or
/// `user.changed`.
pub async fn change(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
    change: UserChange,
) -> Result<User, AppError> {
    actor.require(Right::UsersManage)?;
    let current = ctx.db.user(id).await?;
    may_act_on(ctx, actor, &current).await?;
    let role = match &change.role {
        Some(r) => Some(access::find_role(ctx.db, r).await?),
        None => None,
    };
    access::check_user_change(
        ctx.db,
        actor.granter(),
        &current,
        role.as_ref(),
        change.status,
    )
    .await?;
    let new_role = role
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or(current.role.clone());
    let new_status = change.status.unwrap_or(current.status);
    // A change of rights or of who may sign in is a use of system rights: its own event.
    let kind = if new_status != current.status {
        if new_status == UserStatus::Disabled {
            AuditKind::UserDisabled
        } else {
            AuditKind::UserEnabled
        }
    } else if new_role != current.role {
        AuditKind::UserRoleChanged
    } else {
        AuditKind::UserChanged
    };
    let detail = json!({
        "user_id": current.id, "username": current.username,
        "role": {
            "from": current.role.as_str(), "to": new_role.as_str(),
            "from_name": access::role_name(ctx.db, &current.role).await?,
            "to_name": match &role { Some(r) => r.name.clone(), None => access::role_name(ctx.db, &new_role).await? },
        },
        "status": { "from": current.status.as_str(), "to": new_status.as_str() },
    });
    let event = Audited::new(ctx, actor, kind, detail);
    let mut patch = change.details;
    patch.role = role.map(|r: RoleRecord| r.id);
    patch.status = change.status;
    let updated = event
        .db(ctx.db)
        .update_user(&actor.journal(), id, patch)
        .await?;
    event.finish().await?;
    Ok(updated)
}

/// Resets a user's password: `chosen`, checked against the tenant's policy, or one made
/// to fit it (answered, to be shown once). Ends the user's sessions (but the actor's own)
/// and their open invitation. Recorded as `user.password_reset`.
pub async fn reset_password(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
    chosen: Option<String>,
) -> Result<Option<String>, AppError> {
    actor.require(Right::UsersManage)?;
    let user = ctx.db.user(id).await?;
    may_act_on(ctx, actor, &user).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UserPasswordReset,
        json!({ "user_id": user.id, "username": user.username }),
    );
    let made = crate::password::reset(
        &event.db(ctx.db),
        ctx.tenant,
        &actor.journal(),
        &user,
        chosen,
        actor.own_credential_if(&user),
    )
    .await?;
    Ok(made)
}

/// Ends every way `id` is in without signing in again: their sessions (but the actor's own),
/// their API tokens and their open invitation. Their passkeys and authenticator stay: those
/// are factors of a sign-in, not ways in. Recorded as `user.sessions_revoked`.
pub async fn end_access(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<EndedAccess, AppError> {
    actor.require(Right::UsersManage)?;
    let user = ctx.db.user(id).await?;
    may_act_on(ctx, actor, &user).await?;
    let keep = actor.own_credential_if(&user);
    // What is about to end, for the event (written before the commit that ends it).
    let sessions = ctx
        .db
        .sessions_of(&user.id)
        .await?
        .iter()
        .filter(|s| Some(s.token_hash.as_str()) != keep)
        .count();
    let api_tokens = ctx.db.api_tokens_of(&user.id).await?.len();
    let invites = usize::from(ctx.db.invite_of(&user.id).await?.is_some());
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UserSessionsRevoked,
        json!({
            "user_id": user.id, "username": user.username,
            "ended": sessions, "api_tokens": api_tokens, "invites": invites,
        }),
    );
    let ended = event.db(ctx.db).end_access(&user.id, keep).await?;
    Ok(ended)
}

/// Requires (or stops requiring) a second factor of one user. Recorded as
/// `users.two_factor_required` when it changes.
pub async fn require_two_factor(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
    required: bool,
) -> Result<bool, AppError> {
    actor.require(Right::UsersManage)?;
    let user = ctx.db.user(id).await?;
    may_act_on(ctx, actor, &user).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UsersTwoFactorRequired,
        json!({ "user": user.id, "username": user.username, "required": required }),
    );
    // The event is recorded by the commit, so only when the demand changes.
    Ok(event
        .db(ctx.db)
        .set_two_factor_required(&actor.journal(), id, required)
        .await?)
}

/// Lifts the sign-in lock on a name: it may sign in again at once, and its count of locks
/// starts afresh. A name that belongs to a user is theirs: lifting it is acting on them.
/// Recorded as `auth.lock_lifted`.
pub async fn lift_lock(ctx: &Ctx<'_>, actor: &Actor, typed: &str) -> Result<(), AppError> {
    actor.require(Right::UsersManage)?;
    let name = typed.trim().to_lowercase();
    if let Ok(username) = skjold_domain::Username::parse(&name) {
        if let Some((user, _)) = ctx.db.user_for_sign_in(&username).await? {
            may_act_on(ctx, actor, &user).await?;
        }
    }
    if ctx.db.sign_in_lock(&name).await?.is_none() {
        return Err(AppError::NotFound(
            "no sign-in failures recorded for that name",
        ));
    }
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::AuthLockLifted,
        json!({ "username": name }),
    );
    // Clearing is one statement without a transaction of its own: record first.
    event.finish().await?;
    ctx.db.clear_sign_in_failures(&name).await?;
    Ok(())
}

/// Whether `granter` may give a new user `role` (the rule behind creating and inviting).
pub fn may_give_role(granter: Granter<'_>, role: &RoleRecord) -> Result<(), AppError> {
    Ok(access::check_new_user_role(granter, role)?)
}
