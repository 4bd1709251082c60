//! Billing on the real store snapshot: every paid order gets one submitted Sales Invoice equal to
//! its total and one Payment Entry that leaves nothing outstanding; refunds become credit notes of
//! exactly the refunded amount; a cancelled, invoiced order is reversed once.

mod billing_common;
mod common;

use billing_common::{check_exactly_once, decimal, ledger, shop};
use common::{fixture_path, spawn_world};
use rust_decimal::Decimal;
use serde_json::json;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;
use woocommerce_sync::sync::mapping::is_paid;
use woocommerce_sync::sync::reconcile::reconcile;
use woocommerce_sync::sync::report::Attempt;
use woocommerce_sync::sync::report::NoRetries;
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;

#[tokio::test]
async fn the_snapshot_is_invoiced_paid_and_credited_exactly_once() {
    let world = spawn_world(WooSimOptions {
        load: Some(fixture_path("woocommerce-real/store-snapshot")),
        ..WooSimOptions::default()
    })
    .await;
    let sync_ctx = world.context(4).await;
    let sync = OrderFlow::new(&sync_ctx);
    let summary = sync.poll(None, &|_, _| {}).await.unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);

    let orders = shop(&world).await;
    let imported = ["processing", "on-hold", "completed"];
    let paid = orders
        .iter()
        .filter(|(order, _)| imported.contains(&order.status.as_str()) && is_paid(order))
        .count();
    assert!(paid > 70, "the snapshot has {paid} paid orders");
    assert_eq!(summary.invoices_created as usize, paid, "{summary:?}");
    assert_eq!(summary.payments_created as usize, paid, "{summary:?}");
    // Order 21 (completed) has a goodwill refund; 17 is on hold (not invoiced), 129 is in the trash.
    assert_eq!(summary.credit_notes_created, 1, "{summary:?}");

    let books = ledger(&world).await;
    let (invoices, payments, credit_notes, _) = check_exactly_once(&orders, &books);
    assert_eq!((invoices, payments, credit_notes), (paid, paid, 1));
    let goodwill = &books.credit_notes["shop:refund:24"][0];
    assert_eq!(decimal(&goodwill["grand_total"]), Decimal::new(-500, 2));
    let payment = &books.payments["shop:21"][0];
    assert_eq!(
        payment["reference_no"], "21",
        "no transaction id: the order number"
    );

    // Running again makes nothing new.
    let again = sync.poll(None, &|_, _| {}).await.unwrap();
    assert_eq!(
        (
            again.failed,
            again.invoices_created,
            again.payments_created,
            again.credit_notes_created
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
    let report = reconcile(&sync_ctx).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");

    // The on-hold bank transfer with a refunded mug is paid: invoice, payment, then a credit
    // note that returns exactly the mug and its two taxes.
    world
        .woo
        .update_order(17, &json!({"status": "processing"}))
        .unwrap();
    let order = sync_ctx.woo.get_order(17).await.unwrap();
    let reports = sync
        .sync_orders(vec![order], Attempt::first(), &NoRetries)
        .await
        .unwrap();
    let billing = &reports[0].billing;
    assert_eq!(
        (
            billing.invoices_created,
            billing.payments_created,
            billing.credit_notes_created
        ),
        (1, 1, 1),
        "{reports:?}"
    );
    let books = ledger(&world).await;
    let note = &books.credit_notes["shop:refund:28"][0];
    assert_eq!(decimal(&note["grand_total"]), Decimal::new(-1218, 2));
    let document = world
        .erp
        .document("Sales Invoice", note["name"].as_str().unwrap())
        .unwrap();
    let items = document["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0]["item_code"], "LAB-MUG");
    assert_eq!(decimal(&items[0]["qty"]), Decimal::NEGATIVE_ONE);
    let taxes: Vec<(String, Decimal)> = document["taxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["account_head"].as_str().unwrap().to_string(),
                decimal(&row["tax_amount"]),
            )
        })
        .collect();
    assert_eq!(
        taxes,
        vec![
            ("ST 6.25% - TC".to_string(), Decimal::new(-81, 2)),
            ("ST 4% - TC".to_string(), Decimal::new(-12, 2)),
        ]
    );
    let orders = shop(&world).await;
    check_exactly_once(&orders, &ledger(&world).await);

    // A paid, invoiced order cancelled in the shop: its invoice is reversed by one credit note
    // for the whole total; the Sales Order is closed (ERPNext cannot cancel a billed order).
    let (cancelled, _) = orders
        .iter()
        .find(|(order, refunds)| is_paid(order) && refunds.is_empty())
        .unwrap();
    world
        .woo
        .update_order(cancelled.id, &json!({"status": "cancelled"}))
        .unwrap();
    let order = sync_ctx.woo.get_order(cancelled.id).await.unwrap();
    let reports = sync
        .sync_orders(vec![order.clone()], Attempt::first(), &NoRetries)
        .await
        .unwrap();
    let outcome = serde_json::to_value(&reports[0]).unwrap();
    assert_eq!(outcome["outcome"], "reversed", "{outcome}");
    let key = format!("shop:cancel:{}", cancelled.id);
    let books = ledger(&world).await;
    assert_eq!(books.credit_notes[&key].len(), 1);
    assert_eq!(
        decimal(&books.credit_notes[&key][0]["grand_total"]),
        -cancelled.total
    );
    let sales_order = world
        .sales_orders_by_order()
        .await
        .remove(&cancelled.id)
        .unwrap();
    assert_eq!(sales_order.len(), 1);
    let sales_order = world
        .erp
        .document("Sales Order", sales_order[0]["name"].as_str().unwrap())
        .unwrap();
    assert_eq!(sales_order["status"], "Closed");
    let twice = sync
        .sync_orders(vec![order], Attempt::first(), &NoRetries)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&twice[0]).unwrap()["outcome"],
        "unchanged"
    );
    assert_eq!(ledger(&world).await.credit_notes[&key].len(), 1);
}

