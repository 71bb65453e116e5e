//! `GET /{tenant}/api/v1/search?q=`: one search over companies, persons, activities and
//! sales (those the caller may read), each hit with its type, id, name and context.

use crate::audit::ClientIp;
use crate::extract::{ApiQuery, Authorized, SignedIn};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use skjold_app::{search, Via};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to find; each must start a word of the record (name, e-mail, phone …).
    /// Case and accents do not matter.
    q: String,
    /// Hits per record type, 1–50 (default 5).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<usize>,
}

/// One record found.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    /// `company`, `person`, `activity` or `sale`.
    #[serde(rename = "type")]
    kind: String,
    #[schema(format = Uuid)]
    id: String,
    /// The record's name (a person's full name, an activity's subject, a sale's title).
    name: String,
    /// A few words that tell records of the same name apart.
    context: String,
}

/// The hits of one record type, in relevance order: records where every word of `q` is a
/// whole word first, then prefix matches, each by name.
#[derive(Serialize, ToSchema)]
pub struct SearchGroup {
    /// `company`, `person`, `activity` or `sale`.
    #[serde(rename = "type")]
    kind: String,
    items: Vec<SearchHit>,
    /// The type has more hits than `limit`: its own list's `?q=` pages through them all.
    more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// One group per record type with hits, in the order companies, persons, activities,
    /// sales; types the caller may not read are never searched.
    groups: Vec<SearchGroup>,
}

/// Search companies, persons, activities and sales at once.
#[utoipa::path(get, summary = "Search companies, persons, activities and sales at once.", path = "/search", tag = "search",
    params(crate::api::TenantPath, SearchParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The hits, grouped by record type", body = SearchResults),
        (status = 400, description = "Missing or unknown parameter", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 422, description = "`q` has no letter or digit, or `limit` is out of range", body = crate::error::Problem)))]
pub async fn search_all(
    State(state): State<AppState>,
    auth: Authorized<SignedIn>,
    Extension(ip): Extension<ClientIp>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
    let ctx = auth.ctx(&state, ip.0);
    let actor = auth.acting(Via::Api);
    let groups = search::search(&ctx, &actor, &params.q, params.limit).await?;
    Ok(Json(SearchResults {
        groups: groups
            .into_iter()
            .map(|g| SearchGroup {
                kind: g.kind.name().to_string(),
                more: g.more,
                items: g
                    .hits
                    .into_iter()
                    .map(|h| SearchHit {
                        kind: h.kind.name().to_string(),
                        id: h.id,
                        name: h.name,
                        context: h.context,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_all))
}
