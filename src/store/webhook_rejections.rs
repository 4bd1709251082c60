//! Webhook deliveries refused per connection, source and reason: what the dashboard says when a
//! connection's webhooks are being turned away.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{parse_stamp, stamp, Store, StoreResult};

/// How many deliveries of one source were refused for one reason, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRejection {
    pub source: String,
    pub reason: String,
    pub refused: i64,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

impl Store {
    /// Counts one refused delivery.
    pub async fn record_webhook_rejection(
        &self,
        connection_id: i64,
        source: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhook_rejections (connection_id, source, reason, refused, first_at, last_at) \
             VALUES ($1, $2, $3, 1, $4, $4) \
             ON CONFLICT (connection_id, source, reason) DO UPDATE SET \
             refused = webhook_rejections.refused + 1, last_at = excluded.last_at",
        )
        .bind(connection_id)
        .bind(source)
        .bind(reason)
        .bind(stamp(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A delivery of `source` was accepted: its earlier refusals are over.
    pub async fn clear_webhook_rejections(
        &self,
        connection_id: i64,
        source: &str,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_rejections WHERE connection_id = $1 AND source = $2")
            .bind(connection_id)
            .bind(source)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The connection's refusals since its last accepted delivery of each source.
    pub async fn webhook_rejections(
        &self,
        connection_id: i64,
    ) -> StoreResult<Vec<WebhookRejection>> {
        let rows = sqlx::query(
            "SELECT source, reason, refused, first_at, last_at FROM webhook_rejections \
             WHERE connection_id = $1 ORDER BY source, reason",
        )
        .bind(connection_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WebhookRejection {
                    source: row.try_get("source")?,
                    reason: row.try_get("reason")?,
                    refused: row.try_get("refused")?,
                    first_at: parse_stamp(&row.try_get::<String, _>("first_at")?)?,
                    last_at: parse_stamp(&row.try_get::<String, _>("last_at")?)?,
                })
            })
            .collect()
    }
}
