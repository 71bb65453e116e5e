//! Passkeys (WebAuthn) through `webauthn-rs`: the relying party, ceremonies whose state
//! waits in the tenant database between the options and the authenticator's answer, and
//! decoy options for usernames without passkeys.
//!
//! Every passkey ceremony asks for user verification (a PIN or biometric on the device), so a
//! passkey is two factors in itself: it can be the second step after a password, or the whole
//! sign-in ("passwordless", with a discoverable credential that names its user).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;
use skjold_store::{Ceremony, StoreError, TenantDb};
use url::Url;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, RequestChallengeResponse, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::{AllowCredentials, ResidentKeyRequirement};

/// How long a ceremony may take between its two requests.
const CEREMONY_MINUTES: i64 = 5;
/// Sign-in ceremonies that anyone may start without a password (passwordless options,
/// real or decoy) pending at most per tenant: each is a row in the tenant's database.
pub const MAX_PENDING_SIGN_IN_CEREMONIES: i64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying party could not be set up (e.g. the public URL names an IP address,
    /// which WebAuthn does not allow as a relying party id).
    #[error("passkeys are unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored state that does not parse: a bug or a damaged row, never the client's fault.
    #[error("passkey state: {0}")]
    State(String),
    /// Too many sign-in ceremonies without a password are pending: try again later.
    #[error("too many passkey sign-ins are pending")]
    TooManyPending,
}

/// The server as a WebAuthn relying party: its id (a domain) and origin come from the
/// configured public URL, or `https://localhost:<port>` without one.
pub struct RelyingParty {
    webauthn: Option<Webauthn>,
    origin: Url,
    why_not: Option<String>,
}

impl RelyingParty {
    pub fn new(public_url: Option<&Url>, https_port: u16) -> Self {
        let origin = match public_url {
            Some(u) => {
                let mut o = u.clone();
                o.set_path("");
                o.set_query(None);
                o.set_fragment(None);
                o
            }
            None => Url::parse(&format!("https://localhost:{https_port}"))
                .expect("https://localhost:<port> is a URL"),
        };
        let built = origin
            .domain()
            .ok_or_else(|| "the public URL names no domain (an IP address cannot be a WebAuthn relying party id); set public_url".to_string())
            .and_then(|rp_id| {
                WebauthnBuilder::new(rp_id, &origin)
                    .and_then(|b| b.rp_name("Skjold").build())
                    .map_err(|e| e.to_string())
            });
        match built {
            Ok(webauthn) => Self {
                webauthn: Some(webauthn),
                origin,
                why_not: None,
            },
            Err(why) => {
                tracing::warn!(reason = %why, "PASSKEYS ARE OFF");
                Self {
                    webauthn: None,
                    origin,
                    why_not: Some(why),
                }
            }
        }
    }

    /// The origin browsers must sign for, e.g. `https://crm.example.com`.
    pub fn origin(&self) -> &Url {
        &self.origin
    }

    pub fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn
            .as_ref()
            .ok_or_else(|| PasskeyError::Unavailable(self.why_not.clone().unwrap_or_default()))
    }
}

/// A credential id as stored and compared: base64url without padding.
pub fn cred_id_text(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The kinds of ceremony, as stored.
pub mod kind {
    pub const REGISTER: &str = "register";
    /// After a correct password.
    pub const SECOND_FACTOR: &str = "second_factor";
    /// Passwordless, the username typed first.
    pub const USERNAME: &str = "username";
    /// Passwordless, the credential names its user.
    pub const DISCOVERABLE: &str = "discoverable";
    /// Options made up for a username without passkeys: can never succeed.
    pub const DECOY: &str = "decoy";
}

/// Keeps a ceremony's state; answers the token the client sends back with its answer.
pub async fn keep<S: Serialize>(
    db: &TenantDb,
    now: chrono::DateTime<chrono::Utc>,
    kind: &str,
    user_id: Option<&str>,
    username: Option<&str>,
    state: &S,
) -> Result<String, PasskeyError> {
    let token = skjold_app::credentials::new_token();
    let state = serde_json::to_string(state).map_err(|e| PasskeyError::State(e.to_string()))?;
    const UNAUTHENTICATED: &[&str] = &[kind::USERNAME, kind::DISCOVERABLE, kind::DECOY];
    let bound = UNAUTHENTICATED
        .contains(&kind)
        .then_some((UNAUTHENTICATED, MAX_PENDING_SIGN_IN_CEREMONIES));
    let kept = db
        .put_ceremony(
            &skjold_app::credentials::hash_token(&token),
            &Ceremony {
                kind: kind.to_string(),
                user_id: user_id.map(str::to_string),
                username: username.map(str::to_string),
                state,
            },
            now + Duration::minutes(CEREMONY_MINUTES),
            bound,
        )
        .await?;
    if !kept {
        return Err(PasskeyError::TooManyPending);
    }
    Ok(token)
}

/// Takes a ceremony back by its token (once).
pub async fn take(db: &TenantDb, token: &str) -> Result<Option<Ceremony>, PasskeyError> {
    if token.is_empty() || token.len() > 200 {
        return Ok(None);
    }
    Ok(db
        .take_ceremony(&skjold_app::credentials::hash_token(token))
        .await?)
}

pub fn parse_state<S: DeserializeOwned>(ceremony: &Ceremony) -> Result<S, PasskeyError> {
    serde_json::from_str(&ceremony.state).map_err(|e| PasskeyError::State(e.to_string()))
}

pub fn parse_passkey(json: &str) -> Result<Passkey, PasskeyError> {
    serde_json::from_str(json).map_err(|e| PasskeyError::State(e.to_string()))
}

pub fn passkey_json(p: &Passkey) -> Result<String, PasskeyError> {
    serde_json::to_string(p).map_err(|e| PasskeyError::State(e.to_string()))
}

/// The signature counter a stored passkey last showed (0 when it has none). The library
/// keeps it private; its serialised form names it.
pub fn stored_counter(json: &str) -> u32 {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["cred"]["counter"].as_u64())
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0)
}

