//! Administration: the tenant's users — list, create (with a one-time password shown once),
//! change details and role, disable and enable, reset the password. The same rules as the
//! API (`api/users.rs`): the last active administrator cannot be demoted or disabled, and
//! every change of rights or access is an audit event.

use super::auth::{FormData, Post, UiAuth};
use super::fields::show_time;
use super::templates::{AdminUserPage, AdminUsersPage, FormField, Opt, UserRow};
use super::{render, Chrome, UiError};
use crate::extract::{Requirement, UsersManage, UsersRead};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_domain::{Email, FieldErrors, Right, Role, Username};
use skjold_store::{NewUser, StoreError, User, UserPatch, UserStatus};

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Administrator => "Administrator",
        Role::Manager => "Manager",
        Role::User => "User",
        Role::ReadOnly => "Read-only",
    }
}

/// A right in plain words.
pub fn right_label(r: skjold_domain::Right) -> &'static str {
    use skjold_domain::Right::*;
    match r {
        RecordsRead => "read records",
        RecordsWrite => "create and change records",
        RecordsDelete => "delete records",
        UsersRead => "see users",
        UsersManage => "manage users",
        SettingsManage => "change settings",
        AuditRead => "read the audit trail",
        BackupRestore => "restore backups",
    }
}

/// Each role with what it lets its holders do (roles are built in; see `domain::rights`).
fn roles_overview() -> Vec<(&'static str, Vec<&'static str>)> {
    Role::ALL
        .iter()
        .map(|r| {
            (
                role_label(*r),
                r.rights().iter().map(|x| right_label(*x)).collect(),
            )
        })
        .collect()
}

fn row(u: &User) -> UserRow {
    UserRow {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.display_name.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        phone: u.phone.clone().unwrap_or_default(),
        role: role_label(u.role),
        active: u.status == UserStatus::Active,
        created: show_time(&u.created_at),
    }
}

fn role_options(selected: &str) -> Vec<Opt> {
    Role::ALL
        .iter()
        .map(|r| Opt {
            value: r.as_str().to_string(),
            label: role_label(*r).to_string(),
            selected: r.as_str() == selected,
        })
        .collect()
}

/// Name, e-mail and phone as a user may set them: the API's rules
/// (`api::me::PersonalDetails`), for form fields. Empty clears a field.
pub fn personal_details(
    form: &FormData,
    errs: &mut FieldErrors,
) -> (Option<String>, Option<String>, Option<String>) {
    let get = |name: &str| Some(form.text(name)).filter(|s| !s.is_empty());
    let display_name = get("display_name");
    if let Some(n) = &display_name {
        if n.chars().count() > 100 || n.chars().any(char::is_control) {
            errs.add(
                "display_name",
                "has at most 100 characters and no control characters",
            );
        }
    }
    let email = get("email");
    if let Some(e) = &email {
        if let Err(m) = Email::parse(e) {
            errs.add("email", m);
        }
    }
    let phone = get("phone");
    if let Some(p) = &phone {
        let ok = p.len() <= 40
            && p.chars().any(|c| c.is_ascii_digit())
            && p.chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !ok {
            errs.add(
                "phone",
                "a phone number uses digits, spaces and + - ( ) . only",
            );
        }
    }
    (display_name, email, phone)
}

fn detail_fields(
    display_name: &str,
    email: &str,
    phone: &str,
    errs: &FieldErrors,
) -> Vec<FormField> {
    vec![
        FormField::simple(
            "display_name",
            "Display name",
            "text",
            display_name,
            false,
            "",
            errs,
        ),
        FormField::simple("email", "E-mail", "email", email, false, "", errs),
        FormField::simple("phone", "Phone", "tel", phone, false, "", errs),
    ]
}

