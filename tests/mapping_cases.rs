//! The mapping's rules, case by case, on real orders edited where the real data lacks a case.

mod mapping_support;

use std::collections::BTreeSet;

use mapping_support::{
    country_name, edited, money, order_fixture, snapshot_order, test_site_rules,
};
use serde_json::json;
use woocommerce_sync::sync::mapping::{
    map_order, AddressType, CustomerType, MappingError, MissingSkuRule, ResolvedMasters,
    ShippingTarget, ROUNDING_ROW_DESCRIPTION,
};
use woocommerce_sync::woocommerce::types::Order;

/// Order 17 of the real store: account customer, variation line, 10 % coupon, two CA rates,
/// taxable flat-rate shipping.
fn order_17() -> Order {
    order_fixture("woocommerce-real/orders-get-full.json")
}

fn ada_masters() -> ResolvedMasters {
    ResolvedMasters {
        customer: "Ada Lovelace".to_string(),
        billing_address: Some("Ada Lovelace-Billing".to_string()),
        shipping_address: None,
        exchange_rate: None,
    }
}

#[test]
fn a_real_order_becomes_exactly_this_sales_order() {
    let rules = test_site_rules();
    let mapping = map_order(&order_17(), &rules, &country_name).unwrap();
    let sales_order = mapping.resolve(&ada_masters(), &rules).unwrap();
    let body = serde_json::to_value(&sales_order).unwrap();
    assert_eq!(
        body,
        json!({
            "customer": "Ada Lovelace",
            "customer_address": "Ada Lovelace-Billing",
            "shipping_address_name": "Ada Lovelace-Billing",
            "company": "Test Company",
            "transaction_date": "2026-11-26",
            "delivery_date": "2026-12-03",
            "currency": "USD",
            "set_warehouse": "Stores - TC",
            "ignore_pricing_rule": 1,
            "disable_rounded_total": 1,
            "docstatus": 1,
            "status": "To Deliver and Bill",
            "woocommerce_order_key": "shop:17",
            "woocommerce_order_id": "17",
            "woocommerce_order_number": "17",
            "woocommerce_store": "shop",
            "woocommerce_status": "processing",
            "woocommerce_payment_method": "bacs",
            "woocommerce_customer_note": "Please gift wrap.",
            "items": [
                {"item_code": "LAB-MUG", "qty": 2.0, "rate": 11.25, "price_list_rate": 12.5, "warehouse": "Stores - TC"},
                {"item_code": "LAB-TEE-M", "qty": 1.0, "rate": 17.82, "price_list_rate": 19.8, "warehouse": "Stores - TC"}
            ],
            "taxes": [
                {"charge_type": "Actual", "account_head": "ST 6.25% - TC", "description": "CA State Tax", "tax_amount": 3.65,
                 "item_wise_tax_detail": "{\"LAB-MUG\":[7.25,1.63],\"LAB-TEE-M\":[7.25,1.29]}"},
                {"charge_type": "Actual", "account_head": "ST 4% - TC", "description": "CA County Tax", "tax_amount": 0.41,
                 "item_wise_tax_detail": "{\"LAB-MUG\":[1.0,0.23],\"LAB-TEE-M\":[1.0,0.18]}"},
                {"charge_type": "Actual", "account_head": "Freight and Forwarding Charges - TC", "description": "Shipping (Flat rate)", "tax_amount": 10.0}
            ]
        })
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("54.38"));
    assert_eq!(mapping.sales_order.item_discount_total(), money("4.48"));
}

