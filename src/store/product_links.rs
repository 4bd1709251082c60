//! Product links: which WooCommerce product or variation sells which ERPNext Item, per
//! connection, and the stock quantity last pushed to it. Also the one query the stock push needs
//! from the inbox: orders the shop sent that have no Sales Order yet.

use std::collections::HashMap;

use chrono::Utc;
use rust_decimal::Decimal;
use sqlx::Row;

use super::{parse_decimal_column, stamp, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProductLink {
    pub item_code: String,
    /// The product, or the variable product a variation belongs to.
    pub product_id: u64,
    /// 0 for a simple product.
    pub variation_id: u64,
    pub is_stock_item: bool,
    /// The stock quantity last written to the shop; `None` before the first push.
    pub pushed_stock: Option<Decimal>,
    /// The prices last written to the shop (the price push's own text); `None` before.
    pub pushed_prices: Option<String>,
}

fn id_column(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Makes the connection's links exactly `links`: links that still join the same item and
    /// product keep what was pushed to them, the others are replaced or removed. One
    /// transaction, so a push never sees half a link run.
    pub async fn replace_product_links(
        &self,
        connection_id: i64,
        links: &[ProductLink],
    ) -> StoreResult<()> {
        type Pushed = (Option<Decimal>, Option<String>);
        let kept: HashMap<(String, u64, u64), Pushed> = self
            .product_links(connection_id)
            .await?
            .into_iter()
            .map(|link| {
                (
                    (link.item_code, link.product_id, link.variation_id),
                    (link.pushed_stock, link.pushed_prices),
                )
            })
            .collect();
        let now = stamp(Utc::now());
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM product_links WHERE connection_id = $1")
            .bind(connection_id)
            .execute(&mut *transaction)
            .await?;
        for chunk in links.chunks(100) {
            let sql = format!(
                "INSERT INTO product_links (connection_id, item_code, product_id, variation_id, \
                 is_stock_item, pushed_stock, pushed_prices, linked_at) VALUES {}",
                self.values_rows(chunk.len(), 8)
            );
            // Each batch size is its own statement: not kept prepared (see `links`).
            let mut query = sqlx::query(&sql).persistent(false);
            for link in chunk {
                let key = (link.item_code.clone(), link.product_id, link.variation_id);
                let (stock, prices) = kept.get(&key).cloned().unwrap_or_default();
                query = query
                    .bind(connection_id)
                    .bind(&link.item_code)
                    .bind(id_column(link.product_id))
                    .bind(id_column(link.variation_id))
                    .bind(i32::from(link.is_stock_item))
                    .bind(stock.map(|quantity| quantity.to_string()))
                    .bind(prices)
                    .bind(&now);
            }
            query.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Adds links the order sync made (an Item created for a product), leaving existing ones.
    pub async fn add_product_links(
        &self,
        connection_id: i64,
        links: &[ProductLink],
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        for link in links {
            sqlx::query(
                "INSERT INTO product_links (connection_id, item_code, product_id, variation_id, \
                 is_stock_item, pushed_stock, linked_at) VALUES ($2, $3, $4, $5, $6, NULL, $1) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&now)
            .bind(connection_id)
            .bind(&link.item_code)
            .bind(id_column(link.product_id))
            .bind(id_column(link.variation_id))
            .bind(i32::from(link.is_stock_item))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// The connection's links, by item code.
    pub async fn product_links(&self, connection_id: i64) -> StoreResult<Vec<ProductLink>> {
        let rows = sqlx::query(
            "SELECT item_code, product_id, variation_id, is_stock_item, pushed_stock, pushed_prices \
             FROM product_links WHERE connection_id = $1 ORDER BY item_code",
        )
        .bind(connection_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let pushed: Option<String> = row.try_get("pushed_stock")?;
                Ok(ProductLink {
                    item_code: row.try_get("item_code")?,
                    product_id: u64::try_from(row.try_get::<i64, _>("product_id")?)
                        .unwrap_or_default(),
                    variation_id: u64::try_from(row.try_get::<i64, _>("variation_id")?)
                        .unwrap_or_default(),
                    is_stock_item: row.try_get::<i32, _>("is_stock_item")? != 0,
                    pushed_stock: pushed.as_deref().map(parse_decimal_column).transpose()?,
                    pushed_prices: row.try_get("pushed_prices")?,
                })
            })
            .collect()
    }

    /// Remembers the quantities the shop accepted, per item code.
    pub async fn record_pushed_stock(
        &self,
        connection_id: i64,
        pushed: &[(String, Decimal)],
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        let mut transaction = self.pool.begin().await?;
        for (item_code, quantity) in pushed {
            sqlx::query(
                "UPDATE product_links SET pushed_stock = $1, pushed_stock_at = $2 \
                 WHERE connection_id = $3 AND item_code = $4",
            )
            .bind(quantity.to_string())
            .bind(&now)
            .bind(connection_id)
            .bind(item_code)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Remembers the prices the shop accepted, per item code.
    pub async fn record_pushed_prices(
        &self,
        connection_id: i64,
        pushed: &[(String, String)],
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        let mut transaction = self.pool.begin().await?;
        for (item_code, prices) in pushed {
            sqlx::query(
                "UPDATE product_links SET pushed_prices = $1, pushed_prices_at = $2 \
                 WHERE connection_id = $3 AND item_code = $4",
            )
            .bind(prices)
            .bind(&now)
            .bind(connection_id)
            .bind(item_code)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The latest body of every WooCommerce order the shop sent (webhook) that has no Sales
    /// Order link yet (none, or one still pending): units the shop sold that ERPNext does not
    /// reserve yet. Oldest first; a later body of the same order comes after an earlier one.
    pub async fn orders_without_sales_order(
        &self,
        connection_id: i64,
    ) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT inbox.object_id, inbox.body FROM inbox \
             WHERE inbox.connection_id = $1 AND inbox.source = 'woocommerce' \
               AND inbox.topic LIKE 'order.%' \
               AND NOT EXISTS (SELECT 1 FROM links WHERE links.connection_id = inbox.connection_id \
                 AND links.woo_kind = 'order' AND links.woo_id = inbox.object_id \
                 AND links.erp_doctype = 'Sales Order' AND links.erp_name <> '') \
             ORDER BY inbox.id",
        )
        .bind(connection_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("object_id")?, row.try_get("body")?)))
            .collect()
    }
}
