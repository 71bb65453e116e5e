//! `skjold maintenance`, `skjold incident`, `skjold status` and `skjold operator token`: the
//! operators' side of the status page. Each change is the application layer's action
//! ([`skjold_app::operations`]), the same one the operator API calls.

use super::access::app_err;
use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use skjold_app::operations::{self, NewIncident};
use skjold_app::operator::{Operator, OpsCtx};
use skjold_audit::AuditTrail;
use skjold_domain::status::{
    Component, ComponentState, IncidentStatus, MaintenanceRequest, HISTORY_DAYS,
};
use skjold_store::TenantRouter;

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Announce a maintenance window: at least 24 hours ahead, unless --emergency --reason.
    Schedule(ScheduleArgs),
    /// Announced windows (and those of the last week).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Cancel an announced window.
    Cancel { id: String },
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// When it starts (RFC 3339, e.g. 2026-12-24T22:00:00Z).
    #[arg(long)]
    start: String,
    /// When it ends (RFC 3339).
    #[arg(long)]
    end: String,
    /// What is done, as users will read it.
    #[arg(long)]
    summary: String,
    /// The components affected, comma-separated (web, sign-in, database, backups); all
    /// when left out.
    #[arg(long, default_value = "")]
    components: String,
    /// Less than 24 hours' notice: needs --reason, which is shown and recorded.
    #[arg(long)]
    emergency: bool,
    #[arg(long, requires = "emergency")]
    reason: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident with its first update.
    Open {
        #[arg(long)]
        title: String,
        /// degraded, partial_outage or major_outage.
        #[arg(long)]
        impact: String,
        /// Comma-separated; all when left out.
        #[arg(long, default_value = "")]
        components: String,
        /// investigating (default), identified or monitoring.
        #[arg(long, default_value = "investigating")]
        status: String,
        /// What users notice and what is being done.
        #[arg(long)]
        message: String,
        #[arg(long)]
        json: bool,
    },
    /// Add an update to the timeline; --status resolved closes the incident.
    Update {
        id: String,
        #[arg(long)]
        status: String,
        #[arg(long)]
        message: String,
    },
    /// Write the post-incident review of a resolved incident (from a file, or - for stdin).
    Review {
        id: String,
        #[arg(long)]
        file: String,
    },
    /// Open incidents and those of the last 90 days.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One incident with its timeline.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// What the status page shows now.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set a component's state by hand (it wins over the probes until cleared).
    Set {
        component: String,
        #[arg(long)]
        state: String,
        #[arg(long)]
        reason: String,
    },
    /// Hand a component back to the probes.
    Clear { component: String },
    /// Subscribe an e-mail address or a webhook to maintenance and incident announcements.
    Subscribe {
        #[arg(long, conflicts_with = "webhook", required_unless_present = "webhook")]
        email: Option<String>,
        /// An https URL that answers 2xx to a signed JSON POST.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Every subscription (tenants' and operators').
    Subscriptions {
        #[arg(long)]
        json: bool,
    },
    /// Remove a subscription by id.
    Unsubscribe { id: String },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Tokens for the operator API (/ops/api/v1).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or name.
    Revoke { token: String },
}

fn ctx<'a>(router: &'a TenantRouter, audit: &'a AuditTrail) -> OpsCtx<'a> {
    OpsCtx {
        catalog: router.catalog(),
        audit,
    }
}

fn time(field: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    skjold_domain::clock::parse_timestamp(text).with_context(|| {
        format!("--{field}: '{text}' is not an RFC 3339 time (e.g. 2026-12-24T22:00:00Z)")
    })
}

