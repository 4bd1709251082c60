//! Refunds: one credit note (a Sales Invoice return) per WooCommerce refund, for exactly the
//! refunded lines and amounts (rows from the pure `sync::mapping::credit_note`), and, when the
//! money went back through the gateway, the refund's Payment Entry.
//!
//! ERPNext 15 keeps a credit note's outstanding on the credit note itself (negative; the original
//! invoice stays settled). A refund paid back through the gateway is paid against it, as ERPNext's
//! own `get_payment_entry` on the credit note builds it; against the original, fully paid invoice
//! ERPNext refuses it ("has already been fully paid").

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::keyed::{KeyedDoc, Known};
use super::{decimal_of, number, payment_reference, Billing, Step};
use crate::erpnext::client::ListQuery;
use crate::erpnext::error::ErpError;
use crate::erpnext::types::Named;
use crate::store::StoreError;
use crate::sync::keys;
use crate::sync::mapping::{
    credit_note_for_refund, is_paid, AlreadyReturned, CreditNoteRows, InvoiceChargeRow,
    InvoiceItemRow, InvoiceRows,
};
use crate::sync::report::{Attempt, BillingReport};
use crate::woocommerce::types::{Order, Refund};

/// A credit-note link whose refund still owes its refund payment.
const REFUND_PAYMENT_DUE: &str = "refund_payment_due";
/// A credit-note link whose refund needs nothing more.
const REFUND_DONE: &str = "done";

