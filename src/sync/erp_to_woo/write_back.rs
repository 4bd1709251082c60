//! The IO of ERPNext → WooCommerce: read a Sales Order with its Delivery Notes and invoices and
//! the WooCommerce order it came from, let [`super::status::decide`] say what to write, write it
//! (notes first, then status and meta in one update) and remember what was written.
//!
//! The WooCommerce webhook that echoes our write must change nothing in ERPNext: after the update
//! the order's link takes the fingerprint of the order as written, so the order flow finds it
//! unchanged.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::status::{
    decide, DeliveryFacts, ErpFacts, SalesOrderFacts, ShippedLine, WooFacts, WriteBackPlan,
    META_KEYS,
};
use crate::erpnext::client::ListQuery;
use crate::erpnext::types::{DocStatus, SalesOrder};
use crate::money::decimal;
use crate::store::{LogEntry, LogOutcome, WooWriteBack};
use crate::sync::context::ConnectionContext;
use crate::sync::report::SyncError;
use crate::sync::woo_to_erp::orders::order_fingerprint;
use crate::woocommerce::types::Order;

/// The cursor of the Sales Order poll: the newest `modified` (ERPNext's site time) handled.
pub const SALES_ORDERS_CURSOR: &str = "erpnext.sales_orders.modified";
/// How far before the cursor each poll starts again (saves committed out of order).
const POLL_OVERLAP_MINUTES: i64 = 2;
use super::DIRECTION;
const ERP_TIME: &str = "%Y-%m-%d %H:%M:%S%.f";

/// What happened to one Sales Order's WooCommerce order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WriteBackOutcome {
    /// Written (or, in a dry run, would be).
    Written {
        status: Option<String>,
        notes: Vec<String>,
        meta: BTreeMap<String, String>,
    },
    /// Nothing to write.
    Unchanged,
    /// Not one of this connection's orders (or a draft).
    NotOurs,
    Failed {
        reason: String,
        retryable: bool,
    },
}

/// One Sales Order followed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteBackReport {
    pub sales_order: String,
    pub order_id: Option<u64>,
    #[serde(flatten)]
    pub outcome: WriteBackOutcome,
    /// Why the mapped status was not written, when it was not.
    pub status_left: Option<String>,
}

/// Counts of a run over many Sales Orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WriteBackSummary {
    pub seen: u64,
    pub written: u64,
    pub statuses_written: u64,
    pub notes_written: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub reports: Vec<WriteBackReport>,
}

impl WriteBackSummary {
    pub fn add(&mut self, report: WriteBackReport) {
        self.seen += 1;
        match &report.outcome {
            WriteBackOutcome::Written { status, notes, .. } => {
                self.written += 1;
                self.statuses_written += u64::from(status.is_some());
                self.notes_written += notes.len() as u64;
            }
            WriteBackOutcome::Unchanged | WriteBackOutcome::NotOurs => self.unchanged += 1,
            WriteBackOutcome::Failed { .. } => self.failed += 1,
        }
        if !matches!(
            report.outcome,
            WriteBackOutcome::Unchanged | WriteBackOutcome::NotOurs
        ) {
            self.reports.push(report);
        }
    }
}

#[derive(Debug, Deserialize)]
struct DeliveryNoteWire {
    docstatus: DocStatus,
    #[serde(default)]
    transporter_name: Option<String>,
    #[serde(default)]
    transporter: Option<String>,
    #[serde(default)]
    lr_no: Option<String>,
    #[serde(default)]
    items: Vec<DeliveryNoteItemWire>,
}

#[derive(Debug, Deserialize)]
struct DeliveryNoteItemWire {
    item_code: String,
    #[serde(default)]
    item_name: Option<String>,
    #[serde(deserialize_with = "decimal")]
    qty: Decimal,
    #[serde(default)]
    against_sales_order: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    name: String,
    #[serde(default)]
    docstatus: Option<DocStatus>,
    #[serde(default)]
    modified: Option<String>,
}

/// The ERPNext → WooCommerce flow of one connection.
pub struct StatusFlow<'c> {
    ctx: &'c ConnectionContext,
    dry_run: bool,
}

