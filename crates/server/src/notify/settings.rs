//! `[smtp]` and `[webhooks]` in `skjold.toml`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The SMTP relay e-mail goes through. No `host`: no e-mail is sent (subscriptions by
/// e-mail are refused with a message that says so).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: Option<String>,
    /// Default 587 (`starttls`), 465 (`tls`), 25 (`none`).
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS) or `none` (only for a relay on this machine).
    pub security: Option<String>,
    pub username: Option<String>,
    /// A file holding the password (never the password itself in the configuration).
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `Skjold status <status@example.com>`.
    pub from: Option<String>,
}

/// Where webhooks may go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Let webhooks reach loopback and private addresses (and plain http). Off: a tenant's
    /// administrator must not make the server call into the operator's own network.
    pub allow_private_targets: bool,
}

/// How SMTP is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    StartTls,
    Tls,
    None,
}

/// The checked SMTP settings.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub credentials: Option<(String, String)>,
    pub from: lettre::message::Mailbox,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// E-mail and webhooks, checked.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpConfig>,
    pub allow_private_webhooks: bool,
}

impl NotifyConfig {
    /// What subscriptions this installation can serve: e-mail only with a relay, webhooks
    /// into private networks only where the operator allows it.
    pub fn channels(&self) -> skjold_app::subscriptions::Channels {
        skjold_app::subscriptions::Channels {
            email: self.smtp.is_some(),
            allow_private_webhooks: self.allow_private_webhooks,
        }
    }

    /// Checks the two tables; the error names the key.
    pub fn check(
        smtp: &SmtpSettings,
        webhooks: &WebhookSettings,
    ) -> Result<Self, (&'static str, String)> {
        let smtp = match smtp
            .host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            None => None,
            Some(host) => {
                let security = match smtp.security.as_deref().unwrap_or("starttls") {
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    other => {
                        return Err((
                            "smtp.security",
                            format!("'{other}' is not starttls, tls or none"),
                        ))
                    }
                };
                let port = smtp.port.unwrap_or(match security {
                    SmtpSecurity::StartTls => 587,
                    SmtpSecurity::Tls => 465,
                    SmtpSecurity::None => 25,
                });
                let from = smtp
                    .from
                    .as_deref()
                    .ok_or((
                        "smtp.from",
                        "the sender is needed when smtp.host is set".to_string(),
                    ))?
                    .parse::<lettre::message::Mailbox>()
                    .map_err(|e| ("smtp.from", format!("not an e-mail address: {e}")))?;
                let credentials = match (&smtp.username, &smtp.password_file) {
                    (Some(user), Some(file)) => {
                        let password = std::fs::read_to_string(file).map_err(|e| {
                            ("smtp.password_file", format!("{}: {e}", file.display()))
                        })?;
                        Some((user.clone(), password.trim_end().to_string()))
                    }
                    (None, None) => None,
                    _ => {
                        return Err((
                            "smtp.username",
                            "set smtp.username and smtp.password_file together".to_string(),
                        ))
                    }
                };
                Some(SmtpConfig {
                    host: host.to_string(),
                    port,
                    security,
                    credentials,
                    from,
                })
            }
        };
        Ok(Self {
            smtp,
            allow_private_webhooks: webhooks.allow_private_targets,
        })
    }
}
