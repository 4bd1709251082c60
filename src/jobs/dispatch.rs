//! What each kind of job does: the [`Dispatcher`] hands a job to its connection's flow, with the
//! connection's context built on first use and kept (so a connection whose ERPNext is down at start
//! does not stop the service, and connections added or edited while it runs are picked up).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{Job, JobFailure, JobHandler, Queue, QueuePolicy};
use crate::metrics::Metrics;
use crate::store::{Job as StoredJob, LogEntry, LogOutcome, Store, StoreError, StoreResult};
use crate::sync::catalogue::flow::CatalogueFlow;
use crate::sync::context::{CallSettings, ConnectionContext};
use crate::sync::erp_to_woo::erpnext_orders::{ErpnextOrderFlow, ShopOrderOutcome};
use crate::sync::erp_to_woo::write_back::{StatusFlow, WriteBackOutcome};
use crate::sync::problems::Blocker;
use crate::sync::report::{Attempt, OrderReport, SyncError, SyncSummary};
use crate::sync::woo_to_erp::orders::OrderFlow;
use crate::sync::{erp_to_woo, woo_to_erp};

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
    /// When the poll could not run at all: credentials refused or a site unreachable.
    #[serde(default)]
    pub blocked_by: Option<Blocker>,
}

/// The last poll's outcome, if the connection was ever polled by a service.
pub async fn last_poll(store: &Store, connection_id: i64) -> StoreResult<Option<PollStatus>> {
    Ok(store
        .cursor(connection_id, LAST_POLL_CURSOR)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// Runs jobs through their connection's flows.
pub struct Dispatcher {
    store: Store,
    calls: CallSettings,
    concurrency: usize,
    policy: QueuePolicy,
    metrics: Arc<Metrics>,
    contexts: Mutex<HashMap<i64, Arc<ConnectionContext>>>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        calls: CallSettings,
        concurrency: usize,
        policy: QueuePolicy,
        metrics: Arc<Metrics>,
    ) -> Dispatcher {
        Dispatcher {
            store,
            calls,
            concurrency,
            policy,
            metrics,
            contexts: Mutex::new(HashMap::new()),
        }
    }

    /// The connection's context, rebuilt when its stored settings changed since it was built
    /// (so `connection edit` takes effect without a restart).
    async fn context(&self, connection_id: i64) -> Result<Arc<ConnectionContext>, JobFailure> {
        self.context_or_blocker(connection_id)
            .await
            .map_err(|(failure, _)| failure)
    }

    /// [`Dispatcher::context`], with what stops the connection when it could not be built.
    async fn context_or_blocker(
        &self,
        connection_id: i64,
    ) -> Result<Arc<ConnectionContext>, (JobFailure, Option<Blocker>)> {
        let stored =
            self.store
                .connection_by_id(connection_id)
                .await
                .map_err(|error| match error {
                    StoreError::NotFound(message) => (JobFailure::Permanent(message), None),
                    other => (JobFailure::Retryable(other.to_string()), None),
                })?;
        if let Some(context) = self.contexts.lock().await.get(&connection_id) {
            if context.connection == stored.connection {
                return Ok(context.clone());
            }
        }
        let context =
            ConnectionContext::prepare(self.store.clone(), stored, &self.calls, self.concurrency)
                .await
                .map_err(|error| {
                    let blocker = Blocker::of(&error);
                    match error {
                        SyncError::Setup(message) => (JobFailure::Permanent(message), None),
                        other => (JobFailure::Retryable(other.to_string()), blocker),
                    }
                })?
                .handing_over_to(Queue::new(self.store.clone(), self.policy.clone()));
        let context = Arc::new(context);
        self.contexts
            .lock()
            .await
            .insert(connection_id, context.clone());
        Ok(context)
    }

    async fn run_order(&self, job: &StoredJob, order_id: u64) -> Result<(), JobFailure> {
        let context = self.context(job.connection_id).await?;
        let report = OrderFlow::new(&context)
            .sync_one(order_id, Attempt(job.attempts))
            .await
            .map_err(|error| match error {
                SyncError::WooCommerce(error) if !error.is_retryable() => {
                    JobFailure::Permanent(error.to_string())
                }
                other => JobFailure::Retryable(other.to_string()),
            });
        let report: OrderReport =
            report.inspect_err(|_| self.metrics.orders_synced("failed", 1))?;
        self.metrics.orders_synced(report.outcome.label(), 1);
        match report.unfinished() {
            None => Ok(()),
            Some(failed) if failed.retryable => Err(JobFailure::Retryable(failed.reason)),
            Some(failed) => Err(JobFailure::Permanent(failed.reason)),
        }
    }

    /// A failed poll is logged and recorded, never retried here: the next scheduled poll is
    /// the retry.
    async fn run_poll(&self, job: &StoredJob) -> Result<(), JobFailure> {
        let started = Instant::now();
        let result = match self.context_or_blocker(job.connection_id).await {
            Ok(context) => OrderFlow::new(&context)
                .poll(None, &|_, _| {})
                .await
                .map_err(|error| (error.to_string(), Blocker::of(&error))),
            Err((failure, blocker)) => Err((failure.message().to_string(), blocker)),
        };
        let blocked_by = result.as_ref().err().and_then(|(_, blocker)| *blocker);
        let result = result.map_err(|(error, _)| error);
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
            blocked_by,
        };
        if let Err(error) = &result {
            tracing::warn!(connection = job.connection_id, %error, "order poll failed");
            self.log_failed_poll(job, woo_to_erp::DIRECTION, "poll_orders", error, elapsed)
                .await;
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

impl Dispatcher {
    async fn run_sales_order(&self, job: &StoredJob, name: &str) -> Result<(), JobFailure> {
        let context = self.context(job.connection_id).await?;
        let report = StatusFlow::new(&context).follow_sales_order(name).await;
        match report.outcome {
            WriteBackOutcome::Failed {
                reason,
                retryable: true,
            } => Err(JobFailure::Retryable(reason)),
            WriteBackOutcome::Failed { reason, .. } => Err(JobFailure::Permanent(reason)),
            // Not followed yet: perhaps born in ERPNext and not in the shop yet.
            WriteBackOutcome::NotOurs => {
                let report = ErpnextOrderFlow::new(&context).create_for(name).await;
                match report.outcome {
                    ShopOrderOutcome::Failed {
                        reason,
                        retryable: true,
                    } => Err(JobFailure::Retryable(reason)),
                    ShopOrderOutcome::Failed { reason, .. } => Err(JobFailure::Permanent(reason)),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Like the order poll: a failure is logged, and the next scheduled poll is the retry.
    async fn run_poll_erpnext(&self, job: &StoredJob) -> Result<(), JobFailure> {
        let started = Instant::now();
        let result = match self.context(job.connection_id).await {
            Ok(context) => {
                let born = ErpnextOrderFlow::new(&context).poll(None).await;
                let followed = StatusFlow::new(&context).poll(None).await;
                match (born, followed) {
                    (Ok(born), Ok(summary)) => {
                        tracing::info!(
                            connection = job.connection_id,
                            created = born.created,
                            failed = born.failed,
                            "poll of Sales Orders born in ERPNext done"
                        );
                        Ok(summary)
                    }
                    (Err(error), _) | (_, Err(error)) => Err(context.redact(&error.to_string())),
                }
            }
            Err(failure) => Err(failure.message().to_string()),
        };
        match result {
            Ok(summary) => tracing::info!(
                connection = job.connection_id,
                seen = summary.seen,
                written = summary.written,
                failed = summary.failed,
                "Sales Order poll done"
            ),
            Err(error) => {
                tracing::warn!(connection = job.connection_id, %error, "Sales Order poll failed");
                let elapsed = started.elapsed();
                self.log_failed_poll(
                    job,
                    erp_to_woo::DIRECTION,
                    "poll_sales_orders",
                    &error,
                    elapsed,
                )
                .await;
            }
        }
        Ok(())
    }
}

impl Dispatcher {
    /// The stock or price pass (`sync::catalogue::flow`). Like a poll, a failure is logged and
    /// the next pass (scheduled, or queued by the next webhook) is the retry; an entry the shop
    /// refused is in the sync log and read again by the next pass.
    async fn run_catalogue_pass(&self, job: &StoredJob) -> Result<(), JobFailure> {
        let started = Instant::now();
        let (action, result) = match self.context(job.connection_id).await {
            Ok(context) => {
                let flow = CatalogueFlow::new(&context);
                if job.kind == Job::PushStock.kind() {
                    let result = flow
                        .push_changed_stock()
                        .await
                        .map(|summary| (summary.to_write, summary.written, summary.failed));
                    (
                        "push_stock",
                        result.map_err(|error| context.redact(&error.to_string())),
                    )
                } else {
                    let result = flow
                        .push_changed_prices()
                        .await
                        .map(|summary| (summary.to_write, summary.written, summary.failed));
                    (
                        "push_prices",
                        result.map_err(|error| context.redact(&error.to_string())),
                    )
                }
            }
            Err(failure) => ("push_catalogue", Err(failure.message().to_string())),
        };
        match result {
            Ok((changed, written, failed)) => tracing::info!(
                connection = job.connection_id,
                kind = %job.kind,
                changed,
                written,
                failed,
                "catalogue pass done"
            ),
            Err(error) => {
                tracing::warn!(connection = job.connection_id, kind = %job.kind, %error, "catalogue pass failed");
                self.log_failed_poll(
                    job,
                    erp_to_woo::DIRECTION,
                    action,
                    &error,
                    started.elapsed(),
                )
                .await;
            }
        }
        Ok(())
    }
}

impl Dispatcher {
    /// A link run (or check) asked for in the UI: its report, or why it did not finish, is
    /// recorded for the page (`sync::catalogue::flow::LINK_REPORT_CURSOR`); a person runs it
    /// again, so a failure is not retried.
    async fn run_link_products(&self, job: &StoredJob, link: bool) -> Result<(), JobFailure> {
        let result = match self.context(job.connection_id).await {
            Ok(context) => CatalogueFlow::new(&context)
                .link_and_record(!link)
                .await
                .map(|_| ())
                .map_err(|error| context.redact(&error.to_string())),
            Err(failure) => Err(failure.message().to_string()),
        };
        if let Err(error) = result {
            tracing::warn!(connection = job.connection_id, %error, "product link run failed");
            let record = crate::sync::catalogue::flow::LinkRun::failed(!link, &error);
            record
                .save(&self.store, job.connection_id)
                .await
                .map_err(|error| JobFailure::Retryable(error.to_string()))?;
        }
        Ok(())
    }
}

impl Dispatcher {
    /// A failed poll in the sync log (its retry is the next scheduled poll).
    async fn log_failed_poll(
        &self,
        job: &StoredJob,
        direction: &str,
        action: &str,
        error: &str,
        elapsed: std::time::Duration,
    ) {
        let entry = LogEntry {
            connection_id: job.connection_id,
            direction: direction.to_string(),
            object_kind: job.kind.clone(),
            object_id: job.object_id.clone(),
            order_id: None,
            action: action.to_string(),
            outcome: LogOutcome::Failed,
            message: error.to_string(),
            request_excerpt: None,
            response_excerpt: None,
            duration_ms: elapsed.as_millis() as i64,
            attempt: job.attempts,
        };
        if let Err(store_error) = self.store.append_log(&entry).await {
            tracing::error!(error = %store_error, "cannot log the failed poll");
        }
    }
}

fn record_summary(metrics: &Metrics, summary: &SyncSummary) {
    metrics.orders_synced("created", summary.created);
    metrics.orders_synced("found", summary.found);
    metrics.orders_synced("updated", summary.updated);
    metrics.orders_synced("cancelled", summary.cancelled);
    metrics.orders_synced("unchanged", summary.unchanged);
    metrics.orders_synced("skipped", summary.skipped);
    metrics.orders_synced("failed", summary.failed);
}

impl JobHandler for Dispatcher {
    fn run<'a>(&'a self, job: &'a StoredJob) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let result = match Job::parse(&job.kind, &job.object_id) {
                Ok(Job::Order { order_id }) => self.run_order(job, order_id).await,
                Ok(Job::Poll) => self.run_poll(job).await,
                Ok(Job::SalesOrderChanged { name }) => self.run_sales_order(job, &name).await,
                Ok(Job::PollErpnext) => self.run_poll_erpnext(job).await,
                Ok(Job::PushStock | Job::PushPrices) => self.run_catalogue_pass(job).await,
                Ok(Job::LinkProducts { link }) => self.run_link_products(job, link).await,
                Err(reason) => Err(JobFailure::Permanent(reason)),
            };
            let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            let label = match &result {
                Ok(()) => "succeeded",
                Err(failure) if self.policy.retry_at(attempts, failure).is_some() => "retried",
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
