//! A connection: one WooCommerce store paired with one ERPNext company, with
//! the mappings between them. What the original Frappe connector called
//! "WooCommerce Settings". Validated here, once, before anything is stored.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::secrets::mask;

/// The credentials of a connection. Stored encrypted; Debug shows them masked.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    /// Shared secret that signs WooCommerce webhook deliveries (and ours to ERPNext's Webhooks).
    pub webhook_secret: String,
    pub api_key: String,
    pub api_secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("consumer_key", &mask(&self.consumer_key))
            .field("consumer_secret", &"***")
            .field("webhook_secret", &"***")
            .field("api_key", &mask(&self.api_key))
            .field("api_secret", &"***")
            .finish()
    }
}

/// When a Sales Invoice is made for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InvoiceTrigger {
    /// When WooCommerce reports the order paid (`date_paid` set, processing or completed).
    Paid,
    /// As soon as the Sales Order is created.
    OnImport,
    /// When the order is completed in WooCommerce.
    OnCompleted,
    /// Never: invoices are made in ERPNext by hand (payments then follow nothing).
    Never,
}

/// What to do with a line whose product was deleted or has no SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingSkuRule {
    /// The order fails, naming the line.
    Fail,
    /// The line is imported as this generic item.
    UseItem(String),
    /// An item code `WOO-<product id>-<variation id>` is used (and auto-created if allowed).
    Synthesize,
}

/// How WooCommerce is authenticated. `Auto` picks Basic over HTTPS and OAuth 1.0a over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WooAuth {
    Auto,
    Basic,
    QueryString,
    Oauth1,
}

/// A WooCommerce shipping method goes to an account (a charge row) or an item (a line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ShippingTarget {
    Account(String),
    Item(String),
}

/// A WooCommerce payment gateway's ERPNext counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentTarget {
    pub mode_of_payment: String,
    /// The paid-to account; ERPNext's default for the Mode of Payment when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The expense account the gateway's fee (read from the order) is booked to, as a deduction
    /// on the Payment Entry; without it the payment is booked gross.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_account: Option<String>,
}

/// The mapping tables. Also readable from a TOML file (`--mappings FILE`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mappings {
    /// WooCommerce tax rate id → ERPNext tax account.
    #[serde(deserialize_with = "tax_rate_keys")]
    pub tax_accounts: BTreeMap<u64, String>,
    /// WooCommerce shipping `method_id` → account or item.
    pub shipping_methods: BTreeMap<String, ShippingTarget>,
    /// WooCommerce `payment_method` → Mode of Payment (and account).
    pub payment_methods: BTreeMap<String, PaymentTarget>,
    /// ERPNext Sales Order status → WooCommerce order status written back.
    pub status_to_woocommerce: BTreeMap<String, String>,
    /// WooCommerce order status → ERPNext action: `import`, `cancel` or `ignore`.
    pub status_from_woocommerce: BTreeMap<String, String>,
    /// Currency (ISO code) → the company's receivable account in that currency, for orders in
    /// a currency other than the company's (`EUR = "Debtors EUR - TC"`).
    pub receivable_accounts: BTreeMap<String, String>,
    /// Order meta keys holding the buyer's VAT number (→ Customer `tax_id`), looked at before
    /// the keys of the common VAT plugins (`_billing_vat`, `_vat_number`, `vat_number`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vat_meta_keys: Vec<String>,
    /// The ERPNext Tax Category of an order WooCommerce taxed at zero for a buyer with a VAT
    /// number (zero-rated or reverse-charge B2B sales), set on its Sales Order and invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt_tax_category: Option<String>,
    /// ERPNext → WooCommerce stock (and prices): the `[catalogue]` table.
    #[serde(skip_serializing_if = "CatalogueSettings::is_default")]
    pub catalogue: CatalogueSettings,
}

/// Which of ERPNext's stock figures (a Bin's) the shop is offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StockFigure {
    /// `actual − reserved`: what is on the shelf and not promised to a submitted Sales Order.
    #[default]
    Available,
    /// `actual_qty`: what is on the shelf.
    Actual,
    /// `projected_qty`: actual − reserved + ordered from suppliers + planned + requested.
    Projected,
}

