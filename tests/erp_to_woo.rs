//! ERPNext → WooCommerce on both simulators: a Delivery Note made in ERPNext reaches the shop's
//! order through ERPNext's webhook and the service (status by the connection's map, a
//! customer-visible note with carrier and tracking, `erpnext_*` meta), exactly once, never over a
//! status the shop changed after our write, and the shop's echo of our write changes nothing in
//! ERPNext.

mod common;

use common::{spawn_app, spawn_world, TestApp, World};
use serde_json::{json, Value};
use woocommerce_sync::erpnext::client::{ErpClient, ListQuery};
use woocommerce_sync::jobs::{enqueue, Job};
use woocommerce_sync::simulators::woocommerce::{self, FaultKind, WooSimOptions};
use woocommerce_sync::store::{JobState, LogFilter};
use woocommerce_sync::sync::context::{erpnext_client, woocommerce_client};
use woocommerce_sync::sync::erp_to_woo::erpnext_orders::{ErpnextOrderFlow, ShopOrderOutcome};
use woocommerce_sync::sync::erp_to_woo::write_back::StatusFlow;
use woocommerce_sync::sync::reconcile::reconcile;
use woocommerce_sync::sync::setup::{install, remove_webhooks, SetupPlan};
use woocommerce_sync::woocommerce::types::NewWebhook;

struct Story {
    world: World,
    app: TestApp,
    erp: ErpClient,
    webhooks: bool,
}

/// Both simulators, the service, ERPNext's Webhook and the shop's webhooks pointing at it, and a
/// status map.
async fn story() -> Story {
    story_with(true).await
}

/// The same; without `webhooks` neither side delivers any (as if every one was lost), and only
/// the polls carry changes.
async fn story_with(webhooks: bool) -> Story {
    let mut world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let mut connection = world.connection.connection.clone();
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
    world.store.update_connection(&connection).await.unwrap();
    world.connection = world.store.connection("shop").await.unwrap();
    let app = spawn_app(&world).await;

    let erp = erpnext_client(&world.connection.connection, &common::fast_calls()).unwrap();
    // spawn_world's Webhook points nowhere; this story's points at the service.
    remove_webhooks(
        &erp,
        &SetupPlan {
            connection_name: "shop".into(),
            webhook_base_url: "http://127.0.0.1:9/webhooks/erpnext/shop".parse().unwrap(),
            webhook_secret: "erp-webhook-secret".into(),
            update_webhook_secrets: false,
            catalogue: None,
        },
    )
    .await
    .unwrap();
    if !webhooks {
        return Story {
            world,
            app,
            erp,
            webhooks,
        };
    }
    install(
        &erp,
        &SetupPlan {
            connection_name: "shop".into(),
            webhook_base_url: app.url("/webhooks/erpnext/shop").parse().unwrap(),
            webhook_secret: woocommerce::TEST_WEBHOOK_SECRET.into(),
            update_webhook_secrets: false,
            catalogue: None,
        },
    )
    .await
    .unwrap();
    let shop = woocommerce_client(&world.connection.connection, &common::fast_calls()).unwrap();
    for topic in ["order.created", "order.updated"] {
        shop.create_webhook(&NewWebhook {
            name: format!("sync {topic}"),
            topic: topic.to_string(),
            delivery_url: app.url("/webhooks/woocommerce/shop"),
            secret: woocommerce::TEST_WEBHOOK_SECRET.to_string(),
            status: "active".to_string(),
        })
        .await
        .unwrap();
    }
    Story {
        world,
        app,
        erp,
        webhooks,
    }
}

impl Story {
    /// Lets both simulators deliver their webhooks and the service run the jobs they queue, until
    /// nothing is left to do.
    async fn settle(&self) {
        for _ in 0..20 {
            self.world.erp.webhook_deliveries_settled().await;
            self.world.woo.webhook_deliveries_settled().await;
            let report = self.app.drain_jobs().await;
            if report.parked > 0 {
                let parked = self
                    .world
                    .store
                    .jobs_in_state(self.world.connection.id, JobState::Failed)
                    .await
                    .unwrap();
                panic!("jobs parked: {parked:#?}");
            }
            if report.succeeded + report.retried == 0 {
                return;
            }
        }
        panic!("the webhooks and jobs never settled");
    }

