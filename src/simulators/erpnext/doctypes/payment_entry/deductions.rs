//! Payment Entry deductions (a gateway's fee, a write-off): each row books its amount to an
//! account and a cost center. What the real site checks, live (docs/research/erpnext-findings.md
//! §9): the links first, then the mandatory fields of each row, and at submit the difference
//! (what ERPNext's `on_submit` refuses) and the ledger's refusal of group accounts and group
//! cost centers.

use rust_decimal::Decimal;

use super::SERIES;
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, text_of, Doc};

const TABLE: &str = "deductions";

/// The sum of the rows' amounts (`set_difference_amount` counts them all).
pub(super) fn total(doc: &Doc) -> Decimal {
    rows(doc, TABLE)
        .into_iter()
        .map(|row| field_decimal(row, "amount"))
        .sum()
}

/// At save: every row's links resolve, then every row has its account, cost center and amount.
pub(super) fn check(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    let rows = rows(doc, TABLE);
    let mut unknown = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        for (field, doctype) in [("account", "Account"), ("cost_center", "Cost Center")] {
            let value = text_of(row, field);
            if !value.is_empty() && !site.exists(doctype, &value) {
                unknown.push(format!("Row #{}: {doctype}: {value}", index + 1));
            }
        }
    }
    if !unknown.is_empty() {
        return Err(SiteError::thrown(
            417,
            "LinkValidationError",
            format!("Could not find {}", unknown.join(", ")),
        ));
    }
    for (index, row) in rows.iter().enumerate() {
        for (field, label) in [
            ("account", "Account"),
            ("cost_center", "Cost Center"),
            ("amount", "Amount (Company Currency)"),
        ] {
            let missing = match field {
                "amount" => field_decimal(row, field).is_zero(),
                _ => text_of(row, field).trim().is_empty(),
            };
            if missing {
                let mut error = SiteError::plain(
                    417,
                    "MandatoryError",
                    format!(
                        "Error: <strong>Payment Entry Deduction</strong> Row #{}: Value missing for: {label}",
                        index + 1
                    ),
                );
                error.exception_text = Some(format!(
                    "[Payment Entry, {}]: {field}",
                    site.peek_series(SERIES)
                ));
                return Err(error);
            }
        }
    }
    Ok(())
}

/// At submit: nothing left over (`on_submit`), then what the ledger refuses.
pub(super) fn check_at_submit(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    if !field_decimal(doc, "difference_amount").is_zero() {
        return Err(SiteError::erpnext_validation(
            "Difference Amount must be zero",
        ));
    }
    let name = match text_of(doc, "name") {
        name if name.is_empty() => site.peek_series(SERIES),
        name => name,
    };
    for row in rows(doc, TABLE) {
        let account = text_of(row, "account");
        if site
            .stored("Account", &account)
            .is_some_and(|found| int_of(&found, "is_group") == 1)
        {
            return Err(SiteError::erpnext_validation(format!(
                "Payment Entry {name}: Account {account} is a Group Account and group accounts cannot be used in transactions"
            )));
        }
        let cost_center = text_of(row, "cost_center");
        if site
            .stored("Cost Center", &cost_center)
            .is_some_and(|found| int_of(&found, "is_group") == 1)
        {
            return Err(SiteError::erpnext_validation(format!(
                "Payment Entry {name}: Cost Center <strong>{cost_center}</strong> is a group cost center and group cost centers cannot be used in transactions"
            )));
        }
    }
    Ok(())
}
