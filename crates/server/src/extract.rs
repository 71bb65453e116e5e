//! Extractors: how a handler states what it needs — a JSON body, query parameters, the
//! tenant, a signed-in user holding a given right — and gets a clear problem when it is
//! missing.

use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;
use skjold_domain::crm::Entity;
use skjold_domain::{parse_json, parse_json_bytes, Access, FieldErrors, Grant, Right, TenantSlug};
use skjold_store::{Session, TenantDb, TenantRecord, TenantStatus, User};
use std::marker::PhantomData;

/// A JSON request body, parsed with errors that name the field at fault.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map(|l| l.0)
            .unwrap_or(0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        // Syntax first (400), then shape: every body of this API is a JSON object (422).
        let value: serde_json::Value = parse_json_bytes(&bytes).map_err(|e| {
            ApiError::BadRequest(format!("the body is not valid JSON: {}", e.0[0].message))
        })?;
        if !value.is_object() {
            return Err(FieldErrors::single("body", "must be a JSON object").into());
        }
        let value = parse_json::<T>(value)?;
        Ok(ApiJson(value))
    }
}

/// The configured body limit, carried in the request so the JSON extractor can name it.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Query parameters; an unknown or malformed parameter is a 400 that names it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string (without the `?`) into `T`, naming the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path == "." {
            "query".to_string()
        } else {
            path
        };
        let mut errs = FieldErrors::new();
        errs.add(field, message);
        ApiError::Invalid(errs)
    })
}

fn form_urlencoded_parse(q: &str) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(q.as_bytes())
}

/// The tenant named by the first path segment. Unknown and malformed slugs are both "not
/// found": the answer does not tell which tenants exist by their shape.
pub struct Tenant {
    pub record: TenantRecord,
    pub db: TenantDb,
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(t) = parts.extensions.get::<ResolvedTenant>() {
            return Ok(Tenant {
                record: t.0.clone(),
                db: t.1.clone(),
            });
        }
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let slug = TenantSlug::parse(first).map_err(|_| ApiError::NotFound("no such tenant"))?;
        let (record, db) = state
            .tenants
            .open(&slug)
            .await?
            .ok_or(ApiError::NotFound("no such tenant"))?;
        parts
            .extensions
            .insert(ResolvedTenant(record.clone(), db.clone()));
        // From here on, this request's access record belongs to the tenant's chain.
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.set_tenant(record.slug.as_str());
        }
        Ok(Tenant { record, db })
    }
}

#[derive(Clone)]
struct ResolvedTenant(TenantRecord, TenantDb);

/// A right a route requires; see [`Authorized`].
pub trait Requirement: Send + Sync + 'static {
    /// `None`: any signed-in user.
    const RIGHT: Option<Right>;
    /// A second right the route needs as well (an export needs `export` and the record
    /// type's read right).
    const ALSO: Option<Right> = None;
    /// Reachable with a session restricted to enrolling a second factor (see
    /// `crate::two_factor`). Only the enrolment routes say yes.
    const ENROLMENT: bool = false;
}

/// Any signed-in user, including one whose session is restricted to enrolling a second
/// factor: the routes that enrol (or show) factors take this.
pub struct Enrolling;
impl Requirement for Enrolling {
    const RIGHT: Option<Right> = None;
    const ENROLMENT: bool = true;
}

macro_rules! requirement {
    ($($name:ident => $right:expr),* $(,)?) => {
        $(
            #[doc = concat!("Requires `", stringify!($name), "`.")]
            pub struct $name;
            impl Requirement for $name {
                const RIGHT: Option<Right> = $right;
            }
        )*
    };
}

requirement! {
    SignedIn => None,
    UsersRead => Some(Right::UsersRead),
    RolesManage => Some(Right::RolesManage),
    UsersManage => Some(Right::UsersManage),
    SettingsManage => Some(Right::SettingsManage),
    AuditRead => Some(Right::AuditRead),
    BackupRestore => Some(Right::BackupRestore),
}

