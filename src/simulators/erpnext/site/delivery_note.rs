//! Delivery Notes, as far as they move a Sales Order: `make_delivery_note`, and on submit or
//! cancel the delivered quantities of the order's rows, its `per_delivered`, `delivery_status`
//! and status (an `on_change` on the order, never an `on_update`, research §2), and the stock
//! the rows take out of their warehouses.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{sales_order_status, unsaved, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{
    field_decimal, flt, int_of, rows, set_float, text_of, Doc,
};

impl Site {
    /// `erpnext.selling.doctype.sales_order.sales_order.make_delivery_note`: an unsaved
    /// Delivery Note for what the order has not delivered yet.
    pub fn make_delivery_note(&mut self, source_name: &str) -> Result<Doc, SiteError> {
        let Some(order) = self.stored("Sales Order", source_name) else {
            return Err(SiteError::not_found(format!(
                "Sales Order {source_name} not found"
            )));
        };
        if int_of(&order, "docstatus") != 1 {
            return Err(SiteError::erpnext_validation(format!(
                "Sales Order {source_name} must be submitted"
            )));
        }
        let mut note = Doc::new();
        for field in [
            "customer",
            "customer_name",
            "company",
            "currency",
            "conversion_rate",
            "selling_price_list",
            "price_list_currency",
            "plc_conversion_rate",
            "ignore_pricing_rule",
            "customer_address",
            "shipping_address_name",
            "contact_person",
            "po_no",
            "set_warehouse",
        ] {
            note.insert(
                field.into(),
                order.get(field).cloned().unwrap_or(Value::Null),
            );
        }
        let mut items = Vec::new();
        for row in rows(&order, "items") {
            let remaining = field_decimal(row, "qty") - field_decimal(row, "delivered_qty");
            if remaining <= Decimal::ZERO {
                continue;
            }
            let mut item = Doc::new();
            for field in [
                "item_code",
                "item_name",
                "description",
                "uom",
                "stock_uom",
                "conversion_factor",
                "rate",
                "price_list_rate",
                "discount_percentage",
                "warehouse",
            ] {
                item.insert(field.into(), row.get(field).cloned().unwrap_or(Value::Null));
            }
            set_float(&mut item, "qty", remaining);
            item.insert("against_sales_order".into(), json!(source_name));
            item.insert("so_detail".into(), json!(text_of(row, "name")));
            items.push(Value::Object(item));
        }
        note.insert("items".into(), Value::Array(items));
        note.insert("taxes".into(), json!([]));
        note.insert("status".into(), json!("Draft"));
        note.insert("naming_series".into(), json!("MAT-DN-.YYYY.-"));
        let today = self.today();
        note.insert("posting_date".into(), json!(today));
        let mut notes = Vec::new();
        self.prepare_selling("Delivery Note", &mut note, "posting_date", &mut notes)?;
        Ok(unsaved("Delivery Note", note))
    }

    /// What a Delivery Note is checked for before it is named.
    pub(super) fn validate_delivery_note(&mut self, doc: &mut Doc) -> Result<(), SiteError> {
        let mut notes = Vec::new();
        self.prepare_selling("Delivery Note", doc, "posting_date", &mut notes)?;
        let provisional = self.peek_series("MAT-DN-.YYYY.-");
        Site::mandatory_named(
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
            let time = self.now().format("%H:%M:%S%.6f").to_string();
            doc.insert("posting_time".into(), json!(time));
        }
        for row in rows(doc, "items") {
            let order = text_of(row, "against_sales_order");
            if !order.is_empty() && !self.exists("Sales Order", &order) {
                return Err(SiteError::link_validation("Sales Order", &order));
            }
        }
        Ok(())
    }

    /// A Delivery Note's stock rows must be in stock (negative stock is not allowed on the lab).
    pub(super) fn check_delivery_stock(&self, doc: &Doc) -> Result<(), SiteError> {
        for row in rows(doc, "items") {
            let code = text_of(row, "item_code");
            let is_stock_item = self
                .stored("Item", &code)
                .is_some_and(|item| int_of(&item, "is_stock_item") == 1);
            if !is_stock_item {
                continue;
            }
            let warehouse = text_of(row, "warehouse");
            let available = self
                .bin(&code, &warehouse)
                .map(|bin| field_decimal(&bin, "actual_qty"))
                .unwrap_or_default();
            let needed =
                field_decimal(row, "qty") * nonzero(field_decimal(row, "conversion_factor"));
            if needed > available {
                let mut error = SiteError::thrown(
                    417,
                    "NegativeStockError",
                    format!(
                        "{} units of Item {code} needed in Warehouse {warehouse} to complete this transaction.",
                        needed - available
                    ),
                );
                error.exc_source = Some("erpnext (app)");
                error.module = Some("erpnext.stock.stock_ledger");
                return Err(error);
            }
        }
        Ok(())
    }

    /// Submit (`sign` 1) or cancel (−1) of a Delivery Note: stock out of (back into) the
    /// warehouses, the orders' delivered quantities and statuses.
    pub(super) fn deliver(&mut self, note: &Doc, sign: Decimal) {
        let mut orders: Vec<String> = Vec::new();
        for row in rows(note, "items") {
            let qty = field_decimal(row, "qty") * nonzero(field_decimal(row, "conversion_factor"));
            let code = text_of(row, "item_code");
            let is_stock_item = self
                .stored("Item", &code)
                .is_some_and(|item| int_of(&item, "is_stock_item") == 1);
            let order = text_of(row, "against_sales_order");
            let detail = text_of(row, "so_detail");
            if is_stock_item {
                // A delivery against an open order also releases what the order reserved.
                let reserved = if order.is_empty() { Decimal::ZERO } else { qty };
                self.adjust_bin(
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
            self.modify("Sales Order", &order, |order_doc| {
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
            let now = self.now_text();
            self.modify("Sales Order", &order, |order_doc| {
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
                    let status = sales_order_status(order_doc);
                    order_doc.insert("status".into(), json!(status));
                }
                order_doc.insert("modified".into(), json!(now));
            });
            // `StatusUpdater.set_status(update=True)` on the order: `db_set`, so on_change only.
            if let Some(order_doc) = self.stored("Sales Order", &order) {
                self.event("Sales Order", "on_change", &order_doc);
            }
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
