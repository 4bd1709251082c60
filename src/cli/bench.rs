//! `woocommerce-sync bench`: syncs N orders against simulators that add a
//! latency to every call, and prints throughput, API calls per order, engine
//! CPU per order, peak memory, and the efficiency against the ideal the
//! latency and concurrency allow.
//!
//! The simulators run as child processes of this same binary, so that CPU time
//! and peak memory are the engine's alone (in-process simulators would hold
//! every order in this process and blur both figures).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use super::{print_json, CliError};
use crate::config::Config;
use crate::secrets::SecretKey;
use crate::simulators::{erpnext, woocommerce};
use crate::store::Store;
use crate::sync::context::{CallSettings, ConnectionContext};
use crate::sync::woo_to_erp::orders::OrderFlow;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Orders in the simulated shop [default: 10000; 300 with --erpnext-url].
    #[arg(long)]
    pub orders: Option<usize>,
    /// Milliseconds the simulators add to every API call [default: 20; with --erpnext-url only
    /// the WooCommerce simulator, default 0].
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Calls in flight to each remote (and orders in flight) [default: 16; 4 with --erpnext-url].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seed of the simulated shop.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sales Orders only: no invoices or payments (the connection's trigger set to never).
    #[arg(long, conflicts_with = "with_billing")]
    pub without_billing: bool,
    /// Only time a full paged listing of the orders through the WooCommerce client.
    #[arg(long)]
    pub listing: bool,
    /// `serve` under a webhook flood: every order delivered as a signed webhook (created, then
    /// updated), --concurrency deliveries in flight and as many workers; measures deliveries
    /// acknowledged per second, time to drain the queue, and the service's memory and CPU
    /// [default orders: 2000]. The store is --database when given (an empty database), else SQLite.
    #[arg(long, conflicts_with_all = ["listing", "without_billing"])]
    pub serve: bool,
    /// ERPNext → WooCommerce: sync the orders, deliver every open Sales Order in ERPNext, then
    /// time the status poll that writes the shipments back (calls and time per update), and a
    /// rerun that finds nothing new [default orders: 1000].
    #[arg(long, conflicts_with = "listing")]
    pub status: bool,
    #[arg(long)]
    pub json: bool,
    /// Measure the stock push instead of the order sync: a catalogue of linked products, a
    /// stock count changing a share of them, and the push that follows.
    #[arg(long)]
    pub stock: bool,
    /// With --stock: linked products in the catalogue [default: 10000].
    #[arg(long, requires = "stock")]
    pub products: Option<usize>,
    /// With --stock: the share of them whose stock changes before the measured push
    /// [default: 10].
    #[arg(long, requires = "stock")]
    pub changed_percent: Option<u32>,
    /// Measure against this real ERPNext site instead of the ERPNext simulator: ERPNext's own
    /// rate for the same documents (plain inserts), then a first sync of the simulated shop by a
    /// connection made for the run, with its Webhooks installed, and the ratio of the two.
    #[arg(long)]
    pub erpnext_url: Option<url::Url>,
    /// API key of an ERPNext user allowed to create Sales Orders, Customers, Items and Webhooks.
    #[arg(long, env = "WOOCOMMERCE_SYNC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[arg(long, env = "WOOCOMMERCE_SYNC_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// The ERPNext company the bench books into (with --erpnext-url) [default: Test Company].
    #[arg(long)]
    pub company: Option<String>,
    /// Its stock warehouse (with --erpnext-url) [default: Stores - <company abbreviation>].
    #[arg(long)]
    pub warehouse: Option<String>,
    /// With --erpnext-url: make invoices and payments too (by default the sync makes Sales
    /// Orders only, as the raw phase does).
    #[arg(long)]
    pub with_billing: bool,
    /// With --erpnext-url: the ERPNext Webhooks during the sync. `setup`: the ones setup installs;
    /// `none`: removed before the sync (what they cost); `unconditioned`: the same without their
    /// conditions, so they fire for every Sales Order on the site (an analysis aid; use few orders).
    #[arg(long, value_enum)]
    pub webhooks: Option<super::bench_erpnext::WebhookMode>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub orders: u64,
    pub sales_orders_created: u64,
    pub seconds: f64,
    pub orders_per_second: f64,
    pub ideal_orders_per_second: f64,
    pub efficiency: f64,
    pub api_calls_per_order: f64,
    pub cpu_ms_per_order: f64,
    pub peak_rss_mb: f64,
    /// Mean time of one API call, from sending it to having read the answer;
    /// `latency_ms` of it is the simulators' added latency.
    pub mean_call_ms: f64,
    /// Share of the run's `concurrency × seconds` during which a call was in flight.
    pub calls_in_flight: f64,
    /// CPU seconds the WooCommerce and ERPNext simulators used (setup and generation included).
    pub simulator_cpu_seconds: [f64; 2],
    pub latency_ms: u64,
    pub concurrency: usize,
    /// ERPNext calls per order, by kind (`insert Sales Order`, `method make_sales_invoice`…).
    pub erpnext_calls_per_order: std::collections::BTreeMap<String, f64>,
}

