//! Small helpers for documents held as JSON maps: exact numbers in and out,
//! ERPNext's rounding, and money in words.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

pub type Doc = Map<String, Value>;

/// The object a `json!({...})` literal builds, as a document (anything else is empty).
pub fn object(value: Value) -> Doc {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A JSON number (or numeric string) read exactly; anything else is zero.
pub fn decimal_of(value: Option<&Value>) -> Decimal {
    match value {
        Some(Value::Number(number)) => {
            crate::money::parse_decimal(&number.to_string()).unwrap_or(Decimal::ZERO)
        }
        Some(Value::String(text)) => Decimal::from_str(text.trim()).unwrap_or(Decimal::ZERO),
        Some(Value::Bool(true)) => Decimal::ONE,
        _ => Decimal::ZERO,
    }
}

pub fn field_decimal(doc: &Doc, field: &str) -> Decimal {
    decimal_of(doc.get(field))
}

/// Writes a decimal the way Frappe sends it: a JSON float (`110.0`).
pub fn float_value(value: Decimal) -> Value {
    let float = value.normalize().to_f64().unwrap_or(0.0);
    serde_json::Number::from_f64(float)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

pub fn set_float(doc: &mut Doc, field: &str, value: Decimal) {
    doc.insert(field.to_string(), float_value(value));
}

/// ERPNext v15's default "Banker's Rounding" on the intended decimal value:
/// `1.665` → `1.66` (recorded: an Actual tax of 1.665 was stored as 1.66).
pub fn flt(value: Decimal, precision: u32) -> Decimal {
    value.round_dp_with_strategy(precision, RoundingStrategy::MidpointNearestEven)
}

pub fn text_of(doc: &Doc, field: &str) -> String {
    match doc.get(field) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub fn int_of(doc: &Doc, field: &str) -> i64 {
    match doc.get(field) {
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(text)) => text.trim().parse().unwrap_or(0),
        Some(Value::Bool(true)) => 1,
        _ => 0,
    }
}

pub fn rows<'a>(doc: &'a Doc, field: &str) -> Vec<&'a Doc> {
    match doc.get(field) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

/// "USD One Hundred And Ten only." / "EUR Thirty One and Sixty Three Cent only."
pub fn money_in_words(amount: Decimal, currency: &str, fraction_name: &str) -> String {
    let amount = flt(amount.abs(), 2);
    let whole = amount.trunc().to_u64().unwrap_or(0);
    let cents = ((amount - amount.trunc()) * Decimal::from(100))
        .round()
        .to_u64()
        .unwrap_or(0);
    let mut words = format!("{currency} {}", title_case(&number_in_words(whole)));
    if cents > 0 {
        words.push_str(&format!(
            " and {} {fraction_name}",
            title_case(&number_in_words(cents))
        ));
    }
    words.push_str(" only.");
    words
}

fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut characters = word.chars();
            match characters.next() {
                Some(first) => first.to_uppercase().collect::<String>() + characters.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .replace('-', " ")
}

/// English words as num2words writes them ("one hundred and ten").
fn number_in_words(number: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    fn below_thousand(number: u64) -> String {
        let mut parts = Vec::new();
        let hundreds = number / 100;
        let rest = number % 100;
        if hundreds > 0 {
            parts.push(format!("{} hundred", ONES[hundreds as usize]));
        }
        if rest > 0 {
            let text = if rest < 20 {
                ONES[rest as usize].to_string()
            } else if rest % 10 == 0 {
                TENS[(rest / 10) as usize].to_string()
            } else {
                format!(
                    "{} {}",
                    TENS[(rest / 10) as usize],
                    ONES[(rest % 10) as usize]
                )
            };
            if hundreds > 0 {
                parts.push(format!("and {text}"));
            } else {
                parts.push(text);
            }
        }
        parts.join(" ")
    }
    if number == 0 {
        return "zero".to_string();
    }
    let scales = ["", " thousand", " million", " billion", " trillion"];
    let mut groups = Vec::new();
    let mut remaining = number;
    while remaining > 0 {
        groups.push(remaining % 1000);
        remaining /= 1000;
    }
    let mut words = Vec::new();
    for (index, group) in groups.iter().enumerate().rev() {
        if *group == 0 {
            continue;
        }
        let text = below_thousand(*group);
        let text = if index == 0 && groups.len() > 1 && *group < 100 {
            format!("and {text}")
        } else {
            text
        };
        words.push(format!(
            "{text}{}",
            scales.get(index).copied().unwrap_or("")
        ));
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_amounts_in_words_like_erpnext() {
        assert_eq!(
            money_in_words(Decimal::from(110), "USD", "Cent"),
            "USD One Hundred And Ten only."
        );
        assert_eq!(
            money_in_words(Decimal::new(3163, 2), "EUR", "Cent"),
            "EUR Thirty One and Sixty Three Cent only."
        );
        assert_eq!(
            money_in_words(Decimal::new(3416, 2), "USD", "Cent"),
            "USD Thirty Four and Sixteen Cent only."
        );
    }

    #[test]
    fn rounds_half_to_even_like_erpnext_v15() {
        assert_eq!(flt(Decimal::new(1665, 3), 2).to_string(), "1.66");
        assert_eq!(flt(Decimal::new(1675, 3), 2).to_string(), "1.68");
        assert_eq!(flt(Decimal::new(107892, 4), 2).to_string(), "10.79");
    }

    #[test]
    fn numbers_go_out_as_floats_and_come_back_exact() {
        assert_eq!(float_value(Decimal::from(110)).to_string(), "110.0");
        let value = float_value(Decimal::new(3163, 2));
        assert_eq!(decimal_of(Some(&value)).to_string(), "31.63");
    }
}
