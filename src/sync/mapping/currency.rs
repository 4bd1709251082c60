//! The exchange rate a multi-currency plugin recorded on the order, as ERPNext's `conversion_rate`
//! (company currency per one unit of the order's currency).

use rust_decimal::Decimal;
use serde_json::Value;

use super::error::MappingError;
use crate::money::parse_decimal;
use crate::woocommerce::types::Order;

/// ERPNext keeps `conversion_rate` to nine places.
const CONVERSION_RATE_PLACES: u32 = 9;

/// The rate from the order's meta, when the order's currency differs from the company's and a
/// known plugin left one that converts into the company's currency. `Ok(None)`: ask ERPNext.
pub(crate) fn conversion_rate_from_meta(
    order: &Order,
    company_currency: &str,
) -> Result<Option<Decimal>, MappingError> {
    if order.currency.eq_ignore_ascii_case(company_currency) {
        return Ok(None);
    }
    // Aelia Currency Switcher: order amount × rate = amount in the shop's base currency.
    if let Some(value) = order.meta("_base_currency_exchange_rate") {
        let rate = positive_rate(order, "_base_currency_exchange_rate", value)?;
        return Ok(Some(rate.round_dp(CONVERSION_RATE_PLACES)));
    }
    // WOOCS: base amount × rate = order amount; only usable when the base is the company currency.
    if let Some(value) = order.meta("_woocs_order_rate") {
        let base = order
            .meta("_woocs_order_base_currency")
            .and_then(Value::as_str);
        if base.map_or(true, |base| base.eq_ignore_ascii_case(company_currency)) {
            let rate = positive_rate(order, "_woocs_order_rate", value)?;
            return Ok(Some((Decimal::ONE / rate).round_dp(CONVERSION_RATE_PLACES)));
        }
    }
    // CURCY / WPML multi-currency: `{CODE: {rate, is_main}}`, rates per one unit of the main currency.
    if let Some(Value::Object(currencies)) = order.meta("wmc_order_info") {
        let is_main = |entry: &Value| {
            matches!(entry.get("is_main"), Some(Value::Bool(true)))
                || entry.get("is_main").map(json_text).as_deref() == Some("1")
        };
        let main_is_company = currencies
            .iter()
            .any(|(code, entry)| is_main(entry) && code.eq_ignore_ascii_case(company_currency));
        let order_entry = currencies
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(&order.currency))
            .and_then(|(_, entry)| entry.get("rate"));
        let main_rate = currencies
            .iter()
            .find(|(_, entry)| is_main(entry))
            .and_then(|(_, entry)| entry.get("rate"));
        if let (true, Some(order_rate), Some(main_rate)) = (main_is_company, order_entry, main_rate)
        {
            let order_rate = positive_rate(order, "wmc_order_info", order_rate)?;
            let main_rate = positive_rate(order, "wmc_order_info", main_rate)?;
            return Ok(Some(
                (main_rate / order_rate).round_dp(CONVERSION_RATE_PLACES),
            ));
        }
    }
    Ok(None)
}

fn positive_rate(order: &Order, meta_key: &str, value: &Value) -> Result<Decimal, MappingError> {
    let text = json_text(value);
    match parse_decimal(&text) {
        Ok(rate) if rate > Decimal::ZERO => Ok(rate),
        _ => Err(MappingError::InvalidExchangeRate {
            order_id: order.id,
            meta_key: meta_key.to_string(),
            value: value.to_string(),
        }),
    }
}

fn json_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_in(currency: &str, meta: serde_json::Value) -> Order {
        let mut order: Order = serde_json::from_value(serde_json::json!({
            "id": 5, "status": "processing", "currency": currency,
            "date_created": null, "date_created_gmt": null,
            "date_modified": null, "date_modified_gmt": null,
            "discount_total": "0", "discount_tax": "0", "shipping_total": "0",
            "shipping_tax": "0", "cart_tax": "0", "total": "0", "total_tax": "0",
            "billing": {}, "shipping": {}
        }))
        .unwrap();
        order.meta_data = serde_json::from_value(meta).unwrap();
        order
    }

    #[test]
    fn the_company_currency_needs_no_rate_even_with_plugin_meta() {
        let order = order_in(
            "USD",
            serde_json::json!([{"key": "_woocs_order_rate", "value": "0.8"}]),
        );
        assert_eq!(conversion_rate_from_meta(&order, "USD"), Ok(None));
    }

    #[test]
    fn curcy_needs_the_company_currency_as_its_main_currency() {
        let meta = serde_json::json!([{"key": "wmc_order_info", "value": {
            "GBP": {"rate": 1, "is_main": 1},
            "EUR": {"rate": "1.17", "is_main": 0}}}]);
        assert_eq!(
            conversion_rate_from_meta(&order_in("EUR", meta.clone()), "USD"),
            Ok(None)
        );
        let rate = conversion_rate_from_meta(&order_in("EUR", meta), "GBP").unwrap();
        assert_eq!(rate, Some(Decimal::new(854700855, 9)));
    }

    #[test]
    fn a_zero_rate_is_refused() {
        let order = order_in(
            "EUR",
            serde_json::json!([{"key": "_base_currency_exchange_rate", "value": 0}]),
        );
        assert!(matches!(
            conversion_rate_from_meta(&order, "USD"),
            Err(MappingError::InvalidExchangeRate { .. })
        ));
    }
}
