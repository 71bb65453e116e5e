//! Passkeys (`crate::passkeys`): a user's own list, registration and removal, and signing in
//! with one, as the second step after a password or without a password at all.

use super::session::{start_session, NewSession};
use super::TenantPath;
use crate::audit::{ClientIp, Event};
use crate::extract::{ApiJson, Authorized, Enrolling, Tenant};
use crate::passkeys::{self as pk, kind};
use crate::signin::Outcome;
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::{FieldErrors, Username};
use skjold_store::{PasskeyRecord, UserStatus};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, WebauthnError,
};

/// A passkey as its owner sees it (the key itself never leaves the server).
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(p: &PasskeyRecord) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            created_at: p.created_at.clone(),
            last_used_at: p.last_used_at.clone(),
        }
    }
}

/// A WebAuthn ceremony's first half: what to hand to `navigator.credentials.create()` or
/// `.get()` (binary fields base64url), and the token that the answer must come back with.
#[derive(Serialize, ToSchema)]
pub struct CeremonyOptions {
    /// Send this back with the authenticator's answer, within five minutes; good once.
    ceremony: String,
    /// `{"publicKey": {...}}`: WebAuthn options, binary fields as base64url.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPasskey {
    /// The token from `POST /me/passkeys/options`.
    ceremony: String,
    /// What `navigator.credentials.create()` answered, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
    /// A name for the passkey, e.g. "Laptop"; 1–100 characters.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    /// 1–100 characters.
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInStart {
    /// For the second step after a password (with `password`), or to sign in with one of
    /// this user's passkeys. Leave both out to let the passkey name its user.
    #[serde(default)]
    username: Option<String>,
    /// With `username`: the password, checked (and counted) as in `POST /session`.
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignIn {
    /// The token from `POST /session/passkey/options`.
    ceremony: String,
    /// What `navigator.credentials.get()` answered, binary fields as base64url.
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// `{tenant}` and a passkey's `{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct PasskeyPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The passkey's id (a UUID).
    #[param(format = Uuid)]
    id: String,
}

fn options_json<T: Serialize>(options: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(options).map_err(|e| ApiError::Internal(format!("passkey options: {e}")))
}

pub(crate) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldErrors::single("name", "must be 1–100 characters").into());
    }
    Ok(name.to_string())
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/me/passkeys", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The passkeys, oldest first", body = [PasskeyView]),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list(auth: Authorized<Enrolling>) -> Result<Json<Vec<PasskeyView>>, ApiError> {
    let keys = auth.db().passkeys_of(&auth.user().id).await?;
    Ok(Json(keys.iter().map(PasskeyView::from).collect()))
}

/// Start registering a passkey: options for `navigator.credentials.create()`.
#[utoipa::path(post, path = "/me/passkeys/options", tag = "me", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "Options and the ceremony token", body = CeremonyOptions),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token, or no password check in the last 10 minutes (`type` …:step-up-required: `POST /session/verify`)", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server (its public URL names no domain)", body = crate::error::Problem)))]
async fn register_options(
    State(state): State<AppState>,
    auth: Authorized<Enrolling>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    auth.require_step_up(&state)?;
    Ok(Json(
        registration_start(&state, auth.db(), auth.user()).await?,
    ))
}

/// Registration options for the user (shared with the web UI).
pub async fn registration_start(
    state: &AppState,
    db: &skjold_store::TenantDb,
    user: &skjold_store::User,
) -> Result<CeremonyOptions, ApiError> {
    let existing = user_passkeys(db, &user.id).await?;
    let (options, reg) = pk::registration_options(
        &state.relying_party,
        &user.id,
        &user.username,
        user.display_name.as_deref().unwrap_or(&user.username),
        &existing,
    )?;
    let ceremony = pk::keep(
        db,
        state.clock.now(),
        kind::REGISTER,
        Some(&user.id),
        None,
        &reg,
    )
    .await?;
    Ok(CeremonyOptions {
        ceremony,
        options: options_json(&options)?,
    })
}

