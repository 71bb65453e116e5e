//! The operator API, `/ops/api/v1/…`: what `skjold maintenance`, `skjold incident` and
//! `skjold status` do at the command line, for operators' scripts and tools. Every route
//! needs an operator token (`Authorization: Bearer skjop_…`, made by `skjold operator token
//! create`); tenants' sessions and API tokens are refused. Each change is the application
//! layer's action ([`skjold_app::operations`]), recorded in the installation's trail as
//! `operator:<token name>`.

use crate::extract::{bearer, ApiJson};
use crate::{ApiError, AppState};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use skjold_app::operations::{self, NewIncident};
use skjold_app::operator::Operator;
use skjold_domain::status::{
    Component, ComponentState, Incident, IncidentStatus, MaintenanceRequest, MaintenanceState,
    MaintenanceWindow,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ops/api/v1/maintenance",
            get(list_maintenance).post(schedule_maintenance),
        )
        .route(
            "/ops/api/v1/maintenance/{id}",
            get(get_maintenance).delete(cancel_maintenance),
        )
        .route(
            "/ops/api/v1/incidents",
            get(list_incidents).post(open_incident),
        )
        .route("/ops/api/v1/incidents/{id}", get(get_incident))
        .route("/ops/api/v1/incidents/{id}/updates", post(update_incident))
        .route("/ops/api/v1/incidents/{id}/review", put(review_incident))
        .route("/ops/api/v1/status", get(status))
        .route(
            "/ops/api/v1/status/{component}",
            put(override_component).delete(clear_override),
        )
}

/// An operator authenticated by an operator token.
pub struct OperatorAuth(Operator);

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        let ops = state.ops();
        match operations::operator_for_token(&ops, secret).await? {
            Some(operator) => Ok(OperatorAuth(operator)),
            None => Err(ApiError::Unauthenticated),
        }
    }
}

/// A window with the state it is in now.
#[derive(Serialize)]
struct WindowOut {
    #[serde(flatten)]
    window: MaintenanceWindow,
    state: MaintenanceState,
}

fn window_out(state: &AppState, window: MaintenanceWindow) -> WindowOut {
    WindowOut {
        state: window.state(state.clock.now()),
        window,
    }
}

async fn list_maintenance(
    _: OperatorAuth,
    State(state): State<AppState>,
) -> Result<Json<Vec<WindowOut>>, ApiError> {
    let since = state.clock.now() - chrono::Duration::days(skjold_domain::status::HISTORY_DAYS);
    let windows = state.tenants.catalog().maintenance_since(since).await?;
    Ok(Json(
        windows.into_iter().map(|w| window_out(&state, w)).collect(),
    ))
}

async fn schedule_maintenance(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<MaintenanceRequest>,
) -> Result<Response, ApiError> {
    let window = operations::schedule_maintenance(&state.ops(), &operator, request).await?;
    Ok((StatusCode::CREATED, Json(window_out(&state, window))).into_response())
}

async fn get_maintenance(
    _: OperatorAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WindowOut>, ApiError> {
    let window = state
        .tenants
        .catalog()
        .maintenance(&id)
        .await?
        .ok_or(ApiError::NotFound("no such maintenance window"))?;
    Ok(Json(window_out(&state, window)))
}

async fn cancel_maintenance(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WindowOut>, ApiError> {
    let window = operations::cancel_maintenance(&state.ops(), &operator, &id).await?;
    Ok(Json(window_out(&state, window)))
}

async fn list_incidents(
    _: OperatorAuth,
    State(state): State<AppState>,
) -> Result<Json<Vec<Incident>>, ApiError> {
    let since = state.clock.now() - chrono::Duration::days(skjold_domain::status::HISTORY_DAYS);
    Ok(Json(state.tenants.catalog().incidents_since(since).await?))
}

async fn open_incident(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewIncident>,
) -> Result<Response, ApiError> {
    let incident = operations::open_incident(&state.ops(), &operator, new).await?;
    Ok((StatusCode::CREATED, Json(incident)).into_response())
}

async fn get_incident(
    _: OperatorAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    let incident = state
        .tenants
        .catalog()
        .incident(&id)
        .await?
        .ok_or(ApiError::NotFound("no such incident"))?;
    Ok(Json(incident))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateIn {
    status: IncidentStatus,
    message: String,
}

async fn update_incident(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<UpdateIn>,
) -> Result<Json<Incident>, ApiError> {
    let incident =
        operations::update_incident(&state.ops(), &operator, &id, update.status, &update.message)
            .await?;
    Ok(Json(incident))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewIn {
    review: String,
}

async fn review_incident(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewIn>,
) -> Result<Json<Incident>, ApiError> {
    let ops = state.ops();
    operations::review_incident(&ops, &operator, &id, &body.review).await?;
    let incident = state
        .tenants
        .catalog()
        .incident(&id)
        .await?
        .ok_or(ApiError::NotFound("no such incident"))?;
    Ok(Json(incident))
}

async fn status(
    _: OperatorAuth,
    State(state): State<AppState>,
) -> Result<Json<skjold_app::status_view::StatusView>, ApiError> {
    let view = skjold_app::status_view::status(state.tenants.catalog(), state.clock.now()).await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideIn {
    state: ComponentState,
    reason: String,
}

fn component(name: &str) -> Result<Component, ApiError> {
    Component::parse(name).map_err(|m| skjold_domain::FieldErrors::single("component", m).into())
}

async fn override_component(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<OverrideIn>,
) -> Result<Response, ApiError> {
    let component = component(&name)?;
    let set = operations::override_component(
        &state.ops(),
        &operator,
        component,
        Some((body.state, body.reason)),
    )
    .await?;
    Ok(Json(set).into_response())
}

async fn clear_override(
    OperatorAuth(operator): OperatorAuth,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let component = component(&name)?;
    operations::override_component(&state.ops(), &operator, component, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
