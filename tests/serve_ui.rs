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
    "/settings/shop/products",
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

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn logins_are_throttled_and_sessions_end_at_logout_and_password_change() {
    let world = spawn_world(WooSimOptions::default()).await;
    let app = spawn_app(&world).await;

    // The page asked for is where login leads; only paths on this site are followed.
    let response = app
        .http
        .get(app.url("/orders?connection=shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&response),
        "/login?next=%2Forders%3Fconnection%3Dshop"
    );
    let (_, login_page) = app
        .get_page("/login?next=%2Forders%3Fconnection%3Dshop", "")
        .await;
    // Escaped as every value is: `/` is `&#x2f;`.
    assert!(
        login_page.contains("name=\"next\" value=\"&#x2f;orders?connection=shop\""),
        "{login_page}"
    );
    assert!(login_page.contains("<label for=\"password\">"));
    for (next, expected) in [
        ("/orders?connection=shop", "/orders?connection=shop"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ] {
        let response = app
            .http
            .post(app.url("/login"))
            .form(&[("password", ADMIN_PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&response), expected, "{next}");
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
        // Every answer forbids framing and scripts.
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert!(response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
    // Behind a TLS proxy the cookie is Secure.
    let response = app
        .http
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    // Logout ends the session on the server: the old cookie no longer opens a page.
    let cookie = app.login().await;
    let (_, dashboard) = app.get_page("/", &cookie).await;
    let response = post_form(
        &app,
        "/logout",
        &cookie,
        &[("csrf", &csrf_token(&dashboard))],
    )
    .await;
    assert_eq!(location(&response), "/login");
    let (status, _) = app.get_page("/", &cookie).await;
    assert_eq!(status, 303, "a logged-out cookie is no session");

    // A password change revokes every session, and only the new password opens.
    let first = app.login().await;
    let second = app.login().await;
    let (_, page) = app.get_page("/password", &first).await;
    for field in ["current", "new_password", "repeat"] {
        assert!(
            page.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }
    let new_password = "a much longer new password";
    let response = post_form(
        &app,
        "/password",
        &first,
        &[
            ("csrf", &csrf_token(&page)),
            ("current", ADMIN_PASSWORD),
            ("new_password", "short"),
            ("repeat", "short"),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = post_form(
        &app,
        "/password",
        &first,
        &[
            ("csrf", &csrf_token(&page)),
            ("current", ADMIN_PASSWORD),
            ("new_password", new_password),
            ("repeat", new_password),
        ],
    )
    .await;
    assert_eq!(location(&response), "/login");
    for cookie in [&first, &second] {
        assert_eq!(app.get_page("/", cookie).await.0, 303);
    }
    let attempt = |password: &'static str| {
        app.http
            .post(app.url("/login"))
            .form(&[("password", password)])
            .send()
    };
    assert_eq!(attempt(ADMIN_PASSWORD).await.unwrap().status(), 401);
    assert_eq!(attempt(new_password).await.unwrap().status(), 303);

    // The password is kept in the store: a restarted service (another first-run password) keeps it.
    let restarted = spawn_app(&world).await;
    let response = restarted
        .http
        .post(restarted.url("/login"))
        .form(&[("password", new_password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    // Wrong passwords: five are answered 401 (the success above cleared the count), then the
    // address waits (429), even with the right password.
    for _ in 0..5 {
        assert_eq!(attempt("guess").await.unwrap().status(), 401);
    }
    let response = attempt(new_password).await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

/// The shop's tax rates, unmapped and without a default account: orders with tax fail until a
/// person maps them.
pub async fn forget_tax_accounts(world: &common::World) {
    let mut connection = world.store.connection("shop").await.unwrap().connection;
    connection.mappings.tax_accounts.clear();
    connection.default_tax_account = None;
    world.store.update_connection(&connection).await.unwrap();
}

#[tokio::test]
async fn a_missing_mapping_is_fixed_and_its_orders_retried_from_the_pages() {
    let world = spawn_world(WooSimOptions {
        orders: 8,
        ..WooSimOptions::default()
    })
    .await;
    forget_tax_accounts(&world).await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let (_, dashboard) = app.get_page("/", &cookie).await;
    let token = csrf_token(&dashboard);
    post_form(
        &app,
        "/sync-now",
        &cookie,
        &[("csrf", &token), ("connection", "shop")],
    )
    .await;
    app.drain_jobs().await;

    // Failures are grouped by cause, each with its retry; ERPNext has none of those orders.
    let statuses =
        woocommerce_sync::sync::order_state::order_states(&world.store, world.connection.id)
            .await
            .unwrap();
    let failing: Vec<&str> = statuses
        .iter()
        .filter(|status| status.state.is_failure())
        .map(|status| status.order_id.as_str())
        .collect();
    assert!(!failing.is_empty(), "{statuses:?}");
    let in_erpnext = world.sales_orders_by_order().await;
    for order in &failing {
        assert!(
            !in_erpnext.contains_key(&order.parse::<u64>().unwrap()),
            "{order}"
        );
    }
    let (_, dashboard) = app.get_page("/", &cookie).await;
    assert!(dashboard.contains("Why orders fail"), "{dashboard}");
    assert!(dashboard.contains("has no ERPNext account"), "{dashboard}");
    assert!(dashboard.contains("Retry all failed orders"));
    let (_, failing_page) = app.get_page("/orders?state=failing", &cookie).await;
    assert_eq!(
        failing_page.matches("state failed").count(),
        failing.len(),
        "{failing_page}"
    );

    // A wrong value is refused in the form's words, and nothing is saved.
    let (_, settings) = app.get_page("/settings/shop", &cookie).await;
    let token = csrf_token(&settings);
    let response = post_form(
        &app,
        "/settings/shop",
        &cookie,
        &[
            ("csrf", &token),
            ("tax_rate", "four"),
            ("tax_account", "ST 4% - TC"),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    let refused = response.text().await.unwrap();
    assert!(
        refused.contains("Nothing was saved. Tax rates → ERPNext accounts:"),
        "{refused}"
    );
    assert!(
        !common::names_a_flag(&refused),
        "no command-line flags in the browser"
    );

    // Map every rate, then retry the first cause alone, then all the rest.
    let mut form = vec![("csrf", token.as_str())];
    for rate in ["1", "2", "3", "4", "5"] {
        form.push(("tax_rate", rate));
        form.push(("tax_account", "ST 6% - TC"));
    }
    let response = post_form(&app, "/settings/shop", &cookie, &form).await;
    assert_eq!(response.status(), 200);
    let stored = world.store.connection("shop").await.unwrap().connection;
    assert_eq!(stored.mappings.tax_accounts.len(), 5);
    assert_eq!(
        stored.credentials, world.connection.connection.credentials,
        "secrets kept"
    );

    let causes = woocommerce_sync::sync::order_state::failure_causes(&statuses);
    let response = post_form(
        &app,
        "/retry-cause",
        &cookie,
        &[
            ("csrf", &token),
            ("connection", "shop"),
            ("cause", &causes[0].cause),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let queued = world
        .store
        .jobs_in_state(world.connection.id, JobState::Queued)
        .await
        .unwrap();
    assert_eq!(
        queued.len(),
        causes[0].order_ids.len(),
        "only that cause's orders"
    );
    app.drain_jobs().await;
    post_form(
        &app,
        "/retry-failed",
        &cookie,
        &[("csrf", &token), ("connection", "shop")],
    )
    .await;
    app.drain_jobs().await;

    // What the pages say is what ERPNext has: every synced order's Sales Order, and no other.
    let statuses =
        woocommerce_sync::sync::order_state::order_states(&world.store, world.connection.id)
            .await
            .unwrap();
    let in_erpnext = world.sales_orders_by_order().await;
    let (_, orders_page) = app.get_page("/orders", &cookie).await;
    for status in &statuses {
        let id: u64 = status.order_id.parse().unwrap();
        match &status.state {
            woocommerce_sync::sync::order_state::OrderState::Synced { sales_order } => {
                assert_eq!(in_erpnext[&id].len(), 1, "order {id}");
                assert_eq!(in_erpnext[&id][0]["name"], sales_order.as_str());
                assert!(orders_page.contains(sales_order.as_str()));
            }
            other => {
                assert!(!other.is_failure(), "order {id} still {other:?}");
                assert!(!in_erpnext.contains_key(&id), "order {id}");
            }
        }
    }
    for order in &failing {
        assert!(
            in_erpnext.contains_key(&order.parse::<u64>().unwrap()),
            "{order} synced now"
        );
    }
    let (_, dashboard) = app.get_page("/", &cookie).await;
    assert!(!dashboard.contains("Why orders fail"), "{dashboard}");
}

#[tokio::test]
async fn the_orders_list_pages_and_sorts_keeping_its_filters() {
    let world = spawn_world(WooSimOptions {
        orders: 7,
        ..WooSimOptions::default()
    })
    .await;
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let (_, dashboard) = app.get_page("/", &cookie).await;
    let csrf = csrf_token(&dashboard);
    post_form(
        &app,
        "/sync-now",
        &cookie,
        &[("csrf", &csrf), ("connection", "shop")],
    )
    .await;
    app.drain_jobs().await;
    let mut ids: Vec<u64> =
        woocommerce_sync::sync::order_state::order_states(&world.store, world.connection.id)
            .await
            .unwrap()
            .iter()
            .map(|status| status.order_id.parse().unwrap())
            .collect();
    ids.sort();
    assert!(ids.len() >= 5, "{ids:?}");
    let pages = ids.len().div_ceil(2);
    let shown = |html: &str| -> Vec<u64> {
        html.split("<a href=\"/orders/shop/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };

    let (status, html) = app
        .get_page(
            "/orders?connection=shop&sort=oldest&per_page=2&page=2",
            &cookie,
        )
        .await;
    let html = html.replace("&#x2f;", "/");
    assert_eq!(status, 200);
    assert_eq!(shown(&html), ids[2..4].to_vec(), "{html}");
    assert!(
        html.contains(&format!("Page 2 of {pages} ({} orders)", ids.len())),
        "{html}"
    );
    let here = "/orders?connection=shop&amp;state=all&amp;sort=oldest&amp;per_page=2";
    assert!(
        html.contains(&format!("href=\"{here}&amp;page=1\" rel=\"prev\"")),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"{here}&amp;page=3\" rel=\"next\"")),
        "{html}"
    );

    // Newest first by default; a page past the end shows the last one.
    let (_, html) = app
        .get_page("/orders?connection=shop&per_page=2", &cookie)
        .await;
    let newest: Vec<u64> = ids.iter().rev().take(2).copied().collect();
    assert_eq!(shown(&html), newest, "{html}");
    let (_, html) = app
        .get_page("/orders?connection=shop&per_page=2&page=99", &cookie)
        .await;
    assert!(html.contains(&format!("Page {pages} of {pages}")), "{html}");
    assert!(!html.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_product_links_page_shows_the_report_and_queues_a_check_and_a_link_run() {
    let world = spawn_world(WooSimOptions {
        orders: 1,
        ..WooSimOptions::default()
    })
    .await;
    let erp = woocommerce_sync::sync::context::erpnext_client(
        &world.connection.connection,
        &common::fast_calls(),
    )
    .unwrap();
    for (code, stock) in [("SIM-001", 1), ("SIM-002", 0), ("BOLT-ONLY-IN-ERP", 1)] {
        erp.insert::<Value>(
            "Item",
            &serde_json::json!({"item_code": code, "item_group": "Products",
                                "stock_uom": "Nos", "is_stock_item": stock}),
        )
        .await
        .unwrap();
    }
    let app = spawn_app(&world).await;
    let cookie = app.login().await;
    let (_, settings) = app.get_page("/settings/shop", &cookie).await;
    assert!(settings.contains("href=\"/settings/shop/products\""));
    let (status, page) = app.get_page("/settings/shop/products", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("No check has run yet"), "{page}");
    let token = csrf_token(&page);

    let response = post_form(
        &app,
        "/settings/shop/products",
        &cookie,
        &[("csrf", "not-the-token"), ("run", "check")],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(world.store.pending_job_count().await.unwrap(), 0);

    let response = post_form(
        &app,
        "/settings/shop/products",
        &cookie,
        &[("csrf", &token), ("run", "check")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/settings/shop/products");
    let (_, page) = app.get_page("/settings/shop/products", &cookie).await;
    assert!(page.contains("A run is queued or running"), "{page}");
    assert_eq!(app.drain_jobs().await.succeeded, 1);
    let (_, page) = app.get_page("/settings/shop/products", &cookie).await;
    assert!(page.contains("nothing stored"), "{page}");
    assert!(!page.contains("A run is queued or running"));
    // The report's lists: what would be linked, the non-stock Item, ERPNext's Item the shop
    // does not sell, and shop products without an Item.
    assert!(page.contains("<td>SIM-001</td>"), "{page}");
    assert!(page.contains("<li>SIM-002</li>"), "{page}");
    assert!(page.contains("<li>BOLT-ONLY-IN-ERP</li>"), "{page}");
    assert!(page.contains("<td>SIM-003</td>"), "{page}");
    assert!(world
        .store
        .product_links(world.connection.id)
        .await
        .unwrap()
        .is_empty());

    let response = post_form(
        &app,
        "/settings/shop/products",
        &cookie,
        &[("csrf", &token), ("run", "link")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.drain_jobs().await.succeeded, 1);
    let (_, page) = app.get_page("/settings/shop/products", &cookie).await;
    assert!(page.contains("links stored"), "{page}");
    let linked: Vec<String> = world
        .store
        .product_links(world.connection.id)
        .await
        .unwrap()
        .into_iter()
        .map(|link| link.item_code)
        .collect();
    assert_eq!(linked, ["SIM-001", "SIM-002"]);

    let response = post_form(
        &app,
        "/settings/shop/products",
        &cookie,
        &[("csrf", &token), ("run", "everything")],
    )
    .await;
    assert_eq!(response.status(), 400);
}