fn new_user_fields(form: &FormData, errs: &FieldErrors) -> Vec<FormField> {
    let role = form.get("role").unwrap_or("user");
    let mut fields = vec![FormField::simple(
        "username",
        "Username",
        "text",
        form.text("username"),
        true,
        "Letters, digits and . - _ @",
        errs,
    )];
    fields.extend(detail_fields(
        &form.text("display_name"),
        &form.text("email"),
        &form.text("phone"),
        errs,
    ));
    fields.push(
        FormField::simple("role", "Role", "select", role, true, "", errs)
            .with_options(role_options(role)),
    );
    fields.push(FormField::simple(
        "password",
        "Password",
        "password",
        "",
        false,
        "The password policy applies. Leave empty to have a one-time password made.",
        errs,
    ));
    fields
}

/// Errors that belong to no field shown.
fn other_errors(errs: &FieldErrors, shown: &[FormField]) -> Vec<String> {
    errs.0
        .iter()
        .filter(|e| !shown.iter().any(|f| f.name == e.field))
        .map(|e| e.message.clone())
        .collect()
}

async fn users_page<R: Requirement>(
    auth: &UiAuth<R>,
    form: &FormData,
    errs: &FieldErrors,
    conflict: Option<String>,
    created: Option<(String, Option<String>)>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let users = auth.db().list_users().await?;
    let fields = new_user_fields(form, errs);
    let mut errors = other_errors(errs, &fields);
    errors.extend(conflict);
    render(
        status,
        &AdminUsersPage {
            chrome: Chrome::new(auth, "admin", "Users"),
            can_manage: auth.can(Right::UsersManage),
            users: users.iter().map(row).collect(),
            fields,
            errors,
            created,
            roles: roles_overview(),
        },
    )
}

