//! Real-system tier, catalogue: a product made in the store and an Item of the same SKU in
//! ERPNext are matched by the link run; a Stock Reconciliation (a stock count) in ERPNext reaches
//! the store's stock through the stock push, a second count changes it again, and a push with
//! nothing changed writes nothing; the same count reaches the store through the running service
//! (the catalogue's Webhook, one queued pass). The real pair and the simulators must end the same. Skipped,
//! and said so, when the real pair is not configured (see `tests/real_pair`).

mod common;
mod real_pair;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use woocommerce_sync::app::{Service, ServiceOptions};
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::store::ProductLink;
use woocommerce_sync::sync::catalogue::flow::{CatalogueFlow, StockOptions, LINKED_CURSOR};
use woocommerce_sync::sync::setup::{install, CatalogueWatch, SetupPlan};

use real_pair::sides::{Accounts, Side};
use real_pair::{real_pair, run_tag};

/// What one step left: quantities written by the push, and the store's stock afterwards.
#[derive(Debug, PartialEq)]
struct Step {
    written: usize,
    failed: usize,
    stock_quantity: Option<i64>,
    stock_status: String,
}

async fn count_stock(side: &Side, item: &str, qty: i64) {
    let connection = &side.connection.connection;
    let mut count = json!({
        "purpose": "Stock Reconciliation", "company": connection.company, "docstatus": 1,
        "items": [{"item_code": item, "warehouse": connection.default_warehouse,
                   "qty": qty, "valuation_rate": 5}]
    });
    let Err(error) = side
        .erp
        .insert::<Value>("Stock Reconciliation", &count)
        .await
    else {
        return;
    };
    // A site without any stock yet (a freshly installed lab) takes its first count as the
    // opening stock, which books against an asset or liability account.
    if !error.to_string().contains("OpeningEntryAccountError") {
        panic!("{}: count {item}: {error}", side.label);
    }
    count["purpose"] = json!("Opening Stock");
    count["expense_account"] = json!("Temporary Opening - TC");
    side.erp
        .insert::<Value>("Stock Reconciliation", &count)
        .await
        .unwrap_or_else(|error| panic!("{}: opening count {item}: {error}", side.label));
}

/// Links `sku` alone. The lab is shared: the link run only reads (a dry run), and only this
/// run's product is stored as linked, so no other product's stock or price is written.
async fn link_only(side: &Side, flow: &CatalogueFlow<'_>, sku: &str) -> ProductLink {
    let report = flow.link_products(true).await.unwrap();
    let link = report
        .matched
        .iter()
        .find(|link| link.item_code == sku)
        .unwrap_or_else(|| panic!("{}: {sku} is not linked: {report:?}", side.label));
    let link = ProductLink {
        pushed_stock: None,
        ..link.clone()
    };
    side.store
        .add_product_links(side.connection.id, std::slice::from_ref(&link))
        .await
        .unwrap();
    link
}

