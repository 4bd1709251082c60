//! Orders born in ERPNext: a submitted Sales Order whose `woocommerce_store` names the connection
//! (and that did not come from the shop: no `woocommerce_order_key`) is created in WooCommerce,
//! exactly once, by [`super::shop_order`]'s body.
//!
//! Exactly once rests on a *pending* record in the store (`erpnext_orders`) written before the
//! create, and the key `<connection>:<Sales Order>` in the shop order's meta
//! (`erpnext_sales_order_key`). WooCommerce's REST API cannot filter orders by meta, and its
//! `search` does not look at meta (checked on the real store), so after an uncertain outcome the
//! next attempt lists the orders modified since a little before the first attempt and looks for
//! the key in their meta before it creates anything.
//!
//! Once made, the order is linked both ways: the store's order link (so the shop's webhook for
//! the new order finds a Sales Order and creates none; the order flow also recognises the key in
//! the meta should the webhook come first) and the shop order's `erpnext_sales_order` meta; the
//! write-back then follows it like any other order.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::shop_order::{
    shop_order, skus, ErpCharge, ErpLine, ErpOrder, ShopBuyer, ShopOrderRules, ShopProduct,
};
use super::status::META_SALES_ORDER;
use super::DIRECTION;
use crate::erpnext::client::ListQuery;
use crate::erpnext::countries;
use crate::erpnext::types::DocStatus;
use crate::money::decimal;
use crate::store::{Link, LogEntry, LogOutcome, WooWriteBack};
use crate::sync::context::ConnectionContext;
use crate::sync::keys;
use crate::sync::mapping::ShippingTarget;
use crate::sync::report::SyncError;
use crate::sync::woo_to_erp::orders::order_fingerprint;
use crate::woocommerce::client::OrderQuery;
use crate::woocommerce::types::Order;

/// The cursor of the poll for new ERPNext-born Sales Orders: the newest `modified` handled.
pub const ERPNEXT_ORDERS_CURSOR: &str = "erpnext.born_orders.modified";
/// How far before the cursor each poll starts again.
const POLL_OVERLAP_MINUTES: i64 = 2;
/// How far before the first attempt the shop is searched for the key (clock skew between us and
/// the shop).
const SEARCH_SKEW_MINUTES: i64 = 10;
const ERP_TIME: &str = "%Y-%m-%d %H:%M:%S%.f";