/// Checks the authenticator's answer to a registration and stores the passkey (shared with
/// the web UI). Lifts an enrolment restriction of `session`.
pub async fn registration_finish(
    state: &AppState,
    db: &skjold_store::TenantDb,
    user: &skjold_store::User,
    session: &skjold_store::Session,
    ceremony: &str,
    credential: serde_json::Value,
    name: &str,
) -> Result<PasskeyRecord, ApiError> {
    let name = check_name(name)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
        .map_err(|_| FieldErrors::single("credential", "is not a WebAuthn registration"))?;
    let ceremony = pk::take(db, ceremony)
        .await?
        .filter(|c| c.kind == kind::REGISTER && c.user_id.as_deref() == Some(&user.id))
        .ok_or_else(|| FieldErrors::single("ceremony", "is unknown or expired; start again"))?;
    let reg: PasskeyRegistration = pk::parse_state(&ceremony)?;
    let passkey = state
        .relying_party
        .webauthn()?
        .finish_passkey_registration(&credential, &reg)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            FieldErrors::single("credential", "does not verify")
        })?;
    let record = db
        .add_passkey(
            &user.id,
            &pk::cred_id_text(passkey.cred_id()),
            &name,
            &pk::passkey_json(&passkey)?,
        )
        .await?;
    // A session restricted to enrolment has enrolled now: it becomes a full one.
    if session.restricted {
        db.unrestrict_session(&session.token_hash).await?;
    }
    Ok(record)
}

/// Finish registering a passkey with the authenticator's answer.
#[utoipa::path(post, path = "/me/passkeys", tag = "me", params(TenantPath), security(("bearer" = [])),
    request_body = RegisterPasskey,
    responses(
        (status = 201, description = "Registered", body = PasskeyView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "This passkey is registered already", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Unknown or expired ceremony, or an answer that does not verify; `errors` names the field", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn register(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    ApiJson(body): ApiJson<RegisterPasskey>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    let record = registration_finish(
        &state,
        auth.db(),
        auth.user(),
        &auth.session,
        &body.ceremony,
        body.credential,
        body.name.as_deref().unwrap_or("Passkey"),
    )
    .await?;
    auth.audit_event(
        &state,
        ip,
        "auth.passkey_added",
        serde_json::json!({ "passkey": record.id, "name": record.name }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PasskeyView::from(&record))))
}

/// Rename one of the signed-in user's passkeys.
#[utoipa::path(patch, path = "/me/passkeys/{id}", tag = "me", params(PasskeyPath), security(("bearer" = [])),
    request_body = RenamePasskey,
    responses(
        (status = 200, description = "Renamed", body = PasskeyView),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such passkey (of this user)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A bad name", body = crate::error::Problem)))]
async fn rename(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RenamePasskey>,
) -> Result<Json<PasskeyView>, ApiError> {
    // A malformed id names no passkey of this user: the same answer as another's id.
    let id = super::parse_id(&id).map_err(|_| ApiError::NotFound("no such passkey"))?;
    let name = check_name(&body.name)?;
    let record = auth
        .db()
        .rename_passkey(&auth.user().id, &id, &name)
        .await
        .map_err(|e| match e {
            skjold_store::StoreError::NotFound => ApiError::NotFound("no such passkey"),
            other => other.into(),
        })?;
    auth.audit_event(
        &state,
        ip,
        "auth.passkey_renamed",
        serde_json::json!({ "passkey": record.id, "name": record.name }),
    )
    .await?;
    Ok(Json(PasskeyView::from(&record)))
}

/// Remove one of the signed-in user's passkeys. Refused for the last second factor of a
/// user the tenant requires to have one.
#[utoipa::path(delete, path = "/me/passkeys/{id}", tag = "me", params(PasskeyPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Called with an API token", body = crate::error::Problem),
        (status = 404, description = "No such passkey (of this user)", body = crate::error::Problem),
        (status = 409, description = "It is the last second factor, and the tenant requires one", body = crate::error::Problem)))]
