//! The CRM records' REST resources. One generic implementation; a macro stamps out the
//! documented, concretely typed handlers for each record type.

use super::parse_id;
use crate::export::ExportFormat;
use crate::extract::{ApiJson, ApiQuery, Authorized, Delete, Export, Read, Requirement, Write};
use crate::records_export;
use crate::{ApiError, AppState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_app::{records, Actor, Ctx, Via};
use skjold_domain::crm::{Activity, Company, Entity, Person, Sale};
use skjold_domain::FieldErrors;
use skjold_store::{HistoryEntry, ListQuery, ListSort};
use std::net::IpAddr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// List and search parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Search: records with a word starting with each word of `q` (name, e-mail, phone …).
    q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only records linked to this company (persons, activities, sales).
    #[param(format = Uuid)]
    company_id: Option<String>,
    /// Only records linked to this person (activities, sales).
    #[param(format = Uuid)]
    person_id: Option<String>,
    /// Only activities of this sale.
    #[param(format = Uuid)]
    sale_id: Option<String>,
    /// Only records owned by this user.
    #[param(format = Uuid)]
    owner_id: Option<String>,
    /// Order of a list without `q`: `name` (default), `-name`, `updated`, `-updated`
    /// (most recently changed first), `created`, `-created`.
    sort: Option<String>,
}

impl ListParams {
    fn into_query(self) -> Result<ListQuery, ApiError> {
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
            None => ListSort::Name,
            Some(text) => ListSort::parse(text).ok_or_else(|| {
                ApiError::from(FieldErrors::single(
                    "sort",
                    "must be one of name, -name, updated, -updated, created, -created",
                ))
            })?,
        };
        let filters = [
            ("company_id", self.company_id),
            ("person_id", self.person_id),
            ("sale_id", self.sale_id),
            ("owner_id", self.owner_id),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
        Ok(ListQuery {
            q: self.q.filter(|q| !q.trim().is_empty()),
            limit: self.limit,
            cursor: self.cursor.filter(|c| !c.is_empty()),
            filters,
            sort,
        })
    }
}

/// Export parameters: a list's filters and order, and the format; `ListParams` without
/// paging (serde cannot flatten a struct that refuses unknown fields, so they are spelled
/// out and handed over).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    format: ExportFormat,
    q: Option<String>,
    company_id: Option<String>,
    person_id: Option<String>,
    sale_id: Option<String>,
    owner_id: Option<String>,
    sort: Option<String>,
}

impl ExportParams {
    fn into_query(self) -> Result<(ExportFormat, ListQuery), ApiError> {
        let list = ListParams {
            q: self.q,
            limit: None,
            cursor: None,
            company_id: self.company_id,
            person_id: self.person_id,
            sale_id: self.sale_id,
            owner_id: self.owner_id,
            sort: self.sort,
        };
        Ok((self.format, list.into_query()?))
    }
}

/// Documents one list's parameters: the filters a list takes differ by record type (a
/// company has no `person_id` to filter by), and the document must not offer one that the
/// list refuses. Requests are parsed by [`ListParams`]; the store names a wrong filter.
macro_rules! list_params_doc {
    ($name:ident, $export:ident, $($filter:ident: $doc:literal),*) => {
        /// An export's parameters: the list's filters, without paging, and the format.
        #[derive(IntoParams)]
        #[into_params(parameter_in = Query)]
        #[allow(dead_code)]
        pub struct $export {
            /// `csv` (a header row, then a row per record) or `jsonl` (a record per line,
            /// as the API returns it).
            format: ExportFormat,
            /// Only records with a word starting with each word of `q`.
            q: Option<String>,
            $(
                #[doc = $doc]
                #[param(format = Uuid)]
                $filter: Option<String>,
            )*
            /// Only records owned by this user.
            #[param(format = Uuid)]
            owner_id: Option<String>,
        }

        #[derive(IntoParams)]
        #[into_params(parameter_in = Query)]
        #[allow(dead_code)]
        pub struct $name {
            /// Search: records with a word starting with each word of `q` (name, e-mail, phone …).
            q: Option<String>,
            /// Page size, 1–200 (default 50).
            #[param(minimum = 1, maximum = 200)]
            limit: Option<usize>,
            /// `next_cursor` of the previous page.
            cursor: Option<String>,
            $(
                #[doc = $doc]
                #[param(format = Uuid)]
                $filter: Option<String>,
            )*
            /// Only records owned by this user.
            #[param(format = Uuid)]
            owner_id: Option<String>,
        }
    };
}
list_params_doc!(CompanyListParams, CompanyExportParams,);
list_params_doc!(PersonListParams, PersonExportParams, company_id: "Only persons of this company.");
list_params_doc!(ActivityListParams, ActivityExportParams,
    company_id: "Only activities of this company.",
    person_id: "Only activities with this person.",
    sale_id: "Only activities of this sale.");
