//! The order flow: WooCommerce orders become submitted ERPNext Sales Orders, exactly once per
//! connection, and follow later changes (status, note, cancellation); what follows a Sales Order
//! (invoice, payment, credit notes) is [`super::billing`]'s.
//!
//! Each order is first *planned* (the order, its link and the pure mapping decide create,
//! update, cancel or nothing), then the plan is *applied* once and recorded.
//!
//! Exactly once (invariant 1) rests on three things: the unique `woocommerce_order_key` custom
//! field in ERPNext; the link in our store; and a *pending* link written before every create, so
//! that after any uncertain outcome (timeout, dropped response, crash) the next attempt looks the
//! key up in ERPNext before it creates anything. A duplicate-key rejection from ERPNext (two syncs
//! racing) is resolved the same way.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration as ChronoDuration, NaiveDateTime, Timelike, Utc};
use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::billing::{Billing, BillingSteps, Reversal};
use super::masters::MasterError;
use super::page::Page;
use crate::erpnext::client::ListQuery;
use crate::erpnext::countries;
use crate::erpnext::error::ErpError;
use crate::erpnext::types::{DocStatus, Keyed, SalesOrder as SalesOrderDoc};
use crate::store::{Link, LogEntry, LogOutcome, ProductLink, StoreError};
use crate::sync::context::ConnectionContext;
use crate::sync::keys;
use crate::sync::mapping::{
    self, map_order, OrderAction, OrderMapping, ResolvedMasters, SalesOrder,
};
use crate::sync::report::{
    Attempt, BillingReport, FailedOrder, NoRetries, OrderReport, Outcome, RetryQueue, SyncError,
    SyncSummary,
};
use crate::woocommerce::client::OrderQuery;
use crate::woocommerce::listing::PassCheck;
use crate::woocommerce::types::Order;

/// The cursor of the order poll: the newest `date_modified_gmt` handled.
pub const ORDERS_CURSOR: &str = "orders.modified_gmt";
/// How far before the cursor each poll starts again, for clock skew and
/// orders saved while the previous poll was paging.
pub const POLL_OVERLAP_MINUTES: i64 = 10;
use super::DIRECTION;
/// Pages of orders synced at once during a poll.
const PAGES_IN_FLIGHT: usize = 4;
/// Passes over one poll window before the poll gives up for now (without moving the cursor).
const MAX_POLL_PASSES: usize = 5;

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
    /// The shop order was made for a Sales Order born in ERPNext (its meta says which): link it
    /// to that Sales Order, never create another.
    Adopt {
        sales_order: String,
    },
    Done(Outcome),
}

/// The order flow of one connection.
pub struct OrderFlow<'c> {
    ctx: &'c ConnectionContext,
}