/// What the stock push offers the shop. Written in the mappings file as
/// `[catalogue]` with `warehouses = ["Stores - TC"]` and `stock_figure = "available"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueSettings {
    /// The warehouses whose stock the shop sells, summed; empty means the connection's default
    /// warehouse. A returns or quarantine warehouse is simply not listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warehouses: Vec<String>,
    pub stock_figure: StockFigure,
    /// Set when the file still has the `[catalogue.shop_units]` table of earlier versions: the
    /// unit the shop sells in is now each Item's Default Sales UOM, and validation says so.
    #[serde(rename = "shop_units", skip_serializing, deserialize_with = "present")]
    pub retired_shop_units: bool,
    /// A selling price list whose Item Prices, while valid, are the shop's sale prices (with
    /// the sale's dates); without it the price push leaves sale prices alone. Regular prices
    /// come from the connection's price list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_price_list: Option<String>,
    /// Whether the Item Prices of the connection's price lists include tax. When the store's
    /// "prices entered with tax" setting says otherwise, the price push adds or takes off
    /// `tax_rate`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub price_list_includes_tax: bool,
    /// The tax rate, in percent, between net and gross prices (e.g. `"19"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<Decimal>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

impl CatalogueSettings {
    fn is_default(&self) -> bool {
        *self == CatalogueSettings::default()
    }
}

impl Connection {
    /// The warehouses the stock push sums over.
    pub fn stock_warehouses(&self) -> Vec<String> {
        if self.mappings.catalogue.warehouses.is_empty() {
            vec![self.default_warehouse.clone()]
        } else {
            self.mappings.catalogue.warehouses.clone()
        }
    }
}

/// Tax rate ids are map keys, which TOML (and JSON) write as strings.
fn tax_rate_keys<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<u64, String>, D::Error> {
    let raw = BTreeMap::<String, String>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(rate, account)| {
            let id = rate.trim().parse::<u64>().map_err(|_| {
                serde::de::Error::custom(format!(
                    "tax_accounts: `{rate}` is not a WooCommerce tax rate id (a number, as in WooCommerce → Settings → Tax)"
                ))
            })?;
            Ok((id, account))
        })
        .collect()
}

/// A webhook secret shorter than this could be guessed.
pub const MIN_WEBHOOK_SECRET_CHARS: usize = 16;

pub const STATUS_ACTIONS: [&str; 3] = ["import", "cancel", "ignore"];

/// Every setting of a connection. `name` is the key people and the ERPNext
/// order key (`<name>:<order id>`) use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub name: String,
    pub woocommerce_url: Url,
    pub woocommerce_auth: WooAuth,
    pub erpnext_url: Url,
    pub credentials: Credentials,
    pub company: String,
    pub default_warehouse: String,
    pub naming_series: String,
    pub customer_group: String,
    pub territory: String,
    pub price_list: String,
    pub item_group: String,
    pub stock_uom: String,
    pub delivery_lead_days: u32,
    pub imported_statuses: Vec<String>,
    pub invoice_trigger: InvoiceTrigger,
    pub submit_invoices: bool,
    pub record_payments: bool,
    pub rounding_tolerance: Decimal,
    pub auto_create_items: bool,
    pub missing_sku: MissingSkuRule,
    pub default_tax_account: Option<String>,
    pub shipping_account: Option<String>,
    pub fee_account: Option<String>,
    pub rounding_account: Option<String>,
    pub mappings: Mappings,
}

/// WooCommerce's order statuses (without the `wc-` prefix).
pub const WOO_STATUSES: [&str; 9] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
    "trash",
];

/// A setting that is wrong: which one, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidSetting {
    pub field: String,
    pub problem: String,
}

fn invalid(field: &str, problem: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field: field.to_string(),
        problem: problem.into(),
    }
}

