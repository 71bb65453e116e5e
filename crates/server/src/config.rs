//! Configuration: built-in defaults, overlaid by `skjold.toml`, then `SKJOLD_*` environment
//! variables, then command-line flags. Checked once at start-up; nonsense is refused with a
//! message that names the setting.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Keys read from the environment as `SKJOLD_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "redirect_listen",
    "metrics_listen",
    "tls_cert",
    "tls_key",
    "database_url",
    "database_url_file",
    "public_url",
    "max_body_bytes",
    "session_idle_minutes",
    "session_absolute_hours",
    "max_open_tenants",
    "trusted_proxies",
    "audit_retention_days",
    "signin_ip_throttle_after",
    "signin_ip_ban_after",
    "signin_ip_ban_minutes",
    "audit_unauthenticated_per_minute",
    "audit_unauthenticated_burst",
    "audit_min_free_mb",
    "audit_min_free_percent",
];

/// The settings as written in the file or the environment, before checking.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: PathBuf,
    listen: String,
    redirect_listen: String,
    metrics_listen: String,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    database_url: Option<String>,
    database_url_file: Option<PathBuf>,
    public_url: Option<String>,
    max_body_bytes: usize,
    session_idle_minutes: i64,
    session_absolute_hours: i64,
    max_open_tenants: usize,
    trusted_proxies: Vec<String>,
    audit_retention_days: i64,
    signin_ip_throttle_after: u32,
    signin_ip_ban_after: u32,
    signin_ip_ban_minutes: u32,
    audit_unauthenticated_per_minute: u32,
    audit_unauthenticated_burst: u32,
    audit_min_free_mb: u64,
    audit_min_free_percent: u8,
    /// The `[backup]` table (see skjold_backup::BackupSettings).
    backup: skjold_backup::BackupSettings,
    /// The `[smtp]` table: the relay e-mail goes through.
    smtp: crate::notify::SmtpSettings,
    /// The `[webhooks]` table: where webhooks may go.
    webhooks: crate::notify::WebhookSettings,
    /// The `[sso]` table: where single sign-on's presets live.
    sso: SsoSettings,
}

/// `[sso]` in `skjold.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoSettings {
    /// Entra ID's authority; a national cloud's (e.g. `https://login.microsoftonline.us`).
    pub entra_authority: String,
    /// Google's issuer.
    pub google_issuer: String,
    /// Let tenants' generic providers (and the presets above) be plain http or on private
    /// addresses. Off: a tenant's administrator must not make the server call into the
    /// operator's own network.
    pub allow_private_issuers: bool,
}

