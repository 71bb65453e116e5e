//! The law of point-in-time restore as a property, over CRM records AND the security tables
//! (API tokens, passkeys, TOTP, recovery codes, password history, sign-in failures): for a
//! random sequence of writes at random instants of the test clock, with snapshots and
//! journal shipping in between, a restore to a random instant T gives exactly the tenant's
//! state at T — into a new tenant, and in place. A token revoked or a factor removed before
//! T must stay gone; one made after T must not be there.
//!
//! Runs on SQLite, or on PostgreSQL when `SKJOLD_TEST_DATABASE_URL` names a server.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use skjold_audit::AuditTrail;
use skjold_backup::crypt::Identities;
use skjold_backup::{BackupSettings, Backups, RestoreRequest};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::crm::{Company, CompanyInput, EntityKind};
use skjold_domain::{Clock, Role, SharedClock, TenantSlug, TestClock, Username};
use skjold_store::{
    Actor, Backend, Catalog, ListQuery, MemorySink, NewApiToken, NewTenant, NewUser, Sight,
    TenantDb, TenantRouter,
};
use std::collections::BTreeMap;
use std::sync::Arc;

type State = BTreeMap<String, Vec<BTreeMap<String, Value>>>;

struct Env {
    _dir: tempfile::TempDir,
    clock: TestClock,
    router: Arc<TenantRouter>,
    audit: AuditTrail,
    backups: Arc<Backups>,
    key: Identities,
    pg: Option<(String, String)>,
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::at(parse_timestamp("2026-03-01T00:00:00Z").unwrap());
        let shared: SharedClock = Arc::new(clock.clone());
        let (backend, pg) = match std::env::var("SKJOLD_TEST_DATABASE_URL") {
            Ok(server) => {
                let name = format!("pitr_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
                let mut url = url::Url::parse(&server).unwrap();
                url.set_path(&format!("/{name}"));
                (
                    Backend::from_config(dir.path(), Some(url.as_str())).unwrap(),
                    Some((server, name)),
                )
            }
            Err(_) => (Backend::from_config(dir.path(), None).unwrap(), None),
        };
        let catalog = Catalog::open(backend, shared.clone()).await.unwrap();
        let router = Arc::new(TenantRouter::new(catalog, 16));
        let audit = AuditTrail::start(router.clone(), skjold_audit::logs_root(dir.path()));
        let id = age::x25519::Identity::generate();
        let settings = BackupSettings {
            recipients: vec![id.to_public().to_string()],
            ..Default::default()
        };
        let config = settings.check(dir.path()).unwrap();
        let backups = Arc::new(Backups::new(config, router.clone(), shared, dir.path()).unwrap());
        Env {
            _dir: dir,
            clock,
            router,
            audit,
            backups,
            key: Identities::from_x25519(id),
            pg,
        }
    }

    async fn db(&self, slug: &str) -> TenantDb {
        self.router
            .open(&TenantSlug::parse(slug).unwrap())
            .await
            .unwrap()
            .unwrap()
            .1
    }

    async fn tenant(&self, slug: &str) -> (TenantDb, String) {
        let slug = TenantSlug::parse(slug).unwrap();
        self.router
            .catalog()
            .create(NewTenant {
                slug: slug.clone(),
                display_name: "Acme".into(),
            })
            .await
            .unwrap();
        let db = self.db(slug.as_str()).await;
        let user = db
            .create_user(
                &Actor::System { what: "test" },
                NewUser {
                    id: db.new_record_id(),
                    username: Username::parse("admin").unwrap(),
                    display_name: None,
                    email: None,
                    phone: None,
                    role: Role::Administrator.id(),
                    kind: skjold_store::UserKind::Person,
                    password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                },
            )
            .await
            .unwrap();
        (db, user.id)
    }

    async fn restore(&self, slug: &str, at: DateTime<Utc>, into: Option<&str>) {
        self.backups
            .restore(
                &RestoreRequest {
                    tenant: TenantSlug::parse(slug).unwrap(),
                    at,
                    into: into.map(|s| TenantSlug::parse(s).unwrap()),
                    by: "operator".into(),
                },
                &self.key,
                &self.audit,
            )
            .await
            .unwrap_or_else(|e| panic!("restore to {}: {e}", format_timestamp(at)));
    }

