//! The buyer: one Customer per person, its Contact, and its billing and shipping Addresses.
//!
//! A person is known by the lowercase billing email, whether they ordered with an account or as
//! a guest, so a shop's registered customer who once checked out as a guest is still one
//! Customer. An order without any email falls back to its account id, and a guest without email
//! to the order itself (nothing else identifies them).

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::MappingError;
use super::fields::{fit, whole, ADDRESS_LINE_CHARS, DATA_CHARS};
use super::rules::{CountryNames, MappingRules};
use crate::woocommerce::types::{Address, Order};

/// Order meta keys where VAT / tax-number plugins leave the buyer's number, most specific first.
const VAT_META_KEYS: &[&str] = &[
    "_billing_vat",
    "billing_vat",
    "_billing_vat_number",
    "_vat_number",
    "vat_number",
    "_billing_eu_vat_number",
];

/// How the sync recognises a Customer it already made for this person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerIdentity {
    /// Stable key for the store's link table: `email:<lowercase email>`, else
    /// `woocommerce-customer:<id>`, else `woocommerce-guest-order:<order id>`.
    pub key: String,
    /// The WooCommerce account id, for registered customers.
    pub woocommerce_customer_id: Option<u64>,
    /// The lowercase billing email: what ERPNext's `Customer.email_id` is looked up by.
    pub email: Option<String>,
    /// The order's currency when it is not the company's: ERPNext books a customer in one
    /// currency per company, so a person buying in EUR is a Customer of their own, in EUR.
    pub currency: Option<String>,
    /// `woocommerce_customer_key` in ERPNext, unique there: two syncs creating this buyer at
    /// once make one Customer (the second insert is refused and looks the key up).
    pub erpnext_key: String,
}

/// `Customer.customer_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CustomerType {
    Company,
    Individual,
}

/// The body of `POST /api/resource/Customer`. ERPNext makes the primary Contact itself from
/// `email_id` and `mobile_no` when it inserts a Customer (transcript 13: `Jane Doe-Jane Doe`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerDraft {
    #[serde(skip)]
    pub identity: CustomerIdentity,
    /// A digest of the fields below; a changed fingerprint means the Customer needs an update.
    #[serde(skip)]
    pub fingerprint: String,
    pub customer_name: String,
    pub customer_type: CustomerType,
    pub customer_group: String,
    pub territory: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub woocommerce_customer_key: String,
    /// Set for a Customer in a foreign currency, with its receivable account in `accounts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_currency: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<PartyAccount>,
}

/// A row of `Customer.accounts` (doctype Party Account): the receivable account of the company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyAccount {
    pub company: String,
    pub account: String,
}

/// A row of a Contact's or Address's `links` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DynamicLink {
    pub link_doctype: String,
    pub link_name: String,
}

impl DynamicLink {
    fn customer(customer_name: &str) -> Self {
        DynamicLink {
            link_doctype: "Customer".to_string(),
            link_name: customer_name.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactEmail {
    pub email_id: String,
    pub is_primary: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactPhone {
    pub phone: String,
    pub is_primary_phone: u8,
}

/// The body of `POST /api/resource/Contact`, for a Customer that exists without these details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactDraft {
    #[serde(skip)]
    pub identity_key: String,
    #[serde(skip)]
    pub fingerprint: String,
    pub first_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub email_ids: Vec<ContactEmail>,
    pub phone_nos: Vec<ContactPhone>,
    /// Empty until [`ContactDraft::linked_to`] names the resolved Customer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<DynamicLink>,
}

impl ContactDraft {
    /// The contact linked to the Customer the sync resolved.
    pub fn linked_to(&self, customer_name: &str) -> ContactDraft {
        ContactDraft {
            links: vec![DynamicLink::customer(customer_name)],
            ..self.clone()
        }
    }
}

/// `Address.address_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AddressType {
    Billing,
    Shipping,
}

impl AddressType {
    fn label(self) -> &'static str {
        match self {
            AddressType::Billing => "billing",
            AddressType::Shipping => "shipping",
        }
    }
}

/// The body of `POST /api/resource/Address` (transcripts 89 and 90).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressDraft {
    /// `<customer key>|<Billing or Shipping>`: one address of each type per person, updated in place.
    #[serde(skip)]
    pub identity_key: String,
    #[serde(skip)]
    pub fingerprint: String,
    /// Unique in ERPNext, like the Customer's key.
    pub woocommerce_address_key: String,
    pub address_title: String,
    pub address_type: AddressType,
    pub address_line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    pub city: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pincode: Option<String>,
    /// The ERPNext Country name, never the ISO code (transcript 91).
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub is_primary_address: u8,
    pub is_shipping_address: u8,
    /// Empty until [`AddressDraft::linked_to`] names the resolved Customer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<DynamicLink>,
}

