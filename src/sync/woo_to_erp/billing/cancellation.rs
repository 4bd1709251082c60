//! A cancelled order that was invoiced: its invoice is reversed by a credit note for what the
//! refunds' credit notes have not given back already (a draft invoice is simply deleted).

use std::time::Instant;

use rust_decimal::Decimal;

use super::keyed::{KeyedDoc, Known};
use super::{Billing, Step};
use crate::erpnext::error::ErpError;
use crate::erpnext::types::{DocStatus, Keyed};
use crate::store::{Link, StoreError};
use crate::sync::keys;
use crate::sync::mapping::{credit_note_for_amount, CreditFor};
use crate::sync::report::Attempt;
use crate::woocommerce::types::Order;

/// What reversing a cancelled, invoiced order came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Reversal {
    /// This credit note reverses the invoice (made now or earlier).
    CreditNote(String),
    /// Earlier credit notes (the refunds) already gave the whole invoice back, or the invoice was
    /// cancelled in ERPNext.
    NothingLeft,
    /// The sync made no submitted invoice for the order (a draft one is deleted).
    NoInvoice,
    Failed {
        reason: String,
        retryable: bool,
    },
}

impl Billing<'_> {
    /// Reverses the submitted invoice of a cancelled order with a credit note for what earlier
    /// credit notes have not given back.
    pub async fn reverse_cancelled(
        &self,
        order: &Order,
        attempt: Attempt,
    ) -> Result<Reversal, StoreError> {
        let started = Instant::now();
        let result = self.reversal(order, attempt).await?;
        let step = match &result {
            Reversal::CreditNote(name) => Step::Made(name.clone()),
            Reversal::NothingLeft => Step::Waiting("already credited in full".into()),
            Reversal::NoInvoice => Step::Waiting("no invoice to reverse".into()),
            Reversal::Failed { reason, retryable } => Step::Failed {
                reason: reason.clone(),
                retryable: *retryable,
            },
        };
        self.log(
            order.id,
            order.id,
            "order",
            "reverse_invoice",
            &step,
            started.elapsed().as_millis() as i64,
            attempt,
        )
        .await?;
        Ok(result)
    }

    async fn reversal(&self, order: &Order, attempt: Attempt) -> Result<Reversal, StoreError> {
        let failed = |error: ErpError| Reversal::Failed {
            retryable: error.is_retryable(),
            reason: error.to_string(),
        };
        let doc = KeyedDoc {
            woo_kind: "cancellation",
            woo_id: order.id,
            doctype: "Sales Invoice",
            key_field: "woocommerce_credit_note_key",
            key: keys::cancellation(self.ctx.name(), order.id),
        };
        match self.known(&doc, attempt).await? {
            Err(error) => return Ok(failed(error)),
            Ok(Known::Linked(link)) => return Ok(Reversal::CreditNote(link.erp_name)),
            Ok(Known::Found(found)) => {
                self.record_link(&doc, &found, None).await?;
                return Ok(Reversal::CreditNote(found.name));
            }
            Ok(Known::Missing) => {}
        }
        let invoice = match self.linked_name(order.id, "order", "Sales Invoice").await? {
            Some(name) => name,
            None => {
                let invoice = KeyedDoc {
                    woo_kind: "order",
                    woo_id: order.id,
                    doctype: "Sales Invoice",
                    key_field: "woocommerce_invoice_key",
                    key: keys::invoice(self.ctx.name(), order.id),
                };
                match self.look_up(&invoice).await {
                    Ok(Some(found)) => found.name,
                    Ok(None) => return Ok(Reversal::NoInvoice),
                    Err(error) => return Ok(failed(error)),
                }
            }
        };
        match self.ctx.erp.get::<Keyed>("Sales Invoice", &invoice).await {
            Ok(document) if document.docstatus == DocStatus::Draft => {
                // A draft bills nothing: delete it, and the Sales Order can be cancelled.
                if let Err(error) = self.ctx.erp.delete("Sales Invoice", &invoice).await {
                    return Ok(failed(error));
                }
                // Back to "may have an invoice": a later attempt looks the key up first. Written
                // at once: a link to the deleted draft must not outlive a crash.
                self.put_link_now(Link {
                    connection_id: self.ctx.connection_id,
                    woo_kind: "order".into(),
                    woo_id: order.id.to_string(),
                    erp_doctype: "Sales Invoice".into(),
                    erp_name: String::new(),
                    fingerprint: None,
                    amount: None,
                })
                .await?;
                return Ok(Reversal::NoInvoice);
            }
            Ok(document) if document.docstatus == DocStatus::Cancelled => {
                return Ok(Reversal::NothingLeft)
            }
            Ok(_) => {}
            Err(error) if error.is_not_found() => return Ok(Reversal::NoInvoice),
            Err(error) => return Ok(failed(error)),
        }
        let (rows_of_invoice, returned) = match self.invoice_context(&invoice).await {
            Ok(context) => context,
            Err(error) => return Ok(failed(error)),
        };
        let left = rows_of_invoice.grand_total - returned.credited;
        if left <= Decimal::ZERO {
            return Ok(Reversal::NothingLeft);
        }
        let about = CreditFor {
            order_id: order.id,
            refund_id: order.id,
        };
        let rows =
            match credit_note_for_amount(left, &rows_of_invoice, &returned, &self.ctx.rules, about)
            {
                Ok(rows) => rows,
                Err(error) => {
                    return Ok(Reversal::Failed {
                        reason: error.to_string(),
                        retryable: false,
                    })
                }
            };
        let remarks = format!("WooCommerce order {} cancelled", order.id);
        let step = self
            .insert_credit_note(&doc, &invoice, &rows, &remarks, None, -left)
            .await?;
        Ok(match step {
            Step::Made(name) | Step::Found(name) | Step::Exists(name) => Reversal::CreditNote(name),
            Step::Waiting(reason) => Reversal::Failed {
                reason,
                retryable: true,
            },
            Step::Failed { reason, retryable } => Reversal::Failed { reason, retryable },
        })
    }
}
