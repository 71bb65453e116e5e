//! The tenant's users, managed by its administrators (claim S29).

use super::{parse_id, RecordPath, TenantPath};
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, UsersManage, UsersRead};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_app::users::{FirstAccess, NewAccount};
use skjold_app::Via;
use skjold_domain::{double_option, FieldErrors, UserKind, Username};
use skjold_store::{User, UserStatus};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(format = Uuid)]
    id: String,
    username: String,
    display_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    /// The id of the user's role (a built-in role's id is its name).
    role: String,
    status: UserStatus,
    /// `person` (signs in) or `service` (an integration: API tokens only).
    kind: UserKind,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            phone: u.phone,
            role: u.role.as_str().to_string(),
            status: u.status,
            kind: u.kind,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    items: Vec<UserView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    /// A role's id or name (`GET /roles`). You can give only a role whose rights and
    /// visibility you hold yourself.
    role: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    /// Leave out to have the server make a one-time password (or with `invite` or a
    /// service user, where there is no password).
    #[serde(default)]
    password: Option<String>,
    /// `person` (the default) or `service`: an integration that has no password and
    /// reaches the API only with tokens made under `POST /users/{id}/tokens`.
    #[serde(default)]
    kind: UserKind,
    /// Make no password: answer a one-time invitation link instead, with which the person
    /// sets their own (as `POST /users/{id}/invite`).
    #[serde(default)]
    invite: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    user: UserView,
    /// Present when the server made the password: shown once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    one_time_password: Option<String>,
    /// Present with `invite: true`: the link, shown once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    invite: Option<super::invites::InviteLink>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default, deserialize_with = "double_option")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    phone: Option<Option<String>>,
    /// A role's id or name; you must hold both the user's current role and the new one.
    #[serde(default)]
    role: Option<String>,
    /// `disabled` ends the user's sessions and stops them signing in.
    #[serde(default)]
    status: Option<UserStatus>,
}

/// List the tenant's users.
#[utoipa::path(get, path = "/users", tag = "users", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The users", body = UserList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_users(auth: Authorized<UsersRead>) -> Result<Json<UserList>, ApiError> {
    let users = auth.db().list_users().await?;
    Ok(Json(UserList {
        items: users.into_iter().map(UserView::from).collect(),
    }))
}

