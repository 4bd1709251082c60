//! `woocommerce-sync bench --erpnext-url URL`: how fast the sync fills a real ERPNext, next to
//! how fast that ERPNext takes the same documents without the sync.
//!
//! The WooCommerce side stays the simulator (a child process with a generated shop, tagged for
//! the run), so that only ERPNext is real. One run has two phases at the same concurrency:
//!
//! 1. **raw**: the documents the sync is about to make, inserted plainly, one POST each, under
//!    keys and item codes of their own: first the Items, Customers and Addresses a first sync
//!    creates, then every Sales Order with the same rows, taxes and addresses, submitted in the
//!    same call. Its Sales Orders per second is ERPNext's raw rate; with the masters' time added,
//!    the raw rate of a first sync, which is what the sync's rate is held against.
//! 2. **sync**: a connection made for the run (`bench-<tag>`, so no key meets an earlier run's)
//!    is set up like any other (custom fields and its ERPNext Webhooks, pointed at a receiver this
//!    process runs on loopback that answers 200), then one full poll syncs the shop.
//!
//! The connection's Webhooks are removed when the run ends, after an error or Ctrl-C too: a
//! Webhook left pointing at a closed port costs the site's background worker about 13 s per
//! delivery.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::bench::{
    child_cpu_seconds, cpu_time, free_address, round, wait_until_listening, BenchArgs, Children,
};
use super::{print_json, CliError};
use crate::connection::{Connection, InvoiceTrigger, WooAuth};
use crate::erpnext::types::Named;
use crate::erpnext::{ErpClient, ErpConfig, ErpError, ListQuery};
use crate::remote::{CallKindStats, RetryPolicy};
use crate::secrets::SecretKey;
use crate::store::Store;
use crate::sync::context::{self as remotes, CallSettings, ConnectionContext};
use crate::sync::mapping::{self, map_order, MappingRules, OrderAction, OrderMapping};
use crate::sync::setup::{self, SetupPlan};
use crate::sync::woo_to_erp::orders::OrderFlow;
use crate::woocommerce::{OrderQuery, WooClient};

/// The ERPNext Webhooks during the sync phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookMode {
    /// As `setup` installs them.
    #[default]
    Setup,
    /// Removed before the sync.
    None,
    /// Installed without their conditions.
    Unconditioned,
}

/// A real site answers in tens to hundreds of milliseconds, and a loaded one in seconds; gunicorn
/// gives up on a request after 120 s.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The bench's connections are named `bench-<tag>`; so start the names of their Webhooks.
const CONNECTION_PREFIX: &str = "bench-";
/// Failure reasons kept per phase for the report.
const REASONS_KEPT: usize = 5;

/// The run's settings, defaults filled in.
struct Settings {
    erpnext_url: Url,
    api_key: String,
    api_secret: String,
    company: String,
    warehouse: Option<String>,
    orders: usize,
    latency_ms: u64,
    concurrency: usize,
    seed: u64,
    with_billing: bool,
    webhooks: WebhookMode,
    json: bool,
}

fn settings(args: BenchArgs, erpnext_url: Url) -> Result<Settings, CliError> {
    if args.listing {
        return Err(CliError::Usage(
            "--listing times the WooCommerce client alone; leave out --erpnext-url".into(),
        ));
    }
    if !matches!(erpnext_url.scheme(), "http" | "https") || erpnext_url.host().is_none() {
        return Err(CliError::Usage(format!(
            "--erpnext-url {erpnext_url} is not an http(s) site address, e.g. http://127.0.0.1:8000"
        )));
    }
    let credential = |value: Option<String>, flag: &str, variable: &str| {
        value
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--erpnext-url needs {flag} (or {variable}): the API key pair of an ERPNext user allowed to create Sales Orders, Customers, Items and Webhooks"
                ))
            })
    };
    let api_key = credential(args.api_key, "--api-key", "WOOCOMMERCE_SYNC_API_KEY")?;
    let api_secret = credential(
        args.api_secret,
        "--api-secret",
        "WOOCOMMERCE_SYNC_API_SECRET",
    )?;
    let settings = Settings {
        erpnext_url,
        api_key,
        api_secret,
        company: args.company.unwrap_or_else(|| "Test Company".to_string()),
        warehouse: args.warehouse,
        orders: args.orders.unwrap_or(300),
        latency_ms: args.latency_ms.unwrap_or(0),
        concurrency: args.concurrency.unwrap_or(4),
        seed: args.seed,
        with_billing: args.with_billing,
        webhooks: args.webhooks.unwrap_or_default(),
        json: args.json,
    };
    if settings.orders == 0 || settings.orders > 20_000 {
        return Err(CliError::Usage(
            "with --erpnext-url use --orders from 1 to 20000 (every one is written to the site)"
                .into(),
        ));
    }
    if settings.concurrency == 0 || settings.concurrency > 64 {
        return Err(CliError::Usage(
            "with --erpnext-url use --concurrency from 1 to 64".into(),
        ));
    }
    if settings.latency_ms > 10_000 {
        return Err(CliError::Usage("use --latency-ms ≤ 10000".into()));
    }
    if settings.company.trim().is_empty() {
        return Err(CliError::Usage(
            "--company must name an ERPNext company".into(),
        ));
    }
    Ok(settings)
}

/// What the bench needs to know of the site before it writes anything.
struct Site {
    currency: String,
    abbr: String,
    warehouse: String,
}

