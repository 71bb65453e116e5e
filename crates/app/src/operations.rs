//! The operators' actions on the status page: announcing and cancelling maintenance,
//! opening and updating incidents, overriding a component's state, and the operator API's
//! tokens. The command line and the operator API call these; each records its event in the
//! installation's trail inside its transaction.

use crate::operator::{Operator, OperatorEvents, OpsCtx};
use crate::AppError;
use serde::Deserialize;
use serde_json::json;
use skjold_domain::audit::AuditKind;
use skjold_domain::status::{
    check_incident, check_message, Component, ComponentState, Incident, IncidentStatus,
    IncidentUpdate, MaintenanceRequest, MaintenanceWindow, StatusOverride,
};
use skjold_domain::FieldErrors;
use skjold_store::{OperatorToken, StoreError};

/// Announces a maintenance window: at least 24 hours ahead, or an emergency with its reason.
pub async fn schedule_maintenance(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    mut request: MaintenanceRequest,
) -> Result<MaintenanceWindow, AppError> {
    let now = ops.catalog.clock().now();
    request.check(now).map_err(AppError::Invalid)?;
    let window = MaintenanceWindow {
        id: ops.catalog.new_status_id(),
        summary: request.summary,
        components: request.components,
        starts_at: request.starts_at,
        ends_at: request.ends_at,
        announced_at: now,
        announced_by: operator.name.clone(),
        emergency: request.emergency,
        reason: request.reason,
        cancelled_at: None,
        cancelled_by: None,
    };
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::MaintenanceScheduled,
        json!({
            "id": window.id,
            "summary": window.summary,
            "starts_at": window.starts_at,
            "ends_at": window.ends_at,
            "components": window.components,
            "emergency": window.emergency,
            "reason": window.reason,
        }),
    );
    ops.catalog.insert_maintenance(&window, &event).await?;
    Ok(window)
}

/// Cancels an announced window that is not over yet.
pub async fn cancel_maintenance(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    id: &str,
) -> Result<MaintenanceWindow, AppError> {
    let known = ops
        .catalog
        .maintenance(id)
        .await?
        .ok_or(AppError::NotFound("no such maintenance window"))?;
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::MaintenanceCancelled,
        json!({ "id": known.id, "summary": known.summary }),
    );
    ops.catalog
        .cancel_maintenance(id, &operator.name, &event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("no such maintenance window"),
            other => other.into(),
        })
}

/// What an operator gives to open an incident.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub title: String,
    /// Where it starts; `investigating` unless the cause is already known.
    #[serde(default = "investigating")]
    pub status: IncidentStatus,
    pub impact: ComponentState,
    /// Empty means every component.
    #[serde(default)]
    pub components: Vec<Component>,
    /// The first entry of the timeline: what users notice and what is being done.
    pub message: String,
}

fn investigating() -> IncidentStatus {
    IncidentStatus::Investigating
}

/// Opens an incident with its first timeline entry.
pub async fn open_incident(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    new: NewIncident,
) -> Result<Incident, AppError> {
    let (title, message) =
        check_incident(&new.title, new.impact, &new.message).map_err(AppError::Invalid)?;
    if new.status == IncidentStatus::Resolved {
        return Err(AppError::Invalid(FieldErrors::single(
            "status",
            "an incident opens as investigating, identified or monitoring",
        )));
    }
    let now = ops.catalog.clock().now();
    let mut components = if new.components.is_empty() {
        Component::ALL.to_vec()
    } else {
        new.components
    };
    components.sort();
    components.dedup();
    let incident = Incident {
        id: ops.catalog.new_status_id(),
        title,
        status: new.status,
        impact: new.impact,
        components,
        opened_at: now,
        opened_by: operator.name.clone(),
        resolved_at: None,
        review: None,
        updates: vec![IncidentUpdate {
            at: now,
            status: new.status,
            message,
            by: operator.name.clone(),
        }],
    };
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::IncidentOpened,
        json!({
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "impact": incident.impact,
            "components": incident.components,
        }),
    );
    ops.catalog.insert_incident(&incident, &event).await?;
    Ok(incident)
}

/// Adds an entry to an incident's timeline and moves it to `status`; `resolved` closes it.
pub async fn update_incident(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    id: &str,
    status: IncidentStatus,
    message: &str,
) -> Result<Incident, AppError> {
    let mut errors = FieldErrors::new();
    let message = check_message(message, &mut errors);
    errors.into_result().map_err(AppError::Invalid)?;
    let update = IncidentUpdate {
        at: ops.catalog.clock().now(),
        status,
        message,
        by: operator.name.clone(),
    };
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::IncidentUpdated,
        json!({ "id": id, "status": status }),
    );
    ops.catalog
        .add_incident_update(
            id,
            &update,
            |incident| {
                incident
                    .status
                    .may_become(status)
                    .map_err(StoreError::Conflict)
            },
            &event,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("no such incident"),
            other => other.into(),
        })
}