async fn remove(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<Enrolling>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = super::parse_id(&id).map_err(|_| ApiError::NotFound("no such passkey"))?;
    let name = remove_passkey(auth.db(), auth.user(), &id).await?;
    auth.audit_event(
        &state,
        ip,
        "auth.passkey_removed",
        serde_json::json!({ "passkey": id, "name": name }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes one of the user's passkeys unless it is the last factor the tenant requires;
/// answers its name (shared with the web UI).
pub async fn remove_passkey(
    db: &skjold_store::TenantDb,
    user: &skjold_store::User,
    id: &str,
) -> Result<String, ApiError> {
    let mine = db.passkeys_of(&user.id).await?;
    if !mine.iter().any(|p| p.id == id) {
        return Err(ApiError::NotFound("no such passkey"));
    }
    let mut left = crate::two_factor::factors_of(db, &user.id).await?;
    left.passkeys = left.passkeys.saturating_sub(1);
    super::two_factor::keep_required_factor(db, user, left).await?;
    Ok(db.delete_passkey(&user.id, id).await?)
}

/// Start signing in with a passkey. With `username` and `password`: the second step after
/// the password, which is checked and counted as in `POST /session`. With `username` only:
/// options listing that user's passkeys. With neither: options for any passkey that names
/// its user (a discoverable credential). A username without passkeys, or that does not
/// exist, gets options of the same shape that can never succeed, so the answer does not
/// tell whether an account exists.
#[utoipa::path(post, path = "/session/passkey/options", tag = "session", params(TenantPath),
    request_body = PasskeySignInStart,
    responses(
        (status = 200, description = "Options and the ceremony token", body = CeremonyOptions),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "With a password: sign-in failed (`type` …:sign-in-failed), or the user has no passkey but a TOTP app (`type` …:second-factor-required)", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "With a right password: the user has no second factor, so `POST /session` signs them in", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "A password without a username, or fields of the wrong type", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: try again after `Retry-After` seconds", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn sign_in_options(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(body): ApiJson<PasskeySignInStart>,
) -> Result<Json<CeremonyOptions>, ApiError> {
    let typed = body.username.as_deref().unwrap_or("");
    Ok(Json(
        options_for(&state, &tenant, typed, body.password, ip, "api").await?,
    ))
}

/// The options of a passkey sign-in (shared with the web sign-in; see [`sign_in_options`]).
pub async fn options_for(
    state: &AppState,
    tenant: &Tenant,
    typed: &str,
    password: Option<String>,
    ip: std::net::IpAddr,
    via: &'static str,
) -> Result<CeremonyOptions, ApiError> {
    let rp = &state.relying_party;
    let now = state.clock.now();
    rp.webauthn()?;
    let typed = typed.trim();
    // A banned address or a locked name gets no ceremony (each one is a stored row). With a
    // password, the password check does this.
    if password.is_none() {
        if let Some(Outcome::TryLater { retry_after_secs }) =
            crate::signin::admission(state, &tenant.record, &tenant.db, typed, ip, via).await?
        {
            return Err(ApiError::TooManyAttempts { retry_after_secs });
        }
    }
    let (ceremony, options) = match (typed.is_empty(), password) {
        (true, Some(_)) => {
            return Err(FieldErrors::single("username", "is needed with a password").into())
        }
        (true, None) => {
            let (options, auth) = pk::discoverable_options(rp)?;
            let c = pk::keep(&tenant.db, now, kind::DISCOVERABLE, None, None, &auth).await?;
            (c, options_json(&options)?)
        }
        (false, Some(password)) => {
            let outcome = crate::signin::check_password(
                state,
                &tenant.record,
                &tenant.db,
                crate::signin::Credentials {
                    username: typed,
                    password,
                    second_factor: None,
                    then_passkey: true,
                },
                ip,
                via,
            )
            .await?;
            let user = match outcome {
                Outcome::PasswordVerified { user } => user,
                Outcome::Failed => return Err(ApiError::SignInFailed),
                Outcome::TryLater { retry_after_secs } => {
                    return Err(ApiError::TooManyAttempts { retry_after_secs })
                }
                Outcome::Suspended => {
                    return Err(ApiError::Forbidden("this tenant is suspended".into()))
                }
                Outcome::SecondFactorRequired => return Err(ApiError::SecondFactorRequired),
                Outcome::SignedIn { .. } => {
                    return Err(ApiError::Conflict(
                        "this account has no passkey: sign in with POST /session".into(),
                    ))
                }
            };
            let keys = user_passkeys(&tenant.db, &user.id).await?;
            let (options, auth) = pk::sign_in_options(rp, &keys)?;
            let c = pk::keep(
                &tenant.db,
                now,
                kind::SECOND_FACTOR,
                Some(&user.id),
                Some(typed),
                &auth,
            )
            .await?;
            (c, options_json(&options)?)
        }
        (false, None) => {
            // The same look-ups whether or not the name exists, then real or decoy options.
            let user = match Username::parse(typed) {
                Ok(u) => tenant.db.user_for_sign_in(&u).await?.map(|(u, _)| u),
                Err(_) => None,
            }
            .filter(|u| u.status == UserStatus::Active);
            let keys = match &user {
                Some(u) => user_passkeys(&tenant.db, &u.id).await?,
                None => Vec::new(),
            };
            match user.filter(|_| !keys.is_empty()) {
                Some(user) => {
                    let (options, auth) = pk::sign_in_options(rp, &keys)?;
                    let c = pk::keep(
                        &tenant.db,
                        now,
                        kind::USERNAME,
                        Some(&user.id),
                        Some(typed),
                        &auth,
                    )
                    .await?;
                    (c, options_json(&options)?)
                }
                None => {
                    let key = typed.to_lowercase();
                    let (options, auth) = pk::decoy_options(rp, &tenant.db, &key).await?;
                    let c =
                        pk::keep(&tenant.db, now, kind::DECOY, None, Some(typed), &auth).await?;
                    (c, options_json(&options)?)
                }
            }
        }
    };
    Ok(CeremonyOptions { ceremony, options })
}

async fn user_passkeys(
    db: &skjold_store::TenantDb,
    user_id: &str,
) -> Result<Vec<webauthn_rs::prelude::Passkey>, ApiError> {
    Ok(db
        .passkeys_of(user_id)
        .await?
        .iter()
        .map(|p| pk::parse_passkey(&p.credential))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Finish signing in with a passkey: the authenticator's answer to the options. Every
/// failure is the same `401 sign-in-failed` and counts toward the lockout of the username
/// the ceremony started with; a signature counter that went backwards (a cloned
/// authenticator) is refused and recorded as `auth.passkey_clone_suspected`.
#[utoipa::path(post, path = "/session/passkey", tag = "session", params(TenantPath),
    request_body = PasskeySignIn,
    responses(
        (status = 201, description = "Signed in", body = NewSession),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Sign-in failed (`type` …:sign-in-failed)", body = crate::error::Problem),
        (status = 403, description = "The tenant is suspended", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Fields missing or of the wrong type", body = crate::error::Problem),
        (status = 429, description = "Too many attempts: try again after `Retry-After` seconds", body = crate::error::Problem),
        (status = 503, description = "Passkeys are not available on this server", body = crate::error::Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    tenant: Tenant,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasskeySignIn>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let outcome =
        passkey_outcome(&state, &tenant, body.ceremony, body.credential, ip, "api").await?;
    start_session(&state, &tenant, outcome, ip, &headers, "api_passkey").await
}

/// Checks a passkey answer against its ceremony; shared with the web sign-in.
pub async fn passkey_outcome(
    state: &AppState,
    tenant: &Tenant,
    ceremony: String,
    credential: serde_json::Value,
    ip: std::net::IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let (record, db) = (&tenant.record, &tenant.db);
    let webauthn = state.relying_party.webauthn()?;
    let Some(ceremony) = pk::take(db, &ceremony).await? else {
        return Ok(Outcome::Failed);
    };
    let typed = ceremony.username.clone().unwrap_or_default();
    let attempt = match crate::signin::reserve(state, record, db, &typed, ip, via).await? {
        Ok(attempt) => attempt,
        Err(refused) => return Ok(refused),
    };
    let fail = |attempt: crate::signin::Attempt, reason: &'static str| {
        let typed = typed.clone();
        async move {
            crate::signin::failed_factor(state, record, db, attempt, &typed, reason, ip, via).await
        }
    };
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
        return fail(attempt, "passkey_malformed").await;
    };
    let cred_id = pk::cred_id_text(credential.get_credential_id());
    let stored = db.passkey_by_cred_id(&cred_id).await?;
    let result = match ceremony.kind.as_str() {
        kind::SECOND_FACTOR | kind::USERNAME => {
            let Some(stored) = stored.filter(|s| Some(&s.user_id) == ceremony.user_id.as_ref())
            else {
                return fail(attempt, "passkey_unknown").await;
            };
            let auth: PasskeyAuthentication = pk::parse_state(&ceremony)?;
            (
                webauthn.finish_passkey_authentication(&credential, &auth),
                stored,
            )
        }
        kind::DISCOVERABLE => {
            let handle = webauthn
                .identify_discoverable_authentication(&credential)
                .ok()
                .map(|(uuid, _)| uuid.to_string());
            let Some(stored) = stored.filter(|s| Some(&s.user_id) == handle.as_ref()) else {
                return fail(attempt, "passkey_unknown").await;
            };
            let auth: DiscoverableAuthentication = pk::parse_state(&ceremony)?;
            let passkey = pk::parse_passkey(&stored.credential)?;
            (
                webauthn.finish_discoverable_authentication_v2(&credential, auth, &passkey),
                stored,
            )
        }
        _ => return fail(attempt, "passkey_unknown").await,
    };
    let (verified, stored) = result;
    let mut passkey = pk::parse_passkey(&stored.credential)?;
    let user = db.user(&stored.user_id).await?;
    // The library compares the signature counter with the credential as it was when the
    // options were made; two ceremonies started together would both pass that. So the
    // stored counter is compared and set in one statement (below), and here only a counter
    // that did not move past the one the ceremony saw is refused at once.
    let verified = verified.and_then(|v| {
        let before = pk::stored_counter(&stored.credential);
        if (v.counter() > 0 || before > 0) && v.counter() <= before {
            Err(WebauthnError::CredentialPossibleCompromise)
        } else {
            Ok(v)
        }
    });
    let verified = match verified {
        Ok(v) => {
            let credential = if passkey.update_credential(&v) == Some(true) {
                pk::passkey_json(&passkey)?
            } else {
                stored.credential.clone()
            };
            // Compare-and-set against the credential as read: of two answers that both
            // passed with the counter read above, only the first moves it; the other finds
            // the credential changed and is refused like a counter that went back.
            let moved = db
                .passkey_used(&stored.id, &stored.credential, &credential)
                .await?;
            if moved {
                Ok(v)
            } else {
                Err(WebauthnError::CredentialPossibleCompromise)
            }
        }
        Err(e) => Err(e),
    };
    match verified {
        Ok(_) => {}
        Err(WebauthnError::CredentialPossibleCompromise) => {
            Event::new(
                state,
                "auth.passkey_clone_suspected",
                Some(ip),
                serde_json::json!({ "passkey": stored.id, "name": stored.name, "via": via }),
            )
            .by(&user.id, &user.username)
            .record(state, record.slug.as_str())
            .await?;
            return fail(attempt, "passkey_counter_went_back").await;
        }
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            return fail(attempt, "passkey_failed").await;
        }
    };
    if user.status != UserStatus::Active {
        return fail(attempt, "user_disabled").await;
    }
    if record.status != skjold_store::TenantStatus::Active {
        attempt.release(state, db).await?;
        return Ok(Outcome::Suspended);
    }
    attempt.succeeded(state, db).await?;
    crate::signin::clear_failures(db, &user.username).await?;
    let factors = crate::two_factor::factors_of(db, &user.id).await?;
    crate::signin::succeeded(db, user, factors, state.clock.now()).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(register_options))
        .routes(routes!(rename, remove))
        .routes(routes!(sign_in_options))
        .routes(routes!(sign_in))
}
