//! Gateway fees on the simulators: paid orders of the real store snapshot, made card payments
//! with the fee the Stripe plugin records. The Payment Entry receives the net amount, allocates
//! the invoice in full and deducts the fee on the mapped fee account; a fee that cannot be booked
//! as it stands leaves the payment gross and says why in the sync log. The same flow runs
//! against the real systems in `tests/real_sync.rs`.

mod real_pair;

use real_pair::sides::{decimal, Accounts, Side};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use woocommerce_sync::store::LogFilter;

/// Paid USD orders of the snapshot without refunds, as the real store served them.
fn paid_orders(count: usize) -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/woocommerce-real/store-snapshot/orders.json"
    ))
    .unwrap();
    let orders: Vec<Value> = serde_json::from_str(&text).unwrap();
    orders
        .into_iter()
        .filter(|order| {
            ["processing", "completed"].contains(&order["status"].as_str().unwrap_or_default())
                && !order["date_paid"].is_null()
                && order["currency"] == "USD"
                && order["refunds"].as_array().map_or(true, Vec::is_empty)
        })
        .take(count)
        .collect()
}

fn paid_by_stripe(mut order: Value, meta: Value) -> Value {
    order["payment_method"] = json!("stripe");
    order["payment_method_title"] = json!("Credit card (Stripe)");
    order["transaction_id"] = json!(format!("ch_{}", order["id"]));
    let mut entries = order["meta_data"].as_array().cloned().unwrap_or_default();
    entries.extend(meta.as_array().cloned().unwrap_or_default());
    order["meta_data"] = Value::Array(entries);
    order
}

#[tokio::test]
async fn a_gateway_fee_is_deducted_and_an_unusable_one_leaves_the_payment_gross() {
    let picked = paid_orders(3);
    let orders: Vec<(Value, Vec<Value>)> = vec![
        paid_by_stripe(
            picked[0].clone(),
            json!([{"key": "_stripe_fee", "value": "1.13"}, {"key": "_stripe_net", "value": "x"},
                   {"key": "_stripe_currency", "value": "USD"}]),
        ),
        // Settled in another currency: not the order's amount, not deducted.
        paid_by_stripe(
            picked[1].clone(),
            json!([{"key": "_stripe_fee", "value": "0.90"}, {"key": "_stripe_currency", "value": "EUR"}]),
        ),
        // No fee recorded.
        paid_by_stripe(picked[2].clone(), json!([])),
    ]
    .into_iter()
    .map(|order| (order, Vec::new()))
    .collect();
    let ids: Vec<u64> = orders
        .iter()
        .map(|(order, _)| order["id"].as_u64().unwrap())
        .collect();
    let side = Side::simulated("fees", &orders, &Accounts::new()).await;
    let observed = side.sync_and_observe(&ids).await;
    let payment_of = |index: usize| -> Value {
        let seen = observed
            .iter()
            .find(|seen| seen.order_id == ids[index])
            .unwrap_or_else(|| panic!("order {} not observed", ids[index]));
        let documents = &seen.documents;
        assert!(seen.billing_failures.is_empty(), "{seen:#?}");
        let invoice = documents
            .iter()
            .find(|document| document["doctype"] == "Sales Invoice")
            .unwrap_or_else(|| panic!("no invoice: {documents:#?}"));
        assert_eq!(
            (&invoice["status"], &invoice["outstanding_amount"]),
            (&json!("Paid"), &json!("0")),
            "{invoice:#}"
        );
        documents
            .iter()
            .find(|document| document["doctype"] == "Payment Entry")
            .cloned()
            .unwrap_or_else(|| panic!("no payment: {documents:#?}"))
    };
    let total = |index: usize| decimal(&orders[index].0["total"]);

    let with_fee = payment_of(0);
    let net = (total(0) - Decimal::new(113, 2)).normalize().to_string();
    assert_eq!(
        (&with_fee["paid_amount"], &with_fee["received_amount"]),
        (&json!(net), &json!(net))
    );
    assert_eq!(
        with_fee["references"][0]["allocated_amount"],
        json!(total(0).normalize().to_string())
    );
    assert_eq!(
        with_fee["deductions"],
        json!([{"account": "<fee>", "cost_center": "Main - TC", "amount": "1.13"}])
    );
    assert_eq!(with_fee["mode_of_payment"], "Credit Card");

    for index in [1, 2] {
        let gross = payment_of(index);
        assert_eq!(gross["deductions"], json!([]), "{gross:#}");
        assert_eq!(
            gross["paid_amount"],
            json!(total(index).normalize().to_string())
        );
    }
    let log = side
        .store
        .query_log(&LogFilter {
            order_id: Some(ids[1].to_string()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    let skipped = log
        .iter()
        .find(|record| record.entry.action == "deduct_gateway_fee")
        .unwrap_or_else(|| panic!("the log says why the fee was not deducted: {log:#?}"));
    assert!(
        skipped.entry.message.contains("EUR") && skipped.entry.message.contains("gross"),
        "{}",
        skipped.entry.message
    );
    let quiet = side
        .store
        .query_log(&LogFilter {
            order_id: Some(ids[2].to_string()),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert!(!quiet
        .iter()
        .any(|record| record.entry.action == "deduct_gateway_fee"));

    // Again: nothing new, the fee is not deducted twice.
    let again = side.sync_and_observe(&ids).await;
    let documents = |seen: &[real_pair::sides::Observed]| -> Vec<Vec<Value>> {
        seen.iter().map(|order| order.documents.clone()).collect()
    };
    assert_eq!(documents(&again), documents(&observed));
    assert!(again.iter().all(|order| order.outcome == "unchanged"));
}
