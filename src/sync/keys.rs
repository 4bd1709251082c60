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

/// The key a WooCommerce order made for a Sales Order born in ERPNext carries in its meta
/// ([`SHOP_ORDER_META`]): `<connection>:<Sales Order>`.
pub fn shop_order(connection: &str, sales_order: &str) -> String {
    format!("{connection}:{sales_order}")
}

/// The meta key of [`shop_order`] on the WooCommerce order.
pub const SHOP_ORDER_META: &str = "erpnext_sales_order_key";

/// The Sales Order a WooCommerce order was made for, when its meta key is this connection's.
pub fn sales_order_of_shop_order<'k>(connection: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix(connection)?
        .strip_prefix(':')
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_name_the_connection_and_the_object() {
        assert_eq!(super::sales_order("shop", 17), "shop:17");
        assert_eq!(super::refund("shop", 26), "shop:refund:26");
        assert_eq!(super::cancellation("shop", 17), "shop:cancel:17");
        let key = super::shop_order("shop", "SAL-ORD-2026-00001");
        assert_eq!(
            super::sales_order_of_shop_order("shop", &key),
            Some("SAL-ORD-2026-00001")
        );
        assert_eq!(super::sales_order_of_shop_order("shop2", &key), None);
        assert_eq!(super::sales_order_of_shop_order("sho", &key), None);
    }
}
