//! The ERPNext client against recorded error bodies and against the simulator:
//! error decoding and classification, the invoice → payment → credit note flow,
//! currencies, retries, timeouts, lost answers after a commit, webhooks, and a
//! site holding thousands of orders.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use woocommerce_sync::erpnext::types::{PaymentEntry, SalesInvoice, SalesOrder};
use woocommerce_sync::erpnext::{ErpClient, ErpConfig, ErpError, ListQuery};
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::simulators::erpnext::{start, ErpSimHandle, ErpSimOptions, Faults};

fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/erpnext")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists"))
        .expect("fixture is JSON")
}

fn recorded_error(name: &str, subject: &str) -> ErpError {
    let exchange = recorded(name);
    let status = exchange["response"]["status"].as_u64().unwrap() as u16;
    let body = match &exchange["response"]["body"] {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    ErpError::from_response(subject, status, &body, None)
}

#[test]
fn recorded_errors_read_well_and_classify() {
    let missing_date = recorded_error(
        "29-create-sales-order-missing-delivery-date.json",
        "Sales Order",
    );
    assert_eq!(
        missing_date.to_string(),
        "ERPNext rejected Sales Order: Please enter Delivery Date"
    );
    assert!(!missing_date.is_retryable() && !missing_date.is_duplicate());

    let mandatory = recorded_error("30-create-sales-order-missing-customer.json", "Sales Order");
    assert_eq!(
        mandatory.to_string(),
        "ERPNext rejected Sales Order: Value missing for Sales Order: Customer"
    );
    assert_eq!(mandatory.exc_type(), Some("MandatoryError"));

    let unique = recorded_error("33-create-sales-order-duplicate-woo-id.json", "Sales Order");
    assert_eq!(
        unique.to_string(),
        "ERPNext rejected Sales Order: WooCommerce Order ID must be unique (UniqueValidationError)"
    );
    assert!(unique.is_duplicate());

    let item_exists = recorded_error("20-create-item-duplicate.json", "Item");
    assert!(item_exists.is_duplicate());
    assert_eq!(
        item_exists.to_string(),
        "ERPNext rejected Item: Item WC-SKU-HOODIE-M already exists (DuplicateEntryError)"
    );

    assert!(recorded_error("12-create-custom-field-duplicate.json", "Custom Field").is_duplicate());
    assert!(!recorded_error(
        "36-create-sales-order-duplicate-customer-po.json",
        "Sales Order"
    )
    .is_duplicate());
    assert!(recorded_error("22-item-exists-check-missing.json", "Item").is_not_found());
    assert!(
        recorded_error("31-create-sales-order-unknown-item.json", "Sales Order").is_not_found()
    );

    let link = recorded_error(
        "53-cancel-sales-order-linked-to-invoice.json",
        "cancelling Sales Order",
    );
    assert!(
        link.to_string()
            .contains("is linked with Sales Invoice ACC-SINV-2026-00001 (LinkExistsError)"),
        "{link}"
    );
    assert!(!link.to_string().contains("<a"));

    let cancelled = recorded_error("52-cancel-already-cancelled.json", "cancelling Sales Order");
    assert_eq!(cancelled.message(), "Cannot edit cancelled document");

    let auth = recorded_error("76-auth-wrong-secret.json", "Sales Order");
    assert!(auth.is_auth() && !auth.is_retryable());
    assert!(auth.to_string().contains("refused the API key and secret"));

    let guest = recorded_error("78-auth-none-guest-list.json", "Sales Order");
    assert_eq!(guest.status(), Some(403));
    assert!(guest
        .message()
        .contains("User Guest does not have doctype access"));

    let html = recorded_error("84-accept-text-html-error.json", "Sales Order");
    assert!(html.is_not_found());
    assert!(
        html.to_string()
            .contains("an HTML page instead of JSON (\"Not Found\")"),
        "{html}"
    );
    assert!(html.to_string().len() < 300);

    let two_messages = recorded_error("97-create-sales-order-no-exchange-rate.json", "Sales Order");
    assert!(two_messages
        .message()
        .starts_with("Unable to find exchange rate for GBP to USD"));
    assert!(two_messages
        .message()
        .contains("; Exchange Rate is mandatory"));

    let v2 = recorded_error("87-v2-insert-missing-mandatory.json", "Sales Order");
    assert_eq!(v2.exc_type(), Some("MandatoryError"));
    assert!(!v2.to_string().contains("Traceback"));

    for status in [429, 502, 503, 504] {
        assert!(
            ErpError::from_response("x", status, "", None).is_retryable(),
            "{status}"
        );
    }
    for status in [404, 409, 417, 500] {
        assert!(
            !ErpError::from_response("x", status, "{}", None).is_retryable(),
            "{status}"
        );
    }
}

fn config_for(simulator: &ErpSimHandle) -> ErpConfig {
    let mut config = ErpConfig::new(
        simulator.base_url().clone(),
        simulator.api_key(),
        simulator.api_secret(),
    );
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    config
}

async fn seeded_site() -> (ErpSimHandle, ErpClient) {
    let simulator = start(ErpSimOptions::default())
        .await
        .expect("simulator starts");
    let client = ErpClient::new(config_for(&simulator)).expect("client builds");
    client
        .insert::<Value>("Custom Field", &json!({"dt": "Sales Order", "label": "WooCommerce Order Key", "fieldname": "woocommerce_order_key", "unique": 1, "no_copy": 1}))
        .await
        .unwrap();
    client
        .insert::<Value>(
            "Customer",
            &json!({"customer_name": "Jane Doe", "email_id": "jane@example.com"}),
        )
        .await
        .unwrap();
    for (code, rate) in [("HOODIE", 45.0), ("MUG", 12.5)] {
        client
            .insert::<Value>("Item", &json!({"item_code": code, "item_group": "Products", "stock_uom": "Nos", "standard_rate": rate}))
            .await
            .unwrap();
    }
    (simulator, client)
}

fn order(key: &str) -> Value {
    json!({
        "customer": "Jane Doe", "company": "Test Company", "delivery_date": "2099-12-31",
        "docstatus": 1, "woocommerce_order_key": key,
        "items": [{"item_code": "HOODIE", "qty": 2, "rate": 45.0}, {"item_code": "MUG", "qty": 1, "rate": 12.5}],
        "taxes": [
            {"charge_type": "On Net Total", "account_head": "ST 4% - TC", "description": "Tax", "rate": 4},
            {"charge_type": "Actual", "account_head": "Freight and Forwarding Charges - TC", "description": "Shipping", "tax_amount": 7.5}
        ]
    })
}

#[tokio::test]
async fn logged_user_and_bad_credentials() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let client = ErpClient::new(config_for(&simulator)).unwrap();
    assert_eq!(client.logged_user().await.unwrap(), "Administrator");
    assert_eq!(
        client.site_time_zone().await.unwrap(),
        chrono_tz::America::New_York
    );

    let mut wrong = config_for(&simulator);
    wrong.api_secret = "not-the-secret".into();
    let error = ErpClient::new(wrong)
        .unwrap()
        .logged_user()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(!error.to_string().contains("not-the-secret"));
}

