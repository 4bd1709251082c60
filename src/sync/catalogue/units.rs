//! The unit the shop sells an item in, as ERPNext books a shop order line: the Item's Default
//! Sales UOM (`sales_uom`) when it has one, else its stock UOM (a Sales Order row sent without a
//! `uom` gets the Default Sales UOM, `get_item_details.get_basic_details`). The factor is the
//! Item's UOM conversion row for that unit (`get_conversion_factor`); without one ERPNext books
//! 1:1 and so does the push. The stock push divides stock-unit quantities by it; the price push
//! multiplies a stock-unit price by it (`get_price_list_rate_for`). No IO.

use std::collections::HashMap;

use rust_decimal::Decimal;

/// How one item is sold in the shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellingUnit {
    pub stock_uom: String,
    /// The Default Sales UOM, or the stock UOM.
    pub uom: String,
    /// Stock units per unit sold (1 for the stock UOM).
    pub factor: Decimal,
}

impl SellingUnit {
    /// An item sold in its stock unit.
    pub fn stock(stock_uom: &str) -> SellingUnit {
        SellingUnit {
            stock_uom: stock_uom.to_string(),
            uom: stock_uom.to_string(),
            factor: Decimal::ONE,
        }
    }
}

/// One row of an Item listing with its UOM conversion rows joined: one row per conversion row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemUnitRow {
    pub item_code: String,
    pub stock_uom: String,
    pub sales_uom: Option<String>,
    pub uom: Option<String>,
    pub conversion_factor: Option<Decimal>,
}

/// Item code → the unit it is sold in.
pub fn selling_units(rows: &[ItemUnitRow]) -> HashMap<String, SellingUnit> {
    let mut units: HashMap<String, SellingUnit> = HashMap::new();
    for row in rows {
        let sales_uom = row
            .sales_uom
            .as_deref()
            .map(str::trim)
            .filter(|uom| !uom.is_empty())
            .unwrap_or(&row.stock_uom);
        let unit = units.entry(row.item_code.clone()).or_insert_with(|| {
            let mut unit = SellingUnit::stock(&row.stock_uom);
            unit.uom = sales_uom.to_string();
            unit
        });
        let factor = row
            .conversion_factor
            .filter(|factor| *factor > Decimal::ZERO);
        if unit.uom != unit.stock_uom && row.uom.as_deref() == Some(sales_uom) {
            if let Some(factor) = factor {
                unit.factor = factor;
            }
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, sales: Option<&str>, uom: &str, factor: u32) -> ItemUnitRow {
        ItemUnitRow {
            item_code: code.into(),
            stock_uom: "Nos".into(),
            sales_uom: sales.map(Into::into),
            uom: Some(uom.into()),
            conversion_factor: Some(Decimal::from(factor)),
        }
    }

    #[test]
    fn the_default_sales_uom_and_its_conversion_row_make_the_unit() {
        let units = selling_units(&[
            row("SCREW", Some("Box"), "Nos", 1),
            row("SCREW", Some("Box"), "Box", 1000),
            row("SCREW", Some("Box"), "Pallet", 50000),
            row("BOLT", None, "Nos", 1),
            row("BOLT", None, "Box", 12),
            // A Default Sales UOM without a conversion row: ERPNext books it 1:1.
            row("NUT", Some("Bag"), "Nos", 1),
        ]);
        assert_eq!(units["SCREW"].uom, "Box");
        assert_eq!(units["SCREW"].factor, Decimal::from(1000));
        assert_eq!(units["BOLT"], SellingUnit::stock("Nos"));
        assert_eq!(units["NUT"].uom, "Bag");
        assert_eq!(units["NUT"].factor, Decimal::ONE);
    }
}
