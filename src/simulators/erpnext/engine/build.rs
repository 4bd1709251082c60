//! A document from a request body, as Frappe builds one: the doctype's fields with their
//! defaults, the sent values over them, unknown keys dropped; and the standard fields (`name`,
//! `owner`, `modified`, row `idx` and `parent`…) stamped on it and its rows when it is saved.

use serde_json::{json, Value};

use super::{Site, STANDARD_FIELDS};
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::meta;
use crate::simulators::erpnext::values::{int_of, text_of, Doc};

/// Frappe's random ten-character hash name: child rows, Stock Ledger Entries, Deleted Documents.
pub(crate) fn hash_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut generator = rand::thread_rng();
    (0..10)
        .map(|_| ALPHABET[generator.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Site {
    /// Builds a new document from a request body: the doctype's fields with
    /// their defaults, the sent values over them; unknown keys are dropped
    /// silently, as Frappe does.
    pub(super) fn build(&self, doctype: &str, input: &Doc) -> Doc {
        let mut doc = self.templates.get(doctype).cloned().unwrap_or_default();
        let custom = self.custom_fields(doctype);
        for field in custom {
            doc.entry(field.fieldname.clone()).or_insert(Value::Null);
        }
        let tables = doctypes::rules(doctype).child_tables();
        for (key, value) in input {
            if key.starts_with("__") || STANDARD_FIELDS.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, child_doctype)) = tables.iter().find(|(field, _)| field == key) {
                doc.insert(
                    key.clone(),
                    Value::Array(self.build_rows(child_doctype, value)),
                );
                continue;
            }
            // A field of the doctype the template was not recorded with is still a column.
            if doc.contains_key(key)
                || !self.templates.contains_key(doctype)
                || meta::field(doctype, key).is_some()
            {
                let value = meta::fix_numeric(doctype, key, value).unwrap_or_else(|| value.clone());
                doc.insert(key.clone(), value);
            }
        }
        for (field, _) in tables {
            doc.entry(field.to_string())
                .or_insert(Value::Array(Vec::new()));
        }
        if let Some(docstatus) = input.get("docstatus") {
            doc.insert("docstatus".into(), docstatus.clone());
        }
        doc
    }

    fn build_rows(&self, child_doctype: &str, value: &Value) -> Vec<Value> {
        let Value::Array(items) = value else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(Value::as_object)
            .map(|row| {
                let mut built = self
                    .templates
                    .get(child_doctype)
                    .cloned()
                    .unwrap_or_default();
                for (key, value) in row {
                    if key.starts_with("__") {
                        continue;
                    }
                    if built.contains_key(key)
                        || !self.templates.contains_key(child_doctype)
                        || key == "name"
                        || meta::field(child_doctype, key).is_some()
                    {
                        let value = meta::fix_numeric(child_doctype, key, value)
                            .unwrap_or_else(|| value.clone());
                        built.insert(key.clone(), value);
                    }
                }
                Value::Object(built)
            })
            .collect()
    }

    /// Sets the standard fields on the document and its rows.
    pub(crate) fn stamp(&mut self, doctype: &str, name: &str, doc: &mut Doc, new: bool) {
        let now = self.now_text();
        let docstatus = int_of(doc, "docstatus");
        if new {
            doc.insert("owner".into(), json!("Administrator"));
            doc.insert("creation".into(), json!(now));
        }
        doc.insert("name".into(), json!(name));
        doc.insert("modified".into(), json!(now));
        doc.insert("modified_by".into(), json!("Administrator"));
        doc.insert("docstatus".into(), json!(docstatus));
        doc.entry("idx".to_string()).or_insert(json!(0));
        doc.insert("doctype".into(), json!(doctype));
        let creation = doc.get("creation").cloned().unwrap_or(json!(now));
        for (field, child_doctype) in doctypes::rules(doctype).child_tables() {
            if let Some(Value::Array(items)) = doc.get_mut(*field) {
                for (index, item) in items.iter_mut().enumerate() {
                    if let Some(row) = item.as_object_mut() {
                        if text_of(row, "name").is_empty() {
                            row.insert("name".into(), json!(hash_name()));
                            row.insert("owner".into(), json!("Administrator"));
                            row.insert("creation".into(), creation.clone());
                        }
                        row.entry("owner".to_string())
                            .or_insert(json!("Administrator"));
                        row.entry("creation".to_string())
                            .or_insert(creation.clone());
                        row.insert("modified".into(), json!(now));
                        row.insert("modified_by".into(), json!("Administrator"));
                        row.insert("docstatus".into(), json!(docstatus));
                        row.insert("idx".into(), json!(index + 1));
                        row.insert("parent".into(), json!(name));
                        row.insert("parentfield".into(), json!(field));
                        row.insert("parenttype".into(), json!(doctype));
                        row.insert("doctype".into(), json!(child_doctype));
                    }
                }
            }
        }
    }
}

/// Sets `docstatus` on a document and on its rows.
pub(super) fn set_docstatus(doc: &mut Doc, docstatus: i64) {
    doc.insert("docstatus".into(), json!(docstatus));
    for value in doc.values_mut() {
        if let Value::Array(items) = value {
            for row in items.iter_mut().filter_map(Value::as_object_mut) {
                if row.contains_key("parent") {
                    row.insert("docstatus".into(), json!(docstatus));
                }
            }
        }
    }
}
