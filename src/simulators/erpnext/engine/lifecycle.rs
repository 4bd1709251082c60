//! Docstatus transitions, as Frappe's `Document` runs them: insert (draft, or submitted at once),
//! save of a draft, submit, save of a submitted document (only `allow_on_submit` fields), cancel
//! and delete. The steps and their order are Frappe's; each step asks the doctype's rules
//! (`validate_new`, `validate_save`, `before_submit`, `on_submit`, `on_cancel`, `on_trash`).
//! The checks run before anything is stored, so a refused write leaves the documents as they
//! were, as the real site rolls its transaction back.

use serde_json::{json, Value};

use super::build::set_docstatus;
use super::index::label_for;
use super::{Outcome, Site, STANDARD_FIELDS};
use crate::erpnext::types::DocStatus;
use crate::simulators::erpnext::doctypes::{self, Access, Naming};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::query;
use crate::simulators::erpnext::values::{int_of, text_of, Doc};

// docstatus 0, 1, 2, as the client's wire types name them.
const DRAFT: i64 = DocStatus::Draft.number();
const SUBMITTED: i64 = DocStatus::Submitted.number();
const CANCELLED: i64 = DocStatus::Cancelled.number();

fn not_editable(doctype: &str, what: &str) -> SiteError {
    SiteError::thrown(
        403,
        "PermissionError",
        format!(
            "The simulator keeps {doctype} as set up by the setup wizard; it cannot be {what} here"
        ),
    )
}

impl Site {
    /// `POST /api/resource/<doctype>`.
    pub fn insert(&mut self, doctype: &str, input: &Doc) -> Result<Outcome, SiteError> {
        self.require_doctype(doctype)?;
        let rules = doctypes::rules(doctype);
        if rules.access() != Access::Editable {
            return Err(not_editable(doctype, "created"));
        }
        let mut doc = self.build(doctype, input);
        // `_validate_links` runs before anything else.
        self.check_links_can_resolve(doctype, &doc)?;
        let mut notes = Vec::new();
        // Documents named by a series take their number only once everything passed: a
        // refused insert is rolled back on the real site, and the number with it.
        let mut series: Option<String> = None;
        let name = match rules.validate_new(self, &mut doc, input, &mut notes)? {
            Naming::Series(naming) => {
                self.name_from_series(doctype, &mut doc, &naming, &mut series)?
            }
            Naming::Named(name) => {
                self.check_field_values(doctype, &name, &mut doc)?;
                self.check_unique(doctype, None, &doc)?;
                name
            }
        };
        let submit_now = int_of(&doc, "docstatus") == SUBMITTED && rules.is_submittable();
        if int_of(&doc, "docstatus") != DRAFT && !submit_now {
            return Err(SiteError::validation(
                "Cannot set docstatus other than 0 or 1 on a new document",
            ));
        }
        if submit_now {
            rules.before_submit(self, &doc)?;
        }
        self.check_columns_fit(doctype, &doc)?;
        if let Some(naming) = &series {
            // The number `name_from_series` showed is the one taken now.
            self.next_in_series(naming);
        }
        self.stamp(doctype, &name, &mut doc, true);
        self.store(doctype, &name, doc.clone());
        self.remember_links(doctype, &name, &doc);
        rules.after_insert(self, &name, &mut doc)?;
        // after_insert and on_update come before what on_submit sets off in other documents.
        let own_events_at = self.events.len();
        if submit_now {
            // The body's status stays on the document the request holds (`set_status` skips a
            // new document), even where on_submit writes another one to the database.
            let inserted_status = doc.get("status").cloned();
            if let Err(error) = self.submit_stored(doctype, &name, true) {
                self.undo_insert(doctype, &name, &doc);
                return Err(error);
            }
            doc = self.stored(doctype, &name).unwrap_or(doc);
            if rules.answers_inserted_status() {
                if let Some(status) = inserted_status {
                    doc.insert("status".into(), status);
                }
            }
        }
        // No on_change for the inserted document itself: `run_webhooks` leaves it out while
        // `flags.in_insert` is set.
        self.events_at(own_events_at, doctype, &["after_insert", "on_update"], &doc);
        if submit_now {
            self.event(doctype, "on_submit", &doc);
        }
        for (field, _) in rules.child_tables() {
            if let Some(Value::Array(items)) = doc.get_mut(*field) {
                for item in items.iter_mut() {
                    if let Some(row) = item.as_object_mut() {
                        row.insert("__unsaved".into(), json!(1));
                    }
                }
            }
        }
        let mut answered = self.presented(doctype, doc);
        if let Some(onload) = input.get("__onload") {
            answered.insert("__onload".into(), onload.clone());
        }
        Ok(Outcome {
            doc: answered,
            notes,
        })
    }

