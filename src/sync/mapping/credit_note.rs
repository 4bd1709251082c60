//! Credit notes: which rows a WooCommerce refund (or a cancellation) becomes on a Sales Invoice
//! return, for exactly the refunded amount. Pure: the invoice's rows come in as data.
//!
//! Two ways, chosen per refund:
//!
//! * **Refunded lines.** A refund that names lines (items, shipping, fees, with their taxes)
//!   returns those lines: each refunded item line becomes rows of its item at the refunded
//!   quantity and amount (split like the Sales Order so every rate is exact, and never dearer than
//!   the invoice row it returns against); shipping and fees go back on their accounts; the taxes
//!   on each rate's account. A cent or two of difference from WooCommerce's `amount` (within the
//!   connection's tolerance) becomes the usual rounding row.
//! * **Amount only.** A refund of an amount without lines (a goodwill refund), a refund whose lines
//!   do not add up to its amount, and the reversal of a cancelled order: the amount is split over
//!   the invoice in proportion — each charge row (tax, shipping, fee) gives back its share, and the
//!   rest, the net, is returned against the item rows from the largest down: whole rows while the
//!   net lasts, then part of the next row at a rate no dearer than it was sold. ERPNext refuses a
//!   return that gives back more of a row than was sold, or at a higher rate; rows returned by
//!   earlier credit notes are therefore left out (`already_returned`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::amounts::{as_json_number, erpnext_round, split_line};
use super::error::MappingError;
use super::items::item_for_line;
use super::rules::{MappingRules, ShippingTarget};
use super::sales_order::ROUNDING_ROW_DESCRIPTION;
use crate::woocommerce::types::{MetaData, Order, Refund};

/// An item row of the submitted Sales Invoice a credit note returns against.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceItemRow {
    /// The row's `name`, which a return row names in `sales_invoice_item`.
    pub name: String,
    pub item_code: String,
    pub qty: Decimal,
    pub rate: Decimal,
}

/// A charge row (`Actual` tax, shipping, fee, rounding) of that invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceChargeRow {
    pub account_head: String,
    pub description: String,
    pub tax_amount: Decimal,
}

/// What a credit note needs to know of the invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRows {
    pub items: Vec<InvoiceItemRow>,
    pub charges: Vec<InvoiceChargeRow>,
    pub grand_total: Decimal,
    /// Decimal places of the invoice's currency.
    pub places: u32,
}

/// A return row: negative quantity, positive rate, as ERPNext wants them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditItem {
    pub item_code: String,
    #[serde(serialize_with = "as_json_number")]
    pub qty: Decimal,
    #[serde(serialize_with = "as_json_number")]
    pub rate: Decimal,
    /// The invoice row it returns against.
    pub sales_invoice_item: String,
}

/// A charge given back: an `Actual` row with a negative amount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditCharge {
    pub account_head: String,
    pub description: String,
    #[serde(serialize_with = "as_json_number")]
    pub tax_amount: Decimal,
}

/// How the rows were found; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditBasis {
    RefundedLines,
    AmountOnly,
}

/// The rows of one credit note.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditNoteRows {
    pub basis: CreditBasis,
    pub items: Vec<CreditItem>,
    pub charges: Vec<CreditCharge>,
}

impl CreditNoteRows {
    /// The credit note's grand total as ERPNext computes it (negative).
    pub fn grand_total(&self, places: u32) -> Decimal {
        let net: Decimal = self
            .items
            .iter()
            .map(|item| erpnext_round(erpnext_round(item.rate, places) * item.qty, places))
            .sum();
        let charges: Decimal = self
            .charges
            .iter()
            .map(|charge| erpnext_round(charge.tax_amount, places))
            .sum();
        erpnext_round(net + charges, places)
    }
}

/// Why no credit note can be made, said so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreditNoteError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("refund {refund_id} of order {order_id} gives back {amount}, more than the {creditable} its invoice still has to credit; check the refund in WooCommerce and the credit notes in ERPNext")]
    MoreThanInvoiced {
        order_id: u64,
        refund_id: u64,
        amount: Decimal,
        creditable: Decimal,
    },
    #[error("refund {refund_id} of order {order_id} returns item {item_code}, which its Sales Invoice does not bill; return the line by hand in ERPNext")]
    ItemNotInvoiced {
        order_id: u64,
        refund_id: u64,
        item_code: String,
    },
    #[error("refund {refund_id} of order {order_id} misses its amount {amount} by {difference} after rounding, and the connection has no rounding account to close it; set a rounding account in the connection's settings")]
    NoRoundingAccount {
        order_id: u64,
        refund_id: u64,
        amount: Decimal,
        difference: Decimal,
    },
}

