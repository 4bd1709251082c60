//! Sales Order: validated as a selling document with a delivery date, a payment schedule and
//! the purchase-order-number clash check; submitting checks the customer's credit limit,
//! computes its status and reserves stock; cancelling is refused while a submitted invoice bills
//! it. Also what billing does to an order (`bill`), and its status (`status`).

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::sales_invoice::INVOICES_BY_ORDER;
use super::{bin, DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::{party, selling};
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::SITE_URL_FOR_MESSAGES;
use crate::simulators::erpnext::values::{
    field_decimal, flt, int_of, rows, set_float, text_of, Doc,
};

const SERIES: &str = "SAL-ORD-.YYYY.-";

/// Sales Orders by (customer, purchase order number).
const ORDERS_BY_PO: &str = "Sales Order by customer's purchase order";

fn po_key(customer: &str, po_no: &str) -> String {
    format!("{customer}\u{1f}{po_no}")
}

/// An order's rows carry its delivery and order dates; its rates become item prices.
const SELLING: selling::SellingDocument = selling::SellingDocument {
    date_field: "transaction_date",
    adds_item_prices: true,
    row_defaults: |row, doc, date| {
        if text_of(row, "delivery_date").is_empty() {
            row.insert(
                "delivery_date".into(),
                doc.get("delivery_date").cloned().unwrap_or(Value::Null),
            );
        }
        row.insert("transaction_date".into(), json!(date));
    },
};

pub(crate) struct SalesOrder;

impl DoctypeRules for SalesOrder {
    fn doctype(&self) -> &'static str {
        "Sales Order"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("items", "Sales Order Item"),
            ("taxes", "Sales Taxes and Charges"),
            ("payment_schedule", "Payment Schedule"),
            ("packed_items", "Packed Item"),
            ("sales_team", "Sales Team"),
            ("pricing_rules", "Pricing Rule Detail"),
        ]
    }

    fn link_keys(&self, doc: &Doc) -> Vec<(&'static str, String)> {
        let po_no = text_of(doc, "po_no");
        if po_no.is_empty() {
            return Vec::new();
        }
        vec![(ORDERS_BY_PO, po_key(&text_of(doc, "customer"), &po_no))]
    }

    fn provisional_name(&self, site: &Site, _doc: &Doc) -> String {
        site.peek_series(SERIES)
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        validate(site, doc, None, notes)?;
        let naming = text_of(doc, "naming_series");
        Ok(Naming::Series(if naming.is_empty() {
            SERIES.to_string()
        } else {
            naming
        }))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        name: &str,
        _current: &Doc,
        doc: &mut Doc,
        notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        validate(site, doc, Some(name), notes)?;
        // `set_status` on a saved draft; a submit sets it in on_submit.
        doc.insert("status".into(), json!("Draft"));
        Ok(())
    }

    fn before_submit(&self, site: &Site, doc: &Doc) -> Result<(), SiteError> {
        check_credit_limit(site, doc)
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        mut doc: Doc,
        inserted: bool,
    ) -> Result<(), SiteError> {
        // `StatusUpdater.set_status` returns early on a new document: an order inserted
        // submitted keeps the status its body gave ("Draft" by default).
        if !inserted {
            let status = status(&doc);
            doc.insert("status".into(), json!(status));
        }
        reserve_stock(site, &doc, Decimal::ONE);
        site.store(self.doctype(), name, doc);
        Ok(())
    }

    fn on_cancel(
        &self,
        site: &mut Site,
        name: &str,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        let submitted_invoice = site.linked(INVOICES_BY_ORDER, name).and_then(|invoices| {
            invoices
                .iter()
                .find(|invoice| {
                    site.stored("Sales Invoice", invoice)
                        .map(|doc| int_of(&doc, "docstatus") == 1)
                        .unwrap_or(false)
                })
                .cloned()
        });
        if let Some(invoice) = submitted_invoice {
            return Err(SiteError::thrown(
                417,
                "LinkExistsError",
                format!(
                    "Cannot delete or cancel because Sales Order <a href=\"{SITE_URL_FOR_MESSAGES}/app/sales-order/{name}\">{name}</a> is linked with Sales Invoice <a href=\"{SITE_URL_FOR_MESSAGES}/app/sales-invoice/{invoice}\">{invoice}</a> "
                ),
            ));
        }
        if text_of(doc, "status") != "Closed" {
            reserve_stock(site, doc, -Decimal::ONE);
        }
        doc.insert("status".into(), json!("Cancelled"));
        Ok(())
    }

    fn on_trash(&self, site: &Site, name: &str) -> Result<(), SiteError> {
        if let Some(invoice) = site
            .linked(INVOICES_BY_ORDER, name)
            .and_then(|invoices| invoices.iter().next())
        {
            return Err(SiteError::thrown(
                417,
                "LinkExistsError",
                format!("Cannot delete or cancel because Sales Order {name} is linked with Sales Invoice {invoice}"),
            ));
        }
        Ok(())
    }
}

