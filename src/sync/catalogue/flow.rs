//! The catalogue's IO: the link run (reads the shop's products and variations and ERPNext's
//! Items, stores the links) and the stock push (reads Bins and the orders not yet in ERPNext,
//! writes the changed quantities in batches, remembers what the shop accepted).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use chrono::NaiveDateTime;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::links::{match_products, ErpItem, LinkReport, ShopProduct};
use super::prices::{
    plan_prices, ItemPriceRow, PriceInputs, PriceWrite, ShopPrices, TaxConversion,
};
use super::stock::{plan_stock, unreserved_units, BinLevel, StockInputs, StockWrite};
use super::units::{selling_units, ItemUnitRow, SellingUnit};
use crate::erpnext::client::{in_filter_groups, url_encoded_len, ListQuery, IN_FILTER_BUDGET};
use crate::erpnext::error::ErpError;
use crate::money::{decimal, optional_decimal};
use crate::store::{LogEntry, LogOutcome, ProductLink};
use crate::sync::context::ConnectionContext;
use crate::sync::erp_to_woo::DIRECTION;
use crate::sync::report::SyncError;
use crate::woocommerce::types::{BatchResponse, Product, StockPriceUpdate};

/// Cursors of the scheduled passes: the newest `modified` (ERPNext site time) of the Bins, and
/// of the Item Prices, the last pass read.
pub const STOCK_CURSOR: &str = "catalogue.bins_modified";
pub const PRICES_CURSOR: &str = "catalogue.item_prices_modified";
/// When the connection's products were last linked by a link run: the catalogue is in use. Items
/// the order sync makes are linked as they are made, but until a person linked the products, the
/// service pushes nothing on its own and `reconcile` compares no catalogue.
pub const LINKED_CURSOR: &str = "catalogue.linked_at";
const PASS_OVERLAP_MINUTES: i64 = 1;
const ERP_TIME: &str = "%Y-%m-%d %H:%M:%S%.f";

/// A Bin or Item Price: its item and when it last changed.
#[derive(Deserialize)]
struct ModifiedRow {
    item_code: String,
    #[serde(default)]
    modified: Option<String>,
}

/// A document ERPNext deleted: a copy of it as JSON text (`data`), and when it was deleted.
#[derive(Deserialize)]
struct DeletedRow {
    name: String,
    data: String,
    creation: String,
}

/// Of a deleted Item Price, what says whose price it was.
#[derive(Deserialize)]
struct DeletedPrice {
    item_code: String,
    price_list: String,
}

/// What the price pass learns from the Deleted Documents.
#[derive(Default)]
struct DeletedPrices {
    items: BTreeSet<String>,
    newest: Option<String>,
}

