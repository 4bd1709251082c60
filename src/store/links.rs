//! Links: which ERPNext document stands for which WooCommerce object, per
//! connection. Unique per (connection, WooCommerce object, doctype).

use chrono::Utc;
use rust_decimal::Decimal;
use sqlx::Row;

use super::{parse_decimal_column, stamp, Store, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub connection_id: i64,
    /// `order`, `refund`, `customer`, `address`, `item`.
    pub woo_kind: String,
    pub woo_id: String,
    pub erp_doctype: String,
    pub erp_name: String,
    /// A digest of what was written, to tell "unchanged" from "changed".
    pub fingerprint: Option<String>,
    /// The document's total when it has one (for reconcile).
    pub amount: Option<Decimal>,
}

impl Store {
    /// Records a link, replacing the name/fingerprint of an existing one (and
    /// its amount, when one is given).
    pub async fn put_link(&self, link: &Link) -> StoreResult<()> {
        self.put_links(std::slice::from_ref(link)).await
    }

    /// Records many links in one statement per hundred (a page of orders).
    pub async fn put_links(&self, links: &[Link]) -> StoreResult<()> {
        self.write_links(
            links,
            "DO UPDATE SET \
               erp_name = excluded.erp_name, fingerprint = excluded.fingerprint, \
               amount = COALESCE(excluded.amount, links.amount), updated_at = excluded.updated_at",
        )
        .await
    }

    /// Records that a create is about to happen, where nothing is linked yet: never over a link
    /// another process wrote meanwhile (its finished link must not turn back into a pending one).
    pub async fn put_pending_link(&self, link: &Link) -> StoreResult<()> {
        self.put_pending_links(std::slice::from_ref(link)).await
    }

    pub async fn put_pending_links(&self, links: &[Link]) -> StoreResult<()> {
        self.write_links(links, "DO NOTHING").await
    }

    async fn write_links(&self, links: &[Link], on_conflict: &str) -> StoreResult<()> {
        let now = stamp(Utc::now());
        for chunk in links.chunks(100) {
            let sql = format!(
                "INSERT INTO links (connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount, updated_at) \
                 VALUES {} \
                 ON CONFLICT (connection_id, woo_kind, woo_id, erp_doctype) {on_conflict}",
                self.values_rows(chunk.len(), 8)
            );
            // Each batch size is its own statement; keeping them all prepared on
            // every pooled connection would make memory grow with the sizes seen.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == 1);
            for link in chunk {
                query = query
                    .bind(link.connection_id)
                    .bind(&link.woo_kind)
                    .bind(&link.woo_id)
                    .bind(&link.erp_doctype)
                    .bind(&link.erp_name)
                    .bind(&link.fingerprint)
                    .bind(link.amount.map(|amount| amount.to_string()))
                    .bind(&now);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    pub async fn link(
        &self,
        connection_id: i64,
        woo_kind: &str,
        woo_id: &str,
        erp_doctype: &str,
    ) -> StoreResult<Option<Link>> {
        let row = sqlx::query(
            "SELECT connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount FROM links \
             WHERE connection_id = $1 AND woo_kind = $2 AND woo_id = $3 AND erp_doctype = $4",
        )
        .bind(connection_id)
        .bind(woo_kind)
        .bind(woo_id)
        .bind(erp_doctype)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| link_from_row(&row)).transpose()
    }

    /// The links of these objects (one query for a page of orders).
    pub async fn links_for(
        &self,
        connection_id: i64,
        woo_kind: &str,
        erp_doctype: &str,
        woo_ids: &[String],
    ) -> StoreResult<Vec<Link>> {
        if woo_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..woo_ids.len())
            .map(|index| format!("${}", index + 4))
            .collect();
        let sql = format!(
            "SELECT connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount FROM links \
             WHERE connection_id = $1 AND woo_kind = $2 AND erp_doctype = $3 AND woo_id IN ({})",
            placeholders.join(", ")
        );
        // One statement per number of ids; only the single-id one is kept prepared.
        let mut query = sqlx::query(&sql)
            .persistent(woo_ids.len() == 1)
            .bind(connection_id)
            .bind(woo_kind)
            .bind(erp_doctype);
        for id in woo_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Every link of one kind and doctype for a connection (for reconcile and caches).
    pub async fn links(
        &self,
        connection_id: i64,
        woo_kind: &str,
        erp_doctype: &str,
    ) -> StoreResult<Vec<Link>> {
        let rows = sqlx::query(
            "SELECT connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount FROM links \
             WHERE connection_id = $1 AND woo_kind = $2 AND erp_doctype = $3 ORDER BY id",
        )
        .bind(connection_id)
        .bind(woo_kind)
        .bind(erp_doctype)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }
}

impl Store {
    /// How many links of one kind and doctype a connection has (for the dashboard).
    pub async fn count_links(
        &self,
        connection_id: i64,
        woo_kind: &str,
        erp_doctype: &str,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM links WHERE connection_id = $1 AND woo_kind = $2 AND erp_doctype = $3",
        )
        .bind(connection_id)
        .bind(woo_kind)
        .bind(erp_doctype)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The most recently written links of one kind and doctype, newest first.
    pub async fn recent_links(
        &self,
        connection_id: i64,
        woo_kind: &str,
        erp_doctype: &str,
        limit: i64,
    ) -> StoreResult<Vec<Link>> {
        let rows = sqlx::query(
            "SELECT connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount FROM links \
             WHERE connection_id = $1 AND woo_kind = $2 AND erp_doctype = $3 \
             ORDER BY updated_at DESC, id DESC LIMIT $4",
        )
        .bind(connection_id)
        .bind(woo_kind)
        .bind(erp_doctype)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Every ERPNext document linked to one WooCommerce object (Sales Order, invoices, ...).
    pub async fn links_for_object(
        &self,
        connection_id: i64,
        woo_kind: &str,
        woo_id: &str,
    ) -> StoreResult<Vec<Link>> {
        let rows = sqlx::query(
            "SELECT connection_id, woo_kind, woo_id, erp_doctype, erp_name, fingerprint, amount FROM links \
             WHERE connection_id = $1 AND woo_kind = $2 AND woo_id = $3 ORDER BY id",
        )
        .bind(connection_id)
        .bind(woo_kind)
        .bind(woo_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }
}

fn link_from_row(row: &sqlx::any::AnyRow) -> StoreResult<Link> {
    let amount: Option<String> = row.try_get("amount")?;
    Ok(Link {
        connection_id: row.try_get("connection_id")?,
        woo_kind: row.try_get("woo_kind")?,
        woo_id: row.try_get("woo_id")?,
        erp_doctype: row.try_get("erp_doctype")?,
        erp_name: row.try_get("erp_name")?,
        fingerprint: row.try_get("fingerprint")?,
        amount: amount.as_deref().map(parse_decimal_column).transpose()?,
    })
}