    /// A paid order of `quantity` SIM-001, synced to a Sales Order (and its invoice) through the
    /// shop's webhooks; answers the order id and the Sales Order's name.
    async fn paid_order(&self, quantity: u32) -> (u64, String) {
        let product = self
            .world
            .woo
            .products()
            .into_iter()
            .find(|product| product["sku"] == "SIM-001")
            .expect("the generated shop sells SIM-001");
        let address = json!({
            "first_name": "Grace", "last_name": "Hopper", "address_1": "1 Navy Way",
            "city": "Austin", "state": "TX", "postcode": "73301", "country": "US",
            "email": "grace@example.test",
        });
        let order = self
            .world
            .woo
            .create_order(&json!({
                "status": "processing", "set_paid": true, "payment_method": "bacs",
                "billing": address, "shipping": address,
                "line_items": [{"product_id": product["id"], "quantity": quantity}],
            }))
            .unwrap();
        let order_id = order["id"].as_u64().unwrap();
        if !self.webhooks {
            self.queue(&Job::Poll).await;
        }
        self.settle().await;
        let sales_orders = self.world.sales_orders_by_order().await;
        let name = sales_orders[&order_id][0]["name"]
            .as_str()
            .unwrap()
            .to_string();
        (order_id, name)
    }

    /// Submits a Delivery Note for `qty` of the Sales Order's first row, by DHL.
    async fn deliver(&self, sales_order: &str, qty: u32, tracking: &str) -> String {
        let mut note = self
            .erp
            .call_method(
                "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note",
                &json!({"source_name": sales_order}),
            )
            .await
            .unwrap();
        note["items"][0]["qty"] = json!(qty);
        note["transporter_name"] = json!("DHL");
        note["lr_no"] = json!(tracking);
        note["docstatus"] = json!(1);
        receive_goods(&self.erp, &note).await;
        let note: Value = self.erp.insert("Delivery Note", &note).await.unwrap();
        note["name"].as_str().unwrap().to_string()
    }

