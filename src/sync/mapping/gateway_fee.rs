//! The fee a payment gateway kept of an order's payment, read from what its WooCommerce plugin
//! recorded on the order, and how the Payment Entry books it.
//!
//! A card payment of 100 with a fee of 3 puts 97 in the bank. The Payment Entry then says
//! `paid_amount = received_amount = 97`, allocates the full 100 to the invoice, and books the 3
//! as a deduction row on the connection's fee account (docs/research/erpnext-findings.md §9), so
//! the bank matches and the invoice is fully paid.
//!
//! Where the plugins keep the fee (their sources):
//!
//! | gateway | meta key | shape |
//! | --- | --- | --- |
//! | WooCommerce Stripe Gateway | `_stripe_fee` (older: `Stripe Fee`), currency `_stripe_currency` | `"2.93"` |
//! | WooCommerce PayPal Payments | `_ppcp_paypal_fees` | `{"paypal_fee": {"value": "3.20", "currency_code": "USD"}, …}` |
//! | PayPal Standard (WooCommerce core) | `PayPal Transaction Fee` | `"3.20"` |
//!
//! Refunds return none of the fee: Stripe keeps the fee of a refunded charge, and PayPal keeps
//! the fixed part and, in most countries, all of it. What PayPal does return is credited to the
//! balance separately and is not booked by the sync (README, "Gateway fees").

use rust_decimal::Decimal;
use serde_json::Value;

use crate::money::parse_decimal;
use crate::woocommerce::types::Order;

/// What to do with the gateway's fee on an order's Payment Entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayFee {
    /// The order carries no fee (bank transfer, cash, a gateway that records none).
    None,
    /// Deduct this amount (in the company's currency, which is the order's).
    Deduct {
        amount: Decimal,
        source: &'static str,
    },
    /// A fee is recorded but cannot be booked as it stands; the payment is booked gross.
    Unusable(String),
}

/// The fee recorded on `order`, checked against the amount the payment settles (`paid`, in the
/// order's currency) and the company's currency (a deduction row is in the company's currency).
pub fn gateway_fee(order: &Order, paid: Decimal, company_currency: &str) -> GatewayFee {
    let Some((amount, currency, source)) = recorded_fee(order) else {
        return GatewayFee::None;
    };
    let amount = match amount {
        Ok(amount) => amount,
        Err(text) => {
            return GatewayFee::Unusable(format!(
                "the gateway fee `{text}` in `{source}` is not an amount"
            ))
        }
    };
    if amount.is_zero() {
        return GatewayFee::None;
    }
    if let Some(currency) =
        currency.filter(|currency| !currency.eq_ignore_ascii_case(&order.currency))
    {
        return GatewayFee::Unusable(format!(
            "the gateway fee is in {currency}, the order in {}",
            order.currency
        ));
    }
    if !order.currency.eq_ignore_ascii_case(company_currency) {
        return GatewayFee::Unusable(format!(
            "the order is in {}, not in the company's {company_currency}",
            order.currency
        ));
    }
    if amount < Decimal::ZERO || amount >= paid {
        return GatewayFee::Unusable(format!(
            "the gateway fee {amount} is not between 0 and the payment of {paid}"
        ));
    }
    GatewayFee::Deduct { amount, source }
}

