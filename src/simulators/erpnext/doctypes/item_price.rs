//! Item Price: an item's rate in a price list, named from a series once its links are checked.

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
            "valid_from": null, "lead_time_days": 0, "packing_unit": 0, "reference": null}),
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
        Ok(Naming::Series("ITEM-PRICE-.YYYY.-".to_string()))
    }
}
