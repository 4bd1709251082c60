//! ERPNext wire types for the documents the product reads. Amounts and
//! quantities arrive as JSON floats and are read exactly into `Decimal`;
//! check fields are `0`/`1`. Fields not listed here are ignored.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::money::decimal;

/// `docstatus`: 0 draft, 1 submitted, 2 cancelled.
pub const DRAFT: i64 = 0;
pub const SUBMITTED: i64 = 1;
pub const CANCELLED: i64 = 2;

/// The name of a document ERPNext answered with, when nothing else of it is needed.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SalesOrder {
    pub name: String,
    pub docstatus: i64,
    #[serde(default)]
    pub status: String,
    pub customer: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub transaction_date: Option<String>,
    #[serde(deserialize_with = "decimal")]
    pub grand_total: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub rounded_total: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub per_billed: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub per_delivered: Decimal,
    #[serde(default)]
    pub modified: String,
    #[serde(default)]
    pub woocommerce_order_key: Option<String>,
    #[serde(default)]
    pub items: Vec<SalesOrderItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SalesOrderItem {
    #[serde(default)]
    pub name: String,
    pub item_code: String,
    #[serde(deserialize_with = "decimal")]
    pub qty: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub rate: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SalesInvoice {
    pub name: String,
    pub docstatus: i64,
    #[serde(default)]
    pub status: String,
    pub customer: String,
    #[serde(default)]
    pub is_return: i64,
    #[serde(default)]
    pub return_against: Option<String>,
    #[serde(deserialize_with = "decimal")]
    pub grand_total: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub rounded_total: Decimal,
    #[serde(deserialize_with = "decimal")]
    pub outstanding_amount: Decimal,
    #[serde(default)]
    pub woocommerce_invoice_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentEntry {
    pub name: String,
    pub docstatus: i64,
    #[serde(default)]
    pub payment_type: String,
    #[serde(default)]
    pub party: String,
    #[serde(deserialize_with = "decimal")]
    pub paid_amount: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pub unallocated_amount: Decimal,
    #[serde(default)]
    pub woocommerce_payment_key: Option<String>,
    #[serde(default)]
    pub references: Vec<PaymentEntryReference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentEntryReference {
    pub reference_doctype: String,
    pub reference_name: String,
    #[serde(deserialize_with = "decimal")]
    pub allocated_amount: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_recorded_sales_order_exactly() {
        let text = include_str!("../../tests/fixtures/erpnext/24-get-sales-order-draft.json");
        let exchange: serde_json::Value = serde_json::from_str(text).unwrap();
        let order: SalesOrder =
            serde_json::from_value(exchange["response"]["body"]["data"].clone()).unwrap();
        assert_eq!(order.name, "SAL-ORD-2026-00001");
        assert_eq!(order.docstatus, DRAFT);
        assert_eq!(order.grand_total.to_string(), "110");
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[1].rate.to_string(), "12.5");
    }
}