#[tokio::test]
async fn sync_payments_catches_up_on_invoiced_orders_and_reconcile_names_the_gaps() {
    let world = spawn_world(WooSimOptions {
        load: Some(fixture_path("woocommerce-real/store-snapshot")),
        ..WooSimOptions::default()
    })
    .await;
    // First with payments switched off: invoices only.
    let mut without_payments = world.connection.clone();
    without_payments.connection.record_payments = false;
    let sync_ctx = woocommerce_sync::sync::context::ConnectionContext::prepare(
        world.store.clone(),
        without_payments,
        &common::fast_calls(),
        4,
    )
    .await
    .unwrap()
    .handing_over_to(woocommerce_sync::jobs::Queue::new(
        world.store.clone(),
        woocommerce_sync::jobs::QueuePolicy::default(),
    ));
    let sync = OrderFlow::new(&sync_ctx);
    let summary = sync.poll(None, &|_, _| {}).await.unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    assert_eq!(summary.payments_created, 0);
    assert!(summary.invoices_created > 70);

    // With payments on, reconcile names every paid order without one.
    let sync_ctx = world.context(4).await;
    let report = reconcile(&sync_ctx).await.unwrap();
    assert_eq!(
        report.missing_payments.len() as u64,
        summary.invoices_created,
        "{report:#?}"
    );
    assert!(report.missing_invoices.is_empty(), "{report:#?}");

    // `sync payments` pays them, and nothing else.
    let billing = woocommerce_sync::sync::woo_to_erp::billing::Billing::new(&sync_ctx);
    let steps = woocommerce_sync::sync::woo_to_erp::billing::BillingSteps {
        invoices: false,
        payments: true,
        refunds: false,
    };
    let paid = billing.follow_all(steps, &|_, _| {}).await.unwrap();
    assert_eq!(paid.failed, 0, "{:#?}", paid.failures);
    assert_eq!(paid.payments_created, summary.invoices_created);
    assert_eq!((paid.invoices_created, paid.credit_notes_created), (0, 0));
    // Without payments the goodwill refund of order 21 did not wait for one: its credit note
    // was made in the first pass, and `sync refunds` finds nothing left to do.
    assert_eq!(summary.credit_notes_created, 1);
    let refunds = woocommerce_sync::sync::woo_to_erp::billing::BillingSteps {
        invoices: false,
        payments: false,
        refunds: true,
    };
    let credited = billing.follow_all(refunds, &|_, _| {}).await.unwrap();
    assert_eq!(credited.credit_notes_created, 0, "{credited:?}");
    let again = billing.follow_all(steps, &|_, _| {}).await.unwrap();
    assert_eq!(again.payments_created, 0, "{again:?}");
    let report = reconcile(&sync_ctx).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
    let books = ledger(&world).await;
    for (order, _) in shop(&world)
        .await
        .iter()
        .filter(|(order, _)| is_paid(order))
    {
        let payments = &books.payments[&format!("shop:{}", order.id)];
        assert_eq!(payments.len(), 1, "order {}", order.id);
    }
    // Paid after the credit note, order 21's payment is still what the buyer paid: the credit
    // note keeps its own outstanding (the buyer's credit of 5.00), the invoice is not reduced.
    assert_eq!(
        decimal(&books.payments["shop:21"][0]["paid_amount"]),
        Decimal::new(7066, 2)
    );
}

