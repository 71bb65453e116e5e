//! Admin → Roles: the tenant's roles, each a set of rights (a checkbox grid) and a record
//! visibility; create, edit, delete with confirmation. The API's rules (`api/roles.rs`,
//! `crate::access`): only holders of `roles.manage`, nobody grants what they do not hold,
//! built-in roles stay and the administrator does not change.

use super::auth::{FormData, Post, UiAuth};
use super::error::shown_refusal;
use super::role_labels::{right_label, role_title, visibility_label};
use super::{render, Chrome, UiError};
use crate::extract::{Requirement, RolesManage};
use crate::AppState;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use skjold_app::roles;
use skjold_domain::{Right, RoleId, Visibility};
use skjold_store::{NewRole, RolePatch, RoleRecord, StoreError};

/// The record kinds of the grid's rows, with their rights for read, write and delete.
const GRID: &[(&str, [Right; 3])] = &[
    (
        "Companies",
        [
            Right::CompaniesRead,
            Right::CompaniesWrite,
            Right::CompaniesDelete,
        ],
    ),
    (
        "Persons",
        [
            Right::PersonsRead,
            Right::PersonsWrite,
            Right::PersonsDelete,
        ],
    ),
    (
        "Activities",
        [
            Right::ActivitiesRead,
            Right::ActivitiesWrite,
            Right::ActivitiesDelete,
        ],
    ),
    (
        "Sales",
        [Right::SalesRead, Right::SalesWrite, Right::SalesDelete],
    ),
    (
        "Documents",
        [
            Right::DocumentsRead,
            Right::DocumentsWrite,
            Right::DocumentsDelete,
        ],
    ),
];

/// The rights that are not about one kind of record.
const OTHER: &[Right] = &[
    Right::UsersRead,
    Right::UsersManage,
    Right::RolesManage,
    Right::SettingsManage,
    Right::AuditRead,
    Right::BackupRestore,
    Right::Export,
];

pub struct Check {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

pub struct GridRow {
    pub kind: &'static str,
    pub cells: Vec<Check>,
}

pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rights: String,
    pub visibility: &'static str,
    pub users: i64,
    pub builtin: bool,
}

/// The fields of a role's form, as stored or as submitted.
pub struct RoleForm {
    pub name: String,
    pub description: String,
    pub grid: Vec<GridRow>,
    pub other: Vec<Check>,
    pub visibility: Vec<Check>,
    /// The administrator's rights and visibility cannot change; built-in names stay.
    pub fixed: bool,
    pub builtin: bool,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
pub struct RolesPage {
    pub chrome: Chrome,
    pub roles: Vec<RoleRow>,
    pub form: RoleForm,
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_role.html")]
pub struct RolePage {
    pub chrome: Chrome,
    pub id: String,
    pub title: String,
    pub users: i64,
    pub form: RoleForm,
    pub errors: Vec<String>,
    pub saved: bool,
}

#[derive(Template)]
#[template(path = "admin_role_delete.html")]
pub struct RoleDeletePage {
    pub chrome: Chrome,
    pub id: String,
    pub title: String,
    pub error: Option<String>,
}

fn role_form(
    name: &str,
    description: &str,
    rights: &[Right],
    visibility: Visibility,
    builtin: bool,
    fixed: bool,
) -> RoleForm {
    let check = |r: Right, label: &'static str| Check {
        value: r.as_str(),
        label,
        checked: rights.contains(&r),
    };
    RoleForm {
        name: name.to_string(),
        description: description.to_string(),
        grid: GRID
            .iter()
            .map(|(kind, [read, write, delete])| GridRow {
                kind,
                cells: vec![
                    check(*read, "read"),
                    check(*write, "write"),
                    check(*delete, "delete"),
                ],
            })
            .collect(),
        other: OTHER.iter().map(|r| check(*r, right_label(*r))).collect(),
        visibility: Visibility::ALL
            .iter()
            .map(|v| Check {
                value: v.as_str(),
                label: visibility_label(*v),
                checked: *v == visibility,
            })
            .collect(),
        fixed,
        builtin,
    }
}

fn stored_form(r: &RoleRecord) -> RoleForm {
    role_form(
        &r.name,
        r.description.as_deref().unwrap_or(""),
        &r.rights,
        r.visibility,
        r.builtin,
        r.id.is_administrator(),
    )
}

/// What a submitted form asks for; unknown values are errors (a forged form).
struct Submitted {
    name: String,
    description: String,
    rights: Vec<Right>,
    visibility: Option<Visibility>,
}

fn submitted(form: &FormData, errors: &mut Vec<String>) -> Submitted {
    let mut rights = Vec::new();
    for (k, v) in &form.0 {
        if k == "rights" {
            match Right::parse(v) {
                Ok(r) => rights.push(r),
                Err(e) => errors.push(e),
            }
        }
    }
    let visibility = match Visibility::parse(&form.text("visibility")) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push("Choose which records the role shows.".into());
            None
        }
    };
    Submitted {
        name: form.text("name"),
        description: form.text("description"),
        rights,
        visibility,
    }
}

