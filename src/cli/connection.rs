//! `woocommerce-sync connection add|list|show|edit|remove`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use serde_json::json;

use super::{print_json, CliError};
use crate::connection::{
    masked_view, parse_mappings_toml, parse_site_url, Connection, Credentials, InvoiceTrigger,
    MissingSkuRule, PaymentTarget, ShippingTarget, WooAuth,
};
use crate::store::Store;
use crate::sync::context::CallSettings;
use crate::sync::discovery::{test_connection, SideCheck};

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection. Secrets may come from environment variables instead of flags.
    Add(Box<ConnectionFields>),
    /// List connections.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show every setting of one connection, secrets masked.
    Show {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Check that both sites answer with the stored credentials.
    Test {
        #[arg(long)]
        name: String,
    },
    /// Change settings of a connection: only the flags given change.
    Edit(Box<ConnectionFields>),
    /// Remove a connection with its links, jobs and sync log.
    Remove {
        #[arg(long)]
        name: String,
        /// Confirm the removal.
        #[arg(long)]
        yes: bool,
    },
}

/// The settings of a connection as flags. For `add`, unset flags take the
/// defaults shown; for `edit`, unset flags keep the stored value.
#[derive(Debug, Default, Args)]
pub struct ConnectionFields {
    /// The connection's name (letters, digits, `-`, `_`); part of the ERPNext order key.
    #[arg(long)]
    pub name: String,
    /// The store's address, e.g. https://shop.example.com
    #[arg(long)]
    pub woocommerce_url: Option<String>,
    /// auto (Basic over HTTPS, OAuth 1.0a over HTTP), basic, query-string or oauth1.
    #[arg(long, value_enum)]
    pub woocommerce_auth: Option<WooAuth>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_CONSUMER_KEY", hide_env_values = true)]
    pub consumer_key: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_CONSUMER_SECRET", hide_env_values = true)]
    pub consumer_secret: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// The ERPNext site's address, e.g. https://erp.example.com
    #[arg(long)]
    pub erpnext_url: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// ERPNext company the orders are booked in.
    #[arg(long)]
    pub company: Option<String>,
    /// Warehouse for order lines [add default: Stores - <abbr> must be given]
    #[arg(long)]
    pub default_warehouse: Option<String>,
    /// Sales Order naming series [add default: SAL-ORD-.YYYY.-]
    #[arg(long)]
    pub naming_series: Option<String>,
    /// Customer group of new customers [add default: Individual]
    #[arg(long)]
    pub customer_group: Option<String>,
    /// Territory of new customers [add default: All Territories]
    #[arg(long)]
    pub territory: Option<String>,
    /// Selling price list [add default: Standard Selling]
    #[arg(long)]
    pub price_list: Option<String>,
    /// Item group of auto-created items [add default: Products]
    #[arg(long)]
    pub item_group: Option<String>,
    /// Unit of auto-created items [add default: Nos]
    #[arg(long)]
    pub stock_uom: Option<String>,
    /// Days from order to delivery date [add default: 3]
    #[arg(long)]
    pub delivery_lead_days: Option<u32>,
    /// WooCommerce statuses imported, comma-separated [add default: processing,on-hold,completed]
    #[arg(long, value_delimiter = ',')]
    pub import_statuses: Option<Vec<String>>,
    /// When to make the Sales Invoice [add default: paid]
    #[arg(long, value_enum)]
    pub invoice_trigger: Option<InvoiceTrigger>,
    /// Submit invoices (true/false) [add default: true]
    #[arg(long)]
    pub submit_invoices: Option<bool>,
    /// Record Payment Entries (true/false) [add default: true]
    #[arg(long)]
    pub record_payments: Option<bool>,
    /// Largest difference closed by a rounding row [add default: 0.01]
    #[arg(long)]
    pub rounding_tolerance: Option<String>,
    /// Create missing items in ERPNext (true/false) [add default: false]
    #[arg(long)]
    pub auto_create_items: Option<bool>,
    /// Lines without SKU: fail, synthesize, or item:CODE [add default: fail]
    #[arg(long)]
    pub missing_sku: Option<String>,
    /// Account for tax rates without their own mapping.
    #[arg(long)]
    pub default_tax_account: Option<String>,
    /// Account for shipping methods without their own mapping.
    #[arg(long)]
    pub shipping_account: Option<String>,
    /// Account for fee lines.
    #[arg(long)]
    pub fee_account: Option<String>,
    /// Account for rounding rows within the tolerance.
    #[arg(long)]
    pub rounding_account: Option<String>,
    /// Tax rate mapping RATE_ID=ACCOUNT (repeatable).
    #[arg(long = "tax-account", value_name = "RATE_ID=ACCOUNT")]
    pub tax_accounts: Vec<String>,
    /// Shipping method mapping METHOD=account:ACCOUNT or METHOD=item:ITEM (repeatable).
    #[arg(long = "shipping-method", value_name = "METHOD=account:X|item:Y")]
    pub shipping_methods: Vec<String>,
    /// Payment method mapping GATEWAY=MODE_OF_PAYMENT[@ACCOUNT] (repeatable).
    #[arg(long = "payment-method", value_name = "GATEWAY=MODE[@ACCOUNT]")]
    pub payment_methods: Vec<String>,
    /// Receivable account for orders in a foreign currency, CURRENCY=ACCOUNT (repeatable),
    /// e.g. `EUR=Debtors EUR - TC`; `setup --create-receivable-accounts` can create them.
    #[arg(long = "receivable-account", value_name = "CURRENCY=ACCOUNT")]
    pub receivable_accounts: Vec<String>,
    /// ERPNext status → WooCommerce status written back, ERP_STATUS=WOO_STATUS (repeatable).
    #[arg(long = "status-to-woocommerce", value_name = "ERP=WOO")]
    pub status_to_woocommerce: Vec<String>,
    /// WooCommerce status → import, cancel or ignore, WOO_STATUS=ACTION (repeatable).
    #[arg(long = "status-from-woocommerce", value_name = "WOO=ACTION")]
    pub status_from_woocommerce: Vec<String>,
    /// A TOML file with the mapping tables (replaces the stored tables).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
}