    async fn cleanup(self) {
        self.audit.flush().await.ok();
        self.router.close_all().await;
        self.router.catalog().close().await;
        if let Some((server, prefix)) = &self.pg {
            skjold_store::install_drivers();
            let mut url = url::Url::parse(server).unwrap();
            url.set_path("/postgres");
            let pool = sqlx::AnyPool::connect(url.as_str()).await.unwrap();
            let names: Vec<String> =
                sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
                    .bind(format!("{prefix}%"))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            for n in names {
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    }
}

/// Every table a backup carries (the store's export leaves out what the registry excludes).
async fn export(db: &TenantDb) -> State {
    let mut sink = MemorySink::default();
    db.export(&mut sink).await.unwrap();
    sink.into_sorted()
}

/// What an in-place restore brings back: everything but the journal, which records the
/// restore itself.
fn without_journal(mut s: State) -> State {
    s.remove("journal");
    s
}

/// One write. The numbers pick among what exists when the write runs.
#[derive(Debug, Clone)]
enum Op {
    CreateCompany(u8),
    UpdateCompany(u8),
    DeleteCompany(u8),
    CreateToken(u8),
    RevokeToken(u8),
    UseToken(u8),
    EndAccess,
    AddPasskey(u8),
    RenamePasskey(u8),
    RemovePasskey(u8),
    UsePasskey(u8),
    StartTotp(u8),
    ConfirmTotp,
    AcceptTotpStep(u8),
    DisableTotp,
    RegenerateCodes(u8),
    UseRecoveryCode(u8),
    ChangePassword(u8),
    FailedSignIn(u8),
    ReleaseAttempt(u8),
    ClearFailures(u8),
    PruneFailures,
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..22, any::<u8>()).prop_map(|(which, k)| match which {
        0 => Op::CreateCompany(k),
        1 => Op::UpdateCompany(k),
        2 => Op::DeleteCompany(k),
        3 => Op::CreateToken(k),
        4 => Op::RevokeToken(k),
        5 => Op::UseToken(k),
        6 => Op::EndAccess,
        7 => Op::AddPasskey(k),
        8 => Op::RenamePasskey(k),
        9 => Op::RemovePasskey(k),
        10 => Op::UsePasskey(k),
        11 => Op::StartTotp(k),
        12 => Op::ConfirmTotp,
        13 => Op::AcceptTotpStep(k),
        14 => Op::DisableTotp,
        15 => Op::RegenerateCodes(k),
        16 => Op::UseRecoveryCode(k),
        17 => Op::ChangePassword(k),
        18 => Op::FailedSignIn(k),
        19 => Op::ReleaseAttempt(k),
        20 => Op::ClearFailures(k),
        _ => Op::PruneFailures,
    })
}

#[derive(Debug, Clone)]
struct Step {
    /// Seconds the clock moves before the write.
    wait: u32,
    op: Op,
    /// A snapshot after the write.
    snapshot: bool,
    /// Journal shipping after the write.
    ship: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        1u32..7200,
        op(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(wait, op, snapshot, ship)| Step {
            wait,
            op,
            snapshot,
            ship,
        })
}

fn pick<T: Clone>(items: &[T], n: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[n as usize % items.len()].clone())
}

const USERNAMES: &[&str] = &["admin", "ghost", "eve"];

fn lock_minutes(n: u32) -> u32 {
    5 * n
}

