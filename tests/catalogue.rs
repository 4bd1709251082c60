//! The catalogue on both simulators: products link to Items by SKU (variations by their own),
//! stock counted in ERPNext reaches the shop, only changes are written, a refused entry in a
//! batch leaves the others written, and an order the shop sold during a push is not put back.

mod common;

use common::{fast_calls, spawn_world, World};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use woocommerce_sync::erpnext::client::{ErpClient, ListQuery};
use woocommerce_sync::simulators::woocommerce::WooSimOptions;
use woocommerce_sync::store::{LogFilter, LogOutcome, ProductLink};
use woocommerce_sync::sync::catalogue::flow::{CatalogueFlow, StockOptions};
use woocommerce_sync::sync::context::erpnext_client;
use woocommerce_sync::sync::reconcile::reconcile;
use woocommerce_sync::woocommerce::types::StockPriceUpdate;

async fn world() -> (World, ErpClient) {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let erp = erpnext_client(&world.connection.connection, &fast_calls()).unwrap();
    (world, erp)
}

async fn item(erp: &ErpClient, code: &str, stock: bool) {
    erp.insert::<Value>(
        "Item",
        &json!({"item_code": code, "item_group": "Products", "stock_uom": "Nos",
                "is_stock_item": i32::from(stock)}),
    )
    .await
    .unwrap();
}

/// A stock count: `qty` is what the warehouse now holds.
async fn count_stock(erp: &ErpClient, code: &str, qty: i64) {
    erp.insert::<Value>(
        "Stock Reconciliation",
        &json!({"docstatus": 1, "purpose": "Stock Reconciliation",
                "items": [{"item_code": code, "warehouse": "Stores - TC", "qty": qty,
                           "valuation_rate": 5}]}),
    )
    .await
    .unwrap();
}

fn shop_product(world: &World, sku: &str) -> Value {
    world
        .woo
        .products()
        .into_iter()
        .find(|product| product["sku"] == sku)
        .unwrap_or_else(|| panic!("the simulated shop sells {sku}"))
}

fn no_progress(_: u64, _: u64) {}

#[tokio::test]
async fn products_link_by_sku_and_counted_stock_reaches_the_shop_once() {
    let (world, erp) = world().await;
    item(&erp, "SIM-001", true).await;
    item(&erp, "SIM-002", false).await;
    item(&erp, "SIM-V01-M", true).await;
    item(&erp, "BOLT-ONLY-IN-ERP", true).await;
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);

    let dry = flow.link_products(true).await.unwrap();
    assert!(world
        .store
        .product_links(ctx.connection_id)
        .await
        .unwrap()
        .is_empty());
    let report = flow.link_products(false).await.unwrap();
    assert_eq!(dry, report);
    let variation = shop_product(&world, "SIM-V01-M");
    let linked: Vec<(String, u64, u64)> = report
        .matched
        .iter()
        .map(|link| (link.item_code.clone(), link.product_id, link.variation_id))
        .collect();
    assert_eq!(
        linked,
        [
            (
                "SIM-001".to_string(),
                shop_product(&world, "SIM-001")["id"].as_u64().unwrap(),
                0
            ),
            (
                "SIM-002".to_string(),
                shop_product(&world, "SIM-002")["id"].as_u64().unwrap(),
                0
            ),
            (
                "SIM-V01-M".to_string(),
                variation["parent_id"].as_u64().unwrap(),
                variation["id"].as_u64().unwrap()
            ),
        ]
    );
    assert_eq!(report.non_stock_items, ["SIM-002"]);
    assert!(report
        .unmatched_in_erpnext
        .contains(&"BOLT-ONLY-IN-ERP".to_string()));
    assert!(report
        .unmatched_in_shop
        .iter()
        .any(|product| product.sku == "SIM-003"));
    // The variable product itself is sold through its variations: never unmatched.
    assert!(!report
        .unmatched_in_shop
        .iter()
        .any(|product| product.sku == "SIM-V01"));

    count_stock(&erp, "SIM-001", 10).await;
    count_stock(&erp, "SIM-V01-M", 7).await;
    let first = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((first.stock_items, first.written, first.failed), (2, 2, 0));
    // Simple products in one batch, the variations of one product in another.
    assert_eq!(first.write_calls, 2);
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 10);
    assert_eq!(shop_product(&world, "SIM-V01-M")["stock_quantity"], 7);
    assert_eq!(shop_product(&world, "SIM-V01-M")["manage_stock"], true);
    // The non-stock item keeps the shop's own figure.
    assert_eq!(shop_product(&world, "SIM-002")["stock_quantity"], 100);

    let again = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((again.to_write, again.write_calls), (0, 0));

    count_stock(&erp, "SIM-001", 4).await;
    let dry = flow
        .push_stock(
            StockOptions {
                dry_run: true,
                all: false,
            },
            &no_progress,
        )
        .await
        .unwrap();
    assert_eq!(dry.writes.len(), 1);
    assert_eq!(dry.writes[0].previous, Some(Decimal::from(10)));
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 10);
    let changed = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((changed.written, changed.write_calls), (1, 1));
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 4);

    let all = flow
        .push_stock(
            StockOptions {
                dry_run: false,
                all: true,
            },
            &no_progress,
        )
        .await
        .unwrap();
    assert_eq!(all.written, 2);
}

