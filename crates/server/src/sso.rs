//! Single sign-on's protocol: OpenID Connect's authorization code flow with PKCE (S256),
//! `state` and `nonce`, through the `openidconnect` crate.
//!
//! [`Sso::begin`] reads the provider's discovery document (cached for an hour), and answers
//! where to send the browser and what the callback will need. [`Sso::finish`] exchanges the
//! code (with the PKCE verifier), and checks the ID token: its signature against the
//! provider's keys (a key id it does not know fetches the keys once more: providers rotate
//! them), issuer, audience, expiry and issue time with a minute of clock skew, nonce; then
//! the presets' own claims (Entra ID's `tid`, Google's `hd`) and, where the provider
//! requires it, the proof of a second factor (`amr` or `acr`). Every refusal is a
//! [`Refusal`] that names its reason; what it proves is a [`Proven`] identity.

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use skjold_app::identity_providers::{Presets, ProvenIdentity};
use skjold_domain::sso::{self, IdpKind};
use skjold_domain::SharedClock;
use skjold_store::IdentityProvider;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a discovery document (and its keys) is used before it is read again.
const METADATA_TTL_MINUTES: i64 = 60;
/// How far the provider's clock may be from ours.
const CLOCK_SKEW_SECONDS: i64 = 60;
/// How long a sign-in may stay at the provider.
pub const FLOW_MINUTES: i64 = 10;

/// The redirect URI to register at a provider: the tenant's one callback, on the
/// installation's public address.
pub fn redirect_uri(config: &crate::Config, tenant: &str) -> String {
    format!("{}/{tenant}/auth/oidc/callback", config.public_base_url())
}

/// Why a sign-in through a provider was refused: the audit event's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The provider could not be reached, or answered nonsense.
    Unreachable(String),
    /// The provider refused (the user cancelled, or the provider's own rules).
    ProviderError(String),
    /// The code exchange failed (a code used twice, a wrong client secret, PKCE).
    TokenExchange(String),
    WrongIssuer,
    WrongAudience,
    Expired,
    IssuedInFuture,
    NonceMismatch,
    BadSignature,
    /// Signed with a key the provider's keys (as cached) do not hold.
    UnknownKey,
    /// Entra ID: the token's `tid` is not the configured directory.
    WrongDirectory,
    /// Google: the token's `hd` is not one of the allowed domains.
    WrongDomain,
    /// The provider requires a second factor and the token does not prove one.
    MissingSecondFactor,
    /// Something else about the token is wrong.
    Invalid(String),
}

