//! The generic half of the simulated site, what Frappe's framework is to ERPNext: documents in
//! memory (`storage`), lists and look-ups (`list`), naming series and amendments (`naming`), the
//! unique and link indexes (`index`), the checks every document goes through (`checks`), the
//! docstatus transitions — insert, save, submit, cancel, delete (`lifecycle`) — and the events
//! each one raises for the Webhook documents (`events`).
//!
//! The engine names no doctype. What differs per doctype (its child tables, how it is named and
//! validated, what submitting or cancelling it does to other documents) is asked of the doctype's
//! [`DoctypeRules`](super::doctypes::DoctypeRules), found in the registry of `super::doctypes`.

mod build;
mod checks;
mod events;
mod index;
mod lifecycle;
mod list;
mod naming;
mod storage;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde_json::Value;

use super::doctypes::{self, DoctypeState};
use super::meta::FieldMeta;
use super::values::Doc;

pub(crate) use build::hash_name;
pub(crate) use checks::{mandatory, mandatory_named};
pub(crate) use index::label_for;
pub(crate) use storage::Stored;
use storage::Table;

/// The columns every document has, whatever its doctype.
const STANDARD_FIELDS: &[&str] = &[
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "docstatus",
    "idx",
];

/// A Custom Field as the site knows it.
#[derive(Debug, Clone)]
pub struct CustomField {
    pub fieldname: String,
    pub label: String,
    pub unique: bool,
    pub no_copy: bool,
    pub allow_on_submit: bool,
    /// Its fieldtype, label, length and options, checked like a standard field's.
    pub meta: FieldMeta,
}

/// A document event raised during one request, for the Webhook documents.
#[derive(Debug, Clone)]
pub struct DocEvent {
    pub doctype: String,
    pub event: &'static str,
    /// Shared by the consecutive events of one write (`on_update`, `on_submit`).
    pub doc: std::sync::Arc<Doc>,
}

/// What a successful write answers with.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub doc: Doc,
    /// Extra `_server_messages` entries (notes, alerts).
    pub notes: Vec<Value>,
}

/// The simulated site: its documents, their indexes and clock, and what the doctypes' rules
/// keep beside the documents.
pub struct Site {
    tables: HashMap<String, Table>,
    templates: HashMap<String, Doc>,
    custom_fields: HashMap<String, Vec<CustomField>>,
    /// doctype → unique custom field → value → document name.
    unique_index: HashMap<String, HashMap<String, HashMap<String, String>>>,
    series: HashMap<String, u64>,
    /// Look-ups the doctypes' rules ask for (index → key → document names), e.g. the Sales
    /// Invoices made from a Sales Order: see `DoctypeRules::link_keys`.
    links: HashMap<&'static str, HashMap<String, BTreeSet<String>>>,
    sequence: u64,
    last_timestamp: Option<NaiveDateTime>,
    /// A fixed site date for replays; `None` is the real date.
    fixed_today: Option<NaiveDate>,
    time_zone: Tz,
    /// Events of the current request, drained by the HTTP layer.
    pub events: Vec<DocEvent>,
    /// What the doctypes' rules keep beside the documents (party ledger, Webhook secrets, …).
    pub(crate) state: DoctypeState,
}

impl Site {
    /// A site without documents, with the doctypes' templates: the recorded ones, then those
    /// the registered doctypes add, and `amended_from` on every submittable doctype.
    pub(crate) fn new(time_zone: Tz, recorded_templates: HashMap<String, Doc>) -> Site {
        let mut site = Site {
            tables: HashMap::new(),
            templates: recorded_templates,
            custom_fields: HashMap::new(),
            unique_index: HashMap::new(),
            series: HashMap::new(),
            links: HashMap::new(),
            sequence: 0,
            last_timestamp: None,
            fixed_today: None,
            time_zone,
            events: Vec::new(),
            state: DoctypeState::default(),
        };
        for rules in doctypes::registry() {
            for (doctype, template) in rules.templates() {
                if let Value::Object(template) = template {
                    site.templates.insert(doctype.to_string(), template);
                }
            }
        }
        for rules in doctypes::registry() {
            if !rules.is_submittable() {
                continue;
            }
            if let Some(template) = site.templates.get_mut(rules.doctype()) {
                template
                    .entry("amended_from".to_string())
                    .or_insert(Value::Null);
            }
        }
        site
    }

    /// Pretends the site's calendar shows `today` (the clock still runs).
    pub(crate) fn set_today(&mut self, today: Option<NaiveDate>) {
        self.fixed_today = today;
    }

    /// The fields of a new `doctype` document with their defaults (its template), or an empty
    /// document for a doctype without one.
    pub(crate) fn new_doc(&self, doctype: &str) -> Doc {
        self.templates.get(doctype).cloned().unwrap_or_default()
    }

    /// Now in the site time zone, strictly increasing (Frappe's `modified` is the
    /// optimistic-lock token, so two writes never share one).
    pub(crate) fn now(&mut self) -> NaiveDateTime {
        let mut now = chrono::Utc::now()
            .with_timezone(&self.time_zone)
            .naive_local();
        if let Some(today) = self.fixed_today {
            now = today.and_time(now.time());
        }
        if let Some(last) = self.last_timestamp {
            if now <= last {
                now = last + chrono::Duration::microseconds(1);
            }
        }
        self.last_timestamp = Some(now);
        now
    }

    pub(crate) fn now_text(&mut self) -> String {
        self.now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }

    pub(crate) fn today(&mut self) -> String {
        self.now().format("%Y-%m-%d").to_string()
    }

    /// The site's date, without moving the clock (reads do not take a timestamp).
    pub(crate) fn calendar_today(&self) -> NaiveDate {
        self.fixed_today.unwrap_or_else(|| {
            chrono::Utc::now()
                .with_timezone(&self.time_zone)
                .date_naive()
        })
    }

    pub(crate) fn custom_fields(&self, doctype: &str) -> &[CustomField] {
        self.custom_fields
            .get(doctype)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// The site behind one lock: a request works on the whole site at once, as the real site's
/// request runs in one database transaction.
pub(crate) struct SiteLock(Mutex<Site>);

impl SiteLock {
    pub fn new(site: Site) -> SiteLock {
        SiteLock(Mutex::new(site))
    }

    /// Locks the site; a panic in another handler does not poison the simulator.
    pub fn lock(&self) -> MutexGuard<'_, Site> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