#[tokio::test]
async fn a_refused_entry_in_a_batch_is_logged_and_the_others_are_written() {
    let (world, erp) = world().await;
    item(&erp, "SIM-001", true).await;
    item(&erp, "GONE-FROM-SHOP", true).await;
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    // A product deleted in the shop after the link run.
    world
        .store
        .add_product_links(
            ctx.connection_id,
            &[ProductLink {
                item_code: "GONE-FROM-SHOP".into(),
                product_id: 999_999,
                variation_id: 0,
                is_stock_item: true,
                pushed_stock: None,
                pushed_prices: None,
            }],
        )
        .await
        .unwrap();
    count_stock(&erp, "SIM-001", 3).await;
    count_stock(&erp, "GONE-FROM-SHOP", 5).await;
    let summary = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!(
        (summary.written, summary.failed, summary.write_calls),
        (1, 1, 1)
    );
    assert!(
        summary.failures["GONE-FROM-SHOP"].contains("Invalid ID"),
        "{:?}",
        summary.failures
    );
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 3);
    let failed = world
        .store
        .query_log(&LogFilter {
            connection_id: Some(ctx.connection_id),
            failed_only: true,
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entry.object_id, "GONE-FROM-SHOP");
    assert_eq!(failed[0].entry.outcome, LogOutcome::Failed);
    // The refused one is tried again by the next push; the written one is not.
    let next = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((next.to_write, next.failed), (1, 1));
}

/// An order the shop sold arrives (received by the service, no Sales Order yet) while a push
/// is between reading ERPNext and writing: its units are not put back.
#[tokio::test]
async fn an_order_arriving_during_a_push_is_not_put_back_in_stock() {
    let (world, erp) = world().await;
    item(&erp, "SIM-001", true).await;
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    count_stock(&erp, "SIM-001", 10).await;

    let levels = flow.read_stock_levels().await.unwrap();
    let order = json!({"id": 9001, "status": "processing",
                       "line_items": [{"id": 1, "sku": "SIM-001", "quantity": 2}]});
    world
        .store
        .record_inbound(
            ctx.connection_id,
            "woocommerce",
            "order.created",
            "9001",
            &order.to_string(),
        )
        .await
        .unwrap();
    let summary = flow
        .write_stock(levels, StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.written, 1);
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 8);

    // An order that was pending when ERPNext was read and got its Sales Order (reserving the
    // units) before the write is still taken off: too few for one push, never too many.
    let levels = flow.read_stock_levels().await.unwrap();
    world
        .store
        .put_link(&woocommerce_sync::store::Link {
            connection_id: ctx.connection_id,
            woo_kind: "order".into(),
            woo_id: "9001".into(),
            erp_doctype: "Sales Order".into(),
            erp_name: "SAL-ORD-TEST-9001".into(),
            fingerprint: None,
            amount: None,
        })
        .await
        .unwrap();
    let summary = flow
        .write_stock(levels, StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.to_write, 0);
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 8);
    // Once synced, the order is ERPNext's to reserve: the next push offers all 10.
    let summary = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.written, 1);
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 10);
}

