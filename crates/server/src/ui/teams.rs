//! Admin → Teams: the tenant's teams and their members. Holders of `users.read` see them;
//! `users.manage` changes them (membership widens what `team` roles show, like assigning a
//! role). Every change is an audit event, as through the API (`api/teams.rs`).

use super::auth::{Post, UiAuth};
use super::error::shown_refusal;
use super::{render, Chrome, UiError};
use crate::extract::{Requirement, UsersManage, UsersRead};
use crate::AppState;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_app::{teams, AppError};
use skjold_domain::Right;
use skjold_store::{Team, TeamMember, TeamPatch};

pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: usize,
}

pub struct Candidate {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "admin_teams.html")]
pub struct TeamsPage {
    pub chrome: Chrome,
    pub can_manage: bool,
    pub teams: Vec<TeamRow>,
    pub name: String,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_team.html")]
pub struct TeamPage {
    pub chrome: Chrome,
    pub can_manage: bool,
    pub team: Team,
    pub members: Vec<TeamMember>,
    /// Users who are not members yet.
    pub candidates: Vec<Candidate>,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_team_delete.html")]
pub struct TeamDeletePage {
    pub chrome: Chrome,
    pub team: Team,
}

fn team_id(raw: &str) -> Result<String, UiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| UiError::NotFound)
}

/// A refusal the team pages show above their form; anything else is an error page.
fn refusal_message(e: AppError) -> Result<(String, StatusCode), UiError> {
    match e {
        AppError::Conflict(m) => Ok((m, StatusCode::CONFLICT)),
        AppError::Invalid(f) => Ok((
            f.0.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        other => Err(other.into()),
    }
}

async fn list_page<R: Requirement>(
    auth: &UiAuth<R>,
    name: String,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let mut teams = Vec::new();
    for t in auth.db().list_teams().await? {
        let members = auth.db().team_members(&t.id).await?.len();
        teams.push(TeamRow {
            id: t.id,
            name: t.name,
            description: t.description.unwrap_or_default(),
            members,
        });
    }
    render(
        status,
        &TeamsPage {
            chrome: Chrome::new(auth, "admin", "Teams"),
            can_manage: auth.can(Right::UsersManage),
            teams,
            name,
            errors,
        },
    )
}

async fn list(auth: UiAuth<UsersRead>) -> Result<Response, UiError> {
    list_page(&auth, String::new(), Vec::new(), StatusCode::OK).await
}

async fn create(post: Post<UsersManage>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let name = form.text("name");
    let description = Some(form.text("description"));
    match skjold_app::teams::create(&auth.ctx(), &auth.acting(), &name, description).await {
        Ok(team) => {
            Ok(Redirect::to(&format!("/{}/admin/teams/{}", auth.slug(), team.id)).into_response())
        }
        Err(e) => {
            let (message, status) = refusal_message(e)?;
            list_page(&auth, name, vec![message], status).await
        }
    }
}

async fn team_page<R: Requirement>(
    auth: &UiAuth<R>,
    team: Team,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let members = auth.db().team_members(&team.id).await?;
    let candidates = auth
        .db()
        .list_users()
        .await?
        .into_iter()
        .filter(|u| !members.iter().any(|m| m.user_id == u.id))
        .map(|u| Candidate {
            label: match u.display_name {
                Some(n) => format!("{n} ({})", u.username),
                None => u.username,
            },
            id: u.id,
        })
        .collect();
    render(
        status,
        &TeamPage {
            chrome: Chrome::new(auth, "admin", team.name.clone()),
            can_manage: auth.can(Right::UsersManage),
            team,
            members,
            candidates,
            errors,
        },
    )
}

async fn show(
    auth: UiAuth<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let team = auth.db().team(&team_id(&id)?).await?;
    team_page(&auth, team, Vec::new(), StatusCode::OK).await
}

async fn update(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = team_id(&id)?;
    let patch = TeamPatch {
        name: Some(form.text("name")),
        description: Some(Some(form.text("description"))),
    };
    match skjold_app::teams::update(&auth.ctx(), &auth.acting(), &id, patch).await {
        Ok(_) => Ok(Redirect::to(&format!("/{}/admin/teams/{id}", auth.slug())).into_response()),
        Err(AppError::NotFound(_)) => Err(UiError::NotFound),
        Err(e) => {
            let (message, status) = refusal_message(e)?;
            let team = auth.db().team(&id).await?;
            team_page(&auth, team, vec![message], status).await
        }
    }
}

async fn add_member(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let team = auth.db().team(&team_id(&id)?).await?;
    let user_id = form.text("user_id");
    if uuid::Uuid::try_parse(&user_id).is_err() {
        return team_page(
            &auth,
            team,
            vec!["Choose a user to add.".into()],
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match teams::add_member(&auth.ctx(), &auth.acting(), &team.id, &user_id).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/{}/admin/teams/{}", auth.slug(), team.id)).into_response())
        }
        Err(e) => {
            let (message, status) = shown_refusal(e)?;
            team_page(&auth, team, vec![message], status).await
        }
    }
}

async fn remove_member(
    Path((_, id, user_id)): Path<(String, String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let team = auth.db().team(&team_id(&id)?).await?;
    let user_id = team_id(&user_id)?;
    if let Err(e) = teams::remove_member(&auth.ctx(), &auth.acting(), &team.id, &user_id).await {
        let (message, status) = shown_refusal(e)?;
        return team_page(&auth, team, vec![message], status).await;
    }
    Ok(Redirect::to(&format!("/{}/admin/teams/{}", auth.slug(), team.id)).into_response())
}

async fn delete_form(
    auth: UiAuth<UsersManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let team = auth.db().team(&team_id(&id)?).await?;
    render(
        StatusCode::OK,
        &TeamDeletePage {
            chrome: Chrome::new(&auth, "admin", format!("Delete {}", team.name)),
            team,
        },
    )
}

async fn delete(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    skjold_app::teams::delete(&auth.ctx(), &auth.acting(), &team_id(&id)?).await?;
    Ok(Redirect::to(&format!("/{}/admin/teams", auth.slug())).into_response())
}

/// A GET of an action's address (after signing in again): show the team.
fn to_team(tenant: &str, id: &str) -> Response {
    match skjold_domain::TenantSlug::parse(tenant) {
        Ok(slug) if uuid::Uuid::try_parse(id).is_ok() => {
            Redirect::to(&format!("/{slug}/admin/teams/{id}")).into_response()
        }
        _ => UiError::NotFound.into_response(),
    }
}

async fn back_to_team(Path((tenant, id)): Path<(String, String)>) -> Response {
    to_team(&tenant, &id)
}

async fn back_from_member(Path((tenant, id, _)): Path<(String, String, String)>) -> Response {
    to_team(&tenant, &id)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/teams", get(list).post(create))
        .route("/{tenant}/admin/teams/{id}", get(show).post(update))
        .route(
            "/{tenant}/admin/teams/{id}/delete",
            get(delete_form).post(delete),
        )
        .route(
            "/{tenant}/admin/teams/{id}/members",
            get(back_to_team).merge(post(add_member)),
        )
        .route(
            "/{tenant}/admin/teams/{id}/members/{user_id}/remove",
            get(back_from_member).merge(post(remove_member)),
        )
}
