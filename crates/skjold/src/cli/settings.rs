//! `skjold settings …`: a tenant's settings.

use super::{open_router, parse_slug};
use clap::Subcommand;
use skjold_server::Config;

#[derive(Debug, Subcommand)]
pub(super) enum SettingsCommand {
    /// Show the tenant's two-factor requirement, or set it with --required.
    TwoFactor {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// none, all or roles (with --roles).
        #[arg(long)]
        required: Option<String>,
        /// The roles that must use a second factor (with --required roles), comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn settings(config: Config, cmd: SettingsCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    let result = match cmd {
        SettingsCommand::TwoFactor {
            tenant,
            required,
            roles,
            json,
        } => {
            let slug = parse_slug(&tenant)?;
            super::two_factor::settings(&router, &audit, &slug, required, roles, json).await
        }
    };
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    result
}
