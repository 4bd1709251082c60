//! Deleted Document: the copy the site keeps of every document deleted through the API
//! (Frappe's `delete_doc` → `add_to_deleted_document`): named by a random hash, the document's
//! JSON in `data`. The API only reads it; the catalogue's price pass lists the Item Prices
//! deleted since its last pass (`tests/real_catalogue.rs`, a sale ended by deleting its price).

use serde_json::{json, Value};

use super::{Access, DoctypeRules};
use crate::simulators::erpnext::engine::{hash_name, Site};
use crate::simulators::erpnext::error::python_json_sorted;
use crate::simulators::erpnext::values::Doc;

pub(crate) struct DeletedDocument;

const DOCTYPE: &str = "Deleted Document";

impl DoctypeRules for DeletedDocument {
    fn doctype(&self) -> &'static str {
        DOCTYPE
    }

    fn access(&self) -> Access {
        Access::SystemManaged
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            DOCTYPE,
            json!({"deleted_name": null, "deleted_doctype": null, "data": null,
            "restored": 0, "new_name": null}),
        )]
    }
}

/// Keeps the copy of `doc`, a `doctype` just deleted.
pub(crate) fn record(site: &mut Site, doctype: &str, doc: &Doc) {
    let name = hash_name();
    let mut copy = site.new_doc(DOCTYPE);
    copy.insert("deleted_doctype".into(), json!(doctype));
    copy.insert(
        "deleted_name".into(),
        doc.get("name").cloned().unwrap_or(Value::Null),
    );
    copy.insert(
        "data".into(),
        json!(python_json_sorted(&Value::Object(doc.clone()))),
    );
    site.stamp(DOCTYPE, &name, &mut copy, true);
    site.store(DOCTYPE, &name, copy);
}
