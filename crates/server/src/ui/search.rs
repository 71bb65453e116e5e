//! The global search: the top bar's box sends `GET /{tenant}/search?q=` (a plain form, no
//! JavaScript needed) and this page shows the hits grouped by record type, each group
//! linking to its own list for the rest.

use super::auth::{FormData, UiAuth};
use super::fields::spec;
use super::templates::{SearchGroupView, SearchHitView, SearchPage};
use super::{ok, Chrome, UiError};
use crate::extract::SignedIn;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use skjold_app::{search, AppError};

/// Hits shown per record type; the group's link leads to the rest.
const PER_TYPE: usize = 8;

async fn search_page(
    State(_state): State<AppState>,
    auth: UiAuth<SignedIn>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    let q = params.get("q").unwrap_or_default().trim().to_string();
    let slug = auth.slug().to_string();
    let mut problem = None;
    let mut groups = Vec::new();
    if !q.is_empty() {
        match search::search(&auth.ctx(), &auth.acting(), &q, Some(PER_TYPE)).await {
            Ok(found) => {
                for g in found {
                    let s = spec(g.kind);
                    let all_href = format!(
                        "/{slug}/{}?q={}",
                        s.path,
                        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                    );
                    groups.push(SearchGroupView {
                        title: s.plural,
                        path: s.path,
                        more: g.more,
                        all_href,
                        hits: g
                            .hits
                            .into_iter()
                            .map(|h| SearchHitView {
                                href: format!("/{slug}/{}/{}", s.path, h.id),
                                name: h.name,
                                context: h.context,
                            })
                            .collect(),
                    });
                }
            }
            // A query without a letter or digit is a hint on the page, not an error page.
            Err(AppError::Invalid(f)) => {
                let said: Vec<String> =
                    f.0.iter()
                        .map(|e| format!("The search {}.", e.message))
                        .collect();
                problem = Some(said.join(" "));
            }
            Err(e) => return Err(e.into()),
        }
    }
    ok(&SearchPage {
        chrome: Chrome::new(&auth, "search", "Search"),
        searched: !q.is_empty() && problem.is_none(),
        q,
        problem,
        groups,
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/search", get(search_page))
}
