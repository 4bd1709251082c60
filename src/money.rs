//! Exact money and quantities. Nothing in this crate handles money as a float.
//!
//! Both remotes send numbers in two shapes: WooCommerce money is a string
//! (`"29.35"`) except a few JSON numbers (`price`, `rate_percent`), and
//! ERPNext sends JSON floats (`110.0`). A JSON float is read through its
//! shortest round-trip text, which is exactly the decimal the sender wrote.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{de, Deserialize, Deserializer};

/// Parses `"12.50"`, `12.5`, `12` or `""` (as zero) into an exact decimal.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_str(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| format!("`{trimmed}` is not a decimal number"))
}

/// Serde helper: a decimal sent as a JSON string or a JSON number.
pub fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Integer(i64),
        Float(f64),
    }
    match Wire::deserialize(deserializer)? {
        Wire::Text(text) => parse_decimal(&text).map_err(de::Error::custom),
        Wire::Integer(value) => Ok(Decimal::from(value)),
        Wire::Float(value) => parse_decimal(&value.to_string()).map_err(de::Error::custom),
    }
}

/// Serde helper: like [`decimal`], but `null` (or absent, with `#[serde(default)]`) is `None`.
pub fn optional_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapper(#[serde(deserialize_with = "decimal")] Decimal);
    Option::<Wrapper>::deserialize(deserializer).map(|value| value.map(|Wrapper(d)| d))
}

/// Rounds half away from zero to `places`, the way WooCommerce (PHP `round`) rounds money.
pub fn round_money(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "decimal")]
        value: Decimal,
    }

    fn read(json: &str) -> Decimal {
        serde_json::from_str::<Sample>(json).unwrap().value
    }

    #[test]
    fn reads_strings_integers_and_floats_exactly() {
        assert_eq!(read(r#"{"value":"29.35"}"#).to_string(), "29.35");
        assert_eq!(read(r#"{"value":2.7}"#).to_string(), "2.7");
        assert_eq!(read(r#"{"value":1.665}"#).to_string(), "1.665");
        assert_eq!(read(r#"{"value":110.0}"#), Decimal::from(110));
        assert_eq!(read(r#"{"value":7}"#), Decimal::from(7));
        assert_eq!(read(r#"{"value":""}"#), Decimal::ZERO);
        assert_eq!(read(r#"{"value":"-5.00"}"#).to_string(), "-5.00");
    }

    #[test]
    fn rejects_text_that_is_not_a_number() {
        let error = serde_json::from_str::<Sample>(r#"{"value":"12,50"}"#)
            .err()
            .unwrap();
        assert!(error
            .to_string()
            .contains("`12,50` is not a decimal number"));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        let value = Decimal::from_str("1.665").unwrap();
        assert_eq!(round_money(value, 2).to_string(), "1.67");
        assert_eq!(round_money(-value, 2).to_string(), "-1.67");
    }
}