/// `SalesOrder.validate` on a new order (`name` `None`) or a saved draft.
fn validate(
    site: &mut Site,
    doc: &mut Doc,
    name: Option<&str>,
    notes: &mut Vec<Value>,
) -> Result<(), SiteError> {
    if text_of(doc, "naming_series").is_empty() {
        doc.insert("naming_series".into(), json!(SERIES));
    }
    selling::prepare_selling(site, &SELLING, doc, notes)?;
    let item_dates: Vec<String> = rows(doc, "items")
        .iter()
        .map(|row| text_of(row, "delivery_date"))
        .filter(|date| !date.is_empty())
        .collect();
    if text_of(doc, "delivery_date").is_empty() {
        match item_dates.iter().min() {
            Some(earliest) => {
                doc.insert("delivery_date".into(), json!(earliest));
            }
            None => return Err(SiteError::erpnext_validation("Please enter Delivery Date")),
        }
    }
    let order_date = text_of(doc, "transaction_date");
    if text_of(doc, "delivery_date") < order_date {
        return Err(SiteError::erpnext_validation(
            "Expected Delivery Date should be after Sales Order Date",
        )
        .with_title("Invalid Delivery Date", "orange"));
    }
    let po_no = text_of(doc, "po_no");
    if !po_no.is_empty() {
        let key = po_key(&text_of(doc, "customer"), &po_no);
        if let Some(others) = site.linked(ORDERS_BY_PO, &key) {
            let clash = others.iter().find(|other| {
                Some(other.as_str()) != name
                    && site
                        .stored("Sales Order", other)
                        .map(|order| int_of(&order, "docstatus") < 2)
                        .unwrap_or(false)
            });
            if let Some(other) = clash {
                return Err(SiteError::erpnext_validation(format!(
                    "Sales Order <strong>{other}</strong> already exists against Customer's Purchase Order <strong>{po_no}</strong>. To allow multiple Sales Orders, Enable <strong>'Allow Multiple Sales Orders Against a Customer's Purchase Order'</strong> in <a href=\"{SITE_URL_FOR_MESSAGES}/app/selling-settings/Selling%20Settings\">Selling Settings</a>"
                )));
            }
        }
    }
    let provisional = site.peek_series(SERIES);
    mandatory_named(
        "Sales Order",
        &provisional,
        doc,
        &[
            ("customer", "Customer"),
            ("company", "Company"),
            ("transaction_date", "Date"),
            ("items", "Items"),
        ],
    )?;
    site.link("Company", &text_of(doc, "company"))?;
    let grand_total = field_decimal(doc, "grand_total");
    let base_grand_total = field_decimal(doc, "base_grand_total");
    let schedule_date = order_date.clone();
    let existing = rows(doc, "payment_schedule")
        .first()
        .map(|row| (*row).clone());
    let mut schedule = existing.unwrap_or_else(|| site.new_doc("Payment Schedule"));
    schedule.insert("due_date".into(), json!(schedule_date));
    set_float(&mut schedule, "invoice_portion", Decimal::from(100));
    set_float(&mut schedule, "payment_amount", grand_total);
    set_float(&mut schedule, "outstanding", grand_total);
    set_float(&mut schedule, "base_payment_amount", base_grand_total);
    set_float(&mut schedule, "base_outstanding", base_grand_total);
    doc.insert("payment_schedule".into(), json!([schedule]));
    // A new order keeps the status its body gives: `set_status` returns early on a new
    // document (research §2). Saves and submits set it elsewhere.
    if name.is_none() && text_of(doc, "status").is_empty() {
        doc.insert("status".into(), json!("Draft"));
    }
    party::check_party_currency(site, doc)?;
    Ok(())
}

