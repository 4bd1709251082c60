//! What state a WooCommerce order is in, defined once: the orders list, the order page and the
//! dashboard all show this, so they cannot disagree. The job queue is the truth about what is
//! failing now (an old failure of an order that has since synced is not a failure); the links
//! say what was made; the log says why an order was left alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::jobs::QueuePolicy;
use crate::store::{JobState, LogOutcome, Store, StoreResult};

/// One order's state, with the reason where there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OrderState {
    /// Its Sales Order exists in ERPNext.
    Synced { sales_order: String },
    /// Queued or running now.
    InProgress,
    /// The last attempt failed for a passing reason; it runs again by itself at `next_at`.
    WaitingForRetry {
        reason: String,
        next_at: DateTime<Utc>,
        attempts: i64,
    },
    /// Failed for a reason that does not pass by itself (a missing mapping, bad data): fix the
    /// cause, then retry.
    Failed { reason: String },
    /// Failed for passing reasons until the attempts ran out; waits for someone to retry it.
    Parked { reason: String, attempts: i64 },
    /// Deliberately not imported (its status is not imported, …).
    Skipped { reason: String },
    /// Seen, but nothing made and nothing pending.
    NotSynced,
}

impl OrderState {
    /// The state in a word or two, as people say it.
    pub fn label(&self) -> &'static str {
        match self {
            OrderState::Synced { .. } => "synced",
            OrderState::InProgress => "in progress",
            OrderState::WaitingForRetry { .. } => "waiting for retry",
            OrderState::Failed { .. } => "failed",
            OrderState::Parked { .. } => "parked",
            OrderState::Skipped { .. } => "skipped",
            OrderState::NotSynced => "not synced",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            OrderState::WaitingForRetry { reason, .. }
            | OrderState::Failed { reason }
            | OrderState::Parked { reason, .. }
            | OrderState::Skipped { reason } => Some(reason),
            _ => None,
        }
    }

    /// Whether a retry can change anything: only for orders that failed or wait.
    pub fn retry_makes_sense(&self) -> bool {
        matches!(
            self,
            OrderState::WaitingForRetry { .. }
                | OrderState::Failed { .. }
                | OrderState::Parked { .. }
                | OrderState::NotSynced
        )
    }

    /// A failure now (failed, parked or waiting for retry).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            OrderState::WaitingForRetry { .. }
                | OrderState::Failed { .. }
                | OrderState::Parked { .. }
        )
    }
}

/// One order of a connection and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderStatus {
    pub order_id: String,
    pub state: OrderState,
    /// The Sales Order's total, when one was made.
    pub amount: Option<Decimal>,
}

/// Every order the service knows of for a connection, newest order id first.
pub async fn order_states(store: &Store, connection_id: i64) -> StoreResult<Vec<OrderStatus>> {
    let jobs = store
        .jobs_of_kind(
            connection_id,
            crate::jobs::Job::Order { order_id: 0 }.kind(),
        )
        .await?;
    let links = store.links(connection_id, "order", "Sales Order").await?;
    let entries = store.latest_order_entries(connection_id).await?;
    let max_attempts = i64::from(QueuePolicy::default().retry.max_attempts);

    let mut orders: BTreeMap<(u64, String), OrderStatus> = BTreeMap::new();
    let mut put = |order_id: &str, state: OrderState, amount: Option<Decimal>| {
        let key = (order_id.parse().unwrap_or(u64::MAX), order_id.to_string());
        orders.insert(
            key,
            OrderStatus {
                order_id: order_id.to_string(),
                state,
                amount,
            },
        );
    };
    // Weakest evidence first; each later source overrides: log, then links, then jobs.
    for entry in &entries {
        let state = match entry.outcome {
            LogOutcome::Skipped if entry.message != "unchanged" => OrderState::Skipped {
                reason: entry.message.clone(),
            },
            _ => OrderState::NotSynced,
        };
        put(&entry.order_id, state, None);
    }
    let mut amounts = BTreeMap::new();
    for link in &links {
        amounts.insert(link.woo_id.clone(), link.amount);
        if !link.erp_name.is_empty() {
            put(
                &link.woo_id,
                OrderState::Synced {
                    sales_order: link.erp_name.clone(),
                },
                link.amount,
            );
        }
    }
    for job in &jobs {
        let reason = job.last_error.clone().unwrap_or_default();
        let state = match job.state {
            JobState::Done => continue,
            JobState::Running => OrderState::InProgress,
            JobState::Queued if job.last_error.is_none() => OrderState::InProgress,
            JobState::Queued => OrderState::WaitingForRetry {
                reason,
                next_at: job.run_after,
                attempts: job.attempts,
            },
            JobState::Failed if job.attempts >= max_attempts => OrderState::Parked {
                reason,
                attempts: job.attempts,
            },
            JobState::Failed => OrderState::Failed { reason },
        };
        let amount = amounts.get(&job.object_id).copied().flatten();
        put(&job.object_id, state, amount);
    }
    Ok(orders.into_values().rev().collect())
}

