//! The tenant's roles. A role's rights and visibility are what its holders may do and see,
//! so making, changing or deleting one is granting: the actor must hold every right and the
//! visibility the role holds now and will hold ([`Granter::may_handle`],
//! [`Granter::may_grant`]). Built-in roles keep their names, the administrator's grid is
//! fixed, and a role that users hold cannot be deleted (the store refuses those).

use crate::access::{role_detail, Granter};
use crate::audited::Audited;
use crate::{Actor, AppError, Ctx};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::RoleId;
use skjold_store::{NewRole, RolePatch, RoleRecord, StoreError};

/// Makes a role. Recorded as `role.created`.
pub async fn create(ctx: &Ctx<'_>, actor: &Actor, new: NewRole) -> Result<RoleRecord, AppError> {
    actor.require(skjold_domain::Right::RolesManage)?;
    actor.granter().may_grant(&new.rights, new.visibility)?;
    let role = ctx.db.planned_role(new)?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::RoleCreated,
        json!({ "before": null, "after": role_detail(&role) }),
    );
    event
        .db(ctx.db)
        .insert_role(&actor.journal(), &role)
        .await?;
    Ok(role)
}

/// Changes a role; answers it as it is afterwards. A change to the same values changes
/// nothing and records nothing. Recorded as `role.changed`.
pub async fn update(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &RoleId,
    patch: RolePatch,
) -> Result<RoleRecord, AppError> {
    actor.require(skjold_domain::Right::RolesManage)?;
    let before = find(ctx, id).await?;
    let granter: Granter<'_> = actor.granter();
    granter.may_handle(&before)?;
    granter.may_grant(
        patch.rights.as_deref().unwrap_or(&before.rights),
        patch.visibility.unwrap_or(before.visibility),
    )?;
    let (after, changed) = before.patched(patch)?;
    if changed.is_empty() {
        return Ok(after);
    }
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::RoleChanged,
        json!({ "before": role_detail(&before), "after": role_detail(&after) }),
    );
    event
        .db(ctx.db)
        .replace_role(&actor.journal(), &before, &after, changed)
        .await?;
    Ok(after)
}

/// Deletes one of the tenant's own roles that nobody holds; answers it as it was.
/// Recorded as `role.deleted`.
pub async fn delete(ctx: &Ctx<'_>, actor: &Actor, id: &RoleId) -> Result<RoleRecord, AppError> {
    actor.require(skjold_domain::Right::RolesManage)?;
    let role = find(ctx, id).await?;
    actor.granter().may_handle(&role)?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::RoleDeleted,
        json!({ "before": role_detail(&role), "after": null }),
    );
    Ok(event.db(ctx.db).delete_role(&actor.journal(), id).await?)
}

async fn find(ctx: &Ctx<'_>, id: &RoleId) -> Result<RoleRecord, AppError> {
    match ctx.db.role(id).await {
        Err(StoreError::NotFound) => Err(AppError::NotFound("no such role")),
        other => Ok(other?),
    }
}
