//! A faithful WooCommerce REST v3 simulator (axum, in-process): the same
//! status codes, error bodies, paging headers, authentication rules and
//! webhooks as the recorded real store, a deterministic generated shop or
//! loaded real data, and fault knobs (latency, 5xx, 429, timeouts, dropped
//! answers after the write committed) drawn from a seeded generator.

mod auth;
pub mod generate;
mod load;
mod server;
pub mod state;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use url::Url;

use state::{ApiKey, Shop};
pub use state::{FaultKind, Faults, Permission};

/// The test keys of `oauth1_signature_examples.json`.
pub const TEST_CONSUMER_KEY: &str = "ck_0123456789abcdef0123456789abcdef01234567";
pub const TEST_CONSUMER_SECRET: &str = "cs_89abcdef0123456789abcdef0123456789abcdef";
pub const TEST_WEBHOOK_SECRET: &str = "test-webhook-secret-ERPNext-sync";

/// `woocommerce-sync sim woocommerce` flags.
#[derive(Clone, clap::Args)]
pub struct WooSimOptions {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Generate a shop with this many orders.
    #[arg(long, default_value_t = 0)]
    pub orders: usize,
    /// Seed of the generated shop (the same seed gives the same shop).
    #[arg(long, default_value_t = 1)]
    pub seed_random: u64,
    /// Put this tag into the generated shop's SKUs and buyer emails, so that the same seed
    /// again meets none of the Items and Customers an earlier shop left in a real ERPNext.
    #[arg(long, default_value = "")]
    pub tag: String,
    /// Also sell this many simple products (SKUs `CAT-00001`…, stock managed, 0 in stock):
    /// a catalogue for `bench --stock`.
    #[arg(long, default_value_t = 0)]
    pub catalogue: usize,
    /// Serve these orders (a JSON file, or a folder like tests/fixtures/woocommerce-real/store-snapshot).
    #[arg(long)]
    pub load: Option<PathBuf>,
    /// Act as a store on plain HTTP: only OAuth 1.0a authenticates (Basic is ignored).
    #[arg(long)]
    pub plain_http: bool,
    #[arg(long, default_value = TEST_CONSUMER_KEY)]
    pub consumer_key: String,
    #[arg(long, default_value = TEST_CONSUMER_SECRET)]
    pub consumer_secret: String,
    /// Secret for webhooks created without one.
    #[arg(long, default_value = TEST_WEBHOOK_SECRET)]
    pub webhook_secret: String,
    /// Added to every API answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0..1) of requests answered 500/502/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share (0..1) of requests answered 429 with Retry-After: 1.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Throttle answers are an HTML page, as a host's limiter sends.
    #[arg(long)]
    pub throttle_html: bool,
    /// Share (0..1) of requests never answered.
    #[arg(long, default_value_t = 0.0)]
    pub timeout_rate: f64,
    /// Share (0..1) of requests applied, then dropped without an answer.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Seed of the generator the faults are drawn from (random when not given; the one in use
    /// is at `/__sim/faults` and printed when a test holding the simulator fails).
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// The store's time zone (for `date_*`; `date_*_gmt` is UTC).
    #[arg(long, default_value = "America/New_York")]
    pub time_zone: String,
}

impl Default for WooSimOptions {
    /// For tests: a free port on loopback, an empty shop, no faults.
    fn default() -> Self {
        WooSimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            orders: 0,
            seed_random: 1,
            tag: String::new(),
            catalogue: 0,
            load: None,
            plain_http: false,
            consumer_key: TEST_CONSUMER_KEY.to_string(),
            consumer_secret: TEST_CONSUMER_SECRET.to_string(),
            webhook_secret: TEST_WEBHOOK_SECRET.to_string(),
            latency_ms: 0,
            error_rate: 0.0,
            throttle_rate: 0.0,
            throttle_html: false,
            timeout_rate: 0.0,
            drop_rate: 0.0,
            fault_seed: None,
            time_zone: "America/New_York".to_string(),
        }
    }
}

impl std::fmt::Debug for WooSimOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WooSimOptions")
            .field("listen", &self.listen)
            .field("orders", &self.orders)
            .field("seed_random", &self.seed_random)
            .field("load", &self.load)
            .field("plain_http", &self.plain_http)
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("fault_seed", &self.fault_seed)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