    /// A submit that failed after the document was stored (the ledger refused it): the real
    /// site rolls the whole request back.
    fn undo_insert(&mut self, doctype: &str, name: &str, doc: &Doc) {
        self.forget_links(doctype, name, doc);
        self.remove_stored(doctype, name);
        self.release_series_number(name);
        self.events.clear();
    }

    /// `PUT /api/resource/<doctype>/<name>` and `frappe.client.submit`/`save`.
    pub fn update(
        &mut self,
        doctype: &str,
        name: &str,
        changes: &Doc,
        expected_modified: Option<&str>,
    ) -> Result<Outcome, SiteError> {
        self.require_doctype(doctype)?;
        let Some(current) = self.stored(doctype, name) else {
            return Err(SiteError::not_found(format!("{doctype} {name} not found")));
        };
        let rules = doctypes::rules(doctype);
        if !matches!(rules.access(), Access::Editable | Access::Single) {
            return Err(not_editable(doctype, "changed"));
        }
        if let Some(expected) = expected_modified {
            let stored_modified = text_of(&current, "modified");
            if expected != stored_modified {
                let now = self.now_text();
                return Err(SiteError::thrown(
                    417,
                    "TimestampMismatchError",
                    format!("Error: Document has been modified after you have opened it ({stored_modified}, {now}). Please refresh to get the latest document."),
                ));
            }
        }
        let current_status = int_of(&current, "docstatus");
        let wanted_status = changes
            .get("docstatus")
            .map(|_| int_of(changes, "docstatus"))
            .unwrap_or(current_status);
        if current_status == CANCELLED {
            return Err(SiteError::bare(
                417,
                "ValidationError",
                Some("Cannot edit cancelled document"),
            ));
        }
        let submittable = rules.is_submittable();
        match (current_status, wanted_status) {
            (DRAFT, DRAFT) => self.save_draft(doctype, name, current, changes, false),
            (DRAFT, SUBMITTED) if submittable => {
                self.save_draft(doctype, name, current, changes, true)
            }
            (SUBMITTED, SUBMITTED) => self.update_after_submit(doctype, name, current, changes),
            (SUBMITTED, CANCELLED) => self.cancel(doctype, name),
            (from, to) => Err(SiteError::validation(format!(
                "Cannot change docstatus from {from} to {to}"
            ))),
        }
    }

