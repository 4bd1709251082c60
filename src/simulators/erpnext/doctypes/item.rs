//! Item: named by its item code (a second one is a duplicate), defaults for group, UOM, name
//! and description, a default warehouse and UOM row, and an Item Price in the standard selling
//! list when it comes with a `standard_rate`.

use serde_json::{json, Value};

use super::{DoctypeRules, Naming};
use crate::simulators::erpnext::engine::{mandatory, Site};
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::seed::{COMPANY, COMPANY_CURRENCY};
use crate::simulators::erpnext::values::{field_decimal, float_value, object, rows, text_of, Doc};

pub(crate) struct Item;

impl DoctypeRules for Item {
    fn doctype(&self) -> &'static str {
        "Item"
    }

    fn child_tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("barcodes", "Item Barcode"),
            ("reorder_levels", "Item Reorder"),
            ("uoms", "UOM Conversion Detail"),
            ("attributes", "Item Variant Attribute"),
            ("item_defaults", "Item Default"),
            ("supplier_items", "Item Supplier"),
            ("customer_items", "Item Customer Detail"),
            ("taxes", "Item Tax"),
        ]
    }

    /// Items are few and read on every order line (prices, stock).
    fn keep_unpacked(&self) -> bool {
        true
    }

    fn provisional_name(&self, _site: &Site, doc: &Doc) -> String {
        text_of(doc, "item_code")
    }

    fn validate_new(
        &self,
        site: &mut Site,
        doc: &mut Doc,
        input: &Doc,
        _notes: &mut Vec<Value>,
    ) -> Result<Naming, SiteError> {
        mandatory("Item", doc, &[("item_code", "Item Code")])?;
        // "Maintain Stock" is on unless the request says otherwise (Item's field default is 1;
        // the recorded blank document shows 0).
        if !input.contains_key("is_stock_item") {
            doc.insert("is_stock_item".into(), json!(1));
        }
        let code = text_of(doc, "item_code").trim().to_string();
        if site.exists("Item", &code) {
            return Err(SiteError::duplicate_entry("Item", &code));
        }
        if text_of(doc, "item_group").is_empty() {
            doc.insert("item_group".into(), json!("Products"));
        }
        if text_of(doc, "stock_uom").is_empty() {
            doc.insert("stock_uom".into(), json!("Nos"));
        }
        if text_of(doc, "item_name").is_empty() {
            doc.insert("item_name".into(), json!(code));
        }
        if text_of(doc, "description").is_empty() {
            let name = text_of(doc, "item_name");
            doc.insert("description".into(), json!(name));
        }
        site.link("Item Group", &text_of(doc, "item_group"))?;
        site.link("UOM", &text_of(doc, "stock_uom"))?;
        doc.insert("naming_series".into(), json!("STO-ITEM-.YYYY.-"));
        for (field, value) in [
            ("end_of_life", json!("2099-12-31")),
            ("default_material_request_type", json!("Purchase")),
            ("variant_based_on", json!("Item Attribute")),
            ("is_purchase_item", json!(1)),
            ("is_sales_item", json!(1)),
            ("grant_commission", json!(1)),
        ] {
            if doc.get(field).map(Value::is_null).unwrap_or(true) {
                doc.insert(field.into(), value);
            }
        }
        if rows(doc, "item_defaults").is_empty() {
            doc.insert(
                "item_defaults".into(),
                json!([{"company": COMPANY, "default_warehouse": "Stores - TC"}]),
            );
        }
        // add_default_uom_in_conversion_factor_table: the stock UOM always has its row.
        let stock_uom = text_of(doc, "stock_uom");
        let mut uoms: Vec<Value> = rows(doc, "uoms")
            .into_iter()
            .map(|row| Value::Object(row.clone()))
            .collect();
        if !uoms.iter().any(|row| row["uom"] == stock_uom.as_str()) {
            uoms.push(json!({"uom": stock_uom, "conversion_factor": 1.0}));
        }
        for row in &uoms {
            site.link("UOM", row["uom"].as_str().unwrap_or_default())?;
        }
        doc.insert("uoms".into(), Value::Array(uoms));
        if !text_of(doc, "sales_uom").is_empty() {
            site.link("UOM", &text_of(doc, "sales_uom"))?;
        }
        for row in rows(doc, "item_defaults") {
            site.link("Warehouse", &text_of(row, "default_warehouse"))?;
        }
        Ok(Naming::Named(code))
    }

    /// The Item Price of a `standard_rate` links to the Item: it is made once the Item is stored.
    fn after_insert(&self, site: &mut Site, name: &str, doc: &mut Doc) -> Result<(), SiteError> {
        let standard_rate = field_decimal(doc, "standard_rate");
        if standard_rate.is_zero() {
            return Ok(());
        }
        let price = object(json!({
            "item_code": name, "price_list": "Standard Selling", "uom": text_of(doc, "stock_uom"),
            "price_list_rate": float_value(standard_rate),
            "item_name": text_of(doc, "item_name"), "currency": COMPANY_CURRENCY,
        }));
        site.insert("Item Price", &price).map(|_| ())
    }
}
