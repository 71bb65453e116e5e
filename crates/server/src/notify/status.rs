//! The status page's notifications (job `status.notify`, every minute): what happened since
//! the last run — maintenance announced or cancelled, the reminders 24 hours and 1 hour
//! before a window starts, an incident opened or updated — is queued once for every
//! subscriber, then every due delivery is attempted: e-mail through the mailer, webhooks
//! signed. A failed delivery is retried after 1, 5, 15, 60 and 360 minutes, then given up
//! (and logged). Times come from the injected clock.

use super::mailer::Mailer;
use super::webhook;
use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::status::{Incident, MaintenanceWindow, MAX_WINDOW_DAYS};
use skjold_store::{Catalog, Delivery};

const JOB: &str = "status.notify";
/// Each run looks back this far before the last one: a change committed while the last run
/// was reading is not missed, and what was queued already is not queued again (one row per
/// event and subscriber).
const OVERLAP_MINUTES: i64 = 10;
/// The waits after each failed attempt; after the last, the delivery is given up.
const RETRY_MINUTES: [i64; 5] = [1, 5, 15, 60, 360];

/// One thing to tell subscribers.
struct Notification {
    key: String,
    subject: String,
    payload: Value,
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%a %Y-%m-%d %H:%M UTC").to_string()
}

fn window_text(w: &MaintenanceWindow) -> String {
    let mut text = format!(
        "{}\nFrom {} to {}.\nAffects: {}.",
        w.summary,
        utc(w.starts_at),
        utc(w.ends_at),
        w.affected()
    );
    if let Some(reason) = &w.reason {
        text.push_str(&format!("\nEmergency maintenance: {reason}"));
    }
    text
}

fn maintenance(w: &MaintenanceWindow, event: &str, subject: String) -> Notification {
    Notification {
        key: format!("maintenance:{}:{event}", w.id),
        subject,
        payload: json!({ "event": format!("maintenance.{event}"), "text": window_text(w), "maintenance": w }),
    }
}

