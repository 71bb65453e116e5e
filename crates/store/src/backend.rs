//! Which database server holds the catalog and the tenants, parsed from `database_url`.

use crate::StoreError;
use skjold_domain::TenantSlug;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    /// Appends `(…),(…)…` to a multi-row `INSERT`: `rows` rows of `width` values each, with
    /// this backend's placeholders, numbered in row order. SQLite gets anonymous `?`: for
    /// every value bound, sqlx's SQLite driver asks `sqlite3_bind_parameter_name`, which
    /// walks the statement's list of *named* parameters (`$1`, `$2`, …), so with those a
    /// statement of many rows costs the square of its size to bind (14 % of the audit
    /// copy's time at 16 rows, profiled); `?` is not in that list. PostgreSQL's are numbered
    /// (`$n`) and bound by position anyway.
    /// The backend a connection talks to (sqlx's `Any` names its driver).
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            BackendKind::Sqlite
        } else {
            BackendKind::Postgres
        }
    }

    pub(crate) fn push_value_rows(self, sql: &mut String, rows: usize, width: usize) {
        use std::fmt::Write;
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ",(" });
            for c in 0..width {
                if c > 0 {
                    sql.push(',');
                }
                match self {
                    BackendKind::Sqlite => sql.push('?'),
                    BackendKind::Postgres => {
                        let _ = write!(sql, "${}", r * width + c + 1);
                    }
                }
            }
            sql.push(')');
        }
    }
}

#[derive(Clone)]
pub enum Backend {
    /// `catalog.db` and `tenants/<slug>/crm.db` under the data dir.
    Sqlite { data_dir: PathBuf },
    /// Catalog database `<catalog>` and one database `<catalog>_t_<slug>` per tenant, all on
    /// the server of `server`.
    Postgres { server: Url, catalog: String },
}

impl std::fmt::Debug for Backend {
    // Never print the URL: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite { data_dir } => write!(f, "Sqlite({})", data_dir.display()),
            Backend::Postgres { server, catalog } => write!(
                f,
                "Postgres({}:{}/{catalog})",
                server.host_str().unwrap_or("?"),
                server.port().unwrap_or(5432)
            ),
        }
    }
}

