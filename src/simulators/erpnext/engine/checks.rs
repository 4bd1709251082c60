//! The checks every document goes through whatever its doctype, on the column facts of `meta`
//! and the site's Custom Fields (`rules`): links no document can answer to, Select options and
//! field lengths, TEXT columns, mandatory fields and links to documents that must exist.

use serde_json::Value;

use super::Site;
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::meta::{self, FieldMeta};
use crate::simulators::erpnext::rules;
use crate::simulators::erpnext::values::Doc;

impl Site {
    /// The checked fields of `doctype` and of its child tables, Custom Fields included.
    fn shape<'a>(&'a self, doctype: &'a str) -> rules::Shape<'a> {
        let fields_of = |doctype: &str| -> Vec<&'a FieldMeta> {
            meta::fields(doctype)
                .iter()
                .chain(
                    self.custom_fields(doctype)
                        .iter()
                        .map(|custom| &custom.meta),
                )
                .collect()
        };
        rules::Shape {
            doctype,
            fields: fields_of(doctype),
            tables: doctypes::rules(doctype)
                .child_tables()
                .iter()
                .map(|(field, child)| (*field, *child, fields_of(child)))
                .collect(),
        }
    }

    /// Links no document can answer to: the first check of every save (`_validate_links`).
    pub(super) fn check_links_can_resolve(
        &self,
        doctype: &str,
        doc: &Doc,
    ) -> Result<(), SiteError> {
        rules::check_unresolvable_links(&self.shape(doctype), doc)
    }

    /// Select options and varchar lengths, after the doctype's own validation
    /// (`Document._validate`); `name` is what the message calls the document.
    pub(super) fn check_field_values(
        &self,
        doctype: &str,
        name: &str,
        doc: &mut Doc,
    ) -> Result<(), SiteError> {
        rules::check_values(&self.shape(doctype), name, doc)
    }

    /// What MariaDB refuses when the row is written (TEXT over 65,535 bytes).
    pub(super) fn check_columns_fit(&self, doctype: &str, doc: &Doc) -> Result<(), SiteError> {
        rules::check_text_columns(&self.shape(doctype), doc)
    }

    /// LinkValidationError unless `value` is empty or names a `doctype` document.
    pub(crate) fn link(&self, doctype: &str, value: &str) -> Result<(), SiteError> {
        if value.is_empty() || self.exists(doctype, value) {
            Ok(())
        } else {
            Err(SiteError::link_validation(doctype, value))
        }
    }
}

/// MandatoryError naming every one of `fields` (fieldname, label) that is empty.
pub(crate) fn mandatory(
    doctype: &str,
    doc: &Doc,
    fields: &[(&str, &str)],
) -> Result<(), SiteError> {
    mandatory_named(doctype, "None", doc, fields)
}

/// MandatoryError; `provisional_name` is the name the document would have
/// got (Frappe shows it in `exception` though the number is not consumed).
pub(crate) fn mandatory_named(
    doctype: &str,
    provisional_name: &str,
    doc: &Doc,
    fields: &[(&str, &str)],
) -> Result<(), SiteError> {
    let missing: Vec<&(&str, &str)> = fields
        .iter()
        .filter(|(field, _)| match doc.get(*field) {
            None | Some(Value::Null) => true,
            Some(Value::String(text)) => text.trim().is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            _ => false,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let labels: Vec<&str> = missing.iter().map(|(_, label)| *label).collect();
    let fieldnames: Vec<&str> = missing.iter().map(|(field, _)| *field).collect();
    let mut error = SiteError::plain(
        417,
        "MandatoryError",
        format!("Error: Value missing for {doctype}: {}", labels.join(", ")),
    );
    error.exception_text = Some(format!(
        "[{doctype}, {provisional_name}]: {}",
        fieldnames.join(", ")
    ));
    Err(error)
}
