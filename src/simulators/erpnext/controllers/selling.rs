//! What every selling document (Sales Order, Sales Invoice, Delivery Note) gets before its own
//! rules run, as ERPNext's `SellingController` and `set_missing_values` give it: the customer's
//! fields and contact, the currency and its conversion rate, each item's details and price, tax
//! rows checked against the company's accounts, the addresses rendered, then the totals.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::simulators::erpnext::doctypes::currency_exchange;
use crate::simulators::erpnext::engine::Site;
use crate::simulators::erpnext::error::{ServerMessage, SiteError};
use crate::simulators::erpnext::seed::{COMPANY, COMPANY_CURRENCY};
use crate::simulators::erpnext::totals::{self, CurrencyFacts};
use crate::simulators::erpnext::values::{
    field_decimal, int_of, object, rows, set_float, text_of, Doc,
};

/// What differs between the selling doctypes in the values they get.
pub(crate) struct SellingDocument {
    /// The document's date (`transaction_date`, `posting_date`), today when not given.
    pub date_field: &'static str,
    /// Stock Settings' "auto insert price list rate": a row's rate becomes the item's price
    /// when the item has none in the price list (ERPNext does it for orders).
    pub adds_item_prices: bool,
    /// What a row gets besides the item's details: (row, document, the document's date).
    pub row_defaults: fn(&mut Doc, &Doc, &str),
}

/// Rows of doctypes with nothing of their own to add.
pub(crate) fn no_row_defaults(_row: &mut Doc, _doc: &Doc, _date: &str) {}

/// The currency's smallest fraction and its name (a cent when the site does not know it).
pub(crate) fn currency_facts(site: &Site, code: &str) -> CurrencyFacts {
    site.state
        .currencies
        .get(code)
        .cloned()
        .unwrap_or(CurrencyFacts {
            smallest_fraction: Decimal::new(1, 2),
            fraction_name: "Cent".into(),
        })
}