    /// Queues a job as the scheduler would.
    async fn queue(&self, job: &Job) {
        enqueue(
            &self.world.store,
            self.world.connection.id,
            job,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }

    fn order(&self, order_id: u64) -> Value {
        self.world.woo.order(order_id).unwrap()
    }

    fn meta(&self, order_id: u64, key: &str) -> Option<String> {
        self.order(order_id)["meta_data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["key"] == key)
            .map(|entry| entry["value"].as_str().unwrap_or_default().to_string())
    }

    fn notes(&self, order_id: u64) -> Vec<Value> {
        self.world.woo.notes(order_id)
    }
}

/// What the sync log says was done in ERPNext for the order, sorted.
async fn erp_writes(story: &Story, order_id: u64) -> Vec<String> {
    let records = story
        .world
        .store
        .query_log(&LogFilter {
            connection_id: Some(story.world.connection.id),
            order_id: Some(order_id.to_string()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    let mut actions: Vec<String> = records
        .into_iter()
        .filter(|record| record.entry.direction == "woocommerce_to_erpnext")
        .map(|record| record.entry.action)
        .collect();
    actions.sort();
    actions
}

#[tokio::test]
async fn a_full_delivery_completes_the_shop_order_with_a_tracking_note_and_the_echo_changes_nothing_in_erpnext(
) {
    let story = story().await;
    let (order_id, sales_order) = story.paid_order(2).await;
    let invoice = story
        .world
        .store
        .link(
            story.world.connection.id,
            "order",
            &order_id.to_string(),
            "Sales Invoice",
        )
        .await
        .unwrap()
        .expect("the paid order was invoiced")
        .erp_name;
    // The invoice's on_change reached the service: the order knows its documents already.
    assert_eq!(
        story.meta(order_id, "erpnext_sales_order").as_deref(),
        Some(sales_order.as_str())
    );
    assert_eq!(
        story.meta(order_id, "erpnext_sales_invoice").as_deref(),
        Some(invoice.as_str())
    );
    assert_eq!(story.order(order_id)["status"], "processing");

    let erp_documents = |story: &Story| {
        let so = story
            .world
            .erp
            .document("Sales Order", &sales_order)
            .unwrap();
        (
            so["modified"].clone(),
            so["woocommerce_status"].clone(),
            story.world.erp.count("Sales Invoice"),
            story.world.erp.count("Payment Entry"),
        )
    };
    let writes_before = erp_writes(&story, order_id).await;
    assert_eq!(
        writes_before,
        [
            "create_payment_entry",
            "create_sales_invoice",
            "create_sales_order"
        ]
    );
    let note = story.deliver(&sales_order, 2, "JD014600006281230704").await;
    let after_delivery = erp_documents(&story);
    story.settle().await;

    let order = story.order(order_id);
    assert_eq!(order["status"], "completed");
    let notes = story.notes(order_id);
    let shipped: Vec<&Value> = notes
        .iter()
        .filter(|note| note["customer_note"] == true)
        .collect();
    assert_eq!(shipped.len(), 1, "{notes:#?}");
    let text = shipped[0]["note"].as_str().unwrap();
    assert!(text.starts_with("Your order has shipped: 2 × "), "{text}");
    assert!(
        text.contains("Carrier: DHL. Tracking number: JD014600006281230704."),
        "{text}"
    );
    assert!(text.contains(&note), "{text}");
    assert_eq!(story.meta(order_id, "erpnext_delivery_note"), Some(note));

    // Completing the order fired the shop's order.updated; the service ran its job, and ERPNext
    // was not written to.
    assert_eq!(erp_documents(&story), after_delivery);
    assert_eq!(
        erp_writes(&story, order_id).await,
        writes_before,
        "the sync log shows no write to ERPNext after the delivery"
    );

    // Running the write-back again (the poll) writes nothing.
    let notes_before = story.notes(order_id).len();
    let modified_before = story.order(order_id)["date_modified_gmt"].clone();
    let ctx = story.world.context(2).await;
    let summary = StatusFlow::new(&ctx).poll(None).await.unwrap();
    assert_eq!((summary.written, summary.failed), (0, 0), "{summary:?}");
    assert!(summary.seen >= 1);
    assert_eq!(story.notes(order_id).len(), notes_before);
    assert_eq!(story.order(order_id)["date_modified_gmt"], modified_before);
}

#[tokio::test]
async fn a_partial_delivery_leaves_the_order_processing_with_a_note_and_a_status_the_shop_set_stays(
) {
    let story = story().await;
    let (order_id, sales_order) = story.paid_order(3).await;

    let first = story.deliver(&sales_order, 1, "TRACK-1").await;
    story.settle().await;
    assert_eq!(story.order(order_id)["status"], "processing");
    let notes = story.notes(order_id);
    let shipped: Vec<&str> = notes
        .iter()
        .filter(|note| note["customer_note"] == true)
        .filter_map(|note| note["note"].as_str())
        .collect();
    assert_eq!(shipped.len(), 1, "{notes:#?}");
    assert!(
        shipped[0].starts_with("Part of your order has shipped: 1 × "),
        "{}",
        shipped[0]
    );
    assert!(shipped[0].contains("Tracking number: TRACK-1."));
    assert_eq!(
        story.meta(order_id, "erpnext_delivery_note"),
        Some(first.clone())
    );

    // The shop puts the order on hold; then the rest is delivered in ERPNext.
    story.world.woo.shift_clock(5);
    story
        .world
        .woo
        .update_order(order_id, &json!({"status": "on-hold"}))
        .unwrap();
    story.settle().await;
    let second = story.deliver(&sales_order, 2, "TRACK-2").await;
    story.settle().await;

    assert_eq!(
        story.order(order_id)["status"],
        "on-hold",
        "the shop's status is not overwritten"
    );
    let shipped = story
        .notes(order_id)
        .iter()
        .filter(|note| note["customer_note"] == true)
        .count();
    assert_eq!(shipped, 2, "the second shipment is still told");
    assert_eq!(
        story.meta(order_id, "erpnext_delivery_note"),
        Some(format!("{first}, {second}"))
    );
    let said = story
        .world
        .store
        .query_log(&LogFilter {
            connection_id: Some(story.world.connection.id),
            order_id: Some(order_id.to_string()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert!(
        said.iter()
            .any(|record| record.entry.direction == "erpnext_to_woocommerce"
                && record.entry.message.contains("the shop's status stays")),
        "the sync log says why the status was left"
    );

    // A cancelled Delivery Note gets a note.
    story.erp.cancel("Delivery Note", &second).await.unwrap();
    story.settle().await;
    let cancelled = story
        .notes(order_id)
        .iter()
        .filter_map(|note| note["note"].as_str().map(str::to_string))
        .filter(|text| text.contains(&format!("Delivery Note {second} was cancelled")))
        .count();
    assert_eq!(cancelled, 1);
    assert_eq!(story.meta(order_id, "erpnext_delivery_note"), Some(first));
}

#[tokio::test]
async fn a_shipment_whose_webhook_was_lost_arrives_with_the_scheduled_poll() {
    let story = story_with(false).await;
    let (order_id, sales_order) = story.paid_order(1).await;
    let note = story.deliver(&sales_order, 1, "LOST-1").await;
    story.settle().await;
    assert_eq!(
        story.order(order_id)["status"],
        "processing",
        "no webhook, nothing yet"
    );

    story.queue(&Job::PollErpnext).await;
    story.settle().await;
    assert_eq!(story.order(order_id)["status"], "completed");
    assert_eq!(story.meta(order_id, "erpnext_delivery_note"), Some(note));
    assert!(story
        .notes(order_id)
        .iter()
        .any(|note| note["customer_note"] == true
            && note["note"]
                .as_str()
                .unwrap()
                .contains("Tracking number: LOST-1.")));
    // The next poll reads from its cursor and writes nothing.
    let notes = story.notes(order_id).len();
    story.queue(&Job::PollErpnext).await;
    story.settle().await;
    assert_eq!(story.notes(order_id).len(), notes);
}

async fn cli(data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_woocommerce-sync"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("WOOCOMMERCE_SYNC_DATABASE")
        .env_remove("WOOCOMMERCE_SYNC_SECRET_KEY")
        .output()
        .await
        .expect("run woocommerce-sync");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_status_writes_a_shipment_back_once_and_its_dry_run_writes_nothing() {
    let woo = woocommerce::start(WooSimOptions {
        orders: 8,
        seed_random: 3,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let erp_sim = woocommerce_sync::simulators::erpnext::start(Default::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (woo_url, erp_url) = (woo.base_url().to_string(), erp_sim.base_url().to_string());
    let (code, _, stderr) = cli(
        dir.path(),
        &[
            "connection",
            "add",
            "--name",
            "shop",
            "--woocommerce-url",
            &woo_url,
            "--consumer-key",
            woocommerce::TEST_CONSUMER_KEY,
            "--consumer-secret",
            woocommerce::TEST_CONSUMER_SECRET,
            "--webhook-secret",
            "whsec-cli-0123456789",
            "--erpnext-url",
            &erp_url,
            "--api-key",
            erp_sim.api_key(),
            "--api-secret",
            erp_sim.api_secret(),
            "--company",
            "Test Company",
            "--default-warehouse",
            "Stores - TC",
            "--default-tax-account",
            "ST 6% - TC",
            "--shipping-account",
            "Freight and Forwarding Charges - TC",
            "--fee-account",
            "Miscellaneous Expenses - TC",
            "--rounding-account",
            "Round Off - TC",
            "--auto-create-items",
            "true",
            "--missing-sku",
            "synthesize",
            "--status-to-woocommerce",
            "To Bill=completed",
            "--status-to-woocommerce",
            "Completed=completed",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cli(dir.path(), &["sync", "status", "--connection", "shop"]).await;
    assert_eq!(code, 2, "before setup it is bad input: {stderr}");
    let (code, out, stderr) = cli(dir.path(), &["setup", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{out}{stderr}");
    let (code, out, stderr) = cli(dir.path(), &["sync", "orders", "--connection", "shop"]).await;
    assert_eq!(code, 0, "{out}{stderr}");

    // Deliver one synced processing order in full.
    let erp = ErpClient::new(woocommerce_sync::erpnext::client::ErpConfig::new(
        erp_sim.base_url().clone(),
        erp_sim.api_key(),
        erp_sim.api_secret(),
    ))
    .unwrap();
    let rows: Vec<Value> = erp
        .list(
            "Sales Order",
            &woocommerce_sync::erpnext::client::ListQuery::default()
                .fields(&["name", "woocommerce_order_id"])
                .filter("docstatus", "=", 1)
                .all_rows(),
        )
        .await
        .unwrap();
    let (sales_order, order_id) = rows
        .iter()
        .map(|row| {
            let id: u64 = row["woocommerce_order_id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            (row["name"].as_str().unwrap().to_string(), id)
        })
        .find(|(_, id)| woo.order(*id).unwrap()["status"] == "processing")
        .expect("a synced processing order");
    let mut note = erp
        .call_method(
            "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note",
            &json!({"source_name": sales_order}),
        )
        .await
        .unwrap();
    note["transporter_name"] = json!("UPS");
    note["lr_no"] = json!("1Z999AA10123456784");
    note["docstatus"] = json!(1);
    receive_goods(&erp, &note).await;
    erp.insert::<Value>("Delivery Note", &note).await.unwrap();

    // A dry run says what it would write and writes nothing.
    let notes_before = woo.notes(order_id).len();
    let (code, out, stderr) = cli(
        dir.path(),
        &["sync", "status", "--connection", "shop", "--dry-run"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let planned: Value = serde_json::from_str(&out).unwrap();
    let this = planned["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|report| report["sales_order"] == sales_order.as_str())
        .expect("the delivered order is planned");
    assert_eq!(this["status"], "completed", "{this}");
    assert!(stderr.contains("would write"), "{stderr}");
    assert_eq!(woo.order(order_id).unwrap()["status"], "processing");
    assert_eq!(woo.notes(order_id).len(), notes_before);

    let (code, out, stderr) = cli(
        dir.path(),
        &["sync", "status", "--connection", "shop", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{out}{stderr}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        summary["statuses_written"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert_eq!(woo.order(order_id).unwrap()["status"], "completed");
    assert!(woo
        .notes(order_id)
        .iter()
        .any(|note| note["customer_note"] == true
            && note["note"]
                .as_str()
                .unwrap()
                .contains("Carrier: UPS. Tracking number: 1Z999AA10123456784.")));

    // Again, from the start: nothing is written twice.
    let (code, out, _) = cli(
        dir.path(),
        &[
            "sync",
            "status",
            "--connection",
            "shop",
            "--since",
            "2000-01-01",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0);
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["written"], 0, "{again}");
    assert!(again["seen"].as_u64().unwrap() >= 1);
    let (code, _, stderr) = cli(dir.path(), &["sync", "status", "--connection", "nope"]).await;
    assert_eq!(code, 2, "{stderr}");

    // An order born in ERPNext: planned by the dry run, made once by the run.
    let born = erpnext_order(&erp, "cli", "SIM-001", false).await;
    let orders_before = woo.order_count();
    let (code, out, stderr) = cli(
        dir.path(),
        &[
            "sync",
            "erpnext-orders",
            "--connection",
            "shop",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let planned: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(planned["created"], 1, "{planned}");
    assert_eq!(planned["reports"][0]["sales_order"], born.as_str());
    assert_eq!(planned["reports"][0]["total"], "26.20", "{planned}");
    assert!(stderr.contains("would create 1"), "{stderr}");
    assert_eq!(
        woo.order_count(),
        orders_before,
        "a dry run creates nothing"
    );
    let (code, out, stderr) = cli(
        dir.path(),
        &["sync", "erpnext-orders", "--connection", "shop", "--json"],
    )
    .await;
    assert_eq!(code, 0, "{out}{stderr}");
    let made: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (made["created"].as_u64(), made["failed"].as_u64()),
        (Some(1), Some(0)),
        "{made}"
    );
    assert_eq!(woo.order_count(), orders_before + 1);
    let (code, out, _) = cli(
        dir.path(),
        &[
            "sync",
            "erpnext-orders",
            "--connection",
            "shop",
            "--since",
            "2000-01-01",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.contains("created 0"), "{out}");
    assert_eq!(woo.order_count(), orders_before + 1);
    let (code, _, stderr) = cli(
        dir.path(),
        &[
            "sync",
            "erpnext-orders",
            "--connection",
            "shop",
            "--sales-order",
            "SAL-ORD-NOPE",
        ],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
}

// ----- orders born in ERPNext -----

/// A phone order made in ERPNext for the shop: SIM-001 × 2 at 10.00, freight 5.00 and 6%
/// sales tax (26.20), to a buyer in New York (where the shop would add its own tax), its
/// `woocommerce_store` naming the connection. Drafted and then submitted, as a user does
/// (the submit fires ERPNext's Webhook), or inserted submitted when `draft_first` is false
/// (no Webhook fires for an insert; the poll finds it). Answers its name.
async fn erpnext_order(erp: &ErpClient, buyer: &str, item_code: &str, draft_first: bool) -> String {
    if erp
        .get_optional::<Value>("Item", item_code)
        .await
        .unwrap()
        .is_none()
    {
        let _: Value = erp
            .insert(
                "Item",
                &json!({"item_code": item_code, "item_name": format!("{item_code} item"),
                        "item_group": "Products", "stock_uom": "Nos", "is_stock_item": 0}),
            )
            .await
            .unwrap();
    }
    let customer: Value = erp
        .insert(
            "Customer",
            &json!({"customer_name": format!("Ada {buyer}"), "customer_type": "Individual",
                    "customer_group": "Individual", "territory": "All Territories"}),
        )
        .await
        .unwrap();
    let customer = customer["name"].as_str().unwrap().to_string();
    let address: Value = erp
        .insert(
            "Address",
            &json!({"address_title": format!("Ada {buyer}"), "address_type": "Billing",
                    "address_line1": "1 Broadway", "city": "New York", "state": "NY",
                    "pincode": "10004", "country": "United States",
                    "email_id": format!("{buyer}@example.test"),
                    "links": [{"link_doctype": "Customer", "link_name": customer}]}),
        )
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    let order: Value = erp
        .insert(
            "Sales Order",
            &json!({
                "customer": customer, "company": "Test Company", "currency": "USD",
                "transaction_date": today, "delivery_date": today,
                "customer_address": address["name"], "woocommerce_store": "shop",
                "docstatus": if draft_first { 0 } else { 1 },
                "items": [{"item_code": item_code, "qty": 2, "rate": 10.0,
                           "warehouse": "Stores - TC"}],
                "taxes": [
                    {"charge_type": "Actual", "account_head": "Freight and Forwarding Charges - TC",
                     "description": "Freight", "tax_amount": 5.0},
                    {"charge_type": "On Net Total", "account_head": "ST 6% - TC",
                     "description": "Sales tax 6%", "rate": 6.0}
                ]
            }),
        )
        .await
        .unwrap();
    let name = order["name"].as_str().unwrap().to_string();
    if draft_first {
        erp.submit("Sales Order", &name).await.unwrap();
    }
    name
}

impl Story {
    async fn erpnext_order(&self, buyer: &str, item_code: &str, draft_first: bool) -> String {
        erpnext_order(&self.erp, buyer, item_code, draft_first).await
    }

    /// The shop's orders carrying the Sales Order's key.
    fn shop_orders_for(&self, sales_order: &str) -> Vec<Value> {
        let key = format!("shop:{sales_order}");
        self.world
            .woo
            .orders()
            .into_iter()
            .filter(|order| {
                order["meta_data"].as_array().unwrap().iter().any(|entry| {
                    entry["key"] == "erpnext_sales_order_key" && entry["value"] == key.as_str()
                })
            })
            .collect()
    }

    /// Submitted Sales Orders in ERPNext.
    async fn submitted_sales_orders(&self) -> usize {
        let rows: Vec<Value> = self
            .erp
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&["name"])
                    .filter("docstatus", "=", 1)
                    .all_rows(),
            )
            .await
            .unwrap();
        rows.len()
    }
}

#[tokio::test]
async fn an_order_made_in_erpnext_for_the_shop_appears_there_once_with_its_total_and_follows_like_any_other(
) {
    let story = story().await;
    let sales_order = story.erpnext_order("phone", "SIM-001", true).await;
    story.settle().await;

    let made = story.shop_orders_for(&sales_order);
    assert_eq!(made.len(), 1, "exactly one shop order: {made:#?}");
    let order = &made[0];
    let order_id = order["id"].as_u64().unwrap();
    let erp_order: Value = story
        .erp
        .get_document("Sales Order", &sales_order)
        .await
        .unwrap();
    assert_eq!(erp_order["grand_total"], json!(26.2));
    assert_eq!(order["total"], "26.20", "the same total: {order:#}");
    assert_eq!(
        order["total_tax"], "0.00",
        "the shop added no tax of its own"
    );
    assert_eq!(order["status"], "processing");
    assert_eq!(order["billing"]["email"], "phone@example.test");
    assert_eq!(order["billing"]["country"], "US");
    assert_eq!(order["line_items"][0]["sku"], "SIM-001");
    assert_eq!(order["line_items"][0]["total"], "20.00");
    assert_eq!(order["shipping_lines"][0]["method_title"], "Freight");
    assert_eq!(order["shipping_lines"][0]["total"], "5.00");
    assert_eq!(order["fee_lines"][0]["name"], "Sales tax 6%");
    assert_eq!(order["fee_lines"][0]["total"], "1.20");
    assert_eq!(
        story.meta(order_id, "erpnext_sales_order").as_deref(),
        Some(sales_order.as_str())
    );

    // The shop's webhooks for the new order made no second Sales Order, and no invoice: the
    // order is ERPNext's, billed there.
    assert_eq!(story.submitted_sales_orders().await, 1);
    let writes = erp_writes(&story, order_id).await;
    assert!(
        !writes.iter().any(|action| action.starts_with("create_")),
        "{writes:?}"
    );
    let link = story
        .world
        .store
        .link(
            story.world.connection.id,
            "order",
            &order_id.to_string(),
            "Sales Order",
        )
        .await
        .unwrap()
        .expect("the shop order is linked to its Sales Order");
    assert_eq!(link.erp_name, sales_order);

    // It follows like any other order: delivered in ERPNext, completed in the shop with a
    // tracking note.
    story.deliver(&sales_order, 2, "1Z-PHONE").await;
    story.settle().await;
    assert_eq!(story.order(order_id)["status"], "completed");
    assert!(story
        .notes(order_id)
        .iter()
        .any(|note| note["customer_note"] == true
            && note["note"]
                .as_str()
                .unwrap()
                .contains("Tracking number: 1Z-PHONE.")));
    assert_eq!(story.submitted_sales_orders().await, 1);
    assert_eq!(story.shop_orders_for(&sales_order).len(), 1);

    // The backstop poll from the start makes nothing again.
    let ctx = story.world.context(4).await;
    let again = ErpnextOrderFlow::new(&ctx)
        .poll(Some("2000-01-01T00:00:00".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.found, again.failed),
        (0, 0, 0),
        "{again:?}"
    );
    assert_eq!(again.unchanged, 1, "{again:?}");
}

#[tokio::test]
async fn a_lost_answer_to_the_shops_create_leaves_exactly_one_shop_order_and_one_sales_order() {
    // No webhooks: the polls of both directions carry everything.
    let story = story_with(false).await;
    let sales_order = story.erpnext_order("dropped", "SIM-001", false).await;
    story
        .world
        .woo
        .push_fault_on("POST /orders", FaultKind::Drop);
    let ctx = story.world.context(4).await;
    let first = ErpnextOrderFlow::new(&ctx).poll(None).await.unwrap();
    assert_eq!(first.failed, 1, "the answer was lost: {first:?}");
    assert!(matches!(
        first.reports[0].outcome,
        ShopOrderOutcome::Failed {
            retryable: true,
            ..
        }
    ));
    assert_eq!(
        story.shop_orders_for(&sales_order).len(),
        1,
        "the shop made it"
    );

    // The shop's own poll meets the order first: it is linked to its Sales Order, not imported
    // (the generated shop's one order is).
    story.queue(&Job::Poll).await;
    story.settle().await;
    let order_id = story.shop_orders_for(&sales_order)[0]["id"]
        .as_u64()
        .unwrap();
    let imported = story.world.sales_orders_by_order().await;
    assert!(!imported.contains_key(&order_id), "{imported:#?}");
    assert_eq!(story.submitted_sales_orders().await, imported.len() + 1);
    assert_eq!(
        erp_writes(&story, order_id).await,
        vec!["link_erpnext_order".to_string()]
    );

    // The next attempt looks the shop up first and finds it.
    let second = ErpnextOrderFlow::new(&ctx).poll(None).await.unwrap();
    assert_eq!((second.found, second.created), (1, 0), "{second:?}");
    assert_eq!(second.reports[0].order_id, Some(order_id));
    let third = ErpnextOrderFlow::new(&ctx)
        .poll(Some("2000-01-01T00:00:00".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!((third.found, third.created, third.unchanged), (0, 0, 1));
    assert_eq!(story.shop_orders_for(&sales_order).len(), 1);
    assert_eq!(story.submitted_sales_orders().await, imported.len() + 1);
}

#[tokio::test]
async fn an_erpnext_order_with_an_item_the_shop_does_not_sell_fails_naming_the_item() {
    let story = story_with(false).await;
    let sales_order = story.erpnext_order("ghost", "NOT-IN-SHOP", false).await;
    let ctx = story.world.context(4).await;
    let dry = ErpnextOrderFlow::new(&ctx)
        .dry_run()
        .poll(None)
        .await
        .unwrap();
    assert_eq!(dry.failed, 1);
    let report = ErpnextOrderFlow::new(&ctx).create_for(&sales_order).await;
    match &report.outcome {
        ShopOrderOutcome::Failed { reason, retryable } => {
            assert!(!retryable);
            assert!(
                reason.contains("item NOT-IN-SHOP (NOT-IN-SHOP item)")
                    && reason.contains("no product with SKU `NOT-IN-SHOP`"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(story.shop_orders_for(&sales_order).is_empty());
    // Nothing pending was recorded for it: nothing was attempted in the shop.
    assert_eq!(
        story
            .world
            .store
            .erpnext_order(story.world.connection.id, &sales_order)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn reconcile_lists_a_shop_order_whose_status_lags_erpnext_until_the_write_back_runs() {
    // No webhooks: nothing is written back until the poll runs.
    let story = story_with(false).await;
    let (order_id, sales_order) = story.paid_order(2).await;
    let born = story.erpnext_order("reconciled", "SIM-001", false).await;
    let ctx = story.world.context(4).await;
    let made = ErpnextOrderFlow::new(&ctx).poll(None).await.unwrap();
    assert_eq!(made.created, 1, "{made:?}");
    let born_id = made.reports[0].order_id.unwrap();
    story.deliver(&sales_order, 2, "1Z-LAG").await;

    let report = reconcile(&ctx).await.unwrap();
    let lag = report
        .status_lags
        .iter()
        .find(|lag| lag.order_id == order_id)
        .unwrap_or_else(|| panic!("the delivered order lags: {report:#?}"));
    assert_eq!(
        (
            lag.sales_order.as_str(),
            lag.woocommerce_status.as_str(),
            lag.expected.as_str()
        ),
        (sales_order.as_str(), "processing", "completed"),
        "{lag:?}"
    );
    // The order born in ERPNext is matched by its key: not missing, not a duplicate, not owed
    // an invoice from the shop, its total the same, and its status in step.
    assert!(
        !report.missing_sales_orders.contains(&born_id),
        "{report:#?}"
    );
    assert!(!report.missing_invoices.contains(&born_id), "{report:#?}");
    assert!(report.duplicates.is_empty() && report.total_mismatches.is_empty());
    assert!(!report.status_lags.iter().any(|lag| lag.sales_order == born));

    let written = StatusFlow::new(&ctx).poll(None).await.unwrap();
    assert!(written.statuses_written >= 1, "{written:?}");
    let report = reconcile(&ctx).await.unwrap();
    assert!(report.status_lags.is_empty(), "{report:#?}");
}

/// Receives the goods a Delivery Note takes (a Material Receipt of its stock items): ERPNext,
/// real or simulated, delivers no more than the warehouse holds.
async fn receive_goods(erp: &ErpClient, note: &Value) {
    let mut rows = Vec::new();
    for row in note["items"].as_array().into_iter().flatten() {
        let code = row["item_code"].as_str().unwrap();
        let item = erp.get_document("Item", code).await.unwrap();
        if item["is_stock_item"] == 1 {
            rows.push(
                json!({"item_code": code, "qty": row["qty"], "basic_rate": 1,
                             "t_warehouse": row["warehouse"]}),
            );
        }
    }
    if !rows.is_empty() {
        erp.insert::<Value>(
            "Stock Entry",
            &json!({"stock_entry_type": "Material Receipt", "docstatus": 1, "items": rows}),
        )
        .await
        .unwrap();
    }
}
