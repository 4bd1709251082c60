//! Real-system tier, ERPNext → WooCommerce: a paid order made in the real store is synced, then
//! delivered in ERPNext in two Delivery Notes (one of three, then the rest), and its progress is
//! written back after each step. The real pair (real ERPNext 15 + real WooCommerce) and the
//! simulators must end the same: the partial shipment leaves the order processing with a
//! customer note carrying carrier and tracking, the full one completes it, and a rerun writes
//! nothing. An order made in the real ERPNext for the store appears there once, with ERPNext's
//! total, through a lost answer and the shop's echo too. Skipped, and said so, when the real pair is not configured (see `tests/real_pair`).

mod real_pair;

use serde_json::{json, Value};
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::sync::erp_to_woo::erpnext_orders::{
    ErpnextOrderFlow, ShopOrderOutcome, ShopOrderReport,
};
use woocommerce_sync::sync::erp_to_woo::write_back::{StatusFlow, WriteBackOutcome};
use woocommerce_sync::woocommerce::client::OrderQuery;
use woocommerce_sync::woocommerce::types::Order;

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
        .sales_order_of(order_id)
        .await
        .unwrap_or_else(|| panic!("{}: no Sales Order", side.label));
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
    let (order_id, order) =
        real_pair::paid_order(&client, "Ship", &format!("Back {tag}"), mug, 3).await;
    let name = format!("{tag}ship");
    let mut real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let mut simulated = Side::simulated(&name, &[(order, Vec::new())], &Accounts::new()).await;
    status_to_woocommerce(&mut real).await;
    status_to_woocommerce(&mut simulated).await;

    let on_real = story(&real, order_id, "WSYNC-RT-MUG").await;
    let on_sim = story(&simulated, order_id, "WSYNC-RT-MUG").await;
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

/// What one step of the ERPNext-born story left, with the names each side gives out taken out.
#[derive(Debug, PartialEq)]
struct BornStep {
    outcome: String,
    /// Shop orders carrying the Sales Order's key.
    shop_orders: usize,
    /// Submitted Sales Orders of the connection in ERPNext.
    sales_orders: usize,
    total: String,
    total_tax: String,
    status: String,
    lines: Vec<String>,
}