#[tokio::test]
async fn order_invoice_payment_and_credit_note() {
    let (simulator, client) = seeded_site().await;
    let created: SalesOrder = serde_json::from_value(
        client
            .insert::<Value>("Sales Order", &order("shop:1"))
            .await
            .unwrap(),
    )
    .unwrap();
    // 102.5 net + 4.10 tax (4%) + 7.5 shipping.
    assert_eq!(created.grand_total, Decimal::new(11410, 2));
    assert_eq!(
        created.docstatus,
        woocommerce_sync::erpnext::types::DocStatus::Submitted
    );

    let mapped = client
        .make_sales_invoice::<Value>(&created.name)
        .await
        .unwrap();
    assert_eq!(mapped["__islocal"], json!(1));
    assert!(
        mapped["woocommerce_order_key"].is_null(),
        "no_copy keys stay on the order"
    );
    let invoice = client
        .insert::<Value>("Sales Invoice", &mapped)
        .await
        .unwrap();
    let invoice_name = invoice["name"].as_str().unwrap().to_string();
    let invoice: SalesInvoice =
        serde_json::from_value(client.submit("Sales Invoice", &invoice_name).await.unwrap())
            .unwrap();
    assert_eq!(invoice.status, "Unpaid");
    assert_eq!(invoice.outstanding_amount, Decimal::new(11410, 2));

    let billed: SalesOrder = client.get("Sales Order", &created.name).await.unwrap();
    assert_eq!(billed.per_billed, Decimal::from(100));
    assert_eq!(billed.status, "To Deliver");

    let refused = client
        .cancel("Sales Order", &created.name)
        .await
        .unwrap_err();
    assert_eq!(refused.exc_type(), Some("LinkExistsError"));
    // What ERPNext offers instead: closing the invoiced order, and re-opening it.
    client.close_sales_order(&created.name).await.unwrap();
    let closed: SalesOrder = client.get("Sales Order", &created.name).await.unwrap();
    assert_eq!(closed.status, "Closed");
    client
        .call_method(
            "erpnext.selling.doctype.sales_order.sales_order.update_status",
            &json!({"status": "Draft", "name": created.name}),
        )
        .await
        .unwrap();
    let reopened: SalesOrder = client.get("Sales Order", &created.name).await.unwrap();
    assert_eq!(reopened.status, "To Deliver");

    let mut payment = client
        .get_payment_entry::<Value>("Sales Invoice", &invoice_name)
        .await
        .unwrap();
    assert_eq!(payment["paid_from"], json!("Debtors - TC"));
    assert_eq!(payment["paid_to"], json!("Cash - TC"));
    payment["mode_of_payment"] = json!("Credit Card");
    payment["reference_no"] = json!("TXN-1");
    payment["docstatus"] = json!(1);
    let payment: PaymentEntry = serde_json::from_value(
        client
            .insert::<Value>("Payment Entry", &payment)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        payment.references[0].allocated_amount,
        Decimal::new(11410, 2)
    );
    let paid: SalesInvoice = client.get("Sales Invoice", &invoice_name).await.unwrap();
    assert_eq!(
        (paid.status.as_str(), paid.outstanding_amount),
        ("Paid", Decimal::ZERO)
    );

    // A refund of the mug only: a credit note with one negative line.
    let mut credit = client.make_sales_return(&invoice_name).await.unwrap();
    assert_eq!(credit["is_return"], json!(1));
    credit["items"] = json!([credit["items"][1].clone()]);
    credit["taxes"] = json!([]);
    let credit = client
        .insert::<Value>("Sales Invoice", &credit)
        .await
        .unwrap();
    // Named in the invoices' series, as on the lab (research §3).
    assert!(credit["name"].as_str().unwrap().starts_with("ACC-SINV-2"));
    assert_eq!(credit["grand_total"], json!(-12.5));
    assert_eq!(credit["update_outstanding_for_self"], json!(1));
    let credit_name = credit["name"].as_str().unwrap();
    client.submit("Sales Invoice", credit_name).await.unwrap();
    // The credit note owes the customer; the paid invoice is left as it was.
    let credit: SalesInvoice = client.get("Sales Invoice", credit_name).await.unwrap();
    assert_eq!(
        (credit.status.as_str(), credit.outstanding_amount),
        ("Return", Decimal::new(-1250, 2))
    );
    let original: SalesInvoice = client.get("Sales Invoice", &invoice_name).await.unwrap();
    assert_eq!(
        (original.status.as_str(), original.outstanding_amount),
        ("Paid", Decimal::ZERO)
    );

    // Cancelling the paid invoice succeeds and leaves the payment unallocated.
    client.cancel("Sales Invoice", credit_name).await.unwrap();
    client.cancel("Sales Invoice", &invoice_name).await.unwrap();
    let unlinked: PaymentEntry = client.get("Payment Entry", &payment.name).await.unwrap();
    assert_eq!(
        unlinked.docstatus,
        woocommerce_sync::erpnext::types::DocStatus::Submitted
    );
    assert!(unlinked.references.is_empty());
    assert_eq!(unlinked.unallocated_amount, Decimal::new(11410, 2));
    let cancelled = client.cancel("Sales Order", &created.name).await.unwrap();
    assert_eq!(cancelled["status"], json!("Cancelled"));
    drop(simulator);
}

