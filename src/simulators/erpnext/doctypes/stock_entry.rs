//! Stock Entry: Material Receipts (into `t_warehouse`) and Material Issues (out of
//! `s_warehouse`) of stock items, moving the Bins on submit and back on cancel; an issue of
//! more than the warehouse holds is refused at submit.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{bin, DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::COMPANY;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, set_float, text_of, Doc};

const SERIES: &str = "MAT-STE-.YYYY.-";

pub(crate) struct StockEntry;

impl DoctypeRules for StockEntry {
    fn doctype(&self) -> &'static str {
        "Stock Entry"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("items", "Stock Entry Detail")]
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![
            (
                "Stock Entry",
                json!({"naming_series": "MAT-STE-.YYYY.-", "stock_entry_type": null,
                "purpose": null, "company": null, "posting_date": null, "posting_time": null,
                "from_warehouse": null, "to_warehouse": null, "remarks": null,
                "total_outgoing_value": 0.0, "total_incoming_value": 0.0, "value_difference": 0.0}),
            ),
            (
                "Stock Entry Detail",
                json!({"item_code": null, "qty": 0.0, "transfer_qty": 0.0, "s_warehouse": null,
                "t_warehouse": null, "basic_rate": 0.0, "uom": "Nos", "stock_uom": "Nos",
                "conversion_factor": 1.0}),
            ),
        ]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        validate(site, doc)?;
        Ok(Naming::Series(SERIES.to_string()))
    }

    /// Issuing more than a warehouse holds fails at submit, as ERPNext's stock ledger does.
    fn before_submit(&self, site: &Site, doc: &Doc) -> Result<(), SiteError> {
        if text_of(doc, "purpose") != "Material Issue" {
            return Ok(());
        }
        for row in rows(doc, "items") {
            let code = text_of(row, "item_code");
            let warehouse = text_of(row, "s_warehouse");
            let available = bin::actual_qty(site, &code, &warehouse);
            let needed = field_decimal(row, "qty");
            if needed > available {
                return Err(bin::negative_stock(needed - available, &code, &warehouse));
            }
        }
        Ok(())
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        doc: Doc,
        _inserted: bool,
    ) -> Result<(), SiteError> {
        move_stock(site, &doc, Decimal::ONE);
        site.store(self.doctype(), name, doc);
        Ok(())
    }

    fn on_cancel(
        &self,
        site: &mut Site,
        _name: &str,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        move_stock(site, doc, -Decimal::ONE);
        Ok(())
    }
}

/// A Material Receipt (into `t_warehouse`) or Material Issue (from `s_warehouse`).
fn validate(site: &mut Site, doc: &mut Doc) -> Result<(), SiteError> {
    let purpose = match text_of(doc, "stock_entry_type").as_str() {
        "" => text_of(doc, "purpose"),
        kind => kind.to_string(),
    };
    if !matches!(purpose.as_str(), "Material Receipt" | "Material Issue") {
        return Err(SiteError::validation(format!(
            "The simulator books Material Receipt and Material Issue stock entries, not `{purpose}`"
        )));
    }
    doc.insert("stock_entry_type".into(), json!(purpose));
    doc.insert("purpose".into(), json!(purpose));
    if text_of(doc, "company").is_empty() {
        doc.insert("company".into(), json!(COMPANY));
    }
    if text_of(doc, "posting_date").is_empty() {
        let today = site.today();
        doc.insert("posting_date".into(), json!(today));
    }
    let provisional = site.peek_series(SERIES);
    mandatory_named("Stock Entry", &provisional, doc, &[("items", "Items")])?;
    let receipt = purpose == "Material Receipt";
    let mut rows_out = Vec::new();
    for (index, row) in rows(doc, "items").into_iter().enumerate() {
        let mut row = row.clone();
        let code = text_of(&row, "item_code");
        let Some(item) = site.stored("Item", &code) else {
            return Err(SiteError::not_found(format!("Item {code} not found")));
        };
        if int_of(&item, "is_stock_item") != 1 {
            return Err(SiteError::erpnext_validation(format!(
                "Row #{}: {code} is not a stock Item",
                index + 1
            )));
        }
        let warehouse_field = if receipt {
            "t_warehouse"
        } else {
            "s_warehouse"
        };
        let warehouse = text_of(&row, warehouse_field);
        if warehouse.is_empty() {
            return Err(SiteError::erpnext_validation(format!(
                "Row #{}: {} Warehouse is mandatory",
                index + 1,
                if receipt { "Target" } else { "Source" }
            )));
        }
        site.link("Warehouse", &warehouse)?;
        let qty = field_decimal(&row, "qty");
        if qty <= Decimal::ZERO {
            return Err(SiteError::erpnext_validation(format!(
                "Row #{}: Qty must be greater than 0",
                index + 1
            )));
        }
        set_float(&mut row, "transfer_qty", qty);
        row.insert("stock_uom".into(), json!(text_of(&item, "stock_uom")));
        rows_out.push(Value::Object(row));
    }
    doc.insert("items".into(), Value::Array(rows_out));
    Ok(())
}

/// Moves the entry's quantities into (receipt) or out of (issue) the Bins; `sign` −1 undoes.
fn move_stock(site: &mut Site, entry: &Doc, sign: Decimal) {
    let receipt = text_of(entry, "purpose") == "Material Receipt";
    for row in rows(entry, "items") {
        let qty = field_decimal(row, "transfer_qty") * sign;
        let (warehouse, delta) = if receipt {
            (text_of(row, "t_warehouse"), qty)
        } else {
            (text_of(row, "s_warehouse"), -qty)
        };
        bin::adjust(
            site,
            &text_of(row, "item_code"),
            &warehouse,
            delta,
            Decimal::ZERO,
        );
    }
}
