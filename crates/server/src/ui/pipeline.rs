//! The sales pipeline: open sales as cards in a column per stage, each with a "Move" form
//! (a plain form without JavaScript; with htmx only the board is redrawn).

use super::auth::{FormData, UiAuth};
use super::fields::{self, list_all, Cell};
use super::records::move_options;
use super::templates::{Card, Column, MoveForm, PipelinePage};
use super::{ok, Chrome, UiError};
use crate::extract::Read;
use crate::AppState;
use axum::extract::RawQuery;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use skjold_domain::crm::EntityKind;
use skjold_domain::Right;

/// The most sales the board reads.
const MAX_SALES: usize = 2000;

async fn pipeline(
    auth: UiAuth<Read<skjold_domain::crm::Sale>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let slug = auth.slug().to_string();
    let params = FormData::parse(raw.unwrap_or_default().as_bytes());
    let mine = !params.text("mine").is_empty();
    let filters = if mine {
        vec![("owner_id".to_string(), auth.user().id.clone())]
    } else {
        Vec::new()
    };
    let sales = list_all(
        auth.db(),
        &auth.sight(),
        EntityKind::Sale,
        filters,
        MAX_SALES,
    )
    .await?;
    let truncated = sales.len() == MAX_SALES;
    let can_move = auth.can(Right::SalesWrite);
    let here = if mine {
        format!("/{slug}/sales/pipeline?mine=1")
    } else {
        format!("/{slug}/sales/pipeline")
    };
    let mut look = auth.lookup();
    let mut columns: Vec<Column> = fields::STAGES
        .iter()
        .map(|(stage, label)| Column {
            stage,
            label,
            cards: Vec::new(),
        })
        .collect();
    let (mut won, mut lost) = (0, 0);
    for s in &sales {
        match s.get("status").and_then(Value::as_str) {
            Some("won") => {
                won += 1;
                continue;
            }
            Some("lost") => {
                lost += 1;
                continue;
            }
            _ => {}
        }
        let stage = s.get("stage").and_then(Value::as_str).unwrap_or("");
        let Some(col) = columns.iter_mut().find(|c| c.stage == stage) else {
            continue;
        };
        let id = s
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let company = match s.get("company_id").and_then(Value::as_str) {
            Some(c) => look
                .title(EntityKind::Company, c)
                .await?
                .map(|t| Cell::link(t, format!("/{slug}/companies/{c}"))),
            None => None,
        };
        col.cards.push(Card {
            title: Cell::link(
                fields::title(EntityKind::Sale, s),
                format!("/{slug}/sales/{id}"),
            ),
            company,
            amount: fields::sale_amount(s),
            probability: s.get("probability").and_then(Value::as_i64).unwrap_or(0),
            move_form: can_move.then(|| MoveForm {
                action: format!("/{slug}/sales/{id}/move"),
                options: move_options(s),
                return_to: Some(here.clone()),
                id,
            }),
        });
    }
    ok(&PipelinePage {
        chrome: Chrome::new(&auth, "sales", "Pipeline").with_flash(params.get("msg")),
        mine,
        columns,
        won,
        lost,
        truncated,
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/sales/pipeline", get(pipeline))
}