/// What happened to one Sales Order born in ERPNext.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ShopOrderOutcome {
    /// Created in the shop now (in a dry run: would be, with this status and total).
    Created {
        status: String,
        total: Decimal,
    },
    /// Found in the shop under its key (an earlier attempt made it) and linked.
    Found,
    /// Made earlier; nothing to do.
    Linked,
    /// Not a Sales Order of this connection born in ERPNext (or not submitted).
    NotOurs,
    Failed {
        reason: String,
        retryable: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopOrderReport {
    pub sales_order: String,
    pub order_id: Option<u64>,
    #[serde(flatten)]
    pub outcome: ShopOrderOutcome,
    /// Whether the Sales Order could be read (or was known already).
    #[serde(skip)]
    pub read: bool,
}

impl ShopOrderReport {
    /// The Sales Order itself could not be read (no such one, or ERPNext is down).
    pub fn sales_order_unread(&self) -> bool {
        !self.read
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShopOrderSummary {
    pub seen: u64,
    pub created: u64,
    pub found: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Every Sales Order that was created, found or failed.
    pub reports: Vec<ShopOrderReport>,
}

impl ShopOrderSummary {
    pub fn add(&mut self, report: ShopOrderReport) {
        self.seen += 1;
        match &report.outcome {
            ShopOrderOutcome::Created { .. } => self.created += 1,
            ShopOrderOutcome::Found => self.found += 1,
            ShopOrderOutcome::Linked | ShopOrderOutcome::NotOurs => {
                self.unchanged += 1;
                return;
            }
            ShopOrderOutcome::Failed { .. } => self.failed += 1,
        }
        self.reports.push(report);
    }
}

#[derive(Debug, Deserialize)]
struct SalesOrderWire {
    name: String,
    docstatus: DocStatus,
    #[serde(default)]
    status: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    contact_display: Option<String>,
    #[serde(default)]
    contact_email: Option<String>,
    #[serde(default)]
    contact_mobile: Option<String>,
    #[serde(default)]
    customer_address: Option<String>,
    #[serde(default)]
    shipping_address_name: Option<String>,
    #[serde(deserialize_with = "decimal")]
    grand_total: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    rounded_total: Decimal,
    #[serde(default)]
    disable_rounded_total: i64,
    #[serde(default, deserialize_with = "decimal")]
    discount_amount: Decimal,
    #[serde(default)]
    woocommerce_store: Option<String>,
    #[serde(default)]
    woocommerce_order_key: Option<String>,
    #[serde(default)]
    woocommerce_order_id: Option<String>,
    #[serde(default)]
    items: Vec<ItemWire>,
    #[serde(default)]
    taxes: Vec<ChargeWire>,
}

#[derive(Debug, Deserialize)]
struct ItemWire {
    item_code: String,
    #[serde(default)]
    item_name: Option<String>,
    #[serde(deserialize_with = "decimal")]
    qty: Decimal,
    #[serde(deserialize_with = "decimal")]
    amount: Decimal,
}

#[derive(Debug, Deserialize)]
struct ChargeWire {
    account_head: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "decimal")]
    tax_amount_after_discount_amount: Decimal,
}

#[derive(Debug, Deserialize)]
struct AddressWire {
    #[serde(default)]
    address_line1: Option<String>,
    #[serde(default)]
    address_line2: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    pincode: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    email_id: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    name: String,
    #[serde(default)]
    modified: Option<String>,
}

/// True when `text` is missing or blank.
fn blank(text: &Option<String>) -> bool {
    text.as_deref().map_or(true, |text| text.trim().is_empty())
}

impl SalesOrderWire {
    fn born_for(&self, connection: &str) -> bool {
        self.docstatus == DocStatus::Submitted
            && self.woocommerce_store.as_deref() == Some(connection)
            // Orders that came from the shop carry their key (and an amended copy its order id).
            && blank(&self.woocommerce_order_key)
            && blank(&self.woocommerce_order_id)
    }

    fn facts(&self) -> ErpOrder {
        ErpOrder {
            name: self.name.clone(),
            status: self.status.clone(),
            currency: self.currency.clone(),
            grand_total: self.grand_total,
            rounded_total: if self.disable_rounded_total == 1 {
                Decimal::ZERO
            } else {
                self.rounded_total
            },
            discount_amount: self.discount_amount,
            lines: self
                .items
                .iter()
                .map(|item| ErpLine {
                    item_code: item.item_code.clone(),
                    item_name: item.item_name.clone().unwrap_or_default(),
                    qty: item.qty,
                    amount: item.amount,
                })
                .collect(),
            charges: self
                .taxes
                .iter()
                .map(|row| ErpCharge {
                    account_head: row.account_head.clone(),
                    description: row
                        .description
                        .clone()
                        .filter(|text| !text.trim().is_empty())
                        .unwrap_or_else(|| row.account_head.clone()),
                    amount: row.tax_amount_after_discount_amount,
                })
                .collect(),
        }
    }
}

/// Creates a connection's ERPNext-born Sales Orders in its shop.
pub struct ErpnextOrderFlow<'c> {
    ctx: &'c ConnectionContext,
    dry_run: bool,
}

impl<'c> ErpnextOrderFlow<'c> {
    pub fn new(ctx: &'c ConnectionContext) -> ErpnextOrderFlow<'c> {
        ErpnextOrderFlow {
            ctx,
            dry_run: false,
        }
    }

    /// Reads and decides as a run would; creates and records nothing.
    pub fn dry_run(mut self) -> ErpnextOrderFlow<'c> {
        self.dry_run = true;
        self
    }