#[test]
fn the_buyer_documents_of_a_real_order() {
    let rules = test_site_rules();
    let mapping = map_order(&order_17(), &rules, &country_name).unwrap();
    assert_eq!(mapping.customer.identity.key, "email:ada@example.test");
    assert_eq!(mapping.customer.identity.woocommerce_customer_id, Some(2));
    assert_eq!(mapping.customer.customer_type, CustomerType::Individual);
    assert!(mapping.shipping_same_as_billing);
    assert_eq!(mapping.shipping_address, None);
    let billing = mapping.billing_address.clone().unwrap();
    assert_eq!(
        serde_json::to_value(billing.linked_to("Ada Lovelace")).unwrap(),
        json!({
            "address_title": "Ada Lovelace",
            "address_type": "Billing",
            "address_line1": "10 Market St",
            "city": "San Francisco",
            "state": "CA",
            "pincode": "94103",
            "country": "United States",
            "email_id": "ada@example.test",
            "phone": "+1 415 555 0100",
            "is_primary_address": 1,
            "is_shipping_address": 1,
            "woocommerce_address_key": "email:ada@example.test|Billing",
            "links": [{"link_doctype": "Customer", "link_name": "Ada Lovelace"}]
        })
    );
    let contact = mapping.contact.clone().unwrap();
    assert_eq!(
        serde_json::to_value(&contact).unwrap(),
        json!({
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email_ids": [{"email_id": "ada@example.test", "is_primary": 1}],
            "phone_nos": [{"phone": "+1 415 555 0100", "is_primary_phone": 1}]
        })
    );
}

#[test]
fn a_changed_address_keeps_its_identity_but_not_its_fingerprint() {
    let rules = test_site_rules();
    let before = map_order(&order_17(), &rules, &country_name).unwrap();
    let moved = edited(&order_17(), |order| {
        order["billing"]["address_1"] = json!("12 Market St");
    });
    let after = map_order(&moved, &rules, &country_name).unwrap();
    let (before, after) = (
        before.billing_address.unwrap(),
        after.billing_address.unwrap(),
    );
    assert_eq!(before.identity_key, after.identity_key);
    assert_ne!(before.fingerprint, after.fingerprint);
    // the shipping address now differs from billing, so it is its own document
    let after = map_order(&moved, &rules, &country_name).unwrap();
    assert!(!after.shipping_same_as_billing);
    let shipping = after.shipping_address.unwrap();
    assert_eq!(shipping.address_type, AddressType::Shipping);
    assert_eq!(shipping.address_line1, "10 Market St");
    assert_eq!(
        (shipping.is_primary_address, shipping.is_shipping_address),
        (0, 1)
    );
}

#[test]
fn a_company_buyer_with_a_vat_number_abroad() {
    let rules = test_site_rules();
    let order = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        |order| {
            order["meta_data"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": 1, "key": "_billing_vat", "value": "DE123456789"}));
        },
    );
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    assert_eq!(mapping.customer.customer_name, "Roe GmbH");
    assert_eq!(mapping.customer.customer_type, CustomerType::Company);
    assert_eq!(mapping.customer.tax_id.as_deref(), Some("DE123456789"));
    assert_eq!(mapping.customer.identity.key, "email:jane.roe@example.org");
    assert_eq!(mapping.customer.identity.woocommerce_customer_id, None);
    let billing = mapping.billing_address.clone().unwrap();
    assert_eq!(
        (billing.country.as_str(), billing.state.as_deref()),
        ("Germany", None)
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), order.total);

    let masters = ResolvedMasters {
        customer: "Roe GmbH".to_string(),
        billing_address: Some("Roe GmbH-Billing".to_string()),
        ..ResolvedMasters::default()
    };
    let sales_order = mapping.resolve(&masters, &rules).unwrap();
    assert_eq!(
        sales_order.shipping_address_name.as_deref(),
        Some("Roe GmbH-Billing")
    );
}

#[test]
fn an_unknown_country_is_refused_naming_the_code() {
    let rules = test_site_rules();
    let order = edited(&order_17(), |order| {
        order["billing"]["country"] = json!("ZZ")
    });
    let error = map_order(&order, &rules, &country_name).unwrap_err();
    assert!(matches!(error, MappingError::UnknownCountry { .. }));
    assert_eq!(
        error.to_string(),
        "order 17: the billing address has country code `ZZ`, which matches no ERPNext Country; fix the address in WooCommerce or add the country in ERPNext"
    );
}