impl AddressDraft {
    /// The address linked to the Customer the sync resolved.
    pub fn linked_to(&self, customer_name: &str) -> AddressDraft {
        AddressDraft {
            links: vec![DynamicLink::customer(customer_name)],
            ..self.clone()
        }
    }
}

/// The buyer's documents for one order.
#[derive(Debug, Clone, PartialEq)]
pub struct BuyerDrafts {
    pub customer: CustomerDraft,
    /// `None` when the order has neither email nor phone.
    pub contact: Option<ContactDraft>,
    /// `None` when the billing address lacks a street, city or country (ERPNext requires them).
    pub billing_address: Option<AddressDraft>,
    /// `None` when there is no shipping address or it is the billing address again.
    pub shipping_address: Option<AddressDraft>,
    /// The shipping address equals the billing address, which then serves as both.
    pub shipping_same_as_billing: bool,
}

pub(crate) fn map_buyer(
    order: &Order,
    rules: &MappingRules,
    countries: &dyn CountryNames,
) -> Result<BuyerDrafts, MappingError> {
    let billing = &order.billing;
    let email = non_empty(billing.email.as_deref()).map(|email| email.to_lowercase());
    let phone = non_empty(billing.phone.as_deref()).map(|phone| fit(phone, DATA_CHARS));
    let currency = (!order.currency.is_empty() && order.currency != rules.company_currency)
        .then(|| order.currency.clone());
    // An email or an account is the person everywhere; a guest without email only in this store.
    let person = match (&email, order.customer_id) {
        (Some(email), _) => format!("email:{email}"),
        (None, id) if id != 0 => format!("{}:woocommerce-customer:{id}", rules.connection_name),
        (None, _) => format!(
            "{}:woocommerce-guest-order:{}",
            rules.connection_name, order.id
        ),
    };
    let key = match &currency {
        Some(currency) => format!("{person}|{currency}"),
        None => person,
    };
    let accounts = match &currency {
        Some(currency) => vec![PartyAccount {
            company: rules.company.clone(),
            account: rules
                .receivable_accounts
                .get(currency)
                .cloned()
                .ok_or_else(|| MappingError::NoReceivableAccount {
                    order_id: order.id,
                    currency: currency.clone(),
                    company_currency: rules.company_currency.clone(),
                })?,
        }],
        None => Vec::new(),
    };
    let identity = CustomerIdentity {
        erpnext_key: erpnext_key(&key),
        key,
        woocommerce_customer_id: (order.customer_id != 0).then_some(order.customer_id),
        email: email.clone(),
        currency: currency.clone(),
    };
    let person_name = full_name(billing);
    let company = non_empty(Some(&billing.company)).map(String::from);
    let (customer_name, customer_type) = match &company {
        Some(company) => (company.clone(), CustomerType::Company),
        None => (
            person_name
                .clone()
                .or_else(|| email.clone())
                .unwrap_or_else(|| format!("WooCommerce guest of order {}", order.id)),
            CustomerType::Individual,
        ),
    };
    let customer_name = fit(&customer_name, DATA_CHARS);
    let mut customer = CustomerDraft {
        fingerprint: String::new(),
        customer_name: customer_name.clone(),
        customer_type,
        customer_group: rules.customer_group.clone(),
        territory: rules.territory.clone(),
        // An address too long for the field cannot be cut; the order keeps it.
        email_id: email.as_deref().and_then(|email| whole(email, DATA_CHARS)),
        mobile_no: phone.clone(),
        tax_id: vat_number(order, rules).map(|number| fit(&number, DATA_CHARS)),
        woocommerce_customer_key: identity.erpnext_key.clone(),
        default_currency: currency,
        accounts,
        identity,
    };
    customer.fingerprint = fingerprint(&customer);

    let contact = if email.is_some() || phone.is_some() {
        let mut contact = ContactDraft {
            identity_key: format!("{}|contact", customer.identity.key),
            fingerprint: String::new(),
            first_name: non_empty(Some(&billing.first_name))
                .map(|name| fit(name, DATA_CHARS))
                .unwrap_or_else(|| customer_name.clone()),
            last_name: non_empty(Some(&billing.last_name)).map(|name| fit(name, DATA_CHARS)),
            company_name: company.as_deref().map(|name| fit(name, DATA_CHARS)),
            email_ids: email
                .iter()
                .filter(|email| email.chars().count() <= DATA_CHARS)
                .map(|email| ContactEmail {
                    email_id: email.clone(),
                    is_primary: 1,
                })
                .collect(),
            phone_nos: phone
                .iter()
                .map(|phone| ContactPhone {
                    phone: phone.clone(),
                    is_primary_phone: 1,
                })
                .collect(),
            links: Vec::new(),
        };
        contact.fingerprint = fingerprint(&contact);
        Some(contact)
    } else {
        None
    };

    let shipping_same_as_billing =
        is_usable(&order.shipping) && same_place(&order.billing, &order.shipping);
    let billing_address = address_draft(
        order,
        &order.billing,
        AddressType::Billing,
        &customer,
        shipping_same_as_billing,
        countries,
    )?;
    let shipping_address = if shipping_same_as_billing {
        None
    } else {
        address_draft(
            order,
            &order.shipping,
            AddressType::Shipping,
            &customer,
            false,
            countries,
        )?
    };
    Ok(BuyerDrafts {
        customer,
        contact,
        shipping_same_as_billing: shipping_same_as_billing && billing_address.is_some(),
        billing_address,
        shipping_address,
    })
}

