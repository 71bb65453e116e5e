//! The public status page: `GET /status` (HTML), `/status.json` and `/status.atom` — no
//! sign-in, on purpose (users must be able to read it when they cannot sign in). Each answer
//! is composed at the clock's time from a view read after the request arrived; a burst of
//! requests shares one read ([`crate::fresh::Fresh`]).

use crate::ui::assets;
use crate::{ApiError, AppState};
use askama::Template;
use atom_syndication::{Entry, Feed, Link, Person, Text};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, FixedOffset, Utc};
use skjold_app::status_view::StatusView;
use skjold_domain::status::MaintenanceState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/status", get(html))
        .route("/status.json", get(json))
        .route("/status.atom", get(atom))
        .route(
            "/status/unsubscribe/{token}",
            get(unsubscribe_form).post(unsubscribe),
        )
}

#[derive(Template)]
#[template(path = "status_unsubscribe.html")]
struct UnsubscribePage {
    asset_v: &'static str,
    token: String,
    target: String,
    done: bool,
    error: Option<&'static str>,
}

const BAD_LINK: &str =
    "This link is not valid (any more): the subscription may have ended already.";

fn page(p: UnsubscribePage) -> Result<Response, ApiError> {
    let status = if p.error.is_some() {
        axum::http::StatusCode::NOT_FOUND
    } else {
        axum::http::StatusCode::OK
    };
    let body = p.render().map_err(|e| {
        tracing::error!(error = %e, "rendering the unsubscribe page failed");
        ApiError::Unavailable
    })?;
    Ok(uncached(
        (status, body).into_response(),
        "text/html; charset=utf-8",
    ))
}

/// The link in every notification: a page that asks first (mail scanners follow links; only
/// the button's POST unsubscribes).
async fn unsubscribe_form(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let found = if token.len() <= 100 {
        state
            .tenants
            .catalog()
            .subscription_by_unsubscribe_token(&token)
            .await?
    } else {
        None
    };
    page(UnsubscribePage {
        asset_v: assets::version(),
        target: found.as_ref().map(|s| s.target.clone()).unwrap_or_default(),
        error: found.is_none().then_some(BAD_LINK),
        token,
        done: false,
    })
}

async fn unsubscribe(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let ops = state.ops();
    let ended = if token.len() <= 100 {
        match skjold_app::subscriptions::unsubscribe_by_link(&ops, &token).await {
            Ok(s) => Some(s),
            Err(skjold_app::AppError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    page(UnsubscribePage {
        asset_v: assets::version(),
        target: ended.as_ref().map(|s| s.target.clone()).unwrap_or_default(),
        done: ended.is_some(),
        error: ended.is_none().then_some(BAD_LINK),
        token,
    })
}

async fn view(state: &AppState) -> Result<StatusView, ApiError> {
    let now = state.clock.now();
    let catalog = state.tenants.catalog();
    state
        .status_view
        .get(|| skjold_app::status_view::status(catalog, now))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "composing the status page failed");
            ApiError::Unavailable
        })
}

/// Status pages are read to learn what is true now: never from a cache.
fn uncached(mut res: Response, content_type: &'static str) -> Response {
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    view: StatusView,
    asset_v: &'static str,
}

impl StatusPage {
    fn upcoming(&self) -> Vec<&skjold_app::status_view::MaintenanceView> {
        self.view
            .maintenance
            .iter()
            .filter(|m| {
                matches!(
                    m.state,
                    MaintenanceState::Scheduled | MaintenanceState::InProgress
                )
            })
            .collect()
    }

    fn past_maintenance(&self) -> Vec<&skjold_app::status_view::MaintenanceView> {
        self.view
            .maintenance
            .iter()
            .filter(|m| {
                matches!(
                    m.state,
                    MaintenanceState::Completed | MaintenanceState::Cancelled
                )
            })
            .collect()
    }
}

async fn html(State(state): State<AppState>) -> Result<Response, ApiError> {
    let page = StatusPage {
        view: view(&state).await?,
        asset_v: assets::version(),
    };
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "rendering the status page failed");
        ApiError::Unavailable
    })?;
    Ok(uncached(body.into_response(), "text/html; charset=utf-8"))
}

async fn json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = view(&state).await?;
    Ok(uncached(
        axum::Json(view).into_response(),
        "application/json",
    ))
}

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// The feed: one entry per maintenance window and per incident, updated with each change.
fn feed(view: &StatusView, base: &str) -> Feed {
    let mut entries = Vec::new();
    for m in &view.maintenance {
        let w = &m.window;
        let updated = w.cancelled_at.unwrap_or(w.announced_at);
        let kind = if w.emergency {
            "Emergency maintenance"
        } else {
            "Maintenance"
        };
        let mut body = format!(
            "{kind} ({}): {} — from {} to {} (UTC). Affects: {}.",
            m.state.as_str().replace('_', " "),
            w.summary,
            w.starts_at.format("%Y-%m-%d %H:%M"),
            w.ends_at.format("%Y-%m-%d %H:%M"),
            w.affected()
        );
        if let Some(reason) = &w.reason {
            body.push_str(&format!(" Reason: {reason}."));
        }
        entries.push(Entry {
            id: format!("urn:skjold:maintenance:{}", w.id),
            title: Text::plain(format!("{kind}: {}", w.summary)),
            updated: fixed(updated),
            published: Some(fixed(w.announced_at)),
            summary: Some(Text::plain(body)),
            links: vec![Link {
                href: format!("{base}/status#maintenance-{}", w.id),
                rel: "alternate".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    for i in &view.incidents {
        let updated = i.updates.last().map_or(i.opened_at, |u| u.at);
        let timeline: Vec<String> = i
            .updates
            .iter()
            .rev()
            .map(|u| {
                format!(
                    "{} — {}: {}",
                    u.at.format("%Y-%m-%d %H:%M UTC"),
                    u.status.label(),
                    u.message
                )
            })
            .collect();
        entries.push(Entry {
            id: format!("urn:skjold:incident:{}", i.id),
            title: Text::plain(format!("{} ({})", i.title, i.status.label())),
            updated: fixed(updated),
            published: Some(fixed(i.opened_at)),
            summary: Some(Text::plain(timeline.join("\n"))),
            links: vec![Link {
                href: format!("{base}/status#incident-{}", i.id),
                rel: "alternate".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.updated));
    let updated = entries
        .first()
        .map_or(fixed(view.generated_at), |e| e.updated);
    Feed {
        id: format!("{base}/status"),
        title: Text::plain("Skjold status: maintenance and incidents"),
        updated,
        authors: vec![Person {
            name: "Skjold operators".into(),
            ..Default::default()
        }],
        links: vec![
            Link {
                href: format!("{base}/status.atom"),
                rel: "self".into(),
                ..Default::default()
            },
            Link {
                href: format!("{base}/status"),
                rel: "alternate".into(),
                ..Default::default()
            },
        ],
        entries,
        ..Default::default()
    }
}

async fn atom(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = view(&state).await?;
    let base = state.public_base_url();
    Ok(uncached(
        feed(&view, &base).to_string().into_response(),
        "application/atom+xml; charset=utf-8",
    ))
}
