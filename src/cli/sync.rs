//! `woocommerce-sync sync orders|invoices|payments|refunds|all` and `reconcile`: the one-shot commands for
//! scripts and cron.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::{print_json, CliError};
use crate::erpnext::countries;
use crate::jobs::{drain, Dispatcher, Job, Queue, QueuePolicy};
use crate::metrics::Metrics;
use crate::store::{JobState, Store};
use crate::sync::context::{CallSettings, ConnectionContext};
use crate::sync::erp_to_woo::erpnext_orders::{
    ErpnextOrderFlow, ShopOrderOutcome, ShopOrderSummary,
};
use crate::sync::erp_to_woo::write_back::{StatusFlow, WriteBackOutcome, WriteBackSummary};
use crate::sync::mapping::{map_order, OrderAction, OrderMapping, ResolvedMasters};
use crate::sync::reconcile::{reconcile, ReconcileReport};
use crate::sync::report::{Attempt, Outcome, SyncError, SyncSummary};
use crate::sync::woo_to_erp::billing::{Billing, BillingSteps};
use crate::sync::woo_to_erp::orders::OrderFlow;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// WooCommerce orders → ERPNext Sales Orders (and their invoices, payments, credit notes).
    Orders(SyncOrdersArgs),
    /// Sales Invoices for every synced order past the invoice trigger.
    Invoices(SyncBillingArgs),
    /// Payment Entries for every paid, invoiced order.
    Payments(SyncBillingArgs),
    /// Credit notes (and refund payments) for every refund of an invoiced order.
    Refunds(SyncBillingArgs),
    /// Orders, then invoices, payments and refunds of every synced order.
    All(SyncBillingArgs),
    /// ERPNext → WooCommerce: each linked Sales Order's status, shipments (carrier, tracking)
    /// and invoices written back to its WooCommerce order.
    Status(SyncStatusArgs),
    /// ERPNext → WooCommerce: submitted Sales Orders made in ERPNext whose `WooCommerce Store`
    /// names the connection, created in the shop once each.
    ErpnextOrders(SyncStatusArgs),
    /// ERPNext → WooCommerce: the stock of every linked stock item (of the connection's
    /// warehouses, less what the shop sold that ERPNext does not reserve yet), changed ones only.
    Stock(super::catalogue::SyncStockArgs),
    /// ERPNext → WooCommerce: the regular price (the connection's price list) and, with a sale
    /// price list, the sale price and dates of every linked product, changed ones only.
    Prices(super::catalogue::SyncPricesArgs),
}

#[derive(Debug, Args)]
pub struct SyncStatusArgs {
    #[arg(long)]
    pub connection: String,
    /// Read Sales Orders modified since this time (ERPNext's site time) instead of the stored
    /// cursor.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<NaiveDateTime>,
    /// Follow only this Sales Order.
    #[arg(long)]
    pub sales_order: Option<String>,
    /// Print what would be written to WooCommerce, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Sales Orders in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncBillingArgs {
    #[arg(long)]
    pub connection: String,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncOrdersArgs {
    #[arg(long)]
    pub connection: String,
    /// Read orders modified since this UTC date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)
    /// instead of the stored cursor.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<NaiveDateTime>,
    /// Sync only this order.
    #[arg(long)]
    pub order: Option<u64>,
    /// Print the Sales Orders that would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[arg(long)]
    pub connection: String,
    #[arg(long)]
    pub json: bool,
}

/// Dates as people type them: a day, a time with `T` or a space, with or without seconds, in
/// UTC unless an offset (`Z`, `+02:00`) says otherwise.
pub fn parse_since(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    if let Ok(moment) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(moment.naive_utc());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ] {
        if let Ok(moment) = chrono::DateTime::parse_from_str(text, format) {
            return Ok(moment.naive_utc());
        }
    }
    let local = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(moment) = NaiveDateTime::parse_from_str(local, format) {
            return Ok(moment);
        }
    }
    NaiveDate::parse_from_str(local, "%Y-%m-%d")
        .map(|date| date.and_time(chrono::NaiveTime::MIN))
        .map_err(|_| {
            format!(
                "`{text}` is not a date; write 2026-11-01, 2026-11-01 08:00, 2026-11-01T08:00:00Z \
                 or 2026-11-01T10:00:00+02:00 (UTC unless an offset is given)"
            )
        })
}

