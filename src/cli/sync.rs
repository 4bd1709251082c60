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
use crate::jobs::{drain, QueuePolicy};
use crate::store::Store;
use crate::sync::billing::{Billing, BillingSteps};
use crate::sync::mapping::{map_order, ResolvedMasters};
use crate::sync::orders::{Attempt, OrderSync, SyncSummary};
use crate::sync::reconcile::ReconcileReport;
use crate::sync::remotes::CallSettings;

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

fn parse_since(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|date| date.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| {
            format!("`{text}` is not a date; write 2026-11-01 or 2026-11-01T08:00:00 (UTC)")
        })
}

pub async fn run_sync(store: &Store, command: SyncCommand) -> Result<ExitCode, CliError> {
    let (args, steps) = match command {
        SyncCommand::Orders(args) => return run_sync_orders(store, args).await,
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
    let stored = store.connection(&args.connection).await?;
    let sync = OrderSync::prepare(
        store.clone(),
        stored,
        &CallSettings::default(),
        args.concurrency,
    )
    .await
    .map_err(|error| CliError::Failed(error.into()))?;
    let bar = progress_bar(args.json);
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = Billing::new(&sync)
        .follow_all(steps, args.concurrency, &on_progress)
        .await
        .map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    print_summary(&summary, args.json)?;
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

async fn run_sync_orders(store: &Store, args: SyncOrdersArgs) -> Result<ExitCode, CliError> {
    let stored = store.connection(&args.connection).await?;
    let sync = OrderSync::prepare(
        store.clone(),
        stored,
        &CallSettings::default(),
        args.concurrency,
    )
    .await
    .map_err(|error| CliError::Failed(error.into()))?;
    if args.dry_run {
        return dry_run(&sync, &args).await;
    }
    let mut summary = SyncSummary::default();
    if let Some(order_id) = args.order {
        let order = sync
            .woocommerce()
            .get_order(order_id)
            .await
            .map_err(anyhow::Error::from)?;
        for report in sync
            .sync_orders(vec![order], Attempt::first())
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
        summary = sync
            .poll(args.since, &on_progress)
            .await
            .map_err(anyhow::Error::from)?;
        bar.finish_and_clear();
        // Retries that are due from earlier runs.
        let shared = Arc::new(sync);
        drain(
            store,
            shared.clone(),
            &QueuePolicy::default(),
            args.concurrency,
        )
        .await
        .map_err(anyhow::Error::from)?;
    }
    print_summary(&summary, args.json)?;
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
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

pub fn print_summary(summary: &SyncSummary, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(summary);
    }
    println!(
        "orders seen {}: created {}, updated {}, cancelled {}, unchanged {}, skipped {}, failed {}",
        summary.seen,
        summary.created,
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
        if let crate::sync::orders::Outcome::Failed { reason, retryable } = &failure.outcome {
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

async fn dry_run(sync: &OrderSync, args: &SyncOrdersArgs) -> Result<ExitCode, CliError> {
    let orders = match args.order {
        Some(id) => vec![sync
            .woocommerce()
            .get_order(id)
            .await
            .map_err(anyhow::Error::from)?],
        None => {
            let query = match args.since {
                Some(since) => crate::woocommerce::client::OrderQuery::modified_since(since),
                None => crate::woocommerce::client::OrderQuery::default(),
            };
            sync.woocommerce()
                .list_all_orders(&query)
                .await
                .map_err(anyhow::Error::from)?
        }
    };
    let mut documents = Vec::new();
    for order in &orders {
        let action = sync.action_for(&order.status);
        let document = match map_order(order, sync.rules(), &|code: &str| {
            countries::name_for_code(code).map(String::from)
        }) {
            Ok(mapping) => {
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
                match mapping.resolve(&placeholder, sync.rules()) {
                    Ok(sales_order) => {
                        serde_json::json!({"order": order.id, "action": format!("{action:?}"), "sales_order": sales_order})
                    }
                    Err(error) => {
                        serde_json::json!({"order": order.id, "error": error.to_string()})
                    }
                }
            }
            Err(error) => {
                serde_json::json!({"order": order.id, "action": format!("{action:?}"), "error": error.to_string()})
            }
        };
        documents.push(document);
    }
    print_json(&documents)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_reconcile(store: &Store, args: ReconcileArgs) -> Result<ExitCode, CliError> {
    let stored = store.connection(&args.connection).await?;
    let sync = OrderSync::prepare(store.clone(), stored, &CallSettings::default(), 4)
        .await
        .map_err(|error| CliError::Failed(error.into()))?;
    let report = sync.reconcile().await.map_err(anyhow::Error::from)?;
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
