//! ERPNext's `taxes_and_totals` for selling documents, for what the product
//! uses: item amounts, `Actual` and `On Net Total` tax rows, a document
//! discount on the Grand Total or Net Total, rounding to the currency's
//! smallest fraction, and company-currency (`base_*`) amounts.

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::values::{
    decimal_of, field_decimal, float_value, flt, money_in_words, set_float, text_of, Doc,
};

/// Facts about a currency the totals need.
#[derive(Debug, Clone)]
pub struct CurrencyFacts {
    pub smallest_fraction: Decimal,
    pub fraction_name: String,
}

const PRECISION: u32 = 2;

/// `calculate_item_values`: a 100 % discount makes the rate 0; otherwise a rate of 0 next to
/// a price list rate counts as not given, and the (discounted) price list rate is charged.
/// Sending `price_list_rate: 0` or `discount_percentage: 100` is how a row stays free
/// (research §6). Rows with a price list rate show what they take off as `discount_amount`.
fn item_rate(item: &mut Doc) -> Decimal {
    let hundred = Decimal::from(100);
    let discount_percentage = field_decimal(item, "discount_percentage");
    let price_list_rate = field_decimal(item, "price_list_rate");
    let mut rate = field_decimal(item, "rate");
    if discount_percentage == hundred {
        rate = Decimal::ZERO;
    } else if !price_list_rate.is_zero() && rate.is_zero() {
        rate = flt(
            price_list_rate * (Decimal::ONE - discount_percentage / hundred),
            PRECISION,
        );
    }
    set_float(item, "rate", rate);
    if price_list_rate > Decimal::ZERO {
        set_float(item, "discount_amount", price_list_rate - rate);
    }
    rate
}

