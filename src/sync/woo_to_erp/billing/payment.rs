//! The Payment Entry of a paid order: built by ERPNext's own `get_payment_entry` for the invoice
//! (so it leaves nothing outstanding), then given the Mode of Payment and account the connection
//! maps the gateway to, and the gateway's transaction as its reference. When the gateway's map
//! entry names a fee account, the fee the gateway recorded on the order is deducted: the entry
//! receives the net amount, still allocates the whole invoice, and books the fee as a deduction
//! row (`mapping::gateway_fee`).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::keyed::{KeyedDoc, Known};
use super::{decimal_of, number, payment_reference, Billing, Step};
use crate::erpnext::types::{DocStatus, Keyed, MappedDoc};
use crate::store::{LogEntry, LogOutcome, StoreError};
use crate::sync::keys;
use crate::sync::mapping::{gateway_fee, is_paid, GatewayFee};
use crate::sync::report::Attempt;
use crate::woocommerce::types::Order;

impl Billing<'_> {
    pub(super) fn payment_doc(&self, order_id: u64) -> KeyedDoc {
        KeyedDoc {
            woo_kind: "order",
            woo_id: order_id,
            doctype: "Payment Entry",
            key_field: "woocommerce_payment_key",
            key: keys::payment(self.ctx.name(), order_id),
        }
    }

    pub(super) async fn payment(
        &self,
        order: &Order,
        invoice: &str,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        if !self.ctx.connection.record_payments {
            return Ok(Step::Waiting(
                "the connection does not record payments".into(),
            ));
        }
        let doc = self.payment_doc(order.id);
        match self.known(&doc, attempt).await? {
            Err(error) => return Ok(Step::from_erp(error)),
            Ok(Known::Linked(link)) => return Ok(Step::Exists(link.erp_name)),
            Ok(Known::Found(found)) => return self.settle_payment(&doc, found, false).await,
            Ok(Known::Missing) => {}
        }
        if !is_paid(order) {
            return Ok(Step::Waiting("not paid in WooCommerce yet".into()));
        }
        if !self.invoice_submitted(order.id).await? {
            return Ok(Step::Waiting("its Sales Invoice is not submitted".into()));
        }
        let mut entry: MappedDoc = match self
            .ctx
            .erp
            .get_payment_entry("Sales Invoice", invoice)
            .await
        {
            Ok(entry) => entry,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        // The mapped entry names what the invoice still owes (its reference row), so the invoice
        // is not read separately: a settled one gives a `Pay` entry of 0 (findings §14).
        let references: Value = entry.get("references").unwrap_or(Value::Null);
        let outstanding = decimal_of(&references[0]["outstanding_amount"]);
        let receive = entry.get::<String>("payment_type").as_deref() == Some("Receive");
        if !receive || outstanding <= Decimal::ZERO {
            // Settled, perhaps by our own entry: another process may have made it between our
            // read of the links and this call. Link it, or the refunds that follow the payment
            // would wait for a link nobody writes.
            match self.look_up(&doc).await {
                Ok(Some(found)) => return self.settle_payment(&doc, found, false).await,
                Ok(None) => {}
                Err(error) => return Ok(Step::from_erp(error)),
            }
            return Ok(Step::Waiting(format!(
                "Sales Invoice {invoice} has nothing outstanding"
            )));
        }
        if let Some(target) = self
            .ctx
            .connection
            .mappings
            .payment_methods
            .get(&order.payment_method)
        {
            entry.set("mode_of_payment", &target.mode_of_payment);
            if let Some(account) = &target.account {
                entry.set("paid_to", account);
            }
            if let Some(fee_account) = &target.fee_account {
                let currency = &self.ctx.rules.company_currency;
                match gateway_fee(order, outstanding, currency) {
                    GatewayFee::Deduct { amount, source } => {
                        self.deduct_fee(&mut entry, outstanding, amount, fee_account, source)
                    }
                    GatewayFee::Unusable(why) => {
                        self.fee_not_deducted(order, &why, attempt).await?
                    }
                    GatewayFee::None => {}
                }
            }
        }
        entry.set("reference_no", payment_reference(order));
        if let Some(date) = order.date_paid.or(order.date_paid_gmt) {
            entry.set("reference_date", date.date().to_string());
        }
        entry.set("woocommerce_payment_key", &doc.key);
        entry.set("woocommerce_order_id", order.id.to_string());
        entry.set("woocommerce_store", self.ctx.name());
        entry.set("docstatus", 1);
        match self.insert_once(&doc, &entry).await? {
            Ok((found, made)) => self.settle_payment(&doc, found, made).await,
            Err(error) => Ok(Step::from_erp(error)),
        }
    }

    /// The bank receives `paid − fee`; the invoice is still allocated `paid`; the fee is a
    /// deduction on `fee_account` and the company's cost center. ERPNext then finds no difference.
    fn deduct_fee(
        &self,
        entry: &mut MappedDoc,
        paid: Decimal,
        fee: Decimal,
        fee_account: &str,
        source: &str,
    ) {
        let net = paid - fee;
        entry.set("paid_amount", number(net));
        entry.set("received_amount", number(net));
        entry.set(
            "deductions",
            json!([{
            "account": fee_account,
            "cost_center": self.ctx.cost_center,
            "amount": number(fee),
            "description": format!("Gateway fee ({source})"),
            }]),
        );
    }

    /// Says in the sync log why the payment is booked gross although a fee account is mapped.
    async fn fee_not_deducted(
        &self,
        order: &Order,
        why: &str,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        self.append_log(LogEntry {
            connection_id: self.ctx.connection_id,
            direction: super::super::DIRECTION.to_string(),
            object_kind: "order".to_string(),
            object_id: order.id.to_string(),
            order_id: Some(order.id.to_string()),
            action: "deduct_gateway_fee".to_string(),
            outcome: LogOutcome::Skipped,
            message: format!(
                "gateway fee not deducted ({why}); the payment is booked at the gross amount"
            ),
            request_excerpt: None,
            response_excerpt: None,
            duration_ms: 0,
            attempt: attempt.number(),
        })
        .await?;
        Ok(())
    }

    /// Links a Payment Entry found or made, and submits it when an earlier attempt left a draft.
    pub(super) async fn settle_payment(
        &self,
        doc: &KeyedDoc,
        found: Keyed,
        made: bool,
    ) -> Result<Step, StoreError> {
        self.record_link(doc, &found, None).await?;
        if found.docstatus == DocStatus::Draft {
            if let Err(error) = self.ctx.erp.submit("Payment Entry", &found.name).await {
                return Ok(Step::from_erp(error));
            }
        }
        Ok(if made {
            Step::Made(found.name)
        } else {
            Step::Found(found.name)
        })
    }
}