#[test]
fn an_unmapped_tax_rate_without_default_fails_naming_the_rate() {
    let mut rules = test_site_rules();
    rules.tax_accounts.remove(&2);
    let error = map_order(&order_17(), &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: tax rate 2 (\"CA County Tax\", US-CA-CA COUNTY TAX-2) has no ERPNext account; map the rate to a Tax account in the connection's settings, or set an account for tax rates not mapped"
    );
    rules.default_tax_account = Some("ST 6% - TC".to_string());
    let mapping = map_order(&order_17(), &rules, &country_name).unwrap();
    let county = &mapping.sales_order.taxes[1];
    assert_eq!(
        (county.account_head.as_str(), county.tax_amount),
        ("ST 6% - TC", money("0.41"))
    );
}

#[test]
fn shipping_follows_its_method_map() {
    let mut rules = test_site_rules();
    rules.shipping.clear();
    rules.default_shipping_account = None;
    let error = map_order(&order_17(), &rules, &country_name).unwrap_err();
    assert!(error
        .to_string()
        .contains("shipping method `flat_rate` (\"Flat rate\")"));

    rules.shipping.insert(
        "flat_rate".to_string(),
        ShippingTarget::Item("SHIPPING".to_string()),
    );
    let mapping = map_order(&order_17(), &rules, &country_name).unwrap();
    let row = mapping.sales_order.items.last().unwrap();
    assert_eq!(
        (
            row.item_code.as_str(),
            row.qty,
            row.rate,
            row.description.as_deref()
        ),
        (
            "SHIPPING",
            money("1"),
            money("10.00"),
            Some("Shipping (Flat rate)")
        )
    );
    assert_eq!(
        mapping.sales_order.taxes.len(),
        2,
        "only the two tax rates remain as charges"
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("54.38"));
}

#[test]
fn a_line_that_cannot_have_one_exact_rate_is_split_into_rows_that_add_up() {
    let rules = test_site_rules();
    // 3 posters for 10.00 with a shipping of 10.00 and its taxes as recorded
    let order = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        |order| {
            let line = &mut order["line_items"][0];
            line["quantity"] = json!(3);
            line["subtotal"] = json!("10.00");
            line["total"] = json!("10.00");
            order["total"] = json!("21.60");
        },
    );
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let rows: Vec<_> = mapping
        .sales_order
        .items
        .iter()
        .map(|row| (row.item_code.as_str(), row.qty, row.rate))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("WOO-SINGLE-1", money("2"), money("3.33")),
            ("WOO-SINGLE-1", money("1"), money("3.34")),
        ]
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("21.60"));
}

#[test]
fn a_fractional_quantity_is_one_row_that_names_the_quantity() {
    let rules = test_site_rules();
    let order = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        |order| {
            let line = &mut order["line_items"][0];
            line["quantity"] = json!("1.5");
            line["subtotal"] = json!("4.50");
            line["total"] = json!("4.50");
            order["total"] = json!("16.10");
        },
    );
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let row = &mapping.sales_order.items[0];
    assert_eq!((row.qty, row.rate), (money("1"), money("4.50")));
    assert_eq!(
        row.description.as_deref(),
        Some("Woo Single #1 × 1.5 (WooCommerce quantity)")
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("16.10"));
}

#[test]
fn a_negative_fee_is_a_negative_charge_and_a_fee_needs_an_account() {
    let mut rules = test_site_rules();
    let order = edited(&snapshot_order(21), |order| {
        order["fee_lines"][0]["name"] = json!("Loyalty discount");
        order["fee_lines"][0]["total"] = json!("-3.00");
        order["total"] = json!("64.66");
    });
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let fee = mapping.sales_order.taxes.last().unwrap();
    assert_eq!(
        (
            fee.account_head.as_str(),
            fee.description.as_str(),
            fee.tax_amount
        ),
        (
            "Miscellaneous Expenses - TC",
            "Loyalty discount",
            money("-3.00")
        )
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("64.66"));

    rules.fee_account = None;
    let error = map_order(&order, &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 21: fee \"Loyalty discount\" (-3.00) needs an ERPNext account; set the connection's fee account"
    );
}

