//! Billing: what follows an order's Sales Order in ERPNext — its Sales Invoice, the Payment Entry
//! that pays it, one credit note per WooCommerce refund (with a refund Payment Entry when the money
//! went back through the gateway), and the credit note that reverses an invoiced order that was
//! cancelled. One file per document; each is made exactly once through the protocol in
//! [`keyed`], under the keys of [`crate::sync::keys`].

mod cancellation;
mod invoice;
mod keyed;
mod payment;
mod refund;

use std::collections::BTreeMap;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde_json::Value;

pub use cancellation::Reversal;

use crate::erpnext::error::ErpError;
use crate::money::parse_decimal;
use crate::store::{Link, LogEntry, LogOutcome, StoreError};
use crate::sync::context::ConnectionContext;
use crate::sync::mapping::OrderAction;
use crate::sync::report::{
    Attempt, BillingFailure, BillingReport, FailedOrder, OrderReport, Outcome, SyncError,
    SyncSummary,
};
use crate::woocommerce::client::{OrderBy, OrderQuery};
use crate::woocommerce::types::Order;

use super::page::Page;
use super::DIRECTION;

/// Which billing steps a run covers (`sync invoices|payments|refunds|all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingSteps {
    pub invoices: bool,
    pub payments: bool,
    pub refunds: bool,
}

impl BillingSteps {
    pub const ALL: BillingSteps = BillingSteps {
        invoices: true,
        payments: true,
        refunds: true,
    };
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Inserted now.
    Made(String),
    /// Found in ERPNext under its key: an earlier, uncertain attempt (or another process) made it.
    Found(String),
    /// Made by an earlier run.
    Exists(String),
    /// Not due yet, or nothing to do; the reason is for the log.
    Waiting(String),
    Failed {
        reason: String,
        retryable: bool,
    },
}

impl Step {
    fn from_erp(error: ErpError) -> Step {
        Step::Failed {
            retryable: error.is_retryable(),
            reason: error.to_string(),
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Step::Made(name) | Step::Found(name) | Step::Exists(name) => Some(name),
            _ => None,
        }
    }
}

/// The billing of one connection.
pub struct Billing<'c> {
    ctx: &'c ConnectionContext,
    /// The page of orders this billing runs in: links are read from and written (with the log)
    /// to it, and it writes them all at its end. Without one, each goes to the store at once.
    page: Option<&'c Page>,
}

impl<'c> Billing<'c> {
    pub fn new(ctx: &'c ConnectionContext) -> Billing<'c> {
        Billing { ctx, page: None }
    }

    pub(in crate::sync::woo_to_erp) fn in_page(
        ctx: &'c ConnectionContext,
        page: &'c Page,
    ) -> Billing<'c> {
        Billing {
            ctx,
            page: Some(page),
        }
    }

    /// The order's Sales Order, when it has one.
    pub async fn sales_order_of(&self, order_id: u64) -> Result<Option<String>, StoreError> {
        self.linked_name(order_id, "order", "Sales Order").await
    }

    /// Invoice, payment and refunds of an order whose Sales Order exists, as far as each is due.
    pub async fn follow_order(
        &self,
        order: &Order,
        sales_order: &str,
        steps: BillingSteps,
        attempt: Attempt,
    ) -> Result<BillingReport, StoreError> {
        let mut report = BillingReport::default();
        let invoice = if steps.invoices {
            let started = Instant::now();
            let step = self.invoice(order, sales_order, attempt).await?;
            self.record(
                order.id,
                order.id,
                "order",
                "create_sales_invoice",
                &step,
                started,
                attempt,
                &mut report,
            )
            .await?;
            if matches!(step, Step::Made(_)) {
                report.invoices_created += 1;
            }
            step.name().map(str::to_string)
        } else {
            self.linked_name(order.id, "order", "Sales Invoice").await?
        };
        let Some(invoice) = invoice else {
            return Ok(report);
        };
        if steps.payments {
            let started = Instant::now();
            let step = self.payment(order, &invoice, attempt).await?;
            self.record(
                order.id,
                order.id,
                "order",
                "create_payment_entry",
                &step,
                started,
                attempt,
                &mut report,
            )
            .await?;
            if matches!(step, Step::Made(_)) {
                report.payments_created += 1;
            }
        }
        if steps.refunds && !order.refunds.is_empty() {
            self.refunds(order, &invoice, attempt, &mut report).await?;
        }
        Ok(report)
    }

