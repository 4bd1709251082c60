//! `woocommerce-sync bench --stock`: a catalogue of N linked products (the simulators' `CAT-…`
//! products and Items, as child processes adding a latency to every call), a first full push,
//! then a stock count changing a share of them and the push that is measured: write calls
//! against `ceil(changed / 100)`, time, and the engine's CPU per linked product.

use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use super::bench::{cpu_time, peak_rss_mb, round, Simulators};
use super::{print_json, CliError};
use crate::secrets::SecretKey;
use crate::simulators::erpnext;
use crate::simulators::woocommerce::generate::catalogue_sku;
use crate::store::Store;
use crate::sync::catalogue::flow::{CatalogueFlow, StockOptions};
use crate::sync::context::{CallSettings, ConnectionContext};

#[derive(Debug, Serialize)]
pub struct StockBenchReport {
    pub products: usize,
    pub linked: usize,
    pub changed: usize,
    /// Batch requests the measured push sent, and `ceil(changed / 100)`.
    pub write_calls: usize,
    pub expected_write_calls: usize,
    pub written: usize,
    /// All calls of the measured push (ERPNext's Bin read and its read of the Items sold in
    /// another unit included).
    pub api_calls: u64,
    pub seconds: f64,
    pub cpu_ms_per_product: f64,
    /// The first push (every product) and the link run, for scale.
    pub first_push_seconds: f64,
    pub first_push_write_calls: usize,
    pub link_seconds: f64,
    pub peak_rss_mb: f64,
    pub latency_ms: u64,
}

pub async fn run(
    products: usize,
    changed_percent: u32,
    latency_ms: u64,
    json: bool,
) -> Result<ExitCode, CliError> {
    if products == 0 || products > 200_000 || changed_percent > 100 || latency_ms > 10_000 {
        return Err(CliError::Usage(
            "use --products from 1 to 200000, --changed-percent from 0 to 100 and --latency-ms ≤ 10000".into(),
        ));
    }
    let catalogue = products.to_string();
    let simulators = Simulators::spawn(
        &["--catalogue", &catalogue],
        &["--catalogue", &catalogue],
        latency_ms,
        &format!("a catalogue of {products} products in both simulators"),
    )
    .await?;
    let directory = std::env::temp_dir().join(format!(
        "woocommerce-sync-bench-stock-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).map_err(anyhow::Error::from)?;
    let store = Store::open(
        &format!("sqlite://{}", directory.join("bench.db").display()),
        SecretKey::load_or_create(&directory)?,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let connection = super::demo::simulator_connection(
        "bench",
        format!("http://{}/", simulators.woocommerce)
            .parse()
            .map_err(anyhow::Error::from)?,
        format!("http://{}/", simulators.erpnext)
            .parse()
            .map_err(anyhow::Error::from)?,
        erpnext::DEFAULT_API_KEY,
        erpnext::DEFAULT_API_SECRET,
    );
    let mut connection = connection;
    connection.woocommerce_auth = crate::connection::WooAuth::Basic;
    let connection_id = store.insert_connection(&connection).await?;
    // The custom fields only (the stock push needs no Webhook).
    let settings = CallSettings::default();
    let erp = crate::sync::context::erpnext_client(&connection, &settings)
        .map_err(anyhow::Error::from)?;
    crate::sync::setup::install_custom_fields(&erp)
        .await
        .map_err(anyhow::Error::from)?;
    let ctx = ConnectionContext::prepare(
        store.clone(),
        store.connection_by_id(connection_id).await?,
        &settings,
        1,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let flow = CatalogueFlow::new(&ctx);

    let started = Instant::now();
    let report = flow
        .link_products(false)
        .await
        .map_err(anyhow::Error::from)?;
    let link_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let first = flow
        .push_stock(StockOptions::default(), &|_, _| {})
        .await
        .map_err(anyhow::Error::from)?;
    let first_push_seconds = started.elapsed().as_secs_f64();

    // A stock count that changes the first `changed` products (one Stock Reconciliation).
    let changed = products * changed_percent as usize / 100;
    if changed > 0 {
        let rows: Vec<serde_json::Value> = (1..=changed)
            .map(|index| {
                serde_json::json!({"item_code": catalogue_sku(index), "warehouse": "Stores - TC",
                    "qty": 100 + index % 50, "valuation_rate": 1})
            })
            .collect();
        erp.insert::<serde_json::Value>(
            "Stock Reconciliation",
            &serde_json::json!({"docstatus": 1, "items": rows}),
        )
        .await
        .map_err(anyhow::Error::from)?;
    }

    eprintln!("bench: pushing the changed stock…");
    let calls_before = ctx.woo.calls_made() + ctx.erp.calls_made();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let measured = flow
        .push_stock(StockOptions::default(), &|_, _| {})
        .await
        .map_err(anyhow::Error::from)?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu_before;
    let api_calls = ctx.woo.calls_made() + ctx.erp.calls_made() - calls_before;
    drop(simulators);
    store.close().await;
    let _ = std::fs::remove_dir_all(&directory);

    let linked = report.matched.len();
    let result = StockBenchReport {
        products,
        linked,
        changed,
        write_calls: measured.write_calls,
        expected_write_calls: changed.div_ceil(100),
        written: measured.written,
        api_calls,
        seconds: round(seconds, 3),
        cpu_ms_per_product: round(cpu.as_secs_f64() * 1000.0 / linked.max(1) as f64, 4),
        first_push_seconds: round(first_push_seconds, 2),
        first_push_write_calls: first.write_calls,
        link_seconds: round(link_seconds, 2),
        peak_rss_mb: round(peak_rss_mb(), 1),
        latency_ms,
    };
    if json {
        print_json(&result)?;
    } else {
        println!(
            "{} linked products, {} changed: {} write calls (ceil(changed/100) = {}), {} API calls, {:.3} s, {:.4} ms engine CPU per linked product",
            result.linked,
            result.changed,
            result.write_calls,
            result.expected_write_calls,
            result.api_calls,
            result.seconds,
            result.cpu_ms_per_product
        );
        println!(
            "first push of all: {} write calls in {:.2} s; link run {:.2} s; peak memory {:.1} MB; {} ms added to every call",
            result.first_push_write_calls,
            result.first_push_seconds,
            result.link_seconds,
            result.peak_rss_mb,
            result.latency_ms
        );
    }
    Ok(if measured.failed > 0 || measured.written != changed {
        eprintln!(
            "bench: {} written, {} failed, {changed} changed",
            measured.written, measured.failed
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