/// Recomputes every total of a Sales Order / Sales Invoice in place.
pub fn calculate(doc: &mut Doc, currency: &CurrencyFacts, company_currency: &CurrencyFacts) {
    let conversion_rate = {
        let rate = field_decimal(doc, "conversion_rate");
        if rate.is_zero() {
            Decimal::ONE
        } else {
            rate
        }
    };
    let mut items: Vec<Doc> = take_rows(doc, "items");
    let mut taxes: Vec<Doc> = take_rows(doc, "taxes");

    let mut total = Decimal::ZERO;
    let mut total_qty = Decimal::ZERO;
    for item in items.iter_mut() {
        let qty = field_decimal(item, "qty");
        let rate = item_rate(item);
        let amount = flt(rate * qty, PRECISION);
        set_float(item, "amount", amount);
        set_float(item, "net_rate", rate);
        set_float(item, "net_amount", amount);
        set_float(
            item,
            "stock_qty",
            qty * nonzero(field_decimal(item, "conversion_factor")),
        );
        total += amount;
        total_qty += qty;
    }
    let mut net_total = total;

    // Taxes on the undiscounted net; a discount then shrinks the item net
    // amounts so that the chosen total drops by the discount.
    let (mut tax_total, mut grand_total) = apply_taxes(&mut items, &mut taxes, net_total);
    let mut discount_amount = field_decimal(doc, "discount_amount");
    let percentage = field_decimal(doc, "additional_discount_percentage");
    let on_net_total = text_of(doc, "apply_discount_on") == "Net Total";
    if !percentage.is_zero() {
        let base = if on_net_total { net_total } else { grand_total };
        discount_amount = flt(base * percentage / Decimal::from(100), PRECISION);
    }
    if !discount_amount.is_zero() && !net_total.is_zero() {
        let actual_taxes: Decimal = taxes
            .iter()
            .filter(|tax| text_of(tax, "charge_type") == "Actual")
            .map(|tax| field_decimal(tax, "tax_amount"))
            .sum();
        let total_for_discount = if on_net_total {
            net_total
        } else {
            flt(grand_total - actual_taxes, PRECISION)
        };
        if !total_for_discount.is_zero() {
            let target_net = flt(
                net_total - discount_amount * net_total / total_for_discount,
                PRECISION,
            );
            let mut running = Decimal::ZERO;
            let last = items.len().saturating_sub(1);
            for (index, item) in items.iter_mut().enumerate() {
                let amount = field_decimal(item, "amount");
                let net_amount = if index == last {
                    target_net - running
                } else {
                    flt(
                        amount - discount_amount * amount / total_for_discount,
                        PRECISION,
                    )
                };
                running += net_amount;
                let qty = field_decimal(item, "qty");
                set_float(item, "net_amount", net_amount);
                set_float(item, "distributed_discount_amount", amount - net_amount);
                if !qty.is_zero() {
                    set_float(item, "net_rate", flt(net_amount / qty, PRECISION));
                }
            }
            net_total = target_net;
            (tax_total, grand_total) = apply_taxes(&mut items, &mut taxes, net_total);
        }
    }

    for item in items.iter_mut() {
        for field in [
            "rate",
            "amount",
            "net_rate",
            "net_amount",
            "price_list_rate",
        ] {
            let value = field_decimal(item, field);
            set_float(
                item,
                &format!("base_{field}"),
                flt(value * conversion_rate, PRECISION),
            );
        }
        let rate = field_decimal(item, "rate");
        set_float(item, "stock_uom_rate", rate);
        set_float(item, "gross_profit", field_decimal(item, "amount"));
    }
    for tax in taxes.iter_mut() {
        for field in ["tax_amount", "total", "tax_amount_after_discount_amount"] {
            let value = field_decimal(tax, field);
            set_float(
                tax,
                &format!("base_{field}"),
                flt(value * conversion_rate, PRECISION),
            );
        }
        if conversion_rate != Decimal::ONE {
            convert_item_wise_detail(tax, conversion_rate);
        }
    }

    let rounded_total =
        if crate::simulators::erpnext::values::int_of(doc, "disable_rounded_total") == 1 {
            Decimal::ZERO
        } else {
            round_to_fraction(grand_total, currency.smallest_fraction)
        };
    let rounding_adjustment = if rounded_total.is_zero() {
        Decimal::ZERO
    } else {
        rounded_total - grand_total
    };
    let base_net_total = flt(net_total * conversion_rate, PRECISION);
    let base_total_taxes = flt(tax_total * conversion_rate, PRECISION);
    // ERPNext converts the grand total itself, not the sum of the converted
    // parts: 31.63 EUR at 1.1 is 34.79, though 32.97 + 1.83 would be 34.80.
    let base_grand_total = if tax_total.is_zero() {
        base_net_total
    } else {
        flt(grand_total * conversion_rate, PRECISION)
    };
    let base_rounded_total = if rounded_total.is_zero() {
        Decimal::ZERO
    } else {
        round_to_fraction(base_grand_total, company_currency.smallest_fraction)
    };

    set_float(doc, "total_qty", total_qty);
    set_float(doc, "total", total);
    set_float(doc, "base_total", flt(total * conversion_rate, PRECISION));
    set_float(doc, "net_total", net_total);
    set_float(doc, "base_net_total", base_net_total);
    set_float(doc, "total_taxes_and_charges", tax_total);
    set_float(doc, "base_total_taxes_and_charges", base_total_taxes);
    set_float(doc, "discount_amount", discount_amount);
    set_float(
        doc,
        "base_discount_amount",
        flt(discount_amount * conversion_rate, PRECISION),
    );
    set_float(doc, "grand_total", grand_total);
    set_float(doc, "base_grand_total", base_grand_total);
    set_float(doc, "rounded_total", rounded_total);
    set_float(doc, "base_rounded_total", base_rounded_total);
    set_float(doc, "rounding_adjustment", rounding_adjustment);
    set_float(
        doc,
        "base_rounding_adjustment",
        if base_rounded_total.is_zero() {
            Decimal::ZERO
        } else {
            base_rounded_total - base_grand_total
        },
    );
    set_float(doc, "amount_eligible_for_commission", base_net_total);
    let currency_code = text_of(doc, "currency");
    let shown = if rounded_total.is_zero() {
        grand_total
    } else {
        rounded_total
    };
    let base_shown = if base_rounded_total.is_zero() {
        base_grand_total
    } else {
        base_rounded_total
    };
    doc.insert(
        "in_words".into(),
        Value::String(money_in_words(
            shown,
            &currency_code,
            &currency.fraction_name,
        )),
    );
    let company_code = doc
        .get("__company_currency")
        .and_then(Value::as_str)
        .unwrap_or("USD")
        .to_string();
    doc.insert(
        "base_in_words".into(),
        Value::String(money_in_words(
            base_shown,
            &company_code,
            &company_currency.fraction_name,
        )),
    );
    doc.remove("__company_currency");
    doc.insert(
        "items".into(),
        Value::Array(items.into_iter().map(Value::Object).collect()),
    );
    doc.insert(
        "taxes".into(),
        Value::Array(taxes.into_iter().map(Value::Object).collect()),
    );
}

