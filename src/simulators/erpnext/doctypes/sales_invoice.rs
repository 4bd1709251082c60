//! Sales Invoice, credit notes (returns) included: validated as a selling document with its
//! receivable (`debit_to`), outstanding amount and payment schedule; submitting posts the party's
//! ledger row, recounts the outstanding amount and bills the Sales Orders it was made from;
//! cancelling un-links its payments and undoes the billing. Also its status, and how payments
//! and credit notes change what it still owes.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::payment_entry::{self, PAYMENTS_BY_INVOICE};
use super::{sales_order, DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::{party, selling};
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, set_float, text_of, Doc};

/// Credit notes too: the lab names them in the invoices' series.
const SERIES: &str = "ACC-SINV-.YYYY.-";

/// Sales Invoices by the Sales Order their rows bill.
pub(crate) const INVOICES_BY_ORDER: &str = "Sales Invoice by Sales Order";
/// Credit notes by the invoice they return against.
const RETURNS_BY_INVOICE: &str = "Sales Invoice by return_against";

/// An invoice's rows book to the company's income and cost of goods sold accounts.
const SELLING: selling::SellingDocument = selling::SellingDocument {
    date_field: "posting_date",
    adds_item_prices: false,
    row_defaults: |row, _doc, _date| {
        if text_of(row, "income_account").is_empty() {
            row.insert("income_account".into(), json!("Sales - TC"));
        }
        if text_of(row, "expense_account").is_empty() {
            row.insert("expense_account".into(), json!("Cost of Goods Sold - TC"));
        }
    },
};

pub(crate) struct SalesInvoice;

