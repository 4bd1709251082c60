//! The keys ERPNext holds in its unique, no-copy custom fields: one per document the sync makes,
//! so that whatever happens (lost answers, crashes, two syncs at once) a second one is refused and
//! the first is found. Each key is built here and nowhere else.

/// `woocommerce_order_key` of the Sales Order: `<connection>:<order id>`.
pub fn sales_order(connection: &str, order_id: u64) -> String {
    format!("{connection}:{order_id}")
}

/// `woocommerce_invoice_key` of the order's Sales Invoice.
pub fn invoice(connection: &str, order_id: u64) -> String {
    format!("{connection}:{order_id}")
}

/// `woocommerce_payment_key` of the Payment Entry that pays the order.
pub fn payment(connection: &str, order_id: u64) -> String {
    format!("{connection}:{order_id}")
}

/// `woocommerce_credit_note_key` of a refund's credit note, and `woocommerce_payment_key` of the
/// refund's payment (different doctypes, so one key serves both).
pub fn refund(connection: &str, refund_id: u64) -> String {
    format!("{connection}:refund:{refund_id}")
}

/// `woocommerce_credit_note_key` of the credit note that reverses a cancelled, invoiced order.
pub fn cancellation(connection: &str, order_id: u64) -> String {
    format!("{connection}:cancel:{order_id}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_name_the_connection_and_the_object() {
        assert_eq!(super::sales_order("shop", 17), "shop:17");
        assert_eq!(super::refund("shop", 26), "shop:refund:26");
        assert_eq!(super::cancellation("shop", 17), "shop:cancel:17");
    }
}
