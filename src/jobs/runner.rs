//! Workers over the persisted queue: each claims a due job, runs it through a [`JobHandler`] while
//! renewing its lease (a long poll is never claimed a second time by another worker), and records
//! the outcome as the [`QueuePolicy`] decides (invariant 4: one bad record never stops the others).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{JobFailure, QueuePolicy};
use crate::store::{Job as StoredJob, JobScope, Store, StoreError};

/// Runs one job. Every handler must be idempotent: a job can run twice.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, job: &'a StoredJob) -> BoxFuture<'a, Result<(), JobFailure>>;
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub succeeded: u64,
    pub retried: u64,
    pub parked: u64,
}

/// Runs the due jobs of `scope` with `workers` concurrent workers until none is due. Used by
/// one-shot commands (which drain only their own connection's jobs) and tests (instead of
/// sleeping); the service runs [`run_workers`] instead.
pub async fn drain(
    store: &Store,
    handler: Arc<dyn JobHandler>,
    policy: &QueuePolicy,
    workers: usize,
    scope: &JobScope,
) -> Result<DrainReport, StoreError> {
    let tasks = (0..workers.max(1)).map(|_| {
        let (store, handler, policy, scope) = (
            store.clone(),
            handler.clone(),
            policy.clone(),
            scope.clone(),
        );
        async move {
            let mut report = DrainReport::default();
            while let Some(job) = claim(&store, &policy, &scope).await? {
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

/// Runs workers until `shutdown` turns true, looking for due jobs every `idle` when there are none.
pub async fn run_workers(
    store: Store,
    handler: Arc<dyn JobHandler>,
    policy: QueuePolicy,
    workers: usize,
    idle: Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let scope = JobScope::default();
    let tasks = (0..workers.max(1)).map(|_| {
        let (store, handler, policy, scope) =
            (store.clone(), handler.clone(), policy.clone(), scope.clone());
        let mut shutdown = shutdown.clone();
        async move {
            let mut report = DrainReport::default();
            while !*shutdown.borrow() {
                match claim(&store, &policy, &scope).await {
                    Ok(Some(job)) => {
                        if let Err(error) =
                            run_one(&store, handler.as_ref(), &policy, &job, &mut report).await
                        {
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

async fn claim(
    store: &Store,
    policy: &QueuePolicy,
    scope: &JobScope,
) -> Result<Option<StoredJob>, StoreError> {
    let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(5));
    store.claim_job(lease, scope).await
}

/// Runs the job, renewing its lease a few times per lease while it runs, then records the outcome.
async fn run_one(
    store: &Store,
    handler: &dyn JobHandler,
    policy: &QueuePolicy,
    job: &StoredJob,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(5));
    let renew_every = (policy.lease / 3).max(Duration::from_millis(10));
    let work = handler.run(job);
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = tokio::time::sleep(renew_every) => {
                if let Err(error) = store.renew_lease(job.id, lease).await {
                    tracing::warn!(%error, job = job.id, "cannot renew a running job's lease");
                }
            }
        }
    };
    match result {
        Ok(()) => {
            store.complete_job(job.id).await?;
            report.succeeded += 1;
        }
        Err(failure) => {
            let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            match policy.retry_at(attempts, &failure) {
                Some(at) => {
                    store.fail_job(job.id, failure.message(), Some(at)).await?;
                    report.retried += 1;
                }
                None => {
                    store.fail_job(job.id, failure.message(), None).await?;
                    report.parked += 1;
                }
            }
        }
    }
    Ok(())
}