/// Which refund or cancellation a credit note is for, for the error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditFor {
    pub order_id: u64,
    /// The refund id; the order id again for a cancellation.
    pub refund_id: u64,
}

/// What earlier credit notes against the invoice gave back: the quantity of each invoice row (by
/// row name), the amount of each charge account, and the total (all positive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlreadyReturned {
    pub quantities: BTreeMap<String, Decimal>,
    pub charges: BTreeMap<String, Decimal>,
    /// Their grand totals together (positive).
    pub credited: Decimal,
}

/// The rows of the credit note for `refund` of `order`.
pub fn credit_note_for_refund(
    order: &Order,
    refund: &Refund,
    invoice: &InvoiceRows,
    already_returned: &AlreadyReturned,
    rules: &MappingRules,
) -> Result<CreditNoteRows, CreditNoteError> {
    let about = CreditFor {
        order_id: order.id,
        refund_id: refund.id,
    };
    let has_lines = refund
        .line_items
        .iter()
        .any(|line| !line.quantity.is_zero() || !line.total.is_zero());
    if has_lines {
        if let Some(rows) = refunded_lines(order, refund, invoice, already_returned, rules, about)?
        {
            return Ok(rows);
        }
    }
    credit_note_for_amount(refund.amount, invoice, already_returned, rules, about)
}

/// The rows that give back `amount` (positive) of the invoice in proportion; a cancellation
/// passes what is left to credit.
pub fn credit_note_for_amount(
    amount: Decimal,
    invoice: &InvoiceRows,
    already_returned: &AlreadyReturned,
    rules: &MappingRules,
    about: CreditFor,
) -> Result<CreditNoteRows, CreditNoteError> {
    let places = invoice.places;
    let amount = erpnext_round(amount, places);
    let quantities = &already_returned.quantities;
    // Each charge row's part not given back yet; earlier credit notes are charged off per account.
    let mut credited = already_returned.charges.clone();
    let open_charges: Vec<(&InvoiceChargeRow, Decimal)> = invoice
        .charges
        .iter()
        .map(|charge| {
            let taken = credited.entry(charge.account_head.clone()).or_default();
            let part = if charge.tax_amount >= Decimal::ZERO {
                (*taken).min(charge.tax_amount)
            } else {
                Decimal::ZERO
            };
            *taken -= part;
            (charge, charge.tax_amount - part)
        })
        .collect();
    let creditable = invoice.grand_total - already_returned.credited;
    if amount > creditable || creditable <= Decimal::ZERO {
        return Err(CreditNoteError::MoreThanInvoiced {
            order_id: about.order_id,
            refund_id: about.refund_id,
            amount,
            creditable,
        });
    }
    let share = amount / creditable;
    let mut charges = Vec::new();
    for (charge, open) in open_charges {
        let part = erpnext_round(open * share, places);
        if !part.is_zero() {
            charges.push(CreditCharge {
                account_head: charge.account_head.clone(),
                description: charge.description.clone(),
                tax_amount: -part,
            });
        }
    }
    let charged: Decimal = charges.iter().map(|charge| -charge.tax_amount).sum();
    let net = amount - charged;
    let items = match net_against_rows(net, invoice, quantities) {
        Some(items) => items,
        // Earlier amount-only credit notes returned whole units at lower rates, so the open
        // quantities cannot carry the net: return against the sold quantities instead.
        None => net_against_rows(net, invoice, &BTreeMap::new()).ok_or(
            CreditNoteError::MoreThanInvoiced {
                order_id: about.order_id,
                refund_id: about.refund_id,
                amount,
                creditable,
            },
        )?,
    };
    let mut rows = CreditNoteRows {
        basis: CreditBasis::AmountOnly,
        items,
        charges,
    };
    close_difference(&mut rows, amount, places, rules, about)?;
    Ok(rows)
}

