//! `woocommerce-sync log` and `retry`: read the sync log, queue failures again.

use std::process::ExitCode;

use clap::Args;

use super::{print_json, CliError};
use crate::store::{JobState, LogFilter, Store};

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this connection's entries.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only failed attempts.
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
            object_kind: args.order.map(|_| "order".to_string()),
            object_id: args.order.map(|id| id.to_string()),
            limit: Some(args.limit.clamp(1, 10_000)),
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
    let now = chrono::Utc::now();
    let mut queued = 0;
    if args.failed {
        for job in store.jobs_in_state(connection.id, JobState::Failed).await? {
            store
                .enqueue_job(connection.id, &job.kind, &job.object_id, now)
                .await?;
            queued += 1;
        }
    }
    if let Some(order) = args.order {
        store
            .enqueue_job(connection.id, "order", &order.to_string(), now)
            .await?;
        queued += 1;
    }
    println!(
        "Queued {queued} job(s) for `{}`; a running service or `sync` picks them up.",
        args.connection
    );
    Ok(ExitCode::SUCCESS)
}
