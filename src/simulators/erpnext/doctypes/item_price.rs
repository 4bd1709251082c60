//! Item Price: an item's rate in a price list, named from a series once its links are checked;
//! in the Item's stock UOM unless it names one, and valid for the dates it gives.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{text_of, Doc};

pub(crate) struct ItemPrice;

impl DoctypeRules for ItemPrice {
    fn doctype(&self) -> &'static str {
        "Item Price"
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            "Item Price",
            json!({"item_code": null, "uom": null, "price_list": null, "item_name": null,
            "item_description": null, "customer": null, "supplier": null, "batch_no": null,
            "buying": 0, "selling": 1, "currency": "USD", "price_list_rate": 0.0,
            "valid_from": null, "valid_upto": null, "lead_time_days": 0, "packing_unit": 0, "reference": null}),
        )]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        site.link("Item", &text_of(doc, "item_code"))?;
        site.link("Price List", &text_of(doc, "price_list"))?;
        if text_of(doc, "uom").is_empty() {
            if let Some(item) = site.stored("Item", &text_of(doc, "item_code")) {
                doc.insert("uom".into(), json!(text_of(&item, "stock_uom")));
            }
        }
        check_dates(doc)?;
        Ok(Naming::Series("ITEM-PRICE-.YYYY.-".to_string()))
    }

    fn validate_save(
        &self,
        _site: &mut Site,
        _name: &str,
        _current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        check_dates(doc)
    }
}

/// `valid_upto` before `valid_from` is refused, as Frappe's `validate_from_to_dates` refuses it
/// (the same day is fine).
fn check_dates(doc: &Doc) -> Result<(), SiteError> {
    let (from, upto) = (text_of(doc, "valid_from"), text_of(doc, "valid_upto"));
    if !from.is_empty() && !upto.is_empty() && upto < from {
        return Err(SiteError::thrown(
            417,
            "InvalidDates",
            "<strong>Valid Upto</strong> must be after <strong>Valid From</strong>",
        ));
    }
    Ok(())
}
