//! `woocommerce-sync setup --connection NAME`: installs what the sync needs in ERPNext (custom
//! fields, Webhooks, receivable accounts per currency) and in WooCommerce (order webhooks), and
//! names any master data that is missing.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::connection::Connection;
use crate::store::Store;
use crate::sync::remotes::{erpnext_client, woocommerce_client, CallSettings};
use crate::sync::setup::{
    check_master_data, check_receivable_accounts, create_receivable_account, install,
    install_woocommerce_webhooks, MasterDataNeeds, SetupPlan, SetupReport,
};
use crate::woocommerce::OrderQuery;

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

/// What a setup run may do beyond installing what is missing.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    pub public_url: url::Url,
    pub update_webhook_secrets: bool,
    pub create_receivable_accounts: bool,
}

impl SetupOptions {
    pub fn at(public_url: url::Url) -> SetupOptions {
        SetupOptions {
            public_url,
            update_webhook_secrets: false,
            create_receivable_accounts: false,
        }
    }
}

/// What a setup run did, what is still missing, and the connection as setup left it (a webhook
/// secret made, receivable accounts mapped), for the caller to store.
pub struct SetupOutcome {
    pub report: SetupReport,
    pub missing: Vec<String>,
    pub connection: Connection,
}

pub async fn run(store: &Store, args: SetupArgs) -> Result<ExitCode, CliError> {
    let stored = store.connection(&args.connection).await?;
    let outcome = set_up(
        &stored.connection,
        &SetupOptions {
            public_url: args.public_url,
            update_webhook_secrets: args.update_webhook_secrets,
            create_receivable_accounts: args.create_receivable_accounts,
        },
    )
    .await?;
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
        Ok(ExitCode::from(4))
    }
}

/// Installs custom fields and webhooks on both sides, sees to the receivable accounts of the
/// shop's currencies, then checks master data.
pub async fn set_up(
    connection: &Connection,
    options: &SetupOptions,
) -> Result<SetupOutcome, CliError> {
    let mut connection = connection.clone();
    let settings = CallSettings::default();
    let erp = erpnext_client(&connection, &settings).map_err(anyhow::Error::from)?;
    let woo = woocommerce_client(&connection, &settings).map_err(anyhow::Error::from)?;
    let mut report = SetupReport::default();
    if connection.credentials.webhook_secret.trim().is_empty() {
        // A connection from before secrets were made for every connection: ERPNext refuses a
        // signed Webhook without one.
        connection.credentials.webhook_secret = crate::secrets::new_webhook_secret();
        report
            .created
            .push("a webhook secret for the connection (stored encrypted)".into());
    }
    let base = |source: &str| {
        options
            .public_url
            .join(&format!("webhooks/{source}/{}", connection.name))
            .map_err(|error| {
                CliError::Usage(format!("--public-url {}: {error}", options.public_url))
            })
    };
    let plan = SetupPlan {
        connection_name: connection.name.clone(),
        webhook_base_url: base("erpnext")?,
        webhook_secret: connection.credentials.webhook_secret.clone(),
        update_webhook_secrets: options.update_webhook_secrets,
    };
    let installed = install(&erp, &plan).await.map_err(anyhow::Error::from)?;
    report.merge(installed);
    install_woocommerce_webhooks(
        &woo,
        &connection.name,
        &base("woocommerce")?,
        &connection.credentials.webhook_secret,
        options.update_webhook_secrets,
        &mut report,
    )
    .await
    .map_err(anyhow::Error::from)?;

    let mut missing = Vec::new();
    let company_currency = erp
        .get_optional::<serde_json::Value>("Company", &connection.company)
        .await
        .map_err(anyhow::Error::from)?
        .and_then(|company| company["default_currency"].as_str().map(str::to_string));
    if let Some(company_currency) = company_currency {
        for currency in shop_currencies(&woo, &connection).await? {
            if currency == company_currency
                || connection
                    .mappings
                    .receivable_accounts
                    .contains_key(&currency)
            {
                continue;
            }
            if options.create_receivable_accounts {
                let account = create_receivable_account(&erp, &connection.company, &currency)
                    .await
                    .map_err(anyhow::Error::from)?;
                report.created.push(format!(
                    "receivable account {account} for {currency} orders"
                ));
                connection
                    .mappings
                    .receivable_accounts
                    .insert(currency, account);
            } else {
                missing.push(format!(
                    "The shop sells in {currency}, but no receivable account in {currency} is mapped: ERPNext books a customer's invoices only on a receivable in the invoice's currency. Run setup with --create-receivable-accounts, or map one with `connection edit --receivable-account {currency}=ACCOUNT`"
                ));
            }
        }
        missing.extend(
            check_receivable_accounts(
                &erp,
                &connection.company,
                &connection.mappings.receivable_accounts,
            )
            .await
            .map_err(anyhow::Error::from)?,
        );
    }
    missing.extend(
        check_master_data(&erp, &master_data_needs(&connection))
            .await
            .map_err(anyhow::Error::from)?,
    );
    Ok(SetupOutcome {
        report,
        missing,
        connection,
    })
}

/// The store's currency, the currencies of its newest orders (multi-currency plugins sell in
/// several) and the ones the connection already maps.
async fn shop_currencies(
    woo: &crate::woocommerce::WooClient,
    connection: &Connection,
) -> Result<BTreeSet<String>, CliError> {
    let mut currencies: BTreeSet<String> = connection
        .mappings
        .receivable_accounts
        .keys()
        .cloned()
        .collect();
    let store_currency = woo
        .setting("general", "woocommerce_currency")
        .await
        .map_err(anyhow::Error::from)?;
    currencies.insert(store_currency);
    let newest = woo
        .list_orders_page(&OrderQuery::default(), 1)
        .await
        .map_err(anyhow::Error::from)?;
    currencies.extend(
        newest
            .items
            .into_iter()
            .map(|order| order.currency)
            .filter(|currency| !currency.is_empty()),
    );
    Ok(currencies)
}

fn master_data_needs(connection: &Connection) -> MasterDataNeeds {
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
    MasterDataNeeds {
        company: connection.company.clone(),
        warehouse: connection.default_warehouse.clone(),
        accounts,
        modes_of_payment: connection
            .mappings
            .payment_methods
            .values()
            .map(|target| target.mode_of_payment.clone())
            .collect(),
    }
}
