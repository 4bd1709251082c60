//! Price List: named by its `price_list_name` (a second one is a duplicate), in a currency,
//! for selling and/or buying.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{text_of, Doc};

pub(crate) struct PriceList;

impl DoctypeRules for PriceList {
    fn doctype(&self) -> &'static str {
        "Price List"
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            "Price List",
            json!({"price_list_name": null, "currency": null, "enabled": 1, "buying": 0,
            "selling": 0, "price_not_uom_dependent": 0}),
        )]
    }

    fn provisional_name(&self, _site: &Site, doc: &Doc) -> String {
        text_of(doc, "price_list_name")
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        mandatory(
            "Price List",
            doc,
            &[
                ("price_list_name", "Price List Name"),
                ("currency", "Currency"),
            ],
        )?;
        let name = text_of(doc, "price_list_name").trim().to_string();
        if site.exists("Price List", &name) {
            return Err(SiteError::duplicate_entry("Price List", &name));
        }
        site.link("Currency", &text_of(doc, "currency"))?;
        Ok(Naming::Named(name))
    }
}
