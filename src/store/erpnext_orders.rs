//! Sales Orders born in ERPNext and the WooCommerce orders made for them, one row per connection
//! and Sales Order: written *pending* (no order id) before the create, finished with the order id.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{parse_stamp, stamp, Store, StoreError, StoreResult};

/// One Sales Order born in ERPNext, and the shop order made for it once known.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpnextOrder {
    pub connection_id: i64,
    pub sales_order: String,
    /// `None` while a create is pending (or its answer was lost).
    pub order_id: Option<u64>,
    /// When the first create was attempted.
    pub started_at: DateTime<Utc>,
}

impl Store {
    pub async fn erpnext_order(
        &self,
        connection_id: i64,
        sales_order: &str,
    ) -> StoreResult<Option<ErpnextOrder>> {
        let row = sqlx::query(
            "SELECT sales_order, order_id, started_at FROM erpnext_orders \
             WHERE connection_id = $1 AND sales_order = $2",
        )
        .bind(connection_id)
        .bind(sales_order)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| erpnext_order_from_row(connection_id, &row))
            .transpose()
    }

    /// Records that a create is about to happen; an existing row (pending or finished) is kept.
    /// Answers the row as it now is.
    pub async fn start_erpnext_order(
        &self,
        connection_id: i64,
        sales_order: &str,
    ) -> StoreResult<ErpnextOrder> {
        let now = stamp(Utc::now());
        sqlx::query(
            "INSERT INTO erpnext_orders (connection_id, sales_order, order_id, started_at, updated_at) \
             VALUES ($1, $2, NULL, $3, $3) \
             ON CONFLICT (connection_id, sales_order) DO NOTHING",
        )
        .bind(connection_id)
        .bind(sales_order)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        self.erpnext_order(connection_id, sales_order)
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!("the record of Sales Order {sales_order} vanished"))
            })
    }

    /// Records the WooCommerce order made (or found) for a Sales Order.
    pub async fn finish_erpnext_order(
        &self,
        connection_id: i64,
        sales_order: &str,
        order_id: u64,
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        sqlx::query(
            "INSERT INTO erpnext_orders (connection_id, sales_order, order_id, started_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (connection_id, sales_order) DO UPDATE SET \
               order_id = excluded.order_id, updated_at = excluded.updated_at",
        )
        .bind(connection_id)
        .bind(sales_order)
        .bind(order_id.to_string())
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn erpnext_order_from_row(
    connection_id: i64,
    row: &sqlx::any::AnyRow,
) -> StoreResult<ErpnextOrder> {
    let sales_order: String = row.try_get("sales_order")?;
    let order_id: Option<String> = row.try_get("order_id")?;
    let order_id = order_id
        .map(|text| {
            text.parse::<u64>().map_err(|_| {
                StoreError::Corrupt(format!("order id `{text}` of Sales Order {sales_order}"))
            })
        })
        .transpose()?;
    Ok(ErpnextOrder {
        connection_id,
        order_id,
        started_at: parse_stamp(&row.try_get::<String, _>("started_at")?)?,
        sales_order,
    })
}
