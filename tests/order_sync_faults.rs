//! Exactly once under every fault both simulators inject: dropped responses
//! after commit, timeouts, 5xx, 429; reruns and two syncs at the same time.

mod common;

use common::spawn_world;
use woocommerce_sync::simulators::erpnext::Faults as ErpFaults;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;
use woocommerce_sync::sync::reconcile::reconcile;
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;

const ORDERS: usize = 240;

#[tokio::test]
async fn a_generated_shop_syncs_to_the_cent_without_faults() {
    let world = spawn_world(WooSimOptions {
        orders: ORDERS,
        seed_random: 11,
        ..WooSimOptions::default()
    })
    .await;
    let sync_ctx = world.context(8).await;
    let sync = OrderFlow::new(&sync_ctx);
    let summary = sync.poll(None, &|_, _| {}).await.unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    assert!(summary.created > ORDERS as u64 / 2, "{summary:?}");
    let report = reconcile(&sync_ctx).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.orders_checked, summary.created);
}

#[tokio::test]
async fn every_fault_leaves_exactly_one_sales_order_per_order() {
    let world = spawn_world(WooSimOptions {
        orders: ORDERS,
        seed_random: 12,
        ..WooSimOptions::default()
    })
    .await;
    // The contexts are prepared before the faults start: preparing is setup's check of the
    // sites, not the sync this test holds to exactly once.
    let first_ctx = world.context(6).await;
    let second_ctx = world.context(6).await;
    world.erp.set_faults(ErpFaults {
        latency_ms: 0,
        error_rate: 0.05,
        throttle_rate: 0.03,
        timeout_rate: 0.02,
        drop_rate: 0.10,
        ..ErpFaults::default()
    });
    let mut woo_faults = world.woo.faults();
    woo_faults.error_rate = 0.05;
    woo_faults.drop_rate = 0.05;
    world.woo.set_faults(woo_faults.clone());

    // Two syncs at once, then reruns until a run sees no failure.
    let first = OrderFlow::new(&first_ctx);
    let second = OrderFlow::new(&second_ctx);
    let (a, b) = tokio::join!(first.poll(None, &|_, _| {}), second.poll(None, &|_, _| {}));
    let mut failures = Vec::new();
    for result in [a, b] {
        match result {
            Ok(summary) => failures.push(summary.failed),
            Err(error) => eprintln!("a faulty poll stopped early: {error}"),
        }
    }
    let mut clean_run = false;
    for _ in 0..12 {
        let since = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0);
        match first.poll(since, &|_, _| {}).await {
            Ok(summary) if summary.failed == 0 => {
                clean_run = true;
                break;
            }
            Ok(summary) => failures.push(summary.failed),
            Err(error) => eprintln!("a faulty poll stopped early: {error}"),
        }
    }
    assert!(
        clean_run,
        "no clean run after 12 reruns; failures per run {failures:?}"
    );
    assert!(
        failures.iter().any(|count| *count > 0),
        "the faults were never felt: {failures:?}"
    );

    // Count with the faults off.
    world.erp.set_faults(ErpFaults::default());
    woo_faults.error_rate = 0.0;
    woo_faults.drop_rate = 0.0;
    world.woo.set_faults(woo_faults);
    let report = reconcile(&first_ctx).await.unwrap();
    assert!(
        report.duplicates.is_empty(),
        "duplicates: {:#?}",
        report.duplicates
    );
    assert!(
        report.missing_sales_orders.is_empty(),
        "missing: {:?}",
        report.missing_sales_orders
    );
    assert!(report.is_clean(), "{report:#?}");
    let by_order = world.sales_orders_by_order().await;
    assert_eq!(by_order.len() as u64, report.orders_checked);
    assert!(by_order
        .values()
        .all(|sales_orders| sales_orders.len() == 1));
}
