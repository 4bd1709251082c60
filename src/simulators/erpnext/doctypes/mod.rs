//! The doctypes of the simulated site, one file each, as ERPNext keeps one controller per
//! doctype: what the engine (`super::engine`) asks of a doctype is the [`DoctypeRules`] trait,
//! and every doctype the site knows is registered in [`REGISTRY`] below.
//!
//! # Adding a doctype
//!
//! 1. Write `doctypes/<doctype>.rs` with a unit struct implementing [`DoctypeRules`]: its name
//!    and child tables, how a new document is validated and named (`validate_new`), a saved
//!    draft checked (`validate_save`), and — for a submittable doctype — what `before_submit`,
//!    `on_submit` and `on_cancel` do. Every method has a default (a plain editable master), so
//!    only what differs is written. A template the recorded `templates.json` lacks goes in
//!    `templates`; column facts come from `meta.json` (`scripts/erpnext-meta`).
//! 2. Add `mod <doctype>;` and one line to [`REGISTRY`].
//!
//! Rules shared by several doctypes live in `super::controllers` (selling documents, party
//! accounts, stock levels), and the whitelisted methods that build documents from others
//! (`make_sales_invoice` & co.) in `super::mapper`.

mod account;
mod address;
mod bin;
mod contact;
pub(crate) mod currency_exchange;
mod custom_field;
mod customer;
pub(crate) mod deleted_document;
pub(crate) mod delivery_note;
mod item;
mod item_price;
pub(crate) mod payment_entry;
mod price_list;
pub(crate) mod sales_invoice;
pub(crate) mod sales_order;
mod setup;
mod stock_entry;
mod stock_ledger_entry;
mod stock_reconciliation;
mod tax_category;
pub(crate) mod webhook;

use std::collections::HashMap;

use serde_json::Value;

use super::controllers::party::PartyPosting;
use super::engine::Site;
use super::error::SiteError;
use super::totals::CurrencyFacts;
use super::values::Doc;

/// What the API may do with a doctype's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Created, changed and deleted through the API.
    Editable,
    /// One document (System Settings), changed but never created or deleted.
    Single,
    /// Kept by the site itself (stock levels), readable through the API.
    SystemManaged,
    /// Made by the setup wizard (Company, Warehouse, …): readable only.
    SetupMaster,
}

/// How a new document is named once its rules validated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Naming {
    /// From this naming series (`SAL-ORD-.YYYY.-`), or after the document it amends: the
    /// engine takes the number only once the insert passes.
    Series(String),
    /// The name the rules gave it (`autoname`: a field, a prompt, a hash).
    Named(String),
}

/// What differs from one doctype to another, asked by the engine at each step of a document's
/// life. The defaults are those of a plain editable master with no rules of its own.
pub(crate) trait DoctypeRules: Sync {
    /// The doctype's name, e.g. `Sales Order`.
    fn doctype(&self) -> &'static str;

    fn access(&self) -> Access {
        Access::Editable
    }

    /// Submittable doctypes go draft → submitted → cancelled (and carry `amended_from`).
    fn is_submittable(&self) -> bool {
        false
    }

    /// Child tables: (fieldname, child doctype).
    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Templates (the fields of a new document with their defaults) the recorded
    /// `templates.json` lacks, by doctype: this doctype's and its child doctypes'.
    fn templates(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }

    /// Keep documents unpacked in memory too (few documents, read on every order line).
    fn keep_unpacked(&self) -> bool {
        false
    }

    /// The link indexes a document is found by: (index, key) pairs, e.g. a Sales Invoice under
    /// ("Sales Invoice by Sales Order", <order>). Empty keys are not indexed.
    fn link_keys(&self, _doc: &Doc) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The name a new document would get, for error texts before it is named.
    fn provisional_name(&self, _site: &Site, _doc: &Doc) -> String {
        "None".to_string()
    }

    /// `validate` (and `autoname`) of a new document: defaults, links, the doctype's checks,
    /// then its name. `input` is the request body (a prompt name comes from it); `notes` collect
    /// the messages the answer carries.
    fn validate_new(
        &self,
        _site: &mut Site,
        _doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        Err(SiteError::validation(format!(
            "Cannot insert {}",
            self.doctype()
        )))
    }

    /// After the new document is stored (`after_insert`): the documents it makes. `doc` is what
    /// the request answers; rules that change the stored document refresh it.
    fn after_insert(&self, _site: &mut Site, _name: &str, _doc: &mut Doc) -> Result<(), SiteError> {
        Ok(())
    }

    /// `validate` of a saved draft (`current` is the stored version).
    fn validate_save(
        &self,
        _site: &mut Site,
        _name: &str,
        _current: &Doc,
        _doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        Ok(())
    }