impl Default for SsoSettings {
    fn default() -> Self {
        let p = skjold_app::identity_providers::Presets::default();
        Self {
            entra_authority: p.entra_authority,
            google_issuer: p.google_issuer,
            allow_private_issuers: p.allow_private_issuers,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./skjold-data"),
            listen: "127.0.0.1:8443".into(),
            redirect_listen: "127.0.0.1:8080".into(),
            // Loopback: the metrics are unauthenticated (a Prometheus on this machine, or a
            // tunnel, reads them).
            metrics_listen: "127.0.0.1:9464".into(),
            tls_cert: None,
            tls_key: None,
            database_url: None,
            database_url_file: None,
            public_url: None,
            max_body_bytes: 1024 * 1024,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            max_open_tenants: 256,
            trusted_proxies: Vec::new(),
            audit_retention_days: 400,
            signin_ip_throttle_after: 10,
            signin_ip_ban_after: 50,
            signin_ip_ban_minutes: 15,
            // An office behind one address opening the sign-in page at nine: about three
            // anonymous requests per person (the page, the form, a refused retry), so a
            // burst of 150 lets some fifty people in at once. A flood from one address
            // still leaves at most ~0.5 MB of records a minute; the low-disk guard bounds
            // the rest.
            audit_unauthenticated_per_minute: 300,
            audit_unauthenticated_burst: 150,
            audit_min_free_mb: 1024,
            audit_min_free_percent: 2,
            backup: skjold_backup::BackupSettings::default(),
            smtp: Default::default(),
            webhooks: Default::default(),
            sso: Default::default(),
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ConfigOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_listen: Option<String>,
}

/// The checked configuration.
/// An `audit_unauthenticated_per_minute` above this leaves the audit trail open to
/// flooding: allowed (a benchmark of `/healthz` needs it), and warned about at start.
pub const AUDIT_GUARD_OFF_ABOVE: u32 = 100_000;

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `None` when set to `off`.
    pub redirect_listen: Option<SocketAddr>,
    /// The plain-HTTP listener of `GET /metrics` (Prometheus); `None` when set to `off`.
    /// Unauthenticated: loopback by default, warned about at start otherwise.
    pub metrics_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub database_url: Option<SecretString>,
    pub public_url: Option<url::Url>,
    pub max_body_bytes: usize,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub max_open_tenants: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Closed days of audit records older than this leave the trail (behind an anchor).
    pub audit_retention_days: i64,
    /// Failed sign-ins from one address (IPv6: one /64) within 15 minutes after which its
    /// further attempts are slowed down.
    pub signin_ip_throttle_after: u32,
    /// … after which the address is banned from signing in for a while.
    pub signin_ip_ban_after: u32,
    /// The first ban's length; each further ban doubles it, up to a day.
    pub signin_ip_ban_minutes: u32,
    /// Access records of requests that authenticate no one, per client address (IPv6: /64)
    /// and minute; beyond it (and the burst) such requests are refused with 429 and
    /// summarised in one record per address and minute. Default 120.
    pub audit_unauthenticated_per_minute: u32,
    /// How many such requests an address may make at once before the rate applies.
    /// Default 60.
    pub audit_unauthenticated_burst: u32,
    /// Below this much free space (MiB) on the audit filesystem — or below
    /// `audit_min_free_percent` of its size, whichever is less — unauthenticated requests
    /// are refused with 503 and `system.disk_low` is recorded. Default 1024; 0 turns it off.
    pub audit_min_free_mb: u64,
    /// See `audit_min_free_mb`. Default 2; 0 turns the check off.
    pub audit_min_free_percent: u8,
    /// Backups: destinations, the operator's public keys, schedule. Off (with a loud
    /// warning) while no public key is configured.
    pub backup: skjold_backup::BackupConfig,
    /// E-mail (`[smtp]`) and webhooks (`[webhooks]`) for notifications.
    pub notify: crate::notify::NotifyConfig,
    /// Single sign-on's presets (`[sso]`).
    pub sso: skjold_app::identity_providers::Presets,
}

impl Config {
    /// The installation's address as users reach it, without a trailing slash: `public_url`,
    /// else the HTTPS listener's (for links in feeds, messages and redirect URIs).
    pub fn public_base_url(&self) -> String {
        self.public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://{}", self.listen))
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("redirect_listen", &self.redirect_listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("database_url", &self.database_url.as_ref().map(|_| "***"))
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("backup", &self.backup)
            .field("notify", &self.notify)
            .field("sso", &self.sso)
            .finish_non_exhaustive()
    }
}

/// Checks `[sso]`: the presets' addresses must be https URLs (plain http only where
/// `allow_private_issuers` says so: a test's provider on this machine).
fn check_sso(
    raw: &SsoSettings,
) -> Result<skjold_app::identity_providers::Presets, (&'static str, String)> {
    let check = |key: &'static str, value: &str| -> Result<String, (&'static str, String)> {
        let url = url::Url::parse(value.trim())
            .map_err(|e| (key, format!("'{value}' is not a URL: {e}")))?;
        let ok = url.scheme() == "https" || (url.scheme() == "http" && raw.allow_private_issuers);
        if !ok || url.query().is_some() || url.fragment().is_some() {
            return Err((
                key,
                "must be an https URL without query or fragment (http only with allow_private_issuers)".into(),
            ));
        }
        Ok(value.trim().trim_end_matches('/').to_string())
    };
    Ok(skjold_app::identity_providers::Presets {
        entra_authority: check("sso.entra_authority", &raw.entra_authority)?,
        google_issuer: check("sso.google_issuer", &raw.google_issuer)?,
        allow_private_issuers: raw.allow_private_issuers,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// A parser's message on one line: the TOML parser draws a caret diagram over several lines
/// (`  |`, `1 | listen =`, `  |  ^`), which a one-line error report leaves out.
fn one_line(message: &str) -> String {
    let is_diagram = |line: &str| {
        let t = line.trim_start();
        t.starts_with('|')
            || t.split_once(" |")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            || t.chars().all(|c| c == '^' || c.is_whitespace())
    };
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_diagram(l))
        .collect::<Vec<_>>()
        .join(" ")
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Config {
    /// The audit guard's settings.
    pub fn audit_guard_limits(&self) -> crate::audit_guard::GuardLimits {
        crate::audit_guard::GuardLimits {
            per_minute: self.audit_unauthenticated_per_minute,
            burst: self.audit_unauthenticated_burst,
            min_free_bytes: self.audit_min_free_mb.saturating_mul(1024 * 1024),
            min_free_percent: self.audit_min_free_percent,
        }
    }

    /// Loads the layers. `config_file` is the `--config` / `SKJOLD_CONFIG` path; without it,
    /// `./skjold.toml` is read when present.
    pub fn load(
        config_file: Option<&Path>,
        overrides: &ConfigOverrides,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        match config_file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile(path.to_path_buf()))
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("skjold.toml").exists() => {
                figment = figment.merge(Toml::file_exact("skjold.toml"))
            }
            None => {}
        }
        figment = figment
            .merge(Env::prefixed("SKJOLD_").only(ENV_KEYS))
            .merge(Serialized::defaults(overrides));
        let raw: RawConfig = figment.extract().map_err(|e| {
            let message = one_line(&e.to_string());
            // A syntax error names the file only by its content; say which file it is.
            let file = config_file
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("skjold.toml"));
            let name = file.display().to_string();
            if message.contains(&name) || !file.exists() {
                ConfigError::Parse(message)
            } else {
                ConfigError::Parse(format!("{name}: {message}"))
            }
        })?;
        Self::check(raw)
    }