impl DoctypeRules for SalesInvoice {
    fn doctype(&self) -> &'static str {
        "Sales Invoice"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("items", "Sales Invoice Item"),
            ("taxes", "Sales Taxes and Charges"),
            ("payment_schedule", "Payment Schedule"),
            ("payments", "Sales Invoice Payment"),
            ("packed_items", "Packed Item"),
            ("sales_team", "Sales Team"),
            ("advances", "Sales Invoice Advance"),
            ("pricing_rules", "Pricing Rule Detail"),
            ("timesheets", "Sales Invoice Timesheet"),
        ]
    }

    fn link_keys(&self, doc: &Doc) -> Vec<(&'static str, String)> {
        let mut keys: Vec<(&'static str, String)> = rows(doc, "items")
            .into_iter()
            .map(|item| (INVOICES_BY_ORDER, text_of(item, "sales_order")))
            .collect();
        if int_of(doc, "is_return") == 1 {
            keys.push((RETURNS_BY_INVOICE, text_of(doc, "return_against")));
        }
        keys
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
        fill(site, doc, true)?;
        doc.insert("naming_series".into(), json!(SERIES));
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
        fill(site, doc, true)?;
        doc.insert("status".into(), json!("Draft"));
        Ok(())
    }

    /// The GL posting refuses a receivable in another currency than the party's ledger;
    /// checked before anything moves, as the real site rolls the whole submit back.
    fn before_submit(&self, site: &Site, doc: &Doc) -> Result<(), SiteError> {
        if !party::posts_party_entry(doc) {
            return Ok(());
        }
        party::check_party_posting(
            site,
            &text_of(doc, "customer"),
            &text_of(doc, "company"),
            &text_of(doc, "debit_to"),
        )
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        mut doc: Doc,
        inserted: bool,
    ) -> Result<(), SiteError> {
        let doctype = self.doctype();
        // A zero invoice makes no GL entries, so nothing updates its outstanding amount
        // and, inserted submitted, it keeps its body's status ("Draft") for good.
        let posts = party::posts_party_entry(&doc);
        if posts {
            party::post_party_ledger(
                site,
                doctype,
                name,
                &text_of(&doc, "customer"),
                &text_of(&doc, "company"),
                &text_of(&doc, "debit_to"),
            )?;
            // `update_outstanding_amt` recounts it from the GL, in the receivable's currency.
            let own =
                int_of(&doc, "is_return") == 0 || int_of(&doc, "update_outstanding_for_self") == 1;
            let outstanding = if !own {
                Decimal::ZERO
            } else if text_of(&doc, "party_account_currency") == text_of(&doc, "currency") {
                payable_total(&doc)
            } else {
                base_payable_total(&doc)
            };
            set_float(&mut doc, "outstanding_amount", outstanding);
        }
        if !inserted || posts {
            let status = status(site, &doc);
            doc.insert("status".into(), json!(status));
        }
        site.store(doctype, name, doc.clone());
        let is_return = int_of(&doc, "is_return") == 1;
        // A return updates the order's billed amount only when asked to.
        if !is_return || int_of(&doc, "update_billed_amount_in_sales_order") == 1 {
            sales_order::bill(site, &doc, Decimal::ONE);
        }
        if is_return && int_of(&doc, "update_outstanding_for_self") == 0 {
            apply_credit_note(site, &doc, Decimal::ONE);
        }
        if posts {
            // The GL posting updates the outstanding amount and `db_set`s the status
            // on a fresh instance: an on_change carrying the database's status.
            if let Some(stored) = site.stored(doctype, name) {
                site.event(doctype, "on_change", &stored);
            }
        }
        Ok(())
    }

    fn answers_inserted_status(&self) -> bool {
        true
    }

    fn on_cancel(
        &self,
        site: &mut Site,
        name: &str,
        doc: &mut Doc,
        notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        let payments: Vec<String> = site
            .linked(PAYMENTS_BY_INVOICE, name)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        let mut unlinked = Vec::new();
        for payment in payments {
            if payment_entry::unlink_invoice(site, &payment, name) {
                unlinked.push(payment);
            }
        }
        if !unlinked.is_empty() {
            notes.push(json!({
                "message": format!("Payment Entries {} are un-linked", unlinked.join(", ")),
                "title": "Message"
            }));
        }
        site.unlink_all(PAYMENTS_BY_INVOICE, name);
        party::cancel_party_ledger(site, self.doctype(), name);
        doc.insert("status".into(), json!("Cancelled"));
        let is_return = int_of(doc, "is_return") == 1;
        if !is_return || int_of(doc, "update_billed_amount_in_sales_order") == 1 {
            sales_order::bill(site, doc, -Decimal::ONE);
        }
        if is_return && int_of(doc, "update_outstanding_for_self") == 0 {
            apply_credit_note(site, doc, -Decimal::ONE);
        }
        Ok(())
    }
}

