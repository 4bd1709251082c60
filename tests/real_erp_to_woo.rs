//! Real-system tier, ERPNext → WooCommerce: a paid order made in the real store is synced, then
//! delivered in ERPNext in two Delivery Notes (one of three, then the rest), and its progress is
//! written back after each step. The real pair (real ERPNext 15 + real WooCommerce) and the
//! simulators must end the same: the partial shipment leaves the order processing with a
//! customer note carrying carrier and tracking, the full one completes it, and a rerun writes
//! nothing. Skipped, and said so, when the real pair is not configured (see `tests/real_pair`).

mod real_pair;

use serde_json::{json, Value};
use woocommerce_sync::sync::erp_to_woo::write_back::{StatusFlow, WriteBackOutcome};

use real_pair::sides::{Accounts, Side};
use real_pair::{real_pair, run_tag};

/// What one step left on the shop's order, with the names each site gives its documents taken
/// out.
#[derive(Debug, PartialEq)]
struct Step {
    outcome: String,
    status: String,
    customer_notes: Vec<String>,
    delivery_notes_meta: usize,
}

async fn status_to_woocommerce(side: &mut Side) {
    let mut connection = side.connection.connection.clone();
    connection.mappings.status_to_woocommerce = [
        ("To Deliver", "processing"),
        ("To Deliver and Bill", "processing"),
        ("To Bill", "completed"),
        ("Completed", "completed"),
        ("Cancelled", "cancelled"),
    ]
    .into_iter()
    .map(|(erp, woo)| (erp.to_string(), woo.to_string()))
    .collect();
    side.store.update_connection(&connection).await.unwrap();
    side.connection = side.store.connection(&connection.name).await.unwrap();
}