pub async fn run(args: BenchArgs, erpnext_url: Url) -> Result<ExitCode, CliError> {
    let settings = settings(args, erpnext_url)?;
    let erp = erpnext_client(&settings)?;
    let site = check_site(&erp, &settings).await?;
    let tag = run_tag();
    let connection_name = format!("{CONNECTION_PREFIX}{tag}");
    match remove_abandoned_webhooks(&erp).await {
        Ok(removed) => {
            for name in removed {
                eprintln!("bench: removed Webhook `{name}` of an earlier bench run: nothing listens at its address any more");
            }
        }
        Err(error) => eprintln!("bench: could not look for Webhooks left by earlier runs: {error}"),
    }
    let receiver = Receiver::start().await?;
    let plan = SetupPlan {
        connection_name: connection_name.clone(),
        webhook_base_url: receiver
            .base_url
            .join(&format!("webhooks/erpnext/{connection_name}"))
            .map_err(anyhow::Error::from)?,
        webhook_secret: String::new(),
        update_webhook_secrets: false,
        catalogue: None,
    };
    let measured = tokio::select! {
        measured = measure(&settings, &site, &tag, &connection_name, &erp, &receiver) => measured,
        signal = interrupted() => Err(CliError::Failed(anyhow::anyhow!(
            "interrupted ({signal}); the run's Webhooks are removed, its documents stay in ERPNext"
        ))),
    };
    // Whatever happened: the connection's Webhooks go while the receiver still answers, so a
    // delivery already on its way lands and none is left to fail later.
    let removal = setup::remove_webhooks(&erp, &plan).await;
    let left = setup::remove_webhooks(&erp, &plan)
        .await
        .map(|names| names.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries = receiver.erpnext_deliveries();
    drop(receiver);
    let removed = match (&removal, &left) {
        (Ok(removed), Ok(0)) => removed.len(),
        _ => {
            let reason = match (removal, left) {
                (Err(error), _) | (_, Err(error)) => error.to_string(),
                (_, Ok(left)) => format!("{left} still there"),
            };
            return Err(CliError::Failed(anyhow::anyhow!(
                "the bench could not remove its ERPNext Webhooks (names starting `{}`): {reason}; delete them in ERPNext (Integrations → Webhook) now, a delivery to their closed port holds the site's worker for ~13 s",
                setup::webhook_prefix(&plan)
            )));
        }
    };
    let mut measured = measured?;
    measured.report.webhooks.erpnext_deliveries = deliveries;
    measured.report.webhooks.removed = removed;
    print(&measured.report, settings.json)?;
    let raw = &measured.report.raw;
    if raw.first_sync.failed + raw.sales_orders_only.failed + measured.report.sync.failed > 0 {
        eprintln!("bench: some documents failed (reasons above); the figures include them");
    }
    Ok(ExitCode::SUCCESS)
}

fn erpnext_client(settings: &Settings) -> Result<ErpClient, CliError> {
    let mut config = ErpConfig::new(
        settings.erpnext_url.clone(),
        settings.api_key.clone(),
        settings.api_secret.clone(),
    );
    config.timeout = CALL_TIMEOUT;
    config.max_in_flight = settings.concurrency;
    ErpClient::new(config).map_err(|error| CliError::Usage(error.to_string()))
}

async fn check_site(erp: &ErpClient, settings: &Settings) -> Result<Site, CliError> {
    erp.logged_user().await.map_err(|error| {
        CliError::Usage(format!(
            "ERPNext at {} did not accept the API key pair: {error}",
            settings.erpnext_url
        ))
    })?;
    let company = erp
        .get_optional::<Value>("Company", &settings.company)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| {
            CliError::Usage(format!(
                "ERPNext at {} has no company `{}`; name one with --company",
                settings.erpnext_url, settings.company
            ))
        })?;
    let text = |field: &str| company[field].as_str().unwrap_or_default().to_string();
    let (currency, abbr) = (text("default_currency"), text("abbr"));
    // The simulated shop sells in USD; a company in another currency would need exchange rates
    // the raw phase does not look up.
    if currency != "USD" {
        return Err(CliError::Usage(format!(
            "company `{}` books in {currency}, but the bench's simulated shop sells in USD; name a USD company with --company",
            settings.company
        )));
    }
    let warehouse = settings
        .warehouse
        .clone()
        .unwrap_or_else(|| format!("Stores - {abbr}"));
    Ok(Site {
        currency,
        abbr,
        warehouse,
    })
}

/// A tag unique to this run (seconds since 2020 and the process id, in base 36), short enough
/// for SKUs and keys.
fn run_tag() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
        .saturating_sub(1_577_836_800);
    format!(
        "B{}{}",
        base36(seconds),
        base36(u64::from(std::process::id()) % 1296)
    )
}

fn base36(mut value: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut text = Vec::new();
    loop {
        text.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    text.reverse();
    String::from_utf8(text).unwrap_or_default()
}

/// Webhooks of earlier bench runs (killed before they could clean up) whose loopback receiver is
/// gone: every delivery to them would fail slowly on the site's worker.
async fn remove_abandoned_webhooks(erp: &ErpClient) -> Result<Vec<String>, ErpError> {
    let host = erp.base_url().host_str().unwrap_or_default().to_string();
    if !matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        // The site's loopback is not ours: we cannot tell whether anything listens there.
        return Ok(Vec::new());
    }
    let probe = SetupPlan {
        connection_name: String::new(),
        webhook_base_url: Url::parse(&format!(
            "http://127.0.0.1/webhooks/erpnext/{CONNECTION_PREFIX}"
        ))
        .expect("a valid URL"),
        webhook_secret: String::new(),
        update_webhook_secrets: false,
        catalogue: None,
    };
    let rows: Vec<Value> = erp
        .list(
            "Webhook",
            &ListQuery::default()
                .fields(&["name", "request_url"])
                .filter(
                    "name",
                    "like",
                    format!("{}%", setup::webhook_prefix(&probe)),
                )
                .all_rows(),
        )
        .await?;
    let mut removed = Vec::new();
    for row in rows {
        let name = row["name"].as_str().unwrap_or_default();
        let Some(port) = row["request_url"]
            .as_str()
            .and_then(|url| Url::parse(url).ok())
            .and_then(|url| url.port_or_known_default())
        else {
            continue;
        };
        let listening = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))),
        )
        .await
        .is_ok_and(|connected| connected.is_ok());
        if !listening {
            match erp.delete("Webhook", name).await {
                Ok(()) => removed.push(name.to_string()),
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(removed)
}

/// Answers every delivery with 200 and counts ERPNext's.
struct Receiver {
    base_url: Url,
    erpnext: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Result<Receiver, CliError> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(anyhow::Error::from)?;
        let address = listener.local_addr().map_err(anyhow::Error::from)?;
        let erpnext = Arc::new(AtomicU64::new(0));
        let counter = erpnext.clone();
        let router = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let counter = counter.clone();
            async move {
                if uri.path().starts_with("/webhooks/erpnext/") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                axum::Json(json!({"ok": true}))
            }
        });
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the bench's webhook receiver stopped");
            }
        });
        Ok(Receiver {
            base_url: Url::parse(&format!("http://{address}/")).map_err(anyhow::Error::from)?,
            erpnext,
            server,
        })
    }

    fn erpnext_deliveries(&self) -> u64 {
        self.erpnext.load(Ordering::Relaxed)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn interrupted() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => "Ctrl-C",
            _ = terminate => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c.await;
        "Ctrl-C"
    }
}