    /// Checks that run only at submit (credit limit, stock, the party's ledger currency),
    /// before anything is written.
    fn before_submit(&self, _site: &Site, _doc: &Doc) -> Result<(), SiteError> {
        Ok(())
    }

    /// `on_submit`: `doc` is the stored document marked submitted; the rules store it (with
    /// its status) and update the documents it points at. `inserted`: the document was inserted
    /// submitted in this request (the real site then computes no status for it).
    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        doc: Doc,
        _inserted: bool,
    ) -> Result<(), SiteError> {
        site.store(self.doctype(), name, doc);
        Ok(())
    }

    /// An insert that submits answers the status its body gave, whatever `on_submit` stored.
    fn answers_inserted_status(&self) -> bool {
        false
    }

    /// `on_cancel`: `doc` is marked cancelled and is stored afterwards; the rules set its
    /// status and undo what submitting it did elsewhere.
    fn on_cancel(
        &self,
        _site: &mut Site,
        _name: &str,
        _doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        Ok(())
    }

    /// `on_trash`: refuses deleting a document others still link to.
    fn on_trash(&self, _site: &Site, _name: &str) -> Result<(), SiteError> {
        Ok(())
    }

    /// What a deleted document leaves behind to clear (state kept beside the documents).
    fn after_delete(&self, _site: &mut Site, _name: &str, _doc: &Doc) {}

    /// The document as the API shows it (Password fields masked).
    fn present(&self, doc: Doc) -> Doc {
        doc
    }

    /// Whether documents of this doctype follow `event` of `doctype` documents (Webhooks do):
    /// the engine records an event only when some doctype follows it.
    fn follows_event(&self, _site: &Site, _doctype: &str, _event: &str) -> bool {
        false
    }
}

/// Every doctype the site has rules for. Doctypes not listed (Company, Warehouse, Currency, …)
/// are setup masters: they exist once seeded, and the API only reads them.
static REGISTRY: &[&dyn DoctypeRules] = &[
    &sales_order::SalesOrder,
    &sales_invoice::SalesInvoice,
    &payment_entry::PaymentEntry,
    &delivery_note::DeliveryNote,
    &stock_entry::StockEntry,
    &stock_reconciliation::StockReconciliation,
    &customer::Customer,
    &contact::Contact,
    &address::Address,
    &item::Item,
    &item_price::ItemPrice,
    &price_list::PriceList,
    &account::Account,
    &currency_exchange::CurrencyExchange,
    &custom_field::CustomField,
    &webhook::Webhook,
    &bin::Bin,
    &stock_ledger_entry::StockLedgerEntry,
    &deleted_document::DeletedDocument,
    &tax_category::TaxCategory,
    &setup::SYSTEM_SETTINGS,
    &setup::SELLING_SETTINGS,
    &setup::MODE_OF_PAYMENT,
    &setup::CUSTOMER_GROUP,
];

/// `count` stock Items `CAT-00001`… with 1 to 50 units each in Stores - TC, for `bench --stock`.
pub(crate) fn seed_catalogue(site: &mut Site, count: usize) -> anyhow::Result<()> {
    for index in 1..=count {
        let code = crate::simulators::woocommerce::generate::catalogue_sku(index);
        let item = serde_json::json!({"item_code": code, "item_group": "Products",
            "is_stock_item": 1, "stock_uom": "Nos"});
        let Value::Object(item) = item else {
            continue;
        };
        site.insert("Item", &item)
            .map_err(|error| anyhow::anyhow!("seeding Item {code}: {error:?}"))?;
        let units = rust_decimal::Decimal::from(index % 50 + 1);
        bin::adjust(
            site,
            &code,
            "Stores - TC",
            units,
            rust_decimal::Decimal::ZERO,
        );
    }
    Ok(())
}

pub(crate) fn registry() -> &'static [&'static dyn DoctypeRules] {
    REGISTRY
}

/// The rules of `doctype`: its registered ones, or a read-only setup master's.
pub(crate) fn rules(doctype: &str) -> &'static dyn DoctypeRules {
    REGISTRY
        .iter()
        .copied()
        .find(|rules| rules.doctype() == doctype)
        .unwrap_or(&setup::UNREGISTERED)
}

/// What the doctypes' rules keep beside the documents; the engine holds it for them.
#[derive(Debug, Default)]
pub(crate) struct DoctypeState {
    /// Webhook secrets: Frappe keeps Password fields apart (`__Auth`) and shows them masked.
    pub webhook_secrets: HashMap<String, String>,
    /// The party rows of submitted vouchers' ledger entries (see `controllers::party`).
    pub party_ledger: Vec<PartyPosting>,
    /// The companies, unpacked once: they are set-up masters the API cannot change, and every
    /// invoice asks for their defaults.
    pub companies: HashMap<String, Doc>,
    /// Currency facts (smallest fraction, fraction name) of the seeded currencies.
    pub currencies: HashMap<String, CurrencyFacts>,
}
