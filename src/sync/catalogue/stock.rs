//! The pure core of the stock push: from ERPNext's Bins, the unit the shop sells in, the orders
//! the shop sold that ERPNext does not reserve yet and what was pushed before, the quantity each
//! linked product is offered and which ones to write. No IO.
//!
//! - The figure is the connection's (`available` = actual − reserved by default, `actual`, or
//!   `projected`), summed over the connection's warehouses only.
//! - In the shop's unit: divided by the Item's conversion factor and rounded down (a part box
//!   cannot be sold); WooCommerce keeps whole quantities.
//! - Minus the units of shop orders the service received but whose Sales Order does not exist
//!   yet: the shop already took them off its stock, and ERPNext will reserve them only when the
//!   order is synced. Without this a push would put back units just sold.
//! - Never below zero: a shop shows an oversold item as out of stock.
//! - Only quantities that differ from the last push are written (all of them with `--all`).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::Value;

use super::units::SellingUnit;
use crate::connection::StockFigure;
use crate::store::ProductLink;

/// One Bin (item × warehouse) as ERPNext reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinLevel {
    pub item_code: String,
    pub warehouse: String,
    pub actual: Decimal,
    pub reserved: Decimal,
    pub projected: Decimal,
}

impl BinLevel {
    fn figure(&self, figure: StockFigure) -> Decimal {
        match figure {
            StockFigure::Available => self.actual - self.reserved,
            StockFigure::Actual => self.actual,
            StockFigure::Projected => self.projected,
        }
    }
}

/// One quantity to write to the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockWrite {
    pub item_code: String,
    pub product_id: u64,
    /// 0 for a simple product.
    pub variation_id: u64,
    pub quantity: i64,
    /// What was pushed before (`None`: never).
    pub previous: Option<Decimal>,
}

/// What the push needs besides the links and Bins.
#[derive(Debug, Clone, Default)]
pub struct StockInputs {
    pub figure: StockFigure,
    /// Item code → the unit the shop sells it in (absent: its stock unit).
    pub units: HashMap<String, SellingUnit>,
    /// SKU (item code) → units in shop orders not yet reserved in ERPNext.
    pub unreserved: HashMap<String, Decimal>,
    /// Write every linked stock item, changed or not.
    pub all: bool,
}

/// The quantity each linked stock item is offered, and the writes that changes.
pub fn plan_stock(
    links: &[ProductLink],
    bins: &[BinLevel],
    inputs: &StockInputs,
) -> Vec<StockWrite> {
    let mut on_hand: HashMap<&str, Decimal> = HashMap::new();
    for bin in bins {
        *on_hand.entry(bin.item_code.as_str()).or_default() += bin.figure(inputs.figure);
    }
    links
        .iter()
        .filter(|link| link.is_stock_item)
        .filter_map(|link| {
            let quantity = offered(link, &on_hand, inputs);
            let changed = link.pushed_stock != Some(Decimal::from(quantity));
            (changed || inputs.all).then(|| StockWrite {
                item_code: link.item_code.clone(),
                product_id: link.product_id,
                variation_id: link.variation_id,
                quantity,
                previous: link.pushed_stock,
            })
        })
        .collect()
}

fn offered(link: &ProductLink, on_hand: &HashMap<&str, Decimal>, inputs: &StockInputs) -> i64 {
    let stock = on_hand
        .get(link.item_code.as_str())
        .copied()
        .unwrap_or_default();
    let factor = inputs
        .units
        .get(&link.item_code)
        .map(|unit| unit.factor)
        .filter(|factor| *factor > Decimal::ZERO)
        .unwrap_or(Decimal::ONE);
    let in_shop_units =
        (stock / factor).round_dp_with_strategy(0, RoundingStrategy::ToNegativeInfinity);
    let unreserved = inputs
        .unreserved
        .get(&link.item_code)
        .copied()
        .unwrap_or_default();
    let quantity = (in_shop_units - unreserved)
        .round_dp_with_strategy(0, RoundingStrategy::ToNegativeInfinity)
        .max(Decimal::ZERO);
    i64::try_from(quantity).unwrap_or(i64::MAX)
}

/// The order statuses in which WooCommerce has taken an order's units off its stock
/// (`wc_maybe_reduce_stock_levels`).
const STOCK_REDUCED: [&str; 3] = ["processing", "on-hold", "completed"];

