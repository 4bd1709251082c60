//! The sync log (the original connector's "WooCommerce Sync Log"): one row per
//! attempt on one object. Excerpts arrive here already redacted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{parse_stamp, stamp, Store, StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogOutcome {
    Ok,
    Failed,
    Skipped,
}

impl LogOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LogOutcome::Ok => "ok",
            LogOutcome::Failed => "failed",
            LogOutcome::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> StoreResult<LogOutcome> {
        Ok(match text {
            "ok" => LogOutcome::Ok,
            "failed" => LogOutcome::Failed,
            "skipped" => LogOutcome::Skipped,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown log outcome `{other}`"
                )))
            }
        })
    }
}

/// One attempt, as the sync code reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub connection_id: i64,
    /// `woocommerce_to_erpnext` or `erpnext_to_woocommerce`.
    pub direction: String,
    pub object_kind: String,
    pub object_id: String,
    /// The WooCommerce order the object belongs to (the order itself, or a refund's order).
    pub order_id: Option<String>,
    /// What was tried: `create_sales_order`, `cancel_sales_order`, ...
    pub action: String,
    pub outcome: LogOutcome,
    /// The outcome in words; for failures, the remote's own message.
    pub message: String,
    pub request_excerpt: Option<String>,
    pub response_excerpt: Option<String>,
    pub duration_ms: i64,
    pub attempt: i64,
}

/// A stored log row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub entry: LogEntry,
}

/// What `log` asks for. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub connection_id: Option<i64>,
    pub failed_only: bool,
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// Everything about this WooCommerce order: the order, its refunds, its documents.
    pub order_id: Option<String>,
    /// Newest first, at most this many (default 100).
    pub limit: Option<i64>,
}

/// Attempts in one hour of the log (for the dashboard's chart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourlyCounts {
    /// The hour, `YYYY-MM-DDTHH` in UTC.
    pub hour: String,
    pub succeeded: i64,
    pub failed: i64,
}

