//! `woocommerce-sync setup --connection NAME`: installs what the sync needs in
//! ERPNext (custom fields, Webhooks) and names any master data that is missing.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::connection::Connection;
use crate::store::Store;
use crate::sync::remotes::{erpnext_client, CallSettings};
use crate::sync::setup::{check_master_data, install, MasterDataNeeds, SetupPlan, SetupReport};

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[arg(long)]
    pub connection: String,
    /// The address at which ERPNext reaches this service (for its Webhooks).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub public_url: url::Url,
    /// Write the webhook secret into Webhooks that already exist (after rotating it).
    #[arg(long)]
    pub update_webhook_secrets: bool,
}

pub async fn run(store: &Store, args: SetupArgs) -> Result<ExitCode, CliError> {
    let connection = store.connection(&args.connection).await?.connection;
    let (report, missing) =
        set_up(&connection, &args.public_url, args.update_webhook_secrets).await?;
    println!("{report}");
    if missing.is_empty() {
        println!("Master data: everything the connection names exists in ERPNext.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Master data missing in ERPNext — create it, or change the connection:");
        for item in &missing {
            println!("  - {item}");
        }
        Ok(ExitCode::from(4))
    }
}

/// Installs custom fields and Webhooks, then checks master data.
pub async fn set_up(
    connection: &Connection,
    public_url: &url::Url,
    update_webhook_secrets: bool,
) -> Result<(SetupReport, Vec<String>), CliError> {
    let client =
        erpnext_client(connection, &CallSettings::default()).map_err(anyhow::Error::from)?;
    let webhook_base_url = public_url
        .join(&format!("webhooks/erpnext/{}", connection.name))
        .map_err(|error| CliError::Usage(format!("--public-url {public_url}: {error}")))?;
    let plan = SetupPlan {
        connection_name: connection.name.clone(),
        webhook_base_url,
        webhook_secret: connection.credentials.webhook_secret.clone(),
        update_webhook_secrets,
    };
    let report = install(&client, &plan).await.map_err(anyhow::Error::from)?;
    let mut accounts: Vec<String> = connection.mappings.tax_accounts.values().cloned().collect();
    accounts.extend(
        [
            &connection.default_tax_account,
            &connection.shipping_account,
            &connection.fee_account,
            &connection.rounding_account,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );
    accounts.extend(
        connection
            .mappings
            .payment_methods
            .values()
            .filter_map(|target| target.account.clone()),
    );
    accounts.sort();
    accounts.dedup();
    let modes_of_payment = connection
        .mappings
        .payment_methods
        .values()
        .map(|target| target.mode_of_payment.clone())
        .collect();
    let missing = check_master_data(
        &client,
        &MasterDataNeeds {
            company: connection.company.clone(),
            warehouse: connection.default_warehouse.clone(),
            accounts,
            modes_of_payment,
        },
    )
    .await
    .map_err(anyhow::Error::from)?;
    Ok((report, missing))
}