/// Writes the post-incident review of a resolved incident (replacing an earlier draft).
pub async fn review_incident(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    id: &str,
    review: &str,
) -> Result<(), AppError> {
    let review = review.trim();
    if review.is_empty() || review.chars().count() > 20_000 {
        return Err(AppError::Invalid(FieldErrors::single(
            "review",
            "a review of 1 to 20,000 characters: what happened, why, and what changes",
        )));
    }
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::IncidentReviewed,
        json!({ "id": id }),
    );
    ops.catalog
        .set_incident_review(id, review, &event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("no such incident"),
            other => other.into(),
        })
}

/// Sets a component's state by hand (`Some((state, reason))`), winning over the probes, or
/// hands it back to them (`None`).
pub async fn override_component(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    component: Component,
    set: Option<(ComponentState, String)>,
) -> Result<Option<StatusOverride>, AppError> {
    let set = match set {
        Some((state, reason)) => {
            let reason = reason.trim().to_string();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(AppError::Invalid(FieldErrors::single(
                    "reason",
                    "an override says why, in 1 to 500 characters (it is shown on the status page)",
                )));
            }
            Some(StatusOverride {
                component,
                state,
                reason,
                set_by: operator.name.clone(),
                set_at: ops.catalog.clock().now(),
            })
        }
        None => None,
    };
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::StatusOverridden,
        json!({
            "component": component,
            "state": set.as_ref().map(|o| o.state),
            "reason": set.as_ref().map(|o| o.reason.clone()),
        }),
    );
    ops.catalog
        .set_override(component, set.as_ref(), &event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("that component has no override"),
            other => other.into(),
        })?;
    Ok(set)
}

/// The prefix of an operator API token, which tells it apart from tenants' tokens.
pub const OPERATOR_TOKEN_PREFIX: &str = "skjop_";

/// Makes an operator API token; answers it with its secret, which is shown once.
pub async fn create_operator_token(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    name: &str,
) -> Result<(OperatorToken, String), AppError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(AppError::Invalid(FieldErrors::single(
            "name",
            "a token's name has 1 to 64 letters, digits, '-', '_', '.' or '@' (it names the operator in the audit trail)",
        )));
    }
    if ops
        .catalog
        .operator_tokens()
        .await?
        .iter()
        .any(|t| t.revoked_at.is_none() && t.name == name)
    {
        return Err(AppError::Conflict(format!(
            "an active operator token is already named '{name}'"
        )));
    }
    let secret = crate::credentials::new_token().replacen("skj_", OPERATOR_TOKEN_PREFIX, 1);
    let id = ops.catalog.new_status_id();
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::OperatorTokenCreated,
        json!({ "id": id, "name": name }),
    );
    let token = ops
        .catalog
        .insert_operator_token(&id, name, &crate::credentials::hash_token(&secret), &event)
        .await?;
    Ok((token, secret))
}

/// Revokes an operator API token by id or by (active) name.
pub async fn revoke_operator_token(
    ops: &OpsCtx<'_>,
    operator: &Operator,
    id_or_name: &str,
) -> Result<OperatorToken, AppError> {
    let token = ops
        .catalog
        .operator_tokens()
        .await?
        .into_iter()
        .filter(|t| t.revoked_at.is_none())
        .find(|t| t.id == id_or_name || t.name == id_or_name)
        .ok_or(AppError::NotFound(
            "no active operator token by that id or name",
        ))?;
    let event = OperatorEvents::by(
        ops,
        operator,
        AuditKind::OperatorTokenRevoked,
        json!({ "id": token.id, "name": token.name }),
    );
    ops.catalog
        .revoke_operator_token(&token.id, &event)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("no active operator token by that id"),
            other => other.into(),
        })?;
    Ok(token)
}

/// The operator a bearer secret belongs to, if it is an active operator token.
pub async fn operator_for_token(
    ops: &OpsCtx<'_>,
    secret: &str,
) -> Result<Option<Operator>, AppError> {
    if !secret.starts_with(OPERATOR_TOKEN_PREFIX) {
        return Ok(None);
    }
    // Looked up by the secret's hash: no secret is compared byte by byte.
    let token = ops
        .catalog
        .operator_token_by_hash(&crate::credentials::hash_token(secret))
        .await?;
    Ok(token.map(|t| Operator::api(&t.name)))
}
