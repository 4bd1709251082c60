//! The running service, built as a value from the store and options: the web face (receivers,
//! health, metrics, UI) and the job runtime (workers, dispatcher, scheduler) of [`crate::jobs`],
//! started together and stopped together.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;

use crate::jobs::{self, Dispatcher, DrainReport, QueuePolicy};
use crate::metrics::Metrics;
use crate::secrets::SecretKey;
use crate::store::{JobScope, Store, StoreError};
use crate::sync::context::CallSettings;
use crate::web::{self, AdminAuth, WebState};

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
    /// Mark the UI's session cookie `Secure` even without `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
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
            secure_cookies: false,
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
    /// `admin_password` is the web UI's password on a store that holds none yet (it is stored
    /// as an Argon2 hash at the first login); empty when the store already has one (`serve`
    /// sees to that first, see [`web::ensure_admin_password`]).
    pub fn new(
        store: Store,
        secret_key: &SecretKey,
        admin_password: &str,
        options: ServiceOptions,
    ) -> Service {
        let metrics = Arc::new(Metrics::default());
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            options.calls.clone(),
            options.orders_in_flight,
            options.queue.clone(),
            metrics.clone(),
        ));
        let web = WebState {
            store: store.clone(),
            metrics: metrics.clone(),
            auth: Arc::new(AdminAuth::new(
                secret_key,
                admin_password,
                options.secure_cookies,
            )),
            calls: options.calls.clone(),
            new_connections: Arc::default(),
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
        jobs::replay_inbox(&self.store).await?;
        jobs::drain(
            &self.store,
            self.dispatcher.clone(),
            &self.options.queue,
            self.options.workers,
            &JobScope::default(),
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
        if let Err(error) = jobs::replay_inbox(&self.store).await {
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
            tokio::spawn(jobs::run_scheduler(
                self.store.clone(),
                interval,
                shutdown.clone(),
            ))
        });
        let mut web_shutdown = shutdown.clone();
        // The client's address feeds the login throttle.
        let served = axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
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