/// Item rows for `net` from the largest open row down: whole rows while the net lasts, then part
/// of the next at a rate no dearer than it was sold; `None` when the open rows cannot carry it.
fn net_against_rows(
    net: Decimal,
    invoice: &InvoiceRows,
    quantities: &BTreeMap<String, Decimal>,
) -> Option<Vec<CreditItem>> {
    let places = invoice.places;
    let mut net = net;
    let mut rows: Vec<&InvoiceItemRow> = invoice.items.iter().collect();
    rows.sort_by(|a, b| {
        let amount_a = a.rate * open_qty(a, quantities);
        let amount_b = b.rate * open_qty(b, quantities);
        amount_b.cmp(&amount_a)
    });
    let mut items = Vec::new();
    for row in rows {
        if net <= Decimal::ZERO {
            break;
        }
        let open = open_qty(row, quantities);
        if open <= Decimal::ZERO || row.rate <= Decimal::ZERO {
            continue;
        }
        let whole = erpnext_round(row.rate * open, places);
        if net >= whole {
            items.push(credit_item(row, open, row.rate));
            net -= whole;
            continue;
        }
        // Part of the row: as few units as keep the rate at or under the row's.
        let units = (net / row.rate).ceil().max(Decimal::ONE).min(open);
        for part in split_line(units, net, net, places) {
            items.push(credit_item(row, part.qty, part.rate));
        }
        net = Decimal::ZERO;
    }
    (net <= Decimal::ZERO && !items.is_empty()).then_some(items)
}

/// The rows that return the refund's own lines, or `None` when they do not account for its amount.
fn refunded_lines(
    order: &Order,
    refund: &Refund,
    invoice: &InvoiceRows,
    already_returned: &AlreadyReturned,
    rules: &MappingRules,
    about: CreditFor,
) -> Result<Option<CreditNoteRows>, CreditNoteError> {
    let places = invoice.places;
    let mut used: BTreeMap<String, Decimal> = already_returned.quantities.clone();
    let mut items = Vec::new();
    for line in &refund.line_items {
        let quantity = line.quantity.abs();
        let total = erpnext_round(line.total.abs(), places);
        if quantity.is_zero() && total.is_zero() {
            continue;
        }
        let original = refunded_item_id(&line.meta_data)
            .and_then(|id| order.line_items.iter().find(|candidate| candidate.id == id))
            .unwrap_or(line);
        let item_code = item_for_line(order, original, rules)?.item_code;
        let subtotal = match line.subtotal.abs() {
            subtotal if subtotal.is_zero() => total,
            subtotal => subtotal,
        };
        let parts = if quantity.is_zero() {
            split_line(Decimal::ONE, total, total, places)
        } else {
            split_line(quantity, subtotal, total, places)
        };
        for part in parts {
            let row = pick_row(&invoice.items, &item_code, part.qty, part.rate, &used).ok_or_else(
                || CreditNoteError::ItemNotInvoiced {
                    order_id: about.order_id,
                    refund_id: about.refund_id,
                    item_code: item_code.clone(),
                },
            )?;
            *used.entry(row.name.clone()).or_default() += part.qty;
            items.push(credit_item(row, part.qty, part.rate));
        }
    }
    let mut charges = Vec::new();
    for shipping in &refund.shipping_lines {
        let amount = erpnext_round(shipping.total.abs(), places);
        if amount.is_zero() {
            continue;
        }
        // Refunded shipping lines often come without their method: the order's line tells it.
        let original = order
            .shipping_lines
            .iter()
            .find(|candidate| candidate.method_id == shipping.method_id)
            .or(order.shipping_lines.first());
        let method_id = if shipping.method_id.is_empty() {
            original
                .map(|line| line.method_id.clone())
                .unwrap_or_default()
        } else {
            shipping.method_id.clone()
        };
        let target = rules.shipping.get(&method_id).cloned().or_else(|| {
            rules
                .default_shipping_account
                .clone()
                .map(ShippingTarget::Account)
        });
        let title = [&shipping.method_title, &method_id]
            .into_iter()
            .find(|text| !text.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| "WooCommerce shipping".to_string());
        match target {
            Some(ShippingTarget::Account(account)) => charges.push(CreditCharge {
                account_head: account,
                description: format!("Shipping ({title})"),
                tax_amount: -amount,
            }),
            Some(ShippingTarget::Item(item_code)) => {
                let row = pick_row(&invoice.items, &item_code, Decimal::ONE, amount, &used)
                    .ok_or_else(|| CreditNoteError::ItemNotInvoiced {
                        order_id: about.order_id,
                        refund_id: about.refund_id,
                        item_code: item_code.clone(),
                    })?;
                *used.entry(row.name.clone()).or_default() += Decimal::ONE;
                items.push(credit_item(row, Decimal::ONE, amount));
            }
            None => {
                return Err(MappingError::UnmappedShippingMethod {
                    order_id: order.id,
                    method_id,
                    method_title: title,
                }
                .into())
            }
        }
    }
    for fee in &refund.fee_lines {
        let amount = erpnext_round(fee.total.abs(), places);
        if amount.is_zero() {
            continue;
        }
        let account = rules
            .fee_account
            .clone()
            .ok_or_else(|| MappingError::NoFeeAccount {
                order_id: order.id,
                fee_name: fee.name.clone(),
                amount,
            })?;
        let description = Some(fee.name.trim().to_string())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "WooCommerce fee".to_string());
        charges.push(CreditCharge {
            account_head: account,
            description,
            tax_amount: -amount,
        });
    }
    for (rate_id, amount) in refunded_taxes(refund) {
        let amount = erpnext_round(amount.abs(), places);
        if amount.is_zero() {
            continue;
        }
        let tax_line = refund
            .tax_lines
            .iter()
            .chain(order.tax_lines.iter())
            .find(|line| line.rate_id == rate_id);
        let account = rules
            .tax_accounts
            .get(&rate_id)
            .or(rules.default_tax_account.as_ref())
            .ok_or_else(|| MappingError::UnmappedTaxRate {
                order_id: order.id,
                rate_id,
                label: tax_line.map(|line| line.label.clone()).unwrap_or_default(),
                rate_code: tax_line
                    .map(|line| line.rate_code.clone())
                    .unwrap_or_default(),
            })?;
        let description = tax_line
            .map(|line| line.label.trim().to_string())
            .filter(|label| !label.is_empty())
            .unwrap_or_else(|| format!("Tax rate {rate_id}"));
        charges.push(CreditCharge {
            account_head: account.clone(),
            description,
            tax_amount: -amount,
        });
    }
    if items.is_empty() {
        // ERPNext wants at least one returned item; a refund of only shipping or taxes is
        // given back in proportion instead.
        return Ok(None);
    }
    let mut rows = CreditNoteRows {
        basis: CreditBasis::RefundedLines,
        items,
        charges,
    };
    let amount = erpnext_round(refund.amount, places);
    let difference = (-amount - rows.grand_total(places)).abs();
    if difference > rules.rounding_tolerance {
        return Ok(None);
    }
    close_difference(&mut rows, amount, places, rules, about)?;
    Ok(Some(rows))
}

