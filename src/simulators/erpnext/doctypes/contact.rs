//! Contact: its full name from first and last name, named after it and the document it links
//! to (`-1` on a clash).

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{rows, text_of, Doc};

pub(crate) struct Contact;

impl DoctypeRules for Contact {
    fn doctype(&self) -> &'static str {
        "Contact"
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("email_ids", "Contact Email"),
            ("phone_nos", "Contact Phone"),
            ("links", "Dynamic Link"),
        ]
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            "Contact",
            json!({"first_name": null, "last_name": null, "full_name": null, "email_id": null,
            "mobile_no": null, "phone": null, "status": "Passive", "is_primary_contact": 0,
            "is_billing_contact": 0, "unsubscribed": 0, "pulled_from_google_contacts": 0,
            "sync_with_google_contacts": 0}),
        )]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        let first = text_of(doc, "first_name");
        let last = text_of(doc, "last_name");
        let full = [first.as_str(), last.as_str()]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        mandatory("Contact", doc, &[("first_name", "First Name")])?;
        doc.insert("full_name".into(), json!(full));
        let link = rows(doc, "links")
            .first()
            .map(|row| text_of(row, "link_name"))
            .unwrap_or_default();
        for row in rows(doc, "links") {
            site.link(&text_of(row, "link_doctype"), &text_of(row, "link_name"))?;
        }
        let base = if link.is_empty() {
            full.clone()
        } else {
            format!("{full}-{link}")
        };
        Ok(Naming::Named(site.unique_name("Contact", &base)))
    }
}
