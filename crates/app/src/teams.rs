//! Team membership. With team visibility, team mates see each other's records: adding
//! someone to a team widens what both they and the team's members see. So the actor must
//! hold the role of the user added or removed and of every member already in the team —
//! a user manager cannot put themselves or anyone else beside an administrator to read
//! the administrator's records.

use crate::audited::Audited;
use crate::users::may_act_on;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;

/// Adds `user_id` to the team; `false` when they were a member already. Recorded as
/// `team.member_added`.
pub async fn add_member(
    ctx: &Ctx<'_>,
    actor: &Actor,
    team_id: &str,
    user_id: &str,
) -> Result<bool, AppError> {
    let team = ctx.db.team(team_id).await?;
    let user = match ctx.db.user(user_id).await {
        Ok(u) => u,
        Err(skjold_store::StoreError::NotFound) => {
            return Err(skjold_domain::FieldErrors::single(
                "user_id",
                "no user with this id exists",
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    may_act_on(ctx, actor, &user).await?;
    for member in ctx.db.team_members(&team.id).await? {
        if member.user_id == user.id {
            return Ok(false);
        }
        let mate = ctx.db.user(&member.user_id).await?;
        may_act_on(ctx, actor, &mate).await.map_err(|e| match e {
            AppError::Forbidden(why) => AppError::Forbidden(format!(
                "team '{}' has a member whose role you do not hold, who would share records \
                 with the new member: {why}",
                team.name
            )),
            other => other,
        })?;
    }
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::TeamMemberAdded,
        json!({
            "team_id": team.id, "team": team.name, "user_id": user.id,
            "before": { "member": false }, "after": { "member": true },
        }),
    );
    Ok(event
        .db(ctx.db)
        .add_team_member(&actor.journal(), &team.id, &user.id)
        .await?)
}

/// Removes `user_id` from the team. Recorded as `team.member_removed`.
pub async fn remove_member(
    ctx: &Ctx<'_>,
    actor: &Actor,
    team_id: &str,
    user_id: &str,
) -> Result<(), AppError> {
    let team = ctx.db.team(team_id).await?;
    let user = ctx
        .db
        .user(user_id)
        .await
        .map_err(|_| AppError::NotFound("no such member"))?;
    may_act_on(ctx, actor, &user).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::TeamMemberRemoved,
        json!({
            "team_id": team.id, "team": team.name, "user_id": user.id,
            "before": { "member": true }, "after": { "member": false },
        }),
    );
    event
        .db(ctx.db)
        .remove_team_member(&actor.journal(), &team.id, &user.id)
        .await
        .map_err(|e| match e {
            skjold_store::StoreError::NotFound => AppError::NotFound("no such member"),
            other => other.into(),
        })?;
    Ok(())
}
