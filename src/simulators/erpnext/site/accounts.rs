//! Accounts, party accounts and the currency rules around them (research §4): which receivable
//! account an invoice posts to (`get_party_account`), the currency checks a selling document
//! and a Customer's `accounts` table go through, and the party ledger those checks read.
//!
//! The simulator keeps no GL, but ERPNext's currency rules only ask one thing of it: in which
//! account (and so which currency) a party first had uncancelled entries, per company. The party
//! ledger below records exactly that for every submitted invoice and payment.

use serde_json::{json, Value};

use super::{Site, COMPANY_CURRENCY, SITE_URL_FOR_MESSAGES};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{field_decimal, int_of, rows, text_of, Doc};

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

fn erpnext_error(exc_type: &str, module: &'static str, message: String) -> SiteError {
    let mut error = SiteError::thrown(417, exc_type, message);
    error.module = Some(module);
    error.exc_source = Some("erpnext (app)");
    error
}

impl Site {
    /// The company's field, e.g. `default_receivable_account`, `abbr`, `default_currency`.
    pub(super) fn company_value(&self, company: &str, field: &str) -> String {
        self.companies
            .get(company)
            .map(|doc| text_of(doc, field))
            .unwrap_or_default()
    }

    fn company_currency(&self, company: &str) -> String {
        let currency = self.company_value(company, "default_currency");
        if currency.is_empty() {
            COMPANY_CURRENCY.to_string()
        } else {
            currency
        }
    }

    /// `get_account_currency`: the account's currency, or its company's when it has none.
    pub(super) fn account_currency(&self, account: &str) -> String {
        let Some(doc) = self.stored("Account", account) else {
            return COMPANY_CURRENCY.to_string();
        };
        let currency = text_of(&doc, "account_currency");
        if currency.is_empty() {
            self.company_currency(&text_of(&doc, "company"))
        } else {
            currency
        }
    }

    /// `get_party_gle_currency`: the currency of the party's uncancelled entries, if any.
    pub(super) fn party_ledger_currency(&self, party: &str, company: &str) -> Option<String> {
        self.party_ledger
            .iter()
            .find(|posting| {
                posting.party == party && posting.company == company && !posting.cancelled
            })
            .map(|posting| posting.currency.clone())
    }

