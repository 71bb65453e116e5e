//! Administration: the tenant's users — list, create (with a one-time password shown once,
//! an invitation link, or as a service user), change details and role, disable and enable,
//! reset the password, invite, require a second factor, and a service user's API tokens. The same rules as the
//! API (`api/users.rs`): the last active administrator cannot be demoted or disabled, and
//! every change of rights or access is an audit event.

use super::auth::{FormData, Post, UiAuth};
use super::fields::show_time;
use super::personal_details::personal_details;
use super::role_labels::{right_label, role_title, visibility_label};
use super::templates::{AdminUserPage, AdminUsersPage, FormField, Opt, UserRow};
use super::{render, Chrome, UiError};
use crate::access::{self, AccessError, Granter};
use crate::extract::{Requirement, UsersManage, UsersRead};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_app::users::{FirstAccess, NewAccount};
use skjold_app::{users, AppError};
use skjold_domain::{FieldErrors, Right, UserKind, Username};
use skjold_store::{RoleRecord, User, UserPatch, UserStatus};

/// Each role with what it lets its holders do.
fn roles_overview(roles: &[RoleRecord]) -> Vec<(String, Vec<&'static str>)> {
    roles
        .iter()
        .map(|r| {
            let mut what: Vec<&'static str> = r.rights.iter().map(|x| right_label(*x)).collect();
            what.push(visibility_label(r.visibility));
            (role_title(&r.id, &r.name), what)
        })
        .collect()
}

fn row(u: &User, roles: &[RoleRecord]) -> UserRow {
    let role = roles
        .iter()
        .find(|r| r.id == u.role)
        .map(|r| role_title(&r.id, &r.name))
        .unwrap_or_else(|| u.role.to_string());
    UserRow {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.display_name.clone().unwrap_or_default(),
        email: u.email.clone().unwrap_or_default(),
        phone: u.phone.clone().unwrap_or_default(),
        role,
        active: u.status == UserStatus::Active,
        service: u.kind == UserKind::Service,
        created: show_time(&u.created_at),
    }
}

/// Every role, built-in and the tenant's own; the value is the role's id.
fn role_options(roles: &[RoleRecord], selected: &str) -> Vec<Opt> {
    roles
        .iter()
        .map(|r| Opt {
            value: r.id.as_str().to_string(),
            label: role_title(&r.id, &r.name),
            selected: r.id.as_str() == selected,
        })
        .collect()
}

/// The role a form chose, checked against what the actor may hand out; a refusal is a
/// message for the role field.
async fn chosen_role<R: Requirement>(
    auth: &UiAuth<R>,
    form: &FormData,
    current: Option<&User>,
    errs: &mut FieldErrors,
) -> Result<Option<RoleRecord>, UiError> {
    let role = match access::find_role(auth.db(), form.get("role").unwrap_or("")).await {
        Ok(r) => r,
        Err(AccessError::UnknownRole(_)) => {
            errs.add("role", "choose one of the roles");
            return Ok(None);
        }
        Err(AccessError::Store(e)) => return Err(e.into()),
        Err(e) => {
            errs.add("role", e.to_string());
            return Ok(None);
        }
    };
    let granter = Granter::User(&auth.grant);
    let checked = match current {
        None => access::check_new_user_role(granter, &role),
        // The last-administrator rule is checked separately: it is a conflict, not a field.
        Some(user) if user.role != role.id => match auth.db().role(&user.role).await {
            Ok(old) => granter
                .may_handle(&old)
                .and_then(|_| granter.may_handle(&role)),
            Err(e) => return Err(e.into()),
        },
        Some(_) => Ok(()),
    };
    match checked {
        Ok(()) => Ok(Some(role)),
        Err(AccessError::Store(e)) => Err(e.into()),
        Err(e) => {
            errs.add("role", e.to_string());
            Ok(None)
        }
    }
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

fn new_user_fields(form: &FormData, errs: &FieldErrors, roles: &[RoleRecord]) -> Vec<FormField> {
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
            .with_options(role_options(roles, role)),
    );
    let access = form.get("access").unwrap_or("password");
    fields.push(
        FormField::simple(
            "access",
            "How they get in",
            "select",
            access,
            true,
            "",
            errs,
        )
        .with_options(
            [
                (
                    "password",
                    "A password: the one typed below, or a one-time password made now",
                ),
                (
                    "invite",
                    "An invitation link: they choose their own password",
                ),
                (
                    "service",
                    "Service user for an integration: API tokens only, no sign-in",
                ),
            ]
            .into_iter()
            .map(|(value, label)| Opt {
                value: value.into(),
                label: label.into(),
                selected: value == access,
            })
            .collect(),
        ),
    );
    fields.push(FormField::simple(
        "password",
        "Password",
        "password",
        "",
        false,
        "Only for a password. The password policy applies. Leave empty to have a one-time password made.",
        errs,
    ));
    fields
}

