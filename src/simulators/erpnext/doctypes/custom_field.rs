//! Custom Field: a field added to another doctype (`dt`), named `<dt>-<fieldname>`. Saving one
//! makes it real on its doctype (checked like a standard field of its fieldtype, `unique` as a
//! unique index, `no_copy` left out by the mappers); deleting it takes it off again.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{self, mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::meta::FieldMeta;
use crate::simulators::erpnext::values::{int_of, text_of, Doc};

pub(crate) struct CustomField;

impl DoctypeRules for CustomField {
    fn doctype(&self) -> &'static str {
        "Custom Field"
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        let dt = text_of(doc, "dt");
        mandatory("Custom Field", doc, &[("dt", "DocType")])?;
        if !site.doctype_exists(&dt) {
            return Err(SiteError::link_validation("DocType", &dt));
        }
        let label = text_of(doc, "label");
        let mut fieldname = text_of(doc, "fieldname");
        if fieldname.is_empty() {
            fieldname = label
                .trim()
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            doc.insert("fieldname".into(), json!(fieldname));
        }
        if fieldname.is_empty() {
            return mandatory("Custom Field", doc, &[("label", "Label")])
                .map(|_| Naming::Named(String::new()));
        }
        let exists = site.known_fields(&dt).contains(&fieldname)
            || site.exists("Custom Field", &format!("{dt}-{fieldname}"));
        if exists {
            return Err(SiteError::validation(format!(
                "A field with the name <strong>{fieldname}</strong> already exists in {dt}"
            )));
        }
        if text_of(doc, "fieldtype").is_empty() {
            doc.insert("fieldtype".into(), json!("Data"));
        }
        let existing = site.custom_fields(&dt).len();
        doc.insert("idx".into(), json!(existing + 5));
        site.register_custom_field(&dt, field_of(doc))?;
        Ok(Naming::Named(format!("{dt}-{fieldname}")))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        _name: &str,
        current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        // The doctype and fieldname name the document; they cannot move.
        for field in ["dt", "fieldname"] {
            doc.insert(
                field.into(),
                current.get(field).cloned().unwrap_or(Value::Null),
            );
        }
        let dt = text_of(doc, "dt");
        site.register_custom_field(&dt, field_of(doc))
    }

    fn after_delete(&self, site: &mut Site, _name: &str, doc: &Doc) {
        site.unregister_custom_field(&text_of(doc, "dt"), &text_of(doc, "fieldname"));
    }
}

/// The field a Custom Field document adds to its doctype.
fn field_of(doc: &Doc) -> engine::CustomField {
    let fieldname = text_of(doc, "fieldname");
    let label = text_of(doc, "label");
    engine::CustomField {
        fieldname: fieldname.clone(),
        label: if label.is_empty() {
            engine::label_for(&fieldname)
        } else {
            label
        },
        unique: int_of(doc, "unique") == 1,
        no_copy: int_of(doc, "no_copy") == 1,
        allow_on_submit: int_of(doc, "allow_on_submit") == 1,
        meta: FieldMeta {
            fieldname: fieldname.clone(),
            fieldtype: text_of(doc, "fieldtype"),
            label: text_of(doc, "label"),
            length: usize::try_from(int_of(doc, "length")).unwrap_or(0),
            options: text_of(doc, "options"),
        },
    }
}