    /// The pending links of the invoice and the payment this page's billing of `order` (whose
    /// Sales Order exists or is about to be made) will insert unless a step fails. The order
    /// flow stores them with its Sales Orders' in one statement before the page's first create,
    /// instead of one statement before each insert. Only what is certain to be attempted: a
    /// pending link left over by a failed step costs a look-up by key on each later attempt.
    pub(in crate::sync::woo_to_erp) fn pending_links(&self, order: &Order) -> Vec<Link> {
        let connection = &self.ctx.connection;
        let Some(page) = self.page else {
            return Vec::new();
        };
        if self.ctx.action_for(&order.status) == OrderAction::Cancel
            || !crate::sync::mapping::invoice_due(connection.invoice_trigger, order)
        {
            return Vec::new();
        }
        let id = order.id.to_string();
        let mut pending = Vec::new();
        // `Some(None)`: the page read the store and found no link at all.
        let invoice_submitted = match page.known("order", &id, "Sales Invoice") {
            Some(None) => {
                pending.push(self.new_link(&self.invoice_doc(order.id), "", None, None));
                connection.submit_invoices
            }
            Some(Some(link)) if !link.erp_name.is_empty() => {
                connection.submit_invoices
                    || link.fingerprint.as_deref() == Some(invoice::SUBMITTED)
            }
            // Uncertain (an earlier attempt's pending link), or not read: the steps decide.
            _ => return pending,
        };
        if connection.record_payments
            && invoice_submitted
            && crate::sync::mapping::is_paid(order)
            && order.total > Decimal::ZERO
            && page.known("order", &id, "Payment Entry") == Some(None)
        {
            pending.push(self.new_link(&self.payment_doc(order.id), "", None, None));
        }
        pending
    }

    /// Whether the sync made (or may have made) an invoice for the order.
    pub async fn may_have_invoice(&self, order_id: u64) -> Result<bool, StoreError> {
        Ok(self
            .link(order_id, "order", "Sales Invoice")
            .await?
            .is_some())
    }

    /// Runs `steps` for every order that has a Sales Order (the `sync invoices|payments|refunds`
    /// commands), reading those orders from WooCommerce a hundred at a time. What fails is handed
    /// over for another attempt.
    pub async fn follow_all(
        &self,
        steps: BillingSteps,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<SyncSummary, SyncError> {
        let links = self
            .ctx
            .store
            .links(self.ctx.connection_id, "order", "Sales Order")
            .await?;
        let sales_orders: BTreeMap<u64, String> = links
            .into_iter()
            .filter(|link| !link.erp_name.is_empty())
            .filter_map(|link| Some((link.woo_id.parse().ok()?, link.erp_name)))
            .collect();
        let ids: Vec<u64> = sales_orders.keys().copied().collect();
        let total = ids.len() as u64;
        let mut summary = SyncSummary::default();
        for chunk in ids.chunks(100) {
            let query = OrderQuery {
                include: chunk.to_vec(),
                orderby: OrderBy::Id,
                ascending: true,
                per_page: 100,
                ..OrderQuery::default()
            };
            let orders = self.ctx.woo.list_all_orders(&query).await?;
            let reports: Vec<Result<OrderReport, StoreError>> = stream::iter(orders)
                .filter(|order| {
                    let cancelled = self.ctx.action_for(&order.status) == OrderAction::Cancel;
                    async move { !cancelled }
                })
                .map(|order| {
                    let sales_order = sales_orders.get(&order.id).cloned().unwrap_or_default();
                    async move {
                        let billing = self
                            .follow_order(&order, &sales_order, steps, Attempt::first())
                            .await?;
                        Ok(OrderReport {
                            order_id: order.id,
                            outcome: Outcome::Unchanged,
                            billing,
                        })
                    }
                })
                .buffer_unordered(self.ctx.concurrency)
                .collect()
                .await;
            let (mut failed, mut succeeded) = (Vec::<FailedOrder>::new(), Vec::new());
            for report in reports {
                let report = report?;
                match report.unfinished() {
                    Some(failure) => failed.push(failure),
                    None => succeeded.push(report.order_id),
                }
                summary.add(report);
            }
            self.ctx
                .retries
                .settle(self.ctx.connection_id, failed, succeeded)
                .await?;
            progress(summary.seen, total);
        }
        Ok(summary)
    }

    // ----- shared -----------------------------------------------------------

    async fn link(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
    ) -> Result<Option<Link>, StoreError> {
        let woo_id = woo_id.to_string();
        if let Some(known) = self
            .page
            .and_then(|page| page.known(woo_kind, &woo_id, doctype))
        {
            return Ok(known);
        }
        self.ctx
            .store
            .link(self.ctx.connection_id, woo_kind, &woo_id, doctype)
            .await
    }

    /// Records a link: in the page when there is one, else in the store.
    async fn put_link(&self, link: Link) -> Result<(), StoreError> {
        match self.page {
            Some(page) => {
                page.link(link);
                Ok(())
            }
            None => self.ctx.store.put_link(&link).await,
        }
    }

    /// Records a link in the store at once (and in the page, which reads it back).
    async fn put_link_now(&self, link: Link) -> Result<(), StoreError> {
        self.ctx.store.put_link(&link).await?;
        if let Some(page) = self.page {
            page.link(link);
        }
        Ok(())
    }

    /// Adds an entry to the sync log: in the page when there is one, else in the store.
    async fn append_log(&self, entry: LogEntry) -> Result<(), StoreError> {
        match self.page {
            Some(page) => {
                page.log(entry);
                Ok(())
            }
            None => self.ctx.store.append_log(&entry).await.map(|_| ()),
        }
    }

    async fn linked_name(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .link(woo_id, woo_kind, doctype)
            .await?
            .map(|link| link.erp_name)
            .filter(|name| !name.is_empty()))
    }

