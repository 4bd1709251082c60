//! Real-system tier, the service's face to both systems: `setup` run twice, the webhooks of both
//! systems delivered for real into the running service, and a full poll of a store whose orders
//! share their `date_modified` over more than two pages. Each scenario runs on the simulators and
//! on the real pair and must end the same. Skipped, and said so, when the pair is not configured.

mod real_pair;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use woocommerce_sync::app::{Service, ServiceOptions};
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::sync::setup::{set_up, SetupOptions};
use woocommerce_sync::sync::woo_to_erp::orders::OrderFlow;

use real_pair::sides::{calls, Accounts, Side};
use real_pair::{real_pair, run_tag};

fn connection_name(scenario: &str) -> String {
    format!("{}{scenario}", run_tag())
}

/// Removes the webhooks a scenario's setup installed in both systems (a webhook left pointing at
/// a receiver that is gone costs ERPNext's background worker seconds for every delivery).
async fn remove_webhooks(side: &Side) {
    let name = &side.connection.connection.name;
    let hooks: Vec<Value> = side
        .erp
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name"])
                .filter(
                    "request_url",
                    "like",
                    format!("%/webhooks/erpnext/{name}?%"),
                )
                .all_rows(),
        )
        .await
        .unwrap_or_default();
    for hook in hooks {
        let _ = side
            .erp
            .delete("Webhook", hook["name"].as_str().unwrap_or_default())
            .await;
    }
    for hook in side.woo.list_webhooks().await.unwrap_or_default() {
        if hook
            .delivery_url
            .ends_with(&format!("/webhooks/woocommerce/{name}"))
        {
            let _ = side.woo.delete_webhook(hook.id).await;
        }
    }
}