async fn list(auth: UiAuth<UsersRead>) -> Result<Response, UiError> {
    users_page(
        &auth,
        &FormData::default(),
        &FieldErrors::new(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let mut errs = FieldErrors::new();
    let username = match Username::parse(&form.text("username")) {
        Ok(u) => Some(u),
        Err(m) => {
            errs.add("username", m);
            None
        }
    };
    let role = match Role::parse(form.get("role").unwrap_or("")) {
        Ok(r) => Some(r),
        Err(_) => {
            errs.add("role", "choose one of the roles");
            None
        }
    };
    let (display_name, email, phone) = personal_details(&form, &mut errs);
    let typed = form.get("password").unwrap_or("").to_string();
    if !typed.is_empty() {
        // With an invalid username, the rules that need none still apply.
        let name = username.as_ref().map(|u| u.as_str()).unwrap_or("");
        match crate::password::check_new_password(
            auth.db(),
            &auth.tenant.record,
            name,
            None,
            &typed,
        )
        .await
        {
            Ok(_) => {}
            Err(crate::password::PasswordRefusal::Policy(v)) => {
                errs.add("password", super::profile::refusal_text(&v));
            }
            Err(crate::password::PasswordRefusal::Store(e)) => return Err(e.into()),
        }
    }
    let (Some(username), Some(role), true) = (username, role, errs.is_empty()) else {
        return users_page(
            &auth,
            &form,
            &errs,
            None,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (password, one_time) = if typed.is_empty() {
        let policy = crate::password::policy(auth.db()).await?;
        let p = crate::password::generate_password(&policy, username.as_str(), &auth.tenant.record)
            .map_err(|v| UiError::Internal(v.to_string()))?;
        (p.clone(), Some(p))
    } else {
        (typed, None)
    };
    let password_hash = skjold_auth::hash_password(password)
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    let created = auth
        .db()
        .create_user(
            &auth.actor(),
            NewUser {
                username,
                display_name,
                email,
                phone,
                role,
                password_hash,
            },
        )
        .await;
    let user = match created {
        Ok(u) => u,
        Err(StoreError::Conflict(m)) => {
            let mut errs = FieldErrors::new();
            errs.add("username", m);
            return users_page(&auth, &form, &errs, None, None, StatusCode::CONFLICT).await;
        }
        Err(e) => return Err(e.into()),
    };
    auth.audit_event(
        &state,
        "user.created",
        serde_json::json!({ "user_id": user.id, "username": user.username, "role": user.role.as_str(), "via": "web" }),
    )
    .await?;
    users_page(
        &auth,
        &FormData::default(),
        &FieldErrors::new(),
        None,
        Some((user.username, one_time)),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn user_page<R: Requirement>(
    auth: &UiAuth<R>,
    user: &User,
    form: Option<&FormData>,
    errs: &FieldErrors,
    conflict: Option<String>,
    one_time: Option<String>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let (name, email, phone, role) = match form {
        Some(f) => (
            f.text("display_name"),
            f.text("email"),
            f.text("phone"),
            f.text("role"),
        ),
        None => (
            user.display_name.clone().unwrap_or_default(),
            user.email.clone().unwrap_or_default(),
            user.phone.clone().unwrap_or_default(),
            user.role.as_str().to_string(),
        ),
    };
    let mut fields = detail_fields(&name, &email, &phone, errs);
    fields.push(
        FormField::simple("role", "Role", "select", role.clone(), true, "", errs)
            .with_options(role_options(&role)),
    );
    let mut errors = other_errors(errs, &fields);
    errors.extend(conflict);
    render(
        status,
        &AdminUserPage {
            chrome: Chrome::new(auth, "admin", user.username.clone()),
            can_manage: auth.can(Right::UsersManage),
            user: row(user),
            is_self: user.id == auth.user().id,
            fields,
            errors,
            one_time,
        },
    )
}

fn user_id(raw: &str) -> Result<String, UiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| UiError::NotFound)
}

async fn show(
    auth: UiAuth<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let user = auth.db().user(&user_id(&id)?).await?;
    user_page(
        &auth,
        &user,
        None,
        &FieldErrors::new(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

const LAST_ADMIN: &str =
    "This is the tenant's last active administrator; make another administrator first.";

/// Would this change leave the tenant without an active administrator?
async fn loses_last_admin<R: Requirement>(
    auth: &UiAuth<R>,
    current: &User,
    role: Option<Role>,
    status: Option<UserStatus>,
) -> Result<bool, UiError> {
    let loses = current.role == Role::Administrator
        && current.status == UserStatus::Active
        && (role.is_some_and(|r| r != Role::Administrator) || status == Some(UserStatus::Disabled));
    Ok(loses && auth.db().count_active_administrators().await? <= 1)
}

async fn record_change(
    state: &AppState,
    auth: &UiAuth<UsersManage>,
    current: &User,
    updated: &User,
) -> Result<(), UiError> {
    // A change of rights or of who may sign in is a use of system rights: its own event.
    let kind = if updated.status != current.status {
        if updated.status == UserStatus::Disabled {
            "user.disabled"
        } else {
            "user.enabled"
        }
    } else if updated.role != current.role {
        "user.role_changed"
    } else {
        "user.changed"
    };
    auth.audit_event(
        state,
        kind,
        serde_json::json!({
            "user_id": updated.id, "username": updated.username,
            "role": { "from": current.role.as_str(), "to": updated.role.as_str() },
            "status": { "from": current.status.as_str(), "to": updated.status.as_str() },
            "via": "web",
        }),
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = user_id(&id)?;
    let current = auth.db().user(&id).await?;
    let mut errs = FieldErrors::new();
    let (display_name, email, phone) = personal_details(&form, &mut errs);
    let role = match Role::parse(form.get("role").unwrap_or("")) {
        Ok(r) => Some(r),
        Err(_) => {
            errs.add("role", "choose one of the roles");
            None
        }
    };
    if !errs.is_empty() {
        return user_page(
            &auth,
            &current,
            Some(&form),
            &errs,
            None,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if loses_last_admin(&auth, &current, role, None).await? {
        return user_page(
            &auth,
            &current,
            Some(&form),
            &errs,
            Some(LAST_ADMIN.into()),
            None,
            StatusCode::CONFLICT,
        )
        .await;
    }
    let updated = auth
        .db()
        .update_user(
            &auth.actor(),
            &id,
            UserPatch {
                display_name: Some(display_name),
                email: Some(email),
                phone: Some(phone),
                role,
                status: None,
            },
        )
        .await?;
    record_change(&state, &auth, &current, &updated).await?;
    Ok(Redirect::to(&format!("/{}/admin/users/{id}", auth.slug())).into_response())
}

async fn set_status(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = user_id(&id)?;
    let current = auth.db().user(&id).await?;
    let to = match form.text("to").as_str() {
        "disabled" => UserStatus::Disabled,
        "active" => UserStatus::Active,
        _ => {
            return Err(UiError::BadRequest(
                "say whether to disable or enable".into(),
            ))
        }
    };
    if loses_last_admin(&auth, &current, None, Some(to)).await? {
        return user_page(
            &auth,
            &current,
            None,
            &FieldErrors::new(),
            Some(LAST_ADMIN.into()),
            None,
            StatusCode::CONFLICT,
        )
        .await;
    }
    let updated = auth
        .db()
        .update_user(
            &auth.actor(),
            &id,
            UserPatch {
                status: Some(to),
                ..UserPatch::default()
            },
        )
        .await?;
    record_change(&state, &auth, &current, &updated).await?;
    Ok(Redirect::to(&format!("/{}/admin/users/{id}", auth.slug())).into_response())
}

async fn reset_password(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let id = user_id(&id)?;
    let user = auth.db().user(&id).await?;
    let policy = crate::password::policy(auth.db()).await?;
    let password = crate::password::generate_password(&policy, &user.username, &auth.tenant.record)
        .map_err(|v| UiError::Internal(v.to_string()))?;
    let hash = skjold_auth::hash_password(password.clone())
        .await
        .map_err(|e| UiError::Internal(e.to_string()))?;
    // The administrator's own session survives resetting their own password.
    let keep = (user.id == auth.user().id).then_some(auth.session.token_hash.as_str());
    auth.db()
        .set_password_hash(&auth.actor(), &id, &hash, keep)
        .await?;
    auth.audit_event(
        &state,
        "user.password_reset",
        serde_json::json!({ "user_id": user.id, "username": user.username, "via": "web" }),
    )
    .await?;
    user_page(
        &auth,
        &user,
        None,
        &FieldErrors::new(),
        None,
        Some(password),
        StatusCode::OK,
    )
    .await
}

async fn end_sessions(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let id = user_id(&id)?;
    let user = auth.db().user(&id).await?;
    let keep = (user.id == auth.user().id).then_some(auth.session.token_hash.as_str());
    let ended = auth.db().delete_sessions_of(&user.id, keep).await?;
    auth.audit_event(
        &state,
        "user.sessions_revoked",
        serde_json::json!({ "user_id": user.id, "username": user.username, "ended": ended, "via": "web" }),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/{}/admin/users/{id}?msg=sessions-ended",
        auth.slug()
    ))
    .into_response())
}

/// A GET of an action's address (after signing in again): show the user.
async fn back_to_user(Path((tenant, id)): Path<(String, String)>) -> Response {
    match skjold_domain::TenantSlug::parse(&tenant) {
        Ok(slug) if uuid::Uuid::try_parse(&id).is_ok() => {
            Redirect::to(&format!("/{slug}/admin/users/{id}")).into_response()
        }
        _ => UiError::NotFound.into_response(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/users", get(list).post(create))
        .route("/{tenant}/admin/users/{id}", get(show).post(update))
        .route(
            "/{tenant}/admin/users/{id}/status",
            get(back_to_user).merge(post(set_status)),
        )
        .route(
            "/{tenant}/admin/users/{id}/password",
            get(back_to_user).merge(post(reset_password)),
        )
        .route(
            "/{tenant}/admin/users/{id}/sessions",
            get(back_to_user).merge(post(end_sessions)),
        )
}