impl Submitted {
    fn form(&self, builtin: bool, fixed: bool) -> RoleForm {
        role_form(
            &self.name,
            &self.description,
            &self.rights,
            self.visibility.unwrap_or(Visibility::Own),
            builtin,
            fixed,
        )
    }
}

/// A role's rights in short: "Companies: read, write · Persons: read · manage users".
fn summary(r: &RoleRecord) -> String {
    let mut parts: Vec<String> = GRID
        .iter()
        .filter_map(|(kind, rights)| {
            let held: Vec<&str> = rights
                .iter()
                .zip(["read", "write", "delete"])
                .filter(|(right, _)| r.rights.contains(right))
                .map(|(_, access)| access)
                .collect();
            (!held.is_empty()).then(|| format!("{kind}: {}", held.join(", ")))
        })
        .collect();
    parts.extend(
        OTHER
            .iter()
            .filter(|x| r.rights.contains(x))
            .map(|x| right_label(*x).to_string()),
    );
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(" · ")
    }
}

async fn rows(db: &skjold_store::TenantDb) -> Result<Vec<RoleRow>, StoreError> {
    let mut out = Vec::new();
    for r in db.list_roles().await? {
        out.push(RoleRow {
            id: r.id.as_str().to_string(),
            name: role_title(&r.id, &r.name),
            description: r.description.clone().unwrap_or_default(),
            rights: summary(&r),
            visibility: r.visibility.as_str(),
            users: db.users_with_role(&r.id).await?,
            builtin: r.builtin,
        });
    }
    Ok(out)
}

async fn list_page<R: Requirement>(
    auth: &UiAuth<R>,
    form: RoleForm,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    render(
        status,
        &RolesPage {
            chrome: Chrome::new(auth, "admin", "Roles"),
            roles: rows(auth.db()).await?,
            form,
            errors,
        },
    )
}

async fn list(auth: UiAuth<RolesManage>) -> Result<Response, UiError> {
    let form = role_form("", "", &[], Visibility::Own, false, false);
    list_page(&auth, form, Vec::new(), StatusCode::OK).await
}