impl Connection {
    /// Checks every field; the first problem found is returned with advice.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.validate_identity()?;
        self.validate_settings()
    }

    /// The name and the credentials: what a new connection needs before its sites are asked.
    pub fn validate_identity(&self) -> Result<(), InvalidSetting> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(invalid(
                "--name",
                format!(
                    "`{}` is not a usable connection name; use 1-64 letters, digits, `-` or `_` (it becomes part of the ERPNext order key)",
                    self.name
                ),
            ));
        }
        for (field, value) in [
            ("--consumer-key", &self.credentials.consumer_key),
            ("--consumer-secret", &self.credentials.consumer_secret),
            ("--api-key", &self.credentials.api_key),
            ("--api-secret", &self.credentials.api_secret),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "is missing; give it a value"));
            }
        }
        if self.credentials.webhook_secret.chars().count() < MIN_WEBHOOK_SECRET_CHARS {
            return Err(invalid(
                "--webhook-secret",
                format!(
                    "is too short to be safe; use at least {MIN_WEBHOOK_SECRET_CHARS} characters, or leave it out and a strong one is made"
                ),
            ));
        }
        Ok(())
    }

    fn validate_settings(&self) -> Result<(), InvalidSetting> {
        for (field, value) in [
            ("--company", &self.company),
            ("--default-warehouse", &self.default_warehouse),
            ("--naming-series", &self.naming_series),
            ("--customer-group", &self.customer_group),
            ("--territory", &self.territory),
            ("--price-list", &self.price_list),
            ("--item-group", &self.item_group),
            ("--stock-uom", &self.stock_uom),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "is missing; give it a value"));
            }
        }
        if self.rounding_tolerance < Decimal::ZERO || self.rounding_tolerance > Decimal::ONE {
            return Err(invalid(
                "--rounding-tolerance",
                format!(
                    "{} is out of range; use an amount from 0 to 1 (default 0.01)",
                    self.rounding_tolerance
                ),
            ));
        }
        if self.delivery_lead_days > 365 {
            return Err(invalid(
                "--delivery-lead-days",
                format!(
                    "{} days is more than a year; use 0 to 365",
                    self.delivery_lead_days
                ),
            ));
        }
        if self.imported_statuses.is_empty() {
            return Err(invalid(
                "--import-statuses",
                "is empty; list at least one WooCommerce status, e.g. processing,completed",
            ));
        }
        for status in &self.imported_statuses {
            check_woo_status("--import-statuses", status)?;
        }
        for (status, action) in &self.mappings.status_from_woocommerce {
            check_woo_status("status_from_woocommerce", status)?;
            if !STATUS_ACTIONS.contains(&action.as_str()) {
                return Err(invalid(
                    "status_from_woocommerce",
                    format!(
                        "`{status}` maps to `{action}`; use one of {}",
                        STATUS_ACTIONS.join(", ")
                    ),
                ));
            }
        }
        for status in self.mappings.status_to_woocommerce.values() {
            check_woo_status("status_to_woocommerce", status)?;
        }
        for (currency, account) in &self.mappings.receivable_accounts {
            let code_ok = currency.len() == 3 && currency.chars().all(|c| c.is_ascii_uppercase());
            if !code_ok {
                return Err(invalid(
                    "receivable_accounts",
                    format!("`{currency}` is not a currency code; write it like EUR"),
                ));
            }
            if account.trim().is_empty() {
                return Err(invalid(
                    "receivable_accounts",
                    format!("{currency} names no account; write e.g. {currency}=Debtors {currency} - TC"),
                ));
            }
        }
        for (gateway, target) in &self.mappings.payment_methods {
            if target.mode_of_payment.trim().is_empty() {
                return Err(invalid(
                    "payment_methods",
                    format!("`{gateway}` names no mode_of_payment; write e.g. {gateway} = {{ mode_of_payment = \"Credit Card\" }}"),
                ));
            }
            if target
                .fee_account
                .as_deref()
                .is_some_and(|account| account.trim().is_empty())
            {
                return Err(invalid(
                    "payment_methods",
                    format!("`{gateway}` has an empty fee_account; name an expense account (e.g. \"Bank Charges - TC\") or leave it out"),
                ));
            }
        }
        if self
            .mappings
            .vat_meta_keys
            .iter()
            .any(|key| key.trim().is_empty())
        {
            return Err(invalid(
                "vat_meta_keys",
                "holds an empty key; list order meta keys, e.g. vat_meta_keys = [\"_billing_vat\"]",
            ));
        }
        if self
            .mappings
            .exempt_tax_category
            .as_deref()
            .is_some_and(|category| category.trim().is_empty())
        {
            return Err(invalid(
                "exempt_tax_category",
                "is empty; name an ERPNext Tax Category (e.g. \"Reverse Charge\") or leave it out",
            ));
        }
        let catalogue = &self.mappings.catalogue;
        if catalogue
            .warehouses
            .iter()
            .any(|warehouse| warehouse.trim().is_empty())
        {
            return Err(invalid(
                "catalogue.warehouses",
                "holds an empty name; list ERPNext warehouses, e.g. warehouses = [\"Stores - TC\"]",
            ));
        }
        if let Some(list) = &catalogue.sale_price_list {
            if list.trim().is_empty() || *list == self.price_list {
                return Err(invalid(
                    "catalogue.sale_price_list",
                    format!("`{list}` cannot hold the sale prices; name a selling price list other than the connection's ({}), or leave it out", self.price_list),
                ));
            }
        }
        if catalogue
            .tax_rate
            .is_some_and(|rate| rate <= Decimal::ZERO || rate >= Decimal::ONE_HUNDRED)
        {
            return Err(invalid(
                "catalogue.tax_rate",
                "must be a percentage above 0 and below 100, e.g. tax_rate = \"19\"",
            ));
        }
        if let MissingSkuRule::UseItem(code) = &self.missing_sku {
            if code.trim().is_empty() {
                return Err(invalid("--missing-sku", "item:CODE needs an item code"));
            }
        }
        Ok(())
    }

    /// A new connection with every setting at its default: what `connection add` and the
    /// web UI's new-connection form start from. Company and warehouse are left empty (the
    /// caller fills them, or validation names them).
    pub fn with_defaults(
        name: &str,
        woocommerce_url: Url,
        erpnext_url: Url,
        credentials: Credentials,
    ) -> Connection {
        Connection {
            name: name.to_string(),
            woocommerce_url,
            woocommerce_auth: WooAuth::Auto,
            erpnext_url,
            credentials,
            company: String::new(),
            default_warehouse: String::new(),
            naming_series: "SAL-ORD-.YYYY.-".into(),
            customer_group: "Individual".into(),
            territory: "All Territories".into(),
            price_list: "Standard Selling".into(),
            item_group: "Products".into(),
            stock_uom: "Nos".into(),
            delivery_lead_days: 3,
            imported_statuses: vec!["processing".into(), "on-hold".into(), "completed".into()],
            invoice_trigger: InvoiceTrigger::Paid,
            submit_invoices: true,
            record_payments: true,
            rounding_tolerance: Decimal::new(1, 2),
            auto_create_items: false,
            missing_sku: MissingSkuRule::Fail,
            default_tax_account: None,
            shipping_account: None,
            fee_account: None,
            rounding_account: None,
            mappings: Mappings::default(),
        }
    }

    /// The `(connection, order)` key written to ERPNext's unique custom field.
    pub fn order_key(&self, order_id: u64) -> String {
        format!("{}:{}", self.name, order_id)
    }
}

