//! Payment Entry: receipts against Sales Invoices and refunds paid back against credit notes.
//! Validated as `PaymentEntry.validate` does (amounts, references against the invoices' latest
//! figures, remarks); submitting posts the party's ledger row and moves the invoices'
//! outstanding amounts, cancelling moves them back.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{sales_invoice, DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::party;
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::COMPANY;
use crate::simulators::erpnext::seed::COMPANY_CURRENCY;
use crate::simulators::erpnext::values::{
    field_decimal, float_value, int_of, money_in_words, rows, set_float, text_of, Doc,
};

mod deductions;
mod references;

const SERIES: &str = "ACC-PAY-.YYYY.-";

/// Payment Entries by the Sales Invoice a reference row names.
pub(crate) const PAYMENTS_BY_INVOICE: &str = "Payment Entry by Sales Invoice";

pub(crate) struct PaymentEntry;

impl DoctypeRules for PaymentEntry {
    fn doctype(&self) -> &'static str {
        "Payment Entry"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("references", "Payment Entry Reference"),
            ("deductions", "Payment Entry Deduction"),
            ("taxes", "Advance Taxes and Charges"),
        ]
    }

    fn link_keys(&self, doc: &Doc) -> Vec<(&'static str, String)> {
        rows(doc, "references")
            .into_iter()
            .filter(|reference| text_of(reference, "reference_doctype") == "Sales Invoice")
            .map(|reference| (PAYMENTS_BY_INVOICE, text_of(reference, "reference_name")))
            .collect()
    }

    fn provisional_name(&self, site: &Site, _doc: &Doc) -> String {
        site.peek_series(SERIES)
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        validate(site, doc)?;
        Ok(Naming::Series(SERIES.to_string()))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        _name: &str,
        _current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        validate(site, doc)
    }

    fn before_submit(&self, site: &Site, doc: &Doc) -> Result<(), SiteError> {
        deductions::check_at_submit(site, doc)?;
        party::check_party_posting(
            site,
            &text_of(doc, "party"),
            &text_of(doc, "company"),
            &party_account(doc),
        )
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        mut doc: Doc,
        _inserted: bool,
    ) -> Result<(), SiteError> {
        doc.insert("status".into(), json!("Submitted"));
        party::post_party_ledger(
            site,
            self.doctype(),
            name,
            &text_of(&doc, "party"),
            &text_of(&doc, "company"),
            &party_account(&doc),
        )?;
        let paying_back = text_of(&doc, "payment_type") == "Pay";
        let references: Vec<Doc> = rows(&doc, "references").into_iter().cloned().collect();
        let mut updated = Vec::new();
        for mut reference in references {
            if text_of(&reference, "reference_doctype") == "Sales Invoice" {
                let invoice = text_of(&reference, "reference_name");
                let amount = field_decimal(&reference, "allocated_amount");
                sales_invoice::change_outstanding(
                    site,
                    &invoice,
                    outstanding_change(paying_back, amount),
                );
                let outstanding = site
                    .stored("Sales Invoice", &invoice)
                    .map(|invoice| field_decimal(&invoice, "outstanding_amount"))
                    .unwrap_or_default();
                set_float(&mut reference, "outstanding_amount", outstanding);
            }
            updated.push(Value::Object(reference));
        }
        doc.insert("references".into(), Value::Array(updated));
        site.store(self.doctype(), name, doc);
        Ok(())
    }

    fn on_cancel(
        &self,
        site: &mut Site,
        name: &str,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        let paying_back = text_of(doc, "payment_type") == "Pay";
        for reference in rows(doc, "references") {
            if text_of(reference, "reference_doctype") == "Sales Invoice" {
                let invoice = text_of(reference, "reference_name");
                let amount = field_decimal(reference, "allocated_amount");
                sales_invoice::change_outstanding(
                    site,
                    &invoice,
                    -outstanding_change(paying_back, amount),
                );
            }
        }
        party::cancel_party_ledger(site, self.doctype(), name);
        doc.insert("status".into(), json!("Cancelled"));
        Ok(())
    }
}

