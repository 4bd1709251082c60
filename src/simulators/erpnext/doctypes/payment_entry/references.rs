//! A Payment Entry's references, checked as `PaymentEntry.validate` does (research §3):
//! each row gets the invoice's current figures, a receipt may not be allocated against a
//! negative total, and each invoice must still be open for the party account the payment moves:
//! an invoice that is settled is "already fully paid", whichever sign the allocation has.

use rust_decimal::Decimal;
use serde_json::Value;

use super::party_account;
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, set_float, text_of, Doc};

/// Outstanding amounts within half a cent of zero count as settled (`get_outstanding_invoices`).
fn is_open(outstanding: Decimal) -> bool {
    outstanding > Decimal::new(5, 3) || outstanding < Decimal::ZERO
}

/// Fills each reference from its document, runs `validate_payment_type_with_outstanding`
/// and `validate_allocated_amount_with_latest_data`, and answers Σ allocated (signed).
pub(super) fn check(site: &Site, doc: &mut Doc) -> Result<Decimal, SiteError> {
    let party_type = text_of(doc, "party_type");
    let party = text_of(doc, "party");
    let receiving = text_of(doc, "payment_type") == "Receive";
    let party_account = party_account(doc);
    let mut references = Vec::new();
    let mut invoices = Vec::new();
    let mut allocated = Decimal::ZERO;
    for reference in rows(doc, "references") {
        let mut reference = reference.clone();
        let reference_doctype = text_of(&reference, "reference_doctype");
        let reference_name = text_of(&reference, "reference_name");
        let Some(target) = site.stored(&reference_doctype, &reference_name) else {
            return Err(SiteError::link_validation(
                &reference_doctype,
                &reference_name,
            ));
        };
        // `set_missing_ref_details(force=True)`.
        if reference_doctype == "Sales Invoice" {
            set_float(
                &mut reference,
                "total_amount",
                field_decimal(&target, "grand_total"),
            );
            set_float(
                &mut reference,
                "outstanding_amount",
                field_decimal(&target, "outstanding_amount"),
            );
            if text_of(&reference, "due_date").is_empty() {
                reference.insert(
                    "due_date".into(),
                    target.get("due_date").cloned().unwrap_or(Value::Null),
                );
            }
            invoices.push(target);
        }
        allocated += field_decimal(&reference, "allocated_amount");
        references.push(Value::Object(reference));
    }
    doc.insert("references".into(), Value::Array(references));
    if allocated < Decimal::ZERO && party_type == "Customer" && receiving {
        return Err(SiteError::erpnext_validation(
            "Cannot receive from customer against negative outstanding",
        )
        .with_title("Incorrect Payment Type", "red"));
    }
    let references: Vec<&Doc> = rows(doc, "references")
        .into_iter()
        .filter(|row| text_of(row, "reference_doctype") == "Sales Invoice")
        .collect();
    for (reference, invoice) in references.into_iter().zip(&invoices) {
        let outstanding = field_decimal(invoice, "outstanding_amount");
        // What `get_outstanding_reference_documents` would list for this party account.
        let listed = int_of(invoice, "docstatus") == 1
            && text_of(invoice, "customer") == party
            && text_of(invoice, "debit_to") == party_account
            && is_open(outstanding);
        if !listed {
            return Err(SiteError::erpnext_validation(format!(
                "Sales Invoice {} has already been fully paid.",
                text_of(invoice, "name")
            )));
        }
        let amount = field_decimal(reference, "allocated_amount");
        let too_much = (amount > Decimal::ZERO && amount > outstanding)
            || (amount < Decimal::ZERO && amount < outstanding);
        if too_much {
            return Err(SiteError::erpnext_validation(format!(
                "Row #{}: Allocated Amount cannot be greater than outstanding amount.",
                reference_index(doc, reference)
            )));
        }
    }
    Ok(allocated)
}

/// The reference's row number (its `idx`, or its place in the table).
fn reference_index(doc: &Doc, reference: &Doc) -> i64 {
    let idx = int_of(reference, "idx");
    if idx > 0 {
        return idx;
    }
    rows(doc, "references")
        .iter()
        .position(|row| std::ptr::eq(*row, reference))
        .map(|index| index as i64 + 1)
        .unwrap_or(1)
}