fn address_draft(
    order: &Order,
    address: &Address,
    address_type: AddressType,
    customer: &CustomerDraft,
    also_shipping: bool,
    countries: &dyn CountryNames,
) -> Result<Option<AddressDraft>, MappingError> {
    if !is_usable(address) {
        return Ok(None);
    }
    let country_code = address.country.trim().to_ascii_uppercase();
    let country =
        countries
            .country_name(&country_code)
            .ok_or_else(|| MappingError::UnknownCountry {
                order_id: order.id,
                address_type: address_type.label(),
                country_code: country_code.clone(),
            })?;
    let identity_key = format!("{}|{:?}", customer.identity.key, address_type);
    let mut draft = AddressDraft {
        woocommerce_address_key: erpnext_key(&identity_key),
        identity_key,
        fingerprint: String::new(),
        address_title: customer.customer_name.clone(),
        address_type,
        address_line1: fit(address.address_1.trim(), ADDRESS_LINE_CHARS),
        address_line2: non_empty(Some(&address.address_2))
            .map(|line| fit(line, ADDRESS_LINE_CHARS)),
        city: fit(address.city.trim(), DATA_CHARS),
        state: non_empty(Some(&address.state)).map(|state| fit(state, DATA_CHARS)),
        pincode: non_empty(Some(&address.postcode)).map(|code| fit(code, DATA_CHARS)),
        country,
        email_id: non_empty(address.email.as_deref())
            .and_then(|email| whole(&email.to_lowercase(), DATA_CHARS)),
        phone: non_empty(address.phone.as_deref()).map(|phone| fit(phone, DATA_CHARS)),
        is_primary_address: u8::from(address_type == AddressType::Billing),
        is_shipping_address: u8::from(address_type == AddressType::Shipping || also_shipping),
        links: Vec::new(),
    };
    draft.fingerprint = fingerprint(&draft);
    Ok(Some(draft))
}

