//! Every WooCommerce object in the fixtures (recorded and modeled) parses with
//! our wire types, chosen by the object's shape.

use std::path::{Path, PathBuf};

use serde_json::Value;
use woocommerce_sync::woocommerce::types::{
    Customer, ErrorBody, Order, OrderNote, Product, Refund, Webhook,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Default, Debug)]
struct Counts {
    orders: usize,
    refunds: usize,
    notes: usize,
    products: usize,
    customers: usize,
    webhooks: usize,
    errors: usize,
}

fn check(value: &Value, origin: &str, counts: &mut Counts) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| check(item, origin, counts)),
        Value::Object(fields) => {
            let has = |name: &str| fields.contains_key(name);
            let result = if has("order_key") && has("line_items") {
                counts.orders += 1;
                serde_json::from_value::<Order>(value.clone()).map(drop)
            } else if has("refunded_by") && has("amount") {
                counts.refunds += 1;
                serde_json::from_value::<Refund>(value.clone()).map(drop)
            } else if has("note") && has("customer_note") {
                counts.notes += 1;
                serde_json::from_value::<OrderNote>(value.clone()).map(drop)
            } else if has("sku") && has("type") && has("stock_status") {
                counts.products += 1;
                serde_json::from_value::<Product>(value.clone()).map(drop)
            } else if has("username") && has("billing") {
                counts.customers += 1;
                serde_json::from_value::<Customer>(value.clone()).map(drop)
            } else if has("delivery_url") && has("topic") {
                counts.webhooks += 1;
                serde_json::from_value::<Webhook>(value.clone()).map(drop)
            } else if has("code") && has("message") && !has("id") {
                counts.errors += 1;
                serde_json::from_value::<ErrorBody>(value.clone()).map(drop)
            } else {
                Ok(())
            };
            if let Err(error) = result {
                panic!("{origin}: {error}");
            }
        }
        _ => {}
    }
}

fn walk(folder: &Path, counts: &mut Counts) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, counts);
            continue;
        }
        if path.extension().and_then(|ext| ext.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue; // raw signed webhook bodies are checked by the webhook tests
        };
        let origin = path.display().to_string();
        if let Some(body) = value.pointer("/response/body") {
            check(body, &origin, counts);
        } else if let Some(body) = value.get("body").filter(|body| body.is_object()) {
            check(body, &origin, counts);
        } else if value.get("body_text").is_some() {
            if let Some(Ok(body)) = value["body_text"]
                .as_str()
                .map(serde_json::from_str::<Value>)
            {
                check(&body, &origin, counts);
            }
        } else if let Value::Object(map) = &value {
            if path.ends_with("variations.json") {
                map.values().for_each(|list| check(list, &origin, counts));
            } else {
                check(&value, &origin, counts);
            }
        } else {
            check(&value, &origin, counts);
        }
    }
}

#[test]
fn every_fixture_object_parses_with_the_wire_types() {
    let mut counts = Counts::default();
    walk(&root().join("woocommerce"), &mut counts);
    walk(&root().join("woocommerce-real"), &mut counts);
    // Shapes found in the fixtures, so a silent skip would show here.
    assert!(counts.orders > 150, "{counts:?}");
    assert!(counts.refunds >= 5, "{counts:?}");
    assert!(counts.notes >= 3, "{counts:?}");
    assert!(counts.products >= 5, "{counts:?}");
    assert!(counts.customers >= 1, "{counts:?}");
    assert!(counts.webhooks >= 3, "{counts:?}");
    assert!(counts.errors >= 20, "{counts:?}");
}