/// The credit limit, checked only at submit: what the customer owes on submitted orders not
/// billed yet and on submitted invoices, with this order, may not pass its limit.
fn check_credit_limit(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    let customer = text_of(doc, "customer");
    let company = text_of(doc, "company");
    let Some(customer_doc) = site.stored("Customer", &customer) else {
        return Ok(());
    };
    let limit = rows(&customer_doc, "credit_limits")
        .iter()
        .find(|row| text_of(row, "company") == company)
        .map(|row| field_decimal(row, "credit_limit"))
        .unwrap_or_default();
    if limit.is_zero() {
        return Ok(());
    }
    let mut outstanding = field_decimal(doc, "base_grand_total");
    for (_, stored) in site.documents("Sales Order") {
        let order = &stored.sparse();
        if text_of(order, "customer") == customer && int_of(order, "docstatus") == 1 {
            let unbilled = field_decimal(order, "base_grand_total")
                * (Decimal::from(100) - field_decimal(order, "per_billed"))
                / Decimal::from(100);
            outstanding += unbilled;
        }
    }
    for (_, stored) in site.documents("Sales Invoice") {
        let invoice = &stored.sparse();
        if text_of(invoice, "customer") == customer && int_of(invoice, "docstatus") == 1 {
            outstanding += field_decimal(invoice, "outstanding_amount");
        }
    }
    if outstanding > limit {
        let customer_name = text_of(&customer_doc, "customer_name");
        return Err(SiteError::erpnext_validation(format!(
            "Please contact your administrator to extend the credit limits for {customer_name}."
        )));
    }
    Ok(())
}

/// A Sales Order's status from its docstatus, delivery and billing.
pub(crate) fn status(doc: &Doc) -> &'static str {
    match int_of(doc, "docstatus") {
        0 => return "Draft",
        2 => return "Cancelled",
        _ => {}
    }
    if text_of(doc, "status") == "Closed" {
        return "Closed";
    }
    let hundred = Decimal::from(100);
    let delivered =
        field_decimal(doc, "per_delivered") >= hundred || int_of(doc, "skip_delivery_note") == 1;
    let billed = field_decimal(doc, "per_billed") >= hundred;
    match (delivered, billed) {
        (false, false) => "To Deliver and Bill",
        (false, true) => "To Deliver",
        (true, false) => "To Bill",
        (true, true) => "Completed",
    }
}

/// A submitted, open Sales Order reserves its undelivered stock items (`sign` −1 releases).
pub(crate) fn reserve_stock(site: &mut Site, order: &Doc, sign: Decimal) {
    for row in rows(order, "items") {
        let code = text_of(row, "item_code");
        let warehouse = text_of(row, "warehouse");
        let is_stock_item = site
            .stored("Item", &code)
            .map(|item| int_of(&item, "is_stock_item") == 1)
            .unwrap_or(false);
        if !is_stock_item || warehouse.is_empty() {
            continue;
        }
        let open = field_decimal(row, "stock_qty") - field_decimal(row, "delivered_qty");
        if open > Decimal::ZERO {
            bin::adjust(site, &code, &warehouse, Decimal::ZERO, open * sign);
        }
    }
}

