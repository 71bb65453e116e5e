//! Teams: a role with `team` visibility shows its holders the records owned by anyone who
//! shares a team with them. Reading teams needs `users.read`; changing them or their members
//! needs `users.manage` (membership widens what people see, like assigning a role). Every
//! change is a security event with the team before and after.

use super::{parse_id, RecordPath, TenantPath};
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, UsersManage, UsersRead};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use skjold_app::Via;
use skjold_domain::double_option;
use skjold_store::{StoreError, Team, TeamMember, TeamPatch};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct TeamView {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    description: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        TeamView {
            id: t.id,
            name: t.name,
            description: t.description,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamList {
    items: Vec<TeamView>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    #[schema(format = Uuid)]
    user_id: String,
    username: String,
    display_name: Option<String>,
    #[schema(format = DateTime)]
    added_at: String,
}

impl From<TeamMember> for MemberView {
    fn from(m: TeamMember) -> Self {
        MemberView {
            user_id: m.user_id,
            username: m.username,
            display_name: m.display_name,
            added_at: m.added_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    items: Vec<MemberView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeamBody {
    /// 1–100 characters, unique in the tenant.
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[schema(format = Uuid)]
    user_id: String,
}

/// `{tenant}`, a team's `{id}` and a member's `{user_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct MemberPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The team's id.
    #[param(format = Uuid)]
    id: String,
    /// The member's user id.
    #[param(format = Uuid)]
    user_id: String,
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound("no such team"),
        other => other.into(),
    }
}

/// A team id from the path, checked before it reaches the database (422 when malformed,
/// like a record's).
fn team_id(raw: &str) -> Result<String, ApiError> {
    parse_id(raw)
}

/// List the teams.
#[utoipa::path(get, path = "/teams", tag = "teams", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The teams, by name", body = TeamList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_teams(auth: Authorized<UsersRead>) -> Result<Json<TeamList>, ApiError> {
    let items = auth.db().list_teams().await?;
    Ok(Json(TeamList {
        items: items.into_iter().map(TeamView::from).collect(),
    }))
}

/// Create a team.
#[utoipa::path(post, path = "/teams", tag = "teams", params(TenantPath), security(("bearer" = [])),
    request_body = NewTeamBody,
    responses(
        (status = 201, description = "Created; `Location` names it", body = TeamView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "A team of this name exists", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn create_team(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    ApiJson(body): ApiJson<NewTeamBody>,
) -> Result<(StatusCode, HeaderMap, Json<TeamView>), ApiError> {
    let team = skjold_app::teams::create(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &body.name,
        body.description,
    )
    .await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/{}/api/v1/teams/{}", auth.db().slug(), team.id))
    {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(team.into())))
}

/// One team.
#[utoipa::path(get, path = "/teams/{id}", tag = "teams", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The team", body = TeamView),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such team", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn get_team(
    auth: Authorized<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<TeamView>, ApiError> {
    let team = auth.db().team(&team_id(&id)?).await.map_err(not_found)?;
    Ok(Json(team.into()))
}

/// Rename a team or change its description.
#[utoipa::path(patch, path = "/teams/{id}", tag = "teams", params(RecordPath), security(("bearer" = [])),
    request_body = TeamChange,
    responses(
        (status = 200, description = "The updated team", body = TeamView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such team", body = crate::error::Problem),
        (status = 409, description = "A team of this name exists", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named", body = crate::error::Problem)))]
async fn update_team(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<TeamChange>,
) -> Result<Json<TeamView>, ApiError> {
    let id = team_id(&id)?;
    let after = skjold_app::teams::update(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        TeamPatch {
            name: body.name,
            description: body.description,
        },
    )
    .await?;
    Ok(Json(after.into()))
}

/// Delete a team; its members leave it.
#[utoipa::path(delete, path = "/teams/{id}", tag = "teams", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such team", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn delete_team(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = team_id(&id)?;
    skjold_app::teams::delete(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team's members.
#[utoipa::path(get, path = "/teams/{id}/members", tag = "teams", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The members, by username", body = MemberList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such team", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn list_members(
    auth: Authorized<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<MemberList>, ApiError> {
    let id = team_id(&id)?;
    auth.db().team(&id).await.map_err(not_found)?;
    let items = auth.db().team_members(&id).await?;
    Ok(Json(MemberList {
        items: items.into_iter().map(MemberView::from).collect(),
    }))
}

/// Add a user to the team. Adding a member again changes nothing (204 as well).
#[utoipa::path(post, path = "/teams/{id}/members", tag = "teams", params(RecordPath), security(("bearer" = [])),
    request_body = NewMember,
    responses(
        (status = 204, description = "The user is a member"),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such team", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Malformed id, or `user_id` names no user", body = crate::error::Problem)))]
async fn add_member(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<StatusCode, ApiError> {
    let id = team_id(&id)?;
    auth.db().team(&id).await.map_err(not_found)?;
    let user_id = uuid::Uuid::try_parse(&body.user_id)
        .map(|u| u.to_string())
        .map_err(|_| {
            ApiError::from(skjold_domain::FieldErrors::single(
                "user_id",
                "is not a valid id",
            ))
        })?;
    skjold_app::teams::add_member(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user from the team.
#[utoipa::path(delete, path = "/teams/{id}/members/{user_id}", tag = "teams", params(MemberPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage", body = crate::error::Problem),
        (status = 404, description = "No such team, or the user is not a member", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn remove_member(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id, user_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = team_id(&id)?;
    let user_id = parse_id(&user_id)?;
    auth.db().team(&id).await.map_err(not_found)?;
    skjold_app::teams::remove_member(&auth.ctx(&state, ip), &auth.acting(Via::Api), &id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(list_members, add_member))
        .routes(routes!(remove_member))
}
