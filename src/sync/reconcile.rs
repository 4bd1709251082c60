//! Reconcile: compares both sides from scratch (not from our links) and names
//! every difference: imported orders without a Sales Order, totals that differ,
//! orders with more than one Sales Order, cancellations not followed; and for
//! billing, orders due an invoice without one, invoice totals that differ, paid
//! orders without a payment, refunds without a credit note of their amount; and
//! shop orders whose status lags what ERPNext's progress implies
//! ([`crate::sync::erp_to_woo::status::lagging_status`]). A shop order made for
//! a Sales Order born in ERPNext is matched by the key in its meta, and its
//! billing is ERPNext's own. With product links, linked products whose shop
//! stock or prices differ from what a push would write now
//! ([`crate::sync::catalogue::flow::CatalogueFlow::differences`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::connection::Connection;
use crate::erpnext::client::{ErpClient, ListQuery};
use crate::money::parse_decimal;
use crate::sync::catalogue::flow::{CatalogueDifference, CatalogueFlow};
use crate::sync::context::ConnectionContext;
use crate::sync::erp_to_woo::status::{lagging_status, SalesOrderFacts};
use crate::sync::keys;
use crate::sync::mapping::{is_paid, OrderAction};
use crate::sync::report::SyncError;
use crate::woocommerce::client::OrderQuery;
use crate::woocommerce::types::Order;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconcileReport {
    /// WooCommerce orders in an imported status.
    pub orders_checked: u64,
    /// Submitted Sales Orders of this connection.
    pub sales_orders_checked: u64,
    pub missing_sales_orders: Vec<u64>,
    pub total_mismatches: Vec<TotalMismatch>,
    pub duplicates: Vec<Duplicate>,
    /// Orders cancelled in WooCommerce whose Sales Order is still submitted and not
    /// reversed by credit notes.
    pub not_cancelled: Vec<NotCancelled>,
    /// Orders past the invoice trigger without a Sales Invoice.
    pub missing_invoices: Vec<u64>,
    /// Orders with more than one Sales Invoice (not counting credit notes).
    pub duplicate_invoices: Vec<DuplicateInvoices>,
    pub invoice_total_mismatches: Vec<InvoiceMismatch>,
    /// Paid, invoiced orders without a Payment Entry (when the connection records payments).
    pub missing_payments: Vec<u64>,
    /// Refunds of invoiced orders without exactly one credit note of their amount.
    pub refunds_without_credit_note: Vec<RefundProblem>,
    /// Shop orders whose status is behind the one `status_to_woocommerce` names for their Sales
    /// Order's progress (a write-back not yet made, or a status the shop moved back).
    pub status_lags: Vec<StatusLag>,
    /// Linked products whose shop stock or prices differ from what a push would write now.
    pub catalogue_differences: Vec<CatalogueDifference>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusLag {
    pub order_id: u64,
    pub sales_order: String,
    pub erpnext_status: String,
    pub woocommerce_status: String,
    /// What ERPNext's progress implies for the shop's order.
    pub expected: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateInvoices {
    pub order_id: u64,
    pub sales_invoices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceMismatch {
    pub order_id: u64,
    pub sales_invoice: String,
    pub woocommerce_total: Decimal,
    pub erpnext_grand_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundProblem {
    pub order_id: u64,
    pub refund_id: u64,
    pub refunded: Decimal,
    /// What the credit notes with the refund's key give back (0 when there is none).
    pub credited: Decimal,
    pub credit_notes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalMismatch {
    pub order_id: u64,
    pub sales_order: String,
    pub woocommerce_total: Decimal,
    pub erpnext_grand_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicate {
    pub order_id: u64,
    pub sales_orders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotCancelled {
    pub order_id: u64,
    pub sales_order: String,
}

impl ReconcileReport {
    pub fn is_clean(&self) -> bool {
        self.problem_count() == 0
    }

    pub fn problem_count(&self) -> usize {
        self.missing_sales_orders.len()
            + self.total_mismatches.len()
            + self.duplicates.len()
            + self.not_cancelled.len()
            + self.missing_invoices.len()
            + self.duplicate_invoices.len()
            + self.invoice_total_mismatches.len()
            + self.missing_payments.len()
            + self.refunds_without_credit_note.len()
            + self.status_lags.len()
            + self.catalogue_differences.len()
    }
}

struct ErpOrder {
    name: String,
    grand_total: Decimal,
    progress: SalesOrderFacts,
}

/// Reads both sides whole and compares them. `action` says what the
/// connection does with a status (import, cancel, ignore).
pub async fn reconcile(ctx: &ConnectionContext) -> Result<ReconcileReport, SyncError> {
    let (woo, erp, connection) = (&ctx.woo, &ctx.erp, &ctx.connection);
    let action = |status: &str| ctx.action_for(status);
    let connection_name = connection.name.as_str();
    let orders = woo.list_all_orders(&OrderQuery::default()).await?;
    let rows: Vec<Value> = erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&[
                    "name",
                    "woocommerce_order_id",
                    "grand_total",
                    "docstatus",
                    "status",
                    "per_delivered",
                ])
                .filter("woocommerce_store", "=", connection_name)
                .filter("docstatus", "in", vec![1, 2])
                .all_rows(),
        )
        .await?;
    // Submitted Sales Orders per shop order id (those born in ERPNext by name: they carry no
    // order id), and the cancelled ones apart (they only tell a status).
    let mut by_order: BTreeMap<u64, Vec<ErpOrder>> = BTreeMap::new();
    let mut born: BTreeMap<String, ErpOrder> = BTreeMap::new();
    let mut cancelled: BTreeMap<u64, ErpOrder> = BTreeMap::new();
    let mut submitted = 0;
    for row in &rows {
        let number = |field: &str| parse_decimal(&row[field].to_string()).unwrap_or_default();
        let name = row["name"].as_str().unwrap_or_default().to_string();
        let is_cancelled = row["docstatus"].as_i64() == Some(2);
        let erp_order = ErpOrder {
            name: name.clone(),
            grand_total: number("grand_total"),
            progress: SalesOrderFacts {
                name: name.clone(),
                cancelled: is_cancelled,
                status: row["status"].as_str().unwrap_or_default().to_string(),
                per_delivered: number("per_delivered"),
                per_billed: Decimal::ZERO,
            },
        };
        submitted += u64::from(!is_cancelled);
        let order_id = row["woocommerce_order_id"]
            .as_str()
            .and_then(|id| id.parse::<u64>().ok());
        match (order_id, is_cancelled) {
            (Some(order_id), false) => by_order.entry(order_id).or_default().push(erp_order),
            (Some(order_id), true) => {
                cancelled.insert(order_id, erp_order);
            }
            (None, false) => {
                born.insert(name, erp_order);
            }
            (None, true) => {}
        }
    }
    let born_key = |order: &Order| {
        order
            .meta(keys::SHOP_ORDER_META)
            .and_then(Value::as_str)
            .and_then(|key| keys::sales_order_of_shop_order(connection_name, key))
            .map(str::to_string)
    };
    for order in &orders {
        if let Some(erp_order) = born_key(order).and_then(|name| born.remove(&name)) {
            by_order.entry(order.id).or_default().push(erp_order);
        }
    }
    let mut report = ReconcileReport {
        sales_orders_checked: submitted,
        ..ReconcileReport::default()
    };
    let billing = Billing::read(erp, connection).await?;
    for order in &orders {
        // Billing of an order born in ERPNext is ERPNext's own.
        if born_key(order).is_some() {
            continue;
        }
        // Refunded orders (status ignored) still owe their credit notes.
        let followed = match action(&order.status) {
            OrderAction::Import => by_order.contains_key(&order.id),
            OrderAction::Ignore => billing.invoices.contains_key(&order.id),
            OrderAction::Cancel => false,
        };
        if followed {
            billing.check(order, &mut report);
        }
    }
    for order in &orders {
        let sales_orders = by_order.get(&order.id);
        match action(&order.status) {
            OrderAction::Import => {
                report.orders_checked += 1;
                match sales_orders.map(Vec::as_slice) {
                    None | Some([]) => report.missing_sales_orders.push(order.id),
                    Some([one]) => {
                        if one.grand_total != order.total {
                            report.total_mismatches.push(TotalMismatch {
                                order_id: order.id,
                                sales_order: one.name.clone(),
                                woocommerce_total: order.total,
                                erpnext_grand_total: one.grand_total,
                            });
                        }
                    }
                    Some(many) => report.duplicates.push(Duplicate {
                        order_id: order.id,
                        sales_orders: many.iter().map(|so| so.name.clone()).collect(),
                    }),
                }
            }
            OrderAction::Cancel => {
                if billing.reversed(order) {
                    continue;
                }
                for sales_order in sales_orders.into_iter().flatten() {
                    report.not_cancelled.push(NotCancelled {
                        order_id: order.id,
                        sales_order: sales_order.name.clone(),
                    });
                }
            }
            OrderAction::Ignore => {}
        }
        let progress = match sales_orders.map(Vec::as_slice) {
            Some([one]) => Some(one),
            None | Some([]) => cancelled.get(&order.id),
            Some(_) => None,
        };
        if let Some(erp_order) = progress {
            if let Some(expected) = lagging_status(
                &erp_order.progress,
                &order.status,
                &connection.mappings.status_to_woocommerce,
            ) {
                report.status_lags.push(StatusLag {
                    order_id: order.id,
                    sales_order: erp_order.name.clone(),
                    erpnext_status: if erp_order.progress.cancelled {
                        "Cancelled".to_string()
                    } else {
                        erp_order.progress.status.clone()
                    },
                    woocommerce_status: order.status.clone(),
                    expected,
                });
            }
        }
    }
    report.catalogue_differences = CatalogueFlow::new(ctx).differences().await?;
    Ok(report)
}

/// A connection's invoices, credit notes and payment entries, by their WooCommerce keys.
struct Billing<'a> {
    connection: &'a Connection,
    /// Sales Invoices that are not returns, per order id: (name, grand total).
    invoices: BTreeMap<u64, Vec<(String, Decimal)>>,
    /// Credit notes per `woocommerce_credit_note_key`: their totals (negative).
    credit_notes: BTreeMap<String, Vec<Decimal>>,
    /// What the credit notes against each invoice give back together (positive).
    credited: BTreeMap<String, Decimal>,
    /// Payment Entries per `woocommerce_payment_key`.
    payments: BTreeMap<String, usize>,
}

impl<'a> Billing<'a> {
    async fn read(erp: &ErpClient, connection: &'a Connection) -> Result<Billing<'a>, SyncError> {
        // Drafts count when the connection leaves invoices unsubmitted.
        let lowest_docstatus = if connection.submit_invoices { 1 } else { 0 };
        let invoices: Vec<Value> = erp
            .list(
                "Sales Invoice",
                &ListQuery::default()
                    .fields(&[
                        "name",
                        "docstatus",
                        "is_return",
                        "return_against",
                        "woocommerce_order_id",
                        "woocommerce_credit_note_key",
                        "grand_total",
                    ])
                    .filter("woocommerce_store", "=", connection.name.as_str())
                    .filter("docstatus", "<", 2)
                    .all_rows(),
            )
            .await?;
        let mut billing = Billing {
            connection,
            invoices: BTreeMap::new(),
            credit_notes: BTreeMap::new(),
            credited: BTreeMap::new(),
            payments: BTreeMap::new(),
        };
        for row in &invoices {
            let total = parse_decimal(&row["grand_total"].to_string()).unwrap_or_default();
            if row["is_return"].as_i64() == Some(1) {
                if row["docstatus"].as_i64() != Some(1) {
                    continue;
                }
                let key = row["woocommerce_credit_note_key"]
                    .as_str()
                    .unwrap_or_default();
                billing
                    .credit_notes
                    .entry(key.to_string())
                    .or_default()
                    .push(total);
                let against = row["return_against"].as_str().unwrap_or_default();
                *billing.credited.entry(against.to_string()).or_default() -= total;
            } else if row["docstatus"].as_i64().unwrap_or(0) >= lowest_docstatus {
                if let Some(order_id) = row["woocommerce_order_id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                {
                    let name = row["name"].as_str().unwrap_or_default().to_string();
                    billing
                        .invoices
                        .entry(order_id)
                        .or_default()
                        .push((name, total));
                }
            }
        }
        let payments: Vec<Value> = erp
            .list(
                "Payment Entry",
                &ListQuery::default()
                    .fields(&["name", "woocommerce_payment_key"])
                    .filter("woocommerce_store", "=", connection.name.as_str())
                    .filter("docstatus", "=", 1)
                    .all_rows(),
            )
            .await?;
        for row in &payments {
            let key = row["woocommerce_payment_key"].as_str().unwrap_or_default();
            *billing.payments.entry(key.to_string()).or_default() += 1;
        }
        Ok(billing)
    }

    fn invoice_due(&self, order: &Order) -> bool {
        crate::sync::mapping::invoice_due(self.connection.invoice_trigger, order)
    }

    /// An order's invoice is given back in full by credit notes (or it never had one).
    fn reversed(&self, order: &Order) -> bool {
        self.invoices
            .get(&order.id)
            .into_iter()
            .flatten()
            .all(|(name, total)| self.credited.get(name).copied().unwrap_or_default() >= *total)
    }

    fn check(&self, order: &Order, report: &mut ReconcileReport) {
        let invoices = self
            .invoices
            .get(&order.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let invoice = match invoices {
            [] => {
                if self.invoice_due(order) {
                    report.missing_invoices.push(order.id);
                }
                return;
            }
            [one] => one,
            many => {
                report.duplicate_invoices.push(DuplicateInvoices {
                    order_id: order.id,
                    sales_invoices: many.iter().map(|(name, _)| name.clone()).collect(),
                });
                return;
            }
        };
        if invoice.1 != order.total {
            report.invoice_total_mismatches.push(InvoiceMismatch {
                order_id: order.id,
                sales_invoice: invoice.0.clone(),
                woocommerce_total: order.total,
                erpnext_grand_total: invoice.1,
            });
        }
        let key = keys::payment(&self.connection.name, order.id);
        if self.connection.record_payments && is_paid(order) && !self.payments.contains_key(&key) {
            report.missing_payments.push(order.id);
        }
        for refund in &order.refunds {
            let key = keys::refund(&self.connection.name, refund.id);
            let notes = self
                .credit_notes
                .get(&key)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let credited: Decimal = notes.iter().map(|total| -*total).sum();
            if notes.len() != 1 || credited != refund.total.abs() {
                report.refunds_without_credit_note.push(RefundProblem {
                    order_id: order.id,
                    refund_id: refund.id,
                    refunded: refund.total.abs(),
                    credited,
                    credit_notes: notes.len(),
                });
            }
        }
    }
}
