//! A problem that stops a connection is on the dashboard in words, with what to do, and goes
//! away once fixed in the browser: webhooks refused after real deliveries from both simulators
//! (the secret changed in the settings but not given to the sites), then "Set up both sites
//! again"; ERPNext's credentials refused; ERPNext unreachable.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app, spawn_world, TestApp};
use serde_json::json;
use woocommerce_sync::simulators::woocommerce::WooSimOptions;

fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

/// The page's text with minijinja's escapes undone.
fn unescaped(html: String) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

async fn post(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .http
        .post(app.url(path))
        .header(reqwest::header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, unescaped(response.text().await.unwrap()))
}

async fn dashboard(app: &TestApp, cookie: &str) -> String {
    unescaped(app.get_page("/", cookie).await.1)
}

/// Waits (bounded) until the dashboard says, or stops saying, `text`: the simulators deliver
/// their webhooks in the background, in order, a refused one tried three times (1 s and 4 s
/// apart, as Frappe does) before the next. The Items the sync makes with their prices deliver
/// Item Price events to the catalogue's Webhook too: six refused deliveries, 30 s, come before
/// the first one signed with the new secret.
async fn wait_for_dashboard(app: &TestApp, cookie: &str, text: &str, present: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = dashboard(app, cookie).await;
        if page.contains(text) == present {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard never {} `{text}`:\n{page}",
            if present { "said" } else { "stopped saying" }
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A paid order made in the shop (the shop delivers its webhook), then a poll: its Sales Order
/// is made in ERPNext, whose Webhook delivers too.
async fn new_order_synced(app: &TestApp, world: &common::World, cookie: &str, csrf: &str) {
    let product = world
        .woo
        .products()
        .into_iter()
        .find(|product| product["sku"] == "SIM-001")
        .expect("the generated shop sells SIM-001");
    let address = json!({
        "first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Analytical Way",
        "city": "Austin", "state": "TX", "postcode": "73301", "country": "US",
        "email": "ada@example.test",
    });
    world
        .woo
        .create_order(&json!({
            "status": "processing", "set_paid": true, "payment_method": "bacs",
            "billing": address, "shipping": address,
            "line_items": [{"product_id": product["id"], "quantity": 1}],
        }))
        .unwrap();
    let (status, _) = post(
        app,
        "/sync-now",
        cookie,
        &[("csrf", csrf), ("connection", "shop")],
    )
    .await;
    assert_eq!(status, 303);
    app.drain_jobs().await;
}

#[tokio::test]
async fn refused_webhooks_are_on_the_dashboard_with_what_to_do_until_fixed_in_the_browser() {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let csrf = csrf_token(&app.get_page("/", &cookie).await.1);
    assert!(!dashboard(&app, &cookie)
        .await
        .contains("This connection is stopped"));

    // Both sites send their webhooks to this service, signed with the connection's secret.
    let (status, page) = post(
        &app,
        "/settings/shop/setup",
        &cookie,
        &[("csrf", &csrf), ("public_url", &app.base_url)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Both sites were set up again"), "{page}");

    // The secret changes here but not on the sites: their deliveries are refused.
    let (status, page) = post(
        &app,
        "/settings/shop",
        &cookie,
        &[
            ("csrf", &csrf),
            ("webhook_secret", "a-brand-new-webhook-secret"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    new_order_synced(&app, &world, &cookie, &csrf).await;
    let page =
        wait_for_dashboard(&app, &cookie, "ERPNext webhooks are being refused: ", true).await;
    let page = if page.contains("WooCommerce webhooks are being refused: ") {
        page
    } else {
        wait_for_dashboard(
            &app,
            &cookie,
            "WooCommerce webhooks are being refused: ",
            true,
        )
        .await
    };
    for text in [
        "This connection is stopped",
        "their signature does not match the connection's webhook secret",
        "press \"Set up both sites again\" in the connection's settings",
    ] {
        assert!(page.contains(text), "`{text}` is missing:\n{page}");
    }
    assert!(
        !common::names_a_flag(&page),
        "the dashboard names no command-line flag"
    );
    assert!(!page.contains("a-brand-new-webhook-secret"));

    // Fixed in the browser: both sites get the secret; their next deliveries are accepted.
    let (status, page) = post(
        &app,
        "/settings/shop/setup",
        &cookie,
        &[("csrf", &csrf), ("public_url", &app.base_url)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    new_order_synced(&app, &world, &cookie, &csrf).await;
    wait_for_dashboard(&app, &cookie, "ERPNext webhooks are being refused", false).await;
    let page = wait_for_dashboard(
        &app,
        &cookie,
        "WooCommerce webhooks are being refused",
        false,
    )
    .await;
    assert!(!page.contains("This connection is stopped"), "{page}");
}

#[tokio::test]
async fn refused_credentials_and_an_unreachable_erpnext_are_on_the_dashboard() {
    let world = spawn_world(WooSimOptions {
        orders: 2,
        ..WooSimOptions::default()
    })
    .await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let csrf = csrf_token(&app.get_page("/", &cookie).await.1);
    for (field, value, said) in [
        (
            "api_secret",
            "not-the-secret",
            "ERPNext refused the connection's API key and secret",
        ),
        (
            "erpnext_url",
            "http://127.0.0.1:9/",
            "ERPNext could not be reached",
        ),
    ] {
        let (status, page) = post(
            &app,
            "/settings/shop",
            &cookie,
            &[("csrf", &csrf), (field, value)],
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let (status, _) = post(
            &app,
            "/sync-now",
            &cookie,
            &[("csrf", &csrf), ("connection", "shop")],
        )
        .await;
        assert_eq!(status, 303);
        app.drain_jobs().await;
        let page = dashboard(&app, &cookie).await;
        assert!(page.contains(said), "`{said}` is missing:\n{page}");
        assert!(page.contains("Open the settings"), "{page}");
        assert!(!page.contains("not-the-secret"));
    }
}
