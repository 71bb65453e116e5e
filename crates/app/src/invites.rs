//! Invitations: instead of a password that an administrator makes and passes on, a person
//! gets a one-time link and chooses their own password under the tenant's policy. Issuing
//! and withdrawing one are actions on another user's account, so the actor must hold
//! `users.manage` and the invitee's role; accepting one is the invitee's own (the server's
//! `invites` module, with its guessing limits).
//!
//! The token has 256 random bits and only its SHA-256 is stored. It works once, for
//! [`INVITE_DAYS`] days (by the injected clock), and a new invitation of the same user
//! replaces it. Until the invitee sets a password, they cannot sign in.

use crate::audited::Audited;
use crate::users::may_act_on;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::format_timestamp;
use skjold_domain::{Right, UserKind, UserStatus};
use skjold_store::{StoreError, User};

/// How long an invitation link works.
pub const INVITE_DAYS: i64 = 7;

/// An invitation just made. The token is shown only now (in the link).
#[derive(Debug, Clone)]
pub struct Invitation {
    pub token: String,
    pub expires_at: String,
}

/// Why an invitation cannot be made for a user.
pub fn refusal(user: &User) -> Option<&'static str> {
    if user.kind == UserKind::Service {
        return Some("a service user has no password to set: make API tokens for it instead");
    }
    if user.status == UserStatus::Disabled {
        return Some("the user is disabled: enable them before inviting them");
    }
    None
}

async fn invitee(ctx: &Ctx<'_>, actor: &Actor, user_id: &str) -> Result<User, AppError> {
    actor.require(Right::UsersManage)?;
    let user = match ctx.db.user(user_id).await {
        Err(StoreError::NotFound) => return Err(AppError::NotFound("no such user")),
        other => other?,
    };
    may_act_on(ctx, actor, &user).await?;
    Ok(user)
}

/// Makes (or replaces) a person's invitation. Recorded as `user.invited`.
pub async fn issue(ctx: &Ctx<'_>, actor: &Actor, user_id: &str) -> Result<Invitation, AppError> {
    let user = invitee(ctx, actor, user_id).await?;
    if let Some(why) = refusal(&user) {
        return Err(AppError::Conflict(why.into()));
    }
    let token = crate::credentials::new_token();
    let expires_at = format_timestamp(ctx.clock.now() + chrono::Duration::days(INVITE_DAYS));
    let created_by = actor.user().map_or("operator", |u| u.id.as_str());
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UserInvited,
        json!({ "user_id": user.id, "username": user.username, "expires_at": expires_at }),
    );
    event
        .db(ctx.db)
        .put_invite(
            &user.id,
            &crate::credentials::hash_token(&token),
            created_by,
            &expires_at,
        )
        .await?;
    event.finish().await?;
    Ok(Invitation { token, expires_at })
}

/// Withdraws a user's open invitation: its link stops working at once. Recorded as
/// `user.invite_withdrawn`.
pub async fn withdraw(ctx: &Ctx<'_>, actor: &Actor, user_id: &str) -> Result<(), AppError> {
    let user = invitee(ctx, actor, user_id).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UserInviteWithdrawn,
        json!({ "user_id": user.id, "username": user.username }),
    );
    if !event.db(ctx.db).revoke_invite(&user.id).await? {
        return Err(AppError::NotFound("no open invitation"));
    }
    event.finish().await
}