/// The report and what `run` fills in after cleaning up.
struct Measured {
    report: Report,
}

#[derive(Debug, Serialize)]
struct Report {
    erpnext_url: String,
    company: String,
    connection: String,
    /// Orders in the simulated shop; those in imported statuses become Sales Orders.
    shop_orders: usize,
    concurrency: usize,
    woocommerce_latency_ms: u64,
    with_billing: bool,
    raw: RawReport,
    sync: SyncReport,
    /// The sync's Sales Orders per second ÷ the raw rate of a first sync (masters included).
    ratio: f64,
    /// The sync's Sales Orders per second ÷ the raw rate of the Sales Orders alone.
    ratio_to_sales_orders_only: f64,
    webhooks: WebhookReport,
}

#[derive(Debug, Serialize)]
struct WebhookReport {
    mode: WebhookMode,
    /// Installed by setup for the run's connection (before `mode` changed them).
    installed: usize,
    /// Deliveries ERPNext made to the bench's receiver during the run.
    erpnext_deliveries: u64,
    /// Removed when the run ended.
    removed: usize,
}

#[derive(Debug, Serialize)]
struct RawReport {
    /// The documents of a first sync (Items, then per buyer its Customer, Addresses and Sales
    /// Orders), plainly inserted: the rate the sync's is held against.
    first_sync: RawPhase,
    /// The same Sales Orders again, their masters existing: ERPNext's raw Sales Order rate.
    sales_orders_only: RawPhase,
    masters: RawMasters,
    failures: Vec<String>,
}

/// One timed part of the raw phase.
#[derive(Debug, Serialize)]
struct RawPhase {
    sales_orders: u64,
    /// Documents refused (masters included in the first-sync part).
    failed: u64,
    seconds: f64,
    sales_orders_per_second: f64,
    calls: Vec<CallLine>,
    machine: MachineUsage,
}

impl RawPhase {
    fn new(
        sales_orders: u64,
        failed: u64,
        seconds: f64,
        calls: &BTreeMap<String, CallKindStats>,
        concurrency: usize,
        machine: MachineUsage,
    ) -> RawPhase {
        RawPhase {
            sales_orders,
            failed,
            seconds: round(seconds, 2),
            sales_orders_per_second: round(ratio(sales_orders as f64, seconds), 2),
            calls: call_lines(calls, sales_orders, concurrency, seconds),
            machine,
        }
    }
}

#[derive(Debug, Default, Serialize)]
struct RawMasters {
    items: u64,
    customers: u64,
    addresses: u64,
    failed: u64,
}

#[derive(Debug, Serialize)]
struct SyncReport {
    orders_seen: u64,
    sales_orders_created: u64,
    /// This connection's submitted Sales Orders ERPNext counts after the sync.
    sales_orders_in_erpnext: u64,
    failed: u64,
    seconds: f64,
    sales_orders_per_second: f64,
    calls: Vec<CallLine>,
    calls_per_sales_order: CallGroups,
    /// Share of `concurrency × seconds` with no ERPNext call in flight.
    idle_share: f64,
    engine_cpu_ms_per_order: f64,
    woocommerce_simulator_cpu_seconds: f64,
    machine: MachineUsage,
    failures: Vec<String>,
}

/// ERPNext calls per Sales Order, by what they do.
#[derive(Debug, Default, Serialize)]
struct CallGroups {
    look_ups: f64,
    inserts: f64,
    updates: f64,
    other: f64,
}

/// One kind of ERPNext call during a phase.
#[derive(Debug, Serialize)]
struct CallLine {
    kind: String,
    calls: u64,
    failed: u64,
    per_sales_order: f64,
    mean_ms: f64,
    /// Its calls' time ÷ (concurrency × the phase's seconds): where the phase's places went.
    share_of_time: f64,
}

fn call_lines(
    calls: &BTreeMap<String, CallKindStats>,
    sales_orders: u64,
    concurrency: usize,
    seconds: f64,
) -> Vec<CallLine> {
    let capacity = concurrency as f64 * seconds;
    let mut lines: Vec<CallLine> = calls
        .iter()
        .map(|(kind, stats)| CallLine {
            kind: kind.clone(),
            calls: stats.calls,
            failed: stats.failed,
            per_sales_order: round(ratio(stats.calls as f64, sales_orders as f64), 3),
            mean_ms: round(ratio(stats.seconds * 1000.0, stats.calls as f64), 1),
            share_of_time: round(ratio(stats.seconds, capacity), 3),
        })
        .collect();
    lines.sort_by(|a, b| b.share_of_time.total_cmp(&a.share_of_time));
    lines
}