fn plain<T>(r: Result<T, String>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!(e))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub async fn maintenance(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: MaintenanceCommand,
) -> anyhow::Result<()> {
    let ops = ctx(router, audit);
    let now = router.catalog().clock().now();
    match cmd {
        MaintenanceCommand::Schedule(a) => {
            let request = MaintenanceRequest {
                starts_at: time("start", &a.start)?,
                ends_at: time("end", &a.end)?,
                summary: a.summary,
                components: plain(Component::parse_list(&a.components))?,
                emergency: a.emergency,
                reason: a.reason,
            };
            let w = operations::schedule_maintenance(&ops, &Operator::cli(), request)
                .await
                .map_err(app_err)?;
            if a.json {
                return print_json(&w);
            }
            println!(
                "announced {}maintenance {}: {} — {} to {}",
                if w.emergency { "emergency " } else { "" },
                w.id,
                w.summary,
                utc(w.starts_at),
                utc(w.ends_at)
            );
            println!("it shows on every sign-in screen and on /status from now on");
        }
        MaintenanceCommand::List { json } => {
            let windows = router
                .catalog()
                .maintenance_since(now - chrono::Duration::days(7))
                .await?;
            if json {
                let out: Vec<_> = windows
                    .iter()
                    .map(|w| serde_json::json!({ "window": w, "state": w.state(now) }))
                    .collect();
                return print_json(&out);
            }
            println!(
                "{:<38} {:<12} {:<22} {:<22} SUMMARY",
                "ID", "STATE", "START", "END"
            );
            for w in windows {
                println!(
                    "{:<38} {:<12} {:<22} {:<22} {}{}",
                    w.id,
                    w.state(now).as_str(),
                    utc(w.starts_at),
                    utc(w.ends_at),
                    if w.emergency { "[emergency] " } else { "" },
                    w.summary
                );
            }
        }
        MaintenanceCommand::Cancel { id } => {
            let w = operations::cancel_maintenance(&ops, &Operator::cli(), &id)
                .await
                .map_err(app_err)?;
            println!("cancelled maintenance {}: {}", w.id, w.summary);
        }
    }
    Ok(())
}

pub async fn incident(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: IncidentCommand,
) -> anyhow::Result<()> {
    let ops = ctx(router, audit);
    match cmd {
        IncidentCommand::Open {
            title,
            impact,
            components,
            status,
            message,
            json,
        } => {
            let new = NewIncident {
                title,
                status: plain(IncidentStatus::parse(&status))?,
                impact: plain(ComponentState::parse(&impact))?,
                components: plain(Component::parse_list(&components))?,
                message,
            };
            let i = operations::open_incident(&ops, &Operator::cli(), new)
                .await
                .map_err(app_err)?;
            if json {
                return print_json(&i);
            }
            println!(
                "opened incident {}: {} ({})",
                i.id,
                i.title,
                i.status.as_str()
            );
        }
        IncidentCommand::Update {
            id,
            status,
            message,
        } => {
            let status = plain(IncidentStatus::parse(&status))?;
            let i = operations::update_incident(&ops, &Operator::cli(), &id, status, &message)
                .await
                .map_err(app_err)?;
            println!("incident {} is now {}", i.id, i.status.as_str());
        }
        IncidentCommand::Review { id, file } => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("reading the review from stdin")?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
            };
            operations::review_incident(&ops, &Operator::cli(), &id, &text)
                .await
                .map_err(app_err)?;
            println!("the review of incident {id} is published on /status");
        }
        IncidentCommand::List { json } => {
            let now = router.catalog().clock().now();
            let incidents = router
                .catalog()
                .incidents_since(now - chrono::Duration::days(HISTORY_DAYS))
                .await?;
            if json {
                return print_json(&incidents);
            }
            println!(
                "{:<38} {:<14} {:<16} {:<22} TITLE",
                "ID", "STATUS", "IMPACT", "OPENED"
            );
            for i in incidents {
                println!(
                    "{:<38} {:<14} {:<16} {:<22} {}",
                    i.id,
                    i.status.as_str(),
                    i.impact.as_str(),
                    utc(i.opened_at),
                    i.title
                );
            }
        }
        IncidentCommand::Show { id, json } => {
            let i = router
                .catalog()
                .incident(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no incident '{id}'"))?;
            if json {
                return print_json(&i);
            }
            println!(
                "{} — {} ({}, {})",
                i.id,
                i.title,
                i.status.as_str(),
                i.impact.as_str()
            );
            for u in &i.updates {
                println!(
                    "  {}  {:<13} {}  ({})",
                    utc(u.at),
                    u.status.as_str(),
                    u.message,
                    u.by
                );
            }
            if let Some(r) = &i.review {
                println!("review:\n{r}");
            }
        }
    }
    Ok(())
}

