//! The catalogue run by the service on both simulators: stock moves and price changes in ERPNext
//! reach the shop through ERPNext's Webhooks (installed by setup), coalesced into one job per
//! connection and kind however many moves arrive; the scheduled pass pushes only the items whose
//! Bins changed since the last pass, never what the shop holds of the others.

mod common;

use common::{fast_calls, spawn_app, spawn_world, TestApp, World};
use serde_json::{json, Value};
use woocommerce_sync::erpnext::client::ErpClient;
use woocommerce_sync::jobs::{enqueue, Job};
use woocommerce_sync::simulators::woocommerce::{self, WooSimOptions};
use woocommerce_sync::store::{JobState, LogFilter, LogOutcome, ProductLink};
use woocommerce_sync::sync::catalogue::flow::{CatalogueFlow, StockOptions, STOCK_CURSOR};
use woocommerce_sync::sync::context::erpnext_client;
use woocommerce_sync::sync::setup::{install, CatalogueWatch, SetupPlan};
use woocommerce_sync::woocommerce::types::StockPriceUpdate;

async fn item(erp: &ErpClient, code: &str) {
    erp.insert::<Value>(
        "Item",
        &json!({"item_code": code, "item_group": "Products", "stock_uom": "Nos"}),
    )
    .await
    .unwrap();
}

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

/// Both simulators with SIM-001 and the variation SIM-V01-M linked and pushed once (10 and 7),
/// and the service.
async fn linked_world() -> (World, ErpClient, TestApp) {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let erp = erpnext_client(&world.connection.connection, &fast_calls()).unwrap();
    item(&erp, "SIM-001").await;
    item(&erp, "SIM-V01-M").await;
    count_stock(&erp, "SIM-001", 10).await;
    count_stock(&erp, "SIM-V01-M", 7).await;
    {
        let ctx = world.context(1).await;
        let flow = CatalogueFlow::new(&ctx);
        flow.link_products(false).await.unwrap();
        let pushed = flow
            .push_stock(StockOptions::default(), &|_, _| {})
            .await
            .unwrap();
        assert_eq!(pushed.written, 2);
    }
    let app = spawn_app(&world).await;
    (world, erp, app)
}

/// The catalogue's Webhooks, as setup installs them, pointing at the service.
async fn install_webhooks(world: &World, erp: &ErpClient, app: &TestApp) {
    let connection = &world.connection.connection;
    install(
        erp,
        &SetupPlan {
            connection_name: connection.name.clone(),
            webhook_base_url: app
                .url(&format!("/webhooks/erpnext/{}", connection.name))
                .parse()
                .unwrap(),
            webhook_secret: woocommerce::TEST_WEBHOOK_SECRET.into(),
            update_webhook_secrets: false,
            catalogue: Some(CatalogueWatch::of(connection)),
        },
    )
    .await
    .unwrap();
}

async fn written(world: &World, action: &str) -> Vec<String> {
    let entries = world
        .store
        .query_log(&LogFilter {
            connection_id: Some(world.connection.id),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    entries
        .into_iter()
        .filter(|record| record.entry.action == action && record.entry.outcome == LogOutcome::Ok)
        .map(|record| record.entry.object_id)
        .collect()
}

async fn queued(world: &World, kind: &str) -> usize {
    world
        .store
        .jobs_in_state(world.connection.id, JobState::Queued)
        .await
        .unwrap()
        .iter()
        .filter(|job| job.kind == kind)
        .count()
}

#[tokio::test]
async fn stock_moves_and_a_price_change_reach_the_shop_through_the_service_as_one_job_each() {
    let (world, erp, app) = linked_world().await;
    install_webhooks(&world, &erp, &app).await;

    // Five moves of two items: five ledger deliveries, one queued pass.
    for qty in [9, 8, 6, 5] {
        count_stock(&erp, "SIM-001", qty).await;
    }
    count_stock(&erp, "SIM-V01-M", 3).await;
    world.erp.webhook_deliveries_settled().await;
    let inbox = world
        .store
        .recent_inbound(world.connection.id, 100)
        .await
        .unwrap();
    assert_eq!(
        inbox
            .iter()
            .filter(|event| event.topic == "Stock Ledger Entry")
            .count(),
        5,
        "one delivery per move"
    );
    assert_eq!(queued(&world, "push_stock").await, 1, "one coalesced pass");
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 10);

    let report = app.drain_jobs().await;
    assert_eq!((report.succeeded, report.parked), (1, 0));
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 5);
    assert_eq!(shop_product(&world, "SIM-V01-M")["stock_quantity"], 3);
    let mut pushed = written(&world, "push_stock").await;
    pushed.sort();
    // Two from the first push, then each item once more.
    assert_eq!(pushed, ["SIM-001", "SIM-001", "SIM-V01-M", "SIM-V01-M"]);

    // A price made in the connection's list: one delivery, one pass, the shop's regular price.
    erp.insert::<Value>(
        "Item Price",
        &json!({"item_code": "SIM-001", "price_list": world.connection.connection.price_list,
                "price_list_rate": 21.5}),
    )
    .await
    .unwrap();
    world.erp.webhook_deliveries_settled().await;
    assert_eq!(queued(&world, "push_prices").await, 1);
    let report = app.drain_jobs().await;
    assert_eq!((report.succeeded, report.parked), (1, 0));
    assert_eq!(shop_product(&world, "SIM-001")["regular_price"], "21.5");
    assert_eq!(written(&world, "push_prices").await, ["SIM-001"]);
    // Nothing more to do: the queue is empty.
    assert_eq!(app.drain_jobs().await.succeeded, 0);
}