/// What happened in (since, now].
async fn happenings(
    catalog: &Catalog,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Notification>, String> {
    let between = |t: DateTime<Utc>| since < t && t <= now;
    let mut out = Vec::new();
    let windows = catalog
        .maintenance_since(since - Duration::days(MAX_WINDOW_DAYS + 1))
        .await
        .map_err(|e| e.to_string())?;
    for w in &windows {
        if between(w.announced_at) && w.cancelled_at.is_none() {
            let kind = if w.emergency {
                "Emergency maintenance"
            } else {
                "Scheduled maintenance"
            };
            out.push(maintenance(
                w,
                "scheduled",
                format!("{kind}: {}", w.summary),
            ));
        }
        if let Some(cancelled) = w.cancelled_at {
            if between(cancelled) && w.announced_at <= since {
                out.push(maintenance(
                    w,
                    "cancelled",
                    format!("Cancelled: {}", w.summary),
                ));
            }
            continue;
        }
        // A reminder is sent when its moment passes — unless the window was announced after
        // it (the announcement itself was the notice).
        for (hours, name) in [(24, "reminder-24h"), (1, "reminder-1h")] {
            let at = w.starts_at - Duration::hours(hours);
            if between(at) && w.announced_at < at {
                out.push(maintenance(
                    w,
                    name,
                    format!(
                        "In {hours} hour{}: {}",
                        if hours == 1 { "" } else { "s" },
                        w.summary
                    ),
                ));
            }
        }
    }
    let incidents: Vec<Incident> = catalog
        .incidents_since(since)
        .await
        .map_err(|e| e.to_string())?;
    for i in &incidents {
        for (n, u) in i.updates.iter().enumerate() {
            if !between(u.at) {
                continue;
            }
            let event = if n == 0 { "opened" } else { "updated" };
            out.push(Notification {
                key: format!("incident:{}:{}", i.id, n + 1),
                subject: format!("{} — {}: {}", u.status.label(), i.title, i.impact.label()),
                payload: json!({
                    "event": format!("incident.{event}"),
                    "text": format!("{}\n{}: {}", i.title, u.status.label(), u.message),
                    "incident": i,
                }),
            });
        }
    }
    Ok(out)
}

/// Queues what happened since the last run, then attempts every due delivery.
pub async fn run(state: &AppState) -> Result<Value, String> {
    let catalog = state.tenants.catalog();
    let now = state.clock.now();
    let since = catalog
        .job_mark(JOB)
        .await
        .map_err(|e| e.to_string())?
        .as_deref()
        .and_then(parse_timestamp);
    let mut queued = 0;
    if let Some(since) = since {
        let since = since - Duration::minutes(OVERLAP_MINUTES);
        for n in happenings(catalog, since, now).await? {
            queued += catalog
                .enqueue_notification(&n.key, &n.subject, &n.payload, now)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    // The first run starts counting from now: nothing from before is sent.
    catalog
        .set_job_mark(JOB, &format_timestamp(now))
        .await
        .map_err(|e| e.to_string())?;
    let (delivered, failed) = deliver_due(state, now).await?;
    Ok(json!({ "queued": queued, "delivered": delivered, "failed": failed }))
}

async fn deliver_due(state: &AppState, now: DateTime<Utc>) -> Result<(u64, u64), String> {
    let catalog = state.tenants.catalog();
    let due = catalog
        .due_deliveries(now, 200)
        .await
        .map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok((0, 0));
    }
    let mailer = state
        .config
        .notify
        .smtp
        .as_ref()
        .map(Mailer::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    // reqwest's TLS takes the process's default crypto provider; the server's own TLS
    // names its provider explicitly, so one may not be installed yet.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let (mut delivered, mut failed) = (0, 0);
    for d in due {
        let outcome = attempt(state, mailer.as_ref(), &client, &d, now).await;
        let recorded = match outcome {
            Ok(()) => {
                delivered += 1;
                Ok(())
            }
            Err(error) => {
                failed += 1;
                let next = RETRY_MINUTES
                    .get(d.attempts as usize)
                    .map(|m| now + Duration::minutes(*m));
                if next.is_none() {
                    tracing::warn!(subscription = %d.subscription.id, event = %d.event_key, %error, "a status notification was given up");
                }
                Err((error, next))
            }
        };
        catalog
            .delivery_attempted(&d.event_key, &d.subscription.id, now, recorded)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((delivered, failed))
}

async fn attempt(
    state: &AppState,
    mailer: Option<&Mailer>,
    client: &reqwest::Client,
    d: &Delivery,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let base = state.public_base_url();
    let unsubscribe = format!(
        "{base}/status/unsubscribe/{}",
        d.subscription.unsubscribe_token
    );
    match d.subscription.kind.as_str() {
        "email" => {
            let mailer = mailer.ok_or("no SMTP relay is configured (smtp.host)")?;
            let text = d.payload["text"].as_str().unwrap_or_default();
            let body = format!(
                "{text}\n\nThe status page: {base}/status\n\nYou get this because this address is subscribed to the status of this Skjold installation. To stop: {unsubscribe}\n"
            );
            mailer
                .send(&d.subscription.target, &d.subject, &body)
                .await
                .map_err(|e| e.to_string())
        }
        "webhook" => {
            let secret = d
                .subscription
                .signing_secret
                .as_deref()
                .ok_or("the webhook has no signing secret")?;
            let mut payload = d.payload.clone();
            payload["id"] = json!(d.event_key);
            payload["subject"] = json!(d.subject);
            payload["status_page"] = json!(format!("{base}/status"));
            payload["unsubscribe"] = json!(unsubscribe);
            let event = payload["event"].as_str().unwrap_or("status").to_string();
            webhook::deliver(
                client,
                &d.subscription.target,
                secret,
                &event,
                now.timestamp(),
                serde_json::to_vec(&payload).unwrap_or_default(),
                state.config.notify.allow_private_webhooks,
            )
            .await
            .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown subscription kind '{other}'")),
    }
}