#[tokio::test]
async fn lists_filters_counts_and_values() {
    let (_simulator, client) = seeded_site().await;
    for index in 0..5 {
        let mut body = order(&format!("shop:{index}"));
        if index % 2 == 0 {
            body["docstatus"] = json!(0);
        }
        client.insert::<Value>("Sales Order", &body).await.unwrap();
    }
    let drafts: Vec<Value> = client
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name", "woocommerce_order_key"])
                .filter("docstatus", "=", 0)
                .order_by("name asc"),
        )
        .await
        .unwrap();
    assert_eq!(drafts.len(), 3);
    assert_eq!(drafts[0]["woocommerce_order_key"], json!("shop:0"));
    let page: Vec<Value> = client
        .list(
            "Sales Order",
            &ListQuery::default().page(1, 2).order_by("creation desc"),
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    let either: Vec<Value> = client
        .list(
            "Sales Order",
            &ListQuery::default()
                .or_filter("woocommerce_order_key", "=", "shop:1")
                .or_filter("woocommerce_order_key", "like", "%:4"),
        )
        .await
        .unwrap();
    assert_eq!(either.len(), 2);
    assert_eq!(
        client
            .get_count("Sales Order", &json!({"docstatus": 1}))
            .await
            .unwrap(),
        2
    );
    let changed = client
        .call_method(
            "frappe.client.set_value",
            &json!({"doctype": "Customer", "name": "Jane Doe", "fieldname": "mobile_no", "value": "+1 555 0199"}),
        )
        .await
        .unwrap();
    assert_eq!(changed["mobile_no"], json!("+1 555 0199"));
    assert!(client
        .get_value(
            "Sales Order",
            &json!({"woocommerce_order_key": "nope"}),
            &["name"]
        )
        .await
        .unwrap()
        .is_none());
    let unknown = client
        .list::<Value>(
            "Sales Order",
            &ListQuery::default().filter("no_such_field", "=", 1),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.exc_type(), Some("DataError"));
    let items: Vec<Value> = client
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name", "`tabSales Order Item`.item_code"])
                .filter("woocommerce_order_key", "=", "shop:1"),
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
}

