//! `woocommerce-sync bench --serve`: `serve` under a webhook flood. Every order of the simulated
//! shop is delivered as WooCommerce delivers a new order (signed `order.created`, then the same
//! body as `order.updated`), many deliveries in flight; the bench measures how fast `serve`
//! acknowledges them, how long its workers take to drain the queue, and the service's own memory
//! and CPU (it runs as a child process, like the simulators).

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::bench::{
    bench_connection, child_cpu_seconds, free_address, round, wait_until_listening, Children,
    Simulators,
};
use super::{print_json, CliError};
use crate::config::Config;
use crate::secrets::SecretKey;
use crate::store::{JobState, Store};
use crate::sync::context::{woocommerce_client, CallSettings};
use crate::woocommerce::webhook::{signature, WebhookHeaders};

#[derive(Debug, Serialize)]
pub struct FloodReport {
    pub orders: usize,
    pub deliveries: usize,
    /// Wall time from the first delivery to the last acknowledgement.
    pub acknowledge_seconds: f64,
    pub deliveries_per_second: f64,
    /// Slowest acknowledgement.
    pub max_acknowledge_ms: f64,
    /// Wall time from the first delivery until every order's job has finished.
    pub drain_seconds: f64,
    pub orders_per_second: f64,
    pub orders_failed: i64,
    /// The `serve` process's peak resident memory.
    pub serve_peak_rss_mb: f64,
    pub serve_cpu_ms_per_order: f64,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub database: &'static str,
}

pub struct FloodBench {
    pub orders: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub seed: u64,
    pub json: bool,
}