/// The settings with every credential masked: what `connection show` and the UI display.
pub fn masked_view(connection: &Connection) -> serde_json::Value {
    let mut value = serde_json::to_value(connection).unwrap_or_default();
    let credentials = &connection.credentials;
    let hidden = |secret: &str| if secret.is_empty() { "" } else { "***" };
    value["credentials"] = serde_json::json!({
        "consumer_key": mask(&credentials.consumer_key),
        "consumer_secret": hidden(&credentials.consumer_secret),
        "webhook_secret": hidden(&credentials.webhook_secret),
        "api_key": mask(&credentials.api_key),
        "api_secret": hidden(&credentials.api_secret),
    });
    value
}

fn check_woo_status(field: &str, status: &str) -> Result<(), InvalidSetting> {
    if WOO_STATUSES.contains(&status) {
        return Ok(());
    }
    Err(invalid(
        field,
        format!(
            "`{status}` is not a WooCommerce order status; use one of {}",
            WOO_STATUSES.join(", ")
        ),
    ))
}

/// Parses a store or site URL: absolute http(s), no query or fragment.
pub fn parse_site_url(field: &str, text: &str) -> Result<Url, InvalidSetting> {
    let url = Url::parse(text.trim()).map_err(|error| {
        invalid(
            field,
            format!("`{text}` is not a URL ({error}); write it like https://shop.example.com"),
        )
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid(
            field,
            format!(
                "`{text}` must start with https:// (or http:// for a store on a private network)"
            ),
        ));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            field,
            format!("`{text}` must be the site's base address, without query or fragment"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "must not carry credentials; give them with their own flags",
        ));
    }
    Ok(url)
}

