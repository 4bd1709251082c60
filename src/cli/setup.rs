//! `woocommerce-sync setup --connection NAME`: installs what the sync needs in ERPNext (custom
//! fields, Webhooks, receivable accounts per currency) and in WooCommerce (order webhooks), and
//! names any master data that is missing.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::store::Store;
pub use crate::sync::setup::{set_up, SetupOptions, SetupOutcome};

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[arg(long)]
    pub connection: String,
    /// The address at which ERPNext and WooCommerce reach this service (for their webhooks).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub public_url: url::Url,
    /// Write the webhook secret into webhooks that already exist (after rotating it).
    #[arg(long)]
    pub update_webhook_secrets: bool,
    /// Create a receivable account (`Debtors EUR - <abbr>`) for each foreign currency the shop
    /// sells in that the connection does not map yet, and map it.
    #[arg(long)]
    pub create_receivable_accounts: bool,
}

pub async fn run(store: &Store, args: SetupArgs) -> Result<ExitCode, CliError> {
    let stored = store.connection(&args.connection).await?;
    let outcome = set_up(
        &stored.connection,
        &SetupOptions {
            public_url: args.public_url,
            update_webhook_secrets: args.update_webhook_secrets,
            create_receivable_accounts: args.create_receivable_accounts,
            calls: crate::sync::context::CallSettings::default(),
        },
    )
    .await
    .map_err(anyhow::Error::from)?;
    if outcome.connection != stored.connection {
        store.update_connection(&outcome.connection).await?;
    }
    println!("{}", outcome.report);
    if outcome.missing.is_empty() {
        println!("Master data: everything the connection names exists in ERPNext.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Missing — create it, or change the connection:");
        for item in &outcome.missing {
            println!("  - {item}");
        }
        // The connection names what ERPNext lacks: bad input the user fixes.
        Ok(ExitCode::from(2))
    }
}