impl Refusal {
    /// The reason the audit event names.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Unreachable(_) => "provider_unreachable",
            Refusal::ProviderError(_) => "provider_error",
            Refusal::TokenExchange(_) => "token_exchange_failed",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::Expired => "token_expired",
            Refusal::IssuedInFuture => "token_issued_in_future",
            Refusal::NonceMismatch => "nonce_mismatch",
            Refusal::BadSignature | Refusal::UnknownKey => "bad_signature",
            Refusal::WrongDirectory => "wrong_directory",
            Refusal::WrongDomain => "wrong_domain",
            Refusal::MissingSecondFactor => "missing_second_factor",
            Refusal::Invalid(_) => "invalid_token",
        }
    }

    /// More about it, for the audit event (never a token or a secret).
    pub fn detail(&self) -> Option<&str> {
        match self {
            Refusal::Unreachable(d)
            | Refusal::ProviderError(d)
            | Refusal::TokenExchange(d)
            | Refusal::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

/// What the callback needs to finish a sign-in: kept server-side, keyed by the state.
pub struct Begun {
    /// Where to send the browser.
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What a checked ID token says.
#[derive(Debug, Clone)]
pub struct Proven {
    pub identity: ProvenIdentity,
    /// The token proves a second factor (by the provider's accepted `amr`/`acr`).
    pub second_factor: bool,
    pub amr: Vec<String>,
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched_at: DateTime<Utc>,
}

/// Single sign-on's shared parts: the presets, the HTTP client that talks to providers,
/// and the providers' discovery documents.
pub struct Sso {
    pub presets: Presets,
    http: openidconnect::reqwest::Client,
    clock: SharedClock,
    metadata: Mutex<HashMap<String, Cached>>,
}

impl Sso {
    pub fn new(presets: Presets, clock: SharedClock) -> Self {
        // reqwest is built without a TLS provider of its own: the process's is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = openidconnect::reqwest::Client::builder()
            // A provider's answer never redirects the server elsewhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            presets,
            http,
            clock,
            metadata: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's discovery document and keys: cached, or read now (`fresh` reads it
    /// whatever the cache holds, for keys the cache does not know).
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, Refusal> {
        let now = self.clock.now();
        if !fresh {
            let cache = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(issuer) {
                if now - c.fetched_at < chrono::Duration::minutes(METADATA_TTL_MINUTES)
                    && c.fetched_at <= now
                {
                    return Ok(c.metadata.clone());
                }
            }
        }
        let issuer_url =
            IssuerUrl::new(issuer.to_string()).map_err(|e| Refusal::Unreachable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &self.http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Validation(m) if m.contains("issuer") => {
                    Refusal::WrongIssuer
                }
                other => Refusal::Unreachable(describe(&other)),
            })?;
        let mut cache = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            issuer.to_string(),
            Cached {
                metadata: metadata.clone(),
                fetched_at: now,
            },
        );
        Ok(metadata)
    }

    /// Starts a sign-in through `provider`: where to send the browser, and what to keep.
    pub async fn begin(
        &self,
        provider: &IdentityProvider,
        redirect_uri: &str,
    ) -> Result<Begun, Refusal> {
        let metadata = self.metadata(&provider.issuer, false).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| Refusal::Invalid(format!("redirect uri: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            None,
        )
        .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in sso::BASE_SCOPES.iter().filter(|s| **s != "openid") {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let [domain] = provider.hosted_domains.as_slice() {
            // Google shows only that domain's accounts (a hint; the `hd` claim is checked).
            request = request.add_extra_param("hd", domain.clone());
        }
        if provider.require_mfa {
            if let Some(acr) = &provider.mfa_acr {
                request = request.add_extra_param("acr_values", acr.clone());
            }
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: the code exchanged, the ID token checked.
    pub async fn finish(
        &self,
        provider: &IdentityProvider,
        client_secret: String,
        redirect_uri: &str,
        code: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<Proven, Refusal> {
        let metadata = self.metadata(&provider.issuer, false).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| Refusal::Invalid(format!("redirect uri: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| Refusal::Unreachable(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| Refusal::TokenExchange(describe(&e)))?;
        let token = response
            .id_token()
            .cloned()
            .ok_or_else(|| Refusal::Invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(nonce);
        match self.verify(&metadata, provider, &client_secret, &token, &nonce) {
            Err(Refusal::UnknownKey) => {
                // The provider rotated its keys: read them once more, and check again.
                let fresh = self.metadata(&provider.issuer, true).await?;
                match self.verify(&fresh, provider, &client_secret, &token, &nonce) {
                    Err(Refusal::UnknownKey) => return Err(Refusal::BadSignature),
                    other => other?,
                }
            }
            other => other?,
        }
        self.claims(provider, &token)
    }

    /// The ID token's signature and standard claims, against `metadata`'s issuer and keys.
    fn verify(
        &self,
        metadata: &CoreProviderMetadata,
        provider: &IdentityProvider,
        client_secret: &str,
        token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(), Refusal> {
        let now = self.clock.now();
        let skew = chrono::Duration::seconds(CLOCK_SKEW_SECONDS);
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(provider.client_id.clone()),
            ClientSecret::new(client_secret.to_string()),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        // Expiry is checked against a clock a minute behind ours (the provider's may be).
        .set_time_fn(move || now - skew)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > now + skew {
                Err("issued in the future".into())
            } else {
                Ok(())
            }
        });
        match token.claims(&verifier, nonce) {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    /// The claims past the standard ones: who, the presets' claims, the second factor.
    fn claims(&self, provider: &IdentityProvider, token: &CoreIdToken) -> Result<Proven, Refusal> {
        // The signature is checked: the payload can be read as it is.
        let raw = token.to_string();
        let payload = raw
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .ok_or_else(|| Refusal::Invalid("the ID token's payload is not JSON".into()))?;
        let text = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let kind = IdpKind::parse(&provider.kind).unwrap_or(IdpKind::Oidc);
        match kind {
            IdpKind::Entra => {
                if text("tid").map(|t| t.to_ascii_lowercase()) != provider.directory_id {
                    return Err(Refusal::WrongDirectory);
                }
            }
            IdpKind::Google => {
                let hd = text("hd").map(|d| d.to_ascii_lowercase());
                if !hd.is_some_and(|d| provider.hosted_domains.contains(&d)) {
                    return Err(Refusal::WrongDomain);
                }
            }
            IdpKind::Oidc => {}
        }
        let amr: Vec<String> = payload
            .get("amr")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let second_factor = sso::proves_second_factor(
            &amr,
            text("acr").as_deref(),
            &provider.mfa_amr,
            provider.mfa_acr.as_deref(),
        );
        if provider.require_mfa && !second_factor {
            return Err(Refusal::MissingSecondFactor);
        }
        let subject = text("sub").ok_or_else(|| Refusal::Invalid("no subject".into()))?;
        let email_verified = match payload.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => *b,
            // Some providers send it as a string.
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        // Entra ID's e-mail claim is not verified by the directory: its `preferred_username`
        // (the sign-in name, UPN) is, for the directory's own accounts, which `tid` pins.
        let (email, email_verified) = match kind {
            IdpKind::Entra if text("email").is_none() => {
                (text("preferred_username").filter(|u| u.contains('@')), true)
            }
            IdpKind::Entra => (
                text("email"),
                email_verified || text("email") == text("preferred_username"),
            ),
            _ => (text("email"), email_verified),
        };
        Ok(Proven {
            identity: ProvenIdentity {
                issuer: provider.issuer.clone(),
                subject,
                email,
                email_verified,
                name: text("name"),
                preferred_username: text("preferred_username"),
            },
            second_factor,
            amr,
        })
    }
}

fn classify(e: openidconnect::ClaimsVerificationError) -> Refusal {
    use openidconnect::ClaimsVerificationError as E;
    match e {
        // The crate reports a refused issue time as an expiry; ours says "in the future".
        E::Expired(m) if m.contains("future") => Refusal::IssuedInFuture,
        E::Expired(_) => Refusal::Expired,
        E::InvalidAudience(_) => Refusal::WrongAudience,
        E::InvalidIssuer(_) => Refusal::WrongIssuer,
        E::InvalidNonce(_) => Refusal::NonceMismatch,
        E::SignatureVerification(openidconnect::SignatureVerificationError::NoMatchingKey) => {
            Refusal::UnknownKey
        }
        E::SignatureVerification(_) => Refusal::BadSignature,
        other => Refusal::Invalid(other.to_string()),
    }
}

/// An error and its causes, in one line (never a token: the crates do not print them).
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.chars().take(300).collect()
}
