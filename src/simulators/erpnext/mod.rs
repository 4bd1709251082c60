//! A faithful ERPNext v15 REST simulator: the `/api/resource`, `/api/method`
//! and `/api/v2/document` endpoints the product uses, answering what the
//! recorded site answered (`tests/fixtures/erpnext/`) and what the lab answers
//! (`tests/real_erpnext.rs` runs the same requests against both), with Webhook
//! documents that really deliver, and fault knobs (latency, errors, 429,
//! timeouts, deadlocks, "commit then drop the response") drawn from a seeded
//! generator, settable by flags or at runtime.
//!
//! Simulated: Customer (named by customer_name, ` - 1` on clashes, auto Contact,
//! party accounts), Contact, Address, Item (+ Item Price), Account (receivables
//! in any currency), Sales Order, Sales Invoice (credit notes too), Payment Entry
//! (receipts, and refunds against credit notes), Delivery Note (as it moves an
//! order), Custom Field (unique → unique index, no_copy in mappings; its
//! fieldtype decides its checks), Webhook (validation, conditions, the events
//! Frappe 15 raises), Currency Exchange; the setup wizard's masters read-only.
//! Naming series with rollback, mandatory/link checks, Select options and field
//! lengths (`rules`, on the column facts of `meta`), docstatus rules,
//! `taxes_and_totals` (Actual and On Net Total rows, discounts, price list
//! rates, banker's rounding, smallest-fraction rounded totals, base amounts),
//! billing and payment status, the party currency rules, lists with every
//! filter form.
//! Not simulated: stock ledger and GL entries (only the party currency a
//! customer's first entries fix), pricing rules, tax templates, tax-inclusive
//! rates, "On Previous Row" charges, returns against delivery notes.

mod condition;
mod controllers;
mod doctypes;
mod engine;
mod error;
mod http;
mod mapper;
mod meta;
mod query;
mod rules;
mod seed;
mod totals;
mod values;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use url::Url;

use crate::simulators::FaultDice;

pub use seed::{COMPANY, COMPANY_CURRENCY};
pub use webhooks::DeliveryRecord;

/// Test credentials the simulator accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sim-erpnext-key";
pub const DEFAULT_API_SECRET: &str = "sim-erpnext-secret";

/// Options for `woocommerce-sync sim erpnext`.
#[derive(Debug, Clone, clap::Args)]
pub struct ErpSimOptions {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// API key the simulated Administrator uses.
    #[arg(long, default_value = DEFAULT_API_KEY)]
    pub api_key: String,
    /// API secret of that key.
    #[arg(long, default_value = DEFAULT_API_SECRET)]
    pub api_secret: String,
    /// Added to every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests (0..1) answered 503 without doing anything.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests answered 429 with `Retry-After: 1`.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Share of requests that hang (the client's timeout fires); nothing is done.
    #[arg(long, default_value_t = 0.0)]
    pub timeout_rate: f64,
    /// Share of requests that are carried out and committed, then the
    /// connection is cut before the answer: the client cannot know it worked.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Share of writes answered 500 `QueryDeadlockError` (MariaDB 1213), as Frappe answers a
    /// deadlock: nothing is written, and trying again is safe.
    #[arg(long, default_value_t = 0.0)]
    pub deadlock_rate: f64,
    /// Seed of the generator the faults are drawn from (random when not given; the one in use
    /// is at `/__sim/faults` and printed when a test holding the simulator fails).
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// Also hold this many stock Items (`CAT-00001`…, as the WooCommerce simulator's
    /// `--catalogue`), each with some stock in Stores - TC: for `bench --stock`.
    #[arg(long, default_value_t = 0)]
    pub catalogue: usize,
    /// Pretend the site's date is this day (YYYY-MM-DD), to replay recorded
    /// transcripts; the time of day stays real.
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
}

impl Default for ErpSimOptions {
    fn default() -> Self {
        ErpSimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: DEFAULT_API_KEY.to_string(),
            api_secret: DEFAULT_API_SECRET.to_string(),
            latency_ms: 0,
            error_rate: 0.0,
            throttle_rate: 0.0,
            timeout_rate: 0.0,
            drop_rate: 0.0,
            deadlock_rate: 0.0,
            fault_seed: None,
            catalogue: 0,
            today: None,
        }
    }
}

/// Fault knobs, also readable and settable at `/__sim/faults` (GET / PUT JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub throttle_rate: f64,
    pub timeout_rate: f64,
    pub drop_rate: f64,
    /// Share of writes answered 500 `QueryDeadlockError` without being applied.
    pub deadlock_rate: f64,
    /// The fault generator's seed. Reading answers the seed in use; setting `Some` restarts
    /// the generator from that seed (the same requests in the same order then meet the same
    /// faults); setting `None` keeps the generator going.
    pub seed: Option<u64>,
}

impl Faults {
    /// Whether any fault can happen (latency alone is not one).
    pub fn any(&self) -> bool {
        [
            self.error_rate,
            self.throttle_rate,
            self.timeout_rate,
            self.drop_rate,
            self.deadlock_rate,
        ]
        .iter()
        .any(|rate| *rate > 0.0)
    }
}

impl From<&ErpSimOptions> for Faults {
    fn from(options: &ErpSimOptions) -> Self {
        Faults {
            latency_ms: options.latency_ms,
            error_rate: options.error_rate,
            throttle_rate: options.throttle_rate,
            timeout_rate: options.timeout_rate,
            drop_rate: options.drop_rate,
            deadlock_rate: options.deadlock_rate,
            seed: options.fault_seed,
        }
    }
}