pub async fn run(store: &Store, command: ConnectionCommand) -> Result<ExitCode, CliError> {
    match command {
        ConnectionCommand::Add(fields) => {
            let generated = fields.webhook_secret.is_none();
            let connection = fields.into_new_connection()?;
            store.insert_connection(&connection).await?;
            println!("Added connection `{}`.", connection.name);
            if generated {
                // Shown this once; the database keeps it sealed and never prints it again.
                println!(
                    "Webhook secret (shown once; `setup` gives it to ERPNext and WooCommerce, or paste it into a webhook you add by hand):\n  {}",
                    connection.credentials.webhook_secret
                );
            }
            println!(
                "Next: `woocommerce-sync setup --connection {}`",
                connection.name
            );
        }
        ConnectionCommand::List { json } => {
            let connections = store.connections().await?;
            if json {
                let rows: Vec<_> = connections
                    .iter()
                    .map(|stored| {
                        json!({
                            "name": stored.connection.name,
                            "woocommerce_url": stored.connection.woocommerce_url.as_str(),
                            "erpnext_url": stored.connection.erpnext_url.as_str(),
                            "company": stored.connection.company,
                        })
                    })
                    .collect();
                print_json(&rows)?;
            } else if connections.is_empty() {
                println!(
                    "No connections yet. Add one with `woocommerce-sync connection add --help`."
                );
            } else {
                for stored in connections {
                    let connection = stored.connection;
                    println!(
                        "{}  {} → {} ({})",
                        connection.name,
                        connection.woocommerce_url,
                        connection.erpnext_url,
                        connection.company
                    );
                }
            }
        }
        ConnectionCommand::Show { name, json } => {
            let connection = store.connection(&name).await?.connection;
            let shown = masked_view(&connection);
            if json {
                print_json(&shown)?;
            } else {
                print_settings(&shown);
            }
        }
        ConnectionCommand::Test { name } => {
            let connection = store.connection(&name).await?.connection;
            let test = test_connection(&connection, &CallSettings::default()).await;
            for (side, url, check) in [
                (
                    "WooCommerce",
                    &connection.woocommerce_url,
                    &test.woocommerce,
                ),
                ("ERPNext", &connection.erpnext_url, &test.erpnext),
            ] {
                match check {
                    SideCheck::Ok(said) => println!("{side} {url}: ok ({said})"),
                    SideCheck::Refused { error, .. } | SideCheck::Unreachable { error, .. } => {
                        println!("{side} {url}: {error}")
                    }
                }
            }
            // 2 when a side refuses what the connection says (URL, keys: the user fixes them),
            // 1 when a side could not be reached or failed (try again later).
            if test.refused() {
                return Ok(ExitCode::from(2));
            }
            if !test.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
        ConnectionCommand::Edit(fields) => {
            let mut connection = store.connection(&fields.name).await?.connection;
            fields.apply_to(&mut connection)?;
            connection.validate()?;
            store.update_connection(&connection).await?;
            println!("Updated connection `{}`.", connection.name);
        }
        ConnectionCommand::Remove { name, yes } => {
            if !yes {
                return Err(CliError::Usage(format!(
                    "removing `{name}` also deletes its links, jobs and sync log; add --yes to confirm"
                )));
            }
            store.delete_connection(&name).await?;
            println!("Removed connection `{name}`.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_settings(value: &serde_json::Value) {
    fn walk(prefix: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, inner);
                }
            }
            serde_json::Value::String(text) => println!("{prefix:<40} {text}"),
            other => println!("{prefix:<40} {other}"),
        }
    }
    walk("", value);
}