/// What the users page shows once after creating a user: the secret to pass on.
pub enum Created {
    /// (username, the one-time password if the server made one)
    Password(String, Option<String>),
    /// (username, the invitation link, when it expires)
    Invite(String, String, String),
    /// (username, the page where its API tokens are made)
    Service(String, String),
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
    created: Option<Created>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let users = auth.db().list_users().await?;
    let roles = auth.db().list_roles().await?;
    let fields = new_user_fields(form, errs, &roles);
    let mut errors = other_errors(errs, &fields);
    errors.extend(conflict);
    render(
        status,
        &AdminUsersPage {
            chrome: Chrome::new(auth, "admin", "Users"),
            can_manage: auth.can(Right::UsersManage),
            users: users.iter().map(|u| row(u, &roles)).collect(),
            fields,
            errors,
            created,
            roles: roles_overview(&roles),
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
    headers: HeaderMap,
    uri: Uri,
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
    let role = chosen_role(&auth, &form, None, &mut errs).await?;
    let (display_name, email, phone) = personal_details(&form, &mut errs);
    let typed = form.get("password").unwrap_or("").to_string();
    let access = form.get("access").unwrap_or("password");
    if !matches!(access, "password" | "invite" | "service") {
        errs.add("access", "choose how they get in");
    }
    if access != "password" && !typed.is_empty() {
        errs.add(
            "password",
            "leave it empty: an invited person sets their own, a service user has none",
        );
    }
    if access == "password" && !typed.is_empty() {
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
    let first_access = match access {
        "password" if typed.is_empty() => FirstAccess::OneTimePassword,
        "password" => FirstAccess::Password(typed),
        "invite" => FirstAccess::Invite,
        _ => FirstAccess::Service,
    };
    let created = skjold_app::users::create(
        &auth.ctx(),
        &auth.acting(),
        NewAccount {
            username,
            display_name,
            email,
            phone,
            role: role.id.as_str().to_string(),
            access: first_access,
        },
    )
    .await;
    let (user, one_time) = match created {
        Ok(c) => (c.user, c.one_time_password),
        Err(AppError::Conflict(m)) => {
            let mut errs = FieldErrors::new();
            errs.add("username", m);
            return users_page(&auth, &form, &errs, None, None, StatusCode::CONFLICT).await;
        }
        Err(AppError::PasswordRefused(v)) => {
            let mut errs = FieldErrors::new();
            errs.add("password", super::profile::refusal_text(&v));
            return users_page(
                &auth,
                &form,
                &errs,
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let shown = match access {
        "invite" => {
            let (link, expires) = invite(&state, &auth, &user, &headers, &uri).await?;
            Created::Invite(user.username, link, expires)
        }
        "service" => Created::Service(
            user.username,
            format!("/{}/admin/users/{}", auth.slug(), user.id),
        ),
        _ => Created::Password(user.username, one_time),
    };
    users_page(
        &auth,
        &FormData::default(),
        &FieldErrors::new(),
        None,
        Some(shown),
        StatusCode::OK,
    )
    .await
}

/// Makes (or replaces) a person's invitation and records it: (the link, its expiry).
async fn invite(
    state: &AppState,
    auth: &UiAuth<UsersManage>,
    user: &User,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(String, String), UiError> {
    let issued = crate::invites::issue(&auth.ctx(), &auth.acting(), &user.id).await?;
    let link = issued.url(
        state.config.public_url.as_ref(),
        crate::invites::request_host(headers, uri),
    );
    Ok((link, show_time(&issued.expires_at)))
}

#[allow(clippy::too_many_arguments)]
/// What a user's page shows besides the user: the form sent back with its errors, why an
/// action was refused, or a secret shown once.
struct UserView<'a> {
    form: Option<&'a FormData>,
    errs: Option<&'a FieldErrors>,
    refusal: Option<String>,
    shown: Option<ShownOnce>,
    status: StatusCode,
}

impl<'a> UserView<'a> {
    fn plain() -> Self {
        Self {
            form: None,
            errs: None,
            refusal: None,
            shown: None,
            status: StatusCode::OK,
        }
    }

    /// Just after a secret was made: shown now and never again.
    fn showing(shown: ShownOnce) -> Self {
        Self {
            shown: Some(shown),
            ..Self::plain()
        }
    }

    /// An action refused, with the reason and the status it answers with.
    fn refused(message: String, status: StatusCode) -> Self {
        Self {
            refusal: Some(message),
            status,
            ..Self::plain()
        }
    }

    /// Input that did not pass its checks, shown with the messages beside the fields.
    fn invalid(form: Option<&'a FormData>, errs: &'a FieldErrors) -> Self {
        Self {
            form,
            errs: Some(errs),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..Self::plain()
        }
    }

    /// The form as sent, kept in the fields (with `refused`, say).
    fn with_form(mut self, form: &'a FormData, errs: &'a FieldErrors) -> Self {
        self.form = Some(form);
        self.errs = Some(errs);
        self
    }
}

async fn user_page<R: Requirement>(
    auth: &UiAuth<R>,
    user: &User,
    view: UserView<'_>,
) -> Result<Response, UiError> {
    let no_errors = FieldErrors::new();
    let UserView {
        form,
        errs,
        refusal: conflict,
        shown,
        status,
    } = view;
    let errs = errs.unwrap_or(&no_errors);
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
    let roles = auth.db().list_roles().await?;
    let mut fields = detail_fields(&name, &email, &phone, errs);
    fields.push(
        FormField::simple("role", "Role", "select", role.clone(), true, "", errs)
            .with_options(role_options(&roles, &role)),
    );
    let mut errors = other_errors(errs, &fields);
    errors.extend(conflict);
    let state = auth.state();
    let invite = auth
        .db()
        .invite_of(&user.id)
        .await?
        .map(|i| (show_time(&i.expires_at), i.expired_at(state.clock.now())));
    let service = user.kind == UserKind::Service;
    let tokens = if service {
        super::tokens::rows(state, auth.db(), &user.id).await?
    } else {
        Vec::new()
    };
    let two_factor = crate::factors::user_two_factor(auth.db(), user).await?;
    render(
        status,
        &AdminUserPage {
            chrome: Chrome::new(auth, "admin", user.username.clone()),
            can_manage: auth.can(Right::UsersManage),
            user: row(user, &roles),
            is_self: user.id == auth.user().id,
            fields,
            errors,
            shown,
            invite,
            tokens,
            tokens_base: format!("/{}/admin/users/{}/tokens", auth.slug(), user.id),
            scope_options: super::tokens::scope_options(),
            two_factor_required: two_factor.two_factor_required,
            two_factor_in_effect: two_factor.two_factor_required_in_effect,
            two_factor_enrolled: two_factor.two_factor_enrolled,
        },
    )
}

/// A secret the user page shows once, just after it was made.
pub enum ShownOnce {
    /// A reset password.
    Password(String),
    /// (link, expires)
    Invite(String, String),
    /// (token name, token)
    Token(String, String),
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
    user_page(&auth, &user, UserView::plain()).await
}

const LAST_ADMIN: &str =
    "This is the tenant's last active administrator; make another administrator first.";

/// An action's refusal, to show on the user page (the last administrator, or a user or role
/// above the actor's); any other error fails the request.
fn shown_refusal(e: AppError) -> Result<(String, StatusCode), UiError> {
    match e {
        AppError::LastAdministrator => Ok((LAST_ADMIN.into(), StatusCode::CONFLICT)),
        AppError::Forbidden(m) => Ok((m, StatusCode::FORBIDDEN)),
        AppError::Conflict(m) => Ok((m, StatusCode::CONFLICT)),
        other => Err(other.into()),
    }
}

async fn update(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = user_id(&id)?;
    let current = auth.db().user(&id).await?;
    let mut errs = FieldErrors::new();
    let (display_name, email, phone) = personal_details(&form, &mut errs);
    let role = chosen_role(&auth, &form, Some(&current), &mut errs).await?;
    if !errs.is_empty() {
        return user_page(&auth, &current, UserView::invalid(Some(&form), &errs)).await;
    }
    let change = users::UserChange {
        details: UserPatch {
            display_name: Some(display_name),
            email: Some(email),
            phone: Some(phone),
            ..UserPatch::default()
        },
        role: role.map(|r| r.id.as_str().to_string()),
        status: None,
    };
    if let Err(e) = users::change(&auth.ctx(), &auth.acting(), &id, change).await {
        let (message, status) = shown_refusal(e)?;
        return user_page(
            &auth,
            &current,
            UserView::refused(message, status).with_form(&form, &errs),
        )
        .await;
    }
    Ok(Redirect::to(&format!("/{}/admin/users/{id}", auth.slug())).into_response())
}

async fn set_status(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let id = user_id(&id)?;
    let to = match form.text("to").as_str() {
        "disabled" => UserStatus::Disabled,
        "active" => UserStatus::Active,
        _ => {
            return Err(UiError::BadRequest(
                "say whether to disable or enable".into(),
            ))
        }
    };
    let change = users::UserChange {
        status: Some(to),
        ..users::UserChange::default()
    };
    if let Err(e) = users::change(&auth.ctx(), &auth.acting(), &id, change).await {
        let (message, status) = shown_refusal(e)?;
        let current = auth.db().user(&id).await?;
        return user_page(&auth, &current, UserView::refused(message, status)).await;
    }
    Ok(Redirect::to(&format!("/{}/admin/users/{id}", auth.slug())).into_response())
}

async fn reset_password(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let id = user_id(&id)?;
    let user = auth.db().user(&id).await?;
    let view = match users::reset_password(&auth.ctx(), &auth.acting(), &id, None).await {
        Ok(Some(password)) => UserView::showing(ShownOnce::Password(password)),
        Ok(None) => return Err(UiError::Internal("no password was made".into())),
        Err(e) => {
            let (message, status) = shown_refusal(e)?;
            UserView::refused(message, status)
        }
    };
    user_page(&auth, &user, view).await
}

async fn end_sessions(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let id = user_id(&id)?;
    if let Err(e) = users::end_access(&auth.ctx(), &auth.acting(), &id).await {
        let (message, status) = shown_refusal(e)?;
        let user = auth.db().user(&id).await?;
        return user_page(&auth, &user, UserView::refused(message, status)).await;
    }
    Ok(Redirect::to(&format!(
        "/{}/admin/users/{id}?msg=sessions-ended",
        auth.slug()
    ))
    .into_response())
}

/// Refuses, as a message on the user page, what the actor may not do to this user: give
/// access to a role with rights they do not hold.
async fn may_admit(auth: &UiAuth<UsersManage>, user: &User) -> Result<Option<String>, UiError> {
    match access::check_admit(auth.db(), Granter::User(&auth.grant), user).await {
        Ok(()) => Ok(None),
        Err(AccessError::Store(e)) => Err(e.into()),
        Err(e) => Ok(Some(e.to_string())),
    }
}

async fn invite_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let user = auth.db().user(&user_id(&id)?).await?;
    let refused = match may_admit(&auth, &user).await? {
        Some(m) => Some((m, StatusCode::FORBIDDEN)),
        None => crate::invites::refusal(&user).map(|m| (m.to_string(), StatusCode::CONFLICT)),
    };
    if let Some((message, status)) = refused {
        return user_page(&auth, &user, UserView::refused(message, status)).await;
    }
    let (link, expires) = invite(&state, &auth, &user, &headers, &uri).await?;
    user_page(
        &auth,
        &user,
        UserView::showing(ShownOnce::Invite(link, expires)),
    )
    .await
}

async fn withdraw_invite(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, .. } = post;
    let user = auth.db().user(&user_id(&id)?).await?;
    match skjold_app::invites::withdraw(&auth.ctx(), &auth.acting(), &user.id).await {
        // Withdrawn meanwhile (or used): the page shows no open invitation any more.
        Ok(()) | Err(skjold_app::AppError::NotFound(_)) => {}
        Err(skjold_app::AppError::Forbidden(m)) => return Err(UiError::Forbidden(m)),
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/{}/admin/users/{}", auth.slug(), user.id)).into_response())
}

async fn require_two_factor(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let user = auth.db().user(&user_id(&id)?).await?;
    let required = match form.text("required").as_str() {
        "yes" => true,
        "no" => false,
        _ => return Err(UiError::BadRequest("say whether to require it".into())),
    };
    if let Err(e) = users::require_two_factor(&auth.ctx(), &auth.acting(), &user.id, required).await
    {
        let (message, status) = shown_refusal(e)?;
        return user_page(&auth, &user, UserView::refused(message, status)).await;
    }
    Ok(Redirect::to(&format!("/{}/admin/users/{}", auth.slug(), user.id)).into_response())
}

/// The service user `id` (tokens are made only for them), or the page saying why not.
async fn service_user(
    auth: &UiAuth<UsersManage>,
    id: &str,
) -> Result<Result<User, Response>, UiError> {
    let user = auth.db().user(&user_id(id)?).await?;
    let refused = if user.kind != UserKind::Service {
        Some(("API tokens are made here only for service users; a person makes their own on My profile.".to_string(), StatusCode::CONFLICT))
    } else {
        may_admit(auth, &user)
            .await?
            .map(|m| (m, StatusCode::FORBIDDEN))
    };
    match refused {
        Some((message, status)) => Ok(Err(user_page(
            auth,
            &user,
            UserView::refused(message, status),
        )
        .await?)),
        None => Ok(Ok(user)),
    }
}

async fn create_service_token(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    auth.require_step_up(&format!("/{}/admin/users/{id}", auth.slug()))?;
    let user = match service_user(&auth, &id).await? {
        Ok(u) => u,
        Err(page) => return Ok(page),
    };
    if user.status != UserStatus::Active {
        return user_page(
            &auth,
            &user,
            UserView::refused(
                "The service user is disabled: enable it first.".into(),
                StatusCode::CONFLICT,
            ),
        )
        .await;
    }
    let created = match super::tokens::create_from_form(
        &state,
        &auth.ctx(),
        &auth.acting(),
        skjold_app::tokens::Whose::ServiceUser(&user.id),
        &form,
    )
    .await?
    {
        Ok(c) => c,
        Err(errs) => return user_page(&auth, &user, UserView::invalid(None, &errs)).await,
    };
    user_page(
        &auth,
        &user,
        UserView::showing(ShownOnce::Token(created.view.name, created.token)),
    )
    .await
}

async fn revoke_service_token(
    Path((_, id)): Path<(String, String)>,
    post: Post<UsersManage>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let user = match service_user(&auth, &id).await? {
        Ok(u) => u,
        Err(page) => return Ok(page),
    };
    let token_id = form.text("id");
    match skjold_app::tokens::revoke(
        &auth.ctx(),
        &auth.acting(),
        skjold_app::tokens::Whose::ServiceUser(&user.id),
        &token_id,
    )
    .await
    {
        Ok(()) | Err(skjold_app::AppError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/{}/admin/users/{}", auth.slug(), user.id)).into_response())
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
        .route(
            "/{tenant}/admin/users/{id}/invite",
            get(back_to_user).merge(post(invite_user)),
        )
        .route(
            "/{tenant}/admin/users/{id}/invite/withdraw",
            get(back_to_user).merge(post(withdraw_invite)),
        )
        .route(
            "/{tenant}/admin/users/{id}/two-factor",
            get(back_to_user).merge(post(require_two_factor)),
        )
        .route(
            "/{tenant}/admin/users/{id}/tokens",
            get(back_to_user).merge(post(create_service_token)),
        )
        .route(
            "/{tenant}/admin/users/{id}/tokens/revoke",
            get(back_to_user).merge(post(revoke_service_token)),
        )
}
