//! The mapping over every order of a real store: each imported order reconciles to the cent,
//! keeps its coupons, and each buyer is one customer.

mod mapping_support;

use std::collections::{BTreeMap, BTreeSet};

use mapping_support::{country_name, money, snapshot_order, snapshot_orders, test_site_rules};
use rust_decimal::Decimal;
use woocommerce_sync::sync::mapping::{
    action_for_status, is_paid, map_order, OrderAction, ROUNDING_ROW_DESCRIPTION,
};

#[test]
fn every_imported_order_reconciles_to_the_cent_and_keeps_its_coupons() {
    let rules = test_site_rules();
    let orders = snapshot_orders();
    assert_eq!(orders.len(), 109);
    let mut imported = 0;
    let mut with_coupons = 0;
    for order in &orders {
        if action_for_status(&order.status, &rules) != OrderAction::Import {
            continue;
        }
        imported += 1;
        let mapping = map_order(order, &rules, &country_name)
            .unwrap_or_else(|error| panic!("order {}: {error}", order.id));
        let draft = &mapping.sales_order;
        assert_eq!(
            draft.erpnext_grand_total(),
            order.total,
            "order {}",
            order.id
        );
        assert!(
            draft
                .taxes
                .iter()
                .all(|row| row.description != ROUNDING_ROW_DESCRIPTION),
            "order {} needed a rounding row; real orders must reconcile exactly",
            order.id
        );
        assert_eq!(
            draft.item_discount_total(),
            order.discount_total,
            "order {}",
            order.id
        );
        if !order.coupon_lines.is_empty() {
            with_coupons += 1;
            assert!(draft.item_discount_total() > Decimal::ZERO);
        }
        // taxes: one row per rate holding cart and shipping tax; then shipping and fees
        let tax_rows: Decimal = draft
            .taxes
            .iter()
            .filter(|row| row.account_head.starts_with("ST "))
            .map(|row| row.tax_amount)
            .sum();
        assert_eq!(tax_rows, order.total_tax, "order {}", order.id);
        let shipping_rows: Decimal = draft
            .taxes
            .iter()
            .filter(|row| row.account_head == "Freight and Forwarding Charges - TC")
            .map(|row| row.tax_amount)
            .sum();
        assert_eq!(shipping_rows, order.shipping_total, "order {}", order.id);
        // every line's quantity is carried over, whatever the split
        for line in &order.line_items {
            let code = line.sku.clone().unwrap();
            let qty: Decimal = draft
                .items
                .iter()
                .filter(|row| row.item_code == code)
                .map(|row| row.qty)
                .sum();
            let line_qty: Decimal = order
                .line_items
                .iter()
                .filter(|other| other.sku.as_deref() == Some(code.as_str()))
                .map(|other| other.quantity)
                .sum();
            assert_eq!(qty, line_qty, "order {} item {code}", order.id);
        }
        assert!(draft
            .items
            .iter()
            .all(|row| row.rate == row.rate.round_dp(2)));
        assert_eq!(draft.woocommerce_order_key, format!("shop:{}", order.id));
    }
    assert_eq!(imported, 81, "77 processing + 2 on-hold + 2 completed");
    assert!(
        with_coupons > 0,
        "the snapshot has coupon orders among the imported ones"
    );
}

#[test]
fn the_fee_order_books_its_fee_and_reconciles() {
    let rules = test_site_rules();
    let order = snapshot_order(21);
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let fee = mapping
        .sales_order
        .taxes
        .iter()
        .find(|row| row.account_head == "Miscellaneous Expenses - TC")
        .unwrap();
    assert_eq!(
        (fee.description.as_str(), fee.tax_amount),
        ("Handling", money("3.00"))
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("70.66"));
}

#[test]
fn one_customer_per_buyer() {
    let rules = test_site_rules();
    let orders = snapshot_orders();
    let mut keys_by_order = BTreeMap::new();
    for order in &orders {
        let mapping = map_order(order, &rules, &country_name);
        // the pending order with a deleted product cannot map under the default rule; its buyer still counts
        let mapping = match mapping {
            Ok(mapping) => mapping,
            Err(_) => {
                let mut lenient = rules.clone();
                lenient.missing_sku = woocommerce_sync::sync::mapping::MissingSkuRule::Synthesize;
                map_order(order, &lenient, &country_name).unwrap()
            }
        };
        keys_by_order.insert(order.id, mapping.customer.identity.clone());
    }
    let guest_keys: BTreeSet<&String> = orders
        .iter()
        .filter(|order| order.customer_id == 0)
        .map(|order| &keys_by_order[&order.id].key)
        .collect();
    let guest_orders = orders.iter().filter(|order| order.customer_id == 0).count();
    assert_eq!((guest_orders, guest_keys.len()), (107, 105));
    let all_keys: BTreeSet<&String> = keys_by_order
        .values()
        .map(|identity| &identity.key)
        .collect();
    assert_eq!(
        all_keys.len(),
        105,
        "Ada ordered with her account and once as a guest"
    );

    // Ada: account 2 (orders 17, 21) and a guest order (19) are one customer
    let ada: Vec<_> = [17, 19, 21].iter().map(|id| &keys_by_order[id]).collect();
    assert!(ada
        .iter()
        .all(|identity| identity.key == "email:ada@example.test"));
    assert_eq!(ada[0].woocommerce_customer_id, Some(2));
    assert_eq!(ada[1].woocommerce_customer_id, None);
    // the buyers who ordered three times
    let mut orders_per_key: BTreeMap<&String, usize> = BTreeMap::new();
    for identity in keys_by_order.values() {
        *orders_per_key.entry(&identity.key).or_default() += 1;
    }
    let thrice: Vec<&&String> = orders_per_key
        .iter()
        .filter(|(_, count)| **count == 3)
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        thrice,
        vec![
            &&"email:ada@example.test".to_string(),
            &&"email:grace@example.test".to_string()
        ]
    );
}

#[test]
fn customer_drafts_of_the_same_buyer_are_the_same_document() {
    let rules = test_site_rules();
    let orders = snapshot_orders();
    let grace: Vec<_> = orders
        .iter()
        .filter(|order| order.billing.email.as_deref() == Some("grace@example.test"))
        .map(|order| map_order(order, &rules, &country_name).unwrap())
        .collect();
    assert_eq!(grace.len(), 3);
    assert!(grace
        .iter()
        .all(|mapping| mapping.customer == grace[0].customer));
    assert_eq!(grace[0].customer.customer_name, "Grace Hopper");
    let body = serde_json::to_value(&grace[0].customer).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "customer_name": "Grace Hopper",
            "customer_type": "Individual",
            "customer_group": "Individual",
            "territory": "All Territories",
            "email_id": "grace@example.test",
            "mobile_no": grace[0].customer.mobile_no.clone().unwrap(),
            "woocommerce_customer_key": "email:grace@example.test",
        })
    );
}

#[test]
fn paid_means_a_payment_date_and_processing_or_completed() {
    let orders = snapshot_orders();
    let paid: BTreeSet<u64> = orders.iter().filter(|o| is_paid(o)).map(|o| o.id).collect();
    // 74 bacs + 1 unset + 1 cheque processing with a payment date, 2 completed with one
    assert_eq!(paid.len(), 78);
    // on-hold with a payment date (order 17) is not paid yet
    assert!(!paid.contains(&17));
    assert!(paid.contains(&21));
}
