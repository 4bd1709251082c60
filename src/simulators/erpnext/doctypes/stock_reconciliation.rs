//! Stock Reconciliation: sets what a warehouse holds of stock items (a stock count). Submitting
//! moves each Bin's actual quantity to the counted one, cancelling moves it back; an entry that
//! changes nothing is refused, as ERPNext refuses it.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{bin, DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::COMPANY;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, set_float, text_of, Doc};

const SERIES: &str = "MAT-RECO-.YYYY.-";

pub(crate) struct StockReconciliation;

impl DoctypeRules for StockReconciliation {
    fn doctype(&self) -> &'static str {
        "Stock Reconciliation"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("items", "Stock Reconciliation Item")]
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![
            (
                "Stock Reconciliation",
                json!({"naming_series": SERIES, "company": null, "purpose": "Stock Reconciliation",
                "posting_date": null, "posting_time": null, "set_warehouse": null,
                "expense_account": null, "difference_amount": 0.0}),
            ),
            (
                "Stock Reconciliation Item",
                json!({"item_code": null, "warehouse": null, "qty": 0.0, "valuation_rate": 0.0,
                "current_qty": 0.0, "quantity_difference": 0.0, "stock_uom": "Nos"}),
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
        if text_of(doc, "company").is_empty() {
            doc.insert("company".into(), json!(COMPANY));
        }
        if text_of(doc, "posting_date").is_empty() {
            let today = site.today();
            doc.insert("posting_date".into(), json!(today));
        }
        let provisional = site.peek_series(SERIES);
        mandatory_named(
            "Stock Reconciliation",
            &provisional,
            doc,
            &[("items", "Items")],
        )?;
        let default_warehouse = text_of(doc, "set_warehouse");
        let mut rows_out = Vec::new();
        for (index, row) in rows(doc, "items").into_iter().enumerate() {
            let mut row = row.clone();
            let code = text_of(&row, "item_code");
            let Some(item) = site.stored("Item", &code) else {
                return Err(SiteError::not_found(format!("Item {code} not found")));
            };
            if int_of(&item, "is_stock_item") != 1 {
                return Err(SiteError::erpnext_validation(format!(
                    "Row #{}: Item {code} is not a stock item",
                    index + 1
                )));
            }
            if text_of(&row, "warehouse").is_empty() {
                row.insert("warehouse".into(), json!(default_warehouse));
            }
            let warehouse = text_of(&row, "warehouse");
            site.link("Warehouse", &warehouse)?;
            let current = bin::actual_qty(site, &code, &warehouse);
            let qty = field_decimal(&row, "qty");
            if qty < Decimal::ZERO {
                return Err(SiteError::erpnext_validation(format!(
                    "Row #{}: Negative Quantity is not allowed",
                    index + 1
                )));
            }
            set_float(&mut row, "current_qty", current);
            set_float(&mut row, "quantity_difference", qty - current);
            row.insert("stock_uom".into(), json!(text_of(&item, "stock_uom")));
            if qty != current {
                rows_out.push(Value::Object(row));
            }
        }
        // ERPNext drops the rows that change nothing, then refuses an entry left empty.
        if rows_out.is_empty() {
            let mut error = SiteError::thrown(
                417,
                "EmptyStockReconciliationItemsError",
                "None of the items have any change in quantity or value.",
            );
            error.exc_source = Some("erpnext (app)");
            error.module = Some("erpnext.stock.doctype.stock_reconciliation.stock_reconciliation");
            return Err(error);
        }
        doc.insert("items".into(), Value::Array(rows_out));
        Ok(Naming::Series(SERIES.to_string()))
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        mut doc: Doc,
        _inserted: bool,
    ) -> Result<(), SiteError> {
        let mut rows_out = Vec::new();
        for row in rows(&doc, "items") {
            let mut row = row.clone();
            let code = text_of(&row, "item_code");
            let warehouse = text_of(&row, "warehouse");
            // The counted quantity, whatever moved since the draft was saved; cancelling takes
            // back exactly this move.
            let current = bin::actual_qty(site, &code, &warehouse);
            let difference = field_decimal(&row, "qty") - current;
            set_float(&mut row, "current_qty", current);
            set_float(&mut row, "quantity_difference", difference);
            bin::adjust(site, &code, &warehouse, difference, Decimal::ZERO);
            rows_out.push(Value::Object(row));
        }
        doc.insert("items".into(), Value::Array(rows_out));
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
        for row in rows(doc, "items") {
            let code = text_of(row, "item_code");
            let warehouse = text_of(row, "warehouse");
            bin::adjust(
                site,
                &code,
                &warehouse,
                -field_decimal(row, "quantity_difference"),
                Decimal::ZERO,
            );
        }
        Ok(())
    }
}
