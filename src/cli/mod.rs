//! The command line: parses arguments, opens what a command needs, prints.
//! Commands call into the library; no business logic lives here.

mod bench;
mod bench_erpnext;
mod bench_serve;
mod bench_stock;
mod catalogue;
mod connection;
mod demo;
mod log;
mod serve;
mod setup;
mod sync;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{BootstrapArgs, Config};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "woocommerce-sync",
    version,
    about = "Keeps WooCommerce stores and an ERPNext site in step: orders, invoices, payments, refunds, stock and prices."
)]
pub struct Cli {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole product on embedded defaults: simulated shop and ERPNext, setup, a full sync.
    Demo(demo::DemoArgs),
    /// Print the effective configuration (secrets masked).
    Config {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add, list, show, edit or remove connections (store + ERPNext pairs).
    #[command(subcommand)]
    Connection(connection::ConnectionCommand),
    /// The always-on service: web UI, webhook receivers, job workers and the scheduled poll.
    Serve(serve::ServeArgs),
    /// Measure the sync: orders per second, API calls and CPU per order, peak memory.
    Bench(bench::BenchArgs),
    /// Install the custom fields and Webhooks the sync needs in ERPNext (idempotent).
    Setup(setup::SetupArgs),
    /// Link the shop's products to ERPNext Items by SKU.
    #[command(subcommand)]
    Products(catalogue::ProductsCommand),
    /// Sync now (one-shot, for scripts and cron).
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// Compare both sides and list every difference; exits non-zero when there is one.
    Reconcile(sync::ReconcileArgs),
    /// Run a simulator of WooCommerce or ERPNext (for trying things out and for tests).
    #[command(subcommand)]
    Sim(SimCommand),
    /// Show the sync log: every attempt on every object.
    Log(log::LogArgs),
    /// Queue failed jobs, or one order, again.
    Retry(log::RetryArgs),
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// A WooCommerce store (REST v3 + webhooks).
    Woocommerce(Box<crate::simulators::woocommerce::WooSimOptions>),
    /// An ERPNext v15 site (REST API + webhooks).
    Erpnext(crate::simulators::erpnext::ErpSimOptions),
}

/// A failure the user caused and can fix (exit 2), or one that happened (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<crate::connection::InvalidSetting> for CliError {
    fn from(error: crate::connection::InvalidSetting) -> Self {
        CliError::Usage(error.to_string())
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Duplicate(message)
            | crate::store::StoreError::NotFound(message)
            | crate::store::StoreError::Unreadable(message) => CliError::Usage(message),
            other => CliError::Failed(other.into()),
        }
    }
}

pub fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    init_tracing();
    // One async worker: the service's work waits on ERPNext, WooCommerce and the store, and a
    // second worker only added wake-ups between the two (`bench`: 15-20% more CPU per order,
    // same orders per second). Blocking work has its own threads: Argon2 on the blocking pool,
    // SQLite on sqlx's.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `log … | head` ends quietly, as other command-line tools do, instead of panicking when the
/// pipe closes: Rust ignores SIGPIPE, so printing to a closed pipe is an error `println!` panics
/// on. Sockets are unaffected (the standard library sends with `MSG_NOSIGNAL`).
fn restore_default_sigpipe() {
    // SAFETY: called first thing in `main`, before any thread exists; only resets a disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr: plain text, coloured only on a terminal, or one JSON object per line
/// with `WOOCOMMERCE_SYNC_LOG_FORMAT=json` (for log collectors).
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WOOCOMMERCE_SYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match std::env::var("WOOCOMMERCE_SYNC_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().try_init(),
        Ok("text") | Err(_) => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        Ok(other) => {
            eprintln!(
                "warning: WOOCOMMERCE_SYNC_LOG_FORMAT={other} is not a log format; write text or json (text is used)"
            );
            builder.with_ansi(false).try_init()
        }
    };
}

pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let config =
        Config::resolve(&cli.bootstrap).map_err(|error| CliError::Usage(format!("{error:#}")))?;
    match cli.command {
        Command::Config { json } => {
            let report = config.describe();
            if json {
                print_json(&report)?;
            } else {
                println!("database:   {}", report.database);
                println!("data dir:   {}", report.data_dir.display());
                println!("secret key: {}", report.secret_key);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Connection(command) => {
            let store = open_store(&config).await?;
            connection::run(&store, command).await
        }
        Command::Demo(args) => demo::run(&config, args).await,
        Command::Serve(args) => serve::run(&config, args).await,
        Command::Bench(args) => bench::run(&config, args).await,
        Command::Setup(args) => setup::run(&open_store(&config).await?, args).await,
        Command::Products(command) => {
            catalogue::run_products(&open_store(&config).await?, command).await
        }
        Command::Sync(command) => sync::run_sync(&open_store(&config).await?, command).await,
        Command::Reconcile(args) => sync::run_reconcile(&open_store(&config).await?, args).await,
        Command::Sim(SimCommand::Woocommerce(options)) => {
            crate::simulators::woocommerce::run(*options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(SimCommand::Erpnext(options)) => {
            crate::simulators::erpnext::run(options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Log(args) => log::show_log(&open_store(&config).await?, args).await,
        Command::Retry(args) => log::retry(&open_store(&config).await?, args).await,
    }
}

/// Opens the database named by the configuration, creating the data dir and key.
pub async fn open_store(config: &Config) -> Result<Store, CliError> {
    config.ensure_data_dir()?;
    let key = config.secret_key()?;
    Store::open(&config.database_url, key)
        .await
        .map_err(|error| {
            CliError::Failed(anyhow::anyhow!(
                "cannot open the database {}: {error}",
                crate::config::mask_database_password(&config.database_url)
            ))
        })
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?;
    println!("{text}");
    Ok(())
}