list_params_doc!(SaleListParams, SaleExportParams,
    company_id: "Only sales of this company.",
    person_id: "Only sales with this person.");

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Also delete the records linked to this one (for a company: its persons, their and
    /// its activities and sales). Without it, a record with links is not deleted (409).
    #[serde(default)]
    cascade: bool,
}

/// A page of records.
#[derive(Serialize, ToSchema)]
pub struct RecordPage<T> {
    items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// One change in a record's history.
#[derive(Serialize, ToSchema)]
pub struct HistoryItem {
    seq: i64,
    #[schema(format = DateTime)]
    at: String,
    /// The id of the user who made the change, or `system:<what>`.
    actor: String,
    /// `create`, `update` or `delete`.
    op: String,
    /// For each changed field: `{"from": …, "to": …}`.
    #[schema(value_type = Object)]
    changes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct History {
    items: Vec<HistoryItem>,
}

impl From<HistoryEntry> for HistoryItem {
    fn from(h: HistoryEntry) -> Self {
        HistoryItem {
            seq: h.seq,
            at: h.at,
            actor: h.actor,
            op: serde_json::to_value(h.op)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            changes: h.changes,
        }
    }
}

/// Where a record action of this request happens, and who does it.
fn acting<'a, R: Requirement>(
    auth: &'a Authorized<R>,
    state: &'a AppState,
    ip: IpAddr,
) -> (Ctx<'a>, Actor) {
    (auth.ctx(state, ip), auth.acting(Via::Api))
}

async fn list<E: Entity>(
    state: &AppState,
    auth: Authorized<Read<E>>,
    ip: IpAddr,
    params: ListParams,
) -> Result<Json<RecordPage<E>>, ApiError> {
    let (ctx, actor) = acting(&auth, state, ip);
    let page = records::list::<E>(&ctx, &actor, &params.into_query()?).await?;
    Ok(Json(RecordPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

async fn export<E: Entity>(
    state: &AppState,
    auth: Authorized<Export<E>>,
    ip: IpAddr,
    params: ExportParams,
) -> Result<axum::response::Response, ApiError> {
    let (format, query) = params.into_query()?;
    let (ctx, actor) = acting(&auth, state, ip);
    let export = records::export::<E>(&ctx, &actor, query, format.as_str()).await?;
    Ok(records_export::response(
        auth.db(),
        export,
        format,
        state.clock.now(),
    ))
}

async fn create<E: Entity>(
    state: &AppState,
    auth: Authorized<Write<E>>,
    ip: IpAddr,
    input: E::Input,
) -> Result<(StatusCode, HeaderMap, Json<E>), ApiError> {
    let (ctx, actor) = acting(&auth, state, ip);
    let record = records::create::<E>(&ctx, &actor, input).await?;
    let mut headers = HeaderMap::new();
    let location = format!(
        "/{}/api/v1/{}/{}",
        auth.db().slug(),
        E::KIND.table(),
        record.id()
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(record)))
}

async fn get<E: Entity>(
    state: &AppState,
    auth: Authorized<Read<E>>,
    ip: IpAddr,
    id: &str,
) -> Result<Json<E>, ApiError> {
    let id = parse_id(id)?;
    let (ctx, actor) = acting(&auth, state, ip);
    Ok(Json(records::get::<E>(&ctx, &actor, &id).await?))
}

async fn update<E: Entity>(
    state: &AppState,
    auth: Authorized<Write<E>>,
    ip: IpAddr,
    id: &str,
    patch: serde_json::Map<String, serde_json::Value>,
) -> Result<Json<E>, ApiError> {
    let id = parse_id(id)?;
    let (ctx, actor) = acting(&auth, state, ip);
    Ok(Json(records::update::<E>(&ctx, &actor, &id, patch).await?))
}

async fn delete<E: Entity>(
    state: &AppState,
    auth: Authorized<Delete<E>>,
    ip: IpAddr,
    id: &str,
    params: DeleteParams,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(id)?;
    let (ctx, actor) = acting(&auth, state, ip);
    records::delete(&ctx, &actor, E::KIND, &id, params.cascade).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn history<E: Entity>(
    state: &AppState,
    auth: Authorized<Read<E>>,
    ip: IpAddr,
    id: &str,
) -> Result<Json<History>, ApiError> {
    let id = parse_id(id)?;
    let (ctx, actor) = acting(&auth, state, ip);
    let items = records::history::<E>(&ctx, &actor, &id).await?;
    Ok(Json(History {
        items: items.into_iter().map(HistoryItem::from).collect(),
    }))
}

/// Stamps out the six documented handlers of one record type.
macro_rules! record_resource {
    (
        mod $module:ident, $entity:ty, $input:ty, $list_params:ty, $export_params:ty, tag = $tag:literal,
        collection = $collection:literal, export = $export:literal, item = $item:literal,
        history = $history:literal, one = $one:literal
    ) => {
        mod $module {
            use super::*;
            use crate::api::{RecordPath, TenantPath};
            use crate::audit::ClientIp;
            use axum::extract::{Path, State};
            use axum::Extension;
            use utoipa_axum::routes;

            #[doc = concat!("List ", $tag, ", or search them with `q`.")]
            #[utoipa::path(get, summary = concat!("List ", $tag, ", or search them with `q`."), path = $collection, tag = $tag, params(TenantPath, $list_params),
                security(("bearer" = [])),
                responses(
                    (status = 200, description = "A page of records", body = RecordPage<$entity>),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".read"), body = crate::error::Problem),
                    (status = 404, description = "No such tenant", body = crate::error::Problem),
                    (status = 422, description = "Invalid parameters", body = crate::error::Problem)))]
            pub async fn list_records(
                State(state): State<AppState>,
                auth: Authorized<Read<$entity>>,
                Extension(ip): Extension<ClientIp>,
                ApiQuery(params): ApiQuery<ListParams>,
            ) -> Result<Json<RecordPage<$entity>>, ApiError> {
                super::list::<$entity>(&state, auth, ip.0, params).await
            }

            #[doc = concat!("Export every ", $tag, " record the filters match (all you may see, in the list's order) as CSV or JSON lines; recorded as `records.exported`.")]
            #[utoipa::path(get, summary = concat!("Export ", $tag, " as CSV or JSON lines."), path = $export, tag = $tag, params(TenantPath, $export_params),
                security(("bearer" = [])),
                responses(
                    (status = 200, description = "The matching records as a download", content(
                        (String = "text/csv"),
                        (String = "application/x-ndjson"))),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks export or ", $tag, ".read"), body = crate::error::Problem),
                    (status = 404, description = "No such tenant", body = crate::error::Problem),
                    (status = 422, description = "Invalid format or filters", body = crate::error::Problem)))]
            pub async fn export_records(
                State(state): State<AppState>,
                auth: Authorized<Export<$entity>>,
                Extension(ip): Extension<ClientIp>,
                ApiQuery(params): ApiQuery<ExportParams>,
            ) -> Result<axum::response::Response, ApiError> {
                super::export::<$entity>(&state, auth, ip.0, params).await
            }