impl<'c> OrderFlow<'c> {
    pub fn new(ctx: &'c ConnectionContext) -> OrderFlow<'c> {
        OrderFlow { ctx }
    }

    /// Polls orders changed since the cursor (or `since`) up to now, page by page, and moves the
    /// cursor to the end of that window once every order in it was handled. Failed orders are
    /// settled with the job queue page by page, so they count as handled. The window is listed in id order and each pass is
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
                .ctx
                .store
                .cursor(self.ctx.connection_id, ORDERS_CURSOR)
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
            per_page: self.ctx.page_size,
            ..OrderQuery::window(start, Some(end))
        };
        let mut summary = SyncSummary::default();
        let mut earlier: Vec<PassCheck> = Vec::new();
        for _ in 0..MAX_POLL_PASSES {
            let (check, pass) = self.poll_pass(&query, &earlier, progress).await?;
            summary.merge(pass);
            match check.verdict() {
                Ok(_) => {
                    self.ctx
                        .store
                        .set_cursor(
                            self.ctx.connection_id,
                            ORDERS_CURSOR,
                            &end.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        )
                        .await?;
                    return Ok(summary);
                }
                Err(reason) => {
                    tracing::info!(connection = self.ctx.connection_id, %reason, "reading the order window again");
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
        let first = self.ctx.woo.list_orders_page(query, 1).await?;
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
                        _ => self.ctx.woo.list_orders_page(query, number).await?,
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
                    let reports = self
                        .sync_orders(unseen, Attempt::first(), self.ctx.retries.as_ref())
                        .await?;
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

    /// One order, re-read from the store (the event that queued it was only a hint) and synced
    /// without settling its outcome: the caller (a job's runner) decides what happens next.
    pub async fn sync_one(
        &self,
        order_id: u64,
        attempt: Attempt,
    ) -> Result<OrderReport, SyncError> {
        let order = self.ctx.woo.get_order(order_id).await?;
        let reports = self.sync_orders(vec![order], attempt, &NoRetries).await?;
        Ok(reports.into_iter().next().unwrap_or(OrderReport {
            order_id,
            outcome: Outcome::Unchanged,
            billing: BillingReport::default(),
        }))
    }

    /// Syncs these orders (one page, or one order from a job): plans each, applies the plans,
    /// logs every change and failure, and settles them with `retries` (the job queue for a poll;
    /// nobody for a job, whose runner decides) before it returns.
    pub async fn sync_orders(
        &self,
        orders: Vec<Order>,
        attempt: Attempt,
        retries: &dyn RetryQueue,
    ) -> Result<Vec<OrderReport>, SyncError> {
        let reports = self.apply_plans(orders, attempt).await?;
        let (mut failed, mut succeeded) = (Vec::<FailedOrder>::new(), Vec::new());
        for report in &reports {
            match report.unfinished() {
                Some(failure) => failed.push(failure),
                None => succeeded.push(report.order_id),
            }
        }
        retries
            .settle(self.ctx.connection_id, failed, succeeded)
            .await?;
        Ok(reports)
    }

    async fn apply_plans(
        &self,
        orders: Vec<Order>,
        attempt: Attempt,
    ) -> Result<Vec<OrderReport>, SyncError> {
        let ids: Vec<String> = orders.iter().map(|order| order.id.to_string()).collect();
        // Every link an order's steps read: its Sales Order's here, the billing documents' in
        // [`Billing`].
        let mut page = Page::fetch(
            &self.ctx.store,
            self.ctx.connection_id,
            "order",
            &["Sales Order", "Sales Invoice", "Payment Entry"],
            &ids,
        )
        .await?;
        let plans: Vec<(Order, Plan)> = orders
            .into_iter()
            .map(|order| {
                let link = page
                    .known("order", &order.id.to_string(), "Sales Order")
                    .flatten();
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
            if let Err(error) = self.ctx.masters.prefetch(&self.ctx.erp, &mappings).await {
                // Without the look-up every create of this batch would guess; fail them all softly.
                let reason = error.to_string();
                let mut reports = Vec::new();
                for (order, _) in &plans {
                    let outcome = Outcome::Failed {
                        reason: reason.clone(),
                        retryable: error.is_retryable(),
                    };
                    self.finish(&page, order, "prefetch_masters", &outcome, None, 0, attempt)
                        .await;
                    reports.push(OrderReport {
                        order_id: order.id,
                        outcome,
                        billing: BillingReport::default(),
                    });
                }
                page.flush(&self.ctx.store).await?;
                return Ok(reports);
            }
        }
        // Written before any create: if an answer is lost, the next attempt
        // looks the order's key up in ERPNext before it creates anything. The invoices and
        // payments the page's billing will insert have theirs written in the same statement.
        let mut pending: Vec<Link> = plans
            .iter()
            .filter(|(_, plan)| matches!(plan, Plan::Create { pending: false, .. }))
            .map(|(order, _)| self.order_link(order, "", None))
            .collect();
        let billing_pending: Vec<Link> = {
            let billing = Billing::in_page(self.ctx, &page);
            plans
                .iter()
                .filter(|(order, plan)| self.will_bill(&page, order, plan))
                .flat_map(|(order, _)| billing.pending_links(order))
                .collect()
        };
        pending.extend(billing_pending);
        // Only where there is no link: never over another process's finished one.
        self.ctx.store.put_pending_links(&pending).await?;
        page.pending_written(&pending);
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
        let page_ref = &page;
        let results: Vec<Vec<OrderReport>> = stream::iter(groups.into_values())
            .map(|group| async move {
                let mut reports = Vec::with_capacity(group.len());
                for (order, plan) in group {
                    let outcome = self.execute(page_ref, &order, plan, attempt).await;
                    let billing = self
                        .follow_with_billing(page_ref, &order, &outcome, attempt)
                        .await;
                    reports.push(OrderReport {
                        order_id: order.id,
                        outcome,
                        billing,
                    });
                }
                reports
            })
            .buffer_unordered(self.ctx.concurrency)
            .collect()
            .await;
        page.flush(&self.ctx.store).await?;
        let mut reports: Vec<OrderReport> = results.into_iter().flatten().collect();
        reports.sort_by_key(|report| report.order_id);
        Ok(reports)
    }

    /// Invoice, payment and credit notes of an order whose Sales Order now exists
    /// (see [`crate::sync::billing`]).
    async fn follow_with_billing(
        &self,
        page: &Page,
        order: &Order,
        outcome: &Outcome,
        attempt: Attempt,
    ) -> BillingReport {
        match self.billing_after(page, order, outcome, attempt).await {
            Ok(report) => report,
            Err(error) => BillingReport::store_failure(&error),
        }
    }

    async fn billing_after(
        &self,
        page: &Page,
        order: &Order,
        outcome: &Outcome,
        attempt: Attempt,
    ) -> Result<BillingReport, StoreError> {
        // A Sales Order born in ERPNext is invoiced and paid there, not from the shop.
        if self.born_in_erpnext(order).is_some() {
            return Ok(BillingReport::default());
        }
        let sales_order = match outcome {
            // A Sales Order made just now has no invoice yet; nothing to follow until one is due.
            Outcome::Created { .. } | Outcome::Found { .. }
                if !mapping::invoice_due(self.ctx.connection.invoice_trigger, order) =>
            {
                return Ok(BillingReport::default())
            }
            Outcome::Created { sales_order }
            | Outcome::Found { sales_order }
            | Outcome::Updated { sales_order } => sales_order.clone(),
            Outcome::Unchanged if self.ctx.action_for(&order.status) != OrderAction::Cancel => {
                let billing = Billing::in_page(self.ctx, page);
                match billing.sales_order_of(order.id).await? {
                    Some(sales_order) => sales_order,
                    None => return Ok(BillingReport::default()),
                }
            }
            _ => return Ok(BillingReport::default()),
        };
        Billing::in_page(self.ctx, page)
            .follow_order(order, &sales_order, BillingSteps::ALL, attempt)
            .await
    }

    /// Whether [`OrderFlow::billing_after`] follows the order's billing once its plan ran: it
    /// has or is about to have a Sales Order made from the shop.
    fn will_bill(&self, page: &Page, order: &Order, plan: &Plan) -> bool {
        if self.born_in_erpnext(order).is_some() {
            return false;
        }
        match plan {
            Plan::Create { .. } | Plan::Update { .. } => true,
            Plan::Done(Outcome::Unchanged) => page
                .known("order", &order.id.to_string(), "Sales Order")
                .flatten()
                .is_some_and(|link| !link.erp_name.is_empty()),
            _ => false,
        }
    }

    /// The Sales Order born in ERPNext this shop order was made for, when it is one of this
    /// connection's (see [`crate::sync::erp_to_woo::erpnext_orders`]).
    fn born_in_erpnext<'o>(&self, order: &'o Order) -> Option<&'o str> {
        let key = order.meta(keys::SHOP_ORDER_META)?.as_str()?;
        keys::sales_order_of_shop_order(self.ctx.name(), key)
    }

    /// What the order's status and our links say to do.
    fn plan(&self, order: &Order, link: Option<Link>) -> Plan {
        let linked = link.as_ref().filter(|link| !link.erp_name.is_empty());
        if linked.is_none() {
            if let Some(sales_order) = self.born_in_erpnext(order) {
                return Plan::Adopt {
                    sales_order: sales_order.to_string(),
                };
            }
        }
        match (self.ctx.action_for(&order.status), linked) {
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
                match map_order(order, &self.ctx.rules, &|code: &str| {
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

    async fn execute(&self, page: &Page, order: &Order, plan: Plan, attempt: Attempt) -> Outcome {
        let started = Instant::now();
        let (action, outcome, excerpt) = match plan {
            Plan::Done(outcome) => ("check_order", outcome, None),
            Plan::Create { mapping, pending } => {
                let (outcome, excerpt) = self
                    .create(page, order, &mapping, pending || attempt.is_retry())
                    .await;
                ("create_sales_order", outcome, excerpt)
            }
            Plan::Adopt { sales_order } => {
                page.link(self.order_link(order, &sales_order, Some(order.total)));
                ("link_erpnext_order", Outcome::Found { sales_order }, None)
            }
            Plan::Update { sales_order } => (
                "update_sales_order",
                self.update(page, order, &sales_order).await,
                None,
            ),
            Plan::Cancel { sales_order } => (
                "cancel_sales_order",
                self.cancel(page, order, sales_order, attempt).await,
                None,
            ),
        };
        let elapsed = started.elapsed().as_millis() as i64;
        self.finish(page, order, action, &outcome, excerpt, elapsed, attempt)
            .await;
        outcome
    }

    /// Logs the attempt: changes and failures; a skipped order once per reason (polls see it
    /// again and again); what is unchanged is not worth a row.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        page: &Page,
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
            Outcome::Found { sales_order } if action == "link_erpnext_order" => (
                LogOutcome::Ok,
                format!("made in the shop for Sales Order {sales_order}, born in ERPNext; linked to it"),
            ),
            Outcome::Found { sales_order } => (
                LogOutcome::Ok,
                format!("Sales Order {sales_order} found in ERPNext under the order's key (made by an earlier attempt)"),
            ),
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
        if !attempt.is_retry() {
            match outcome {
                Outcome::Unchanged => return,
                Outcome::Skipped { .. } => {
                    let said = self
                        .ctx
                        .store
                        .latest_log(self.ctx.connection_id, "order", &order.id.to_string())
                        .await;
                    if matches!(said, Ok(Some((LogOutcome::Skipped, ref said))) if *said == message)
                    {
                        return;
                    }
                }
                _ => {}
            }
        }
        page.log(LogEntry {
            connection_id: self.ctx.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: "order".to_string(),
            object_id: order.id.to_string(),
            order_id: Some(order.id.to_string()),
            action: action.to_string(),
            outcome: log_outcome,
            message: self.ctx.redact(&message),
            request_excerpt: request_excerpt.map(|text| self.ctx.redact(&excerpt(&text))),
            response_excerpt: None,
            duration_ms,
            attempt: attempt.number(),
        });
    }

    async fn create(
        &self,
        page: &Page,
        order: &Order,
        mapping: &OrderMapping,
        uncertain: bool,
    ) -> (Outcome, Option<String>) {
        let key = keys::sales_order(self.ctx.name(), order.id);
        if uncertain {
            match self.find_by_key(&key).await {
                Ok(Some(found)) => return (self.linked(page, order, &found, false), None),
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
        let outcome = match self.ctx.erp.insert::<Keyed>("Sales Order", &body).await {
            Ok(created) => self.linked(page, order, &created, true),
            // Another sync created it first: link that one.
            Err(error) if error.is_duplicate() => match self.find_by_key(&key).await {
                Ok(Some(found)) => self.linked(page, order, &found, false),
                Ok(None) => failed_erp(error),
                Err(lookup) => failed_erp(lookup),
            },
            Err(error) => failed_erp(error),
        };
        (outcome, Some(request))
    }

    async fn sales_order_body(&self, mapping: &OrderMapping) -> Result<SalesOrder, MasterError> {
        let created = self
            .ctx
            .masters
            .ensure_items(&self.ctx.erp, mapping, &self.ctx.rules)
            .await?;
        // An Item made for a shop product is linked to it at once (the stock push needs no link
        // run first). ERPNext keeps stock of a new Item unless told otherwise.
        let links: Vec<ProductLink> = created
            .iter()
            .filter(|draft| draft.woocommerce_product_id != 0)
            .map(|draft| ProductLink {
                item_code: draft.item_code.clone(),
                product_id: draft.woocommerce_product_id,
                variation_id: draft.woocommerce_variation_id,
                is_stock_item: true,
                pushed_stock: None,
                pushed_prices: None,
            })
            .collect();
        if !links.is_empty() {
            self.ctx
                .store
                .add_product_links(self.ctx.connection_id, &links)
                .await?;
        }
        let buyer = self
            .ctx
            .masters
            .resolve_buyer(&self.ctx.erp, mapping)
            .await?;
        let exchange_rate = if mapping.needs_exchange_rate(&self.ctx.rules) {
            self.ctx
                .exchange_rate(
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
            &self.ctx.rules,
        )?)
    }

    async fn update(&self, page: &Page, order: &Order, sales_order: &str) -> Outcome {
        let changes = json!({
            "woocommerce_status": order.status,
            "woocommerce_customer_note": mapping::fit_bytes(&order.customer_note, mapping::TEXT_BYTES),
        });
        match self
            .ctx
            .erp
            .update("Sales Order", sales_order, &changes)
            .await
        {
            Ok(_) => {
                page.link(self.order_link(order, sales_order, None));
                Outcome::Updated {
                    sales_order: sales_order.to_string(),
                }
            }
            Err(error) => failed_erp(error),
        }
    }

    async fn cancel(
        &self,
        page: &Page,
        order: &Order,
        sales_order: Option<String>,
        attempt: Attempt,
    ) -> Outcome {
        let key = keys::sales_order(self.ctx.name(), order.id);
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
        let document = match self
            .ctx
            .erp
            .get::<SalesOrderDoc>("Sales Order", &name)
            .await
        {
            Ok(document) => document,
            Err(error) => return failed_erp(error),
        };
        let billed = document.per_billed > Decimal::ZERO;
        if document.docstatus == DocStatus::Cancelled {
            page.link(self.order_link(order, &name, None));
            return Outcome::Unchanged;
        }
        // A credit note may have brought `per_billed` back to 0 already: our link says invoiced.
        let billing = Billing::in_page(self.ctx, page);
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
                Reversal::CreditNote(credit_note) => match self.ctx.erp.close_sales_order(&name).await {
                    Ok(()) => {
                        page.link(self.order_link(order, &name, None));
                        Outcome::Reversed {
                            sales_order: name,
                            credit_note,
                        }
                    }
                    Err(error) => failed_erp(error),
                },
                Reversal::NothingLeft => match self.ctx.erp.close_sales_order(&name).await {
                    Ok(()) => {
                        page.link(self.order_link(order, &name, None));
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
                Reversal::NoInvoice => self.cancel_sales_order(page, order, name).await,
                Reversal::Failed { reason, retryable } => Outcome::Failed { reason, retryable },
            };
        }
        self.cancel_sales_order(page, order, name).await
    }

    async fn cancel_sales_order(&self, page: &Page, order: &Order, name: String) -> Outcome {
        match self.ctx.erp.cancel("Sales Order", &name).await {
            Ok(_) => {
                page.link(self.order_link(order, &name, None));
                Outcome::Cancelled { sales_order: name }
            }
            Err(error) => failed_erp(error),
        }
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<Keyed>, ErpError> {
        let rows: Vec<Keyed> = self
            .ctx
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

    /// Records the Sales Order made now or found for `order`, and checks its total.
    fn linked(&self, page: &Page, order: &Order, found: &Keyed, made: bool) -> Outcome {
        page.link(self.order_link(order, &found.name, found.grand_total));
        match found.grand_total {
            Some(total) if total != order.total => Outcome::Failed {
                reason: format!(
                    "Sales Order {} totals {total} in ERPNext but WooCommerce says {}; check the tax and shipping accounts",
                    found.name, order.total
                ),
                retryable: false,
            },
            _ if made => Outcome::Created {
                sales_order: found.name.clone(),
            },
            _ => Outcome::Found {
                sales_order: found.name.clone(),
            },
        }
    }

    /// The link of `order` to its Sales Order `name` (`""` while a create is pending).
    fn order_link(&self, order: &Order, name: &str, amount: Option<Decimal>) -> Link {
        Link {
            connection_id: self.ctx.connection_id,
            woo_kind: "order".to_string(),
            woo_id: order.id.to_string(),
            erp_doctype: "Sales Order".to_string(),
            erp_name: name.to_string(),
            fingerprint: (!name.is_empty()).then(|| order_fingerprint(order)),
            amount,
        }
    }
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
pub fn order_fingerprint(order: &Order) -> String {
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
