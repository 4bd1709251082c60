//! The pure core of the price push: from ERPNext's Item Prices, the regular and sale price each
//! linked product shows and which ones to write. No IO.
//!
//! - The regular price is the Item Price of the connection's price list valid today
//!   (`valid_from` empty or not after today, `valid_upto` empty or not before) in the unit the
//!   shop sells in (`units`), as ERPNext prices a Sales Order row: one in that unit (or in none)
//!   as it stands, else one in the stock unit times the units per selling unit; of several, the
//!   one valid from the latest date. Prices for one customer, supplier or batch are not the
//!   shop's.
//! - With a sale price list, its Item Price valid today and below the regular price is the sale
//!   price, with the Item Price's dates as the sale's first and last day; a sale that ended, or
//!   none, clears the shop's sale price. Without one, sale prices are left alone.
//! - An item without a regular price valid today is left alone (never written as 0).
//! - When the store's prices are entered with tax and the price lists' are not (or the other
//!   way round), the connection's tax rate is added (rounded to the store's decimals) or taken
//!   off (kept to 4 places, so the store's own tax brings the gross back to the cent).
//! - Only what differs from the last push is written (all with `--all`).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::units::SellingUnit;
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
    /// Item code → the unit the shop sells it in (absent: any Item Price of the list counts).
    pub units: HashMap<String, SellingUnit>,
    /// `None` when the store and the price lists agree on tax.
    pub tax: Option<TaxConversion>,
    pub all: bool,
}

/// From a price list's prices to the store's when one includes tax and the other does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxConversion {
    /// In percent.
    pub rate: Decimal,
    /// `true`: net list, prices entered with tax in the store.
    pub to_gross: bool,
    /// The store's decimals, for a gross price.
    pub decimals: u32,
}

/// Net prices sent to the store keep this many places: WooCommerce adds its tax to them, and
/// 4 places bring a gross list price back to the cent.
const NET_DECIMALS: u32 = 4;

impl TaxConversion {
    pub fn apply(&self, price: Decimal) -> Decimal {
        let factor = (Decimal::ONE_HUNDRED + self.rate) / Decimal::ONE_HUNDRED;
        let (price, places) = if self.to_gross {
            (price * factor, self.decimals)
        } else {
            (price / factor, NET_DECIMALS)
        };
        price.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
    }
}

fn valid_on(row: &ItemPriceRow, today: NaiveDate) -> bool {
    row.valid_from.map_or(true, |from| from <= today)
        && row.valid_upto.map_or(true, |upto| upto >= today)
}

/// The rate of one item in the shop's unit from one list, as ERPNext's
/// `get_price_list_rate_for` picks it: an Item Price in the selling unit (or in none) as it
/// stands; failing that, one in the stock unit times the units per selling unit. Of several, the
/// one valid from the latest date, one naming its unit before one naming none.
fn price_in_unit<'a>(
    rows: &[&'a ItemPriceRow],
    unit: Option<&SellingUnit>,
) -> Option<(Decimal, &'a ItemPriceRow)> {
    let Some(unit) = unit else {
        return latest(rows.iter().copied()).map(|row| (row.rate, row));
    };
    let in_uom = |uom: &str| {
        latest(
            rows.iter()
                .copied()
                .filter(move |row| row.uom.is_empty() || row.uom == uom),
        )
    };
    if let Some(row) = in_uom(&unit.uom) {
        let rate = if row.uom == unit.uom {
            row.rate
        } else {
            row.rate * unit.factor
        };
        return Some((rate, row));
    }
    if unit.uom == unit.stock_uom {
        return None;
    }
    in_uom(&unit.stock_uom).map(|row| (row.rate * unit.factor, row))
}

fn latest<'a>(rows: impl Iterator<Item = &'a ItemPriceRow>) -> Option<&'a ItemPriceRow> {
    rows.max_by(|a, b| {
        a.valid_from
            .cmp(&b.valid_from)
            .then_with(|| a.uom.cmp(&b.uom))
    })
}