async fn story(side: &Side, sku: &str) -> Vec<Step> {
    side.erp
        .insert::<Value>(
            "Item",
            &json!({"item_code": sku, "item_name": format!("woocommerce-sync catalogue {sku}"),
                    "item_group": "Products", "stock_uom": "Nos"}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item {sku}: {error}", side.label));
    let product = side
        .woo
        .create_product(&json!({
            "name": format!("woocommerce-sync catalogue {sku}"), "type": "simple", "sku": sku,
            "regular_price": "9.00", "manage_stock": true, "stock_quantity": 0,
        }))
        .await
        .unwrap_or_else(|error| panic!("{}: product {sku}: {error}", side.label));
    let ctx = side.context().await;
    let flow = CatalogueFlow::new(&ctx);
    // An Item made without saying keeps stock ("Maintain Stock" is on by default): it is linked
    // as a stock item on both.
    let link = link_only(side, &flow, sku).await;
    assert_eq!(
        (link.product_id, link.variation_id, link.is_stock_item),
        (product.id, 0, true),
        "{}",
        side.label
    );
    let mut steps = Vec::new();
    for count in [Some(10), Some(4), None] {
        if let Some(qty) = count {
            count_stock(side, sku, qty).await;
        }
        let summary = flow
            .push_stock(StockOptions::default(), &|_, _| {})
            .await
            .unwrap_or_else(|error| panic!("{}: push: {error}", side.label));
        let shown = side.woo.get_product(product.id).await.unwrap();
        steps.push(Step {
            written: summary.written,
            failed: summary.failed,
            stock_quantity: shown.stock_quantity,
            stock_status: shown.stock_status,
        });
    }
    // A count that changes nothing is refused on both.
    let connection = &side.connection.connection;
    let unchanged = side
        .erp
        .insert::<Value>(
            "Stock Reconciliation",
            &json!({
                "purpose": "Stock Reconciliation", "company": connection.company, "docstatus": 1,
                "items": [{"item_code": sku, "warehouse": connection.default_warehouse,
                           "qty": 4, "valuation_rate": 5}]
            }),
        )
        .await
        .expect_err("a count that changes nothing");
    assert!(
        unchanged
            .to_string()
            .contains("None of the items have any change in quantity or value"),
        "{}: {unchanged}",
        side.label
    );
    steps
}

#[tokio::test]
async fn a_stock_count_in_erpnext_reaches_the_store_as_on_the_simulators() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let sku = format!("WSYNC-CAT-{}", run_tag());
    let simulated = Side::simulated("catalogue", &[], &Accounts::new()).await;
    let real = Side::real(&format!("cat{}", run_tag()), &erp, &woo, &Accounts::new()).await;
    let expected = story(&simulated, &sku).await;
    assert_eq!(
        expected,
        [
            Step {
                written: 1,
                failed: 0,
                stock_quantity: Some(10),
                stock_status: "instock".into()
            },
            Step {
                written: 1,
                failed: 0,
                stock_quantity: Some(4),
                stock_status: "instock".into()
            },
            Step {
                written: 0,
                failed: 0,
                stock_quantity: Some(4),
                stock_status: "instock".into()
            },
        ]
    );
    assert_eq!(story(&real, &sku).await, expected);
}

/// What the store shows of a product's prices after a step.
#[derive(Debug, PartialEq)]
struct Priced {
    written: usize,
    regular_price: Value,
    sale_price: Value,
    price: Value,
    on_sale: Value,
    date_on_sale_from: Value,
    date_on_sale_to: Value,
}

/// A product of `sku` in the store and its Item in ERPNext, priced 12.5 in the connection's
/// price list and on sale at 9.9 from yesterday for ten days in `sale_list`, which the connection
/// takes its sale prices from. Answers the two Item Prices and the product's id.
async fn priced_product(side: &mut Side, sku: &str, sale_list: &str) -> (Value, Value, u64) {
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    side.erp
        .insert::<Value>(
            "Price List",
            &json!({"price_list_name": sale_list, "currency": "USD", "selling": 1}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Price List: {error}", side.label));
    let mut connection = side.connection.connection.clone();
    connection.mappings.catalogue.sale_price_list = Some(sale_list.to_string());
    side.store.update_connection(&connection).await.unwrap();
    side.connection = side.store.connection(&connection.name).await.unwrap();
    side.erp
        .insert::<Value>(
            "Item",
            &json!({"item_code": sku, "item_name": format!("woocommerce-sync prices {sku}"),
                    "item_group": "Products", "stock_uom": "Nos", "is_stock_item": 0}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item {sku}: {error}", side.label));
    let product = side
        .woo
        .create_product(&json!({
            "name": format!("woocommerce-sync prices {sku}"), "type": "simple", "sku": sku,
            "regular_price": "1.00",
        }))
        .await
        .unwrap_or_else(|error| panic!("{}: product {sku}: {error}", side.label));
    let regular: Value = side
        .erp
        .insert(
            "Item Price",
            &json!({"item_code": sku, "price_list": connection.price_list, "price_list_rate": 12.5}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: regular price: {error}", side.label));
    let sale: Value = side
        .erp
        .insert(
            "Item Price",
            &json!({"item_code": sku, "price_list": sale_list, "price_list_rate": 9.9,
                    "valid_from": day(-1), "valid_upto": day(10)}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: sale price: {error}", side.label));
    (regular, sale, product.id)
}

/// What the store shows of `product` after a pass that wrote `written` products.
async fn priced(side: &Side, product: u64, written: usize) -> Priced {
    let shown = side
        .woo
        .get_json(&format!("products/{product}"))
        .await
        .unwrap();
    Priced {
        written,
        regular_price: shown["regular_price"].clone(),
        sale_price: shown["sale_price"].clone(),
        price: shown["price"].clone(),
        on_sale: shown["on_sale"].clone(),
        date_on_sale_from: shown["date_on_sale_from"].clone(),
        date_on_sale_to: shown["date_on_sale_to"].clone(),
    }
}

async fn price_story(side: &mut Side, sku: &str, sale_list: &str) -> Vec<Priced> {
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let (regular, sale, product) = priced_product(side, sku, sale_list).await;
    // A validity that ends before it starts is refused on both.
    let backwards = side
        .erp
        .insert::<Value>(
            "Item Price",
            &json!({"item_code": sku, "price_list": sale_list, "price_list_rate": 8,
                    "valid_from": day(5), "valid_upto": day(1)}),
        )
        .await
        .expect_err("valid_upto before valid_from");
    assert!(
        backwards.to_string().contains("must be after")
            && backwards.to_string().contains("InvalidDates"),
        "{}: {backwards}",
        side.label
    );
    let ctx = side.context().await;
    let flow = CatalogueFlow::new(&ctx);
    link_only(side, &flow, sku).await;
    let name = |doc: &Value| doc["name"].as_str().unwrap().to_string();
    let mut steps = Vec::new();
    for step in 0..4 {
        match step {
            1 => {
                side.erp
                    .update(
                        "Item Price",
                        &name(&regular),
                        &json!({"price_list_rate": 14}),
                    )
                    .await
                    .unwrap_or_else(|error| panic!("{}: new price: {error}", side.label));
            }
            2 => {
                side.erp
                    .update(
                        "Item Price",
                        &name(&sale),
                        &json!({"valid_from": day(-10), "valid_upto": day(-2)}),
                    )
                    .await
                    .unwrap_or_else(|error| panic!("{}: end the sale: {error}", side.label));
            }
            _ => {}
        }
        let summary = flow
            .push_prices(StockOptions::default(), &|_, _| {})
            .await
            .unwrap_or_else(|error| panic!("{}: push prices: {error}", side.label));
        assert_eq!(summary.failed, 0, "{}: {:?}", side.label, summary.failures);
        steps.push(priced(side, product, summary.written).await);
    }
    steps
}

#[tokio::test]
async fn an_item_price_and_a_sale_in_erpnext_reach_the_store_as_on_the_simulators() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let sku = format!("WSYNC-PRICE-{}", run_tag());
    let sale_list = format!("WSYNC Sale {}", run_tag());
    let mut simulated = Side::simulated("prices", &[], &Accounts::new()).await;
    let mut real = Side::real(&format!("pri{}", run_tag()), &erp, &woo, &Accounts::new()).await;
    let expected = price_story(&mut simulated, &sku, &sale_list).await;
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    assert_eq!(
        expected[0],
        Priced {
            written: 1,
            regular_price: json!("12.5"),
            sale_price: json!("9.9"),
            price: json!("9.9"),
            on_sale: json!(true),
            date_on_sale_from: json!(format!("{}T00:00:00", day(-1))),
            date_on_sale_to: json!(format!("{}T23:59:59", day(10))),
        }
    );
    assert_eq!(
        (
            &expected[1].written,
            &expected[1].regular_price,
            &expected[1].price
        ),
        (&1, &json!("14"), &json!("9.9"))
    );
    assert_eq!(
        (
            &expected[2].written,
            &expected[2].sale_price,
            &expected[2].price,
            &expected[2].on_sale
        ),
        (&1, &json!(""), &json!("14"), &json!(false))
    );
    assert_eq!(expected[3].written, 0);
    let observed = price_story(&mut real, &sku, &sale_list).await;
    assert_eq!(observed, expected);
}

/// The scheduled price pass over a product on sale: the first pass pushes the regular and sale
/// prices; the sale's Item Price is then deleted (a sale ended early), and the next pass finds
/// the deletion and clears the sale; a third pass writes nothing.
async fn deleted_sale_story(side: &mut Side, sku: &str, sale_list: &str) -> Vec<Priced> {
    let (_, sale, product) = priced_product(side, sku, sale_list).await;
    let ctx = side.context().await;
    let flow = CatalogueFlow::new(&ctx);
    link_only(side, &flow, sku).await;
    side.store
        .set_cursor(side.connection.id, LINKED_CURSOR, "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let mut steps = Vec::new();
    for step in 0..3 {
        if step == 1 {
            let name = sale["name"].as_str().unwrap();
            side.erp
                .delete("Item Price", name)
                .await
                .unwrap_or_else(|error| panic!("{}: delete the sale: {error}", side.label));
            common::price_pass_ran_before_deleting(
                &side.erp,
                &side.store,
                side.connection.id,
                name,
            )
            .await;
        }
        let summary = flow
            .push_changed_prices()
            .await
            .unwrap_or_else(|error| panic!("{}: price pass: {error}", side.label));
        assert_eq!(summary.failed, 0, "{}: {:?}", side.label, summary.failures);
        steps.push(priced(side, product, summary.written).await);
    }
    steps
}

#[tokio::test]
async fn a_sale_ended_by_deleting_its_item_price_leaves_the_store_as_on_the_simulators() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let sku = format!("WSYNC-DELPRICE-{}", run_tag());
    let sale_list = format!("WSYNC Ended {}", run_tag());
    let mut simulated = Side::simulated("deleted-sale", &[], &Accounts::new()).await;
    let mut real = Side::real(&format!("del{}", run_tag()), &erp, &woo, &Accounts::new()).await;
    let expected = deleted_sale_story(&mut simulated, &sku, &sale_list).await;
    let summary = |priced: &Priced| {
        (
            priced.written,
            priced.regular_price.clone(),
            priced.sale_price.clone(),
            priced.on_sale.clone(),
        )
    };
    assert_eq!(
        expected.iter().map(summary).collect::<Vec<_>>(),
        [
            (1, json!("12.5"), json!("9.9"), json!(true)),
            (1, json!("12.5"), json!(""), json!(false)),
            (0, json!("12.5"), json!(""), json!(false)),
        ]
    );
    let observed = deleted_sale_story(&mut real, &sku, &sale_list).await;
    assert_eq!(observed, expected);
}

/// Removes the Webhooks installed for the connection's service (a Webhook left pointing at a
/// receiver that is gone costs the real site's worker seconds per delivery).
async fn remove_erpnext_webhooks(erp: &woocommerce_sync::erpnext::ErpClient, connection: &str) {
    let hooks: Vec<Value> = erp
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name"])
                .filter(
                    "request_url",
                    "like",
                    format!("%/webhooks/erpnext/{connection}?%"),
                )
                .all_rows(),
        )
        .await
        .unwrap_or_default();
    for hook in hooks {
        let _ = erp
            .delete("Webhook", hook["name"].as_str().unwrap_or_default())
            .await;
    }
}

/// The service with the catalogue's ERPNext Webhooks pointing at it: a stock count in ERPNext is
/// delivered as a Stock Ledger Entry, queues the stock pass, and the pass writes the store's
/// stock. Answers the topic delivered and the store's stock after the job ran.
async fn served_story(side: &Side, sku: &str) -> (String, Option<i64>) {
    side.erp
        .insert::<Value>(
            "Item",
            &json!({"item_code": sku, "item_name": format!("woocommerce-sync served {sku}"),
                    "item_group": "Products", "stock_uom": "Nos"}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item {sku}: {error}", side.label));
    let product = side
        .woo
        .create_product(&json!({
            "name": format!("woocommerce-sync served {sku}"), "type": "simple", "sku": sku,
            "regular_price": "9.00", "manage_stock": true, "stock_quantity": 0,
        }))
        .await
        .unwrap_or_else(|error| panic!("{}: product {sku}: {error}", side.label));
    let connection = &side.connection.connection;
    // Only this run's product is linked: the pass writes nothing else on the shared store.
    side.store
        .add_product_links(
            side.connection.id,
            &[ProductLink {
                item_code: sku.to_string(),
                product_id: product.id,
                variation_id: 0,
                is_stock_item: true,
                pushed_stock: Some(0.into()),
                pushed_prices: None,
            }],
        )
        .await
        .unwrap();
    // As a link run leaves it: the catalogue is in use (the run itself would link every match on
    // the shared store).
    side.store
        .set_cursor(side.connection.id, LINKED_CURSOR, "2026-01-01T00:00:00Z")
        .await
        .unwrap();
    let service = Arc::new(Service::new(
        side.store.clone(),
        &SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
        "admin password for the tier",
        ServiceOptions {
            poll_interval: None,
            calls: real_pair::sides::calls(),
            ..ServiceOptions::default()
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base: url::Url = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let router = service.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    install(
        &side.erp,
        &SetupPlan {
            connection_name: connection.name.clone(),
            webhook_base_url: base
                .join(&format!("webhooks/erpnext/{}", connection.name))
                .unwrap(),
            webhook_secret: connection.credentials.webhook_secret.clone(),
            update_webhook_secrets: false,
            catalogue: Some(CatalogueWatch::of(connection)),
        },
    )
    .await
    .unwrap_or_else(|error| panic!("{}: install the Webhooks: {error}", side.label));
    count_stock(side, sku, 6).await;
    // The real site's worker delivers in the background (about a second per delivery, other
    // runs' deliveries queued before ours).
    let deadline = Instant::now() + Duration::from_secs(180);
    let topic = loop {
        let events = side
            .store
            .recent_inbound(side.connection.id, 200)
            .await
            .unwrap();
        let ours = events.iter().find(|event| {
            serde_json::from_str::<Value>(&event.body)
                .is_ok_and(|body| body["item_code"] == json!(sku))
        });
        if let Some(event) = ours {
            break event.topic.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{}: no stock move of {sku} reached the service",
            side.label
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let drained = service.drain_jobs().await.unwrap();
    server.abort();
    assert_eq!(drained.parked, 0, "{}", side.label);
    let shown = side.woo.get_product(product.id).await.unwrap();
    (topic, shown.stock_quantity)
}

#[tokio::test]
async fn a_stock_count_in_erpnext_reaches_the_store_through_the_services_webhook_as_on_the_simulators(
) {
    let sku = format!("WSYNC-SRV-{}", run_tag());
    let simulated = Side::simulated("served", &[], &Accounts::new()).await;
    let expected = served_story(&simulated, &sku).await;
    assert_eq!(expected, ("Stock Ledger Entry".to_string(), Some(6)));
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let name = format!("srv{}", run_tag());
    let real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let cleanup = real.erp.clone();
    let outcome = tokio::spawn(async move { served_story(&real, &sku).await }).await;
    remove_erpnext_webhooks(&cleanup, &name).await;
    match outcome {
        Ok(seen) => assert_eq!(seen, expected, "simulators (right), real systems (left)"),
        Err(failure) => std::panic::resume_unwind(failure.into_panic()),
    }
}

/// What an item sold in boxes of 12 showed after each step.
#[derive(Debug, PartialEq)]
enum BoxStep {
    /// A stock or price push: entries written, and the store's quantity and price after it.
    Pushed {
        written: usize,
        stock_quantity: Option<i64>,
        regular_price: Value,
    },
    /// The shop order synced: its Sales Order row's unit, conversion and stock quantity, and
    /// what the Bin reserves in stock units.
    Ordered {
        outcome: String,
        uom: String,
        conversion_factor: Value,
        stock_qty: Value,
        reserved_qty: Value,
    },
}

/// An Item stocked in pieces (`Nos`) with a Default Sales UOM `Box` of 12 and a price per piece;
/// 100 pieces counted; then the stock and price pushes, the shop order for 2 (`order_id`, made
/// in `product` when given, else the product is made here) synced, and the stock pushed again.
async fn boxed_story(side: &Side, sku: &str, product: Option<u64>, order_id: u64) -> Vec<BoxStep> {
    let connection = &side.connection.connection;
    side.erp
        .insert::<Value>(
            "Item",
            &json!({"item_code": sku, "item_name": format!("woocommerce-sync boxed {sku}"),
                    "item_group": "Products", "stock_uom": "Nos", "sales_uom": "Box",
                    "uoms": [{"uom": "Box", "conversion_factor": 12}]}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item {sku}: {error}", side.label));
    side.erp
        .insert::<Value>(
            "Item Price",
            &json!({"item_code": sku, "price_list": connection.price_list, "uom": "Nos",
                    "price_list_rate": 2.5}),
        )
        .await
        .unwrap_or_else(|error| panic!("{}: Item Price {sku}: {error}", side.label));
    let product = match product {
        Some(id) => id,
        None => {
            side.woo
                .create_product(&json!({
                    "name": format!("woocommerce-sync boxed {sku}"), "type": "simple", "sku": sku,
                    "regular_price": "1.00", "manage_stock": true, "stock_quantity": 0,
                }))
                .await
                .unwrap_or_else(|error| panic!("{}: product {sku}: {error}", side.label))
                .id
        }
    };
    let ctx = side.context().await;
    let flow = CatalogueFlow::new(&ctx);
    link_only(side, &flow, sku).await;
    count_stock(side, sku, 100).await;
    let shown = |written: usize| async move {
        let product = side
            .woo
            .get_json(&format!("products/{product}"))
            .await
            .unwrap();
        BoxStep::Pushed {
            written,
            stock_quantity: product["stock_quantity"].as_i64(),
            regular_price: product["regular_price"].clone(),
        }
    };
    let mut steps = Vec::new();
    let stock = flow
        .push_stock(StockOptions::default(), &|_, _| {})
        .await
        .unwrap();
    steps.push(shown(stock.written).await);
    let prices = flow
        .push_prices(StockOptions::default(), &|_, _| {})
        .await
        .unwrap();
    steps.push(shown(prices.written).await);

    let observed = side.sync_and_observe(&[order_id]).await;
    let sales_order = side
        .sales_order_of(order_id)
        .await
        .unwrap_or_else(|| panic!("{}: no Sales Order: {observed:#?}", side.label));
    let document = side
        .erp
        .get_document("Sales Order", &sales_order)
        .await
        .unwrap();
    let row = &document["items"][0];
    let bins: Vec<Value> = side
        .erp
        .list(
            "Bin",
            &ListQuery::default()
                .fields(&["reserved_qty"])
                .filter("item_code", "=", sku)
                .filter("warehouse", "=", connection.default_warehouse.clone()),
        )
        .await
        .unwrap();
    steps.push(BoxStep::Ordered {
        outcome: observed[0].outcome.clone(),
        uom: row["uom"].as_str().unwrap_or_default().to_string(),
        conversion_factor: row["conversion_factor"].clone(),
        stock_qty: row["stock_qty"].clone(),
        reserved_qty: bins[0]["reserved_qty"].clone(),
    });
    let stock = flow
        .push_stock(StockOptions::default(), &|_, _| {})
        .await
        .unwrap();
    steps.push(shown(stock.written).await);
    steps
}

#[tokio::test]
async fn an_item_sold_in_boxes_is_ordered_stocked_and_priced_in_boxes_as_on_the_simulators() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    let sku = format!("WSYNC-BOX-{}", run_tag());
    let client = woo.client();
    let product = client
        .create_product(&json!({
            "name": format!("woocommerce-sync boxed {sku}"), "type": "simple", "sku": sku,
            "regular_price": "1.00", "manage_stock": true, "stock_quantity": 0,
        }))
        .await
        .unwrap()
        .id;
    let (order_id, order) =
        real_pair::paid_order(&client, "Box", &format!("Buyer {}", run_tag()), product, 2).await;
    let name = format!("box{}", run_tag());
    let simulated = Side::simulated(&name, &[(order, Vec::new())], &Accounts::new()).await;
    let real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let expected = boxed_story(&simulated, &sku, None, order_id).await;
    let pushed = |written: usize, stock: i64, price: &str| BoxStep::Pushed {
        written,
        stock_quantity: Some(stock),
        regular_price: json!(price),
    };
    assert_eq!(
        expected,
        [
            // 100 pieces are 8 whole boxes.
            pushed(1, 8, "1.00"),
            // 2.50 a piece is 30 a box.
            pushed(1, 8, "30"),
            BoxStep::Ordered {
                outcome: "created".into(),
                uom: "Box".into(),
                conversion_factor: json!(12.0),
                stock_qty: json!(24.0),
                reserved_qty: json!(24.0),
            },
            // 76 pieces left unreserved: 6 boxes.
            pushed(1, 6, "30"),
        ]
    );
    assert_eq!(
        boxed_story(&real, &sku, Some(product), order_id).await,
        expected
    );
}
