//! Which inbound event queues which job. An event is a hint: the job re-reads the object, so a
//! lost, repeated or stale delivery changes nothing the next poll would not fix.

use chrono::Utc;
use serde_json::Value;

use super::{enqueue, Job};
use crate::store::{Store, StoreError, StoredConnection};
use crate::sync::keys;

/// Where an inbound event came from, as the inbox stores it.
pub const WOOCOMMERCE: &str = "woocommerce";
pub const ERPNEXT: &str = "erpnext";

/// The jobs an inbound event asks for.
///
/// WooCommerce: `order.created`, `order.updated` and `order.restored` carry the order. ERPNext: a
/// Sales Order or Sales Invoice that carries `woocommerce_order_id` (and, when present, this
/// connection's order key: another connection's order on the same site is not ours).
pub fn jobs_for_event(connection_name: &str, source: &str, topic: &str, body: &Value) -> Vec<Job> {
    let order = match source {
        WOOCOMMERCE => {
            if !matches!(topic, "order.created" | "order.updated" | "order.restored") {
                return Vec::new();
            }
            body.get("id").and_then(Value::as_u64)
        }
        ERPNEXT => {
            if !matches!(topic, "Sales Order" | "Sales Invoice") {
                return Vec::new();
            }
            let order_id = match body.get("woocommerce_order_id") {
                Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
                Some(Value::Number(number)) => number.as_u64(),
                _ => None,
            };
            order_id.filter(|order_id| {
                match body.get("woocommerce_order_key").and_then(Value::as_str) {
                    Some(key) if !key.is_empty() => {
                        key == keys::sales_order(connection_name, *order_id)
                    }
                    _ => true,
                }
            })
        }
        _ => None,
    };
    order
        .map(|order_id| vec![Job::Order { order_id }])
        .unwrap_or_default()
}

/// Queues the jobs of an inbound event, then marks it processed; answers them.
pub async fn route_event(
    store: &Store,
    connection: &StoredConnection,
    event_id: i64,
    source: &str,
    topic: &str,
    body: &Value,
) -> Result<Vec<Job>, StoreError> {
    let jobs = jobs_for_event(&connection.connection.name, source, topic, body);
    for job in &jobs {
        enqueue(store, connection.id, job, Utc::now()).await?;
    }
    store.mark_inbound_processed(event_id).await?;
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_ask_for_the_order_they_are_about_and_only_ours() {
        let order = |id| vec![Job::Order { order_id: id }];
        assert_eq!(
            jobs_for_event("shop", WOOCOMMERCE, "order.updated", &json!({"id": 727})),
            order(727)
        );
        assert!(
            jobs_for_event("shop", WOOCOMMERCE, "product.updated", &json!({"id": 9})).is_empty()
        );
        let ours = json!({"woocommerce_order_id": "17", "woocommerce_order_key": "shop:17"});
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Sales Order", &ours),
            order(17)
        );
        let theirs = json!({"woocommerce_order_id": "17", "woocommerce_order_key": "other:17"});
        assert!(jobs_for_event("shop", ERPNEXT, "Sales Order", &theirs).is_empty());
        assert!(
            jobs_for_event("shop", ERPNEXT, "Sales Order", &json!({"name": "SO-1"})).is_empty()
        );
    }
}
