//! What one process sees when another process's insert lands between its read of the store's
//! links and its call to ERPNext: the document exists under our key, the store does not link it
//! yet. The step must find and link it, never conclude "nothing to do" and leave what follows it
//! undone (a lost credit note, seen once in a few dozen runs of two processes with a kill).

mod common;

use serde_json::{json, Value};
use sqlx::Connection as _;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;
use woocommerce_sync::sync::report::Attempt;
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;

use common::spawn_world;

#[tokio::test]
async fn a_payment_another_process_just_made_is_linked_and_the_refund_still_credited() {
    let world = spawn_world(WooSimOptions {
        orders: 40,
        seed_random: 5,
        ..WooSimOptions::default()
    })
    .await;
    // A paid order without refunds, in a status the connection imports.
    let order: Value = world
        .woo
        .orders()
        .into_iter()
        .find(|order| {
            ["processing", "completed"].contains(&order["status"].as_str().unwrap_or_default())
                && !order["date_paid"].is_null()
                && order["refunds"].as_array().map_or(true, Vec::is_empty)
        })
        .expect("a paid order in the generated shop");
    let id = order["id"].as_u64().unwrap();
    let ctx = world.context(2).await;
    let flow = OrderFlow::new(&ctx);
    let report = flow.sync_one(id, Attempt::first()).await.unwrap();
    assert!(report.unfinished().is_none(), "{report:?}");
    assert_eq!(world.erp.count("Payment Entry"), 1);

    // Another process made the Payment Entry a moment ago and has not linked it yet: as this
    // process sees it, the store holds no link for it.
    let database = format!("sqlite://{}", world.dir.path().join("sync.db").display());
    let mut sql = sqlx::SqliteConnection::connect(&database).await.unwrap();
    let forgotten = sqlx::query(
        "DELETE FROM links WHERE woo_kind = 'order' AND woo_id = $1 AND erp_doctype = 'Payment Entry'",
    )
    .bind(id.to_string())
    .execute(&mut sql)
    .await
    .unwrap();
    assert_eq!(forgotten.rows_affected(), 1);
    drop(sql);

    // Then the shop refunds part of the order (kept by the shop, not paid back by the gateway).
    let refund_id = id + 1_000_000;
    let refund = json!({
        "id": refund_id, "date_created": order["date_created"],
        "date_created_gmt": order["date_created_gmt"], "amount": "1.00",
        "reason": "Goodwill", "refunded_by": 1, "refunded_payment": false,
        "meta_data": [], "line_items": [], "shipping_lines": [], "tax_lines": [], "fee_lines": []
    });
    let mut refunded = order.clone();
    refunded["refunds"] = json!([{"id": refund_id, "reason": "Goodwill", "total": "-1.00"}]);
    refunded["date_modified"] = json!("2030-01-01T00:00:00");
    refunded["date_modified_gmt"] = json!("2030-01-01T00:00:00");
    world.woo.put_order(&refunded, &[refund]).unwrap();

    // A first attempt at the order, as a poll makes it: the payment step finds the entry under
    // its key and links it (no second one), so the refund's credit note is made.
    let report = flow.sync_one(id, Attempt::first()).await.unwrap();
    assert!(report.unfinished().is_none(), "{report:?}");
    assert_eq!(world.erp.count("Payment Entry"), 1, "no second payment");
    let payment = world
        .store
        .link(
            world.connection.id,
            "order",
            &id.to_string(),
            "Payment Entry",
        )
        .await
        .unwrap()
        .expect("the payment is linked again");
    assert!(!payment.erp_name.is_empty(), "{payment:?}");
    let credit_notes = world
        .store
        .link(
            world.connection.id,
            "refund",
            &refund_id.to_string(),
            "Sales Invoice",
        )
        .await
        .unwrap();
    assert!(
        credit_notes.is_some_and(|link| !link.erp_name.is_empty()),
        "the refund's credit note is made"
    );
    assert_eq!(
        world.erp.count("Sales Invoice"),
        2,
        "the invoice and one credit note"
    );
}
