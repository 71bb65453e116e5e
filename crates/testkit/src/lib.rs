//! Starts a real Skjold server for tests: real HTTPS on free ports, a temporary data dir, a
//! clock the test moves, and — when `SKJOLD_TEST_DATABASE_URL` names a PostgreSQL server —
//! fresh PostgreSQL databases that are dropped when the test ends.

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use skjold_domain::{Role, SharedClock, TenantSlug, TestClock, Username};
use skjold_server::{Application, Config};
use std::net::SocketAddr;
use std::sync::Arc;
use tempfile::TempDir;

/// The environment variable naming a PostgreSQL server for the suite, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`. Unset: SQLite.
pub const PG_ENV: &str = "SKJOLD_TEST_DATABASE_URL";

pub struct TestApp {
    /// `https://127.0.0.1:<port>`
    pub base: String,
    pub https_addr: SocketAddr,
    pub redirect_addr: Option<SocketAddr>,
    /// The plain-HTTP metrics listener (a free port); `None` when a test turned it off.
    pub metrics_addr: Option<SocketAddr>,
    pub client: Client,
    pub clock: TestClock,
    /// The demo tenant's administrator password.
    pub admin_password: String,
    pub state: skjold_server::AppState,
    pub data_dir: TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pg: Option<PgCleanup>,
}

/// Which database the suite runs on, from the environment.
pub fn backend_name() -> &'static str {
    if std::env::var(PG_ENV).is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data_dir = tempfile::tempdir().expect("temporary data dir");
    let mut config = Config::defaults_in(data_dir.path()).expect("default configuration");
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.redirect_listen = Some("127.0.0.1:0".parse().unwrap());
    // Tests run side by side: never the default port.
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let pg = match std::env::var(PG_ENV) {
        Ok(server) => {
            let name = format!("skt_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            config.database_url = Some(url_with_db(&server, &name).into());
            Some(PgCleanup {
                server,
                prefix: name,
            })
        }
        Err(_) => None,
    };
    adjust(&mut config);

    #[allow(clippy::disallowed_methods)] // the test clock starts at the real time
    let clock = TestClock::at(chrono::Utc::now());
    let shared: SharedClock = Arc::new(clock.clone());
    let mut app = Application::build(config, shared)
        .await
        .expect("server starts");
    let demo = app
        .take_demo_credentials()
        .expect("a first start creates the demo tenant");
    let https_addr = app.https_addr();
    let redirect_addr = app.redirect_addr();
    let metrics_addr = app.metrics_addr();
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));

    let cert = std::fs::read(skjold_server::tls::self_signed_paths(data_dir.path()).0)
        .expect("certificate");
    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).expect("PEM certificate"))
        .tls_built_in_root_certs(false)
        .https_only(true)
        // The suite speaks HTTP/1.1 (as before reqwest's http2 feature came into the test
        // build); HTTP/2 has its own tests with their own client.
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    TestApp {
        base: format!("https://{https_addr}"),
        https_addr,
        redirect_addr,
        metrics_addr,
        client,
        clock,
        admin_password: demo.password,
        state,
        data_dir,
        shutdown: Some(tx),
        pg,
    }
}

