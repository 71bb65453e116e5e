//! The Skjold HTTP server: TLS, security headers, the tenant router, the REST API.

mod acting;
pub mod api;
pub mod audit;
pub mod audit_export;
pub mod audit_guard;
pub mod audit_search;
pub mod capacity;
pub mod config;
mod error;
pub mod export;
mod extract;
pub mod factors;
mod fresh;
pub mod invites;
pub mod ipguard;
pub mod jobs;
pub mod metrics;
mod middleware;
pub mod notice_board;
pub mod notify;
pub mod ops_api;
pub mod passkey_flows;
pub mod passkeys;
pub mod provision;
pub mod records_export;
mod redirect;
pub mod restore_jobs;
pub mod scopes;
pub mod sessions;
pub mod signin;
pub mod sso;
mod startup;
mod state;
pub mod status_page;
pub mod status_probes;
pub mod step_up;
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod two_factor;
pub mod ui;

/// The parsers of untrusted input that live in this crate, in one place for the fuzz targets
/// in `fuzz/` (see docs/security-testing.md). Each is the function the request path calls.
pub mod parsers {
    pub use crate::api::audit::AuditParams;
    pub use crate::api::{DeleteParams, ListParams};
    pub use crate::extract::parse_query;
    pub use crate::ui::auth::{cookie, safe_next, session_token, FormData};
}

pub use config::{Config, ConfigOverrides};
pub use error::ApiError;
/// The application layer's rules, where handlers of this crate name them.
pub use skjold_app::{access, password};
pub use startup::{app_router, shutdown_signal, Application, BackupKeyNotice, DemoCredentials};
pub use state::AppState;

/// The adapters stay apart: the web UI and the JSON API share code only through the modules
/// beside them (and the application layer), never one through the other, so neither can
/// hold a copy of a rule that the other lacks. The command line reaches none of either.
#[cfg(test)]
mod layering {
    use std::path::Path;

    /// Every `.rs` file under `dir` that mentions `needle` outside a comment.
    fn offenders(dir: &Path, needle: &str) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                out.extend(offenders(&path, needle));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source file");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains(needle) {
                    out.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        out
    }

    #[test]
    fn the_ui_the_api_and_the_cli_do_not_reach_into_each_other() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skjold/src");
        let mut found = offenders(&src.join("ui"), "crate::api");
        found.extend(offenders(&src.join("api"), "crate::ui"));
        found.extend(offenders(&cli, "skjold_server::api"));
        found.extend(offenders(&cli, "skjold_server::ui"));
        assert!(
            found.is_empty(),
            "adapters reaching into each other:\n{}",
            found.join("\n")
        );
    }
}
