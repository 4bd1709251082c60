//! Shared fixtures for the mapping tests: real orders, the test site's rules and country table.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;
use woocommerce_sync::sync::mapping::{MappingRules, ShippingTarget};
use woocommerce_sync::woocommerce::types::Order;

pub fn fixture(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

pub fn snapshot_orders() -> Vec<Order> {
    serde_json::from_str(&fixture("woocommerce-real/store-snapshot/orders.json")).unwrap()
}

pub fn snapshot_order(id: u64) -> Order {
    snapshot_orders()
        .into_iter()
        .find(|order| order.id == id)
        .unwrap_or_else(|| panic!("order {id} is not in the snapshot"))
}

/// An order from a fixture holding a bare order or a recorded exchange whose response is one.
pub fn order_fixture(relative: &str) -> Order {
    let value: serde_json::Value = serde_json::from_str(&fixture(relative)).unwrap();
    let body = value.pointer("/response/body").cloned().unwrap_or(value);
    serde_json::from_value(body).unwrap()
}

/// An order rewritten as JSON, for cases the real data lacks.
pub fn edited(order: &Order, edit: impl FnOnce(&mut serde_json::Value)) -> Order {
    let mut value = serde_json::to_value(order).unwrap();
    edit(&mut value);
    serde_json::from_value(value).unwrap()
}

pub fn money(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// The ERPNext test site (company `Test Company`, abbreviation TC, Standard chart), with every
/// tax rate of the snapshot store's `taxes.json` mapped to one of its tax accounts.
pub fn test_site_rules() -> MappingRules {
    let mut rules = MappingRules::new("shop", "Test Company", "USD");
    let accounts = [
        (1, "ST 6.25% - TC"),
        (2, "ST 4% - TC"),
        (3, "ST 6% - TC"),
        (4, "ST 4% - TC"),
    ];
    let taxes: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("woocommerce-real/store-snapshot/taxes.json")).unwrap();
    for tax in &taxes {
        let id = tax["id"].as_u64().unwrap();
        let account = accounts
            .iter()
            .find(|(rate_id, _)| *rate_id == id)
            .unwrap_or_else(|| panic!("the store has tax rate {id} the test does not map"));
        rules.tax_accounts.insert(id, account.1.to_string());
    }
    rules.shipping.insert(
        "flat_rate".to_string(),
        ShippingTarget::Account("Freight and Forwarding Charges - TC".to_string()),
    );
    rules.default_shipping_account = Some("Freight and Forwarding Charges - TC".to_string());
    rules.fee_account = Some("Miscellaneous Expenses - TC".to_string());
    rules.rounding_account = Some("Miscellaneous Expenses - TC".to_string());
    rules.warehouse = Some("Stores - TC".to_string());
    for currency in ["EUR", "GBP", "JPY", "CAD"] {
        rules
            .receivable_accounts
            .insert(currency.to_string(), format!("Debtors {currency} - TC"));
    }
    rules
}

pub fn country_name(code: &str) -> Option<String> {
    match code {
        "US" => Some("United States".to_string()),
        "DE" => Some("Germany".to_string()),
        "GB" => Some("United Kingdom".to_string()),
        _ => None,
    }
}
