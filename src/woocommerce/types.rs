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

/// A refund as `GET /orders/<id>/refunds` returns it: `amount` is positive here,
/// while the order's own `refunds[]` entry carries the negative total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: WooOrderId,
    #[serde(default)]
    pub date_created: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_created_gmt: Option<NaiveDateTime>,
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub refunded_by: u64,
    #[serde(default)]
    pub refunded_payment: bool,
    #[serde(default)]
    pub meta_data: Vec<MetaData>,
    /// Negative quantities and totals; `_refunded_item_id` meta names the order's line.
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub shipping_lines: Vec<ShippingLine>,
    #[serde(default)]
    pub tax_lines: Vec<TaxLine>,
    #[serde(default)]
    pub fee_lines: Vec<FeeLine>,
}

/// What `POST /orders/<id>/refunds` takes. `amount` is required by WooCommerce
/// even when line items are given (it does not sum them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRefund {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub reason: String,
    /// `true` asks the payment gateway to send the money back; bacs, cod and
    /// cheque cannot, so WooCommerce answers 500 unless this is `false`.
    pub api_refund: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<serde_json::Value>,
}

/// An order note; the list endpoint returns the newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderNote {
    pub id: u64,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub date_created: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_created_gmt: Option<NaiveDateTime>,
    pub note: String,
    /// `true` means WooCommerce e-mailed it to the buyer.
    #[serde(default)]
    pub customer_note: bool,
}

/// A product or a product variation (`type: "variation"`, with `parent_id`).
/// Prices are strings and may be `""` (a variable product has no own regular price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub product_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub parent_id: u64,
    #[serde(default, deserialize_with = "decimal")]
    pub price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub regular_price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub sale_price: Decimal,
    #[serde(default)]
    pub tax_class: String,
    /// `true`, `false`, or `"parent"` on a variation whose stock the parent manages.
    #[serde(default)]
    pub manage_stock: serde_json::Value,
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    #[serde(default)]
    pub stock_status: String,
    /// Variation ids of a variable product.
    #[serde(default)]
    pub variations: Vec<u64>,
}

/// One entry of a stock/price batch update for products or variations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StockPriceUpdate {
    pub id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_quantity: Option<i64>,
    /// WooCommerce needs `manage_stock` on for `stock_quantity` to mean anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_stock: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub regular_price: Option<Decimal>,
    /// `""` ends a sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_price: Option<String>,
    /// The sale's first and last moment in the store's time (`2026-12-01T00:00:00`); `""`
    /// removes the date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_on_sale_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_on_sale_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: u64,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub date_created_gmt: Option<NaiveDateTime>,
    #[serde(default)]
    pub date_modified_gmt: Option<NaiveDateTime>,
    #[serde(default)]
    pub billing: Address,
    #[serde(default)]
    pub shipping: Address,
}

/// A registered webhook. WooCommerce never returns the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    /// `active`, `paused` or `disabled` (after 7 failed deliveries in a row).
    pub status: String,
    pub topic: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub event: String,
    pub delivery_url: String,
    #[serde(default)]
    pub date_created_gmt: Option<NaiveDateTime>,
}

/// What `POST /webhooks` takes.
#[derive(Clone, PartialEq, Serialize)]
pub struct NewWebhook {
    pub name: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub status: String,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewWebhook")
            .field("name", &self.name)
            .field("topic", &self.topic)
            .field("delivery_url", &self.delivery_url)
            .field("secret", &"<redacted>")
            .field("status", &self.status)
            .finish()
    }
}

/// WordPress's error body: `{"code", "message", "data"}`. `data` is usually
/// `{"status": N, ...}` but refund errors send a bare integer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// `{"create": [...], "update": [...], "delete": [...]}`; failed entries come back
/// in place as `{"id", "error": {...}}` with HTTP 200, so they are kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchResponse {
    pub create: Vec<serde_json::Value>,
    pub update: Vec<serde_json::Value>,
    pub delete: Vec<serde_json::Value>,
}

impl BatchResponse {
    /// The entries WooCommerce refused, with their error bodies.
    pub fn failures(&self) -> Vec<(u64, ErrorBody)> {
        self.create
            .iter()
            .chain(&self.update)
            .chain(&self.delete)
            .filter_map(|entry| {
                let error: ErrorBody = serde_json::from_value(entry.get("error")?.clone()).ok()?;
                let id = entry
                    .get("id")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                Some((id, error))
            })
            .collect()
    }
}

/// A tax rate of the store (WooCommerce → Settings → Tax), `GET /taxes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxRateInfo {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    /// Percent, sent as a string (`"8.8750"`).
    #[serde(deserialize_with = "decimal")]
    pub rate: Decimal,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub state: String,
    /// `standard` or a class slug (`reduced-rate`).
    #[serde(default)]
    pub class: String,
}

/// A shipping method the store knows (`GET /shipping_methods`): `flat_rate`, `free_shipping`, …
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingMethodInfo {
    pub id: String,
    #[serde(default)]
    pub title: String,
}

/// A payment gateway installed in the store (`GET /payment_gateways`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentGatewayInfo {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub enabled: bool,
}

/// An order status with how many orders have it (`GET /reports/orders/totals`); the one REST
/// listing of statuses, custom ones included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStatusTotal {
    pub slug: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub total: u64,
}