pub async fn status(
    router: &TenantRouter,
    audit: &AuditTrail,
    channels: skjold_app::subscriptions::Channels,
    cmd: StatusCommand,
) -> anyhow::Result<()> {
    let ops = ctx(router, audit);
    match cmd {
        StatusCommand::Show { json } => {
            let now = router.catalog().clock().now();
            let view = skjold_app::status_view::status(router.catalog(), now).await?;
            if json {
                return print_json(&view);
            }
            println!("{}", view.summary);
            for c in &view.components {
                let uptime = c
                    .uptime_percent
                    .map(|u| format!("{u:.3} % up (90 days)"))
                    .unwrap_or_else(|| "no history yet".into());
                println!(
                    "  {:<10} {:<18} {} — {}",
                    c.id.as_str(),
                    c.state.as_str(),
                    c.detail,
                    uptime
                );
            }
        }
        StatusCommand::Set {
            component,
            state,
            reason,
        } => {
            let component = plain(Component::parse(&component))?;
            let state = plain(ComponentState::parse(&state))?;
            operations::override_component(
                &ops,
                &Operator::cli(),
                component,
                Some((state, reason)),
            )
            .await
            .map_err(app_err)?;
            println!(
                "{component} shows {} until `skjold status clear {component}`",
                state.as_str()
            );
        }
        StatusCommand::Clear { component } => {
            let component = plain(Component::parse(&component))?;
            operations::override_component(&ops, &Operator::cli(), component, None)
                .await
                .map_err(app_err)?;
            println!("{component} shows what the probes find again");
        }
        StatusCommand::Subscribe { email, webhook } => {
            use skjold_app::subscriptions::{Kind, NewSubscription};
            let new = match (email, webhook) {
                (Some(target), _) => NewSubscription {
                    kind: Kind::Email,
                    target,
                },
                (None, Some(target)) => NewSubscription {
                    kind: Kind::Webhook,
                    target,
                },
                (None, None) => anyhow::bail!("give --email or --webhook"),
            };
            let made = skjold_app::subscriptions::subscribe_operator(
                &ops,
                &Operator::cli(),
                channels,
                new,
            )
            .await
            .map_err(app_err)?;
            println!(
                "subscribed {} ({})",
                made.subscription.target, made.subscription.id
            );
            if let Some(secret) = made.signing_secret {
                println!("signing secret (shown once): {secret}");
            }
        }
        StatusCommand::Subscriptions { json } => {
            let all = router.catalog().subscriptions(None).await?;
            if json {
                return print_json(&all);
            }
            println!("{:<38} {:<8} {:<16} TARGET", "ID", "KIND", "TENANT");
            for s in all {
                println!(
                    "{:<38} {:<8} {:<16} {}",
                    s.id,
                    s.kind,
                    s.tenant.as_deref().unwrap_or("(operator)"),
                    s.target
                );
            }
        }
        StatusCommand::Unsubscribe { id } => {
            let s = skjold_app::subscriptions::unsubscribe_operator(&ops, &Operator::cli(), &id)
                .await
                .map_err(app_err)?;
            println!("unsubscribed {} ({})", s.target, s.id);
        }
    }
    Ok(())
}

pub async fn operator(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: OperatorCommand,
) -> anyhow::Result<()> {
    let ops = ctx(router, audit);
    let OperatorCommand::Token(cmd) = cmd;
    match cmd {
        TokenCommand::Create { name } => {
            let (token, secret) = operations::create_operator_token(&ops, &Operator::cli(), &name)
                .await
                .map_err(app_err)?;
            println!("operator token '{}' ({})", token.name, token.id);
            println!("secret (shown once): {secret}");
            println!("use it as 'Authorization: Bearer <secret>' on /ops/api/v1/…");
        }
        TokenCommand::List { json } => {
            let tokens = router.catalog().operator_tokens().await?;
            if json {
                return print_json(&tokens);
            }
            println!(
                "{:<38} {:<20} {:<28} {:<28} REVOKED",
                "ID", "NAME", "CREATED", "LAST USED"
            );
            for t in tokens {
                println!(
                    "{:<38} {:<20} {:<28} {:<28} {}",
                    t.id,
                    t.name,
                    t.created_at,
                    t.last_used_at.unwrap_or_default(),
                    t.revoked_at.unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let t = operations::revoke_operator_token(&ops, &Operator::cli(), &token)
                .await
                .map_err(app_err)?;
            println!("revoked operator token '{}' ({})", t.name, t.id);
        }
    }
    Ok(())
}
