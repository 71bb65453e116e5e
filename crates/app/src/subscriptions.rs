//! Subscriptions to the status page's announcements (maintenance, incidents): an e-mail
//! address or a signed webhook, added by a tenant's administrator (`settings.manage`) for
//! their organisation or by an operator, removed the same ways or by the link in every
//! message. Each change is recorded inside its transaction: in the tenant's trail for a
//! tenant's subscription, in the installation's for an operator's.

use crate::operator::{Operator, OperatorEvents, OpsCtx};
use crate::{Actor, AppError, Ctx};
use serde::Deserialize;
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::clock::format_timestamp;
use skjold_domain::{Email, FieldErrors, Right};
use skjold_store::{BeforeCommit, Catalog, StoreError, Subscription};
use std::net::IpAddr;

/// How many subscriptions one tenant may have.
pub const MAX_PER_TENANT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Email,
    Webhook,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Webhook => "webhook",
        }
    }
}

/// What is subscribed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    pub kind: Kind,
    /// The e-mail address, or the webhook's https URL.
    pub target: String,
}

/// A new subscription, with the webhook's signing secret (shown once).
#[derive(Debug, Clone)]
pub struct Subscribed {
    pub subscription: Subscription,
    pub signing_secret: Option<String>,
}

/// What the installation allows: whether e-mail can be sent, and where webhooks may go.
#[derive(Debug, Clone, Copy)]
pub struct Channels {
    pub email: bool,
    pub allow_private_webhooks: bool,
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Whether an address is inside an operator's own network (loopback, private, link-local).
pub fn is_internal_address(ip: IpAddr) -> bool {
    is_private(ip)
}

/// Checks a webhook URL's form: https (http only where private targets are allowed), a
/// host, no credentials, and — unless allowed — no loopback, private or link-local literal
/// address or `localhost`. (Where a name leads is checked again at each delivery.)
pub fn check_webhook_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("a webhook URL starts with https://".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "a webhook URL carries no user or password; the signature authenticates".into(),
        );
    }
    let host = parsed
        .host_str()
        .ok_or("the URL names no host")?
        .to_string();
    if url.len() > 2000 {
        return Err("a webhook URL has at most 2,000 characters".into());
    }
    if allow_private {
        return Ok(parsed);
    }
    let literal = host.trim_matches(['[', ']']).parse::<IpAddr>().ok();
    if literal.is_some_and(is_private)
        || host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
    {
        return Err("a webhook may not go to a loopback, private or link-local address".into());
    }
    Ok(parsed)
}

/// The target as the audit trail names it: a webhook without its query (which may hold a
/// receiver's token).
fn shown_target(kind: Kind, target: &str) -> String {
    match kind {
        Kind::Email => target.to_string(),
        Kind::Webhook => url::Url::parse(target)
            .map(|mut u| {
                u.set_query(None);
                u.set_fragment(None);
                u.to_string()
            })
            .unwrap_or_default(),
    }
}

fn checked(new: &NewSubscription, channels: Channels) -> Result<String, AppError> {
    let invalid = |m: String| AppError::Invalid(FieldErrors::single("target", m));
    match new.kind {
        Kind::Email => {
            if !channels.email {
                return Err(AppError::Invalid(FieldErrors::single(
                    "kind",
                    "this installation sends no e-mail (no SMTP relay is configured); use a webhook or the Atom feed /status.atom",
                )));
            }
            Email::parse(new.target.trim())
                .map(|e| e.as_str().to_string())
                .map_err(|e| invalid(e.to_string()))
        }
        Kind::Webhook => check_webhook_url(&new.target, channels.allow_private_webhooks)
            .map(|u| u.to_string())
            .map_err(invalid),
    }
}

fn secret() -> String {
    crate::credentials::new_token().replacen("skj_", "", 1)
}

fn new_subscription(
    id: String,
    kind: Kind,
    target: String,
    tenant: Option<String>,
    created_by: String,
    now: chrono::DateTime<chrono::Utc>,
) -> (Subscription, Option<String>) {
    let signing = (kind == Kind::Webhook).then(|| format!("whsec_{}", secret()));
    (
        Subscription {
            id,
            kind: kind.as_str().to_string(),
            target,
            signing_secret: signing.clone(),
            tenant,
            created_by,
            created_at: format_timestamp(now),
            unsubscribe_token: secret(),
        },
        signing,
    )
}

