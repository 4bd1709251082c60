//! Party accounts and the currency rules around them (research §4): which receivable account a
//! voucher posts to (`get_party_account`), the currency checks a selling document goes through,
//! and the party ledger those checks read.
//!
//! The simulator keeps no GL, but ERPNext's currency rules only ask one thing of it: in which
//! account (and so which currency) a party first had uncancelled entries, per company. The party
//! ledger below records exactly that for every submitted invoice and payment.

use serde_json::json;

use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::COMPANY_CURRENCY;
use crate::simulators::erpnext::values::{field_decimal, rows, text_of, Doc};

/// One party posting of a submitted voucher (the party's row of its GL entries).
#[derive(Debug, Clone)]
pub(crate) struct PartyPosting {
    pub voucher_type: String,
    pub voucher_no: String,
    pub party: String,
    pub company: String,
    pub account: String,
    pub currency: String,
    /// Cancelling a voucher marks its entries cancelled (`is_cancelled = 1`).
    pub cancelled: bool,
}

/// An exception ERPNext's own code raises (`_exc_source: "erpnext (app)"`).
pub(crate) fn erpnext_error(exc_type: &str, module: &'static str, message: String) -> SiteError {
    let mut error = SiteError::thrown(417, exc_type, message);
    error.module = Some(module);
    error.exc_source = Some("erpnext (app)");
    error
}

/// The company's field, e.g. `default_receivable_account`, `abbr`, `default_currency`.
pub(crate) fn company_value(site: &Site, company: &str, field: &str) -> String {
    site.state
        .companies
        .get(company)
        .map(|doc| text_of(doc, field))
        .unwrap_or_default()
}

pub(crate) fn company_currency(site: &Site, company: &str) -> String {
    let currency = company_value(site, company, "default_currency");
    if currency.is_empty() {
        COMPANY_CURRENCY.to_string()
    } else {
        currency
    }
}

/// `get_account_currency`: the account's currency, or its company's when it has none.
pub(crate) fn account_currency(site: &Site, account: &str) -> String {
    let Some(doc) = site.stored("Account", account) else {
        return COMPANY_CURRENCY.to_string();
    };
    let currency = text_of(&doc, "account_currency");
    if currency.is_empty() {
        company_currency(site, &text_of(&doc, "company"))
    } else {
        currency
    }
}

/// `get_party_gle_currency`: the currency of the party's uncancelled entries, if any.
pub(crate) fn party_ledger_currency(site: &Site, party: &str, company: &str) -> Option<String> {
    site.state
        .party_ledger
        .iter()
        .find(|posting| posting.party == party && posting.company == company && !posting.cancelled)
        .map(|posting| posting.currency.clone())
}

/// `get_party_account("Customer", …)`: the Customer's `accounts` row for the company, else
/// its Customer Group's, else the company's default receivable; overridden by the account of
/// the party's ledger when that is in another currency.
pub(crate) fn party_account(site: &Site, customer: &str, company: &str) -> String {
    let row_for = |doctype: &str, name: &str| {
        site.stored(doctype, name).and_then(|doc| {
            rows(&doc, "accounts")
                .iter()
                .find(|row| text_of(row, "company") == company)
                .map(|row| text_of(row, "account"))
                .filter(|account| !account.is_empty())
        })
    };
    let group = site
        .stored("Customer", customer)
        .map(|doc| text_of(&doc, "customer_group"))
        .unwrap_or_default();
    let mut account = row_for("Customer", customer)
        .or_else(|| row_for("Customer Group", &group))
        .unwrap_or_else(|| company_value(site, company, "default_receivable_account"));
    if let Some(ledger_currency) = party_ledger_currency(site, customer, company) {
        if account_currency(site, &account) != ledger_currency {
            if let Some(posting) = site
                .state
                .party_ledger
                .iter()
                .find(|posting| posting.party == customer && posting.company == company)
            {
                account = posting.account.clone();
            }
        }
    }
    account
}

