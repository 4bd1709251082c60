//! The whitelisted methods that make one document from another, as ERPNext's
//! `get_mapped_doc` does (`make_sales_invoice`, `make_sales_return`, `make_delivery_note`,
//! `get_payment_entry`): each answers an unsaved document the caller then inserts. Also
//! `sales_order.update_status`, the other whitelisted Sales Order method (close, re-open).

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::controllers::{party, selling};
use super::doctypes::{self, delivery_note, sales_invoice, sales_order};
use super::engine::Site;
use super::error::SiteError;
use super::seed::COMPANY_CURRENCY;
use super::values::{field_decimal, float_value, flt, int_of, rows, set_float, text_of, Doc};

/// `make_sales_invoice`: an unsaved Sales Invoice for what is not billed yet.
pub fn make_sales_invoice(site: &mut Site, source_name: &str) -> Result<Doc, SiteError> {
    let Some(order) = site.stored("Sales Order", source_name) else {
        return Err(SiteError::not_found(format!(
            "Sales Order {source_name} not found"
        )));
    };
    if int_of(&order, "docstatus") != 1 {
        return Err(SiteError::erpnext_validation(format!(
            "Sales Order {source_name} must be submitted"
        )));
    }
    let mut invoice = map_fields(site, "Sales Order", &order, "Sales Invoice");
    let mut items = Vec::new();
    for row in rows(&order, "items") {
        // The mapper's condition: a row with a quantity that is worth nothing, or not
        // billed in full. Zero rows are therefore mapped again on every call (research §6).
        let amount = field_decimal(row, "amount");
        let billed = field_decimal(row, "billed_amt");
        let qty = field_decimal(row, "qty");
        let wanted = !qty.is_zero()
            && (field_decimal(row, "base_amount").is_zero() || billed.abs() < amount.abs());
        if !wanted {
            continue;
        }
        let mut item = map_child(site, row, "Sales Invoice Item");
        let rate = field_decimal(row, "rate");
        let remaining_qty = if !rate.is_zero() && !billed.is_zero() {
            flt((amount - billed) / rate, 6)
        } else {
            qty - field_decimal(row, "returned_qty")
        };
        set_float(&mut item, "qty", remaining_qty);
        item.insert("sales_order".into(), json!(source_name));
        item.insert("so_detail".into(), json!(text_of(row, "name")));
        items.push(Value::Object(item));
    }
    invoice.insert("items".into(), Value::Array(items));
    let taxes: Vec<Value> = rows(&order, "taxes")
        .into_iter()
        .map(|row| Value::Object(map_child(site, row, "Sales Taxes and Charges")))
        .collect();
    invoice.insert("taxes".into(), Value::Array(taxes));
    let today = site.today();
    invoice.insert("posting_date".into(), json!(today));
    invoice.insert("due_date".into(), json!(today));
    let time = site.now().format("%H:%M:%S%.6f").to_string();
    invoice.insert("posting_time".into(), json!(time));
    sales_invoice::fill(site, &mut invoice, false)?;
    // The mapped document is not saved yet: no schedule, no per-stock-UOM rate.
    invoice.insert("payment_schedule".into(), json!([]));
    if let Some(Value::Array(items)) = invoice.get_mut("items") {
        for row in items.iter_mut().filter_map(Value::as_object_mut) {
            set_float(row, "stock_uom_rate", Decimal::ZERO);
        }
    }
    invoice.insert("__onload".into(), json!({"load_after_mapping": true}));
    Ok(unsaved("Sales Invoice", invoice))
}

