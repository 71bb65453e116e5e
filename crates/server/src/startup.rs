//! Building and running the server: bind the listeners, open the catalog, create the demo
//! tenant on a first start, serve HTTPS and the redirect until told to stop.

use crate::extract::BodyLimit;
use crate::redirect::{self, RedirectTarget};
use crate::{api, middleware, tls, ApiError, AppState, Config};
use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use skjold_domain::{SharedClock, TenantSlug};
use skjold_store::{Catalog, TenantRouter};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// The demo tenant's first administrator, made on a first start. Shown once; never logged.
pub struct DemoCredentials {
    pub tenant: String,
    pub username: String,
    pub password: String,
}

/// Why a server cannot have its data directory to itself.
#[derive(Debug, thiserror::Error)]
pub enum DataDirLockError {
    #[error("data_dir {dir} is in use by another skjold serve (process {pid}); run one server per data directory", dir = .dir.display(), pid = .holder.as_deref().unwrap_or("unknown"))]
    InUse {
        dir: std::path::PathBuf,
        holder: Option<String>,
    },
    #[error("cannot lock data_dir {dir} (lock file {file}): {source}", dir = .dir.display(), file = .file.display())]
    Io {
        dir: std::path::PathBuf,
        file: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The lock file that keeps a second server off a data directory.
pub const LOCK_FILE: &str = "skjold.lock";

/// Takes the data directory's exclusive lock for as long as the returned file lives (the
/// operating system drops it when the process ends, however it ends), and writes this
/// process's id into it for whoever finds it taken.
pub fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, DataDirLockError> {
    use fs4::fs_std::FileExt;
    use std::io::{Read, Seek, Write};
    let file_path = dir.join(LOCK_FILE);
    let io = |source| DataDirLockError::Io {
        dir: dir.to_path_buf(),
        file: file_path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file_path)
        .map_err(io)?;
    if !FileExt::try_lock_exclusive(&file).map_err(io)? {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim().to_string();
        return Err(DataDirLockError::InUse {
            dir: dir.to_path_buf(),
            holder: (!holder.is_empty()).then_some(holder),
        });
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(file)
}

pub struct Application {
    /// Held for the process's life: one server per data directory.
    _lock: std::fs::File,
    state: AppState,
    https: TcpListener,
    redirect: Option<TcpListener>,
    /// `GET /metrics` in plain HTTP (`metrics_listen`).
    metrics: Option<TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    demo: Option<DemoCredentials>,
    backup_key_notice: Option<BackupKeyNotice>,
}

/// Backups run on the key the server generated (no `backup.recipients`): what the operator
/// must be told at every start until they configure keys of their own.
#[derive(Debug, Clone)]
pub struct BackupKeyNotice {
    /// `data_dir/backup-identity.txt`.
    pub path: std::path::PathBuf,
    /// Its public key (`age1…`), to put into `backup.recipients` beside a second one.
    pub public_key: String,
    /// Made at this start.
    pub created: bool,
}

impl Application {
    pub async fn build(mut config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        skjold_store::create_private_dir(&config.data_dir)
            .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
        let lock = lock_data_dir(&config.data_dir)?;
        // Backups on from the first start: with no backup.recipients, the server's own key
        // (made now if this is the first start, under the lock: one server makes it).
        config
            .backup
            .adopt_generated_key(clock.now())
            .context("the generated backup key")?;
        let backup_key_notice = match &config.backup.key {
            skjold_backup::BackupKey::Generated { path, created } => Some(BackupKeyNotice {
                path: path.clone(),
                public_key: config.backup.recipients[0].to_string(),
                created: *created,
            }),
            _ => None,
        };
        let (cert, key) = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => tls::ensure_self_signed(&config.data_dir, clock.now())?,
        };
        let tls = tls::server_config(&cert, &key)?;

        let https = TcpListener::bind(config.listen)
            .with_context(|| format!("listening on {} (listen)", config.listen))?;
        https.set_nonblocking(true)?;
        let redirect = match config.redirect_listen {
            Some(addr) => {
                let l = TcpListener::bind(addr)
                    .with_context(|| format!("listening on {addr} (redirect_listen)"))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        // Taken at start like the others: a port already in use fails the start with the
        // setting's name, rather than a server that runs without the metrics it was given.
        let metrics = match config.metrics_listen {
            Some(addr) => {
                let l = TcpListener::bind(addr).with_context(|| {
                    format!(
                        "listening on {addr} (metrics_listen; set it to another port, or 'off')"
                    )
                })?;
                l.set_nonblocking(true)?;
                if !addr.ip().is_loopback() {
                    tracing::warn!(
                        %addr,
                        "THE METRICS ARE UNAUTHENTICATED: metrics_listen is not a loopback address, so anyone who reaches it reads the server's metrics; let a firewall admit only the Prometheus server (docs/operations.md)"
                    );
                }
                Some(l)
            }
            None => None,
        };

        // Made at the first start; tenants' identity providers' secrets are sealed with it.
        let secrets = skjold_app::sealed::SecretsKey::load_or_create(&config.data_dir)
            .context("the secrets key")?;
        let backend = config.backend()?;
        let catalog = Catalog::open(backend, clock.clone())
            .await
            .context("opening the catalog database")?;
        let tenants = Arc::new(TenantRouter::new(catalog, config.max_open_tenants));
        let audit = skjold_audit::AuditTrail::start(
            tenants.clone(),
            skjold_audit::logs_root(&config.data_dir),
        );

        // Inflate the common-password list off the request path.
        tokio::task::spawn_blocking(skjold_app::credentials::preload_common_passwords);
        let demo = if tenants.catalog().is_empty().await? {
            let slug = TenantSlug::parse("demo").map_err(|e| anyhow::anyhow!(e))?;
            let (_, user, password) = crate::provision::create_tenant_with_admin(
                &tenants, &audit, slug, "Demo", "admin", None,
            )
            .await?;
            password.map(|password| DemoCredentials {
                tenant: "demo".into(),
                username: user.username,
                password,
            })
        } else {
            None
        };

        if config.audit_unauthenticated_per_minute > crate::config::AUDIT_GUARD_OFF_ABOVE {
            tracing::warn!(
                per_minute = config.audit_unauthenticated_per_minute,
                "THE AUDIT FLOOD GUARD IS AS GOOD AS OFF: audit_unauthenticated_per_minute lets anyone fill the audit disk with unauthenticated requests (docs/operator-guide.md)"
            );
        }
        let backups = if !config.backup.is_on() {
            tracing::warn!(
                "BACKUPS ARE OFF: backup.recipients names no age public key and backup.generate_key is false, so nothing is backed up (docs/backup.md)"
            );
            None
        } else {
            if let Some(notice) = &backup_key_notice {
                // The path and the public key only: the private key is never logged.
                tracing::warn!(
                    identity_file = %notice.path.display(),
                    public_key = %notice.public_key,
                    created = notice.created,
                    "THE BACKUP KEY IS ONLY ON THIS SERVER: backups are encrypted to the key Skjold generated; copy it off the server and add a second recipient (docs/operations.md, skjold doctor)"
                );
            }
            if config.backup.identity_file.is_none() {
                tracing::warn!(
                    "backup.identity_file is not set: restore drills are skipped and restores cannot be started from the API or web UI (docs/backup.md)"
                );
            }
            // A restore or job that was running when the last process ended never finishes.
            let interrupted = tenants.catalog().fail_interrupted_runs().await?;
            if interrupted > 0 {
                tracing::warn!(
                    interrupted,
                    "backup runs interrupted by the last shutdown are marked failed"
                );
            }
            Some(Arc::new(skjold_backup::Backups::new(
                config.backup.clone(),
                tenants.clone(),
                clock.clone(),
                &config.data_dir,
            )?))
        };

        Ok(Self {
            _lock: lock,
            state: AppState {
                relying_party: Arc::new(crate::passkeys::RelyingParty::new(
                    config.public_url.as_ref(),
                    https
                        .local_addr()
                        .map(|a| a.port())
                        .unwrap_or(config.listen.port()),
                )),
                backups,
                tenants,
                notices: Default::default(),
                status_view: Default::default(),
                clock: clock.clone(),
                audit,
                trusted_proxies: Arc::new(config.trusted_proxies.clone()),
                audit_guard: Arc::new(crate::audit_guard::AuditGuard::new(
                    config.audit_guard_limits(),
                    clock.clone(),
                    skjold_audit::logs_root(&config.data_dir),
                )),
                ip_guard: Arc::new(crate::ipguard::IpGuard::new(crate::ipguard::IpLimits {
                    throttle_after: config.signin_ip_throttle_after,
                    ban_after: config.signin_ip_ban_after,
                    ban_minutes: config.signin_ip_ban_minutes,
                })),
                metrics: Arc::new(crate::metrics::Metrics::new()),
                secrets: Arc::new(secrets),
                sso: Arc::new(crate::sso::Sso::new(config.sso.clone(), clock.clone())),
                config: Arc::new(config),
            },
            https,
            redirect,
            metrics,
            tls,
            demo,
            backup_key_notice,
        })
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.https.local_addr().unwrap_or(self.state.config.listen)
    }

    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where `GET /metrics` is served; `None` when `metrics_listen` is off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The demo administrator's one-time credentials, if this start created them.
    pub fn take_demo_credentials(&mut self) -> Option<DemoCredentials> {
        self.demo.take()
    }

    /// Set when the backups run on the key the server generated.
    pub fn backup_key_notice(&self) -> Option<&BackupKeyNotice> {
        self.backup_key_notice.as_ref()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The public URL of the HTTPS listener.
    pub fn base_url(&self) -> String {
        match &self.state.config.public_url {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => format!("https://{}", self.https_addr()),
        }
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish (up to 10 s).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let https_port = self.https_addr().port();
        let app = app_router(self.state.clone());
        let handle = axum_server::Handle::new();
        let https = axum_server::from_tcp_rustls(
            self.https,
            axum_server::tls_rustls::RustlsConfig::from_config(self.tls),
        )
        .handle(handle.clone())
        .serve(app.into_make_service_with_connect_info::<SocketAddr>());

        let redirect_task = self.redirect.map(|listener| {
            let target = RedirectTarget {
                public_origin: self
                    .state
                    .config
                    .public_url
                    .as_ref()
                    .map(|u| u.origin().ascii_serialization()),
                https_port,
            };
            let server = axum_server::from_tcp(listener)
                .handle(handle.clone())
                .serve(
                    redirect::router(target, self.state.clone())
                        .into_make_service_with_connect_info::<SocketAddr>(),
                );
            tokio::spawn(server)
        });

        let metrics_task = self.metrics.map(|listener| {
            let server = axum_server::from_tcp(listener)
                .handle(handle.clone())
                .serve(crate::metrics::listener::router(self.state.clone()).into_make_service());
            tokio::spawn(server)
        });

        let jobs = crate::jobs::Scheduler::for_state(&self.state).spawn(self.state.clone());
        let summaries = crate::audit::spawn_summary_writer(self.state.clone());
        let shipping = self.state.backups.clone().map(|b| b.spawn_shipping());
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            stopper.graceful_shutdown(Some(Duration::from_secs(10)));
        });

        https.await.context("serving HTTPS")?;
        jobs.abort();
        summaries.abort();
        // The summaries of refused requests whose minute is still open go in now.
        crate::audit::write_summaries(&self.state, true).await;
        if let Some(s) = shipping {
            s.abort();
        }
        // Let the audit trail finish its database copies before the pools close.
        let _ = self.state.audit.flush().await;
        if let Some(task) = redirect_task {
            let _ = task.await;
        }
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        self.state.tenants.close_all().await;
        self.state.tenants.catalog().close().await;
        Ok(())
    }
}

/// The whole HTTPS application: API, OpenAPI document, fallbacks and the layers every
/// response passes through.
pub fn app_router(state: AppState) -> Router {
    let (api, openapi) = api::split();
    let openapi_json: Arc<Vec<u8>> = Arc::new(serde_json::to_vec(&openapi).unwrap_or_default());
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(api)
        .merge(crate::ui::router())
        .merge(crate::status_page::router())
        .merge(crate::ops_api::router())
        .route(
            "/api/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        body.as_ref().clone(),
                    )
                        .into_response()
                }
            }),
        )
        .fallback(|| async { ApiError::NotFound("no such resource") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        .layer(Extension(BodyLimit(limit)))
        // The access record sees every response, including its own 503; the security
        // headers go on every response, including that one.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::access_layer,
        ))
        // Outside the access layer, so that its own refusals (429, 503) are drained too.
        .layer(axum::middleware::from_fn(middleware::drain_refused_body))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn(middleware::request_id))
        // Outermost: every request is counted and timed, whichever layer answered it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::http::layer,
        ))
        .with_state(state)
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