/// Reads a mappings TOML file, naming the file and the problem when it is wrong.
pub fn parse_mappings_toml(text: &str) -> Result<Mappings, InvalidSetting> {
    let mappings: Mappings =
        toml::from_str(text).map_err(|error| invalid("--mappings", error.message().to_string()))?;
    if mappings.catalogue.retired_shop_units {
        return Err(invalid(
            "catalogue.shop_units",
            "is no longer read: the shop sells each item in its Default Sales UOM in ERPNext (Item → Sales Details), converted by the Item's UOM conversion row; set it there and remove this table",
        ));
    }
    Ok(mappings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mappings_file_with_an_unknown_key_is_refused_by_name() {
        let error = parse_mappings_toml("[tax_acounts]\n1 = \"ST 4% - TC\"\n").unwrap_err();
        assert!(error.problem.contains("tax_acounts"), "{error}");
        let good = parse_mappings_toml(
            "vat_meta_keys = [\"_my_vat\"]\nexempt_tax_category = \"Reverse Charge\"\n[tax_accounts]\n1 = \"ST 4% - TC\"\n[shipping_methods]\nflat_rate = { account = \"Freight - TC\" }\n[payment_methods]\nstripe = { mode_of_payment = \"Credit Card\", fee_account = \"Bank Charges - TC\" }\n",
        )
        .unwrap();
        assert_eq!(
            good.payment_methods["stripe"].fee_account.as_deref(),
            Some("Bank Charges - TC")
        );
        assert_eq!(good.tax_accounts[&1], "ST 4% - TC");
        assert_eq!(good.vat_meta_keys, vec!["_my_vat".to_string()]);
        assert_eq!(good.exempt_tax_category.as_deref(), Some("Reverse Charge"));
        let catalogue = parse_mappings_toml(
            "[catalogue]\nwarehouses = [\"Stores - TC\", \"Shop - TC\"]\nstock_figure = \"actual\"\n",
        )
        .unwrap()
        .catalogue;
        assert_eq!(catalogue.warehouses, vec!["Stores - TC", "Shop - TC"]);
        assert_eq!(catalogue.stock_figure, StockFigure::Actual);
        assert!(!catalogue.retired_shop_units);
        assert_eq!(
            (catalogue.price_list_includes_tax, catalogue.tax_rate),
            (false, None)
        );
        let taxed = parse_mappings_toml(
            "[catalogue]\nprice_list_includes_tax = true\ntax_rate = \"7.7\"\n",
        )
        .unwrap()
        .catalogue;
        assert_eq!(
            (taxed.price_list_includes_tax, taxed.tax_rate),
            (true, Some(Decimal::new(77, 1)))
        );
        let error = parse_mappings_toml("[catalogue.shop_units]\nSCREW = 1000\n").unwrap_err();
        assert!(error.problem.contains("Default Sales UOM"), "{error}");
        let error = parse_mappings_toml("[catalogue]\nstock_figure = \"free\"\n").unwrap_err();
        assert!(error.problem.contains("available"), "{error}");
        assert_eq!(
            good.shipping_methods["flat_rate"],
            ShippingTarget::Account("Freight - TC".into())
        );
    }

    #[test]
    fn site_urls_are_checked() {
        assert!(parse_site_url("--woocommerce-url", "https://shop.example.com").is_ok());
        let error = parse_site_url("--woocommerce-url", "shop.example.com").unwrap_err();
        assert!(
            error.problem.contains("https://shop.example.com"),
            "{error}"
        );
        assert!(parse_site_url("--erpnext-url", "ftp://erp.example.com").is_err());
        assert!(parse_site_url("--erpnext-url", "https://u:p@erp.example.com").is_err());
    }

    #[test]
    fn credentials_debug_is_masked() {
        let credentials = Credentials {
            consumer_key: "ck_1234567890abcdef".into(),
            consumer_secret: "cs_supersecret".into(),
            webhook_secret: "whsecret".into(),
            api_key: "abcdef123456".into(),
            api_secret: "apisecret".into(),
        };
        let shown = format!("{credentials:?}");
        for secret in [
            "cs_supersecret",
            "whsecret",
            "apisecret",
            "1234567890abcdef",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