    /// Saves a draft with `changes`, submitting it when `submit`.
    fn save_draft(
        &mut self,
        doctype: &str,
        name: &str,
        current: Doc,
        changes: &Doc,
        submit: bool,
    ) -> Result<Outcome, SiteError> {
        let rules = doctypes::rules(doctype);
        let mut input = current.clone();
        for (key, value) in changes {
            input.insert(key.clone(), value.clone());
        }
        input.insert(
            "docstatus".into(),
            json!(if submit { SUBMITTED } else { DRAFT }),
        );
        let mut doc = self.build(doctype, &input);
        let mut notes = Vec::new();
        // Re-derived below; keep what the insert settled.
        for field in ["creation", "owner", "name"] {
            if let Some(value) = current.get(field) {
                doc.insert(field.into(), value.clone());
            }
        }
        for (field, _) in rules.child_tables() {
            if let Some(Value::Array(items)) = doc.get_mut(*field) {
                for item in items.iter_mut() {
                    if let Some(row) = item.as_object_mut() {
                        row.retain(|key, _| !key.starts_with("__"));
                    }
                }
            }
        }
        self.check_links_can_resolve(doctype, &doc)?;
        // The document validates as if it were not saved yet (a Sales Order's purchase order
        // number clashes with other orders only); a refusal puts it back in the indexes.
        self.forget_links(doctype, name, &current);
        let checked = rules
            .validate_save(self, name, &current, &mut doc, &mut notes)
            .and_then(|()| self.check_field_values(doctype, name, &mut doc))
            .and_then(|()| self.check_unique(doctype, Some(name), &doc))
            .and_then(|()| {
                if submit {
                    rules.before_submit(self, &doc)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| self.check_columns_fit(doctype, &doc));
        if let Err(error) = checked {
            self.remember_links(doctype, name, &current);
            self.index_unique(doctype, name, &current);
            return Err(error);
        }
        self.stamp(doctype, name, &mut doc, false);
        self.store(doctype, name, doc.clone());
        self.remember_links(doctype, name, &doc);
        // on_update comes before what on_submit sets off in other documents; on_change
        // (`run_post_save_methods`) after on_submit.
        let own_events_at = self.events.len();
        if submit {
            self.submit_stored(doctype, name, false)?;
        }
        let doc = self.stored(doctype, name).unwrap_or(doc);
        self.events_at(own_events_at, doctype, &["on_update"], &doc);
        if submit {
            self.event(doctype, "on_submit", &doc);
        }
        self.event(doctype, "on_change", &doc);
        Ok(Outcome {
            doc: self.presented(doctype, doc),
            notes,
        })
    }

    /// Effects of a submit on the stored document and the documents it points at.
    /// `inserted`: the document was inserted submitted in this request (the real site then
    /// computes no status for it; only what `db_set` writes from elsewhere changes it).
    fn submit_stored(
        &mut self,
        doctype: &str,
        name: &str,
        inserted: bool,
    ) -> Result<(), SiteError> {
        let Some(mut doc) = self.stored(doctype, name) else {
            return Ok(());
        };
        set_docstatus(&mut doc, SUBMITTED);
        doctypes::rules(doctype).on_submit(self, name, doc, inserted)
    }

    fn allowed_on_submit(&self, doctype: &str, field: &str) -> bool {
        const ALLOWED: &[&str] = &[
            "po_no",
            "po_date",
            "status",
            "per_billed",
            "per_delivered",
            "billing_status",
            "delivery_status",
            "remarks",
            "letter_head",
            "select_print_heading",
            "terms",
            "customer_address",
            "shipping_address_name",
            "contact_person",
        ];
        ALLOWED.contains(&field)
            || STANDARD_FIELDS.contains(&field)
            || field == "doctype"
            || self
                .custom_fields(doctype)
                .iter()
                .any(|custom| custom.fieldname == field && custom.allow_on_submit)
    }

    fn update_after_submit(
        &mut self,
        doctype: &str,
        name: &str,
        mut current: Doc,
        changes: &Doc,
    ) -> Result<Outcome, SiteError> {
        for (key, value) in changes {
            if key.starts_with("__") || STANDARD_FIELDS.contains(&key.as_str()) || key == "doctype"
            {
                continue;
            }
            if !current.contains_key(key) {
                continue;
            }
            let old = current.get(key).cloned().unwrap_or(Value::Null);
            if value.is_array() {
                continue;
            }
            if query::text(&old) == query::text(value) {
                continue;
            }
            if !self.allowed_on_submit(doctype, key) {
                let label = self
                    .custom_fields(doctype)
                    .iter()
                    .find(|custom| &custom.fieldname == key)
                    .map(|custom| custom.label.clone())
                    .unwrap_or_else(|| label_for(key));
                return Err(SiteError::thrown(
                    417,
                    "UpdateAfterSubmitError",
                    format!(
                        " Not allowed to change <strong>{label}</strong> after submission from <strong>{}</strong> to <strong>{}</strong>",
                        query::text(&old),
                        query::text(value)
                    ),
                )
                .with_title("Cannot Update After Submit", "red"));
            }
            current.insert(key.clone(), value.clone());
        }
        self.check_field_values(doctype, name, &mut current)?;
        self.check_unique(doctype, Some(name), &current)?;
        self.check_columns_fit(doctype, &current)?;
        let now = self.now_text();
        current.insert("modified".into(), json!(now));
        if let Some(previous) = self.stored(doctype, name) {
            self.forget_links(doctype, name, &previous);
        }
        self.store(doctype, name, current.clone());
        self.remember_links(doctype, name, &current);
        // A save of a submitted document runs `on_update_after_submit`, which no Webhook can
        // follow in this Frappe (`run_webhooks` leaves it out), then on_change, changed or not.
        self.event(doctype, "on_change", &current);
        Ok(Outcome {
            doc: self.presented(doctype, current),
            notes: Vec::new(),
        })
    }

    /// `frappe.client.cancel` / `PUT {"docstatus": 2}`.
    pub fn cancel(&mut self, doctype: &str, name: &str) -> Result<Outcome, SiteError> {
        self.require_doctype(doctype)?;
        let Some(mut doc) = self.stored(doctype, name) else {
            return Err(SiteError::not_found(format!("{doctype} {name} not found")));
        };
        match int_of(&doc, "docstatus") {
            CANCELLED => {
                return Err(SiteError::bare(
                    417,
                    "ValidationError",
                    Some("Cannot edit cancelled document"),
                ))
            }
            DRAFT => return Err(SiteError::validation("Cannot change docstatus from 0 to 2")),
            _ => {}
        }
        let mut notes = Vec::new();
        // What cancelling undoes reads the rows and amounts, never the docstatus: the document
        // is marked cancelled first, and stored once its rules have undone their effects.
        set_docstatus(&mut doc, CANCELLED);
        doctypes::rules(doctype).on_cancel(self, name, &mut doc, &mut notes)?;
        let now = self.now_text();
        doc.insert("modified".into(), json!(now));
        self.store(doctype, name, doc.clone());
        self.event(doctype, "on_cancel", &doc);
        self.event(doctype, "on_change", &doc);
        Ok(Outcome {
            doc: self.presented(doctype, doc),
            notes,
        })
    }

    /// `DELETE /api/resource/<doctype>/<name>`.
    pub fn delete(&mut self, doctype: &str, name: &str) -> Result<(), SiteError> {
        self.require_doctype(doctype)?;
        let Some(doc) = self.stored(doctype, name) else {
            return Err(SiteError::not_found(format!("{doctype} {name} not found")));
        };
        let rules = doctypes::rules(doctype);
        if rules.access() != Access::Editable {
            return Err(SiteError::thrown(
                403,
                "PermissionError",
                format!("Not permitted to delete {doctype}"),
            ));
        }
        if int_of(&doc, "docstatus") == SUBMITTED {
            return Err(SiteError::validation(format!(
                "{doctype} {name}: Submitted Record cannot be deleted. You must <a href='https://docs.frappe.io/erpnext/user/manual/en/delete-submitted-document' target='_blank'> Cancel </a> it first."
            )));
        }
        rules.on_trash(self, name)?;
        self.forget_links(doctype, name, &doc);
        self.remove_stored(doctype, name);
        rules.after_delete(self, name, &doc);
        doctypes::deleted_document::record(self, doctype, &doc);
        self.release_series_number(name);
        self.event(doctype, "on_trash", &doc);
        self.event(doctype, "on_change", &doc);
        Ok(())
    }
}
