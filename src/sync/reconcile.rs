//! Reconcile: compares both sides from scratch (not from our links) and names
//! every difference: imported orders without a Sales Order, totals that differ,
//! orders with more than one Sales Order, cancellations not followed.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::erpnext::client::{ErpClient, ListQuery};
use crate::money::parse_decimal;
use crate::sync::mapping::OrderAction;
use crate::sync::orders::SyncError;
use crate::woocommerce::client::{OrderQuery, WooClient};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconcileReport {
    /// WooCommerce orders in an imported status.
    pub orders_checked: u64,
    /// Submitted Sales Orders of this connection.
    pub sales_orders_checked: u64,
    pub missing_sales_orders: Vec<u64>,
    pub total_mismatches: Vec<TotalMismatch>,
    pub duplicates: Vec<Duplicate>,
    /// Orders cancelled in WooCommerce whose Sales Order is still submitted.
    pub not_cancelled: Vec<NotCancelled>,
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
        self.missing_sales_orders.is_empty()
            && self.total_mismatches.is_empty()
            && self.duplicates.is_empty()
            && self.not_cancelled.is_empty()
    }

    pub fn problem_count(&self) -> usize {
        self.missing_sales_orders.len()
            + self.total_mismatches.len()
            + self.duplicates.len()
            + self.not_cancelled.len()
    }
}

struct ErpOrder {
    name: String,
    grand_total: Decimal,
}

/// Reads both sides whole and compares them. `action` says what the
/// connection does with a status (import, cancel, ignore).
pub async fn reconcile(
    woo: &WooClient,
    erp: &ErpClient,
    connection_name: &str,
    action: impl Fn(&str) -> OrderAction,
) -> Result<ReconcileReport, SyncError> {
    let orders = woo.list_all_orders(&OrderQuery::default()).await?;
    let rows: Vec<Value> = erp
        .list(
            "Sales Order",
            &ListQuery::default()
                .fields(&["name", "woocommerce_order_id", "grand_total"])
                .filter("woocommerce_store", "=", connection_name)
                .filter("docstatus", "=", 1)
                .all_rows(),
        )
        .await?;
    let mut by_order: BTreeMap<u64, Vec<ErpOrder>> = BTreeMap::new();
    for row in &rows {
        let Some(order_id) = row["woocommerce_order_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
        else {
            continue;
        };
        let grand_total = parse_decimal(&row["grand_total"].to_string()).unwrap_or_default();
        by_order.entry(order_id).or_default().push(ErpOrder {
            name: row["name"].as_str().unwrap_or_default().to_string(),
            grand_total,
        });
    }
    let mut report = ReconcileReport {
        sales_orders_checked: rows.len() as u64,
        ..ReconcileReport::default()
    };
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
                for sales_order in sales_orders.into_iter().flatten() {
                    report.not_cancelled.push(NotCancelled {
                        order_id: order.id,
                        sales_order: sales_order.name.clone(),
                    });
                }
            }
            OrderAction::Ignore => {}
        }
    }
    Ok(report)
}
