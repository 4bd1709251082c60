//! The indexes beside the tables: unique custom fields behave like MariaDB's unique index
//! (refusing a second document with the value, and answering `=` look-ups at once), and the link
//! indexes answer the look-ups doctype rules ask for (the Sales Invoices made from an order, the
//! payments against an invoice) without scanning their tables.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{CustomField, Site};
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::query::{self, Condition};
use crate::simulators::erpnext::values::Doc;

/// `woocommerce_order_key` → "Woocommerce Order Key", as Frappe labels a field without one.
pub(crate) fn label_for(fieldname: &str) -> String {
    fieldname
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut characters = part.chars();
            match characters.next() {
                Some(first) => first.to_uppercase().collect::<String>() + characters.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Site {
    /// With an `=` filter on a unique custom field, the index names the only
    /// possible match: `Some(None)` when nothing has that value.
    pub(super) fn indexed_candidate(
        &self,
        doctype: &str,
        filters: &[Condition],
    ) -> Option<Option<String>> {
        let indexes = self.unique_index.get(doctype)?;
        for condition in filters {
            if condition.child_doctype.is_some() || condition.operator != "=" {
                continue;
            }
            if let Some(index) = indexes.get(&condition.field) {
                let value = query::text(&condition.value);
                return Some(index.get(&value).cloned());
            }
        }
        None
    }

    /// Points the unique indexes at `doc`'s values, dropping the values the
    /// stored version had (O(1) per field: the site holds 100,000s of orders).
    pub(super) fn index_unique(&mut self, doctype: &str, name: &str, doc: &Doc) {
        if !self.unique_index.contains_key(doctype) {
            return;
        }
        // Unique fields are custom fields, never template defaults: the sparse
        // form has them, and so does the hot view unless a value is empty or
        // the field came after the document. Only then is the document parsed
        // (submitting an order stores it twice in one request).
        let previous = self
            .tables
            .get(doctype)
            .and_then(|table| table.docs.get(name))
            .map(|stored| {
                let all_hot = self.unique_index.get(doctype).is_some_and(|indexes| {
                    indexes.keys().all(|field| stored.hot.contains_key(field))
                });
                if all_hot {
                    stored.hot.clone()
                } else {
                    stored.sparse()
                }
            });
        let Some(indexes) = self.unique_index.get_mut(doctype) else {
            return;
        };
        for (field, index) in indexes.iter_mut() {
            if let Some(previous) = &previous {
                let old = query::text(previous.get(field).unwrap_or(&Value::Null));
                if index.get(&old).map(String::as_str) == Some(name) {
                    index.remove(&old);
                }
            }
            let value = query::text(doc.get(field).unwrap_or(&Value::Null));
            if !value.is_empty() {
                index.insert(value, name.to_string());
            }
        }
    }

    /// Unique custom fields behave like a unique index: the insert fails with
    /// the recorded UniqueValidationError "<Label> must be unique".
    pub(super) fn check_unique(
        &self,
        doctype: &str,
        name: Option<&str>,
        doc: &Doc,
    ) -> Result<(), SiteError> {
        let Some(indexes) = self.unique_index.get(doctype) else {
            return Ok(());
        };
        for (field, index) in indexes {
            let value = query::text(doc.get(field).unwrap_or(&Value::Null));
            if value.is_empty() {
                continue;
            }
            if let Some(owner) = index.get(&value) {
                if Some(owner.as_str()) != name {
                    let label = self
                        .custom_fields(doctype)
                        .iter()
                        .find(|custom| &custom.fieldname == field)
                        .map(|custom| custom.label.clone())
                        .unwrap_or_else(|| label_for(field));
                    let mut error = SiteError::plain(
                        417,
                        "UniqueValidationError",
                        format!("{label} must be unique"),
                    );
                    let shown_name = match name {
                        Some(name) => name.to_string(),
                        None => doctypes::rules(doctype).provisional_name(self, doc),
                    };
                    error.exception_text = Some(format!(
                        "('{doctype}', '{shown_name}', IntegrityError(1062, \"Duplicate entry '{value}' for key '{field}'\"))"
                    ));
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Adds `doc` (as stored under `name`) to the link indexes its rules name.
    pub(super) fn remember_links(&mut self, doctype: &str, name: &str, doc: &Doc) {
        for (index, key) in doctypes::rules(doctype).link_keys(doc) {
            if key.is_empty() {
                continue;
            }
            self.links
                .entry(index)
                .or_default()
                .entry(key)
                .or_default()
                .insert(name.to_string());
        }
    }

    /// Removes `doc` (as stored) from the link and unique indexes.
    pub(super) fn forget_links(&mut self, doctype: &str, name: &str, doc: &Doc) {
        for (index, key) in doctypes::rules(doctype).link_keys(doc) {
            if let Some(names) = self
                .links
                .get_mut(index)
                .and_then(|keys| keys.get_mut(&key))
            {
                names.remove(name);
            }
        }
        if let Some(indexes) = self.unique_index.get_mut(doctype) {
            for (field, index) in indexes.iter_mut() {
                let value = query::text(doc.get(field).unwrap_or(&Value::Null));
                if index.get(&value).map(String::as_str) == Some(name) {
                    index.remove(&value);
                }
            }
        }
    }

    /// The documents a link index holds under `key` (see `DoctypeRules::link_keys`).
    pub(crate) fn linked(&self, index: &str, key: &str) -> Option<&BTreeSet<String>> {
        self.links.get(index).and_then(|keys| keys.get(key))
    }

    /// Drops everything a link index holds under `key`.
    pub(crate) fn unlink_all(&mut self, index: &str, key: &str) {
        if let Some(keys) = self.links.get_mut(index) {
            keys.remove(key);
        }
    }

    /// Makes a Custom Field real on its doctype `dt`: the field's flags, and for `unique` a
    /// unique index (refused while duplicates exist).
    pub(crate) fn register_custom_field(
        &mut self,
        dt: &str,
        field: CustomField,
    ) -> Result<(), SiteError> {
        let fieldname = field.fieldname.clone();
        let indexed = self
            .unique_index
            .get(dt)
            .map(|indexes| indexes.contains_key(&fieldname))
            .unwrap_or(false);
        if field.unique && !indexed {
            let mut index = HashMap::new();
            if let Some(table) = self.tables.get(dt) {
                for (name, stored) in &table.docs {
                    let value =
                        query::text(stored.sparse().get(&fieldname).unwrap_or(&Value::Null));
                    if value.is_empty() {
                        continue;
                    }
                    if index.insert(value.clone(), name.clone()).is_some() {
                        return Err(SiteError::validation(format!(
                            "{} cannot be made unique: {dt} has the value {value} more than once",
                            field.label
                        )));
                    }
                }
            }
            self.unique_index
                .entry(dt.to_string())
                .or_default()
                .insert(fieldname.clone(), index);
        } else if !field.unique && indexed {
            if let Some(indexes) = self.unique_index.get_mut(dt) {
                indexes.remove(&fieldname);
            }
        }
        let fields = self.custom_fields.entry(dt.to_string()).or_default();
        fields.retain(|existing| existing.fieldname != fieldname);
        fields.push(field);
        Ok(())
    }

    /// Takes a deleted Custom Field off its doctype, with its unique index.
    pub(crate) fn unregister_custom_field(&mut self, dt: &str, fieldname: &str) {
        if let Some(fields) = self.custom_fields.get_mut(dt) {
            fields.retain(|field| field.fieldname != fieldname);
        }
        if let Some(indexes) = self.unique_index.get_mut(dt) {
            indexes.remove(fieldname);
        }
    }
}