/// The prices every linked product shows, and the writes that changes.
pub fn plan_prices(
    links: &[ProductLink],
    rows: &[ItemPriceRow],
    inputs: &PriceInputs,
) -> Vec<PriceWrite> {
    let today = inputs.today.unwrap_or_default();
    let mut current: HashMap<(&str, &str), Vec<&ItemPriceRow>> = HashMap::new();
    for row in rows
        .iter()
        .filter(|row| !row.restricted && valid_on(row, today))
    {
        current
            .entry((row.item_code.as_str(), row.price_list.as_str()))
            .or_default()
            .push(row);
    }
    links
        .iter()
        .filter_map(|link| {
            let code = link.item_code.as_str();
            let unit = inputs.units.get(code);
            let price_in = |list: &str| {
                current
                    .get(&(code, list))
                    .and_then(|rows| price_in_unit(rows, unit))
            };
            let shown =
                |price: Decimal| inputs.tax.map_or(price, |tax| tax.apply(price)).normalize();
            let (regular, _) = price_in(&inputs.price_list)?;
            let regular = shown(regular);
            let sale = inputs.sale_price_list.as_deref().map(|list| {
                price_in(list)
                    .map(|(price, row)| Sale {
                        price: shown(price),
                        from: row.valid_from,
                        to: row.valid_upto,
                    })
                    .filter(|sale| sale.price < regular)
            });
            let prices = ShopPrices { regular, sale };
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
        inputs.units = HashMap::from([("D".to_string(), SellingUnit::stock("Nos"))]);
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
    }

    #[test]
    fn an_item_sold_in_another_unit_takes_its_price_there_or_the_stock_price_times_the_factor() {
        let boxed = SellingUnit {
            uom: "Box".into(),
            factor: Decimal::from(10),
            ..SellingUnit::stock("Nos")
        };
        let mut inputs = inputs(Some("Sale"));
        inputs.units = HashMap::from([("A".to_string(), boxed.clone()), ("B".to_string(), boxed)]);
        let rows = [
            // A: only a stock-unit price, so ten of them make a box.
            row("A", "Selling", 1200, "", ""),
            row("A", "Sale", 1000, "2026-12-01", "2026-12-24"),
            // B: a box price of its own wins over the stock-unit price, even an older one.
            ItemPriceRow {
                uom: "Box".into(),
                ..row("B", "Selling", 9900, "2026-01-01", "")
            },
            row("B", "Selling", 1200, "2026-12-01", ""),
        ];
        let writes = plan_prices(&[link("A", None), link("B", None)], &rows, &inputs);
        let shown: Vec<(Decimal, Option<Decimal>)> = writes
            .iter()
            .map(|write| {
                let sale = write.prices.sale.clone().flatten().map(|sale| sale.price);
                (write.prices.regular, sale)
            })
            .collect();
        assert_eq!(
            shown,
            [
                (Decimal::from(120), Some(Decimal::from(100))),
                (Decimal::from(99), None)
            ]
        );
    }

    #[test]
    fn a_net_list_shows_gross_in_a_store_entering_prices_with_tax_and_back() {
        let rows = [
            row("A", "Selling", 1000, "", ""),
            row("A", "Sale", 837, "", ""),
        ];
        let shown = |tax: TaxConversion| {
            let mut inputs = inputs(Some("Sale"));
            inputs.tax = Some(tax);
            let write = plan_prices(&[link("A", None)], &rows, &inputs).remove(0);
            let sale = write.prices.sale.flatten().map(|sale| sale.price);
            (
                write.prices.regular.to_string(),
                sale.map(|p| p.to_string()),
            )
        };
        let rate = Decimal::from(19);
        // 10.00 net is 11.90 with 19 %; 8.37 net is 9.9603, shown to the cent: 9.96.
        assert_eq!(
            shown(TaxConversion {
                rate,
                to_gross: true,
                decimals: 2
            }),
            ("11.9".to_string(), Some("9.96".to_string()))
        );
        // A gross list in a net store: 10.00 gross is 8.4034 net, which the store's 19 % brings
        // back to 10.00.
        assert_eq!(
            shown(TaxConversion {
                rate,
                to_gross: false,
                decimals: 2
            }),
            ("8.4034".to_string(), Some("7.0336".to_string()))
        );
        let net = Decimal::new(84034, 4);
        let gross = net * Decimal::new(119, 2);
        assert_eq!(gross.round_dp(2), Decimal::from(10));
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