/// `day` (`YYYY-MM-DD`) moved by `days`; unchanged when it is not a date.
fn shift_day(day: &str, days: i64) -> String {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|date| (date + chrono::Duration::days(days)).to_string())
        .unwrap_or_else(|_| day.to_string())
}

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
    /// The items sold in another unit than their stock unit.
    units: HashMap<String, SellingUnit>,
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
            self.ctx
                .store
                .set_cursor(
                    self.ctx.connection_id,
                    LINKED_CURSOR,
                    &chrono::Utc::now().to_rfc3339(),
                )
                .await?;
        }
        Ok(report)
    }

    /// [`CatalogueFlow::link_products`], its report (or why it did not finish) recorded for the
    /// UI's link page.
    pub async fn link_and_record(&self, dry_run: bool) -> Result<LinkReport, SyncError> {
        let result = self.link_products(dry_run).await;
        let record = match &result {
            Ok(report) => LinkRun {
                at: chrono::Utc::now(),
                dry_run,
                report: serde_json::to_value(report).ok(),
                error: None,
            },
            Err(error) => LinkRun::failed(dry_run, &self.ctx.redact(&error.to_string())),
        };
        record.save(&self.ctx.store, self.ctx.connection_id).await?;
        result
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
        let links = self.ctx.store.product_links(self.ctx.connection_id).await?;
        self.read_levels_of(links, None).await
    }

    /// [`CatalogueFlow::read_stock_levels`] for these links, reading only the Bins of `items`
    /// when given (in as many calls as the request line needs).
    async fn read_levels_of(
        &self,
        links: Vec<ProductLink>,
        items: Option<Vec<String>>,
    ) -> Result<StockLevels, SyncError> {
        let store = &self.ctx.store;
        let unreserved_before = store
            .orders_without_sales_order(self.ctx.connection_id)
            .await?;
        let warehouses = self.ctx.connection.stock_warehouses();
        let query = ListQuery::default()
            .fields(&[
                "item_code",
                "warehouse",
                "actual_qty",
                "reserved_qty",
                "projected_qty",
            ])
            .filter("warehouse", "in", warehouses)
            .order_by("item_code asc")
            .all_rows();
        let rows: Vec<BinRow> = self.list_of_items("Bin", query, items.clone()).await?;
        let units = self.selling_units(items, true).await?;
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
            units,
            unreserved_before,
        })
    }

    /// The unit each Item (of `items`, or all) is sold in: the Items with their UOM conversion
    /// rows joined, in one listing. `only_other_units` reads only Items with a Default Sales UOM
    /// (the stock push needs no others; the price push needs every stock UOM).
    async fn selling_units(
        &self,
        items: Option<Vec<String>>,
        only_other_units: bool,
    ) -> Result<HashMap<String, SellingUnit>, SyncError> {
        let mut query = ListQuery::default()
            .fields(&[
                "item_code",
                "stock_uom",
                "sales_uom",
                "`tabUOM Conversion Detail`.uom",
                "`tabUOM Conversion Detail`.conversion_factor",
            ])
            .order_by("item_code asc")
            .all_rows();
        if only_other_units {
            query = query.filter("sales_uom", "is", "set");
        }
        let rows: Vec<ItemUnitWire> = self.list_of_items("Item", query, items).await?;
        let rows: Vec<ItemUnitRow> = rows.into_iter().map(ItemUnitWire::into_row).collect();
        Ok(selling_units(&rows))
    }

    /// The rows of `query`, all of them or (with `items`) those of these item codes, asked in
    /// parts that fit the request line.
    async fn list_of_items<T: serde::de::DeserializeOwned>(
        &self,
        doctype: &str,
        query: ListQuery,
        items: Option<Vec<String>>,
    ) -> Result<Vec<T>, SyncError> {
        let Some(items) = items else {
            return Ok(self.ctx.erp.list(doctype, &query).await?);
        };
        let mut rows = Vec::new();
        for group in in_filter_groups(items, IN_FILTER_BUDGET, |code| url_encoded_len(code)) {
            let part: Vec<T> = self
                .ctx
                .erp
                .list(doctype, &query.clone().filter("item_code", "in", group))
                .await?;
            rows.extend(part);
        }
        Ok(rows)
    }

    /// The scheduled (and webhook-queued) stock pass: the items whose Bins in the connection's
    /// warehouses changed since the last pass (ERPNext advances `Bin.modified` with every move)
    /// and linked items never pushed, pushed as `sync stock` does; never a full push. The cursor
    /// moves to the newest Bin read once every entry was accepted (a refused one is read again
    /// next time); the first pass reads every Bin.
    pub async fn push_changed_stock(&self) -> Result<StockPushSummary, SyncError> {
        let ctx = self.ctx;
        let links = self.links_in_use().await?;
        // A connection whose products were never linked asks ERPNext nothing.
        if links.is_empty() {
            return Ok(StockPushSummary::default());
        }
        let since = self.pass_start(STOCK_CURSOR).await?;
        let mut query = ListQuery::default()
            .fields(&["item_code", "modified"])
            .filter("warehouse", "in", ctx.connection.stock_warehouses())
            .order_by("modified asc")
            .all_rows();
        if let Some(since) = &since {
            query = query.filter("modified", ">=", since.clone());
        }
        let changed: Vec<ModifiedRow> = ctx.erp.list("Bin", &query).await?;
        let newest = changed.iter().filter_map(|row| row.modified.clone()).max();
        let mut items: BTreeSet<String> = changed.into_iter().map(|row| row.item_code).collect();
        items.extend(
            links
                .iter()
                .filter(|link| link.is_stock_item && link.pushed_stock.is_none())
                .map(|link| link.item_code.clone()),
        );
        let links: Vec<ProductLink> = links
            .into_iter()
            .filter(|link| link.is_stock_item && items.contains(&link.item_code))
            .collect();
        let summary = if links.is_empty() {
            StockPushSummary::default()
        } else {
            // The first pass reads every Bin in one listing rather than item by item.
            let codes = since.is_some().then(|| {
                let codes: BTreeSet<String> =
                    links.iter().map(|link| link.item_code.clone()).collect();
                codes.into_iter().collect()
            });
            let levels = self.read_levels_of(links, codes).await?;
            self.write_stock(levels, StockOptions::default(), &|_, _| {})
                .await?
        };
        if summary.failed == 0 {
            if let Some(newest) = newest {
                ctx.store
                    .set_cursor(ctx.connection_id, STOCK_CURSOR, &newest)
                    .await?;
            }
        }
        Ok(summary)
    }

    /// The connection's links once a link run made the catalogue in use (see [`LINKED_CURSOR`]),
    /// else none.
    async fn links_in_use(&self) -> Result<Vec<ProductLink>, SyncError> {
        let store = &self.ctx.store;
        if store
            .cursor(self.ctx.connection_id, LINKED_CURSOR)
            .await?
            .is_none()
        {
            return Ok(Vec::new());
        }
        Ok(store.product_links(self.ctx.connection_id).await?)
    }

    /// Where a pass starts: its cursor less a minute (a write committed late with an earlier
    /// `modified` is still read; what was read twice is unchanged and not written).
    async fn pass_start(&self, cursor: &str) -> Result<Option<String>, SyncError> {
        Ok(self
            .ctx
            .store
            .cursor(self.ctx.connection_id, cursor)
            .await?
            .and_then(|text| NaiveDateTime::parse_from_str(&text, ERP_TIME).ok())
            .map(|at| {
                (at - chrono::Duration::minutes(PASS_OVERLAP_MINUTES))
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string()
            }))
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
            units: levels.units,
            unreserved: unreserved_units(&orders),
            all: options.all,
        };
        let writes = plan_stock(&levels.links, &levels.bins, &inputs);
        let mut summary = StockPushSummary {
            stock_items: levels
                .links
                .iter()
                .filter(|link| link.is_stock_item)
                .count(),
            to_write: writes.len(),
            dry_run: options.dry_run,
            ..StockPushSummary::default()
        };
        if options.dry_run {
            summary.writes = writes;
            return Ok(summary);
        }
        let entries = writes
            .iter()
            .map(|write| ShopWrite {
                item_code: write.item_code.clone(),
                product_id: write.product_id,
                variation_id: write.variation_id,
                update: StockPriceUpdate {
                    id: shop_id(write.product_id, write.variation_id),
                    stock_quantity: Some(write.quantity),
                    manage_stock: Some(true),
                    ..StockPriceUpdate::default()
                },
                remembered: Decimal::from(write.quantity).to_string(),
                what: format!("stock {}", write.quantity),
            })
            .collect();
        let sent = self.send(entries, "push_stock", on_progress).await?;
        summary.written = sent.written;
        summary.failed = sent.failures.len();
        summary.failures = sent.failures;
        summary.write_calls = sent.write_calls;
        summary.writes = writes;
        Ok(summary)
    }

    /// Writes the changed regular prices (and, with a sale price list, sale prices and their
    /// dates) of every linked product (see `prices`).
    pub async fn push_prices(
        &self,
        options: StockOptions,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<PricePushSummary, SyncError> {
        let links = self.ctx.store.product_links(self.ctx.connection_id).await?;
        self.push_prices_of(links, None, options, on_progress).await
    }

    /// The scheduled (and webhook-queued) price pass: the items whose Item Prices in the
    /// connection's lists changed since the last pass (`Item Price.modified` advances with each
    /// save), whose validity starts or ends between the last pass's day and today (no save marks
    /// a sale's first or last day), whose Item Price was deleted since (the site keeps a copy as
    /// a Deleted Document: a sale ended early by deleting its price must end in the shop too),
    /// and linked items never pushed.
    pub async fn push_changed_prices(&self) -> Result<PricePushSummary, SyncError> {
        let ctx = self.ctx;
        let links = self.links_in_use().await?;
        // A connection whose products were never linked asks ERPNext nothing.
        if links.is_empty() {
            return Ok(PricePushSummary::default());
        }
        let since = self.pass_start(PRICES_CURSOR).await?;
        let lists = self.price_lists();
        let base = ListQuery::default()
            .fields(&["item_code", "modified"])
            .filter("price_list", "in", lists.clone())
            .order_by("modified asc")
            .all_rows();
        let mut query = base.clone();
        if let Some(since) = &since {
            query = query.filter("modified", ">=", since.clone());
        }
        let changed: Vec<ModifiedRow> = ctx.erp.list("Item Price", &query).await?;
        let mut newest = changed.iter().filter_map(|row| row.modified.clone()).max();
        let mut items: BTreeSet<String> = changed.into_iter().map(|row| row.item_code).collect();
        if let Some(since) = &since {
            let deleted = self.deleted_prices(since, &lists).await?;
            newest = newest.max(deleted.newest);
            items.extend(deleted.items);
            let site_zone = ctx.erp.site_time_zone().await?;
            let today = chrono::Utc::now().with_timezone(&site_zone).date_naive();
            let last_day = since.get(..10).unwrap_or_default().to_string();
            // A sale's last day is `valid_upto`: it ends the day after.
            for field in ["valid_from", "valid_upto"] {
                let boundary: Vec<ModifiedRow> = ctx
                    .erp
                    .list(
                        "Item Price",
                        &base
                            .clone()
                            .filter(field, ">=", shift_day(&last_day, -1))
                            .filter(field, "<=", today.to_string()),
                    )
                    .await?;
                items.extend(boundary.into_iter().map(|row| row.item_code));
            }
        }
        items.extend(
            links
                .iter()
                .filter(|link| link.pushed_prices.is_none())
                .map(|link| link.item_code.clone()),
        );
        let links: Vec<ProductLink> = links
            .into_iter()
            .filter(|link| items.contains(&link.item_code))
            .collect();
        let summary = if links.is_empty() {
            PricePushSummary::default()
        } else {
            let codes = since.is_some().then(|| {
                let codes: BTreeSet<String> =
                    links.iter().map(|link| link.item_code.clone()).collect();
                codes.into_iter().collect()
            });
            self.push_prices_of(links, codes, StockOptions::default(), &|_, _| {})
                .await?
        };
        if summary.failed == 0 {
            if let Some(newest) = newest {
                ctx.store
                    .set_cursor(ctx.connection_id, PRICES_CURSOR, &newest)
                    .await?;
            }
        }
        Ok(summary)
    }

    /// The items of the connection's price lists whose Item Prices were deleted since `since`,
    /// and when the newest of those deletions was.
    async fn deleted_prices(
        &self,
        since: &str,
        lists: &[String],
    ) -> Result<DeletedPrices, SyncError> {
        let query = ListQuery::default()
            .fields(&["name", "data", "creation"])
            .filter("deleted_doctype", "=", "Item Price")
            .filter("creation", ">=", since.to_string())
            .order_by("creation asc")
            .all_rows();
        let rows: Vec<DeletedRow> = self.ctx.erp.list("Deleted Document", &query).await?;
        let mut deleted = DeletedPrices::default();
        for row in rows {
            let price: DeletedPrice =
                serde_json::from_str(&row.data).map_err(|error| ErpError::UnexpectedResponse {
                    subject: format!("Deleted Document {}", row.name),
                    message: format!("its copy does not read as an Item Price: {error}"),
                })?;
            if lists.contains(&price.price_list) {
                deleted.items.insert(price.item_code);
            }
            deleted.newest = deleted.newest.max(Some(row.creation));
        }
        Ok(deleted)
    }

    /// How the price lists' prices become the store's: as they stand when the store's "prices
    /// entered with tax" setting agrees with the connection's `price_list_includes_tax`, else
    /// with `tax_rate` added or taken off. Disagreeing without a rate writes nothing: a net
    /// price shown as gross would undercharge every buyer.
    async fn tax_conversion(&self) -> Result<Option<TaxConversion>, SyncError> {
        let woo = &self.ctx.woo;
        let catalogue = &self.ctx.connection.mappings.catalogue;
        let store_gross = woo.setting("tax", "woocommerce_prices_include_tax").await? == "yes";
        if store_gross == catalogue.price_list_includes_tax {
            return Ok(None);
        }
        let (store, list) = if store_gross {
            ("with tax", "without tax")
        } else {
            ("without tax", "with tax")
        };
        let Some(rate) = catalogue.tax_rate else {
            return Err(SyncError::Setup(format!(
                "The store's prices are entered {store}, but the connection takes the prices of \
                 `{}` as {list}, so no price was written. In the connection's mappings, under \
                 [catalogue], set tax_rate to the rate between the two (e.g. tax_rate = \"19\"), \
                 or set price_list_includes_tax to say how the price list holds its prices.",
                self.ctx.connection.price_list
            )));
        };
        let decimals = if store_gross {
            let text = woo
                .setting("general", "woocommerce_price_num_decimals")
                .await?;
            text.trim().parse().map_err(|_| {
                SyncError::Setup(format!(
                    "The store's number of decimals is `{text}`, not a whole number; set it in \
                     WooCommerce → Settings → General, then push prices again."
                ))
            })?
        } else {
            0
        };
        Ok(Some(TaxConversion {
            rate,
            to_gross: store_gross,
            decimals,
        }))
    }

    /// The connection's price list, then its sale price list.
    fn price_lists(&self) -> Vec<String> {
        let mut lists = vec![self.ctx.connection.price_list.clone()];
        lists.extend(
            self.ctx
                .connection
                .mappings
                .catalogue
                .sale_price_list
                .clone(),
        );
        lists
    }

    /// The price push of these links, reading only the Items and Item Prices of `items` when
    /// given.
    async fn push_prices_of(
        &self,
        links: Vec<ProductLink>,
        items: Option<Vec<String>>,
        options: StockOptions,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<PricePushSummary, SyncError> {
        let ctx = self.ctx;
        let catalogue = &ctx.connection.mappings.catalogue;
        let lists = self.price_lists();
        let units = self.selling_units(items.clone(), false).await?;
        let rows: Vec<ItemPriceWire> = self
            .list_of_items(
                "Item Price",
                ListQuery::default()
                    .fields(&[
                        "item_code",
                        "price_list",
                        "uom",
                        "price_list_rate",
                        "valid_from",
                        "valid_upto",
                        "customer",
                        "supplier",
                        "batch_no",
                    ])
                    .filter("price_list", "in", lists)
                    .order_by("item_code asc")
                    .all_rows(),
                items,
            )
            .await?;
        let site_zone = ctx.erp.site_time_zone().await?;
        let today = chrono::Utc::now().with_timezone(&site_zone).date_naive();
        let rows: Vec<ItemPriceRow> = rows.into_iter().map(ItemPriceWire::into_row).collect();
        let inputs = PriceInputs {
            today: Some(today),
            price_list: ctx.connection.price_list.clone(),
            sale_price_list: catalogue.sale_price_list.clone(),
            units,
            tax: self.tax_conversion().await?,
            all: options.all,
        };
        let writes = plan_prices(&links, &rows, &inputs);
        let mut summary = PricePushSummary {
            linked: links.len(),
            to_write: writes.len(),
            dry_run: options.dry_run,
            ..PricePushSummary::default()
        };
        if options.dry_run {
            summary.writes = writes;
            return Ok(summary);
        }
        let entries = writes
            .iter()
            .map(|write| ShopWrite {
                item_code: write.item_code.clone(),
                product_id: write.product_id,
                variation_id: write.variation_id,
                update: price_update(write),
                remembered: write.prices.remembered(),
                what: describe_prices(&write.prices),
            })
            .collect();
        let sent = self.send(entries, "push_prices", on_progress).await?;
        summary.written = sent.written;
        summary.failed = sent.failures.len();
        summary.failures = sent.failures;
        summary.write_calls = sent.write_calls;
        summary.writes = writes;
        Ok(summary)
    }

    /// Linked products whose stock or prices in the shop differ from what a push of every link
    /// would write now (ERPNext's figures, less what the shop sold that ERPNext does not reserve
    /// yet): `reconcile`'s catalogue half. Reads only; nothing is written or remembered.
    pub async fn differences(&self) -> Result<Vec<CatalogueDifference>, SyncError> {
        let links = self.links_in_use().await?;
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let everything = StockOptions {
            dry_run: true,
            all: true,
        };
        let stock = self.push_stock(everything, &|_, _| {}).await?;
        let prices = self.push_prices(everything, &|_, _| {}).await?;
        // What the shop holds now, by the id a write goes to.
        let mut shown: HashMap<u64, Product> = HashMap::new();
        for product in self.ctx.woo.list_all_products().await? {
            shown.insert(product.id, product);
        }
        let parents: BTreeSet<u64> = links
            .iter()
            .filter(|link| link.variation_id != 0)
            .map(|link| link.product_id)
            .collect();
        for parent in parents {
            for variation in self.ctx.woo.list_variations(parent).await? {
                shown.insert(variation.id, variation);
            }
        }
        let mut differences = Vec::new();
        let mut differ = |item_code: &str,
                          product_id: u64,
                          variation_id: u64,
                          field: &str,
                          shop: String,
                          erpnext: String| {
            if shop != erpnext {
                differences.push(CatalogueDifference {
                    item_code: item_code.to_string(),
                    product_id,
                    variation_id,
                    field: field.to_string(),
                    shop,
                    erpnext,
                });
            }
        };
        let missing = "no product".to_string();
        for write in &stock.writes {
            let product = shown.get(&shop_id(write.product_id, write.variation_id));
            let shop = product.map_or(missing.clone(), |product| {
                product
                    .stock_quantity
                    .map_or("not managed".to_string(), |quantity| quantity.to_string())
            });
            let (code, product_id, variation_id) =
                (&write.item_code, write.product_id, write.variation_id);
            differ(
                code,
                product_id,
                variation_id,
                "stock",
                shop,
                write.quantity.to_string(),
            );
        }
        for write in &prices.writes {
            let product = shown.get(&shop_id(write.product_id, write.variation_id));
            let (code, product_id, variation_id) =
                (&write.item_code, write.product_id, write.variation_id);
            let price = |field: fn(&Product) -> Decimal| {
                product.map_or(missing.clone(), |product| {
                    let value = field(product).normalize();
                    if value.is_zero() {
                        "none".to_string()
                    } else {
                        value.to_string()
                    }
                })
            };
            differ(
                code,
                product_id,
                variation_id,
                "regular price",
                price(|product| product.regular_price),
                write.prices.regular.normalize().to_string(),
            );
            if let Some(sale) = &write.prices.sale {
                let wanted = sale.as_ref().map_or("none".to_string(), |sale| {
                    sale.price.normalize().to_string()
                });
                differ(
                    code,
                    product_id,
                    variation_id,
                    "sale price",
                    price(|product| product.sale_price),
                    wanted,
                );
            }
        }
        Ok(differences)
    }

    /// Sends the writes in batches of 100 (simple products together, each variable product's
    /// variations together), logs each entry, and remembers what the shop accepted.
    async fn send(
        &self,
        entries: Vec<ShopWrite>,
        action: &'static str,
        on_progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Sent, SyncError> {
        // The shop's batch endpoints take products and each product's variations apart.
        let mut groups: BTreeMap<u64, Vec<&ShopWrite>> = BTreeMap::new();
        for entry in &entries {
            let parent = if entry.variation_id == 0 {
                0
            } else {
                entry.product_id
            };
            groups.entry(parent).or_default().push(entry);
        }
        let total = entries.len() as u64;
        let mut done = 0u64;
        let mut sent = Sent::default();
        on_progress(done, total);
        for (parent, group) in groups {
            for chunk in group.chunks(crate::woocommerce::client::BATCH_LIMIT) {
                let outcome = self.write_batch(parent, chunk).await;
                sent.write_calls += 1;
                let mut accepted = Vec::new();
                let mut log = Vec::new();
                for entry in chunk {
                    let failure = match &outcome {
                        Ok(refused) => refused.get(&entry.update.id).cloned(),
                        Err(reason) => Some(reason.clone()),
                    };
                    match failure {
                        None => {
                            sent.written += 1;
                            accepted.push((entry.item_code.clone(), entry.remembered.clone()));
                            log.push(self.log_entry(entry, action, LogOutcome::Ok, String::new()));
                        }
                        Some(reason) => {
                            sent.failures
                                .insert(entry.item_code.clone(), reason.clone());
                            log.push(self.log_entry(entry, action, LogOutcome::Failed, reason));
                        }
                    }
                }
                let store = &self.ctx.store;
                if action == "push_stock" {
                    let quantities: Vec<(String, Decimal)> = accepted
                        .into_iter()
                        .filter_map(|(code, text)| Some((code, text.parse().ok()?)))
                        .collect();
                    store
                        .record_pushed_stock(self.ctx.connection_id, &quantities)
                        .await?;
                } else {
                    store
                        .record_pushed_prices(self.ctx.connection_id, &accepted)
                        .await?;
                }
                store.append_logs(&log).await?;
                done += chunk.len() as u64;
                on_progress(done, total);
            }
        }
        Ok(sent)
    }

    /// One batch request; the entries the shop refused, by id, or why the whole request failed.
    async fn write_batch(
        &self,
        parent: u64,
        chunk: &[&ShopWrite],
    ) -> Result<HashMap<u64, String>, String> {
        let updates: Vec<StockPriceUpdate> =
            chunk.iter().map(|entry| entry.update.clone()).collect();
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
            "catalogue batch"
        );
        let answers = answers.map_err(|error| error.to_string())?;
        Ok(answers
            .iter()
            .flat_map(BatchResponse::failures)
            .map(|(id, error)| (id, format!("{} ({})", error.message, error.code)))
            .collect())
    }

    fn log_entry(
        &self,
        entry: &ShopWrite,
        action: &str,
        outcome: LogOutcome,
        reason: String,
    ) -> LogEntry {
        let target = if entry.variation_id == 0 {
            format!("product {}", entry.product_id)
        } else {
            format!(
                "variation {} of product {}",
                entry.variation_id, entry.product_id
            )
        };
        let message = match outcome {
            LogOutcome::Ok => format!("{target}: {} written", entry.what),
            _ => format!(
                "{target}: {} not written: {reason}; the next push tries again",
                entry.what
            ),
        };
        LogEntry {
            connection_id: self.ctx.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: "item".to_string(),
            object_id: entry.item_code.clone(),
            order_id: None,
            action: action.to_string(),
            outcome,
            message,
            request_excerpt: serde_json::to_string(&entry.update).ok(),
            response_excerpt: None,
            duration_ms: 0,
            attempt: 1,
        }
    }
}

/// A linked product whose shop figure differs from ERPNext's (see `CatalogueFlow::differences`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueDifference {
    pub item_code: String,
    pub product_id: u64,
    /// 0 for a simple product.
    pub variation_id: u64,
    /// `stock`, `regular price` or `sale price`.
    pub field: String,
    /// What the shop shows now.
    pub shop: String,
    /// What the next push would write.
    pub erpnext: String,
}

