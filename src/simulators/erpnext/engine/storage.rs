//! Documents at rest: each table keeps its documents packed (compact JSON without the empty
//! defaults their template restores on reading) beside a small unpacked view of the fields lists
//! filter on, so a site holds the 100,000 orders of a benchmark and polls them quickly.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Site;
use crate::simulators::erpnext::doctypes::{self, Access};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::Doc;

/// A document at rest: compact JSON without the empty default values its
/// template restores on reading. A Sales Order takes a few kilobytes instead of
/// ~50 KB as a map, so a site can hold the 100,000 orders of a benchmark.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(super) sequence: u64,
    /// The fields lists filter and sort on most, unpacked (see `HOT_FIELDS`).
    pub(crate) hot: Doc,
    packed: Box<[u8]>,
    /// Documents their rules ask to keep unpacked (`DoctypeRules::keep_unpacked`): Items are
    /// read twice for every order line naming them (prices, stock), and they are few. Other
    /// documents are read about as often as they are written, and orders are many.
    unpacked: Option<Doc>,
}

impl Stored {
    /// The stored fields only: absent fields are empty (null, "", 0), which
    /// filters and sorting treat exactly like the defaults.
    pub(crate) fn sparse(&self) -> Doc {
        serde_json::from_slice(&self.packed).unwrap_or_default()
    }
}

#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) docs: BTreeMap<String, Stored>,
    /// Seeded masters list in recorded order; created documents list by name
    /// (MariaDB's primary-key order when no `order_by` is given).
    pub(super) seeded: bool,
}

/// Fields kept unpacked: what polls and look-ups filter and sort on, and
/// what picks the Webhooks of an event (every write asks, so parsing each
/// Webhook document per event cost more than the write itself).
pub(super) const HOT_FIELDS: &[&str] = &[
    "name",
    "modified",
    "creation",
    "docstatus",
    "status",
    "customer",
    // The sync's batched look-ups of masters (`item_code in [...]`, `email_id in [...]`).
    "item_code",
    "email_id",
    // Item Prices are looked up by (item, price list) for every order line.
    "price_list",
    "webhook_doctype",
    "webhook_docevent",
    "enabled",
    // A credit note is made after reading what earlier ones returned against the invoice:
    // without it, every refund unpacked every Sales Invoice of the site.
    "return_against",
];