/// A running simulator. Dropping it stops the server.
pub struct WooSimHandle {
    address: SocketAddr,
    app: server::App,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for WooSimHandle {
    fn drop(&mut self) {
        // A test that fails while holding a simulator whose faults were ever on says how to
        // meet them again.
        crate::simulators::report_fault_seed(
            "WooCommerce",
            &self.app.lock().fault_dice,
            "WooSimOptions { fault_seed: Some({seed}), .. }",
        );
        self.server.abort();
    }
}

/// Builds the shop and starts serving on `options.listen`.
pub async fn start(options: WooSimOptions) -> anyhow::Result<WooSimHandle> {
    let time_zone: chrono_tz::Tz = options.time_zone.parse().map_err(|_| {
        anyhow::anyhow!(
            "unknown time zone {:?}; use an IANA name such as America/New_York",
            options.time_zone
        )
    })?;
    let keys = vec![ApiKey {
        consumer_key: options.consumer_key.clone(),
        consumer_secret: options.consumer_secret.clone(),
        permission: Permission::ReadWrite,
    }];
    let mut shop = Shop::new(time_zone, keys, options.webhook_secret.clone());
    shop.tie_seed = options.seed_random;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr()?;
    shop.base_url = format!("http://{address}");
    if let Some(path) = &options.load {
        load::load_path(&mut shop, path)?;
    }
    if options.orders > 0 {
        generate::generate_tagged_shop(
            &mut shop,
            options.orders,
            options.seed_random,
            &options.tag,
        );
    }
    generate::generate_catalogue(&mut shop, options.catalogue);
    shop.fault_dice = crate::simulators::FaultDice::new(options.fault_seed);
    shop.set_faults(Faults {
        latency_ms: options.latency_ms,
        error_rate: options.error_rate,
        throttle_rate: options.throttle_rate,
        throttle_html: options.throttle_html,
        timeout_rate: options.timeout_rate,
        drop_rate: options.drop_rate,
        next: Default::default(),
        next_on: Default::default(),
        seed: None,
    });
    let app = server::App {
        shop: Arc::new(Mutex::new(shop)),
        plain_http: options.plain_http,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the webhook HTTP client")?,
        deliveries_pending: Arc::new(tokio::sync::watch::Sender::new(0)),
    };
    let router = axum::Router::new()
        .fallback(server::handle)
        .with_state(app.clone());
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "WooCommerce simulator stopped");
        }
    });
    Ok(WooSimHandle {
        address,
        app,
        server,
    })
}