pub async fn run(config: &Config, bench: FloodBench) -> Result<ExitCode, CliError> {
    let simulators = Simulators::start(bench.orders, bench.seed, bench.latency_ms).await?;
    let directory = tempfile::tempdir().map_err(anyhow::Error::from)?;
    // The store: the given database (PostgreSQL, to measure several-instance deployments'
    // engine), else a SQLite file in the bench's throwaway directory.
    let database_url = if config.chosen && !config.database_url.starts_with("sqlite:") {
        config.database_url.clone()
    } else {
        format!("sqlite://{}", directory.path().join("bench.db").display())
    };
    let store = Store::open(&database_url, SecretKey::load_or_create(directory.path())?)
        .await
        .map_err(anyhow::Error::from)?;
    let (connection, connection_id) = bench_connection(&store, &simulators, false).await?;

    // What WooCommerce would send: every order's JSON as the REST API answers it.
    let woo =
        woocommerce_client(&connection, &CallSettings::default()).map_err(anyhow::Error::from)?;
    let mut bodies = Vec::with_capacity(bench.orders);
    for page in 1.. {
        let Value::Array(orders) = woo
            .get_json(&format!(
                "orders?per_page=100&page={page}&orderby=id&order=asc"
            ))
            .await
            .map_err(anyhow::Error::from)?
        else {
            return Err(CliError::Failed(anyhow::anyhow!(
                "the simulated shop did not answer a list of orders"
            )));
        };
        if orders.is_empty() {
            break;
        }
        bodies.extend(
            orders
                .iter()
                .map(|order| serde_json::to_vec(order).unwrap_or_default()),
        );
    }

    let address = free_address()?;
    let program = std::env::current_exe().map_err(anyhow::Error::from)?;
    let serve = Command::new(program)
        .arg("--database")
        .arg(&database_url)
        .arg("--data-dir")
        .arg(directory.path())
        .args(["serve", "--listen", &address.to_string()])
        .args(["--workers", &bench.concurrency.to_string()])
        .args(["--poll-interval", "0"])
        .env("WOOCOMMERCE_SYNC_ADMIN_PASSWORD", "bench-admin-password")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(anyhow::Error::from)?;
    let serve_pid = serve.id();
    let serve = Children(vec![serve]);
    wait_until_listening(address, Duration::from_secs(60)).await?;

    eprintln!(
        "bench: delivering {} orders twice (order.created, order.updated) to serve, {} at a time…",
        bodies.len(),
        bench.concurrency
    );
    let http = reqwest::Client::new();
    let url = format!("http://{address}/webhooks/woocommerce/{}", connection.name);
    let secret = &connection.credentials.webhook_secret;
    let deliveries = bodies.iter().enumerate().flat_map(|(index, body)| {
        ["created", "updated"].map(|event| {
            let headers = WebhookHeaders {
                topic: format!("order.{event}"),
                resource: "order".into(),
                event: event.into(),
                webhook_id: 1,
                delivery_id: format!("{index:016x}{:016x}", event.len()),
                source: connection.woocommerce_url.to_string(),
                signature: signature(secret, body),
            };
            let mut request = http
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.clone());
            for (name, value) in headers.to_pairs() {
                request = request.header(name, value);
            }
            async move {
                let sent = Instant::now();
                let status = request.send().await.map(|answer| answer.status());
                (status, sent.elapsed())
            }
        })
    });
    let started = Instant::now();
    let answers: Vec<_> = futures::stream::iter(deliveries)
        .buffer_unordered(bench.concurrency)
        .collect()
        .await;
    let acknowledge_seconds = started.elapsed().as_secs_f64();
    if let Some((status, _)) = answers
        .iter()
        .find(|(status, _)| !matches!(status, Ok(code) if code.is_success()))
    {
        return Err(CliError::Failed(anyhow::anyhow!(
            "serve refused a delivery: {status:?}"
        )));
    }
    let max_acknowledge = answers
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();

    let drain_seconds = loop {
        let done = store.count_jobs(connection_id, JobState::Done).await?;
        let failed = store.count_jobs(connection_id, JobState::Failed).await?;
        if (done + failed) as usize >= bodies.len() && store.pending_job_count().await? == 0 {
            break started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let orders_failed = store.count_jobs(connection_id, JobState::Failed).await?;
    let serve_cpu = child_cpu_seconds(serve_pid);
    let serve_peak_rss_mb = peak_rss_of(serve_pid);
    drop(serve);
    drop(simulators);
    store.close().await;

    let orders = bodies.len();
    let report = FloodReport {
        orders,
        deliveries: answers.len(),
        acknowledge_seconds: round(acknowledge_seconds, 2),
        deliveries_per_second: round(answers.len() as f64 / acknowledge_seconds, 1),
        max_acknowledge_ms: round(max_acknowledge.as_secs_f64() * 1000.0, 1),
        drain_seconds: round(drain_seconds, 2),
        orders_per_second: round(orders as f64 / drain_seconds, 1),
        orders_failed,
        serve_peak_rss_mb: round(serve_peak_rss_mb, 1),
        serve_cpu_ms_per_order: round(serve_cpu * 1000.0 / orders.max(1) as f64, 3),
        latency_ms: bench.latency_ms,
        concurrency: bench.concurrency,
        database: if database_url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        },
    };
    if bench.json {
        print_json(&report)?;
    } else {
        println!(
            "{} deliveries of {} orders acknowledged in {:.2} s: {:.1} deliveries/s (slowest {:.1} ms)",
            report.deliveries,
            report.orders,
            report.acknowledge_seconds,
            report.deliveries_per_second,
            report.max_acknowledge_ms
        );
        println!(
            "queue drained {:.2} s after the first delivery: {:.1} orders/s, {} failed",
            report.drain_seconds, report.orders_per_second, report.orders_failed
        );
        println!(
            "serve ({}, {} workers): peak memory {:.1} MB, {:.3} ms CPU per order",
            report.database,
            report.concurrency,
            report.serve_peak_rss_mb,
            report.serve_cpu_ms_per_order
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A process's peak resident memory (`VmHWM` in `/proc/<pid>/status`), in MB.
fn peak_rss_of(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process_peak_memory() {
        assert!(super::peak_rss_of(std::process::id()) > 1.0);
        assert_eq!(super::peak_rss_of(u32::MAX), 0.0);
    }
}
