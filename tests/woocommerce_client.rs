//! The client against the simulator over real HTTP: paging, auth modes and
//! their typed errors, retries under throttling and 5xx, timeouts, lost
//! answers, writes (status, meta, notes, refunds, batches), products, and
//! webhook deliveries checked by our own verifier.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::simulators::woocommerce::{
    start, FaultKind, WooSimHandle, WooSimOptions, TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET,
};
use woocommerce_sync::woocommerce::oauth::SignatureMethod;
use woocommerce_sync::woocommerce::types::{NewRefund, NewWebhook, StockPriceUpdate};
use woocommerce_sync::woocommerce::webhook::{verify_request, WebhookRequest};
use woocommerce_sync::woocommerce::{
    AuthMode, OrderBy, OrderQuery, WooClient, WooConfig, WooError,
};

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    }
}

fn client(handle: &WooSimHandle, auth: AuthMode, secret: &str) -> WooClient {
    let mut config = WooConfig::new(handle.base_url(), TEST_CONSUMER_KEY, secret);
    config.auth = auth;
    config.retry = quick_retries();
    config.timeout = Duration::from_secs(5);
    WooClient::new(config).unwrap()
}

async fn shop(orders: usize) -> (WooSimHandle, WooClient) {
    let handle = start(WooSimOptions {
        orders,
        seed_random: 3,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let client = client(&handle, AuthMode::Basic, TEST_CONSUMER_SECRET);
    (handle, client)
}

/// An order of the generated shop in one of these statuses.
fn order_with_status(handle: &WooSimHandle, statuses: &[&str]) -> Value {
    handle
        .orders()
        .into_iter()
        .find(|order| statuses.contains(&order["status"].as_str().unwrap_or_default()))
        .expect("the generated shop has such an order")
}

#[tokio::test]
async fn pages_through_all_orders_by_total_pages() {
    let (handle, client) = shop(250).await;
    let expected = handle
        .orders()
        .iter()
        .filter(|order| order["status"] != "trash")
        .count();
    let all = client
        .list_all_orders(&OrderQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), expected);
    let mut ids: Vec<u64> = all.iter().map(|order| order.id).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first by default"
    );
    ids.dedup();
    assert_eq!(ids.len(), expected);

    let query = OrderQuery {
        per_page: 100,
        ..OrderQuery::default()
    };
    let pages: Vec<_> = client.order_pages(&query).collect().await;
    assert_eq!(pages.len(), 3);
    for (index, page) in pages.iter().enumerate() {
        let page = page.as_ref().unwrap();
        assert_eq!(page.page, index as u32 + 1);
        assert_eq!(page.total_pages, 3);
        assert_eq!(page.total, expected as u64);
    }

    let first = client
        .list_orders_page(
            &OrderQuery {
                per_page: 7,
                ..OrderQuery::default()
            },
            2,
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 7);
    assert_eq!(first.total_pages as usize, expected.div_ceil(7));

    let processing = client
        .list_all_orders(&OrderQuery {
            status: vec!["processing".into(), "on-hold".into()],
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert!(!processing.is_empty());
    assert!(processing
        .iter()
        .all(|order| order.status == "processing" || order.status == "on-hold"));

    let trash = client
        .list_all_orders(&OrderQuery {
            status: vec!["trash".into()],
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(trash.len(), 250 - expected);
}

#[tokio::test]
async fn a_poll_by_modified_after_sees_changed_orders_in_id_order() {
    let (handle, client) = shop(120).await;
    let watermark = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(5);
    let target = order_with_status(&handle, &["processing"]);
    let id = target["id"].as_u64().unwrap();
    handle
        .update_order(id, &json!({ "status": "completed" }))
        .unwrap();

    let changed = client
        .list_all_orders(&OrderQuery::modified_since(watermark))
        .await
        .unwrap();
    assert!(
        changed
            .iter()
            .any(|order| order.id == id && order.status == "completed"),
        "{changed:?}"
    );
    // In id order (unique, so pages never disagree), every one changed after the watermark.
    assert!(changed.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert!(changed
        .iter()
        .all(|order| order.date_modified_gmt.is_some_and(|at| at > watermark)));

    let by_id = client
        .list_all_orders(&OrderQuery {
            orderby: OrderBy::Id,
            ascending: true,
            include: vec![id],
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
}

#[tokio::test]
async fn oauth1_over_plain_http_with_both_hashes_and_basic_is_ignored() {
    let handle = start(WooSimOptions {
        orders: 30,
        plain_http: true,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    for method in [SignatureMethod::HmacSha256, SignatureMethod::HmacSha1] {
        let client = client(&handle, AuthMode::OAuth1(method), TEST_CONSUMER_SECRET);
        let orders = client
            .list_all_orders(&OrderQuery {
                per_page: 10,
                ..OrderQuery::default()
            })
            .await
            .unwrap();
        assert!(orders.len() >= 25);
        let one = client.get_order(orders[0].id).await.unwrap();
        assert_eq!(one.id, orders[0].id);
        let updated = client
            .update_order_status(one.id, "cancelled")
            .await
            .unwrap();
        assert_eq!(updated.status, "cancelled");
        client
            .create_order_note(one.id, "signed with OAuth", false)
            .await
            .unwrap();
    }
    let wrong = client(
        &handle,
        AuthMode::OAuth1(SignatureMethod::HmacSha256),
        "cs_wrong",
    );
    let error = wrong
        .list_orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(
        error
            .to_string()
            .contains("Invalid signature - provided signature does not match."),
        "{error}"
    );

    let basic = client(&handle, AuthMode::Basic, TEST_CONSUMER_SECRET);
    let error = basic
        .list_orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("woocommerce_rest_cannot_view"));
    assert!(!error.is_retryable());

    // A clock 20 minutes off fails the timestamp check.
    handle.shift_clock(1_200);
    let oauth = client(
        &handle,
        AuthMode::OAuth1(SignatureMethod::HmacSha256),
        TEST_CONSUMER_SECRET,
    );
    let error = oauth.get_order(1000).await.unwrap_err();
    assert!(error.to_string().ends_with("Invalid timestamp."), "{error}");
}

#[tokio::test]
async fn a_replayed_oauth_nonce_is_refused() {
    let handle = start(WooSimOptions {
        orders: 3,
        plain_http: true,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let url = handle.base_url().join("/wp-json/wc/v3/orders").unwrap();
    let signer = woocommerce_sync::woocommerce::oauth::OAuthSigner {
        consumer_key: TEST_CONSUMER_KEY,
        consumer_secret: TEST_CONSUMER_SECRET,
        signature_method: SignatureMethod::HmacSha256,
    };
    let query = signer.signed_query(
        "GET",
        &url,
        &[],
        chrono::Utc::now().timestamp() as u64,
        "fixed-nonce-1",
    );
    let mut signed = url.clone();
    signed.query_pairs_mut().extend_pairs(&query);
    let http = reqwest::Client::new();
    assert_eq!(http.get(signed.clone()).send().await.unwrap().status(), 200);
    let again = http.get(signed).send().await.unwrap();
    assert_eq!(again.status(), 401);
    let body: Value = again.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Invalid nonce - nonce has already been used."
    );
}

#[tokio::test]
async fn auth_errors_are_typed_and_never_show_the_secret() {
    let (handle, _) = shop(5).await;
    let secret = "cs_this-secret-must-not-leak-0000000000000";
    for auth in [AuthMode::Basic, AuthMode::QueryString] {
        let wrong = client(&handle, auth, secret);
        let error = wrong.get_order(1000).await.unwrap_err();
        let WooError::Api {
            status, ref code, ..
        } = error
        else {
            panic!("not an API error: {error:?}");
        };
        assert_eq!(
            (status, code.as_str()),
            (401, "woocommerce_rest_authentication_error")
        );
        assert_eq!(error.to_string(), "WooCommerce rejected GET /orders/1000: 401 woocommerce_rest_authentication_error: Consumer secret is invalid.");
        assert!(!format!("{error:?}").contains(secret));
        assert!(!format!("{:?}", wrong).contains(secret));
    }
    let query_auth = client(&handle, AuthMode::QueryString, TEST_CONSUMER_SECRET);
    assert_eq!(query_auth.get_order(1000).await.unwrap().id, 1000);

    let mut unknown = WooConfig::new(handle.base_url(), "ck_unknown", "cs_unknown");
    unknown.auth = AuthMode::Basic;
    let error = WooClient::new(unknown)
        .unwrap()
        .get_order(1000)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("woocommerce_rest_cannot_view"));
    assert!(error
        .to_string()
        .contains("Sorry, you cannot view this resource."));
}

#[tokio::test]
async fn missing_orders_are_not_found_on_read_and_invalid_on_update() {
    let (_handle, client) = shop(2).await;
    let error = client.get_order(999_999).await.unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.to_string(), "WooCommerce rejected GET /orders/999999: 404 woocommerce_rest_shop_order_invalid_id: Invalid ID.");
    let error = client
        .update_order_status(999_999, "completed")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.is_not_found());
    let error = client
        .update_order_status(1000, "shipped")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("rest_invalid_param"));
}

#[tokio::test]
async fn idempotent_calls_retry_through_throttling_and_server_errors() {
    let (handle, client) = shop(3).await;
    let before = handle.requests_served();
    handle.push_faults(&[
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Unavailable,
    ]);
    let started = Instant::now();
    let order = client.get_order(1000).await.unwrap();
    assert_eq!(order.id, 1000);
    assert_eq!(handle.requests_served() - before, 4);
    // Retry-After: 1 on the 429 and the 503 is honoured.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    handle.push_faults(&[FaultKind::BadGateway]);
    let updated = client.update_order_status(1000, "on-hold").await.unwrap();
    assert_eq!(updated.status, "on-hold");
}

#[tokio::test]
async fn an_html_throttle_page_is_a_clean_retryable_error() {
    let (handle, _) = shop(1).await;
    let mut config = WooConfig::new(handle.base_url(), TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET);
    config.auth = AuthMode::Basic;
    config.retry = RetryPolicy::none();
    let client = WooClient::new(config).unwrap();
    handle.push_faults(&[FaultKind::ThrottleHtml]);
    let error = client.get_order(1000).await.unwrap_err();
    let WooError::NotJson {
        status,
        ref excerpt,
        retry_after,
        ..
    } = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(status, 429);
    assert!(excerpt.contains("Too Many Requests"));
    assert_eq!(retry_after, Some(Duration::from_secs(1)));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn creates_are_not_retried() {
    let (handle, client) = shop(1).await;
    let before = handle.requests_served();
    handle.push_faults(&[FaultKind::ServerError]);
    let error = client
        .create_order_note(1000, "Packed.", false)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert!(error.is_retryable());
    assert_eq!(handle.requests_served() - before, 1);
    assert!(handle
        .notes(1000)
        .iter()
        .all(|note| note["note"] != "Packed."));
}

#[tokio::test]
async fn a_silent_server_times_out_and_a_retry_gets_through() {
    let (handle, _) = shop(1).await;
    let mut config = WooConfig::new(handle.base_url(), TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET);
    config.auth = AuthMode::Basic;
    config.timeout = Duration::from_millis(300);
    config.retry = RetryPolicy::none();
    let impatient = WooClient::new(config.clone()).unwrap();
    handle.push_faults(&[FaultKind::Timeout]);
    let error = impatient.get_order(1000).await.unwrap_err();
    assert!(matches!(error, WooError::Timeout { .. }), "{error:?}");
    assert!(error.is_retryable());

    config.retry = quick_retries();
    let patient = WooClient::new(config).unwrap();
    handle.push_faults(&[FaultKind::Timeout]);
    assert_eq!(patient.get_order(1000).await.unwrap().id, 1000);
}

#[tokio::test]
async fn a_dropped_answer_is_a_transport_error_after_the_write_committed() {
    let (handle, _) = shop(1).await;
    let mut config = WooConfig::new(handle.base_url(), TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET);
    config.auth = AuthMode::Basic;
    config.retry = RetryPolicy::none();
    let client = WooClient::new(config).unwrap();
    handle.push_faults(&[FaultKind::Drop]);
    let error = client
        .create_order_note(1000, "Shipped with UPS.", false)
        .await
        .unwrap_err();
    assert!(matches!(error, WooError::Transport { .. }), "{error:?}");
    assert!(!error.to_string().contains(TEST_CONSUMER_SECRET));
    // The caller looks the object up instead of creating it twice.
    let notes = client.list_order_notes(1000).await.unwrap();
    assert_eq!(
        notes
            .iter()
            .filter(|note| note.note == "Shipped with UPS.")
            .count(),
        1
    );
}

#[tokio::test]
async fn meta_updates_by_key_leave_other_keys_alone_and_bump_modified() {
    let (handle, client) = shop(1).await;
    let before = handle.order(1000).unwrap();
    // `date_modified` has one-second resolution: move the store's clock instead of waiting.
    handle.shift_clock(2);
    client
        .set_order_meta(
            1000,
            &[
                ("erpnext_sales_order", json!("SO-0001")),
                ("other", json!(1)),
            ],
        )
        .await
        .unwrap();
    let order = client
        .set_order_meta(1000, &[("erpnext_sales_order", json!("SO-0002"))])
        .await
        .unwrap();
    let entries: Vec<_> = order
        .meta_data
        .iter()
        .filter(|entry| entry.key == "erpnext_sales_order")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].value, json!("SO-0002"));
    assert_eq!(order.meta("other"), Some(&json!(1)));
    let before_modified = before["date_modified_gmt"].as_str().unwrap();
    let after_modified = order
        .date_modified_gmt
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    assert!(
        after_modified.as_str() > before_modified,
        "{after_modified} vs {before_modified}"
    );
    let id = entries[0].id.unwrap();
    let order = client
        .update_order(1000, &json!({ "meta_data": [{ "id": id, "key": "erpnext_sales_order", "value": "SO-0003" }] }))
        .await
        .unwrap();
    assert_eq!(order.meta("erpnext_sales_order"), Some(&json!("SO-0003")));
}

#[tokio::test]
async fn batch_updates_are_split_into_requests_of_one_hundred() {
    let (handle, client) = shop(150).await;
    let ids: Vec<u64> = handle
        .orders()
        .iter()
        .map(|order| order["id"].as_u64().unwrap())
        .collect();
    let mut updates: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "meta_data": [{ "key": "synced", "value": "yes" }] }))
        .collect();
    updates.push(json!({ "id": 999_999, "status": "completed" }));
    let responses = client.batch_update_orders(&updates).await.unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].update.len(), 100);
    let failures: Vec<_> = responses
        .iter()
        .flat_map(|response| response.failures())
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, 999_999);
    assert_eq!(failures[0].1.code, "woocommerce_rest_shop_order_invalid_id");
    assert!(handle.orders().iter().all(|order| order["meta_data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["key"] == "synced")));
}

#[tokio::test]
async fn notes_are_listed_newest_first() {
    let (_handle, client) = shop(1).await;
    client
        .create_order_note(1000, "first", false)
        .await
        .unwrap();
    let second = client
        .create_order_note(1000, "second", true)
        .await
        .unwrap();
    assert!(second.customer_note);
    let notes = client.list_order_notes(1000).await.unwrap();
    assert_eq!(notes[0].note, "second");
    assert_eq!(notes[1].note, "first");
}

#[tokio::test]
async fn refunds_follow_the_recorded_rules() {
    let (handle, client) = shop(40).await;
    let order = handle
        .orders()
        .into_iter()
        .find(|order| {
            order["payment_method"] == "bacs"
                && order["status"] == "processing"
                && order["refunds"].as_array().unwrap().is_empty()
        })
        .expect("a bacs order");
    let id = order["id"].as_u64().unwrap();
    let amount = Decimal::new(500, 2);
    let mut refund = NewRefund {
        amount,
        reason: "Goodwill".into(),
        api_refund: true,
        line_items: Vec::new(),
    };
    let error = client.create_refund(id, &refund).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert!(
        error
            .to_string()
            .contains("does not support automatic refunds"),
        "{error}"
    );

    refund.api_refund = false;
    let created = client.create_refund(id, &refund).await.unwrap();
    assert_eq!(created.amount, amount);
    assert!(created.id > id, "refund ids continue the order sequence");
    let after = client.get_order(id).await.unwrap();
    assert_eq!(after.refunds.len(), 1);
    assert_eq!(after.refunds[0].total, -amount);
    let listed = client.list_refunds(id).await.unwrap();
    assert_eq!(listed[0].id, created.id);

    refund.amount = Decimal::new(1_000_000, 2);
    let error = client.create_refund(id, &refund).await.unwrap_err();
    assert!(
        error.to_string().contains("Invalid refund amount."),
        "{error}"
    );
}

#[tokio::test]
async fn products_by_sku_include_variations_and_stock_batches_apply() {
    let (handle, client) = shop(1).await;
    let variation = handle
        .products()
        .into_iter()
        .find(|product| product["type"] == "variation")
        .unwrap();
    let sku = variation["sku"].as_str().unwrap();
    let found = client.find_products_by_sku(sku).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].product_type, "variation");
    let parent_id = found[0].parent_id;
    let variations = client.list_variations(parent_id).await.unwrap();
    assert_eq!(variations.len(), 3);

    let update = StockPriceUpdate {
        id: found[0].id,
        stock_quantity: Some(7),
        manage_stock: Some(true),
        regular_price: Some(Decimal::new(2450, 2)),
        ..StockPriceUpdate::default()
    };
    client
        .batch_update_variations(parent_id, &[update])
        .await
        .unwrap();
    let product = client.get_product(found[0].id).await.unwrap();
    assert_eq!(product.stock_quantity, Some(7));
    assert_eq!(product.price, Decimal::new(2450, 2));

    let simple: Vec<StockPriceUpdate> = client
        .list_all_products()
        .await
        .unwrap()
        .iter()
        .filter(|product| product.product_type == "simple")
        .map(|product| StockPriceUpdate {
            id: product.id,
            stock_quantity: Some(1),
            manage_stock: None,
            regular_price: None,
            ..StockPriceUpdate::default()
        })
        .collect();
    client.batch_update_products(&simple).await.unwrap();
    assert!(handle
        .products()
        .iter()
        .filter(|product| product["type"] == "simple")
        .all(|product| product["stock_quantity"] == 1));
}

