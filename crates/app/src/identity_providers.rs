//! Single sign-on's actions: registering a tenant's identity providers (holders of
//! `settings.manage`), and deciding which user a provider's checked sign-in is — by a link
//! made before, by a verified e-mail address, or by making the user just in time — and
//! whether that user may use a password at all.
//!
//! The protocol (discovery, PKCE, the ID token's signature and claims) is the server's
//! (`skjold_server::sso`); what reaches [`resolve_user`] has passed every check there.

use crate::audited::Audited;
use crate::sealed::{SealError, SecretsKey};
use crate::{access, Actor, AppError, Ctx, Via};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::sso::{self, IdpKind};
use skjold_domain::{FieldErrors, Right, RoleId, Username};
use skjold_store::{
    BeforeCommit, IdentityLink, IdentityProvider, NewUser, StoreError, User, UserKind, UserStatus,
};
use std::sync::Arc;
use utoipa::ToSchema;

/// Where the presets' issuers live: the public clouds by default; a national cloud (or a
/// test's provider) by configuration (`[sso]` in `skjold.toml`).
#[derive(Debug, Clone)]
pub struct Presets {
    /// Entra ID's authority, `https://login.microsoftonline.com`.
    pub entra_authority: String,
    /// Google's issuer, `https://accounts.google.com`.
    pub google_issuer: String,
    /// Whether a generic provider's issuer may be plain http or a private address.
    pub allow_private_issuers: bool,
}

impl Default for Presets {
    fn default() -> Self {
        Self {
            entra_authority: "https://login.microsoftonline.com".into(),
            google_issuer: "https://accounts.google.com".into(),
            allow_private_issuers: false,
        }
    }
}