/// Create a user.
#[utoipa::path(post, path = "/users", tag = "users", params(TenantPath), security(("bearer" = [])),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the role has rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "Username taken", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, or the password breaks the tenant's policy (`type` …:password-policy, `rule` names the rule)", body = crate::error::Problem)))]
async fn create_user(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    request_headers: HeaderMap,
    uri: Uri,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, HeaderMap, Json<CreatedUser>), ApiError> {
    let username =
        Username::parse(&body.username).map_err(|m| FieldErrors::single("username", m))?;
    let details = super::me::PersonalDetails {
        display_name: Some(body.display_name),
        email: Some(body.email),
        phone: Some(body.phone),
    }
    .into_patch()?;
    let access = match (body.kind, body.invite, body.password) {
        (UserKind::Service, true, _) => {
            return Err(FieldErrors::single(
                "invite",
                "a service user is not invited: it has no password",
            )
            .into())
        }
        (_, true, Some(_)) | (UserKind::Service, _, Some(_)) => {
            return Err(FieldErrors::single(
                "password",
                "leave it out: an invited person sets their own, a service user has none",
            )
            .into())
        }
        (UserKind::Service, false, None) => FirstAccess::Service,
        (UserKind::Person, true, None) => FirstAccess::Invite,
        (UserKind::Person, false, Some(p)) => FirstAccess::Password(p),
        (UserKind::Person, false, None) => FirstAccess::OneTimePassword,
    };
    let invited = access == FirstAccess::Invite;
    let created = skjold_app::users::create(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        NewAccount {
            username,
            display_name: details.display_name.flatten(),
            email: details.email.flatten(),
            phone: details.phone.flatten(),
            role: body.role,
            access,
        },
    )
    .await?;
    let user = created.user;
    let invite = if invited {
        Some(
            super::invites::invite(
                &state,
                &auth,
                ip,
                &user,
                crate::invites::request_host(&request_headers, &uri),
            )
            .await?,
        )
    } else {
        None
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/{}/api/v1/users/{}", auth.db().slug(), user.id))
    {
        headers.insert(header::LOCATION, v);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(CreatedUser {
            user: user.into(),
            one_time_password: created.one_time_password,
            invite,
        }),
    ))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(RecordPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The user, with their two-factor facts", body = UserDetail),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.read", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn get_user(
    State(state): State<AppState>,
    auth: Authorized<UsersRead>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<UserDetail>, ApiError> {
    let id = parse_id(&id)?;
    let user = auth.db().user(&id).await?;
    let two_factor = crate::factors::user_two_factor(auth.db(), &user).await?;
    let now = state.clock.now();
    let invite = auth.db().invite_of(&user.id).await?.map(|i| OpenInvite {
        expired: i.expired_at(now),
        created_at: i.created_at,
        expires_at: i.expires_at,
    });
    Ok(Json(UserDetail {
        user: user.into(),
        invite,
        two_factor_required: two_factor.two_factor_required,
        two_factor_required_in_effect: two_factor.two_factor_required_in_effect,
        two_factor_enrolled: two_factor.two_factor_enrolled,
    }))
}

/// A user and their two-factor facts (`GET /users/{id}`).
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    user: UserView,
    /// An administrator required a second factor of this user in particular
    /// (`POST /users/{id}/require-two-factor`).
    two_factor_required: bool,
    /// A second factor is required of this user, by the tenant's policy or in particular.
    two_factor_required_in_effect: bool,
    /// The user has a second factor (TOTP or a passkey).
    two_factor_enrolled: bool,
    /// The user's invitation, while it has not been used or withdrawn (never its link).
    invite: Option<OpenInvite>,
}

/// An invitation not used yet.
#[derive(Serialize, ToSchema)]
pub struct OpenInvite {
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Past `expires_at`: the link no longer works; invite again for a new one.
    expired: bool,
}

/// Change a user's details, role or status. The last active administrator cannot be
/// demoted or disabled.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(RecordPath), security(("bearer" = [])),
    request_body = UserChange,
    responses(
        (status = 200, description = "Updated", body = UserView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's current or new role has rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 409, description = "Would leave no active administrator", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields", body = crate::error::Problem)))]
async fn patch_user(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    let id = parse_id(&id)?;
    let details = super::me::PersonalDetails {
        display_name: body.display_name,
        email: body.email,
        phone: body.phone,
    }
    .into_patch()?;
    let updated = skjold_app::users::change(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        skjold_app::users::UserChange {
            details,
            role: body.role,
            status: body.status,
        },
    )
    .await?;
    Ok(Json(updated.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password; leave out to have the server make a one-time password.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordWasReset {
    /// Present when the server made the password: shown once, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    one_time_password: Option<String>,
}

/// Reset a user's password. Ends all of that user's sessions (but the caller's own, when
/// administrators reset their own password) and their open invitation. You must hold the
/// user's role.
#[utoipa::path(post, path = "/users/{id}/password", tag = "users", params(RecordPath), security(("bearer" = [])),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "Reset", body = PasswordWasReset),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks users.manage, or the user's role has rights or visibility you do not hold", body = crate::error::Problem),
        (status = 404, description = "No such user", body = crate::error::Problem),
        (status = 409, description = "A service user (it has no password)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "The password breaks the tenant's policy (`rule` names the rule)", body = crate::error::Problem)))]
async fn reset_password(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<UsersManage>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Json<PasswordWasReset>, ApiError> {
    let id = parse_id(&id)?;
    let one_time = skjold_app::users::reset_password(
        &auth.ctx(&state, ip),
        &auth.acting(Via::Api),
        &id,
        body.password,
    )
    .await?;
    Ok(Json(PasswordWasReset {
        one_time_password: one_time,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user))
        .routes(routes!(reset_password))
}