/// What one request meets, drawn from the seeded generator.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Draw {
    pub throttle: bool,
    pub fail: bool,
    pub hang: bool,
    pub drop: bool,
    pub deadlock: bool,
}

/// Every knob is drawn on every request, in one order, so a seed replays the same faults for
/// the same sequence of requests whatever the rates.
fn draw(dice: &mut FaultDice, faults: &Faults) -> Draw {
    Draw {
        throttle: dice.chance(faults.throttle_rate),
        fail: dice.chance(faults.error_rate),
        hang: dice.chance(faults.timeout_rate),
        drop: dice.chance(faults.drop_rate),
        deadlock: dice.chance(faults.deadlock_rate),
    }
}

/// State shared by the HTTP handlers, the webhook worker and the handle.
pub(crate) struct Shared {
    site: engine::SiteLock,
    faults: Mutex<(Faults, FaultDice)>,
    pub api_key: String,
    pub api_secret: String,
    pub webhooks: webhooks::Outbox,
}

impl Shared {
    /// Locks the site for one request (see [`engine::SiteLock`]).
    pub fn site(&self) -> std::sync::MutexGuard<'_, engine::Site> {
        self.site.lock()
    }

    /// The knobs, with the seed in use.
    pub fn faults(&self) -> Faults {
        let guard = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Faults {
            seed: Some(guard.1.seed()),
            ..guard.0
        }
    }

    pub fn set_faults(&self, faults: Faults) -> Faults {
        let mut guard = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(seed) = faults.seed {
            guard.1.restart(seed);
        }
        guard.1.ever_faulty |= faults.any();
        guard.0 = Faults {
            seed: None,
            ..faults
        };
        Faults {
            seed: Some(guard.1.seed()),
            ..guard.0
        }
    }

    /// The knobs and what this request meets.
    pub fn draw_faults(&self) -> (Faults, Draw) {
        let mut guard = self
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let faults = guard.0;
        let draw = draw(&mut guard.1, &faults);
        (faults, draw)
    }
}

/// A running simulator.
pub struct ErpSimHandle {
    base_url: Url,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl ErpSimHandle {
    /// `http://127.0.0.1:<port>/`
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    pub fn api_secret(&self) -> &str {
        &self.shared.api_secret
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Sets the knobs (see [`Faults::seed`] for the seed).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// The seed the faults are drawn from: give it back as `ErpSimOptions::fault_seed` (or
    /// `Faults::seed`) to meet the same faults again.
    pub fn fault_seed(&self) -> u64 {
        self.shared.faults().seed.unwrap_or_default()
    }

    /// A stored document, as the site holds it (tests should prefer the API).
    pub fn document(&self, doctype: &str, name: &str) -> Option<Value> {
        self.shared.site().raw(doctype, name).map(Value::Object)
    }

    /// How many documents of `doctype` exist.
    pub fn count(&self, doctype: &str) -> usize {
        self.shared.site().document_count(doctype)
    }

    /// Every webhook delivery attempt so far (like ERPNext's Webhook Request Log).
    pub fn webhook_log(&self) -> Vec<DeliveryRecord> {
        self.shared.webhooks.log()
    }

    /// Waits until every delivery queued so far has had its last attempt logged in
    /// [`webhook_log`](Self::webhook_log). (Tests wait on this rather than sleeping.)
    pub async fn webhook_deliveries_settled(&self) {
        self.shared.webhooks.settled().await;
    }

    /// Stops serving.
    pub fn shutdown(&self) {
        self.server.abort();
    }
}

impl Drop for ErpSimHandle {
    fn drop(&mut self) {
        // A test that fails while holding a simulator whose faults were ever on says how to
        // meet them again.
        let faults = self
            .shared
            .faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::simulators::report_fault_seed(
            "ERPNext",
            &faults.1,
            "ErpSimOptions { fault_seed: Some({seed}), .. }",
        );
        drop(faults);
        self.server.abort();
    }
}

/// Starts a fresh simulated site on `options.listen`.
pub async fn start(options: ErpSimOptions) -> anyhow::Result<ErpSimHandle> {
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", options.listen))?;
    let address = listener.local_addr()?;
    let shared = Arc::new(Shared {
        site: engine::SiteLock::new({
            let mut site = seed::fresh_site(options.today);
            doctypes::seed_catalogue(&mut site, options.catalogue)?;
            site
        }),
        faults: Mutex::new((
            Faults {
                seed: None,
                ..Faults::from(&options)
            },
            {
                let mut dice = FaultDice::new(options.fault_seed);
                dice.ever_faulty = Faults::from(&options).any();
                dice
            },
        )),
        api_key: options.api_key.clone(),
        api_secret: options.api_secret.clone(),
        webhooks: webhooks::Outbox::start(),
    });
    let router = http::router(shared.clone());
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the ERPNext simulator stopped");
        }
    });
    let base_url = Url::parse(&format!("http://{address}/"))?;
    Ok(ErpSimHandle {
        base_url,
        shared,
        server,
    })
}

/// `woocommerce-sync sim erpnext`: serves until Ctrl-C.
pub async fn run(options: ErpSimOptions) -> anyhow::Result<()> {
    let handle = start(options).await?;
    println!("ERPNext simulator listening on {}", handle.base_url());
    println!(
        "API key: {}  (the secret is the one given with --api-secret, or the documented default)",
        handle.api_key()
    );
    tokio::signal::ctrl_c().await?;
    handle.shutdown();
    Ok(())
}
