//! The running service, built as a value from the store and options: the web
//! face (receivers, health, metrics, UI), the job workers with a dispatcher
//! that hands each job to its connection's sync, and the scheduler that
//! queues a poll per connection as the backstop for lost webhooks.
//!
//! Several instances may share one PostgreSQL store: every instance's
//! scheduler queues the same `poll` job per connection, and the job queue
//! coalesces them into one row that one worker claims, so no leader election
//! is needed (a poll is idempotent anyway).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

use crate::jobs::{self, DrainReport, JobFailure, JobHandler, QueuePolicy};
use crate::secrets::SecretKey;
use crate::store::{Job, LogEntry, LogOutcome, Store, StoreError, StoreResult};
use crate::sync::orders::{OrderSync, Outcome, SyncError, SyncSummary};
use crate::sync::remotes::CallSettings;
use crate::web::{self, AdminAuth, Metrics, WebState};

/// Job kind: sync one WooCommerce order (object id = the order id).
pub const ORDER_JOB: &str = "order";
/// Job kind: poll a connection's orders changed since its cursor (object id `orders`).
pub const POLL_JOB: &str = "poll";
pub const POLL_JOB_OBJECT: &str = "orders";
/// Cursor holding the outcome of the last poll, as JSON [`PollStatus`].
pub const LAST_POLL_CURSOR: &str = "orders.last_poll";

/// How the last poll of a connection went (shown by `/healthz` and the dashboard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollStatus {
    pub at: DateTime<Utc>,
    pub succeeded: bool,
    pub duration_ms: u64,
    pub seen: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    pub error: Option<String>,
}

/// The last poll's outcome, if the connection was ever polled by a service.
pub async fn last_poll(store: &Store, connection_id: i64) -> StoreResult<Option<PollStatus>> {
    Ok(store
        .cursor(connection_id, LAST_POLL_CURSOR)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// What `serve` decides; tests pick small values.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Concurrent job workers.
    pub workers: usize,
    /// How often each connection is polled; `None` turns the scheduler off.
    pub poll_interval: Option<Duration>,
    /// How long an idle worker waits before looking for due jobs again.
    pub worker_idle: Duration,
    pub queue: QueuePolicy,
    /// Timeouts and retries of the remote calls.
    pub calls: CallSettings,
    /// Orders in flight at once within one poll.
    pub orders_in_flight: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            workers: 4,
            poll_interval: Some(Duration::from_secs(300)),
            worker_idle: Duration::from_secs(1),
            queue: QueuePolicy::default(),
            calls: CallSettings::default(),
            orders_in_flight: 4,
        }
    }
}

/// The service as a value: serve its [`router`](Service::router), run it, or
/// drain its queue from a test.
pub struct Service {
    store: Store,
    options: ServiceOptions,
    metrics: Arc<Metrics>,
    dispatcher: Arc<Dispatcher>,
    web: WebState,
}

impl Service {
    pub fn new(
        store: Store,
        secret_key: &SecretKey,
        admin_password: &str,
        options: ServiceOptions,
    ) -> Service {
        let metrics = Arc::new(Metrics::default());
        let dispatcher = Arc::new(Dispatcher {
            store: store.clone(),
            calls: options.calls.clone(),
            orders_in_flight: options.orders_in_flight,
            max_attempts: options.queue.retry.max_attempts,
            metrics: metrics.clone(),
            syncs: Mutex::new(HashMap::new()),
        });
        let web = WebState {
            store: store.clone(),
            metrics: metrics.clone(),
            auth: Arc::new(AdminAuth::new(secret_key, admin_password)),
        };
        Service {
            store,
            options,
            metrics,
            dispatcher,
            web,
        }
    }