    /// Every submitted Sales Order of this connection born in ERPNext and modified since the
    /// cursor (or `since`); then the cursor moves to the newest one handled, or the oldest that
    /// failed for a passing reason.
    pub async fn poll(&self, since: Option<NaiveDateTime>) -> Result<ShopOrderSummary, SyncError> {
        let start = match since {
            Some(since) => Some(since),
            None => self
                .ctx
                .store
                .cursor(self.ctx.connection_id, ERPNEXT_ORDERS_CURSOR)
                .await?
                .and_then(|text| NaiveDateTime::parse_from_str(&text, ERP_TIME).ok())
                .map(|at| at - ChronoDuration::minutes(POLL_OVERLAP_MINUTES)),
        };
        let mut query = ListQuery::default()
            .fields(&["name", "modified"])
            .filter("woocommerce_store", "=", self.ctx.name())
            .filter("woocommerce_order_key", "is", "not set")
            .filter("woocommerce_order_id", "is", "not set")
            .filter("docstatus", "=", 1)
            .order_by("modified asc")
            .all_rows();
        if let Some(start) = start {
            query = query.filter(
                "modified",
                ">=",
                start.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            );
        }
        let listed: Vec<Listed> = self.ctx.erp.list("Sales Order", &query).await?;
        let reports: Vec<(Option<String>, ShopOrderReport)> = stream::iter(listed)
            .map(|row| async move {
                let report = self.create_for(&row.name).await;
                (row.modified, report)
            })
            .buffer_unordered(self.ctx.concurrency)
            .collect()
            .await;
        let mut summary = ShopOrderSummary::default();
        let mut cursor = super::PollCursor::default();
        for (modified, report) in reports {
            let failed_retryably = matches!(
                report.outcome,
                ShopOrderOutcome::Failed {
                    retryable: true,
                    ..
                }
            );
            cursor.saw(modified, failed_retryably);
            summary.add(report);
        }
        if !self.dry_run {
            if let Some(resume_at) = cursor.resume_at() {
                self.ctx
                    .store
                    .set_cursor(self.ctx.connection_id, ERPNEXT_ORDERS_CURSOR, &resume_at)
                    .await?;
            }
        }
        Ok(summary)
    }

    /// Creates the shop order of one Sales Order if it is one of ours and has none yet. Never
    /// fails as a whole: a failure is in the report (and the sync log).
    pub async fn create_for(&self, name: &str) -> ShopOrderReport {
        let started = Instant::now();
        let mut report = ShopOrderReport {
            sales_order: name.to_string(),
            order_id: None,
            outcome: ShopOrderOutcome::NotOurs,
            read: false,
        };
        match self.create(name, &mut report).await {
            Ok(outcome) => report.outcome = outcome,
            Err(error) => {
                report.outcome = ShopOrderOutcome::Failed {
                    reason: self.ctx.redact(&error.to_string()),
                    retryable: error.is_retryable(),
                };
            }
        }
        if !self.dry_run {
            self.log(&report, started.elapsed().as_millis() as i64)
                .await;
        }
        report
    }

    async fn create(
        &self,
        name: &str,
        report: &mut ShopOrderReport,
    ) -> Result<ShopOrderOutcome, SyncError> {
        let known = self
            .ctx
            .store
            .erpnext_order(self.ctx.connection_id, name)
            .await?;
        if let Some(order_id) = known.as_ref().and_then(|known| known.order_id) {
            report.order_id = Some(order_id);
            report.read = true;
            return Ok(ShopOrderOutcome::Linked);
        }
        let sales_order: SalesOrderWire = self.ctx.erp.get("Sales Order", name).await?;
        report.read = true;
        if !sales_order.born_for(self.ctx.name()) {
            return Ok(ShopOrderOutcome::NotOurs);
        }
        let key = keys::shop_order(self.ctx.name(), name);
        // A pending record: an earlier attempt may have made the order and lost the answer.
        if let Some(pending) = &known {
            let since =
                pending.started_at.naive_utc() - ChronoDuration::minutes(SEARCH_SKEW_MINUTES);
            if let Some(found) = self.find_by_key(&key, since).await? {
                report.order_id = Some(found.id);
                if !self.dry_run {
                    self.record(name, &found).await?;
                }
                return Ok(ShopOrderOutcome::Found);
            }
        }
        let facts = sales_order.facts();
        let products = self.products(&facts).await?;
        let buyer = self.buyer(&sales_order).await?;
        let made = match shop_order(&facts, &products, &buyer, &self.shop_rules()) {
            Ok(made) => made,
            Err(error) => {
                return Ok(ShopOrderOutcome::Failed {
                    reason: error.to_string(),
                    retryable: false,
                })
            }
        };
        if self.dry_run {
            return Ok(ShopOrderOutcome::Created {
                status: made.status,
                total: made.total,
            });
        }
        // Written before the create: a lost answer sends the next attempt to the shop's orders.
        self.ctx
            .store
            .start_erpnext_order(self.ctx.connection_id, name)
            .await?;
        let created = self.ctx.woo.create_order(&made.body).await?;
        report.order_id = Some(created.id);
        self.record(name, &created).await?;
        if created.total != made.total {
            return Ok(ShopOrderOutcome::Failed {
                reason: format!(
                    "WooCommerce order {} totals {} but Sales Order {name} totals {}; the shop \
                     changed the figures (check its tax and shipping settings) — the order is \
                     linked and was not made again",
                    created.id, created.total, made.total
                ),
                retryable: false,
            });
        }
        Ok(ShopOrderOutcome::Created {
            status: created.status,
            total: created.total,
        })
    }

