//! A new connection made in the browser, through real HTTP against both simulators: the form
//! tests both sites, reads what they have and proposes the mappings; nothing is saved before
//! "Save"; saving sets up both sites and queues the first sync, whose progress page reloads
//! itself until it is done. Bad input is refused with advice in the form's words, and nothing
//! is saved.

mod common;

use std::sync::Arc;

use common::{fast_calls, test_secret_key, test_service_options, ADMIN_PASSWORD};
use woocommerce_sync::app::Service;
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::store::Store;
use woocommerce_sync::sync::context::{erpnext_client, woocommerce_client};

struct Bench {
    woo: woocommerce::WooSimHandle,
    erp: erpnext::ErpSimHandle,
    store: Store,
    service: Arc<Service>,
    base_url: String,
    http: reqwest::Client,
    cookie: String,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Both simulators, an empty store (no connection yet) and the service, logged in.
async fn bench() -> Bench {
    let woo = woocommerce::start(woocommerce::WooSimOptions {
        orders: 12,
        ..woocommerce::WooSimOptions::default()
    })
    .await
    .unwrap();
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    let store = Store::open(&url, test_secret_key()).await.unwrap();
    let service = Arc::new(Service::new(
        store.clone(),
        &test_secret_key(),
        ADMIN_PASSWORD,
        test_service_options(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = service.router();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base_url = format!("http://{address}");
    let login = http
        .post(format!("{base_url}/login"))
        .form(&[("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    Bench {
        woo,
        erp,
        store,
        service,
        base_url,
        http,
        cookie,
        _dir: dir,
        server,
    }
}

impl Bench {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base_url))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base_url))
            .header(reqwest::header::COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn csrf(&self) -> String {
        let html = self
            .get("/connections/new")
            .await
            .text()
            .await
            .map(unescaped)
            .unwrap();
        hidden(&html, "csrf").remove(0)
    }

    /// Step one's fields for the simulators, with `changes` written over them.
    fn first_step<'a>(
        &'a self,
        csrf: &'a str,
        changes: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, String)> {
        let mut fields: Vec<(&str, String)> = vec![
            ("csrf", csrf.to_string()),
            ("name", "webshop".into()),
            ("woocommerce_url", self.woo.base_url().to_string()),
            ("consumer_key", woocommerce::TEST_CONSUMER_KEY.into()),
            ("consumer_secret", woocommerce::TEST_CONSUMER_SECRET.into()),
            ("erpnext_url", self.erp.base_url().to_string()),
            ("api_key", self.erp.api_key().into()),
            ("api_secret", self.erp.api_secret().into()),
            ("company", String::new()),
            ("public_url", self.base_url.clone()),
        ];
        for (name, value) in changes {
            for field in fields.iter_mut().filter(|field| field.0 == *name) {
                field.1 = value.to_string();
            }
        }
        fields
    }

    async fn post_owned(&self, path: &str, fields: &[(&str, String)]) -> reqwest::Response {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(path, &borrowed).await
    }

    async fn woocommerce_webhook_count(&self) -> usize {
        let connection = connection_like(self);
        woocommerce_client(&connection, &fast_calls())
            .unwrap()
            .list_webhooks()
            .await
            .unwrap()
            .len()
    }
}

/// A connection value pointing at the simulators, only to read them in assertions.
fn connection_like(bench: &Bench) -> woocommerce_sync::connection::Connection {
    woocommerce_sync::connection::Connection::with_defaults(
        "reader",
        bench.woo.base_url(),
        bench.erp.base_url().clone(),
        woocommerce_sync::connection::Credentials {
            consumer_key: woocommerce::TEST_CONSUMER_KEY.into(),
            consumer_secret: woocommerce::TEST_CONSUMER_SECRET.into(),
            webhook_secret: String::new(),
            api_key: bench.erp.api_key().into(),
            api_secret: bench.erp.api_secret().into(),
        },
    )
}

/// The page's text with minijinja's escapes undone, to compare with what was typed.
fn unescaped(html: String) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Values of the hidden inputs named `name`, in page order.
fn hidden(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            let end = html[start..].find('"').unwrap() + start;
            html[start..end].to_string()
        })
        .collect()
}

/// The option marked `selected` in the `<select>` with this id.
fn selected(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("<select id=\"{id}\""))?;
    let end = html[start..].find("</select>")? + start;
    let select = &html[start..end];
    let at = select.find("<option selected>")? + "<option selected>".len();
    let stop = select[at..].find('<')? + at;
    Some(select[at..stop].to_string())
}