#[test]
fn a_cent_within_the_tolerance_gets_a_rounding_row_and_more_is_refused() {
    let mut rules = test_site_rules();
    let off_by_a_cent = edited(&order_17(), |order| order["total"] = json!("54.39"));
    let mapping = map_order(&off_by_a_cent, &rules, &country_name).unwrap();
    let rounding = mapping.sales_order.taxes.last().unwrap();
    assert_eq!(
        (
            rounding.account_head.as_str(),
            rounding.description.as_str(),
            rounding.tax_amount
        ),
        (
            "Miscellaneous Expenses - TC",
            ROUNDING_ROW_DESCRIPTION,
            money("0.01")
        )
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("54.39"));

    let off_by_two = edited(&order_17(), |order| order["total"] = json!("54.36"));
    let error = map_order(&off_by_two, &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: ERPNext would total 54.38 but WooCommerce says 54.36 (difference 0.02 exceeds the tolerance 0.01); check the order's lines and taxes in WooCommerce, or raise the connection's rounding tolerance if the difference is rounding"
    );

    rules.rounding_tolerance = money("0.00");
    let error = map_order(&off_by_a_cent, &rules, &country_name).unwrap_err();
    assert!(error
        .to_string()
        .contains("ERPNext would total 54.38 but WooCommerce says 54.39 (difference 0.01 exceeds the tolerance 0.00)"));

    rules.rounding_tolerance = money("0.01");
    rules.rounding_account = None;
    let error = map_order(&off_by_a_cent, &rules, &country_name).unwrap_err();
    assert!(matches!(error, MappingError::NoRoundingAccount { .. }));
}

/// Order 17 rewritten as a store with prices including 7.25 % tax would send it: a 9.99 mug ×2
/// and a 5.99 T-shirt, 25.97 in all. WooCommerce takes the tax out of each gross line; the REST
/// output shows net line totals and taxes rounded to cents.
fn tax_inclusive_order(state_tax: &str, line_taxes: [&str; 2]) -> Order {
    edited(&order_17(), |order| {
        order["prices_include_tax"] = json!(true);
        order["coupon_lines"] = json!([]);
        order["shipping_lines"] = json!([]);
        order["discount_total"] = json!("0.00");
        order["shipping_total"] = json!("0.00");
        for (index, (net, tax)) in [("18.63", line_taxes[0]), ("5.59", line_taxes[1])]
            .into_iter()
            .enumerate()
        {
            let line = &mut order["line_items"][index];
            line["quantity"] = json!(if index == 0 { 2 } else { 1 });
            line["subtotal"] = json!(net);
            line["total"] = json!(net);
            line["taxes"] = json!([{"id": 1, "total": tax, "subtotal": tax}]);
        }
        order["tax_lines"] = json!([{"id": 4, "rate_code": "US-CA-CA STATE TAX-1", "rate_id": 1,
            "label": "CA State Tax", "compound": false, "tax_total": state_tax,
            "shipping_tax_total": "0.00", "rate_percent": 7.25}]);
        order["total"] = json!("25.97");
        order["total_tax"] = json!(state_tax);
    })
}

#[test]
fn prices_entered_with_tax_reconcile_exactly_when_tax_is_rounded_per_line() {
    // 19.98 gross holds 1.3506… tax → 1.35, net 18.63; 5.99 holds 0.4049… → 0.40, net 5.59.
    let rules = test_site_rules();
    let order = tax_inclusive_order("1.75", ["1.35", "0.40"]);
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("25.97"));
    assert!(mapping
        .sales_order
        .taxes
        .iter()
        .all(|row| row.description != ROUNDING_ROW_DESCRIPTION));
}

#[test]
fn prices_entered_with_tax_and_rounded_at_subtotal_close_with_a_rounding_row() {
    // "Round tax at subtotal level": the rate's tax is round(1.3506 + 0.4049) = 1.76 while the
    // net lines still print as 18.63 and 5.59, one cent more than the 25.97 the buyer paid.
    let rules = test_site_rules();
    let order = tax_inclusive_order("1.76", ["1.35", "0.40"]);
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let rounding = mapping.sales_order.taxes.last().unwrap();
    assert_eq!(
        (rounding.description.as_str(), rounding.tax_amount),
        (ROUNDING_ROW_DESCRIPTION, money("-0.01"))
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("25.97"));
}