impl Backend {
    /// `None` is the embedded default; `postgres://…/<catalog>` is the scale-out backend.
    pub fn from_config(data_dir: &Path, database_url: Option<&str>) -> Result<Self, StoreError> {
        let Some(raw) = database_url.filter(|u| !u.trim().is_empty()) else {
            return Ok(Backend::Sqlite {
                data_dir: data_dir.to_path_buf(),
            });
        };
        let url = Url::parse(raw.trim())
            .map_err(|e| StoreError::Config(format!("database_url is not a URL: {e}")))?;
        match url.scheme() {
            "postgres" | "postgresql" => {}
            "sqlite" => {
                return Err(StoreError::Config(
                    "database_url: leave it unset for the embedded SQLite default; it keeps its files in data_dir".into(),
                ))
            }
            other => {
                return Err(StoreError::Config(format!(
                    "database_url: unsupported scheme '{other}'; use postgres://"
                )))
            }
        }
        let catalog = url.path().trim_start_matches('/').to_string();
        let catalog = if catalog.is_empty() {
            "skjold".to_string()
        } else {
            catalog
        };
        if catalog.len() > 24
            || !catalog
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || !catalog.starts_with(|c: char| c.is_ascii_lowercase())
        {
            return Err(StoreError::Config(
                "database_url: the database name must be 1-24 characters of a-z, 0-9 and _, starting with a letter".into(),
            ));
        }
        Ok(Backend::Postgres {
            server: url,
            catalog,
        })
    }

    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres { .. } => BackendKind::Postgres,
        }
    }

    /// Where the tenant's data lives, as recorded in the catalog.
    pub fn tenant_location(&self, slug: &TenantSlug) -> String {
        match self {
            Backend::Sqlite { .. } => format!("sqlite:tenants/{slug}/crm.db"),
            Backend::Postgres { catalog, .. } => {
                format!("postgres:{}", tenant_database(catalog, slug))
            }
        }
    }

    fn pg_url(server: &Url, database: &str) -> String {
        let mut url = server.clone();
        url.set_path(&format!("/{database}"));
        url.to_string()
    }

    pub(crate) async fn connect_catalog(&self) -> Result<AnyPool, StoreError> {
        match self {
            Backend::Sqlite { data_dir } => {
                create_private_dir(data_dir).map_err(|error| StoreError::IoAt {
                    path: data_dir.clone(),
                    error,
                })?;
                connect_sqlite(&data_dir.join("catalog.db"), 4).await
            }
            Backend::Postgres { server, catalog } => {
                ensure_pg_database(server, catalog).await?;
                connect_pg(&Self::pg_url(server, catalog), 8).await
            }
        }
    }

    /// Creates the tenant's empty database. Refuses if one is already there, so a new tenant
    /// never inherits somebody else's leftovers.
    pub(crate) async fn create_tenant_database(&self, slug: &TenantSlug) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite { data_dir } => {
                let dir = sqlite_tenant_dir(data_dir, slug);
                if dir.join(TENANT_FILE).exists() {
                    return Err(StoreError::Conflict(format!(
                        "a database for '{slug}' already exists at {}; remove it or choose another slug",
                        dir.display()
                    )));
                }
                create_private_dir(&data_dir.join("tenants"))?;
                create_private_dir(&dir)?;
                Ok(())
            }
            Backend::Postgres { server, catalog } => {
                let name = tenant_database(catalog, slug);
                let admin = connect_pg(&Self::pg_url(server, "postgres"), 1).await?;
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_optional(&admin)
                        .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "database {name} already exists on the server; drop it or choose another slug"
                    )));
                }
                // The name is built from a validated slug and catalog name only.
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok(())
            }
        }
    }

    /// Removes a tenant database that is not (or no longer) listed in the catalog; the
    /// catalog checks that before calling.
    pub(crate) async fn drop_tenant_database(&self, slug: &TenantSlug) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite { data_dir } => {
                let dir = sqlite_tenant_dir(data_dir, slug);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Backend::Postgres { server, catalog } => {
                let name = tenant_database(catalog, slug);
                let admin = connect_pg(&Self::pg_url(server, "postgres"), 1).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok(())
            }
        }
    }

    pub(crate) async fn connect_tenant(&self, slug: &TenantSlug) -> Result<AnyPool, StoreError> {
        match self {
            Backend::Sqlite { data_dir } => {
                connect_sqlite(&sqlite_tenant_file(data_dir, slug), 4).await
            }
            Backend::Postgres { server, catalog } => {
                connect_pg(&Self::pg_url(server, &tenant_database(catalog, slug)), 5).await
            }
        }
    }

    /// The pool the audit trail's copier inserts a tenant's records through, if it is not
    /// the tenant's own: on SQLite one connection of its own, opened when first used (most
    /// tenants opened never have their trail copied while open). On PostgreSQL the copier
    /// shares the tenant's pool: a server connection more per open tenant would cost more
    /// than the copier's occasional turn does.
    pub(crate) fn connect_tenant_audit_writer(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<AnyPool>, StoreError> {
        match self {
            Backend::Sqlite { data_dir } => Ok(Some(
                sqlite_pool_options(1, SYNCED)
                    .connect_lazy(&sqlite_url(&sqlite_tenant_file(data_dir, slug)))?,
            )),
            Backend::Postgres { .. } => Ok(None),
        }
    }
}

impl Backend {
    /// A scratch database for building a restore before anything is replaced: a file under
    /// `data_dir/backups/scratch/<id>/` or a database `<catalog>_scratch_<id>`, neither of
    /// which any tenant slug can name.
    pub(crate) async fn create_scratch(&self, id: &str) -> Result<AnyPool, StoreError> {
        check_scratch_id(id)?;
        match self {
            Backend::Sqlite { data_dir } => {
                let dir = scratch_dir(data_dir, id);
                if dir.exists() {
                    return Err(StoreError::Conflict(format!(
                        "scratch directory {} already exists",
                        dir.display()
                    )));
                }
                create_private_dir(&dir)?;
                connect_sqlite(&dir.join("crm.db"), 2).await
            }
            Backend::Postgres { server, catalog } => {
                let name = format!("{catalog}_scratch_{id}");
                let admin = connect_pg(&Self::pg_url(server, "postgres"), 1).await?;
                sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                connect_pg(&Self::pg_url(server, &name), 2).await
            }
        }
    }

    /// Removes a scratch database made by [`Self::create_scratch`].
    pub(crate) async fn drop_scratch(&self, id: &str) -> Result<(), StoreError> {
        check_scratch_id(id)?;
        match self {
            Backend::Sqlite { data_dir } => {
                let dir = scratch_dir(data_dir, id);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Backend::Postgres { server, catalog } => {
                let name = format!("{catalog}_scratch_{id}");
                let admin = connect_pg(&Self::pg_url(server, "postgres"), 1).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                Ok(())
            }
        }
    }
}

pub(crate) fn scratch_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("backups").join("scratch").join(id)
}

/// Scratch ids go into paths and database names: lowercase hex only.
fn check_scratch_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(StoreError::Config(format!("bad scratch id '{id}'")));
    }
    Ok(())
}

/// Creates a directory readable only by the service's own account: tenant databases are
/// nobody else's business on a shared machine.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A tenant's SQLite database file within its directory.
const TENANT_FILE: &str = "crm.db";