fn assert_no_secret(html: &str, bench: &Bench) {
    for secret in [
        woocommerce::TEST_CONSUMER_SECRET,
        woocommerce::TEST_CONSUMER_KEY,
        bench.erp.api_secret(),
    ] {
        assert!(!html.contains(secret), "a secret is in the page");
    }
}

#[tokio::test]
async fn a_new_connection_is_tested_proposed_set_up_saved_and_synced_from_the_browser() {
    let bench = bench().await;

    // With no connection, the dashboard sends the user to the new-connection form.
    let home = bench.get("/").await;
    assert_eq!(home.headers()["location"], "/connections/new");
    let form = bench
        .get("/connections/new")
        .await
        .text()
        .await
        .map(unescaped)
        .unwrap();
    assert!(form.contains("Address of this service"), "{form}");
    assert!(
        form.contains(&format!("value=\"{}/\"", bench.base_url)),
        "the service's own address is proposed"
    );

    // Step one: both sites are tested and read; the proposal is shown, nothing is saved yet.
    let csrf = bench.csrf().await;
    let review = bench
        .post_owned("/connections/new", &bench.first_step(&csrf, &[]))
        .await;
    assert_eq!(review.status(), 200);
    let review = review.text().await.map(unescaped).unwrap();
    assert_no_secret(&review, &bench);
    assert!(bench.store.connections().await.unwrap().is_empty());
    assert_eq!(
        bench.woocommerce_webhook_count().await,
        0,
        "nothing is set up before Save"
    );
    assert_eq!(
        selected(&review, "company").as_deref(),
        Some("Test Company"),
        "{review}"
    );
    assert!(review.contains("<option selected>Stores - TC</option>"));
    assert!(review.contains("<option selected>Freight and Forwarding Charges - TC</option>"));
    assert!(review.contains("<option selected>Round Off - TC</option>"));
    assert_eq!(
        selected(&review, "payment_mode_1").as_deref(),
        Some("Credit Card"),
        "stripe"
    );
    assert!(review.contains("Wire Transfer</option>"));
    // The simulated store's rates (7.25 %, 1 %, 8.875 %, 2.5 %, 6.5 %) have no ERPNext account
    // of their rate or name: each is named as missing, with why it matters.
    assert!(
        review.contains("Tax rate 1: CA State Tax (7.25 %) has no ERPNext tax account"),
        "{review}"
    );
    assert!(review.contains("Orders taxed at this rate fail until it is mapped"));
    assert!(
        !common::names_a_flag(&review),
        "the page names no command-line flag"
    );
    let token = hidden(&review, "token").remove(0);
    let rates = hidden(&review, "tax_rate");
    assert_eq!(rates, ["1", "2", "3", "4", "5"]);
    let gateways = hidden(&review, "payment_method");

    // Step two: the user maps every rate to one account, keeps the rest, and saves.
    let mut fields: Vec<(&str, String)> = vec![
        ("csrf", csrf.clone()),
        ("token", token.clone()),
        ("company", "Test Company".into()),
        ("default_warehouse", "Stores - TC".into()),
        ("price_list", "Standard Selling".into()),
        (
            "shipping_account",
            "Freight and Forwarding Charges - TC".into(),
        ),
        ("fee_account", "Miscellaneous Expenses - TC".into()),
        ("rounding_account", "Round Off - TC".into()),
        ("default_tax_account", "ST 6% - TC".into()),
        ("invoice_trigger", "paid".into()),
        ("submit_invoices", "on".into()),
        ("record_payments", "on".into()),
        ("auto_create_items", "on".into()),
        ("imported_status", "processing".into()),
        ("imported_status", "completed".into()),
        ("imported_status", "on-hold".into()),
    ];
    for rate in &rates {
        fields.push(("tax_rate", rate.clone()));
        fields.push(("tax_account", String::new()));
    }
    for gateway in &gateways {
        fields.push(("payment_method", gateway.clone()));
        fields.push((
            "payment_mode",
            if gateway == "cod" {
                "Cash".into()
            } else {
                "Credit Card".into()
            },
        ));
        fields.push(("payment_account", String::new()));
    }
    let saved = bench.post_owned("/connections/new/save", &fields).await;
    assert_eq!(
        saved.status(),
        303,
        "{}",
        saved.text().await.map(unescaped).unwrap()
    );
    assert_eq!(saved.headers()["location"], "/connections/webshop/progress");

    // Saved with the typed secrets (sealed), the chosen mappings, and set up on both sides.
    let stored = bench.store.connection("webshop").await.unwrap().connection;
    assert_eq!(
        stored.credentials.consumer_secret,
        woocommerce::TEST_CONSUMER_SECRET
    );
    assert_eq!(stored.credentials.api_secret, bench.erp.api_secret());
    assert!(stored.credentials.webhook_secret.len() >= 16);
    assert_eq!(stored.default_tax_account.as_deref(), Some("ST 6% - TC"));
    assert_eq!(
        stored.mappings.payment_methods["cod"].mode_of_payment,
        "Cash"
    );
    assert!(stored.auto_create_items);
    assert_eq!(
        bench.woocommerce_webhook_count().await,
        2,
        "order.created and order.updated"
    );
    let erp = erpnext_client(&connection_like(&bench), &fast_calls()).unwrap();
    let webhooks: Vec<serde_json::Value> = erp
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name", "request_url"])
                .all_rows(),
        )
        .await
        .unwrap();
    assert!(
        webhooks.iter().any(|hook| hook["request_url"]
            .as_str()
            .unwrap_or("")
            .contains("/webhooks/erpnext/webshop")),
        "{webhooks:?}"
    );
    // A token is used once.
    let again = bench.post_owned("/connections/new/save", &fields).await;
    assert_eq!(again.status(), 400);

    // The first sync is queued: the progress page reloads itself until it is done.
    let running = bench
        .get("/connections/webshop/progress")
        .await
        .text()
        .await
        .map(unescaped)
        .unwrap();
    assert!(running.contains("http-equiv=\"refresh\""), "{running}");
    assert!(
        running.contains("created: "),
        "setup's report is shown: {running}"
    );
    // The first sync's writes make both simulators send webhooks in the background; the jobs
    // those queue are part of the sync.
    for _ in 0..20 {
        bench.erp.webhook_deliveries_settled().await;
        bench.woo.webhook_deliveries_settled().await;
        let report = bench.service.drain_jobs().await.unwrap();
        if report.succeeded + report.retried + report.parked == 0 {
            break;
        }
    }
    let done = bench
        .get("/connections/webshop/progress")
        .await
        .text()
        .await
        .map(unescaped)
        .unwrap();
    assert!(!done.contains("http-equiv=\"refresh\""), "{done}");
    assert!(done.contains("Finished."), "{done}");

    // What the page counts as synced is what ERPNext holds.
    let synced: usize = done
        .split("Orders synced</th><td>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|count| count.parse().ok())
        .unwrap();
    let sales_orders: Vec<serde_json::Value> = erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name"])
                .filter("woocommerce_order_key", "like", "webshop:%")
                .filter("docstatus", "=", 1)
                .all_rows(),
        )
        .await
        .unwrap();
    assert!(synced > 0, "{done}");
    assert_eq!(synced, sales_orders.len(), "{done}");
    assert_no_secret(&done, &bench);
}

