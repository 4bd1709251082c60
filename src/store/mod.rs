//! The only place with SQL. One schema on two engines: SQLite (embedded
//! default, WAL) and PostgreSQL (several service instances), through sqlx's
//! `Any` driver so every query is written once. Where the engines differ (the
//! job claim, multi-row placeholders) the difference is stated next to the query.

mod connections;
mod cursors;
mod erpnext_orders;
mod inbox;
mod jobs;
mod links;
mod product_links;
mod sync_log;
mod web_admin;
mod webhook_rejections;
mod write_backs;

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::secrets::SecretKey;

pub use connections::StoredConnection;
pub use erpnext_orders::ErpnextOrder;
pub use inbox::{InboundEvent, InboxOutcome};
pub use jobs::{Job, JobScope, JobState};
pub use links::Link;
pub use product_links::ProductLink;
pub use sync_log::{HourlyCounts, LatestOrderEntry, LogEntry, LogFilter, LogOutcome, LogRecord};
pub use web_admin::WebSession;
pub use webhook_rejections::WebhookRejection;
pub use write_backs::WooWriteBack;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the stored data is damaged: {0}")]
    Corrupt(String),
    /// Stored secrets that the configured key cannot open (a wrong data dir or key).
    #[error("{0}")]
    Unreadable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    fn from_unique_violation(error: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
        match &error {
            sqlx::Error::Database(database) if database.is_unique_violation() => {
                StoreError::Duplicate(message())
            }
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Creates a new SQLite database file readable by its owner only (0600) before SQLite opens it:
/// it holds customers' names and addresses and the UI's password hash. SQLite gives the WAL and
/// shared-memory files the database file's mode.
fn create_private_sqlite_file(url: &str) -> StoreResult<()> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') || std::path::Path::new(path).exists() {
        return Ok(());
    }
    match crate::secrets::create_private_file(std::path::Path::new(path)) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Database(sqlx::Error::Io(error))),
    }
}

/// The service's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    key: SecretKey,
    /// This process, as job claims name it (`host pid N`).
    instance: std::sync::Arc<str>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub async fn open(url: &str, key: SecretKey) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (engine, url) = if url.starts_with("sqlite:") {
            create_private_sqlite_file(url)?;
            let url = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            (Engine::Sqlite, url)
        } else {
            (Engine::Postgres, url.to_string())
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 4 } else { 8 })
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers work during a write; the busy timeout
                        // makes concurrent writers wait instead of failing.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Engine::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            pool,
            engine,
            key,
            instance: instance_name().into(),
        })
    }

    /// This process as the jobs it claims name it: with several instances on one database, whose
    /// work a running job is.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Answers when the database does (for `/healthz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The VALUES of a multi-row insert: `rows` tuples of `columns` placeholders, bound row by
    /// row in order. SQLite gets bare `?`s: it resolves every `$N` by a linear search of the
    /// statement's names, at parse and again at each bind: quadratic in a 100-row insert.
    fn values_rows(&self, rows: usize, columns: usize) -> String {
        let tuple = |row: usize| -> String {
            let placeholders: Vec<String> = (0..columns)
                .map(|column| match self.engine {
                    Engine::Sqlite => "?".to_string(),
                    Engine::Postgres => format!("${}", row * columns + column + 1),
                })
                .collect();
            format!("({})", placeholders.join(", "))
        };
        (0..rows).map(tuple).collect::<Vec<_>>().join(", ")
    }
}

/// The one text form of a timestamp in the database: UTC, microseconds, `Z`.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_stamp(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::<chrono::FixedOffset>::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("`{text}` is not a timestamp")))
}

pub(crate) fn parse_decimal_column(text: &str) -> StoreResult<rust_decimal::Decimal> {
    rust_decimal::Decimal::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("`{text}` is not a decimal")))
}

/// `host pid N`: unique among the live processes sharing a database.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host} pid {}", std::process::id())
}