/// `AccountsController.validate_currency` (Sales Order, Sales Invoice): a party whose
/// receivable is in a foreign currency is billed in that currency only.
pub(crate) fn check_party_currency(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    let customer = text_of(doc, "customer");
    let company = text_of(doc, "company");
    let currency = text_of(doc, "currency");
    if customer.is_empty() || currency.is_empty() {
        return Ok(());
    }
    let party_currency = account_currency(site, &party_account(site, &customer, &company));
    if party_currency != company_currency(site, &company) && currency != party_currency {
        return Err(erpnext_error(
            "InvalidCurrency",
            "erpnext.exceptions",
            format!(
                "Accounting Entry for Customer: {customer} can only be made in currency: {party_currency}"
            ),
        ));
    }
    Ok(())
}

/// A Sales Invoice's `debit_to` (from the party when not given) and
/// `party_account_currency`, then `validate_currency` and
/// `validate_party_account_currency`: with no ledger yet, the receivable must be in the
/// invoice's currency (Accounts Settings `allow_multi_currency_invoices_against_single_party_account`
/// is off on the lab).
pub(crate) fn settle_invoice_party_account(
    site: &Site,
    doc: &mut Doc,
    validating: bool,
) -> Result<(), SiteError> {
    let customer = text_of(doc, "customer");
    let company = text_of(doc, "company");
    if text_of(doc, "debit_to").is_empty() {
        let account = party_account(site, &customer, &company);
        doc.insert("debit_to".into(), json!(account));
    }
    let debit_to = text_of(doc, "debit_to");
    let account_currency = account_currency(site, &debit_to);
    doc.insert("party_account_currency".into(), json!(account_currency));
    if !validating {
        return Ok(());
    }
    check_party_currency(site, doc)?;
    let currency = text_of(doc, "currency");
    let opening = text_of(doc, "is_opening") == "Yes";
    if !opening
        && party_ledger_currency(site, &customer, &company).is_none()
        && account_currency != currency
    {
        return Err(SiteError::erpnext_validation(format!(
            "Party Account <strong>{debit_to}</strong> currency ({account_currency}) and document currency ({currency}) should be same"
        )));
    }
    Ok(())
}

/// The party's GL row of a voucher being submitted: `GLEntry.validate_currency` refuses an
/// account in another currency than the party's ledger, then the posting is recorded.
pub(crate) fn post_party_ledger(
    site: &mut Site,
    voucher_type: &str,
    voucher_no: &str,
    party: &str,
    company: &str,
    account: &str,
) -> Result<(), SiteError> {
    let currency = account_currency(site, account);
    check_party_ledger_currency(site, party, company, &currency)?;
    site.state.party_ledger.push(PartyPosting {
        voucher_type: voucher_type.to_string(),
        voucher_no: voucher_no.to_string(),
        party: party.to_string(),
        company: company.to_string(),
        account: account.to_string(),
        currency,
        cancelled: false,
    });
    Ok(())
}

/// What `post_party_ledger` would refuse, without recording anything.
pub(crate) fn check_party_posting(
    site: &Site,
    party: &str,
    company: &str,
    account: &str,
) -> Result<(), SiteError> {
    check_party_ledger_currency(site, party, company, &account_currency(site, account))
}

/// Cancelling a voucher cancels its party postings.
pub(crate) fn cancel_party_ledger(site: &mut Site, voucher_type: &str, voucher_no: &str) {
    for posting in site.state.party_ledger.iter_mut() {
        if posting.voucher_type == voucher_type && posting.voucher_no == voucher_no {
            posting.cancelled = true;
        }
    }
}

/// `validate_party_gle_currency`.
pub(crate) fn check_party_ledger_currency(
    site: &Site,
    party: &str,
    company: &str,
    account_currency: &str,
) -> Result<(), SiteError> {
    match party_ledger_currency(site, party, company) {
        Some(ledger) if ledger != account_currency => Err(erpnext_error(
            "InvalidAccountCurrency",
            "erpnext.exceptions",
            format!(
                "<strong>Customer</strong> <strong>{party}</strong> has accounting entries in currency <strong>{ledger}</strong> for company <strong>{company}</strong>. Please select a receivable or payable account with currency <strong>{ledger}</strong>."
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether a voucher's party row has an amount (a zero-total invoice posts nothing).
pub(crate) fn posts_party_entry(doc: &Doc) -> bool {
    let rounded = field_decimal(doc, "rounded_total");
    let total = if rounded.is_zero() {
        field_decimal(doc, "grand_total")
    } else {
        rounded
    };
    !total.is_zero()
}