/// Customer-derived fields, currency and conversion rate, item details, tax
/// rows checked against the company's accounts, then the totals.
pub(crate) fn prepare_selling(
    site: &mut Site,
    kind: &SellingDocument,
    doc: &mut Doc,
    notes: &mut Vec<Value>,
) -> Result<(), SiteError> {
    let date_field = kind.date_field;
    let customer = text_of(doc, "customer");
    if !customer.is_empty() {
        let Some(customer_doc) = site.stored("Customer", &customer) else {
            return Err(SiteError::not_found(format!(
                "Customer {customer} not found"
            )));
        };
        for field in ["customer_name", "customer_group", "territory"] {
            doc.insert(field.into(), json!(text_of(&customer_doc, field)));
        }
        let contact = text_of(&customer_doc, "customer_primary_contact");
        if !contact.is_empty() && text_of(doc, "contact_person").is_empty() {
            doc.insert("contact_person".into(), json!(contact));
        }
        let contact = text_of(doc, "contact_person");
        if let Some(contact_doc) = site.stored("Contact", &contact) {
            doc.insert(
                "contact_display".into(),
                json!(text_of(&contact_doc, "full_name")),
            );
            doc.insert(
                "contact_email".into(),
                json!(text_of(&contact_doc, "email_id")),
            );
            doc.insert(
                "contact_mobile".into(),
                json!(text_of(&contact_doc, "mobile_no")),
            );
            doc.insert(
                "contact_phone".into(),
                json!(text_of(&contact_doc, "phone")),
            );
        }
    }
    if text_of(doc, "company").is_empty() {
        doc.insert("company".into(), json!(COMPANY));
    }
    if text_of(doc, date_field).is_empty() {
        let today = site.today();
        doc.insert(date_field.into(), json!(today));
    }
    if text_of(doc, "currency").is_empty() {
        doc.insert("currency".into(), json!(COMPANY_CURRENCY));
    }
    for (field, default) in [
        ("selling_price_list", "Standard Selling"),
        ("price_list_currency", COMPANY_CURRENCY),
    ] {
        if text_of(doc, field).is_empty() {
            doc.insert(field.into(), json!(default));
        }
    }
    if field_decimal(doc, "plc_conversion_rate").is_zero() {
        set_float(doc, "plc_conversion_rate", Decimal::ONE);
    }
    let company = text_of(doc, "company");
    let currency = text_of(doc, "currency");
    site.link("Currency", &currency)?;
    site.link("Tax Category", &text_of(doc, "tax_category"))?;
    let date = text_of(doc, date_field);
    if currency == COMPANY_CURRENCY {
        set_float(doc, "conversion_rate", Decimal::ONE);
    } else if field_decimal(doc, "conversion_rate").is_zero()
        || field_decimal(doc, "conversion_rate") == Decimal::ONE
    {
        match currency_exchange::rate(site, &currency, COMPANY_CURRENCY, &date) {
            Some(rate) => set_float(doc, "conversion_rate", rate),
            None => {
                let mut error = SiteError::erpnext_validation(format!(
                    "Exchange Rate is mandatory. Maybe Currency Exchange record is not created for {currency} to {COMPANY_CURRENCY}."
                ));
                error.messages.insert(
                    0,
                    ServerMessage {
                        message: format!("Unable to find exchange rate for {currency} to {COMPANY_CURRENCY} for key date {date}. Please create a Currency Exchange record manually"),
                        title: "Message".into(),
                        thrown: false,
                        indicator: "red",
                        show_indicator: false,
                    },
                );
                return Err(error);
            }
        }
    }

    let mut items = Vec::new();
    for row in rows(doc, "items") {
        let mut row = row.clone();
        let code = text_of(&row, "item_code");
        let Some(item) = site.stored("Item", &code) else {
            return Err(SiteError::not_found(format!("Item {code} not found")));
        };
        for field in ["item_name", "description", "item_group", "stock_uom"] {
            if text_of(&row, field).is_empty() {
                row.insert(field.into(), json!(text_of(&item, field)));
            }
        }
        // get_item_details: a selling row without a unit is in the Item's Default Sales UOM,
        // converted by the Item's own conversion row for it (1 without one).
        if text_of(&row, "uom").is_empty() {
            let sales_uom = text_of(&item, "sales_uom");
            let uom = if sales_uom.is_empty() {
                text_of(&item, "stock_uom")
            } else {
                sales_uom
            };
            row.insert("uom".into(), json!(uom));
        }
        if field_decimal(&row, "conversion_factor").is_zero() {
            let uom = text_of(&row, "uom");
            let factor = rows(&item, "uoms")
                .iter()
                .find(|conversion| text_of(conversion, "uom") == uom)
                .map(|conversion| field_decimal(conversion, "conversion_factor"))
                .filter(|factor| !factor.is_zero() && uom != text_of(&item, "stock_uom"))
                .unwrap_or(Decimal::ONE);
            set_float(&mut row, "conversion_factor", factor);
        }
        if row.contains_key("is_stock_item") {
            row.insert(
                "is_stock_item".into(),
                json!(int_of(&item, "is_stock_item")),
            );
        }
        if text_of(&row, "warehouse").is_empty() {
            let warehouse = rows(&item, "item_defaults")
                .first()
                .map(|default| text_of(default, "default_warehouse"))
                .unwrap_or_default();
            if !warehouse.is_empty() {
                row.insert("warehouse".into(), json!(warehouse));
            }
        } else {
            site.link("Warehouse", &text_of(&row, "warehouse"))?;
        }
        if row.contains_key("cost_center") && text_of(&row, "cost_center").is_empty() {
            row.insert("cost_center".into(), json!("Main - TC"));
        }
        (kind.row_defaults)(&mut row, doc, &date);
        let unit = RowUnit {
            uom: text_of(&row, "uom"),
            stock_uom: text_of(&item, "stock_uom"),
            factor: field_decimal(&row, "conversion_factor"),
        };
        let price = price_list_rate(site, &code, &text_of(doc, "selling_price_list"), &unit);
        // Like ERPNext's set_missing_item_details: only what was not sent is fetched.
        if row.get("rate").map(Value::is_null).unwrap_or(true) {
            set_float(&mut row, "rate", price.unwrap_or_default());
        }
        if row
            .get("price_list_rate")
            .map(Value::is_null)
            .unwrap_or(true)
        {
            set_float(&mut row, "price_list_rate", price.unwrap_or_default());
        }
        // ERPNext adds an Item Price only when the order is in the price list's currency.
        if price.is_none()
            && kind.adds_item_prices
            && text_of(doc, "currency") == text_of(doc, "price_list_currency")
        {
            let rate = field_decimal(&row, "rate");
            if !rate.is_zero() {
                add_item_price(site, &code, rate, &unit, &text_of(&item, "item_name"))?;
                notes.push(json!({
                    "message": format!("Item Price added for {code} in Price List {}", text_of(doc, "selling_price_list")),
                    "title": "Message", "alert": 1
                }));
            }
        }
        items.push(Value::Object(row));
    }
    doc.insert("items".into(), Value::Array(items));

    let mut taxes = Vec::new();
    for (index, row) in rows(doc, "taxes").into_iter().enumerate() {
        let mut row = row.clone();
        let account = text_of(&row, "account_head");
        let account_company = site
            .stored("Account", &account)
            .map(|account| text_of(&account, "company"));
        if account_company.as_deref() != Some(company.as_str()) {
            return Err(SiteError::erpnext_validation(format!(
                "Row #{}: Account {account} does not belong to company {company}",
                index + 1
            )));
        }
        if text_of(&row, "charge_type").is_empty() {
            row.insert("charge_type".into(), json!("On Net Total"));
        }
        if text_of(&row, "cost_center").is_empty() {
            row.insert("cost_center".into(), json!("Main - TC"));
        }
        if text_of(&row, "description").is_empty() {
            row.insert("description".into(), json!(account));
        }
        row.insert("account_currency".into(), json!(COMPANY_CURRENCY));
        taxes.push(Value::Object(row));
    }
    doc.insert("taxes".into(), Value::Array(taxes));

    for (field, target) in [
        ("customer_address", "address_display"),
        ("shipping_address_name", "shipping_address"),
    ] {
        let address = text_of(doc, field);
        if address.is_empty() {
            continue;
        }
        let Some(address_doc) = site.stored("Address", &address) else {
            return Err(SiteError::link_validation("Address", &address));
        };
        doc.insert(target.into(), json!(render_address(&address_doc)));
    }

    let facts = currency_facts(site, &currency);
    let company_facts = currency_facts(site, COMPANY_CURRENCY);
    doc.insert("__company_currency".into(), json!(COMPANY_CURRENCY));
    totals::calculate(doc, &facts, &company_facts);
    Ok(())
}

