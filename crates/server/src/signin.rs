//! Checking credentials, shared by the API's `POST /session` and the web UI's sign-in
//! form: per-address throttling and bans, per-account lockout, the password check with
//! equal timing for unknown users, and the audit events of it all.
//!
//! A client learns only "signed in", "sign-in failed" or "try again later". A username that
//! does not exist is counted and locked exactly like one that does, and a locked username is
//! answered before any password is checked, so neither the answer nor its timing tells
//! whether an account exists. This is the password method; other ways to sign in (single
//! sign-on, later) would end in the same [`Outcome`] and go through the same per-address
//! guard.
//!
//! Every check of a credential (password, TOTP or recovery code, passkey, the current
//! password of a password change) first reserves an attempt ([`reserve`]): per address in
//! the in-memory guard and per name in the tenant database, each atomically. A reservation
//! counts as a failure from the start, so however many attempts arrive at once, no more
//! credentials are checked than the lockout and the address ban allow. A success clears
//! the name's count ([`Attempt::succeeded`]), a failure settles the reservation and may
//! lock ([`Attempt::failed`]), an attempt that was not decided gives it back
//! ([`Attempt::release`]).

use crate::audit::Event;
use crate::ipguard::{AfterFailure, Verdict};
use crate::metrics::{LockoutScope, SignInMethod};
use crate::{ApiError, AppState};
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::Username;
use skjold_store::{
    FailureOutcome, Reservation, TenantDb, TenantRecord, TenantStatus, User, UserStatus,
};
use std::net::IpAddr;

#[derive(Debug)]
pub enum Outcome {
    SignedIn {
        user: User,
        /// The tenant's maximum password age has passed: the user should change it now.
        password_expired: bool,
        /// The user must have a second factor and has none: the session may only enrol one.
        must_enrol: bool,
    },
    /// The password was right and the user asked to go on with a passkey
    /// ([`Credentials::then_passkey`]): nothing is cleared or counted yet.
    PasswordVerified {
        user: User,
    },
    Failed,
    /// Locked account or throttled/banned address: try again after this many seconds.
    TryLater {
        retry_after_secs: u64,
    },
    /// Right credentials, but the tenant is suspended.
    Suspended,
    /// The password was right; the user has a second factor and sent no code.
    SecondFactorRequired,
    /// The password was right, but the user signs in only through this identity provider.
    SsoOnly {
        provider: String,
    },
}

/// The key a sign-in attempt is counted under: the username as typed, normalised the way
/// usernames are, and bounded.
fn attempt_key(typed: &str) -> String {
    typed.trim().to_lowercase().chars().take(100).collect()
}

/// Whole seconds from `now` until `until`, rounded up (Retry-After must not be early).
fn retry_after(until: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(1);
    ((ms + 999) / 1000) as u64
}

/// What a client sent to sign in with a password.
pub struct Credentials<'a> {
    /// The username as typed.
    pub username: &'a str,
    pub password: String,
    /// A TOTP or recovery code, for users with a second factor.
    pub second_factor: Option<&'a str>,
    /// The client will prove a passkey next: a right password answers
    /// [`Outcome::PasswordVerified`] for a user who has one.
    pub then_passkey: bool,
}

