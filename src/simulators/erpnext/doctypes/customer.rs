//! Customer: named by its customer name (` - 1` on a clash, with a note), defaults from Selling
//! Settings, its `accounts` table (`Party Account` rows) checked against the party ledger, and a
//! Contact made from its email or mobile number.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::party;
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{int_of, object, rows, text_of, Doc};

pub(crate) struct Customer;

impl DoctypeRules for Customer {
    fn doctype(&self) -> &'static str {
        "Customer"
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("companies", "Allowed To Transact With"),
            ("credit_limits", "Customer Credit Limit"),
            ("sales_team", "Sales Team"),
            ("accounts", "Party Account"),
            ("portal_users", "Portal User"),
        ]
    }

    fn provisional_name(&self, _site: &Site, doc: &Doc) -> String {
        text_of(doc, "customer_name")
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        let Some(customer_name) = doc
            .get("customer_name")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            // Recorded: ERPNext crashes here instead of raising MandatoryError.
            let mut error = SiteError::bare(
                500,
                "AttributeError",
                Some("'NoneType' object has no attribute 'strip'"),
            );
            error.module = None;
            error.exc_source = Some("erpnext (app)");
            return Err(error);
        };
        let customer_name = customer_name.trim().to_string();
        if text_of(doc, "customer_group").is_empty() {
            doc.insert("customer_group".into(), json!("Individual"));
        }
        if text_of(doc, "territory").is_empty() {
            doc.insert("territory".into(), json!("United States"));
        }
        if text_of(doc, "customer_type").is_empty() {
            doc.insert("customer_type".into(), json!("Company"));
        }
        doc.insert("naming_series".into(), json!("CUST-.YYYY.-"));
        doc.insert("customer_name".into(), json!(customer_name));
        site.link("Customer Group", &text_of(doc, "customer_group"))?;
        site.link("Territory", &text_of(doc, "territory"))?;
        for row in rows(doc, "credit_limits") {
            site.link("Company", &text_of(row, "company"))?;
        }
        let mut name = customer_name.clone();
        if site.exists("Customer", &name) {
            let mut counter = 1;
            while site.exists("Customer", &format!("{customer_name} - {counter}")) {
                counter += 1;
            }
            name = format!("{customer_name} - {counter}");
            notes.push(json!({
                "message": format!("Changed customer name to '{name}' as '{customer_name}' already exists."),
                "title": "Note", "indicator": "yellow"
            }));
        }
        validate_accounts(site, &name, doc)?;
        // Empty contact fields are not sent back (recorded: 26 keys without them).
        for field in [
            "email_id",
            "mobile_no",
            "customer_primary_contact",
            "customer_primary_address",
        ] {
            if doc.get(field).map(Value::is_null).unwrap_or(false) {
                doc.remove(field);
            }
        }
        Ok(Naming::Named(name))
    }

    /// ERPNext makes a Contact from a new Customer's email or mobile number, and names it
    /// the customer's primary contact: the answer shows the customer as stored then.
    fn after_insert(&self, site: &mut Site, name: &str, doc: &mut Doc) -> Result<(), SiteError> {
        create_primary_contact(site, name)?;
        if let Some(stored) = site.stored(self.doctype(), name) {
            *doc = stored;
        }
        Ok(())
    }

    fn validate_save(
        &self,
        site: &mut Site,
        name: &str,
        _current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        site.link("Customer Group", &text_of(doc, "customer_group"))?;
        site.link("Territory", &text_of(doc, "territory"))?;
        validate_accounts(site, name, doc)
    }
}

fn create_primary_contact(site: &mut Site, customer: &str) -> Result<(), SiteError> {
    let Some(doc) = site.stored("Customer", customer) else {
        return Ok(());
    };
    let email = text_of(&doc, "email_id");
    let mobile = text_of(&doc, "mobile_no");
    if email.is_empty() && mobile.is_empty() {
        return Ok(());
    }
    let customer_name = text_of(&doc, "customer_name");
    let contact = object(json!({
        "first_name": customer_name, "email_id": email, "mobile_no": mobile,
        "is_primary_contact": 1, "is_billing_contact": 1,
        "email_ids": if email.is_empty() { json!([]) } else { json!([{"email_id": email, "is_primary": 1}]) },
        "phone_nos": if mobile.is_empty() { json!([]) } else { json!([{"phone": mobile, "is_primary_mobile_no": 1}]) },
        "links": [{"link_doctype": "Customer", "link_name": customer, "link_title": customer_name}],
    }));
    let outcome = site.insert("Contact", &contact)?;
    let contact_name = text_of(&outcome.doc, "name");
    site.modify("Customer", customer, |stored| {
        stored.insert("customer_primary_contact".into(), json!(contact_name));
    });
    Ok(())
}

/// A Customer's `accounts` table (`Party Account` rows): the links, then
/// `validate_party_accounts` and `validate_currency_for_receivable_payable_and_advance_account`.
fn validate_accounts(site: &Site, name: &str, doc: &Doc) -> Result<(), SiteError> {
    let accounts = rows(doc, "accounts");
    let mut missing = Vec::new();
    for (index, row) in accounts.iter().enumerate() {
        for (field, label, doctype) in [
            ("company", "Company", "Company"),
            ("account", "Default Account", "Account"),
            ("advance_account", "Advance Account", "Account"),
        ] {
            let value = text_of(row, field);
            if !value.is_empty() && !site.exists(doctype, &value) {
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
            return Err(party::erpnext_error(
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
        let account_currency = party::account_currency(site, &account);
        party::check_party_ledger_currency(site, name, &company, &account_currency)?;
        let company_currency = party::company_currency(site, &company);
        if !default_currency.is_empty()
            && default_currency != account_currency
            && default_currency != company_currency
        {
            return Err(SiteError::erpnext_validation(
                "Billing currency must be equal to either default company's currency or party account currency",
            ));
        }
        let account_doc = site.stored("Account", &account).unwrap_or_default();
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
        let account_currency = party::account_currency(site, &account);
        let company_currency = party::company_currency(site, &text_of(row, "company"));
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
