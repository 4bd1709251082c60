//! `woocommerce-sync bench --erpnext-url`: the real-ERPNext bench, run through the binary against
//! the ERPNext simulator (it speaks the same API) with a tiny shop.

use serde_json::Value;
use woocommerce_sync::erpnext::{ErpClient, ErpConfig, ListQuery};
use woocommerce_sync::simulators::erpnext;

async fn bench(args: &[&str], api_secret: Option<&str>) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"));
    command
        .arg("bench")
        .args(args)
        .env_remove("WOOCOMMERCE_SYNC_API_KEY")
        .env_remove("WOOCOMMERCE_SYNC_API_SECRET");
    if let Some(secret) = api_secret {
        // As an operator keeps it out of shell history.
        command.env("WOOCOMMERCE_SYNC_API_SECRET", secret);
    }
    let output = command.output().await.expect("run woocommerce-sync bench");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_erpnext_bench_reports_both_rates_and_leaves_no_webhook_behind() {
    let site = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let url = site.base_url().to_string();
    let (code, stdout, stderr) = bench(
        &[
            "--erpnext-url",
            &url,
            "--api-key",
            site.api_key(),
            "--orders",
            "12",
            "--concurrency",
            "2",
            "--json",
        ],
        Some(site.api_secret()),
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    let rate = |pointer: &str| {
        report
            .pointer(pointer)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("no {pointer} in {report:#}"))
    };
    assert!(rate("/raw/first_sync/sales_orders_per_second") > 0.0);
    assert!(rate("/raw/sales_orders_only/sales_orders_per_second") > 0.0);
    assert!(rate("/sync/sales_orders_per_second") > 0.0);
    assert!(rate("/ratio") > 0.0);
    assert!(rate("/ratio_to_sales_orders_only") > 0.0);
    let created = report["sync"]["sales_orders_created"].as_u64().unwrap();
    assert!(created > 0, "{report:#}");
    assert_eq!(report["sync"]["failed"], 0, "{report:#}");
    assert_eq!(report["sync"]["sales_orders_in_erpnext"], created);
    // Both raw parts and the sync made the same orders' Sales Orders.
    assert_eq!(report["raw"]["first_sync"]["sales_orders"], created);
    assert_eq!(report["raw"]["sales_orders_only"]["sales_orders"], created);
    assert!(report["sync"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(
            |line| line["kind"] == "insert Sales Order" && line["calls"].as_u64() >= Some(created)
        ));

    // The connection's Webhooks were installed for the sync and are gone now.
    let connection = report["connection"].as_str().unwrap();
    assert!(connection.starts_with("bench-"), "{connection}");
    // Sales Order, and the catalogue's Stock Ledger Entry and Item Price.
    assert_eq!(report["webhooks"]["installed"], 3);
    assert_eq!(report["webhooks"]["removed"], 3);
    let client = ErpClient::new(ErpConfig::new(
        site.base_url().clone(),
        site.api_key(),
        site.api_secret(),
    ))
    .unwrap();
    let webhooks: Vec<Value> = client
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name", "request_url"])
                .all_rows(),
        )
        .await
        .unwrap();
    assert!(webhooks.is_empty(), "left behind: {webhooks:#?}");

    assert!(!stdout.contains(site.api_secret()) && !stderr.contains(site.api_secret()));
}

