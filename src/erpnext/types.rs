//! ERPNext wire types for the documents the product reads. Amounts and
//! quantities arrive as JSON floats and are read exactly into `Decimal`;
//! check fields are `0`/`1`. Fields not listed here are ignored.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::money::decimal;

/// A document's `docstatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "i64")]
pub enum DocStatus {
    Draft,
    Submitted,
    Cancelled,
}

impl TryFrom<i64> for DocStatus {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(DocStatus::Draft),
            1 => Ok(DocStatus::Submitted),
            2 => Ok(DocStatus::Cancelled),
            other => Err(format!("docstatus {other} is not 0, 1 or 2")),
        }
    }
}

impl DocStatus {
    /// The number ERPNext stores and filters by.
    pub const fn number(self) -> i64 {
        match self {
            DocStatus::Draft => 0,
            DocStatus::Submitted => 1,
            DocStatus::Cancelled => 2,
        }
    }
}

/// A document the sync made under a unique key, as a look-up or an insert answers it: the few
/// fields the sync checks (the total it must match), not the whole document.
#[derive(Debug, Clone, Deserialize)]
pub struct Keyed {
    pub name: String,
    pub docstatus: DocStatus,
    #[serde(default, deserialize_with = "crate::money::optional_decimal")]
    pub grand_total: Option<Decimal>,
    #[serde(default, deserialize_with = "crate::money::optional_decimal")]
    pub paid_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "crate::money::optional_decimal")]
    pub outstanding_amount: Option<Decimal>,
}

/// The name of a document ERPNext answered with, when nothing else of it is needed.
#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SalesOrder {
    pub name: String,
    pub docstatus: DocStatus,
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
    /// The connection the order belongs to (set by the sync, or by a user for an order born in
    /// ERPNext).
    #[serde(default)]
    pub woocommerce_store: Option<String>,
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
    pub docstatus: DocStatus,
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
    pub docstatus: DocStatus,
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

/// A document ERPNext mapped for us (`make_sales_invoice`, `get_payment_entry`) that goes back
/// to it with a few top-level fields read or set. Each field is kept as ERPNext wrote it: the rows
/// inside (items, taxes, references) are neither parsed into values nor written out again, which
/// was a fifth of the sync's CPU when the whole document was a `serde_json::Value`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct MappedDoc(BTreeMap<String, Box<RawValue>>);

impl MappedDoc {
    /// The field read as `T`; `None` when absent, or not a `T`.
    pub fn get<T: DeserializeOwned>(&self, field: &str) -> Option<T> {
        serde_json::from_str(self.0.get(field)?.get()).ok()
    }

    /// Sets the field (replacing what ERPNext mapped).
    pub fn set(&mut self, field: &str, value: impl Serialize) {
        // A value that cannot be encoded as JSON (a map with non-string keys) is a bug here.
        let raw = serde_json::value::to_raw_value(&value).expect("a JSON value");
        self.0.insert(field.to_string(), raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn reads_a_recorded_sales_order_exactly() {
        let text = include_str!("../../tests/fixtures/erpnext/24-get-sales-order-draft.json");
        let exchange: serde_json::Value = serde_json::from_str(text).unwrap();
        let order: SalesOrder =
            serde_json::from_value(exchange["response"]["body"]["data"].clone()).unwrap();
        assert_eq!(order.name, "SAL-ORD-2026-00001");
        assert_eq!(order.docstatus, DocStatus::Draft);
        assert_eq!(order.grand_total.to_string(), "110");
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[1].rate.to_string(), "12.5");
    }

    #[test]
    fn fields_set_replace_the_mapped_ones_and_the_rest_goes_back_byte_for_byte() {
        let answer = r#"{"doctype":"Payment Entry","paid_amount":55.00000000000001,"references":[{"reference_name":"ACC-SINV-1","outstanding_amount":55.0}],"mode_of_payment":null}"#;
        let mut entry: MappedDoc = serde_json::from_str(answer).unwrap();
        assert_eq!(
            entry.get::<String>("doctype").as_deref(),
            Some("Payment Entry")
        );
        assert_eq!(entry.get::<String>("mode_of_payment"), None);
        assert_eq!(entry.get::<String>("missing"), None);
        let references: Value = entry.get("references").unwrap();
        assert_eq!(references[0]["outstanding_amount"], json!(55.0));
        entry.set("mode_of_payment", "Stripe");
        entry.set("docstatus", 1);
        let sent = serde_json::to_string(&entry).unwrap();
        // Python's float and the rows are sent back as ERPNext wrote them.
        assert!(
            sent.contains(r#""paid_amount":55.00000000000001"#),
            "{sent}"
        );
        assert!(
            sent.contains(
                r#""references":[{"reference_name":"ACC-SINV-1","outstanding_amount":55.0}]"#
            ),
            "{sent}"
        );
        let sent: Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["mode_of_payment"], json!("Stripe"));
        assert_eq!(sent["docstatus"], json!(1));
    }
}
