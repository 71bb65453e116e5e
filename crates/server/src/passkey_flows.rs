//! The passkey ceremonies that the API and the web UI share: registering a passkey,
//! removing one, and both halves of signing in with one (see [`crate::passkeys`] for the
//! relying party and the ceremony store).

use crate::audit::Event;
use crate::extract::Tenant;
use crate::passkeys::{self as pk, kind};
use crate::signin::Outcome;
use crate::{ApiError, AppState};
use serde::Serialize;
use skjold_domain::audit::AuditKind;
use skjold_domain::{FieldErrors, Username};
use skjold_store::{PasskeyRecord, UserStatus};
use utoipa::ToSchema;
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

pub(crate) fn options_json<T: Serialize>(options: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(options).map_err(|e| ApiError::Internal(format!("passkey options: {e}")))
}

pub(crate) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(FieldErrors::single("name", "must be 1–100 characters").into());
    }
    Ok(name.to_string())
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
/// the web UI), recording `auth.passkey_added` in the same transaction. Lifts an enrolment
/// restriction of `session`.
pub async fn registration_finish(
    state: &AppState,
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    session: &skjold_store::Session,
    ceremony: &str,
    credential: serde_json::Value,
    name: &str,
) -> Result<PasskeyRecord, ApiError> {
    let (db, user) = (ctx.db, crate::factors::own_user(actor)?);
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
    let id = db.new_record_id();
    let event = skjold_app::audited::Audited::new(
        ctx,
        actor,
        AuditKind::AuthPasskeyAdded,
        serde_json::json!({ "passkey": id, "name": name }),
    );
    let record = event
        .db(db)
        .add_passkey_with_id(
            &id,
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

/// Removes one of the user's passkeys unless it is the last factor the tenant requires;
/// answers its name (shared with the web UI).
pub async fn remove_passkey(
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    id: &str,
) -> Result<String, ApiError> {
    let user = crate::factors::own_user(actor)?;
    let db = ctx.db;
    let mine = db.passkeys_of(&user.id).await?;
    let Some(passkey) = mine.iter().find(|p| p.id == id) else {
        return Err(ApiError::NotFound("no such passkey"));
    };
    let mut left = crate::two_factor::factors_of(db, &user.id).await?;
    left.passkeys = left.passkeys.saturating_sub(1);
    crate::factors::keep_required_factor(db, user, left).await?;
    // Recorded in the same transaction as the removal, or the passkey stays.
    let event = skjold_app::audited::Audited::new(
        ctx,
        actor,
        AuditKind::AuthPasskeyRemoved,
        serde_json::json!({ "passkey": id, "name": passkey.name }),
    );
    Ok(event.db(db).delete_passkey(&user.id, id).await?)
}

/// Renames one of the actor's passkeys (`name` checked by [`check_name`]). Recorded as
/// `auth.passkey_renamed` in the same transaction.
pub async fn rename_passkey(
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    id: &str,
    name: &str,
) -> Result<PasskeyRecord, ApiError> {
    let user = crate::factors::own_user(actor)?;
    let event = skjold_app::audited::Audited::new(
        ctx,
        actor,
        AuditKind::AuthPasskeyRenamed,
        serde_json::json!({ "passkey": id, "name": name }),
    );
    event
        .db(ctx.db)
        .rename_passkey(&user.id, id, name)
        .await
        .map_err(|e| match e {
            skjold_store::StoreError::NotFound => ApiError::NotFound("no such passkey"),
            other => other.into(),
        })
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
                Outcome::SsoOnly { provider } => {
                    return Err(ApiError::Forbidden(format!(
                        "this account signs in only through {provider} (single sign-on)"
                    )))
                }
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

pub(crate) async fn user_passkeys(
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
        state
            .metrics
            .sign_in(crate::metrics::SignInMethod::Passkey, false);
        return Ok(Outcome::Failed);
    };
    let typed = ceremony.username.clone().unwrap_or_default();
    let attempt = match crate::signin::reserve(state, record, db, &typed, ip, via).await? {
        Ok(attempt) => attempt,
        Err(refused) => return Ok(refused),
    };
    let fail = |attempt: crate::signin::Attempt, reason: &'static str| {
        let typed = typed.clone();
        state
            .metrics
            .sign_in(crate::metrics::SignInMethod::Passkey, false);
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
                AuditKind::AuthPasskeyCloneSuspected,
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
    state
        .metrics
        .sign_in(crate::metrics::SignInMethod::Passkey, true);
    crate::signin::clear_failures(db, &user.username).await?;
    let factors = crate::two_factor::factors_of(db, &user.id).await?;
    crate::signin::succeeded(db, user, factors, state.clock.now()).await
}