/// A tenant's administrator subscribes their organisation.
pub async fn subscribe(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    actor: &Actor,
    channels: Channels,
    new: NewSubscription,
) -> Result<Subscribed, AppError> {
    actor.require(Right::SettingsManage)?;
    let target = checked(&new, channels)?;
    let slug = ctx.tenant.slug.as_str();
    let existing = catalog.subscriptions(Some(slug)).await?;
    if existing
        .iter()
        .any(|s| s.kind == new.kind.as_str() && s.target == target)
    {
        return Err(AppError::Conflict("that is subscribed already".into()));
    }
    if existing.len() >= MAX_PER_TENANT {
        return Err(AppError::Conflict(format!(
            "a tenant has at most {MAX_PER_TENANT} subscriptions; remove one first"
        )));
    }
    let by = match actor {
        Actor::User { user, .. } => user.username.clone(),
        Actor::Operator => "operator".to_string(),
    };
    let (subscription, signing_secret) = new_subscription(
        ctx.db.new_record_id(),
        new.kind,
        target,
        Some(slug.to_string()),
        by,
        ctx.clock.now(),
    );
    let event = crate::audited::Audited::new(
        ctx,
        actor,
        AuditKind::StatusSubscribed,
        json!({ "id": subscription.id, "kind": subscription.kind, "target": shown_target(new.kind, &subscription.target) }),
    );
    catalog
        .insert_subscription(&subscription, &*event as &dyn BeforeCommit)
        .await?;
    Ok(Subscribed {
        subscription,
        signing_secret,
    })
}

/// A tenant's subscriptions.
pub async fn list(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    actor: &Actor,
) -> Result<Vec<Subscription>, AppError> {
    actor.require(Right::SettingsManage)?;
    Ok(catalog
        .subscriptions(Some(ctx.tenant.slug.as_str()))
        .await?)
}

/// A tenant's administrator removes one of their organisation's subscriptions.
pub async fn unsubscribe(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    actor: &Actor,
    id: &str,
) -> Result<Subscription, AppError> {
    actor.require(Right::SettingsManage)?;
    let slug = ctx.tenant.slug.as_str();
    let known = catalog
        .subscriptions(Some(slug))
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(AppError::NotFound("no such subscription"))?;
    let kind = if known.kind == "email" {
        Kind::Email
    } else {
        Kind::Webhook
    };
    let event = crate::audited::Audited::new(
        ctx,
        actor,
        AuditKind::StatusUnsubscribed,
        json!({ "id": known.id, "kind": known.kind, "target": shown_target(kind, &known.target) }),
    );
    catalog
        .delete_subscription(id, Some(slug), &*event as &dyn BeforeCommit)
        .await
        .map_err(not_found)
}

fn not_found(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::NotFound("no such subscription"),
        other => other.into(),
    }
}

/// An operator subscribes an address or a webhook (not tied to a tenant).
pub async fn subscribe_operator(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    channels: Channels,
    new: NewSubscription,
) -> Result<Subscribed, AppError> {
    let target = checked(&new, channels)?;
    let (subscription, signing_secret) = new_subscription(
        ops.catalog.new_status_id(),
        new.kind,
        target,
        None,
        operator.name.clone(),
        ops.catalog.clock().now(),
    );
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::StatusSubscribed,
        json!({ "id": subscription.id, "kind": subscription.kind, "target": shown_target(new.kind, &subscription.target) }),
    );
    ops.catalog
        .insert_subscription(&subscription, &event)
        .await?;
    Ok(Subscribed {
        subscription,
        signing_secret,
    })
}

/// An operator removes any subscription.
pub async fn unsubscribe_operator(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    id: &str,
) -> Result<Subscription, AppError> {
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::StatusUnsubscribed,
        json!({ "id": id }),
    );
    ops.catalog
        .delete_subscription(id, None, &event)
        .await
        .map_err(not_found)
}

/// Someone followed the unsubscribe link of a message: the subscription ends, recorded in
/// the trail it was recorded in.
pub async fn unsubscribe_by_link(ops: &OpsCtx<'_>, token: &str) -> Result<Subscription, AppError> {
    let found = ops
        .catalog
        .subscription_by_unsubscribe_token(token)
        .await?
        .ok_or(AppError::NotFound("this link is not valid (any more)"))?;
    let kind = if found.kind == "email" {
        Kind::Email
    } else {
        Kind::Webhook
    };
    let chain = found
        .tenant
        .clone()
        .unwrap_or_else(|| skjold_domain::audit::SYSTEM_CHAIN.to_string());
    let event = OperatorEvents::unsigned(
        ops.audit,
        ops.catalog,
        &[chain.as_str()],
        AuditKind::StatusUnsubscribed,
        json!({ "id": found.id, "kind": found.kind, "target": shown_target(kind, &found.target), "via": "link" }),
    );
    ops.catalog
        .delete_subscription(&found.id, None, &event)
        .await
        .map_err(not_found)
}