impl<'c> StatusFlow<'c> {
    pub fn new(ctx: &'c ConnectionContext) -> StatusFlow<'c> {
        StatusFlow {
            ctx,
            dry_run: false,
        }
    }

    /// Reads and decides as a run would, writes nothing (WooCommerce, store and cursor alike).
    pub fn dry_run(mut self) -> StatusFlow<'c> {
        self.dry_run = true;
        self
    }

    /// Follows every Sales Order of this connection modified since the cursor (or `since`, an
    /// ERPNext site time), then moves the cursor: to the newest one handled, or to the oldest
    /// that failed for a passing reason (so the next poll reads it again).
    pub async fn poll(&self, since: Option<NaiveDateTime>) -> Result<WriteBackSummary, SyncError> {
        let start = match since {
            Some(since) => Some(since),
            None => self
                .ctx
                .store
                .cursor(self.ctx.connection_id, SALES_ORDERS_CURSOR)
                .await?
                .and_then(|text| NaiveDateTime::parse_from_str(&text, ERP_TIME).ok())
                .map(|at| at - ChronoDuration::minutes(POLL_OVERLAP_MINUTES)),
        };
        let mut query = ListQuery::default()
            .fields(&["name", "modified"])
            // The shop's orders and those born in ERPNext alike.
            .filter("woocommerce_store", "=", self.ctx.name())
            .filter("docstatus", "in", vec![1, 2])
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
        let reports: Vec<(Option<String>, WriteBackReport)> = stream::iter(listed)
            .map(|row| async move {
                let report = self.follow_sales_order(&row.name).await;
                (row.modified, report)
            })
            .buffer_unordered(self.ctx.concurrency)
            .collect()
            .await;
        let mut summary = WriteBackSummary::default();
        let mut cursor = super::PollCursor::default();
        for (modified, report) in reports {
            let failed_retryably = matches!(
                report.outcome,
                WriteBackOutcome::Failed {
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
                    .set_cursor(self.ctx.connection_id, SALES_ORDERS_CURSOR, &resume_at)
                    .await?;
            }
        }
        Ok(summary)
    }

    /// Follows one Sales Order: never fails as a whole; a failure is in the report (and the log).
    pub async fn follow_sales_order(&self, name: &str) -> WriteBackReport {
        let started = Instant::now();
        let mut report = WriteBackReport {
            sales_order: name.to_string(),
            order_id: None,
            outcome: WriteBackOutcome::Unchanged,
            status_left: None,
        };
        match self.follow(name, &mut report).await {
            Ok(outcome) => report.outcome = outcome,
            Err(error) => {
                report.outcome = WriteBackOutcome::Failed {
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

    async fn follow(
        &self,
        name: &str,
        report: &mut WriteBackReport,
    ) -> Result<WriteBackOutcome, SyncError> {
        let sales_order: SalesOrder = self.ctx.erp.get("Sales Order", name).await?;
        let prefix = format!("{}:", self.ctx.name());
        let mut order_id = sales_order
            .woocommerce_order_key
            .as_deref()
            .and_then(|key| key.strip_prefix(&prefix))
            .and_then(|id| id.parse::<u64>().ok());
        // Born in ERPNext: its shop order is the one the store recorded for it (none yet: the
        // ERPNext-born flow creates it).
        if sales_order
            .woocommerce_order_key
            .as_deref()
            .map_or(true, |key| key.trim().is_empty())
            && sales_order.woocommerce_store.as_deref() == Some(self.ctx.name())
        {
            order_id = self
                .ctx
                .store
                .erpnext_order(self.ctx.connection_id, name)
                .await?
                .and_then(|record| record.order_id);
        }
        let Some(order_id) = order_id.filter(|_| sales_order.docstatus != DocStatus::Draft) else {
            return Ok(WriteBackOutcome::NotOurs);
        };
        report.order_id = Some(order_id);
        let written = self
            .ctx
            .store
            .woo_write_back(self.ctx.connection_id, order_id)
            .await?;
        let erp = self.erp_facts(&sales_order, written.as_ref()).await?;
        let order = self.ctx.woo.get_order(order_id).await?;
        let woo = woo_facts(&order);
        let plan = decide(
            &erp,
            &woo,
            written.as_ref(),
            &self.ctx.connection.mappings.status_to_woocommerce,
        );
        report.status_left = plan.status_left.clone();
        if plan.is_empty() {
            return Ok(WriteBackOutcome::Unchanged);
        }
        let outcome = WriteBackOutcome::Written {
            status: plan.status.clone(),
            notes: plan.notes.iter().map(|note| note.text.clone()).collect(),
            meta: plan.meta.clone(),
        };
        if self.dry_run {
            return Ok(outcome);
        }
        self.apply(&order, &sales_order.name, written, plan).await?;
        Ok(outcome)
    }

    /// The Sales Order's Delivery Notes (read in full only where a note is still to be written)
    /// and submitted invoices.
    async fn erp_facts(
        &self,
        sales_order: &SalesOrder,
        written: Option<&WooWriteBack>,
    ) -> Result<ErpFacts, SyncError> {
        let name = sales_order.name.as_str();
        let listed: Vec<Listed> = self
            .ctx
            .erp
            .list(
                "Delivery Note",
                &ListQuery::default()
                    .child_filter("Delivery Note Item", "against_sales_order", "=", name)
                    .fields(&["name", "docstatus"])
                    .filter("docstatus", "in", vec![1, 2])
                    .filter("is_return", "=", 0)
                    // Qualified: the child-table filter joins a table with the same columns.
                    .order_by("`tabDelivery Note`.`creation` asc")
                    .all_rows(),
            )
            .await?;
        let noted = |key: String| written.is_some_and(|written| written.notes.contains(&key));
        let mut deliveries: Vec<DeliveryFacts> = Vec::new();
        for row in listed {
            // A child-table filter may list a parent once per matching row.
            if deliveries.iter().any(|delivery| delivery.name == row.name) {
                continue;
            }
            let cancelled = row.docstatus == Some(DocStatus::Cancelled);
            let needs_reading = !cancelled && !noted(format!("dn:{}:submitted", row.name));
            let mut facts = DeliveryFacts {
                name: row.name.clone(),
                cancelled,
                carrier: String::new(),
                tracking: String::new(),
                lines: Vec::new(),
            };
            if needs_reading {
                let note: DeliveryNoteWire = self.ctx.erp.get("Delivery Note", &row.name).await?;
                facts.cancelled = note.docstatus == DocStatus::Cancelled;
                facts.carrier = note
                    .transporter_name
                    .filter(|text| !text.trim().is_empty())
                    .or(note.transporter)
                    .unwrap_or_default();
                facts.tracking = note.lr_no.unwrap_or_default();
                facts.lines = note
                    .items
                    .into_iter()
                    .filter(|item| item.against_sales_order.as_deref() == Some(name))
                    .map(|item| ShippedLine {
                        item_name: item.item_name.unwrap_or_default(),
                        item_code: item.item_code,
                        qty: item.qty,
                    })
                    .collect();
            }
            deliveries.push(facts);
        }
        let invoices = if sales_order.per_billed > Decimal::ZERO {
            let rows: Vec<Listed> = self
                .ctx
                .erp
                .list(
                    "Sales Invoice",
                    &ListQuery::default()
                        .child_filter("Sales Invoice Item", "sales_order", "=", name)
                        .fields(&["name"])
                        .filter("docstatus", "=", 1)
                        .filter("is_return", "=", 0)
                        .order_by("`tabSales Invoice`.`creation` asc")
                        .all_rows(),
                )
                .await?;
            let mut names: Vec<String> = Vec::new();
            for row in rows {
                if !names.contains(&row.name) {
                    names.push(row.name);
                }
            }
            names
        } else {
            Vec::new()
        };
        Ok(ErpFacts {
            sales_order: SalesOrderFacts {
                name: name.to_string(),
                cancelled: sales_order.docstatus == DocStatus::Cancelled,
                status: sales_order.status.clone(),
                per_delivered: sales_order.per_delivered,
                per_billed: sales_order.per_billed,
            },
            deliveries,
            invoices,
        })
    }

    /// Notes first (each looked up before it is added, so a note whose answer was lost is not
    /// added again), then status and meta in one update; then what was written is recorded.
    async fn apply(
        &self,
        order: &Order,
        sales_order: &str,
        written: Option<WooWriteBack>,
        plan: WriteBackPlan,
    ) -> Result<(), SyncError> {
        let mut record = written.unwrap_or_else(|| WooWriteBack {
            connection_id: self.ctx.connection_id,
            order_id: order.id,
            ..WooWriteBack::default()
        });
        record.sales_order = sales_order.to_string();
        if !plan.notes.is_empty() {
            let existing = self.ctx.woo.list_order_notes(order.id).await?;
            for note in &plan.notes {
                if !existing.iter().any(|present| present.note == note.text) {
                    self.ctx
                        .woo
                        .create_order_note(order.id, &note.text, note.customer_note)
                        .await?;
                }
                record.notes.insert(note.key.clone());
            }
            // Notes leave the order's status and date_modified as they were.
            record.status = Some(order.status.clone());
            record.woo_modified = order.date_modified_gmt;
            // Kept even if the update below fails: these notes are in the shop.
            self.ctx.store.put_woo_write_back(&record).await?;
        }
        if plan.status.is_some() || !plan.meta.is_empty() {
            let mut changes = json!({});
            if let Some(status) = &plan.status {
                changes["status"] = json!(status);
            }
            if !plan.meta.is_empty() {
                let meta: Vec<Value> = plan
                    .meta
                    .iter()
                    .map(|(key, value)| json!({ "key": key, "value": value }))
                    .collect();
                changes["meta_data"] = Value::Array(meta);
            }
            let updated = self.ctx.woo.update_order(order.id, &changes).await?;
            record.status = Some(updated.status.clone());
            record.meta.extend(plan.meta);
            record.woo_modified = updated.date_modified_gmt;
            self.ctx.store.put_woo_write_back(&record).await?;
            self.settle_echo(&updated).await?;
        }
        Ok(())
    }

    /// The order flow follows a WooCommerce order by its fingerprint: give the link the
    /// fingerprint of the order as we left it, so the webhook echoing our write finds it unchanged.
    async fn settle_echo(&self, updated: &Order) -> Result<(), SyncError> {
        let link = self
            .ctx
            .store
            .link(
                self.ctx.connection_id,
                "order",
                &updated.id.to_string(),
                "Sales Order",
            )
            .await?;
        if let Some(mut link) = link.filter(|link| !link.erp_name.is_empty()) {
            link.fingerprint = Some(order_fingerprint(updated));
            self.ctx.store.put_link(&link).await?;
        }
        Ok(())
    }

    async fn log(&self, report: &WriteBackReport, duration_ms: i64) {
        let (outcome, message) = match &report.outcome {
            WriteBackOutcome::Written {
                status,
                notes,
                meta,
            } => {
                let mut parts = Vec::new();
                if let Some(status) = status {
                    parts.push(format!("status `{status}`"));
                }
                if !notes.is_empty() {
                    parts.push(format!("{} note(s)", notes.len()));
                }
                if !meta.is_empty() {
                    let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
                    parts.push(format!("meta {}", keys.join(", ")));
                }
                let mut message = format!(
                    "from Sales Order {}: wrote {}",
                    report.sales_order,
                    parts.join(", ")
                );
                if let Some(left) = &report.status_left {
                    message.push_str(&format!("; status not written: {left}"));
                }
                (LogOutcome::Ok, message)
            }
            WriteBackOutcome::Failed { reason, .. } => (
                LogOutcome::Failed,
                format!("from Sales Order {}: {reason}", report.sales_order),
            ),
            WriteBackOutcome::Unchanged | WriteBackOutcome::NotOurs => return,
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
            action: "write_back_status".to_string(),
            outcome,
            message,
            request_excerpt: None,
            response_excerpt: None,
            duration_ms,
            attempt: 1,
        };
        if let Err(error) = self.ctx.store.append_log(&entry).await {
            tracing::error!(%error, "cannot log a write-back");
        }
    }
}

fn woo_facts(order: &Order) -> WooFacts {
    let meta = META_KEYS
        .iter()
        .filter_map(|key| {
            let value = order.meta(key)?;
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            Some((key.to_string(), text))
        })
        .collect();
    WooFacts {
        status: order.status.clone(),
        date_modified_gmt: order.date_modified_gmt,
        meta,
    }
}
