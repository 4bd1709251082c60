//! `woocommerce-sync demo`: the whole product on embedded defaults. Both
//! simulators start in-process with a realistic shop, a connection is made and
//! set up, every order is synced, and the summary and reconcile report print.

use std::process::ExitCode;

use clap::Args;
use rust_decimal::Decimal;

use super::sync::{print_reconcile, print_summary, progress_bar};
use super::CliError;
use crate::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, PaymentTarget, WooAuth,
};
use crate::jobs::{Queue, QueuePolicy};
use crate::secrets::SecretKey;
use crate::simulators::{erpnext, woocommerce};
use crate::store::Store;
use crate::sync::context::{CallSettings, ConnectionContext};
use crate::sync::reconcile::reconcile;
use crate::sync::woo_to_erp::orders::OrderFlow;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Orders in the simulated shop.
    #[arg(long, default_value_t = 400)]
    pub orders: usize,
    /// Seed of the simulated shop.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Keep the simulators running afterwards (Ctrl-C stops them).
    #[arg(long)]
    pub keep_running: bool,
}

pub async fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    if args.orders == 0 || args.orders > 100_000 {
        return Err(CliError::Usage(
            "--orders must be between 1 and 100000".into(),
        ));
    }
    println!(
        "Starting a simulated WooCommerce store with {} orders and a simulated ERPNext site…",
        args.orders
    );
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: args.orders,
        seed_random: args.seed,
        ..woocommerce::WooSimOptions::default()
    })
    .await?;
    let erp = erpnext::start(erpnext::ErpSimOptions::default()).await?;
    println!("  WooCommerce: {}wp-json/wc/v3", woo.base_url());
    println!("  ERPNext:     {}api/resource", erp.base_url());

    // The demo's own database, so that it can run again and again.
    let database =
        std::env::temp_dir().join(format!("woocommerce-sync-demo-{}.db", std::process::id()));
    let database_url = format!("sqlite://{}", database.display());
    let store = Store::open(
        &database_url,
        SecretKey::load_or_create(&std::env::temp_dir().join("woocommerce-sync-demo-key"))?,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let connection = simulator_connection(
        "demo",
        woo.base_url(),
        erp.base_url().clone(),
        erp.api_key(),
        erp.api_secret(),
    );
    let connection_id = store.insert_connection(&connection).await?;
    println!(
        "Connection `{}` created in {}",
        connection.name,
        database.display()
    );

    let super::setup::SetupOutcome {
        report, missing, ..
    } = super::setup::set_up(
        &connection,
        &super::setup::SetupOptions::at("http://127.0.0.1:8080".parse().expect("a valid URL")),
    )
    .await
    .map_err(anyhow::Error::from)?;
    println!(
        "Setup: {} created, {} already there",
        report.created.len(),
        report.unchanged.len()
    );
    for item in missing {
        println!("  missing: {item}");
    }

    let stored = store.connection_by_id(connection_id).await?;
    let ctx = ConnectionContext::prepare(store.clone(), stored, &CallSettings::default(), 8)
        .await
        .map_err(anyhow::Error::from)?
        .handing_over_to(Queue::new(store.clone(), QueuePolicy::default()));
    let bar = progress_bar(false);
    let started = std::time::Instant::now();
    let summary = OrderFlow::new(&ctx)
        .poll(None, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await
        .map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    println!("Synced in {:.1} s:", started.elapsed().as_secs_f64());
    print_summary(&summary)?;
    let report = reconcile(&ctx).await.map_err(anyhow::Error::from)?;
    print_reconcile(&report);
    println!();
    println!("Explore: woocommerce-sync --database {database_url} log --connection demo");

    if args.keep_running {
        println!("Simulators keep running; press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await.map_err(anyhow::Error::from)?;
    }
    Ok(if report.is_clean() && summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A connection for the simulated shop (used by `demo` and `bench`): its tax
/// rates, shipping, fees and gateways mapped to the simulated site's accounts.
pub(super) fn simulator_connection(
    name: &str,
    woocommerce_url: url::Url,
    erpnext_url: url::Url,
    api_key: &str,
    api_secret: &str,
) -> Connection {
    let mut mappings = Mappings::default();
    for (rate, account) in [
        (1, "ST 6.25% - TC"),
        (2, "ST 4% - TC"),
        (3, "ST 6% - TC"),
        (4, "ST 4% - TC"),
        (5, "ST 6% - TC"),
    ] {
        mappings.tax_accounts.insert(rate, account.to_string());
    }
    for (gateway, mode) in [
        ("stripe", "Credit Card"),
        ("ppcp-gateway", "Credit Card"),
        ("bacs", "Wire Transfer"),
        ("cod", "Cash"),
    ] {
        mappings.payment_methods.insert(
            gateway.to_string(),
            PaymentTarget {
                mode_of_payment: mode.to_string(),
                account: None,
                fee_account: None,
            },
        );
    }
    Connection {
        name: name.into(),
        woocommerce_url,
        woocommerce_auth: WooAuth::Auto,
        erpnext_url,
        credentials: Credentials {
            consumer_key: woocommerce::TEST_CONSUMER_KEY.into(),
            consumer_secret: woocommerce::TEST_CONSUMER_SECRET.into(),
            webhook_secret: woocommerce::TEST_WEBHOOK_SECRET.into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        },
        company: "Test Company".into(),
        default_warehouse: "Stores - TC".into(),
        naming_series: "SAL-ORD-.YYYY.-".into(),
        customer_group: "Individual".into(),
        territory: "All Territories".into(),
        price_list: "Standard Selling".into(),
        item_group: "Products".into(),
        stock_uom: "Nos".into(),
        delivery_lead_days: 3,
        imported_statuses: vec!["processing".into(), "on-hold".into(), "completed".into()],
        invoice_trigger: InvoiceTrigger::Paid,
        submit_invoices: true,
        record_payments: true,
        rounding_tolerance: Decimal::new(1, 2),
        auto_create_items: true,
        missing_sku: MissingSkuRule::Synthesize,
        default_tax_account: None,
        shipping_account: Some("Freight and Forwarding Charges - TC".into()),
        fee_account: Some("Miscellaneous Expenses - TC".into()),
        rounding_account: Some("Round Off - TC".into()),
        mappings,
    }
}
