//! Bin: the stock levels ERPNext keeps per item and warehouse (actual, reserved, projected).
//! The site writes them as stock moves; the API only reads them.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{Access, DoctypeRules};
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, set_float};

pub(crate) struct Bin;

impl DoctypeRules for Bin {
    fn doctype(&self) -> &'static str {
        "Bin"
    }

    fn access(&self) -> Access {
        Access::SystemManaged
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            "Bin",
            json!({"item_code": null, "warehouse": null, "actual_qty": 0.0,
            "reserved_qty": 0.0, "ordered_qty": 0.0, "planned_qty": 0.0,
            "indented_qty": 0.0, "projected_qty": 0.0, "stock_uom": "Nos",
            "valuation_rate": 0.0, "stock_value": 0.0}),
        )]
    }
}

/// Bins are named by the site (random in ERPNext); one per item and warehouse.
fn bin_name(item_code: &str, warehouse: &str) -> String {
    format!("{item_code}@{warehouse}")
}

/// What a warehouse holds of an item (nothing without a Bin).
pub(crate) fn actual_qty(site: &Site, item_code: &str, warehouse: &str) -> Decimal {
    site.stored("Bin", &bin_name(item_code, warehouse))
        .map(|bin| field_decimal(&bin, "actual_qty"))
        .unwrap_or_default()
}

/// Adds to a Bin's actual and reserved quantities (creating it on the first move); a change of
/// the actual quantity is a move in the stock ledger.
pub(crate) fn adjust(
    site: &mut Site,
    item_code: &str,
    warehouse: &str,
    actual: Decimal,
    reserved: Decimal,
) {
    let name = bin_name(item_code, warehouse);
    let existing = site.stored("Bin", &name);
    let new = existing.is_none();
    let mut bin = existing.unwrap_or_else(|| {
        let mut bin = site.new_doc("Bin");
        bin.insert("item_code".into(), json!(item_code));
        bin.insert("warehouse".into(), json!(warehouse));
        bin
    });
    let actual_qty = field_decimal(&bin, "actual_qty") + actual;
    let reserved_qty = (field_decimal(&bin, "reserved_qty") + reserved).max(Decimal::ZERO);
    set_float(&mut bin, "actual_qty", actual_qty);
    set_float(&mut bin, "reserved_qty", reserved_qty);
    set_float(&mut bin, "projected_qty", actual_qty - reserved_qty);
    if actual != Decimal::ZERO {
        super::stock_ledger_entry::record_move(site, item_code, warehouse, actual, actual_qty);
    }
    // Stamped on every change (the real site's `modified` advances with each move), but its
    // events are raised only when the Bin is made: later moves update it in SQL.
    site.stamp("Bin", &name, &mut bin, new);
    if new {
        site.event("Bin", "after_insert", &bin);
        site.event("Bin", "on_update", &bin);
    }
    site.store("Bin", &name, bin);
}

/// Taking out more than a warehouse holds, as ERPNext's stock ledger refuses it.
pub(crate) fn negative_stock(missing: Decimal, item_code: &str, warehouse: &str) -> SiteError {
    let mut error = SiteError::thrown(
        417,
        "NegativeStockError",
        format!(
            "{missing} units of Item {item_code} needed in Warehouse {warehouse} to complete this transaction."
        ),
    );
    error.exc_source = Some("erpnext (app)");
    error.module = Some("erpnext.stock.stock_ledger");
    error
}
