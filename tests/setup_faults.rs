//! `setup` gets through a bad network in one run: dropped answers (after the write committed),
//! 5xx, 429 and hanging requests on both sides, and leaves everything installed once — every
//! custom field, one ERPNext Webhook, one WooCommerce webhook per topic — as a clean run does.

mod common;

use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::sync::context::{erpnext_client, woocommerce_client};
use woocommerce_sync::sync::setup::{missing_custom_fields, set_up, SetupOptions};

use common::{connection_for, fast_calls};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_gets_through_faults_on_both_sides_and_installs_everything_once() {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let connection = connection_for(&woo, &erp);
    let options = SetupOptions {
        calls: fast_calls(),
        ..SetupOptions::at("http://127.0.0.1:9/".parse().unwrap())
    };
    erp.set_faults(erpnext::Faults {
        drop_rate: 0.1,
        error_rate: 0.05,
        throttle_rate: 0.05,
        timeout_rate: 0.02,
        seed: Some(41),
        ..Default::default()
    });
    woo.set_faults(woocommerce::Faults {
        drop_rate: 0.1,
        error_rate: 0.05,
        throttle_rate: 0.05,
        timeout_rate: 0.02,
        seed: Some(43),
        ..Default::default()
    });

    let outcome = set_up(&connection, &options).await.unwrap_or_else(|error| {
        panic!(
            "setup gave up: {error} (fault seeds: ERPNext {}, WooCommerce {})",
            erp.fault_seed(),
            woo.fault_seed()
        )
    });
    assert!(outcome.missing.is_empty(), "{:?}", outcome.missing);
    // A create whose answer was dropped is found by the next pass, so it may read "unchanged";
    // every field is one or the other.
    let said = |line: &str| {
        outcome
            .report
            .created
            .iter()
            .chain(&outcome.report.unchanged)
            .any(|said| said.contains(line))
    };
    assert!(
        said("Sales Order.woocommerce_order_key"),
        "{}",
        outcome.report
    );
    assert!(
        outcome
            .report
            .unchanged
            .iter()
            .all(|line| !outcome.report.created.contains(line)),
        "nothing is both created and unchanged: {}",
        outcome.report
    );

    erp.set_faults(erpnext::Faults::default());
    woo.set_faults(woocommerce::Faults::default());
    let erp_client = erpnext_client(&connection, &fast_calls()).unwrap();
    assert_eq!(
        missing_custom_fields(&erp_client).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        erp.count("Webhook"),
        3,
        "three ERPNext Webhooks: Sales Order, Stock Ledger Entry, Item Price"
    );
    let hooks = woocommerce_client(&connection, &fast_calls())
        .unwrap()
        .list_webhooks()
        .await
        .unwrap();
    let mut topics: Vec<&str> = hooks.iter().map(|hook| hook.topic.as_str()).collect();
    topics.sort();
    let distinct = {
        let mut distinct = topics.clone();
        distinct.dedup();
        distinct
    };
    assert_eq!(topics, distinct, "one WooCommerce webhook per topic");
    assert!(topics.contains(&"order.updated"), "{topics:?}");

    // Run again on a calm network: there is nothing left to do.
    let again = set_up(&connection, &options).await.unwrap();
    assert!(!again.report.changed_anything(), "{}", again.report);
}