    /// Logs a step (about `woo_kind` `woo_id`, part of order `order_id`) and adds a failure to
    /// the report.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        order_id: u64,
        woo_id: u64,
        woo_kind: &str,
        action: &str,
        step: &Step,
        started: Instant,
        attempt: Attempt,
        report: &mut BillingReport,
    ) -> Result<(), StoreError> {
        let duration_ms = started.elapsed().as_millis() as i64;
        self.log(
            order_id,
            woo_id,
            woo_kind,
            action,
            step,
            duration_ms,
            attempt,
        )
        .await?;
        if let Step::Failed { reason, retryable } = step {
            report.failures.push(BillingFailure {
                step: format!("{action} ({woo_kind} {woo_id})"),
                reason: reason.clone(),
                retryable: *retryable,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn log(
        &self,
        order_id: u64,
        woo_id: u64,
        woo_kind: &str,
        action: &str,
        step: &Step,
        duration_ms: i64,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        let (outcome, message) = match step {
            Step::Made(name) => (LogOutcome::Ok, format!("{name} made")),
            Step::Found(name) => (
                LogOutcome::Ok,
                format!("{name} found in ERPNext under its key (made by an earlier attempt)"),
            ),
            // Polls pass done and not-yet-due orders again and again: not worth a row.
            Step::Exists(_) | Step::Waiting(_) => return Ok(()),
            Step::Failed { reason, .. } => (LogOutcome::Failed, reason.clone()),
        };
        self.append_log(LogEntry {
            connection_id: self.ctx.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: woo_kind.to_string(),
            object_id: woo_id.to_string(),
            order_id: Some(order_id.to_string()),
            action: action.to_string(),
            outcome,
            message: self.ctx.redact(&message),
            request_excerpt: None,
            response_excerpt: None,
            duration_ms,
            attempt: attempt.number(),
        })
        .await?;
        Ok(())
    }
}

/// A decimal as the JSON number ERPNext's numeric fields take; see `mapping::amounts`.
fn number(value: Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().map(Value::from).unwrap_or(Value::Null)
}

/// A money or quantity field, whether ERPNext sent it as a number or a string.
fn decimal_of(value: &Value) -> Decimal {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Decimal::ZERO,
    };
    parse_decimal(&text).unwrap_or_default()
}

/// The gateway's transaction id, or the order number when the gateway gave none (bank transfer).
fn payment_reference(order: &Order) -> String {
    if !order.transaction_id.trim().is_empty() {
        order.transaction_id.trim().to_string()
    } else if !order.number.is_empty() {
        order.number.clone()
    } else {
        order.id.to_string()
    }
}