/// Puts `qty` of `item` in the warehouse when ERPNext keeps stock of it (the real site's
/// Items are stock items, and negative stock is not allowed).
async fn stock_up(side: &Side, item: &str, qty: u32) {
    let found: Value = side.erp.get_document("Item", item).await.unwrap();
    if found["is_stock_item"] != 1 {
        return;
    }
    side.erp
        .insert::<Value>(
            "Stock Entry",
            &json!({
                "stock_entry_type": "Material Receipt", "company": side.connection.connection.company,
                "docstatus": 1,
                "items": [{"item_code": item, "qty": qty, "basic_rate": 5,
                           "t_warehouse": side.connection.connection.default_warehouse}]
            }),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: stock for {item}: {error}", side.label));
}

async fn deliver(side: &Side, sales_order: &str, qty: Option<u32>, tracking: &str) -> String {
    let mut note = side
        .erp
        .call_method(
            "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note",
            &json!({"source_name": sales_order}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: make_delivery_note: {error}", side.label));
    if let Some(qty) = qty {
        note["items"][0]["qty"] = json!(qty);
    }
    note["transporter_name"] = json!("DHL");
    note["lr_no"] = json!(tracking);
    note["docstatus"] = json!(1);
    let note: Value = side
        .erp
        .insert("Delivery Note", &note)
        .await
        .unwrap_or_else(|error| panic!("{}: Delivery Note: {error}", side.label));
    note["name"].as_str().unwrap().to_string()
}

async fn follow(side: &Side, sales_order: &str, order_id: u64, names: &[String]) -> Step {
    let ctx = side.context().await;
    let report = StatusFlow::new(&ctx).follow_sales_order(sales_order).await;
    let outcome = match &report.outcome {
        WriteBackOutcome::Written { status, .. } => format!("written, status {status:?}"),
        WriteBackOutcome::Unchanged => "unchanged".to_string(),
        WriteBackOutcome::NotOurs => "not ours".to_string(),
        WriteBackOutcome::Failed { reason, .. } => format!("failed: {reason}"),
    };
    let order = side.woo.get_order(order_id).await.unwrap();
    let mut customer_notes: Vec<String> = side
        .woo
        .list_order_notes(order_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|note| note.customer_note)
        .map(|note| {
            names
                .iter()
                .enumerate()
                .fold(note.note, |text, (index, name)| {
                    text.replace(name, &format!("<delivery note {index}>"))
                })
        })
        .collect();
    customer_notes.sort();
    let delivery_notes_meta = order
        .meta("erpnext_delivery_note")
        .and_then(Value::as_str)
        .map(|text| text.split(", ").filter(|name| !name.is_empty()).count())
        .unwrap_or(0);
    Step {
        outcome,
        status: order.status,
        customer_notes,
        delivery_notes_meta,
    }
}

/// The whole story on one side: sync, write back, deliver one of three, write back, deliver the
/// rest, write back, write back again.
async fn story(side: &Side, order_id: u64, item: &str) -> Vec<Step> {
    let observed = side.sync_and_observe(&[order_id]).await;
    assert_eq!(
        observed[0].outcome, "created",
        "{}: {observed:#?}",
        side.label
    );
    let sales_order = side
        .store
        .link(
            side.connection.id,
            "order",
            &order_id.to_string(),
            "Sales Order",
        )
        .await
        .unwrap()
        .unwrap()
        .erp_name;
    let mut steps = Vec::new();
    let mut names = Vec::new();
    steps.push(follow(side, &sales_order, order_id, &names).await);
    stock_up(side, item, 3).await;
    let tag = run_tag();
    names.push(deliver(side, &sales_order, Some(1), &format!("{tag}-1")).await);
    steps.push(follow(side, &sales_order, order_id, &names).await);
    names.push(deliver(side, &sales_order, None, &format!("{tag}-2")).await);
    steps.push(follow(side, &sales_order, order_id, &names).await);
    steps.push(follow(side, &sales_order, order_id, &names).await);
    // The poll (the backstop for lost webhooks) finds the connection's order and writes nothing.
    let ctx = side.context().await;
    let polled = StatusFlow::new(&ctx).poll(None).await.unwrap();
    assert_eq!(
        (polled.seen, polled.written, polled.failed),
        (1, 0, 0),
        "{}: {polled:?}",
        side.label
    );
    steps
}

#[tokio::test]
async fn a_delivery_in_erpnext_reaches_the_shop_the_same_on_the_simulators_and_the_real_systems() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let client = woo.client();
    let mug = real_pair::ensure_simple_product(&client, "WSYNC-RT-MUG", "12.50").await;
    let tag = run_tag();
    let made = client
        .create_order(&json!({
            "status": "processing", "set_paid": true, "payment_method": "bacs",
            "billing": {"first_name": "Ship", "last_name": format!("Back {tag}"),
                        "email": format!("ship.{tag}@example.test"),
                        "address_1": "1 Differential Way", "city": "Sacramento", "state": "CA",
                        "postcode": "95814", "country": "US"},
            "line_items": [{"product_id": mug, "quantity": 3}]
        }))
        .await
        .unwrap();
    let order = client
        .get_json(&format!("orders/{}", made.id))
        .await
        .unwrap();
    let name = format!("{tag}ship");
    let mut real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let mut simulated = Side::simulated(&name, &[(order, Vec::new())], &Accounts::new()).await;
    status_to_woocommerce(&mut real).await;
    status_to_woocommerce(&mut simulated).await;

    let on_real = story(&real, made.id, "WSYNC-RT-MUG").await;
    let on_sim = story(&simulated, made.id, "WSYNC-RT-MUG").await;
    assert_eq!(on_sim, on_real, "the simulators end as the real systems do");

    let partial = &on_real[1];
    assert_eq!(partial.status, "processing", "{on_real:#?}");
    assert_eq!(partial.customer_notes.len(), 1, "{on_real:#?}");
    assert!(partial.customer_notes[0].starts_with("Part of your order has shipped: 1 × "));
    assert!(partial.customer_notes[0].contains(&format!("Carrier: DHL. Tracking number: {tag}-1.")));
    let full = &on_real[2];
    assert_eq!(full.status, "completed", "{on_real:#?}");
    assert_eq!(full.delivery_notes_meta, 2);
    assert!(full
        .customer_notes
        .iter()
        .any(|note| note.starts_with("Your order has shipped: 2 × ")));
    assert_eq!(on_real[3].outcome, "unchanged", "{on_real:#?}");
}
