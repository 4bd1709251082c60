//! The ERPNext simulator refuses and records what the real ERPNext 15 does, answer for answer
//! (docs/research/erpnext-findings.md, each expectation checked on the lab; the same scenarios
//! run against the lab in `tests/real_erpnext.rs`):
//! field lengths, party account currencies, refund payments, Webhook documents and
//! conditions, zero-priced rows, statuses on insert, deadlocks and seeded faults, and the
//! events Webhooks see.

mod erpnext_http;

use std::time::Duration;

use erpnext_http::{customer, name_of, sales_order_events, service_item, Erp, Receiver};
use serde_json::{json, Value};
use woocommerce_sync::simulators::erpnext::{ErpSimOptions, Faults};

// ----- 1. field lengths -------------------------------------------------------------------

#[tokio::test]
async fn varchar_fields_hold_140_characters_and_text_fields_65535_bytes() {
    let erp = Erp::simulator().await;
    for (fieldname, label, fieldtype) in [
        ("erpsim_note_data", "ERPSIM Note Data", "Data"),
        ("erpsim_note_text", "ERPSIM Note Text", "Small Text"),
    ] {
        erp.insert(
            "Custom Field",
            &json!({"dt": "Customer", "fieldname": fieldname, "label": label,
                    "fieldtype": fieldtype, "insert_after": "customer_name"}),
        )
        .await
        .ok("custom field");
    }
    let long = format!("{}X", "N".repeat(140));

    // A custom Data field is a varchar(140) like any other.
    let refused = erp
        .insert(
            "Customer",
            &json!({"customer_name": "Len Test", "erpsim_note_data": long}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.exc_type().as_str()),
        (417, "CharacterLengthExceededError")
    );
    assert_eq!(
        refused.message(),
        format!("Customer Len Test: '<strong>ERPSIM Note Data</strong>' ({long}) will get truncated, as max characters allowed is 140")
    );
    assert_eq!(refused.messages()[0]["title"], json!("Value too big"));
    assert!(refused.body.get("_exc_source").is_none(), "a Frappe check");

    // 140 characters fit; a Small Text field has no such limit.
    erp.insert(
        "Customer",
        &json!({"customer_name": "Len Test", "erpsim_note_data": "N".repeat(140),
                "erpsim_note_text": "n".repeat(5_000)}),
    )
    .await
    .ok("140 characters and a long text");

    // MariaDB refuses more than 65,535 bytes in a TEXT column: 500 DataError, nothing written.
    let refused = erp
        .update(
            "Customer",
            "Len Test",
            &json!({"erpsim_note_text": "a".repeat(65_536)}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.exc_type().as_str()),
        (500, "DataError")
    );
    assert_eq!(
        refused.exception(),
        "pymysql.err.DataError: (1406, \"Data too long for column 'erpsim_note_text' at row 1\")"
    );
    assert!(refused.messages().is_empty());
    let kept = erp.get("Customer", "Len Test").await.ok("customer");
    assert_eq!(kept["erpsim_note_text"], json!("n".repeat(5_000)));

    // Standard fields: the message names the order by the number it would have got, and that
    // number is not used up.
    customer(&erp, "Len Buyer").await;
    service_item(&erp, "LEN-ITEM", 5.0).await;
    let order = |extra: Value| {
        let mut body = json!({"customer": "Len Buyer", "delivery_date": "2099-12-31",
                              "items": [{"item_code": "LEN-ITEM", "qty": 1, "rate": 5}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let refused = erp
        .insert("Sales Order", &order(json!({"po_no": long})))
        .await;
    assert_eq!(refused.exc_type(), "CharacterLengthExceededError");
    let created = erp
        .insert("Sales Order", &order(json!({})))
        .await
        .ok("order");
    assert_eq!(
        refused.message(),
        format!(
            "Sales Order {}: '<strong>Customer's Purchase Order</strong>' ({long}) will get truncated, as max characters allowed is 140",
            name_of(&created)
        )
    );

    // Child rows are named by their row.
    let mut with_long_row = order(json!({}));
    with_long_row["items"][0]["item_name"] = json!(long);
    let refused = erp.insert("Sales Order", &with_long_row).await;
    assert_eq!(
        refused.message(),
        format!("Sales Order Item, Row 1: '<strong>Item Name</strong>' ({long}) will get truncated, as max characters allowed is 140")
    );

    // A Select value is checked against its options first; a Link value that long names
    // nothing.
    let refused = erp
        .insert("Sales Order", &order(json!({"order_type": long})))
        .await;
    assert_eq!(
        (refused.exc_type().as_str(), refused.message()),
        ("ValidationError", format!(" Order Type cannot be \"{long}\". It should be one of \"\", \"Sales\", \"Maintenance\", \"Shopping Cart\""))
    );
    let refused = erp
        .insert("Sales Order", &order(json!({"territory": long})))
        .await;
    assert_eq!(
        (refused.exc_type().as_str(), refused.message()),
        (
            "LinkValidationError",
            format!("Could not find Territory: {long}")
        )
    );
}

// ----- 2. party account currency -----------------------------------------------------------

#[tokio::test]
async fn invoices_post_to_a_receivable_in_their_currency() {
    let erp = Erp::simulator().await;
    service_item(&erp, "CUR-ITEM", 50.0).await;
    let item = json!([{"item_code": "CUR-ITEM", "qty": 1, "rate": 50}]);

    // Accounts: a ledger cannot be a parent; the group it belongs under can.
    let account = |parent: &str| {
        json!({"account_name": "Debtors EUR", "parent_account": parent, "company": "Test Company",
               "account_type": "Receivable", "account_currency": "EUR", "is_group": 0})
    };
    let refused = erp.insert("Account", &account("Debtors - TC")).await;
    assert_eq!(
        refused.message(),
        "Account Debtors EUR - TC: Parent account Debtors - TC can not be a ledger"
    );
    assert_eq!(refused.body["_exc_source"], json!("erpnext (app)"));
    let refused = erp.insert("Account", &account("Nope - TC")).await;
    assert_eq!(
        (refused.exc_type().as_str(), refused.message().as_str()),
        (
            "LinkValidationError",
            "Could not find Parent Account: Nope - TC"
        )
    );
    let eur = erp
        .insert("Account", &account("Accounts Receivable - TC"))
        .await
        .ok("EUR receivable");
    assert_eq!(
        (
            &eur["name"],
            &eur["root_type"],
            &eur["report_type"],
            &eur["account_currency"]
        ),
        (
            &json!("Debtors EUR - TC"),
            &json!("Asset"),
            &json!("Balance Sheet"),
            &json!("EUR")
        )
    );
    let again = erp
        .insert("Account", &account("Accounts Receivable - TC"))
        .await;
    assert_eq!(
        (again.status, again.exc_type().as_str()),
        (409, "DuplicateEntryError")
    );

    // No ledger yet and no account of its own: the company's USD receivable refuses EUR.
    customer(&erp, "Euro Buyer").await;
    let eur_invoice = |extra: Value| {
        let mut body = json!({"customer": "Euro Buyer", "currency": "EUR", "conversion_rate": 1.1,
                              "items": item});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let refused = erp.insert("Sales Invoice", &eur_invoice(json!({}))).await;
    assert_eq!(
        (refused.status, refused.exc_type().as_str(), refused.message()),
        (
            417,
            "ValidationError",
            "Party Account <strong>Debtors - TC</strong> currency (USD) and document currency (EUR) should be same".to_string()
        )
    );
    assert_eq!(refused.body["_exc_source"], json!("erpnext (app)"));
    let draft = erp
        .insert(
            "Sales Invoice",
            &eur_invoice(json!({"debit_to": "Debtors EUR - TC"})),
        )
        .await
        .ok("EUR invoice on the EUR receivable");
    // Recorded: the totals run before `debit_to` sets the party currency, so the new draft
    // owes its USD total; the GL posting recounts it in EUR.
    assert_eq!(
        (
            &draft["party_account_currency"],
            &draft["outstanding_amount"]
        ),
        (&json!("EUR"), &json!(55.0))
    );

    // A customer's own EUR receivable needs EUR as its billing currency.
    let refused = erp
        .insert(
            "Customer",
            &json!({"customer_name": "Euro Two", "accounts": [{"company": "Test Company", "account": "Debtors EUR - TC"}]}),
        )
        .await;
    assert_eq!(refused.message(), "Receivable Account: <strong>Debtors EUR - TC</strong> (<strong>EUR</strong>) must be in either customer billing currency: <strong>None</strong> or Company default currency: <strong>USD</strong>");
    let refused = erp
        .insert(
            "Customer",
            &json!({"customer_name": "Euro Two", "accounts": [{"company": "Test Company", "account": "Nope - TC"}]}),
        )
        .await;
    assert_eq!(
        refused.message(),
        "Could not find Row #1: Default Account: Nope - TC"
    );
    erp.insert(
        "Customer",
        &json!({"customer_name": "Euro Two", "default_currency": "EUR",
                "accounts": [{"company": "Test Company", "account": "Debtors EUR - TC"}]}),
    )
    .await
    .ok("EUR customer");
    let invoice = erp
        .insert(
            "Sales Invoice",
            &json!({"customer": "Euro Two", "currency": "EUR", "conversion_rate": 1.1, "items": item,
                    "docstatus": 1}),
        )
        .await
        .ok("EUR invoice");
    assert_eq!(invoice["debit_to"], json!("Debtors EUR - TC"));
    // Paid into the USD cash account: what the lab built for a 50 EUR invoice at 1.1
    // (ACC-SINV-2026-00079 of the research, read back with get_payment_entry).
    let payment = erp
        .method(
            "erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry",
            &json!({"dt": "Sales Invoice", "dn": invoice["name"]}),
        )
        .await
        .ok("EUR payment");
    let fields = [
        "payment_type",
        "paid_from",
        "paid_to",
        "paid_from_account_currency",
        "paid_to_account_currency",
        "paid_amount",
        "base_paid_amount",
        "received_amount",
        "base_received_amount",
        "source_exchange_rate",
        "target_exchange_rate",
        "total_allocated_amount",
        "base_total_allocated_amount",
    ];
    let shown: Vec<Value> = fields.iter().map(|field| payment[*field].clone()).collect();
    assert_eq!(
        shown,
        vec![
            json!("Receive"),
            json!("Debtors EUR - TC"),
            json!("Cash - TC"),
            json!("EUR"),
            json!("USD"),
            json!(50.0),
            json!(55.0),
            json!(55.00000000000001),
            json!(55.0),
            json!(1.1),
            json!(1.0),
            json!(50.0),
            json!(55.0),
        ]
    );
    assert_eq!(
        (
            &payment["references"][0]["allocated_amount"],
            &payment["references"][0]["exchange_rate"]
        ),
        (&json!(50.0), &json!(1.1))
    );
    for doctype in ["Sales Invoice", "Sales Order"] {
        let refused = erp
            .insert(
                doctype,
                &json!({"customer": "Euro Two", "delivery_date": "2099-12-31", "items": item}),
            )
            .await;
        assert_eq!(
            (refused.exc_type().as_str(), refused.message().as_str()),
            (
                "InvalidCurrency",
                "Accounting Entry for Customer: Euro Two can only be made in currency: EUR"
            ),
            "{doctype}"
        );
        assert!(refused
            .exception()
            .starts_with("erpnext.exceptions.InvalidCurrency: "));
    }

    // Once a customer has USD entries, a EUR receivable is refused for it.
    customer(&erp, "Dollar Buyer").await;
    erp.insert(
        "Sales Invoice",
        &json!({"customer": "Dollar Buyer", "items": item, "docstatus": 1}),
    )
    .await
    .ok("USD invoice");
    let refused = erp
        .update(
            "Customer",
            "Dollar Buyer",
            &json!({"accounts": [{"company": "Test Company", "account": "Debtors EUR - TC"}]}),
        )
        .await;
    assert_eq!(
        (refused.exc_type().as_str(), refused.message()),
        ("InvalidAccountCurrency", "<strong>Customer</strong> <strong>Dollar Buyer</strong> has accounting entries in currency <strong>USD</strong> for company <strong>Test Company</strong>. Please select a receivable or payable account with currency <strong>USD</strong>.".to_string())
    );
    // With a ledger, a EUR invoice on the USD receivable is accepted (converted)…
    let converted = erp
        .insert(
            "Sales Invoice",
            &json!({"customer": "Dollar Buyer", "currency": "EUR", "conversion_rate": 1.1, "items": item}),
        )
        .await
        .ok("EUR invoice on USD receivable");
    assert_eq!(
        (
            &converted["debit_to"],
            &converted["party_account_currency"],
            &converted["outstanding_amount"]
        ),
        (&json!("Debtors - TC"), &json!("USD"), &json!(55.0))
    );
    // …but posting to the EUR receivable is refused at submit.
    let refused = erp
        .insert(
            "Sales Invoice",
            &json!({"customer": "Dollar Buyer", "currency": "EUR", "conversion_rate": 1.1,
                    "debit_to": "Debtors EUR - TC", "items": item, "docstatus": 1}),
        )
        .await;
    assert_eq!(refused.exc_type(), "InvalidAccountCurrency");

    // An account a customer names cannot be deleted.
    let refused = erp.delete("Account", "Debtors EUR - TC").await;
    assert_eq!(
        (refused.status, refused.exc_type().as_str()),
        (417, "LinkExistsError")
    );
    let messages: Vec<Value> = refused
        .messages()
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(
        messages,
        vec![
            json!("Cannot delete or cancel because Account <a href=\"http://127.0.0.1:8000/app/account/Debtors%20EUR%20-%20TC\">Debtors EUR - TC</a> is linked with Customer <a href=\"http://127.0.0.1:8000/app/customer/Euro%20Two\">Euro Two</a> "),
            json!("You can disable this Account instead of deleting it."),
        ]
    );
    assert_eq!(
        refused.exception(),
        "frappe.exceptions.LinkExistsError: You can disable this Account instead of deleting it."
    );
}

// ----- 3. refunds -------------------------------------------------------------------------

#[tokio::test]
async fn refunds_are_paid_back_against_the_credit_note() {
    let erp = Erp::simulator().await;
    customer(&erp, "Refund Buyer").await;
    service_item(&erp, "REFUND-ITEM", 100.0).await;
    let invoice = erp
        .insert(
            "Sales Invoice",
            &json!({"customer": "Refund Buyer", "docstatus": 1,
                    "items": [{"item_code": "REFUND-ITEM", "qty": 1, "rate": 100}]}),
        )
        .await
        .ok("invoice");
    let invoice = name_of(&invoice);
    let mut payment = erp
        .method(
            "erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry",
            &json!({"dt": "Sales Invoice", "dn": invoice}),
        )
        .await
        .ok("payment");
    payment["docstatus"] = json!(1);
    erp.insert("Payment Entry", &payment).await.ok("paid");
    let mut credit = erp
        .method(
            "erpnext.accounts.doctype.sales_invoice.sales_invoice.make_sales_return",
            &json!({"source_name": invoice}),
        )
        .await
        .ok("return");
    credit["docstatus"] = json!(1);
    let credit = erp.insert("Sales Invoice", &credit).await.ok("credit note");
    let credit_note = name_of(&credit);
    // Inserted submitted: the answer shows the body's status; the database the real one.
    assert_eq!(
        (&credit["status"], &credit["outstanding_amount"]),
        (&json!("Draft"), &json!(-100.0))
    );
    let stored = erp
        .get("Sales Invoice", &credit_note)
        .await
        .ok("credit note");
    assert_eq!(
        (&stored["status"], &stored["outstanding_amount"]),
        (&json!("Return"), &json!(-100.0))
    );
    let original = erp.get("Sales Invoice", &invoice).await.ok("original");
    assert_eq!(
        (&original["status"], &original["outstanding_amount"]),
        (&json!("Paid"), &json!(0.0))
    );

    // Paying back against the paid invoice is refused, whatever the sign.
    for allocated in [-100, 100] {
        let refused = erp
            .insert(
                "Payment Entry",
                &json!({"payment_type": "Pay", "company": "Test Company", "party_type": "Customer",
                        "party": "Refund Buyer", "paid_from": "Cash - TC", "paid_to": "Debtors - TC",
                        "paid_amount": 100, "received_amount": 100, "docstatus": 1,
                        "references": [{"reference_doctype": "Sales Invoice", "reference_name": invoice,
                                        "allocated_amount": allocated}]}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.message()),
            (
                417,
                format!("Sales Invoice {invoice} has already been fully paid.")
            )
        );
    }
    let refused = erp
        .insert(
            "Payment Entry",
            &json!({"payment_type": "Receive", "company": "Test Company", "party_type": "Customer",
                    "party": "Refund Buyer", "paid_from": "Debtors - TC", "paid_to": "Cash - TC",
                    "paid_amount": 100, "received_amount": 100,
                    "references": [{"reference_doctype": "Sales Invoice", "reference_name": credit_note,
                                    "allocated_amount": -100}]}),
        )
        .await;
    assert_eq!(
        (refused.message(), refused.messages()[0]["title"].clone()),
        (
            "Cannot receive from customer against negative outstanding".to_string(),
            json!("Incorrect Payment Type")
        )
    );

    // What get_payment_entry builds for the credit note pays it back.
    let mut refund = erp
        .method(
            "erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry",
            &json!({"dt": "Sales Invoice", "dn": credit_note}),
        )
        .await
        .ok("refund");
    assert_eq!(
        (
            &refund["payment_type"],
            &refund["paid_from"],
            &refund["paid_to"],
            &refund["paid_amount"],
            &refund["received_amount"]
        ),
        (
            &json!("Pay"),
            &json!("Cash - TC"),
            &json!("Debtors - TC"),
            &json!(100.0),
            &json!(100.0)
        )
    );
    let reference = &refund["references"][0];
    assert_eq!(
        (
            &reference["reference_name"],
            &reference["total_amount"],
            &reference["outstanding_amount"],
            &reference["allocated_amount"]
        ),
        (
            &json!(credit_note),
            &json!(-100.0),
            &json!(-100.0),
            &json!(-100.0)
        )
    );
    refund["docstatus"] = json!(1);
    let refund = erp.insert("Payment Entry", &refund).await.ok("refund paid");
    assert_eq!(
        refund["remarks"],
        json!(format!(
            "Amount USD 100.0 to Refund Buyer\nAmount USD -100.0 against Sales Invoice {credit_note}"
        ))
    );
    let settled = erp
        .get("Sales Invoice", &credit_note)
        .await
        .ok("credit note");
    assert_eq!(
        (&settled["status"], &settled["outstanding_amount"]),
        (&json!("Return"), &json!(0.0))
    );
}

// ----- 4. Webhook documents and conditions ---------------------------------------------------

#[tokio::test]
async fn webhook_documents_are_validated_like_frappe() {
    let erp = Erp::simulator().await;
    let hook = |extra: Value| {
        let mut body = json!({"webhook_doctype": "Sales Order", "webhook_docevent": "on_change",
                              "request_url": "http://127.0.0.1:9/", "enabled": 0});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (body, message) in [
        (
            hook(json!({"enable_security": 1})),
            "Please set the document name".to_string(),
        ),
        (
            hook(json!({"name": "h", "enable_security": 1})),
            "Invalid Webhook Secret".into(),
        ),
        (
            hook(json!({"name": "h", "enable_security": 1, "webhook_secret": ""})),
            "Invalid Webhook Secret".into(),
        ),
        (
            hook(json!({"name": "h", "condition": "doc.status =="})),
            "Invalid Condition: invalid syntax (<unknown>, line 1)".into(),
        ),
        (
            hook(json!({"name": "h", "condition": "doc.no_such_field == 1"})),
            "Invalid Condition: 'SalesOrder' object has no attribute 'no_such_field'".into(),
        ),
        (
            hook(
                json!({"name": "h", "webhook_doctype": "Customer", "webhook_docevent": "on_submit"}),
            ),
            "DocType must be Submittable for the selected Doc Event".into(),
        ),
        (
            hook(json!({"name": "h", "request_url": "not a url"})),
            "Check Request URL".into(),
        ),
    ] {
        let refused = erp.insert("Webhook", &body).await;
        assert_eq!(
            (
                refused.status,
                refused.exc_type().as_str(),
                refused.message()
            ),
            (417, "ValidationError", message),
            "{body}"
        );
    }
    // Outside what the simulator evaluates: refused, loudly, rather than misread.
    let refused = erp
        .insert(
            "Webhook",
            &hook(json!({"name": "h", "condition": "doc.customer.startswith(\"x\")"})),
        )
        .await;
    assert_eq!(refused.status, 417);
    assert!(
        refused
            .message()
            .starts_with("Invalid Condition: the ERPNext simulator does not evaluate"),
        "{}",
        refused.message()
    );
    // `name` or the Desk's `__newname`; the secret shows one asterisk per character.
    let made = erp
        .insert(
            "Webhook",
            &hook(
                json!({"__newname": "signed", "enable_security": 1, "webhook_secret": "s3cret",
                         "condition": "doc.get(\"customer\") == \"x\" and not doc.get(\"po_no\")"}),
            ),
        )
        .await
        .ok("webhook");
    assert_eq!(
        (
            &made["name"],
            &made["webhook_secret"],
            &made["request_structure"]
        ),
        (&json!("signed"), &json!("******"), &json!(""))
    );
    let again = erp
        .insert("Webhook", &hook(json!({"name": "signed"})))
        .await;
    assert_eq!(
        (again.status, again.exc_type().as_str()),
        (409, "DuplicateEntryError")
    );
}

#[tokio::test]
async fn deliveries_happen_only_when_the_condition_holds() {
    let erp = Erp::simulator().await;
    let receiver = Receiver::start().await;
    for (name, condition) in [
        (
            "mine",
            r#"doc.customer == "Hook Buyer" and not doc.get("po_no")"#,
        ),
        ("other", r#"doc.get("customer") == "Somebody Else""#),
    ] {
        erp.insert(
            "Webhook",
            &json!({"name": name, "webhook_doctype": "Sales Order", "webhook_docevent": "after_insert",
                    "request_url": format!("{}{name}", receiver.url), "condition": condition,
                    "request_structure": "JSON", "webhook_json": "{\"name\": \"{{ doc.name }}\", \"po_no\": \"{{ doc.po_no }}\"}"}),
        )
        .await
        .ok("webhook");
    }
    customer(&erp, "Hook Buyer").await;
    service_item(&erp, "HOOK-ITEM", 5.0).await;
    let order = |po_no: Option<&str>| {
        json!({"customer": "Hook Buyer", "delivery_date": "2099-12-31", "po_no": po_no,
               "items": [{"item_code": "HOOK-ITEM", "qty": 1, "rate": 5}]})
    };
    let with_po = erp
        .insert("Sales Order", &order(Some("PO-1")))
        .await
        .ok("order");
    let plain = erp.insert("Sales Order", &order(None)).await.ok("order");
    let received = receiver
        .wait_for(Duration::from_secs(5), |seen| {
            seen.iter().any(|(_, body)| body["name"] == plain["name"])
        })
        .await;
    // Deliveries are queued in order: once the second order's arrived, the first's would have.
    assert_eq!(
        received,
        vec![(
            "/mine".to_string(),
            json!({"name": plain["name"], "po_no": "None"})
        )],
        "{} (with PO) must not be delivered",
        with_po["name"]
    );
}

// ----- 5. zero-priced rows ------------------------------------------------------------------

#[tokio::test]
async fn zero_rate_rows_take_the_price_list_rate_unless_made_free() {
    let erp = Erp::simulator().await;
    customer(&erp, "Zero Buyer").await;
    service_item(&erp, "ZERO-ITEM", 20.0).await;
    let row = |extra: Value| {
        let mut row = json!({"item_code": "ZERO-ITEM", "qty": 1, "rate": 0});
        for (key, value) in extra.as_object().unwrap() {
            row[key] = value.clone();
        }
        row
    };
    let order = erp
        .insert(
            "Sales Order",
            &json!({"customer": "Zero Buyer", "delivery_date": "2099-12-31", "ignore_pricing_rule": 1,
                    "items": [
                        row(json!({"qty": 2})),
                        row(json!({"price_list_rate": 15})),
                        row(json!({"price_list_rate": 15, "discount_percentage": 100})),
                        row(json!({"price_list_rate": 0})),
                        row(json!({"rate": 7, "price_list_rate": 15})),
                    ]}),
        )
        .await
        .ok("order");
    let rates: Vec<(f64, f64, f64)> = order["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["rate"].as_f64().unwrap(),
                row["price_list_rate"].as_f64().unwrap(),
                row["discount_amount"].as_f64().unwrap(),
            )
        })
        .collect();
    // Recorded on the lab: (rate, price_list_rate, discount_amount) per row.
    assert_eq!(
        rates,
        vec![
            (20.0, 20.0, 0.0),
            (15.0, 15.0, 0.0),
            (0.0, 15.0, 15.0),
            (0.0, 0.0, 0.0),
            (7.0, 15.0, 8.0)
        ]
    );
    assert_eq!(order["grand_total"], json!(62.0));
}

#[tokio::test]
async fn an_order_worth_nothing_is_invoiced_and_billed_by_quantity() {
    let erp = Erp::simulator().await;
    customer(&erp, "Free Buyer").await;
    service_item(&erp, "FREE-ITEM", 20.0).await;
    let order = erp
        .insert(
            "Sales Order",
            &json!({"customer": "Free Buyer", "delivery_date": "2099-12-31", "ignore_pricing_rule": 1,
                    "docstatus": 1, "items": [
                        {"item_code": "FREE-ITEM", "qty": 2, "rate": 0, "price_list_rate": 0},
                        {"item_code": "FREE-ITEM", "qty": 1, "rate": 0, "price_list_rate": 20, "discount_percentage": 100}]}),
        )
        .await
        .ok("order");
    let source = json!({"source_name": order["name"]});
    let make = || {
        erp.method(
            "erpnext.selling.doctype.sales_order.sales_order.make_sales_invoice",
            &source,
        )
    };
    let mut invoice = make().await.ok("make_sales_invoice maps zero rows");
    let mapped: Vec<(f64, f64)> = invoice["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["qty"].as_f64().unwrap(), row["rate"].as_f64().unwrap()))
        .collect();
    assert_eq!(mapped, vec![(2.0, 0.0), (1.0, 0.0)]);
    invoice["docstatus"] = json!(1);
    let invoice = erp
        .insert("Sales Invoice", &invoice)
        .await
        .ok("zero invoice");
    // No GL entries, so nothing ever computes its status: "Draft" for good.
    let stored = erp
        .get("Sales Invoice", &name_of(&invoice))
        .await
        .ok("invoice");
    assert_eq!(
        (&stored["docstatus"], &stored["status"]),
        (&json!(1), &json!("Draft"))
    );
    let billed = erp.get("Sales Order", &name_of(&order)).await.ok("order");
    assert_eq!(
        (
            &billed["per_billed"],
            &billed["billing_status"],
            &billed["status"]
        ),
        (&json!(100.0), &json!("Fully Billed"), &json!("To Deliver"))
    );
    // Zero rows are mapped again on every call.
    let again = make().await.ok("again");
    assert_eq!(again["items"].as_array().unwrap().len(), 2);
}

// ----- 6. statuses on insert ----------------------------------------------------------------

#[tokio::test]
async fn a_new_document_keeps_the_status_its_body_gives() {
    let erp = Erp::simulator().await;
    customer(&erp, "Status Buyer").await;
    service_item(&erp, "STATUS-ITEM", 5.0).await;
    let order = |extra: Value| {
        let mut body = json!({"customer": "Status Buyer", "delivery_date": "2099-12-31",
                              "items": [{"item_code": "STATUS-ITEM", "qty": 1, "rate": 5}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let submitted = erp
        .insert("Sales Order", &order(json!({"docstatus": 1})))
        .await
        .ok("order");
    let stored = erp
        .get("Sales Order", &name_of(&submitted))
        .await
        .ok("order");
    assert_eq!(
        (&stored["docstatus"], &stored["status"]),
        (&json!(1), &json!("Draft"))
    );
    let told = erp
        .insert(
            "Sales Order",
            &order(json!({"docstatus": 1, "status": "To Deliver and Bill"})),
        )
        .await
        .ok("order");
    assert_eq!(told["status"], json!("To Deliver and Bill"));
    let draft = erp
        .insert("Sales Order", &order(json!({"status": "Completed"})))
        .await
        .ok("draft");
    assert_eq!(draft["status"], json!("Completed"));
    let draft = erp
        .insert("Sales Order", &order(json!({})))
        .await
        .ok("draft");
    let submitted = erp
        .update("Sales Order", &name_of(&draft), &json!({"docstatus": 1}))
        .await
        .ok("submit");
    assert_eq!(submitted["status"], json!("To Deliver and Bill"));

    let invoice = erp
        .insert(
            "Sales Invoice",
            &json!({"customer": "Status Buyer", "docstatus": 1,
                    "items": [{"item_code": "STATUS-ITEM", "qty": 1, "rate": 5}]}),
        )
        .await
        .ok("invoice");
    assert_eq!(invoice["status"], json!("Draft"), "the answer is stale");
    let stored = erp
        .get("Sales Invoice", &name_of(&invoice))
        .await
        .ok("invoice");
    assert_eq!(stored["status"], json!("Unpaid"), "the GL posting set it");
}

// ----- 7. deadlocks and seeded faults ----------------------------------------------------------

#[tokio::test]
async fn a_deadlock_answers_500_and_writes_nothing() {
    let erp = Erp::simulator_with(ErpSimOptions {
        deadlock_rate: 1.0,
        fault_seed: Some(7),
        ..ErpSimOptions::default()
    })
    .await;
    let refused = erp
        .insert("Customer", &json!({"customer_name": "Deadlocked"}))
        .await;
    assert_eq!(
        refused.body,
        json!({
            "exception": "frappe.exceptions.QueryDeadlockError: (1213, 'Deadlock found when trying to get lock; try restarting transaction')",
            "exc_type": "QueryDeadlockError",
            "exc": refused.body["exc"],
        })
    );
    assert_eq!(refused.status, 500);
    assert!(refused.body["exc"].as_str().unwrap().contains("Traceback"));
    // Reads are not writes.
    assert_eq!(erp.get("Company", "Test Company").await.status, 200);
    erp.sim().set_faults(Faults::default());
    assert!(erp.find("Customer", "Deadlocked").await.is_none());
    assert_eq!(erp.sim().fault_seed(), 7);
    // The product's client reads the type off the body (whether it retries is its call).
    let error = woocommerce_sync::erpnext::ErpError::from_response(
        "Customer",
        refused.status,
        &refused.body.to_string(),
        None,
    );
    assert_eq!(error.exc_type(), Some("QueryDeadlockError"));
}

#[tokio::test]
async fn one_seed_draws_the_same_faults() {
    async fn outcomes(seed: u64) -> Vec<u16> {
        let erp = Erp::simulator_with(ErpSimOptions {
            deadlock_rate: 0.5,
            fault_seed: Some(seed),
            ..ErpSimOptions::default()
        })
        .await;
        let mut statuses = Vec::new();
        for index in 0..24 {
            let reply = erp
                .insert(
                    "Customer",
                    &json!({"customer_name": format!("Seeded {index}")}),
                )
                .await;
            statuses.push(reply.status);
        }
        statuses
    }
    let first = outcomes(42).await;
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    assert_eq!(outcomes(42).await, first);
    assert_ne!(outcomes(43).await, first);

    // The seed in use is readable at /__sim/faults, and setting it restarts the draws.
    let erp = Erp::simulator_with(ErpSimOptions {
        fault_seed: Some(5),
        ..ErpSimOptions::default()
    })
    .await;
    let faults: Faults = reqwest::get(erp.base.join("__sim/faults").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults.seed, Some(5));
    let set: Faults = reqwest::Client::new()
        .put(erp.base.join("__sim/faults").unwrap())
        .json(&json!({"deadlock_rate": 0.5, "seed": 42}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((set.seed, set.deadlock_rate), (Some(42), 0.5));
    let mut statuses = Vec::new();
    for index in 0..24 {
        let reply = erp
            .insert(
                "Customer",
                &json!({"customer_name": format!("Seeded {index}")}),
            )
            .await;
        statuses.push(reply.status);
    }
    assert_eq!(statuses, first);
}

// ----- 8. the events Webhooks see ------------------------------------------------------------

#[tokio::test]
async fn webhooks_see_the_events_the_real_site_raises() {
    let erp = Erp::simulator().await;
    let receiver = Receiver::start().await;
    let seen = sales_order_events(&erp, &receiver, "SIM").await;
    let expected = json!([
        // Insert as a draft: no on_change while inserting.
        ["after_insert", "A", "Draft", "0", "0.0", "0.0"],
        ["on_update", "A", "Draft", "0", "0.0", "0.0"],
        // Submit of a saved draft.
        ["on_update", "A", "To Deliver and Bill", "1", "0.0", "0.0"],
        ["on_submit", "A", "To Deliver and Bill", "1", "0.0", "0.0"],
        ["on_change", "A", "To Deliver and Bill", "1", "0.0", "0.0"],
        // Inserted submitted: the status stays the body's.
        ["after_insert", "B", "Draft", "1", "0.0", "0.0"],
        ["on_update", "B", "Draft", "1", "0.0", "0.0"],
        ["on_submit", "B", "Draft", "1", "0.0", "0.0"],
        // A field allowed on submit: on_change only (on_update_after_submit never fires).
        ["on_change", "B", "Draft", "1", "0.0", "0.0"],
        // Invoice submit and close reach the order through db_set: on_change only.
        ["on_change", "B", "To Deliver", "1", "100.0", "0.0"],
        ["on_change", "B", "Closed", "1", "100.0", "0.0"],
        // So do a delivery and its cancellation.
        [
            "on_change",
            "A",
            "To Deliver and Bill",
            "1",
            "0.0",
            "33.333333"
        ],
        ["on_change", "A", "To Deliver and Bill", "1", "0.0", "0.0"],
        ["after_insert", "C", "Draft", "0", "0.0", "0.0"],
        ["on_update", "C", "Draft", "0", "0.0", "0.0"],
    ]);
    assert_eq!(Value::Array(seen), expected);
}