/// Checks a username and password (and second factor) for the tenant, recording what
/// happened.
pub async fn check_password(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    creds: Credentials<'_>,
    ip: IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let Credentials {
        username: typed_username,
        password,
        second_factor,
        then_passkey,
    } = creds;
    let chain = record.slug.as_str();
    let now = state.clock.now();
    let failed_event = |reason: &str, extra: serde_json::Value| {
        let mut detail = serde_json::json!({ "reason": reason, "via": via });
        if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
            d.extend(extra);
        }
        Event::new(state, AuditKind::AuthSignInFailed, Some(ip), detail).tried(typed_username)
    };

    // 1 and 2. The address, then the account: an attempt reserved at both.
    let attempt = match reserve(state, record, db, typed_username, ip, via).await? {
        Ok(attempt) => attempt,
        Err(refused) => return Ok(refused),
    };

    // 3. The password, against a dummy hash when there is no such user (equal timing).
    let found = match Username::parse(typed_username) {
        Ok(u) if password.len() <= 4096 => db.user_for_sign_in(&u).await?,
        _ => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let verified = match skjold_app::credentials::verify_password(password, hash).await {
        Ok(v) => v,
        Err(e) => {
            attempt.release(state, db).await?;
            return Err(e.into());
        }
    };
    let reason = match &user {
        None => Some("unknown_user"),
        Some(_) if !verified => Some("wrong_password"),
        Some(u) if u.status != UserStatus::Active => Some("user_disabled"),
        Some(_) => None,
    };
    if let Some(reason) = reason {
        failed_event(reason, serde_json::Value::Null)
            .record(state, chain)
            .await?;
        state.metrics.sign_in(SignInMethod::Password, false);
        return attempt.failed(state, record, db, user.is_some(), via).await;
    }
    let Some(user) = user else {
        return Ok(Outcome::Failed);
    };

    if record.status != TenantStatus::Active {
        attempt.release(state, db).await?;
        Event::new(
            state,
            AuditKind::AuthSignInFailed,
            Some(ip),
            serde_json::json!({ "reason": "tenant_suspended", "via": via }),
        )
        .by(&user.id, &user.username)
        .record(state, chain)
        .await?;
        return Ok(Outcome::Suspended);
    }
    // A user whose provider says "single sign-on only" does not get in with a password,
    // right or not; told so only after the right one, so it says nothing about accounts.
    if let Some(provider) = skjold_app::identity_providers::sso_only(db, &user).await? {
        attempt.release(state, db).await?;
        Event::new(
            state,
            AuditKind::AuthSignInFailed,
            Some(ip),
            serde_json::json!({ "reason": "sso_only", "via": via, "provider": provider }),
        )
        .by(&user.id, &user.username)
        .record(state, chain)
        .await?;
        return Ok(Outcome::SsoOnly { provider });
    }
    // 4. The second factor, for a user who has one, under the same reservation: a missing
    //    code is not a failure (the password was right), a wrong or replayed one is.
    let totp = db.totp_factor(&user.id).await?.filter(|f| f.confirmed);
    let factors = crate::two_factor::factors_of(db, &user.id).await?;
    let mut method = SignInMethod::Password;
    if factors.any() {
        let code = second_factor.map(str::trim).filter(|c| !c.is_empty());
        let Some(code) = code else {
            attempt.release(state, db).await?;
            if then_passkey && factors.passkeys > 0 {
                return Ok(Outcome::PasswordVerified { user });
            }
            return Ok(Outcome::SecondFactorRequired);
        };
        let now_secs = now.timestamp().max(0) as u64;
        let verified = match &totp {
            Some(factor) => {
                crate::totp::verify(db, &user.id, &user.username, factor, code, now_secs).await?
            }
            None => None,
        };
        match verified {
            Some("recovery_code") => {
                method = SignInMethod::RecoveryCode;
                Event::new(
                    state,
                    AuditKind::AuthRecoveryCodeUsed,
                    Some(ip),
                    serde_json::json!({ "via": via }),
                )
                .by(&user.id, &user.username)
                .record(state, chain)
                .await?;
            }
            Some(_) => method = SignInMethod::Totp,
            None => {
                failed_event("wrong_second_factor", serde_json::Value::Null)
                    .record(state, chain)
                    .await?;
                state.metrics.sign_in(SignInMethod::Totp, false);
                return attempt.failed(state, record, db, true, via).await;
            }
        }
    }
    attempt.succeeded(state, db).await?;
    state.metrics.sign_in(method, true);
    succeeded(db, user, factors, now).await
}