/// Items the order sync creates for shop products are linked as they are made: a stock count
/// reaches the shop without a link run, and a later link run keeps what was pushed.
#[tokio::test]
async fn items_the_order_sync_creates_are_linked_as_they_are_made() {
    let world = spawn_world(WooSimOptions {
        orders: 12,
        ..WooSimOptions::default()
    })
    .await;
    let erp = erpnext_client(&world.connection.connection, &fast_calls()).unwrap();
    let ctx = world.context(2).await;
    let summary = woocommerce_sync::sync::woo_to_erp::orders::OrderFlow::new(&ctx)
        .poll(None, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    let links = world.store.product_links(ctx.connection_id).await.unwrap();
    assert!(!links.is_empty());
    for link in &links {
        let sold = world
            .woo
            .product(if link.variation_id == 0 {
                link.product_id
            } else {
                link.variation_id
            })
            .unwrap();
        assert_eq!(sold["sku"], link.item_code.as_str());
        if link.variation_id != 0 {
            assert_eq!(sold["parent_id"], link.product_id);
        }
        assert!(link.is_stock_item);
    }
    let code = links[0].item_code.clone();
    count_stock(&erp, &code, 50).await;
    let flow = CatalogueFlow::new(&ctx);
    let pushed = flow
        .push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    // The synced orders reserve their units: the count less what they reserve is offered.
    let reserved: Decimal = pushed
        .writes
        .iter()
        .filter(|write| write.item_code == code)
        .map(|write| Decimal::from(50 - write.quantity))
        .sum();
    assert!(reserved > Decimal::ZERO, "{pushed:?}");
    let report = flow.link_products(false).await.unwrap();
    assert_eq!(report.matched.len(), links.len());
    let kept = world.store.product_links(ctx.connection_id).await.unwrap();
    let first = kept.iter().find(|link| link.item_code == code).unwrap();
    assert!(first.pushed_stock.is_some());
}

/// Prices on the simulators alone (the real tier compares the same with the lab): the regular
/// price of the connection's list reaches a product and a variation, a dry run writes nothing,
/// an unchanged price is not written again, an item without a price is left alone.
#[tokio::test]
async fn item_prices_reach_the_shop_once() {
    let (world, erp) = world().await;
    item(&erp, "SIM-001", false).await;
    item(&erp, "SIM-V01-M", true).await;
    item(&erp, "SIM-002", true).await;
    for (code, rate) in [("SIM-001", 19.5), ("SIM-V01-M", 30.0)] {
        erp.insert::<Value>(
            "Item Price",
            &json!({"item_code": code, "price_list": "Standard Selling", "price_list_rate": rate}),
        )
        .await
        .unwrap();
    }
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    let shown_before = shop_product(&world, "SIM-002")["regular_price"].clone();

    let dry = flow
        .push_prices(
            StockOptions {
                dry_run: true,
                all: false,
            },
            &no_progress,
        )
        .await
        .unwrap();
    assert_eq!(dry.to_write, 2);
    assert_ne!(shop_product(&world, "SIM-001")["regular_price"], "19.5");
    let pushed = flow
        .push_prices(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((pushed.written, pushed.write_calls), (2, 2));
    assert_eq!(shop_product(&world, "SIM-001")["regular_price"], "19.5");
    assert_eq!(shop_product(&world, "SIM-V01-M")["price"], "30");
    assert_eq!(
        shop_product(&world, "SIM-002")["regular_price"],
        shown_before
    );
    let again = flow
        .push_prices(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!((again.to_write, again.write_calls), (0, 0));
    let log = world
        .store
        .query_log(&LogFilter {
            connection_id: Some(ctx.connection_id),
            object_id: Some("SIM-001".into()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert!(log.iter().any(|record| record.entry.action == "push_prices"
        && record.entry.message.contains("regular price 19.5")));
}

/// Deleting an Item Price changes what the shop shows: the scheduled pass reads the site's
/// Deleted Documents since its last pass, so a sale ended early by deleting its price is
/// cleared, and a regular price deleted gives way to the older one still valid.
#[tokio::test]
async fn the_scheduled_price_pass_follows_deleted_item_prices() {
    let (mut world, erp) = world().await;
    item(&erp, "SIM-001", false).await;
    erp.insert::<Value>(
        "Price List",
        &json!({"price_list_name": "Sale", "currency": "USD", "selling": 1}),
    )
    .await
    .unwrap();
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let mut names = Vec::new();
    for (list, rate, from, upto) in [
        ("Standard Selling", 19.5, day(-30), None),
        ("Standard Selling", 21.0, day(-1), None),
        ("Sale", 15.0, day(-1), Some(day(10))),
    ] {
        let price: Value = erp
            .insert(
                "Item Price",
                &json!({"item_code": "SIM-001", "price_list": list, "price_list_rate": rate,
                        "valid_from": from, "valid_upto": upto}),
            )
            .await
            .unwrap();
        names.push(price["name"].as_str().unwrap().to_string());
    }
    world
        .connection
        .connection
        .mappings
        .catalogue
        .sale_price_list = Some("Sale".into());
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    let shown = |world: &World| {
        let product = shop_product(world, "SIM-001");
        (
            product["regular_price"].clone(),
            product["sale_price"].clone(),
        )
    };

    let first = flow.push_changed_prices().await.unwrap();
    assert_eq!(first.written, 1);
    assert_eq!(shown(&world), (json!("21"), json!("15")));

    for name in &names[1..] {
        erp.delete("Item Price", name).await.unwrap();
    }
    common::price_pass_ran_before_deleting(&erp, &world.store, ctx.connection_id, &names[1]).await;
    let after_delete = flow.push_changed_prices().await.unwrap();
    assert_eq!(after_delete.written, 1);
    assert_eq!(shown(&world), (json!("19.5"), json!("")));

    let again = flow.push_changed_prices().await.unwrap();
    assert_eq!(again.written, 0);
}

/// A store whose prices are entered with tax shows a net price list's prices with the
/// connection's rate added; without a rate the push writes nothing and says what to set.
#[tokio::test]
async fn a_net_price_list_reaches_a_store_entering_prices_with_tax_as_gross_prices() {
    let (mut world, erp) = world().await;
    item(&erp, "SIM-001", false).await;
    erp.insert::<Value>(
        "Item Price",
        &json!({"item_code": "SIM-001", "price_list": "Standard Selling", "price_list_rate": 10}),
    )
    .await
    .unwrap();
    world
        .woo
        .set_setting("tax", "woocommerce_prices_include_tax", "yes");
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    let shown_before = shop_product(&world, "SIM-001")["regular_price"].clone();
    let refused = flow
        .push_prices(StockOptions::default(), &no_progress)
        .await
        .expect_err("net prices are not written as gross");
    assert!(refused.to_string().contains("set tax_rate"), "{refused}");
    assert_eq!(
        shop_product(&world, "SIM-001")["regular_price"],
        shown_before
    );

    world.connection.connection.mappings.catalogue.tax_rate = Some(Decimal::from(19));
    let ctx = world.context(1).await;
    let pushed = CatalogueFlow::new(&ctx)
        .push_prices(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    assert_eq!(pushed.written, 1);
    assert_eq!(shop_product(&world, "SIM-001")["regular_price"], "11.9");
}

/// A Stock Reconciliation sets the warehouse's stock to the counted quantity, refuses a count
/// that changes nothing, and cancelling it takes back exactly what it moved.
#[tokio::test]
async fn a_stock_count_sets_the_bin_and_cancelling_takes_it_back() {
    let (world, erp) = world().await;
    item(&erp, "COUNTED", true).await;
    let actual = |_: &World| async {
        let bins: Vec<Value> = erp
            .list(
                "Bin",
                &ListQuery::default()
                    .fields(&["actual_qty"])
                    .filter("item_code", "=", "COUNTED"),
            )
            .await
            .unwrap();
        bins.first().map(|bin| bin["actual_qty"].clone())
    };
    count_stock(&erp, "COUNTED", 12).await;
    assert_eq!(actual(&world).await, Some(json!(12.0)));
    let second: Value = erp
        .insert(
            "Stock Reconciliation",
            &json!({"docstatus": 1, "items": [{"item_code": "COUNTED",
                    "warehouse": "Stores - TC", "qty": 5, "valuation_rate": 5}]}),
        )
        .await
        .unwrap();
    assert_eq!(actual(&world).await, Some(json!(5.0)));
    let unchanged = erp
        .insert::<Value>(
            "Stock Reconciliation",
            &json!({"docstatus": 1, "items": [{"item_code": "COUNTED",
                    "warehouse": "Stores - TC", "qty": 5, "valuation_rate": 5}]}),
        )
        .await
        .unwrap_err();
    assert!(
        unchanged
            .to_string()
            .contains("None of the items have any change"),
        "{unchanged}"
    );
    erp.cancel("Stock Reconciliation", second["name"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(actual(&world).await, Some(json!(12.0)));
}

#[tokio::test]
async fn reconcile_lists_linked_products_whose_shop_stock_or_price_differs_and_writes_nothing() {
    let (world, erp) = world().await;
    item(&erp, "SIM-001", true).await;
    item(&erp, "SIM-V01-M", true).await;
    count_stock(&erp, "SIM-001", 10).await;
    count_stock(&erp, "SIM-V01-M", 7).await;
    erp.insert::<Value>(
        "Item Price",
        &json!({"item_code": "SIM-001", "price_list": "Standard Selling", "price_list_rate": 19.5}),
    )
    .await
    .unwrap();
    let ctx = world.context(1).await;
    let flow = CatalogueFlow::new(&ctx);
    flow.link_products(false).await.unwrap();
    flow.push_stock(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    flow.push_prices(StockOptions::default(), &no_progress)
        .await
        .unwrap();
    let clean = reconcile(&ctx).await.unwrap();
    assert_eq!(clean.catalogue_differences, []);

    // Changed by hand in the shop: the variation's stock and the product's regular price.
    let variation = shop_product(&world, "SIM-V01-M");
    let (parent, variation_id) = (
        variation["parent_id"].as_u64().unwrap(),
        variation["id"].as_u64().unwrap(),
    );
    ctx.woo
        .batch_update_variations(
            parent,
            &[StockPriceUpdate {
                id: variation_id,
                stock_quantity: Some(99),
                ..StockPriceUpdate::default()
            }],
        )
        .await
        .unwrap();
    let product_id = shop_product(&world, "SIM-001")["id"].as_u64().unwrap();
    ctx.woo
        .batch_update_products(&[StockPriceUpdate {
            id: product_id,
            regular_price: Some(Decimal::new(2500, 2)),
            ..StockPriceUpdate::default()
        }])
        .await
        .unwrap();
    let links_before = world.store.product_links(ctx.connection_id).await.unwrap();
    let report = reconcile(&ctx).await.unwrap();
    let seen: Vec<(String, u64, String, String, String)> = report
        .catalogue_differences
        .iter()
        .map(|difference| {
            (
                difference.item_code.clone(),
                difference.variation_id,
                difference.field.clone(),
                difference.shop.clone(),
                difference.erpnext.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "SIM-V01-M".to_string(),
                variation_id,
                "stock".to_string(),
                "99".to_string(),
                "7".to_string()
            ),
            (
                "SIM-001".to_string(),
                0,
                "regular price".to_string(),
                "25".to_string(),
                "19.5".to_string()
            ),
        ]
    );
    assert!(!report.is_clean());
    // Read-only: the shop and what the links remember are as they were.
    assert_eq!(shop_product(&world, "SIM-V01-M")["stock_quantity"], 99);
    assert_eq!(
        world.store.product_links(ctx.connection_id).await.unwrap(),
        links_before
    );
}