/// The simulator bench's settings, defaults filled in.
struct SimulatorBench {
    orders: usize,
    latency_ms: u64,
    concurrency: usize,
    seed: u64,
    without_billing: bool,
    listing: bool,
    status: bool,
    json: bool,
}

/// Child processes that are killed when dropped.
pub(super) struct Children(pub(super) Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub async fn run(config: &Config, args: BenchArgs) -> Result<ExitCode, CliError> {
    if args.stock {
        if args.erpnext_url.is_some() || args.orders.is_some() || args.listing {
            return Err(CliError::Usage(
                "--stock measures the stock push on the simulators; leave out --erpnext-url, --orders and --listing".into(),
            ));
        }
        return super::bench_stock::run(
            args.products.unwrap_or(10_000),
            args.changed_percent.unwrap_or(10),
            args.latency_ms.unwrap_or(20),
            args.json,
        )
        .await;
    }
    if let Some(url) = args.erpnext_url.clone() {
        if args.serve {
            return Err(CliError::Usage(
                "--serve measures the service against the simulators; leave out --erpnext-url"
                    .into(),
            ));
        }
        return super::bench_erpnext::run(args, url).await;
    }
    let real_only = [
        ("--company", args.company.is_some()),
        ("--warehouse", args.warehouse.is_some()),
        ("--with-billing", args.with_billing),
        ("--webhooks", args.webhooks.is_some()),
    ];
    if let Some((flag, _)) = real_only.iter().find(|(_, given)| *given) {
        return Err(CliError::Usage(format!(
            "{flag} is for a bench against a real ERPNext; add --erpnext-url URL (with --api-key and --api-secret)"
        )));
    }
    if args.serve {
        let bench = super::bench_serve::FloodBench {
            orders: args.orders.unwrap_or(2_000),
            latency_ms: args.latency_ms.unwrap_or(20),
            concurrency: args.concurrency.unwrap_or(16),
            seed: args.seed,
            json: args.json,
        };
        if bench.orders == 0 || bench.latency_ms > 10_000 || !(1..=256).contains(&bench.concurrency)
        {
            return Err(CliError::Usage(
                "use --orders ≥ 1, --latency-ms ≤ 10000 and --concurrency from 1 to 256".into(),
            ));
        }
        return super::bench_serve::run(config, bench).await;
    }
    let args = SimulatorBench {
        orders: args
            .orders
            .unwrap_or(if args.status { 1_000 } else { 10_000 }),
        latency_ms: args.latency_ms.unwrap_or(20),
        concurrency: args.concurrency.unwrap_or(16),
        seed: args.seed,
        without_billing: args.without_billing,
        listing: args.listing,
        status: args.status,
        json: args.json,
    };
    if args.orders == 0
        || args.latency_ms > 10_000
        || args.concurrency == 0
        || args.concurrency > 256
    {
        return Err(CliError::Usage(
            "use --orders ≥ 1, --latency-ms ≤ 10000 and --concurrency from 1 to 256".into(),
        ));
    }
    if args.listing {
        let (listed, elapsed) = woocommerce::bench_list_orders(args.orders).await?;
        let report = serde_json::json!({
            "orders_listed": listed,
            "pages": listed.div_ceil(100),
            "milliseconds": round(elapsed.as_secs_f64() * 1000.0, 1),
        });
        if args.json {
            print_json(&report)?;
        } else {
            println!(
                "listed {listed} orders in {} pages of 100 through the client in {:.1} ms",
                listed.div_ceil(100),
                elapsed.as_secs_f64() * 1000.0
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let simulators = Simulators::start(args.orders, args.seed, args.latency_ms).await?;
    let directory =
        std::env::temp_dir().join(format!("woocommerce-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&directory).map_err(anyhow::Error::from)?;
    let store = Store::open(
        &format!("sqlite://{}", directory.join("bench.db").display()),
        SecretKey::load_or_create(&directory)?,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let (connection, connection_id) =
        bench_connection(&store, &simulators, args.without_billing).await?;
    let settings = CallSettings {
        max_in_flight: args.concurrency,
        ..CallSettings::default()
    };
    let sync = ConnectionContext::prepare(
        store.clone(),
        store.connection_by_id(connection_id).await?,
        &settings,
        args.concurrency,
    )
    .await
    .map_err(anyhow::Error::from)?;

    eprintln!("bench: syncing…");
    let calls_before = sync.woo.calls_made() + sync.erp.calls_made();
    let kinds_before = sync.erp.calls_by_kind();
    let call_time_before = sync.woo.time_in_calls() + sync.erp.time_in_calls();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let sync = std::sync::Arc::new(sync);
    let summary = tokio::spawn({
        let sync = sync.clone();
        async move { OrderFlow::new(&sync).poll(None, &|_, _| {}).await }
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(anyhow::Error::from)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.status {
        let erp = crate::sync::context::erpnext_client(&connection, &CallSettings::default())
            .map_err(anyhow::Error::from)?;
        let result = status_bench(&sync, &erp, &args).await;
        drop(simulators);
        store.close().await;
        let _ = std::fs::remove_dir_all(&directory);
        let report = result?;
        if args.json {
            print_json(&report)?;
        } else {
            print_status_report(&report);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cpu = cpu_time() - cpu_before;
    let calls = sync.woo.calls_made() + sync.erp.calls_made() - calls_before;
    let kinds = sync.erp.calls_by_kind_since(&kinds_before);
    let call_time = (sync.woo.time_in_calls() + sync.erp.time_in_calls())
        .saturating_sub(call_time_before)
        .as_secs_f64();
    let simulator_cpu: Vec<f64> = simulators
        .children
        .0
        .iter()
        .map(|child| child_cpu_seconds(child.id()))
        .collect();
    drop(simulators);
    store.close().await;
    let _ = std::fs::remove_dir_all(&directory);

    let orders = summary.seen.max(1) as f64;
    let api_calls_per_order = calls as f64 / orders;
    let orders_per_second = orders / seconds;
    let ideal_orders_per_second = if args.latency_ms == 0 {
        f64::INFINITY
    } else {
        args.concurrency as f64 * 1000.0 / (args.latency_ms as f64 * api_calls_per_order)
    };
    let report = BenchReport {
        orders: summary.seen,
        sales_orders_created: summary.created,
        seconds: round(seconds, 2),
        orders_per_second: round(orders_per_second, 1),
        ideal_orders_per_second: round(ideal_orders_per_second, 1),
        efficiency: round(orders_per_second / ideal_orders_per_second, 3),
        api_calls_per_order: round(api_calls_per_order, 3),
        cpu_ms_per_order: round(cpu.as_secs_f64() * 1000.0 / orders, 3),
        peak_rss_mb: round(peak_rss_mb(), 1),
        mean_call_ms: round(call_time * 1000.0 / calls.max(1) as f64, 2),
        calls_in_flight: round(call_time / (args.concurrency as f64 * seconds), 3),
        simulator_cpu_seconds: [round(simulator_cpu[0], 2), round(simulator_cpu[1], 2)],
        latency_ms: args.latency_ms,
        concurrency: args.concurrency,
        erpnext_calls_per_order: kinds
            .into_iter()
            .map(|(kind, stats)| (kind, round(stats.calls as f64 / orders, 3)))
            .collect(),
    };
    if args.json {
        print_json(&report)?;
    } else {
        println!(
            "{} orders ({} Sales Orders created) in {:.2} s: {:.1} orders/s (ideal {:.1}, efficiency {:.0}%)",
            report.orders,
            report.sales_orders_created,
            report.seconds,
            report.orders_per_second,
            report.ideal_orders_per_second,
            report.efficiency * 100.0
        );
        println!(
            "{:.3} API calls per order, {:.3} ms engine CPU per order, peak memory {:.1} MB",
            report.api_calls_per_order, report.cpu_ms_per_order, report.peak_rss_mb
        );
        println!(
            "a call took {:.2} ms on average ({} ms of it added latency); calls were in flight {:.0}% of concurrency × time",
            report.mean_call_ms,
            report.latency_ms,
            report.calls_in_flight * 100.0
        );
        println!(
            "simulators used {:.2} s (WooCommerce) and {:.2} s (ERPNext) of CPU on this machine's {} cores",
            report.simulator_cpu_seconds[0],
            report.simulator_cpu_seconds[1],
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        let kinds: Vec<String> = report
            .erpnext_calls_per_order
            .iter()
            .map(|(kind, per_order)| format!("{kind} {per_order:.3}"))
            .collect();
        println!("ERPNext calls per order: {}", kinds.join(", "));
    }
    if summary.failed > 0 {
        eprintln!(
            "bench: {} orders failed; the figures include them",
            summary.failed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The two simulators as child processes, the shop generated and both listening.
pub(super) struct Simulators {
    pub(super) children: Children,
    pub(super) woocommerce: SocketAddr,
    pub(super) erpnext: SocketAddr,
}

impl Simulators {
    /// A generated shop of `orders` orders (from `seed`) and an empty ERPNext site.
    pub(super) async fn start(
        orders: usize,
        seed: u64,
        latency_ms: u64,
    ) -> Result<Simulators, CliError> {
        let (orders, seed) = (orders.to_string(), seed.to_string());
        Simulators::spawn(
            &["--orders", &orders, "--seed-random", &seed],
            &[],
            latency_ms,
            &format!("generating {orders} orders in the WooCommerce simulator"),
        )
        .await
    }

    /// The simulators started with these extra arguments each, `latency_ms` on every call.
    pub(super) async fn spawn(
        shop: &[&str],
        site: &[&str],
        latency_ms: u64,
        doing: &str,
    ) -> Result<Simulators, CliError> {
        let woo_address = free_address()?;
        let erp_address = free_address()?;
        let program = std::env::current_exe().map_err(anyhow::Error::from)?;
        let latency = latency_ms.to_string();
        let spawn = |simulator: &str, address: SocketAddr, extra: &[&str]| {
            Command::new(&program)
                .args(["sim", simulator, "--listen", &address.to_string()])
                .args(extra)
                .args(["--latency-ms", &latency])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(anyhow::Error::from)
        };
        let children = Children(vec![
            spawn("woocommerce", woo_address, shop)?,
            spawn("erpnext", erp_address, site)?,
        ]);
        eprintln!("bench: {doing}…");
        for address in [woo_address, erp_address] {
            wait_until_listening(address, Duration::from_secs(600)).await?;
        }
        Ok(Simulators {
            children,
            woocommerce: woo_address,
            erpnext: erp_address,
        })
    }
}

/// The bench's connection to the simulators, stored and set up, with ERPNext's Webhooks switched
/// off: no service listens for them, and the simulator would spend the machine's CPU posting
/// into the void.
pub(super) async fn bench_connection(
    store: &Store,
    simulators: &Simulators,
    without_billing: bool,
) -> Result<(crate::connection::Connection, i64), CliError> {
    let mut connection = super::demo::simulator_connection(
        "bench",
        format!("http://{}/", simulators.woocommerce)
            .parse()
            .map_err(anyhow::Error::from)?,
        format!("http://{}/", simulators.erpnext)
            .parse()
            .map_err(anyhow::Error::from)?,
        erpnext::DEFAULT_API_KEY,
        erpnext::DEFAULT_API_SECRET,
    );
    // Basic auth, as a store behind HTTPS would use: OAuth signing is not what the bench measures.
    connection.woocommerce_auth = crate::connection::WooAuth::Basic;
    if without_billing {
        connection.invoice_trigger = crate::connection::InvoiceTrigger::Never;
        connection.record_payments = false;
    }
    let connection_id = store.insert_connection(&connection).await?;
    let public_url: url::Url = "http://127.0.0.1:9/".parse().expect("a valid URL");
    super::setup::set_up(
        &connection,
        &super::setup::SetupOptions::at(public_url.clone()),
    )
    .await
    .map_err(anyhow::Error::from)?;
    let erp = crate::sync::context::erpnext_client(&connection, &CallSettings::default())
        .map_err(anyhow::Error::from)?;
    let plan = crate::sync::setup::SetupPlan {
        connection_name: connection.name.clone(),
        webhook_base_url: public_url
            .join(&format!("webhooks/erpnext/{}", connection.name))
            .map_err(anyhow::Error::from)?,
        webhook_secret: String::new(),
        update_webhook_secrets: false,
        catalogue: None,
    };
    for webhook in crate::sync::setup::webhooks(&plan) {
        erp.update("Webhook", &webhook.name, &serde_json::json!({"enabled": 0}))
            .await
            .map_err(anyhow::Error::from)?;
    }
    Ok((connection, connection_id))
}

/// What `bench --status` measured.
#[derive(Debug, Serialize)]
pub struct StatusBenchReport {
    /// Sales Orders of the connection the poll followed.
    pub sales_orders: u64,
    /// Of them, delivered in full in ERPNext before the measured poll.
    pub delivered: u64,
    /// Shop orders written to by the measured poll (status, notes, meta).
    pub updates: u64,
    pub statuses_written: u64,
    pub notes_written: u64,
    pub failed: u64,
    pub seconds: f64,
    pub updates_per_second: f64,
    /// Wall time per update at this latency and concurrency.
    pub ms_per_update: f64,
    pub erpnext_calls_per_update: f64,
    pub woocommerce_calls_per_update: f64,
    pub calls_per_update: f64,
    /// The rerun (nothing new): calls per Sales Order followed, and what it wrote.
    pub rerun_calls_per_sales_order: f64,
    pub rerun_updates: u64,
    pub latency_ms: u64,
    pub concurrency: usize,
}

#[derive(serde::Deserialize)]
struct OpenSalesOrder {
    name: String,
}

/// Delivers every open Sales Order of the synced shop in ERPNext (a first poll has written back
/// their submission already), then times the poll that carries the shipments to the shop and a
/// rerun that finds nothing new.
async fn status_bench(
    sync: &ConnectionContext,
    erp: &crate::erpnext::client::ErpClient,
    args: &SimulatorBench,
) -> Result<StatusBenchReport, CliError> {
    use crate::erpnext::client::ListQuery;
    use crate::sync::erp_to_woo::write_back::StatusFlow;
    use futures::stream::{self, StreamExt};

    eprintln!("bench: writing back what the import made (not measured)…");
    StatusFlow::new(sync)
        .poll(None)
        .await
        .map_err(anyhow::Error::from)?;
    let open: Vec<OpenSalesOrder> = erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name"])
                .filter("woocommerce_store", "=", sync.name())
                .filter("docstatus", "=", 1)
                .filter("per_delivered", "<", 100)
                .filter("status", "in", vec!["To Deliver and Bill", "To Deliver"])
                .all_rows(),
        )
        .await
        .map_err(anyhow::Error::from)?;
    eprintln!("bench: delivering {} Sales Orders in ERPNext…", open.len());
    let delivered: Vec<bool> = stream::iter(open)
        .map(|order| async move {
            let Ok(mut note) = erp
                .call_method(
                    "erpnext.selling.doctype.sales_order.sales_order.make_delivery_note",
                    &serde_json::json!({ "source_name": order.name }),
                )
                .await
            else {
                return false;
            };
            // Like a real ERPNext, the simulator delivers only what it holds.
            if super::demo::receive_goods(sync, &note).await.is_err() {
                return false;
            }
            note["transporter_name"] = serde_json::json!("DHL");
            note["lr_no"] = serde_json::json!(format!("BENCH-{}", order.name));
            note["docstatus"] = serde_json::json!(1);
            erp.insert::<serde_json::Value>("Delivery Note", &note)
                .await
                .is_ok()
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let delivered = delivered.into_iter().filter(|done| *done).count() as u64;

    eprintln!("bench: writing the shipments back…");
    let calls = || (sync.erp.calls_made(), sync.woo.calls_made());
    let before = calls();
    let started = Instant::now();
    let summary = StatusFlow::new(sync)
        .poll(None)
        .await
        .map_err(anyhow::Error::from)?;
    let seconds = started.elapsed().as_secs_f64();
    let after = calls();
    let rerun = StatusFlow::new(sync)
        .poll(chrono::NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|day| day.and_hms_opt(0, 0, 0)))
        .await
        .map_err(anyhow::Error::from)?;
    let rerun_calls = (calls().0 - after.0) + (calls().1 - after.1);

    let updates = summary.written.max(1) as f64;
    let (erp_calls, woo_calls) = (after.0 - before.0, after.1 - before.1);
    Ok(StatusBenchReport {
        sales_orders: summary.seen,
        delivered,
        updates: summary.written,
        statuses_written: summary.statuses_written,
        notes_written: summary.notes_written,
        failed: summary.failed,
        seconds: round(seconds, 2),
        updates_per_second: round(summary.written as f64 / seconds, 1),
        ms_per_update: round(seconds * 1000.0 / updates, 2),
        erpnext_calls_per_update: round(erp_calls as f64 / updates, 3),
        woocommerce_calls_per_update: round(woo_calls as f64 / updates, 3),
        calls_per_update: round((erp_calls + woo_calls) as f64 / updates, 3),
        rerun_calls_per_sales_order: round(rerun_calls as f64 / rerun.seen.max(1) as f64, 3),
        rerun_updates: rerun.written,
        latency_ms: args.latency_ms,
        concurrency: args.concurrency,
    })
}

fn print_status_report(report: &StatusBenchReport) {
    println!(
        "{} Sales Orders followed, {} delivered in ERPNext: {} shop orders updated ({} statuses, {} notes, {} failed) in {:.2} s",
        report.sales_orders,
        report.delivered,
        report.updates,
        report.statuses_written,
        report.notes_written,
        report.failed,
        report.seconds
    );
    println!(
        "{:.3} API calls per update ({:.3} ERPNext, {:.3} WooCommerce); {:.2} ms per update, {:.1} updates/s at {} ms latency and concurrency {}",
        report.calls_per_update,
        report.erpnext_calls_per_update,
        report.woocommerce_calls_per_update,
        report.ms_per_update,
        report.updates_per_second,
        report.latency_ms,
        report.concurrency
    );
    println!(
        "a rerun with nothing new: {:.3} calls per Sales Order, {} updates",
        report.rerun_calls_per_sales_order, report.rerun_updates
    );
}

pub(super) fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

pub(super) fn free_address() -> Result<SocketAddr, CliError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(anyhow::Error::from)?;
    Ok(listener.local_addr().map_err(anyhow::Error::from)?)
}

pub(super) async fn wait_until_listening(
    address: SocketAddr,
    limit: Duration,
) -> Result<(), CliError> {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if started.elapsed() > limit {
            return Err(CliError::Failed(anyhow::anyhow!(
                "the simulator on {address} did not start in {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// User plus system CPU time of this process (all threads).
pub(super) fn cpu_time() -> Duration {
    let usage = rusage();
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// The process's peak resident memory (Linux reports `ru_maxrss` in KiB).
pub(super) fn peak_rss_mb() -> f64 {
    rusage().ru_maxrss as f64 / 1024.0
}

/// User plus system CPU seconds of a child process, from `/proc/<pid>/stat`.
pub(super) fn child_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|index| fields.get(*index)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks / per_second
}

fn rusage() -> libc::rusage {
    // SAFETY: getrusage only writes into the struct we hand it.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}