/// One order's state (`NotSynced` when the service knows nothing of it).
pub async fn order_state(
    store: &Store,
    connection_id: i64,
    order_id: &str,
) -> StoreResult<OrderState> {
    Ok(order_states(store, connection_id)
        .await?
        .into_iter()
        .find(|status| status.order_id == order_id)
        .map(|status| status.state)
        .unwrap_or(OrderState::NotSynced))
}

/// Failing orders that share one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureCause {
    /// The reason with the order's own number taken out, so equal causes group.
    pub cause: String,
    pub order_ids: Vec<String>,
}

/// The cause of a failure: its reason without the leading `order 123: `.
pub fn cause_of(reason: &str) -> String {
    let trimmed = reason.trim();
    if let Some(rest) = trimmed.strip_prefix("order ") {
        if let Some((number, after)) = rest.split_once(": ") {
            if number.chars().all(|c| c.is_ascii_digit()) {
                return after.to_string();
            }
        }
    }
    trimmed.to_string()
}

/// The failing orders grouped by cause, the largest group first.
pub fn failure_causes(orders: &[OrderStatus]) -> Vec<FailureCause> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for order in orders.iter().filter(|order| order.state.is_failure()) {
        let cause = cause_of(order.state.reason().unwrap_or(""));
        groups
            .entry(cause)
            .or_default()
            .push(order.order_id.clone());
    }
    let mut causes: Vec<FailureCause> = groups
        .into_iter()
        .map(|(cause, order_ids)| FailureCause { cause, order_ids })
        .collect();
    causes.sort_by(|a, b| {
        b.order_ids
            .len()
            .cmp(&a.order_ids.len())
            .then(a.cause.cmp(&b.cause))
    });
    causes
}

/// Counts per state label, for the dashboard.
pub fn count_by_state(orders: &[OrderStatus]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for order in orders {
        *counts.entry(order.state.label()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_group_without_the_order_number() {
        assert_eq!(
            cause_of("order 12: tax rate 4 has no account"),
            "tax rate 4 has no account"
        );
        assert_eq!(cause_of("ERPNext answered 502"), "ERPNext answered 502");
        assert_eq!(cause_of("order x: y"), "order x: y");
        let failed = |id: &str, reason: &str| OrderStatus {
            order_id: id.into(),
            state: OrderState::Failed {
                reason: reason.into(),
            },
            amount: None,
        };
        let orders = vec![
            failed("1", "order 1: tax rate 4 has no account"),
            failed("2", "order 2: tax rate 4 has no account"),
            failed("3", "order 3: item X is missing"),
            OrderStatus {
                order_id: "4".into(),
                state: OrderState::Synced {
                    sales_order: "SO-1".into(),
                },
                amount: None,
            },
        ];
        let causes = failure_causes(&orders);
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].cause, "tax rate 4 has no account");
        assert_eq!(causes[0].order_ids, vec!["1", "2"]);
    }
}