/// The last link run (or check) the UI asked for, as its page shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkRun {
    pub at: chrono::DateTime<chrono::Utc>,
    /// A check: nothing was stored.
    pub dry_run: bool,
    /// The [`LinkReport`] as JSON.
    pub report: Option<serde_json::Value>,
    /// Why the run did not finish.
    pub error: Option<String>,
}

/// Where the last [`LinkRun`] is kept.
pub const LINK_REPORT_CURSOR: &str = "catalogue.link_report";

impl LinkRun {
    pub fn failed(dry_run: bool, error: &str) -> LinkRun {
        LinkRun {
            at: chrono::Utc::now(),
            dry_run,
            report: None,
            error: Some(error.to_string()),
        }
    }

    pub async fn save(
        &self,
        store: &crate::store::Store,
        connection_id: i64,
    ) -> crate::store::StoreResult<()> {
        let text = serde_json::to_string(self).unwrap_or_default();
        store
            .set_cursor(connection_id, LINK_REPORT_CURSOR, &text)
            .await
    }

    /// The connection's last run, if the UI ever asked for one.
    pub async fn last(
        store: &crate::store::Store,
        connection_id: i64,
    ) -> crate::store::StoreResult<Option<LinkRun>> {
        Ok(store
            .cursor(connection_id, LINK_REPORT_CURSOR)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }
}

/// One entry of a batch write, as `send` takes it.
struct ShopWrite {
    item_code: String,
    product_id: u64,
    variation_id: u64,
    update: StockPriceUpdate,
    /// What the link remembers once the shop accepted it.
    remembered: String,
    /// What is written, in words, for the sync log.
    what: String,
}

#[derive(Default)]
struct Sent {
    written: usize,
    write_calls: usize,
    failures: BTreeMap<String, String>,
}

/// What a price push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PricePushSummary {
    pub linked: usize,
    /// Prices that differed from the last push (or all, with `--all`).
    pub to_write: usize,
    pub written: usize,
    pub failed: usize,
    pub write_calls: usize,
    pub dry_run: bool,
    pub writes: Vec<PriceWrite>,
    pub failures: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ItemUnitWire {
    item_code: String,
    #[serde(default)]
    stock_uom: String,
    #[serde(default)]
    sales_uom: Option<String>,
    #[serde(default)]
    uom: Option<String>,
    #[serde(default, deserialize_with = "optional_decimal")]
    conversion_factor: Option<Decimal>,
}

impl ItemUnitWire {
    fn into_row(self) -> ItemUnitRow {
        ItemUnitRow {
            item_code: self.item_code,
            stock_uom: self.stock_uom,
            sales_uom: self.sales_uom,
            uom: self.uom,
            conversion_factor: self.conversion_factor,
        }
    }
}

#[derive(Deserialize)]
struct ItemPriceWire {
    item_code: String,
    price_list: String,
    #[serde(default)]
    uom: Option<String>,
    #[serde(deserialize_with = "decimal")]
    price_list_rate: Decimal,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_upto: Option<String>,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default)]
    batch_no: Option<String>,
}

