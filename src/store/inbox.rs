//! The inbox: raw inbound events (webhook bodies), committed before the sender
//! is acknowledged. Deduplicated by content, because WooCommerce reuses
//! delivery ids and ERPNext sends the same body for several doc events.

use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{parse_stamp, stamp, Store, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct InboundEvent {
    pub id: i64,
    pub connection_id: i64,
    /// `woocommerce` or `erpnext`.
    pub source: String,
    pub topic: String,
    pub object_id: String,
    pub body: String,
    pub received_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    New(i64),
    Duplicate,
}

impl Store {
    pub async fn record_inbound(
        &self,
        connection_id: i64,
        source: &str,
        topic: &str,
        object_id: &str,
        body: &str,
    ) -> StoreResult<InboxOutcome> {
        let hash = format!(
            "{:x}",
            Sha256::digest(format!("{topic}\n{body}").as_bytes())
        );
        let row = sqlx::query(
            "INSERT INTO inbox (connection_id, source, topic, object_id, content_hash, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (connection_id, source, content_hash) DO NOTHING RETURNING id",
        )
        .bind(connection_id)
        .bind(source)
        .bind(topic)
        .bind(object_id)
        .bind(hash)
        .bind(body)
        .bind(stamp(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => InboxOutcome::New(row.try_get("id")?),
            None => InboxOutcome::Duplicate,
        })
    }

    /// The oldest events not yet turned into jobs.
    pub async fn unprocessed_inbound(&self, limit: i64) -> StoreResult<Vec<InboundEvent>> {
        let rows = sqlx::query(
            "SELECT id, connection_id, source, topic, object_id, body, received_at FROM inbox \
             WHERE processed_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A connection's most recent inbound events, newest first.
    pub async fn recent_inbound(
        &self,
        connection_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<InboundEvent>> {
        let rows = sqlx::query(
            "SELECT id, connection_id, source, topic, object_id, body, received_at FROM inbox \
             WHERE connection_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(connection_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    pub async fn mark_inbound_processed(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE inbox SET processed_at = $1 WHERE id = $2")
            .bind(stamp(Utc::now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn event_from_row(row: &sqlx::any::AnyRow) -> StoreResult<InboundEvent> {
    Ok(InboundEvent {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        source: row.try_get("source")?,
        topic: row.try_get("topic")?,
        object_id: row.try_get("object_id")?,
        body: row.try_get("body")?,
        received_at: parse_stamp(&row.try_get::<String, _>("received_at")?)?,
    })
}