/// `make_sales_return`: an unsaved credit note for a submitted invoice.
pub fn make_sales_return(site: &mut Site, source_name: &str) -> Result<Doc, SiteError> {
    let Some(original) = site.stored("Sales Invoice", source_name) else {
        return Err(SiteError::not_found(format!(
            "Sales Invoice {source_name} not found"
        )));
    };
    if int_of(&original, "docstatus") != 1 {
        return Err(SiteError::erpnext_validation(format!(
            "Sales Invoice {source_name} must be submitted"
        )));
    }
    let mut credit = map_fields(site, "Sales Invoice", &original, "Sales Invoice");
    let mut items = Vec::new();
    for row in rows(&original, "items") {
        let mut item = map_child(site, row, "Sales Invoice Item");
        set_float(&mut item, "qty", -field_decimal(row, "qty"));
        item.insert("sales_invoice_item".into(), json!(text_of(row, "name")));
        items.push(Value::Object(item));
    }
    credit.insert("items".into(), Value::Array(items));
    let taxes: Vec<Value> = rows(&original, "taxes")
        .into_iter()
        .map(|row| {
            let mut tax = map_child(site, row, "Sales Taxes and Charges");
            if text_of(&tax, "charge_type") == "Actual" {
                set_float(&mut tax, "tax_amount", -field_decimal(row, "tax_amount"));
            }
            Value::Object(tax)
        })
        .collect();
    credit.insert("taxes".into(), Value::Array(taxes));
    let discount = field_decimal(&original, "discount_amount");
    set_float(&mut credit, "discount_amount", -discount);
    credit.insert("is_return".into(), json!(1));
    credit.insert("return_against".into(), json!(source_name));
    credit.insert("naming_series".into(), json!("ACC-SINV-.YYYY.-"));
    // No-copy, default 1: the credit note keeps its own outstanding amount.
    credit.insert("update_outstanding_for_self".into(), json!(1));
    let today = site.today();
    credit.insert("posting_date".into(), json!(today));
    credit.insert("due_date".into(), json!(today));
    sales_invoice::fill(site, &mut credit, false)?;
    Ok(unsaved("Sales Invoice", credit))
}

/// `get_payment_entry`: an unsaved Payment Entry for the invoice's outstanding amount.
pub fn get_payment_entry(site: &mut Site, dt: &str, dn: &str) -> Result<Doc, SiteError> {
    if dt != "Sales Invoice" {
        return Err(SiteError::validation(format!(
            "The simulator makes payment entries for Sales Invoices only, not {dt}"
        )));
    }
    let Some(invoice) = site.stored(dt, dn) else {
        return Err(SiteError::not_found(format!("{dt} {dn} not found")));
    };
    let outstanding = field_decimal(&invoice, "outstanding_amount");
    if int_of(&invoice, "docstatus") != 1 {
        return Err(SiteError::erpnext_validation(format!(
            "Can only make payment against unbilled {dt}"
        )));
    }
    // `set_payment_type`: money comes in only while the customer owes some; a credit note
    // (negative outstanding) or a settled invoice gives a payment back ("Pay").
    let receive = outstanding > Decimal::ZERO;
    let amount = outstanding.abs();
    let company = text_of(&invoice, "company");
    let party_account = {
        let debit_to = text_of(&invoice, "debit_to");
        if debit_to.is_empty() {
            party::company_value(site, &company, "default_receivable_account")
        } else {
            debit_to
        }
    };
    let cash = party::company_value(site, &company, "default_cash_account");
    let (paid_from, paid_from_type, paid_to, paid_to_type) = if receive {
        (party_account.clone(), "Receivable", cash, "Cash")
    } else {
        (cash, "Cash", party_account.clone(), "Receivable")
    };
    let mut entry = site.new_doc("Payment Entry");
    let customer = text_of(&invoice, "customer");
    let today = site.today();
    let paid_from_currency = party::account_currency(site, &paid_from);
    let paid_to_currency = party::account_currency(site, &paid_to);
    for (field, value) in [
        ("naming_series", json!("ACC-PAY-.YYYY.-")),
        (
            "payment_type",
            json!(if receive { "Receive" } else { "Pay" }),
        ),
        ("posting_date", json!(today)),
        ("company", json!(company)),
        ("party_type", json!("Customer")),
        ("party", json!(customer)),
        ("party_name", json!(text_of(&invoice, "customer_name"))),
        ("contact_person", json!(text_of(&invoice, "contact_person"))),
        ("contact_email", json!(text_of(&invoice, "contact_email"))),
        ("paid_from", json!(paid_from)),
        ("paid_from_account_type", json!(paid_from_type)),
        ("paid_from_account_currency", json!(paid_from_currency)),
        ("paid_to", json!(paid_to)),
        ("paid_to_account_type", json!(paid_to_type)),
        ("paid_to_account_currency", json!(paid_to_currency)),
        ("reference_date", json!(today)),
        ("status", json!("Draft")),
        ("is_opening", json!("No")),
        ("docstatus", json!(0)),
    ] {
        entry.insert(field.into(), value);
    }
    // The party side is in the receivable's currency; the bank side in the company's.
    let rate = if party::account_currency(site, &party_account) == COMPANY_CURRENCY {
        Decimal::ONE
    } else {
        field_decimal(&invoice, "conversion_rate")
    };
    let in_company_currency = flt(amount * rate, 2);
    // The bank side is the float product, unrounded, as Python leaves it (recorded: 50 EUR
    // at 1.1 gives `received_amount` 55.00000000000001, `base_received_amount` 55.0).
    let converted = {
        use rust_decimal::prelude::ToPrimitive;
        let product = amount.to_f64().unwrap_or(0.0) * rate.to_f64().unwrap_or(1.0);
        serde_json::Number::from_f64(product)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    };
    let amount_value = float_value(amount);
    let (paid, received) = if receive {
        (amount_value, converted)
    } else {
        (converted, amount_value)
    };
    entry.insert("paid_amount".into(), paid);
    set_float(&mut entry, "base_paid_amount", in_company_currency);
    entry.insert("received_amount".into(), received);
    set_float(&mut entry, "base_received_amount", in_company_currency);
    let (source_rate, target_rate) = if receive {
        (rate, Decimal::ONE)
    } else {
        (Decimal::ONE, rate)
    };
    set_float(&mut entry, "source_exchange_rate", source_rate);
    set_float(&mut entry, "target_exchange_rate", target_rate);
    set_float(&mut entry, "total_allocated_amount", amount);
    set_float(
        &mut entry,
        "base_total_allocated_amount",
        in_company_currency,
    );
    let mut reference = site.new_doc("Payment Entry Reference");
    for (field, value) in [
        ("reference_doctype", json!("Sales Invoice")),
        ("reference_name", json!(dn)),
        ("due_date", json!(text_of(&invoice, "due_date"))),
        ("account", json!(party_account)),
        ("modified", json!(text_of(&invoice, "modified"))),
        ("modified_by", json!("Administrator")),
    ] {
        reference.insert(field.into(), value);
    }
    set_float(
        &mut reference,
        "total_amount",
        field_decimal(&invoice, "grand_total"),
    );
    // The allocation keeps the outstanding amount's sign: -100 against a credit note.
    set_float(&mut reference, "outstanding_amount", outstanding);
    set_float(&mut reference, "allocated_amount", outstanding);
    set_float(&mut reference, "exchange_rate", rate);
    reference.insert("idx".into(), json!(1));
    reference.insert("parentfield".into(), json!("references"));
    reference.insert("parenttype".into(), json!("Payment Entry"));
    reference.insert("doctype".into(), json!("Payment Entry Reference"));
    reference.insert("__islocal".into(), json!(1));
    entry.insert("references".into(), json!([reference]));
    for (field, _) in doctypes::rules("Payment Entry").child_tables() {
        entry.entry(field.to_string()).or_insert(json!([]));
    }
    Ok(unsaved("Payment Entry", entry))
}

