//! `serve`'s webhook receivers, driven from outside: a shop order reaches
//! ERPNext through its webhook alone; bad signatures and malformed bodies are
//! refused with nothing stored; duplicate deliveries are recorded once.

mod common;

use base64::Engine;
use common::{fixture_path, spawn_app, spawn_world, TestApp, World};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use woocommerce_sync::money::parse_decimal;
use woocommerce_sync::simulators::woocommerce::{self, WooSimOptions};
use woocommerce_sync::store::JobState;
use woocommerce_sync::sync::context::woocommerce_client;
use woocommerce_sync::woocommerce::types::NewWebhook;

/// A recorded real delivery: its headers and exact body bytes.
fn recorded_delivery(name: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    let capture: Value = serde_json::from_str(&text).unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(capture["body_base64"].as_str().unwrap())
        .unwrap();
    let headers = capture["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.to_ascii_lowercase().as_str(),
                "host" | "content-length" | "connection" | "accept-encoding"
            )
        })
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_string()))
        .collect();
    (headers, body)
}

async fn post_recorded(
    app: &TestApp,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    app.post_raw(path, &pairs, body).await
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn use_webhook_secret(world: &World, secret: &str) {
    let mut connection = world.connection.connection.clone();
    connection.credentials.webhook_secret = secret.to_string();
    world.store.update_connection(&connection).await.unwrap();
}

/// How many events the inbox holds once every delivery of the shop has had its answer (so each
/// event is recorded and its job queued).
async fn inbox_once_delivered(world: &World) -> usize {
    world.woo.webhook_deliveries_settled().await;
    world
        .store
        .recent_inbound(world.connection.id, 100)
        .await
        .unwrap()
        .len()
}

async fn queued_orders(world: &World) -> Vec<String> {
    world
        .store
        .jobs_in_state(world.connection.id, JobState::Queued)
        .await
        .unwrap()
        .into_iter()
        .filter(|job| job.kind == "order")
        .map(|job| job.object_id)
        .collect()
}

#[tokio::test]
async fn a_shop_order_becomes_a_sales_order_through_its_webhook_alone() {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let app = spawn_app(&world).await;
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
    let product = shop
        .list_all_products()
        .await
        .unwrap()
        .into_iter()
        .find(|product| product.sku == "SIM-001")
        .expect("the generated shop sells SIM-001");
    let before = world.sales_orders_by_order().await.len();

    let address = json!({
        "first_name": "Grace", "last_name": "Hopper", "address_1": "1 Navy Way",
        "city": "Austin", "state": "TX", "postcode": "73301", "country": "US",
        "email": "grace@example.test",
    });
    let order = world
        .woo
        .create_order(&json!({
            // Awaiting a bank transfer: imported, not yet invoiced, so a
            // cancellation cancels the Sales Order (paid ones get a credit note).
            "status": "on-hold",
            "payment_method": "bacs",
            "billing": address,
            "shipping": address,
            "line_items": [{"product_id": product.id, "quantity": 2}],
        }))
        .unwrap();
    let order_id = order["id"].as_u64().unwrap();

    // Creating an order fires both `order.created` and `order.updated`: two
    // events (different topics), one coalesced job. Each delivery has its answer once the
    // event is recorded and its job queued.
    assert_eq!(inbox_once_delivered(&world).await, 2);
    assert_eq!(queued_orders(&world).await, vec![order_id.to_string()]);
    let report = app.drain_jobs().await;
    assert_eq!((report.succeeded, report.parked), (1, 0), "{report:?}");

    let by_order = world.sales_orders_by_order().await;
    assert_eq!(by_order.len(), before + 1);
    let sales_orders = &by_order[&order_id];
    assert_eq!(sales_orders.len(), 1);
    assert_eq!(
        parse_decimal(sales_orders[0]["grand_total"].to_string().trim_matches('"')).unwrap(),
        parse_decimal(order["total"].as_str().unwrap()).unwrap(),
        "ERPNext's grand total equals the shop's total"
    );

    // Cancelling in the shop reaches ERPNext the same way.
    let events_before = world
        .store
        .recent_inbound(world.connection.id, 100)
        .await
        .unwrap()
        .len();
    world
        .woo
        .update_order(order_id, &json!({"status": "cancelled"}))
        .unwrap();
    assert_eq!(inbox_once_delivered(&world).await, events_before + 1);
    app.drain_jobs().await;
    let name = sales_orders[0]["name"].as_str().unwrap();
    assert_eq!(
        world.erp.document("Sales Order", name).unwrap()["docstatus"],
        2
    );
    assert_eq!(world.sales_orders_by_order().await.len(), before);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let world = spawn_world(WooSimOptions::default()).await;
    let app = spawn_app(&world).await;

    // A real delivery, signed with another secret than the connection's.
    let (headers, body) =
        recorded_delivery("woocommerce-real/webhooks/wc-05-order-created-order-129.json");
    let response = post_recorded(&app, "/webhooks/woocommerce/shop", &headers, body.clone()).await;
    let refused = (response.status(), response.text().await.unwrap());
    assert_eq!(refused.0, 401, "{}", refused.1);

    // An unknown connection gets the very same answer, so names cannot be listed; so does a
    // delivery without any signature.
    let response = post_recorded(&app, "/webhooks/woocommerce/nope", &headers, body.clone()).await;
    assert_eq!((response.status(), response.text().await.unwrap()), refused);
    let unsigned_headers = [
        ("Content-Type", "application/json"),
        ("X-WC-Webhook-Topic", "order.created"),
    ];
    for path in ["/webhooks/woocommerce/shop", "/webhooks/woocommerce/nope"] {
        let response = app.post_raw(path, &unsigned_headers, body.clone()).await;
        assert_eq!(
            (response.status(), response.text().await.unwrap()),
            refused,
            "{path}"
        );
    }

    // ERPNext's real delivery, signed with its lab secret; and the same to an unknown name.
    let (headers, body) = recorded_delivery("erpnext/webhooks/erp-03-so-on-submit.json");
    for path in [
        "/webhooks/erpnext/shop?doctype=Sales+Order&event=on_submit",
        "/webhooks/erpnext/nope?doctype=Sales+Order&event=on_submit",
    ] {
        let response = post_recorded(&app, path, &headers, body.clone()).await;
        assert_eq!(
            (response.status(), response.text().await.unwrap()),
            refused,
            "{path}"
        );
    }

    assert!(world
        .store
        .recent_inbound(world.connection.id, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(world.store.pending_job_count().await.unwrap(), 0);

    // WooCommerce's unsigned creation ping is answered alike for any name.
    let response = app
        .post_raw("/webhooks/woocommerce/nope", &[], b"webhook_id=1".to_vec())
        .await;
    assert_eq!(response.status(), 200);

    // The unsigned creation ping is answered, and stores nothing either.
    let response = app
        .post_raw(
            "/webhooks/woocommerce/shop",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"webhook_id=7".to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(world
        .store
        .recent_inbound(world.connection.id, 10)
        .await
        .unwrap()
        .is_empty());

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("woocommerce_sync_webhooks_rejected_total{source=\"woocommerce\",reason=\"signature\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "woocommerce_sync_webhooks_rejected_total{source=\"erpnext\",reason=\"signature\"} 1"
    ));
    assert!(metrics.contains(
        "woocommerce_sync_webhooks_rejected_total{source=\"woocommerce\",reason=\"unknown_connection\"} 3"
    ));
}

#[tokio::test]
async fn a_duplicate_woocommerce_delivery_is_recorded_once() {
    let world = spawn_world(WooSimOptions::default()).await;
    use_webhook_secret(&world, "lab-webhook-secret-1").await;
    let app = spawn_app(&world).await;
    let (headers, body) =
        recorded_delivery("woocommerce-real/webhooks/wc-05-order-created-order-129.json");

    let first: Value = post_recorded(&app, "/webhooks/woocommerce/shop", &headers, body.clone())
        .await
        .json()
        .await
        .unwrap();
    let second = post_recorded(&app, "/webhooks/woocommerce/shop", &headers, body).await;
    assert_eq!(second.status(), 200, "a repeat is acknowledged");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["recorded"], "new");
    assert_eq!(first["queued_order"], "129");
    assert_eq!(second["recorded"], "duplicate");

    let events = world
        .store
        .recent_inbound(world.connection.id, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, "order.created");
    assert_eq!(events[0].object_id, "129");
    assert_eq!(queued_orders(&world).await, vec!["129".to_string()]);
}

#[tokio::test]
async fn erpnext_deliveries_are_deduplicated_and_queue_their_order() {
    let world = spawn_world(WooSimOptions::default()).await;
    use_webhook_secret(&world, "lab-erp-secret-1").await;
    let app = spawn_app(&world).await;

    // ERPNext sends on_update and on_submit with byte-identical bodies on submit.
    let (headers, body) =
        recorded_delivery("erpnext/webhooks/erp-02-so-on-update-from-submit.json");
    let response = post_recorded(
        &app,
        "/webhooks/erpnext/shop?doctype=Sales+Order&event=on_update",
        &headers,
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    let (headers, body) = recorded_delivery("erpnext/webhooks/erp-03-so-on-submit.json");
    let response = post_recorded(
        &app,
        "/webhooks/erpnext/shop?doctype=Sales+Order&event=on_submit",
        &headers,
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    let response: Value = response.json().await.unwrap();
    assert_eq!(response["recorded"], "duplicate");
    let events = world
        .store
        .recent_inbound(world.connection.id, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].object_id, "SAL-ORD-2026-00001");
    // That Sales Order was typed in ERPNext, not made from a shop order: nothing to queue.
    assert!(queued_orders(&world).await.is_empty());

    // A Sales Order made from shop order 4242 queues that order's job.
    let body = serde_json::to_vec(&json!({
        "doctype": "Sales Order", "name": "SAL-ORD-2026-00042", "docstatus": 1,
        "woocommerce_order_id": "4242", "woocommerce_order_key": "shop:4242",
    }))
    .unwrap();
    let signature = sign("lab-erp-secret-1", &body);
    let response = app
        .post_raw(
            "/webhooks/erpnext/shop?doctype=Sales+Order&event=on_submit",
            &[("X-Frappe-Webhook-Signature", signature.as_str())],
            body,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(queued_orders(&world).await, vec!["4242".to_string()]);
}

#[tokio::test]
async fn a_malformed_body_is_refused_with_what_is_wrong() {
    let world = spawn_world(WooSimOptions::default()).await;
    let app = spawn_app(&world).await;
    let body = b"{\"id\": 12, \"status\": ".to_vec();
    let signature = sign(woocommerce::TEST_WEBHOOK_SECRET, &body);
    let response = app
        .post_raw(
            "/webhooks/woocommerce/shop",
            &[
                ("X-WC-Webhook-Signature", signature.as_str()),
                ("X-WC-Webhook-Topic", "order.updated"),
                ("X-WC-Webhook-ID", "3"),
            ],
            body,
        )
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("not valid JSON"),
        "{error}"
    );

    let body = b"{\"status\": \"processing\"}".to_vec();
    let signature = sign(woocommerce::TEST_WEBHOOK_SECRET, &body);
    let response = app
        .post_raw(
            "/webhooks/woocommerce/shop",
            &[
                ("X-WC-Webhook-Signature", signature.as_str()),
                ("X-WC-Webhook-Topic", "order.updated"),
                ("X-WC-Webhook-ID", "3"),
            ],
            body,
        )
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("no numeric `id`"),
        "{error}"
    );

    assert!(world
        .store
        .recent_inbound(world.connection.id, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(world.store.pending_job_count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_event_committed_before_a_crash_is_queued_when_the_service_starts_again() {
    let world = spawn_world(WooSimOptions::default()).await;
    // The receiver committed the delivery, then the process died before queueing its job.
    world
        .store
        .record_inbound(
            world.connection.id,
            "woocommerce",
            "order.updated",
            "31",
            r#"{"id": 31, "status": "processing"}"#,
        )
        .await
        .unwrap();
    assert!(queued_orders(&world).await.is_empty());

    let replayed = woocommerce_sync::jobs::replay_inbox(&world.store)
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    assert_eq!(queued_orders(&world).await, vec!["31".to_string()]);
    assert!(world
        .store
        .unprocessed_inbound(10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        woocommerce_sync::jobs::replay_inbox(&world.store)
            .await
            .unwrap(),
        0
    );
}