async fn run(db: &TenantDb, user: &str, actor: &Actor, op: &Op, n: &mut u32) {
    *n += 1;
    let n = *n;
    let everything = Sight::everything();
    let companies: Vec<String> = db
        .list::<Company>(
            &everything,
            &ListQuery {
                limit: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    let tokens: Vec<String> = db
        .api_tokens_of(user)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let passkeys = db.passkeys_of(user).await.unwrap();
    match op {
        Op::CreateCompany(k) => {
            let input: CompanyInput =
                serde_json::from_value(json!({ "name": format!("Firma {k} {n}") })).unwrap();
            db.create::<Company>(&everything, actor, input)
                .await
                .unwrap();
        }
        Op::UpdateCompany(k) => {
            if let Some(id) = pick(&companies, *k) {
                let mut patch = serde_json::Map::new();
                patch.insert("city".into(), json!(format!("By {n}")));
                db.update::<Company>(&everything, actor, &id, patch)
                    .await
                    .unwrap();
            }
        }
        Op::DeleteCompany(k) => {
            if let Some(id) = pick(&companies, *k) {
                db.delete(&everything, actor, EntityKind::Company, &id, true)
                    .await
                    .unwrap();
            }
        }
        Op::CreateToken(k) => {
            let scopes = vec!["companies:read".to_string()];
            db.create_api_token(NewApiToken {
                id: &db.new_record_id(),
                user_id: user,
                name: &format!("token {k}"),
                token_hash: &format!("tokenhash{n}"),
                scopes: &scopes,
                expires_at: "2027-01-01T00:00:00Z",
            })
            .await
            .unwrap();
        }
        Op::RevokeToken(k) => {
            if let Some(id) = pick(&tokens, *k) {
                assert!(db.delete_api_token(user, &id).await.unwrap());
            }
        }
        Op::UseToken(k) => {
            let all = db.api_tokens_of(user).await.unwrap();
            if let Some(t) = pick(&all, *k) {
                // The hash is what create_api_token was given: find it by name and number.
                let hash: Option<String> = token_hash_of(db, &t.id).await;
                if let Some(hash) = hash {
                    db.use_api_token(&hash, &format!("10.0.0.{k}"))
                        .await
                        .unwrap();
                }
            }
        }
        Op::EndAccess => {
            db.end_access(user, None).await.unwrap();
        }
        Op::AddPasskey(k) => {
            db.add_passkey(
                user,
                &format!("cred{n}"),
                &format!("key {k}"),
                &json!({ "counter": 0 }).to_string(),
            )
            .await
            .unwrap();
        }
        Op::RenamePasskey(k) => {
            if let Some(p) = pick(&passkeys, *k) {
                db.rename_passkey(user, &p.id, &format!("renamed {n}"))
                    .await
                    .unwrap();
            }
        }
        Op::RemovePasskey(k) => {
            if let Some(p) = pick(&passkeys, *k) {
                db.delete_passkey(user, &p.id).await.unwrap();
            }
        }
        Op::UsePasskey(k) => {
            if let Some(p) = pick(&passkeys, *k) {
                let next = json!({ "counter": n }).to_string();
                assert!(db.passkey_used(&p.id, &p.credential, &next).await.unwrap());
            }
        }
        Op::StartTotp(k) => {
            // Refused once confirmed: that is fine, nothing changes then.
            let _ = db.start_totp(user, &format!("SECRET{k}N{n}")).await;
        }
        Op::ConfirmTotp => {
            if let Some(f) = db.totp_factor(user).await.unwrap() {
                if !f.confirmed {
                    let codes: Vec<String> = (0..3).map(|i| format!("code{n}-{i}")).collect();
                    db.confirm_totp(user, i64::from(n), &codes).await.unwrap();
                }
            }
        }
        Op::AcceptTotpStep(k) => {
            db.accept_totp_step(user, i64::from(n) * 10 + i64::from(*k % 3))
                .await
                .unwrap();
        }
        Op::DisableTotp => {
            db.disable_totp(user).await.unwrap();
        }
        Op::RegenerateCodes(k) => {
            let codes: Vec<String> = (0..(k % 4 + 1)).map(|i| format!("regen{n}-{i}")).collect();
            db.replace_recovery_codes(user, &codes).await.unwrap();
        }
        Op::UseRecoveryCode(k) => {
            let codes = recovery_hashes(db, user).await;
            if let Some(h) = pick(&codes, *k) {
                db.use_recovery_code(user, &h).await.unwrap();
            }
        }
        Op::ChangePassword(k) => {
            db.set_password_hash(actor, user, &format!("$argon2id$new{k}x{n}"), None)
                .await
                .unwrap();
        }
        Op::FailedSignIn(k) => {
            let name = USERNAMES[*k as usize % USERNAMES.len()];
            let reserved = db
                .reserve_sign_in_attempt(name, 3, Duration::minutes(5), lock_minutes)
                .await
                .unwrap();
            if matches!(reserved, skjold_store::Reservation::Reserved) {
                db.count_reserved_failure(name, 3, lock_minutes)
                    .await
                    .unwrap();
            }
        }
        Op::ReleaseAttempt(k) => {
            let name = USERNAMES[*k as usize % USERNAMES.len()];
            let reserved = db
                .reserve_sign_in_attempt(name, 3, Duration::minutes(5), lock_minutes)
                .await
                .unwrap();
            if matches!(reserved, skjold_store::Reservation::Reserved) {
                db.release_sign_in_attempt(name).await.unwrap();
            }
        }
        Op::ClearFailures(k) => {
            let name = USERNAMES[*k as usize % USERNAMES.len()];
            db.clear_sign_in_failures(name).await.unwrap();
        }
        Op::PruneFailures => {
            db.prune_sign_in_failures().await.unwrap();
        }
    }
}

async fn token_hash_of(db: &TenantDb, id: &str) -> Option<String> {
    let mut sink = MemorySink::default();
    db.export(&mut sink).await.unwrap();
    sink.tables.get("api_tokens").and_then(|rows| {
        rows.iter()
            .find(|r| r["id"] == json!(id))
            .and_then(|r| r["token_hash"].as_str().map(str::to_string))
    })
}

async fn recovery_hashes(db: &TenantDb, user: &str) -> Vec<String> {
    let mut sink = MemorySink::default();
    db.export(&mut sink).await.unwrap();
    let mut out: Vec<String> = sink
        .tables
        .get("recovery_codes")
        .map(|rows| {
            rows.iter()
                .filter(|r| r["user_id"] == json!(user) && r["used_at"].is_null())
                .filter_map(|r| r["code_hash"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The state the tenant had at `t`: the last recorded state at or before it.
fn state_at(history: &[(DateTime<Utc>, State)], t: DateTime<Utc>) -> &State {
    &history.iter().rev().find(|(at, _)| *at <= t).unwrap().1
}

/// One case, in a tenant of its own (`slug`) of the shared environment.
async fn case(env: &Env, slug: &str, steps: Vec<Step>, pick_t: u32, between: bool, in_place: bool) {
    let (db, user) = env.tenant(slug).await;
    let actor = Actor::User { id: user.clone() };
    env.backups.snapshot(db.slug(), "manual").await.unwrap();
    let mut history: Vec<(DateTime<Utc>, State)> = vec![(env.clock.now(), export(&db).await)];
    let mut n = 0;
    for s in &steps {
        env.clock.advance(Duration::seconds(i64::from(s.wait)));
        run(&db, &user, &actor, &s.op, &mut n).await;
        history.push((env.clock.now(), export(&db).await));
        if s.snapshot {
            env.clock.advance(Duration::seconds(1));
            env.backups.snapshot(db.slug(), "nightly").await.unwrap();
        }
        if s.ship {
            env.backups.ship(db.slug()).await.unwrap();
        }
    }
    env.clock.advance(Duration::seconds(60));
    env.backups.ship(db.slug()).await.unwrap();
    env.clock.advance(Duration::seconds(60));

    let start = history[0].0;
    let end = history.last().unwrap().0;
    let t = if between {
        let span = (end - start).num_seconds().max(1);
        start + Duration::seconds(i64::from(pick_t) % span)
    } else {
        history[pick_t as usize % history.len()].0
    };
    let want = state_at(&history, t).clone();

    let into = format!("{slug}-r");
    env.restore(slug, t, Some(&into)).await;
    let restored = export(&env.db(&into).await).await;
    assert_eq!(
        restored,
        want,
        "restore into a new tenant to {} after {steps:?}",
        format_timestamp(t)
    );

    // The restored tenant goes on: a new password's history row gets a fresh number (on
    // PostgreSQL the restore moves the table's sequence past the restored rows).
    let restored_db = env.db(&into).await;
    let admin = restored_db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "admin")
        .unwrap();
    restored_db
        .set_password_hash(
            &Actor::System { what: "test" },
            &admin.id,
            "$argon2id$after-restore",
            None,
        )
        .await
        .unwrap();

    if !in_place {
        return;
    }
    env.restore(slug, t, None).await;
    assert_eq!(
        without_journal(export(&db).await),
        without_journal(want),
        "restore in place to {} after {steps:?}",
        format_timestamp(t)
    );
}

/// Eight random cases on SQLite, five on PostgreSQL (each a tenant of its own in one shared
/// environment, so that the catalog is made once), shrunk to a small failing sequence on
/// failure.
/// About half the cases also restore in place (the slowest part: a scratch database and a
/// safety snapshot).
#[test]
fn restore_to_any_instant_gives_records_and_credentials_as_they_were() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let env = rt.block_on(Env::new());
    // A PostgreSQL case makes three or four databases: fewer cases keep the test well
    // under a minute. `SKJOLD_PITR_CASES` asks for more.
    let cases = std::env::var("SKJOLD_PITR_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if env.pg.is_some() { 5 } else { 8 });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let counter = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(
        &(
            prop::collection::vec(step(), 4..28),
            any::<u32>(),
            any::<bool>(),
            any::<bool>(),
        ),
        |(steps, pick_t, between, in_place)| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(case(
                &env,
                &format!("t{n}"),
                steps,
                pick_t,
                between,
                in_place,
            ));
            Ok(())
        },
    );
    rt.block_on(env.cleanup());
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The registry names every table the migrations make, and no other; every table a
/// snapshot carries is journaled or says why it need not be.
#[tokio::test]
async fn the_registry_knows_every_table_of_the_schema() {
    let env = Env::new().await;
    let (db, _) = env.tenant("acme").await;
    let tables = db.schema_tables().await.unwrap();
    assert!(tables.iter().any(|t| t == "api_tokens"), "{tables:?}");
    let problems = skjold_store::registry::check_against(&tables);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for name in &tables {
        let t = skjold_store::registry::table(name).unwrap();
        if t.in_snapshots() {
            assert!(
                t.entity().is_some()
                    || matches!(t.keep, skjold_store::registry::Keep::Carried { .. }),
                "{name}"
            );
        }
    }
    env.cleanup().await;
}

/// Credentials and factors are journaled for restores, but record history never shows
/// them: only records and users have a history.
#[tokio::test]
async fn credential_journal_entries_never_show_in_history() {
    let env = Env::new().await;
    let (db, user) = env.tenant("acme").await;
    let scopes = vec!["companies:read".to_string()];
    let token = db
        .create_api_token(NewApiToken {
            id: &db.new_record_id(),
            user_id: &user,
            name: "ci",
            token_hash: "somehash",
            scopes: &scopes,
            expires_at: "2027-01-01T00:00:00Z",
        })
        .await
        .unwrap();
    let passkey = db.add_passkey(&user, "cred", "key", "{}").await.unwrap();
    db.start_totp(&user, "SECRET").await.unwrap();
    db.confirm_totp(&user, 1, &["c1".into()]).await.unwrap();
    let entries = db.journal_since(0, 1000).await.unwrap();
    for (entity, id) in [
        ("api_token", token.id.as_str()),
        ("passkey", passkey.id.as_str()),
        ("totp_factor", user.as_str()),
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e.entity == entity && e.record_id == id && e.data.is_none()),
            "{entity} is journaled without history data"
        );
        assert!(db.history(entity, id).await.unwrap().is_empty(), "{entity}");
    }
    assert!(entries.iter().any(|e| e.entity == "recovery_code"));
    // Users keep their history.
    assert!(!db.history("user", &user).await.unwrap().is_empty());
    env.cleanup().await;
}