/// `erpnext.selling.doctype.sales_order.sales_order.make_delivery_note`: an unsaved
/// Delivery Note for what the order has not delivered yet.
pub fn make_delivery_note(site: &mut Site, source_name: &str) -> Result<Doc, SiteError> {
    let Some(order) = site.stored("Sales Order", source_name) else {
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
    note.insert("naming_series".into(), json!(delivery_note::SERIES));
    let today = site.today();
    note.insert("posting_date".into(), json!(today));
    let mut notes = Vec::new();
    selling::prepare_selling(site, &delivery_note::SELLING, &mut note, &mut notes)?;
    Ok(unsaved("Delivery Note", note))
}

/// `sales_order.update_status`: "Closed" closes a submitted order (what is
/// left undelivered and unbilled is dropped); "Draft" re-opens it.
pub fn update_sales_order_status(
    site: &mut Site,
    name: &str,
    status: &str,
) -> Result<(), SiteError> {
    let Some(mut doc) = site.stored("Sales Order", name) else {
        return Err(SiteError::not_found(format!(
            "Sales Order {name} not found"
        )));
    };
    if int_of(&doc, "docstatus") != 1 {
        return Err(SiteError::validation(format!(
            "Sales Order {name} must be submitted to change its status"
        )));
    }
    match status {
        "Closed" => {
            if text_of(&doc, "status") != "Closed" {
                sales_order::reserve_stock(site, &doc, -Decimal::ONE);
            }
            doc.insert("status".into(), json!("Closed"));
        }
        "Draft" => {
            if text_of(&doc, "status") == "Closed" {
                sales_order::reserve_stock(site, &doc, Decimal::ONE);
            }
            doc.insert("status".into(), json!(""));
            let recomputed = sales_order::status(&doc);
            doc.insert("status".into(), json!(recomputed));
        }
        other => {
            return Err(SiteError::validation(format!(
                "The simulator changes Sales Order status to Closed or re-opens it (Draft), not {other}"
            )))
        }
    }
    let now = site.now_text();
    doc.insert("modified".into(), json!(now));
    site.store("Sales Order", name, doc.clone());
    // `SalesOrder.update_status` → `set_status(update=True)` → `db_set`: on_change only.
    site.event("Sales Order", "on_change", &doc);
    Ok(())
}

/// Copies same-named fields, custom fields included unless `no_copy` on either side.
fn map_fields(site: &Site, source_doctype: &str, source: &Doc, target_doctype: &str) -> Doc {
    let mut target = site.new_doc(target_doctype);
    let source_no_copy: HashSet<&str> = site
        .custom_fields(source_doctype)
        .iter()
        .filter(|field| field.no_copy)
        .map(|field| field.fieldname.as_str())
        .collect();
    let target_custom = site.custom_fields(target_doctype);
    const NEVER: &[&str] = &[
        "name",
        "naming_series",
        "status",
        "docstatus",
        "creation",
        "modified",
        "owner",
        "modified_by",
        "idx",
        "amended_from",
        "title",
        "per_billed",
        "per_delivered",
        "billing_status",
        "delivery_status",
        "outstanding_amount",
        "payment_schedule",
        "is_return",
        "return_against",
        "doctype",
    ];
    for (key, value) in source {
        if NEVER.contains(&key.as_str())
            || value.is_array()
            || source_no_copy.contains(key.as_str())
        {
            continue;
        }
        let custom = target_custom.iter().find(|field| &field.fieldname == key);
        match custom {
            Some(field) if field.no_copy => continue,
            Some(_) => {
                target.insert(key.clone(), value.clone());
            }
            None if target.contains_key(key) => {
                target.insert(key.clone(), value.clone());
            }
            None => {}
        }
    }
    for field in target_custom {
        target.entry(field.fieldname.clone()).or_insert(Value::Null);
    }
    for (field, _) in doctypes::rules(target_doctype).child_tables() {
        target.insert(field.to_string(), json!([]));
    }
    target
}

/// A child row mapped onto the target doctype's fields.
fn map_child(site: &Site, row: &Doc, target_doctype: &str) -> Doc {
    let mut target = site.new_doc(target_doctype);
    for (key, value) in row {
        if matches!(
            key.as_str(),
            "name"
                | "parent"
                | "parentfield"
                | "parenttype"
                | "doctype"
                | "creation"
                | "modified"
                | "docstatus"
                | "billed_amt"
        ) {
            continue;
        }
        if target.contains_key(key) {
            target.insert(key.clone(), value.clone());
        }
    }
    target.insert("doctype".into(), json!(target_doctype));
    target
}

/// A mapped document as `get_mapped_doc` answers it: new, unsaved, its rows numbered.
fn unsaved(doctype: &str, mut doc: Doc) -> Doc {
    doc.insert("owner".into(), json!("Administrator"));
    doc.insert("docstatus".into(), json!(0));
    doc.insert("idx".into(), json!(0));
    doc.insert("doctype".into(), json!(doctype));
    doc.insert("__islocal".into(), json!(1));
    doc.insert("__unsaved".into(), json!(1));
    for (field, child_doctype) in doctypes::rules(doctype).child_tables() {
        if let Some(Value::Array(items)) = doc.get_mut(*field) {
            for (index, row) in items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .enumerate()
            {
                row.insert("owner".into(), json!("Administrator"));
                row.insert("docstatus".into(), json!(0));
                row.insert("idx".into(), json!(index + 1));
                row.insert("parentfield".into(), json!(field));
                row.insert("parenttype".into(), json!(doctype));
                row.insert("doctype".into(), json!(child_doctype));
                row.insert("__islocal".into(), json!(1));
                row.insert("__unsaved".into(), json!(1));
            }
        }
    }
    doc
}
