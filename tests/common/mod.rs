//! `spawn_world()`: both simulators, a temp SQLite store, a connection set up
//! in ERPNext, and its `ConnectionContext`. Tests read like stories and assert on
//! what the simulators hold.
#![allow(dead_code)]

use std::time::Duration;

use rust_decimal::Decimal;
use woocommerce_sync::connection::{
    Connection, Credentials, InvoiceTrigger, Mappings, MissingSkuRule, WooAuth,
};
use woocommerce_sync::erpnext::client::ListQuery;
use woocommerce_sync::jobs::{Queue, QueuePolicy};
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::simulators::{erpnext, woocommerce};
use woocommerce_sync::store::{Store, StoredConnection};
use woocommerce_sync::sync::context::{erpnext_client, CallSettings, ConnectionContext};
use woocommerce_sync::sync::setup::{install, SetupPlan};

pub struct World {
    pub woo: woocommerce::WooSimHandle,
    pub erp: erpnext::ErpSimHandle,
    pub store: Store,
    pub connection: StoredConnection,
    pub dir: tempfile::TempDir,
}

pub fn fixture_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// Settings for tests: a short timeout (the simulators' "hang" fault must not
/// stall a test), quick retries.
pub fn fast_calls() -> CallSettings {
    CallSettings {
        timeout: Duration::from_millis(1500),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
        max_in_flight: 8,
    }
}

pub fn connection_for(woo: &woocommerce::WooSimHandle, erp: &erpnext::ErpSimHandle) -> Connection {
    let mut mappings = Mappings::default();
    mappings.tax_accounts.insert(1, "ST 6.25% - TC".into());
    mappings.tax_accounts.insert(2, "ST 4% - TC".into());
    Connection {
        name: "shop".into(),
        woocommerce_url: woo.base_url(),
        woocommerce_auth: WooAuth::Auto,
        erpnext_url: erp.base_url().clone(),
        credentials: Credentials {
            consumer_key: woocommerce::TEST_CONSUMER_KEY.into(),
            consumer_secret: woocommerce::TEST_CONSUMER_SECRET.into(),
            webhook_secret: woocommerce::TEST_WEBHOOK_SECRET.into(),
            api_key: erp.api_key().into(),
            api_secret: erp.api_secret().into(),
        },
        company: "Test Company".into(),
        default_warehouse: "Stores - TC".into(),
        naming_series: "SAL-ORD-.YYYY.-".into(),
        customer_group: "Individual".into(),
        territory: "All Territories".into(),
        price_list: "Standard Selling".into(),
        item_group: "Products".into(),
        stock_uom: "Nos".into(),
        delivery_lead_days: 3,
        imported_statuses: vec!["processing".into(), "on-hold".into(), "completed".into()],
        invoice_trigger: InvoiceTrigger::Paid,
        submit_invoices: true,
        record_payments: true,
        rounding_tolerance: Decimal::new(1, 2),
        auto_create_items: true,
        missing_sku: MissingSkuRule::Synthesize,
        default_tax_account: Some("ST 6% - TC".into()),
        shipping_account: Some("Freight and Forwarding Charges - TC".into()),
        fee_account: Some("Miscellaneous Expenses - TC".into()),
        rounding_account: Some("Round Off - TC".into()),
        mappings,
    }
}

pub async fn spawn_world(woo_options: woocommerce::WooSimOptions) -> World {
    let woo = woocommerce::start(woo_options)
        .await
        .expect("start the WooCommerce simulator");
    let erp = erpnext::start(erpnext::ErpSimOptions::default())
        .await
        .expect("start the ERPNext simulator");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    let store = Store::open(
        &url,
        SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    )
    .await
    .unwrap();
    let connection = connection_for(&woo, &erp);
    store.insert_connection(&connection).await.unwrap();
    let client = erpnext_client(&connection, &fast_calls()).unwrap();
    install(
        &client,
        &SetupPlan {
            connection_name: "shop".into(),
            webhook_base_url: "http://127.0.0.1:9/webhooks/erpnext/shop".parse().unwrap(),
            webhook_secret: "erp-webhook-secret".into(),
            update_webhook_secrets: false,
            catalogue: None,
        },
    )
    .await
    .expect("setup");
    let connection = store.connection("shop").await.unwrap();
    World {
        woo,
        erp,
        store,
        connection,
        dir,
    }
}

impl World {
    /// The connection's context, its failures settled with the job queue (as `serve` and the
    /// CLI have it).
    pub async fn context(&self, concurrency: usize) -> ConnectionContext {
        ConnectionContext::prepare(
            self.store.clone(),
            self.connection.clone(),
            &fast_calls(),
            concurrency,
        )
        .await
        .expect("prepare the connection's context")
        .handing_over_to(Queue::new(self.store.clone(), QueuePolicy::default()))
    }