/// Where a tenant's files live in a SQLite installation's data dir.
fn sqlite_tenant_dir(data_dir: &Path, slug: &TenantSlug) -> PathBuf {
    data_dir.join("tenants").join(slug.as_str())
}

/// A tenant's SQLite database file.
pub(crate) fn sqlite_tenant_file(data_dir: &Path, slug: &TenantSlug) -> PathBuf {
    sqlite_tenant_dir(data_dir, slug).join(TENANT_FILE)
}

pub(crate) fn tenant_database(catalog: &str, slug: &TenantSlug) -> String {
    format!("{catalog}_t_{}", slug.db_ident())
}

/// WAL lets the CLI and readers work while the server writes; FULL makes every commit
/// durable.
const SYNCED: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

fn sqlite_url(path: &Path) -> String {
    sqlite_url_mode(path, "rwc")
}

/// A `sqlite://` URL for a file. sqlx cuts the path at the first `?` and percent-decodes
/// it, so `%`, `?` and `#` in a directory name are escaped (a data dir named `100%20`
/// otherwise opened `100 `).
fn sqlite_url_mode(path: &Path, mode: &str) -> String {
    let mut escaped = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            c => escaped.push(c),
        }
    }
    format!("sqlite://{escaped}?mode={mode}")
}

pub(crate) async fn connect_sqlite(path: &Path, max: u32) -> Result<AnyPool, StoreError> {
    sqlite_pool(&sqlite_url(path), max, SYNCED).await
}

/// A pool on a SQLite file that is a copy in the making or being checked (a snapshot's
/// copy, a restored file): it leaves the file's journal mode alone and does not fsync, for
/// nothing is lost if the machine stops — the work is started again, and a file that is
/// kept is synced once, when it is complete. On a live tenant's file only `read_only`: a
/// read-only connection never checkpoints, so its lack of fsyncs cannot touch the
/// tenant's committed data.
pub(crate) async fn connect_sqlite_unsynced(
    path: &Path,
    max: u32,
    read_only: bool,
) -> Result<AnyPool, StoreError> {
    let mode = if read_only { "ro" } else { "rw" };
    sqlite_pool(
        &sqlite_url_mode(path, mode),
        max,
        "PRAGMA synchronous = OFF;",
    )
    .await
}

/// A SQLite pool whose connections run `durability` (journal mode, synchronous) and then
/// what every connection needs: foreign keys (off by default in SQLite) and a busy timeout.
async fn sqlite_pool(url: &str, max: u32, durability: &'static str) -> Result<AnyPool, StoreError> {
    // One plain connection first, reading the file's header: a file that is not a database
    // (or cannot be opened) fails here at once with SQLite's reason, where the pool would
    // retry it until its acquire timeout and then say only "pool timed out".
    {
        use sqlx::{Connection, Executor};
        let mut probe = sqlx::AnyConnection::connect(url).await?;
        probe.execute("PRAGMA schema_version").await?;
        probe.close().await?;
    }
    Ok(sqlite_pool_options(max, durability).connect(url).await?)
}

fn sqlite_pool_options(max: u32, durability: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(60))
        // sqlx pings a connection before every acquire by default; a SQLite connection is a
        // file opened by this process and cannot drop like a network link, so the ping is
        // only a round trip to the connection's thread (two per request, profiled). A real
        // I/O error still fails the query that meets it.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute(durability).await?;
                conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                    .await?;
                Ok(())
            })
        })
}

async fn connect_pg(url: &str, max: u32) -> Result<AnyPool, StoreError> {
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .idle_timeout(Duration::from_secs(60))
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?)
}

async fn ensure_pg_database(server: &Url, name: &str) -> Result<(), StoreError> {
    let admin = connect_pg(&Backend::pg_url(server, "postgres"), 1).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await?;
    if exists.is_none() {
        if let Err(e) = sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&admin)
            .await
        {
            // Another process may have created it between the check and the create.
            let raced =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P04"));
            if !raced {
                return Err(e.into());
            }
        }
    }
    admin.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        let dir = Path::new("/tmp/x");
        assert_eq!(
            Backend::from_config(dir, None).unwrap().kind(),
            BackendKind::Sqlite
        );
        let pg = Backend::from_config(dir, Some("postgres://u:secret@db:5432/skjold")).unwrap();
        assert_eq!(pg.kind(), BackendKind::Postgres);
        assert!(!format!("{pg:?}").contains("secret"));
        let slug = TenantSlug::parse("acme-2").unwrap();
        assert_eq!(pg.tenant_location(&slug), "postgres:skjold_t_acme_2");
        assert!(Backend::from_config(dir, Some("mysql://x/y")).is_err());
        assert!(Backend::from_config(dir, Some("postgres://x/Bad-Name")).is_err());
        assert!(Backend::from_config(dir, Some("not a url")).is_err());
    }
}
