//! The dashboard: my open activities, my open sales, and what changed lately.

use super::auth::UiAuth;
use super::fields::{self, list_all, show_time, spec, Cell};
use super::templates::{DashActivity, DashRights, DashboardPage, RecentRow};
use super::{ok, Chrome, UiError};
use crate::extract::SignedIn;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use skjold_domain::crm::EntityKind;
use skjold_domain::{Access, Right};
use skjold_store::JournalOp;

/// How many of my records the dashboard reads to find the open ones.
const SCAN: usize = 1000;
const SHOW: usize = 10;

async fn dashboard(
    State(state): State<AppState>,
    auth: UiAuth<SignedIn>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let slug = auth.slug().to_string();
    let me = auth.user().id.clone();
    let params = super::auth::FormData::parse(raw.unwrap_or_default().as_bytes());
    let mut look = auth.lookup();
    let now = skjold_domain::clock::format_timestamp(state.clock.now());

    // Activities come in time order (undated last); the open ones first.
    let mine = vec![("owner_id".to_string(), me.clone())];
    let can = DashRights {
        new_company: auth.can(Right::CompaniesWrite),
        new_person: auth.can(Right::PersonsWrite),
        new_activity: auth.can(Right::ActivitiesWrite),
        new_sale: auth.can(Right::SalesWrite),
        read_activities: auth.can(Right::ActivitiesRead),
        read_sales: auth.can(Right::SalesRead),
    };
    let mut activities = Vec::new();
    let activity_scan = if can.read_activities { SCAN } else { 0 };
    for a in list_all(
        auth.db(),
        &auth.sight(),
        EntityKind::Activity,
        mine.clone(),
        activity_scan,
    )
    .await?
    {
        // Open means something to do: not done, and not a note.
        if a.get("done") == Some(&Value::Bool(true))
            || a.get("kind").and_then(Value::as_str) == Some("note")
        {
            continue;
        }
        let id = a
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let when = fields::when(&a).map(str::to_string);
        let about = match (
            a.get("company_id").and_then(Value::as_str),
            a.get("person_id").and_then(Value::as_str),
        ) {
            (Some(c), _) => look
                .title(EntityKind::Company, c)
                .await?
                .map(|t| Cell::link(t, format!("/{slug}/companies/{c}"))),
            (None, Some(p)) => look
                .title(EntityKind::Person, p)
                .await?
                .map(|t| Cell::link(t, format!("/{slug}/persons/{p}"))),
            _ => None,
        };
        activities.push(DashActivity {
            subject: Cell::link(
                fields::title(EntityKind::Activity, &a),
                format!("/{slug}/activities/{id}"),
            ),
            overdue: when.as_deref().is_some_and(|w| w < now.as_str()),
            when: when
                .as_deref()
                .map(show_time)
                .unwrap_or_else(|| "No date".into()),
            kind: fields::choice_label(
                fields::KINDS,
                a.get("kind").and_then(Value::as_str).unwrap_or(""),
            ),
            about,
            id,
        });
        if activities.len() == SHOW {
            break;
        }
    }

    let mut sales = Vec::new();
    let sale_scan = if can.read_sales { SCAN } else { 0 };
    for s in list_all(auth.db(), &auth.sight(), EntityKind::Sale, mine, sale_scan).await? {
        if s.get("status").and_then(Value::as_str) != Some("open") {
            continue;
        }
        let id = s.get("id").and_then(Value::as_str).unwrap_or("");
        let company = match s.get("company_id").and_then(Value::as_str) {
            Some(c) => look
                .title(EntityKind::Company, c)
                .await?
                .map(|t| Cell::link(t, format!("/{slug}/companies/{c}")))
                .unwrap_or_default(),
            None => Cell::default(),
        };
        sales.push(vec![
            Cell::link(
                fields::title(EntityKind::Sale, &s),
                format!("/{slug}/sales/{id}"),
            ),
            company,
            Cell::text(fields::choice_label(
                fields::STAGES,
                s.get("stage").and_then(Value::as_str).unwrap_or(""),
            )),
            Cell::text(fields::sale_amount(&s)),
        ]);
        if sales.len() == SHOW {
            break;
        }
    }

    let mut recent = Vec::new();
    for c in auth.db().recent_changes(&auth.sight(), SHOW).await? {
        let Some(kind) = EntityKind::from_name(&c.entity) else {
            continue;
        };
        if !auth.can(Right::on(kind, Access::Read)) {
            continue;
        }
        let s = spec(kind);
        let record = if c.op == JournalOp::Delete {
            Cell::text("(deleted)")
        } else {
            match look.title(kind, &c.record_id).await? {
                Some(t) => Cell::link(t, format!("/{slug}/{}/{}", s.path, c.record_id)),
                None => Cell::text("(deleted)"),
            }
        };
        recent.push(RecentRow {
            kind: s.one_title,
            record,
            what: match c.op {
                JournalOp::Create => "created",
                JournalOp::Update => "changed",
                JournalOp::Delete => "deleted",
            },
            who: look.user_name(&c.actor).await?,
            at: show_time(&c.at),
        });
    }

    ok(&DashboardPage {
        chrome: Chrome::new(&auth, "dashboard", "Dashboard").with_flash(params.get("msg")),
        can,
        activities,
        sales_headers: vec!["Title", "Company", "Stage", "Amount"],
        sales,
        recent,
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/{tenant}/", get(dashboard))
}
