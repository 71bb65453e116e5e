//! `skjold-bench load`: fills a tenant with generated records through the store's one write
//! path (`TenantDb::create_many`: validation, link checks, search words and journal, in one
//! transaction per batch), exactly as the API would write them.

use crate::gen::{CompanyRef, Generator, PersonRef};
use anyhow::Context;
use serde::Serialize;
use skjold_audit::AuditTrail;
use skjold_domain::crm::{Activity, Company, Entity, Person, Sale};
use skjold_domain::{SharedClock, SystemClock, TenantSlug};
use skjold_store::{Actor, Backend, Catalog, ListQuery, Sight, StoreError, TenantDb, TenantRouter};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

/// The administrator the loader creates, and the password it gives them.
pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "load-harness-password-42";

/// At most this many person references are kept for linking activities and sales.
const MAX_REFS: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub tenant: String,
    pub persons: u64,
    pub companies: u64,
    pub activities: u64,
    pub sales: u64,
    pub seed: u64,
    /// Distinguishes successive loads into one tenant: part `p` generates other records
    /// than part `q`, each deterministic.
    pub part: u64,
    pub batch: usize,
    /// Batches written at the same time (each its own transaction).
    pub jobs: usize,
    pub progress: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityLoad {
    pub entity: &'static str,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_sec: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub tenant: String,
    pub admin: String,
    pub password: String,
    pub created_tenant: bool,
    pub backend: &'static str,
    pub batch: usize,
    pub jobs: usize,
    pub entities: Vec<EntityLoad>,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_sec: f64,
}