            #[doc = concat!("Create ", $one, ".")]
            #[utoipa::path(post, summary = concat!("Create ", $one, "."), path = $collection, tag = $tag, params(TenantPath),
                security(("bearer" = [])),
                request_body = $input,
                responses(
                    (status = 201, description = "Created; `Location` names it", body = $entity),
                    (status = 400, description = "Malformed JSON", body = crate::error::Problem),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".write"), body = crate::error::Problem),
                    (status = 404, description = "No such tenant", body = crate::error::Problem),
                    (status = 413, description = "Body too large", body = crate::error::Problem),
                    (status = 415, description = "Body is not JSON", body = crate::error::Problem),
                    (status = 422, description = "Invalid fields, each named (a link or owner outside your sight included)", body = crate::error::Problem)))]
            pub async fn create_record(
                State(state): State<AppState>,
                auth: Authorized<Write<$entity>>,
                Extension(ip): Extension<ClientIp>,
                ApiJson(input): ApiJson<$input>,
            ) -> Result<(StatusCode, HeaderMap, Json<$entity>), ApiError> {
                super::create::<$entity>(&state, auth, ip.0, input).await
            }

            #[doc = concat!("Get ", $one, ".")]
            #[utoipa::path(get, summary = concat!("Get ", $one, "."), path = $item, tag = $tag, params(RecordPath),
                security(("bearer" = [])),
                responses(
                    (status = 200, description = "The record", body = $entity),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".read"), body = crate::error::Problem),
                    (status = 404, description = "No such record, or none you may see", body = crate::error::Problem),
                    (status = 422, description = "Malformed id", body = crate::error::Problem)))]
            pub async fn get_record(
                State(state): State<AppState>,
                auth: Authorized<Read<$entity>>,
                Extension(ip): Extension<ClientIp>,
                Path((_, id)): Path<(String, String)>,
            ) -> Result<Json<$entity>, ApiError> {
                super::get::<$entity>(&state, auth, ip.0, &id).await
            }

            #[doc = concat!("Change some fields of ", $one, "; `null` clears an optional field.")]
            #[utoipa::path(patch, summary = concat!("Change some fields of ", $one, "; `null` clears an optional field."), path = $item, tag = $tag, params(RecordPath),
                security(("bearer" = [])),
                request_body(content = $input, description = "Any subset of the fields"),
                responses(
                    (status = 200, description = "The updated record", body = $entity),
                    (status = 400, description = "Malformed JSON", body = crate::error::Problem),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".write"), body = crate::error::Problem),
                    (status = 404, description = "No such record, or none you may see", body = crate::error::Problem),
                    (status = 413, description = "Body too large", body = crate::error::Problem),
                    (status = 415, description = "Body is not JSON", body = crate::error::Problem),
                    (status = 422, description = "Invalid fields, each named (a link or owner outside your sight included)", body = crate::error::Problem)))]
            pub async fn update_record(
                State(state): State<AppState>,
                auth: Authorized<Write<$entity>>,
                Extension(ip): Extension<ClientIp>,
                Path((_, id)): Path<(String, String)>,
                ApiJson(patch): ApiJson<serde_json::Map<String, serde_json::Value>>,
            ) -> Result<Json<$entity>, ApiError> {
                super::update::<$entity>(&state, auth, ip.0, &id, patch).await
            }

            #[doc = concat!("Delete ", $one, ".")]
            #[utoipa::path(delete, summary = concat!("Delete ", $one, "."), path = $item, tag = $tag, params(RecordPath, DeleteParams),
                security(("bearer" = [])),
                responses(
                    (status = 204, description = "Deleted"),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".delete"), body = crate::error::Problem),
                    (status = 404, description = "No such record, or none you may see", body = crate::error::Problem),
                    (status = 409, description = "Linked records exist; see detail", body = crate::error::Problem),
                    (status = 422, description = "Malformed id or parameter", body = crate::error::Problem)))]
            pub async fn delete_record(
                State(state): State<AppState>,
                auth: Authorized<Delete<$entity>>,
                Extension(ip): Extension<ClientIp>,
                Path((_, id)): Path<(String, String)>,
                ApiQuery(params): ApiQuery<DeleteParams>,
            ) -> Result<StatusCode, ApiError> {
                super::delete::<$entity>(&state, auth, ip.0, &id, params).await
            }

            #[doc = concat!("The change history of ", $one, ": who changed what, when.")]
            #[utoipa::path(get, summary = concat!("The change history of ", $one, ": who changed what, when."), path = $history, tag = $tag, params(RecordPath),
                security(("bearer" = [])),
                responses(
                    (status = 200, description = "Changes, oldest first; a deleted record keeps its history, which ends with the deletion", body = History),
                    (status = 401, description = "Not signed in", body = crate::error::Problem),
                    (status = 403, description = concat!("Lacks ", $tag, ".read"), body = crate::error::Problem),
                    (status = 404, description = "No record with this id ever existed, or none you may see", body = crate::error::Problem),
                    (status = 422, description = "Malformed id", body = crate::error::Problem)))]
            pub async fn record_history(
                State(state): State<AppState>,
                auth: Authorized<Read<$entity>>,
                Extension(ip): Extension<ClientIp>,
                Path((_, id)): Path<(String, String)>,
            ) -> Result<Json<History>, ApiError> {
                super::history::<$entity>(&state, auth, ip.0, &id).await
            }

            pub fn router() -> OpenApiRouter<AppState> {
                OpenApiRouter::new()
                    .routes(routes!(list_records, create_record))
                    .routes(routes!(export_records))
                    .routes(routes!(get_record, update_record, delete_record))
                    .routes(routes!(record_history))
            }
        }
    };
}

record_resource!(mod companies, Company, skjold_domain::crm::CompanyInput, CompanyListParams, CompanyExportParams,
    tag = "companies", collection = "/companies", export = "/companies/export", item = "/companies/{id}",
    history = "/companies/{id}/history", one = "a company");
record_resource!(mod persons, Person, skjold_domain::crm::PersonInput, PersonListParams, PersonExportParams,
    tag = "persons", collection = "/persons", export = "/persons/export", item = "/persons/{id}",
    history = "/persons/{id}/history", one = "a person");
record_resource!(mod activities, Activity, skjold_domain::crm::ActivityInput, ActivityListParams, ActivityExportParams,
    tag = "activities", collection = "/activities", export = "/activities/export", item = "/activities/{id}",
    history = "/activities/{id}/history", one = "an activity");
record_resource!(mod sales, Sale, skjold_domain::crm::SaleInput, SaleListParams, SaleExportParams,
    tag = "sales", collection = "/sales", export = "/sales/export", item = "/sales/{id}",
    history = "/sales/{id}/history", one = "a sale");

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(companies::router())
        .merge(persons::router())
        .merge(activities::router())
        .merge(sales::router())
}