/// Fills the tax rows from the item net amounts; returns (taxes total, grand total).
fn apply_taxes(items: &mut [Doc], taxes: &mut [Doc], net_total: Decimal) -> (Decimal, Decimal) {
    let mut running_total = net_total;
    let mut tax_total = Decimal::ZERO;
    for tax in taxes.iter_mut() {
        let charge_type = text_of(tax, "charge_type");
        let rate = field_decimal(tax, "rate");
        let mut detail = Map::new();
        let tax_amount = match charge_type.as_str() {
            "On Net Total" => {
                let mut sum = Decimal::ZERO;
                for item in items.iter() {
                    let share = field_decimal(item, "net_amount") * rate / Decimal::from(100);
                    sum += share;
                    detail.insert(
                        text_of(item, "item_code"),
                        Value::from(vec![float_value(rate), float_value(share)]),
                    );
                }
                flt(sum, PRECISION)
            }
            _ => {
                let actual = flt(field_decimal(tax, "tax_amount"), PRECISION);
                let actual_float = actual.to_f64().unwrap_or(0.0);
                let net_float = net_total.to_f64().unwrap_or(0.0);
                for item in items.iter() {
                    let item_net = decimal_of(item.get("net_amount")).to_f64().unwrap_or(0.0);
                    let share = if net_float == 0.0 {
                        0.0
                    } else {
                        actual_float * item_net / net_float
                    };
                    detail.insert(text_of(item, "item_code"), Value::from(vec![0.0, share]));
                }
                actual
            }
        };
        running_total += tax_amount;
        tax_total += tax_amount;
        set_float(tax, "tax_amount", tax_amount);
        set_float(tax, "tax_amount_after_discount_amount", tax_amount);
        set_float(tax, "total", flt(running_total, PRECISION));
        tax.insert(
            "item_wise_tax_detail".into(),
            Value::String(Value::Object(detail).to_string()),
        );
    }
    (tax_total, flt(net_total + tax_total, PRECISION))
}

fn convert_item_wise_detail(tax: &mut Doc, conversion_rate: Decimal) {
    let text = text_of(tax, "item_wise_tax_detail");
    let Ok(Value::Object(mut detail)) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    for entry in detail.values_mut() {
        if let Some(share) = entry.get(1).and_then(Value::as_f64) {
            let exact = Decimal::from_f64(share).unwrap_or_default() * conversion_rate;
            entry[1] = Value::from(exact.round_dp(9).to_f64().unwrap_or(0.0));
        }
    }
    tax.insert(
        "item_wise_tax_detail".into(),
        Value::String(Value::Object(detail).to_string()),
    );
}

/// ERPNext's `round_based_on_smallest_currency_fraction`.
pub fn round_to_fraction(value: Decimal, fraction: Decimal) -> Decimal {
    if fraction.is_zero() {
        return flt(value, 0);
    }
    let remainder = value % fraction;
    let rounded = if remainder > fraction / Decimal::from(2) {
        value + fraction - remainder
    } else {
        value - remainder
    };
    flt(rounded, PRECISION)
}

fn take_rows(doc: &mut Doc, field: &str) -> Vec<Doc> {
    match doc.remove(field) {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Object(object) => Some(object),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn nonzero(value: Decimal) -> Decimal {
    if value.is_zero() {
        Decimal::ONE
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> CurrencyFacts {
        CurrencyFacts {
            smallest_fraction: Decimal::new(1, 2),
            fraction_name: "Cent".into(),
        }
    }

    fn order(extra: Value) -> Doc {
        let mut doc = json!({
            "currency": "USD", "conversion_rate": 1.0, "apply_discount_on": "Grand Total",
            "items": [
                {"item_code": "A", "qty": 2.0, "rate": 45.0, "conversion_factor": 1.0},
                {"item_code": "B", "qty": 1.0, "rate": 12.5, "conversion_factor": 1.0}
            ],
            "taxes": [{"charge_type": "Actual", "tax_amount": 7.5, "rate": 0.0}]
        });
        if let (Some(target), Value::Object(extra)) = (doc.as_object_mut(), extra) {
            target.extend(extra);
        }
        doc.as_object().cloned().unwrap()
    }

    #[test]
    fn recorded_sales_order_totals() {
        let mut doc = order(json!({}));
        calculate(&mut doc, &usd(), &usd());
        assert_eq!(doc["total"], json!(102.5));
        assert_eq!(doc["grand_total"], json!(110.0));
        assert_eq!(doc["rounded_total"], json!(110.0));
        assert_eq!(doc["in_words"], json!("USD One Hundred And Ten only."));
        assert_eq!(
            doc["taxes"][0]["item_wise_tax_detail"],
            json!("{\"A\":[0.0,6.585365853658536],\"B\":[0.0,0.9146341463414634]}")
        );
    }

    #[test]
    fn percentage_tax_and_grand_total_discount() {
        let mut doc = order(json!({
            "taxes": [{"charge_type": "On Net Total", "rate": 10.0}],
            "discount_amount": 11.0
        }));
        calculate(&mut doc, &usd(), &usd());
        // 102.5 net + 10.25 tax = 112.75; minus 11 on the grand total = 101.75.
        assert_eq!(doc["grand_total"], json!(101.75));
        assert_eq!(doc["net_total"], json!(92.5));
    }

    #[test]
    fn rounds_to_the_currency_fraction() {
        assert_eq!(
            round_to_fraction(Decimal::new(3163, 2), Decimal::new(1, 2)),
            Decimal::new(3163, 2)
        );
        assert_eq!(
            round_to_fraction(Decimal::new(10050, 2), Decimal::ONE),
            Decimal::from(100)
        );
        assert_eq!(
            round_to_fraction(Decimal::new(10051, 2), Decimal::ONE),
            Decimal::from(101)
        );
    }
}