    pub fn router(&self) -> Router {
        web::router(self.web.clone())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs every due job now (what the workers would do), for tests and one-shot use.
    pub async fn drain_jobs(&self) -> Result<DrainReport, StoreError> {
        replay_inbox(&self.store).await?;
        jobs::drain(
            &self.store,
            self.dispatcher.clone(),
            &self.options.queue,
            self.options.workers,
        )
        .await
    }

    /// Serves HTTP on `listener` and runs the workers and the scheduler until
    /// `shutdown` turns true; then stops taking requests, lets in-flight jobs
    /// finish and returns. A job cut off by a crash is claimable again after its lease.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        if let Err(error) = replay_inbox(&self.store).await {
            tracing::warn!(%error, "replaying the inbox at start failed; the scheduler tries again");
        }
        let workers = tokio::spawn(jobs::run_workers(
            self.store.clone(),
            self.dispatcher.clone(),
            self.options.queue.clone(),
            self.options.workers,
            self.options.worker_idle,
            shutdown.clone(),
        ));
        let scheduler = self.options.poll_interval.map(|interval| {
            tokio::spawn(run_scheduler(
                self.store.clone(),
                interval,
                shutdown.clone(),
            ))
        });
        let mut web_shutdown = shutdown.clone();
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { wait_for_shutdown(&mut web_shutdown).await })
            .await;
        let _ = workers.await;
        if let Some(scheduler) = scheduler {
            let _ = scheduler.await;
        }
        served.map_err(|error| anyhow::anyhow!("the web server stopped: {error}"))
    }
}

async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Queues the jobs of inbound events that were committed but never queued
/// (the service stopped between the two), then marks them processed.
pub async fn replay_inbox(store: &Store) -> Result<usize, StoreError> {
    let mut replayed = 0;
    let mut connections: HashMap<i64, Option<crate::store::StoredConnection>> = HashMap::new();
    loop {
        let events = store.unprocessed_inbound(200).await?;
        if events.is_empty() {
            return Ok(replayed);
        }
        for event in events {
            let connection = match connections.entry(event.connection_id) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let found = match store.connection_by_id(event.connection_id).await {
                        Ok(connection) => Some(connection),
                        Err(StoreError::NotFound(_)) => None,
                        Err(error) => return Err(error),
                    };
                    entry.insert(found)
                }
            };
            match connection {
                Some(connection) => {
                    let body = serde_json::from_str(&event.body).unwrap_or_default();
                    web::webhooks::enqueue_for_event(
                        store,
                        connection,
                        event.id,
                        &event.source,
                        &event.topic,
                        &body,
                    )
                    .await?;
                }
                None => store.mark_inbound_processed(event.id).await?,
            }
            replayed += 1;
        }
    }
}

/// Every `interval` (and once at start): replays the inbox and queues a poll per connection.
async fn run_scheduler(store: Store, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
        }
        if let Err(error) = replay_inbox(&store).await {
            tracing::warn!(%error, "replaying the inbox failed; trying again at the next tick");
        }
        match store.connections().await {
            Ok(connections) => {
                for connection in connections {
                    if let Err(error) = store
                        .enqueue_job(connection.id, POLL_JOB, POLL_JOB_OBJECT, Utc::now())
                        .await
                    {
                        tracing::warn!(%error, connection = %connection.connection.name, "cannot queue the scheduled poll");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "the scheduler cannot list connections"),
        }
    }
}

/// Hands each job to its connection's sync, built on first use and kept
/// (so a connection whose ERPNext is down at start does not stop the service,
/// and connections added while the service runs are picked up).
struct Dispatcher {
    store: Store,
    calls: CallSettings,
    orders_in_flight: usize,
    max_attempts: u32,
    metrics: Arc<Metrics>,
    syncs: Mutex<HashMap<i64, Arc<OrderSync>>>,
}

impl Dispatcher {
    /// The connection's sync, rebuilt when its stored settings changed since it was built
    /// (so `connection edit` takes effect without a restart).
    async fn order_sync(&self, connection_id: i64) -> Result<Arc<OrderSync>, JobFailure> {
        let stored =
            self.store
                .connection_by_id(connection_id)
                .await
                .map_err(|error| match error {
                    StoreError::NotFound(message) => JobFailure::Permanent(message),
                    other => JobFailure::Retryable(other.to_string()),
                })?;
        if let Some(sync) = self.syncs.lock().await.get(&connection_id) {
            if sync.connection() == &stored.connection {
                return Ok(sync.clone());
            }
        }
        let sync = OrderSync::prepare(
            self.store.clone(),
            stored,
            &self.calls,
            self.orders_in_flight,
        )
        .await
        .map_err(|error| match error {
            SyncError::Setup(message) => JobFailure::Permanent(message),
            other => JobFailure::Retryable(other.to_string()),
        })?;
        let sync = Arc::new(sync);
        self.syncs.lock().await.insert(connection_id, sync.clone());
        Ok(sync)
    }