#[tokio::test]
async fn customers_are_read() {
    let (_handle, client) = shop(100).await;
    let page = client.list_customers_page(1).await.unwrap();
    assert!(!page.items.is_empty());
    let customer = client.get_customer(page.items[0].id).await.unwrap();
    assert_eq!(customer.email, page.items[0].email);
    assert!(client
        .get_customer(999_999)
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn webhook_pings_and_signed_deliveries_reach_a_receiver() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use tokio::sync::mpsc;

    let (sender, mut received) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let receiver = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let sender = sender.clone();
        async move {
            let _ = sender.send((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let (handle, client) = shop(2).await;
    let secret = "receiver-secret";
    let webhook = client
        .create_webhook(&NewWebhook {
            name: "sync".into(),
            topic: "order.updated".into(),
            delivery_url: format!("http://{address}/hooks/woocommerce"),
            secret: secret.into(),
            status: "active".into(),
        })
        .await
        .unwrap();
    assert!(!format!(
        "{:?}",
        NewWebhook {
            name: String::new(),
            topic: String::new(),
            delivery_url: String::new(),
            secret: secret.into(),
            status: String::new()
        }
    )
    .contains(secret));
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verify_request(secret, &headers, &body).unwrap(),
        WebhookRequest::Ping {
            webhook_id: webhook.id
        }
    );
    assert_eq!(client.list_webhooks().await.unwrap().len(), 1);

    handle
        .update_order(1000, &json!({ "status": "completed" }))
        .unwrap();
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .unwrap()
        .unwrap();
    let WebhookRequest::Delivery { headers: parsed } =
        verify_request(secret, &headers, &body).unwrap()
    else {
        panic!("not a delivery");
    };
    assert_eq!(parsed.topic, "order.updated");
    assert_eq!(parsed.webhook_id, webhook.id);
    let order: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (order["id"].as_u64(), order["status"].as_str()),
        (Some(1000), Some("completed"))
    );
    assert!(verify_request("another-secret", &headers, &body).is_err());

    // Quick changes collapse into one delivery carrying the latest state.
    for status in ["processing", "on-hold", "cancelled"] {
        handle
            .update_order(1000, &json!({ "status": status }))
            .unwrap();
    }
    let (_, body) = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .unwrap()
        .unwrap();
    let order: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(order["status"], "cancelled");
    // Once nothing is queued or being sent, anything more would already be here.
    tokio::time::timeout(Duration::from_secs(5), handle.webhook_deliveries_settled())
        .await
        .expect("the deliveries settle");
    assert!(
        received.try_recv().is_err(),
        "the three changes were delivered more than once"
    );
}

#[tokio::test]
async fn a_loaded_store_is_served_back_unchanged() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/woocommerce-real/store-snapshot");
    let handle = start(WooSimOptions {
        load: Some(folder.clone()),
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let original: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(folder.join("orders.json")).unwrap())
            .unwrap();
    assert_eq!(handle.order_count(), original.len());
    let http = reqwest::Client::new();
    for order in original.iter().take(15) {
        let id = order["id"].as_u64().unwrap();
        let served: Value = http
            .get(
                handle
                    .base_url()
                    .join(&format!("/wp-json/wc/v3/orders/{id}"))
                    .unwrap(),
            )
            .basic_auth(TEST_CONSUMER_KEY, Some(TEST_CONSUMER_SECRET))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(&served, order);
    }
    let refunds: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(folder.join("refunds/17.json")).unwrap())
            .unwrap();
    let client = client(&handle, AuthMode::Basic, TEST_CONSUMER_SECRET);
    let listed = client.list_refunds(17).await.unwrap();
    let listed_ids: Vec<u64> = listed.iter().map(|refund| refund.id).collect();
    let original_ids: Vec<u64> = refunds
        .iter()
        .map(|refund| refund["id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed_ids, original_ids);
    let by_sku = client.find_products_by_sku("LAB-TEE-M").await.unwrap();
    assert_eq!(by_sku.len(), 1);
    assert_eq!(by_sku[0].parent_id, 12);
}

#[tokio::test]
async fn faults_can_be_set_at_runtime_over_http() {
    let (handle, client) = shop(1).await;
    let http = reqwest::Client::new();
    let url = handle.base_url().join("/__sim/faults").unwrap();
    let response = http
        .put(url.clone())
        .json(&json!({ "throttle_rate": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(handle.faults().throttle_rate, 1.0);
    let mut config = client.config().clone();
    config.retry = RetryPolicy::none();
    let error = WooClient::new(config)
        .unwrap()
        .get_order(1000)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429));
    http.put(url).json(&json!({})).send().await.unwrap();
    assert_eq!(client.get_order(1000).await.unwrap().id, 1000);
    let state: Value = http
        .get(handle.base_url().join("/__sim/state").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["orders"], 1);
}

#[tokio::test]
async fn one_seed_draws_the_same_faults() {
    async fn statuses(handle: &WooSimHandle) -> Vec<u16> {
        let http = reqwest::Client::new();
        let url = handle
            .base_url()
            .join("/wp-json/wc/v3/orders/1000")
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..24 {
            let response = http
                .get(url.clone())
                .basic_auth(TEST_CONSUMER_KEY, Some(TEST_CONSUMER_SECRET))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    }
    async fn outcomes(seed: u64) -> Vec<u16> {
        let handle = start(WooSimOptions {
            orders: 1,
            error_rate: 0.5,
            fault_seed: Some(seed),
            ..WooSimOptions::default()
        })
        .await
        .unwrap();
        assert_eq!(handle.fault_seed(), seed);
        statuses(&handle).await
    }
    let first = outcomes(42).await;
    assert!(
        first.contains(&200) && first.iter().any(|status| *status >= 500),
        "{first:?}"
    );
    assert_eq!(outcomes(42).await, first);
    assert_ne!(outcomes(43).await, first);

    // The seed in use is readable at /__sim/faults, and setting it restarts the draws.
    let (handle, _) = shop(1).await;
    let url = handle.base_url().join("/__sim/faults").unwrap();
    let read: Value = reqwest::get(url.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["seed"], json!(handle.fault_seed()));
    let set: Value = reqwest::Client::new()
        .put(url)
        .json(&json!({ "error_rate": 0.5, "seed": 42 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (set["seed"].clone(), set["error_rate"].clone()),
        (json!(42), json!(0.5))
    );
    assert_eq!(statuses(&handle).await, first);
}

#[tokio::test]
async fn calls_in_flight_are_limited_per_connection() {
    let handle = start(WooSimOptions {
        orders: 1,
        latency_ms: 200,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let mut config = WooConfig::new(handle.base_url(), TEST_CONSUMER_KEY, TEST_CONSUMER_SECRET);
    config.auth = AuthMode::Basic;
    config.max_in_flight = 1;
    let client = WooClient::new(config).unwrap();
    let started = Instant::now();
    let (first, second, third) = tokio::join!(
        client.get_order(1000),
        client.get_order(1000),
        client.get_order(1000)
    );
    assert!(first.is_ok() && second.is_ok() && third.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_success_status_with_a_body_that_is_not_json_says_what_is_wrong() {
    let server = axum::Router::new().fallback(|| async { "<html>maintenance</html>" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server).await });
    let mut config = WooConfig::new(
        url::Url::parse(&format!("http://{address}")).unwrap(),
        TEST_CONSUMER_KEY,
        TEST_CONSUMER_SECRET,
    );
    config.retry = RetryPolicy::none();
    let error = WooClient::new(config)
        .unwrap()
        .get_order(5)
        .await
        .unwrap_err();
    let WooError::BadResponse {
        status, ref detail, ..
    } = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(status, 200);
    assert!(detail.contains("<html>maintenance</html>"), "{detail}");
    assert!(error
        .to_string()
        .starts_with("WooCommerce answered GET /orders/5 with HTTP 200 but the body is not valid"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_webhook_is_disabled_after_seven_failed_deliveries_in_a_row() {
    let failing = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, failing).await });

    let (handle, client) = shop(1).await;
    let webhook = client
        .create_webhook(&NewWebhook {
            name: "failing".into(),
            topic: "order.updated".into(),
            delivery_url: format!("http://{address}/hook"),
            secret: "s".into(),
            status: "active".into(),
        })
        .await
        .unwrap();
    assert_eq!(webhook.status, "active");
    let statuses = [
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "failed",
        "pending",
        "processing",
    ];
    for (attempt, status) in statuses.iter().enumerate() {
        handle
            .update_order(1000, &json!({ "status": status }))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), handle.webhook_deliveries_settled())
            .await
            .expect("the delivery settles");
        let current = &client.list_webhooks().await.unwrap()[0];
        let expected = if attempt == 6 { "disabled" } else { "active" };
        assert_eq!(current.status, expected, "after failure {}", attempt + 1);
    }
}

#[tokio::test]
async fn oauth_parameters_are_also_accepted_in_an_authorization_header() {
    let handle = start(WooSimOptions {
        orders: 2,
        plain_http: true,
        ..WooSimOptions::default()
    })
    .await
    .unwrap();
    let url = handle.base_url().join("/wp-json/wc/v3/orders").unwrap();
    let signer = woocommerce_sync::woocommerce::oauth::OAuthSigner {
        consumer_key: TEST_CONSUMER_KEY,
        consumer_secret: TEST_CONSUMER_SECRET,
        signature_method: SignatureMethod::HmacSha1,
    };
    let params = vec![("per_page".to_string(), "1".to_string())];
    let signed = signer.signed_query(
        "GET",
        &url,
        &params,
        chrono::Utc::now().timestamp() as u64,
        "header-nonce",
    );
    let header: Vec<String> = signed
        .iter()
        .filter(|(key, _)| key.starts_with("oauth_"))
        .map(|(key, value)| {
            format!(
                "{key}=\"{}\"",
                woocommerce_sync::woocommerce::oauth::rfc3986_encode(value)
            )
        })
        .collect();
    let response = reqwest::Client::new()
        .get(format!("{url}?per_page=1"))
        .header(
            "Authorization",
            format!("OAuth realm=\"\", {}", header.join(", ")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-wp-total"], "2");

    // Some but not all OAuth parameters: the recorded missing-parameter error.
    let partial = reqwest::Client::new()
        .get(format!("{url}?oauth_consumer_key={TEST_CONSUMER_KEY}&oauth_signature=x&oauth_signature_method=HMAC-SHA1"))
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 401);
    let body: Value = partial.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Missing OAuth parameters oauth_timestamp, oauth_nonce"
    );
}

/// 250 orders made in one go share their `date_modified` second (or two).
async fn shop_with_tied_orders(count: usize) -> (WooSimHandle, WooClient, Vec<u64>) {
    let (handle, client) = shop(1).await;
    let generated = handle.orders()[0]["id"].as_u64().unwrap();
    let product = handle
        .products()
        .into_iter()
        .find(|product| product["type"] == "simple")
        .unwrap();
    let ids = (0..count)
        .map(|index| {
            handle
                .create_order(&json!({
                    "status": "processing",
                    "billing": {"first_name": "Tie", "last_name": format!("Buyer {index}"),
                                "email": format!("tie{index}@example.test"), "country": "US"},
                    "line_items": [{"product_id": product["id"], "quantity": 1}]
                }))
                .unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect::<Vec<u64>>();
    let ids = std::iter::once(generated).chain(ids).collect();
    (handle, client, ids)
}

#[tokio::test]
async fn pages_ordered_by_modified_repeat_and_miss_tied_orders_as_the_real_store_does() {
    let (_handle, client, ids) = shop_with_tied_orders(250).await;
    let by_modified = client
        .list_all_orders(&OrderQuery {
            orderby: OrderBy::Modified,
            ascending: true,
            per_page: 10,
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    let mut listed: Vec<u64> = by_modified.iter().map(|order| order.id).collect();
    assert_eq!(listed.len(), ids.len(), "as many rows as X-WP-Total");
    listed.sort_unstable();
    listed.dedup();
    assert!(
        listed.len() < ids.len(),
        "tied rows change places between pages, so some come twice and some never"
    );

    // Ordered by id (unique), the same window pages exactly.
    let by_id = client
        .list_all_orders(&OrderQuery {
            per_page: 10,
            ..OrderQuery::window(None, None)
        })
        .await
        .unwrap();
    let listed: Vec<u64> = by_id.iter().map(|order| order.id).collect();
    assert_eq!(listed, ids);
}