/// Adds `sign` × the invoice's item amounts to the Sales Orders' billed amounts, then their
/// `per_billed`, billing status and status (`update_prevdoc_status`).
pub(crate) fn bill(site: &mut Site, invoice: &Doc, sign: Decimal) {
    let mut touched = BTreeSet::new();
    for item in rows(invoice, "items") {
        let order = text_of(item, "sales_order");
        let detail = text_of(item, "so_detail");
        if order.is_empty() {
            continue;
        }
        let amount = field_decimal(item, "amount") * sign;
        let found = site.modify("Sales Order", &order, |order_doc| {
            if let Some(Value::Array(items)) = order_doc.get_mut("items") {
                for row in items.iter_mut().filter_map(Value::as_object_mut) {
                    if text_of(row, "name") == detail {
                        let billed = field_decimal(row, "billed_amt") + amount;
                        set_float(row, "billed_amt", billed.max(Decimal::ZERO));
                    }
                }
            }
        });
        if found {
            touched.insert(order);
        }
    }
    let invoice_name = text_of(invoice, "name");
    let is_return = int_of(invoice, "is_return") == 1;
    for order in touched {
        let now = site.now_text();
        // `update_billing_status_for_zero_amount_refdoc`: an order worth nothing is billed
        // by quantity, Σ invoiced qty of submitted invoices over Σ ordered qty.
        let zero_order = site
            .stored("Sales Order", &order)
            .is_some_and(|doc| field_decimal(&doc, "base_net_total").is_zero());
        let billed_qty = if zero_order && !is_return {
            Some(billed_qty(
                site,
                &order,
                (sign < Decimal::ZERO).then_some(invoice_name.as_str()),
            ))
        } else {
            None
        };
        site.modify("Sales Order", &order, |order_doc| {
            let (billed, total, ordered_qty) = rows(order_doc, "items").iter().fold(
                (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO),
                |(billed, total, qty), row| {
                    (
                        billed + field_decimal(row, "billed_amt"),
                        total + field_decimal(row, "amount"),
                        qty + field_decimal(row, "qty"),
                    )
                },
            );
            let per_billed = match billed_qty {
                Some(billed_qty) if !ordered_qty.is_zero() => flt(
                    billed_qty.min(ordered_qty) * Decimal::from(100) / ordered_qty,
                    6,
                ),
                _ if total.is_zero() => Decimal::ZERO,
                _ => flt(billed * Decimal::from(100) / total, 6).min(Decimal::from(100)),
            };
            set_float(order_doc, "per_billed", per_billed);
            let billing_status = if per_billed >= Decimal::new(9999, 2) {
                "Fully Billed"
            } else if per_billed > Decimal::ZERO {
                "Partly Billed"
            } else {
                "Not Billed"
            };
            order_doc.insert("billing_status".into(), json!(billing_status));
            if int_of(order_doc, "docstatus") == 1 {
                let status = status(order_doc);
                order_doc.insert("status".into(), json!(status));
            }
            order_doc.insert("modified".into(), json!(now));
        });
        // `update_prevdoc_status` ends in the order's `set_status(update=True)`, a `db_set`:
        // on_change, never on_update (research §2).
        if let Some(order_doc) = site.stored("Sales Order", &order) {
            site.event("Sales Order", "on_change", &order_doc);
        }
    }
}

/// Σ qty of the submitted invoices' rows billing `order`, leaving out `cancelling`.
fn billed_qty(site: &Site, order: &str, cancelling: Option<&str>) -> Decimal {
    let Some(invoices) = site.linked(INVOICES_BY_ORDER, order) else {
        return Decimal::ZERO;
    };
    invoices
        .iter()
        .filter(|invoice| Some(invoice.as_str()) != cancelling)
        .filter_map(|invoice| site.stored("Sales Invoice", invoice))
        .filter(|invoice| int_of(invoice, "docstatus") == 1 && int_of(invoice, "is_return") == 0)
        .flat_map(|invoice| {
            rows(&invoice, "items")
                .into_iter()
                .filter(|row| text_of(row, "sales_order") == order)
                .map(|row| field_decimal(row, "qty"))
                .collect::<Vec<_>>()
        })
        .sum()
}
