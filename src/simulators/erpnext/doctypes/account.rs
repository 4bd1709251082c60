//! Account: `Account.autoname` (`<number> - <name> - <abbr>`) and the parts of
//! `Account.validate` a chart of accounts needs here (a parent group of the same company, root
//! and report type from it, the currency, fixed once the account has entries); deleting one a
//! Customer still names is refused with ERPNext's advice.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::party;
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::SITE_URL_FOR_MESSAGES;
use crate::simulators::erpnext::values::{int_of, rows, text_of, Doc};

pub(crate) struct Account;

impl DoctypeRules for Account {
    fn doctype(&self) -> &'static str {
        "Account"
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        let company = text_of(doc, "company");
        let parent = text_of(doc, "parent_account");
        if !company.is_empty() {
            site.link("Company", &company)?;
        }
        if !parent.is_empty() && !site.exists("Account", &parent) {
            return Err(SiteError::thrown(
                417,
                "LinkValidationError",
                format!("Could not find Parent Account: {parent}"),
            ));
        }
        mandatory(
            "Account",
            doc,
            &[("account_name", "Account Name"), ("company", "Company")],
        )?;
        let account_name = text_of(doc, "account_name").trim().to_string();
        let abbr = party::company_value(site, &company, "abbr");
        let number = text_of(doc, "account_number");
        let name = if number.is_empty() {
            format!("{account_name} - {abbr}")
        } else {
            format!("{number} - {account_name} - {abbr}")
        };
        if let Some(parent_doc) = site.stored("Account", &parent) {
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
            let currency = party::company_currency(site, &company);
            doc.insert("account_currency".into(), json!(currency));
        }
        site.link("Currency", &text_of(doc, "account_currency"))?;
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
        if site.exists("Account", &name) {
            return Err(SiteError::duplicate_entry("Account", &name));
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
        // The name, company and place in the chart stay; the currency stays once used.
        for field in ["account_name", "company", "account_number"] {
            doc.insert(
                field.into(),
                current.get(field).cloned().unwrap_or(Value::Null),
            );
        }
        check_currency_change(site, name, doc)
    }

    fn on_trash(&self, site: &Site, name: &str) -> Result<(), SiteError> {
        check_unlinked(site, name)
    }
}

/// `Account.validate_account_currency` on a save: the currency is fixed once the account
/// has entries in it.
fn check_currency_change(site: &Site, name: &str, doc: &Doc) -> Result<(), SiteError> {
    let currency = text_of(doc, "account_currency");
    let ledger = site
        .state
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
fn check_unlinked(site: &Site, account: &str) -> Result<(), SiteError> {
    let linked = site.documents("Customer").find(|(_, stored)| {
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