    /// Submitted Sales Orders per WooCommerce order id, read through ERPNext's API.
    pub async fn sales_orders_by_order(
        &self,
    ) -> std::collections::BTreeMap<u64, Vec<serde_json::Value>> {
        let client = erpnext_client(&self.connection.connection, &fast_calls()).unwrap();
        let rows: Vec<serde_json::Value> = client
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&[
                        "name",
                        "docstatus",
                        "woocommerce_order_id",
                        "grand_total",
                        "customer",
                    ])
                    .filter("docstatus", "=", 1)
                    .all_rows(),
            )
            .await
            .unwrap();
        let mut map: std::collections::BTreeMap<u64, Vec<serde_json::Value>> = Default::default();
        for row in rows {
            if let Some(id) = row["woocommerce_order_id"]
                .as_str()
                .and_then(|id| id.parse().ok())
            {
                map.entry(id).or_default().push(row);
            }
        }
        map
    }
}

/// The admin password of every test service.
pub const ADMIN_PASSWORD: &str = "test admin password";

/// The service running on a loopback port against the world's simulators.
pub struct TestApp {
    pub base_url: String,
    pub service: std::sync::Arc<woocommerce_sync::app::Service>,
    /// A client that does not follow redirects (tests look at them).
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Options for tests: no scheduler (tests drain the queue), quick remote calls.
pub fn test_service_options() -> woocommerce_sync::app::ServiceOptions {
    woocommerce_sync::app::ServiceOptions {
        workers: 2,
        poll_interval: None,
        worker_idle: Duration::from_millis(50),
        calls: fast_calls(),
        ..Default::default()
    }
}

pub fn test_secret_key() -> SecretKey {
    SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap()
}

/// Starts the service's web face on `127.0.0.1:0`; jobs run when the test drains them.
pub async fn spawn_app(world: &World) -> TestApp {
    let service = std::sync::Arc::new(woocommerce_sync::app::Service::new(
        world.store.clone(),
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
    TestApp {
        base_url: format!("http://{address}"),
        service,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        server,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Runs every due job, as the workers would.
    pub async fn drain_jobs(&self) -> woocommerce_sync::jobs::DrainReport {
        self.service
            .drain_jobs()
            .await
            .expect("drain the job queue")
    }

    /// Posts raw bytes with headers to a path.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// Logs in with the admin password; returns the `Cookie` header value.
    pub async fn login(&self) -> String {
        let response = self
            .http
            .post(self.url("/login"))
            .form(&[("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_redirection(),
            "login answered {}",
            response.status()
        );
        let set_cookie = response
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .expect("login sets a cookie")
            .to_str()
            .unwrap()
            .to_string();
        set_cookie.split(';').next().unwrap().to_string()
    }

    /// GETs a page with the session cookie; returns status and body.
    pub async fn get_page(&self, path: &str, cookie: &str) -> (reqwest::StatusCode, String) {
        let response = self
            .http
            .get(self.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }
}

/// Whether a page names a command-line flag (` --connection`, `(--all`): the browser's words
/// never do. A CSRF token or other base64 text may hold `--` inside a word; that is no flag.
pub fn names_a_flag(page: &str) -> bool {
    page.match_indices("--").any(|(at, _)| {
        let before = page[..at].chars().next_back();
        let after = page[at + 2..].chars().next();
        before.map_or(true, |c| c.is_whitespace() || "(`'>".contains(c))
            && after.is_some_and(|c| c.is_ascii_lowercase())
    })
}

/// Sets the price pass's cursor as if the last pass had run just before Item Price `deleted`
/// was deleted: the next pass then reads nothing as changed (every remaining Item Price was
/// saved earlier), so only the deletion can bring an item into it. A save and a deletion a
/// second apart could otherwise not be told apart without a minute's wait (the pass reads a
/// minute back from its cursor).
pub async fn price_pass_ran_before_deleting(
    erp: &woocommerce_sync::erpnext::ErpClient,
    store: &Store,
    connection_id: i64,
    deleted: &str,
) {
    let copies: Vec<serde_json::Value> = erp
        .list(
            "Deleted Document",
            &ListQuery::default()
                .fields(&["creation"])
                .filter("deleted_doctype", "=", "Item Price")
                .filter("deleted_name", "=", deleted),
        )
        .await
        .expect("list the site's Deleted Documents");
    let at = copies[0]["creation"].as_str().expect("the deletion's time");
    let at =
        chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f").expect("a site time");
    let cursor = at + chrono::Duration::minutes(1);
    store
        .set_cursor(
            connection_id,
            woocommerce_sync::sync::catalogue::flow::PRICES_CURSOR,
            &cursor.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        )
        .await
        .expect("set the price pass's cursor");
}