/// ERPNext refuses an Address without street, city or country.
fn is_usable(address: &Address) -> bool {
    [&address.address_1, &address.city, &address.country]
        .iter()
        .all(|field| !field.trim().is_empty())
}

fn same_place(billing: &Address, shipping: &Address) -> bool {
    let key = |address: &Address| {
        [
            &address.first_name,
            &address.last_name,
            &address.company,
            &address.address_1,
            &address.address_2,
            &address.city,
            &address.state,
            &address.postcode,
            &address.country,
        ]
        .map(|field| field.trim().to_lowercase())
    };
    key(billing) == key(shipping)
}

fn full_name(address: &Address) -> Option<String> {
    let joined = format!("{} {}", address.first_name.trim(), address.last_name.trim());
    non_empty(Some(&joined)).map(String::from)
}

/// The buyer's VAT number: under the connection's own meta keys first, then the plugins'.
pub(super) fn vat_number(order: &Order, rules: &MappingRules) -> Option<String> {
    let configured = rules.vat_meta_keys.iter().map(String::as_str);
    configured
        .chain(VAT_META_KEYS.iter().copied())
        .find_map(|key| {
            order
                .meta(key)
                .and_then(|value| value.as_str())
                .and_then(|text| non_empty(Some(text)))
                .map(String::from)
        })
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// A key as ERPNext's unique Data field holds it: the key itself when it fits, else its digest.
fn erpnext_key(key: &str) -> String {
    whole(key, DATA_CHARS).unwrap_or_else(|| {
        let digest: String = Sha256::digest(key.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("sha256:{digest}")
    })
}

/// A hex SHA-256 of a draft's ERPNext body: equal fingerprints mean nothing to update.
pub(crate) fn fingerprint<T: Serialize>(draft: &T) -> String {
    // Drafts are plain structs of strings and numbers; serialising them cannot fail.
    let body = serde_json::to_vec(draft).unwrap_or_default();
    Sha256::digest(&body)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(street: &str, city: &str) -> Address {
        Address {
            first_name: "Ada".to_string(),
            last_name: "Lovelace".to_string(),
            address_1: street.to_string(),
            city: city.to_string(),
            country: "US".to_string(),
            ..Address::default()
        }
    }

    #[test]
    fn the_same_place_ignores_case_spacing_and_contact_details() {
        let billing = Address {
            email: Some("ada@example.test".to_string()),
            phone: Some("+1 415".to_string()),
            ..address("10 Market St", "San Francisco")
        };
        assert!(same_place(
            &billing,
            &address(" 10 market st", "SAN FRANCISCO ")
        ));
        assert!(!same_place(
            &billing,
            &address("12 Market St", "San Francisco")
        ));
    }

    #[test]
    fn an_address_without_street_city_or_country_is_not_usable() {
        assert!(is_usable(&address("10 Market St", "San Francisco")));
        assert!(!is_usable(&address("", "San Francisco")));
        assert!(!is_usable(&address("10 Market St", " ")));
        assert!(!is_usable(&Address::default()));
    }

    #[test]
    fn fingerprints_follow_content() {
        let first = fingerprint(&serde_json::json!({"a": 1}));
        assert_eq!(first, fingerprint(&serde_json::json!({"a": 1})));
        assert_ne!(first, fingerprint(&serde_json::json!({"a": 2})));
        assert_eq!(first.len(), 64);
    }
}
