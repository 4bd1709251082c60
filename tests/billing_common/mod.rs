//! What the billing tests read back from ERPNext: invoices, credit notes and payment entries per
//! WooCommerce order, through ERPNext's own API, and the checks every billing test makes.
#![allow(dead_code)]

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::Value;
use woocommerce_sync::erpnext::client::{ErpClient, ListQuery};
use woocommerce_sync::sync::mapping::is_paid;
use woocommerce_sync::woocommerce::types::{Order, Refund};

use crate::common::{fast_calls, World};

pub fn decimal(value: &Value) -> Decimal {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` is not a number"))
}

/// Every non-cancelled document of a connection's billing, read through ERPNext's API.
pub struct Ledger {
    /// Sales Invoices that are not returns, per order id.
    pub invoices: BTreeMap<u64, Vec<Value>>,
    /// Credit notes per `woocommerce_credit_note_key`.
    pub credit_notes: BTreeMap<String, Vec<Value>>,
    /// Payment Entries per `woocommerce_payment_key`.
    pub payments: BTreeMap<String, Vec<Value>>,
}

pub async fn ledger(world: &World) -> Ledger {
    let client: ErpClient = woocommerce_sync::sync::context::erpnext_client(
        &world.connection.connection,
        &fast_calls(),
    )
    .unwrap();
    let invoices: Vec<Value> = client
        .list(
            "Sales Invoice",
            &ListQuery::default()
                .fields(&[
                    "name",
                    "docstatus",
                    "is_return",
                    "return_against",
                    "woocommerce_order_id",
                    "woocommerce_invoice_key",
                    "woocommerce_credit_note_key",
                    "grand_total",
                    "outstanding_amount",
                ])
                .filter("docstatus", "<", 2)
                .all_rows(),
        )
        .await
        .unwrap();
    let mut ledger = Ledger {
        invoices: BTreeMap::new(),
        credit_notes: BTreeMap::new(),
        payments: BTreeMap::new(),
    };
    for invoice in invoices {
        if invoice["is_return"].as_i64() == Some(1) {
            let key = invoice["woocommerce_credit_note_key"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ledger.credit_notes.entry(key).or_default().push(invoice);
        } else if let Some(id) = invoice["woocommerce_order_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
        {
            ledger.invoices.entry(id).or_default().push(invoice);
        }
    }
    let payments: Vec<Value> = client
        .list(
            "Payment Entry",
            &ListQuery::default()
                .fields(&[
                    "name",
                    "docstatus",
                    "payment_type",
                    "paid_amount",
                    "reference_no",
                    "reference_date",
                    "mode_of_payment",
                    "woocommerce_payment_key",
                ])
                .filter("docstatus", "<", 2)
                .all_rows(),
        )
        .await
        .unwrap();
    for payment in payments {
        let key = payment["woocommerce_payment_key"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ledger.payments.entry(key).or_default().push(payment);
    }
    ledger
}

/// The shop's orders and their refunds, read from the simulator through the API.
pub async fn shop(world: &World) -> Vec<(Order, Vec<Refund>)> {
    let sync_ctx = world.context(4).await;
    let orders = sync_ctx
        .woo
        .list_all_orders(&Default::default())
        .await
        .unwrap();
    let mut shop = Vec::new();
    for order in orders {
        let refunds = if order.refunds.is_empty() {
            Vec::new()
        } else {
            sync_ctx.woo.list_refunds(order.id).await.unwrap()
        };
        shop.push((order, refunds));
    }
    shop
}

/// What the billing tests expect of every order: a paid order has one submitted invoice equal to
/// its total and one payment of it; every refund of an invoiced order one credit note of the
/// refunded amount, and one refund payment when the gateway sent the money back; nothing twice.
/// Returns the number of (invoices, payments, credit notes, refund payments) checked.
pub fn check_exactly_once(
    shop: &[(Order, Vec<Refund>)],
    ledger: &Ledger,
) -> (usize, usize, usize, usize) {
    let (mut invoices, mut payments, mut credit_notes, mut refund_payments) = (0, 0, 0, 0);
    for (order, refunds) in shop {
        let of_order = ledger.invoices.get(&order.id).cloned().unwrap_or_default();
        assert!(of_order.len() <= 1, "order {}: {of_order:#?}", order.id);
        let paid = is_paid(order);
        if paid {
            assert_eq!(of_order.len(), 1, "paid order {} has no invoice", order.id);
        }
        let Some(invoice) = of_order.first() else {
            continue;
        };
        invoices += 1;
        assert_eq!(invoice["docstatus"], 1, "{invoice}");
        assert_eq!(
            decimal(&invoice["grand_total"]),
            order.total,
            "order {}",
            order.id
        );
        let name = invoice["name"].as_str().unwrap();
        let key = format!("shop:{}", order.id);
        let order_payments = ledger.payments.get(&key).cloned().unwrap_or_default();
        if paid {
            assert_eq!(
                order_payments.len(),
                1,
                "order {}: {order_payments:#?}",
                order.id
            );
        }
        assert!(
            order_payments.len() <= 1,
            "order {}: {order_payments:#?}",
            order.id
        );
        let mut credited = Decimal::ZERO;
        for refund in refunds {
            let key = format!("shop:refund:{}", refund.id);
            let notes = ledger.credit_notes.get(&key).cloned().unwrap_or_default();
            assert_eq!(
                notes.len(),
                1,
                "refund {} of order {}: {notes:#?}",
                refund.id,
                order.id
            );
            credit_notes += 1;
            assert_eq!(notes[0]["docstatus"], 1);
            assert_eq!(notes[0]["return_against"], name);
            assert_eq!(
                decimal(&notes[0]["grand_total"]),
                -refund.amount,
                "refund {}",
                refund.id
            );
            credited += refund.amount;
            let refund_payment = ledger.payments.get(&key).cloned().unwrap_or_default();
            if refund.refunded_payment {
                assert_eq!(
                    refund_payment.len(),
                    1,
                    "refund {}: {refund_payment:#?}",
                    refund.id
                );
                assert_eq!(refund_payment[0]["payment_type"], "Pay");
                assert_eq!(decimal(&refund_payment[0]["paid_amount"]), refund.amount);
                // Paid back against the credit note, which it settles.
                assert_eq!(
                    decimal(&notes[0]["outstanding_amount"]),
                    Decimal::ZERO,
                    "refund {}",
                    refund.id
                );
                refund_payments += 1;
            } else {
                assert!(
                    refund_payment.is_empty(),
                    "refund {}: {refund_payment:#?}",
                    refund.id
                );
                // Not paid back through the gateway: the buyer's credit, on the credit note.
                assert_eq!(
                    decimal(&notes[0]["outstanding_amount"]),
                    -refund.amount,
                    "refund {}",
                    refund.id
                );
            }
        }
        // A cancelled order's reversal gives back what the refunds left.
        if let Some(reversals) = ledger
            .credit_notes
            .get(&format!("shop:cancel:{}", order.id))
        {
            assert_eq!(reversals.len(), 1, "order {}: {reversals:#?}", order.id);
            assert_eq!(reversals[0]["return_against"], name);
            credited -= decimal(&reversals[0]["grand_total"]);
            assert_eq!(credited, order.total, "order {} reversed in full", order.id);
        }
        if let Some(payment) = order_payments.first() {
            payments += 1;
            assert_eq!(payment["docstatus"], 1);
            assert_eq!(payment["payment_type"], "Receive");
            assert_eq!(
                decimal(&payment["paid_amount"]),
                order.total,
                "order {}",
                order.id
            );
            // Paid in full. Credit notes carry their own (negative) outstanding, as ERPNext 15 keeps
            // them (`update_outstanding_for_self`): the original stays settled.
            assert_eq!(
                decimal(&invoice["outstanding_amount"]),
                Decimal::ZERO,
                "order {}",
                order.id
            );
        }
    }
    (invoices, payments, credit_notes, refund_payments)
}