/// Order 23 of the real store: one line whose product was deleted (`product_id` 0, `sku` null).
fn deleted_product_order() -> Order {
    snapshot_order(23)
}

#[test]
fn a_deleted_product_line_follows_the_missing_sku_rule() {
    let mut rules = test_site_rules();
    let order = deleted_product_order();

    rules.missing_sku = MissingSkuRule::Fail;
    let error = map_order(&order, &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 23: line 24 (\"Deleted WooCommerce product (order 23 line 24)\", product 0, variation 0) has no SKU, so it matches no ERPNext item; give the product a SKU in WooCommerce, or set the connection's missing-SKU rule to a generic item or to synthesised codes"
    );

    rules.missing_sku = MissingSkuRule::UseItem("WOO-MISC".to_string());
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let row = &mapping.sales_order.items[0];
    assert_eq!(row.item_code, "WOO-MISC");
    assert_eq!(
        row.description.as_deref(),
        Some("Deleted WooCommerce product (order 23 line 24)")
    );
    assert!(
        mapping.items.is_empty(),
        "the generic item is never auto-created"
    );
    rules.auto_create_items = true;
    let error = mapping.items_to_create(|_| false, &rules).unwrap_err();
    assert_eq!(
        error,
        MappingError::MissingItems {
            order_id: 23,
            item_codes: vec!["WOO-MISC".to_string()],
            auto_create_off: false
        }
    );
    let existing: BTreeSet<String> = ["WOO-MISC".to_string()].into();
    assert!(mapping
        .items_to_create(|code| existing.contains(code), &rules)
        .unwrap()
        .is_empty());

    rules.missing_sku = MissingSkuRule::Synthesize;
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    assert_eq!(mapping.sales_order.items[0].item_code, "WOO-0-0");
    let created = mapping.items_to_create(|_| false, &rules).unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].item_code, "WOO-0-0");
    assert_eq!(
        created[0].item_name,
        "Deleted WooCommerce product (order 23 line 24)"
    );
    // an order without email or address is still one (order-scoped) customer without addresses
    // (a guest without email is only a person in this store: the key names the connection)
    assert_eq!(
        mapping.customer.identity.key,
        "shop:woocommerce-guest-order:23"
    );
    assert_eq!(
        mapping.customer.customer_name,
        "WooCommerce guest of order 23"
    );
    assert_eq!((mapping.contact, mapping.billing_address), (None, None));
}

#[test]
fn missing_items_are_created_only_when_the_connection_allows_it() {
    let mut rules = test_site_rules();
    let mapping = map_order(&order_17(), &rules, &country_name).unwrap();
    assert_eq!(
        mapping.sales_order.item_codes(),
        vec!["LAB-MUG", "LAB-TEE-M"]
    );
    let existing: BTreeSet<String> = ["LAB-MUG".to_string()].into();
    let error = mapping
        .items_to_create(|code| existing.contains(code), &rules)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: ERPNext has no item LAB-TEE-M; create them in ERPNext (or give the WooCommerce products the SKUs of existing items), or turn on the connection's item auto-create"
    );

    rules.auto_create_items = true;
    let created = mapping
        .items_to_create(|code| existing.contains(code), &rules)
        .unwrap();
    assert_eq!(created.len(), 1);
    let tee = created[0];
    assert_eq!(tee.identity_key, "woocommerce-variation:14");
    assert_eq!(
        serde_json::to_value(tee).unwrap(),
        json!({
            "item_code": "LAB-TEE-M",
            "item_name": "Lab T-Shirt - M",
            "item_group": "Products",
            "stock_uom": "Nos",
            "woocommerce_product_id": 12,
            "woocommerce_variation_id": 14,
            "woocommerce_store": "shop"
        })
    );
}