/// A connection's context for a one-shot command: what fails is settled with the job queue, so
/// the service (or the next run) retries it.
pub(super) async fn context(
    store: &Store,
    name: &str,
    concurrency: usize,
) -> Result<ConnectionContext, CliError> {
    let stored = store.connection(name).await?;
    Ok(
        ConnectionContext::prepare(store.clone(), stored, &CallSettings::default(), concurrency)
            .await
            .map_err(|error| match error {
                SyncError::Setup(message) => CliError::Usage(message),
                other => CliError::Failed(other.into()),
            })?
            .handing_over_to(Queue::new(store.clone(), QueuePolicy::default())),
    )
}

pub async fn run_sync(store: &Store, command: SyncCommand) -> Result<ExitCode, CliError> {
    let (args, steps) = match command {
        SyncCommand::Orders(args) => return run_sync_orders(store, args).await,
        SyncCommand::Status(args) => return run_sync_status(store, args).await,
        SyncCommand::ErpnextOrders(args) => return run_sync_erpnext_orders(store, args).await,
        SyncCommand::Stock(args) => return super::catalogue::run_sync_stock(store, args).await,
        SyncCommand::Prices(args) => return super::catalogue::run_sync_prices(store, args).await,
        SyncCommand::Invoices(args) => (
            args,
            BillingSteps {
                invoices: true,
                payments: false,
                refunds: false,
            },
        ),
        SyncCommand::Payments(args) => (
            args,
            BillingSteps {
                invoices: false,
                payments: true,
                refunds: false,
            },
        ),
        SyncCommand::Refunds(args) => (
            args,
            BillingSteps {
                invoices: false,
                payments: false,
                refunds: true,
            },
        ),
        SyncCommand::All(args) => {
            let orders = SyncOrdersArgs {
                connection: args.connection.clone(),
                since: None,
                order: None,
                dry_run: false,
                concurrency: args.concurrency,
                json: args.json,
            };
            let code = run_sync_orders(store, orders).await?;
            if code != ExitCode::SUCCESS {
                return Ok(code);
            }
            (args, BillingSteps::ALL)
        }
    };
    let ctx = context(store, &args.connection, args.concurrency).await?;
    let bar = progress_bar(args.json);
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = Billing::new(&ctx)
        .follow_all(steps, &on_progress)
        .await
        .map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    finish(&ctx, summary, None, args.json).await
}

async fn run_sync_orders(store: &Store, args: SyncOrdersArgs) -> Result<ExitCode, CliError> {
    let ctx = context(store, &args.connection, args.concurrency).await?;
    if args.dry_run {
        return dry_run(&ctx, &args).await;
    }
    let flow = OrderFlow::new(&ctx);
    let mut summary = SyncSummary::default();
    let mut retried = None;
    if let Some(order_id) = args.order {
        let order = ctx
            .woo
            .get_order(order_id)
            .await
            .map_err(anyhow::Error::from)?;
        for report in flow
            .sync_orders(vec![order], Attempt::first(), ctx.retries.as_ref())
            .await
            .map_err(anyhow::Error::from)?
        {
            summary.add(report);
        }
    } else {
        let bar = progress_bar(args.json);
        let on_progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        summary = flow
            .poll(args.since, &on_progress)
            .await
            .map_err(anyhow::Error::from)?;
        bar.finish_and_clear();
        // The retries of this connection's orders that are due now (and no other connection's
        // jobs, nor the service's polls).
        let dispatcher = Arc::new(Dispatcher::new(
            store.clone(),
            CallSettings::default(),
            args.concurrency,
            QueuePolicy::default(),
            Arc::new(Metrics::default()),
        ));
        retried = Some(
            drain(
                store,
                dispatcher,
                &QueuePolicy::default(),
                args.concurrency,
                &Job::order_scope(ctx.connection_id),
            )
            .await
            .map_err(anyhow::Error::from)?,
        );
    }
    finish(&ctx, summary, retried, args.json).await
}

