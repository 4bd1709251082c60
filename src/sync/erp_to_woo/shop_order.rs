//! The pure core of orders born in ERPNext: from a submitted Sales Order (its rows, its taxes and
//! charges, its total), the shop's products by SKU and the buyer, the body of the WooCommerce
//! order that carries exactly ERPNext's figures. No IO.
//!
//! WooCommerce recomputes taxes from its own rates when an order is created through REST (the
//! real store adds its NY rate to a NY order's lines and shipping whatever the body says). Two
//! things make the shop's order carry ERPNext's figures instead, both checked on the real store
//! (`tests/real_erp_to_woo.rs`): the order's `is_vat_exempt` meta (`yes`), which makes
//! WooCommerce compute no tax at all, and ERPNext's taxes and charges given as lines: a charge on
//! one of the connection's shipping accounts becomes a shipping line, every other one a fee line
//! that is not taxed (`tax_status: none`). Each line's `subtotal`/`total` is ERPNext's amount, so
//! neither prices nor coupons of the shop change it. The body's total must equal ERPNext's to the
//! cent before anything is created.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::money::round_money;
use crate::sync::erp_to_woo::status::META_SALES_ORDER;
use crate::sync::keys;

/// One item row of the Sales Order.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpLine {
    pub item_code: String,
    pub item_name: String,
    pub qty: Decimal,
    /// `rate × qty`, in the order's currency.
    pub amount: Decimal,
}

/// One row of the Sales Order's taxes and charges, as ERPNext computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpCharge {
    pub account_head: String,
    pub description: String,
    /// `tax_amount_after_discount_amount`, in the order's currency.
    pub amount: Decimal,
}

/// What the shop needs of the Sales Order.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpOrder {
    pub name: String,
    pub status: String,
    pub currency: String,
    pub grand_total: Decimal,
    /// 0 when rounding is disabled.
    pub rounded_total: Decimal,
    /// The additional discount on the whole order.
    pub discount_amount: Decimal,
    pub lines: Vec<ErpLine>,
    pub charges: Vec<ErpCharge>,
}

impl ErpOrder {
    /// What the buyer owes: the rounded total where ERPNext rounds, the grand total otherwise.
    pub fn total(&self) -> Decimal {
        if self.rounded_total.is_zero() {
            self.grand_total
        } else {
            self.rounded_total
        }
    }
}

/// A shop product (or variation) a line is sold as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopProduct {
    pub product_id: u64,
    /// 0 for a simple product.
    pub variation_id: u64,
}

/// The buyer as the shop will know them.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopBuyer {
    /// The shop's customer with the buyer's e-mail, or 0 (a guest order).
    pub customer_id: u64,
    /// WooCommerce's `billing` object (with `email`).
    pub billing: Value,
    /// WooCommerce's `shipping` object.
    pub shipping: Value,
}

/// The rules of the connection the body follows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShopOrderRules {
    pub connection: String,
    /// ERPNext shipping account → the WooCommerce shipping method id it stands for.
    pub shipping_accounts: BTreeMap<String, String>,
    /// The connection's `status_to_woocommerce`.
    pub status_map: BTreeMap<String, String>,
}

/// Why a Sales Order cannot become a shop order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShopOrderError {
    #[error(
        "item {item_code} ({item_name}) of Sales Order {sales_order} has no product with SKU \
         `{item_code}` in WooCommerce; give the shop's product that SKU (or remove the row) and \
         the order is created at the next run"
    )]
    NoProduct {
        sales_order: String,
        item_code: String,
        item_name: String,
    },
    #[error(
        "item {item_code} of Sales Order {sales_order} is ordered in a quantity of {qty}; \
         WooCommerce orders whole units only, so the order was not created in the shop"
    )]
    FractionalQuantity {
        sales_order: String,
        item_code: String,
        qty: Decimal,
    },
    #[error(
        "Sales Order {sales_order} totals {erpnext} in ERPNext but its lines, charges and \
         discount add up to {lines}; the order was not created in the shop (check the order's \
         discount and rounding in ERPNext)"
    )]
    TotalMismatch {
        sales_order: String,
        erpnext: Decimal,
        lines: Decimal,
    },
}

/// The body of `POST /orders` and the total it must come to.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopOrder {
    pub body: Value,
    pub total: Decimal,
    pub status: String,
}