    /// `get_party_account("Customer", …)`: the Customer's `accounts` row for the company, else
    /// its Customer Group's, else the company's default receivable; overridden by the account of
    /// the party's ledger when that is in another currency.
    pub(super) fn party_account(&self, customer: &str, company: &str) -> String {
        let row_for = |doctype: &str, name: &str| {
            self.stored(doctype, name).and_then(|doc| {
                rows(&doc, "accounts")
                    .iter()
                    .find(|row| text_of(row, "company") == company)
                    .map(|row| text_of(row, "account"))
                    .filter(|account| !account.is_empty())
            })
        };
        let group = self
            .stored("Customer", customer)
            .map(|doc| text_of(&doc, "customer_group"))
            .unwrap_or_default();
        let mut account = row_for("Customer", customer)
            .or_else(|| row_for("Customer Group", &group))
            .unwrap_or_else(|| self.company_value(company, "default_receivable_account"));
        if let Some(ledger_currency) = self.party_ledger_currency(customer, company) {
            if self.account_currency(&account) != ledger_currency {
                if let Some(posting) = self
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
    pub(super) fn check_party_currency(&self, doc: &Doc) -> Result<(), SiteError> {
        let customer = text_of(doc, "customer");
        let company = text_of(doc, "company");
        let currency = text_of(doc, "currency");
        if customer.is_empty() || currency.is_empty() {
            return Ok(());
        }
        let party_currency = self.account_currency(&self.party_account(&customer, &company));
        if party_currency != self.company_currency(&company) && currency != party_currency {
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
    pub(super) fn settle_invoice_party_account(
        &self,
        doc: &mut Doc,
        validating: bool,
    ) -> Result<(), SiteError> {
        let customer = text_of(doc, "customer");
        let company = text_of(doc, "company");
        if text_of(doc, "debit_to").is_empty() {
            let account = self.party_account(&customer, &company);
            doc.insert("debit_to".into(), json!(account));
        }
        let debit_to = text_of(doc, "debit_to");
        let account_currency = self.account_currency(&debit_to);
        doc.insert("party_account_currency".into(), json!(account_currency));
        if !validating {
            return Ok(());
        }
        self.check_party_currency(doc)?;
        let currency = text_of(doc, "currency");
        let opening = text_of(doc, "is_opening") == "Yes";
        if !opening
            && self.party_ledger_currency(&customer, &company).is_none()
            && account_currency != currency
        {
            return Err(SiteError::erpnext_validation(format!(
                "Party Account <strong>{debit_to}</strong> currency ({account_currency}) and document currency ({currency}) should be same"
            )));
        }
        Ok(())
    }

    /// `SalesInvoice.validate_debit_to_acc`, after the currency checks.
    pub(super) fn check_debit_to(&self, doc: &Doc) -> Result<(), SiteError> {
        let debit_to = text_of(doc, "debit_to");
        let Some(account) = self.stored("Account", &debit_to) else {
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

    /// The party's GL row of a voucher being submitted: `GLEntry.validate_currency` refuses an
    /// account in another currency than the party's ledger, then the posting is recorded.
    pub(super) fn post_party_ledger(
        &mut self,
        voucher_type: &str,
        voucher_no: &str,
        party: &str,
        company: &str,
        account: &str,
    ) -> Result<(), SiteError> {
        let currency = self.account_currency(account);
        self.check_party_ledger_currency(party, company, &currency)?;
        self.party_ledger.push(PartyPosting {
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
    pub(super) fn check_party_posting(
        &self,
        party: &str,
        company: &str,
        account: &str,
    ) -> Result<(), SiteError> {
        self.check_party_ledger_currency(party, company, &self.account_currency(account))
    }

    /// Cancelling a voucher cancels its party postings.
    pub(super) fn cancel_party_ledger(&mut self, voucher_type: &str, voucher_no: &str) {
        for posting in self.party_ledger.iter_mut() {
            if posting.voucher_type == voucher_type && posting.voucher_no == voucher_no {
                posting.cancelled = true;
            }
        }
    }

    /// `validate_party_gle_currency`.
    fn check_party_ledger_currency(
        &self,
        party: &str,
        company: &str,
        account_currency: &str,
    ) -> Result<(), SiteError> {
        match self.party_ledger_currency(party, company) {
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

    /// A Customer's `accounts` table (`Party Account` rows): the links, then
    /// `validate_party_accounts` and `validate_currency_for_receivable_payable_and_advance_account`.
    pub(super) fn validate_customer_accounts(
        &self,
        name: &str,
        doc: &Doc,
    ) -> Result<(), SiteError> {
        let accounts = rows(doc, "accounts");
        let mut missing = Vec::new();
        for (index, row) in accounts.iter().enumerate() {
            for (field, label, doctype) in [
                ("company", "Company", "Company"),
                ("account", "Default Account", "Account"),
                ("advance_account", "Advance Account", "Account"),
            ] {
                let value = text_of(row, field);
                if !value.is_empty() && !self.exists(doctype, &value) {
                    missing.push(format!("Row #{}: {label}: {value}", index + 1));
                }
            }
        }
        if !missing.is_empty() {
            return Err(SiteError::thrown(
                417,
                "LinkValidationError",
                format!("Could not find {}", missing.join(", ")),
            ));
        }
        let default_currency = text_of(doc, "default_currency");
        let mut companies: Vec<String> = Vec::new();
        for (index, row) in accounts.iter().enumerate() {
            let company = text_of(row, "company");
            if companies.contains(&company) {
                return Err(erpnext_error(
                    "DuplicatePartyAccountError",
                    "erpnext.accounts.party",
                    format!("There can only be 1 Account per Company in Customer {name}"),
                ));
            }
            companies.push(company.clone());
            let account = text_of(row, "account");
            if account.is_empty() {
                continue;
            }
            let account_currency = self.account_currency(&account);
            self.check_party_ledger_currency(name, &company, &account_currency)?;
            let company_currency = self.company_currency(&company);
            if !default_currency.is_empty()
                && default_currency != account_currency
                && default_currency != company_currency
            {
                return Err(SiteError::erpnext_validation(
                    "Billing currency must be equal to either default company's currency or party account currency",
                ));
            }
            let account_doc = self.stored("Account", &account).unwrap_or_default();
            if text_of(&account_doc, "company") != company {
                return Err(SiteError::erpnext_validation(format!(
                    "Row {}:  Account <strong>{account}</strong> does not belong to Company <strong>{company}</strong>",
                    index + 1
                ))
                .with_title("Invalid Account", "red"));
            }
            if int_of(&account_doc, "is_group") == 1 {
                return Err(SiteError::erpnext_validation(format!(
                    "Row {}: Account <strong>{account}</strong> is a Group Account",
                    index + 1
                ))
                .with_title("Invalid Account", "red"));
            }
        }
        for row in &accounts {
            let account = text_of(row, "account");
            if account.is_empty() {
                continue;
            }
            let account_currency = self.account_currency(&account);
            let company_currency = self.company_currency(&text_of(row, "company"));
            if account_currency != default_currency && account_currency != company_currency {
                let shown = if default_currency.is_empty() {
                    "None".to_string()
                } else {
                    default_currency.clone()
                };
                return Err(SiteError::erpnext_validation(format!(
                    "Receivable Account: <strong>{account}</strong> (<strong>{account_currency}</strong>) must be in either customer billing currency: <strong>{shown}</strong> or Company default currency: <strong>{company_currency}</strong>"
                )));
            }
        }
        Ok(())
    }

    /// `Account.autoname` and the parts of `Account.validate` a chart of accounts needs here:
    /// the parent (a group of the same company), root and report type from it, the currency.
    pub(super) fn prepare_account(&mut self, doc: &mut Doc) -> Result<String, SiteError> {
        let company = text_of(doc, "company");
        let parent = text_of(doc, "parent_account");
        if !company.is_empty() {
            self.link("Company", &company)?;
        }
        if !parent.is_empty() && !self.exists("Account", &parent) {
            return Err(SiteError::thrown(
                417,
                "LinkValidationError",
                format!("Could not find Parent Account: {parent}"),
            ));
        }
        Site::mandatory(
            "Account",
            doc,
            &[("account_name", "Account Name"), ("company", "Company")],
        )?;
        let account_name = text_of(doc, "account_name").trim().to_string();
        let abbr = self.company_value(&company, "abbr");
        let number = text_of(doc, "account_number");
        let name = if number.is_empty() {
            format!("{account_name} - {abbr}")
        } else {
            format!("{number} - {account_name} - {abbr}")
        };
        if let Some(parent_doc) = self.stored("Account", &parent) {
            if parent == name {
                return Err(SiteError::erpnext_validation(format!(
                    "Account {name}: You can not assign itself as parent account"
                )));
            }
            if int_of(&parent_doc, "is_group") != 1 {
                return Err(SiteError::erpnext_validation(format!(
                    "Account {name}: Parent account {parent} can not be a ledger"
                )));
            }
            if text_of(&parent_doc, "company") != company {
                return Err(SiteError::erpnext_validation(format!(
                    "Account {name}: Parent account {parent} does not belong to company: {company}"
                )));
            }
            for field in ["root_type", "report_type"] {
                let value = text_of(&parent_doc, field);
                if !value.is_empty() {
                    doc.insert(field.into(), json!(value));
                }
            }
        } else if int_of(doc, "is_group") != 1 {
            return Err(SiteError::erpnext_validation(format!(
                "The root account <strong>{name}</strong> must be a group"
            )));
        }
        let root_type = text_of(doc, "root_type");
        if !root_type.is_empty() && text_of(doc, "report_type").is_empty() {
            let report_type = if matches!(root_type.as_str(), "Asset" | "Liability" | "Equity") {
                "Balance Sheet"
            } else {
                "Profit and Loss"
            };
            doc.insert("report_type".into(), json!(report_type));
        }
        if text_of(doc, "account_currency").is_empty() {
            let currency = self.company_currency(&company);
            doc.insert("account_currency".into(), json!(currency));
        }
        self.link("Currency", &text_of(doc, "account_currency"))?;
        for (field, default) in [
            ("is_group", json!(0)),
            ("disabled", json!(0)),
            ("freeze_account", json!("No")),
            ("balance_must_be", json!("")),
            ("tax_rate", json!(0.0)),
            ("include_in_gross", json!(0)),
        ] {
            if doc.get(field).map(Value::is_null).unwrap_or(true) {
                doc.insert(field.into(), default);
            }
        }
        doc.insert("account_name".into(), json!(account_name));
        doc.insert("old_parent".into(), json!(parent));
        if self.exists("Account", &name) {
            return Err(SiteError::duplicate_entry("Account", &name));
        }
        Ok(name)
    }

    /// `Account.validate_account_currency` on a save: the currency is fixed once the account
    /// has entries in it.
    pub(super) fn check_account_currency_change(
        &self,
        name: &str,
        doc: &Doc,
    ) -> Result<(), SiteError> {
        let currency = text_of(doc, "account_currency");
        let ledger = self
            .party_ledger
            .iter()
            .find(|posting| posting.account == name && !posting.cancelled);
        match ledger {
            Some(posting) if !currency.is_empty() && posting.currency != currency => {
                Err(SiteError::erpnext_validation(
                    "Currency can not be changed after making entries using some other currency",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Deleting an Account a Customer's `accounts` row names: Frappe's link check, then
    /// ERPNext's advice (the second message is the exception's).
    pub(super) fn check_account_unlinked(&self, account: &str) -> Result<(), SiteError> {
        let Some(table) = self.tables.get("Customer") else {
            return Ok(());
        };
        let linked = table.docs.iter().find(|(_, stored)| {
            rows(&stored.sparse(), "accounts")
                .iter()
                .any(|row| text_of(row, "account") == account)
        });
        let Some((customer, _)) = linked else {
            return Ok(());
        };
        let form = |route: &str, name: &str| {
            format!(
                "<a href=\"{SITE_URL_FOR_MESSAGES}/app/{route}/{}\">{name}</a>",
                python_quote(name)
            )
        };
        let mut error = SiteError::thrown(
            417,
            "LinkExistsError",
            format!(
                "Cannot delete or cancel because Account {} is linked with Customer {} ",
                form("account", account),
                form("customer", customer)
            ),
        );
        let advice = SiteError::thrown(
            417,
            "LinkExistsError",
            "You can disable this Account instead of deleting it.",
        );
        error.messages.extend(advice.messages.iter().cloned());
        Err(error)
    }

    /// Whether a voucher's party row has an amount (a zero-total invoice posts nothing).
    pub(super) fn posts_party_entry(doc: &Doc) -> bool {
        let rounded = field_decimal(doc, "rounded_total");
        let total = if rounded.is_zero() {
            field_decimal(doc, "grand_total")
        } else {
            rounded
        };
        !total.is_zero()
    }
}

/// Python's `urllib.parse.quote` (what `get_link_to_form` puts in a URL): letters, digits and
/// `_.-~/` stay, every other byte is `%XX`.
fn python_quote(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}
