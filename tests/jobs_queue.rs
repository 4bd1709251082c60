//! The queue at work: retryable failures come back, permanent ones are parked
//! with their reason, and one bad job never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use woocommerce_sync::connection::Connection;
use woocommerce_sync::jobs::{drain, JobFailure, JobHandler, QueuePolicy};
use woocommerce_sync::remote::RetryPolicy;
use woocommerce_sync::secrets::SecretKey;
use woocommerce_sync::store::{Job, JobScope, JobState, Store};

/// Fails object "flaky" twice (retryable), object "bad" always (permanent).
#[derive(Default)]
struct Script {
    runs: Mutex<HashMap<String, u32>>,
}

impl JobHandler for Script {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            let count = {
                let mut runs = self.runs.lock().unwrap();
                let count = runs.entry(job.object_id.clone()).or_default();
                *count += 1;
                *count
            };
            match job.object_id.as_str() {
                "flaky" if count <= 2 => Err(JobFailure::Retryable("ERPNext answered 503".into())),
                "bad" => Err(JobFailure::Permanent("Item NO-SKU not found".into())),
                _ => Ok(()),
            }
        })
    }
}

fn connection(name: &str) -> Connection {
    serde_json::from_value(serde_json::json!({
        "name": name, "woocommerce_url": "https://shop.test/", "woocommerce_auth": "auto",
        "erpnext_url": "https://erp.test/",
        "credentials": {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "", "api_key": "k", "api_secret": "s"},
        "company": "Test Company", "default_warehouse": "Stores - TC", "naming_series": "SAL-ORD-.YYYY.-",
        "customer_group": "Individual", "territory": "All Territories", "price_list": "Standard Selling",
        "item_group": "Products", "stock_uom": "Nos", "delivery_lead_days": 3,
        "imported_statuses": ["processing"], "invoice_trigger": "paid", "submit_invoices": true,
        "record_payments": true, "rounding_tolerance": "0.01", "auto_create_items": false,
        "missing_sku": "fail", "default_tax_account": null, "shipping_account": null,
        "fee_account": null, "rounding_account": null, "mappings": {}
    }))
    .unwrap()
}

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("q.db").display());
    Store::open(
        &url,
        SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn retryable_failures_come_back_and_permanent_ones_are_parked() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let id = store.insert_connection(&connection("shop")).await.unwrap();
    for object in ["good-1", "flaky", "bad", "good-2"] {
        store
            .enqueue_job(id, "order", object, chrono::Utc::now())
            .await
            .unwrap();
    }
    let policy = QueuePolicy {
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        },
        lease: Duration::from_secs(60),
    };
    let handler = Arc::new(Script::default());
    let report = drain(&store, handler.clone(), &policy, 2, &JobScope::default())
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.retried, report.parked), (3, 2, 1));
    let done: Vec<_> = store
        .jobs_in_state(id, JobState::Done)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.object_id)
        .collect();
    assert_eq!(done.len(), 3);
    assert!(done.contains(&"flaky".to_string()));
    let failed = store.jobs_in_state(id, JobState::Failed).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].object_id, "bad");
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("Item NO-SKU not found")
    );
    assert_eq!(
        handler.runs.lock().unwrap()["bad"],
        1,
        "a permanent failure is not retried"
    );

    // Retries stop after the policy's attempts.
    store
        .enqueue_job(id, "order", "flaky-forever", chrono::Utc::now())
        .await
        .unwrap();
    struct AlwaysDown;
    impl JobHandler for AlwaysDown {
        fn run<'a>(&'a self, _: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
            Box::pin(async { Err(JobFailure::Retryable("timed out".into())) })
        }
    }
    let tight = QueuePolicy {
        retry: RetryPolicy {
            max_attempts: 3,
            ..policy.retry.clone()
        },
        ..policy
    };
    let report = drain(
        &store,
        Arc::new(AlwaysDown),
        &tight,
        1,
        &JobScope::default(),
    )
    .await
    .unwrap();
    assert_eq!((report.retried, report.parked), (2, 1));
}

/// Counts runs per object; succeeds.
#[derive(Default)]
struct Counter {
    runs: Mutex<HashMap<String, u32>>,
}

impl JobHandler for Counter {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            *self
                .runs
                .lock()
                .unwrap()
                .entry(format!(
                    "{}/{}/{}",
                    job.connection_id, job.kind, job.object_id
                ))
                .or_default() += 1;
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_one_shot_drain_runs_only_its_own_connections_order_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let shop = store.insert_connection(&connection("shop")).await.unwrap();
    let other = store.insert_connection(&connection("other")).await.unwrap();
    let now = chrono::Utc::now();
    store.enqueue_job(shop, "order", "17", now).await.unwrap();
    store
        .enqueue_job(shop, "poll", "orders", now)
        .await
        .unwrap();
    store.enqueue_job(other, "order", "17", now).await.unwrap();
    let handler = Arc::new(Counter::default());
    let report = drain(
        &store,
        handler.clone(),
        &QueuePolicy::default(),
        2,
        &woocommerce_sync::jobs::Job::order_scope(shop),
    )
    .await
    .unwrap();
    assert_eq!((report.succeeded, report.retried, report.parked), (1, 0, 0));
    assert_eq!(
        handler
            .runs
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec![format!("{shop}/order/17")]
    );
    // The service's poll and the other connection's order are still queued, not parked.
    assert_eq!(store.count_jobs(shop, JobState::Queued).await.unwrap(), 1);
    assert_eq!(store.count_jobs(other, JobState::Queued).await.unwrap(), 1);
    assert_eq!(store.count_jobs(shop, JobState::Failed).await.unwrap(), 0);
}

/// Holds its job until released.
struct Held {
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
    runs: Mutex<u32>,
}

impl JobHandler for Held {
    fn run<'a>(&'a self, _: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move {
            *self.runs.lock().unwrap() += 1;
            self.started.notify_one();
            self.release.notified().await;
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_job_running_longer_than_its_lease_keeps_it_and_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let shop = store.insert_connection(&connection("shop")).await.unwrap();
    store
        .enqueue_job(shop, "poll", "orders", chrono::Utc::now())
        .await
        .unwrap();
    let lease = Duration::from_millis(300);
    let policy = QueuePolicy {
        lease,
        ..QueuePolicy::default()
    };
    let handler = Arc::new(Held {
        started: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
        runs: Mutex::new(0),
    });
    let running = tokio::spawn({
        let (store, handler, policy) = (store.clone(), handler.clone(), policy.clone());
        async move { drain(&store, handler, &policy, 1, &JobScope::default()).await }
    });
    handler.started.notified().await;
    // Three leases pass while the job runs (time passing is what is tested here): a second
    // worker still finds nothing to claim, because the running worker renews its lease.
    tokio::time::sleep(lease * 3).await;
    let second = store
        .claim_job(chrono::Duration::seconds(30), &JobScope::default())
        .await
        .unwrap();
    assert!(second.is_none(), "claimed again while running: {second:?}");
    handler.release.notify_one();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.succeeded, 1);
    assert_eq!(*handler.runs.lock().unwrap(), 1);
}
