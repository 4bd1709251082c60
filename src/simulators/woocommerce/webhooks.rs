//! Outgoing webhook traffic, as WooCommerce sends it: the unsigned creation
//! ping, and fire-and-forget signed deliveries (never retried; a webhook is
//! disabled after its 7th failure in a row). Like Action Scheduler, a delivery
//! is queued, not sent at once: while one is queued for the same webhook and
//! object, further changes add none, and the body is built when it is sent.

use std::time::Duration;

use rand::Rng;

use super::server::App;
use super::state::PendingDelivery;
use crate::woocommerce::webhook::{signature, WebhookHeaders};

const USER_AGENT: &str = "WooCommerce/11.0.1 Hookshot (WordPress/7.1)";
/// WooCommerce's default `woocommerce_max_webhook_delivery_failures`.
const MAX_FAILURES: u32 = 5;

/// The ping WooCommerce sends while creating a webhook; its outcome is ignored.
pub async fn send_ping(http: &reqwest::Client, delivery_url: &str, webhook_id: u64) {
    let result = http
        .post(delivery_url)
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("webhook_id={webhook_id}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    if let Err(error) = result {
        tracing::debug!(webhook_id, error = %error.without_url(), "webhook ping failed");
    }
}

/// How long a delivery waits in the queue (WooCommerce's queue runs asynchronously).
const QUEUE_DELAY: Duration = Duration::from_millis(100);

/// Queues each delivery, unless one for the same webhook and object is already queued.
pub fn deliver_all(app: App, deliveries: Vec<PendingDelivery>) {
    for delivery in deliveries {
        let resource_id = serde_json::from_str::<serde_json::Value>(&delivery.body)
            .ok()
            .and_then(|body| body.get("id").and_then(serde_json::Value::as_u64))
            .unwrap_or(0);
        let queued = app
            .lock()
            .queued_deliveries
            .insert((delivery.webhook_id, resource_id));
        if !queued {
            continue;
        }
        app.deliveries_pending.send_modify(|count| *count += 1);
        let app = app.clone();
        tokio::spawn(async move {
            tokio::time::sleep(QUEUE_DELAY).await;
            let delivery = {
                let mut shop = app.lock();
                shop.queued_deliveries
                    .remove(&(delivery.webhook_id, resource_id));
                current_state(&shop, delivery, resource_id)
            };
            deliver(app, delivery).await
        });
    }
}

/// The payload is the object as it is when the delivery is sent.
fn current_state(
    shop: &super::state::Shop,
    mut delivery: PendingDelivery,
    resource_id: u64,
) -> PendingDelivery {
    let current: Option<std::sync::Arc<str>> = match delivery.topic.as_str() {
        "order.created" | "order.updated" => shop
            .orders
            .get(&resource_id)
            .map(|stored| stored.json.clone()),
        "product.updated" | "product.created" => shop
            .products
            .get(&resource_id)
            .map(|product| std::sync::Arc::from(product.to_string())),
        _ => None,
    };
    if let Some(body) = current {
        delivery.body = body;
    }
    delivery
}

async fn deliver(app: App, delivery: PendingDelivery) {
    let (resource, event) = delivery
        .topic
        .split_once('.')
        .unwrap_or((delivery.topic.as_str(), ""));
    let delivery_id: String = {
        let bytes: [u8; 16] = rand::thread_rng().gen();
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    };
    let headers = WebhookHeaders {
        topic: delivery.topic.clone(),
        resource: resource.to_string(),
        event: event.to_string(),
        webhook_id: delivery.webhook_id,
        delivery_id,
        source: format!("{}/", app.lock().base_url),
        signature: signature(&delivery.secret, delivery.body.as_bytes()),
    };
    let mut request = app
        .http
        .post(&delivery.delivery_url)
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers.to_pairs() {
        request = request.header(name, value);
    }
    let result = request
        .body(delivery.body.to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let succeeded =
        matches!(&result, Ok(response) if (200..=302).contains(&response.status().as_u16()));
    {
        let mut shop = app.lock();
        if let Some(webhook) = shop.webhooks.get_mut(&delivery.webhook_id) {
            if succeeded {
                webhook.failure_count = 0;
            } else if webhook.failure_count > MAX_FAILURES {
                webhook.status = "disabled".to_string();
            } else {
                webhook.failure_count += 1;
            }
        }
    }
    // Settled only once the outcome is recorded.
    app.deliveries_pending
        .send_modify(|count| *count = count.saturating_sub(1));
}
