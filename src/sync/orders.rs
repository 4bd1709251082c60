//! The order sync: WooCommerce orders become submitted ERPNext Sales Orders,
//! exactly once per connection, and follow later changes (status, note,
//! cancellation).
//!
//! Exactly once (invariant 1) rests on three things: the unique
//! `woocommerce_order_key` custom field in ERPNext; the link in our store; and
//! a *pending* link written before every create, so that after any uncertain
//! outcome (timeout, dropped response, crash) the next attempt looks the key up
//! in ERPNext before it creates anything. A duplicate-key rejection from
//! ERPNext (two syncs racing) is resolved the same way.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{Duration as ChronoDuration, NaiveDateTime, Timelike, Utc};
use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use futures::future::BoxFuture;

use crate::connection::Connection;
use crate::erpnext::client::{ErpClient, ListQuery};
use crate::erpnext::countries;
use crate::erpnext::error::ErpError;
use crate::jobs::{JobFailure, JobHandler};
use crate::store::{Job, Link, LogEntry, LogOutcome, Store, StoreError, StoredConnection};
use crate::sync::billing::{Billing, BillingReport, BillingSteps, Reversal};
use crate::sync::mapping::{
    self, map_order, MappingRules, OrderAction, OrderMapping, ResolvedMasters, SalesOrder,
};
use crate::sync::masters::{MasterError, Masters};
use crate::sync::remotes::{self, CallSettings};
use crate::woocommerce::client::{OrderQuery, WooClient};
use crate::woocommerce::error::WooError;
use crate::woocommerce::listing::PassCheck;
use crate::woocommerce::types::Order;

/// The cursor of the order poll: the newest `date_modified_gmt` handled.
pub const ORDERS_CURSOR: &str = "orders.modified_gmt";
/// How far before the cursor each poll starts again, for clock skew and
/// orders saved while the previous poll was paging.
pub const POLL_OVERLAP_MINUTES: i64 = 10;
const DIRECTION: &str = "woocommerce_to_erpnext";
/// Pages of orders synced at once during a poll.
const PAGES_IN_FLIGHT: usize = 4;
/// Passes over one poll window before the poll gives up for now (without moving the cursor).
const MAX_POLL_PASSES: usize = 5;

/// What happened to one order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created {
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderReport {
    pub order_id: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Invoice, payment and credit notes that followed the Sales Order.
    #[serde(skip_serializing_if = "BillingReport::is_empty")]
    pub billing: BillingReport,
}

/// The counts a sync prints, with the reasons of the failures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncSummary {
    pub seen: u64,
    pub created: u64,
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

/// Everything one connection's order sync needs; build it once per run.
pub struct OrderSync {
    store: Store,
    connection_id: i64,
    connection: Connection,
    rules: MappingRules,
    woo: WooClient,
    erp: ErpClient,
    masters: Masters,
    exchange_rates: Mutex<HashMap<(String, String), Option<Decimal>>>,
    concurrency: usize,
    /// Orders per listed page (WooCommerce's maximum, 100, unless a test wants more pages).
    page_size: u32,
}

/// The store writes of one batch of orders, made together at its end (one
/// statement each instead of several per order). Only the *pending* links are
/// written before the creates, because exactly-once depends on them.
#[derive(Default)]
struct Writes {
    links: std::sync::Mutex<Vec<Link>>,
    logs: std::sync::Mutex<Vec<LogEntry>>,
    retries: std::sync::Mutex<Vec<u64>>,
}

impl Writes {
    fn link(&self, link: Link) {
        self.links
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(link);
    }

    fn log(&self, entry: LogEntry) {
        self.logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(entry);
    }

    fn retry(&self, order_id: u64) {
        self.retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(order_id);
    }

    async fn flush(self, store: &Store, connection_id: i64) -> Result<(), StoreError> {
        let links = self
            .links
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store.put_links(&links).await?;
        let logs = self
            .logs
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store.append_logs(&logs).await?;
        let retry_at = Utc::now() + ChronoDuration::seconds(30);
        for order_id in self
            .retries
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            store
                .enqueue_job(connection_id, "order", &order_id.to_string(), retry_at)
                .await?;
        }
        Ok(())
    }
}

