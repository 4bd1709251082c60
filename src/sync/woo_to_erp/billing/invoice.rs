//! The Sales Invoice of an order: made with ERPNext's own `make_sales_invoice` mapping of the Sales
//! Order once the order reaches the connection's invoice trigger, submitted unless the connection
//! keeps drafts, and checked against WooCommerce's total.

use serde_json::Value;

use super::keyed::{KeyedDoc, Known};
use super::{decimal_of, Billing, Step};
use crate::erpnext::types::{DocStatus, Keyed, MappedDoc};
use crate::store::StoreError;
use crate::sync::keys;
use crate::sync::report::Attempt;
use crate::woocommerce::types::Order;

/// The invoice link's state: a draft still to submit, or submitted.
pub(super) const DRAFT: &str = "draft";
pub(super) const SUBMITTED: &str = "submitted";

impl Billing<'_> {
    pub(super) fn invoice_doc(&self, order_id: u64) -> KeyedDoc {
        KeyedDoc {
            woo_kind: "order",
            woo_id: order_id,
            doctype: "Sales Invoice",
            key_field: "woocommerce_invoice_key",
            key: keys::invoice(self.ctx.name(), order_id),
        }
    }

    pub(super) async fn invoice(
        &self,
        order: &Order,
        sales_order: &str,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        let doc = self.invoice_doc(order.id);
        let submit = self.ctx.connection.submit_invoices;
        match self.known(&doc, attempt).await? {
            Err(error) => return Ok(Step::from_erp(error)),
            Ok(Known::Linked(link)) => {
                if submit && link.fingerprint.as_deref() == Some(DRAFT) {
                    // The switch was turned on after the draft was made.
                    if let Err(error) = self.ctx.erp.submit("Sales Invoice", &link.erp_name).await {
                        return Ok(Step::from_erp(error));
                    }
                    let mut submitted = link.clone();
                    submitted.fingerprint = Some(SUBMITTED.to_string());
                    self.put_link(submitted).await?;
                }
                return Ok(Step::Exists(link.erp_name));
            }
            Ok(Known::Found(found)) => return self.settle_invoice(order, &doc, found, false).await,
            Ok(Known::Missing) => {}
        }
        if !crate::sync::mapping::invoice_due(self.ctx.connection.invoice_trigger, order) {
            return Ok(Step::Waiting(format!(
                "not invoiced yet: the trigger `{:?}` is not reached",
                self.ctx.connection.invoice_trigger
            )));
        }
        let mut document: MappedDoc = match self.ctx.erp.make_sales_invoice(sales_order).await {
            Ok(document) => document,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        document.set("woocommerce_invoice_key", &doc.key);
        document.set("docstatus", if submit { 1 } else { 0 });
        let grand_total = document.get("grand_total").unwrap_or(Value::Null);
        if submit && decimal_of(&grand_total).is_zero() {
            // Inserted submitted, ERPNext sets no status; a free order's invoice has no ledger
            // entries to set it later either. "Paid" is what a submit gives it.
            document.set("status", "Paid");
        }
        match self.insert_once(&doc, &document).await? {
            Ok((found, made)) => self.settle_invoice(order, &doc, found, made).await,
            Err(error) => Ok(Step::from_erp(error)),
        }
    }

    /// Links the invoice found or made, submits a draft when the connection submits invoices,
    /// and checks its total.
    async fn settle_invoice(
        &self,
        order: &Order,
        doc: &KeyedDoc,
        found: Keyed,
        made: bool,
    ) -> Result<Step, StoreError> {
        let mut state = if found.docstatus == DocStatus::Submitted {
            SUBMITTED
        } else {
            DRAFT
        };
        self.record_link(doc, &found, Some(state)).await?;
        if self.ctx.connection.submit_invoices && found.docstatus == DocStatus::Draft {
            if let Err(error) = self.ctx.erp.submit("Sales Invoice", &found.name).await {
                return Ok(Step::from_erp(error));
            }
            state = SUBMITTED;
            self.record_link(doc, &found, Some(state)).await?;
        }
        if let Some(total) = found.grand_total {
            if total != order.total {
                return Ok(Step::Failed {
                    reason: format!(
                        "Sales Invoice {} totals {total} in ERPNext but order {} totals {} in WooCommerce; check the Sales Order",
                        found.name, order.id, order.total
                    ),
                    retryable: false,
                });
            }
        }
        Ok(if made {
            Step::Made(found.name)
        } else {
            Step::Found(found.name)
        })
    }

    /// Whether the order's invoice is linked and submitted.
    pub(super) async fn invoice_submitted(&self, order_id: u64) -> Result<bool, StoreError> {
        Ok(self
            .link(order_id, "order", "Sales Invoice")
            .await?
            .is_some_and(|link| {
                !link.erp_name.is_empty() && link.fingerprint.as_deref() == Some(SUBMITTED)
            }))
    }
}
