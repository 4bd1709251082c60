//! `--load PATH`: orders (and refunds, products, variations, customers) in the
//! real wire shape, from one JSON file or a folder laid out like
//! `tests/fixtures/woocommerce-real/store-snapshot/`. Loaded objects are served
//! back unchanged; nothing is recomputed.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

use super::state::{Shop, StoredOrder};

/// Loads a file or a folder into the shop; returns how many orders were loaded.
pub fn load_path(shop: &mut Shop, path: &Path) -> anyhow::Result<usize> {
    if path.is_dir() {
        load_folder(shop, path)
    } else {
        let value = read_json(path)?;
        load_objects(shop, value, path)
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON; --load takes WooCommerce REST responses (an array or one object)",
            path.display()
        )
    })
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

fn load_folder(shop: &mut Shop, folder: &Path) -> anyhow::Result<usize> {
    let mut orders = 0;
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default()
            .to_string();
        if path.is_dir() {
            if name == "refunds" {
                load_refunds(shop, &path)?;
            }
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let value = read_json(&path)?;
        match name.as_str() {
            "variations.json" => load_variations(shop, value, &path)?,
            "taxes.json" => {}
            _ => orders += load_objects(shop, value, &path)?,
        }
    }
    Ok(orders)
}

/// Sorts objects by shape: orders have `line_items`, products `type`+`sku`,
/// customers `username`+`email`. Anything else is skipped.
fn load_objects(shop: &mut Shop, value: Value, path: &Path) -> anyhow::Result<usize> {
    let mut orders = 0;
    for item in as_list(value) {
        let id = item.get("id").and_then(Value::as_u64);
        let Some(id) = id else {
            bail!("{}: an object has no integer `id`", path.display());
        };
        if item.get("line_items").is_some() && item.get("order_key").is_some() {
            let stored = StoredOrder::from_value(&item)
                .map_err(|message| anyhow::anyhow!("{}: {message}", path.display()))?;
            shop.put_order(stored);
            orders += 1;
        } else if item.get("sku").is_some() && item.get("type").is_some() {
            shop.next_product_id = shop.next_product_id.max(id + 1);
            shop.products.insert(id, item);
        } else if item.get("username").is_some() && item.get("email").is_some() {
            shop.customers.insert(id, item);
        }
    }
    Ok(orders)
}

/// `variations.json`: `{"<parent id>": [variation, ...]}` or a plain array.
fn load_variations(shop: &mut Shop, value: Value, path: &Path) -> anyhow::Result<()> {
    let lists: Vec<Value> = match value {
        Value::Object(by_parent) => by_parent.into_iter().map(|(_, list)| list).collect(),
        other => vec![other],
    };
    for list in lists {
        load_objects(shop, list, path)?;
    }
    Ok(())
}

/// `refunds/<order id>.json`: that order's refunds, as `GET /orders/<id>/refunds` returns them.
fn load_refunds(shop: &mut Shop, folder: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let Some(order_id) = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.parse::<u64>().ok())
        else {
            continue;
        };
        let mut refunds = as_list(read_json(&path)?);
        for refund in &refunds {
            if let Some(id) = refund.get("id").and_then(Value::as_u64) {
                shop.next_order_id = shop.next_order_id.max(id + 1);
            }
        }
        // Stored oldest first; the files hold the API's newest-first order.
        refunds.reverse();
        shop.refunds.insert(order_id, refunds);
    }
    Ok(())
}

/// Serves `order` (the real wire shape) and its `refunds` (as `GET /orders/<id>/refunds` lists
/// them, newest first), replacing what the shop had under that id.
pub fn put_order_with_refunds(
    shop: &mut Shop,
    order: &Value,
    refunds: &[Value],
) -> anyhow::Result<()> {
    let stored = StoredOrder::from_value(order).map_err(|message| anyhow::anyhow!(message))?;
    let id = stored.id;
    shop.put_order(stored);
    let mut oldest_first = refunds.to_vec();
    for refund in &oldest_first {
        if let Some(refund_id) = refund.get("id").and_then(Value::as_u64) {
            shop.next_order_id = shop.next_order_id.max(refund_id + 1);
        }
    }
    oldest_first.reverse();
    shop.refunds.insert(id, oldest_first);
    Ok(())
}
