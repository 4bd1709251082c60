//! Delivery Note, as far as it moves a Sales Order: on submit or cancel the delivered
//! quantities of the order's rows, its `per_delivered`, `delivery_status` and status (an
//! `on_change` on the order, never an `on_update`, research §2), and the stock the rows take
//! out of their warehouses (refused beyond what the warehouse holds).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{bin, sales_order, DoctypeRules, Naming};
use crate::simulators::erpnext::controllers::selling;
use crate::simulators::erpnext::engine::{mandatory_named, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{
    field_decimal, flt, int_of, rows, set_float, text_of, Doc,
};

pub(crate) const SERIES: &str = "MAT-DN-.YYYY.-";

/// A Delivery Note's rows get nothing beyond the item's details (`make_delivery_note` copies
/// the order's rows).
pub(crate) const SELLING: selling::SellingDocument = selling::SellingDocument {
    date_field: "posting_date",
    adds_item_prices: false,
    row_defaults: selling::no_row_defaults,
};

pub(crate) struct DeliveryNote;

impl DoctypeRules for DeliveryNote {
    fn doctype(&self) -> &'static str {
        "Delivery Note"
    }

    fn is_submittable(&self) -> bool {
        true
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("items", "Delivery Note Item"),
            ("taxes", "Sales Taxes and Charges"),
        ]
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        _input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        validate(site, doc)?;
        doc.insert("naming_series".into(), json!(SERIES));
        Ok(Naming::Series(SERIES.to_string()))
    }

    fn validate_save(
        &self,
        site: &mut Site,
        _name: &str,
        _current: &Doc,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        validate(site, doc)?;
        doc.insert("status".into(), json!("Draft"));
        Ok(())
    }

    fn before_submit(&self, site: &Site, doc: &Doc) -> Result<(), SiteError> {
        check_stock(site, doc)
    }

    fn on_submit(
        &self,
        site: &mut Site,
        name: &str,
        mut doc: Doc,
        _inserted: bool,
    ) -> Result<(), SiteError> {
        doc.insert("status".into(), json!("To Bill"));
        site.store(self.doctype(), name, doc.clone());
        deliver(site, &doc, Decimal::ONE);
        // `update_billing_percentage` sets the status on a fresh instance.
        site.event(self.doctype(), "on_change", &doc);
        Ok(())
    }

    fn on_cancel(
        &self,
        site: &mut Site,
        _name: &str,
        doc: &mut Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<(), SiteError> {
        deliver(site, doc, -Decimal::ONE);
        doc.insert("status".into(), json!("Cancelled"));
        Ok(())
    }
}

/// What a Delivery Note is checked for before it is named.
fn validate(site: &mut Site, doc: &mut Doc) -> Result<(), SiteError> {
    let mut notes = Vec::new();
    selling::prepare_selling(site, &SELLING, doc, &mut notes)?;
    let provisional = site.peek_series(SERIES);
    mandatory_named(
        "Delivery Note",
        &provisional,
        doc,
        &[
            ("customer", "Customer"),
            ("company", "Company"),
            ("posting_date", "Date"),
            ("items", "Items"),
        ],
    )?;
    if text_of(doc, "posting_time").is_empty() {
        let time = site.now().format("%H:%M:%S%.6f").to_string();
        doc.insert("posting_time".into(), json!(time));
    }
    for row in rows(doc, "items") {
        let order = text_of(row, "against_sales_order");
        if !order.is_empty() && !site.exists("Sales Order", &order) {
            return Err(SiteError::link_validation("Sales Order", &order));
        }
    }
    Ok(())
}

/// A Delivery Note's stock rows must be in stock (negative stock is not allowed on the lab).
fn check_stock(site: &Site, doc: &Doc) -> Result<(), SiteError> {
    for row in rows(doc, "items") {
        let code = text_of(row, "item_code");
        let is_stock_item = site
            .stored("Item", &code)
            .is_some_and(|item| int_of(&item, "is_stock_item") == 1);
        if !is_stock_item {
            continue;
        }
        let warehouse = text_of(row, "warehouse");
        let available = bin::actual_qty(site, &code, &warehouse);
        let needed = field_decimal(row, "qty") * nonzero(field_decimal(row, "conversion_factor"));
        if needed > available {
            return Err(bin::negative_stock(needed - available, &code, &warehouse));
        }
    }
    Ok(())
}

/// Submit (`sign` 1) or cancel (−1) of a Delivery Note: stock out of (back into) the
/// warehouses, the orders' delivered quantities and statuses.
fn deliver(site: &mut Site, note: &Doc, sign: Decimal) {
    let mut orders: Vec<String> = Vec::new();
    for row in rows(note, "items") {
        let qty = field_decimal(row, "qty") * nonzero(field_decimal(row, "conversion_factor"));
        let code = text_of(row, "item_code");
        let is_stock_item = site
            .stored("Item", &code)
            .is_some_and(|item| int_of(&item, "is_stock_item") == 1);
        let order = text_of(row, "against_sales_order");
        let detail = text_of(row, "so_detail");
        if is_stock_item {
            // A delivery against an open order also releases what the order reserved.
            let reserved = if order.is_empty() { Decimal::ZERO } else { qty };
            bin::adjust(
                site,
                &code,
                &text_of(row, "warehouse"),
                -qty * sign,
                -reserved * sign,
            );
        }
        if order.is_empty() {
            continue;
        }
        let delivered_here = field_decimal(row, "qty") * sign;
        site.modify("Sales Order", &order, |order_doc| {
            if let Some(Value::Array(items)) = order_doc.get_mut("items") {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if text_of(item, "name") == detail {
                        let delivered = field_decimal(item, "delivered_qty") + delivered_here;
                        set_float(item, "delivered_qty", delivered.max(Decimal::ZERO));
                    }
                }
            }
        });
        if !orders.contains(&order) {
            orders.push(order);
        }
    }
    for order in orders {
        let now = site.now_text();
        site.modify("Sales Order", &order, |order_doc| {
            let (delivered, ordered) = rows(order_doc, "items").iter().fold(
                (Decimal::ZERO, Decimal::ZERO),
                |(delivered, ordered), row| {
                    let qty = field_decimal(row, "qty");
                    (
                        delivered + field_decimal(row, "delivered_qty").min(qty),
                        ordered + qty,
                    )
                },
            );
            let per_delivered = if ordered.is_zero() {
                Decimal::ZERO
            } else {
                flt(delivered * Decimal::from(100) / ordered, 6)
            };
            set_float(order_doc, "per_delivered", per_delivered);
            let status = if per_delivered >= Decimal::from(100) {
                "Fully Delivered"
            } else if per_delivered > Decimal::ZERO {
                "Partly Delivered"
            } else {
                "Not Delivered"
            };
            order_doc.insert("delivery_status".into(), json!(status));
            if text_of(order_doc, "status") != "Closed" {
                let status = sales_order::status(order_doc);
                order_doc.insert("status".into(), json!(status));
            }
            order_doc.insert("modified".into(), json!(now));
        });
        // `StatusUpdater.set_status(update=True)` on the order: `db_set`, so on_change only.
        if let Some(order_doc) = site.stored("Sales Order", &order) {
            site.event("Sales Order", "on_change", &order_doc);
        }
    }
}

fn nonzero(value: Decimal) -> Decimal {
    if value.is_zero() {
        Decimal::ONE
    } else {
        value
    }
}