/// Registration options for a user, excluding the passkeys they have. A discoverable
/// credential is preferred, so that the passkey can also sign in without a username.
pub fn registration_options(
    rp: &RelyingParty,
    user_id: &str,
    username: &str,
    display_name: &str,
    existing: &[Passkey],
) -> Result<(CreationChallengeResponse, PasskeyRegistration), PasskeyError> {
    let handle = user_handle(user_id)?;
    let exclude = existing
        .iter()
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let (mut ccr, state) = rp
        .webauthn()?
        .start_passkey_registration(
            handle,
            username,
            display_name,
            (!exclude.is_empty()).then_some(exclude),
        )
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(ResidentKeyRequirement::Preferred);
    }
    Ok((ccr, state))
}

/// The WebAuthn user handle of a user: their id, a UUID.
pub fn user_handle(user_id: &str) -> Result<uuid::Uuid, PasskeyError> {
    uuid::Uuid::try_parse(user_id).map_err(|_| PasskeyError::State("user id is not a UUID".into()))
}

/// Sign-in options listing a user's passkeys.
pub fn sign_in_options(
    rp: &RelyingParty,
    passkeys: &[Passkey],
) -> Result<(RequestChallengeResponse, PasskeyAuthentication), PasskeyError> {
    let (mut rcr, state) = rp
        .webauthn()?
        .start_passkey_authentication(passkeys)
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    normalise(&mut rcr);
    Ok((rcr, state))
}

/// Sign-in options for any discoverable passkey of this relying party.
pub fn discoverable_options(
    rp: &RelyingParty,
) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), PasskeyError> {
    let (mut rcr, state) = rp
        .webauthn()?
        .start_discoverable_authentication()
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    // A button press, not the browser's autofill ("conditional") mediation.
    rcr.mediation = None;
    Ok((rcr, state))
}

/// Options for a username that has no passkeys (or does not exist), shaped exactly like
/// real ones: a fresh challenge and one or two credential ids derived from the username
/// with the tenant's secret decoy key, so the same name always shows the same "passkeys"
/// and nothing tells it apart from a real account. Its ceremony can never succeed.
pub async fn decoy_options(
    rp: &RelyingParty,
    db: &TenantDb,
    username_key: &str,
) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), PasskeyError> {
    let key = db
        .server_key("passkey_decoy", || {
            use rand::RngCore;
            let mut k = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut k);
            hex::encode(k)
        })
        .await?;
    let (mut rcr, state) = rp
        .webauthn()?
        .start_discoverable_authentication()
        .map_err(|e| PasskeyError::State(e.to_string()))?;
    let derive = |i: u8| -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"skjold passkey decoy\0");
        mac.update(username_key.as_bytes());
        mac.update(&[0, i]);
        mac.finalize().into_bytes().to_vec()
    };
    let count = 1 + derive(255)[0] % 2;
    rcr.public_key.allow_credentials = (0..count)
        .map(|i| AllowCredentials {
            type_: "public-key".into(),
            id: derive(i),
            transports: None,
        })
        .collect();
    rcr.mediation = None;
    normalise(&mut rcr);
    Ok((rcr, state))
}

/// The same shape for real and decoy options: no transports (which a decoy could not
/// know) and no extensions.
fn normalise(rcr: &mut RequestChallengeResponse) {
    for c in &mut rcr.public_key.allow_credentials {
        c.transports = None;
    }
    rcr.public_key.extensions = None;
    rcr.public_key.hints = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_from_the_public_url_or_localhost() {
        let rp = RelyingParty::new(None, 8443);
        assert_eq!(rp.origin().as_str(), "https://localhost:8443/");
        assert!(rp.webauthn().is_ok());
        let url = Url::parse("https://crm.example.com/some/path").unwrap();
        let rp = RelyingParty::new(Some(&url), 8443);
        assert_eq!(rp.origin().as_str(), "https://crm.example.com/");
        assert!(rp.webauthn().is_ok());
        let ip = Url::parse("https://10.0.0.1:8443").unwrap();
        let rp = RelyingParty::new(Some(&ip), 8443);
        assert!(matches!(rp.webauthn(), Err(PasskeyError::Unavailable(_))));
    }
}