#[tokio::test]
async fn foreign_currency_uses_the_latest_rate_on_or_before_the_date() {
    let (_simulator, client) = seeded_site().await;
    for (date, rate) in [
        ("2000-01-01", 1.08),
        ("2026-01-01", 1.10),
        ("2099-01-01", 9.99),
    ] {
        client
            .insert::<Value>("Currency Exchange", &json!({"date": date, "from_currency": "EUR", "to_currency": "USD", "exchange_rate": rate, "for_selling": 1, "for_buying": 1}))
            .await
            .unwrap();
    }
    let body = json!({
        "customer": "Jane Doe", "transaction_date": "2026-11-20", "delivery_date": "2026-11-27", "currency": "EUR",
        "items": [{"item_code": "MUG", "qty": 3, "rate": 9.99}],
        "taxes": [{"charge_type": "Actual", "account_head": "ST 6.25% - TC", "description": "VAT", "tax_amount": 1.665}]
    });
    let created = client.insert::<Value>("Sales Order", &body).await.unwrap();
    assert_eq!(created["conversion_rate"], json!(1.1));
    // 1.665 is stored as 1.66 (banker's rounding, as recorded in fixture 96).
    assert_eq!(created["grand_total"], json!(31.63));
    assert_eq!(created["base_grand_total"], json!(34.79));

    let mut pounds = body.clone();
    pounds["currency"] = json!("GBP");
    let error = client
        .insert::<Value>("Sales Order", &pounds)
        .await
        .unwrap_err();
    assert!(error
        .message()
        .contains("Unable to find exchange rate for GBP to USD for key date 2026-11-20"));
}