impl Billing<'_> {
    pub(super) async fn refunds(
        &self,
        order: &Order,
        invoice: &str,
        attempt: Attempt,
        report: &mut BillingReport,
    ) -> Result<(), StoreError> {
        let mut all_done = true;
        for summary in &order.refunds {
            let link = self.link(summary.id, "refund", "Sales Invoice").await?;
            if !link.is_some_and(|link| {
                !link.erp_name.is_empty() && link.fingerprint.as_deref() == Some(REFUND_DONE)
            }) {
                all_done = false;
            }
        }
        if all_done || !self.invoice_submitted(order.id).await? {
            return Ok(());
        }
        // The order's payment comes first: the refund's money can only go back once it came in.
        if self.ctx.connection.record_payments
            && is_paid(order)
            && self
                .linked_name(order.id, "order", "Payment Entry")
                .await?
                .is_none()
        {
            return Ok(());
        }
        let refunds = match self.ctx.woo.list_refunds(order.id).await {
            Ok(mut refunds) => {
                refunds.sort_by_key(|refund| refund.id);
                refunds
            }
            Err(error) => {
                let step = Step::Failed {
                    retryable: error.is_retryable(),
                    reason: error.to_string(),
                };
                return self
                    .record(
                        order.id,
                        order.id,
                        "order",
                        "read_refunds",
                        &step,
                        Instant::now(),
                        attempt,
                        report,
                    )
                    .await;
            }
        };
        let mut context: Option<(InvoiceRows, AlreadyReturned)> = None;
        for refund in &refunds {
            let started = Instant::now();
            let step = self
                .credit_note(order, refund, invoice, &mut context, attempt)
                .await?;
            self.record(
                order.id,
                refund.id,
                "refund",
                "create_credit_note",
                &step,
                started,
                attempt,
                report,
            )
            .await?;
            match &step {
                Step::Made(_) => report.credit_notes_created += 1,
                Step::Found(_) | Step::Exists(_) => {}
                Step::Waiting(_) | Step::Failed { .. } => continue,
            }
            let started = Instant::now();
            let payment = self.refund_payment(order, refund, attempt).await?;
            self.record(
                order.id,
                refund.id,
                "refund",
                "create_refund_payment",
                &payment,
                started,
                attempt,
                report,
            )
            .await?;
            if matches!(payment, Step::Made(_)) {
                report.refund_payments_created += 1;
            }
        }
        Ok(())
    }

    fn credit_note_doc(&self, refund_id: u64) -> KeyedDoc {
        KeyedDoc {
            woo_kind: "refund",
            woo_id: refund_id,
            doctype: "Sales Invoice",
            key_field: "woocommerce_credit_note_key",
            key: keys::refund(self.ctx.name(), refund_id),
        }
    }

    /// Whether the refund's money still has to be paid back in ERPNext: the gateway sent it back
    /// and the connection records payments. Decided by the refund, never by a link's state.
    fn owes_payment(&self, refund: &Refund) -> bool {
        refund.refunded_payment && self.ctx.connection.record_payments
    }

    fn refund_state(&self, refund: &Refund) -> &'static str {
        if self.owes_payment(refund) {
            REFUND_PAYMENT_DUE
        } else {
            REFUND_DONE
        }
    }

    async fn credit_note(
        &self,
        order: &Order,
        refund: &Refund,
        invoice: &str,
        context: &mut Option<(InvoiceRows, AlreadyReturned)>,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        let doc = self.credit_note_doc(refund.id);
        let state = self.refund_state(refund);
        match self.known(&doc, attempt).await? {
            Err(error) => return Ok(Step::from_erp(error)),
            Ok(Known::Linked(link)) => return Ok(Step::Exists(link.erp_name)),
            Ok(Known::Found(found)) => {
                self.record_link(&doc, &found, Some(state)).await?;
                return Ok(Step::Found(found.name));
            }
            Ok(Known::Missing) => {}
        }
        if context.is_none() {
            match self.invoice_context(invoice).await {
                Ok(loaded) => *context = Some(loaded),
                Err(error) => return Ok(Step::from_erp(error)),
            }
        }
        let Some((rows_of_invoice, returned)) = context.as_mut() else {
            return Ok(Step::Waiting("the invoice could not be read".into()));
        };
        let rows =
            match credit_note_for_refund(order, refund, rows_of_invoice, returned, &self.ctx.rules)
            {
                Ok(rows) => rows,
                Err(error) => {
                    // Nothing left to credit may mean our own credit note was made meanwhile
                    // (another process, between our read of the links and of the invoice).
                    match self.look_up(&doc).await {
                        Ok(Some(found)) => {
                            self.record_link(&doc, &found, Some(state)).await?;
                            return Ok(Step::Found(found.name));
                        }
                        Ok(None) => {}
                        Err(error) => return Ok(Step::from_erp(error)),
                    }
                    return Ok(Step::Failed {
                        reason: error.to_string(),
                        retryable: false,
                    });
                }
            };
        let remarks = format!(
            "WooCommerce refund {} of order {}{}",
            refund.id,
            order.id,
            if refund.reason.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", refund.reason.trim())
            }
        );
        let step = self
            .insert_credit_note(&doc, invoice, &rows, &remarks, Some(state), -refund.amount)
            .await?;
        if step.name().is_some() {
            add_returned(returned, &rows, rows_of_invoice.places);
        }
        Ok(step)
    }

    async fn refund_payment(
        &self,
        order: &Order,
        refund: &Refund,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        if !self.owes_payment(refund) {
            return Ok(Step::Waiting("no refund payment due".into()));
        }
        let Some(credit_link) = self
            .link(refund.id, "refund", "Sales Invoice")
            .await?
            .filter(|link| !link.erp_name.is_empty())
        else {
            return Ok(Step::Waiting("no credit note yet".into()));
        };
        if credit_link.fingerprint.as_deref() == Some(REFUND_DONE) {
            return Ok(Step::Waiting("the refund payment is made".into()));
        }
        let doc = KeyedDoc {
            woo_kind: "refund",
            woo_id: refund.id,
            doctype: "Payment Entry",
            key_field: "woocommerce_payment_key",
            key: keys::refund(self.ctx.name(), refund.id),
        };
        let step = match self.known(&doc, attempt).await? {
            Err(error) => Step::from_erp(error),
            Ok(Known::Linked(link)) => Step::Exists(link.erp_name),
            Ok(Known::Found(found)) => self.settle_payment(&doc, found, false).await?,
            Ok(Known::Missing) => {
                let entry = match self
                    .refund_payment_entry(order, refund, &credit_link.erp_name, &doc.key)
                    .await?
                {
                    Ok(entry) => entry,
                    Err(error) => return Ok(Step::from_erp(error)),
                };
                match self.insert_once(&doc, &entry).await? {
                    Ok((found, made)) => self.settle_payment(&doc, found, made).await?,
                    Err(error) => Step::from_erp(error),
                }
            }
        };
        if step.name().is_some() {
            let mut done = credit_link.clone();
            done.fingerprint = Some(REFUND_DONE.to_string());
            self.put_link(done).await?;
        }
        Ok(step)
    }

    /// The refund's Payment Entry as ERPNext's `get_payment_entry` builds it for the credit note
    /// (Pay, from the bank to the receivable, allocated negative, in the receivable's currency),
    /// paid from where the gateway's money is kept.
    async fn refund_payment_entry(
        &self,
        order: &Order,
        refund: &Refund,
        credit_note: &str,
        key: &str,
    ) -> Result<Result<Value, ErpError>, StoreError> {
        let mut entry = match self
            .ctx
            .erp
            .get_payment_entry::<Value>("Sales Invoice", credit_note)
            .await
        {
            Ok(entry) => entry,
            Err(error) => return Ok(Err(error)),
        };
        let mapped = self
            .ctx
            .connection
            .mappings
            .payment_methods
            .get(&order.payment_method)
            .cloned();
        let mut paid_from = mapped.as_ref().and_then(|target| target.account.clone());
        let mut mode_of_payment = mapped.map(|target| target.mode_of_payment);
        if paid_from.is_none() {
            // The money goes back from where the order's payment went.
            if let Some(payment) = self.linked_name(order.id, "order", "Payment Entry").await? {
                match self.ctx.erp.get_document("Payment Entry", &payment).await {
                    Ok(document) => {
                        paid_from = document["paid_to"].as_str().map(str::to_string);
                        if mode_of_payment.is_none() {
                            mode_of_payment =
                                document["mode_of_payment"].as_str().map(str::to_string);
                        }
                    }
                    Err(error) => return Ok(Err(error)),
                }
            }
        }
        if let Some(account) = paid_from {
            entry["paid_from"] = json!(account);
        }
        if let Some(mode) = mode_of_payment {
            entry["mode_of_payment"] = json!(mode);
        }
        let reference_date = refund
            .date_created
            .or(refund.date_created_gmt)
            .map(|date| date.date().to_string())
            .unwrap_or_else(|| Utc::now().date_naive().to_string());
        entry["reference_no"] = json!(format!("{} refund {}", payment_reference(order), refund.id));
        entry["reference_date"] = json!(reference_date);
        // Without `custom_remarks` ERPNext writes its own remarks over ours.
        entry["custom_remarks"] = json!(1);
        entry["remarks"] = json!(format!(
            "WooCommerce refund {} of order {}",
            refund.id, order.id
        ));
        entry["woocommerce_payment_key"] = json!(key);
        entry["woocommerce_order_id"] = json!(order.id.to_string());
        entry["woocommerce_store"] = json!(self.ctx.name());
        entry["docstatus"] = json!(1);
        Ok(Ok(entry))
    }

    /// The invoice's rows and what earlier credit notes gave back.
    pub(super) async fn invoice_context(
        &self,
        invoice: &str,
    ) -> Result<(InvoiceRows, AlreadyReturned), ErpError> {
        let erp = &self.ctx.erp;
        let document = erp.get_document("Sales Invoice", invoice).await?;
        let currency = document["currency"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let rows = InvoiceRows {
            items: rows_of(&document, "items")
                .map(|row| InvoiceItemRow {
                    name: row["name"].as_str().unwrap_or_default().to_string(),
                    item_code: row["item_code"].as_str().unwrap_or_default().to_string(),
                    qty: decimal_of(&row["qty"]),
                    rate: decimal_of(&row["rate"]),
                })
                .collect(),
            charges: rows_of(&document, "taxes")
                .map(|row| InvoiceChargeRow {
                    account_head: row["account_head"].as_str().unwrap_or_default().to_string(),
                    description: row["description"].as_str().unwrap_or_default().to_string(),
                    tax_amount: decimal_of(&row["tax_amount"]),
                })
                .collect(),
            grand_total: decimal_of(&document["grand_total"]),
            places: self.ctx.rules.currency_precision(&currency),
        };
        let names: Vec<Named> = erp
            .list(
                "Sales Invoice",
                &ListQuery::default()
                    .fields(&["name"])
                    .filter("return_against", "=", invoice)
                    .filter("docstatus", "=", 1)
                    .all_rows(),
            )
            .await?;
        let mut returned = AlreadyReturned::default();
        for credit in names {
            let credit = erp.get_document("Sales Invoice", &credit.name).await?;
            returned.credited -= decimal_of(&credit["grand_total"]);
            for row in rows_of(&credit, "items") {
                let against = row["sales_invoice_item"].as_str().unwrap_or_default();
                *returned.quantities.entry(against.to_string()).or_default() +=
                    -decimal_of(&row["qty"]);
            }
            for row in rows_of(&credit, "taxes") {
                let account = row["account_head"].as_str().unwrap_or_default();
                *returned.charges.entry(account.to_string()).or_default() +=
                    -decimal_of(&row["tax_amount"]);
            }
        }
        Ok((rows, returned))
    }

    /// Makes the return against `invoice` carry exactly `rows`, and inserts it submitted.
    pub(super) async fn insert_credit_note(
        &self,
        doc: &KeyedDoc,
        invoice: &str,
        rows: &CreditNoteRows,
        remarks: &str,
        state: Option<&str>,
        expected_total: Decimal,
    ) -> Result<Step, StoreError> {
        let mut document = match self.ctx.erp.make_sales_return(invoice).await {
            Ok(document) => document,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        apply_credit_rows(&mut document, rows);
        document[doc.key_field] = json!(doc.key);
        document["remarks"] = json!(remarks);
        document["docstatus"] = json!(1);
        let (found, made) = match self.insert_once(doc, &document).await? {
            Ok(inserted) => inserted,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        self.record_link(doc, &found, state).await?;
        if let Some(total) = found.grand_total {
            if total != expected_total {
                return Ok(Step::Failed {
                    reason: format!(
                        "credit note {} totals {total} in ERPNext but should give back {}; check it in ERPNext",
                        found.name, -expected_total
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
}

fn rows_of<'v>(document: &'v Value, field: &str) -> impl Iterator<Item = &'v Value> {
    document[field].as_array().into_iter().flatten()
}

fn add_returned(returned: &mut AlreadyReturned, rows: &CreditNoteRows, places: u32) {
    returned.credited -= rows.grand_total(places);
    for item in &rows.items {
        *returned
            .quantities
            .entry(item.sales_invoice_item.clone())
            .or_default() -= item.qty;
    }
    for charge in &rows.charges {
        *returned
            .charges
            .entry(charge.account_head.clone())
            .or_default() -= charge.tax_amount;
    }
}

/// Replaces the rows `make_sales_return` mapped (the whole invoice) with `rows`, keeping each
/// returned row's mapped fields (accounts, warehouse, UOM) from the row it returns against.
fn apply_credit_rows(document: &mut Value, rows: &CreditNoteRows) {
    let mapped_items: BTreeMap<String, Value> = rows_of(document, "items")
        .filter_map(|row| {
            let against = row["sales_invoice_item"].as_str()?.to_string();
            Some((against, row.clone()))
        })
        .collect();
    let first_item = rows_of(document, "items").next().cloned();
    let items: Vec<Value> = rows
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let mut row = mapped_items
                .get(&item.sales_invoice_item)
                .or(first_item.as_ref())
                .cloned()
                .unwrap_or_else(|| json!({}));
            let amount = item.qty * item.rate;
            row["idx"] = json!(index + 1);
            row["item_code"] = json!(item.item_code);
            row["sales_invoice_item"] = json!(item.sales_invoice_item);
            row["qty"] = number(item.qty);
            row["rate"] = number(item.rate);
            row["price_list_rate"] = number(item.rate);
            row["discount_percentage"] = json!(0);
            row["discount_amount"] = json!(0);
            row["margin_rate_or_amount"] = json!(0);
            row["amount"] = number(amount);
            row
        })
        .collect();
    let mapped_taxes: Vec<Value> = rows_of(document, "taxes").cloned().collect();
    let taxes: Vec<Value> = rows
        .charges
        .iter()
        .enumerate()
        .map(|(index, charge)| {
            let mut row = mapped_taxes
                .iter()
                .find(|row| row["account_head"] == json!(charge.account_head))
                .or(mapped_taxes.first())
                .cloned()
                .unwrap_or_else(|| json!({}));
            row["idx"] = json!(index + 1);
            row["charge_type"] = json!("Actual");
            row["account_head"] = json!(charge.account_head);
            row["description"] = json!(charge.description);
            row["rate"] = json!(0);
            row["tax_amount"] = number(charge.tax_amount);
            row["item_wise_tax_detail"] = json!("{}");
            row
        })
        .collect();
    document["items"] = Value::Array(items);
    document["taxes"] = Value::Array(taxes);
    document["discount_amount"] = json!(0);
    document["additional_discount_percentage"] = json!(0);
}