/// One order's work: what to do with it, decided before any write.
enum Plan {
    Create {
        mapping: Box<OrderMapping>,
        pending: bool,
    },
    Update {
        sales_order: String,
    },
    Cancel {
        sales_order: Option<String>,
    },
    Done(Outcome),
}

impl OrderSync {
    /// Builds the clients and rules of `stored`, reading the company's currency from ERPNext.
    pub async fn prepare(
        store: Store,
        stored: StoredConnection,
        settings: &CallSettings,
        concurrency: usize,
    ) -> Result<OrderSync, SyncError> {
        let connection = stored.connection;
        let woo = remotes::woocommerce_client(&connection, settings)?;
        let erp = remotes::erpnext_client(&connection, settings)?;
        let company = erp
            .get_document("Company", &connection.company)
            .await
            .map_err(|error| {
                if error.is_not_found() {
                    SyncError::Setup(format!(
                        "ERPNext has no company `{}`; fix the connection's --company",
                        connection.company
                    ))
                } else {
                    SyncError::Erpnext(error)
                }
            })?;
        let currency = company["default_currency"]
            .as_str()
            .unwrap_or("USD")
            .to_string();
        let rules = remotes::mapping_rules(&connection, &currency);
        let masters = Masters::new(store.clone(), stored.id, &currency);
        Ok(OrderSync {
            store,
            connection_id: stored.id,
            connection,
            rules,
            woo,
            erp,
            masters,
            exchange_rates: Mutex::new(HashMap::new()),
            concurrency: concurrency.max(1),
            page_size: crate::woocommerce::client::MAX_PER_PAGE,
        })
    }

    /// Lists `per_page` orders per page instead of 100 (more page boundaries, for tests).
    pub fn with_page_size(mut self, per_page: u32) -> OrderSync {
        self.page_size = per_page.clamp(1, crate::woocommerce::client::MAX_PER_PAGE);
        self
    }

    pub fn connection_id(&self) -> i64 {
        self.connection_id
    }

    pub fn woocommerce(&self) -> &WooClient {
        &self.woo
    }

    pub fn erpnext(&self) -> &ErpClient {
        &self.erp
    }