/// Units per SKU in shop orders that have no Sales Order yet: the latest body of each order
/// (`orders` as the store gives them, oldest first, `(order id, JSON body)`) counts when the
/// shop reduced stock for it. Bodies that do not parse count nothing.
pub fn unreserved_units(orders: &[(String, String)]) -> HashMap<String, Decimal> {
    let mut latest: BTreeMap<&str, Value> = BTreeMap::new();
    for (order_id, body) in orders {
        if let Ok(value) = serde_json::from_str::<Value>(body) {
            latest.insert(order_id.as_str(), value);
        }
    }
    let mut units: HashMap<String, Decimal> = HashMap::new();
    for order in latest.values() {
        let status = order["status"].as_str().unwrap_or_default();
        if !STOCK_REDUCED.contains(&status) {
            continue;
        }
        for line in order["line_items"].as_array().into_iter().flatten() {
            let sku = line["sku"].as_str().unwrap_or_default().trim();
            let quantity = line["quantity"].as_i64().unwrap_or(0);
            if !sku.is_empty() && quantity > 0 {
                *units.entry(sku.to_string()).or_default() += Decimal::from(quantity);
            }
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(code: &str, stock: bool, pushed: Option<i64>) -> ProductLink {
        ProductLink {
            item_code: code.into(),
            product_id: 10,
            variation_id: 0,
            is_stock_item: stock,
            pushed_stock: pushed.map(Decimal::from),
            pushed_prices: None,
        }
    }

    fn bin(code: &str, warehouse: &str, actual: i64, reserved: i64) -> BinLevel {
        BinLevel {
            item_code: code.into(),
            warehouse: warehouse.into(),
            actual: Decimal::from(actual),
            reserved: Decimal::from(reserved),
            projected: Decimal::from(actual - reserved + 5),
        }
    }

    fn quantities(writes: &[StockWrite]) -> Vec<(&str, i64)> {
        writes
            .iter()
            .map(|write| (write.item_code.as_str(), write.quantity))
            .collect()
    }

    #[test]
    fn the_chosen_figure_is_summed_over_warehouses_and_only_changes_are_written() {
        let links = [
            link("A", true, None),
            link("B", true, Some(3)),
            link("C", false, None),
            link("D", true, Some(7)),
        ];
        let bins = [
            bin("A", "Stores", 10, 4),
            bin("A", "Shop", 2, 0),
            bin("B", "Stores", 3, 0),
            bin("C", "Stores", 9, 0),
            bin("D", "Stores", 1, 4),
        ];
        let mut inputs = StockInputs::default();
        assert_eq!(
            quantities(&plan_stock(&links, &bins, &inputs)),
            [("A", 8), ("D", 0)]
        );
        inputs.figure = StockFigure::Actual;
        assert_eq!(
            quantities(&plan_stock(&links, &bins, &inputs)),
            [("A", 12), ("D", 1)]
        );
        inputs.figure = StockFigure::Projected;
        assert_eq!(
            quantities(&plan_stock(&links, &bins, &inputs)),
            [("A", 18), ("B", 8), ("D", 2)]
        );
        inputs.figure = StockFigure::Available;
        inputs.all = true;
        assert_eq!(
            quantities(&plan_stock(&links, &bins, &inputs)),
            [("A", 8), ("B", 3), ("D", 0)]
        );
    }

    #[test]
    fn shop_units_round_down_and_unsynced_orders_are_taken_off() {
        let links = [link("BOX", true, None), link("MUG", true, None)];
        let bins = [bin("BOX", "Stores", 52_900, 0), bin("MUG", "Stores", 10, 2)];
        let inputs = StockInputs {
            units: HashMap::from([(
                "BOX".to_string(),
                SellingUnit {
                    uom: "Box".into(),
                    factor: Decimal::from(1000),
                    ..SellingUnit::stock("Nos")
                },
            )]),
            unreserved: unreserved_units(&[
                (
                    "5".into(),
                    json!({"status": "pending", "line_items": [{"sku": "MUG", "quantity": 1}]})
                        .to_string(),
                ),
                (
                    "5".into(),
                    json!({"status": "processing", "line_items": [{"sku": "MUG", "quantity": 3}]})
                        .to_string(),
                ),
                (
                    "6".into(),
                    json!({"status": "cancelled", "line_items": [{"sku": "MUG", "quantity": 4}]})
                        .to_string(),
                ),
                (
                    "7".into(),
                    json!({"status": "on-hold", "line_items": [{"sku": "BOX", "quantity": 60}]})
                        .to_string(),
                ),
            ]),
            ..StockInputs::default()
        };
        assert_eq!(
            quantities(&plan_stock(&links, &bins, &inputs)),
            [("BOX", 0), ("MUG", 5)]
        );
    }
}