/// The values a Sales Invoice gets from its party, items and totals. `validating`: this is
/// a save, not a mapping (`make_sales_invoice` and `make_sales_return` fill the same values
/// but check the party's currency only when the invoice is saved).
pub(crate) fn fill(site: &mut Site, doc: &mut Doc, validating: bool) -> Result<(), SiteError> {
    let mut notes = Vec::new();
    selling::prepare_selling(site, &SELLING, doc, &mut notes)?;
    let provisional = site.peek_series(SERIES);
    mandatory_named(
        "Sales Invoice",
        &provisional,
        doc,
        &[
            ("customer", "Customer"),
            ("company", "Company"),
            ("posting_date", "Date"),
            ("items", "Items"),
        ],
    )?;
    if text_of(doc, "due_date").is_empty() {
        let date = text_of(doc, "posting_date");
        doc.insert("due_date".into(), json!(date));
    }
    if text_of(doc, "posting_time").is_empty() {
        let time = site.now().format("%H:%M:%S%.6f").to_string();
        doc.insert("posting_time".into(), json!(time));
    }
    // The totals (and the outstanding amount) are computed before `validate_debit_to_acc`
    // sets `party_account_currency` from a `debit_to` the body gave: a new invoice with its
    // own `debit_to` owes its company-currency total until the GL posting recounts it.
    let currency_known_for_totals =
        text_of(doc, "debit_to").is_empty() || !text_of(doc, "party_account_currency").is_empty();
    party::settle_invoice_party_account(site, doc, validating)?;
    if validating {
        check_debit_to(site, doc)?;
    }
    let outstanding_currency = if currency_known_for_totals {
        text_of(doc, "party_account_currency")
    } else {
        String::new()
    };
    doc.insert("against_income_account".into(), json!("Sales - TC"));
    doc.insert("is_opening".into(), json!("No"));
    let customer_name = text_of(doc, "customer_name");
    doc.insert("title".into(), json!(customer_name));
    if int_of(doc, "is_return") == 1 {
        let against = text_of(doc, "return_against");
        let original = site.stored("Sales Invoice", &against);
        match original {
            Some(original) if int_of(&original, "docstatus") == 1 => {}
            Some(_) => {
                return Err(SiteError::erpnext_validation(format!(
                    "Return against Sales Invoice {against} must be submitted"
                )))
            }
            None if against.is_empty() => {}
            None => return Err(SiteError::link_validation("Sales Invoice", &against)),
        }
        if rows(doc, "items")
            .iter()
            .any(|row| field_decimal(row, "qty") > Decimal::ZERO)
        {
            return Err(SiteError::erpnext_validation(
                "Row #1: Qty must be a negative number in a return (credit note)",
            ));
        }
        // `update_outstanding_for_self` (default 1): the credit note carries its own,
        // negative, outstanding amount and the original invoice is left as it is. Unset, the
        // original's outstanding is reduced instead, unless it is smaller than the credit
        // note (then the flag is forced back on).
        let total = payable_total(doc);
        if int_of(doc, "update_outstanding_for_self") == 0 {
            let original_outstanding = site
                .stored("Sales Invoice", &against)
                .map(|original| field_decimal(&original, "outstanding_amount"))
                .unwrap_or_default();
            if total.abs() > original_outstanding {
                doc.insert("update_outstanding_for_self".into(), json!(1));
            }
        }
        if int_of(doc, "update_outstanding_for_self") == 1 || against.is_empty() {
            set_float(doc, "outstanding_amount", total);
        } else {
            set_float(doc, "outstanding_amount", Decimal::ZERO);
        }
    } else {
        // Outstanding is kept in the party account's currency: a EUR invoice booked on a
        // USD receivable owes its company-currency total.
        let total = if outstanding_currency == text_of(doc, "currency") {
            payable_total(doc)
        } else {
            base_payable_total(doc)
        };
        set_float(doc, "outstanding_amount", total);
    }
    let due_date = text_of(doc, "due_date");
    let grand_total = field_decimal(doc, "grand_total");
    let base_grand_total = field_decimal(doc, "base_grand_total");
    let mut schedule = site.new_doc("Payment Schedule");
    schedule.insert("due_date".into(), json!(due_date));
    set_float(&mut schedule, "invoice_portion", Decimal::from(100));
    set_float(&mut schedule, "payment_amount", grand_total);
    set_float(&mut schedule, "outstanding", grand_total);
    set_float(&mut schedule, "base_payment_amount", base_grand_total);
    set_float(&mut schedule, "base_outstanding", base_grand_total);
    if int_of(doc, "is_return") == 0 {
        doc.insert("payment_schedule".into(), json!([schedule]));
    }
    let po_no = text_of(doc, "po_no");
    if !po_no.is_empty() {
        doc.insert(
            "remarks".into(),
            json!(format!("Against Customer Order {po_no}")),
        );
    }
    // A new invoice keeps the status its body gives (see `insert`).
    if text_of(doc, "status").is_empty() {
        doc.insert("status".into(), json!("Draft"));
    }
    Ok(())
}

