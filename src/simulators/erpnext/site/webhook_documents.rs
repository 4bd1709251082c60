//! Webhook documents: what `Webhook.validate` checks when one is saved, and which enabled
//! Webhooks an event of a document fires (doctype, event and `condition`).

use serde_json::{json, Value};

use super::{Site, Stored, SUBMITTABLE};
use crate::simulators::erpnext::condition::{self, Refusal};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::meta;
use crate::simulators::erpnext::values::{int_of, rows, text_of, Doc};

impl Site {
    /// `Webhook.validate` (F `integrations/doctype/webhook/webhook.py`), in its order:
    /// the doc event, the condition, the URL, the body, repeated fields, the secret.
    /// `has_secret`: a secret is given now or already stored.
    pub(super) fn validate_webhook(
        &self,
        doc: &mut Doc,
        has_secret: bool,
    ) -> Result<(), SiteError> {
        Site::mandatory(
            "Webhook",
            doc,
            &[
                ("webhook_doctype", "DocType"),
                ("webhook_docevent", "Doc Event"),
                ("request_url", "Request URL"),
            ],
        )?;
        let webhook_doctype = text_of(doc, "webhook_doctype");
        if !self.doctype_exists(&webhook_doctype) {
            return Err(SiteError::link_validation("DocType", &webhook_doctype));
        }
        let event = text_of(doc, "webhook_docevent");
        if !SUBMITTABLE.contains(&webhook_doctype.as_str())
            && matches!(
                event.as_str(),
                "on_submit" | "on_cancel" | "on_update_after_submit"
            )
        {
            return Err(SiteError::validation(
                "DocType must be Submittable for the selected Doc Event",
            ));
        }
        let condition = text_of(doc, "condition");
        if !condition.is_empty() {
            self.check_webhook_condition(&webhook_doctype, &condition)?;
        }
        // `urlparse(request_url).netloc` must not be empty.
        let has_host = url::Url::parse(&text_of(doc, "request_url"))
            .ok()
            .is_some_and(|url| url.host_str().is_some_and(|host| !host.is_empty()));
        if !has_host {
            return Err(SiteError::validation("Check Request URL"));
        }
        match text_of(doc, "request_structure").as_str() {
            "Form URL-Encoded" => {
                doc.insert("webhook_json".into(), Value::Null);
            }
            "JSON" => {
                doc.insert("webhook_data".into(), json!([]));
            }
            _ => {}
        }
        let mut fieldnames: Vec<String> = rows(doc, "webhook_data")
            .iter()
            .map(|row| text_of(row, "fieldname"))
            .collect();
        let count = fieldnames.len();
        fieldnames.sort();
        fieldnames.dedup();
        if fieldnames.len() != count {
            return Err(SiteError::validation(
                "Same Field is entered more than once",
            ));
        }
        // `get_password("webhook_secret").encode()` fails on a missing secret.
        if int_of(doc, "enable_security") == 1 && !has_secret {
            return Err(SiteError::validation("Invalid Webhook Secret"));
        }
        if text_of(doc, "request_method").is_empty() {
            doc.insert("request_method".into(), json!("POST"));
        }
        if doc.get("timeout").map(Value::is_null).unwrap_or(true) {
            doc.insert("timeout".into(), json!(5));
        }
        Ok(())
    }

    /// `validate_condition` evaluates the condition on an empty new document of the doctype:
    /// a syntax error or an attribute the doctype lacks is refused with Python's words. What the
    /// simulator cannot evaluate is refused too, saying so.
    fn check_webhook_condition(&self, doctype: &str, source: &str) -> Result<(), SiteError> {
        let parsed = match condition::parse(source) {
            Ok(parsed) => parsed,
            Err(Refusal::Syntax(message)) => {
                return Err(SiteError::validation(format!(
                    "Invalid Condition: {message} (<unknown>, line 1)"
                )))
            }
            Err(Refusal::Unsupported(what)) => {
                return Err(SiteError::validation(format!(
                    "Invalid Condition: the ERPNext simulator does not evaluate {what} in `{source}`; it evaluates {}",
                    condition::SUPPORTED
                )))
            }
        };
        let known = self.known_fields(doctype);
        for attribute in parsed.attributes() {
            let exists = known.contains(attribute)
                || attribute == "doctype"
                || meta::field(doctype, attribute).is_some();
            if !exists {
                return Err(SiteError::validation(format!(
                    "Invalid Condition: '{}' object has no attribute '{attribute}'",
                    doctype.replace(' ', "")
                )));
            }
        }
        Ok(())
    }

    /// Enabled Webhook documents that fire for this event of `doc`: (name, webhook, secret).
    /// The condition is evaluated on the document as the event sees it, as `run_webhooks` does.
    pub fn webhooks_for(
        &self,
        doctype: &str,
        event: &str,
        doc: &Doc,
    ) -> Vec<(String, Doc, Option<String>)> {
        let Some(table) = self.tables.get("Webhook") else {
            return Vec::new();
        };
        table
            .docs
            .iter()
            .filter(|(_, stored)| webhook_wants(stored, doctype, event))
            .map(|(name, stored)| (name, self.unpack("Webhook", stored)))
            .filter(|(_, webhook)| {
                let source = text_of(webhook, "condition");
                source.trim().is_empty()
                    || condition::parse(&source).is_ok_and(|parsed| parsed.holds(doc))
            })
            .map(|(name, webhook)| {
                let secret = (int_of(&webhook, "enable_security") == 1)
                    .then(|| self.webhook_secrets.get(name).cloned())
                    .flatten();
                (name.clone(), webhook, secret)
            })
            .collect()
    }
}

/// Whether an enabled Webhook document fires on `doctype` and `event` (before its condition):
/// decided on its hot view, since every write asks and unpacking each Webhook cost more than the
/// write itself.
pub(super) fn webhook_wants(webhook: &Stored, doctype: &str, event: &str) -> bool {
    text_of(&webhook.hot, "webhook_doctype") == doctype
        && text_of(&webhook.hot, "webhook_docevent") == event
        && int_of(&webhook.hot, "enabled") == 1
}
