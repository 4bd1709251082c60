//! `woocommerce-sync log` and `retry`: read the sync log, queue failures again.

use std::process::ExitCode;

use clap::Args;

use super::{print_json, CliError};
use crate::store::{LogFilter, Store};

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this connection's entries.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only what is failing now: failed attempts not followed by a success of the same object.
    #[arg(long)]
    pub failed: bool,
    /// Only entries about this WooCommerce order id.
    #[arg(long)]
    pub order: Option<u64>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["failed", "order"])))]
pub struct RetryArgs {
    #[arg(long)]
    pub connection: String,
    /// Queue every failed job of the connection again.
    #[arg(long)]
    pub failed: bool,
    /// Queue this WooCommerce order again.
    #[arg(long)]
    pub order: Option<u64>,
}

pub async fn show_log(store: &Store, args: LogArgs) -> Result<ExitCode, CliError> {
    let connection_id = match &args.connection {
        Some(name) => Some(store.connection(name).await?.id),
        None => None,
    };
    let records = store
        .query_log(&LogFilter {
            connection_id,
            failed_only: args.failed,
            order_id: args.order.map(|id| id.to_string()),
            limit: Some(args.limit.clamp(1, 10_000)),
            ..LogFilter::default()
        })
        .await?;
    if args.json {
        print_json(&records)?;
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        println!("The sync log has no matching entries.");
    }
    for record in records {
        let entry = &record.entry;
        println!(
            "{}  {:<7} {} {} {}  {} (attempt {}, {} ms)",
            record.at.format("%Y-%m-%d %H:%M:%S"),
            entry.outcome.as_str(),
            entry.object_kind,
            entry.object_id,
            entry.action,
            entry.message,
            entry.attempt,
            entry.duration_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn retry(store: &Store, args: RetryArgs) -> Result<ExitCode, CliError> {
    let connection = store.connection(&args.connection).await?;
    let mut queued = 0;
    if args.failed {
        // Parked jobs and those waiting out a backoff alike: one `retry` and one `sync` converge
        // as soon as the cause is gone.
        queued += store.make_failed_due(connection.id).await?;
    }
    if let Some(order_id) = args.order {
        // The order must exist: a retry of nothing would fail unseen.
        let client = crate::sync::context::woocommerce_client(
            &connection.connection,
            &crate::sync::context::CallSettings::default(),
        )
        .map_err(anyhow::Error::from)?;
        match client.get_order(order_id).await {
            Ok(_) => {}
            Err(error) if error.status() == Some(404) => {
                return Err(CliError::Usage(format!(
                    "the store has no order {order_id}; check the number (WooCommerce → Orders)"
                )))
            }
            Err(error) => return Err(CliError::Failed(error.into())),
        }
        crate::jobs::enqueue(
            store,
            connection.id,
            &crate::jobs::Job::Order { order_id },
            chrono::Utc::now(),
        )
        .await?;
        queued += 1;
    }
    println!(
        "{queued} job(s) of `{}` due now; a running service or `sync orders` picks them up.",
        args.connection
    );
    Ok(ExitCode::SUCCESS)
}
