//! `woocommerce-sync demo`: the whole product on embedded defaults. Both simulators start
//! in-process with a realistic shop, a connection is made and set up with its webhooks pointing at
//! the demo's own service, every order is synced, the summary and reconcile report print, and the
//! service keeps running with the web UI full of that data until Ctrl-C (`--no-serve`: print and
//! exit, for scripts). The data lives in a throwaway directory removed at the end, unless a
//! database or data dir is given, where it stays to be explored.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use rust_decimal::Decimal;

use super::sync::{print_reconcile, print_summary, progress_bar};
use super::{open_store, CliError};
use crate::app::{Service, ServiceOptions};
use crate::config::Config;
use crate::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, PaymentTarget, WooAuth,
};
use crate::erpnext::ListQuery;
use crate::jobs::{Queue, QueuePolicy};
use crate::simulators::{erpnext, woocommerce};
use crate::store::StoreError;
use crate::sync::context::{CallSettings, ConnectionContext};
use crate::sync::erp_to_woo::write_back::{StatusFlow, WriteBackOutcome};
use crate::sync::reconcile::reconcile;
use crate::sync::woo_to_erp::orders::OrderFlow;

const CONNECTION: &str = "demo";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Orders in the simulated shop.
    #[arg(long, default_value_t = 400)]
    pub orders: usize,
    /// Seed of the simulated shop.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Print the summary and exit instead of serving the web UI (for scripts).
    #[arg(long)]
    pub no_serve: bool,
    /// Address of the web UI and the webhook receivers; when its port is taken, a free one is used.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub async fn run(config: &Config, args: DemoArgs) -> Result<ExitCode, CliError> {
    if args.orders == 0 || args.orders > 100_000 {
        return Err(CliError::Usage(
            "--orders must be between 1 and 100000".into(),
        ));
    }
    // Where the demo keeps its data: where the user said, or a directory removed at the end.
    let throwaway = if config.chosen {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix("woocommerce-sync-demo-")
                .tempdir()
                .map_err(anyhow::Error::from)?,
        )
    };
    let config = match &throwaway {
        Some(dir) => Config::in_data_dir(dir.path().to_path_buf()),
        None => config.clone(),
    };
    let listener = match args.no_serve {
        true => None,
        false => Some(bind(args.listen).await?),
    };
    let public_url: url::Url = match &listener {
        Some(listener) => format!(
            "http://{}",
            listener.local_addr().map_err(anyhow::Error::from)?
        ),
        None => "http://127.0.0.1:8080".to_string(),
    }
    .parse()
    .map_err(anyhow::Error::from)?;

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

    let store = open_store(&config).await?;
    // An earlier demo's connection points at simulators that are gone: start afresh.
    match store.delete_connection(CONNECTION).await {
        Ok(()) => println!("Replaced the `{CONNECTION}` connection of an earlier demo."),
        Err(StoreError::NotFound(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let connection = simulator_connection(
        CONNECTION,
        woo.base_url(),
        erp.base_url().clone(),
        erp.api_key(),
        erp.api_secret(),
    );
    let connection_id = store.insert_connection(&connection).await?;
    println!(
        "Connection `{CONNECTION}` created in {}",
        crate::config::mask_database_password(&config.database_url)
    );

    let super::setup::SetupOutcome {
        report, missing, ..
    } = super::setup::set_up(
        &connection,
        &super::setup::SetupOptions::at(public_url.clone()),
    )
    .await
    .map_err(anyhow::Error::from)?;
    println!(
        "Setup: {} created, {} already there; both sites send their webhooks to {public_url}",
        report.created.len(),
        report.unchanged.len()
    );
    for item in missing {
        println!("  missing: {item}");
    }

    // The service runs from here on, so the webhooks the sync sets off are received at once.
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut password = None;
    let service = match listener {
        Some(listener) => {
            let from_environment = std::env::var(super::serve::ADMIN_PASSWORD_ENV).ok();
            password =
                crate::web::ensure_admin_password(&store, from_environment.as_deref()).await?;
            let options = ServiceOptions {
                // The first sync below is the poll; webhooks carry what happens afterwards.
                poll_interval: None,
                ..ServiceOptions::default()
            };
            let service = Service::new(store.clone(), &config.secret_key()?, "", options);
            Some(tokio::spawn(service.run(listener, shutdown)))
        }
        None => None,
    };

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
    let clean = report.is_clean() && summary.failed == 0;
    ship_one_order(&ctx).await?;

    let bootstrap = match &throwaway {
        Some(dir) => format!("--data-dir {}", dir.path().display()),
        None if config.database_url.starts_with("sqlite:") => {
            format!("--data-dir {}", config.data_dir.display())
        }
        None => format!(
            "--data-dir {} --database '{}'",
            config.data_dir.display(),
            crate::config::mask_database_password(&config.database_url)
        ),
    };
    // The program as it was started (`target/release/woocommerce-sync` under `cargo run`), so
    // the hints run when pasted.
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "woocommerce-sync".to_string());
    println!();
    match service {
        Some(service) => {
            println!(
                "The web UI: {public_url} ({})",
                match &password {
                    Some(password) => format!("log in with the password {password}"),
                    None => "log in with the admin password of this database".to_string(),
                }
            );
            println!(
                "In another terminal, while this runs: {program} {bootstrap} log --connection {CONNECTION}"
            );
            println!("Press Ctrl-C to stop{}.", match throwaway {
                Some(_) => " (the demo's data is removed then; give --data-dir to keep it)",
                None => "",
            });
            super::serve::wait_for_signal().await;
            eprintln!("Stopping; finishing the jobs in flight…");
            let _ = stop.send(true);
            service
                .await
                .map_err(anyhow::Error::from)?
                .map_err(CliError::Failed)?;
        }
        None => match throwaway {
            Some(_) => println!(
                "The demo's data is removed now; to explore it afterwards, run the demo with --data-dir DIR."
            ),
            None => println!("Explore: {program} {bootstrap} log --connection {CONNECTION}"),
        },
    }
    store.close().await;
    drop(throwaway);
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The simulated ERPNext starts with empty warehouses and, as a real one, delivers no more than
/// it holds: the goods of the note's stock items are received first (a Material Receipt).
pub(super) async fn receive_goods(
    ctx: &ConnectionContext,
    note: &serde_json::Value,
) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for row in note["items"].as_array().into_iter().flatten() {
        let code = row["item_code"].as_str().unwrap_or_default();
        let item = ctx
            .erp
            .get_document("Item", code)
            .await
            .map_err(anyhow::Error::from)?;
        if item["is_stock_item"] == 1 {
            rows.push(serde_json::json!({"item_code": code, "qty": row["qty"],
                "basic_rate": 1, "t_warehouse": row["warehouse"]}));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    ctx.erp
        .insert::<serde_json::Value>(
            "Stock Entry",
            &serde_json::json!({"stock_entry_type": "Material Receipt", "docstatus": 1,
                "company": ctx.connection.company, "items": rows}),
        )
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// The other direction: one order is shipped in ERPNext (a Delivery Note with carrier and
/// tracking number) and the shop's order follows (completed, with a note the customer sees).
async fn ship_one_order(ctx: &ConnectionContext) -> Result<(), CliError> {
    let waiting: Vec<serde_json::Value> = ctx
        .erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name"])
                .filter("docstatus", "=", 1)
                .filter("status", "=", "To Deliver and Bill")
                .page(0, 1),
        )
        .await
        .map_err(anyhow::Error::from)?;
    let Some(sales_order) = waiting.first().and_then(|row| row["name"].as_str()) else {
        return Ok(());
    };
    let mut note = ctx
        .erp
        .call_method(
            "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note",
            &serde_json::json!({ "source_name": sales_order }),
        )
        .await
        .map_err(anyhow::Error::from)?;
    note["transporter_name"] = "DHL".into();
    note["lr_no"] = "JD014600006281234567".into();
    note["docstatus"] = 1.into();
    receive_goods(ctx, &note).await?;
    let note: serde_json::Value = ctx
        .erp
        .insert("Delivery Note", &note)
        .await
        .map_err(anyhow::Error::from)?;
    let written = StatusFlow::new(ctx).follow_sales_order(sales_order).await;
    println!();
    println!(
        "Shipped in ERPNext: Delivery Note {} (DHL, tracking JD014600006281234567) for {sales_order}.",
        note["name"].as_str().unwrap_or_default()
    );
    match (written.order_id, &written.outcome) {
        (Some(order_id), WriteBackOutcome::Written { status, notes, .. }) => println!(
            "  WooCommerce order {order_id} followed: status {}, {} order note(s).",
            status.as_deref().unwrap_or("unchanged"),
            notes.len()
        ),
        (_, outcome) => println!("  WooCommerce order not changed: {outcome:?}"),
    }
    Ok(())
}

/// Listens on `address`, or on a free port of the same host when that port is taken.
async fn bind(address: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => Ok(listener),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(address.ip(), 0))
                .await
                .map_err(|error| {
                    CliError::Usage(format!("cannot listen on {}: {error}", address.ip()))
                })?;
            println!(
                "{address} is taken; the demo listens on {} instead.",
                listener.local_addr().map_err(anyhow::Error::from)?
            );
            Ok(listener)
        }
        Err(error) => Err(CliError::Usage(format!(
            "cannot listen on {address}: {error}; choose another --listen address"
        ))),
    }
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
    for (erpnext, shop) in [
        ("To Bill", "completed"),
        ("Completed", "completed"),
        ("Cancelled", "cancelled"),
    ] {
        mappings
            .status_to_woocommerce
            .insert(erpnext.to_string(), shop.to_string());
    }
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
