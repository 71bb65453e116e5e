//! The CRM records: companies, persons, activities and sales. Reading, writing, deleting
//! and exporting them, for the API, the web UI and anything later (imports, integrations).
//!
//! Each action checks the right that follows from the record type and the access
//! (`persons.write`, …), and reads or writes within the actor's [`Sight`]: a record outside
//! it answers like one that does not exist, and a write may link only to records, and hand
//! a record only to owners, within it (the store enforces both in the writing transaction).
//! Every write is journaled by the store as the record's history. An export takes records
//! away in bulk, so it is a security event (`records.exported`) recorded before the first
//! record leaves.

use crate::audited::Audited;
use crate::{Actor, AppError, Ctx};
use serde_json::{json, Map, Value};
use skjold_domain::audit::AuditKind;
use skjold_domain::crm::{Entity, EntityKind};
use skjold_domain::rights::Access;
use skjold_domain::Right;
use skjold_store::{HistoryEntry, ListQuery, Page, Sight, MAX_LIMIT};

/// Which records the actor sees: a user's role's visibility; everything for the operator.
pub fn sight(actor: &Actor) -> Sight {
    match actor {
        Actor::User { user, grant, .. } => Sight::of(&user.id, grant.visibility),
        Actor::Operator => Sight::everything(),
    }
}

fn require(actor: &Actor, kind: EntityKind, access: Access) -> Result<(), AppError> {
    actor.require(Right::on(kind, access))
}

/// A page of the records of type `E` that `query` matches within the actor's sight.
pub async fn list<E: Entity>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    query: &ListQuery,
) -> Result<Page<E>, AppError> {
    require(actor, E::KIND, Access::Read)?;
    Ok(ctx.db.list::<E>(&sight(actor), query).await?)
}

/// One record, if the actor may see it.
pub async fn get<E: Entity>(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<E, AppError> {
    require(actor, E::KIND, Access::Read)?;
    Ok(ctx.db.get::<E>(&sight(actor), id).await?)
}

/// Creates a record; its links and owner must lie within the actor's sight.
pub async fn create<E: Entity>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    input: E::Input,
) -> Result<E, AppError> {
    require(actor, E::KIND, Access::Write)?;
    Ok(ctx
        .db
        .create::<E>(&sight(actor), &actor.journal(), input)
        .await?)
}

/// Changes some fields of a record the actor sees (`null` clears an optional field);
/// answers it as it is afterwards.
pub async fn update<E: Entity>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
    patch: Map<String, Value>,
) -> Result<E, AppError> {
    require(actor, E::KIND, Access::Write)?;
    Ok(ctx
        .db
        .update::<E>(&sight(actor), &actor.journal(), id, patch)
        .await?)
}

/// Deletes a record the actor sees. A record with links is refused ([`AppError::Conflict`]
/// naming them) unless `cascade`, which deletes the linked records too; the actor needs the
/// delete right of the record's type.
pub async fn delete(
    ctx: &Ctx<'_>,
    actor: &Actor,
    kind: EntityKind,
    id: &str,
    cascade: bool,
) -> Result<(), AppError> {
    require(actor, kind, Access::Delete)?;
    Ok(ctx
        .db
        .delete(&sight(actor), &actor.journal(), kind, id, cascade)
        .await?)
}

/// A record's changes, oldest first. The history of a record outside the actor's sight is as
/// unknown as the record; a deleted record's history (which ends with its deletion) stays
/// for those who see everything.
pub async fn history<E: Entity>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    id: &str,
) -> Result<Vec<HistoryEntry>, AppError> {
    require(actor, E::KIND, Access::Read)?;
    let sight = sight(actor);
    if !sight.sees_everything() {
        ctx.db.get::<E>(&sight, id).await?;
    }
    let items = ctx.db.history(E::KIND.name(), id).await?;
    if items.is_empty() {
        return Err(AppError::NotFound("no such record"));
    }
    Ok(items)
}

/// An export that was accepted and recorded: its first page, read before anything is sent,
/// and what reads the rest.
pub struct Export<E> {
    pub first: Page<E>,
    /// The query of the following pages (the first page's cursor goes into it).
    pub query: ListQuery,
    pub sight: Sight,
}

/// Starts exporting every record of type `E` that `query` matches within the actor's sight
/// (its limit and cursor are ignored), in `format` (as the event names it). The first page
/// is read first, so that a bad filter is refused before anything is recorded; then
/// `records.exported` is recorded, or the export is refused. Needs `export` and the read
/// right of the type.
pub async fn export<E: Entity>(
    ctx: &Ctx<'_>,
    actor: &Actor,
    mut query: ListQuery,
    format: &str,
) -> Result<Export<E>, AppError> {
    actor.require(Right::Export)?;
    require(actor, E::KIND, Access::Read)?;
    query.limit = Some(MAX_LIMIT);
    query.cursor = None;
    let sight = sight(actor);
    let first = ctx.db.list::<E>(&sight, &query).await?;
    Audited::new(
        ctx,
        actor,
        AuditKind::RecordsExported,
        export_detail(E::KIND, format, &query),
    )
    .finish()
    .await?;
    Ok(Export {
        first,
        query,
        sight,
    })
}

/// What an export event records: the record type, the format and the filters, so an
/// auditor sees what left.
fn export_detail(kind: EntityKind, format: &str, query: &ListQuery) -> Value {
    let filters: Map<String, Value> = query
        .filters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "type": kind.table(),
        "format": format,
        "q": query.q,
        "filters": filters,
        "sort": query.sort.as_str(),
    })
}