async fn create(post: Post<RolesManage>) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errors = Vec::new();
    let s = submitted(&form, &mut errors);
    let Some(visibility) = s.visibility.filter(|_| errors.is_empty()) else {
        let f = s.form(false, false);
        return list_page(&auth, f, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let outcome = roles::create(
        &auth.ctx(),
        &auth.acting(),
        NewRole {
            name: s.name.clone(),
            description: Some(s.description.clone()),
            rights: s.rights.clone(),
            visibility,
        },
    )
    .await;
    match outcome {
        Ok(role) => Ok(Redirect::to(&format!(
            "/{}/admin/roles/{}?msg=created",
            auth.slug(),
            role.id
        ))
        .into_response()),
        Err(e) => {
            let (message, status) = shown_refusal(e)?;
            list_page(&auth, s.form(false, false), vec![message], status).await
        }
    }
}

/// A role id from the path: a UUID or a built-in role's name.
fn role_id(raw: &str) -> Result<RoleId, UiError> {
    let id = RoleId::new(raw);
    if id.builtin().is_some() {
        return Ok(id);
    }
    uuid::Uuid::try_parse(raw)
        .map(|u| RoleId::new(u.to_string()))
        .map_err(|_| UiError::NotFound)
}

async fn role_page<R: Requirement>(
    auth: &UiAuth<R>,
    role: &RoleRecord,
    form: RoleForm,
    errors: Vec<String>,
    saved: bool,
    status: StatusCode,
) -> Result<Response, UiError> {
    let title = role_title(&role.id, &role.name);
    render(
        status,
        &RolePage {
            chrome: Chrome::new(auth, "admin", title.clone()),
            id: role.id.as_str().to_string(),
            title,
            users: auth.db().users_with_role(&role.id).await?,
            form,
            errors,
            saved,
        },
    )
}

async fn show(
    auth: UiAuth<RolesManage>,
    Path((_, id)): Path<(String, String)>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, UiError> {
    let role = auth.db().role(&role_id(&id)?).await?;
    let saved = FormData::parse(raw.unwrap_or_default().as_bytes())
        .get("msg")
        .is_some();
    role_page(
        &auth,
        &role,
        stored_form(&role),
        Vec::new(),
        saved,
        StatusCode::OK,
    )
    .await
}

async fn update(
    Path((_, id)): Path<(String, String)>,
    post: Post<RolesManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let current = auth.db().role(&role_id(&id)?).await?;
    let mut errors = Vec::new();
    let s = submitted(&form, &mut errors);
    let fixed = current.id.is_administrator();
    let Some(visibility) = s.visibility.filter(|_| errors.is_empty()) else {
        let f = s.form(current.builtin, fixed);
        return role_page(
            &auth,
            &current,
            f,
            errors,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // The administrator's grid is shown disabled (and so not sent): only its description
    // can change.
    let patch = if fixed {
        RolePatch {
            description: Some(Some(s.description.clone())),
            ..RolePatch::default()
        }
    } else {
        RolePatch {
            name: (!current.builtin).then(|| s.name.clone()),
            description: Some(Some(s.description.clone())),
            rights: Some(s.rights.clone()),
            visibility: Some(visibility),
        }
    };
    let outcome = roles::update(&auth.ctx(), &auth.acting(), &current.id, patch).await;
    match outcome {
        Ok(after) => Ok(Redirect::to(&format!(
            "/{}/admin/roles/{}?msg=saved",
            auth.slug(),
            after.id
        ))
        .into_response()),
        Err(e) => {
            let (message, status) = shown_refusal(e)?;
            let f = s.form(current.builtin, fixed);
            role_page(&auth, &current, f, vec![message], false, status).await
        }
    }
}

async fn delete_form(
    auth: UiAuth<RolesManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let role = auth.db().role(&role_id(&id)?).await?;
    let title = role_title(&role.id, &role.name);
    render(
        StatusCode::OK,
        &RoleDeletePage {
            chrome: Chrome::new(&auth, "admin", format!("Delete {title}")),
            id: role.id.as_str().to_string(),
            title,
            error: None,
        },
    )
}

async fn delete(
    Path((_, id)): Path<(String, String)>,
    post: Post<RolesManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let role = auth.db().role(&role_id(&id)?).await?;
    let outcome = roles::delete(&auth.ctx(), &auth.acting(), &role.id).await;
    match outcome {
        Ok(_) => {
            Ok(Redirect::to(&format!("/{}/admin/roles?msg=deleted", auth.slug())).into_response())
        }
        Err(e) => {
            let (message, status) = shown_refusal(e)?;
            let title = role_title(&role.id, &role.name);
            render(
                status,
                &RoleDeletePage {
                    chrome: Chrome::new(&auth, "admin", format!("Delete {title}")),
                    id: role.id.as_str().to_string(),
                    title,
                    error: Some(message),
                },
            )
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/roles", get(list).post(create))
        .route("/{tenant}/admin/roles/{id}", get(show).post(update))
        .route(
            "/{tenant}/admin/roles/{id}/delete",
            get(delete_form).post(delete),
        )
}