pub async fn load(opts: &LoadOptions) -> anyhow::Result<LoadReport> {
    skjold_store::install_drivers();
    let backend = Backend::from_config(&opts.data_dir, opts.database_url.as_deref())?;
    let backend_name = match backend.kind() {
        skjold_store::BackendKind::Sqlite => "sqlite",
        skjold_store::BackendKind::Postgres => "postgres",
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let catalog = Catalog::open(backend, clock)
        .await
        .context("opening the catalog")?;
    let router = Arc::new(TenantRouter::new(catalog, 4));
    // Creating a tenant is an audited event, like every operator action.
    let audit = AuditTrail::start(router.clone(), skjold_audit::logs_root(&opts.data_dir));
    let result = load_into(&router, &audit, opts, backend_name).await;
    let _ = audit.flush().await;
    router.close_all().await;
    router.catalog().close().await;
    result
}

async fn load_into(
    router: &TenantRouter,
    audit: &AuditTrail,
    opts: &LoadOptions,
    backend: &'static str,
) -> anyhow::Result<LoadReport> {
    let slug = TenantSlug::parse(&opts.tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let created = if router.catalog().get(&slug).await?.is_none() {
        skjold_server::provision::create_tenant_with_admin(
            router,
            audit,
            slug.clone(),
            "Benchmark",
            ADMIN,
            Some(PASSWORD.to_string()),
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating tenant '{slug}': {e}"))?;
        true
    } else {
        false
    };
    let (_, db) = router
        .open(&slug)
        .await?
        .with_context(|| format!("tenant '{slug}' vanished"))?;
    let admin = db
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.username == ADMIN)
        .with_context(|| format!("tenant '{slug}' has no user '{ADMIN}' to load as"))?;
    let actor = Actor::User { id: admin.id };
    let gen = Generator::new(opts.seed, opts.part);
    let started = Instant::now();
    let mut entities = Vec::new();

    // Companies first: persons link to them.
    let (mut companies, took) = insert_all::<Company, CompanyRef>(
        &db,
        &actor,
        opts,
        opts.companies,
        |i| gen.company(i).0,
        company_ref,
        1,
    )
    .await?;
    entities.push(took);
    if companies.is_empty() {
        companies = existing_companies(&db).await?;
    }

    let stride = (opts.persons / MAX_REFS).max(1);
    let (mut persons, took) = insert_all::<Person, PersonRef>(
        &db,
        &actor,
        opts,
        opts.persons,
        |i| gen.person(i, &companies),
        |p| PersonRef {
            id: p.id.clone(),
            company_id: p.company_id.clone(),
        },
        stride,
    )
    .await?;
    entities.push(took);
    if persons.is_empty() && (opts.activities > 0 || opts.sales > 0) {
        persons = existing_persons(&db).await?;
    }

    let (_, took) = insert_all::<Sale, ()>(
        &db,
        &actor,
        opts,
        opts.sales,
        |i| gen.sale(i, &companies, &persons),
        |_| (),
        u64::MAX,
    )
    .await?;
    entities.push(took);
    let (_, took) = insert_all::<Activity, ()>(
        &db,
        &actor,
        opts,
        opts.activities,
        |i| gen.activity(i, &persons),
        |_| (),
        u64::MAX,
    )
    .await?;
    entities.push(took);

    let rows: u64 = entities.iter().map(|e| e.rows).sum();
    let seconds = started.elapsed().as_secs_f64();
    Ok(LoadReport {
        tenant: slug.to_string(),
        admin: ADMIN.to_string(),
        password: PASSWORD.to_string(),
        created_tenant: created,
        backend,
        batch: opts.batch,
        jobs: opts.jobs,
        entities,
        rows,
        seconds,
        rows_per_sec: rows as f64 / seconds.max(1e-9),
    })
}

fn company_ref(c: &Company) -> CompanyRef {
    let domain = c
        .website
        .as_deref()
        .map(|w| {
            w.trim_start_matches("https://")
                .trim_start_matches("www.")
                .to_string()
        })
        .unwrap_or_else(|| "example.com".to_string());
    CompanyRef {
        id: c.id.clone(),
        name: c.name.clone(),
        domain,
        city: c.city.clone(),
        country: c.country.clone(),
    }
}

/// Pages through a list, up to `max` records.
async fn list_all<E: Entity>(db: &TenantDb, max: usize) -> Result<Vec<E>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = db
            .list::<E>(
                &Sight::everything(),
                &ListQuery {
                    limit: Some(200),
                    cursor: cursor.take(),
                    ..Default::default()
                },
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) if out.len() < max => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

async fn existing_companies(db: &TenantDb) -> anyhow::Result<Vec<CompanyRef>> {
    Ok(list_all::<Company>(db, 50_000)
        .await?
        .iter()
        .map(company_ref)
        .collect())
}

async fn existing_persons(db: &TenantDb) -> anyhow::Result<Vec<PersonRef>> {
    Ok(list_all::<Person>(db, 20_000)
        .await?
        .into_iter()
        .map(|p| PersonRef {
            id: p.id,
            company_id: p.company_id,
        })
        .collect())
}

/// A written batch: its first index, its size and what was kept of it.
type Batch<R> = (u64, u64, Vec<R>);

/// Writes `total` generated records in batches of `opts.batch`, `opts.jobs` batches at a
/// time, and keeps `keep(record)` of every `stride`-th one.
async fn insert_all<E, R>(
    db: &TenantDb,
    actor: &Actor,
    opts: &LoadOptions,
    total: u64,
    make: impl Fn(u64) -> E::Input,
    keep: fn(&E) -> R,
    stride: u64,
) -> anyhow::Result<(Vec<R>, EntityLoad)>
where
    E: Entity + Send + 'static,
    E::Input: Send + 'static,
    R: Send + 'static,
{
    let entity = E::KIND.table();
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut set: JoinSet<Result<Batch<R>, StoreError>> = JoinSet::new();
    let mut parts: Vec<(u64, Vec<R>)> = Vec::new();
    let (mut next, mut done) = (0u64, 0u64);
    let batch = opts.batch.max(1) as u64;
    let jobs = opts.jobs.max(1);
    while next < total || !set.is_empty() {
        while next < total && set.len() < jobs {
            let end = (next + batch).min(total);
            let inputs: Vec<E::Input> = (next..end).map(&make).collect();
            let (db, actor, first) = (db.clone(), actor.clone(), next);
            set.spawn(async move {
                let records = db
                    .create_many::<E>(&Sight::everything(), &actor, inputs)
                    .await?;
                let kept = records
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| (first + *k as u64).is_multiple_of(stride))
                    .map(|(_, r)| keep(r))
                    .collect();
                Ok((first, records.len() as u64, kept))
            });
            next = end;
        }
        if let Some(joined) = set.join_next().await {
            let (first, n, kept) = joined
                .context("a loader task failed")?
                .with_context(|| format!("writing {entity}"))?;
            done += n;
            parts.push((first, kept));
            if opts.progress && last_report.elapsed().as_secs_f64() >= 5.0 {
                last_report = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "  load {entity}: {done}/{total} ({:.0} rows/s)",
                    done as f64 / secs.max(1e-9)
                );
            }
        }
    }
    parts.sort_by_key(|(first, _)| *first);
    let kept = parts.into_iter().flat_map(|(_, k)| k).collect();
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        kept,
        EntityLoad {
            entity,
            rows: total,
            seconds,
            rows_per_sec: if total == 0 {
                0.0
            } else {
                total as f64 / seconds.max(1e-9)
            },
        },
    ))
}