/// What setup leaves in both systems for the connection, comparable between sides.
async fn installed(side: &Side) -> Value {
    let name = &side.connection.connection.name;
    let mut hooks: Vec<Value> = side
        .erp
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&[
                    "webhook_doctype",
                    "webhook_docevent",
                    "condition",
                    "enabled",
                ])
                .filter(
                    "request_url",
                    "like",
                    format!("%/webhooks/erpnext/{name}?%"),
                )
                .all_rows(),
        )
        .await
        .unwrap();
    hooks.sort_by_key(|hook| {
        hook["webhook_docevent"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    let mut topics: Vec<String> = side
        .woo
        .list_webhooks()
        .await
        .unwrap()
        .into_iter()
        .filter(|hook| {
            hook.delivery_url
                .ends_with(&format!("/webhooks/woocommerce/{name}"))
        })
        .map(|hook| format!("{} {}", hook.topic, hook.status))
        .collect();
    topics.sort();
    json!({"erpnext_webhooks": hooks, "woocommerce_webhooks": topics})
}

async fn setup_twice(side: &Side) -> (Value, String) {
    // A live receiver: WooCommerce disables a webhook whose deliveries keep failing (and the
    // store's other orders are delivered to it too), which the second run would then repair.
    let running = serve(side).await;
    let options = SetupOptions {
        create_receivable_accounts: true,
        ..SetupOptions::at(running.base.clone())
    };
    let first = set_up(&side.connection.connection, &options).await.unwrap();
    assert!(
        first.missing.is_empty(),
        "{}: setup names missing data: {:?}",
        side.label,
        first.missing
    );
    let second = set_up(&first.connection, &options).await.unwrap();
    let state = installed(side).await;
    remove_webhooks(side).await;
    let changed = if second.report.changed_anything() {
        format!("{}: {}", side.label, second.report)
    } else {
        String::new()
    };
    (state, changed)
}

#[tokio::test]
async fn setup_twice_installs_the_same_once_on_both() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    real_pair::sweep_earlier_runs(&erp, &woo).await;
    let name = connection_name("set");
    let real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let simulated = Side::simulated(&name, &[], &Accounts::new()).await;
    let (on_real, real_changed) = setup_twice(&real).await;
    let (on_sim, sim_changed) = setup_twice(&simulated).await;
    assert_eq!(
        on_sim, on_real,
        "what setup installs (left simulators, right real)"
    );
    assert_eq!(
        (real_changed.as_str(), sim_changed.as_str()),
        ("", ""),
        "the second setup changes nothing"
    );
    assert_eq!(
        on_real["erpnext_webhooks"].as_array().unwrap().len(),
        3,
        "three ERPNext Webhooks: Sales Order on_change, Stock Ledger Entry after_insert, Item Price on_update"
    );
    assert_eq!(
        on_real["woocommerce_webhooks"],
        json!(["order.created active", "order.updated active"])
    );
}

/// The service on a loopback port, set up so that both systems deliver to it.
struct Running {
    service: Arc<Service>,
    base: url::Url,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(side: &Side) -> Running {
    let service = Arc::new(Service::new(
        side.store.clone(),
        &SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
        "admin password for the tier",
        ServiceOptions {
            poll_interval: None,
            calls: calls(),
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
    Running {
        service,
        base,
        server,
    }
}

/// Waits, within `limit`, until the inbox holds an event from `source` on `topic` (any topic when
/// `None`).
async fn wait_for_event(side: &Side, source: &str, topic: Option<&str>, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let events = side
            .store
            .recent_inbound(side.connection.id, 50)
            .await
            .unwrap();
        if let Some(event) = events.iter().find(|event| {
            event.source == source && topic.map_or(true, |topic| event.topic == topic)
        }) {
            return json!({"source": event.source, "topic": event.topic});
        }
        assert!(
            Instant::now() < deadline,
            "{}: no {source} webhook reached the service within {limit:?}",
            side.label
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A new paid order in the store reaches the service as WooCommerce's webhook; its job makes the
/// Sales Order and the invoice; the invoice changes the order's status in ERPNext, whose `on_change`
/// Webhook reaches the service too.
async fn webhook_story(side: &Side, product_id: u64) -> Vec<Value> {
    let running = serve(side).await;
    let options = SetupOptions::at(running.base.clone());
    set_up(&side.connection.connection, &options).await.unwrap();
    let tag = run_tag();
    let order = side
        .woo
        .create_order(&json!({
            "status": "processing", "set_paid": true, "payment_method": "bacs",
            "billing": {"first_name": "Hook", "last_name": format!("Buyer {tag}"),
                        "email": format!("hook.{tag}@example.test"), "address_1": "1 Hook St",
                        "city": "Sacramento", "state": "CA", "postcode": "95814", "country": "US"},
            "line_items": [{"product_id": product_id, "quantity": 1}]
        }))
        .await
        .unwrap();
    // The real store queues `order.created` and, for an order created paid, `order.updated` too;
    // its Action Scheduler delivers them in either order, so the test waits for the one both send.
    let woo_event = wait_for_event(
        side,
        "woocommerce",
        Some("order.created"),
        Duration::from_secs(60),
    )
    .await;
    running.service.drain_jobs().await.unwrap();
    let key = format!("{}:{}", side.connection.connection.name, order.id);
    let made: Vec<Value> = side
        .erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name", "per_billed"])
                .filter("woocommerce_order_key", "=", key.as_str())
                .all_rows(),
        )
        .await
        .unwrap();
    assert_eq!(
        made.len(),
        1,
        "{}: one Sales Order from the webhook",
        side.label
    );
    // The Sales Order's (the catalogue's Webhooks also deliver other runs' stock moves).
    let erp_event = wait_for_event(
        side,
        "erpnext",
        Some("Sales Order"),
        Duration::from_secs(120),
    )
    .await;
    remove_webhooks(side).await;
    vec![woo_event, erp_event]
}

#[tokio::test]
async fn the_webhooks_of_both_systems_reach_the_running_service_on_both() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    real_pair::sweep_earlier_runs(&erp, &woo).await;
    let name = connection_name("hook");
    let real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let product = real_pair::ensure_simple_product(&real.woo, "WSYNC-RT-MUG", "12.50").await;
    let simulated = Side::simulated(&name, &[], &Accounts::new()).await;
    let sim_product = simulated
        .woo_sim
        .as_ref()
        .unwrap()
        .products()
        .into_iter()
        .find(|product| product["type"] == "simple")
        .and_then(|product| product["id"].as_u64());
    let on_real = webhook_story(&real, product).await;
    let on_sim = webhook_story(&simulated, sim_product.expect("a simple product")).await;
    assert_eq!(on_sim, on_real, "the events the service received");
}

#[tokio::test]
async fn a_full_poll_of_orders_sharing_their_modified_second_syncs_each_exactly_once() {
    let Some((erp, woo)) = real_pair() else {
        return;
    };
    real_pair::sweep_earlier_runs(&erp, &woo).await;
    let name = connection_name("poll");
    let real = Side::real(&name, &erp, &woo, &Accounts::new()).await;
    let product = real_pair::ensure_simple_product(&real.woo, "WSYNC-RT-MUG", "12.50").await;
    let since = (chrono::Utc::now() - chrono::Duration::seconds(2)).naive_utc();
    let tag = run_tag();
    let made: Vec<u64> = futures::future::join_all((0..30).map(|index| {
        let woo = &real.woo;
        async move {
            woo.create_order(&json!({
                "status": "processing", "payment_method": "bacs",
                "billing": {"first_name": "Tie", "last_name": format!("{tag} {index}"),
                            "email": format!("poll.{tag}.{index}@example.test"),
                            "address_1": "1 Same St", "city": "Sacramento", "state": "CA",
                            "postcode": "95814", "country": "US"},
                "line_items": [{"product_id": product, "quantity": 1}]
            }))
            .await
            .unwrap()
            .id
        }
    }))
    .await;
    // Three pages of ten, read while other tests may change the store: every one exactly once.
    let ctx = real.context().await.with_page_size(10);
    let summary = OrderFlow::new(&ctx)
        .poll(Some(since), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(summary.failed, 0, "{:#?}", summary.failures);
    for id in &made {
        let key = format!("{name}:{id}");
        let found: Vec<Value> = real
            .erp
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&["name"])
                    .filter("woocommerce_order_key", "=", key.as_str())
                    .all_rows(),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "order {id}: {found:?}");
    }
    // Polled again (other tests may have added orders meanwhile), ours are still made once.
    let again = real.context().await.with_page_size(10);
    let second = OrderFlow::new(&again)
        .poll(Some(since), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(second.failed, 0, "{second:?}");
    for id in &made {
        let key = format!("{name}:{id}");
        let found: Vec<Value> = real
            .erp
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&["name"])
                    .filter("woocommerce_order_key", "=", key.as_str())
                    .all_rows(),
            )
            .await
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "order {id} after the second poll: {found:?}"
        );
    }
}