/// The item's rate in a price list, from its Item Price.
/// The unit a selling row is in, as its price needs it.
struct RowUnit {
    uom: String,
    stock_uom: String,
    /// Stock units per `uom`.
    factor: Decimal,
}

/// `get_price_list_rate_for`: the list's price in the row's unit (or in none) as it stands,
/// else its stock-unit price times the row's conversion factor.
fn price_list_rate(
    site: &Site,
    item_code: &str,
    price_list: &str,
    unit: &RowUnit,
) -> Option<Decimal> {
    let in_uom = |wanted: &str| {
        site.documents("Item Price")
            // Chosen on the hot view: only the prices of the item are parsed.
            .filter(|(_, stored)| {
                text_of(&stored.hot, "item_code") == item_code
                    && text_of(&stored.hot, "price_list") == price_list
            })
            .map(|(_, stored)| stored.sparse())
            .find(|price| {
                let uom = text_of(price, "uom");
                uom.is_empty() || uom == wanted
            })
            .map(|price| {
                (
                    field_decimal(&price, "price_list_rate"),
                    text_of(&price, "uom"),
                )
            })
    };
    if let Some((rate, uom)) = in_uom(&unit.uom) {
        return Some(if uom == unit.uom {
            rate
        } else {
            rate * unit.factor
        });
    }
    if unit.uom == unit.stock_uom {
        return None;
    }
    in_uom(&unit.stock_uom).map(|(rate, _)| rate * unit.factor)
}

/// Stock Settings' "auto insert price list rate": an order's rate becomes the item's price, per
/// stock unit (`insert_item_price`).
fn add_item_price(
    site: &mut Site,
    item_code: &str,
    rate: Decimal,
    unit: &RowUnit,
    item_name: &str,
) -> Result<(), SiteError> {
    let mut price = object(json!({
        "item_code": item_code, "price_list": "Standard Selling", "uom": unit.stock_uom,
        "item_name": item_name, "currency": COMPANY_CURRENCY,
    }));
    set_float(&mut price, "price_list_rate", rate / unit.factor);
    site.insert("Item Price", &price).map(|_| ())
}

/// ERPNext's default address template, as recorded: `1 Main St<br>\nApt 2<br>Springfield, IL 62701<br>\n`.
fn render_address(address: &Doc) -> String {
    let mut text = format!("{}<br>\n", text_of(address, "address_line1"));
    let line2 = text_of(address, "address_line2");
    if !line2.is_empty() {
        text.push_str(&format!("{line2}<br>"));
    }
    let mut city = text_of(address, "city");
    let state = text_of(address, "state");
    if !state.is_empty() {
        city.push_str(&format!(", {state}"));
    }
    let pincode = text_of(address, "pincode");
    if !pincode.is_empty() {
        city.push_str(&format!(" {pincode}"));
    }
    text.push_str(&format!("{city}<br>\n"));
    text
}
