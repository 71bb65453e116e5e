//! Invitation links (issue 4, item 7): instead of a password that an administrator makes
//! and passes on, a person gets a one-time link and chooses their own password under the
//! tenant's policy. The rules live here, for the API, the web UI and the command line.
//!
//! The link is `https://HOST/<tenant>/invite/<token>`: the token has 256 random bits and
//! only its SHA-256 is stored. It works once, for [`INVITE_DAYS`] days (by the injected
//! clock), and a new invitation of the same user replaces it. Until the invitee sets a
//! password, they cannot sign in.

use crate::extract::Tenant;
use crate::ipguard::{AfterFailure, Verdict};
use crate::password::PasswordRefusal;
use crate::{ApiError, AppState};
use axum::http::{HeaderMap, Uri};
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::format_timestamp;

use skjold_store::TenantStatus;
use skjold_store::{StoreError, TenantDb, User};
use std::net::IpAddr;

pub use skjold_app::invites::{refusal, INVITE_DAYS};

/// An invitation just made: the token is in `path` (and `url`), shown only now.
#[derive(Debug, Clone)]
pub struct IssuedInvite {
    /// `/<tenant>/invite/<token>`.
    pub path: String,
    pub expires_at: String,
}

impl IssuedInvite {
    /// The whole link: on the configured `public_url`, else on the host the request was
    /// sent to (the administrator's own browser), else only the path.
    pub fn url(&self, public_url: Option<&url::Url>, request_host: Option<&str>) -> String {
        if let Some(base) = public_url {
            if let Ok(u) = base.join(&self.path) {
                return u.to_string();
            }
        }
        match request_host.filter(|h| plausible_host(h)) {
            Some(h) => format!("https://{h}{}", self.path),
            None => self.path.clone(),
        }
    }
}

/// The host a request was sent to: HTTP/1.1's `Host` header, or HTTP/2's `:authority`
/// (which arrives in the URI).
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// A `Host` header fit to put into a link: a name or address with an optional port.
fn plausible_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Issues a person's invitation (the application layer's [`skjold_app::invites::issue`]),
/// as the link's path.
pub async fn issue(
    ctx: &skjold_app::Ctx<'_>,
    actor: &skjold_app::Actor,
    user_id: &str,
) -> Result<IssuedInvite, skjold_app::AppError> {
    let invitation = skjold_app::invites::issue(ctx, actor, user_id).await?;
    Ok(IssuedInvite {
        path: format!("/{}/invite/{}", ctx.db.slug(), invitation.token),
        expires_at: invitation.expires_at,
    })
}

/// Why accepting an invitation failed.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Unknown, used, replaced or expired: the invitee learns no more than that.
    #[error("this invitation link is not valid")]
    NotOpen,
    #[error(transparent)]
    Password(#[from] PasswordRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hashing queue stayed full: the invitee tries again in a moment.
    #[error("too many passwords are being checked at once; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
}

impl From<AcceptError> for ApiError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::NotOpen => {
                ApiError::NotFound("no such invitation (used, replaced or expired)")
            }
            AcceptError::Password(p) => p.into(),
            AcceptError::Store(s) => s.into(),
            AcceptError::Busy { retry_after_secs } => ApiError::Busy { retry_after_secs },
        }
    }
}

/// The person an open invitation is for, if the token is one.
pub async fn invited(db: &TenantDb, token: &str) -> Result<Option<User>, StoreError> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    db.invited_user(&skjold_app::credentials::hash_token(token))
        .await
}

/// Refuses an address that the sign-in guard throttles or bans. Guessing a token is
/// hopeless (256 bits), but an address that tries links at random is treated like one
/// that guesses passwords: each unknown link counts as a failure ([`count_miss`]).
pub fn admit(state: &crate::AppState, ip: IpAddr) -> Result<(), ApiError> {
    match state.ip_guard.check(ip, state.clock.now()) {
        Verdict::Allowed => Ok(()),
        Verdict::Throttled(secs) | Verdict::Banned(secs) => Err(ApiError::TooManyAttempts {
            retry_after_secs: secs,
        }),
    }
}

/// Counts a link that is not open against the address (see [`admit`]), and records the
/// ban it starts, as a failed sign-in does.
pub async fn count_miss(
    state: &crate::AppState,
    chain: &str,
    ip: IpAddr,
    via: &str,
) -> Result<(), ApiError> {
    if let AfterFailure::BanStarted(until) = state.ip_guard.record_failure(ip, state.clock.now()) {
        state.metrics.lockout(crate::metrics::LockoutScope::Address);
        crate::audit::Event::new(
            state,
            AuditKind::AuthAddressBanned,
            Some(ip),
            serde_json::json!({ "until": format_timestamp(until), "via": via }),
        )
        .record(state, chain)
        .await?;
    }
    Ok(())
}