    pub fn rules(&self) -> &MappingRules {
        &self.rules
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Compares both sides from scratch; see [`crate::sync::reconcile`].
    pub async fn reconcile(&self) -> Result<crate::sync::reconcile::ReconcileReport, SyncError> {
        crate::sync::reconcile::reconcile(&self.woo, &self.erp, &self.connection, |status| {
            self.action_for(status)
        })
        .await
    }

    /// Polls orders changed since the cursor (or `since`) up to now, page by page, and moves the
    /// cursor to the end of that window once every order in it was handled. Failed orders are
    /// queued as jobs, so they count as handled. The window is listed in id order and each pass is
    /// checked (see [`crate::woocommerce::listing`]); a pass the store changed under is read again,
    /// syncing only what the earlier passes could not have seen.
    pub async fn poll(
        &self,
        since: Option<NaiveDateTime>,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<SyncSummary, SyncError> {
        let start = match since {
            Some(since) => Some(since),
            None => self
                .store
                .cursor(self.connection_id, ORDERS_CURSOR)
                .await?
                .and_then(|text| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").ok())
                .map(|at| at - ChronoDuration::minutes(POLL_OVERLAP_MINUTES)),
        };
        // The window ends after the current second: what changes from here on falls (also) in the
        // next window, which starts the overlap before this one's end. An order that enters or
        // leaves this window while it is read changes the pages' totals, and the pass is read again.
        let end = Utc::now()
            .naive_utc()
            .with_nanosecond(0)
            .unwrap_or_default()
            + ChronoDuration::seconds(1);
        let query = OrderQuery {
            per_page: self.page_size,
            ..OrderQuery::window(start, Some(end))
        };
        let mut summary = SyncSummary::default();
        let mut earlier: Vec<PassCheck> = Vec::new();
        for _ in 0..MAX_POLL_PASSES {
            let (check, pass) = self.poll_pass(&query, &earlier, progress).await?;
            summary.merge(pass);
            match check.verdict() {
                Ok(_) => {
                    self.store
                        .set_cursor(
                            self.connection_id,
                            ORDERS_CURSOR,
                            &end.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        )
                        .await?;
                    return Ok(summary);
                }
                Err(reason) => {
                    tracing::info!(connection = self.connection_id, %reason, "reading the order window again");
                    earlier.push(check);
                }
            }
        }
        Err(SyncError::Listing(format!(
            "WooCommerce's order list kept changing while it was read ({MAX_POLL_PASSES} passes); \
             the orders read were synced, and the next poll reads the same window again"
        )))
    }

    /// One pass over the window: page 1 says how many pages there are; the rest are read and
    /// synced a few at a time, so one page's round trips overlap the next's. Pages are counted as
    /// they finish, so memory does not grow with the number of orders.
    async fn poll_pass(
        &self,
        query: &OrderQuery,
        earlier: &[PassCheck],
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(PassCheck, SyncSummary), SyncError> {
        let first = self.woo.list_orders_page(query, 1).await?;
        let total = first.total;
        let total_pages = first.total_pages.max(1);
        let first = std::sync::Mutex::new(Some(first));
        let done = std::sync::atomic::AtomicU64::new(0);
        let mut pages = stream::iter(1..=total_pages)
            .map(|number| {
                let (first, done) = (&first, &done);
                async move {
                    let taken = first
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .take();
                    let page = match taken {
                        Some(page) if number == 1 => page,
                        _ => self.woo.list_orders_page(query, number).await?,
                    };
                    let span = (
                        page.page,
                        page.total,
                        page.items.iter().map(|order| order.id).collect::<Vec<_>>(),
                    );
                    // What an earlier pass read needs nothing more from this one.
                    let unseen: Vec<Order> = page
                        .items
                        .into_iter()
                        .filter(|order| !earlier.iter().any(|check| check.covers(order.id)))
                        .collect();
                    let reports = self.sync_orders(unseen, Attempt::first()).await?;
                    let seen =
                        done.fetch_add(reports.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    progress(seen + reports.len() as u64, total);
                    Ok::<_, SyncError>((span, reports))
                }
            })
            .buffer_unordered(PAGES_IN_FLIGHT);
        // A page that could not be read fails the pass, but the pages in flight finish first
        // (their writes are already under way).
        let mut check = PassCheck::default();
        let mut summary = SyncSummary::default();
        let mut first_error = None;
        while let Some(page) = pages.next().await {
            match page {
                Ok(((number, total, ids), reports)) => {
                    check.record(number, total, ids);
                    for report in reports {
                        summary.add(report);
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        drop(pages);
        match first_error {
            Some(error) => Err(error),
            None => Ok((check, summary)),
        }
    }

    /// Syncs these orders (one page, or one order from a job). Failures are
    /// logged and, unless a job is already running them, queued for retry;
    /// `attempt` counts from 1.
    pub async fn sync_orders(
        &self,
        orders: Vec<Order>,
        attempt: Attempt,
    ) -> Result<Vec<OrderReport>, SyncError> {
        let ids: Vec<String> = orders.iter().map(|order| order.id.to_string()).collect();
        let mut links: HashMap<String, Link> = self
            .store
            .links_for(self.connection_id, "order", "Sales Order", &ids)
            .await?
            .into_iter()
            .map(|link| (link.woo_id.clone(), link))
            .collect();
        let plans: Vec<(Order, Plan)> = orders
            .into_iter()
            .map(|order| {
                let link = links.remove(&order.id.to_string());
                let plan = self.plan(&order, link);
                (order, plan)
            })
            .collect();
        let mappings: Vec<&OrderMapping> = plans
            .iter()
            .filter_map(|(_, plan)| match plan {
                Plan::Create { mapping, .. } => Some(mapping.as_ref()),
                _ => None,
            })
            .collect();
        if !mappings.is_empty() {
            if let Err(error) = self.masters.prefetch(&self.erp, &mappings).await {
                // Without the look-up every create of this batch would guess; fail them all softly.
                let reason = error.to_string();
                let writes = Writes::default();
                let mut reports = Vec::new();
                for (order, _) in &plans {
                    let outcome = Outcome::Failed {
                        reason: reason.clone(),
                        retryable: error.is_retryable(),
                    };
                    self.finish(
                        &writes,
                        order,
                        "prefetch_masters",
                        &outcome,
                        None,
                        0,
                        attempt,
                    );
                    reports.push(OrderReport {
                        order_id: order.id,
                        outcome,
                        billing: BillingReport::default(),
                    });
                }
                writes.flush(&self.store, self.connection_id).await?;
                return Ok(reports);
            }
        }
        // Written before any create: if an answer is lost, the next attempt
        // looks the order's key up in ERPNext before it creates anything.
        let pending: Vec<Link> = plans
            .iter()
            .filter(|(_, plan)| matches!(plan, Plan::Create { pending: false, .. }))
            .map(|(order, _)| self.order_link(order, "", None))
            .collect();
        self.store.put_links(&pending).await?;
        let writes = Writes::default();
        // Orders of one buyer run in sequence (they share a Customer and
        // Addresses); different buyers run concurrently.
        let mut groups: BTreeMap<String, Vec<(Order, Plan)>> = BTreeMap::new();
        for (order, plan) in plans {
            let key = match &plan {
                Plan::Create { mapping, .. } => format!("buyer:{}", mapping.customer.identity.key),
                _ => format!("order:{}", order.id),
            };
            groups.entry(key).or_default().push((order, plan));
        }
        let writes_ref = &writes;
        let results: Vec<Vec<OrderReport>> = stream::iter(groups.into_values())
            .map(|group| async move {
                let mut reports = Vec::with_capacity(group.len());
                for (order, plan) in group {
                    let outcome = self.execute(writes_ref, &order, plan, attempt).await;
                    let billing = self.follow_with_billing(&order, &outcome, attempt).await;
                    reports.push(OrderReport {
                        order_id: order.id,
                        outcome,
                        billing,
                    });
                }
                reports
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        writes.flush(&self.store, self.connection_id).await?;
        let mut reports: Vec<OrderReport> = results.into_iter().flatten().collect();
        reports.sort_by_key(|report| report.order_id);
        Ok(reports)
    }

    /// Invoice, payment and credit notes of an order whose Sales Order now exists
    /// (see [`crate::sync::billing`]).
    async fn follow_with_billing(
        &self,
        order: &Order,
        outcome: &Outcome,
        attempt: Attempt,
    ) -> BillingReport {
        match self.billing_after(order, outcome, attempt).await {
            Ok(report) => report,
            Err(error) => BillingReport::store_failure(&error),
        }
    }

    async fn billing_after(
        &self,
        order: &Order,
        outcome: &Outcome,
        attempt: Attempt,
    ) -> Result<BillingReport, StoreError> {
        let sales_order = match outcome {
            // A Sales Order made just now has no invoice yet; nothing to follow until one is due.
            Outcome::Created { .. }
                if !mapping::invoice_due(self.connection.invoice_trigger, order) =>
            {
                return Ok(BillingReport::default())
            }
            Outcome::Created { sales_order } | Outcome::Updated { sales_order } => {
                sales_order.clone()
            }
            Outcome::Unchanged if self.action_for(&order.status) != OrderAction::Cancel => {
                match self
                    .store
                    .link(
                        self.connection_id,
                        "order",
                        &order.id.to_string(),
                        "Sales Order",
                    )
                    .await?
                {
                    Some(link) if !link.erp_name.is_empty() => link.erp_name,
                    _ => return Ok(BillingReport::default()),
                }
            }
            _ => return Ok(BillingReport::default()),
        };
        Billing::new(self)
            .follow_order(order, &sales_order, BillingSteps::ALL, attempt)
            .await
    }

    /// What the order's status and our links say to do.
    fn plan(&self, order: &Order, link: Option<Link>) -> Plan {
        let linked = link.as_ref().filter(|link| !link.erp_name.is_empty());
        match (self.action_for(&order.status), linked) {
            (OrderAction::Import, Some(link)) => {
                if link.fingerprint.as_deref() == Some(order_fingerprint(order).as_str()) {
                    Plan::Done(Outcome::Unchanged)
                } else {
                    Plan::Update {
                        sales_order: link.erp_name.clone(),
                    }
                }
            }
            (OrderAction::Import, None) => {
                match map_order(order, &self.rules, &|code: &str| {
                    countries::name_for_code(code).map(String::from)
                }) {
                    Ok(mapping) => Plan::Create {
                        mapping: Box::new(mapping),
                        pending: link.is_some(),
                    },
                    Err(error) => Plan::Done(Outcome::Failed {
                        reason: error.to_string(),
                        retryable: false,
                    }),
                }
            }
            (OrderAction::Cancel, Some(link)) => {
                if link.fingerprint.as_deref() == Some(order_fingerprint(order).as_str()) {
                    Plan::Done(Outcome::Unchanged)
                } else {
                    Plan::Cancel {
                        sales_order: Some(link.erp_name.clone()),
                    }
                }
            }
            (OrderAction::Cancel, None) if link.is_some() => Plan::Cancel { sales_order: None },
            (OrderAction::Cancel, None) => Plan::Done(Outcome::Skipped {
                reason: format!("status `{}` and no Sales Order to cancel", order.status),
            }),
            (OrderAction::Ignore, Some(_)) => Plan::Done(Outcome::Unchanged),
            (OrderAction::Ignore, None) => Plan::Done(Outcome::Skipped {
                reason: format!("status `{}` is not imported", order.status),
            }),
        }
    }

    /// What this connection does with an order in `status`: its status map first, then the defaults.
    pub fn action_for(&self, status: &str) -> OrderAction {
        match self
            .connection
            .mappings
            .status_from_woocommerce
            .get(status)
            .map(String::as_str)
        {
            Some("import") => OrderAction::Import,
            Some("cancel") => OrderAction::Cancel,
            Some("ignore") => OrderAction::Ignore,
            _ => mapping::action_for_status(status, &self.rules),
        }
    }

    async fn execute(
        &self,
        writes: &Writes,
        order: &Order,
        plan: Plan,
        attempt: Attempt,
    ) -> Outcome {
        let started = Instant::now();
        let (action, outcome, excerpt) = match plan {
            Plan::Done(outcome) => ("check_order", outcome, None),
            Plan::Create { mapping, pending } => {
                let (outcome, excerpt) = self
                    .create(writes, order, &mapping, pending || attempt.number > 1)
                    .await;
                ("create_sales_order", outcome, excerpt)
            }
            Plan::Update { sales_order } => (
                "update_sales_order",
                self.update(writes, order, &sales_order).await,
                None,
            ),
            Plan::Cancel { sales_order } => (
                "cancel_sales_order",
                self.cancel(writes, order, sales_order, attempt).await,
                None,
            ),
        };
        let elapsed = started.elapsed().as_millis() as i64;
        self.finish(writes, order, action, &outcome, excerpt, elapsed, attempt);
        outcome
    }

    /// Logs the attempt and queues a retry for a failure.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        writes: &Writes,
        order: &Order,
        action: &str,
        outcome: &Outcome,
        request_excerpt: Option<String>,
        duration_ms: i64,
        attempt: Attempt,
    ) {
        let (log_outcome, message) = match outcome {
            Outcome::Created { sales_order } => {
                (LogOutcome::Ok, format!("Sales Order {sales_order} created"))
            }
            Outcome::Updated { sales_order } => {
                (LogOutcome::Ok, format!("Sales Order {sales_order} updated"))
            }
            Outcome::Cancelled { sales_order } => (
                LogOutcome::Ok,
                format!("Sales Order {sales_order} cancelled"),
            ),
            Outcome::Reversed {
                sales_order,
                credit_note,
            } => (
                LogOutcome::Ok,
                format!(
                    "Sales Order {sales_order} was invoiced; credit note {credit_note} reverses it"
                ),
            ),
            Outcome::Unchanged => (LogOutcome::Skipped, "unchanged".to_string()),
            Outcome::Skipped { reason } => (LogOutcome::Skipped, reason.clone()),
            Outcome::Failed { reason, .. } => (LogOutcome::Failed, reason.clone()),
        };
        if matches!(outcome, Outcome::Unchanged | Outcome::Skipped { .. }) && attempt.number == 1 {
            // Polls see most orders again and again; only changes and failures are worth a row.
            return;
        }
        writes.log(LogEntry {
            connection_id: self.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: "order".to_string(),
            object_id: order.id.to_string(),
            action: action.to_string(),
            outcome: log_outcome,
            message: self.redact(&message),
            request_excerpt: request_excerpt.map(|text| self.redact(&excerpt(&text))),
            response_excerpt: None,
            duration_ms,
            attempt: attempt.number,
        });
        if matches!(outcome, Outcome::Failed { .. }) && !attempt.from_job {
            writes.retry(order.id);
        }
    }

    async fn create(
        &self,
        writes: &Writes,
        order: &Order,
        mapping: &OrderMapping,
        uncertain: bool,
    ) -> (Outcome, Option<String>) {
        let key = self.connection.order_key(order.id);
        if uncertain {
            match self.find_by_key(&key).await {
                Ok(Some(found)) => return (self.linked(writes, order, &found), None),
                Ok(None) => {}
                Err(error) => return (failed_erp(error), None),
            }
        }
        let body = match self.sales_order_body(mapping).await {
            Ok(body) => body,
            Err(error) => {
                let retryable = error.is_retryable();
                return (
                    Outcome::Failed {
                        reason: error.to_string(),
                        retryable,
                    },
                    None,
                );
            }
        };
        // Serialised once: sent as it is and kept for the sync log.
        let body = match serde_json::value::to_raw_value(&body) {
            Ok(body) => body,
            Err(error) => {
                let reason = format!("the Sales Order could not be encoded: {error}");
                let outcome = Outcome::Failed {
                    reason,
                    retryable: false,
                };
                return (outcome, None);
            }
        };
        let request = body.get().to_string();
        let outcome = match self.erp.insert::<FoundOrder>("Sales Order", &body).await {
            Ok(created) => self.linked(writes, order, &created),
            // Another sync created it first: link that one.
            Err(error) if error.is_duplicate() => match self.find_by_key(&key).await {
                Ok(Some(found)) => self.linked(writes, order, &found),
                Ok(None) => failed_erp(error),
                Err(lookup) => failed_erp(lookup),
            },
            Err(error) => failed_erp(error),
        };
        (outcome, Some(request))
    }

    async fn sales_order_body(&self, mapping: &OrderMapping) -> Result<SalesOrder, MasterError> {
        self.masters
            .ensure_items(&self.erp, mapping, &self.rules)
            .await?;
        let buyer = self.masters.resolve_buyer(&self.erp, mapping).await?;
        let exchange_rate = if mapping.needs_exchange_rate(&self.rules) {
            self.exchange_rate(
                &mapping.sales_order.currency,
                &mapping.sales_order.transaction_date.to_string(),
            )
            .await
            .map_err(|source| MasterError::Erp {
                what: "Currency Exchange look-up".into(),
                source,
            })?
        } else {
            None
        };
        Ok(mapping.resolve(
            &ResolvedMasters {
                customer: buyer.customer,
                billing_address: buyer.billing_address,
                shipping_address: buyer.shipping_address,
                exchange_rate,
            },
            &self.rules,
        )?)
    }

    /// The latest Currency Exchange rate on or before `date`, as ERPNext would pick it.
    async fn exchange_rate(&self, currency: &str, date: &str) -> Result<Option<Decimal>, ErpError> {
        let cache_key = (currency.to_string(), date.to_string());
        if let Some(rate) = self.exchange_rates.lock().await.get(&cache_key) {
            return Ok(*rate);
        }
        let rows: Vec<Value> = self
            .erp
            .list(
                "Currency Exchange",
                &ListQuery::default()
                    .fields(&["exchange_rate", "date"])
                    .filter("from_currency", "=", currency)
                    .filter("to_currency", "=", self.rules.company_currency.as_str())
                    .filter("date", "<=", date)
                    .order_by("date desc")
                    .page(0, 1),
            )
            .await?;
        let rate = rows
            .first()
            .and_then(|row| crate::money::parse_decimal(&row["exchange_rate"].to_string()).ok())
            .filter(|rate| !rate.is_zero());
        self.exchange_rates.lock().await.insert(cache_key, rate);
        Ok(rate)
    }

    async fn update(&self, writes: &Writes, order: &Order, sales_order: &str) -> Outcome {
        let changes = json!({
            "woocommerce_status": order.status,
            "woocommerce_customer_note": order.customer_note,
        });
        match self.erp.update("Sales Order", sales_order, &changes).await {
            Ok(_) => {
                writes.link(self.order_link(order, sales_order, None));
                Outcome::Updated {
                    sales_order: sales_order.to_string(),
                }
            }
            Err(error) => failed_erp(error),
        }
    }

    async fn cancel(
        &self,
        writes: &Writes,
        order: &Order,
        sales_order: Option<String>,
        attempt: Attempt,
    ) -> Outcome {
        let key = self.connection.order_key(order.id);
        let name = match sales_order {
            Some(name) => name,
            None => match self.find_by_key(&key).await {
                Ok(Some(found)) => found.name,
                Ok(None) => {
                    return Outcome::Skipped {
                        reason: format!("status `{}` and no Sales Order to cancel", order.status),
                    }
                }
                Err(error) => return failed_erp(error),
            },
        };
        // Read first: an earlier attempt may have cancelled it already (cancelling twice is an error).
        let document = match self.erp.get_document("Sales Order", &name).await {
            Ok(document) => document,
            Err(error) => return failed_erp(error),
        };
        let docstatus = document["docstatus"].as_i64().unwrap_or(0);
        let billed = document["per_billed"].as_f64().unwrap_or(0.0) > 0.0;
        if docstatus == 2 {
            writes.link(self.order_link(order, &name, None));
            return Outcome::Unchanged;
        }
        // A credit note may have brought `per_billed` back to 0 already: our link says invoiced.
        let billing = Billing::new(self);
        let invoiced = match billing.may_have_invoice(order.id).await {
            Ok(invoiced) => invoiced,
            Err(error) => return failed_store(error),
        };
        if billed || invoiced {
            let reversal = match billing.reverse_cancelled(order, attempt).await {
                Ok(reversal) => reversal,
                Err(error) => return failed_store(error),
            };
            return match reversal {
                // A billed Sales Order cannot be cancelled; once its invoice is reversed it is
                // closed, so nothing more is delivered or billed from it.
                Reversal::CreditNote(credit_note) => match self.erp.close_sales_order(&name).await {
                    Ok(()) => {
                        writes.link(self.order_link(order, &name, None));
                        Outcome::Reversed {
                            sales_order: name,
                            credit_note,
                        }
                    }
                    Err(error) => failed_erp(error),
                },
                Reversal::NothingLeft => match self.erp.close_sales_order(&name).await {
                    Ok(()) => {
                        writes.link(self.order_link(order, &name, None));
                        Outcome::Unchanged
                    }
                    Err(error) => failed_erp(error),
                },
                Reversal::NoInvoice if billed => Outcome::Failed {
                    reason: format!(
                        "Sales Order {name} is invoiced by an invoice the sync did not make; reverse it by hand in ERPNext"
                    ),
                    retryable: false,
                },
                Reversal::NoInvoice => self.cancel_sales_order(writes, order, name).await,
                Reversal::Failed { reason, retryable } => Outcome::Failed { reason, retryable },
            };
        }
        self.cancel_sales_order(writes, order, name).await
    }

    async fn cancel_sales_order(&self, writes: &Writes, order: &Order, name: String) -> Outcome {
        match self.erp.cancel("Sales Order", &name).await {
            Ok(_) => {
                writes.link(self.order_link(order, &name, None));
                Outcome::Cancelled { sales_order: name }
            }
            Err(error) => failed_erp(error),
        }
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<FoundOrder>, ErpError> {
        let rows: Vec<FoundOrder> = self
            .erp
            .list(
                "Sales Order",
                &ListQuery::default()
                    .fields(&["name", "grand_total", "docstatus"])
                    .filter("woocommerce_order_key", "=", key)
                    .all_rows(),
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Records the Sales Order found or made for `order`, and checks its total.
    fn linked(&self, writes: &Writes, order: &Order, found: &FoundOrder) -> Outcome {
        writes.link(self.order_link(order, &found.name, found.grand_total));
        match found.grand_total {
            Some(total) if total != order.total => Outcome::Failed {
                reason: format!(
                    "Sales Order {} totals {total} in ERPNext but WooCommerce says {}; check the tax and shipping accounts",
                    found.name, order.total
                ),
                retryable: false,
            },
            _ => Outcome::Created { sales_order: found.name.clone() },
        }
    }

    /// The link of `order` to its Sales Order `name` (`""` while a create is pending).
    fn order_link(&self, order: &Order, name: &str, amount: Option<Decimal>) -> Link {
        Link {
            connection_id: self.connection_id,
            woo_kind: "order".to_string(),
            woo_id: order.id.to_string(),
            erp_doctype: "Sales Order".to_string(),
            erp_name: name.to_string(),
            fingerprint: (!name.is_empty()).then(|| order_fingerprint(order)),
            amount,
        }
    }

    /// Removes every credential of the connection from text bound for the log.
    pub(crate) fn redact(&self, text: &str) -> String {
        let credentials = &self.connection.credentials;
        let mut text = text.to_string();
        for secret in [
            &credentials.consumer_secret,
            &credentials.consumer_key,
            &credentials.api_secret,
            &credentials.api_key,
            &credentials.webhook_secret,
        ] {
            if secret.len() >= 4 {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// Which attempt at an order this is, and whether a queued job is running it
/// (then the job queue, not the sync, schedules the retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub number: i64,
    pub from_job: bool,
}

impl Attempt {
    pub fn first() -> Attempt {
        Attempt {
            number: 1,
            from_job: false,
        }
    }
}

impl OrderSync {
    /// Runs one `order` job: re-reads the order (the event was only a hint)
    /// and syncs it. Returns what happened, or how the job failed.
    pub async fn run_order_job(&self, job: &Job) -> Result<Outcome, JobFailure> {
        if job.connection_id != self.connection_id || job.kind != "order" {
            return Err(JobFailure::Permanent(format!(
                "job {} is not an order job of this connection",
                job.id
            )));
        }
        let order_id: u64 = job.object_id.parse().map_err(|_| {
            JobFailure::Permanent(format!("`{}` is not a WooCommerce order id", job.object_id))
        })?;
        let order = match self.woo.get_order(order_id).await {
            Ok(order) => order,
            Err(error) if error.is_retryable() => {
                return Err(JobFailure::Retryable(error.to_string()))
            }
            Err(error) => return Err(JobFailure::Permanent(error.to_string())),
        };
        let attempt = Attempt {
            number: job.attempts,
            from_job: true,
        };
        let reports = self
            .sync_orders(vec![order], attempt)
            .await
            .map_err(|error| JobFailure::Retryable(error.to_string()))?;
        let Some(report) = reports.into_iter().next() else {
            return Ok(Outcome::Unchanged);
        };
        match report.outcome {
            Outcome::Failed {
                reason,
                retryable: true,
            } => Err(JobFailure::Retryable(reason)),
            Outcome::Failed {
                reason,
                retryable: false,
            } => Err(JobFailure::Permanent(reason)),
            // The Sales Order is fine but an invoice, payment or credit note is not.
            _ if report.billing.failed() => {
                let reason = report
                    .billing
                    .failures
                    .iter()
                    .map(|failure| format!("{}: {}", failure.step, failure.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                if report.billing.retryable() {
                    Err(JobFailure::Retryable(reason))
                } else {
                    Err(JobFailure::Permanent(reason))
                }
            }
            outcome => Ok(outcome),
        }
    }
}

impl JobHandler for OrderSync {
    fn run<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobFailure>> {
        Box::pin(async move { self.run_order_job(job).await.map(|_| ()) })
    }
}

/// A Sales Order ERPNext already has for an order key.
#[derive(serde::Deserialize)]
struct FoundOrder {
    name: String,
    #[serde(default, deserialize_with = "crate::money::optional_decimal")]
    grand_total: Option<Decimal>,
}

fn failed_store(error: StoreError) -> Outcome {
    Outcome::Failed {
        reason: format!("the service's store failed: {error}"),
        retryable: true,
    }
}

fn failed_erp(error: ErpError) -> Outcome {
    Outcome::Failed {
        retryable: error.is_retryable(),
        reason: error.to_string(),
    }
}

/// What the sync follows of an order after import: a change here is an update.
fn order_fingerprint(order: &Order) -> String {
    let digest = Sha256::digest(format!("{}\n{}", order.status, order.customer_note).as_bytes());
    format!("{digest:x}")[..16].to_string()
}

fn excerpt(text: &str) -> String {
    const LIMIT: usize = 2000;
    if text.len() <= LIMIT {
        return text.to_string();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}
