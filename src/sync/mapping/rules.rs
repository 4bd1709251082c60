//! The per-connection rules a mapping follows: accounts, defaults and policies the operator set.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a WooCommerce shipping method goes in the Sales Order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum ShippingTarget {
    /// An `Actual` charge row on this ERPNext account.
    Account(String),
    /// An item row (qty 1) with this ERPNext item code, e.g. a non-stock "Shipping" item.
    Item(String),
}

/// What to do with an order line that has no SKU (a product without one, or a deleted product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "item_code", rename_all = "snake_case")]
pub enum MissingSkuRule {
    /// Refuse the order, naming the line, so the operator gives the product a SKU first.
    Fail,
    /// Book the line on this generic ERPNext item (e.g. `WOO-MISC`).
    UseItem(String),
    /// Use the item code `WOO-<product id>-<variation id>` (auto-created like any other item).
    Synthesize,
}

/// Everything a connection decides about how an order becomes ERPNext documents.
///
/// Built by the sync from the connection's settings; [`MappingRules::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingRules {
    /// The connection's name: part of `woocommerce_order_key` and stored in `woocommerce_store`.
    pub connection_name: String,
    /// The ERPNext company the Sales Orders belong to.
    pub company: String,
    /// The company's currency; an order in another currency needs a conversion rate.
    pub company_currency: String,
    /// Warehouse for the Sales Order (`set_warehouse`) and each item row; `None` keeps ERPNext's item defaults.
    pub warehouse: Option<String>,
    /// Customer Group for new customers (e.g. `Individual`).
    pub customer_group: String,
    /// Territory for new customers (e.g. `All Territories`).
    pub territory: String,
    /// Selling price list for the Sales Order; `None` keeps ERPNext's default.
    pub price_list: Option<String>,
    /// Days from the order date to the Sales Order's `delivery_date`.
    pub delivery_lead_days: u32,
    /// WooCommerce tax rate id → ERPNext tax account.
    pub tax_accounts: BTreeMap<u64, String>,
    /// Account for tax rates missing from `tax_accounts`; `None` makes an unmapped rate an error.
    pub default_tax_account: Option<String>,
    /// WooCommerce shipping `method_id` (e.g. `flat_rate`) → account or item.
    pub shipping: BTreeMap<String, ShippingTarget>,
    /// Account for shipping methods missing from `shipping`; `None` makes an unmapped method an error.
    pub default_shipping_account: Option<String>,
    /// Account for fee lines (positive or negative); `None` makes an order with a fee an error.
    pub fee_account: Option<String>,
    /// Account for the rounding row that closes a difference within `rounding_tolerance`.
    pub rounding_account: Option<String>,
    /// Largest difference between ERPNext's and WooCommerce's totals closed by a rounding row.
    pub rounding_tolerance: Decimal,
    /// Whether items missing in ERPNext are created from the order's lines.
    pub auto_create_items: bool,
    /// Item Group for auto-created items.
    pub item_group: String,
    /// Stock UOM for auto-created items.
    pub stock_uom: String,
    /// What to do with a line that has no SKU.
    pub missing_sku: MissingSkuRule,
    /// WooCommerce statuses whose orders become Sales Orders.
    pub imported_statuses: BTreeSet<String>,
    /// Decimal places ERPNext keeps for a currency, where it differs from the built-in table.
    pub currency_precisions: BTreeMap<String, u32>,
    /// Currency → receivable account of the company in that currency, for buyers who pay in a
    /// currency other than the company's.
    pub receivable_accounts: BTreeMap<String, String>,
    /// Order meta keys with the buyer's VAT number, before the common plugins' keys.
    pub vat_meta_keys: Vec<String>,
    /// The Tax Category of an order taxed at zero for a buyer with a VAT number.
    pub exempt_tax_category: Option<String>,
}

/// Currencies without minor units. ERPNext rounds money to the site's number format (two places by
/// default) whatever the currency, so rounding these to whole units is always representable there;
/// a finer precision (three places for KWD) would not be, and is deliberately absent.
const ZERO_DECIMAL_CURRENCIES: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

impl MappingRules {
    /// Rules with the defaults: statuses processing, on-hold and completed; tolerance 0.01;
    /// no accounts mapped; items not auto-created; lines without SKU fail.
    pub fn new(connection_name: &str, company: &str, company_currency: &str) -> Self {
        MappingRules {
            connection_name: connection_name.to_string(),
            company: company.to_string(),
            company_currency: company_currency.to_string(),
            warehouse: None,
            customer_group: "Individual".to_string(),
            territory: "All Territories".to_string(),
            price_list: None,
            delivery_lead_days: 7,
            tax_accounts: BTreeMap::new(),
            default_tax_account: None,
            shipping: BTreeMap::new(),
            default_shipping_account: None,
            fee_account: None,
            rounding_account: None,
            rounding_tolerance: Decimal::new(1, 2),
            auto_create_items: false,
            item_group: "Products".to_string(),
            stock_uom: "Nos".to_string(),
            missing_sku: MissingSkuRule::Fail,
            imported_statuses: ["processing", "on-hold", "completed"]
                .into_iter()
                .map(String::from)
                .collect(),
            currency_precisions: BTreeMap::new(),
            receivable_accounts: BTreeMap::new(),
            vat_meta_keys: Vec::new(),
            exempt_tax_category: None,
        }
    }

    /// Decimal places ERPNext keeps for amounts in `currency`: the configured value, else 0 for
    /// currencies without minor units, else 2.
    pub fn currency_precision(&self, currency: &str) -> u32 {
        let upper = currency.to_ascii_uppercase();
        if let Some(places) = self.currency_precisions.get(&upper) {
            return *places;
        }
        if ZERO_DECIMAL_CURRENCIES.contains(&upper.as_str()) {
            0
        } else {
            2
        }
    }
}

/// Turns an ISO 3166-1 alpha-2 code into the name of ERPNext's Country record (`US` →
/// `United States`); ERPNext links addresses by that name and refuses the code.
pub trait CountryNames {
    fn country_name(&self, iso_code: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> CountryNames for F {
    fn country_name(&self, iso_code: &str) -> Option<String> {
        self(iso_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_is_two_unless_the_currency_has_no_minor_unit_or_is_configured() {
        let mut rules = MappingRules::new("shop", "Test Company", "USD");
        assert_eq!(rules.currency_precision("USD"), 2);
        assert_eq!(rules.currency_precision("jpy"), 0);
        assert_eq!(rules.currency_precision("EUR"), 2);
        rules.currency_precisions.insert("EUR".to_string(), 0);
        assert_eq!(rules.currency_precision("EUR"), 0);
    }

    #[test]
    fn a_closure_serves_as_the_country_table() {
        let table = |code: &str| (code == "US").then(|| "United States".to_string());
        let countries: &dyn CountryNames = &table;
        assert_eq!(
            countries.country_name("US").as_deref(),
            Some("United States")
        );
        assert_eq!(countries.country_name("XX"), None);
    }
}