/// `PaymentEntry.validate`: defaults, mandatory fields and links, the references, the
/// allocated, base and after-tax amounts, the title and remarks.
fn validate(site: &mut Site, doc: &mut Doc) -> Result<(), SiteError> {
    if text_of(doc, "payment_type").is_empty() {
        doc.insert("payment_type".into(), json!("Receive"));
    }
    if text_of(doc, "company").is_empty() {
        doc.insert("company".into(), json!(COMPANY));
    }
    if text_of(doc, "posting_date").is_empty() {
        let today = site.today();
        doc.insert("posting_date".into(), json!(today));
    }
    let provisional = site.peek_series(SERIES);
    mandatory_named(
        "Payment Entry",
        &provisional,
        doc,
        &[
            ("party_type", "Party Type"),
            ("party", "Party"),
            ("paid_from", "Account Paid From"),
            ("paid_to", "Account Paid To"),
            ("paid_amount", "Paid Amount"),
        ],
    )?;
    let party_type = text_of(doc, "party_type");
    let party = text_of(doc, "party");
    site.link(&party_type, &party)?;
    for field in ["paid_from", "paid_to"] {
        site.link("Account", &text_of(doc, field))?;
    }
    site.link("Mode of Payment", &text_of(doc, "mode_of_payment"))?;
    deductions::check(site, doc)?;
    let paid_amount = field_decimal(doc, "paid_amount");
    // `set_received_amount`: between accounts of one currency, what is received is what is paid.
    let same_currency = account_currency(site, &text_of(doc, "paid_from"))
        == account_currency(site, &text_of(doc, "paid_to"));
    if same_currency || field_decimal(doc, "received_amount").is_zero() {
        set_float(doc, "received_amount", paid_amount);
    }
    let allocated = references::check(site, doc)?;
    let paying_back = text_of(doc, "payment_type") == "Pay";
    // `set_total_allocated_amount` keeps the size; a refund's allocations are negative.
    let allocated = allocated.abs();
    let received = field_decimal(doc, "received_amount");
    let deducted = deductions::total(doc);
    // `set_unallocated_amount`, then `set_difference_amount` (what must be zero at submit).
    let unallocated = if paying_back {
        (received - deducted - allocated).max(Decimal::ZERO)
    } else {
        (paid_amount + deducted - allocated).max(Decimal::ZERO)
    };
    // Across currencies the real site books the gap in base amounts as an exchange gain or
    // loss row (`set_exchange_gain_loss`); the simulator does not model exchange rates here.
    let difference = if !same_currency {
        Decimal::ZERO
    } else if paying_back {
        paid_amount - (allocated + unallocated) - deducted
    } else {
        (allocated + unallocated) - received - deducted
    };
    set_float(doc, "total_allocated_amount", allocated);
    set_float(doc, "base_total_allocated_amount", allocated);
    set_float(doc, "unallocated_amount", unallocated);
    set_float(doc, "difference_amount", difference);
    for field in [
        "base_paid_amount",
        "paid_amount_after_tax",
        "base_paid_amount_after_tax",
    ] {
        set_float(doc, field, paid_amount);
    }
    for field in [
        "base_received_amount",
        "received_amount_after_tax",
        "base_received_amount_after_tax",
    ] {
        set_float(doc, field, received);
    }
    if text_of(doc, "party_name").is_empty() {
        let party_name = site
            .stored(&party_type, &party)
            .map(|party_doc| text_of(&party_doc, "customer_name"))
            .unwrap_or_else(|| party.clone());
        doc.insert("party_name".into(), json!(party_name));
    }
    let party_name = text_of(doc, "party_name");
    doc.insert("title".into(), json!(party_name));
    // `set_remarks` writes them unless `custom_remarks` is set: remarks sent without it
    // are replaced.
    if int_of(doc, "custom_remarks") != 1 {
        let remarks = remarks(doc);
        doc.insert("remarks".into(), json!(remarks));
    }
    let words = money_in_words(paid_amount, COMPANY_CURRENCY, "Cent");
    doc.insert("in_words".into(), json!(words));
    doc.insert("base_in_words".into(), json!(words));
    doc.insert("status".into(), json!("Draft"));
    Ok(())
}