/// Sets the invitee's password under the tenant's policy and uses the invitation up,
/// recording `user.invite_accepted` in the same transaction.
async fn accept(
    ctx: &skjold_app::Ctx<'_>,
    via: skjold_app::Via,
    token: &str,
    password: &str,
) -> Result<User, AcceptError> {
    let (db, tenant) = (ctx.db, ctx.tenant);
    let user = invited(db, token).await?.ok_or(AcceptError::NotOpen)?;
    crate::password::check_new_password(db, tenant, &user.username, Some(&user.id), password)
        .await?;
    let hash = skjold_app::credentials::hash_password(password.to_string())
        .await
        .map_err(|e| match e {
            skjold_app::credentials::PasswordError::Busy { retry_after_secs } => {
                AcceptError::Busy { retry_after_secs }
            }
            other => StoreError::Config(format!("hashing the password: {other}")).into(),
        })?;
    let event = skjold_app::audited::Audited::for_user(
        ctx,
        &user,
        via,
        AuditKind::UserInviteAccepted,
        serde_json::json!({ "user_id": user.id, "username": user.username }),
    );
    event
        .db(db)
        .accept_invite(&skjold_app::credentials::hash_token(token), &user, &hash)
        .await?
        .ok_or(AcceptError::NotOpen)
}

/// Tokens are `skj_` and 43 base64url characters; anything else is not looked up.
fn looks_like_token(token: &str) -> bool {
    token.len() <= 100
        && token.starts_with("skj_")
        && token[4..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Accepting, for the API and the web page: the address guard, the policy, the event.
pub(crate) async fn accept_link(
    state: &AppState,
    tenant: &Tenant,
    ip: std::net::IpAddr,
    token: &str,
    password: &str,
    via: skjold_app::Via,
) -> Result<User, ApiError> {
    if tenant.record.status != TenantStatus::Active {
        return Err(ApiError::Forbidden("this tenant is suspended".into()));
    }
    admit(state, ip)?;
    let chain = tenant.record.slug.as_str();
    let ctx = skjold_app::Ctx {
        tenant: &tenant.record,
        db: &tenant.db,
        audit: &state.audit,
        clock: &state.clock,
        ip: Some(ip),
        request_id: Some(crate::middleware::current_request_id()),
    };
    match accept(&ctx, via, token, password).await {
        Ok(user) => Ok(user),
        Err(AcceptError::NotOpen) => {
            count_miss(state, chain, ip, via.as_str()).await?;
            Err(AcceptError::NotOpen.into())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_uses_the_public_url_then_the_host_then_only_the_path() {
        let invite = IssuedInvite {
            path: "/acme/invite/skj_abc".into(),
            expires_at: String::new(),
        };
        let public = url::Url::parse("https://crm.example.com").unwrap();
        assert_eq!(
            invite.url(Some(&public), None),
            "https://crm.example.com/acme/invite/skj_abc"
        );
        let mut headers = HeaderMap::new();
        let uri: Uri = "/acme/admin/users".parse().unwrap();
        assert_eq!(
            invite.url(None, request_host(&headers, &uri)),
            "/acme/invite/skj_abc"
        );
        let h2: Uri = "https://[::1]:8443/acme/admin/users".parse().unwrap();
        assert_eq!(
            invite.url(None, request_host(&headers, &h2)),
            "https://[::1]:8443/acme/invite/skj_abc"
        );
        headers.insert(axum::http::header::HOST, "localhost:8443".parse().unwrap());
        assert_eq!(
            invite.url(None, request_host(&headers, &uri)),
            "https://localhost:8443/acme/invite/skj_abc"
        );
        headers.insert(
            axum::http::header::HOST,
            "evil.example/\"><script>".parse().unwrap(),
        );
        assert_eq!(
            invite.url(None, request_host(&headers, &uri)),
            "/acme/invite/skj_abc"
        );
    }

    #[test]
    fn only_token_shaped_strings_are_looked_up() {
        assert!(looks_like_token(&skjold_app::credentials::new_token()));
        assert!(!looks_like_token("skj_' OR 1=1 --"));
        assert!(!looks_like_token("abc"));
        assert!(!looks_like_token(&format!("skj_{}", "a".repeat(200))));
    }
}
