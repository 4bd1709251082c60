//! The generated shop is deterministic, varied, and every order adds up the
//! way WooCommerce computes it.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use rust_decimal::Decimal;
use woocommerce_sync::simulators::woocommerce::{start, WooSimOptions};
use woocommerce_sync::woocommerce::types::Order;

async fn generated(orders: usize, seed: u64) -> Vec<serde_json::Value> {
    let handle = start(WooSimOptions {
        orders,
        seed_random: seed,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    handle.orders()
}

#[tokio::test]
async fn thousands_of_generated_orders_add_up_exactly() {
    let started = Instant::now();
    let values = generated(5_000, 7).await;
    let elapsed = started.elapsed();
    assert_eq!(values.len(), 5_000);
    assert!(elapsed.as_secs() < 60, "generation took {elapsed:?}");

    let mut statuses = BTreeSet::new();
    let (mut two_rates, mut shipping_tax, mut negative_fees, mut positive_fees) = (0, 0, 0, 0);
    let (mut percent, mut fixed, mut refunded, mut deleted_lines, mut free_shipping) =
        (0, 0, 0, 0, 0);
    let mut buyers: HashMap<String, usize> = HashMap::new();
    for value in &values {
        let order: Order = serde_json::from_value(value.clone()).unwrap();
        let lines: Decimal = order.line_items.iter().map(|line| line.total).sum();
        let fees: Decimal = order.fee_lines.iter().map(|fee| fee.total).sum();
        assert_eq!(
            lines + fees + order.shipping_total + order.total_tax,
            order.total,
            "order {}",
            order.id
        );
        let discount: Decimal = order
            .line_items
            .iter()
            .map(|line| line.subtotal - line.total)
            .sum();
        assert_eq!(discount, order.discount_total, "order {}", order.id);
        let rate_totals: Decimal = order
            .tax_lines
            .iter()
            .map(|tax| tax.tax_total + tax.shipping_tax_total)
            .sum();
        assert_eq!(rate_totals, order.total_tax, "order {}", order.id);
        assert_eq!(
            order.cart_tax + order.shipping_tax,
            order.total_tax,
            "order {}",
            order.id
        );
        for line in &order.line_items {
            let shares: Decimal = line.taxes.iter().map(|share| share.total).sum();
            assert_eq!(
                shares, line.total_tax,
                "order {} line {}",
                order.id, line.id
            );
            for share in &line.taxes {
                assert_eq!(share.total.round_dp(2), share.total);
            }
            if line.product_id == 0 {
                assert!(line.sku.is_none());
                deleted_lines += 1;
            }
        }
        if !order.coupon_lines.is_empty() {
            let coupon = &order.coupon_lines[0];
            assert_eq!(coupon.discount, order.discount_total);
            match coupon.discount_type.as_deref() {
                Some("percent") => percent += 1,
                Some("fixed_cart") => fixed += 1,
                other => panic!("coupon type {other:?}"),
            }
        }
        let refunds: Decimal = order.refunds.iter().map(|refund| refund.total).sum();
        assert!(-refunds <= order.total);
        if !order.refunds.is_empty() {
            refunded += 1;
        }
        if order.status == "refunded" {
            assert_eq!(-refunds, order.total, "order {}", order.id);
        }
        two_rates += usize::from(order.tax_lines.len() >= 2);
        shipping_tax += usize::from(order.shipping_tax > Decimal::ZERO);
        negative_fees += usize::from(order.fee_lines.iter().any(|fee| fee.total < Decimal::ZERO));
        positive_fees += usize::from(order.fee_lines.iter().any(|fee| fee.total > Decimal::ZERO));
        free_shipping += usize::from(
            order
                .shipping_lines
                .iter()
                .any(|line| line.method_id == "free_shipping"),
        );
        statuses.insert(order.status.clone());
        *buyers
            .entry(order.billing.email.clone().unwrap_or_default())
            .or_default() += 1;
    }
    for status in [
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
        "checkout-draft",
        "trash",
    ] {
        assert!(statuses.contains(status), "no {status} order");
    }
    assert!(
        two_rates > 100 && shipping_tax > 100,
        "{two_rates} {shipping_tax}"
    );
    assert!(negative_fees > 10 && positive_fees > 10);
    assert!(percent > 100 && fixed > 100);
    assert!(refunded > 50 && deleted_lines > 10 && free_shipping > 50);
    assert!(buyers.values().any(|count| *count >= 3), "no repeat buyers");
    let registered = values
        .iter()
        .filter(|order| order["customer_id"].as_u64() != Some(0))
        .count();
    assert!(registered > 1_000 && registered < 4_000, "{registered}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_shop_and_another_seed_does_not() {
    let first = generated(300, 42).await;
    let again = generated(300, 42).await;
    let other = generated(300, 43).await;
    let strip = |orders: &[serde_json::Value]| -> Vec<(String, String, String)> {
        orders
            .iter()
            .map(|order| {
                (
                    order["total"].to_string(),
                    order["status"].to_string(),
                    order["billing"]["email"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&first), strip(&again));
    assert_ne!(strip(&first), strip(&other));
}

#[tokio::test]
async fn the_bench_helper_lists_a_large_shop_through_the_client() {
    let (listed, elapsed) = woocommerce_sync::simulators::woocommerce::bench_list_orders(20_000)
        .await
        .unwrap();
    // `any` leaves out the ~1% of generated orders in the trash.
    assert!(listed > 19_500 && listed < 20_000, "{listed}");
    assert!(elapsed.as_secs() < 60, "listing took {elapsed:?}");
}
