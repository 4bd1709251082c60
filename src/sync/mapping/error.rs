//! Why an order could not be mapped, said so that the operator knows what to fix.

use rust_decimal::Decimal;
use thiserror::Error;

use crate::woocommerce::types::WooOrderId;

/// A WooCommerce order that cannot become a correct Sales Order. Each message names the order,
/// what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MappingError {
    #[error("order {order_id}: line {line_id} (\"{line_name}\", product {product_id}, variation {variation_id}) has no SKU, so it matches no ERPNext item; give the product a SKU in WooCommerce, or set the connection's missing-SKU rule to a generic item or to synthesised codes")]
    LineWithoutSku {
        order_id: WooOrderId,
        line_id: u64,
        line_name: String,
        product_id: u64,
        variation_id: u64,
    },

    #[error("order {order_id}: tax rate {rate_id} (\"{label}\", {rate_code}) has no ERPNext account; map the rate to a Tax account in the connection's settings, or set an account for tax rates not mapped")]
    UnmappedTaxRate {
        order_id: WooOrderId,
        rate_id: u64,
        label: String,
        rate_code: String,
    },

    #[error("order {order_id}: shipping method `{method_id}` (\"{method_title}\") has no ERPNext account or item; map the method or set a default shipping account")]
    UnmappedShippingMethod {
        order_id: WooOrderId,
        method_id: String,
        method_title: String,
    },

    #[error("order {order_id}: fee \"{fee_name}\" ({amount}) needs an ERPNext account; set the connection's fee account")]
    NoFeeAccount {
        order_id: WooOrderId,
        fee_name: String,
        amount: Decimal,
    },

    #[error("order {order_id} is in {currency}, but the connection names no receivable account for {currency} (ERPNext books a customer's invoices on a receivable account in the invoice's currency, and the company's is in {company_currency}); add one to the connection's receivable accounts, or let setup create it")]
    NoReceivableAccount {
        order_id: WooOrderId,
        currency: String,
        company_currency: String,
    },

    #[error("order {order_id}: ERPNext would total {erpnext_total} but WooCommerce says {woocommerce_total}; the difference {difference} is within the tolerance but no rounding account is set; set the connection's rounding account")]
    NoRoundingAccount {
        order_id: WooOrderId,
        erpnext_total: Decimal,
        woocommerce_total: Decimal,
        difference: Decimal,
    },

    #[error("order {order_id}: ERPNext would total {erpnext_total} but WooCommerce says {woocommerce_total} (difference {difference} exceeds the tolerance {tolerance}); check the order's lines and taxes in WooCommerce, or raise the connection's rounding tolerance if the difference is rounding")]
    TotalsDoNotReconcile {
        order_id: WooOrderId,
        erpnext_total: Decimal,
        woocommerce_total: Decimal,
        difference: Decimal,
        tolerance: Decimal,
    },

    #[error("order {order_id}: the {address_type} address has country code `{country_code}`, which matches no ERPNext Country; fix the address in WooCommerce or add the country in ERPNext")]
    UnknownCountry {
        order_id: WooOrderId,
        address_type: &'static str,
        country_code: String,
    },

    #[error("order {order_id}: has no creation date, so it has no transaction date; re-read the order from WooCommerce")]
    MissingOrderDate { order_id: WooOrderId },

    #[error("order {order_id}: WooCommerce's total {woocommerce_total} has more decimals than the {places} ERPNext keeps for {currency}; set the connection's precision for {currency} to the store's decimals")]
    TotalFinerThanCurrency {
        order_id: WooOrderId,
        woocommerce_total: Decimal,
        currency: String,
        places: u32,
    },

    #[error("order {order_id}: has no line items, and ERPNext refuses a Sales Order without items; add a line in WooCommerce or leave the order out")]
    NoLineItems { order_id: WooOrderId },

    #[error("order {order_id}: meta `{meta_key}` holds {value}, which is not a usable exchange rate; correct or remove the meta entry")]
    InvalidExchangeRate {
        order_id: WooOrderId,
        meta_key: String,
        value: String,
    },

    #[error("order {order_id}: is in {currency} but the company's currency is {company_currency}, and neither the order nor ERPNext gives an exchange rate; create a Currency Exchange record {currency} → {company_currency} in ERPNext")]
    MissingExchangeRate {
        order_id: WooOrderId,
        currency: String,
        company_currency: String,
    },

    #[error("order {order_id}: ERPNext has no item {missing}; create them in ERPNext (or give the WooCommerce products the SKUs of existing items){hint}", missing = .item_codes.join(", "), hint = missing_items_hint(.auto_create_off))]
    MissingItems {
        order_id: WooOrderId,
        item_codes: Vec<String>,
        /// True when auto-create was off; false when the codes are ones that are never created
        /// (the generic item, a shipping item).
        auto_create_off: bool,
    },
}

fn missing_items_hint(auto_create_off: &bool) -> &'static str {
    if *auto_create_off {
        ", or turn on the connection's item auto-create"
    } else {
        ""
    }
}