#[tokio::test]
async fn retries_throttling_and_gives_up_cleanly() {
    let (simulator, client) = seeded_site().await;
    simulator.set_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    });
    let started = Instant::now();
    let error = client
        .get::<Value>("Customer", "Jane Doe")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert!(error.is_retryable());
    // Retry-After: 1 was capped by the policy's max_delay (20 ms) for two waits.
    assert!(started.elapsed() < Duration::from_secs(2));

    simulator.set_faults(Faults {
        error_rate: 0.5,
        ..Faults::default()
    });
    let mut config = config_for(&simulator);
    config.retry.max_attempts = 30;
    let patient = ErpClient::new(config).unwrap();
    for _ in 0..5 {
        let customer: Value = patient
            .get("Customer", "Jane Doe")
            .await
            .expect("retries through 503s");
        assert_eq!(customer["customer_name"], json!("Jane Doe"));
    }
}

#[tokio::test]
async fn a_lost_answer_after_commit_is_found_again_by_key() {
    let (simulator, client) = seeded_site().await;
    simulator.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let error = client
        .insert::<Value>("Sales Order", &order("shop:727"))
        .await
        .unwrap_err();
    assert!(matches!(error, ErpError::Transport { .. }), "{error:?}");
    assert!(error.is_retryable());
    simulator.set_faults(Faults::default());
    let found = client
        .get_value(
            "Sales Order",
            &json!({"woocommerce_order_key": "shop:727"}),
            &["name", "docstatus"],
        )
        .await
        .unwrap()
        .expect("the insert was committed before the answer was dropped");
    assert_eq!(found["docstatus"], json!(1));
    assert_eq!(simulator.count("Sales Order"), 1);
}

#[tokio::test]
async fn timeouts_are_transport_errors() {
    let simulator = start(ErpSimOptions {
        timeout_rate: 1.0,
        ..ErpSimOptions::default()
    })
    .await
    .unwrap();
    let mut config = config_for(&simulator);
    config.timeout = Duration::from_millis(200);
    config.retry = RetryPolicy::none();
    let error = ErpClient::new(config)
        .unwrap()
        .logged_user()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ErpError::Transport {
                timed_out: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("did not answer in time"));
}

