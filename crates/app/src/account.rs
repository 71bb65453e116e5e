//! A signed-in user's own account: their personal details, their password and their
//! sessions. Nobody else's account is reachable here (that is [`crate::users`], which needs
//! `users.manage`); what these actions need instead is the user themselves, and for a new
//! e-mail address — where a password reset would go — a recent password or second-factor
//! check ([`crate::step_up`]).

use crate::audited::Audited;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_store::{User, UserPatch};

/// The signed-in user the actor is; an operator has no account of their own.
fn me(actor: &Actor) -> Result<&User, AppError> {
    actor.user().ok_or_else(|| {
        AppError::Forbidden("only a signed-in user changes their own account".into())
    })
}

/// Changes the actor's display name, e-mail address or phone number (parsed by the
/// adapter); answers the account as it is afterwards. A new e-mail address needs a recent
/// check. Recorded as `user.profile_updated` with the names of the fields that changed; a
/// patch that changes nothing records nothing.
pub async fn update_details(
    ctx: &Ctx<'_>,
    actor: &Actor,
    patch: UserPatch,
) -> Result<User, AppError> {
    let user = me(actor)?;
    let changes = |new: &Option<Option<String>>, old: &Option<String>| {
        new.as_ref().is_some_and(|v| v.as_deref() != old.as_deref())
    };
    let changed: Vec<&str> = [
        (
            "display_name",
            changes(&patch.display_name, &user.display_name),
        ),
        ("email", changes(&patch.email, &user.email)),
        ("phone", changes(&patch.phone, &user.phone)),
    ]
    .into_iter()
    .filter_map(|(field, changes)| changes.then_some(field))
    .collect();
    if changed.is_empty() {
        return Ok(ctx.db.user(&user.id).await?);
    }
    if changed.contains(&"email") {
        crate::step_up::require_recent(actor, ctx.clock.now())?;
    }
    // Only personal details: a role or status in the patch is not the user's to change.
    let patch = UserPatch {
        display_name: patch.display_name,
        email: patch.email,
        phone: patch.phone,
        ..UserPatch::default()
    };
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::UserProfileUpdated,
        json!({ "changed": changed }),
    );
    let after = event
        .db(ctx.db)
        .update_user(&actor.journal(), &user.id, patch)
        .await?;
    event.finish().await?;
    Ok(after)
}

/// Sets the actor's new password, once the adapter has checked the current one (which
/// counts toward the lockout: `crate`'s sign-in rules). The tenant's policy and password
/// history apply; every other session of the user ends, the one that made the change
/// stays. Recorded as `user.password_changed`.
pub async fn change_password(
    ctx: &Ctx<'_>,
    actor: &Actor,
    new_password: String,
) -> Result<(), AppError> {
    let user = me(actor)?;
    crate::password::check_new_password(
        ctx.db,
        ctx.tenant,
        &user.username,
        Some(&user.id),
        &new_password,
    )
    .await?;
    let hash = crate::credentials::hash_password(new_password).await?;
    let keep = actor.own_credential_if(user);
    let event = Audited::new(ctx, actor, AuditKind::UserPasswordChanged, json!({}));
    event
        .db(ctx.db)
        .set_password_hash(&actor.journal(), &user.id, &hash, keep)
        .await?;
    Ok(())
}

/// Ends one of the actor's sessions by its public id (the current one too: that signs
/// out); `false` when they have no such session. Recorded as `auth.session_revoked`.
pub async fn end_session(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<bool, AppError> {
    let user = me(actor)?;
    for session in ctx.db.sessions_of(&user.id).await? {
        let public_id = crate::credentials::session_id(&session.token_hash);
        if crate::credentials::tokens_equal(&public_id, id) {
            // Deleting a session is one statement without a transaction: record first.
            Audited::new(
                ctx,
                actor,
                AuditKind::AuthSessionRevoked,
                json!({ "session": public_id }),
            )
            .finish()
            .await?;
            ctx.db.delete_session(&session.token_hash).await?;
            return Ok(true);
        }
    }
    Ok(false)
}