/// Checks a signed-in user's current password (before changing it) like a sign-in: an
/// attempt reserved first (refused with `TooManyAttempts` while the account is locked,
/// even for the right password), a wrong one audited as `auth.sign_in.failed` with reason
/// `wrong_current_password` and counted toward the lockout, a right one clearing the count.
pub async fn check_current_password(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    user: &User,
    current: String,
    ip: IpAddr,
    via: &'static str,
) -> Result<bool, ApiError> {
    let attempt = match reserve(state, record, db, &user.username, ip, via).await? {
        Ok(attempt) => attempt,
        Err(Outcome::TryLater { retry_after_secs }) => {
            return Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        Err(_) => {
            return Err(ApiError::TooManyAttempts {
                retry_after_secs: 1,
            })
        }
    };
    let stored = match Username::parse(&user.username) {
        Ok(u) if current.len() <= 4096 => db.user_for_sign_in(&u).await?.and_then(|(_, h)| h),
        _ => None,
    };
    let right = match skjold_app::credentials::verify_password(current, stored).await {
        Ok(right) => right,
        Err(e) => {
            attempt.release(state, db).await?;
            return Err(e.into());
        }
    };
    if right {
        attempt.succeeded(state, db).await?;
        return Ok(true);
    }
    Event::new(
        state,
        AuditKind::AuthSignInFailed,
        Some(ip),
        serde_json::json!({ "reason": "wrong_current_password", "via": via }),
    )
    .by(&user.id, &user.username)
    .record(state, record.slug.as_str())
    .await?;
    match attempt.failed(state, record, db, true, via).await? {
        Outcome::TryLater { retry_after_secs } => {
            Err(ApiError::TooManyAttempts { retry_after_secs })
        }
        _ => Ok(false),
    }
}

/// The session a sign-in opened: its token (shown once, stored as a hash), when it ends at
/// the latest, and the timeouts it was opened with.
pub struct OpenedSession {
    pub token: String,
    pub expires_at: String,
    pub timeouts: skjold_store::SessionTimeouts,
}

/// Opens the session of a user the sign-in rules let in — restricted to enrolling a second
/// factor when `must_enrol` — and records `auth.sign_in.succeeded`, in one shape whether the
/// sign-in came through the API or the web form (`via`).
pub async fn open_session(
    state: &AppState,
    tenant: &crate::extract::Tenant,
    user: &skjold_store::User,
    must_enrol: bool,
    ip: IpAddr,
    headers: &axum::http::HeaderMap,
    via: &'static str,
) -> Result<OpenedSession, ApiError> {
    open_session_noting(
        state,
        tenant,
        user,
        must_enrol,
        ip,
        headers,
        via,
        serde_json::Value::Null,
    )
    .await
}

/// [`open_session`], with more for the event's detail (`extra`, an object: the identity
/// provider of a single sign-on).
#[allow(clippy::too_many_arguments)]
pub async fn open_session_noting(
    state: &AppState,
    tenant: &crate::extract::Tenant,
    user: &skjold_store::User,
    must_enrol: bool,
    ip: IpAddr,
    headers: &axum::http::HeaderMap,
    via: &'static str,
    extra: serde_json::Value,
) -> Result<OpenedSession, ApiError> {
    let token = skjold_app::credentials::new_token();
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let timeouts = state.tenant_session_timeouts(&tenant.db).await?;
    // The session exists only together with its record: no sign-in goes unaudited.
    let mut detail = serde_json::json!({ "via": via, "enrolment_required": must_enrol });
    if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
        d.extend(extra);
    }
    let event = Event::new(state, AuditKind::AuthSignInSucceeded, Some(ip), detail)
        .by(&user.id, &user.username)
        .on_commit(state, tenant.record.slug.as_str());
    let expires_at = tenant
        .db
        .with_before_commit(event)
        .create_session_restricted(
            &user.id,
            &skjold_app::credentials::hash_token(&token),
            timeouts,
            Some(&ip.to_string()),
            user_agent,
            must_enrol,
        )
        .await?;
    Ok(OpenedSession {
        token,
        expires_at,
        timeouts,
    })
}