fn required(field: &str, value: Option<String>) -> Result<String, CliError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        CliError::Usage(format!(
            "{field} is required to add a connection; give it a value"
        ))
    })
}

impl ConnectionFields {
    fn into_new_connection(self) -> Result<Connection, CliError> {
        let woocommerce_url = parse_site_url(
            "--woocommerce-url",
            &required("--woocommerce-url", self.woocommerce_url.clone())?,
        )?;
        let erpnext_url = parse_site_url(
            "--erpnext-url",
            &required("--erpnext-url", self.erpnext_url.clone())?,
        )?;
        let credentials = Credentials {
            consumer_key: required("--consumer-key", self.consumer_key.clone())?,
            consumer_secret: required("--consumer-secret", self.consumer_secret.clone())?,
            webhook_secret: self
                .webhook_secret
                .clone()
                .filter(|secret| !secret.trim().is_empty())
                .unwrap_or_else(crate::secrets::new_webhook_secret),
            api_key: required("--api-key", self.api_key.clone())?,
            api_secret: required("--api-secret", self.api_secret.clone())?,
        };
        let mut connection =
            Connection::with_defaults(&self.name, woocommerce_url, erpnext_url, credentials);
        connection.company = required("--company", self.company.clone())?;
        connection.default_warehouse =
            required("--default-warehouse", self.default_warehouse.clone())?;
        self.apply_to(&mut connection)?;
        connection.validate()?;
        Ok(connection)
    }