type Recorded = (Result<Decimal, String>, Option<String>, &'static str);

/// The first fee meta found: its amount, its currency when the plugin says, and the key.
fn recorded_fee(order: &Order) -> Option<Recorded> {
    for key in ["_stripe_fee", "Stripe Fee"] {
        if let Some(value) = order.meta(key).filter(|value| !is_blank(value)) {
            let currency = order
                .meta("_stripe_currency")
                .and_then(Value::as_str)
                .filter(|currency| !currency.trim().is_empty())
                .map(|currency| currency.trim().to_uppercase());
            return Some((amount_of(value), currency, key));
        }
    }
    if let Some(fees) = order.meta("_ppcp_paypal_fees") {
        let fee = &fees["paypal_fee"];
        if !is_blank(&fee["value"]) {
            let currency = fee["currency_code"]
                .as_str()
                .map(|currency| currency.trim().to_uppercase());
            return Some((amount_of(&fee["value"]), currency, "_ppcp_paypal_fees"));
        }
    }
    let key = "PayPal Transaction Fee";
    order
        .meta(key)
        .filter(|value| !is_blank(value))
        .map(|value| (amount_of(value), None, key))
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

fn amount_of(value: &Value) -> Result<Decimal, String> {
    let text = match value {
        Value::String(text) => text.trim().to_string(),
        Value::Number(number) => number.to_string(),
        other => other.to_string(),
    };
    parse_decimal(&text).map_err(|_| text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::woocommerce::types::MetaData;
    use serde_json::json;

    fn order(currency: &str, meta: &[(&str, Value)]) -> Order {
        let mut order: Order = serde_json::from_value(json!({
            "id": 7, "status": "processing", "currency": currency,
            "date_created": null, "date_created_gmt": null,
            "date_modified": null, "date_modified_gmt": null,
            "discount_total": "0", "discount_tax": "0", "shipping_total": "0",
            "shipping_tax": "0", "cart_tax": "0", "total": "100.00", "total_tax": "0",
            "billing": {}, "shipping": {}
        }))
        .expect("a minimal order");
        order.meta_data = meta
            .iter()
            .map(|(key, value)| MetaData {
                id: None,
                key: key.to_string(),
                value: value.clone(),
            })
            .collect();
        order
    }

    fn hundred() -> Decimal {
        Decimal::from(100)
    }

    #[test]
    fn a_stripe_fee_in_the_orders_currency_is_deducted() {
        let order = order(
            "USD",
            &[
                ("_stripe_fee", json!("3.20")),
                ("_stripe_net", json!("96.80")),
                ("_stripe_currency", json!("usd")),
            ],
        );
        assert_eq!(
            gateway_fee(&order, hundred(), "USD"),
            GatewayFee::Deduct {
                amount: Decimal::new(320, 2),
                source: "_stripe_fee"
            }
        );
    }

    #[test]
    fn the_older_stripe_key_and_paypal_are_read_too() {
        let legacy = order("USD", &[("Stripe Fee", json!(2.5))]);
        assert_eq!(
            gateway_fee(&legacy, hundred(), "USD"),
            GatewayFee::Deduct {
                amount: Decimal::new(25, 1),
                source: "Stripe Fee"
            }
        );
        let paypal = order(
            "USD",
            &[(
                "_ppcp_paypal_fees",
                json!({"gross_amount": {"currency_code": "USD", "value": "100.00"},
                       "paypal_fee": {"currency_code": "USD", "value": "3.98"},
                       "net_amount": {"currency_code": "USD", "value": "96.02"}}),
            )],
        );
        assert_eq!(
            gateway_fee(&paypal, hundred(), "USD"),
            GatewayFee::Deduct {
                amount: Decimal::new(398, 2),
                source: "_ppcp_paypal_fees"
            }
        );
        let standard = order("USD", &[("PayPal Transaction Fee", json!("1.10"))]);
        assert!(matches!(
            gateway_fee(&standard, hundred(), "USD"),
            GatewayFee::Deduct { .. }
        ));
    }

    #[test]
    fn no_fee_recorded_or_a_zero_fee_deducts_nothing() {
        assert_eq!(
            gateway_fee(&order("USD", &[]), hundred(), "USD"),
            GatewayFee::None
        );
        let zero = order("USD", &[("_stripe_fee", json!("0.00"))]);
        assert_eq!(gateway_fee(&zero, hundred(), "USD"), GatewayFee::None);
        let blank = order("USD", &[("_stripe_fee", json!(""))]);
        assert_eq!(gateway_fee(&blank, hundred(), "USD"), GatewayFee::None);
    }

    #[test]
    fn a_fee_that_cannot_be_booked_as_it_stands_says_why() {
        let settled_elsewhere = order(
            "EUR",
            &[
                ("_stripe_fee", json!("3.00")),
                ("_stripe_currency", json!("USD")),
            ],
        );
        let GatewayFee::Unusable(why) = gateway_fee(&settled_elsewhere, hundred(), "USD") else {
            panic!("a fee in another currency is not deducted");
        };
        assert!(why.contains("USD") && why.contains("EUR"), "{why}");
        let foreign = order("EUR", &[("_stripe_fee", json!("3.00"))]);
        assert!(matches!(
            gateway_fee(&foreign, hundred(), "USD"),
            GatewayFee::Unusable(_)
        ));
        let garbled = order("USD", &[("_stripe_fee", json!("three"))]);
        let GatewayFee::Unusable(why) = gateway_fee(&garbled, hundred(), "USD") else {
            panic!("a fee that is not a number is not deducted");
        };
        assert!(why.contains("three"), "{why}");
        let everything = order("USD", &[("_stripe_fee", json!("100.00"))]);
        assert!(matches!(
            gateway_fee(&everything, hundred(), "USD"),
            GatewayFee::Unusable(_)
        ));
    }
}