    /// The order with the key in its meta, among those modified since `since` (UTC).
    async fn find_by_key(
        &self,
        key: &str,
        since: NaiveDateTime,
    ) -> Result<Option<Order>, SyncError> {
        let orders = self
            .ctx
            .woo
            .list_all_orders(&OrderQuery::modified_since(since))
            .await?;
        Ok(orders
            .into_iter()
            .find(|order| order.meta(keys::SHOP_ORDER_META).and_then(Value::as_str) == Some(key)))
    }

    /// Links the shop order both ways in the store: the Sales Order's record, the order's link
    /// (the order flow then treats the shop's webhook for it as an echo) and what the write-back
    /// would otherwise write again (its status and `erpnext_sales_order`).
    async fn record(&self, sales_order: &str, order: &Order) -> Result<(), SyncError> {
        let store = &self.ctx.store;
        store
            .finish_erpnext_order(self.ctx.connection_id, sales_order, order.id)
            .await?;
        store
            .put_link(&Link {
                connection_id: self.ctx.connection_id,
                woo_kind: "order".to_string(),
                woo_id: order.id.to_string(),
                erp_doctype: "Sales Order".to_string(),
                erp_name: sales_order.to_string(),
                fingerprint: Some(order_fingerprint(order)),
                amount: Some(order.total),
            })
            .await?;
        if store
            .woo_write_back(self.ctx.connection_id, order.id)
            .await?
            .is_none()
        {
            store
                .put_woo_write_back(&WooWriteBack {
                    connection_id: self.ctx.connection_id,
                    order_id: order.id,
                    sales_order: sales_order.to_string(),
                    status: Some(order.status.clone()),
                    woo_modified: order.date_modified_gmt,
                    meta: [(META_SALES_ORDER.to_string(), sales_order.to_string())].into(),
                    notes: Default::default(),
                })
                .await?;
        }
        Ok(())
    }

    /// The shop's product (or variation) for each item code, by SKU; an item without one is
    /// left out (the pure core names it).
    async fn products(&self, order: &ErpOrder) -> Result<BTreeMap<String, ShopProduct>, SyncError> {
        let mut products = BTreeMap::new();
        for sku in skus(order) {
            let found = self.ctx.woo.find_products_by_sku(&sku).await?;
            if let Some(product) = found.into_iter().find(|product| product.sku == sku) {
                let shop_product = if product.parent_id != 0 {
                    ShopProduct {
                        product_id: product.parent_id,
                        variation_id: product.id,
                    }
                } else {
                    ShopProduct {
                        product_id: product.id,
                        variation_id: 0,
                    }
                };
                products.insert(sku, shop_product);
            }
        }
        Ok(products)
    }