/// A sign-in that passed every check: whether the password has expired, and whether the
/// user must enrol a second factor before anything else.
pub async fn succeeded(
    db: &TenantDb,
    user: User,
    factors: crate::two_factor::Factors,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome, ApiError> {
    let policy = crate::password::policy(db).await?;
    let password_expired = match policy.max_age_days {
        Some(days) => db
            .password_changed_at(&user.id)
            .await?
            .as_deref()
            .and_then(parse_timestamp)
            .is_none_or(|at| now - at >= chrono::Duration::days(i64::from(days))),
        None => false,
    };
    let must_enrol = crate::two_factor::must_enrol(db, &user, factors).await?;
    Ok(Outcome::SignedIn {
        user,
        password_expired,
        must_enrol,
    })
}

/// Before any credential is looked at: a throttled or banned address, or a locked account
/// (or name, if there is no such account), is refused. Locked means that the right
/// credentials do not get in either. This only looks (for requests that check no
/// credential, such as passkey options without a password); a check reserves ([`reserve`]).
pub async fn admission(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    typed_username: &str,
    ip: IpAddr,
    via: &'static str,
) -> Result<Option<Outcome>, ApiError> {
    let now = state.clock.now();
    match state.ip_guard.check(ip, now) {
        Verdict::Allowed => {}
        Verdict::Throttled(secs) | Verdict::Banned(secs) => {
            return Ok(Some(Outcome::TryLater {
                retry_after_secs: secs,
            }));
        }
    }
    let key = attempt_key(typed_username);
    if key.is_empty() {
        return Ok(None);
    }
    if let Some(lock) = db.sign_in_lock(&key).await? {
        if let Some(until) = lock.locked_at(now) {
            locked_event(state, record, typed_username, until, ip, via).await?;
            return Ok(Some(Outcome::TryLater {
                retry_after_secs: retry_after(until, now),
            }));
        }
    }
    Ok(None)
}

async fn locked_event(
    state: &AppState,
    record: &TenantRecord,
    typed_username: &str,
    until: chrono::DateTime<chrono::Utc>,
    ip: IpAddr,
    via: &'static str,
) -> Result<(), ApiError> {
    Event::new(
        state,
        AuditKind::AuthSignInFailed,
        Some(ip),
        serde_json::json!({
            "reason": "locked",
            "via": via,
            "locked_until": format_timestamp(until),
        }),
    )
    .tried(typed_username)
    .record(state, record.slug.as_str())
    .await
}

/// One attempt at a credential, reserved at the address and the name; settle it with
/// [`Attempt::failed`], [`Attempt::succeeded`] or [`Attempt::release`]. One that is never
/// settled (the request was cancelled, the server stopped) stays counted as a failure.
#[must_use = "an attempt is settled: failed, succeeded or released"]
pub struct Attempt {
    /// The name's key; empty when the attempt named nobody (counted by address only).
    key: String,
    ip: IpAddr,
}

/// Reserves an attempt before any credential is checked: refused (the [`Outcome`] to
/// answer) when the address is throttled or banned, the name is locked, or every place
/// the lockout leaves is taken by attempts still being checked.
pub async fn reserve(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    typed_username: &str,
    ip: IpAddr,
    via: &'static str,
) -> Result<Result<Attempt, Outcome>, ApiError> {
    let now = state.clock.now();
    match state.ip_guard.reserve(ip, now) {
        Verdict::Allowed => {}
        Verdict::Throttled(secs) | Verdict::Banned(secs) => {
            return Ok(Err(Outcome::TryLater {
                retry_after_secs: secs,
            }));
        }
    }
    let key = attempt_key(typed_username);
    if key.is_empty() {
        return Ok(Ok(Attempt { key, ip }));
    }
    let lockout = match crate::password::policy(db).await {
        Ok(policy) => policy.lockout,
        Err(e) => {
            state.ip_guard.release(ip);
            return Err(e.into());
        }
    };
    let reserved = db
        .reserve_sign_in_attempt(
            &key,
            lockout.max_failures,
            chrono::Duration::minutes(1),
            |nth| lockout.lock_duration_minutes(nth),
        )
        .await;
    let refused = match reserved {
        Ok(Reservation::Reserved) => return Ok(Ok(Attempt { key, ip })),
        Ok(Reservation::Locked { until, started }) => {
            state.ip_guard.release(ip);
            if let Some(lock_count) = started {
                let known = match Username::parse(typed_username) {
                    Ok(u) => db.user_for_sign_in(&u).await?.is_some(),
                    Err(_) => false,
                };
                locked_now_event(
                    state, record, &key, until, lock_count, known, &lockout, ip, via,
                )
                .await?;
            }
            locked_event(state, record, typed_username, until, ip, via).await?;
            Outcome::TryLater {
                retry_after_secs: retry_after(until, now),
            }
        }
        Ok(Reservation::InFlight) => {
            state.ip_guard.release(ip);
            Event::new(
                state,
                AuditKind::AuthSignInFailed,
                Some(ip),
                serde_json::json!({ "reason": "attempts_in_flight", "via": via }),
            )
            .tried(typed_username)
            .record(state, record.slug.as_str())
            .await?;
            Outcome::TryLater {
                retry_after_secs: 1,
            }
        }
        Err(e) => {
            state.ip_guard.release(ip);
            return Err(e.into());
        }
    };
    Ok(Err(refused))
}

impl Attempt {
    /// The credential was right: the name's failures are forgotten, the address's place
    /// given back.
    pub async fn succeeded(self, state: &AppState, db: &TenantDb) -> Result<(), ApiError> {
        state.ip_guard.release(self.ip);
        if !self.key.is_empty() {
            db.clear_sign_in_failures(&self.key).await?;
        }
        Ok(())
    }

    /// Nothing was decided (the password was right and a second factor is still to come,
    /// the tenant is suspended, the server was too busy to check): the places are given back.
    pub async fn release(self, state: &AppState, db: &TenantDb) -> Result<(), ApiError> {
        state.ip_guard.release(self.ip);
        if !self.key.is_empty() {
            db.release_sign_in_attempt(&self.key).await?;
        }
        Ok(())
    }

    /// The credential was wrong: the reservation becomes a counted failure, which may lock
    /// the name or ban the address; records the locks it starts.
    pub async fn failed(
        self,
        state: &AppState,
        record: &TenantRecord,
        db: &TenantDb,
        known: bool,
        via: &'static str,
    ) -> Result<Outcome, ApiError> {
        failure(state, record, db, &self.key, known, self.ip, via).await
    }
}

/// A failed second step or passkey sign-in of `typed_username` ("" when the credential
/// named nobody): recorded, and the attempt counted like a wrong password.
#[allow(clippy::too_many_arguments)]
pub async fn failed_factor(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    attempt: Attempt,
    typed_username: &str,
    reason: &str,
    ip: IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    Event::new(
        state,
        AuditKind::AuthSignInFailed,
        Some(ip),
        serde_json::json!({ "reason": reason, "via": via }),
    )
    .tried(typed_username)
    .record(state, record.slug.as_str())
    .await?;
    attempt
        .failed(state, record, db, !typed_username.is_empty(), via)
        .await
}

/// Clears a name's failures after a sign-in that did not go through [`check_password`].
pub async fn clear_failures(db: &TenantDb, typed_username: &str) -> Result<(), ApiError> {
    db.clear_sign_in_failures(&attempt_key(typed_username))
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn locked_now_event(
    state: &AppState,
    record: &TenantRecord,
    key: &str,
    until: chrono::DateTime<chrono::Utc>,
    lock_count: i64,
    known: bool,
    lockout: &skjold_domain::LockoutPolicy,
    ip: IpAddr,
    via: &'static str,
) -> Result<(), ApiError> {
    state.metrics.lockout(LockoutScope::Account);
    Event::new(
        state,
        AuditKind::AuthAccountLocked,
        Some(ip),
        serde_json::json!({
            "until": format_timestamp(until),
            "lock_count": lock_count,
            "known_user": known,
            "failures": lockout.max_failures,
            "via": via,
        }),
    )
    .tried(key)
    .record(state, record.slug.as_str())
    .await
}

/// Settles a reserved attempt as a failure against the name and the address; records the
/// locks it starts.
async fn failure(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    key: &str,
    known: bool,
    ip: IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    let chain = record.slug.as_str();
    let now = state.clock.now();
    let policy = crate::password::policy(db).await?;
    let lockout = policy.lockout.clone();
    // A passkey that named nobody has no name to count against; the address still counts.
    let counted = if key.is_empty() {
        FailureOutcome::Counted { failures: 0 }
    } else {
        db.count_reserved_failure(key, lockout.max_failures, |nth| {
            lockout.lock_duration_minutes(nth)
        })
        .await?
    };
    if let AfterFailure::BanStarted(until) = state.ip_guard.settle_failure(ip, now) {
        state.metrics.lockout(LockoutScope::Address);
        Event::new(
            state,
            AuditKind::AuthAddressBanned,
            Some(ip),
            serde_json::json!({ "until": format_timestamp(until), "via": via }),
        )
        .record(state, chain)
        .await?;
        return Ok(Outcome::TryLater {
            retry_after_secs: retry_after(until, now),
        });
    }
    match counted {
        FailureOutcome::Counted { .. } => Ok(Outcome::Failed),
        FailureOutcome::AlreadyLocked { until } => Ok(Outcome::TryLater {
            retry_after_secs: retry_after(until, now),
        }),
        FailureOutcome::Locked { until, lock_count } => {
            locked_now_event(
                state, record, key, until, lock_count, known, &lockout, ip, via,
            )
            .await?;
            Ok(Outcome::TryLater {
                retry_after_secs: retry_after(until, now),
            })
        }
    }
}