/// The remarks ERPNext writes on a Payment Entry when none are given.
fn remarks(doc: &Doc) -> String {
    let currency = COMPANY_CURRENCY;
    let amount = float_value(field_decimal(doc, "paid_amount"));
    let mut lines = vec![if text_of(doc, "payment_type") == "Pay" {
        let received = float_value(field_decimal(doc, "received_amount"));
        format!("Amount {currency} {received} to {}", text_of(doc, "party"))
    } else {
        format!(
            "Amount {currency} {amount} received from {}",
            text_of(doc, "party")
        )
    }];
    let reference_no = text_of(doc, "reference_no");
    if !reference_no.is_empty() {
        lines.push(format!(
            "Transaction reference no {reference_no} dated {}",
            text_of(doc, "reference_date")
        ));
    }
    for reference in rows(doc, "references") {
        let allocated = field_decimal(reference, "allocated_amount");
        if !allocated.is_zero() {
            lines.push(format!(
                "Amount {currency} {} against {} {}",
                float_value(allocated),
                text_of(reference, "reference_doctype"),
                text_of(reference, "reference_name")
            ));
        }
    }
    lines.join("\n")
}

/// An account's currency on the site (the company's when the account is unknown).
fn account_currency(site: &Site, account: &str) -> String {
    site.stored("Account", account)
        .map(|doc| text_of(&doc, "account_currency"))
        .filter(|currency| !currency.is_empty())
        .unwrap_or_else(|| COMPANY_CURRENCY.to_string())
}

/// The party's account of a Payment Entry: what it receives from, or pays back into.
fn party_account(doc: &Doc) -> String {
    if text_of(doc, "payment_type") == "Pay" {
        text_of(doc, "paid_to")
    } else {
        text_of(doc, "paid_from")
    }
}

/// How a payment moves a Sales Invoice's outstanding amount. Receiving credits the receivable
/// by the allocated amount; paying back debits it by the allocated amount's size whatever its
/// sign (`add_party_gl_entries` turns debit into credit for a negative allocation, and the
/// negative credit books as a debit), so -100 against a credit note of -100 leaves 0.
fn outstanding_change(paying_back: bool, allocated: Decimal) -> Decimal {
    if paying_back {
        allocated.abs()
    } else {
        -allocated
    }
}

/// Cancelling a paid invoice unlinks its payments: the Payment Entry stays
/// submitted, its reference row goes, and the amount becomes unallocated.
pub(crate) fn unlink_invoice(site: &mut Site, payment: &str, invoice: &str) -> bool {
    let now = site.now_text();
    let Some(mut doc) = site.stored("Payment Entry", payment) else {
        return false;
    };
    if int_of(&doc, "docstatus") != 1 {
        return false;
    }
    let mut released = Decimal::ZERO;
    if let Some(Value::Array(references)) = doc.get_mut("references") {
        references.retain(|reference| {
            let reference = reference.as_object();
            let matches = reference
                .map(|r| {
                    text_of(r, "reference_doctype") == "Sales Invoice"
                        && text_of(r, "reference_name") == invoice
                })
                .unwrap_or(false);
            if matches {
                released += reference
                    .map(|r| field_decimal(r, "allocated_amount"))
                    .unwrap_or_default();
            }
            !matches
        });
    }
    if released.is_zero() {
        return false;
    }
    let allocated = field_decimal(&doc, "total_allocated_amount") - released;
    set_float(&mut doc, "total_allocated_amount", allocated);
    set_float(&mut doc, "base_total_allocated_amount", allocated);
    let unallocated = field_decimal(&doc, "unallocated_amount") + released;
    set_float(&mut doc, "unallocated_amount", unallocated);
    doc.insert("modified".into(), json!(now));
    site.store("Payment Entry", payment, doc);
    true
}
