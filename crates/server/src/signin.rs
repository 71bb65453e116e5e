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

use crate::audit::Event;
use crate::ipguard::{AfterFailure, Verdict};
use crate::{ApiError, AppState};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::Username;
use skjold_store::{FailureOutcome, TenantDb, TenantRecord, TenantStatus, User, UserStatus};
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
    let key = attempt_key(typed_username);
    let failed_event = |reason: &str, extra: serde_json::Value| {
        let mut detail = serde_json::json!({ "reason": reason, "via": via });
        if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra) {
            d.extend(extra);
        }
        Event::new(state, "auth.sign_in.failed", Some(ip), detail).tried(typed_username)
    };

    // 1 and 2. The address, then the account.
    if let Some(refused) = admission(state, record, db, typed_username, ip, via).await? {
        return Ok(refused);
    }

    // 3. The password, against a dummy hash when there is no such user (equal timing).
    let found = match Username::parse(typed_username) {
        Ok(u) if password.len() <= 4096 => db.user_for_sign_in(&u).await?,
        _ => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let verified = skjold_auth::verify_password(password, hash).await;
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
        return failure(state, record, db, &key, user.is_some(), ip, via).await;
    }
    let Some(user) = user else {
        return Ok(Outcome::Failed);
    };

    if record.status != TenantStatus::Active {
        Event::new(
            state,
            "auth.sign_in.failed",
            Some(ip),
            serde_json::json!({ "reason": "tenant_suspended", "via": via }),
        )
        .by(&user.id, &user.username)
        .record(state, chain)
        .await?;
        return Ok(Outcome::Suspended);
    }
    // 4. The second factor, for a user who has one: a missing code is not a failure (the
    //    password was right), a wrong or replayed one is.
    let totp = db.totp_factor(&user.id).await?.filter(|f| f.confirmed);
    let factors = crate::two_factor::factors_of(db, &user.id).await?;
    if factors.any() {
        let code = second_factor.map(str::trim).filter(|c| !c.is_empty());
        let Some(code) = code else {
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
                Event::new(
                    state,
                    "auth.recovery_code_used",
                    Some(ip),
                    serde_json::json!({ "via": via }),
                )
                .by(&user.id, &user.username)
                .record(state, chain)
                .await?;
            }
            Some(_) => {}
            None => {
                failed_event("wrong_second_factor", serde_json::Value::Null)
                    .record(state, chain)
                    .await?;
                return failure(state, record, db, &key, true, ip, via).await;
            }
        }
    }
    db.clear_sign_in_failures(&key).await?;
    succeeded(db, user, factors, now).await
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
/// credentials do not get in either.
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
            Event::new(
                state,
                "auth.sign_in.failed",
                Some(ip),
                serde_json::json!({
                    "reason": "locked",
                    "via": via,
                    "locked_until": format_timestamp(until),
                }),
            )
            .tried(typed_username)
            .record(state, record.slug.as_str())
            .await?;
            return Ok(Some(Outcome::TryLater {
                retry_after_secs: retry_after(until, now),
            }));
        }
    }
    Ok(None)
}

/// A failed second step or passkey sign-in of `typed_username` ("" when the credential
/// named nobody): recorded, and counted like a wrong password.
pub async fn failed_factor(
    state: &AppState,
    record: &TenantRecord,
    db: &TenantDb,
    typed_username: &str,
    reason: &str,
    ip: IpAddr,
    via: &'static str,
) -> Result<Outcome, ApiError> {
    Event::new(
        state,
        "auth.sign_in.failed",
        Some(ip),
        serde_json::json!({ "reason": reason, "via": via }),
    )
    .tried(typed_username)
    .record(state, record.slug.as_str())
    .await?;
    failure(
        state,
        record,
        db,
        &attempt_key(typed_username),
        !typed_username.is_empty(),
        ip,
        via,
    )
    .await
}

/// Clears a name's failures after a sign-in that did not go through [`check_password`].
pub async fn clear_failures(db: &TenantDb, typed_username: &str) -> Result<(), ApiError> {
    db.clear_sign_in_failures(&attempt_key(typed_username))
        .await?;
    Ok(())
}

/// Counts a failure against the name and the address; records the locks it starts.
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
        db.record_sign_in_failure(key, lockout.max_failures, |nth| {
            lockout.lock_duration_minutes(nth)
        })
        .await?
    };
    if let AfterFailure::BanStarted(until) = state.ip_guard.record_failure(ip, now) {
        Event::new(
            state,
            "auth.address_banned",
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
        FailureOutcome::Locked { until, lock_count } => {
            Event::new(
                state,
                "auth.account_locked",
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
            .record(state, chain)
            .await?;
            Ok(Outcome::TryLater {
                retry_after_secs: retry_after(until, now),
            })
        }
    }
}