/// Fields every child row copies from its parent (besides `parent` itself).
pub(super) fn inherited_row_fields(doctype: &str, parent: &Doc) -> Vec<(&'static str, Value)> {
    let copy = |field: &str| parent.get(field).cloned().unwrap_or(Value::Null);
    vec![
        ("owner", copy("owner")),
        ("creation", copy("creation")),
        ("modified", copy("modified")),
        ("modified_by", copy("modified_by")),
        ("docstatus", copy("docstatus")),
        ("parenttype", json!(doctype)),
    ]
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

impl Site {
    /// A doctype the site answers for: one the API may write (or the site keeps itself), or one
    /// the setup wizard filled.
    pub(crate) fn doctype_exists(&self, doctype: &str) -> bool {
        matches!(
            doctypes::rules(doctype).access(),
            Access::Editable | Access::SystemManaged
        ) || self.tables.contains_key(doctype)
    }

    pub(super) fn require_doctype(&self, doctype: &str) -> Result<(), SiteError> {
        if self.doctype_exists(doctype) {
            Ok(())
        } else {
            Err(SiteError::not_found(format!("DocType {doctype} not found")))
        }
    }

    pub fn exists(&self, doctype: &str, name: &str) -> bool {
        self.tables
            .get(doctype)
            .map(|table| table.docs.contains_key(name))
            .unwrap_or(false)
    }

    /// A stored document with every field of its doctype.
    pub(crate) fn stored(&self, doctype: &str, name: &str) -> Option<Doc> {
        self.tables
            .get(doctype)
            .and_then(|table| table.docs.get(name))
            .map(|stored| self.unpack(doctype, stored))
    }

    /// Raw stored document (tests and the simulator handle).
    pub fn raw(&self, doctype: &str, name: &str) -> Option<Doc> {
        self.stored(doctype, name)
    }

    pub fn document_count(&self, doctype: &str) -> usize {
        self.tables.get(doctype).map(|t| t.docs.len()).unwrap_or(0)
    }

    /// Every stored document of `doctype`, by name, for rules that scan a table (read the hot
    /// view or `sparse()` to parse as little as possible, `full` for the whole document).
    pub(crate) fn documents(&self, doctype: &str) -> impl Iterator<Item = (&String, &Stored)> {
        self.tables
            .get(doctype)
            .into_iter()
            .flat_map(|table| table.docs.iter())
    }

    /// A document of `documents` with every field of its doctype.
    pub(crate) fn full(&self, doctype: &str, stored: &Stored) -> Doc {
        self.unpack(doctype, stored)
    }

    /// Changes a stored document in place (billing, outstanding amounts, links).
    pub(crate) fn modify(
        &mut self,
        doctype: &str,
        name: &str,
        change: impl FnOnce(&mut Doc),
    ) -> bool {
        let Some(mut doc) = self.stored(doctype, name) else {
            return false;
        };
        change(&mut doc);
        self.store(doctype, name, doc);
        true
    }

    pub(super) fn is_hot_field(&self, doctype: &str, field: &str) -> bool {
        HOT_FIELDS.contains(&field)
            || self
                .custom_fields(doctype)
                .iter()
                .any(|custom| custom.fieldname == field)
    }

    fn hot_view(&self, doctype: &str, doc: &Doc) -> Doc {
        HOT_FIELDS
            .iter()
            .copied()
            .chain(
                self.custom_fields(doctype)
                    .iter()
                    .map(|field| field.fieldname.as_str()),
            )
            .filter_map(|field| {
                let value = doc.get(field)?;
                (!is_empty_value(value)).then(|| (field.to_string(), value.clone()))
            })
            .collect()
    }

    /// Drops the empty values that equal the template's defaults.
    ///
    /// Copies only what is kept (a Sales Order drops most of its fields), rather
    /// than cloning the whole document and removing from the copy.
    pub(super) fn pack(&self, doctype: &str, doc: &Doc) -> Box<[u8]> {
        let template = self.templates.get(doctype);
        let tables = doctypes::rules(doctype).child_tables();
        let kept = |template: Option<&Doc>, key: &str, value: &Value| {
            !(is_empty_value(value) && template.and_then(|fields| fields.get(key)) == Some(value))
        };
        let copy = |field: &str| match doc.get(field) {
            Some(value) if kept(template, field, value) => value.clone(),
            _ => Value::Null,
        };
        // As the parent is stored: a stripped field reads as null here.
        let mut repeated: Vec<(&str, Value)> = inherited_row_fields(doctype, doc)
            .into_iter()
            .map(|(field, value)| match field {
                "parenttype" => (field, value),
                _ => (field, copy(field)),
            })
            .collect();
        repeated.push(("parent", copy("name")));
        let mut sparse = Doc::new();
        for (key, value) in doc {
            if !kept(template, key, value) {
                continue;
            }
            let table = tables.iter().find(|(field, _)| field == key);
            let (Some((field, child_doctype)), Value::Array(items)) = (table, value) else {
                sparse.insert(key.clone(), value.clone());
                continue;
            };
            let row_template = self.templates.get(*child_doctype);
            let row_constants = [
                ("parentfield", json!(field)),
                ("doctype", json!(child_doctype)),
            ];
            let packed_rows = items
                .iter()
                .map(|item| {
                    let Value::Object(row) = item else {
                        return item.clone();
                    };
                    // What a row repeats from its parent is restored on reading.
                    let packed_row: Doc = row
                        .iter()
                        .filter(|(key, value)| {
                            kept(row_template, key, value)
                                && !repeated
                                    .iter()
                                    .chain(row_constants.iter())
                                    .any(|(field, repeated)| field == key && repeated == *value)
                        })
                        .map(|(key, value)| (key.clone(), value.clone()))
                        .collect();
                    Value::Object(packed_row)
                })
                .collect();
            sparse.insert(key.clone(), Value::Array(packed_rows));
        }
        serde_json::to_vec(&sparse)
            .unwrap_or_default()
            .into_boxed_slice()
    }

    fn unpack(&self, doctype: &str, stored: &Stored) -> Doc {
        if let Some(doc) = &stored.unpacked {
            return doc.clone();
        }
        let mut doc = stored.sparse();
        self.expand_with_rows(doctype, &mut doc);
        doc
    }

    fn expand_with_rows(&self, doctype: &str, doc: &mut Doc) {
        self.expand(doctype, doc);
        let name = doc.get("name").cloned().unwrap_or(Value::Null);
        let inherited = inherited_row_fields(doctype, doc);
        for (field, child_doctype) in doctypes::rules(doctype).child_tables() {
            if let Some(Value::Array(items)) = doc.get_mut(*field) {
                for row in items.iter_mut().filter_map(Value::as_object_mut) {
                    self.expand(child_doctype, row);
                    for (key, value) in inherited.iter().chain(
                        [
                            ("parent", name.clone()),
                            ("parentfield", json!(field)),
                            ("doctype", json!(child_doctype)),
                        ]
                        .iter(),
                    ) {
                        row.entry(key.to_string()).or_insert_with(|| value.clone());
                    }
                }
            }
        }
    }

    /// Restores the template's defaults under the stored values. A packed
    /// document holds a fraction of its template's fields, so cloning the
    /// template whole and laying the stored values over it costs far fewer key
    /// comparisons than looking up every template field in the document.
    pub(super) fn expand(&self, doctype: &str, doc: &mut Doc) {
        if let Some(template) = self.templates.get(doctype) {
            let stored = std::mem::replace(doc, template.clone());
            doc.extend(stored);
        }
    }

    /// Writes `doc` as `doctype` `name`, keeping its place in the table's order.
    pub(crate) fn store(&mut self, doctype: &str, name: &str, doc: Doc) {
        self.index_unique(doctype, name, &doc);
        self.sequence += 1;
        let sequence = self.sequence;
        let table = self.tables.entry(doctype.to_string()).or_default();
        let sequence = table
            .docs
            .get(name)
            .map(|stored| stored.sequence)
            .unwrap_or(sequence);
        let mut stored = Stored {
            sequence,
            hot: self.hot_view(doctype, &doc),
            packed: self.pack(doctype, &doc),
            unpacked: None,
        };
        if doctypes::rules(doctype).keep_unpacked() {
            // Exactly what reading the packed form gives, computed once.
            stored.unpacked = Some(self.unpack(doctype, &stored));
        }
        self.tables
            .entry(doctype.to_string())
            .or_default()
            .docs
            .insert(name.to_string(), stored);
    }

    /// Writes a document the setup wizard made (seed data): seeded tables list in this order.
    pub(crate) fn store_seeded(&mut self, doctype: &str, name: String, doc: Doc) {
        self.sequence += 1;
        let packed = self.pack(doctype, &doc);
        let hot = self.hot_view(doctype, &doc);
        let table = self.tables.entry(doctype.to_string()).or_default();
        table.seeded = true;
        table.docs.insert(
            name,
            Stored {
                sequence: self.sequence,
                hot,
                packed,
                unpacked: None,
            },
        );
    }

    /// Takes a document out of its table (indexes are the caller's).
    pub(super) fn remove_stored(&mut self, doctype: &str, name: &str) {
        if let Some(table) = self.tables.get_mut(doctype) {
            table.docs.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::simulators::erpnext::seed;

    #[test]
    fn packing_drops_defaults_and_restores_them() {
        let mut site = seed::fresh_site(None);
        let mut doc = site.templates["Sales Order"].clone();
        doc.insert("name".into(), json!("SO-1"));
        doc.insert("customer".into(), json!("X"));
        doc.insert("owner".into(), json!("Administrator"));
        let mut row = site.templates["Sales Order Item"].clone();
        row.insert("item_code".into(), json!("A"));
        row.insert("parent".into(), json!("SO-1"));
        row.insert("parentfield".into(), json!("items"));
        row.insert("parenttype".into(), json!("Sales Order"));
        row.insert("doctype".into(), json!("Sales Order Item"));
        row.insert("owner".into(), json!("Administrator"));
        doc.insert("items".into(), json!([row]));
        let packed = site.pack("Sales Order", &doc);
        assert!(packed.len() < 1000, "{} bytes", packed.len());
        site.store("Sales Order", "SO-1", doc.clone());
        let restored = site.stored("Sales Order", "SO-1").unwrap();
        assert_eq!(restored["customer"], json!("X"));
        assert_eq!(restored["per_billed"], doc["per_billed"]);
        assert_eq!(restored["items"][0]["parent"], json!("SO-1"));
        assert_eq!(restored["items"][0]["doctype"], json!("Sales Order Item"));
    }
}