fn call_groups(calls: &BTreeMap<String, CallKindStats>, sales_orders: u64) -> CallGroups {
    let mut groups = CallGroups::default();
    for (kind, stats) in calls {
        let per_order = ratio(stats.calls as f64, sales_orders as f64);
        let verb = kind.split(' ').next().unwrap_or_default();
        match verb {
            "list" | "get" => groups.look_ups += per_order,
            "method" if kind.contains("get_") => groups.look_ups += per_order,
            "insert" => groups.inserts += per_order,
            "update" => groups.updates += per_order,
            _ => groups.other += per_order,
        }
    }
    CallGroups {
        look_ups: round(groups.look_ups, 3),
        inserts: round(groups.inserts, 3),
        updates: round(groups.updates, 3),
        other: round(groups.other, 3),
    }
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

async fn measure(
    settings: &Settings,
    site: &Site,
    tag: &str,
    connection_name: &str,
    erp: &ErpClient,
    receiver: &Receiver,
) -> Result<Measured, CliError> {
    let woo_address = free_address()?;
    let program = std::env::current_exe().map_err(anyhow::Error::from)?;
    let children = Children(vec![Command::new(&program)
        .args([
            "sim",
            "woocommerce",
            "--listen",
            &woo_address.to_string(),
            "--orders",
            &settings.orders.to_string(),
            "--seed-random",
            &settings.seed.to_string(),
            "--tag",
            tag,
            "--latency-ms",
            &settings.latency_ms.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(anyhow::Error::from)?]);
    wait_until_listening(woo_address, Duration::from_secs(600)).await?;
    let connection = bench_connection(
        settings,
        site,
        connection_name,
        format!("http://{woo_address}/")
            .parse()
            .map_err(anyhow::Error::from)?,
    );
    let calls = CallSettings {
        timeout: CALL_TIMEOUT,
        retry: RetryPolicy::default(),
        max_in_flight: settings.concurrency,
    };

    eprintln!(
        "bench: run {tag}: reading the simulated shop's {} orders…",
        settings.orders
    );
    let woo = remotes::woocommerce_client(&connection, &calls).map_err(anyhow::Error::from)?;
    let raw_documents = RawDocuments::plan(&woo, &connection, &site.currency, tag).await?;
    eprintln!(
        "bench: raw phase: {} Items, {} Customers, {} Addresses, then {} Sales Orders, {} at a time…",
        raw_documents.items.len(),
        raw_documents.buyers.len(),
        raw_documents.address_count(),
        raw_documents.orders.len(),
        settings.concurrency
    );
    let raw_client = erpnext_client(settings)?;
    // The raw documents carry the sync's custom fields (keys, store), so the site needs them
    // first; setup installs the same again, idempotently, before the sync.
    setup::install_custom_fields(&raw_client)
        .await
        .map_err(anyhow::Error::from)?;
    let raw = raw_documents
        .insert(&raw_client, settings.concurrency, &|text| {
            redact(settings, text)
        })
        .await;
    if raw.first_sync.sales_orders == 0 || raw.sales_orders_only.sales_orders == 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "ERPNext took none of the raw phase's Sales Orders: {}",
            raw.failures.first().cloned().unwrap_or_default()
        )));
    }

    eprintln!("bench: sync phase: setting up connection {connection_name}…");
    let directory = tempfile_directory()?;
    let outcome = sync_phase(settings, &connection, &calls, &directory, receiver, erp).await;
    let woo_cpu = child_cpu_seconds(children.0[0].id());
    drop(children);
    let _ = std::fs::remove_dir_all(&directory);
    let (mut sync, installed) = outcome?;
    sync.woocommerce_simulator_cpu_seconds = round(woo_cpu, 2);
    let report = Report {
        erpnext_url: settings.erpnext_url.to_string(),
        company: settings.company.clone(),
        connection: connection_name.to_string(),
        shop_orders: settings.orders,
        concurrency: settings.concurrency,
        woocommerce_latency_ms: settings.latency_ms,
        with_billing: settings.with_billing,
        ratio: round(
            ratio(
                sync.sales_orders_per_second,
                raw.first_sync.sales_orders_per_second,
            ),
            3,
        ),
        ratio_to_sales_orders_only: round(
            ratio(
                sync.sales_orders_per_second,
                raw.sales_orders_only.sales_orders_per_second,
            ),
            3,
        ),
        raw,
        sync,
        webhooks: WebhookReport {
            mode: settings.webhooks,
            installed,
            erpnext_deliveries: 0,
            removed: 0,
        },
    };
    Ok(Measured { report })
}

