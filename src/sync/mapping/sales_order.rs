//! The Sales Order: item rows, one `Actual` row per tax rate, shipping and fee rows, and the
//! reconciliation with WooCommerce's total.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::amounts::{
    as_json_number, as_optional_json_number, erpnext_round, split_line, RowAmounts,
};
use super::currency::conversion_rate_from_meta;
use super::error::MappingError;
use super::items::{decode_entities, item_for_line, ItemDraft};
use super::rules::{MappingRules, ShippingTarget};
use crate::woocommerce::types::{Order, WooOrderId};

/// The description of the row that closes a difference within the tolerance.
pub const ROUNDING_ROW_DESCRIPTION: &str = "Rounding difference from WooCommerce";

/// A row of the Sales Order's `items`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOrderItem {
    pub item_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(serialize_with = "as_json_number")]
    pub qty: Decimal,
    /// After coupons; ERPNext rounds it to the currency precision, so it is sent already rounded.
    #[serde(serialize_with = "as_json_number")]
    pub rate: Decimal,
    /// Before coupons; ERPNext shows `price_list_rate − rate` as the row's discount.
    #[serde(serialize_with = "as_json_number")]
    pub price_list_rate: Decimal,
    /// 100 on a row a coupon made free, and absent otherwise: ERPNext reads a `rate` of 0 as
    /// "not given" and would charge `price_list_rate × (1 − discount_percentage)` instead.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_optional_json_number"
    )]
    pub discount_percentage: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
}

impl SalesOrderItem {
    fn new(
        item_code: &str,
        description: Option<String>,
        row: RowAmounts,
        warehouse: Option<String>,
    ) -> Self {
        let free = row.rate.is_zero() && row.price_list_rate > Decimal::ZERO;
        SalesOrderItem {
            item_code: item_code.to_string(),
            description,
            qty: row.qty,
            rate: row.rate,
            price_list_rate: row.price_list_rate,
            discount_percentage: free.then_some(Decimal::ONE_HUNDRED),
            warehouse,
        }
    }

    fn amounts(&self) -> RowAmounts {
        RowAmounts {
            qty: self.qty,
            rate: self.rate,
            price_list_rate: self.price_list_rate,
        }
    }
}

/// A row of the Sales Order's `taxes` (Sales Taxes and Charges), always `Actual`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesTaxRow {
    pub charge_type: &'static str,
    pub account_head: String,
    pub description: String,
    #[serde(serialize_with = "as_json_number")]
    pub tax_amount: Decimal,
    /// `{"<item code>": [rate percent, amount]}` as a JSON string, the shape ERPNext stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_wise_tax_detail: Option<String>,
}

impl SalesTaxRow {
    fn actual(account_head: &str, description: String, tax_amount: Decimal) -> Self {
        SalesTaxRow {
            charge_type: "Actual",
            account_head: account_head.to_string(),
            description,
            tax_amount,
            item_wise_tax_detail: None,
        }
    }
}

