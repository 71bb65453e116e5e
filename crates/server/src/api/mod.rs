//! The REST API: `/{tenant}/api/v1/…`, plus the public health endpoints and the OpenAPI
//! document. Routes are registered only through `utoipa_axum::routes!`, so a route cannot
//! exist without its documentation.

pub mod audit;
mod backup;
mod health;
mod me;
mod records;
mod session;
mod users;

use crate::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use records::ListParams;
pub use users::check_password;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Skjold",
        description = "A self-hostable, multi-tenant CRM. Every tenant route is under `/{tenant}/api/v1`; \
                       send `Authorization: Bearer <token>` from `POST /{tenant}/api/v1/session`. \
                       Errors are RFC 9457 problem+json.",
        license(name = "AGPL-3.0-only")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem)),
    tags(
        (name = "health", description = "Liveness and readiness, no authentication"),
        (name = "session", description = "Signing in and out"),
        (name = "me", description = "The signed-in user's own details"),
        (name = "users", description = "The tenant's users (administration)"),
        (name = "companies", description = "Companies"),
        (name = "persons", description = "Persons"),
        (name = "activities", description = "Appointments, tasks, calls and notes"),
        (name = "sales", description = "Sales opportunities"),
        (name = "audit", description = "The tenant's audit trail (needs audit.read)"),
        (name = "backup", description = "The tenant's backups (needs backup.restore)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route, with its OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    let tenant_api = OpenApiRouter::new()
        .merge(session::router())
        .merge(me::router())
        .merge(users::router())
        .merge(records::router())
        .merge(audit::router())
        .merge(backup::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .nest("/{tenant}/api/v1", tenant_api)
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}

/// `{tenant}` in every tenant path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path; the tenant is read by the `Tenant` extractor
pub struct TenantPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
}

/// `{tenant}` and `{id}` in a record path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct RecordPath {
    /// The tenant's slug, e.g. `acme`.
    tenant: String,
    /// The record's id (a UUID).
    id: String,
}

/// A record id from the path, checked before it reaches the database.
pub(crate) fn parse_id(raw: &str) -> Result<String, crate::ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| skjold_domain::FieldErrors::single("id", "is not a valid id").into())
}
