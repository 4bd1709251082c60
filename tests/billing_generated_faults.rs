//! Billing on a generated shop, clean and under every fault both simulators inject: after the
//! sync is rerun until nothing fails, each paid order has exactly one invoice and one payment,
//! each refund one credit note (and one refund payment when the gateway paid it back), and each
//! cancellation of an invoiced order one reversal.

mod billing_common;
mod common;

use billing_common::{check_exactly_once, ledger, shop};
use chrono::NaiveDate;
use common::spawn_world;
use serde_json::json;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::sync::mapping::is_paid;
use woocommerce_sync::sync::reconcile::reconcile;
use woocommerce_sync::sync::report::SyncSummary;
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;

/// Polls everything (not from the cursor) until a run has no failure, at most `rounds` times.
async fn sync_until_clean(world: &common::World, rounds: usize) -> Vec<SyncSummary> {
    let sync_ctx = world.context(6).await;
    let sync = OrderFlow::new(&sync_ctx);
    let since = NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .unwrap();
    let mut summaries = Vec::new();
    for _ in 0..rounds {
        match sync.poll(Some(since), &|_, _| {}).await {
            Ok(summary) => {
                let clean = summary.failed == 0;
                summaries.push(summary);
                if clean {
                    break;
                }
            }
            // A page read that failed through every retry: the next round reads it again.
            Err(_) => continue,
        }
    }
    summaries
}

#[tokio::test]
async fn a_generated_shop_is_billed_exactly_once() {
    let world = spawn_world(woocommerce::WooSimOptions {
        orders: 120,
        seed_random: 11,
        ..woocommerce::WooSimOptions::default()
    })
    .await;
    let summaries = sync_until_clean(&world, 3).await;
    let first = &summaries[0];
    assert_eq!(first.failed, 0, "{:#?}", first.failures);
    let orders = shop(&world).await;
    let books = ledger(&world).await;
    let (invoices, payments, credit_notes, refund_payments) = check_exactly_once(&orders, &books);
    let paid = orders.iter().filter(|(order, _)| is_paid(order)).count();
    assert!(paid > 20, "the generated shop has {paid} paid orders");
    assert_eq!(invoices, paid);
    assert_eq!(payments, paid);
    assert_eq!(first.invoices_created as usize, invoices);
    assert_eq!(first.credit_notes_created as usize, credit_notes);
    assert_eq!(first.refund_payments_created as usize, refund_payments);
    assert!(
        credit_notes > 0,
        "the seed gives some paid orders a goodwill refund"
    );
    assert!(
        refund_payments > 0,
        "some goodwill refunds went back through the gateway"
    );
    // A page writes its billing's pending links before its first create, for the inserts it
    // expects; on a clean run each became a finished link (one left over would cost a look-up by
    // key on every later pass).
    for doctype in ["Sales Order", "Sales Invoice", "Payment Entry"] {
        let links = world
            .store
            .links(world.connection.id, "order", doctype)
            .await
            .unwrap();
        let pending: Vec<&str> = links
            .iter()
            .filter(|link| link.erp_name.is_empty())
            .map(|link| link.woo_id.as_str())
            .collect();
        assert!(
            pending.is_empty(),
            "{doctype} links left pending: {pending:?}"
        );
    }
    assert_eq!(
        world
            .store
            .links(world.connection.id, "order", "Payment Entry")
            .await
            .unwrap()
            .len(),
        paid
    );
}

#[tokio::test]
async fn every_fault_still_gives_exactly_one_of_each() {
    let world = spawn_world(woocommerce::WooSimOptions {
        orders: 120,
        seed_random: 23,
        ..woocommerce::WooSimOptions::default()
    })
    .await;
    world.erp.set_faults(erpnext::Faults {
        latency_ms: 0,
        error_rate: 0.04,
        throttle_rate: 0.04,
        timeout_rate: 0.01,
        drop_rate: 0.06,
        ..erpnext::Faults::default()
    });
    world.woo.set_faults(woocommerce::Faults {
        error_rate: 0.03,
        throttle_rate: 0.03,
        drop_rate: 0.02,
        ..woocommerce::Faults::default()
    });
    let summaries = sync_until_clean(&world, 25).await;
    let last = summaries.last().unwrap();
    assert_eq!(
        last.failed,
        0,
        "still failing after {} rounds: {:#?}",
        summaries.len(),
        last.failures
    );
    assert!(
        summaries.iter().any(|summary| summary.failed > 0),
        "the faults made some attempt fail"
    );

    // Cancel some invoiced orders while the faults go on: each is reversed once.
    let orders = shop_without_faults(&world).await;
    let to_cancel: Vec<u64> = orders
        .iter()
        .filter(|(order, _)| is_paid(order))
        .map(|(order, _)| order.id)
        .take(5)
        .collect();
    for id in &to_cancel {
        world
            .woo
            .update_order(*id, &json!({"status": "cancelled"}))
            .unwrap();
    }
    let after_cancel = sync_until_clean(&world, 25).await;
    assert_eq!(
        after_cancel.last().unwrap().failed,
        0,
        "{:#?}",
        after_cancel.last().unwrap().failures
    );

    world.erp.set_faults(erpnext::Faults::default());
    world.woo.set_faults(woocommerce::Faults::default());
    let orders = shop(&world).await;
    let books = ledger(&world).await;
    let (invoices, payments, credit_notes, _) = check_exactly_once(&orders, &books);
    let paid = orders.iter().filter(|(order, _)| is_paid(order)).count();
    assert!(paid > 20);
    // The cancelled orders keep their invoice and payment; their reversal credits them.
    assert_eq!(invoices, paid + to_cancel.len());
    assert_eq!(payments, paid + to_cancel.len());
    assert!(credit_notes > 0);
    for id in &to_cancel {
        let key = format!("shop:cancel:{id}");
        let reversals = books.credit_notes.get(&key).cloned().unwrap_or_default();
        assert_eq!(reversals.len(), 1, "order {id}: {reversals:#?}");
        let sales_orders = world.sales_orders_by_order().await;
        let name = sales_orders[id][0]["name"].as_str().unwrap();
        let sales_order = world.erp.document("Sales Order", name).unwrap();
        assert_eq!(sales_order["status"], "Closed", "order {id}");
    }
    // Nothing else was created twice: one invoice per order, keys unique.
    for (key, notes) in &books.credit_notes {
        assert_eq!(notes.len(), 1, "{key}: {notes:#?}");
    }
    for (key, entries) in &books.payments {
        assert_eq!(entries.len(), 1, "{key}: {entries:#?}");
    }
    let sync_ctx = world.context(4).await;
    let report = reconcile(&sync_ctx).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
}

/// The shop as the API shows it, read with the faults paused.
async fn shop_without_faults(
    world: &common::World,
) -> Vec<(
    woocommerce_sync::woocommerce::types::Order,
    Vec<woocommerce_sync::woocommerce::types::Refund>,
)> {
    let faults = world.woo.faults();
    world.woo.set_faults(woocommerce::Faults::default());
    let orders = shop(world).await;
    world.woo.set_faults(faults);
    orders
}
