//! A tenant's subscriptions to the status page's announcements (maintenance, incidents):
//! e-mail addresses and signed webhooks, managed by holders of `settings.manage`. Each
//! change is the application layer's action ([`skjold_app::subscriptions`]).

use super::TenantPath;
use crate::audit::ClientIp;
use crate::extract::{ApiJson, Authorized, SettingsManage};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use skjold_app::subscriptions::{self, Kind, NewSubscription};
use skjold_app::Via;
use skjold_store::Subscription;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscriptions, create_subscription))
        .routes(routes!(get_subscription, delete_subscription))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    #[schema(format = Uuid)]
    id: String,
    /// `email` or `webhook`.
    kind: String,
    /// The address, or the webhook's URL.
    target: String,
    created_by: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// A new webhook's signing secret: shown in this answer only. Each delivery carries
    /// `Skjold-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
}

fn view(s: Subscription, signing_secret: Option<String>) -> SubscriptionView {
    SubscriptionView {
        id: s.id,
        kind: s.kind,
        target: s.target,
        created_by: s.created_by,
        created_at: s.created_at,
        signing_secret,
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    items: Vec<SubscriptionView>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionKind {
    Email,
    Webhook,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriptionBody {
    kind: SubscriptionKind,
    /// An e-mail address, or an https URL that answers 2xx to a signed POST.
    target: String,
}

/// `{tenant}` and a subscription's `{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path
pub struct SubscriptionPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The subscription's id.
    #[param(format = Uuid)]
    id: String,
}

/// The tenant's subscriptions to the status page.
#[utoipa::path(get, path = "/status-subscriptions", tag = "status", params(TenantPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscriptions, oldest first", body = SubscriptionList),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
) -> Result<Json<SubscriptionList>, ApiError> {
    let items = subscriptions::list(
        &auth.ctx(&state, ip),
        state.tenants.catalog(),
        &auth.acting(Via::Api),
    )
    .await?;
    Ok(Json(SubscriptionList {
        items: items.into_iter().map(|s| view(s, None)).collect(),
    }))
}

/// Subscribe an e-mail address or a webhook to maintenance and incident announcements.
#[utoipa::path(post, path = "/status-subscriptions", tag = "status", params(TenantPath), security(("bearer" = [])),
    request_body = NewSubscriptionBody,
    responses(
        (status = 201, description = "Subscribed; a webhook's signing secret is in this answer only", body = SubscriptionView),
        (status = 400, description = "Malformed JSON", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "Subscribed already, or the tenant has 20", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, each named (a webhook into a private network, e-mail without an SMTP relay)", body = crate::error::Problem)))]
async fn create_subscription(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    ApiJson(body): ApiJson<NewSubscriptionBody>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    let new = NewSubscription {
        kind: match body.kind {
            SubscriptionKind::Email => Kind::Email,
            SubscriptionKind::Webhook => Kind::Webhook,
        },
        target: body.target,
    };
    let made = subscriptions::subscribe(
        &auth.ctx(&state, ip),
        state.tenants.catalog(),
        &auth.acting(Via::Api),
        state.config.notify.channels(),
        new,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(view(made.subscription, made.signing_secret)),
    ))
}

/// One subscription.
#[utoipa::path(get, path = "/status-subscriptions/{id}", tag = "status", params(SubscriptionPath), security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription (never a webhook's secret)", body = SubscriptionView),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such subscription in this tenant", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn get_subscription(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let id = super::parse_id(&id)?;
    let found = subscriptions::list(
        &auth.ctx(&state, ip),
        state.tenants.catalog(),
        &auth.acting(Via::Api),
    )
    .await?
    .into_iter()
    .find(|s| s.id == id)
    .ok_or(ApiError::NotFound("no such subscription"))?;
    Ok(Json(view(found, None)))
}

/// Remove a subscription.
#[utoipa::path(delete, path = "/status-subscriptions/{id}", tag = "status", params(SubscriptionPath), security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks settings.manage", body = crate::error::Problem),
        (status = 404, description = "No such subscription in this tenant", body = crate::error::Problem),
        (status = 422, description = "Malformed id", body = crate::error::Problem)))]
async fn delete_subscription(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    auth: Authorized<SettingsManage>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    subscriptions::unsubscribe(
        &auth.ctx(&state, ip),
        state.tenants.catalog(),
        &auth.acting(Via::Api),
        &super::parse_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
