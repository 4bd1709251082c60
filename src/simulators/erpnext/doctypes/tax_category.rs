//! Tax Category: a named label (its `title` is its name) that Sales Orders and invoices link to,
//! and that Tax Rules match on to pick a taxes template.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{text_of, Doc};

pub(crate) struct TaxCategory;

impl DoctypeRules for TaxCategory {
    fn doctype(&self) -> &'static str {
        "Tax Category"
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![("Tax Category", json!({"title": null, "disabled": 0}))]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        mandatory("Tax Category", doc, &[("title", "Title")])?;
        let name = text_of(doc, "title").trim().to_string();
        if site.exists("Tax Category", &name) {
            return Err(SiteError::duplicate_entry("Tax Category", &name));
        }
        Ok(Naming::Named(name))
    }
}