#[tokio::test]
async fn bad_input_is_refused_with_advice_in_the_forms_words_and_nothing_is_saved() {
    let bench = bench().await;
    let csrf = bench.csrf().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("woocommerce_url", "shop.example.com")],
            "WooCommerce store address: `shop.example.com` is not a URL",
        ),
        (
            &[("name", "my shop")],
            "Connection name: `my shop` is not a usable connection name",
        ),
        (&[("api_secret", "")], "ERPNext API secret: is missing"),
        (
            &[("woocommerce_url", "http://127.0.0.1:9/")],
            "could not be reached or did not answer in time",
        ),
        (
            &[("consumer_secret", "cs_wrong")],
            "WooCommerce refused the consumer key and secret",
        ),
        (
            &[("api_secret", "wrong")],
            "ERPNext refused the API key and secret",
        ),
        (
            &[("erpnext_url", "http://127.0.0.1:9/")],
            "The ERPNext site at http://127.0.0.1:9/ could not be reached",
        ),
    ];
    for (changes, advice) in cases {
        let answer = bench
            .post_owned("/connections/new", &bench.first_step(&csrf, changes))
            .await;
        assert_eq!(answer.status(), 400, "{changes:?}");
        let html = answer.text().await.map(unescaped).unwrap();
        assert!(html.contains("Nothing was saved."), "{changes:?}: {html}");
        assert!(
            html.contains(advice),
            "{changes:?} should say `{advice}`: {html}"
        );
        assert!(
            !common::names_a_flag(&html),
            "{changes:?}: a flag is named: {html}"
        );
        assert_no_secret(&html, &bench);
        // What was typed (but no secret) is kept in the form.
        assert!(
            html.contains("value=\"webshop\"") || html.contains("my shop"),
            "{html}"
        );
    }
    assert!(bench.store.connections().await.unwrap().is_empty());
    assert_eq!(bench.woocommerce_webhook_count().await, 0);

    // A form without the session's token is refused.
    let forged = bench
        .post_owned("/connections/new", &bench.first_step("forged", &[]))
        .await;
    assert_eq!(forged.status(), 403);
}