/// Requires the right to read records of type `E` (`companies.read`, …): the right follows
/// from the record type, so a handler for persons cannot ask for the companies' right.
pub struct Read<E>(PhantomData<fn() -> E>);
/// Requires the right to create and change records of type `E`.
pub struct Write<E>(PhantomData<fn() -> E>);
/// Requires the right to delete records of type `E`.
pub struct Delete<E>(PhantomData<fn() -> E>);
/// Requires `export` and the right to read records of type `E`: taking records away in bulk.
pub struct Export<E>(PhantomData<fn() -> E>);

impl<E: Entity + 'static> Requirement for Read<E> {
    const RIGHT: Option<Right> = Some(Right::on(E::KIND, Access::Read));
}
impl<E: Entity + 'static> Requirement for Write<E> {
    const RIGHT: Option<Right> = Some(Right::on(E::KIND, Access::Write));
}
impl<E: Entity + 'static> Requirement for Delete<E> {
    const RIGHT: Option<Right> = Some(Right::on(E::KIND, Access::Delete));
}
impl<E: Entity + 'static> Requirement for Export<E> {
    const RIGHT: Option<Right> = Some(Right::Export);
    const ALSO: Option<Right> = Some(Right::on(E::KIND, Access::Read));
}

/// Refuses a user whose grant lacks the requirement's right.
pub(crate) fn check_right<R: Requirement>(grant: &Grant) -> Result<(), String> {
    for right in [R::RIGHT, R::ALSO].into_iter().flatten() {
        if !grant.has(right) {
            return Err(format!(
                "your role ({}) does not include the right '{}'",
                grant.role_name,
                right.as_str()
            ));
        }
    }
    Ok(())
}

/// A signed-in, active user of an active tenant who holds the right `R`. A handler that
/// takes `Authorized<Write<Company>>` cannot run for anyone else.
pub struct Authorized<R: Requirement> {
    pub tenant: Tenant,
    /// The session, or — for a request with an API token — the token in a session's shape
    /// (`token_hash` is then the token's hash).
    pub session: Session,
    /// The user's role's rights and visibility, read for this request.
    pub grant: Grant,
    _right: PhantomData<R>,
}

impl<R: Requirement> Authorized<R> {
    pub fn user(&self) -> &User {
        &self.session.user
    }

    pub fn db(&self) -> &TenantDb {
        &self.tenant.db
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.len() <= 200).then_some(token)
}

impl<R: Requirement> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tenant = Tenant::from_request_parts(parts, state).await?;
        let token = bearer(parts).ok_or(ApiError::Unauthenticated)?;
        let hash = skjold_app::credentials::hash_token(token);
        let session = if token.starts_with(skjold_app::credentials::API_TOKEN_PREFIX) {
            let ip = parts
                .extensions
                .get::<crate::audit::ClientIp>()
                .map(|c| c.0.to_string())
                .unwrap_or_default();
            let (api_token, user) = tenant
                .db
                .use_api_token(&hash, &ip)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
                slot.set_user(&user.id, &user.username);
            }
            let path = parts
                .extensions
                .get::<OriginalUri>()
                .map(|u| u.0.path().to_string())
                .unwrap_or_else(|| parts.uri.path().to_string());
            crate::scopes::permits(&api_token.scopes, &path, &parts.method)
                .map_err(ApiError::Forbidden)?;
            Session {
                token_hash: hash,
                user,
                created_at: api_token.created_at.clone(),
                expires_at: api_token.expires_at.clone(),
                restricted: false,
                verified_at: None,
            }
        } else {
            let timeouts = state.tenant_session_timeouts(&tenant.db).await?;
            let session = tenant
                .db
                .session(&hash, timeouts)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            session
        };
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.set_user(&session.user.id, &session.user.username);
        }
        if tenant.record.status != TenantStatus::Active {
            return Err(ApiError::Forbidden("this tenant is suspended".into()));
        }
        if session.restricted && !R::ENROLMENT {
            return Err(ApiError::EnrolmentRequired);
        }
        let grant = tenant.db.grant_of(&session.user).await?;
        check_right::<R>(&grant).map_err(ApiError::Forbidden)?;
        Ok(Authorized {
            tenant,
            session,
            grant,
            _right: PhantomData,
        })
    }
}
