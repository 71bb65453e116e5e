//! Telling people outside the server: e-mail through one SMTP relay ([`mailer`]) and signed
//! webhooks ([`webhook`]), configured once (`[smtp]`, `[webhooks]`) and used by every
//! feature that notifies — today the status page's subscriptions ([`status`]).

pub mod mailer;
pub mod settings;
pub mod status;
pub mod webhook;

pub use settings::{NotifyConfig, SmtpSettings, WebhookSettings};
