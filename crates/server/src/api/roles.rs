//! The tenant's roles: the built-in ones and its own, each a set of rights plus a record
//! visibility. Reading them needs `users.read` (whoever assigns roles must see them);
//! changing them needs `roles.manage`, and nobody makes or edits a role that holds more than
//! they do. Every change is a security event with the role before and after.

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, RolesManage, UsersRead};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use skjold_app::{roles, Via};
use skjold_domain::{double_option, Right, RoleId, Visibility};
use skjold_store::{NewRole, RolePatch, RoleRecord};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    /// A built-in role's id is its name; a tenant's own role has a UUID.
    id: String,
    name: String,
    description: Option<String>,
    rights: Vec<Right>,
    visibility: Visibility,
    /// Built-in roles cannot be deleted or renamed; the administrator cannot be changed.
    builtin: bool,
    /// How many users hold the role.
    users: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    items: Vec<RoleView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoleBody {
    /// 1–64 characters, unique in the tenant.
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Rights you hold yourself.
    rights: Vec<Right>,
    /// At most your own visibility.
    visibility: Visibility,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    /// The complete new set of rights.
    #[serde(default)]
    rights: Option<Vec<Right>>,
    #[serde(default)]
    visibility: Option<Visibility>,
}

/// `{tenant}` and a role's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct RolePath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The role's id: a UUID, or a built-in role's name (`administrator`, `manager`,
    /// `user`, `read-only`).
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|administrator|manager|user|read-only)$"
    )]
    id: String,
}

/// A role id from the path: a UUID or a built-in role's name, nothing else reaches the
/// database.
fn role_id(raw: &str) -> Result<RoleId, ApiError> {
    let id = RoleId::new(raw);
    if id.builtin().is_some() {
        return Ok(id);
    }
    uuid::Uuid::try_parse(raw)
        .map(|u| RoleId::new(u.to_string()))
        .map_err(|_| ApiError::NotFound("no such role"))
}

async fn view(auth_db: &skjold_store::TenantDb, r: RoleRecord) -> Result<RoleView, ApiError> {
    let users = auth_db.users_with_role(&r.id).await?;
    Ok(RoleView {
        id: r.id.as_str().to_string(),
        name: r.name,
        description: r.description,
        rights: r.rights,
        visibility: r.visibility,
        builtin: r.builtin,
        users,
    })
}

fn not_found(e: skjold_store::StoreError) -> ApiError {
    match e {
        skjold_store::StoreError::NotFound => ApiError::NotFound("no such role"),
        other => other.into(),
    }
}

/// List the roles: the built-in ones first, then the tenant's own by name.
#[utoipa::path(get, path = "/roles", tag = "roles", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The roles", body = RoleList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_roles(auth: Authorized<UsersRead>) -> Result<Json<RoleList>, ApiError> {
    let mut items = Vec::new();
    for r in auth.db().list_roles().await? {
        items.push(view(auth.db(), r).await?);
    }
    Ok(Json(RoleList { items }))
}

/// Create a role. Its rights and visibility must be within your own.
#[utoipa::path(post, path = "/roles", tag = "roles", params(TenantPath), security(("bearer" = [])),
    request_body = NewRoleBody,
    responses(
        (status = 201, description = "Created; `Location` names it", body = RoleView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks roles.manage, or the role would hold rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "A role of this name exists", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn create_role(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<RolesManage>,
    ApiJson(body): ApiJson<NewRoleBody>,
) -> Result<(StatusCode, HeaderMap, Json<RoleView>), ApiError> {
    let role = roles::create(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        NewRole {
            name: body.name,
            description: body.description,
            rights: body.rights,
            visibility: body.visibility,
        },
    )
    .await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/{}/api/v1/roles/{}", auth.db().slug(), role.id))
    {
        headers.insert(header::LOCATION, v);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(view(auth.db(), role).await?),
    ))
}

/// One role.
#[utoipa::path(get, path = "/roles/{id}", tag = "roles", params(RolePath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such role", body = crate::error::Problem)))]
async fn get_role(
    auth: Authorized<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<RoleView>, ApiError> {
    let role = auth.db().role(&role_id(&id)?).await.map_err(not_found)?;
    Ok(Json(view(auth.db(), role).await?))
}

/// Change a role. You must hold both what it holds now and what it will hold; built-in
/// roles keep their names, and the administrator's rights and visibility are fixed.
#[utoipa::path(patch, path = "/roles/{id}", tag = "roles", params(RolePath), security(("bearer" = [])),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The updated role", body = RoleView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks roles.manage, or the role holds or would hold rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such role", body = crate::error::Problem),
        (status = 409, description = "The name is taken, or the administrator role cannot change", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn update_role(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<RolesManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<Json<RoleView>, ApiError> {
    let after = roles::update(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &role_id(&id)?,
        RolePatch {
            name: body.name,
            description: body.description,
            rights: body.rights,
            visibility: body.visibility,
        },
    )
    .await?;
    Ok(Json(view(auth.db(), after).await?))
}

/// Delete one of the tenant's own roles. A role that users hold cannot be deleted (409
/// says how many hold it); built-in roles cannot be deleted.
#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", params(RolePath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks roles.manage, or the role holds rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such role", body = crate::error::Problem),
        (status = 409, description = "Built in, or held by users (the detail says how many)", body = crate::error::Problem)))]
async fn delete_role(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<RolesManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    roles::delete(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &role_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}
