//! `skjold serve`: the server (HTTPS, plus the plain-HTTP redirect), and what it prints on
//! standard output when it starts.

use clap::Args;
use skjold_domain::{SharedClock, SystemClock};
use skjold_server::{Application, Config};
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// HTTPS address. Also SKJOLD_LISTEN; default 127.0.0.1:8443.
    #[arg(long, value_name = "ADDR")]
    pub(super) listen: Option<String>,
    /// Plain-HTTP address that only redirects to HTTPS, or `off`.
    /// Also SKJOLD_REDIRECT_LISTEN; default 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub(super) redirect_listen: Option<String>,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SKJOLD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to standard error, coloured only on a terminal; standard output carries only
    // what the operator asked for (and the demo credentials, once).
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

pub(super) async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for SIGINT/SIGTERM from the very start, so a stop that arrives while the
    // server is still starting is graceful too.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        skjold_server::shutdown_signal().await;
        let _ = stop_tx.send(());
    });
    tokio::task::yield_now().await;
    init_logging();
    if cfg!(feature = "bench-noop-audit") {
        tracing::error!("THIS BUILD RECORDS NO AUDIT TRAIL: it is for benchmarks only");
    }
    tracing::info!(config = ?config, "starting skjold {}", env!("CARGO_PKG_VERSION"));
    let clock: SharedClock = Arc::new(SystemClock);
    let mut app = Application::build(config, clock).await?;
    let base = app.base_url();
    tracing::info!(https = %app.https_addr(), redirect = ?app.redirect_addr(), metrics = ?app.metrics_addr(), "listening");
    // Standard output may be a pipe its reader has already closed (a supervisor that read
    // what it wanted): a failed write there must never stop the server, so errors are
    // logged (without the password) instead of panicking as `println!` would.
    let printed = match app.take_demo_credentials() {
        Some(demo) => print_demo_credentials(&mut std::io::stdout().lock(), &base, &demo),
        None => writeln!(
            std::io::stdout().lock(),
            "Skjold is serving {base}/<tenant>/"
        ),
    };
    let printed = printed.and_then(|()| match app.backup_key_notice() {
        Some(notice) => print_backup_key_notice(&mut std::io::stdout().lock(), notice),
        None => Ok(()),
    });
    if let Err(e) = printed {
        tracing::warn!(error = %e, "could not write the start-up message to standard output");
    }
    app.run(async move {
        let _ = stop_rx.await;
    })
    .await
}

/// The demo tenant's one-time credentials, on standard output on purpose (never the log).
fn print_demo_credentials(
    out: &mut impl std::io::Write,
    base: &str,
    demo: &skjold_server::DemoCredentials,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "  Skjold created the demo tenant. Sign in at {base}/{}/",
        demo.tenant
    )?;
    writeln!(out, "    username: {}", demo.username)?;
    writeln!(
        out,
        "    password: {}   (one-time: shown only now)",
        demo.password
    )?;
    writeln!(
        out,
        "  API: curl -k -X POST {base}/{}/api/v1/session -H 'content-type: application/json' \\",
        demo.tenant
    )?;
    writeln!(
        out,
        "         -d '{{\"username\":\"{}\",\"password\":\"<password>\"}}'",
        demo.username
    )?;
    writeln!(out)?;
    out.flush()
}

/// Backups run on the key Skjold generated: said at every start until the operator names
/// keys of their own. The path and the public key only, never the private key.
fn print_backup_key_notice(
    out: &mut impl std::io::Write,
    notice: &skjold_server::BackupKeyNotice,
) -> std::io::Result<()> {
    writeln!(out)?;
    if notice.created {
        writeln!(
            out,
            "  BACKUPS ARE ON. Skjold generated their key: {}",
            notice.path.display()
        )?;
    } else {
        writeln!(
            out,
            "  BACKUPS ARE ON, encrypted to the key Skjold generated: {}",
            notice.path.display()
        )?;
    }
    writeln!(
        out,
        "  That key is only on this server, beside the data: if the server is lost, so are the backups."
    )?;
    writeln!(
        out,
        "    1. Copy {} off the server now (a password manager, an offline safe).",
        notice.path.display()
    )?;
    writeln!(
        out,
        "    2. Add a second recipient: age-keygen -o mine.txt on another machine, then in skjold.toml"
    )?;
    writeln!(
        out,
        "       [backup] recipients = [\"{}\", \"<your age1… key>\"]",
        notice.public_key
    )?;
    writeln!(
        out,
        "                identity_file = \"{}\"   (keeps the nightly restore drills)",
        notice.path.display()
    )?;
    writeln!(
        out,
        "  `skjold doctor` repeats this until it is done (docs/operations.md)."
    )?;
    writeln!(out)?;
    out.flush()
}