#[tokio::test]
async fn runtime_faults_endpoint_reads_and_sets() {
    let simulator = start(ErpSimOptions::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = simulator.base_url().join("__sim/faults").unwrap();
    let set: Faults = http
        .put(url.clone())
        .json(&json!({"latency_ms": 5, "error_rate": 0.25}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set.error_rate, 0.25);
    assert_eq!(simulator.faults().latency_ms, 5);
    let read: Faults = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(read, set);
}

/// What the test receiver got: (URL, signature, body), in order; watched, so a test waits for
/// the deliveries it expects instead of polling.
type Received = Arc<tokio::sync::watch::Sender<Vec<(String, Option<String>, Vec<u8>)>>>;

/// Everything received once `count` deliveries arrived, or when `within` ran out.
async fn wait_for_deliveries(
    received: &Received,
    count: usize,
    within: Duration,
) -> Vec<(String, Option<String>, Vec<u8>)> {
    let mut watching = received.subscribe();
    let _ = tokio::time::timeout(within, watching.wait_for(|all| all.len() >= count)).await;
    let all = received.borrow().clone();
    all
}

async fn receiver() -> (String, Received) {
    use axum::{body::Bytes, extract::State, http::HeaderMap, http::Uri, routing::post, Router};
    let received: Received = Arc::new(tokio::sync::watch::Sender::new(Vec::new()));
    async fn record(
        State(received): State<Received>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let signature = headers
            .get("x-frappe-webhook-signature")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        received.send_modify(|all| all.push((uri.to_string(), signature, body.to_vec())));
        "ok"
    }
    let app = Router::new()
        .route("/erp", post(record))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/erp"), received)
}

#[tokio::test]
async fn webhooks_deliver_signed_snapshots_in_order() {
    let (simulator, client) = seeded_site().await;
    let (url, received) = receiver().await;
    for event in ["on_update", "on_submit"] {
        client
            .insert::<Value>("Webhook", &json!({
                "__newname": format!("hook-{event}"), "webhook_doctype": "Sales Order", "webhook_docevent": event,
                "request_url": format!("{url}?event={event}"), "request_structure": "JSON",
                "webhook_json": "{{ doc | tojson }}", "enable_security": 1, "webhook_secret": "lab-secret",
                "webhook_headers": [{"key": "Content-Type", "value": "application/json"}]
            }))
            .await
            .unwrap();
    }
    let mut draft = order("shop:9");
    draft["docstatus"] = json!(0);
    let created = client.insert::<Value>("Sales Order", &draft).await.unwrap();
    client
        .submit("Sales Order", created["name"].as_str().unwrap())
        .await
        .unwrap();

    let deliveries = wait_for_deliveries(&received, 3, Duration::from_secs(30)).await;
    assert_eq!(
        deliveries.len(),
        3,
        "insert → on_update; submit → on_update and on_submit"
    );
    assert!(deliveries[0].0.ends_with("event=on_update"));
    assert!(deliveries[2].0.ends_with("event=on_submit"));
    assert_eq!(
        deliveries[1].2, deliveries[2].2,
        "submit sends the same body to both webhooks"
    );
    for (_, signature, body) in &deliveries {
        let signature = signature.as_deref().expect("signed");
        assert!(woocommerce_sync::erpnext::webhook::verify_signature(
            "lab-secret",
            body,
            signature
        ));
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.starts_with("{\"additional_discount_percentage\": "),
            "Python json.dumps with sorted keys"
        );
    }
    let first: Value = serde_json::from_slice(&deliveries[0].2).unwrap();
    let last: Value = serde_json::from_slice(&deliveries[2].2).unwrap();
    assert_eq!(
        (first["docstatus"].clone(), last["docstatus"].clone()),
        (json!(0), json!(1))
    );
    // The receiver has a delivery before the simulator has its answer and logs the attempt.
    tokio::time::timeout(
        Duration::from_secs(30),
        simulator.webhook_deliveries_settled(),
    )
    .await
    .expect("the deliveries settle");
    assert_eq!(simulator.webhook_log().len(), 3);
}

#[tokio::test]
async fn thousands_of_orders_and_lookups_by_key_stay_fast() {
    let (simulator, client) = seeded_site().await;
    let started = Instant::now();
    let count = 2000;
    let inserts = (0..count).map(|index| {
        let client = client.clone();
        async move {
            client
                .insert::<Value>("Sales Order", &order(&format!("bulk:{index}")))
                .await
                .map(|_| ())
        }
    });
    let results = futures::future::join_all(inserts).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(simulator.count("Sales Order"), count);
    let lookups = Instant::now();
    for index in (0..count).step_by(100) {
        let found = client
            .get_value(
                "Sales Order",
                &json!({"woocommerce_order_key": format!("bulk:{index}")}),
                &["name"],
            )
            .await
            .unwrap();
        assert!(found.is_some());
    }
    // 20 indexed look-ups in a site of 2,000 orders: milliseconds each, not a scan.
    assert!(
        lookups.elapsed() < Duration::from_secs(3),
        "{:?}",
        lookups.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn cancelled_orders_are_amended_under_a_suffixed_name() {
    let (_simulator, client) = seeded_site().await;
    let original = client
        .insert::<Value>("Sales Order", &order("shop:amend"))
        .await
        .unwrap();
    let name = original["name"].as_str().unwrap().to_string();
    let not_yet = client
        .insert::<Value>("Sales Order", &json!({"amended_from": name, "customer": "Jane Doe", "delivery_date": "2099-12-31", "items": [{"item_code": "MUG", "qty": 1, "rate": 1}]}))
        .await
        .unwrap_err();
    assert!(not_yet.message().contains("must be cancelled"), "{not_yet}");
    client.cancel("Sales Order", &name).await.unwrap();
    let mut amendment = order("shop:amend-2");
    amendment["amended_from"] = json!(name);
    let first = client
        .insert::<Value>("Sales Order", &amendment)
        .await
        .unwrap();
    assert_eq!(first["name"], json!(format!("{name}-1")));
    client
        .cancel("Sales Order", &format!("{name}-1"))
        .await
        .unwrap();
    amendment["amended_from"] = json!(format!("{name}-1"));
    amendment["woocommerce_order_key"] = json!("shop:amend-3");
    let second = client
        .insert::<Value>("Sales Order", &amendment)
        .await
        .unwrap();
    assert_eq!(second["name"], json!(format!("{name}-2")));
}

#[tokio::test]
async fn form_webhooks_send_the_chosen_fields() {
    let (_simulator, client) = seeded_site().await;
    let (url, received) = receiver().await;
    client
        .insert::<Value>("Webhook", &json!({
            "__newname": "form-hook", "webhook_doctype": "Sales Order", "webhook_docevent": "on_cancel",
            "request_url": url, "request_structure": "Form URL-Encoded",
            "webhook_data": [{"fieldname": "name", "key": "order"}, {"fieldname": "status", "key": "status"}]
        }))
        .await
        .unwrap();
    let created = client
        .insert::<Value>("Sales Order", &order("shop:form"))
        .await
        .unwrap();
    let name = created["name"].as_str().unwrap();
    client.cancel("Sales Order", name).await.unwrap();
    let deliveries = wait_for_deliveries(&received, 1, Duration::from_secs(5)).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].1, None, "no secret, no signature");
    let body = String::from_utf8(deliveries[0].2.clone()).unwrap();
    assert_eq!(body, format!("order={name}&status=Cancelled"));
}

#[tokio::test]
async fn stock_entries_and_open_orders_move_the_bins() {
    let (_simulator, client) = seeded_site().await;
    client
        .insert::<Value>("Item", &json!({"item_code": "STOCKED", "item_group": "Products", "stock_uom": "Nos", "is_stock_item": 1}))
        .await
        .unwrap();
    client
        .insert::<Value>("Stock Entry", &json!({"stock_entry_type": "Material Receipt", "docstatus": 1,
            "items": [{"item_code": "STOCKED", "qty": 10, "t_warehouse": "Stores - TC", "basic_rate": 3}]}))
        .await
        .unwrap();
    let too_much = client
        .insert::<Value>(
            "Stock Entry",
            &json!({"stock_entry_type": "Material Issue", "docstatus": 1,
            "items": [{"item_code": "STOCKED", "qty": 11, "s_warehouse": "Stores - TC"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(too_much.exc_type(), Some("NegativeStockError"));

    let order = client
        .insert::<Value>(
            "Sales Order",
            &json!({"customer": "Jane Doe", "delivery_date": "2099-12-31", "docstatus": 1,
            "items": [{"item_code": "STOCKED", "qty": 4, "rate": 5}]}),
        )
        .await
        .unwrap();
    let bins: Vec<Value> = client
        .list(
            "Bin",
            &ListQuery::default()
                .fields(&[
                    "item_code",
                    "warehouse",
                    "actual_qty",
                    "reserved_qty",
                    "projected_qty",
                ])
                .filter("warehouse", "in", vec!["Stores - TC"]),
        )
        .await
        .unwrap();
    assert_eq!(bins.len(), 1);
    assert_eq!(bins[0]["actual_qty"], json!(10.0));
    assert_eq!(bins[0]["reserved_qty"], json!(4.0));
    assert_eq!(bins[0]["projected_qty"], json!(6.0));

    client
        .cancel("Sales Order", order["name"].as_str().unwrap())
        .await
        .unwrap();
    let bins: Vec<Value> = client
        .list(
            "Bin",
            &ListQuery::default()
                .fields(&["reserved_qty"])
                .filter("item_code", "=", "STOCKED"),
        )
        .await
        .unwrap();
    assert_eq!(bins[0]["reserved_qty"], json!(0.0));
}
