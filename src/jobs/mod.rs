//! Queued work, in one home: what a job is (a typed kind whose name the database stores), when a
//! failed one runs again ([`policy`]), the workers that run jobs with their leases renewed while
//! they run ([`runner`]), what each kind does ([`dispatch`]), the schedule of polls and the replay
//! of the inbox ([`schedule`]), and which inbound event queues which job ([`routing`]).

mod dispatch;
mod policy;
pub mod routing;
mod runner;
mod schedule;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

pub use dispatch::{last_poll, Dispatcher, PollStatus, LAST_POLL_CURSOR};
pub use policy::{JobFailure, QueuePolicy};
pub use runner::{drain, run_workers, DrainReport, JobHandler};
pub use schedule::{replay_inbox, run_scheduler};

use crate::store::{JobScope, Store, StoreError, StoreResult};
use crate::sync::report::{FailedOrder, RetryQueue};

/// What a queued job does. `kind()` and `object_id()` are what the database stores, and stay
/// stable across versions (a job queued by one version is run by the next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Sync one WooCommerce order (and what follows it) to ERPNext.
    Order { order_id: u64 },
    /// Poll a connection's orders changed since its cursor.
    Poll,
    /// Write a Sales Order's progress (status, shipments, invoices) back to its WooCommerce order.
    SalesOrderChanged { name: String },
    /// Poll ERPNext for the connection's Sales Orders changed since its cursor, and write each
    /// one's progress back (the backstop for lost ERPNext webhooks).
    PollErpnext,
    /// Push the stock of the linked items whose Bins changed since the last pass (queued by a
    /// stock move's webhook and by the schedule; one per connection at a time).
    PushStock,
    /// Push the prices of the linked items whose Item Prices changed since the last pass.
    PushPrices,
    /// Match the shop's products with ERPNext's Items and record the report for the UI; with
    /// `link`, store the links too (a check changes nothing).
    LinkProducts { link: bool },
}

const ORDER: &str = "order";
const POLL: &str = "poll";
const POLL_OBJECT: &str = "orders";
const SALES_ORDER_STATUS: &str = "sales_order_status";
const POLL_ERPNEXT: &str = "poll_erpnext";
const POLL_ERPNEXT_OBJECT: &str = "sales_orders";
const PUSH_STOCK: &str = "push_stock";
const PUSH_STOCK_OBJECT: &str = "stock";
const PUSH_PRICES: &str = "push_prices";
const PUSH_PRICES_OBJECT: &str = "prices";
const LINK_PRODUCTS: &str = "link_products";
const LINK_PRODUCTS_CHECK: &str = "check";
const LINK_PRODUCTS_LINK: &str = "link";

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Order { .. } => ORDER,
            Job::Poll => POLL,
            Job::SalesOrderChanged { .. } => SALES_ORDER_STATUS,
            Job::PollErpnext => POLL_ERPNEXT,
            Job::PushStock => PUSH_STOCK,
            Job::PushPrices => PUSH_PRICES,
            Job::LinkProducts { .. } => LINK_PRODUCTS,
        }
    }

    pub fn object_id(&self) -> String {
        match self {
            Job::Order { order_id } => order_id.to_string(),
            Job::Poll => POLL_OBJECT.to_string(),
            Job::SalesOrderChanged { name } => name.clone(),
            Job::PollErpnext => POLL_ERPNEXT_OBJECT.to_string(),
            Job::PushStock => PUSH_STOCK_OBJECT.to_string(),
            Job::PushPrices => PUSH_PRICES_OBJECT.to_string(),
            Job::LinkProducts { link: true } => LINK_PRODUCTS_LINK.to_string(),
            Job::LinkProducts { link: false } => LINK_PRODUCTS_CHECK.to_string(),
        }
    }

    /// The job a stored row (or a form) names, or why it names none.
    pub fn parse(kind: &str, object_id: &str) -> Result<Job, String> {
        match kind {
            ORDER => object_id
                .trim()
                .parse()
                .map(|order_id| Job::Order { order_id })
                .map_err(|_| format!("`{object_id}` is not a WooCommerce order id")),
            POLL if object_id == POLL_OBJECT => Ok(Job::Poll),
            SALES_ORDER_STATUS if !object_id.trim().is_empty() => Ok(Job::SalesOrderChanged {
                name: object_id.to_string(),
            }),
            POLL_ERPNEXT if object_id == POLL_ERPNEXT_OBJECT => Ok(Job::PollErpnext),
            PUSH_STOCK if object_id == PUSH_STOCK_OBJECT => Ok(Job::PushStock),
            PUSH_PRICES if object_id == PUSH_PRICES_OBJECT => Ok(Job::PushPrices),
            LINK_PRODUCTS if object_id == LINK_PRODUCTS_CHECK => {
                Ok(Job::LinkProducts { link: false })
            }
            LINK_PRODUCTS if object_id == LINK_PRODUCTS_LINK => {
                Ok(Job::LinkProducts { link: true })
            }
            other => Err(format!(
                "a job of kind `{other}` on `{object_id}` is not one this version runs"
            )),
        }
    }

    /// The jobs a one-shot `sync orders` drains for its connection (and no other).
    pub fn order_scope(connection_id: i64) -> JobScope {
        JobScope {
            connection_id: Some(connection_id),
            kinds: vec![ORDER],
        }
    }
}

