//! Row arithmetic the way ERPNext does it, and the split that keeps a line's total exact.
//!
//! ERPNext rounds each row's `rate` to the currency precision before it computes
//! `amount = rate × qty`. A WooCommerce line of 10.00 for 3 pieces has no such rate (3.333…), so
//! the line becomes two rows of the same item: 2 × 3.33 and 1 × 3.34. The same split applies to
//! `price_list_rate` (the price before coupons), aligned so that the dearer units of both sit in
//! the same rows; that gives at most three rows.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serializer;

/// Rounds the way ERPNext's `flt(value, precision)` does on a default v15 site (banker's rounding).
/// Values this module sends are already at the precision, so the mode only matters for checks.
pub fn erpnext_round(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven)
}

/// One Sales Order row's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowAmounts {
    pub qty: Decimal,
    pub rate: Decimal,
    pub price_list_rate: Decimal,
}

impl RowAmounts {
    /// The row's amount as ERPNext computes it.
    pub fn amount(&self, places: u32) -> Decimal {
        erpnext_round(erpnext_round(self.rate, places) * self.qty, places)
    }
}

/// The rows that carry a WooCommerce line: `total` (after coupons) and `subtotal` (before) over
/// `qty`, each reproduced exactly by rates at `places` decimals.
///
/// A quantity that is not a positive whole number cannot be split into whole units; such a line
/// becomes one row of qty 1 at the line's totals (the caller names the real quantity in the
/// row's description).
pub fn split_line(qty: Decimal, subtotal: Decimal, total: Decimal, places: u32) -> Vec<RowAmounts> {
    let subtotal = erpnext_round(subtotal, places);
    let total = erpnext_round(total, places);
    if !is_positive_whole(qty) {
        return vec![RowAmounts {
            qty: Decimal::ONE,
            rate: total,
            price_list_rate: subtotal,
        }];
    }
    let (low_rate, dear_rate_units) = spread(total, qty, places);
    let (low_list, dear_list_units) = spread(subtotal, qty, places);
    let unit = Decimal::new(1, places);
    // Units are ordered cheap first; the last `dear_*_units` of each carry one more minor unit.
    let rate_step = qty - dear_rate_units;
    let list_step = qty - dear_list_units;
    let mut boundaries = vec![
        Decimal::ZERO,
        rate_step.min(list_step),
        rate_step.max(list_step),
        qty,
    ];
    boundaries.dedup();
    boundaries
        .windows(2)
        .filter(|window| window[1] > window[0])
        .map(|window| {
            let start = window[0];
            RowAmounts {
                qty: window[1] - window[0],
                rate: if start < rate_step {
                    low_rate
                } else {
                    low_rate + unit
                },
                price_list_rate: if start < list_step {
                    low_list
                } else {
                    low_list + unit
                },
            }
        })
        .collect()
}

/// `amount / qty` as a rate at `places` rounded down, and how many units need one minor unit more.
fn spread(amount: Decimal, qty: Decimal, places: u32) -> (Decimal, Decimal) {
    let unit = Decimal::new(1, places);
    let minor_units = amount / unit;
    let low_minor_units = (minor_units / qty).floor();
    let remainder = minor_units - low_minor_units * qty;
    (low_minor_units * unit, remainder)
}

fn is_positive_whole(qty: Decimal) -> bool {
    qty > Decimal::ZERO && qty.fract().is_zero()
}

/// Serialises a decimal as a JSON number, the type ERPNext's numeric fields take. The detour
/// through `f64` happens only at the wire: every value sent is at most a few places long, and a
/// JSON float is printed as its shortest round-trip text, which is exactly that decimal.
pub fn as_json_number<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    use rust_decimal::prelude::ToPrimitive;
    match value.to_f64() {
        Some(float) => serializer.serialize_f64(float),
        None => Err(serde::ser::Error::custom(format!(
            "{value} does not fit a JSON number"
        ))),
    }
}

/// [`as_json_number`] for optional values (skip `None` with `skip_serializing_if`).
pub fn as_optional_json_number<S: Serializer>(
    value: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => as_json_number(value, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn check(qty: &str, subtotal: &str, total: &str, places: u32, expected: &[(&str, &str, &str)]) {
        let rows = split_line(d(qty), d(subtotal), d(total), places);
        let shown: Vec<(String, String, String)> = rows
            .iter()
            .map(|row| {
                (
                    row.qty.to_string(),
                    row.rate.to_string(),
                    row.price_list_rate.to_string(),
                )
            })
            .collect();
        let wanted: Vec<(String, String, String)> = expected
            .iter()
            .map(|(q, r, p)| (q.to_string(), r.to_string(), p.to_string()))
            .collect();
        assert_eq!(shown, wanted);
        let amount: Decimal = rows.iter().map(|row| row.amount(places)).sum();
        assert_eq!(amount, d(total));
        let list: Decimal = rows.iter().map(|row| row.price_list_rate * row.qty).sum();
        assert_eq!(list, d(subtotal));
    }

    #[test]
    fn an_exact_line_stays_one_row() {
        check("2", "25.00", "22.50", 2, &[("2", "11.25", "12.50")]);
    }

    #[test]
    fn ten_for_three_splits_into_rows_that_add_up() {
        check(
            "3",
            "10.00",
            "10.00",
            2,
            &[("2", "3.33", "3.33"), ("1", "3.34", "3.34")],
        );
    }

    #[test]
    fn coupon_and_list_price_split_at_different_units() {
        // 4 × 12.50 before a coupon, 44.99 after: rate 11.24 ×1 and 11.25 ×3.
        check(
            "4",
            "50.00",
            "44.99",
            2,
            &[("1", "11.24", "12.50"), ("3", "11.25", "12.50")],
        );
        // both inexact, stepping at the same unit: 20.00 / 3 and 17.99 / 3
        check(
            "3",
            "20.00",
            "17.99",
            2,
            &[("1", "5.99", "6.66"), ("2", "6.00", "6.67")],
        );
        // stepping at different units gives three rows
        check(
            "3",
            "20.00",
            "10.00",
            2,
            &[
                ("1", "3.33", "6.66"),
                ("1", "3.33", "6.67"),
                ("1", "3.34", "6.67"),
            ],
        );
    }

    #[test]
    fn yen_splits_at_whole_units() {
        check(
            "3",
            "1000",
            "1000",
            0,
            &[("2", "333", "333"), ("1", "334", "334")],
        );
    }

    #[test]
    fn a_fractional_quantity_becomes_one_row_of_the_whole_line() {
        check("1.5", "15.00", "13.50", 2, &[("1", "13.50", "15.00")]);
    }

    #[test]
    fn rounding_is_bankers_like_erpnext() {
        assert_eq!(erpnext_round(d("1.665"), 2), d("1.66"));
        assert_eq!(erpnext_round(d("1.675"), 2), d("1.68"));
    }

    #[test]
    fn numbers_go_out_as_json_numbers_with_their_exact_text() {
        #[derive(serde::Serialize)]
        struct Row {
            #[serde(serialize_with = "as_json_number")]
            rate: Decimal,
        }
        let text = serde_json::to_string(&Row { rate: d("9.99") }).unwrap();
        assert_eq!(text, r#"{"rate":9.99}"#);
        let text = serde_json::to_string(&Row { rate: d("3") }).unwrap();
        assert_eq!(text, r#"{"rate":3.0}"#);
    }
}