fn tempfile_directory() -> Result<std::path::PathBuf, CliError> {
    let directory = std::env::temp_dir().join(format!(
        "woocommerce-sync-bench-erpnext-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).map_err(anyhow::Error::from)?;
    Ok(directory)
}

/// The simulated shop's connection to the real site: its tax rates, shipping, fees and gateways
/// mapped to the standard chart's accounts of the company's abbreviation.
fn bench_connection(
    settings: &Settings,
    site: &Site,
    name: &str,
    woocommerce_url: Url,
) -> Connection {
    let mut connection = super::demo::simulator_connection(
        name,
        woocommerce_url,
        settings.erpnext_url.clone(),
        &settings.api_key,
        &settings.api_secret,
    );
    let account = |account: &str| {
        let stem = account.strip_suffix(" - TC").unwrap_or(account);
        format!("{stem} - {}", site.abbr)
    };
    for target in connection.mappings.tax_accounts.values_mut() {
        *target = account(target);
    }
    for target in [
        &mut connection.shipping_account,
        &mut connection.fee_account,
        &mut connection.rounding_account,
    ]
    .into_iter()
    .flatten()
    {
        *target = account(target);
    }
    connection.company = settings.company.clone();
    connection.default_warehouse = site.warehouse.clone();
    // Basic auth, as a store behind HTTPS would use: OAuth signing is not what the bench measures.
    connection.woocommerce_auth = WooAuth::Basic;
    if settings.with_billing {
        for target in connection.mappings.payment_methods.values_mut() {
            target.account = Some(account("Cash - TC"));
        }
    } else {
        connection.invoice_trigger = InvoiceTrigger::Never;
        connection.record_payments = false;
    }
    connection
}

fn redact(settings: &Settings, text: &str) -> String {
    text.replace(&settings.api_secret, "***")
        .replace(&settings.api_key, "***")
}

/// The documents of the raw phase: what the sync will make, under keys and codes of their own.
struct RawDocuments {
    /// Item bodies, one per item code.
    items: Vec<Value>,
    buyers: Vec<RawBuyer>,
    orders: Vec<RawOrder>,
    rules: MappingRules,
    tag: String,
}

struct RawBuyer {
    key: String,
    customer: Value,
    /// Address identity key and body (linked to the Customer once it has a name).
    addresses: Vec<(String, Value)>,
}

struct RawOrder {
    buyer: String,
    billing: Option<String>,
    shipping: Option<String>,
    mapping: OrderMapping,
}

impl RawDocuments {
    /// Reads the shop's orders and maps those the sync will import, under a connection name of
    /// their own (`<connection>-raw`), so order keys and stores differ from the sync's.
    async fn plan(
        woo: &WooClient,
        connection: &Connection,
        currency: &str,
        tag: &str,
    ) -> Result<RawDocuments, CliError> {
        let mut raw_connection = connection.clone();
        raw_connection.name = format!("{}-raw", connection.name);
        let rules = remotes::mapping_rules(&raw_connection, currency);
        let query = OrderQuery::window(None, None);
        let first = woo
            .list_orders_page(&query, 1)
            .await
            .map_err(anyhow::Error::from)?;
        let mut orders = first.items;
        for page in 2..=first.total_pages {
            orders.extend(
                woo.list_orders_page(&query, page)
                    .await
                    .map_err(anyhow::Error::from)?
                    .items,
            );
        }
        let mut documents = RawDocuments {
            items: Vec::new(),
            buyers: Vec::new(),
            orders: Vec::new(),
            rules,
            tag: tag.to_string(),
        };
        let mut item_codes = std::collections::BTreeSet::new();
        let mut buyers: HashMap<String, usize> = HashMap::new();
        for order in &orders {
            // As the sync decides (the bench's connection maps no statuses of its own).
            if mapping::action_for_status(&order.status, &documents.rules) != OrderAction::Import {
                continue;
            }
            let Ok(mapping) = map_order(order, &documents.rules, &|code: &str| {
                crate::erpnext::countries::name_for_code(code).map(String::from)
            }) else {
                // The sync fails such an order without writing anything.
                continue;
            };
            for draft in &mapping.items {
                if item_codes.insert(draft.item_code.clone()) {
                    let mut body = serde_json::to_value(draft).map_err(anyhow::Error::from)?;
                    body["item_code"] = json!(documents.raw_code(&draft.item_code));
                    documents.items.push(body);
                }
            }
            let buyer_key = mapping.customer.identity.key.clone();
            let index = match buyers.get(&buyer_key) {
                Some(index) => *index,
                None => {
                    let mut customer =
                        serde_json::to_value(&mapping.customer).map_err(anyhow::Error::from)?;
                    customer["woocommerce_customer_key"] =
                        json!(documents.raw_key(&mapping.customer.woocommerce_customer_key));
                    documents.buyers.push(RawBuyer {
                        key: buyer_key.clone(),
                        customer,
                        addresses: Vec::new(),
                    });
                    buyers.insert(buyer_key.clone(), documents.buyers.len() - 1);
                    documents.buyers.len() - 1
                }
            };
            for draft in [&mapping.billing_address, &mapping.shipping_address]
                .into_iter()
                .flatten()
            {
                let buyer = &mut documents.buyers[index];
                if buyer
                    .addresses
                    .iter()
                    .all(|(key, _)| *key != draft.identity_key)
                {
                    let mut body = serde_json::to_value(draft).map_err(anyhow::Error::from)?;
                    body["woocommerce_address_key"] =
                        json!(raw_key(tag, &draft.woocommerce_address_key));
                    buyer.addresses.push((draft.identity_key.clone(), body));
                }
            }
            documents.orders.push(RawOrder {
                buyer: buyer_key,
                billing: mapping
                    .billing_address
                    .as_ref()
                    .map(|draft| draft.identity_key.clone()),
                shipping: mapping
                    .shipping_address
                    .as_ref()
                    .map(|draft| draft.identity_key.clone()),
                mapping,
            });
        }
        Ok(documents)
    }

    fn address_count(&self) -> usize {
        self.buyers.iter().map(|buyer| buyer.addresses.len()).sum()
    }

    /// The raw phase's code for an item: the run's tag marked `R` instead of the shop's.
    fn raw_code(&self, code: &str) -> String {
        let rest = code.strip_prefix(&format!("{}-", self.tag)).unwrap_or(code);
        format!("{}R-{rest}", self.tag)
    }

    fn raw_key(&self, key: &str) -> String {
        raw_key(&self.tag, key)
    }

    /// Two timed parts, `concurrency` at a time. First sync: the Items, then per buyer (buyers
    /// side by side) the Customer, its Addresses and its Sales Orders in turn, the order in which
    /// a first sync needs them. Sales Orders only: every Sales Order again under a second key,
    /// naming the masters the first part made.
    async fn insert(
        &self,
        erp: &ErpClient,
        concurrency: usize,
        redact: &(dyn Fn(&str) -> String + Sync),
    ) -> RawReport {
        let failures = std::sync::Mutex::new(Vec::<String>::new());
        let fail = |what: &str, error: &ErpError| {
            let mut kept = failures
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if kept.len() < REASONS_KEPT {
                kept.push(redact(&format!("{what}: {error}")));
            }
        };
        let fail = &fail;
        let mut masters = RawMasters::default();

        let calls_before = erp.calls_by_kind();
        let machine_before = MachineSample::take();
        let started = Instant::now();
        let items: Vec<bool> = stream::iter(&self.items)
            .map(|body| async move {
                match erp.insert::<IgnoredAny>("Item", body).await {
                    Ok(_) => true,
                    // An item without a SKU is named after its product and may exist already.
                    Err(error) if error.is_duplicate() => true,
                    Err(error) => {
                        fail("Item", &error);
                        false
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        masters.items = items.iter().filter(|ok| **ok).count() as u64;
        masters.failed += items.len() as u64 - masters.items;
        let mut orders_of: HashMap<&str, Vec<&RawOrder>> = HashMap::new();
        for order in &self.orders {
            orders_of
                .entry(order.buyer.as_str())
                .or_default()
                .push(order);
        }
        let orders_of = &orders_of;
        let buyers: Vec<RawBuyerOutcome> = stream::iter(&self.buyers)
            .map(|buyer| async move {
                let mut outcome = RawBuyerOutcome {
                    key: buyer.key.clone(),
                    ..RawBuyerOutcome::default()
                };
                let orders = orders_of
                    .get(buyer.key.as_str())
                    .cloned()
                    .unwrap_or_default();
                let customer = match insert_named(erp, "Customer", &buyer.customer).await {
                    Ok(name) => name,
                    Err(error) => {
                        fail("Customer", &error);
                        outcome.failed = 1 + buyer.addresses.len() as u64 + orders.len() as u64;
                        return outcome;
                    }
                };
                outcome.customer = Some(customer.clone());
                for (key, body) in &buyer.addresses {
                    let mut body = body.clone();
                    body["links"] = json!([{"link_doctype": "Customer", "link_name": customer}]);
                    match insert_named(erp, "Address", &body).await {
                        Ok(name) => {
                            outcome.addresses.insert(key.clone(), name);
                        }
                        Err(error) => {
                            fail("Address", &error);
                            outcome.failed += 1;
                        }
                    }
                }
                for order in orders {
                    match self
                        .insert_sales_order(erp, order, &customer, &outcome.addresses, 1)
                        .await
                    {
                        Ok(()) => outcome.sales_orders += 1,
                        Err(reason) => {
                            fail(&reason.0, &reason.1);
                            outcome.failed += 1;
                        }
                    }
                }
                outcome
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        let machine_after = MachineSample::take();
        let calls = erp.calls_by_kind_since(&calls_before);
        let mut created = 0;
        let mut failed = masters.failed;
        for buyer in &buyers {
            masters.customers += u64::from(buyer.customer.is_some());
            masters.addresses += buyer.addresses.len() as u64;
            created += buyer.sales_orders;
            failed += buyer.failed;
        }
        let first_sync = RawPhase::new(
            created,
            failed,
            seconds,
            &calls,
            concurrency,
            MachineUsage::between(machine_before.as_ref(), machine_after.as_ref()),
        );

        let calls_before = erp.calls_by_kind();
        let started = Instant::now();
        let buyers = &buyers;
        let outcomes: Vec<bool> = stream::iter(&self.orders)
            .map(|order| async move {
                let Some(buyer) = buyers.iter().find(|buyer| buyer.key == order.buyer) else {
                    return false;
                };
                let Some(customer) = &buyer.customer else {
                    return false;
                };
                match self
                    .insert_sales_order(erp, order, customer, &buyer.addresses, 2)
                    .await
                {
                    Ok(()) => true,
                    Err(reason) => {
                        fail(&reason.0, &reason.1);
                        false
                    }
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        let machine = MachineUsage::between(machine_after.as_ref(), MachineSample::take().as_ref());
        let calls = erp.calls_by_kind_since(&calls_before);
        let created = outcomes.iter().filter(|ok| **ok).count() as u64;
        let sales_orders_only = RawPhase::new(
            created,
            outcomes.len() as u64 - created,
            seconds,
            &calls,
            concurrency,
            machine,
        );
        RawReport {
            first_sync,
            sales_orders_only,
            masters,
            failures: failures
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// Inserts the Sales Order the sync would send for `order`, naming the raw masters, under the
    /// raw key marked with `round` (each round of the raw phase inserts every order once).
    async fn insert_sales_order(
        &self,
        erp: &ErpClient,
        order: &RawOrder,
        customer: &str,
        addresses: &HashMap<String, String>,
        round: u32,
    ) -> Result<(), (String, ErpError)> {
        let what = format!(
            "Sales Order for order {}",
            order.mapping.sales_order.order_id
        );
        let Some(body) = self.sales_order(order, customer, addresses, round) else {
            let reason = ErpError::InvalidRequest("its raw body could not be built".into());
            return Err((what, reason));
        };
        erp.insert::<IgnoredAny>("Sales Order", &body)
            .await
            .map(|_| ())
            .map_err(|error| (what, error))
    }

    /// The Sales Order body the sync would send for `order`, naming the raw masters.
    fn sales_order(
        &self,
        order: &RawOrder,
        customer: &str,
        addresses: &HashMap<String, String>,
        round: u32,
    ) -> Option<Value> {
        let masters = mapping::ResolvedMasters {
            customer: customer.to_string(),
            billing_address: match &order.billing {
                Some(key) => Some(addresses.get(key)?.clone()),
                None => None,
            },
            shipping_address: match &order.shipping {
                Some(key) => Some(addresses.get(key)?.clone()),
                None => None,
            },
            exchange_rate: None,
        };
        let sales_order = order.mapping.resolve(&masters, &self.rules).ok()?;
        let mut body = serde_json::to_value(&sales_order).ok()?;
        let key = body["woocommerce_order_key"].as_str()?.to_string();
        body["woocommerce_order_key"] = json!(format!("{key}/{round}"));
        for row in body["items"].as_array_mut()? {
            let code = row["item_code"].as_str().unwrap_or_default().to_string();
            row["item_code"] = json!(self.raw_code(&code));
        }
        // Taxes name the rows' items in `item_wise_tax_detail` (a JSON text keyed by item code).
        for row in body["taxes"].as_array_mut()? {
            let Some(detail) = row["item_wise_tax_detail"].as_str() else {
                continue;
            };
            let Ok(Value::Object(detail)) = serde_json::from_str::<Value>(detail) else {
                continue;
            };
            let renamed: serde_json::Map<String, Value> = detail
                .into_iter()
                .map(|(code, share)| (self.raw_code(&code), share))
                .collect();
            row["item_wise_tax_detail"] = json!(Value::Object(renamed).to_string());
        }
        Some(body)
    }
}

/// What the raw phase made for one buyer.
#[derive(Default)]
struct RawBuyerOutcome {
    key: String,
    customer: Option<String>,
    /// Address identity key → name.
    addresses: HashMap<String, String>,
    sales_orders: u64,
    failed: u64,
}

/// A plain insert of a Customer or Address. ERPNext names them after the buyer, and two buyers
/// of one name inserted at once pick the same free name; the loser is rolled back whole
/// (`DuplicateEntryError`) and goes through when repeated, as the sync repeats it.
async fn insert_named(erp: &ErpClient, doctype: &str, body: &Value) -> Result<String, ErpError> {
    let mut attempt = 1;
    loop {
        match erp.insert::<Named>(doctype, body).await {
            Ok(created) => return Ok(created.name),
            Err(error) if error.is_duplicate() && attempt < 4 => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}

/// A unique key of the raw phase: the sync's key marked with the run, within ERPNext's 140
/// characters (a digest when it would not fit).
fn raw_key(tag: &str, key: &str) -> String {
    let marked = format!("raw:{tag}:{key}");
    if marked.chars().count() <= mapping::DATA_CHARS {
        return marked;
    }
    let digest: String = Sha256::digest(marked.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{digest}")
}

/// Sets the connection up, adjusts its Webhooks to the mode, and times one full poll.
#[allow(clippy::too_many_arguments)]
async fn sync_phase(
    settings: &Settings,
    connection: &Connection,
    calls: &CallSettings,
    directory: &std::path::Path,
    receiver: &Receiver,
    erp: &ErpClient,
) -> Result<(SyncReport, usize), CliError> {
    let store = Store::open(
        &format!("sqlite://{}", directory.join("bench.db").display()),
        SecretKey::load_or_create(directory)?,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let connection_id = store.insert_connection(connection).await?;
    let outcome = super::setup::set_up(
        connection,
        &super::setup::SetupOptions::at(receiver.base_url.clone()),
    )
    .await
    .map_err(anyhow::Error::from)?;
    if !outcome.missing.is_empty() {
        return Err(CliError::Usage(format!(
            "ERPNext lacks what the bench's connection names (the simulated shop maps to the standard chart's accounts):\n  - {}",
            outcome.missing.join("\n  - ")
        )));
    }
    if outcome.connection != *connection {
        store.update_connection(&outcome.connection).await?;
    }
    let plan = SetupPlan {
        connection_name: connection.name.clone(),
        webhook_base_url: receiver
            .base_url
            .join(&format!("webhooks/erpnext/{}", connection.name))
            .map_err(anyhow::Error::from)?,
        webhook_secret: String::new(),
        update_webhook_secrets: false,
        // What `set_up` installed: the catalogue's Webhooks cost nothing on a Sales Order save.
        catalogue: Some(setup::CatalogueWatch::of(connection)),
    };
    let installed = setup::webhooks(&plan);
    match settings.webhooks {
        WebhookMode::Setup => {}
        WebhookMode::None => {
            setup::remove_webhooks(erp, &plan)
                .await
                .map_err(anyhow::Error::from)?;
        }
        WebhookMode::Unconditioned => {
            for webhook in &installed {
                erp.update("Webhook", &webhook.name, &json!({"condition": ""}))
                    .await
                    .map_err(anyhow::Error::from)?;
            }
        }
    }

    let sync = ConnectionContext::prepare(
        store.clone(),
        store.connection_by_id(connection_id).await?,
        calls,
        settings.concurrency,
    )
    .await
    .map_err(anyhow::Error::from)?;
    eprintln!(
        "bench: sync phase: a first sync of the shop, {} calls at a time…",
        settings.concurrency
    );
    let calls_before = sync.erp.calls_by_kind();
    let machine_before = MachineSample::take();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let summary = OrderFlow::new(&sync)
        .poll(None, &|_, _| {})
        .await
        .map_err(anyhow::Error::from)?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu_before;
    let machine = MachineUsage::between(machine_before.as_ref(), MachineSample::take().as_ref());
    let calls_made = sync.erp.calls_by_kind_since(&calls_before);
    let in_erpnext = erp
        .get_count(
            "Sales Order",
            &json!([
                ["woocommerce_store", "=", connection.name],
                ["docstatus", "=", 1]
            ]),
        )
        .await
        .map_err(anyhow::Error::from)?;
    store.close().await;
    let busy: f64 = calls_made.values().map(|stats| stats.seconds).sum();
    let capacity = settings.concurrency as f64 * seconds;
    let report = SyncReport {
        orders_seen: summary.seen,
        sales_orders_created: summary.created,
        sales_orders_in_erpnext: in_erpnext,
        failed: summary.failed,
        seconds: round(seconds, 2),
        sales_orders_per_second: round(ratio(summary.created as f64, seconds), 2),
        calls: call_lines(&calls_made, summary.created, settings.concurrency, seconds),
        calls_per_sales_order: call_groups(&calls_made, summary.created),
        idle_share: round((1.0 - ratio(busy, capacity)).max(0.0), 3),
        engine_cpu_ms_per_order: round(ratio(cpu.as_secs_f64() * 1000.0, summary.seen as f64), 3),
        woocommerce_simulator_cpu_seconds: 0.0,
        machine,
        failures: summary
            .failures
            .iter()
            .take(REASONS_KEPT)
            .map(|report| match &report.outcome {
                crate::sync::report::Outcome::Failed { reason, .. } => {
                    redact(settings, &format!("order {}: {reason}", report.order_id))
                }
                _ => format!(
                    "order {}: billing: {}",
                    report.order_id,
                    report
                        .billing
                        .failures
                        .iter()
                        .map(|failure| redact(settings, &failure.reason))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            })
            .collect(),
    };
    Ok((report, installed.len()))
}

/// CPU counters of the whole machine and of each process, read from `/proc` (Linux; elsewhere
/// the machine figures are left out).
struct MachineSample {
    busy_ticks: u64,
    total_ticks: u64,
    /// Process id → (command name, user + system ticks, its waited-for children's included).
    processes: HashMap<u32, (String, u64)>,
}

impl MachineSample {
    fn take() -> Option<MachineSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        let total_ticks: u64 = ticks.iter().take(8).sum();
        // idle and iowait
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        let mut processes = HashMap::new();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (command name) state …`: the name may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = stat[open + 1..close].to_string();
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            // utime, stime, and cutime, cstime: the CPU of children it has waited for, such as
            // the process a background worker forks for each job (a Webhook delivery) and that
            // is gone before the next sample.
            let used: u64 = [11, 12, 13, 14]
                .iter()
                .filter_map(|index| fields.get(*index)?.parse::<u64>().ok())
                .sum();
            processes.insert(pid, (name, used));
        }
        Some(MachineSample {
            busy_ticks: total_ticks.saturating_sub(idle),
            total_ticks,
            processes,
        })
    }
}

/// How busy the machine's cores were during a phase, and which programs used them.
#[derive(Debug, Default, Serialize)]
struct MachineUsage {
    cores: usize,
    /// Share of all cores' time that was not idle.
    busy_share: f64,
    /// CPU seconds per program name (processes of one name added up), the biggest first.
    top: Vec<(String, f64)>,
}

impl MachineUsage {
    fn between(before: Option<&MachineSample>, after: Option<&MachineSample>) -> MachineUsage {
        let (Some(before), Some(after)) = (before, after) else {
            return MachineUsage::default();
        };
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let mut by_name: HashMap<&str, u64> = HashMap::new();
        for (pid, (name, used)) in &after.processes {
            let earlier = before.processes.get(pid).map_or(0, |(_, used)| *used);
            // Kernel workers rename themselves after the queue they serve.
            let name = match name.split_once('/') {
                Some(("kworker", _)) => "kworker",
                _ => name.as_str(),
            };
            *by_name.entry(name).or_default() += used.saturating_sub(earlier);
        }
        let mut top: Vec<(String, f64)> = by_name
            .into_iter()
            .filter(|(_, ticks)| *ticks > 0)
            .map(|(name, ticks)| (name.to_string(), round(ticks as f64 / per_second, 2)))
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        top.truncate(6);
        MachineUsage {
            cores: std::thread::available_parallelism()
                .map(|cores| cores.get())
                .unwrap_or(1),
            busy_share: round(
                ratio(
                    after.busy_ticks.saturating_sub(before.busy_ticks) as f64,
                    after.total_ticks.saturating_sub(before.total_ticks) as f64,
                ),
                3,
            ),
            top,
        }
    }

    fn describe(&self) -> String {
        if self.cores == 0 {
            return "not measured".to_string();
        }
        let top: Vec<String> = self
            .top
            .iter()
            .map(|(name, seconds)| format!("{name} {seconds:.1} s"))
            .collect();
        format!(
            "{:.0}% of {} cores busy; CPU by program: {}",
            self.busy_share * 100.0,
            self.cores,
            top.join(", ")
        )
    }
}

fn print(report: &Report, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(report);
    }
    let raw = &report.raw;
    let sync = &report.sync;
    println!(
        "ERPNext {} (company {}), {} shop orders, concurrency {}",
        report.erpnext_url, report.company, report.shop_orders, report.concurrency
    );
    println!(
        "raw ERPNext, first sync: {} Sales Orders with {} Items, {} Customers, {} Addresses in {:.2} s = {:.2} Sales Orders/s",
        raw.first_sync.sales_orders,
        raw.masters.items,
        raw.masters.customers,
        raw.masters.addresses,
        raw.first_sync.seconds,
        raw.first_sync.sales_orders_per_second
    );
    println!(
        "raw ERPNext, Sales Orders only: {} in {:.2} s = {:.2}/s",
        raw.sales_orders_only.sales_orders,
        raw.sales_orders_only.seconds,
        raw.sales_orders_only.sales_orders_per_second
    );
    println!(
        "sync:        {} Sales Orders ({} orders seen) in {:.2} s = {:.2}/s{}",
        sync.sales_orders_created,
        sync.orders_seen,
        sync.seconds,
        sync.sales_orders_per_second,
        if report.with_billing {
            " (with invoices and payments)"
        } else {
            ""
        }
    );
    println!(
        "ratio:       {:.1}% of the raw first-sync rate ({:.1}% of the raw Sales-Order-only rate)",
        report.ratio * 100.0,
        report.ratio_to_sales_orders_only * 100.0
    );
    let groups = &sync.calls_per_sales_order;
    println!(
        "sync calls per Sales Order: {:.3} look-ups, {:.3} inserts, {:.3} updates, {:.3} other",
        groups.look_ups, groups.inserts, groups.updates, groups.other
    );
    println!("where the sync's time went (share of concurrency × seconds):");
    for line in &sync.calls {
        println!(
            "  {:<28} {:>6} calls ({:>3} failed) {:>7.3}/SO  mean {:>7.1} ms  {:>5.1}%",
            line.kind,
            line.calls,
            line.failed,
            line.per_sales_order,
            line.mean_ms,
            line.share_of_time * 100.0
        );
    }
    println!(
        "  {:<28} {:>62.1}%",
        "no ERPNext call in flight",
        sync.idle_share * 100.0
    );
    println!("raw first sync:");
    for line in &raw.first_sync.calls {
        println!(
            "  {:<28} {:>6} calls ({:>3} failed)  mean {:>7.1} ms  {:>5.1}%",
            line.kind,
            line.calls,
            line.failed,
            line.mean_ms,
            line.share_of_time * 100.0
        );
    }
    println!(
        "machine, raw first sync:  {}",
        raw.first_sync.machine.describe()
    );
    println!(
        "machine, raw Sales Orders: {}",
        raw.sales_orders_only.machine.describe()
    );
    println!("machine, sync:            {}", sync.machine.describe());
    println!(
        "engine CPU {:.3} ms per order; WooCommerce simulator {:.2} s",
        sync.engine_cpu_ms_per_order, sync.woocommerce_simulator_cpu_seconds
    );
    println!(
        "Webhooks: {} installed by setup ({}), {} deliveries from ERPNext, {} removed at the end",
        report.webhooks.installed,
        match report.webhooks.mode {
            WebhookMode::Setup => "kept as installed",
            WebhookMode::None => "removed before the sync",
            WebhookMode::Unconditioned => "conditions cleared",
        },
        report.webhooks.erpnext_deliveries,
        report.webhooks.removed
    );
    for failure in raw.failures.iter().chain(&sync.failures) {
        eprintln!("bench: failed: {failure}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_keys_stay_within_erpnext_data_fields_and_apart_from_the_syncs() {
        let short = raw_key("B1", "email:ada@example.test");
        assert_eq!(short, "raw:B1:email:ada@example.test");
        let long = raw_key("B1", &"x".repeat(139));
        assert!(long.starts_with("sha256:") && long.len() <= mapping::DATA_CHARS);
        assert_ne!(
            raw_key("B1", &"x".repeat(139)),
            raw_key("B2", &"x".repeat(139))
        );
    }

    #[test]
    fn run_tags_are_short_and_plain() {
        let tag = run_tag();
        assert!(tag.len() <= 10, "{tag}");
        assert!(tag.chars().all(|c| c.is_ascii_alphanumeric()), "{tag}");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 - 1), "ZZ");
    }
}