impl ItemPriceWire {
    fn into_row(self) -> ItemPriceRow {
        let date = |text: Option<String>| {
            text.and_then(|text| {
                chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
            })
        };
        let set = |text: &Option<String>| text.as_deref().is_some_and(|text| !text.is_empty());
        ItemPriceRow {
            restricted: set(&self.customer) || set(&self.supplier) || set(&self.batch_no),
            item_code: self.item_code,
            price_list: self.price_list,
            uom: self.uom.unwrap_or_default(),
            rate: self.price_list_rate,
            valid_from: date(self.valid_from),
            valid_upto: date(self.valid_upto),
        }
    }
}

/// The shop's fields for a product's prices: the sale's first day from its start, its last day
/// to its end (the store's time, as WooCommerce reads these fields).
fn price_update(write: &PriceWrite) -> StockPriceUpdate {
    let mut update = StockPriceUpdate {
        id: shop_id(write.product_id, write.variation_id),
        regular_price: Some(write.prices.regular),
        ..StockPriceUpdate::default()
    };
    if let Some(sale) = &write.prices.sale {
        let day = |date: Option<chrono::NaiveDate>, time: &str| {
            date.map_or(String::new(), |date| format!("{date}T{time}"))
        };
        update.sale_price = Some(
            sale.as_ref()
                .map_or(String::new(), |sale| sale.price.to_string()),
        );
        update.date_on_sale_from = Some(day(sale.as_ref().and_then(|sale| sale.from), "00:00:00"));
        update.date_on_sale_to = Some(day(sale.as_ref().and_then(|sale| sale.to), "23:59:59"));
    }
    update
}

/// A product's prices in words (the sync log, the CLI's dry run).
pub fn describe_prices(prices: &ShopPrices) -> String {
    match &prices.sale {
        None => format!("regular price {}", prices.regular),
        Some(None) => format!("regular price {}, no sale", prices.regular),
        Some(Some(sale)) => format!(
            "regular price {}, sale price {}{}{}",
            prices.regular,
            sale.price,
            sale.from
                .map_or(String::new(), |day| format!(" from {day}")),
            sale.to.map_or(String::new(), |day| format!(" to {day}"))
        ),
    }
}

/// The shop's id of what a write goes to: the variation, or the product.
fn shop_id(product_id: u64, variation_id: u64) -> u64 {
    if variation_id == 0 {
        product_id
    } else {
        variation_id
    }
}