    /// Writes every given flag over `connection`.
    fn apply_to(self, connection: &mut Connection) -> Result<(), CliError> {
        if let Some(url) = &self.woocommerce_url {
            connection.woocommerce_url = parse_site_url("--woocommerce-url", url)?;
        }
        if let Some(url) = &self.erpnext_url {
            connection.erpnext_url = parse_site_url("--erpnext-url", url)?;
        }
        let credentials = &mut connection.credentials;
        for (target, value) in [
            (&mut credentials.consumer_key, self.consumer_key),
            (&mut credentials.consumer_secret, self.consumer_secret),
            (&mut credentials.webhook_secret, self.webhook_secret),
            (&mut credentials.api_key, self.api_key),
            (&mut credentials.api_secret, self.api_secret),
        ] {
            if let Some(value) = value {
                *target = value;
            }
        }
        for (target, value) in [
            (&mut connection.company, self.company),
            (&mut connection.default_warehouse, self.default_warehouse),
            (&mut connection.naming_series, self.naming_series),
            (&mut connection.customer_group, self.customer_group),
            (&mut connection.territory, self.territory),
            (&mut connection.price_list, self.price_list),
            (&mut connection.item_group, self.item_group),
            (&mut connection.stock_uom, self.stock_uom),
        ] {
            if let Some(value) = value {
                *target = value;
            }
        }
        for (target, value) in [
            (
                &mut connection.default_tax_account,
                self.default_tax_account,
            ),
            (&mut connection.shipping_account, self.shipping_account),
            (&mut connection.fee_account, self.fee_account),
            (&mut connection.rounding_account, self.rounding_account),
        ] {
            if let Some(value) = value {
                // An empty value clears the setting.
                *target = Some(value).filter(|v| !v.trim().is_empty());
            }
        }
        if let Some(auth) = self.woocommerce_auth {
            connection.woocommerce_auth = auth;
        }
        if let Some(days) = self.delivery_lead_days {
            connection.delivery_lead_days = days;
        }
        if let Some(statuses) = self.import_statuses {
            connection.imported_statuses =
                statuses.into_iter().map(|s| s.trim().to_string()).collect();
        }
        if let Some(trigger) = self.invoice_trigger {
            connection.invoice_trigger = trigger;
        }
        if let Some(submit) = self.submit_invoices {
            connection.submit_invoices = submit;
        }
        if let Some(record) = self.record_payments {
            connection.record_payments = record;
        }
        if let Some(auto) = self.auto_create_items {
            connection.auto_create_items = auto;
        }
        if let Some(text) = self.rounding_tolerance {
            connection.rounding_tolerance = Decimal::from_str(text.trim()).map_err(|_| {
                CliError::Usage(format!(
                    "--rounding-tolerance: `{text}` is not an amount; write e.g. 0.01"
                ))
            })?;
        }
        if let Some(rule) = self.missing_sku {
            connection.missing_sku = parse_missing_sku(&rule)?;
        }
        if let Some(path) = &self.mappings {
            let text = std::fs::read_to_string(path).map_err(|error| {
                CliError::Usage(format!(
                    "--mappings: cannot read {}: {error}",
                    path.display()
                ))
            })?;
            connection.mappings = parse_mappings_toml(&text).map_err(|error| {
                CliError::Usage(format!("--mappings {}: {}", path.display(), error.problem))
            })?;
        }
        let mappings = &mut connection.mappings;
        for pair in &self.tax_accounts {
            let (rate, account) = split_pair("--tax-account", pair, "RATE_ID=ACCOUNT")?;
            let rate: u64 = rate.parse().map_err(|_| {
                CliError::Usage(format!(
                    "--tax-account `{pair}`: `{rate}` is not a WooCommerce tax rate id (a number)"
                ))
            })?;
            mappings.tax_accounts.insert(rate, account.to_string());
        }
        for pair in &self.shipping_methods {
            let (method, target) = split_pair(
                "--shipping-method",
                pair,
                "METHOD=account:X or METHOD=item:Y",
            )?;
            let target = match target.split_once(':') {
                Some(("account", account)) if !account.is_empty() => {
                    ShippingTarget::Account(account.into())
                }
                Some(("item", item)) if !item.is_empty() => ShippingTarget::Item(item.into()),
                _ => {
                    return Err(CliError::Usage(format!(
                    "--shipping-method `{pair}`: the target must be account:ACCOUNT or item:ITEM"
                )))
                }
            };
            mappings.shipping_methods.insert(method.to_string(), target);
        }
        for pair in &self.payment_methods {
            let (gateway, target) = split_pair("--payment-method", pair, "GATEWAY=MODE[@ACCOUNT]")?;
            let (mode, account) = match target.split_once('@') {
                Some((mode, account)) => (mode, Some(account.to_string())),
                None => (target, None),
            };
            mappings.payment_methods.insert(
                gateway.to_string(),
                PaymentTarget {
                    mode_of_payment: mode.to_string(),
                    account,
                    // Fee accounts come from the mappings file (`fee_account`); kept.
                    fee_account: mappings
                        .payment_methods
                        .get(gateway)
                        .and_then(|target| target.fee_account.clone()),
                },
            );
        }
        for pair in &self.receivable_accounts {
            let (currency, account) = split_pair("--receivable-account", pair, "CURRENCY=ACCOUNT")?;
            mappings
                .receivable_accounts
                .insert(currency.to_ascii_uppercase(), account.to_string());
        }
        for pair in &self.status_to_woocommerce {
            let (erp, woo) = split_pair("--status-to-woocommerce", pair, "ERP_STATUS=WOO_STATUS")?;
            mappings
                .status_to_woocommerce
                .insert(erp.to_string(), woo.to_string());
        }
        for pair in &self.status_from_woocommerce {
            let (woo, action) = split_pair("--status-from-woocommerce", pair, "WOO_STATUS=ACTION")?;
            mappings
                .status_from_woocommerce
                .insert(woo.to_string(), action.to_string());
        }
        Ok(())
    }
}

fn split_pair<'a>(flag: &str, pair: &'a str, shape: &str) -> Result<(&'a str, &'a str), CliError> {
    match pair.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() && !value.trim().is_empty() => {
            Ok((key.trim(), value.trim()))
        }
        _ => Err(CliError::Usage(format!(
            "{flag} `{pair}` must look like {shape}"
        ))),
    }
}

fn parse_missing_sku(text: &str) -> Result<MissingSkuRule, CliError> {
    match text.trim() {
        "fail" => Ok(MissingSkuRule::Fail),
        "synthesize" => Ok(MissingSkuRule::Synthesize),
        other => match other.strip_prefix("item:") {
            Some(code) if !code.is_empty() => Ok(MissingSkuRule::UseItem(code.to_string())),
            _ => Err(CliError::Usage(format!(
                "--missing-sku `{other}`: use fail, synthesize or item:CODE"
            ))),
        },
    }
}