/// Starts and serves until Ctrl-C.
pub async fn run(options: WooSimOptions) -> anyhow::Result<()> {
    let plain_http = options.plain_http;
    let handle = start(options).await?;
    let orders = handle.app.lock().orders.len();
    println!(
        "WooCommerce simulator on {} ({} orders, {} auth); Ctrl-C stops it",
        handle.base_url(),
        orders,
        if plain_http {
            "OAuth 1.0a over plain HTTP"
        } else {
            "HTTPS-style Basic/query keys"
        }
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(())
}

impl WooSimHandle {
    /// `http://127.0.0.1:<port>`: the store's home URL.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}", self.address))
            .expect("a socket address is a valid URL host")
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Every order's JSON, by id.
    pub fn orders(&self) -> Vec<Value> {
        self.app
            .lock()
            .orders
            .values()
            .map(|stored| stored.value())
            .collect()
    }

    pub fn order(&self, id: u64) -> Option<Value> {
        self.app.lock().orders.get(&id).map(|stored| stored.value())
    }

    pub fn order_count(&self) -> usize {
        self.app.lock().orders.len()
    }

    /// An order's refunds, newest first.
    pub fn refunds(&self, order_id: u64) -> Vec<Value> {
        let shop = self.app.lock();
        shop.refunds
            .get(&order_id)
            .map(|refunds| refunds.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// An order's notes, newest first.
    pub fn notes(&self, order_id: u64) -> Vec<Value> {
        let shop = self.app.lock();
        shop.notes
            .get(&order_id)
            .map(|notes| notes.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    pub fn product(&self, id: u64) -> Option<Value> {
        self.app.lock().products.get(&id).cloned()
    }

    pub fn products(&self) -> Vec<Value> {
        self.app.lock().products.values().cloned().collect()
    }

    /// The knobs, with the seed in use.
    pub fn faults(&self) -> Faults {
        self.app.lock().faults()
    }

    /// Sets the knobs (see [`Faults::seed`] for the seed).
    pub fn set_faults(&self, faults: Faults) {
        self.app.lock().set_faults(faults);
    }

    /// The seed the faults are drawn from: give it back as `WooSimOptions::fault_seed` (or
    /// `Faults::seed`) to meet the same faults again.
    pub fn fault_seed(&self) -> u64 {
        self.app.lock().fault_dice.seed()
    }

    /// Forces faults on the next API requests, in order.
    pub fn push_faults(&self, kinds: &[FaultKind]) {
        self.app.lock().faults.next.extend(kinds.iter().copied());
    }

    /// Queues a fault for the next request to one route (`"POST /orders"`), whatever comes first.
    pub fn push_fault_on(&self, route: &str, kind: FaultKind) {
        self.app
            .lock()
            .faults
            .next_on
            .push_back((route.to_string(), kind));
    }

    /// API requests answered so far (faulted ones included).
    pub fn requests_served(&self) -> u64 {
        self.app.lock().requests_served
    }

    /// Waits until no webhook delivery is queued or being sent: each has had its answer and
    /// the webhook's failure count is up to date. (Tests wait on this rather than sleeping.)
    pub async fn webhook_deliveries_settled(&self) {
        let mut pending = self.app.deliveries_pending.subscribe();
        // The sender lives as long as the simulator; a closed channel has nothing left to wait for.
        let _ = pending.wait_for(|count| *count == 0).await;
    }

    /// Adds another API key (e.g. a read-only one).
    pub fn add_api_key(&self, consumer_key: &str, consumer_secret: &str, permission: Permission) {
        self.app.lock().keys.push(ApiKey {
            consumer_key: consumer_key.to_string(),
            consumer_secret: consumer_secret.to_string(),
            permission,
        });
    }

    /// Sets one store setting, as the shop owner does in WooCommerce → Settings (e.g.
    /// `("tax", "woocommerce_prices_include_tax", "yes")`).
    pub fn set_setting(&self, group: &str, id: &str, value: &str) {
        self.app
            .lock()
            .settings
            .insert((group.to_string(), id.to_string()), value.to_string());
    }

    /// Moves the simulator's clock (for OAuth timestamp checks).
    pub fn shift_clock(&self, seconds: i64) {
        self.app.lock().clock_offset_seconds = seconds;
    }

    /// Creates an order as the shop's checkout would (REST body shape); fires
    /// `order.created`/`order.updated` webhooks.
    pub fn create_order(&self, body: &Value) -> anyhow::Result<Value> {
        let (json, deliveries) = {
            let mut shop = self.app.lock();
            server::create_order(&mut shop, body).map_err(|error| {
                anyhow::anyhow!("the simulator refused the order: {}", error.body_json())
            })?
        };
        server_deliver(&self.app, deliveries);
        Ok(serde_json::from_str(&json)?)
    }

    /// Changes an order as a shop manager would (REST update body); bumps
    /// `date_modified` and fires `order.updated`.
    pub fn update_order(&self, id: u64, changes: &Value) -> anyhow::Result<Value> {
        let (json, deliveries) = {
            let mut shop = self.app.lock();
            shop.update_order(id, changes).map_err(|error| {
                anyhow::anyhow!("the simulator refused the update: {}", error.body_json())
            })?
        };
        server_deliver(&self.app, deliveries);
        Ok(serde_json::from_str(&json)?)
    }

    /// Serves an order exactly as a real store gave it, with its refunds (newest first, as
    /// listed), replacing any order with its id: the differential tests replay real orders here.
    pub fn put_order(&self, order: &Value, refunds: &[Value]) -> anyhow::Result<()> {
        load::put_order_with_refunds(&mut self.app.lock(), order, refunds)
    }

    /// Stops serving.
    pub fn shutdown(self) {
        self.server.abort();
    }
}

fn server_deliver(app: &server::App, deliveries: Vec<state::PendingDelivery>) {
    if !deliveries.is_empty() && tokio::runtime::Handle::try_current().is_ok() {
        webhooks::deliver_all(app.clone(), deliveries);
    }
}

/// Lists every order of a simulator with `orders` generated orders through
/// the real client, 100 per page; returns the count and the elapsed time.
pub async fn bench_list_orders(orders: usize) -> anyhow::Result<(usize, Duration)> {
    let handle = start(WooSimOptions {
        orders,
        ..WooSimOptions::default()
    })
    .await?;
    let mut config = crate::woocommerce::WooConfig::new(
        handle.base_url(),
        TEST_CONSUMER_KEY,
        TEST_CONSUMER_SECRET,
    );
    config.auth = crate::woocommerce::AuthMode::Basic;
    let client = crate::woocommerce::WooClient::new(config)?;
    let started = Instant::now();
    let listed = client
        .list_all_orders(&crate::woocommerce::OrderQuery::default())
        .await?;
    Ok((listed.len(), started.elapsed()))
}
