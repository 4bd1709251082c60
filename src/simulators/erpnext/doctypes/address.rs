//! Address: mandatory lines, its country and links checked, the links' titles filled, named
//! `<title>-<type>` (`-1` on a clash).

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{rows, text_of, Doc};

pub(crate) struct Address;

impl DoctypeRules for Address {
    fn doctype(&self) -> &'static str {
        "Address"
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("links", "Dynamic Link")]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        if text_of(doc, "address_type").is_empty() {
            doc.insert("address_type".into(), json!("Billing"));
        }
        mandatory(
            "Address",
            doc,
            &[
                ("address_line1", "Address Line 1"),
                ("city", "City/Town"),
                ("country", "Country"),
            ],
        )?;
        site.link("Country", &text_of(doc, "country"))?;
        let mut links = Vec::new();
        for row in rows(doc, "links") {
            let link_doctype = text_of(row, "link_doctype");
            let link_name = text_of(row, "link_name");
            site.link(&link_doctype, &link_name)?;
            let title = site
                .stored(&link_doctype, &link_name)
                .map(|linked| text_of(&linked, "customer_name"))
                .filter(|title| !title.is_empty())
                .unwrap_or_else(|| link_name.clone());
            let mut row = row.clone();
            row.insert("link_title".into(), json!(title));
            links.push(Value::Object(row));
        }
        doc.insert("links".into(), Value::Array(links));
        let mut title = text_of(doc, "address_title");
        if title.is_empty() {
            title = rows(doc, "links")
                .first()
                .map(|row| text_of(row, "link_name"))
                .unwrap_or_default();
            doc.insert("address_title".into(), json!(title));
        }
        mandatory("Address", doc, &[("address_title", "Address Title")])?;
        for field in [
            "address_line2",
            "state",
            "pincode",
            "email_id",
            "phone",
            "county",
            "fax",
        ] {
            if doc.get(field).map(Value::is_null).unwrap_or(false) {
                doc.remove(field);
            }
        }
        let base = format!("{}-{}", title.trim(), text_of(doc, "address_type"));
        Ok(Naming::Named(site.unique_name("Address", &base)))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        _name: &str,
        _current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        site.link("Country", &text_of(doc, "country"))
    }
}