#[tokio::test]
async fn draft_invoices_wait_for_submission_and_a_cancellation_deletes_its_draft() {
    let world = spawn_world(WooSimOptions {
        load: Some(fixture_path("woocommerce-real/store-snapshot")),
        ..WooSimOptions::default()
    })
    .await;
    let mut drafts_only = world.connection.clone();
    drafts_only.connection.submit_invoices = false;
    let sync_ctx = woocommerce_sync::sync::context::ConnectionContext::prepare(
        world.store.clone(),
        drafts_only,
        &common::fast_calls(),
        4,
    )
    .await
    .unwrap()
    .handing_over_to(woocommerce_sync::jobs::Queue::new(
        world.store.clone(),
        woocommerce_sync::jobs::QueuePolicy::default(),
    ));
    let sync = OrderFlow::new(&sync_ctx);
    let summary = sync.poll(None, &|_, _| {}).await.unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    // Drafts are invoices; a draft cannot be paid or credited yet.
    assert!(summary.invoices_created > 70);
    assert_eq!(
        (summary.payments_created, summary.credit_notes_created),
        (0, 0)
    );
    let books = ledger(&world).await;
    assert!(books
        .invoices
        .values()
        .all(|invoices| invoices.len() == 1 && invoices[0]["docstatus"] == 0));

    // A paid order cancelled while its invoice is a draft: the draft goes, the Sales Order is
    // cancelled.
    let orders = shop(&world).await;
    let (cancelled, _) = orders
        .iter()
        .find(|(order, refunds)| is_paid(order) && refunds.is_empty())
        .unwrap();
    let draft = books.invoices[&cancelled.id][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    world
        .woo
        .update_order(cancelled.id, &json!({"status": "cancelled"}))
        .unwrap();
    let order = sync_ctx.woo.get_order(cancelled.id).await.unwrap();
    let reports = sync
        .sync_orders(vec![order], Attempt::first(), &NoRetries)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&reports[0]).unwrap()["outcome"],
        "cancelled",
        "{reports:?}"
    );
    assert!(world.erp.document("Sales Invoice", &draft).is_none());

    // Submitting switched on, `sync all` submits the drafts (not made again), then pays and
    // credits them.
    let sync_ctx = world.context(4).await;
    let summary = woocommerce_sync::sync::woo_to_erp::billing::Billing::new(&sync_ctx)
        .follow_all(
            woocommerce_sync::sync::woo_to_erp::billing::BillingSteps::ALL,
            &|_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    assert_eq!(summary.invoices_created, 0);
    assert!(summary.payments_created > 70);
    let log = world
        .store
        .query_log(&woocommerce_sync::store::LogFilter {
            connection_id: None,
            failed_only: false,
            object_kind: Some("refund".into()),
            object_id: Some("24".into()),
            limit: Some(50),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(summary.credit_notes_created, 1, "{summary:?}");
    // The sync log names the step and the document.
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].entry.action, "create_credit_note");
    assert!(log[0].entry.message.contains("ACC-SINV-"), "{log:#?}");
    let orders = shop(&world).await;
    let (invoices, payments, credit_notes, _) = check_exactly_once(&orders, &ledger(&world).await);
    assert_eq!(invoices as u64, summary.payments_created);
    assert_eq!(payments as u64, summary.payments_created);
    assert_eq!(credit_notes, 1);
    assert!(reconcile(&sync_ctx).await.unwrap().is_clean());
}