    async fn run_order(&self, job: &Job) -> Result<(), JobFailure> {
        let sync = self.order_sync(job.connection_id).await?;
        match sync.run_order_job(job).await {
            Ok(outcome) => {
                self.metrics.orders_synced(outcome_label(&outcome), 1);
                Ok(())
            }
            Err(failure) => {
                self.metrics.orders_synced("failed", 1);
                Err(failure)
            }
        }
    }

    /// A failed poll is logged and recorded, never retried here: the next
    /// scheduled poll is the retry.
    async fn run_poll(&self, job: &Job) -> Result<(), JobFailure> {
        let started = Instant::now();
        let result = match self.order_sync(job.connection_id).await {
            Ok(sync) => sync
                .poll(None, &|_, _| {})
                .await
                .map_err(|error| error.to_string()),
            Err(failure) => Err(failure.message().to_string()),
        };
        let elapsed = started.elapsed();
        self.metrics
            .poll_finished(result.is_ok(), elapsed.as_secs_f64());
        let summary = result.as_ref().cloned().unwrap_or_default();
        record_summary(&self.metrics, &summary);
        let status = PollStatus {
            at: Utc::now(),
            succeeded: result.is_ok(),
            duration_ms: elapsed.as_millis() as u64,
            seen: summary.seen,
            created: summary.created,
            updated: summary.updated,
            failed: summary.failed,
            error: result.as_ref().err().cloned(),
        };
        if let Err(error) = &result {
            tracing::warn!(connection = job.connection_id, %error, "order poll failed");
            let entry = LogEntry {
                connection_id: job.connection_id,
                direction: "woocommerce_to_erpnext".to_string(),
                object_kind: POLL_JOB.to_string(),
                object_id: POLL_JOB_OBJECT.to_string(),
                action: "poll_orders".to_string(),
                outcome: LogOutcome::Failed,
                message: error.clone(),
                request_excerpt: None,
                response_excerpt: None,
                duration_ms: status.duration_ms as i64,
                attempt: job.attempts,
            };
            if let Err(store_error) = self.store.append_log(&entry).await {
                tracing::error!(error = %store_error, "cannot log the failed poll");
            }
        } else {
            tracing::info!(
                connection = job.connection_id,
                seen = summary.seen,
                created = summary.created,
                failed = summary.failed,
                "order poll done"
            );
        }
        let text = serde_json::to_string(&status).unwrap_or_default();
        self.store
            .set_cursor(job.connection_id, LAST_POLL_CURSOR, &text)
            .await
            .map_err(|error| JobFailure::Retryable(error.to_string()))
    }
}

fn record_summary(metrics: &Metrics, summary: &SyncSummary) {
    metrics.orders_synced("created", summary.created);
    metrics.orders_synced("updated", summary.updated);
    metrics.orders_synced("cancelled", summary.cancelled);
    metrics.orders_synced("unchanged", summary.unchanged);
    metrics.orders_synced("skipped", summary.skipped);
    metrics.orders_synced("failed", summary.failed);
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Created { .. } => "created",
        Outcome::Updated { .. } => "updated",
        Outcome::Cancelled { .. } => "cancelled",
        Outcome::Reversed { .. } => "reversed",
        Outcome::Unchanged => "unchanged",
        Outcome::Skipped { .. } => "skipped",
        Outcome::Failed { .. } => "failed",
    }
}

impl JobHandler for Dispatcher {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let result = match job.kind.as_str() {
                ORDER_JOB => self.run_order(job).await,
                POLL_JOB => self.run_poll(job).await,
                other => Err(JobFailure::Permanent(format!(
                    "job {} has kind `{other}`, which this version does not run",
                    job.id
                ))),
            };
            let label = match &result {
                Ok(()) => "succeeded",
                Err(JobFailure::Retryable(_)) if (job.attempts as u32) < self.max_attempts => {
                    "retried"
                }
                Err(_) => "parked",
            };
            self.metrics.job_finished(&job.kind, label);
            if let Err(failure) = &result {
                tracing::warn!(job = job.id, kind = %job.kind, object = %job.object_id, result = label, reason = failure.message(), "job failed");
            }
            result
        })
    }
}