fn money(value: Decimal) -> String {
    format!("{:.2}", round_money(value, 2))
}

/// The WooCommerce order for `order`. Lines by SKU (= item code); charges as shipping or untaxed
/// fee lines; the additional discount and ERPNext's rounding as fee lines; the key and the Sales
/// Order's name in the meta.
pub fn shop_order(
    order: &ErpOrder,
    products: &BTreeMap<String, ShopProduct>,
    buyer: &ShopBuyer,
    rules: &ShopOrderRules,
) -> Result<ShopOrder, ShopOrderError> {
    let mut line_items = Vec::new();
    let mut sum = Decimal::ZERO;
    for line in &order.lines {
        let Some(product) = products.get(&line.item_code) else {
            return Err(ShopOrderError::NoProduct {
                sales_order: order.name.clone(),
                item_code: line.item_code.clone(),
                item_name: line.item_name.clone(),
            });
        };
        let Some(quantity) = whole_units(line.qty) else {
            return Err(ShopOrderError::FractionalQuantity {
                sales_order: order.name.clone(),
                item_code: line.item_code.clone(),
                qty: line.qty.normalize(),
            });
        };
        let mut item = json!({
            "product_id": product.product_id,
            "quantity": quantity,
            "subtotal": money(line.amount),
            "total": money(line.amount),
        });
        if product.variation_id != 0 {
            item["variation_id"] = json!(product.variation_id);
        }
        line_items.push(item);
        sum += round_money(line.amount, 2);
    }
    let mut shipping_lines = Vec::new();
    let mut fee_lines = Vec::new();
    let untaxed_fee = |name: &str, amount: Decimal| json!({ "name": name, "total": money(amount), "tax_status": "none" });
    for charge in &order.charges {
        if charge.amount.is_zero() {
            continue;
        }
        match rules.shipping_accounts.get(&charge.account_head) {
            Some(method_id) => shipping_lines.push(json!({
                "method_id": method_id,
                "method_title": charge.description,
                "total": money(charge.amount),
            })),
            None => fee_lines.push(untaxed_fee(&charge.description, charge.amount)),
        }
        sum += round_money(charge.amount, 2);
    }
    if !order.discount_amount.is_zero() {
        fee_lines.push(untaxed_fee("Discount", -order.discount_amount));
        sum -= round_money(order.discount_amount, 2);
    }
    let rounding = order.total() - order.grand_total;
    if !rounding.is_zero() {
        fee_lines.push(untaxed_fee("Rounding", rounding));
        sum += round_money(rounding, 2);
    }
    if sum != round_money(order.total(), 2) {
        return Err(ShopOrderError::TotalMismatch {
            sales_order: order.name.clone(),
            erpnext: order.total(),
            lines: sum,
        });
    }
    let status = rules
        .status_map
        .get(&order.status)
        // Never born completed: `completed` follows from ERPNext's deliveries (write-back).
        .filter(|status| !matches!(status.as_str(), "completed" | "cancelled" | "refunded"))
        .cloned()
        .unwrap_or_else(|| "processing".to_string());
    let body = json!({
        "status": status,
        "currency": order.currency,
        "customer_id": buyer.customer_id,
        "billing": buyer.billing,
        "shipping": buyer.shipping,
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "meta_data": [
            { "key": "is_vat_exempt", "value": "yes" },
            { "key": keys::SHOP_ORDER_META, "value": keys::shop_order(&rules.connection, &order.name) },
            { "key": META_SALES_ORDER, "value": order.name },
        ],
    });
    let mut total = round_money(order.total(), 2);
    total.rescale(2);
    Ok(ShopOrder {
        body,
        total,
        status,
    })
}

/// A positive whole-unit quantity as WooCommerce takes it.
fn whole_units(qty: Decimal) -> Option<u64> {
    if qty.fract().is_zero() && qty > Decimal::ZERO {
        qty.to_u64()
    } else {
        None
    }
}

