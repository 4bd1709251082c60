//! The persisted job queue at work: workers claim due jobs from the store,
//! run them through a [`JobHandler`], and record the outcome. A retryable
//! failure is queued again with backoff; a permanent one, or one that ran out
//! of attempts, is parked as failed with its reason (invariant 4: one bad
//! record never stops the others).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;

use crate::remote::RetryPolicy;
use crate::store::{Job, Store, StoreError};

/// How a job's failure should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt later (the remote was down, throttled, timed out).
    Retryable(String),
    /// Will fail the same way until someone changes something (bad data, a
    /// missing mapping); parked at once with its reason.
    Permanent(String),
}

impl JobFailure {
    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retryable(message) | JobFailure::Permanent(message) => message,
        }
    }
}

/// Runs one job. Every handler must be idempotent: a job can run twice.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>>;
}

/// How the queue retries: attempts and backoff between them.
#[derive(Debug, Clone)]
pub struct QueuePolicy {
    pub retry: RetryPolicy,
    /// How long a claimed job is reserved for its worker.
    pub lease: Duration,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(3600),
            },
            lease: Duration::from_secs(300),
        }
    }
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub succeeded: u64,
    pub retried: u64,
    pub parked: u64,
}

/// Runs due jobs with `workers` concurrent workers until none is due.
/// Used by one-shot commands and tests (instead of sleeping); the service runs
/// [`run_workers`] instead.
pub async fn drain(
    store: &Store,
    handler: Arc<dyn JobHandler>,
    policy: &QueuePolicy,
    workers: usize,
) -> Result<DrainReport, StoreError> {
    let tasks = (0..workers.max(1)).map(|_| {
        let store = store.clone();
        let handler = handler.clone();
        let policy = policy.clone();
        async move {
            let mut report = DrainReport::default();
            while let Some(job) = claim(&store, &policy).await? {
                run_one(&store, handler.as_ref(), &policy, &job, &mut report).await?;
            }
            Ok::<_, StoreError>(report)
        }
    });
    let mut total = DrainReport::default();
    for report in futures::future::try_join_all(tasks).await? {
        total.succeeded += report.succeeded;
        total.retried += report.retried;
        total.parked += report.parked;
    }
    Ok(total)
}

/// Runs workers until `shutdown` resolves, polling for due jobs every `idle`.
pub async fn run_workers(
    store: Store,
    handler: Arc<dyn JobHandler>,
    policy: QueuePolicy,
    workers: usize,
    idle: Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let tasks = (0..workers.max(1)).map(|_| {
        let store = store.clone();
        let handler = handler.clone();
        let policy = policy.clone();
        let mut shutdown = shutdown.clone();
        async move {
            let mut report = DrainReport::default();
            while !*shutdown.borrow() {
                match claim(&store, &policy).await {
                    Ok(Some(job)) => {
                        if let Err(error) = run_one(&store, handler.as_ref(), &policy, &job, &mut report).await {
                            tracing::error!(%error, job = job.id, "recording a job's outcome failed");
                        }
                    }
                    Ok(None) => {
                        tokio::select! {
                            _ = tokio::time::sleep(idle) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "claiming a job failed");
                        tokio::time::sleep(idle).await;
                    }
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
}

async fn claim(store: &Store, policy: &QueuePolicy) -> Result<Option<Job>, StoreError> {
    let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(5));
    store.claim_job(lease).await
}

async fn run_one(
    store: &Store,
    handler: &dyn JobHandler,
    policy: &QueuePolicy,
    job: &Job,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    match handler.run(job).await {
        Ok(()) => {
            store.complete_job(job.id).await?;
            report.succeeded += 1;
        }
        Err(JobFailure::Retryable(message))
            if (job.attempts as u32) < policy.retry.max_attempts =>
        {
            let delay = policy.retry.delay_after(job.attempts as u32, None);
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            store.fail_job(job.id, &message, Some(retry_at)).await?;
            report.retried += 1;
        }
        Err(failure) => {
            store.fail_job(job.id, failure.message(), None).await?;
            report.parked += 1;
        }
    }
    Ok(())
}
