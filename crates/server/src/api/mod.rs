//! The REST API: `/{tenant}/api/v1/…`, plus the public health endpoints and the OpenAPI
//! document. Routes are registered only through `utoipa_axum::routes!`, so a route cannot
//! exist without its documentation.

pub mod audit;
mod backup;
mod health;
pub(crate) mod identity_providers;
pub(crate) mod invites;
mod locks;
mod me;
pub(crate) mod passkeys;
mod records;
mod roles;
mod search;
pub(crate) mod session;
pub mod sessions;
mod settings;
mod status_subscriptions;
mod teams;
pub mod tokens;
mod totp;
pub(crate) mod two_factor;
mod users;

use crate::AppState;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use records::{DeleteParams, ListParams};

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
    components(schemas(crate::error::Problem, crate::export::ExportFormat)),
    tags(
        (name = "health", description = "Liveness and readiness, no authentication"),
        (name = "session", description = "Signing in and out"),
        (name = "me", description = "The signed-in user's own details"),
        (name = "users", description = "The tenant's users (administration)"),
        (name = "roles", description = "Roles: sets of rights with a record visibility (own, team, all)"),
        (name = "teams", description = "Teams: whose records a role with team visibility shows"),
        (name = "settings", description = "The tenant's settings (needs settings.manage)"),
        (name = "companies", description = "Companies"),
        (name = "persons", description = "Persons"),
        (name = "activities", description = "Appointments, tasks, calls and notes"),
        (name = "sales", description = "Sales opportunities"),
        (name = "search", description = "One search over companies, persons, activities and sales"),
        (name = "audit", description = "The tenant's audit trail (needs audit.read)"),
        (name = "backup", description = "The tenant's backups (needs backup.restore)"),
        (name = "status", description = "Subscriptions to the status page's maintenance and incident announcements (needs settings.manage)"),
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

/// Errors are served as `application/problem+json` (RFC 9457); utoipa documents every
/// `body = Problem` as `application/json`, so the document is corrected here, in one place
/// for every route. (Found by schemathesis: docs/security-testing.md.)
struct ProblemContentType;

impl Modify for ProblemContentType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                for response in op.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                    });
                    if is_problem {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response
                                .content
                                .insert("application/problem+json".to_string(), content);
                        }
                    }
                }
            }
        }
    }
}

/// Any route that takes a bearer token can answer 403 `two-factor-enrolment-required` to a
/// session that may only enrol a second factor; routes that document no 403 of their own get
/// it here, in one place.
struct EnrolmentForbidden;

impl Modify for EnrolmentForbidden {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                if op.security.as_ref().is_none_or(Vec::is_empty)
                    || op.responses.responses.contains_key("403")
                {
                    continue;
                }
                let response = ResponseBuilder::new()
                    .description(
                        "The session may only enrol a second factor (`type` …:two-factor-enrolment-required)",
                    )
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build();
                op.responses.responses.insert("403".into(), response.into());
            }
        }
    }
}

/// A `PATCH` takes any subset of a record's fields, but utoipa documents its body with the
/// create input's schema, whose `required` list makes a partial update look invalid. Each
/// such body gets a `<Name>Patch` copy of the schema without `required`. (Found by
/// schemathesis: docs/security-testing.md.)
struct PatchBodies;

impl Modify for PatchBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{schema::Schema, Ref, RefOr};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for item in openapi.paths.paths.values_mut() {
            let Some(body) = item.patch.as_mut().and_then(|op| op.request_body.as_mut()) else {
                continue;
            };
            for content in body.content.values_mut() {
                let Some(RefOr::Ref(r)) = &content.schema else {
                    continue;
                };
                let Some(name) = r.ref_location.rsplit('/').next().map(str::to_string) else {
                    continue;
                };
                let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(&name) else {
                    continue;
                };
                if object.required.is_empty() {
                    continue;
                }
                let mut partial = object.clone();
                partial.required.clear();
                let patch_name = format!("{}Patch", name.trim_end_matches("Input"));
                components
                    .schemas
                    .insert(patch_name.clone(), RefOr::T(Schema::Object(partial)));
                content.schema = Some(RefOr::Ref(Ref::from_schema_name(patch_name)));
            }
        }
    }
}

/// Every API route, with its OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    let tenant_api = OpenApiRouter::new()
        .merge(session::router())
        .merge(me::router())
        .merge(users::router())
        .merge(invites::router())
        .merge(roles::router())
        .merge(teams::router())
        .merge(settings::router())
        .merge(locks::router())
        .merge(sessions::router())
        .merge(tokens::router())
        .merge(totp::router())
        .merge(two_factor::router())
        .merge(passkeys::router())
        .merge(records::router())
        .merge(search::router())
        .merge(audit::router())
        .merge(backup::router())
        .merge(status_subscriptions::router())
        .merge(identity_providers::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .nest("/{tenant}/api/v1", tenant_api)
}

/// The API's routes and their OpenAPI document, finished (the modifiers that need every
/// path run after the routes are merged).
pub fn split() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = router().split_for_parts();
    EnrolmentForbidden.modify(&mut doc);
    ProblemContentType.modify(&mut doc);
    PatchBodies.modify(&mut doc);
    (routes, doc)
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split().1
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
    #[param(format = Uuid)]
    id: String,
}

/// A record id from the path, checked before it reaches the database.
pub(crate) fn parse_id(raw: &str) -> Result<String, crate::ApiError> {
    uuid::Uuid::try_parse(raw)
        .map(|u| u.to_string())
        .map_err(|_| skjold_domain::FieldErrors::single("id", "is not a valid id").into())
}