/// Queues `job` for the connection at `at` (now, usually). Work for the same object coalesces
/// into one row; see `store::jobs`.
pub async fn enqueue(
    store: &Store,
    connection_id: i64,
    job: &Job,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    store
        .enqueue_job(connection_id, job.kind(), &job.object_id(), at)
        .await
}

/// The job queue as the retry queue of runs: a transient failure waits for its retry as the policy
/// says, a permanent one is parked with its reason, and an order that succeeded since no longer
/// waits for anything (so failures shown are failures now).
pub struct Queue {
    pub store: Store,
    pub policy: QueuePolicy,
}

impl Queue {
    pub fn new(store: Store, policy: QueuePolicy) -> Arc<Queue> {
        Arc::new(Queue { store, policy })
    }
}

impl RetryQueue for Queue {
    fn settle<'a>(
        &'a self,
        connection_id: i64,
        failed: Vec<FailedOrder>,
        succeeded: Vec<u64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for order in failed {
                let job = Job::Order {
                    order_id: order.order_id,
                };
                let failure = if order.retryable {
                    JobFailure::Retryable(order.reason)
                } else {
                    JobFailure::Permanent(order.reason)
                };
                let (kind, object) = (job.kind(), job.object_id());
                match self.policy.retry_at(1, &failure) {
                    Some(at) => {
                        self.store
                            .enqueue_retry(connection_id, kind, &object, at, failure.message())
                            .await?
                    }
                    None => {
                        self.store
                            .park_job(connection_id, kind, &object, failure.message())
                            .await?
                    }
                }
            }
            let objects: Vec<String> = succeeded.iter().map(u64::to_string).collect();
            self.store
                .clear_failures(connection_id, ORDER, &objects)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_round_trip_and_strangers_are_refused() {
        for job in [
            Job::Order { order_id: 727 },
            Job::Poll,
            Job::SalesOrderChanged {
                name: "SAL-ORD-2026-00001".into(),
            },
            Job::PollErpnext,
            Job::PushStock,
            Job::PushPrices,
            Job::LinkProducts { link: false },
            Job::LinkProducts { link: true },
        ] {
            assert_eq!(Job::parse(job.kind(), &job.object_id()), Ok(job));
        }
        assert!(Job::parse("order", "refund-26").is_err());
        assert!(Job::parse("stock", "1")
            .unwrap_err()
            .contains("not one this version runs"));
    }
}