/// A provider to register (`POST /identity-providers`, `skjold idp add`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    /// `entra` (Microsoft Entra ID / Office 365), `google` (Google Workspace) or `oidc`.
    pub kind: String,
    pub name: String,
    pub client_id: String,
    /// Stored sealed; never answered.
    pub client_secret: String,
    /// Entra ID: the directory (tenant) id.
    #[serde(default)]
    pub directory_id: Option<String>,
    /// Google: the Workspace domains whose accounts may sign in.
    #[serde(default)]
    pub hosted_domains: Option<Vec<String>>,
    /// Generic OpenID Connect: the issuer URL (its discovery document is read from it).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Scopes besides `openid email profile`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Refuse sign-ins whose token does not prove a second factor.
    #[serde(default)]
    pub require_mfa: bool,
    /// The `amr` values that prove it (default `mfa otp hwk swk fido`).
    #[serde(default)]
    pub mfa_amr: Option<Vec<String>>,
    /// An `acr` value that proves it too.
    #[serde(default)]
    pub mfa_acr: Option<String>,
    /// The role (id or name) of users made at their first sign-in; null: nobody is made.
    #[serde(default)]
    pub jit_role: Option<String>,
    /// Users linked to this provider may not sign in with a password.
    #[serde(default)]
    pub sso_only: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A change to a provider; absent fields stay (`PATCH /identity-providers/{id}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPatch {
    pub name: Option<String>,
    pub client_id: Option<String>,
    /// A new secret (the old one is never shown).
    pub client_secret: Option<String>,
    pub directory_id: Option<String>,
    pub hosted_domains: Option<Vec<String>>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub require_mfa: Option<bool>,
    pub mfa_amr: Option<Vec<String>>,
    #[serde(default, deserialize_with = "skjold_domain::field::double_option")]
    #[schema(value_type = Option<String>)]
    pub mfa_acr: Option<Option<String>>,
    #[serde(default, deserialize_with = "skjold_domain::field::double_option")]
    #[schema(value_type = Option<String>)]
    pub jit_role: Option<Option<String>>,
    pub sso_only: Option<bool>,
    pub enabled: Option<bool>,
}

/// A provider as the API and the web UI show it: the secret as `***`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub client_id: String,
    /// Always `***`.
    pub client_secret: String,
    pub issuer: String,
    pub directory_id: Option<String>,
    pub hosted_domains: Vec<String>,
    pub scopes: Vec<String>,
    pub require_mfa: bool,
    pub mfa_amr: Vec<String>,
    pub mfa_acr: Option<String>,
    pub jit_role: Option<String>,
    pub sso_only: bool,
    pub enabled: bool,
    /// What to register at the provider as the redirect URI.
    pub redirect_uri: String,
    /// The sign-in button's text.
    pub button: String,
    pub created_at: String,
    pub updated_at: String,
}

impl ProviderView {
    pub fn of(p: &IdentityProvider, redirect_uri: String) -> Self {
        let kind = IdpKind::parse(&p.kind).unwrap_or(IdpKind::Oidc);
        Self {
            id: p.id.clone(),
            kind: p.kind.clone(),
            name: p.name.clone(),
            client_id: p.client_id.clone(),
            client_secret: "***".into(),
            issuer: p.issuer.clone(),
            directory_id: p.directory_id.clone(),
            hosted_domains: p.hosted_domains.clone(),
            scopes: p.scopes.clone(),
            require_mfa: p.require_mfa,
            mfa_amr: p.mfa_amr.clone(),
            mfa_acr: p.mfa_acr.clone(),
            jit_role: p.jit_role.clone(),
            sso_only: p.sso_only,
            enabled: p.enabled,
            redirect_uri,
            button: kind.button_label(&p.name),
            created_at: p.created_at.clone(),
            updated_at: p.updated_at.clone(),
        }
    }
}

/// Where a provider's client secret is sealed: bound to the tenant and the provider.
pub fn secret_place(tenant: &str, provider_id: &str) -> String {
    format!("identity_provider:{tenant}:{provider_id}")
}

/// The provider's client secret, opened.
pub fn client_secret(
    key: &SecretsKey,
    tenant: &str,
    p: &IdentityProvider,
) -> Result<String, SealError> {
    key.open(&secret_place(tenant, &p.id), &p.sealed_secret)
}

/// The checked form of a provider's settings (everything but id, secret and times).
struct Settings {
    kind: IdpKind,
    name: String,
    client_id: String,
    issuer: String,
    directory_id: Option<String>,
    hosted_domains: Vec<String>,
    scopes: Vec<String>,
    require_mfa: bool,
    mfa_amr: Vec<String>,
    mfa_acr: Option<String>,
    jit_role: Option<String>,
    sso_only: bool,
    enabled: bool,
}

impl Settings {
    /// The provider these settings make, with its id, sealed secret and times.
    fn into_provider(
        self,
        id: String,
        sealed_secret: String,
        created_at: String,
        updated_at: String,
    ) -> IdentityProvider {
        IdentityProvider {
            id,
            kind: self.kind.as_str().into(),
            name: self.name,
            client_id: self.client_id,
            sealed_secret,
            issuer: self.issuer,
            directory_id: self.directory_id,
            hosted_domains: self.hosted_domains,
            scopes: self.scopes,
            require_mfa: self.require_mfa,
            mfa_amr: self.mfa_amr,
            mfa_acr: self.mfa_acr,
            jit_role: self.jit_role,
            sso_only: self.sso_only,
            enabled: self.enabled,
            created_at,
            updated_at,
        }
    }
}

/// Checks an issuer URL for a generic provider: https (or http/a private host only where
/// the operator allows it), no credentials, query or fragment.
fn check_issuer(raw: &str, presets: &Presets, errs: &mut FieldErrors) -> Option<String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let Ok(url) = url::Url::parse(trimmed) else {
        errs.add(
            "issuer",
            "must be the provider's issuer URL, such as https://idp.example.com/realms/acme",
        );
        return None;
    };
    let plain_http = url.scheme() == "http";
    if url.scheme() != "https" && !plain_http {
        errs.add("issuer", "must be an https URL");
        return None;
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        errs.add(
            "issuer",
            "must not carry credentials, a query or a fragment",
        );
        return None;
    }
    let private = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Some(url::Host::Domain(d)) => {
            d == "localhost" || d.ends_with(".localhost") || !d.contains('.')
        }
        None => true,
    };
    if (plain_http || private) && !presets.allow_private_issuers {
        errs.add(
            "issuer",
            "must be an https URL on a public host (the operator can allow others with [sso] allow_private_issuers)",
        );
        return None;
    }
    Some(trimmed.to_string())
}

fn check_tokens(field: &str, raw: &[String], errs: &mut FieldErrors) -> Vec<String> {
    if raw.len() > 20 {
        errs.add(field, "at most 20 values");
        return Vec::new();
    }
    let mut out: Vec<String> = raw
        .iter()
        .filter_map(|t| sso::check_token(field, t, errs))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[allow(clippy::too_many_arguments)]
async fn checked(
    ctx: &Ctx<'_>,
    actor: &Actor,
    presets: &Presets,
    kind: &str,
    name: &str,
    client_id: &str,
    directory_id: Option<&str>,
    hosted_domains: &[String],
    issuer: Option<&str>,
    scopes: &[String],
    require_mfa: bool,
    mfa_amr: Option<&[String]>,
    mfa_acr: Option<&str>,
    jit_role: Option<&str>,
    sso_only: bool,
    enabled: bool,
) -> Result<Settings, AppError> {
    let mut errs = FieldErrors::new();
    let kind = match IdpKind::parse(kind) {
        Ok(k) => Some(k),
        Err(m) => {
            errs.add("kind", m);
            None
        }
    };
    let name = sso::check_name(name, &mut errs);
    sso::check_client_value("client_id", client_id, 255, &mut errs);
    let scopes = check_tokens("scopes", scopes, &mut errs)
        .into_iter()
        .filter(|s| !sso::BASE_SCOPES.contains(&s.as_str()))
        .collect();
    let mfa_amr = match mfa_amr {
        Some([]) => {
            errs.add(
                "mfa_amr",
                "name at least one amr value, or leave it out for the default",
            );
            Vec::new()
        }
        Some(v) => check_tokens("mfa_amr", v, &mut errs),
        None => sso::DEFAULT_MFA_AMR.iter().map(|s| s.to_string()).collect(),
    };
    let mfa_acr = mfa_acr.filter(|a| !a.trim().is_empty()).and_then(|a| {
        if a.len() <= 255 && !a.chars().any(char::is_control) {
            Some(a.trim().to_string())
        } else {
            errs.add(
                "mfa_acr",
                "must be at most 255 characters without control characters",
            );
            None
        }
    });
    let (mut issuer_out, mut directory_out, mut domains_out) = (None, None, Vec::new());
    match kind {
        Some(IdpKind::Entra) => match directory_id {
            Some(d) => {
                if let Some(d) = sso::check_directory_id(d, &mut errs) {
                    issuer_out = Some(sso::entra_issuer(&presets.entra_authority, &d));
                    directory_out = Some(d);
                }
            }
            None => errs.add(
                "directory_id",
                "an Entra ID provider needs the directory (tenant) id",
            ),
        },
        Some(IdpKind::Google) => {
            if hosted_domains.is_empty() {
                errs.add(
                    "hosted_domains",
                    "name the Google Workspace domain(s) whose accounts may sign in",
                );
            }
            if hosted_domains.len() > 20 {
                errs.add("hosted_domains", "at most 20 domains");
            }
            domains_out = hosted_domains
                .iter()
                .filter_map(|d| sso::check_hosted_domain(d, &mut errs))
                .collect();
            domains_out.sort();
            domains_out.dedup();
            issuer_out = Some(presets.google_issuer.trim_end_matches('/').to_string());
        }
        Some(IdpKind::Oidc) => match issuer {
            Some(i) => issuer_out = check_issuer(i, presets, &mut errs),
            None => errs.add(
                "issuer",
                "a generic OpenID Connect provider needs its issuer URL",
            ),
        },
        None => {}
    }
    if kind != Some(IdpKind::Entra) && directory_id.is_some() {
        errs.add(
            "directory_id",
            "only an Entra ID provider has a directory id",
        );
    }
    if kind != Some(IdpKind::Google) && !hosted_domains.is_empty() {
        errs.add(
            "hosted_domains",
            "only a Google provider has hosted domains",
        );
    }
    if kind != Some(IdpKind::Oidc) && issuer.is_some() {
        errs.add(
            "issuer",
            "the presets know their issuer: give directory_id (entra) or hosted_domains (google)",
        );
    }
    let mut jit = None;
    if let Some(role) = jit_role.filter(|r| !r.trim().is_empty()) {
        match ctx.db.find_role(role.trim()).await? {
            None => errs.add("jit_role", format!("'{}' is not a role", role.chars().take(40).collect::<String>())),
            Some(r) if r.id.is_administrator() => errs.add(
                "jit_role",
                "users made at their first sign-in cannot be administrators: choose another role and promote them by hand",
            ),
            Some(r) => {
                if let Err(e) = access::check_new_user_role(actor.granter(), &r) {
                    return Err(AppError::Forbidden(format!(
                        "you may not give new users the role '{}': {e}",
                        r.name
                    )));
                }
                jit = Some(r.id.as_str().to_string());
            }
        }
    }
    errs.into_result().map_err(AppError::Invalid)?;
    Ok(Settings {
        kind: kind.unwrap_or(IdpKind::Oidc),
        name: name.unwrap_or_default(),
        client_id: client_id.to_string(),
        issuer: issuer_out.unwrap_or_default(),
        directory_id: directory_out,
        hosted_domains: domains_out,
        scopes,
        require_mfa,
        mfa_amr,
        mfa_acr,
        jit_role: jit,
        sso_only,
        enabled,
    })
}

fn check_secret(secret: &str) -> Result<(), AppError> {
    let mut errs = FieldErrors::new();
    sso::check_client_value("client_secret", secret, 1024, &mut errs);
    errs.into_result().map_err(AppError::Invalid)
}

/// The tenant's providers.
pub async fn list(ctx: &Ctx<'_>, actor: &Actor) -> Result<Vec<IdentityProvider>, AppError> {
    actor.require(Right::SettingsManage)?;
    Ok(ctx.db.identity_providers().await?)
}

/// One provider.
pub async fn get(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<IdentityProvider, AppError> {
    actor.require(Right::SettingsManage)?;
    match ctx.db.identity_provider(id).await {
        Err(StoreError::NotFound) => Err(AppError::NotFound("no such identity provider")),
        other => Ok(other?),
    }
}

/// Registers a provider. Recorded as `settings.identity_provider_created`.
pub async fn create(
    ctx: &Ctx<'_>,
    actor: &Actor,
    key: &SecretsKey,
    presets: &Presets,
    new: NewProvider,
) -> Result<IdentityProvider, AppError> {
    actor.require(Right::SettingsManage)?;
    let s = checked(
        ctx,
        actor,
        presets,
        &new.kind,
        &new.name,
        &new.client_id,
        new.directory_id.as_deref(),
        new.hosted_domains.as_deref().unwrap_or_default(),
        new.issuer.as_deref(),
        new.scopes.as_deref().unwrap_or_default(),
        new.require_mfa,
        new.mfa_amr.as_deref(),
        new.mfa_acr.as_deref(),
        new.jit_role.as_deref(),
        new.sso_only,
        new.enabled,
    )
    .await?;
    check_secret(&new.client_secret)?;
    let id = ctx.db.new_record_id();
    let now = skjold_domain::clock::format_timestamp(ctx.clock.now());
    let sealed = key.seal(
        &secret_place(ctx.tenant.slug.as_str(), &id),
        &new.client_secret,
    );
    let provider = s.into_provider(id, sealed, now.clone(), now);
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsIdentityProviderCreated,
        json!({
            "provider_id": provider.id, "name": provider.name, "kind": provider.kind,
            "issuer": provider.issuer, "require_mfa": provider.require_mfa,
            "jit_role": provider.jit_role, "sso_only": provider.sso_only,
        }),
    );
    event
        .db(ctx.db)
        .insert_identity_provider(&actor.journal(), &provider)
        .await?;
    Ok(provider)
}

/// Changes a provider. Recorded as `settings.identity_provider_changed`, naming the fields
/// that changed (a new secret by name only).
pub async fn update(
    ctx: &Ctx<'_>,
    actor: &Actor,
    key: &SecretsKey,
    presets: &Presets,
    id: &str,
    patch: ProviderPatch,
) -> Result<IdentityProvider, AppError> {
    let before = get(ctx, actor, id).await?;
    let s = checked(
        ctx,
        actor,
        presets,
        &before.kind,
        patch.name.as_deref().unwrap_or(&before.name),
        patch.client_id.as_deref().unwrap_or(&before.client_id),
        patch
            .directory_id
            .as_deref()
            .or(before.directory_id.as_deref()),
        patch
            .hosted_domains
            .as_deref()
            .unwrap_or(&before.hosted_domains),
        match (&patch.issuer, before.kind.as_str()) {
            (Some(i), _) => Some(i.as_str()),
            (None, "oidc") => Some(before.issuer.as_str()),
            (None, _) => None,
        },
        patch.scopes.as_deref().unwrap_or(&before.scopes),
        patch.require_mfa.unwrap_or(before.require_mfa),
        Some(patch.mfa_amr.as_deref().unwrap_or(&before.mfa_amr)),
        match &patch.mfa_acr {
            Some(v) => v.as_deref(),
            None => before.mfa_acr.as_deref(),
        },
        match &patch.jit_role {
            Some(v) => v.as_deref(),
            None => before.jit_role.as_deref(),
        },
        patch.sso_only.unwrap_or(before.sso_only),
        patch.enabled.unwrap_or(before.enabled),
    )
    .await?;
    let sealed = match &patch.client_secret {
        Some(secret) => {
            check_secret(secret)?;
            key.seal(&secret_place(ctx.tenant.slug.as_str(), &before.id), secret)
        }
        None => before.sealed_secret.clone(),
    };
    let after = s.into_provider(
        before.id.clone(),
        sealed,
        before.created_at.clone(),
        skjold_domain::clock::format_timestamp(ctx.clock.now()),
    );
    let mut changed = Vec::new();
    macro_rules! diff {
        ($($f:ident),*) => { $( if before.$f != after.$f { changed.push(stringify!($f)); } )* };
    }
    diff!(
        name,
        client_id,
        issuer,
        directory_id,
        hosted_domains,
        scopes,
        require_mfa,
        mfa_amr,
        mfa_acr,
        jit_role,
        sso_only,
        enabled
    );
    if patch.client_secret.is_some() {
        changed.push("client_secret");
    }
    if changed.is_empty() {
        return Ok(before);
    }
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsIdentityProviderChanged,
        json!({ "provider_id": after.id, "name": after.name, "changed": changed }),
    );
    event
        .db(ctx.db)
        .replace_identity_provider(&actor.journal(), &before, &after)
        .await?;
    Ok(after)
}

/// Removes a provider and its links. Recorded as `settings.identity_provider_deleted`.
pub async fn delete(ctx: &Ctx<'_>, actor: &Actor, id: &str) -> Result<(), AppError> {
    let before = get(ctx, actor, id).await?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsIdentityProviderDeleted,
        json!({ "provider_id": before.id, "name": before.name }),
    );
    if !event
        .db(ctx.db)
        .delete_identity_provider(&actor.journal(), id)
        .await?
    {
        return Err(AppError::NotFound("no such identity provider"));
    }
    Ok(())
}

/// A user's links, for their page (`users.manage`, or the user themselves).
pub async fn links_of(
    ctx: &Ctx<'_>,
    actor: &Actor,
    user_id: &str,
) -> Result<Vec<IdentityLink>, AppError> {
    let own = matches!(actor, Actor::User { user, .. } if user.id == user_id);
    if !own {
        actor.require(Right::UsersManage)?;
    }
    match ctx.db.user(user_id).await {
        Err(StoreError::NotFound) => return Err(AppError::NotFound("no such user")),
        other => other?,
    };
    Ok(ctx.db.identity_links_of(user_id).await?)
}

/// Removes a user's link to a provider: their next single sign-on links again by e-mail
/// (or not at all). An administrator who holds the user's role, or the operator.
/// Recorded as `auth.sso.unlinked`.
pub async fn unlink(
    ctx: &Ctx<'_>,
    actor: &Actor,
    user_id: &str,
    provider_id: &str,
) -> Result<(), AppError> {
    actor.require(Right::UsersManage)?;
    let user = match ctx.db.user(user_id).await {
        Err(StoreError::NotFound) => return Err(AppError::NotFound("no such user")),
        other => other?,
    };
    crate::users::may_act_on(ctx, actor, &user).await?;
    let provider = ctx.db.identity_provider(provider_id).await.ok();
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::AuthSsoUnlinked,
        json!({
            "provider_id": provider_id,
            "provider": provider.map(|p| p.name),
            "user_id": user.id, "username": user.username,
        }),
    );
    if !event
        .db(ctx.db)
        .unlink_identity(&actor.journal(), provider_id, &user.id)
        .await?
    {
        return Err(AppError::NotFound("the user has no link to this provider"));
    }
    Ok(())
}

/// What a provider said about who signed in, after every check of the token.
#[derive(Debug, Clone)]
pub struct ProvenIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
}

/// Why a checked sign-in has no user to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoUser {
    /// No link, no user with the verified address, no just-in-time creation.
    Unknown,
    /// The address matches a user, but the provider does not say it is verified.
    EmailUnverified,
    /// The linked (or matched) user is disabled.
    Disabled,
    /// The address matches more than one user: nobody is guessed.
    Ambiguous,
}

impl NoUser {
    /// The reason the audit event names.
    pub fn reason(self) -> &'static str {
        match self {
            NoUser::Unknown => "unknown_user",
            NoUser::EmailUnverified => "email_unverified",
            NoUser::Disabled => "user_disabled",
            NoUser::Ambiguous => "ambiguous_email",
        }
    }
}

/// Two audit events recorded before one commit (a user made and linked just in time).
struct Both(Arc<Audited>, Arc<Audited>);

impl BeforeCommit for Both {
    fn before_commit(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.0.before_commit().await?;
            self.1.before_commit().await
        })
    }
}

/// The user a checked sign-in through `provider` is: the linked one; else, the first
/// time, the one user whose e-mail address the provider vouches for (linked now); else one
/// made with the provider's just-in-time role (made and linked in one transaction).
/// Linking and making are recorded (`auth.sso.linked`, `user.created`).
pub async fn resolve_user(
    ctx: &Ctx<'_>,
    provider: &IdentityProvider,
    who: &ProvenIdentity,
    via: Via,
) -> Result<Result<User, NoUser>, AppError> {
    if let Some(link) = ctx.db.identity_link(&provider.id, &who.subject).await? {
        let user = ctx.db.user(&link.user_id).await?;
        if user.status != UserStatus::Active {
            return Ok(Err(NoUser::Disabled));
        }
        return Ok(Ok(user));
    }
    let now = skjold_domain::clock::format_timestamp(ctx.clock.now());
    let link_for = |user_id: &str| IdentityLink {
        provider_id: provider.id.clone(),
        subject: who.subject.clone(),
        issuer: who.issuer.clone(),
        user_id: user_id.to_string(),
        email: who.email.clone(),
        created_at: now.clone(),
    };
    let linked_detail = |by: &str, user: &str| {
        json!({
            "provider_id": provider.id, "provider": provider.name,
            "subject": who.subject, "by": by, "user_id": user,
        })
    };
    if let Some(email) = who.email.as_deref().filter(|e| e.contains('@')) {
        let matches: Vec<User> = ctx
            .db
            .users_with_email(email)
            .await?
            .into_iter()
            .filter(|u| u.kind == UserKind::Person)
            .collect();
        match matches.as_slice() {
            [] => {}
            [_] if !who.email_verified => return Ok(Err(NoUser::EmailUnverified)),
            [user] => {
                if user.status != UserStatus::Active {
                    return Ok(Err(NoUser::Disabled));
                }
                let event = Audited::for_user(
                    ctx,
                    user,
                    via,
                    AuditKind::AuthSsoLinked,
                    linked_detail("email", &user.id),
                );
                event
                    .db(ctx.db)
                    .link_identity(
                        &skjold_store::Actor::User {
                            id: user.id.clone(),
                        },
                        &link_for(&user.id),
                    )
                    .await?;
                return Ok(Ok(user.clone()));
            }
            _ => return Ok(Err(NoUser::Ambiguous)),
        }
    }
    let Some(role_id) = provider.jit_role.as_deref() else {
        return Ok(Err(NoUser::Unknown));
    };
    let role = match ctx.db.role(&RoleId::new(role_id)).await {
        Ok(r) if !r.id.is_administrator() => r,
        // The role was deleted since: nobody is made.
        Ok(_) | Err(StoreError::NotFound) => return Ok(Err(NoUser::Unknown)),
        Err(e) => return Err(e.into()),
    };
    let username = jit_username(ctx, who).await?;
    let id = ctx.db.new_record_id();
    let planned = User {
        id: id.clone(),
        username: username.as_str().to_string(),
        display_name: who.name.clone(),
        email: who.email.clone().filter(|_| who.email_verified),
        phone: None,
        role: role.id.clone(),
        status: UserStatus::Active,
        kind: UserKind::Person,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let created = Audited::for_user(
        ctx,
        &planned,
        via,
        AuditKind::UserCreated,
        json!({
            "user_id": id, "username": planned.username, "role": role.id.as_str(),
            "role_name": role.name, "kind": "person", "by": "sso",
            "provider_id": provider.id, "provider": provider.name,
        }),
    );
    let linked = Audited::for_user(
        ctx,
        &planned,
        via,
        AuditKind::AuthSsoLinked,
        linked_detail("jit", &id),
    );
    let user = ctx
        .db
        .with_before_commit(Arc::new(Both(created, linked)))
        .create_linked_user(
            &skjold_store::Actor::System { what: "sso" },
            NewUser {
                id: id.clone(),
                username,
                display_name: planned.display_name.clone(),
                email: planned.email.clone(),
                phone: None,
                role: role.id.clone(),
                kind: UserKind::Person,
                password_hash: None,
            },
            &link_for(&id),
        )
        .await?;
    Ok(Ok(user))
}

/// A username for a user made at their first sign-in: the provider's preferred username or
/// the e-mail address, made valid, with a number added while it is taken.
async fn jit_username(ctx: &Ctx<'_>, who: &ProvenIdentity) -> Result<Username, AppError> {
    let wanted = who
        .preferred_username
        .clone()
        .or_else(|| who.email.clone())
        .unwrap_or_else(|| format!("sso-{}", who.subject));
    let base: String = wanted
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    for n in 0..100 {
        let candidate = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let Ok(name) = Username::parse(&candidate) else {
            continue;
        };
        if ctx.db.user_for_sign_in(&name).await?.is_none() {
            return Ok(name);
        }
    }
    let fallback = format!("sso-{}", ctx.db.new_record_id());
    Username::parse(&fallback).map_err(|e| AppError::Internal(format!("username {fallback}: {e}")))
}

/// The setting's name in the tenant's `settings` table.
pub const SSO_ONLY_SETTING: &str = "sso_only";

/// Whom the tenant lets in only through an identity provider (their passwords are refused):
/// nobody, everyone, or the holders of some roles (`GET|PUT /settings/single-sign-on`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoOnlyPolicy {
    /// `none`, `all` or `roles`.
    pub required: crate::two_factor::Required,
    /// Role ids (or names, stored as ids), for `required: "roles"`.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The tenant's SSO-only policy (nobody when it never set one).
pub async fn sso_only_policy(db: &skjold_store::TenantDb) -> Result<SsoOnlyPolicy, StoreError> {
    match db.setting(SSO_ONLY_SETTING).await? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("sso-only policy: {e}"))),
        None => Ok(SsoOnlyPolicy::default()),
    }
}

/// Sets the SSO-only policy. Refused while no provider is on (nobody could sign in), and
/// a role must exist. Recorded as `settings.sso_only_changed`.
pub async fn set_sso_only_policy(
    ctx: &Ctx<'_>,
    actor: &Actor,
    wanted: SsoOnlyPolicy,
) -> Result<SsoOnlyPolicy, AppError> {
    actor.require(Right::SettingsManage)?;
    // The same rules as the two-factor requirement's: roles named by id, sorted, only
    // with `roles`.
    let resolved = crate::two_factor::TwoFactorPolicy {
        required: wanted.required,
        roles: wanted.roles,
    }
    .resolved(ctx.db)
    .await??;
    let after = SsoOnlyPolicy {
        required: resolved.required,
        roles: resolved.roles,
    };
    if after.required != crate::two_factor::Required::None
        && !ctx.db.identity_providers().await?.iter().any(|p| p.enabled)
    {
        return Err(AppError::Invalid(FieldErrors::single(
            "required",
            "add an identity provider (and turn it on) first: otherwise nobody it covers could sign in",
        )));
    }
    let before = sso_only_policy(ctx.db).await?;
    let value = serde_json::to_value(&after).map_err(|e| AppError::Internal(e.to_string()))?;
    let event = Audited::new(
        ctx,
        actor,
        AuditKind::SettingsSsoOnlyChanged,
        json!({ "before": before, "after": after }),
    );
    event
        .db(ctx.db)
        .put_setting(&actor.journal(), SSO_ONLY_SETTING, &value)
        .await?;
    event.finish().await?;
    Ok(after)
}

/// Must this user sign in through a provider (a password is refused)? When a provider they
/// are linked to says so, or the tenant's SSO-only policy covers them while a provider is
/// on. Answers the provider(s) to name.
pub async fn sso_only(
    db: &skjold_store::TenantDb,
    user: &User,
) -> Result<Option<String>, StoreError> {
    let providers: Vec<IdentityProvider> = db
        .identity_providers()
        .await?
        .into_iter()
        .filter(|p| p.enabled)
        .collect();
    if providers.is_empty() {
        return Ok(None);
    }
    let links = db.identity_links_of(&user.id).await?;
    for p in &providers {
        if p.sso_only && links.iter().any(|l| l.provider_id == p.id) {
            return Ok(Some(p.name.clone()));
        }
    }
    let policy = sso_only_policy(db).await?;
    let covered = match policy.required {
        crate::two_factor::Required::None => false,
        crate::two_factor::Required::All => true,
        crate::two_factor::Required::Roles => policy.roles.iter().any(|r| r == user.role.as_str()),
    };
    Ok(covered.then(|| {
        providers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    }))
}