fn in_euros(meta: serde_json::Value) -> Order {
    edited(&order_17(), |order| {
        order["currency"] = json!("EUR");
        order["meta_data"] = meta;
    })
}

#[test]
fn a_foreign_order_takes_the_rate_its_currency_plugin_recorded() {
    let rules = test_site_rules();
    let cases = [
        // WOOCS: 1 USD = 0.8 EUR
        (
            json!([{"key": "_woocs_order_rate", "value": "0.8"}]),
            "1.25",
        ),
        // Aelia: EUR amount × 1.085 = USD amount
        (
            json!([{"key": "_base_currency_exchange_rate", "value": "1.0850"}]),
            "1.085",
        ),
        // CURCY: rates per one unit of the main currency USD
        (
            json!([{"key": "wmc_order_info", "value": {
                "USD": {"rate": "1", "is_main": "1"},
                "EUR": {"rate": 0.92, "is_main": "0"}}}]),
            "1.086956522",
        ),
    ];
    for (meta, expected) in cases {
        let mapping = map_order(&in_euros(meta.clone()), &rules, &country_name).unwrap();
        assert!(!mapping.needs_exchange_rate(&rules), "{meta}");
        let sales_order = mapping.resolve(&ada_masters(), &rules).unwrap();
        assert_eq!(sales_order.conversion_rate, Some(money(expected)), "{meta}");
        assert_eq!(sales_order.draft.currency, "EUR");
    }
    // a WOOCS rate against another base currency cannot convert into USD: ask ERPNext
    let other_base = in_euros(json!([
        {"key": "_woocs_order_rate", "value": "0.8"},
        {"key": "_woocs_order_base_currency", "value": "GBP"}
    ]));
    let mapping = map_order(&other_base, &rules, &country_name).unwrap();
    assert!(mapping.needs_exchange_rate(&rules));
}

#[test]
fn a_foreign_order_without_a_recorded_rate_needs_erpnexts() {
    let rules = test_site_rules();
    let mapping = map_order(&in_euros(json!([])), &rules, &country_name).unwrap();
    assert!(mapping.needs_exchange_rate(&rules));
    let error = mapping.resolve(&ada_masters(), &rules).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: is in EUR but the company's currency is USD, and neither the order nor ERPNext gives an exchange rate; create a Currency Exchange record EUR → USD in ERPNext"
    );
    let masters = ResolvedMasters {
        exchange_rate: Some(money("1.08")),
        ..ada_masters()
    };
    let body = serde_json::to_value(mapping.resolve(&masters, &rules).unwrap()).unwrap();
    assert_eq!(body["conversion_rate"], json!(1.08));
    assert_eq!(body["currency"], json!("EUR"));
    // in the company's own currency there is no conversion rate at all
    let home = map_order(&order_17(), &rules, &country_name).unwrap();
    assert!(!home.needs_exchange_rate(&rules));
    let body = serde_json::to_value(home.resolve(&ada_masters(), &rules).unwrap()).unwrap();
    assert!(body.get("conversion_rate").is_none());
}

#[test]
fn a_rate_meta_that_is_not_a_number_is_refused() {
    let rules = test_site_rules();
    let order = in_euros(json!([{"key": "_woocs_order_rate", "value": "abc"}]));
    let error = map_order(&order, &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: meta `_woocs_order_rate` holds \"abc\", which is not a usable exchange rate; correct or remove the meta entry"
    );
}