/// Everything of the Sales Order the order alone decides: the body of
/// `POST /api/resource/Sales Order` except the customer, the addresses and the conversion rate,
/// which [`super::OrderMapping::resolve`] adds once the sync knows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOrderDraft {
    #[serde(skip)]
    pub order_id: WooOrderId,
    /// The rate a multi-currency plugin recorded, when the order is in a foreign currency.
    #[serde(skip)]
    pub conversion_rate_from_order: Option<Decimal>,
    /// Decimal places ERPNext keeps for this order's currency.
    #[serde(skip)]
    pub currency_precision: u32,
    /// WooCommerce's `total`, which [`SalesOrderDraft::erpnext_grand_total`] equals.
    #[serde(skip)]
    pub woocommerce_total: Decimal,
    pub company: String,
    pub transaction_date: NaiveDate,
    pub delivery_date: NaiveDate,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selling_price_list: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_warehouse: Option<String>,
    /// Pricing rules would change the rates WooCommerce charged.
    pub ignore_pricing_rule: u8,
    /// The grand total must stay WooCommerce's, not be rounded to whole units.
    pub disable_rounded_total: u8,
    /// Inserted directly as submitted (transcript 96).
    pub docstatus: u8,
    /// ERPNext does not compute the status of a document it inserts already submitted (it would
    /// stay "Draft" until an invoice or delivery recomputes it); this is what a submit computes
    /// for a new Sales Order.
    pub status: &'static str,
    pub woocommerce_order_key: String,
    pub woocommerce_order_id: String,
    pub woocommerce_order_number: String,
    pub woocommerce_store: String,
    /// The order's WooCommerce status, kept up to date after import.
    pub woocommerce_status: String,
    pub woocommerce_payment_method: String,
    pub woocommerce_customer_note: String,
    /// The connection's exempt Tax Category, for an order taxed at zero for a buyer with a VAT
    /// number (ERPNext copies it to the invoice; with no Tax Rule it picks no template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_category: Option<String>,
    pub items: Vec<SalesOrderItem>,
    pub taxes: Vec<SalesTaxRow>,
}

impl SalesOrderDraft {
    /// The grand total ERPNext computes for this document: each row's `rate × qty` and each
    /// charge rounded to the currency precision, then summed.
    pub fn erpnext_grand_total(&self) -> Decimal {
        let places = self.currency_precision;
        let net_total: Decimal = self
            .items
            .iter()
            .map(|item| item.amounts().amount(places))
            .sum();
        let charges: Decimal = self
            .taxes
            .iter()
            .map(|row| erpnext_round(row.tax_amount, places))
            .sum();
        erpnext_round(net_total + charges, places)
    }

    /// What the coupons took off, as ERPNext's rows show it: Σ (price_list_rate − rate) × qty.
    pub fn item_discount_total(&self) -> Decimal {
        self.items
            .iter()
            .map(|item| (item.price_list_rate - item.rate) * item.qty)
            .sum()
    }

    /// Every item code the rows use, each once: what must exist in ERPNext before the insert.
    pub fn item_codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self
            .items
            .iter()
            .map(|item| item.item_code.clone())
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

/// The exact body of `POST /api/resource/Sales Order`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOrder {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address_name: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_optional_json_number"
    )]
    pub conversion_rate: Option<Decimal>,
    #[serde(flatten)]
    pub draft: SalesOrderDraft,
}