    /// The built-in defaults overlaid by the TOML `text` alone (no environment, no flags):
    /// what [`Config::load`] makes of a configuration file with this content.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = Figment::from(Serialized::defaults(RawConfig::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        Self::check(raw)
    }

    fn check(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw.listen.trim().parse().map_err(|_| {
            invalid(
                "listen",
                format!("'{}' is not an address like 127.0.0.1:8443", raw.listen),
            )
        })?;
        let redirect_listen = match raw.redirect_listen.trim() {
            "off" | "" => None,
            other => Some(other.parse().map_err(|_| {
                invalid(
                    "redirect_listen",
                    format!("'{other}' is not an address like 127.0.0.1:8080 (or 'off')"),
                )
            })?),
        };
        if redirect_listen == Some(listen) {
            return Err(invalid("redirect_listen", "must differ from listen"));
        }
        let metrics_listen: Option<SocketAddr> = match raw.metrics_listen.trim() {
            "off" | "" => None,
            other => Some(other.parse().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("'{other}' is not an address like 127.0.0.1:9464 (or 'off')"),
                )
            })?),
        };
        // Port 0 (tests) asks for any free port, so it cannot clash.
        if let Some(m) = metrics_listen.filter(|m| m.port() != 0) {
            if m == listen || Some(m) == redirect_listen {
                return Err(invalid(
                    "metrics_listen",
                    "must differ from listen and redirect_listen",
                ));
            }
        }
        match (&raw.tls_cert, &raw.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(
                    "tls_cert",
                    "tls_cert and tls_key are set together or not at all",
                ))
            }
            (Some(c), Some(k)) => {
                for (key, p) in [("tls_cert", c), ("tls_key", k)] {
                    if !p.is_file() {
                        return Err(invalid(
                            key,
                            format!("{} is not a readable file", p.display()),
                        ));
                    }
                }
            }
            (None, None) => {}
        }
        let database_url = match (raw.database_url, raw.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "database_url",
                    "set database_url or database_url_file, not both",
                ))
            }
            (Some(u), None) => Some(u),
            (None, Some(file)) => Some(
                std::fs::read_to_string(&file)
                    .map_err(|e| invalid("database_url_file", format!("{}: {e}", file.display())))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        }
        .filter(|u| !u.is_empty())
        .map(SecretString::from);
        if let Some(url) = &database_url {
            // Parse now, so a bad URL fails at start with the reason, not at first use.
            skjold_store::Backend::from_config(&raw.data_dir, Some(url.expose_secret())).map_err(
                |e| {
                    invalid(
                        "database_url",
                        e.to_string()
                            .trim_start_matches("configuration: ")
                            .trim_start_matches("database_url: ")
                            .trim_start_matches("database_url ")
                            .to_string(),
                    )
                },
            )?;
        }
        let public_url = raw
            .public_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| {
                let parsed = url::Url::parse(u.trim())
                    .map_err(|e| invalid("public_url", format!("'{u}' is not a URL: {e}")))?;
                if parsed.scheme() != "https" {
                    return Err(invalid("public_url", "must be an https:// URL"));
                }
                Ok(parsed)
            })
            .transpose()?;
        if !(1024..=1024 * 1024 * 1024).contains(&raw.max_body_bytes) {
            return Err(invalid(
                "max_body_bytes",
                "must be between 1024 and 1073741824",
            ));
        }
        if !(1..=24 * 60).contains(&raw.session_idle_minutes) {
            return Err(invalid(
                "session_idle_minutes",
                "must be between 1 and 1440",
            ));
        }
        if !(1..=24 * 30).contains(&raw.session_absolute_hours) {
            return Err(invalid(
                "session_absolute_hours",
                "must be between 1 and 720",
            ));
        }
        if raw.max_open_tenants == 0 {
            return Err(invalid("max_open_tenants", "must be at least 1"));
        }
        if !(30..=3660).contains(&raw.audit_retention_days) {
            return Err(invalid(
                "audit_retention_days",
                "must be between 30 and 3660",
            ));
        }
        if !(3..=10_000).contains(&raw.signin_ip_throttle_after) {
            return Err(invalid(
                "signin_ip_throttle_after",
                "must be between 3 and 10000",
            ));
        }
        if raw.signin_ip_ban_after <= raw.signin_ip_throttle_after
            || raw.signin_ip_ban_after > 100_000
        {
            return Err(invalid(
                "signin_ip_ban_after",
                "must be above signin_ip_throttle_after and at most 100000",
            ));
        }
        if !(1..=1440).contains(&raw.signin_ip_ban_minutes) {
            return Err(invalid(
                "signin_ip_ban_minutes",
                "must be between 1 and 1440",
            ));
        }
        // Above AUDIT_GUARD_OFF_ABOVE the guard is as good as off (a benchmark that hammers
        // /healthz sets it so); the server then says so loudly at start.
        if !(1..=1_000_000_000).contains(&raw.audit_unauthenticated_per_minute) {
            return Err(invalid(
                "audit_unauthenticated_per_minute",
                "must be between 1 and 1000000000",
            ));
        }
        if !(1..=1_000_000_000).contains(&raw.audit_unauthenticated_burst) {
            return Err(invalid(
                "audit_unauthenticated_burst",
                "must be between 1 and 1000000000",
            ));
        }
        if raw.audit_min_free_mb > 1024 * 1024 * 1024 {
            return Err(invalid(
                "audit_min_free_mb",
                "must be at most 1073741824 (1 PiB)",
            ));
        }
        if raw.audit_min_free_percent > 50 {
            return Err(invalid(
                "audit_min_free_percent",
                "must be between 0 and 50",
            ));
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "trusted_proxies",
                            format!("'{p}' is not an address or CIDR range like 10.0.0.0/8"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Before anything that looks inside it (backup destinations under it): a data_dir
        // that is a file is named as such, with the operating system's word for it.
        if raw.data_dir.exists() && !raw.data_dir.is_dir() {
            // create_dir on an existing path fails without touching it.
            let os = std::fs::create_dir(&raw.data_dir)
                .err()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            return Err(invalid(
                "data_dir",
                format!(
                    "{} exists and is not a directory{os}",
                    raw.data_dir.display()
                ),
            ));
        }
        let backup = raw
            .backup
            .check(&raw.data_dir)
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        let notify = crate::notify::NotifyConfig::check(&raw.smtp, &raw.webhooks)
            .map_err(|(key, message)| invalid(key, message))?;
        let sso = check_sso(&raw.sso).map_err(|(key, message)| invalid(key, message))?;
        Ok(Config {
            backup,
            notify,
            sso,
            data_dir: raw.data_dir,
            listen,
            redirect_listen,
            metrics_listen,
            tls_cert: raw.tls_cert,
            tls_key: raw.tls_key,
            database_url,
            public_url,
            max_body_bytes: raw.max_body_bytes,
            session_idle_minutes: raw.session_idle_minutes,
            session_absolute_hours: raw.session_absolute_hours,
            max_open_tenants: raw.max_open_tenants,
            trusted_proxies,
            audit_retention_days: raw.audit_retention_days,
            signin_ip_throttle_after: raw.signin_ip_throttle_after,
            signin_ip_ban_after: raw.signin_ip_ban_after,
            signin_ip_ban_minutes: raw.signin_ip_ban_minutes,
            audit_unauthenticated_per_minute: raw.audit_unauthenticated_per_minute,
            audit_unauthenticated_burst: raw.audit_unauthenticated_burst,
            audit_min_free_mb: raw.audit_min_free_mb,
            audit_min_free_percent: raw.audit_min_free_percent,
        })
    }

    pub fn backend(&self) -> Result<skjold_store::Backend, skjold_store::StoreError> {
        skjold_store::Backend::from_config(
            &self.data_dir,
            self.database_url.as_ref().map(|s| s.expose_secret()),
        )
    }

    /// The defaults with another data dir, for tests and tools that build a configuration
    /// in code.
    pub fn defaults_in(data_dir: &Path) -> Result<Self, ConfigError> {
        Self::check(RawConfig {
            data_dir: data_dir.to_path_buf(),
            ..RawConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: impl FnOnce(&mut RawConfig)) -> Result<Config, ConfigError> {
        let mut raw = RawConfig::default();
        f(&mut raw);
        Config::check(raw)
    }

    #[test]
    fn defaults_are_valid() {
        let c = check(|_| {}).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.redirect_listen.unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(c.metrics_listen.unwrap().to_string(), "127.0.0.1:9464");
        assert!(c.database_url.is_none());
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let e = check(|r| r.listen = "localhost".into())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("listen:"), "{e}");
        let e = check(|r| r.tls_cert = Some("/x".into()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tls_cert:"), "{e}");
        let e = check(|r| r.database_url = Some("mysql://u:pw@h/db".into()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("database_url:") && !e.contains("pw"), "{e}");
        let e = check(|r| r.public_url = Some("http://crm.example.com".into()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("public_url:"), "{e}");
        let e = check(|r| r.audit_unauthenticated_per_minute = 0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("audit_unauthenticated_per_minute:"), "{e}");
        let e = check(|r| r.audit_min_free_percent = 90)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("audit_min_free_percent:"), "{e}");
        let e = check(|r| r.max_body_bytes = 1).unwrap_err().to_string();
        assert!(e.starts_with("max_body_bytes:"), "{e}");
        assert!(check(|r| r.redirect_listen = "off".into())
            .unwrap()
            .redirect_listen
            .is_none());
        assert!(check(|r| r.metrics_listen = "off".into())
            .unwrap()
            .metrics_listen
            .is_none());
        let e = check(|r| r.metrics_listen = "9464".into())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("metrics_listen:"), "{e}");
        let e = check(|r| r.metrics_listen = "127.0.0.1:8443".into())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("metrics_listen:"), "{e}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = check(|r| r.database_url = Some("postgres://u:hunter2@h/skjold".into())).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn layers_apply_in_order_and_unknown_keys_are_refused() {
        let dir = tempfile_dir();
        let file = dir.join("skjold.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9443\"\nmax_body_bytes = 4096\n",
        )
        .unwrap();
        let over = ConfigOverrides {
            listen: Some("127.0.0.1:7443".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &over).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7443");
        assert_eq!(c.max_body_bytes, 4096);
        std::fs::write(&file, "lisen = \"127.0.0.1:9443\"\n").unwrap();
        let e = Config::load(Some(&file), &ConfigOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen"), "{e}");
        let e =
            Config::load(Some(&dir.join("missing.toml")), &ConfigOverrides::default()).unwrap_err();
        assert!(matches!(e, ConfigError::MissingFile(_)));
    }

    #[test]
    fn a_toml_syntax_error_is_one_line_naming_the_file() {
        let dir = tempfile_dir();
        let file = dir.join("syntax.toml");
        std::fs::write(&file, "listen = \n").unwrap();
        let e = Config::load(Some(&file), &ConfigOverrides::default())
            .unwrap_err()
            .to_string();
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains("syntax.toml"), "{e}");
        assert!(!e.contains('^'), "{e}");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skjold-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