    /// The buyer: addresses from the Sales Order's Address documents, the e-mail from its contact
    /// (or billing address), and the shop's customer with that e-mail (a guest order otherwise).
    async fn buyer(&self, order: &SalesOrderWire) -> Result<ShopBuyer, SyncError> {
        let billing_address = self.address(order.customer_address.as_deref()).await?;
        let shipping_address = match order.shipping_address_name.as_deref() {
            Some(name) if Some(name) != order.customer_address.as_deref() => {
                self.address(Some(name)).await?
            }
            _ => None,
        };
        let email = order
            .contact_email
            .clone()
            .filter(|email| !email.trim().is_empty())
            .or_else(|| {
                billing_address
                    .as_ref()
                    .and_then(|address| address.email_id.clone())
            })
            .unwrap_or_default();
        let person = order
            .contact_display
            .clone()
            .filter(|name| !name.trim().is_empty())
            .or_else(|| order.customer_name.clone())
            .unwrap_or_default();
        let (first_name, last_name) = match person.trim().rsplit_once(' ') {
            Some((first, last)) => (first.to_string(), last.to_string()),
            None => (person.trim().to_string(), String::new()),
        };
        let company = order
            .customer_name
            .clone()
            .filter(|company| *company != person)
            .unwrap_or_default();
        let woo_address = |address: Option<&AddressWire>| -> Value {
            let text = |value: Option<&Option<String>>| {
                value.and_then(|value| value.clone()).unwrap_or_default()
            };
            let country = address
                .and_then(|address| address.country.as_deref())
                .and_then(|name| {
                    countries::all()
                        .iter()
                        .find(|(_, country)| country.eq_ignore_ascii_case(name))
                        .map(|(code, _)| code.to_string())
                })
                .unwrap_or_default();
            json!({
                "first_name": first_name,
                "last_name": last_name,
                "company": company,
                "address_1": text(address.map(|a| &a.address_line1)),
                "address_2": text(address.map(|a| &a.address_line2)),
                "city": text(address.map(|a| &a.city)),
                "state": text(address.map(|a| &a.state)),
                "postcode": text(address.map(|a| &a.pincode)),
                "country": country,
            })
        };
        let mut billing = woo_address(billing_address.as_ref());
        billing["email"] = json!(email);
        billing["phone"] = json!(billing_address
            .as_ref()
            .and_then(|address| address.phone.clone())
            .or_else(|| order.contact_mobile.clone())
            .unwrap_or_default());
        let shipping = woo_address(shipping_address.as_ref().or(billing_address.as_ref()));
        let customer_id = if email.trim().is_empty() {
            0
        } else {
            self.ctx
                .woo
                .find_customers_by_email(email.trim())
                .await?
                .into_iter()
                .find(|customer| customer.email.eq_ignore_ascii_case(email.trim()))
                .map_or(0, |customer| customer.id)
        };
        Ok(ShopBuyer {
            customer_id,
            billing,
            shipping,
        })
    }

    async fn address(&self, name: Option<&str>) -> Result<Option<AddressWire>, SyncError> {
        match name.filter(|name| !name.trim().is_empty()) {
            Some(name) => Ok(Some(self.ctx.erp.get("Address", name).await?)),
            None => Ok(None),
        }
    }

    fn shop_rules(&self) -> ShopOrderRules {
        let rules = &self.ctx.rules;
        let mut shipping_accounts = BTreeMap::new();
        if let Some(account) = &rules.default_shipping_account {
            shipping_accounts.insert(account.clone(), "flat_rate".to_string());
        }
        for (method, target) in &rules.shipping {
            if let ShippingTarget::Account(account) = target {
                shipping_accounts.insert(account.clone(), method.clone());
            }
        }
        ShopOrderRules {
            connection: self.ctx.name().to_string(),
            shipping_accounts,
            status_map: self.ctx.connection.mappings.status_to_woocommerce.clone(),
        }
    }

    async fn log(&self, report: &ShopOrderReport, duration_ms: i64) {
        let (outcome, message) = match &report.outcome {
            ShopOrderOutcome::Created { total, .. } => (
                LogOutcome::Ok,
                format!(
                    "Sales Order {} born in ERPNext: WooCommerce order {} created ({total})",
                    report.sales_order,
                    report.order_id.unwrap_or_default()
                ),
            ),
            ShopOrderOutcome::Found => (
                LogOutcome::Ok,
                format!(
                    "Sales Order {} born in ERPNext: WooCommerce order {} found under its key (made by an earlier attempt)",
                    report.sales_order,
                    report.order_id.unwrap_or_default()
                ),
            ),
            ShopOrderOutcome::Failed { reason, .. } => (
                LogOutcome::Failed,
                format!(
                    "Sales Order {} born in ERPNext: {reason}",
                    report.sales_order
                ),
            ),
            ShopOrderOutcome::Linked | ShopOrderOutcome::NotOurs => return,
        };
        let order_id = report.order_id.map(|id| id.to_string());
        let entry = LogEntry {
            connection_id: self.ctx.connection_id,
            direction: DIRECTION.to_string(),
            object_kind: "order".to_string(),
            object_id: order_id
                .clone()
                .unwrap_or_else(|| report.sales_order.clone()),
            order_id,
            action: "create_shop_order".to_string(),
            outcome,
            message,
            request_excerpt: None,
            response_excerpt: None,
            duration_ms,
            attempt: 1,
        };
        if let Err(error) = self.ctx.store.append_log(&entry).await {
            tracing::error!(%error, "cannot log an ERPNext-born order");
        }
    }
}
