//! Teams and their membership, for holders of `users.manage`. With team visibility, team
//! mates see each other's records: adding someone to a team widens what both they and the
//! team's members see. So the actor must hold the role of the user added or removed and of
//! every member already in the team — a user manager cannot put themselves or anyone else
//! beside an administrator to read the administrator's records.

use crate::audited::Audited;
use crate::users::may_act_on;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::Right;
use skjold_store::{StoreError, Team, TeamPatch};

/// A team as its events record it.
fn team_detail(team: &Team) -> serde_json::Value {
    json!({ "id": team.id, "name": team.name, "description": team.description })
}

async fn find(ctx: &Ctx<'_>, id: &str) -> Result<Team, AppError> {
    match ctx.db.team(id).await {
        Err(StoreError::NotFound) => Err(AppError::NotFound("no such team")),
        other => Ok(other?),
    }
}

/// Makes a team. Recorded as `team.created`.
pub async fn create(
    ctx: &Ctx<'_>,
    actor: &Actor,
    name: &str,
    description: Option<String>,
) -> Result<Team, AppError> {
    actor.require(Right::UsersManage)?;
    let team = ctx.db.planned_team(name, description)?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::TeamCreated,
        json!({ "before": null, "after": team_detail(&team) }),
    );
    event
        .db(ctx.db)
        .insert_team(&actor.journal(), &team)
        .await?;
    Ok(team)
}

/// Renames a team or changes its description; answers it as it is afterwards. A change to
/// the same values changes nothing and records nothing. Recorded as `team.changed`.
pub async fn update(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
    patch: TeamPatch,
) -> Result<Team, AppError> {
    actor.require(Right::UsersManage)?;
    let before = find(ctx, id).await?;
    let (after, changed) = ctx.db.patched_team(&before, patch)?;
    if changed.is_empty() {
        return Ok(after);
    }
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::TeamChanged,
        json!({ "before": team_detail(&before), "after": team_detail(&after) }),
    );
    event
        .db(ctx.db)
        .replace_team(&actor.journal(), &after, changed)
        .await?;
    Ok(after)
}

/// Deletes a team; its members leave it (which narrows what team visibility shows them, so
/// it needs no role check of its own). Recorded as `team.deleted` with the members it had.
pub async fn delete(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<Team, AppError> {
    actor.require(Right::UsersManage)?;
    let team = find(ctx, id).await?;
    let members: Vec<String> = ctx
        .db
        .team_members(&team.id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let mut before = team_detail(&team);
    before["members"] = json!(members);
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::TeamDeleted,
        json!({ "before": before, "after": null }),
    );
    match event
        .db(ctx.db)
        .delete_team(&actor.journal(), &team.id)
        .await
    {
        Err(StoreError::NotFound) => Err(AppError::NotFound("no such team")),
        other => Ok(other.map(|(team, _)| team)?),
    }
}

/// Adds `user_id` to the team; `false` when they were a member already. Recorded as
/// `team.member_added`.
pub async fn add_member(
    ctx: &Ctx<'_>,
    actor: &Actor,
    team_id: &str,
    user_id: &str,
) -> Result<bool, AppError> {
    actor.require(Right::UsersManage)?;
    let team = find(ctx, team_id).await?;
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
    actor.require(Right::UsersManage)?;
    let team = find(ctx, team_id).await?;
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