#[tokio::test]
async fn the_scheduled_pass_pushes_only_the_items_whose_bins_changed() {
    let (world, erp, app) = linked_world().await;
    // No catalogue Webhooks: only the schedule carries changes.
    let pass = || async {
        enqueue(
            &world.store,
            world.connection.id,
            &Job::PushStock,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let report = app.drain_jobs().await;
        assert_eq!((report.succeeded, report.parked), (1, 0));
    };
    // The first pass reads every Bin; everything was pushed already, so nothing is written.
    pass().await;
    assert!(world
        .store
        .cursor(world.connection.id, STOCK_CURSOR)
        .await
        .unwrap()
        .is_some());
    assert_eq!(written(&world, "push_stock").await.len(), 2);

    // The shop's figure for the variation changed by hand; ERPNext's stock of SIM-001 moved.
    let variation = shop_product(&world, "SIM-V01-M");
    let ctx = world.context(1).await;
    ctx.woo
        .batch_update_variations(
            variation["parent_id"].as_u64().unwrap(),
            &[StockPriceUpdate {
                id: variation["id"].as_u64().unwrap(),
                stock_quantity: Some(99),
                ..StockPriceUpdate::default()
            }],
        )
        .await
        .unwrap();
    count_stock(&erp, "SIM-001", 4).await;
    pass().await;
    assert_eq!(shop_product(&world, "SIM-001")["stock_quantity"], 4);
    assert_eq!(
        shop_product(&world, "SIM-V01-M")["stock_quantity"],
        99,
        "a pass is not a full push: an item whose Bin did not change is not written"
    );
    assert_eq!(written(&world, "push_stock").await.len(), 3);
    // Nothing changed since: nothing written.
    pass().await;
    assert_eq!(written(&world, "push_stock").await.len(), 3);
}

#[tokio::test]
async fn items_the_order_sync_linked_are_not_pushed_before_a_link_run() {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let erp = erpnext_client(&world.connection.connection, &fast_calls()).unwrap();
    item(&erp, "SIM-001").await;
    count_stock(&erp, "SIM-001", 3).await;
    let shown = shop_product(&world, "SIM-001");
    // As the order sync links an Item it makes.
    world
        .store
        .add_product_links(
            world.connection.id,
            &[ProductLink {
                item_code: "SIM-001".into(),
                product_id: shown["id"].as_u64().unwrap(),
                variation_id: 0,
                is_stock_item: true,
                pushed_stock: None,
                pushed_prices: None,
            }],
        )
        .await
        .unwrap();
    let app = spawn_app(&world).await;
    for job in [Job::PushStock, Job::PushPrices] {
        enqueue(&world.store, world.connection.id, &job, chrono::Utc::now())
            .await
            .unwrap();
    }
    assert_eq!(app.drain_jobs().await.succeeded, 2);
    assert_eq!(
        shop_product(&world, "SIM-001")["stock_quantity"],
        shown["stock_quantity"],
        "the shop's own figure stays until a person linked the products"
    );
    assert!(written(&world, "push_stock").await.is_empty());
    let ctx = world.context(1).await;
    let report = woocommerce_sync::sync::reconcile::reconcile(&ctx)
        .await
        .unwrap();
    assert_eq!(report.catalogue_differences, []);
}