pub(crate) fn build_sales_order(
    order: &Order,
    rules: &MappingRules,
) -> Result<(SalesOrderDraft, Vec<ItemDraft>), MappingError> {
    let places = rules.currency_precision(&order.currency);
    // `date_created` is the store's local time, the day the shop booked the sale; an order that
    // lacks it (never seen from a real store) falls back to the UTC stamp.
    let created = order
        .date_created
        .or(order.date_created_gmt)
        .ok_or(MappingError::MissingOrderDate { order_id: order.id })?;
    let transaction_date = created.date();
    let delivery_date = transaction_date
        .checked_add_days(Days::new(u64::from(rules.delivery_lead_days)))
        .unwrap_or(transaction_date);

    let mut items = Vec::new();
    let mut item_drafts: BTreeMap<String, ItemDraft> = BTreeMap::new();
    // tax rate id → item code → that item's tax under the rate
    let mut item_taxes: BTreeMap<u64, BTreeMap<String, Decimal>> = BTreeMap::new();
    for line in &order.line_items {
        if line.quantity.is_zero() && line.total.is_zero() && line.subtotal.is_zero() {
            continue;
        }
        let item = item_for_line(order, line, rules)?;
        let whole_quantity = line.quantity > Decimal::ZERO && line.quantity.fract().is_zero();
        let description = match (&item.description, whole_quantity) {
            (description, true) => description.clone(),
            (description, false) => Some(format!(
                "{} × {} (WooCommerce quantity)",
                description
                    .clone()
                    .unwrap_or_else(|| decode_entities(&line.name)),
                line.quantity.normalize()
            )),
        };
        for row in split_line(line.quantity, line.subtotal, line.total, places) {
            items.push(SalesOrderItem::new(
                &item.item_code,
                description.clone(),
                row,
                rules.warehouse.clone(),
            ));
        }
        for share in &line.taxes {
            *item_taxes
                .entry(share.id)
                .or_default()
                .entry(item.item_code.clone())
                .or_default() += share.total;
        }
        if let Some(draft) = item.draft {
            item_drafts.entry(draft.item_code.clone()).or_insert(draft);
        }
    }

    let mut taxes = Vec::new();
    for tax_line in &order.tax_lines {
        let amount = erpnext_round(tax_line.tax_total + tax_line.shipping_tax_total, places);
        if amount.is_zero() {
            continue;
        }
        let account = rules
            .tax_accounts
            .get(&tax_line.rate_id)
            .or(rules.default_tax_account.as_ref())
            .ok_or_else(|| MappingError::UnmappedTaxRate {
                order_id: order.id,
                rate_id: tax_line.rate_id,
                label: tax_line.label.clone(),
                rate_code: tax_line.rate_code.clone(),
            })?;
        // ERPNext requires a description on every charge row.
        let description = [&tax_line.label, &tax_line.rate_code]
            .into_iter()
            .map(|text| decode_entities(text.trim()))
            .find(|text| !text.is_empty())
            .unwrap_or_else(|| format!("Tax rate {}", tax_line.rate_id));
        let mut row = SalesTaxRow::actual(account, description, amount);
        row.item_wise_tax_detail = Some(item_wise_tax_detail(
            tax_line.rate_percent.unwrap_or_default(),
            item_taxes.get(&tax_line.rate_id),
        ));
        taxes.push(row);
    }

    for shipping in &order.shipping_lines {
        let amount = erpnext_round(shipping.total, places);
        if amount.is_zero() {
            continue;
        }
        let title = [&shipping.method_title, &shipping.method_id]
            .into_iter()
            .map(|text| decode_entities(text.trim()))
            .find(|text| !text.is_empty())
            .unwrap_or_else(|| "WooCommerce shipping".to_string());
        let target = rules
            .shipping
            .get(&shipping.method_id)
            .cloned()
            .or_else(|| {
                rules
                    .default_shipping_account
                    .clone()
                    .map(ShippingTarget::Account)
            })
            .ok_or_else(|| MappingError::UnmappedShippingMethod {
                order_id: order.id,
                method_id: shipping.method_id.clone(),
                method_title: title.clone(),
            })?;
        match target {
            ShippingTarget::Account(account) => taxes.push(SalesTaxRow::actual(
                &account,
                format!("Shipping ({title})"),
                amount,
            )),
            ShippingTarget::Item(item_code) => items.push(SalesOrderItem::new(
                &item_code,
                Some(format!("Shipping ({title})")),
                RowAmounts {
                    qty: Decimal::ONE,
                    rate: amount,
                    price_list_rate: amount,
                },
                rules.warehouse.clone(),
            )),
        }
    }

    for fee in &order.fee_lines {
        let amount = erpnext_round(fee.total, places);
        if amount.is_zero() {
            continue;
        }
        let name = Some(decode_entities(fee.name.trim()))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "WooCommerce fee".to_string());
        let account = rules
            .fee_account
            .as_ref()
            .ok_or_else(|| MappingError::NoFeeAccount {
                order_id: order.id,
                fee_name: name.clone(),
                amount,
            })?;
        taxes.push(SalesTaxRow::actual(account, name, amount));
    }

    if items.is_empty() {
        return Err(MappingError::NoLineItems { order_id: order.id });
    }

    let mut draft = SalesOrderDraft {
        order_id: order.id,
        conversion_rate_from_order: conversion_rate_from_meta(order, &rules.company_currency)?,
        currency_precision: places,
        woocommerce_total: order.total,
        company: rules.company.clone(),
        transaction_date,
        delivery_date,
        currency: order.currency.clone(),
        selling_price_list: rules.price_list.clone(),
        set_warehouse: rules.warehouse.clone(),
        ignore_pricing_rule: 1,
        disable_rounded_total: 1,
        docstatus: 1,
        status: SUBMITTED_STATUS,
        woocommerce_order_key: format!("{}:{}", rules.connection_name, order.id),
        woocommerce_order_id: order.id.to_string(),
        woocommerce_order_number: if order.number.is_empty() {
            order.id.to_string()
        } else {
            order.number.clone()
        },
        woocommerce_store: rules.connection_name.clone(),
        woocommerce_status: order.status.clone(),
        woocommerce_payment_method: order.payment_method.clone(),
        woocommerce_customer_note: super::fields::fit_bytes(
            &order.customer_note,
            super::fields::TEXT_BYTES,
        ),
        tax_category: exempt_tax_category(order, rules),
        items,
        taxes,
    };
    reconcile(&mut draft, rules)?;
    Ok((draft, item_drafts.into_values().collect()))
}