#[test]
fn a_yen_order_splits_at_whole_yen() {
    let rules = test_site_rules();
    let order = edited(&order_17(), |order| {
        order["currency"] = json!("JPY");
        order["meta_data"] = json!([{"key": "_base_currency_exchange_rate", "value": "0.0067"}]);
        order["coupon_lines"] = json!([]);
        order["discount_total"] = json!("0");
        order["line_items"][0]["quantity"] = json!(3);
        order["line_items"][0]["subtotal"] = json!("1000");
        order["line_items"][0]["total"] = json!("1000");
        order["line_items"][1]["subtotal"] = json!("2000");
        order["line_items"][1]["total"] = json!("2000");
        order["tax_lines"][0]["tax_total"] = json!("218");
        order["tax_lines"][0]["shipping_tax_total"] = json!("73");
        order["tax_lines"][1]["tax_total"] = json!("30");
        order["shipping_lines"][0]["total"] = json!("1000");
        order["total"] = json!("4321");
    });
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let rows: Vec<_> = mapping
        .sales_order
        .items
        .iter()
        .map(|row| (row.qty, row.rate))
        .collect();
    assert_eq!(
        rows,
        vec![
            (money("2"), money("333")),
            (money("1"), money("334")),
            (money("1"), money("2000")),
        ]
    );
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("4321"));
}

#[test]
fn the_documented_fixture_orders_reconcile() {
    let rules = test_site_rules();
    for (path, id) in [
        ("woocommerce/order_full_processing.json", 727),
        ("woocommerce/order_guest_on_hold.json", 728),
        // refunds do not change the Sales Order; they become credit notes
        ("woocommerce/order_partially_refunded.json", 729),
    ] {
        let order = order_fixture(path);
        let mapping = map_order(&order, &rules, &country_name).unwrap();
        assert_eq!(mapping.sales_order.order_id, id);
        assert_eq!(
            mapping.sales_order.erpnext_grand_total(),
            order.total,
            "{path}"
        );
        assert_eq!(
            mapping.sales_order.item_discount_total(),
            order.discount_total,
            "{path}"
        );
    }
    // 727 carries a taxable fee: its tax sits in the rate's row, the fee row is net
    let mapping = map_order(
        &order_fixture("woocommerce/order_full_processing.json"),
        &rules,
        &country_name,
    )
    .unwrap();
    let amounts: Vec<_> = mapping
        .sales_order
        .taxes
        .iter()
        .map(|row| (row.description.as_str(), row.tax_amount))
        .collect();
    assert_eq!(
        amounts,
        vec![
            ("State Tax", money("2.82")),
            ("Shipping (Flat rate)", money("10.00")),
            ("Gift wrap", money("2.00")),
        ]
    );
}

#[test]
fn an_order_without_lines_or_date_is_refused() {
    let rules = test_site_rules();
    let no_lines = edited(&order_17(), |order| order["line_items"] = json!([]));
    let error = map_order(&no_lines, &rules, &country_name).unwrap_err();
    assert_eq!(error, MappingError::NoLineItems { order_id: 17 });
    let no_date = edited(&order_17(), |order| {
        order["date_created"] = json!(null);
        order["date_created_gmt"] = json!(null);
    });
    let error = map_order(&no_date, &rules, &country_name).unwrap_err();
    assert_eq!(error, MappingError::MissingOrderDate { order_id: 17 });
}

#[test]
fn a_line_a_coupon_made_free_says_so_so_erpnext_keeps_it_free() {
    let rules = test_site_rules();
    let order = edited(&order_17(), |order| {
        order["line_items"][0]["total"] = json!("0.00");
        order["discount_total"] = json!("26.98");
        order["total"] = json!("31.88");
    });
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let body = serde_json::to_value(&mapping.sales_order).unwrap();
    assert_eq!(
        body["items"][0],
        json!({"item_code": "LAB-MUG", "qty": 2.0, "rate": 0.0, "price_list_rate": 12.5,
               "discount_percentage": 100.0, "warehouse": "Stores - TC"})
    );
    assert!(body["items"][1].get("discount_percentage").is_none());
    assert_eq!(mapping.sales_order.item_discount_total(), money("26.98"));
    assert_eq!(mapping.sales_order.erpnext_grand_total(), money("31.88"));
}