#[tokio::test]
async fn bad_bench_flags_are_refused_with_advice() {
    let (code, _, stderr) = bench(&["--company", "Test Company"], None).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--company is for a bench against a real ERPNext; add --erpnext-url"),
        "{stderr}"
    );

    let (code, _, stderr) = bench(
        &["--erpnext-url", "http://127.0.0.1:9", "--api-key", "k"],
        None,
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--erpnext-url needs --api-secret (or WOOCOMMERCE_SYNC_API_SECRET)"),
        "{stderr}"
    );

    let (code, _, stderr) = bench(
        &["--erpnext-url", "ftp://erp.example", "--api-key", "k"],
        Some("s"),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is not an http(s) site address"),
        "{stderr}"
    );

    let (code, _, stderr) = bench(
        &[
            "--erpnext-url",
            "http://127.0.0.1:9",
            "--api-key",
            "k",
            "--listing",
        ],
        Some("s"),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--listing times the WooCommerce client alone"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_bench_writes_every_delivery_back_once_and_counts_its_calls() {
    let (code, stdout, stderr) = bench(
        &[
            "--status",
            "--orders",
            "40",
            "--latency-ms",
            "0",
            "--concurrency",
            "4",
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    let number = |field: &str| {
        report[field]
            .as_f64()
            .unwrap_or_else(|| panic!("no {field} in {report:#}"))
    };
    assert!(number("delivered") > 0.0, "{report:#}");
    assert_eq!(number("updates"), number("delivered"), "{report:#}");
    assert_eq!(number("failed"), 0.0, "{report:#}");
    // Each update reads the order, its Delivery Notes and the new one; writes notes and status.
    assert!(number("erpnext_calls_per_update") >= 3.0, "{report:#}");
    assert!(number("woocommerce_calls_per_update") >= 3.0, "{report:#}");
    assert_eq!(
        number("rerun_updates"),
        0.0,
        "a rerun writes nothing: {report:#}"
    );
    assert!(number("rerun_calls_per_sales_order") < number("calls_per_update"));
}

/// `bench --serve`: a `serve` child process takes a flood of signed deliveries (each order twice)
/// and drains its queue; the report counts what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_flood_bench_acknowledges_every_delivery_and_drains_the_queue() {
    let (code, stdout, stderr) = bench(
        &[
            "--serve",
            "--orders",
            "40",
            "--latency-ms",
            "0",
            "--concurrency",
            "4",
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    let number = |field: &str| {
        report[field]
            .as_f64()
            .unwrap_or_else(|| panic!("no {field} in {report:#}"))
    };
    assert!(number("orders") > 30.0, "{report:#}");
    assert_eq!(number("deliveries"), 2.0 * number("orders"), "{report:#}");
    assert_eq!(number("orders_failed"), 0.0, "{report:#}");
    assert!(number("drain_seconds") >= number("acknowledge_seconds"));
    assert!(number("serve_peak_rss_mb") > 1.0, "{report:#}");
    assert_eq!(report["database"], "sqlite");

    let (code, _, stderr) = bench(&["--serve", "--listing"], None).await;
    assert_eq!(code, 2, "{stderr}");
}

/// `bench --stock` on a small catalogue: the measured push writes exactly the changed products
/// in ceil(changed / 100) batch calls, plus one Bin read and one read of the Items sold in
/// another unit than they are stocked in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_bench_writes_only_the_changed_products_in_batches_of_100() {
    let (code, stdout, stderr) = bench(
        &[
            "--stock",
            "--products",
            "1050",
            "--changed-percent",
            "20",
            "--latency-ms",
            "0",
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["linked"], 1050, "{report}");
    assert_eq!(report["changed"], 210);
    assert_eq!(report["written"], 210);
    assert_eq!(report["write_calls"], 3);
    assert_eq!(report["expected_write_calls"], 3);
    assert_eq!(report["api_calls"], 5);
    assert_eq!(report["first_push_write_calls"], 11);
    let (code, _, stderr) = bench(&["--stock", "--orders", "5"], None).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--stock measures the stock push"),
        "{stderr}"
    );
}

/// The default bench (invoices and payments on) counts its ERPNext calls by kind: one Sales Order
/// insert per Sales Order made, the billing documents of the paid orders, and together (with the
/// WooCommerce pages) the calls per order it reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_bench_counts_each_kind_of_erpnext_call() {
    let (code, stdout, stderr) =
        bench(&["--orders", "300", "--latency-ms", "0", "--json"], None).await;
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let orders = report["orders"].as_f64().unwrap();
    let kinds = report["erpnext_calls_per_order"].as_object().unwrap();
    let per_order = |kind: &str| kinds.get(kind).and_then(Value::as_f64).unwrap_or(0.0);
    let sales_orders = report["sales_orders_created"].as_f64().unwrap();
    assert!(sales_orders > 100.0, "{report:#}");
    assert!(
        (per_order("insert Sales Order") * orders - sales_orders).abs() < 1.0,
        "{report:#}"
    );
    let invoices = per_order("method make_sales_invoice");
    assert!(invoices > 0.3, "{report:#}");
    assert!(per_order("method get_payment_entry") > 0.3, "{report:#}");
    assert!(per_order("insert Sales Invoice") >= invoices, "{report:#}");
    let erpnext: f64 = kinds.values().filter_map(Value::as_f64).sum();
    let all = report["api_calls_per_order"].as_f64().unwrap();
    // The rest are WooCommerce's: its pages of 100 orders and the listing's checks.
    assert!(
        erpnext < all && all - erpnext < 0.1,
        "{erpnext} of {all}: {report:#}"
    );
}
