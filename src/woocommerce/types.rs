//! WooCommerce REST v3 wire types, as a real store sends them.
//!
//! Unknown fields are ignored; money strings become exact decimals; the few
//! money values WooCommerce sends as JSON numbers (`price`, `rate_percent`,
//! `nominal_amount`) go through the same exact path (see `crate::money`).
//! Dates come as `YYYY-MM-DDTHH:MM:SS` without offset: `date_x` in the store's
//! time zone, `date_x_gmt` in UTC.

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{decimal, optional_decimal};

/// A WooCommerce order id. Orders and refunds share one id sequence.
pub type WooOrderId = u64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: WooOrderId,
    #[serde(default)]
    pub parent_id: u64,
    /// The order number shown to the buyer; a string because plugins rewrite it.
    #[serde(default)]
    pub number: String,
    pub status: String,
    pub currency: String,
    #[serde(default)]
    pub prices_include_tax: bool,
    pub date_created: Option<NaiveDateTime>,
    pub date_created_gmt: Option<NaiveDateTime>,
    pub date_modified: Option<NaiveDateTime>,
    pub date_modified_gmt: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_paid: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_paid_gmt: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_completed_gmt: Option<NaiveDateTime>,
    #[serde(deserialize_with = "decimal")]
    pub discount_total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub discount_tax: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub shipping_total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub shipping_tax: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub cart_tax: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    #[serde(default)]
    pub customer_id: u64,
    #[serde(default)]
    pub order_key: String,
    pub billing: Address,
    pub shipping: Address,
    #[serde(default)]
    pub payment_method: String,
    #[serde(default)]
    pub payment_method_title: String,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub created_via: String,
    #[serde(default)]
    pub customer_note: String,
    #[serde(default)]
    pub meta_data: Vec<MetaData>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
    #[serde(default)]
    pub shipping_lines: Vec<ShippingLine>,
    #[serde(default)]
    pub fee_lines: Vec<FeeLine>,
    #[serde(default)]
    pub coupon_lines: Vec<CouponLine>,
    #[serde(default)]
    pub refunds: Vec<OrderRefundSummary>,
}

impl Order {
    /// The value of the first meta entry with this key, as WooCommerce's `get_meta` returns it.
    pub fn meta(&self, key: &str) -> Option<&serde_json::Value> {
        self.meta_data
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value)
    }
}

/// A billing or shipping address. Shipping addresses carry no email.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    /// ISO 3166-1 alpha-2 code, e.g. `US`.
    pub country: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaData {
    #[serde(default)]
    pub id: Option<u64>,
    pub key: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    /// 0 when the product was deleted after the order was placed.
    #[serde(default)]
    pub product_id: u64,
    #[serde(default)]
    pub variation_id: u64,
    #[serde(deserialize_with = "decimal")]
    pub quantity: Decimal,
    #[serde(default)]
    pub tax_class: String,
    /// Before coupons (a sale price is already in it).
    #[serde(deserialize_with = "decimal")]
    pub subtotal: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub subtotal_tax: Decimal,
    /// After coupons.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    #[serde(default)]
    pub taxes: Vec<TaxShare>,
    #[serde(default)]
    pub meta_data: Vec<MetaData>,
    /// `null` for a line whose product is gone; `""` for a product without SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// `total ÷ quantity`, sent as a JSON number.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub price: Option<Decimal>,
    #[serde(default)]
    pub parent_name: Option<String>,
}

/// One tax rate's share of a line: `id` is the tax rate id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxShare {
    pub id: u64,
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub subtotal: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxLine {
    pub id: u64,
    #[serde(default)]
    pub rate_code: String,
    pub rate_id: u64,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub compound: bool,
    #[serde(deserialize_with = "decimal")]
    pub tax_total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub shipping_tax_total: Decimal,
    #[serde(default, deserialize_with = "optional_decimal")]
    pub rate_percent: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingLine {
    pub id: u64,
    #[serde(default)]
    pub method_title: String,
    #[serde(default)]
    pub method_id: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    #[serde(default)]
    pub taxes: Vec<TaxShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeLine {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tax_class: String,
    #[serde(default)]
    pub tax_status: String,
    /// Negative for a discount given as a fee.
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub total_tax: Decimal,
    #[serde(default)]
    pub taxes: Vec<TaxShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouponLine {
    pub id: u64,
    pub code: String,
    #[serde(deserialize_with = "decimal")]
    pub discount: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub discount_tax: Decimal,
    #[serde(default)]
    pub discount_type: Option<String>,
    #[serde(default, deserialize_with = "optional_decimal")]
    pub nominal_amount: Option<Decimal>,
}

/// An entry of an order's `refunds`: the total is a negative string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRefundSummary {
    pub id: u64,
    #[serde(default)]
    pub reason: String,
    #[serde(deserialize_with = "decimal")]
    pub total: Decimal,
}