#[test]
fn a_total_finer_than_the_currency_precision_is_refused_not_rounded_away() {
    let mut rules = test_site_rules();
    rules.rounding_tolerance = money("1");
    let order = edited(&order_17(), |order| {
        order["currency"] = json!("JPY");
        order["meta_data"] = json!([{"key": "_base_currency_exchange_rate", "value": "0.0067"}]);
        order["coupon_lines"] = json!([]);
        order["discount_total"] = json!("0");
        order["line_items"][0]["subtotal"] = json!("1000");
        order["line_items"][0]["total"] = json!("1000");
        order["line_items"][1]["subtotal"] = json!("2000");
        order["line_items"][1]["total"] = json!("2000");
        order["tax_lines"] = json!([]);
        order["shipping_lines"] = json!([]);
        order["total"] = json!("3000.50");
    });
    let error = map_order(&order, &rules, &country_name).unwrap_err();
    assert_eq!(
        error.to_string(),
        "order 17: WooCommerce's total 3000.50 has more decimals than the 0 ERPNext keeps for JPY; set the connection's precision for JPY to the store's decimals"
    );
}

#[test]
fn charge_rows_always_have_a_description() {
    let rules = test_site_rules();
    let order = edited(&snapshot_order(21), |order| {
        order["fee_lines"][0]["name"] = json!("");
        order["tax_lines"][0]["label"] = json!("");
    });
    let mapping = map_order(&order, &rules, &country_name).unwrap();
    let descriptions: Vec<&str> = mapping
        .sales_order
        .taxes
        .iter()
        .map(|row| row.description.as_str())
        .collect();
    assert_eq!(
        descriptions,
        vec!["US-CA-CA STATE TAX-1", "CA County Tax", "WooCommerce fee"]
    );
}

#[test]
fn a_zero_taxed_sale_to_a_vat_registered_buyer_gets_the_exempt_tax_category() {
    let mut rules = test_site_rules();
    rules.vat_meta_keys = vec!["_eu_vat_id".to_string()];
    rules.exempt_tax_category = Some("Reverse Charge".to_string());
    let with_vat = |order: &mut serde_json::Value, key: &str| {
        order["meta_data"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": 1, "key": key, "value": " ATU12345678 "}));
    };
    let taxed = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        |order| with_vat(order, "_eu_vat_id"),
    );
    let mapping = map_order(&taxed, &rules, &country_name).unwrap();
    assert_eq!(mapping.customer.tax_id.as_deref(), Some("ATU12345678"));
    assert_eq!(
        mapping.sales_order.tax_category, None,
        "WooCommerce taxed it: no exemption"
    );

    // The same sale, untaxed (WooCommerce's EU VAT plugins remove the tax for a valid number).
    let untaxed = |order: &mut serde_json::Value| {
        order["total"] = json!("16.00");
        order["total_tax"] = json!("0.00");
        order["cart_tax"] = json!("0.00");
        order["shipping_tax"] = json!("0.00");
        order["tax_lines"] = json!([]);
        for line in order["line_items"].as_array_mut().unwrap() {
            line["total_tax"] = json!("0.00");
            line["subtotal_tax"] = json!("0.00");
            line["taxes"] = json!([]);
        }
        for line in order["shipping_lines"].as_array_mut().unwrap() {
            line["total_tax"] = json!("0.00");
            line["taxes"] = json!([]);
        }
    };
    let exempt = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        |order| {
            with_vat(order, "_eu_vat_id");
            untaxed(order);
        },
    );
    let mapping = map_order(&exempt, &rules, &country_name).unwrap();
    assert_eq!(mapping.sales_order.erpnext_grand_total(), exempt.total);
    assert_eq!(
        mapping.sales_order.tax_category.as_deref(),
        Some("Reverse Charge")
    );
    let body = serde_json::to_value(&mapping.sales_order).unwrap();
    assert_eq!(body["tax_category"], "Reverse Charge");

    // Untaxed, but no VAT number: a consumer sale outside the tax zone, not an exemption.
    let consumer = edited(
        &order_fixture("woocommerce/order_guest_on_hold.json"),
        untaxed,
    );
    let mapping = map_order(&consumer, &rules, &country_name).unwrap();
    assert_eq!(mapping.sales_order.tax_category, None);
    assert!(serde_json::to_value(&mapping.sales_order).unwrap()["tax_category"].is_null());
}
