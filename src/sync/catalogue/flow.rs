//! The catalogue's IO: the link run (reads the shop's products and variations and ERPNext's
//! Items, stores the links) and the stock push (reads Bins and the orders not yet in ERPNext,
//! writes the changed quantities in batches, remembers what the shop accepted).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::links::{match_products, ErpItem, LinkReport, ShopProduct};
use super::stock::{plan_stock, unreserved_units, BinLevel, StockInputs, StockWrite};
use crate::erpnext::client::ListQuery;
use crate::money::decimal;
use crate::store::{LogEntry, LogOutcome, ProductLink};
use crate::sync::context::ConnectionContext;
use crate::sync::erp_to_woo::DIRECTION;
use crate::sync::report::SyncError;
use crate::woocommerce::types::{BatchResponse, StockPriceUpdate};

/// How a stock push runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StockOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Write every linked stock item, not only those whose quantity changed.
    pub all: bool,
}

/// What a stock push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StockPushSummary {
    /// Linked Items ERPNext keeps stock of.
    pub stock_items: usize,
    /// Quantities that differed from the last push (or all, with `--all`).
    pub to_write: usize,
    pub written: usize,
    pub failed: usize,
    /// Batch requests sent to the shop.
    pub write_calls: usize,
    pub dry_run: bool,
    /// Every quantity planned (written, or that would be on a dry run).
    pub writes: Vec<StockWrite>,
    /// Item code → the shop's (or the transport's) reason.
    pub failures: BTreeMap<String, String>,
}

/// What the push read before it writes: kept apart so that what arrives in between (an order)
/// is seen by the write half.
#[derive(Debug, Clone)]
pub struct StockLevels {
    links: Vec<ProductLink>,
    bins: Vec<BinLevel>,
    /// Orders without a Sales Order when the Bins were read.
    unreserved_before: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct BinRow {
    item_code: String,
    warehouse: String,
    #[serde(deserialize_with = "decimal")]
    actual_qty: Decimal,
    #[serde(deserialize_with = "decimal")]
    reserved_qty: Decimal,
    #[serde(deserialize_with = "decimal")]
    projected_qty: Decimal,
}

#[derive(Deserialize)]
struct ItemRow {
    item_code: String,
    #[serde(default)]
    is_stock_item: i64,
    #[serde(default)]
    has_variants: i64,
}

/// The catalogue flows of one connection.
pub struct CatalogueFlow<'a> {
    ctx: &'a ConnectionContext,
}