/// A phone order made in ERPNext: `item` × 2 at 12.50, freight 5.00 and 6% sales tax (31.50),
/// for a new buyer in New York (where the real store would add its 8.875%), drafted and
/// submitted as a user does, `woocommerce_store` naming the connection. The Item, when this
/// story makes it, is named as the order sync names it from the shop's product, so the stories
/// in this file end the same whichever of them makes it first.
async fn phone_order(side: &Side, item: &str) -> String {
    let connection = &side.connection.connection;
    if side
        .erp
        .get_optional::<Value>("Item", item)
        .await
        .unwrap()
        .is_none()
    {
        let _: Value = side
            .erp
            .insert(
                "Item",
                &json!({"item_code": item, "item_name": format!("woocommerce-sync test {item}"),
                        "item_group": "Products", "stock_uom": "Nos", "is_stock_item": 0}),
            )
            .await
            .unwrap_or_else(|error| panic!("{}: Item: {error}", side.label));
    }
    let tag = run_tag();
    let buyer = format!("Ada {}", connection.name);
    let customer: Value = side
        .erp
        .insert(
            "Customer",
            &json!({"customer_name": buyer, "customer_type": "Individual",
                    "customer_group": "Individual", "territory": "All Territories"}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Customer: {error}", side.label));
    let customer = customer["name"].as_str().unwrap().to_string();
    let address: Value = side
        .erp
        .insert(
            "Address",
            &json!({"address_title": buyer, "address_type": "Billing",
                    "address_line1": "1 Broadway", "city": "New York", "state": "NY",
                    "pincode": "10004", "country": "United States",
                    "email_id": format!("phone.{tag}@example.test"),
                    "links": [{"link_doctype": "Customer", "link_name": customer}]}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Address: {error}", side.label));
    let today = chrono::Utc::now().date_naive().to_string();
    let order: Value = side
        .erp
        .insert(
            "Sales Order",
            &json!({
                "customer": customer, "company": connection.company, "currency": "USD",
                "transaction_date": today, "delivery_date": today,
                "customer_address": address["name"], "woocommerce_store": connection.name,
                "items": [{"item_code": item, "qty": 2, "rate": 12.5,
                           "warehouse": connection.default_warehouse}],
                "taxes": [
                    {"charge_type": "Actual", "account_head": side.accounts["shipping"],
                     "description": "Freight", "tax_amount": 5.0},
                    {"charge_type": "On Net Total", "account_head": side.accounts["tax3"],
                     "description": "Sales tax 6%", "rate": 6.0}
                ]
            }),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Sales Order: {error}", side.label));
    let name = order["name"].as_str().unwrap().to_string();
    side.erp
        .submit("Sales Order", &name)
        .await
        .unwrap_or_else(|error| panic!("{}: submit: {error}", side.label));
    name
}

async fn born_step(
    side: &Side,
    outcome: String,
    sales_order: &str,
    since: chrono::NaiveDateTime,
) -> BornStep {
    let key = format!("{}:{sales_order}", side.connection.connection.name);
    let mut carrying: Vec<Order> = side
        .woo
        .list_all_orders(&OrderQuery::modified_since(since))
        .await
        .unwrap()
        .into_iter()
        .filter(|order| {
            order
                .meta("erpnext_sales_order_key")
                .and_then(Value::as_str)
                == Some(&key)
        })
        .collect();
    let rows: Vec<Value> = side
        .erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name"])
                .filter(
                    "woocommerce_store",
                    "=",
                    side.connection.connection.name.as_str(),
                )
                .filter("docstatus", "=", 1)
                .all_rows(),
        )
        .await
        .unwrap();
    let shop_orders = carrying.len();
    let order = carrying.pop().expect("the shop order");
    let raw = side
        .woo
        .get_json(&format!("orders/{}", order.id))
        .await
        .unwrap();
    let mut lines = Vec::new();
    for line in raw["line_items"].as_array().unwrap() {
        lines.push(format!(
            "item {} × {} = {} tax {}",
            line["sku"], line["quantity"], line["total"], line["total_tax"]
        ));
    }
    for line in raw["shipping_lines"].as_array().unwrap() {
        lines.push(format!(
            "shipping {} {} = {} tax {}",
            line["method_id"], line["method_title"], line["total"], line["total_tax"]
        ));
    }
    for line in raw["fee_lines"].as_array().unwrap() {
        lines.push(format!(
            "fee {} = {} tax {}",
            line["name"], line["total"], line["total_tax"]
        ));
    }
    lines.push(format!(
        "billing {} {} {}",
        raw["billing"]["city"], raw["billing"]["state"], raw["billing"]["country"]
    ));
    BornStep {
        outcome,
        shop_orders,
        sales_orders: rows.len(),
        total: raw["total"].as_str().unwrap_or_default().to_string(),
        total_tax: raw["total_tax"].as_str().unwrap_or_default().to_string(),
        status: raw["status"].as_str().unwrap_or_default().to_string(),
        lines: lines
            .into_iter()
            .map(|line| line.replace(&side_sku(side), "<sku>"))
            .collect(),
    }
}

fn side_sku(side: &Side) -> String {
    if side.woo_sim.is_some() {
        "SIM-001".to_string()
    } else {
        "WSYNC-RT-MUG".to_string()
    }
}

fn shop_outcome(report: &ShopOrderReport) -> String {
    match &report.outcome {
        ShopOrderOutcome::Created { status, total } => format!("created {status} {total}"),
        ShopOrderOutcome::Found => "found".to_string(),
        ShopOrderOutcome::Linked => "linked".to_string(),
        ShopOrderOutcome::NotOurs => "not ours".to_string(),
        ShopOrderOutcome::Failed { reason, .. } => format!("failed: {reason}"),
    }
}

/// The ERPNext-born story on one side: create, the shop's echo synced, a second service that
/// recorded the create as pending and lost the answer (it looks the shop up and finds the
/// order), the order flow on that service meeting the order without a link, and a rerun.
async fn born_story(side: &Side) -> Vec<BornStep> {
    let since = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10);
    let sales_order = phone_order(side, &side_sku(side)).await;
    let ctx = side.context().await;
    let mut steps = Vec::new();
    let created = ErpnextOrderFlow::new(&ctx).create_for(&sales_order).await;
    let order_id = created.order_id.expect("made in the shop");
    steps.push(born_step(side, shop_outcome(&created), &sales_order, since).await);
    // The shop's webhook for the new order: the order flow finds it linked.
    let echo = side.sync_and_observe(&[order_id]).await;
    steps.push(born_step(side, echo[0].outcome.clone(), &sales_order, since).await);
    // A service whose create answer was lost: its record is pending.
    let lost = side.on_a_fresh_store().await;
    lost.store
        .start_erpnext_order(lost.connection.id, &sales_order)
        .await
        .unwrap();
    // Its order flow meets the shop order before anything links it: linked, not imported.
    let adopted = lost.sync_and_observe(&[order_id]).await;
    steps.push(born_step(side, adopted[0].outcome.clone(), &sales_order, since).await);
    let lost_ctx = lost.context().await;
    let found = ErpnextOrderFlow::new(&lost_ctx)
        .create_for(&sales_order)
        .await;
    assert_eq!(found.order_id, Some(order_id), "{}: {found:?}", side.label);
    steps.push(born_step(side, shop_outcome(&found), &sales_order, since).await);
    let again = ErpnextOrderFlow::new(&ctx).create_for(&sales_order).await;
    steps.push(born_step(side, shop_outcome(&again), &sales_order, since).await);
    steps
}

#[tokio::test]
async fn an_order_made_in_erpnext_appears_once_in_the_shop_with_its_total_the_same_on_the_simulators_and_the_real_systems(
) {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    real_pair::ensure_simple_product(&woo.client(), "WSYNC-RT-MUG", "12.50").await;
    let name = format!("{}born", run_tag());
    let mut real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let mut simulated = Side::simulated(&name, &[], &Accounts::new()).await;
    status_to_woocommerce(&mut real).await;
    status_to_woocommerce(&mut simulated).await;

    let on_real = born_story(&real).await;
    let on_sim = born_story(&simulated).await;
    assert_eq!(on_sim, on_real, "the simulators end as the real systems do");

    let made = &on_real[0];
    assert_eq!(made.outcome, "created processing 31.50", "{on_real:#?}");
    assert_eq!(
        (made.total.as_str(), made.total_tax.as_str()),
        ("31.50", "0.00")
    );
    assert_eq!(
        on_real
            .iter()
            .map(|step| step.outcome.as_str())
            .collect::<Vec<_>>(),
        [
            "created processing 31.50",
            "unchanged",
            "found",
            "found",
            "linked"
        ]
    );
    for step in &on_real {
        assert_eq!(
            (step.shop_orders, step.sales_orders),
            (1, 1),
            "{on_real:#?}"
        );
    }
}