/// Tax given back per WooCommerce rate id: from the refunded lines' shares, or from the refund's
/// `tax_lines` when the lines carry none.
fn refunded_taxes(refund: &Refund) -> BTreeMap<u64, Decimal> {
    let mut by_rate: BTreeMap<u64, Decimal> = BTreeMap::new();
    let shares = refund
        .line_items
        .iter()
        .flat_map(|line| line.taxes.iter())
        .chain(
            refund
                .shipping_lines
                .iter()
                .flat_map(|line| line.taxes.iter()),
        )
        .chain(refund.fee_lines.iter().flat_map(|line| line.taxes.iter()));
    for share in shares {
        *by_rate.entry(share.id).or_default() += share.total;
    }
    if by_rate.values().all(Decimal::is_zero) {
        by_rate.clear();
        for line in &refund.tax_lines {
            *by_rate.entry(line.rate_id).or_default() += line.tax_total + line.shipping_tax_total;
        }
    }
    by_rate
}

/// Adds the rounding row that makes the credit note give back exactly `amount`.
fn close_difference(
    rows: &mut CreditNoteRows,
    amount: Decimal,
    places: u32,
    rules: &MappingRules,
    about: CreditFor,
) -> Result<(), CreditNoteError> {
    let difference = -amount - rows.grand_total(places);
    if difference.is_zero() {
        return Ok(());
    }
    let account = rules
        .rounding_account
        .clone()
        .ok_or(CreditNoteError::NoRoundingAccount {
            order_id: about.order_id,
            refund_id: about.refund_id,
            amount,
            difference: difference.abs(),
        })?;
    rows.charges.push(CreditCharge {
        account_head: account,
        description: ROUNDING_ROW_DESCRIPTION.to_string(),
        tax_amount: difference,
    });
    Ok(())
}

/// The invoice row to return `qty` of `item_code` at `rate` against: one that still has the
/// quantity and was sold at that rate or dearer, else any row of the item.
fn pick_row<'a>(
    rows: &'a [InvoiceItemRow],
    item_code: &str,
    qty: Decimal,
    rate: Decimal,
    used: &BTreeMap<String, Decimal>,
) -> Option<&'a InvoiceItemRow> {
    let of_item = || rows.iter().filter(move |row| row.item_code == item_code);
    of_item()
        .find(|row| row.rate >= rate && open_qty(row, used) >= qty)
        .or_else(|| of_item().find(|row| open_qty(row, used) >= qty))
        .or_else(|| of_item().next())
}

