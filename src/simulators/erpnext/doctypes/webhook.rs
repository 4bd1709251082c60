//! Webhook documents: named by prompt, checked as `Webhook.validate` does (doc event, condition,
//! URL, body, repeated fields, secret), the secret kept apart and shown masked; and which enabled
//! Webhooks an event of a document fires (doctype, event and `condition`), which is what makes
//! the engine record document events at all.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::condition::{self, Refusal};
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::engine::{mandatory, Site, Stored};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::meta;
use crate::simulators::erpnext::values::{int_of, rows, text_of, Doc};

const DOCTYPE: &str = "Webhook";

pub(crate) struct Webhook;

impl DoctypeRules for Webhook {
    fn doctype(&self) -> &'static str {
        DOCTYPE
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("webhook_headers", "Webhook Header"),
            ("webhook_data", "Webhook Data"),
        ]
    }

    /// Webhook naming is `prompt`: the body's `name` (or the Desk's `__newname`) names it, and
    /// the real site checks that before any validation.
    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        let name = input
            .get("__newname")
            .or_else(|| input.get("name"))
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            return Err(SiteError::validation("Please set the document name"));
        }
        let secret = text_of(doc, "webhook_secret");
        validate(site, doc, !secret.is_empty())?;
        if site.exists(DOCTYPE, &name) {
            return Err(SiteError::duplicate_entry(DOCTYPE, &name));
        }
        if !secret.is_empty() {
            site.state.webhook_secrets.insert(name.clone(), secret);
        }
        Ok(Naming::Named(name))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        name: &str,
        current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        // A Password field sent back masked means "unchanged".
        let secret = text_of(doc, "webhook_secret");
        let masked = !secret.is_empty() && secret.chars().all(|c| c == '*');
        if masked || secret.is_empty() {
            doc.insert(
                "webhook_secret".into(),
                current
                    .get("webhook_secret")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        let has_secret =
            (!secret.is_empty() && !masked) || site.state.webhook_secrets.contains_key(name);
        validate(site, doc, has_secret)?;
        if !secret.is_empty() && !masked {
            site.state.webhook_secrets.insert(name.to_string(), secret);
        }
        Ok(())
    }

    fn after_delete(&self, site: &mut Site, name: &str, _doc: &Doc) {
        site.state.webhook_secrets.remove(name);
    }

    /// Frappe stores Password fields apart and shows one asterisk per character.
    fn present(&self, mut doc: Doc) -> Doc {
        let secret = text_of(&doc, "webhook_secret");
        if !secret.is_empty() {
            doc.insert(
                "webhook_secret".into(),
                json!("*".repeat(secret.chars().count())),
            );
        }
        doc
    }

    fn follows_event(&self, site: &Site, doctype: &str, event: &str) -> bool {
        site.documents(DOCTYPE)
            .any(|(_, stored)| wants(stored, doctype, event))
    }
}

/// `Webhook.validate` (F `integrations/doctype/webhook/webhook.py`), in its order:
/// the doc event, the condition, the URL, the body, repeated fields, the secret.
/// `has_secret`: a secret is given now or already stored.
fn validate(site: &Site, doc: &mut Doc, has_secret: bool) -> Result<(), SiteError> {
    mandatory(
        DOCTYPE,
        doc,
        &[
            ("webhook_doctype", "DocType"),
            ("webhook_docevent", "Doc Event"),
            ("request_url", "Request URL"),
        ],
    )?;
    let webhook_doctype = text_of(doc, "webhook_doctype");
    if !site.doctype_exists(&webhook_doctype) {
        return Err(SiteError::link_validation("DocType", &webhook_doctype));
    }
    let event = text_of(doc, "webhook_docevent");
    if !doctypes::rules(&webhook_doctype).is_submittable()
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
        check_condition(site, &webhook_doctype, &condition)?;
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
fn check_condition(site: &Site, doctype: &str, source: &str) -> Result<(), SiteError> {
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
    let known = site.known_fields(doctype);
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
pub(crate) fn webhooks_for(
    site: &Site,
    doctype: &str,
    event: &str,
    doc: &Doc,
) -> Vec<(String, Doc, Option<String>)> {
    site.documents(DOCTYPE)
        .filter(|(_, stored)| wants(stored, doctype, event))
        .map(|(name, stored)| (name, site.full(DOCTYPE, stored)))
        .filter(|(_, webhook)| {
            let source = text_of(webhook, "condition");
            source.trim().is_empty()
                || condition::parse(&source).is_ok_and(|parsed| parsed.holds(doc))
        })
        .map(|(name, webhook)| {
            let secret = (int_of(&webhook, "enable_security") == 1)
                .then(|| site.state.webhook_secrets.get(name).cloned())
                .flatten();
            (name.clone(), webhook, secret)
        })
        .collect()
}

/// Whether an enabled Webhook document fires on `doctype` and `event` (before its condition):
/// decided on its hot view, since every write asks and unpacking each Webhook cost more than the
/// write itself.
fn wants(webhook: &Stored, doctype: &str, event: &str) -> bool {
    text_of(&webhook.hot, "webhook_doctype") == doctype
        && text_of(&webhook.hot, "webhook_docevent") == event
        && int_of(&webhook.hot, "enabled") == 1
}
