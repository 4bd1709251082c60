//! Write-backs: what the service last wrote to a WooCommerce order from ERPNext (its status, the
//! meta it keeps, the keys of the order notes it added), one row per connection and order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDateTime, Utc};
use sqlx::Row;

use super::{stamp, Store, StoreError, StoreResult};

/// What was written to one WooCommerce order from ERPNext.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WooWriteBack {
    pub connection_id: i64,
    pub order_id: u64,
    pub sales_order: String,
    /// The order's WooCommerce status as our last write left it.
    pub status: Option<String>,
    /// The order's `date_modified_gmt` as the last write left it.
    pub woo_modified: Option<NaiveDateTime>,
    /// Meta key → the value last written.
    pub meta: BTreeMap<String, String>,
    /// The keys of the notes added (see `sync::erp_to_woo::status`).
    pub notes: BTreeSet<String>,
}

const MODIFIED_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

impl Store {
    pub async fn woo_write_back(
        &self,
        connection_id: i64,
        order_id: u64,
    ) -> StoreResult<Option<WooWriteBack>> {
        let row = sqlx::query(
            "SELECT sales_order, status, woo_modified, meta, notes FROM woo_write_backs \
             WHERE connection_id = $1 AND order_id = $2",
        )
        .bind(connection_id)
        .bind(order_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let modified: Option<String> = row.try_get("woo_modified")?;
        let meta: String = row.try_get("meta")?;
        let notes: String = row.try_get("notes")?;
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("write-back of order {order_id}: {what}"));
        Ok(Some(WooWriteBack {
            connection_id,
            order_id,
            sales_order: row.try_get("sales_order")?,
            status: row.try_get("status")?,
            woo_modified: modified
                .map(|text| NaiveDateTime::parse_from_str(&text, MODIFIED_FORMAT))
                .transpose()
                .map_err(|_| corrupt("woo_modified is not a time"))?,
            meta: serde_json::from_str(&meta).map_err(|_| corrupt("meta is not a JSON object"))?,
            notes: serde_json::from_str(&notes).map_err(|_| corrupt("notes is not a JSON list"))?,
        }))
    }

    /// Records what was written (replacing the order's earlier record).
    pub async fn put_woo_write_back(&self, record: &WooWriteBack) -> StoreResult<()> {
        let meta = serde_json::to_string(&record.meta).unwrap_or_else(|_| "{}".into());
        let notes = serde_json::to_string(&record.notes).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO woo_write_backs (connection_id, order_id, sales_order, status, woo_modified, meta, notes, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (connection_id, order_id) DO UPDATE SET \
               sales_order = excluded.sales_order, status = excluded.status, \
               woo_modified = excluded.woo_modified, meta = excluded.meta, notes = excluded.notes, \
               updated_at = excluded.updated_at",
        )
        .bind(record.connection_id)
        .bind(record.order_id.to_string())
        .bind(&record.sales_order)
        .bind(&record.status)
        .bind(
            record
                .woo_modified
                .map(|at| at.format(MODIFIED_FORMAT).to_string()),
        )
        .bind(meta)
        .bind(notes)
        .bind(stamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