/// `SalesInvoice.validate_debit_to_acc`, after the currency checks.
fn check_debit_to(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    let debit_to = text_of(doc, "debit_to");
    let Some(account) = site.stored("Account", &debit_to) else {
        return Err(SiteError::link_validation("Account", &debit_to));
    };
    if text_of(&account, "report_type") != "Balance Sheet" {
        return Err(SiteError::erpnext_validation(
            "Please ensure <strong>Debit To</strong> account is a Balance Sheet account. You can change the parent account to a Balance Sheet account or select a different account.",
        )
        .with_title("Invalid Account", "red"));
    }
    if text_of(&account, "account_type") != "Receivable" {
        return Err(SiteError::erpnext_validation(format!(
            "Please ensure <strong>Debit To</strong> account <strong>{debit_to}</strong> is a Receivable account. Change the account type to Receivable or select a different account."
        ))
        .with_title("Invalid Account", "red"));
    }
    Ok(())
}

/// Moves an invoice's outstanding amount by `delta` and recomputes its status
/// (`update_outstanding_amt` → `set_status(update=True)`).
pub(crate) fn change_outstanding(site: &mut Site, invoice: &str, delta: Decimal) {
    let Some(mut doc) = site.stored("Sales Invoice", invoice) else {
        return;
    };
    let outstanding = field_decimal(&doc, "outstanding_amount") + delta;
    set_float(&mut doc, "outstanding_amount", outstanding);
    if int_of(&doc, "docstatus") == 1 {
        let status = status(site, &doc);
        doc.insert("status".into(), json!(status));
    }
    let now = site.now_text();
    doc.insert("modified".into(), json!(now));
    site.store("Sales Invoice", invoice, doc.clone());
    // `update_outstanding_amt` → `set_status(update=True)`: a `db_set`, so on_change.
    site.event("Sales Invoice", "on_change", &doc);
}

/// A submitted credit note reduces what the original invoice still owes.
fn apply_credit_note(site: &mut Site, credit_note: &Doc, sign: Decimal) {
    let against = text_of(credit_note, "return_against");
    if against.is_empty() {
        return;
    }
    let amount = payable_total(credit_note);
    // The credit note's total is negative: adding it lowers the outstanding.
    change_outstanding(site, &against, amount * sign);
}

/// A Sales Invoice's status from its docstatus, outstanding amount, returns and due date.
fn status(site: &Site, doc: &Doc) -> &'static str {
    match int_of(doc, "docstatus") {
        0 => return "Draft",
        2 => return "Cancelled",
        _ => {}
    }
    if int_of(doc, "is_return") == 1 {
        return "Return";
    }
    let outstanding = field_decimal(doc, "outstanding_amount");
    let name = text_of(doc, "name");
    let has_return = site
        .linked(RETURNS_BY_INVOICE, &name)
        .map(|returns| {
            returns.iter().any(|credit| {
                site.stored("Sales Invoice", credit)
                    .map(|credit| int_of(&credit, "docstatus") == 1)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false);
    if outstanding <= Decimal::ZERO && has_return {
        return "Credit Note Issued";
    }
    if outstanding <= Decimal::ZERO {
        return "Paid";
    }
    let today = site.calendar_today();
    let overdue = NaiveDate::parse_from_str(&text_of(doc, "due_date"), "%Y-%m-%d")
        .map(|due| due < today)
        .unwrap_or(false);
    if outstanding < payable_total(doc) {
        if overdue {
            "Overdue"
        } else {
            "Partly Paid"
        }
    } else if overdue {
        "Overdue"
    } else {
        "Unpaid"
    }
}

/// What the customer owes on an invoice: the rounded total unless rounding is off.
pub(crate) fn payable_total(doc: &Doc) -> Decimal {
    let rounded = field_decimal(doc, "rounded_total");
    if rounded.is_zero() {
        field_decimal(doc, "grand_total")
    } else {
        rounded
    }
}

/// The payable total in the company's currency.
fn base_payable_total(doc: &Doc) -> Decimal {
    let rounded = field_decimal(doc, "base_rounded_total");
    if rounded.is_zero() {
        field_decimal(doc, "base_grand_total")
    } else {
        rounded
    }
}
