//! What a flow reports: per object what happened, the counts a run prints, why a run could not
//! run at all, and the hand-over of what it could not finish to whoever schedules retries.

use futures::future::BoxFuture;
use serde::Serialize;

use crate::erpnext::error::ErpError;
use crate::store::StoreError;
use crate::woocommerce::error::WooError;

/// What happened to one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created {
        sales_order: String,
    },
    /// The Sales Order existed already (made by another run, or found after a lost answer).
    Found {
        sales_order: String,
    },
    Updated {
        sales_order: String,
    },
    Cancelled {
        sales_order: String,
    },
    /// Cancelled in WooCommerce after it was invoiced: the invoice is reversed by a credit note.
    Reversed {
        sales_order: String,
        credit_note: String,
    },
    Unchanged,
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
        retryable: bool,
    },
}

impl Outcome {
    /// The label metrics and logs use.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Created { .. } => "created",
            Outcome::Found { .. } => "found",
            Outcome::Updated { .. } => "updated",
            Outcome::Cancelled { .. } => "cancelled",
            Outcome::Reversed { .. } => "reversed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// The Sales Order the order now has, when it has one.
    pub fn sales_order(&self) -> Option<&str> {
        match self {
            Outcome::Created { sales_order }
            | Outcome::Found { sales_order }
            | Outcome::Updated { sales_order }
            | Outcome::Cancelled { sales_order }
            | Outcome::Reversed { sales_order, .. } => Some(sales_order),
            _ => None,
        }
    }
}

/// What billing did for one order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BillingReport {
    pub invoices_created: u64,
    pub payments_created: u64,
    pub credit_notes_created: u64,
    pub refund_payments_created: u64,
    pub failures: Vec<BillingFailure>,
}

/// A billing step that failed, with ERPNext's (or our) reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingFailure {
    /// The step, as logged: `create_sales_invoice`, `create_payment_entry`, ...
    pub step: String,
    pub reason: String,
    pub retryable: bool,
}

impl BillingReport {
    pub fn is_empty(&self) -> bool {
        self == &BillingReport::default()
    }

    /// A report of a run our own store cut short (the next run resumes from the links).
    pub fn store_failure(error: &StoreError) -> BillingReport {
        BillingReport {
            failures: vec![BillingFailure {
                step: "record_billing".to_string(),
                reason: format!("the service's store failed: {error}"),
                retryable: true,
            }],
            ..BillingReport::default()
        }
    }

    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Whether trying again may succeed (every failure is transient).
    pub fn retryable(&self) -> bool {
        self.failures.iter().all(|failure| failure.retryable)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderReport {
    pub order_id: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Invoice, payment and credit notes that followed the Sales Order.
    #[serde(skip_serializing_if = "BillingReport::is_empty")]
    pub billing: BillingReport,
}

impl OrderReport {
    /// Why the order is not done, and whether trying again may help; `None` when it is done.
    pub fn unfinished(&self) -> Option<FailedOrder> {
        match &self.outcome {
            Outcome::Failed { reason, retryable } => Some(FailedOrder {
                order_id: self.order_id,
                reason: reason.clone(),
                retryable: *retryable,
            }),
            _ if self.billing.failed() => Some(FailedOrder {
                order_id: self.order_id,
                reason: self
                    .billing
                    .failures
                    .iter()
                    .map(|failure| format!("{}: {}", failure.step, failure.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
                retryable: self.billing.retryable(),
            }),
            _ => None,
        }
    }
}

/// The counts a sync prints, with the reasons of the failures. "Created" counts what this run
/// created; what it found made already (by another run) is counted apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncSummary {
    pub seen: u64,
    pub created: u64,
    /// Sales Orders another run had made (found by their key instead of created).
    pub found: u64,
    pub updated: u64,
    pub cancelled: u64,
    pub unchanged: u64,
    pub skipped: u64,
    /// Orders whose Sales Order or billing failed.
    pub failed: u64,
    pub invoices_created: u64,
    pub payments_created: u64,
    pub credit_notes_created: u64,
    pub refund_payments_created: u64,
    pub failures: Vec<OrderReport>,
}

impl SyncSummary {
    /// Adds the counts of another run over other orders (a later pass of one poll).
    pub fn merge(&mut self, other: SyncSummary) {
        self.seen += other.seen;
        self.created += other.created;
        self.found += other.found;
        self.updated += other.updated;
        self.cancelled += other.cancelled;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.invoices_created += other.invoices_created;
        self.payments_created += other.payments_created;
        self.credit_notes_created += other.credit_notes_created;
        self.refund_payments_created += other.refund_payments_created;
        self.failures.extend(other.failures);
    }

    pub fn add(&mut self, report: OrderReport) {
        self.seen += 1;
        self.invoices_created += report.billing.invoices_created;
        self.payments_created += report.billing.payments_created;
        self.credit_notes_created += report.billing.credit_notes_created;
        self.refund_payments_created += report.billing.refund_payments_created;
        match &report.outcome {
            Outcome::Created { .. } => self.created += 1,
            Outcome::Found { .. } => self.found += 1,
            Outcome::Updated { .. } => self.updated += 1,
            Outcome::Cancelled { .. } => self.cancelled += 1,
            Outcome::Reversed { .. } => {
                self.cancelled += 1;
                self.credit_notes_created += 1;
            }
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Failed { .. } => {
                self.failed += 1;
                self.failures.push(report);
                return;
            }
        }
        if report.billing.failed() {
            self.failed += 1;
            self.failures.push(report);
        }
    }
}

/// Why a sync could not run at all (as opposed to one order failing).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    WooCommerce(#[from] WooError),
    #[error(transparent)]
    Erpnext(#[from] ErpError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
    /// The store's listing could not be read completely; the cursor did not move.
    #[error("{0}")]
    Listing(String),
}

impl SyncError {
    /// Whether another attempt may succeed: as the client that failed says; anything else (the
    /// store, an incomplete listing, setup) is tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::WooCommerce(error) => error.is_retryable(),
            SyncError::Erpnext(error) => error.is_retryable(),
            _ => true,
        }
    }
}

/// Which attempt at an object this is (from 1), for the log and for deciding to look a key up
/// before creating anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub i64);

impl Attempt {
    pub fn first() -> Attempt {
        Attempt(1)
    }

    pub fn number(self) -> i64 {
        self.0
    }

    /// An earlier attempt may have written something whose answer was lost.
    pub fn is_retry(self) -> bool {
        self.0 > 1
    }
}

/// An order a run could not finish, handed over for another attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedOrder {
    pub order_id: u64,
    pub reason: String,
    /// Whether trying again may succeed (else it waits for someone to fix something).
    pub retryable: bool,
}

/// Where a run settles its orders with the job queue: what failed waits for another attempt (as
/// the queue's policy says), and what succeeded no longer waits for one. A poll settles each page
/// before its cursor moves past it, so no failure is lost.
pub trait RetryQueue: Send + Sync {
    fn settle<'a>(
        &'a self,
        connection_id: i64,
        failed: Vec<FailedOrder>,
        succeeded: Vec<u64>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// For runs whose outcomes are someone else's to settle (a job already running them, a dry run).
pub struct NoRetries;

impl RetryQueue for NoRetries {
    fn settle<'a>(
        &'a self,
        _connection_id: i64,
        _failed: Vec<FailedOrder>,
        _succeeded: Vec<u64>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}
