//! Outgoing webhook traffic, as WooCommerce sends it: the unsigned creation
//! ping, and fire-and-forget signed deliveries (never retried; a webhook is
//! disabled after its 7th failure in a row).

use std::time::Duration;

use rand::Rng;

use super::server::App;
use super::state::PendingDelivery;
use crate::woocommerce::webhook::signature;

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

/// Sends each delivery in the background.
pub fn deliver_all(app: App, deliveries: Vec<PendingDelivery>) {
    for delivery in deliveries {
        let app = app.clone();
        tokio::spawn(async move { deliver(app, delivery).await });
    }
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
    let source = format!("{}/", app.lock().base_url);
    let result = app
        .http
        .post(&delivery.delivery_url)
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-WC-Webhook-Source", source)
        .header("X-WC-Webhook-Topic", &delivery.topic)
        .header("X-WC-Webhook-Resource", resource)
        .header("X-WC-Webhook-Event", event)
        .header(
            "X-WC-Webhook-Signature",
            signature(&delivery.secret, delivery.body.as_bytes()),
        )
        .header("X-WC-Webhook-ID", delivery.webhook_id.to_string())
        .header("X-WC-Webhook-Delivery-ID", delivery_id)
        .body(delivery.body.to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await;
    let succeeded =
        matches!(&result, Ok(response) if (200..=302).contains(&response.status().as_u16()));
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