/// The SKUs the order's lines need, each once.
pub fn skus(order: &ErpOrder) -> BTreeSet<String> {
    order
        .lines
        .iter()
        .map(|line| line.item_code.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn order() -> ErpOrder {
        ErpOrder {
            name: "SAL-ORD-2026-00007".into(),
            status: "To Deliver and Bill".into(),
            currency: "USD".into(),
            grand_total: dec("37.95"),
            rounded_total: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            lines: vec![ErpLine {
                item_code: "MUG".into(),
                item_name: "Mug".into(),
                qty: dec("2"),
                amount: dec("25.00"),
            }],
            charges: vec![
                ErpCharge {
                    account_head: "Freight - TC".into(),
                    description: "Freight".into(),
                    amount: dec("10.00"),
                },
                ErpCharge {
                    account_head: "ST 6% - TC".into(),
                    description: "Sales tax".into(),
                    amount: dec("2.95"),
                },
            ],
        }
    }

    fn rules() -> ShopOrderRules {
        ShopOrderRules {
            connection: "shop".into(),
            shipping_accounts: [("Freight - TC".to_string(), "flat_rate".to_string())].into(),
            status_map: [("To Deliver and Bill".to_string(), "on-hold".to_string())].into(),
        }
    }

    fn products() -> BTreeMap<String, ShopProduct> {
        [(
            "MUG".to_string(),
            ShopProduct {
                product_id: 12,
                variation_id: 0,
            },
        )]
        .into()
    }

    fn buyer() -> ShopBuyer {
        ShopBuyer {
            customer_id: 0,
            billing: json!({"email": "a@example.test"}),
            shipping: json!({}),
        }
    }

    #[test]
    fn charges_become_shipping_and_untaxed_fee_lines_and_the_key_is_in_the_meta() {
        let made = shop_order(&order(), &products(), &buyer(), &rules()).unwrap();
        assert_eq!(made.total, dec("37.95"));
        assert_eq!(made.status, "on-hold");
        let body = made.body;
        assert_eq!(
            body["line_items"],
            json!([{"product_id": 12, "quantity": 2, "subtotal": "25.00", "total": "25.00"}])
        );
        assert_eq!(
            body["shipping_lines"],
            json!([{"method_id": "flat_rate", "method_title": "Freight", "total": "10.00"}])
        );
        assert_eq!(
            body["fee_lines"],
            json!([{"name": "Sales tax", "total": "2.95", "tax_status": "none"}])
        );
        let meta = body["meta_data"].as_array().unwrap();
        assert!(meta.contains(&json!({"key": "is_vat_exempt", "value": "yes"})));
        assert!(meta.contains(
            &json!({"key": "erpnext_sales_order_key", "value": "shop:SAL-ORD-2026-00007"})
        ));
    }

    #[test]
    fn discount_and_rounding_are_fee_lines_and_the_total_must_add_up() {
        let mut discounted = order();
        discounted.discount_amount = dec("5.00");
        discounted.grand_total = dec("32.95");
        discounted.rounded_total = dec("33.00");
        let made = shop_order(&discounted, &products(), &buyer(), &rules()).unwrap();
        assert_eq!(made.total, dec("33.00"));
        let fees = made.body["fee_lines"].as_array().unwrap().clone();
        assert_eq!(fees[1]["total"], "-5.00");
        assert_eq!(
            fees[2],
            json!({"name": "Rounding", "total": "0.05", "tax_status": "none"})
        );

        let mut wrong = order();
        wrong.grand_total = dec("40.00");
        let error = shop_order(&wrong, &products(), &buyer(), &rules()).unwrap_err();
        assert!(
            error.to_string().contains("totals 40.00 in ERPNext"),
            "{error}"
        );
        assert!(error.to_string().contains("add up to 37.95"), "{error}");
    }

    #[test]
    fn a_line_without_a_shop_product_or_in_part_units_is_refused_by_name() {
        let mut unknown = order();
        unknown.lines[0].item_code = "GHOST".into();
        let error = shop_order(&unknown, &products(), &buyer(), &rules()).unwrap_err();
        assert!(error.to_string().contains("item GHOST (Mug)"), "{error}");
        assert!(error.to_string().contains("SKU `GHOST`"), "{error}");

        let mut half = order();
        half.lines[0].qty = dec("1.5");
        let error = shop_order(&half, &products(), &buyer(), &rules()).unwrap_err();
        assert!(error.to_string().contains("quantity of 1.5"), "{error}");
    }

    #[test]
    fn a_completed_mapping_never_makes_a_born_completed_order() {
        let mut rules = rules();
        rules
            .status_map
            .insert("To Deliver and Bill".into(), "completed".into());
        let made = shop_order(&order(), &products(), &buyer(), &rules).unwrap();
        assert_eq!(made.status, "processing");
    }
}
