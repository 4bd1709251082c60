//! Cursors: per-connection watermarks, e.g. how far the order poll has read.

use chrono::Utc;
use sqlx::Row;

use super::{stamp, Store, StoreResult};

impl Store {
    pub async fn cursor(&self, connection_id: i64, name: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM cursors WHERE connection_id = $1 AND name = $2")
            .bind(connection_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("value")).transpose()?)
    }

    pub async fn set_cursor(&self, connection_id: i64, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO cursors (connection_id, name, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connection_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(connection_id)
        .bind(name)
        .bind(value)
        .bind(stamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
