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

/// The ERPNext doctypes whose events ask for the catalogue's passes (see `sync::setup::webhooks`).
pub const STOCK_LEDGER_ENTRY: &str = "Stock Ledger Entry";
pub const ITEM_PRICE: &str = "Item Price";

/// The jobs an inbound event asks for.
///
/// WooCommerce: `order.created`, `order.updated` and `order.restored` carry the order. ERPNext: a
/// Sales Order or Sales Invoice that carries `woocommerce_order_id` (and, when present, this
/// connection's order key: another connection's order on the same site is not ours) queues the
/// order; a Sales Order of ours also queues the write-back of its progress to the shop, and a
/// Delivery Note queues that of each Sales Order it delivers against (the job checks whose it is).
/// A Sales Order born in ERPNext (`woocommerce_store` is this connection, no order id) queues its
/// write-back, which creates it in the shop first. A Stock Ledger Entry (a stock move in one of
/// the connection's warehouses: the Webhook's condition) queues the stock pass, an Item Price of
/// its lists the price pass: one job per connection, however many moves arrive before it runs.
pub fn jobs_for_event(connection_name: &str, source: &str, topic: &str, body: &Value) -> Vec<Job> {
    if source == ERPNEXT {
        match topic {
            STOCK_LEDGER_ENTRY => return vec![Job::PushStock],
            ITEM_PRICE => return vec![Job::PushPrices],
            _ => {}
        }
    }
    if source == ERPNEXT && topic == "Delivery Note" {
        let mut jobs: Vec<Job> = Vec::new();
        let rows = body.get("items").and_then(Value::as_array);
        for row in rows.into_iter().flatten() {
            if let Some(name) = row
                .get("against_sales_order")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
            {
                let job = Job::SalesOrderChanged {
                    name: name.to_string(),
                };
                if !jobs.contains(&job) {
                    jobs.push(job);
                }
            }
        }
        return jobs;
    }
    // A Sales Order born in ERPNext for this connection (no shop order id): its write-back job
    // creates it in the shop once, then follows it (see `sync::erp_to_woo::erpnext_orders`).
    if source == ERPNEXT
        && topic == "Sales Order"
        && body.get("woocommerce_store").and_then(Value::as_str) == Some(connection_name)
        && body
            .get("woocommerce_order_id")
            .map_or(true, |id| id.is_null() || id.as_str() == Some(""))
    {
        return body
            .get("name")
            .and_then(Value::as_str)
            .map(|name| {
                vec![Job::SalesOrderChanged {
                    name: name.to_string(),
                }]
            })
            .unwrap_or_default();
    }
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
    let Some(order_id) = order else {
        return Vec::new();
    };
    let mut jobs = vec![Job::Order { order_id }];
    if source == ERPNEXT && topic == "Sales Order" {
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            jobs.push(Job::SalesOrderChanged {
                name: name.to_string(),
            });
        }
    }
    jobs
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
        let ours = json!({"name": "SO-1", "woocommerce_order_id": "17", "woocommerce_order_key": "shop:17"});
        let mut followed = order(17);
        followed.push(Job::SalesOrderChanged {
            name: "SO-1".into(),
        });
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Sales Order", &ours),
            followed
        );
        let note = json!({"name": "DN-1", "items": [
            {"against_sales_order": "SO-1"}, {"against_sales_order": "SO-1"}, {"against_sales_order": null}
        ]});
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Delivery Note", &note),
            vec![Job::SalesOrderChanged {
                name: "SO-1".into()
            }]
        );
        let theirs = json!({"woocommerce_order_id": "17", "woocommerce_order_key": "other:17"});
        assert!(jobs_for_event("shop", ERPNEXT, "Sales Order", &theirs).is_empty());
        assert!(
            jobs_for_event("shop", ERPNEXT, "Sales Order", &json!({"name": "SO-1"})).is_empty()
        );
        let born =
            json!({"name": "SO-2", "woocommerce_store": "shop", "woocommerce_order_id": null});
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Sales Order", &born),
            vec![Job::SalesOrderChanged {
                name: "SO-2".into()
            }]
        );
        assert!(jobs_for_event("other", ERPNEXT, "Sales Order", &born).is_empty());
        let moved = json!({"name": "a1b2c3", "item_code": "SIM-001", "warehouse": "Stores - TC"});
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Stock Ledger Entry", &moved),
            vec![Job::PushStock]
        );
        assert_eq!(
            jobs_for_event("shop", ERPNEXT, "Item Price", &moved),
            vec![Job::PushPrices]
        );
        assert!(jobs_for_event("shop", WOOCOMMERCE, "Item Price", &moved).is_empty());
    }
}