/// The exempt Tax Category when the order is a zero-taxed sale to a buyer with a VAT number: a
/// B2B sale WooCommerce did not tax (zero-rated, reverse charge).
fn exempt_tax_category(order: &Order, rules: &MappingRules) -> Option<String> {
    let category = rules.exempt_tax_category.as_ref()?;
    let zero_taxed = order.total_tax.is_zero() && order.total > Decimal::ZERO;
    (zero_taxed && super::customer::vat_number(order, rules).is_some()).then(|| category.clone())
}

/// The status ERPNext gives a Sales Order when it is submitted: nothing delivered, nothing billed.
pub const SUBMITTED_STATUS: &str = "To Deliver and Bill";

/// Makes the draft's ERPNext total equal WooCommerce's, with a rounding row when the difference is
/// within the tolerance, or says by how much it misses.
fn reconcile(draft: &mut SalesOrderDraft, rules: &MappingRules) -> Result<(), MappingError> {
    let erpnext_total = draft.erpnext_grand_total();
    let difference = draft.woocommerce_total - erpnext_total;
    if difference.is_zero() {
        return Ok(());
    }
    if difference.abs() > rules.rounding_tolerance {
        return Err(MappingError::TotalsDoNotReconcile {
            order_id: draft.order_id,
            erpnext_total,
            woocommerce_total: draft.woocommerce_total,
            difference: difference.abs(),
            tolerance: rules.rounding_tolerance,
        });
    }
    let account = rules
        .rounding_account
        .as_ref()
        .ok_or(MappingError::NoRoundingAccount {
            order_id: draft.order_id,
            erpnext_total,
            woocommerce_total: draft.woocommerce_total,
            difference: difference.abs(),
        })?;
    draft.taxes.push(SalesTaxRow::actual(
        account,
        ROUNDING_ROW_DESCRIPTION.to_string(),
        erpnext_round(difference, draft.currency_precision),
    ));
    // A WooCommerce total finer than ERPNext's precision cannot be met by any row.
    let closed_total = draft.erpnext_grand_total();
    if closed_total != draft.woocommerce_total {
        return Err(MappingError::TotalFinerThanCurrency {
            order_id: draft.order_id,
            woocommerce_total: draft.woocommerce_total,
            currency: draft.currency.clone(),
            places: draft.currency_precision,
        });
    }
    Ok(())
}

fn item_wise_tax_detail(
    rate_percent: Decimal,
    shares: Option<&BTreeMap<String, Decimal>>,
) -> String {
    use rust_decimal::prelude::ToPrimitive;
    let percent = rate_percent.to_f64().unwrap_or_default();
    let detail: serde_json::Map<String, serde_json::Value> = shares
        .into_iter()
        .flatten()
        .map(|(code, amount)| {
            (
                code.clone(),
                serde_json::json!([percent, amount.to_f64().unwrap_or_default()]),
            )
        })
        .collect();
    serde_json::Value::Object(detail).to_string()
}
