//! The pure core of the price push: from ERPNext's Item Prices, the regular and sale price each
//! linked product shows and which ones to write. No IO.
//!
//! - The regular price is the Item Price of the connection's price list, in the Item's stock
//!   UOM, valid today (`valid_from` empty or not after today, `valid_upto` empty or not before);
//!   of several, the one valid from the latest date, as ERPNext picks it. Prices for one
//!   customer, supplier or batch are not the shop's.
//! - Items the shop sells in a bigger unit (`shop_units`) show the stock-unit price times the
//!   units per shop unit.
//! - With a sale price list, its Item Price valid today and below the regular price is the sale
//!   price, with the Item Price's dates as the sale's first and last day; a sale that ended, or
//!   none, clears the shop's sale price. Without one, sale prices are left alone.
//! - An item without a regular price valid today is left alone (never written as 0).
//! - Only what differs from the last push is written (all with `--all`).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::store::ProductLink;

/// One Item Price row as ERPNext lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPriceRow {
    pub item_code: String,
    pub price_list: String,
    pub uom: String,
    pub rate: Decimal,
    pub valid_from: Option<NaiveDate>,
    pub valid_upto: Option<NaiveDate>,
    /// Set on a customer's, supplier's or batch's own price.
    pub restricted: bool,
}

/// The prices one shop product shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopPrices {
    pub regular: Decimal,
    /// `None` leaves the shop's sale alone (no sale price list); `Some(None)` clears it.
    pub sale: Option<Option<Sale>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sale {
    pub price: Decimal,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl ShopPrices {
    /// The text the link remembers: equal texts, equal prices.
    pub fn remembered(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One product's prices to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceWrite {
    pub item_code: String,
    pub product_id: u64,
    pub variation_id: u64,
    pub prices: ShopPrices,
    /// What the link remembered (`None`: never pushed).
    #[serde(skip)]
    pub previous: Option<String>,
}

/// What the price push needs besides links and Item Prices.
#[derive(Debug, Clone, Default)]
pub struct PriceInputs {
    pub today: Option<NaiveDate>,
    pub price_list: String,
    pub sale_price_list: Option<String>,
    /// Item code → its stock UOM.
    pub stock_uoms: HashMap<String, String>,
    /// Item code → stock units per shop unit (absent: 1).
    pub shop_unit_factors: HashMap<String, Decimal>,
    pub all: bool,
}

fn valid_on(row: &ItemPriceRow, today: NaiveDate) -> bool {
    row.valid_from.map_or(true, |from| from <= today)
        && row.valid_upto.map_or(true, |upto| upto >= today)
}

/// The prices every linked product shows, and the writes that changes.
pub fn plan_prices(
    links: &[ProductLink],
    rows: &[ItemPriceRow],
    inputs: &PriceInputs,
) -> Vec<PriceWrite> {
    let today = inputs.today.unwrap_or_default();
    // The latest valid_from wins, as ERPNext orders Item Prices by it.
    let mut current: HashMap<(&str, &str), &ItemPriceRow> = HashMap::new();
    for row in rows {
        let in_stock_uom = inputs
            .stock_uoms
            .get(&row.item_code)
            .map_or(true, |uom| row.uom.is_empty() || *uom == row.uom);
        if row.restricted || !in_stock_uom || !valid_on(row, today) {
            continue;
        }
        let key = (row.item_code.as_str(), row.price_list.as_str());
        let newer = current
            .get(&key)
            .map_or(true, |held| row.valid_from > held.valid_from);
        if newer {
            current.insert(key, row);
        }
    }
    links
        .iter()
        .filter_map(|link| {
            let code = link.item_code.as_str();
            let factor = inputs
                .shop_unit_factors
                .get(code)
                .copied()
                .unwrap_or(Decimal::ONE);
            let regular = current.get(&(code, inputs.price_list.as_str()))?.rate * factor;
            let sale = inputs.sale_price_list.as_deref().map(|list| {
                current
                    .get(&(code, list))
                    .map(|row| Sale {
                        price: (row.rate * factor).normalize(),
                        from: row.valid_from,
                        to: row.valid_upto,
                    })
                    .filter(|sale| sale.price < regular)
            });
            let prices = ShopPrices {
                regular: regular.normalize(),
                sale,
            };
            let changed = link.pushed_prices.as_deref() != Some(prices.remembered().as_str());
            (changed || inputs.all).then(|| PriceWrite {
                item_code: link.item_code.clone(),
                product_id: link.product_id,
                variation_id: link.variation_id,
                prices,
                previous: link.pushed_prices.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(code: &str, pushed: Option<String>) -> ProductLink {
        ProductLink {
            item_code: code.into(),
            product_id: 1,
            variation_id: 0,
            is_stock_item: false,
            pushed_stock: None,
            pushed_prices: pushed,
        }
    }

    fn day(text: &str) -> Option<NaiveDate> {
        Some(text.parse().unwrap())
    }

    fn row(code: &str, list: &str, rate: i64, from: &str, upto: &str) -> ItemPriceRow {
        ItemPriceRow {
            item_code: code.into(),
            price_list: list.into(),
            uom: "Nos".into(),
            rate: Decimal::new(rate, 2),
            valid_from: (!from.is_empty()).then(|| from.parse().unwrap()),
            valid_upto: (!upto.is_empty()).then(|| upto.parse().unwrap()),
            restricted: false,
        }
    }

    fn inputs(sale: Option<&str>) -> PriceInputs {
        PriceInputs {
            today: day("2026-12-05"),
            price_list: "Selling".into(),
            sale_price_list: sale.map(str::to_string),
            ..PriceInputs::default()
        }
    }

    #[test]
    fn the_price_valid_today_is_shown_and_only_changes_are_written() {
        let rows = [
            row("A", "Selling", 1000, "", ""),
            row("A", "Selling", 1200, "2026-12-01", ""),
            row("A", "Selling", 1500, "2027-01-01", ""),
            row("A", "Buying", 300, "", ""),
            row("B", "Selling", 800, "", "2026-11-30"),
            ItemPriceRow {
                restricted: true,
                ..row("C", "Selling", 100, "", "")
            },
            ItemPriceRow {
                uom: "Box".into(),
                ..row("D", "Selling", 5000, "", "")
            },
        ];
        let mut inputs = inputs(None);
        inputs.stock_uoms = HashMap::from([("D".to_string(), "Nos".to_string())]);
        let links = [
            link("A", None),
            link("B", None),
            link("C", None),
            link("D", None),
        ];
        let writes = plan_prices(&links, &rows, &inputs);
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].prices.regular, Decimal::new(12, 0));
        assert_eq!(writes[0].prices.sale, None);
        let pushed = writes[0].prices.remembered();
        assert!(plan_prices(&[link("A", Some(pushed))], &rows, &inputs).is_empty());
        inputs.shop_unit_factors = HashMap::from([("A".to_string(), Decimal::from(10))]);
        assert_eq!(
            plan_prices(&links, &rows, &inputs)[0].prices.regular,
            Decimal::from(120)
        );
    }

    #[test]
    fn a_sale_list_gives_the_sale_price_with_its_dates_and_an_ended_sale_is_cleared() {
        let rows = [
            row("A", "Selling", 2000, "", ""),
            row("A", "Sale", 1500, "2026-12-01", "2026-12-24"),
            row("B", "Selling", 2000, "", ""),
            row("B", "Sale", 1500, "2026-11-01", "2026-11-30"),
            row("C", "Selling", 2000, "", ""),
            row("C", "Sale", 2500, "", ""),
        ];
        let links = [link("A", None), link("B", None), link("C", None)];
        let writes = plan_prices(&links, &rows, &inputs(Some("Sale")));
        let sales: Vec<Option<Option<Sale>>> = writes
            .iter()
            .map(|write| write.prices.sale.clone())
            .collect();
        assert_eq!(
            sales,
            [
                Some(Some(Sale {
                    price: Decimal::from(15),
                    from: day("2026-12-01"),
                    to: day("2026-12-24")
                })),
                Some(None),
                Some(None)
            ]
        );
    }
}