fn url_with_db(server: &str, db: &str) -> String {
    let mut url = url::Url::parse(server).expect("SKJOLD_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with an optional bearer token.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PUT, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    /// Signs in and returns the bearer token; panics if sign-in fails.
    pub async fn sign_in(&self, tenant: &str, username: &str, password: &str) -> String {
        let res = self
            .request(Method::POST, &format!("/{tenant}/api/v1/session"), None)
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "sign-in of {username}@{tenant} failed");
        let body: Value = res.json().await.expect("JSON");
        body["token"].as_str().expect("token").to_string()
    }

    /// An existing tenant's database, for tests that look past the API.
    pub async fn tenant_db(&self, slug: &str) -> skjold_store::TenantDb {
        let slug = TenantSlug::parse(slug).expect("slug");
        let (_, db) = self
            .state
            .tenants
            .open(&slug)
            .await
            .expect("tenant database opens")
            .expect("tenant exists");
        db
    }

    /// Sets the test clock to one minute before the next midnight and answers that
    /// midnight: a test signs in and prepares, then breaks the coming day's audit file
    /// ([`TestApp::audit_day_unwritable`]) and moves the clock past midnight.
    pub fn a_minute_before_midnight(&self) -> chrono::DateTime<chrono::Utc> {
        use skjold_domain::Clock;
        let midnight = (self.clock.now() + chrono::Duration::days(1))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        self.clock.set(midnight - chrono::Duration::minutes(1));
        midnight
    }

    /// Makes `chain`'s audit file of the day that starts at `midnight` a link to /dev/full,
    /// so that every record of that day fails; answers the file's path (remove it to let
    /// the trail write again).
    pub fn audit_day_unwritable(
        &self,
        chain: &str,
        midnight: chrono::DateTime<chrono::Utc>,
    ) -> std::path::PathBuf {
        let dir = skjold_audit::chain_dir(&skjold_audit::logs_root(self.data_dir.path()), chain);
        let file = dir.join(format!("{}.jsonl", midnight.format("%Y-%m-%d")));
        std::os::unix::fs::symlink("/dev/full", &file).expect("the day file links to /dev/full");
        file
    }

    /// A token of the demo tenant's administrator.
    pub async fn admin_token(&self) -> String {
        self.sign_in("demo", "admin", &self.admin_password.clone())
            .await
    }

    /// Creates another tenant with an administrator `admin`; returns that administrator's token.
    pub async fn create_tenant(&self, slug: &str) -> String {
        let password = tenant_admin_password(slug);
        skjold_server::provision::create_tenant_with_admin(
            &self.state.tenants,
            &self.state.audit,
            TenantSlug::parse(slug).expect("slug"),
            &format!("Tenant {slug}"),
            "admin",
            Some(password.clone()),
        )
        .await
        .expect("tenant created");
        self.sign_in(slug, "admin", &password).await
    }

    /// Adds a user with a built-in role to a tenant; returns their token.
    pub async fn user_with_role(&self, tenant: &str, username: &str, role: Role) -> String {
        self.user_with_role_named(tenant, username, role.as_str())
            .await
    }

    /// Adds a user with any role (its id or name, built-in or the tenant's own) to a tenant;
    /// returns their token.
    pub async fn user_with_role_named(&self, tenant: &str, username: &str, role: &str) -> String {
        let password = user_password(username);
        skjold_server::provision::add_user(
            &self.state.tenants,
            &self.state.audit,
            &TenantSlug::parse(tenant).expect("slug"),
            Username::parse(username).expect("username"),
            role,
            password.clone(),
        )
        .await
        .expect("user added");
        self.sign_in(tenant, username, &password).await
    }
}

/// The password [`TestApp::create_tenant`] gives a tenant's administrator. It does not
/// contain the tenant's name (the password policy refuses that).
pub fn tenant_admin_password(slug: &str) -> String {
    format!("pw-{}-correct-horse", name_tag(slug))
}

/// The password [`TestApp::user_with_role`] gives a user. It does not contain the username.
pub fn user_password(username: &str) -> String {
    format!("pw-{}-battery-staple", name_tag(username))
}

/// A number derived from a name (FNV-1a), so each name gets its own password.
fn name_tag(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(pg) = self.pg.take() {
            pg.drop_databases();
        }
    }
}

/// Drops the test's catalog and tenant databases (all named `<prefix>…`).
struct PgCleanup {
    server: String,
    prefix: String,
}

impl PgCleanup {
    fn drop_databases(self) {
        // Drop runs inside the test's runtime; do the async work on a thread of its own.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                skjold_store::install_drivers();
                let admin = sqlx::AnyPool::connect(&url_with_db(&self.server, "postgres"))
                    .await
                    .ok()?;
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
                )
                .bind(format!("{}%", self.prefix))
                .fetch_all(&admin)
                .await
                .ok()?;
                for name in names {
                    let _ =
                        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&admin)
                            .await;
                }
                admin.close().await;
                Some(())
            })
        });
        let _ = handle.join();
    }
}