impl<'a> CatalogueFlow<'a> {
    pub fn new(ctx: &'a ConnectionContext) -> CatalogueFlow<'a> {
        CatalogueFlow { ctx }
    }

    /// Matches the shop's products and variations with ERPNext's Items by SKU and (unless
    /// `dry_run`) makes the stored links exactly the matches.
    pub async fn link_products(&self, dry_run: bool) -> Result<LinkReport, SyncError> {
        let shop = self.shop_products().await?;
        let items: Vec<ItemRow> = self
            .ctx
            .erp
            .list(
                "Item",
                &ListQuery::default()
                    .fields(&["item_code", "is_stock_item", "has_variants"])
                    .order_by("item_code asc")
                    .all_rows(),
            )
            .await?;
        let items: Vec<ErpItem> = items
            .into_iter()
            .map(|row| ErpItem {
                item_code: row.item_code,
                is_stock_item: row.is_stock_item != 0,
                has_variants: row.has_variants != 0,
            })
            .collect();
        let report = match_products(&shop, &items);
        if !dry_run {
            self.ctx
                .store
                .replace_product_links(self.ctx.connection_id, &report.matched)
                .await?;
        }
        Ok(report)
    }

    /// Every product, and the variations of every variable product, paged.
    async fn shop_products(&self) -> Result<Vec<ShopProduct>, SyncError> {
        let mut shop = Vec::new();
        for product in self.ctx.woo.list_all_products().await? {
            if product.product_type == "variable" {
                for variation in self.ctx.woo.list_variations(product.id).await? {
                    shop.push(ShopProduct {
                        product_id: product.id,
                        variation_id: variation.id,
                        sku: variation.sku,
                        name: variation.name,
                        kind: "variation".into(),
                    });
                }
            }
            shop.push(ShopProduct {
                product_id: product.id,
                variation_id: 0,
                sku: product.sku,
                name: product.name,
                kind: product.product_type,
            });
        }
        Ok(shop)
    }

    /// Reads, then writes the quantities that changed (see `stock`).
    pub async fn push_stock(
        &self,
        options: StockOptions,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<StockPushSummary, SyncError> {
        let levels = self.read_stock_levels().await?;
        self.write_stock(levels, options, on_progress).await
    }

    /// The first half of a push: the links, the orders not yet in ERPNext, then the Bins of the
    /// connection's warehouses.
    pub async fn read_stock_levels(&self) -> Result<StockLevels, SyncError> {
        let store = &self.ctx.store;
        let links = store.product_links(self.ctx.connection_id).await?;
        let unreserved_before = store
            .orders_without_sales_order(self.ctx.connection_id)
            .await?;
        let warehouses = self.ctx.connection.stock_warehouses();
        let rows: Vec<BinRow> = self
            .ctx
            .erp
            .list(
                "Bin",
                &ListQuery::default()
                    .fields(&[
                        "item_code",
                        "warehouse",
                        "actual_qty",
                        "reserved_qty",
                        "projected_qty",
                    ])
                    .filter("warehouse", "in", warehouses)
                    .order_by("item_code asc")
                    .all_rows(),
            )
            .await?;
        let bins = rows
            .into_iter()
            .map(|row| BinLevel {
                item_code: row.item_code,
                warehouse: row.warehouse,
                actual: row.actual_qty,
                reserved: row.reserved_qty,
                projected: row.projected_qty,
            })
            .collect();
        Ok(StockLevels {
            links,
            bins,
            unreserved_before,
        })
    }

    /// The second half: the orders without a Sales Order are read again, and an order counted
    /// before or after the Bins were read is taken off (one that was synced in between would
    /// otherwise be in neither the Bins' reservations nor the list). Counting one twice offers
    /// too few until the next push, never too many.
    pub async fn write_stock(
        &self,
        levels: StockLevels,
        options: StockOptions,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<StockPushSummary, SyncError> {
        let after = self
            .ctx
            .store
            .orders_without_sales_order(self.ctx.connection_id)
            .await?;
        let mut orders = levels.unreserved_before;
        let seen_after: std::collections::HashSet<&str> =
            after.iter().map(|(id, _)| id.as_str()).collect();
        // An order still pending keeps its latest body (from `after`); one synced meanwhile keeps
        // the body it had when the Bins were read.
        orders.retain(|(id, _)| !seen_after.contains(id.as_str()));
        orders.extend(after);
        let catalogue = &self.ctx.connection.mappings.catalogue;
        let inputs = StockInputs {
            figure: catalogue.stock_figure,
            shop_unit_factors: catalogue
                .shop_units
                .iter()
                .map(|(code, units)| (code.clone(), Decimal::from(*units)))
                .collect(),
            unreserved: unreserved_units(&orders),
            all: options.all,
        };
        let writes = plan_stock(&levels.links, &levels.bins, &inputs);
        let mut summary = StockPushSummary {
            stock_items: levels.links.iter().filter(|link| link.is_stock_item).count(),
            to_write: writes.len(),
            dry_run: options.dry_run,
            ..StockPushSummary::default()
        };
        if options.dry_run {
            summary.writes = writes;
            return Ok(summary);
        }
        // Simple products in one list, each variable product's variations in another: the
        // shop's batch endpoints take them apart.
        let mut groups: BTreeMap<u64, Vec<&StockWrite>> = BTreeMap::new();
        for write in &writes {
            let parent = if write.variation_id == 0 {
                0
            } else {
                write.product_id
            };
            groups.entry(parent).or_default().push(write);
        }
        let total = writes.len() as u64;
        let mut done = 0u64;
        on_progress(done, total);
        for (parent, group) in groups {
            for chunk in group.chunks(crate::woocommerce::client::BATCH_LIMIT) {
                let outcome = self.write_batch(parent, chunk).await;
                summary.write_calls += 1;
                let mut accepted = Vec::new();
                let mut log = Vec::new();
                for write in chunk {
                    let failure = match &outcome {
                        Ok(refused) => refused.get(&shop_id(write)).cloned(),
                        Err(reason) => Some(reason.clone()),
                    };
                    match failure {
                        None => {
                            summary.written += 1;
                            accepted.push((write.item_code.clone(), Decimal::from(write.quantity)));
                            log.push(self.log_entry(write, LogOutcome::Ok, String::new()));
                        }
                        Some(reason) => {
                            summary.failed += 1;
                            summary
                                .failures
                                .insert(write.item_code.clone(), reason.clone());
                            log.push(self.log_entry(write, LogOutcome::Failed, reason));
                        }
                    }
                }
                self.ctx
                    .store
                    .record_pushed_stock(self.ctx.connection_id, &accepted)
                    .await?;
                self.ctx.store.append_logs(&log).await?;
                done += chunk.len() as u64;
                on_progress(done, total);
            }
        }
        summary.writes = writes;
        Ok(summary)
    }

    /// One batch request; the entries the shop refused, by id, or why the whole request failed.
    async fn write_batch(
        &self,
        parent: u64,
        chunk: &[&StockWrite],
    ) -> Result<HashMap<u64, String>, String> {
        let updates: Vec<StockPriceUpdate> = chunk
            .iter()
            .map(|write| StockPriceUpdate {
                id: shop_id(write),
                stock_quantity: Some(write.quantity),
                manage_stock: Some(true),
                regular_price: None,
            })
            .collect();
        let started = Instant::now();
        let answers: Result<Vec<BatchResponse>, _> = if parent == 0 {
            self.ctx.woo.batch_update_products(&updates).await
        } else {
            self.ctx.woo.batch_update_variations(parent, &updates).await
        };
        tracing::debug!(
            parent,
            entries = chunk.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "stock batch"
        );
        let answers = answers.map_err(|error| error.to_string())?;
        Ok(answers
            .iter()
            .flat_map(BatchResponse::failures)
            .map(|(id, error)| (id, format!("{} ({})", error.message, error.code)))
            .collect())
    }

    fn log_entry(&self, write: &StockWrite, outcome: LogOutcome, reason: String) -> LogEntry {
        let target = if write.variation_id == 0 {
            format!("product {}", write.product_id)
        } else {
            format!(
                "variation {} of product {}",
                write.variation_id, write.product_id
            )
        };
        let message = match outcome {
            LogOutcome::Ok => format!("stock of {target} set to {}", write.quantity),
            _ => format!(
                "stock of {target} not set to {}: {reason}; the next push tries again",
                write.quantity
            ),
        };
        LogEntry {
            connection_id: self.ctx.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: "item".to_string(),
            object_id: write.item_code.clone(),
            order_id: None,
            action: "push_stock".to_string(),
            outcome,
            message,
            request_excerpt: Some(
                serde_json::json!({"id": shop_id(write), "stock_quantity": write.quantity})
                    .to_string(),
            ),
            response_excerpt: None,
            duration_ms: 0,
            attempt: 1,
        }
    }
}

/// The shop's id of what a write goes to: the variation, or the product.
fn shop_id(write: &StockWrite) -> u64 {
    if write.variation_id == 0 {
        write.product_id
    } else {
        write.variation_id
    }
}