/// `sync status`: exit 0 when every Sales Order was followed, 3 when some failed (logged; the
/// next run or poll reads them again), 1 when ERPNext or the shop could not be read at all.
async fn run_sync_status(store: &Store, args: SyncStatusArgs) -> Result<ExitCode, CliError> {
    let ctx = context(store, &args.connection, args.concurrency).await?;
    let flow = if args.dry_run {
        StatusFlow::new(&ctx).dry_run()
    } else {
        StatusFlow::new(&ctx)
    };
    let summary = match &args.sales_order {
        Some(name) => {
            let report = flow.follow_sales_order(name).await;
            // The Sales Order itself could not be read: ERPNext is down (1), or no such one (2).
            if let (WriteBackOutcome::Failed { reason, retryable }, None) =
                (&report.outcome, report.order_id)
            {
                return Err(unread_sales_order(name, reason, *retryable));
            }
            let mut summary = WriteBackSummary::default();
            summary.add(report);
            summary
        }
        None => flow.poll(args.since).await.map_err(anyhow::Error::from)?,
    };
    if args.json || args.dry_run {
        print_json(&summary)?;
    }
    if !args.json {
        let counts = format!(
            "sales orders seen {}: {} {} (statuses {}, notes {}), unchanged {}, failed {}",
            summary.seen,
            if args.dry_run {
                "would write"
            } else {
                "written"
            },
            summary.written,
            summary.statuses_written,
            summary.notes_written,
            summary.unchanged,
            summary.failed
        );
        let failures = summary
            .reports
            .iter()
            .filter_map(|report| match &report.outcome {
                WriteBackOutcome::Failed { reason, .. } => {
                    Some(format!("  Sales Order {}: {reason}", report.sales_order))
                }
                _ => None,
            });
        print_counts(args.dry_run, &counts, failures);
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// Counts and failures of an ERPNext → WooCommerce run: a dry run's go to stderr, as the other
/// dry runs' summaries do.
fn print_counts(dry_run: bool, counts: &str, failures: impl Iterator<Item = String>) {
    if dry_run {
        eprintln!("{counts}");
        failures.for_each(|line| eprintln!("{line}"));
    } else {
        println!("{counts}");
        failures.for_each(|line| println!("{line}"));
    }
}

/// `sync erpnext-orders`: exit 0 when every Sales Order born in ERPNext is in the shop, 3 when
/// some failed (logged; the next run or poll tries them again, looking the shop up first), 1 when
/// ERPNext or the shop could not be read at all.
async fn run_sync_erpnext_orders(
    store: &Store,
    args: SyncStatusArgs,
) -> Result<ExitCode, CliError> {
    let ctx = context(store, &args.connection, args.concurrency).await?;
    let flow = if args.dry_run {
        ErpnextOrderFlow::new(&ctx).dry_run()
    } else {
        ErpnextOrderFlow::new(&ctx)
    };
    let summary = match &args.sales_order {
        Some(name) => {
            let report = flow.create_for(name).await;
            if let (ShopOrderOutcome::Failed { reason, retryable }, None) =
                (&report.outcome, report.order_id)
            {
                if report.sales_order_unread() {
                    return Err(unread_sales_order(name, reason, *retryable));
                }
            }
            let mut summary = ShopOrderSummary::default();
            summary.add(report);
            summary
        }
        None => flow.poll(args.since).await.map_err(anyhow::Error::from)?,
    };
    if args.json || args.dry_run {
        print_json(&summary)?;
    }
    if !args.json {
        let counts = format!(
            "sales orders born in ERPNext seen {}: {} {}, found in the shop {}, already there {}, failed {}",
            summary.seen,
            if args.dry_run { "would create" } else { "created" },
            summary.created,
            summary.found,
            summary.unchanged,
            summary.failed
        );
        let failures = summary
            .reports
            .iter()
            .filter_map(|report| match &report.outcome {
                ShopOrderOutcome::Failed { reason, .. } => {
                    Some(format!("  Sales Order {}: {reason}", report.sales_order))
                }
                _ => None,
            });
        print_counts(args.dry_run, &counts, failures);
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// What a run leaves waiting, told with the run's own counts; the exit code says "some orders
/// failed" (3) while any order waits for a retry or is parked.
#[derive(Debug, serde::Serialize)]
struct RunReport {
    #[serde(flatten)]
    summary: SyncSummary,
    /// Earlier failures whose retries came due and ran now.
    retries_run: Option<RetriesRun>,
    waiting_for_retry: i64,
    next_retry_at: Option<chrono::DateTime<chrono::Utc>>,
    parked: i64,
}

#[derive(Debug, serde::Serialize)]
struct RetriesRun {
    succeeded: u64,
    retried: u64,
    parked: u64,
}

async fn finish(
    ctx: &ConnectionContext,
    summary: SyncSummary,
    retried: Option<crate::jobs::DrainReport>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let (waiting, next) = ctx.store.waiting_retries(ctx.connection_id).await?;
    let parked = ctx
        .store
        .count_jobs(ctx.connection_id, JobState::Failed)
        .await?;
    let failed = summary.failed > 0 || waiting > 0 || parked > 0;
    let report = RunReport {
        summary,
        retries_run: retried.map(|drained| RetriesRun {
            succeeded: drained.succeeded,
            retried: drained.retried,
            parked: drained.parked,
        }),
        waiting_for_retry: waiting,
        next_retry_at: next,
        parked,
    };
    if json {
        print_json(&report)?;
    } else {
        print_summary(&report.summary)?;
        if let Some(run) = &report.retries_run {
            if run.succeeded + run.retried + run.parked > 0 {
                println!(
                    "earlier failures retried: {} done, {} to try again, {} parked",
                    run.succeeded, run.retried, run.parked
                );
            }
        }
        if waiting > 0 {
            let when = next
                .map(|at| format!(", the next at {}", at.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default();
            println!(
                "{waiting} order(s) wait for a retry{when} (`retry --failed` makes them due now)"
            );
        }
        if parked > 0 {
            println!(
                "{parked} order(s) parked until the cause is fixed (see `log --failed`, then `retry --failed`)"
            );
        }
    }
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} orders {pos}/{len} [{bar:40}] {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn print_summary(summary: &SyncSummary) -> Result<(), CliError> {
    println!(
        "orders seen {}: created {}, found made already {}, updated {}, cancelled {}, unchanged {}, skipped {}, failed {}",
        summary.seen,
        summary.created,
        summary.found,
        summary.updated,
        summary.cancelled,
        summary.unchanged,
        summary.skipped,
        summary.failed
    );
    println!(
        "invoices created {}, payments {}, credit notes {}, refund payments {}",
        summary.invoices_created,
        summary.payments_created,
        summary.credit_notes_created,
        summary.refund_payments_created
    );
    for failure in &summary.failures {
        if let Outcome::Failed { reason, retryable } = &failure.outcome {
            let when = if *retryable {
                "will be retried"
            } else {
                "fix, then `retry`"
            };
            println!("  order {}: {reason} ({when})", failure.order_id);
        }
        for step in &failure.billing.failures {
            let when = if step.retryable {
                "will be retried"
            } else {
                "fix, then `retry`"
            };
            println!(
                "  order {}: {}: {} ({when})",
                failure.order_id, step.step, step.reason
            );
        }
    }
    Ok(())
}

/// Plans what a run would write, with the look-ups a run makes (read-only) and none of its
/// writes: the planned documents as JSON on stdout, then the counts as the run would report them
/// on stderr; exit 3 when some orders would fail, as the run would.
async fn dry_run(ctx: &ConnectionContext, args: &SyncOrdersArgs) -> Result<ExitCode, CliError> {
    let orders = match args.order {
        Some(id) => vec![ctx.woo.get_order(id).await.map_err(anyhow::Error::from)?],
        None => {
            let query = match args.since {
                Some(since) => crate::woocommerce::client::OrderQuery::modified_since(since),
                None => crate::woocommerce::client::OrderQuery::default(),
            };
            ctx.woo
                .list_all_orders(&query)
                .await
                .map_err(anyhow::Error::from)?
        }
    };
    let country = |code: &str| countries::name_for_code(code).map(String::from);
    let planned: Vec<_> = orders
        .iter()
        .map(|order| {
            let action = ctx.action_for(&order.status);
            let mapping = match action {
                OrderAction::Import => Some(map_order(order, &ctx.rules, &country)),
                OrderAction::Cancel | OrderAction::Ignore => None,
            };
            (order, action, mapping)
        })
        .collect();
    // The run's own look-ups: which items and buyers ERPNext already has.
    let mappings: Vec<&OrderMapping> = planned
        .iter()
        .filter_map(|(_, _, mapping)| mapping.as_ref()?.as_ref().ok())
        .collect();
    ctx.masters
        .prefetch(&ctx.erp, &mappings)
        .await
        .map_err(anyhow::Error::from)?;
    let (mut importing, mut cancelling, mut skipping, mut failing) = (0, 0, 0, 0);
    let mut documents = Vec::new();
    for (order, action, mapping) in planned {
        let document = match mapping {
            None if action == OrderAction::Cancel => {
                cancelling += 1;
                serde_json::json!({"order": order.id, "action": "Cancel",
                    "note": "its Sales Order, if there is one, is cancelled (or closed when invoiced)"})
            }
            None => {
                skipping += 1;
                serde_json::json!({"order": order.id, "action": "Ignore",
                    "note": format!("status `{}` is not imported", order.status)})
            }
            Some(Err(error)) => {
                failing += 1;
                serde_json::json!({"order": order.id, "action": "Import", "error": error.to_string()})
            }
            Some(Ok(mapping)) => {
                let placeholder = ResolvedMasters {
                    customer: format!("<Customer {}>", mapping.customer.customer_name),
                    billing_address: mapping
                        .billing_address
                        .as_ref()
                        .map(|_| "<billing Address>".to_string()),
                    shipping_address: mapping
                        .shipping_address
                        .as_ref()
                        .map(|_| "<shipping Address>".to_string()),
                    exchange_rate: None,
                };
                let items = ctx.masters.planned_items(&mapping, &ctx.rules).await;
                match (items, mapping.resolve(&placeholder, &ctx.rules)) {
                    (Ok(new_items), Ok(sales_order)) => {
                        importing += 1;
                        serde_json::json!({"order": order.id, "action": "Import",
                            "new_items": new_items, "sales_order": sales_order})
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        failing += 1;
                        serde_json::json!({"order": order.id, "action": "Import", "error": error.to_string()})
                    }
                }
            }
        };
        documents.push(document);
    }
    print_json(&documents)?;
    eprintln!(
        "dry run, nothing written: of {} orders, {importing} would be imported (or kept up to date), \
         {cancelling} cancelled, {skipping} skipped (status not imported), {failing} would fail",
        orders.len()
    );
    Ok(if failing > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn run_reconcile(store: &Store, args: ReconcileArgs) -> Result<ExitCode, CliError> {
    let ctx = context(store, &args.connection, 4).await?;
    let report = reconcile(&ctx).await.map_err(anyhow::Error::from)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_reconcile(&report);
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}

pub fn print_reconcile(report: &ReconcileReport) {
    println!(
        "reconcile: {} imported orders, {} submitted Sales Orders: {}",
        report.orders_checked,
        report.sales_orders_checked,
        if report.is_clean() {
            "all match to the cent".to_string()
        } else {
            format!("{} problem(s)", report.problem_count())
        }
    );
    for order in &report.missing_sales_orders {
        println!("  order {order}: no Sales Order");
    }
    for mismatch in &report.total_mismatches {
        println!(
            "  order {}: WooCommerce total {} but {} grand total {}",
            mismatch.order_id,
            mismatch.woocommerce_total,
            mismatch.sales_order,
            mismatch.erpnext_grand_total
        );
    }
    for duplicate in &report.duplicates {
        println!(
            "  order {}: {} Sales Orders: {}",
            duplicate.order_id,
            duplicate.sales_orders.len(),
            duplicate.sales_orders.join(", ")
        );
    }
    for open in &report.not_cancelled {
        println!(
            "  order {}: cancelled in WooCommerce, {} still submitted and its invoice not reversed",
            open.order_id, open.sales_order
        );
    }
    for order in &report.missing_invoices {
        println!("  order {order}: due an invoice, has none");
    }
    for duplicate in &report.duplicate_invoices {
        println!(
            "  order {}: {} Sales Invoices: {}",
            duplicate.order_id,
            duplicate.sales_invoices.len(),
            duplicate.sales_invoices.join(", ")
        );
    }
    for mismatch in &report.invoice_total_mismatches {
        println!(
            "  order {}: WooCommerce total {} but {} grand total {}",
            mismatch.order_id,
            mismatch.woocommerce_total,
            mismatch.sales_invoice,
            mismatch.erpnext_grand_total
        );
    }
    for order in &report.missing_payments {
        println!("  order {order}: paid in WooCommerce, no Payment Entry");
    }
    for lag in &report.status_lags {
        println!(
            "  order {}: `{}` in WooCommerce, but {} is {} in ERPNext (`{}` expected)",
            lag.order_id, lag.woocommerce_status, lag.sales_order, lag.erpnext_status, lag.expected
        );
    }
    for difference in &report.catalogue_differences {
        let product = if difference.variation_id == 0 {
            format!("product {}", difference.product_id)
        } else {
            format!(
                "variation {} of product {}",
                difference.variation_id, difference.product_id
            )
        };
        println!(
            "  item {} ({product}): {} {} in WooCommerce, {} from ERPNext (`sync {}` writes ERPNext's)",
            difference.item_code,
            difference.field,
            difference.shop,
            difference.erpnext,
            if difference.field == "stock" { "stock --all" } else { "prices --all" }
        );
    }
    for refund in &report.refunds_without_credit_note {
        println!(
            "  order {} refund {}: refunded {}, {} credit note(s) giving back {}",
            refund.order_id,
            refund.refund_id,
            refund.refunded,
            refund.credit_notes,
            refund.credited
        );
    }
}

/// A Sales Order named on the command line that could not be read: ERPNext is down (exit 1),
/// or there is no such one (exit 2).
fn unread_sales_order(name: &str, reason: &str, retryable: bool) -> CliError {
    if retryable {
        CliError::Failed(anyhow::anyhow!("Sales Order {name}: {reason}"))
    } else {
        CliError::Usage(format!("Sales Order {name}: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_the_forms_people_type() {
        let at = |text| parse_since(text).unwrap().to_string();
        assert_eq!(at("2026-12-01"), "2026-12-01 00:00:00");
        assert_eq!(at("2026-12-01T10:00:00"), "2026-12-01 10:00:00");
        assert_eq!(at("2026-12-01T10:00:00Z"), "2026-12-01 10:00:00");
        assert_eq!(at("2026-12-01 10:00:00"), "2026-12-01 10:00:00");
        assert_eq!(at("2026-12-01 10:00"), "2026-12-01 10:00:00");
        assert_eq!(at("2026-12-01T10:00"), "2026-12-01 10:00:00");
        assert_eq!(at("2026-12-01T12:00:00+02:00"), "2026-12-01 10:00:00");
        assert_eq!(at(" 2026-12-01T10:00:00.250Z "), "2026-12-01 10:00:00.250");
        let refused = parse_since("yesterday").unwrap_err();
        assert!(refused.contains("`yesterday` is not a date"), "{refused}");
        assert!(parse_since("2026-13-01").is_err());
    }
}