impl Store {
    /// Succeeded and failed attempts per hour since `since`, oldest first;
    /// hours without any attempt are absent.
    pub async fn log_counts_by_hour(
        &self,
        connection_id: i64,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<HourlyCounts>> {
        // Timestamps are stored as RFC 3339 text, so the first 13 characters are the hour on both engines.
        let rows = sqlx::query(
            "SELECT SUBSTR(at, 1, 13) AS hour, \
               SUM(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS succeeded, \
               SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS failed \
             FROM sync_log WHERE connection_id = $1 AND at >= $2 \
             GROUP BY SUBSTR(at, 1, 13) ORDER BY hour",
        )
        .bind(connection_id)
        .bind(stamp(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(HourlyCounts {
                    hour: row.try_get("hour")?,
                    succeeded: row.try_get("succeeded")?,
                    failed: row.try_get("failed")?,
                })
            })
            .collect()
    }

    pub async fn append_log(&self, entry: &LogEntry) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO sync_log (connection_id, at, direction, object_kind, object_id, action, outcome, \
             message, request_excerpt, response_excerpt, duration_ms, attempt, order_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(entry.connection_id)
        .bind(stamp(Utc::now()))
        .bind(&entry.direction)
        .bind(&entry.object_kind)
        .bind(&entry.object_id)
        .bind(&entry.action)
        .bind(entry.outcome.as_str())
        .bind(&entry.message)
        .bind(&entry.request_excerpt)
        .bind(&entry.response_excerpt)
        .bind(entry.duration_ms)
        .bind(entry.attempt)
        .bind(&entry.order_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Appends many entries in one statement per fifty (a page of orders).
    pub async fn append_logs(&self, entries: &[LogEntry]) -> StoreResult<()> {
        let now = stamp(Utc::now());
        for chunk in entries.chunks(50) {
            let sql = format!(
                "INSERT INTO sync_log (connection_id, direction, object_kind, object_id, action, outcome, \
                 message, request_excerpt, response_excerpt, duration_ms, attempt, order_id, at) VALUES {}",
                self.values_rows(chunk.len(), 13)
            );
            // Each batch size is its own statement; keeping them all prepared on
            // every pooled connection would make memory grow with the sizes seen.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == 1);
            for entry in chunk {
                query = query
                    .bind(entry.connection_id)
                    .bind(&entry.direction)
                    .bind(&entry.object_kind)
                    .bind(&entry.object_id)
                    .bind(&entry.action)
                    .bind(entry.outcome.as_str())
                    .bind(&entry.message)
                    .bind(&entry.request_excerpt)
                    .bind(&entry.response_excerpt)
                    .bind(entry.duration_ms)
                    .bind(entry.attempt)
                    .bind(&entry.order_id)
                    .bind(&now);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The outcome and message of the newest entry about one object, if any.
    pub async fn latest_log(
        &self,
        connection_id: i64,
        object_kind: &str,
        object_id: &str,
    ) -> StoreResult<Option<(LogOutcome, String)>> {
        let row = sqlx::query(
            "SELECT outcome, message FROM sync_log \
             WHERE connection_id = $1 AND object_kind = $2 AND object_id = $3 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(connection_id)
        .bind(object_kind)
        .bind(object_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                LogOutcome::parse(&row.try_get::<String, _>("outcome")?)?,
                row.try_get("message")?,
            ))
        })
        .transpose()
    }

    pub async fn query_log(&self, filter: &LogFilter) -> StoreResult<Vec<LogRecord>> {
        // Optional filters as `($n IS NULL OR column = $n)` keep one statement
        // for every combination, on both engines.
        let rows = sqlx::query(
            "SELECT id, at, connection_id, direction, object_kind, object_id, order_id, action, outcome, \
             message, request_excerpt, response_excerpt, duration_ms, attempt FROM sync_log \
             WHERE ($1 IS NULL OR connection_id = $1) \
               AND ($2 = 0 OR (outcome = 'failed' AND NOT EXISTS ( \
                    SELECT 1 FROM sync_log later WHERE later.connection_id = sync_log.connection_id \
                    AND later.object_kind = sync_log.object_kind AND later.object_id = sync_log.object_id \
                    AND later.id > sync_log.id AND later.outcome <> 'failed'))) \
               AND ($3 IS NULL OR object_kind = $3) \
               AND ($4 IS NULL OR object_id = $4) \
               AND ($6 IS NULL OR order_id = $6) \
             ORDER BY id DESC LIMIT $5",
        )
        .bind(filter.connection_id)
        .bind(i64::from(filter.failed_only))
        .bind(&filter.object_kind)
        .bind(&filter.object_id)
        .bind(filter.limit.unwrap_or(100))
        .bind(&filter.order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LogRecord {
                    id: row.try_get("id")?,
                    at: parse_stamp(&row.try_get::<String, _>("at")?)?,
                    entry: LogEntry {
                        connection_id: row.try_get("connection_id")?,
                        direction: row.try_get("direction")?,
                        object_kind: row.try_get("object_kind")?,
                        object_id: row.try_get("object_id")?,
                        order_id: row.try_get("order_id")?,
                        action: row.try_get("action")?,
                        outcome: LogOutcome::parse(&row.try_get::<String, _>("outcome")?)?,
                        message: row.try_get("message")?,
                        request_excerpt: row.try_get("request_excerpt")?,
                        response_excerpt: row.try_get("response_excerpt")?,
                        duration_ms: row.try_get("duration_ms")?,
                        attempt: row.try_get("attempt")?,
                    },
                })
            })
            .collect()
    }
}

/// The newest log entry about an order itself: its outcome and words.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestOrderEntry {
    pub order_id: String,
    pub at: DateTime<Utc>,
    pub outcome: LogOutcome,
    pub message: String,
}

impl Store {
    /// Per order of a connection, its newest log entry about the order (not its refunds').
    pub async fn latest_order_entries(
        &self,
        connection_id: i64,
    ) -> StoreResult<Vec<LatestOrderEntry>> {
        let rows = sqlx::query(
            "SELECT s.order_id, s.at, s.outcome, s.message FROM sync_log s \
             WHERE s.connection_id = $1 AND s.object_kind = 'order' AND s.order_id IS NOT NULL \
               AND s.id = (SELECT MAX(t.id) FROM sync_log t WHERE t.connection_id = s.connection_id \
                           AND t.object_kind = 'order' AND t.order_id = s.order_id)",
        )
        .bind(connection_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LatestOrderEntry {
                    order_id: row.try_get("order_id")?,
                    at: parse_stamp(&row.try_get::<String, _>("at")?)?,
                    outcome: LogOutcome::parse(&row.try_get::<String, _>("outcome")?)?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }
}