fn open_qty(row: &InvoiceItemRow, returned: &BTreeMap<String, Decimal>) -> Decimal {
    row.qty - returned.get(&row.name).copied().unwrap_or_default()
}

fn credit_item(row: &InvoiceItemRow, qty: Decimal, rate: Decimal) -> CreditItem {
    CreditItem {
        item_code: row.item_code.clone(),
        qty: -qty,
        rate,
        sales_invoice_item: row.name.clone(),
    }
}

/// The order line a refund line gives back (`_refunded_item_id`, a string or a number).
fn refunded_item_id(meta: &[MetaData]) -> Option<u64> {
    meta.iter()
        .find(|entry| entry.key == "_refunded_item_id")
        .and_then(|entry| match &entry.value {
            serde_json::Value::String(text) => text.parse().ok(),
            serde_json::Value::Number(number) => number.as_u64(),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::mapping::map_order;

    fn snapshot_order(id: u64) -> Order {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/woocommerce-real/store-snapshot/orders.json"
        );
        let orders: Vec<Order> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        orders.into_iter().find(|order| order.id == id).unwrap()
    }

    fn snapshot_refunds(order_id: u64) -> Vec<Refund> {
        let path = format!(
            "{}/tests/fixtures/woocommerce-real/store-snapshot/refunds/{order_id}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn rules() -> MappingRules {
        let mut rules = MappingRules::new("shop", "Test Company", "USD");
        rules.tax_accounts.insert(1, "ST 6.25% - TC".into());
        rules.tax_accounts.insert(2, "ST 4% - TC".into());
        rules.default_tax_account = Some("ST 6% - TC".into());
        rules.default_shipping_account = Some("Freight - TC".into());
        rules.fee_account = Some("Fees - TC".into());
        rules.rounding_account = Some("Round Off - TC".into());
        rules.rounding_tolerance = Decimal::new(1, 2);
        rules
    }

    /// The invoice ERPNext's `make_sales_invoice` makes of the order's Sales Order.
    fn invoice_of(order: &Order, rules: &MappingRules) -> InvoiceRows {
        let mapping = map_order(order, rules, &|code: &str| Some(code.to_string())).unwrap();
        let draft = mapping.sales_order;
        InvoiceRows {
            items: draft
                .items
                .iter()
                .enumerate()
                .map(|(index, item)| InvoiceItemRow {
                    name: format!("row-{index}"),
                    item_code: item.item_code.clone(),
                    qty: item.qty,
                    rate: item.rate,
                })
                .collect(),
            charges: draft
                .taxes
                .iter()
                .map(|tax| InvoiceChargeRow {
                    account_head: tax.account_head.clone(),
                    description: tax.description.clone(),
                    tax_amount: tax.tax_amount,
                })
                .collect(),
            grand_total: draft.erpnext_grand_total(),
            places: 2,
        }
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_refunded_mug_returns_one_mug_and_its_two_taxes() {
        let rules = rules();
        let order = snapshot_order(17);
        let refund = &snapshot_refunds(17)[0];
        let invoice = invoice_of(&order, &rules);
        let rows = credit_note_for_refund(
            &order,
            refund,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
        )
        .unwrap();
        assert_eq!(rows.basis, CreditBasis::RefundedLines);
        assert_eq!(rows.grand_total(2), d("-12.18"));
        assert_eq!(rows.items.len(), 1);
        assert_eq!(rows.items[0].item_code, "LAB-MUG");
        assert_eq!(
            (rows.items[0].qty, rows.items[0].rate),
            (d("-1"), d("11.25"))
        );
        let taxes: Vec<(&str, Decimal)> = rows
            .charges
            .iter()
            .map(|charge| (charge.account_head.as_str(), charge.tax_amount))
            .collect();
        assert_eq!(
            taxes,
            vec![("ST 6.25% - TC", d("-0.81")), ("ST 4% - TC", d("-0.12"))]
        );
    }

    #[test]
    fn a_goodwill_refund_is_given_back_in_proportion_to_the_cent() {
        let rules = rules();
        let order = snapshot_order(21);
        let refund = &snapshot_refunds(21)[0];
        let invoice = invoice_of(&order, &rules);
        let rows = credit_note_for_refund(
            &order,
            refund,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
        )
        .unwrap();
        assert_eq!(rows.basis, CreditBasis::AmountOnly);
        assert_eq!(rows.grand_total(2), d("-5.00"));
        for item in &rows.items {
            let sold = invoice
                .items
                .iter()
                .find(|row| row.name == item.sales_invoice_item)
                .unwrap();
            assert!(
                item.qty < Decimal::ZERO && -item.qty <= sold.qty,
                "{item:?}"
            );
            assert!(item.rate <= sold.rate, "{item:?} dearer than {sold:?}");
        }
        // The taxes give back their share of 5.00 / 70.66.
        assert!(rows
            .charges
            .iter()
            .all(|charge| charge.tax_amount < Decimal::ZERO));
    }

    #[test]
    fn a_cancellation_gives_back_the_whole_invoice_row_by_row() {
        let rules = rules();
        let order = snapshot_order(17);
        let invoice = invoice_of(&order, &rules);
        let about = CreditFor {
            order_id: 17,
            refund_id: 17,
        };
        let rows = credit_note_for_amount(
            order.total,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
            about,
        )
        .unwrap();
        assert_eq!(rows.grand_total(2), -order.total);
        assert_eq!(rows.items.len(), invoice.items.len());
        for (item, sold) in rows.items.iter().zip(&invoice.items) {
            assert_eq!((item.qty, item.rate), (-sold.qty, sold.rate));
        }
        assert_eq!(rows.charges.len(), invoice.charges.len());
    }

    #[test]
    fn what_earlier_credit_notes_returned_is_not_returned_again() {
        let rules = rules();
        let order = snapshot_order(17);
        let refund = &snapshot_refunds(17)[0];
        let invoice = invoice_of(&order, &rules);
        let first = credit_note_for_refund(
            &order,
            refund,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
        )
        .unwrap();
        let mut returned = AlreadyReturned::default();
        for item in &first.items {
            *returned
                .quantities
                .entry(item.sales_invoice_item.clone())
                .or_insert(Decimal::ZERO) -= item.qty;
        }
        for charge in &first.charges {
            *returned
                .charges
                .entry(charge.account_head.clone())
                .or_insert(Decimal::ZERO) -= charge.tax_amount;
        }
        returned.credited = -first.grand_total(2);
        let about = CreditFor {
            order_id: 17,
            refund_id: 17,
        };
        let rest =
            credit_note_for_amount(order.total - d("12.18"), &invoice, &returned, &rules, about)
                .unwrap();
        assert_eq!(rest.grand_total(2), d("12.18") - order.total);
        let mut total_returned = returned.quantities.clone();
        for item in &rest.items {
            *total_returned
                .entry(item.sales_invoice_item.clone())
                .or_insert(Decimal::ZERO) -= item.qty;
        }
        for row in &invoice.items {
            assert!(total_returned.get(&row.name).copied().unwrap_or_default() <= row.qty);
        }
        let more = credit_note_for_amount(d("1000"), &invoice, &returned, &rules, about);
        assert!(matches!(
            more,
            Err(CreditNoteError::MoreThanInvoiced { .. })
        ));
    }

    #[test]
    fn a_cent_between_the_lines_and_the_amount_becomes_a_rounding_row() {
        let rules = rules();
        let order = snapshot_order(17);
        let mut refund = snapshot_refunds(17)[0].clone();
        refund.amount = d("12.19");
        let invoice = invoice_of(&order, &rules);
        let rows = credit_note_for_refund(
            &order,
            &refund,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
        )
        .unwrap();
        assert_eq!(rows.basis, CreditBasis::RefundedLines);
        assert_eq!(rows.grand_total(2), d("-12.19"));
        let rounding = rows.charges.last().unwrap();
        assert_eq!(
            (rounding.account_head.as_str(), rounding.tax_amount),
            ("Round Off - TC", d("-0.01"))
        );
    }

    #[test]
    fn lines_that_miss_the_amount_give_back_the_amount_in_proportion() {
        let rules = rules();
        let order = snapshot_order(17);
        let mut refund = snapshot_refunds(17)[0].clone();
        refund.amount = d("20.00");
        let invoice = invoice_of(&order, &rules);
        let rows = credit_note_for_refund(
            &order,
            &refund,
            &invoice,
            &AlreadyReturned::default(),
            &rules,
        )
        .unwrap();
        assert_eq!(rows.basis, CreditBasis::AmountOnly);
        assert_eq!(rows.grand_total(2), d("-20.00"));
    }
}
