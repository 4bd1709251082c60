//! The web UI from a browser's point of view: login is required, pages render
//! what the store holds and never a secret, buttons queue jobs (with the
//! session's CSRF token), and `/healthz` and `/metrics` answer.

mod common;

use common::{spawn_app, spawn_world, TestApp, ADMIN_PASSWORD};
use serde_json::Value;
use woocommerce_sync::simulators::woocommerce::{self, WooSimOptions};
use woocommerce_sync::store::JobState;

const PAGES: &[&str] = &[
    "/",
    "/orders",
    "/orders?state=failing",
    "/log",
    "/log?failed=on",
    "/settings/shop",
    "/password",
];

fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("the page has a CSRF field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header(reqwest::header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_login_and_the_right_password() {
    let world = spawn_world(WooSimOptions::default()).await;
    let app = spawn_app(&world).await;
    for path in PAGES {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path} without a session");
        let expected = if *path == "/" {
            "/login".to_string()
        } else {
            format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC)
            )
        };
        assert_eq!(response.headers()["location"], expected.as_str(), "{path}");
    }
    // A forged cookie is no session.
    let (status, _) = app
        .get_page("/", "woocommerce_sync_session=9999999999.abc.def")
        .await;
    assert_eq!(status, 303);

    let response = app
        .http
        .post(app.url("/login"))
        .form(&[("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());

    let cookie = app.login().await;
    let (status, html) = app.get_page("/", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains(">shop</h2>"), "{html}");

    // Logging out needs the session's token, then the cookie is cleared.
    let response = post_form(&app, "/logout", &cookie, &[("csrf", "wrong")]).await;
    assert_eq!(response.status(), 403);
    let response = post_form(&app, "/logout", &cookie, &[("csrf", &csrf_token(&html))]).await;
    assert_eq!(response.status(), 303);
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[tokio::test]
async fn pages_show_synced_orders_and_never_a_secret() {
    let world = spawn_world(WooSimOptions {
        orders: 3,
        ..WooSimOptions::default()
    })
    .await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;

    // "Sync now" queues a poll; the workers run it.
    let (_, dashboard) = app.get_page("/", &cookie).await;
    let response = post_form(
        &app,
        "/sync-now",
        &cookie,
        &[("csrf", &csrf_token(&dashboard)), ("connection", "shop")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let queued = world
        .store
        .jobs_in_state(world.connection.id, JobState::Queued)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].kind.as_str(), queued[0].object_id.as_str()),
        ("poll", "orders")
    );
    app.drain_jobs().await;

    let by_order = world.sales_orders_by_order().await;
    assert!(!by_order.is_empty(), "the poll synced the shop's orders");
    let (order_id, sales_orders) = by_order.iter().next().unwrap();
    let sales_order = sales_orders[0]["name"].as_str().unwrap();

    let secrets = [
        woocommerce::TEST_CONSUMER_SECRET,
        woocommerce::TEST_CONSUMER_KEY,
        woocommerce::TEST_WEBHOOK_SECRET,
        world.erp.api_secret(),
        world.erp.api_key(),
        ADMIN_PASSWORD,
    ];
    let timeline = format!("/orders/shop/{order_id}");
    for path in PAGES.iter().copied().chain([timeline.as_str()]) {
        let (status, html) = app.get_page(path, &cookie).await;
        assert_eq!(status, 200, "{path}");
        for secret in secrets {
            assert!(!html.contains(secret), "{path} shows a secret");
        }
    }
    let (_, orders) = app.get_page("/orders", &cookie).await;
    assert!(orders.contains(sales_order), "{orders}");
    let (status, _) = app
        .get_page(
            &format!("/orders?connection=shop&order={order_id}"),
            &cookie,
        )
        .await;
    assert_eq!(status, 303, "the order search opens the timeline");
    let (_, timeline_html) = app.get_page(&timeline, &cookie).await;
    assert!(timeline_html.contains(sales_order));
    assert!(timeline_html.contains("created"), "{timeline_html}");
    let (_, dashboard) = app.get_page("/", &cookie).await;
    assert!(dashboard.contains("<svg"), "the dashboard has its chart");
    assert!(
        dashboard.contains("class=\"ok\">ok</span>"),
        "last poll shown: {dashboard}"
    );
    let (_, settings) = app.get_page("/settings/shop", &cookie).await;
    assert!(settings.contains("ERPNext API secret"), "{settings}");
    assert!(settings.contains("Set; leave empty to keep it."));

    // Health shows the poll; metrics count what happened.
    let health: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["reachable"], true);
    assert_eq!(health["connections"][0]["name"], "shop");
    assert_eq!(health["connections"][0]["last_poll"]["succeeded"], true);
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let metrics = response.text().await.unwrap();
    assert!(
        metrics.contains("woocommerce_sync_jobs_total{kind=\"poll\",result=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("woocommerce_sync_polls_total{result=\"ok\"} 1"));
    assert!(metrics.contains(&format!(
        "woocommerce_sync_orders_synced_total{{outcome=\"created\"}} {}",
        by_order.len()
    )));
    assert!(metrics.contains("woocommerce_sync_jobs_pending 0"));
}

#[tokio::test]
async fn the_retry_button_queues_the_job_only_with_the_sessions_token() {
    let world = spawn_world(WooSimOptions::default()).await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let (_, log) = app.get_page("/log", &cookie).await;
    let token = csrf_token(&log);

    let form = [
        ("connection", "shop"),
        ("kind", "order"),
        ("object_id", "727"),
    ];
    let mut forged = vec![("csrf", "not-the-token")];
    forged.extend(form);
    let response = post_form(&app, "/retry", &cookie, &forged).await;
    assert_eq!(response.status(), 403);
    // Without a session the button does nothing either.
    let mut with_token = vec![("csrf", token.as_str())];
    with_token.extend(form);
    let response = app
        .http
        .post(app.url("/retry"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(world.store.pending_job_count().await.unwrap(), 0);

    let response = post_form(&app, "/retry", &cookie, &with_token).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/orders/shop/727");
    let queued = world
        .store
        .jobs_in_state(world.connection.id, JobState::Queued)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].kind.as_str(), queued[0].object_id.as_str()),
        ("order", "727")
    );

    // Order 727 does not exist in the shop: the job is parked with the shop's reason, shown in the log.
    app.drain_jobs().await;
    let failed = world
        .store
        .jobs_in_state(world.connection.id, JobState::Failed)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let (_, dashboard) = app.get_page("/", &cookie).await;
    assert!(
        dashboard
            .contains("class=\"failed\" href=\"/orders?connection=shop&amp;state=failing\">1</a>"),
        "{dashboard}"
    );
    let (_, order_page) = app.get_page("/orders/shop/727", &cookie).await;
    assert!(order_page.contains("state failed"), "{order_page}");
    assert!(order_page.contains("Sync this order again"));

    // Only orders and polls can be queued from the UI.
    let response = post_form(
        &app,
        "/retry",
        &cookie,
        &[
            ("csrf", &token),
            ("connection", "shop"),
            ("kind", "stock"),
            ("object_id", "1"),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
}
