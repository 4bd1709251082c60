//! Billing: what follows an order's Sales Order in ERPNext — its Sales Invoice, the Payment Entry
//! that pays it, one credit note per WooCommerce refund (with a refund Payment Entry when the money
//! went back through the gateway), and the credit note that reverses an invoiced order that was
//! cancelled.
//!
//! Each document is made exactly once, like the Sales Order: a *pending* link in the store before
//! every insert; a unique, no-copy key in ERPNext (`woocommerce_invoice_key` = `<connection>:<order>`,
//! `woocommerce_payment_key` = `<connection>:<order>` or `<connection>:refund:<refund>`,
//! `woocommerce_credit_note_key` = `<connection>:refund:<refund>` or `<connection>:cancel:<order>`);
//! and a look-up of that key before any insert that follows an uncertain outcome.
//!
//! Refund payments are inserted whole, shaped as ERPNext's `get_payment_entry` shapes one for a
//! credit note: the credit note of a paid invoice carries its own negative outstanding, and the
//! Payment Entry pays that back to the customer (`Pay`, allocated against the credit note with a
//! negative amount), which brings it to zero. Against the original, fully paid invoice ERPNext
//! refuses it ("has already been fully paid").

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};

use crate::erpnext::client::ListQuery;
use crate::erpnext::error::ErpError;
use crate::money::parse_decimal;
use crate::store::{Link, LogEntry, LogOutcome, StoreError};
use crate::sync::mapping::OrderAction;
use crate::sync::mapping::{
    credit_note_for_amount, credit_note_for_refund, is_paid, AlreadyReturned, CreditFor,
    CreditNoteRows, InvoiceChargeRow, InvoiceItemRow, InvoiceRows,
};
use crate::sync::orders::{Attempt, OrderReport, OrderSync, Outcome, SyncError, SyncSummary};
use crate::woocommerce::client::{OrderBy, OrderQuery};
use crate::woocommerce::types::{Order, Refund};

const DIRECTION: &str = "woocommerce_to_erpnext";
/// A credit-note link whose refund still owes its refund payment.
const REFUND_PAYMENT_DUE: &str = "refund_payment_due";
/// A credit-note link whose refund needs nothing more.
const REFUND_DONE: &str = "done";
const INVOICE_DRAFT: &str = "draft";
const INVOICE_SUBMITTED: &str = "submitted";

/// Which billing steps a run covers (`sync invoices|payments|refunds|all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingSteps {
    pub invoices: bool,
    pub payments: bool,
    pub refunds: bool,
}

impl BillingSteps {
    pub const ALL: BillingSteps = BillingSteps {
        invoices: true,
        payments: true,
        refunds: true,
    };
}

/// What billing did for one order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BillingReport {
    pub invoices_created: u64,
    pub payments_created: u64,
    pub credit_notes_created: u64,
    pub refund_payments_created: u64,
    pub failures: Vec<BillingFailure>,
}

/// A billing step that failed, with ERPNext's (or our) reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingFailure {
    /// The step, as logged: `create_sales_invoice`, `create_payment_entry`, ...
    pub step: String,
    pub reason: String,
    pub retryable: bool,
}

impl BillingReport {
    pub fn is_empty(&self) -> bool {
        self == &BillingReport::default()
    }

    /// A report of a run our own store cut short (the next run resumes from the links).
    pub fn store_failure(error: &StoreError) -> BillingReport {
        BillingReport {
            failures: vec![BillingFailure {
                step: "record_billing".to_string(),
                reason: format!("the service's store failed: {error}"),
                retryable: true,
            }],
            ..BillingReport::default()
        }
    }

    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Whether trying again may succeed (every failure is transient).
    pub fn retryable(&self) -> bool {
        self.failures.iter().all(|failure| failure.retryable)
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// Inserted now (or found in ERPNext after an uncertain attempt).
    Made(String),
    /// Made by an earlier run.
    Exists(String),
    /// Not due yet, or nothing to do; the reason is for the log.
    Waiting(String),
    Failed {
        reason: String,
        retryable: bool,
    },
}

impl Step {
    fn from_erp(error: ErpError) -> Step {
        Step::Failed {
            retryable: error.is_retryable(),
            reason: error.to_string(),
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Step::Made(name) | Step::Exists(name) => Some(name),
            _ => None,
        }
    }
}

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

/// The billing of one connection; borrows the order sync's clients, store and settings.
pub struct Billing<'a> {
    sync: &'a OrderSync,
}

impl<'a> Billing<'a> {
    pub fn new(sync: &'a OrderSync) -> Billing<'a> {
        Billing { sync }
    }

    /// Invoice, payment and refunds of an order whose Sales Order exists, as far as each is due.
    pub async fn follow_order(
        &self,
        order: &Order,
        sales_order: &str,
        steps: BillingSteps,
        attempt: Attempt,
    ) -> Result<BillingReport, StoreError> {
        let mut report = BillingReport::default();
        let invoice = if steps.invoices {
            let started = Instant::now();
            let step = self.invoice(order, sales_order, attempt).await?;
            self.record(
                order.id,
                "order",
                "create_sales_invoice",
                &step,
                started,
                attempt,
                &mut report,
            )
            .await?;
            if matches!(step, Step::Made(_)) {
                report.invoices_created += 1;
            }
            step.name().map(str::to_string)
        } else {
            self.linked_name(order.id, "order", "Sales Invoice").await?
        };
        let Some(invoice) = invoice else {
            return Ok(report);
        };
        if steps.payments {
            let started = Instant::now();
            let step = self.payment(order, &invoice, attempt).await?;
            self.record(
                order.id,
                "order",
                "create_payment_entry",
                &step,
                started,
                attempt,
                &mut report,
            )
            .await?;
            if matches!(step, Step::Made(_)) {
                report.payments_created += 1;
            }
        }
        if steps.refunds && !order.refunds.is_empty() {
            self.refunds(order, &invoice, attempt, &mut report).await?;
        }
        if report.failed() && !attempt.from_job {
            self.sync
                .store()
                .enqueue_job(
                    self.sync.connection_id(),
                    "order",
                    &order.id.to_string(),
                    Utc::now() + chrono::Duration::seconds(30),
                )
                .await?;
        }
        Ok(report)
    }

    /// Whether the sync made (or may have made) an invoice for the order.
    pub async fn may_have_invoice(&self, order_id: u64) -> Result<bool, StoreError> {
        Ok(self
            .link(order_id, "order", "Sales Invoice")
            .await?
            .is_some())
    }

    /// Runs `steps` for every order that has a Sales Order (the `sync invoices|payments|refunds`
    /// commands), reading those orders from WooCommerce a hundred at a time.
    pub async fn follow_all(
        &self,
        steps: BillingSteps,
        concurrency: usize,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<SyncSummary, SyncError> {
        let links = self
            .sync
            .store()
            .links(self.sync.connection_id(), "order", "Sales Order")
            .await?;
        let sales_orders: BTreeMap<u64, String> = links
            .into_iter()
            .filter(|link| !link.erp_name.is_empty())
            .filter_map(|link| Some((link.woo_id.parse().ok()?, link.erp_name)))
            .collect();
        let ids: Vec<u64> = sales_orders.keys().copied().collect();
        let total = ids.len() as u64;
        let mut summary = SyncSummary::default();
        for chunk in ids.chunks(100) {
            let query = OrderQuery {
                include: chunk.to_vec(),
                orderby: OrderBy::Id,
                ascending: true,
                per_page: 100,
                ..OrderQuery::default()
            };
            let orders = self.sync.woocommerce().list_all_orders(&query).await?;
            let reports: Vec<Result<OrderReport, StoreError>> = stream::iter(orders)
                .filter(|order| {
                    let cancelled = self.sync.action_for(&order.status) == OrderAction::Cancel;
                    async move { !cancelled }
                })
                .map(|order| {
                    let sales_order = sales_orders.get(&order.id).cloned().unwrap_or_default();
                    async move {
                        let billing = self
                            .follow_order(&order, &sales_order, steps, Attempt::first())
                            .await?;
                        Ok(OrderReport {
                            order_id: order.id,
                            outcome: Outcome::Unchanged,
                            billing,
                        })
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for report in reports {
                summary.add(report?);
            }
            progress(summary.seen, total);
        }
        Ok(summary)
    }

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
            "order",
            "reverse_invoice",
            &step,
            started.elapsed().as_millis() as i64,
            attempt,
        )
        .await?;
        Ok(result)
    }

    // ----- the invoice ------------------------------------------------------

    fn invoice_due(&self, order: &Order) -> bool {
        crate::sync::mapping::invoice_due(self.sync.connection().invoice_trigger, order)
    }

    async fn invoice(
        &self,
        order: &Order,
        sales_order: &str,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        let link = self.link(order.id, "order", "Sales Invoice").await?;
        let submit = self.sync.connection().submit_invoices;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            if submit && link.fingerprint.as_deref() == Some(INVOICE_DRAFT) {
                // The switch was turned on after the draft was made.
                return Ok(
                    match self
                        .sync
                        .erpnext()
                        .submit("Sales Invoice", &link.erp_name)
                        .await
                    {
                        Ok(_) => {
                            self.put_link(
                                order.id,
                                "order",
                                "Sales Invoice",
                                &link.erp_name,
                                Some(INVOICE_SUBMITTED),
                                link.amount,
                            )
                            .await?;
                            Step::Exists(link.erp_name.clone())
                        }
                        Err(error) => Step::from_erp(error),
                    },
                );
            }
            return Ok(Step::Exists(link.erp_name.clone()));
        }
        if !self.invoice_due(order) {
            return Ok(Step::Waiting(format!(
                "not invoiced yet: the trigger `{:?}` is not reached",
                self.sync.connection().invoice_trigger
            )));
        }
        let key = self.sync.connection().order_key(order.id);
        if link.is_some() || attempt.number > 1 {
            match self
                .find("Sales Invoice", "woocommerce_invoice_key", &key)
                .await
            {
                Ok(Some(found)) => return self.invoice_found(order, found).await,
                Ok(None) => {}
                Err(error) => return Ok(Step::from_erp(error)),
            }
        }
        let mut document = match self.sync.erpnext().make_sales_invoice(sales_order).await {
            Ok(document) => document,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        document["woocommerce_invoice_key"] = json!(key);
        document["docstatus"] = json!(if submit { 1 } else { 0 });
        self.put_link(order.id, "order", "Sales Invoice", "", None, None)
            .await?;
        match self.sync.erpnext().insert("Sales Invoice", &document).await {
            Ok(inserted) => {
                self.invoice_found(order, Found::from_document(&inserted))
                    .await
            }
            Err(error) if error.is_duplicate() => {
                match self
                    .find("Sales Invoice", "woocommerce_invoice_key", &key)
                    .await
                {
                    Ok(Some(found)) => self.invoice_found(order, found).await,
                    Ok(None) => Ok(Step::from_erp(error)),
                    Err(lookup) => Ok(Step::from_erp(lookup)),
                }
            }
            Err(error) => Ok(Step::from_erp(error)),
        }
    }

    async fn invoice_found(&self, order: &Order, found: Found) -> Result<Step, StoreError> {
        let state = if found.docstatus == 1 {
            INVOICE_SUBMITTED
        } else {
            INVOICE_DRAFT
        };
        self.put_link(
            order.id,
            "order",
            "Sales Invoice",
            &found.name,
            Some(state),
            found.grand_total,
        )
        .await?;
        if self.sync.connection().submit_invoices && found.docstatus == 0 {
            if let Err(error) = self
                .sync
                .erpnext()
                .submit("Sales Invoice", &found.name)
                .await
            {
                return Ok(Step::from_erp(error));
            }
            self.put_link(
                order.id,
                "order",
                "Sales Invoice",
                &found.name,
                Some(INVOICE_SUBMITTED),
                found.grand_total,
            )
            .await?;
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
        Ok(Step::Made(found.name))
    }

    // ----- the payment ------------------------------------------------------

    async fn payment(
        &self,
        order: &Order,
        invoice: &str,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        if !self.sync.connection().record_payments {
            return Ok(Step::Waiting(
                "the connection does not record payments".into(),
            ));
        }
        let link = self.link(order.id, "order", "Payment Entry").await?;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            return Ok(Step::Exists(link.erp_name.clone()));
        }
        if !is_paid(order) {
            return Ok(Step::Waiting("not paid in WooCommerce yet".into()));
        }
        if !self.invoice_submitted(order.id).await? {
            return Ok(Step::Waiting("its Sales Invoice is not submitted".into()));
        }
        let key = self.sync.connection().order_key(order.id);
        if link.is_some() || attempt.number > 1 {
            match self
                .find("Payment Entry", "woocommerce_payment_key", &key)
                .await
            {
                Ok(Some(found)) => return self.payment_found(order.id, "order", found).await,
                Ok(None) => {}
                Err(error) => return Ok(Step::from_erp(error)),
            }
        }
        let outstanding = match self
            .sync
            .erpnext()
            .get_document("Sales Invoice", invoice)
            .await
        {
            Ok(document) => decimal_of(&document["outstanding_amount"]),
            Err(error) => return Ok(Step::from_erp(error)),
        };
        if outstanding <= Decimal::ZERO {
            return Ok(Step::Waiting(format!(
                "Sales Invoice {invoice} has nothing outstanding"
            )));
        }
        let mut entry = match self
            .sync
            .erpnext()
            .get_payment_entry("Sales Invoice", invoice)
            .await
        {
            Ok(entry) => entry,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        if let Some(target) = self
            .sync
            .connection()
            .mappings
            .payment_methods
            .get(&order.payment_method)
        {
            entry["mode_of_payment"] = json!(target.mode_of_payment);
            if let Some(account) = &target.account {
                entry["paid_to"] = json!(account);
            }
        }
        entry["reference_no"] = json!(payment_reference(order));
        if let Some(date) = order.date_paid.or(order.date_paid_gmt) {
            entry["reference_date"] = json!(date.date().to_string());
        }
        entry["woocommerce_payment_key"] = json!(key);
        entry["woocommerce_order_id"] = json!(order.id.to_string());
        entry["woocommerce_store"] = json!(self.sync.connection().name);
        entry["docstatus"] = json!(1);
        self.insert_keyed(
            order.id,
            "order",
            "Payment Entry",
            "woocommerce_payment_key",
            &key,
            &entry,
        )
        .await
    }

    async fn payment_found(
        &self,
        woo_id: u64,
        woo_kind: &str,
        found: Found,
    ) -> Result<Step, StoreError> {
        self.put_link(
            woo_id,
            woo_kind,
            "Payment Entry",
            &found.name,
            None,
            found.paid_amount,
        )
        .await?;
        if found.docstatus == 0 {
            if let Err(error) = self
                .sync
                .erpnext()
                .submit("Payment Entry", &found.name)
                .await
            {
                return Ok(Step::from_erp(error));
            }
        }
        Ok(Step::Made(found.name))
    }

    // ----- refunds ----------------------------------------------------------

    async fn refunds(
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
        if all_done {
            return Ok(());
        }
        if !self.invoice_submitted(order.id).await? {
            return Ok(());
        }
        // The payment comes first: made after a credit note it would pay only what is left, and
        // the refund paid back through the gateway would then be paid twice.
        if self.sync.connection().record_payments
            && is_paid(order)
            && self
                .linked_name(order.id, "order", "Payment Entry")
                .await?
                .is_none()
        {
            return Ok(());
        }
        let refunds = match self.sync.woocommerce().list_refunds(order.id).await {
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
                Step::Exists(_) => {}
                Step::Waiting(_) | Step::Failed { .. } => continue,
            }
            let started = Instant::now();
            let payment = self.refund_payment(order, refund, attempt).await?;
            self.record(
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

    async fn credit_note(
        &self,
        order: &Order,
        refund: &Refund,
        invoice: &str,
        context: &mut Option<(InvoiceRows, AlreadyReturned)>,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        let link = self.link(refund.id, "refund", "Sales Invoice").await?;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            return Ok(Step::Exists(link.erp_name.clone()));
        }
        let key = format!("{}:refund:{}", self.sync.connection().name, refund.id);
        let state = self.refund_state(refund);
        if link.is_some() || attempt.number > 1 {
            match self
                .find("Sales Invoice", "woocommerce_credit_note_key", &key)
                .await
            {
                Ok(Some(found)) => {
                    self.put_link(
                        refund.id,
                        "refund",
                        "Sales Invoice",
                        &found.name,
                        Some(state),
                        found.grand_total,
                    )
                    .await?;
                    return Ok(Step::Made(found.name));
                }
                Ok(None) => {}
                Err(error) => return Ok(Step::from_erp(error)),
            }
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
        let rows = match credit_note_for_refund(
            order,
            refund,
            rows_of_invoice,
            returned,
            self.sync.rules(),
        ) {
            Ok(rows) => rows,
            Err(error) => {
                return Ok(Step::Failed {
                    reason: error.to_string(),
                    retryable: false,
                })
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
            .insert_credit_note(
                refund.id,
                "refund",
                invoice,
                &key,
                &rows,
                &remarks,
                Some(state),
                -refund.amount,
            )
            .await?;
        if step.name().is_some() {
            add_returned(returned, &rows, rows_of_invoice.places);
        }
        Ok(step)
    }

    fn refund_state(&self, refund: &Refund) -> &'static str {
        if refund.refunded_payment && self.sync.connection().record_payments {
            REFUND_PAYMENT_DUE
        } else {
            REFUND_DONE
        }
    }

    async fn refund_payment(
        &self,
        order: &Order,
        refund: &Refund,
        attempt: Attempt,
    ) -> Result<Step, StoreError> {
        let Some(credit_link) = self.link(refund.id, "refund", "Sales Invoice").await? else {
            return Ok(Step::Waiting("no credit note yet".into()));
        };
        if credit_link.fingerprint.as_deref() == Some(REFUND_DONE) {
            return Ok(Step::Waiting("no refund payment due".into()));
        }
        let credit_link = &credit_link;
        let mark_done = |name: String| async move {
            self.put_link(
                refund.id,
                "refund",
                "Sales Invoice",
                &credit_link.erp_name,
                Some(REFUND_DONE),
                credit_link.amount,
            )
            .await
            .map(|_| name)
        };
        let link = self.link(refund.id, "refund", "Payment Entry").await?;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            return Ok(Step::Exists(mark_done(link.erp_name.clone()).await?));
        }
        let key = format!("{}:refund:{}", self.sync.connection().name, refund.id);
        if link.is_some() || attempt.number > 1 {
            match self
                .find("Payment Entry", "woocommerce_payment_key", &key)
                .await
            {
                Ok(Some(found)) => {
                    let step = self.payment_found(refund.id, "refund", found).await?;
                    if let Step::Made(name) = step {
                        return Ok(Step::Made(mark_done(name).await?));
                    }
                    return Ok(step);
                }
                Ok(None) => {}
                Err(error) => return Ok(Step::from_erp(error)),
            }
        }
        // The money goes back against the credit note, whose outstanding is negative: ERPNext's
        // own `get_payment_entry` on it builds the entry (Pay, from the bank to the receivable,
        // allocated negative, exchange rates of the receivable's currency). Against the original,
        // fully paid invoice ERPNext refuses it.
        let credit_note = credit_link.erp_name.clone();
        let mut entry = match self
            .sync
            .erpnext()
            .get_payment_entry("Sales Invoice", &credit_note)
            .await
        {
            Ok(entry) => entry,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        let mapped = self
            .sync
            .connection()
            .mappings
            .payment_methods
            .get(&order.payment_method)
            .cloned();
        let mut paid_from = mapped.as_ref().and_then(|target| target.account.clone());
        let mut mode_of_payment = mapped.map(|target| target.mode_of_payment);
        if paid_from.is_none() {
            // The money goes back from where the order's payment went.
            if let Some(payment) = self.linked_name(order.id, "order", "Payment Entry").await? {
                match self
                    .sync
                    .erpnext()
                    .get_document("Payment Entry", &payment)
                    .await
                {
                    Ok(document) => {
                        paid_from = document["paid_to"].as_str().map(str::to_string);
                        if mode_of_payment.is_none() {
                            mode_of_payment =
                                document["mode_of_payment"].as_str().map(str::to_string);
                        }
                    }
                    Err(error) => return Ok(Step::from_erp(error)),
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
        entry["woocommerce_store"] = json!(self.sync.connection().name);
        entry["docstatus"] = json!(1);
        let step = self
            .insert_keyed(
                refund.id,
                "refund",
                "Payment Entry",
                "woocommerce_payment_key",
                &key,
                &entry,
            )
            .await?;
        match step {
            Step::Made(name) => Ok(Step::Made(mark_done(name).await?)),
            other => Ok(other),
        }
    }

    // ----- cancellations ----------------------------------------------------

    async fn reversal(&self, order: &Order, attempt: Attempt) -> Result<Reversal, StoreError> {
        let link = self.link(order.id, "cancellation", "Sales Invoice").await?;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            return Ok(Reversal::CreditNote(link.erp_name.clone()));
        }
        let connection = self.sync.connection();
        let key = format!("{}:cancel:{}", connection.name, order.id);
        let failed = |error: ErpError| Reversal::Failed {
            retryable: error.is_retryable(),
            reason: error.to_string(),
        };
        if link.is_some() || attempt.number > 1 {
            match self
                .find("Sales Invoice", "woocommerce_credit_note_key", &key)
                .await
            {
                Ok(Some(found)) => {
                    self.put_link(
                        order.id,
                        "cancellation",
                        "Sales Invoice",
                        &found.name,
                        None,
                        found.grand_total,
                    )
                    .await?;
                    return Ok(Reversal::CreditNote(found.name));
                }
                Ok(None) => {}
                Err(error) => return Ok(failed(error)),
            }
        }
        let invoice = match self.linked_name(order.id, "order", "Sales Invoice").await? {
            Some(name) => name,
            None => match self
                .find(
                    "Sales Invoice",
                    "woocommerce_invoice_key",
                    &connection.order_key(order.id),
                )
                .await
            {
                Ok(Some(found)) => found.name,
                Ok(None) => return Ok(Reversal::NoInvoice),
                Err(error) => return Ok(failed(error)),
            },
        };
        match self
            .sync
            .erpnext()
            .get_document("Sales Invoice", &invoice)
            .await
        {
            Ok(document) if document["docstatus"].as_i64() == Some(0) => {
                // A draft bills nothing: delete it, and the Sales Order can be cancelled.
                if let Err(error) = self.sync.erpnext().delete("Sales Invoice", &invoice).await {
                    return Ok(failed(error));
                }
                self.put_link(order.id, "order", "Sales Invoice", "", None, None)
                    .await?;
                return Ok(Reversal::NoInvoice);
            }
            Ok(document) if document["docstatus"].as_i64() == Some(2) => {
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
        let rows = match credit_note_for_amount(
            left,
            &rows_of_invoice,
            &returned,
            self.sync.rules(),
            about,
        ) {
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
            .insert_credit_note(
                order.id,
                "cancellation",
                &invoice,
                &key,
                &rows,
                &remarks,
                None,
                -left,
            )
            .await?;
        Ok(match step {
            Step::Made(name) | Step::Exists(name) => Reversal::CreditNote(name),
            Step::Waiting(reason) => Reversal::Failed {
                reason,
                retryable: true,
            },
            Step::Failed { reason, retryable } => Reversal::Failed { reason, retryable },
        })
    }

    // ----- shared -----------------------------------------------------------

    /// The invoice's rows and what earlier credit notes gave back.
    async fn invoice_context(
        &self,
        invoice: &str,
    ) -> Result<(InvoiceRows, AlreadyReturned), ErpError> {
        let erp = self.sync.erpnext();
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
            places: self.sync.rules().currency_precision(&currency),
        };
        let names: Vec<Value> = erp
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
        for name in names.iter().filter_map(|row| row["name"].as_str()) {
            let credit = erp.get_document("Sales Invoice", name).await?;
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
    #[allow(clippy::too_many_arguments)]
    async fn insert_credit_note(
        &self,
        woo_id: u64,
        woo_kind: &str,
        invoice: &str,
        key: &str,
        rows: &CreditNoteRows,
        remarks: &str,
        state: Option<&str>,
        expected_total: Decimal,
    ) -> Result<Step, StoreError> {
        let mut document = match self.sync.erpnext().make_sales_return(invoice).await {
            Ok(document) => document,
            Err(error) => return Ok(Step::from_erp(error)),
        };
        apply_credit_rows(&mut document, rows);
        document["woocommerce_credit_note_key"] = json!(key);
        document["remarks"] = json!(remarks);
        document["docstatus"] = json!(1);
        self.put_link(woo_id, woo_kind, "Sales Invoice", "", None, None)
            .await?;
        let found = match self.sync.erpnext().insert("Sales Invoice", &document).await {
            Ok(inserted) => Found::from_document(&inserted),
            Err(error) if error.is_duplicate() => {
                match self
                    .find("Sales Invoice", "woocommerce_credit_note_key", key)
                    .await
                {
                    Ok(Some(found)) => found,
                    Ok(None) => return Ok(Step::from_erp(error)),
                    Err(lookup) => return Ok(Step::from_erp(lookup)),
                }
            }
            Err(error) => return Ok(Step::from_erp(error)),
        };
        self.put_link(
            woo_id,
            woo_kind,
            "Sales Invoice",
            &found.name,
            state,
            found.grand_total,
        )
        .await?;
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
        Ok(Step::Made(found.name))
    }

    /// Inserts a document keyed by `key_field` = `key` after a pending link; a duplicate-key
    /// rejection means an earlier attempt made it, which the look-up then finds.
    async fn insert_keyed(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
        key_field: &str,
        key: &str,
        document: &Value,
    ) -> Result<Step, StoreError> {
        self.put_link(woo_id, woo_kind, doctype, "", None, None)
            .await?;
        let found = match self.sync.erpnext().insert(doctype, document).await {
            Ok(inserted) => Found::from_document(&inserted),
            Err(error) if error.is_duplicate() => match self.find(doctype, key_field, key).await {
                Ok(Some(found)) => found,
                Ok(None) => return Ok(Step::from_erp(error)),
                Err(lookup) => return Ok(Step::from_erp(lookup)),
            },
            Err(error) => return Ok(Step::from_erp(error)),
        };
        self.put_link(
            woo_id,
            woo_kind,
            doctype,
            &found.name,
            None,
            found.paid_amount,
        )
        .await?;
        Ok(Step::Made(found.name))
    }

    async fn find(
        &self,
        doctype: &str,
        key_field: &str,
        key: &str,
    ) -> Result<Option<Found>, ErpError> {
        // ERPNext refuses a list field the doctype does not have.
        let total_field = if doctype == "Payment Entry" {
            "paid_amount"
        } else {
            "grand_total"
        };
        let rows: Vec<Value> = self
            .sync
            .erpnext()
            .list(
                doctype,
                &ListQuery::default()
                    .fields(&["name", "docstatus", total_field])
                    .filter(key_field, "=", key)
                    .filter("docstatus", "<", 2)
                    .all_rows(),
            )
            .await?;
        Ok(rows.first().map(Found::from_document))
    }

    async fn invoice_submitted(&self, order_id: u64) -> Result<bool, StoreError> {
        Ok(self
            .link(order_id, "order", "Sales Invoice")
            .await?
            .is_some_and(|link| {
                !link.erp_name.is_empty() && link.fingerprint.as_deref() == Some(INVOICE_SUBMITTED)
            }))
    }

    async fn link(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
    ) -> Result<Option<Link>, StoreError> {
        self.sync
            .store()
            .link(
                self.sync.connection_id(),
                woo_kind,
                &woo_id.to_string(),
                doctype,
            )
            .await
    }

    async fn linked_name(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .link(woo_id, woo_kind, doctype)
            .await?
            .map(|link| link.erp_name)
            .filter(|name| !name.is_empty()))
    }

    async fn put_link(
        &self,
        woo_id: u64,
        woo_kind: &str,
        doctype: &str,
        name: &str,
        fingerprint: Option<&str>,
        amount: Option<Decimal>,
    ) -> Result<(), StoreError> {
        self.sync
            .store()
            .put_link(&Link {
                connection_id: self.sync.connection_id(),
                woo_kind: woo_kind.to_string(),
                woo_id: woo_id.to_string(),
                erp_doctype: doctype.to_string(),
                erp_name: name.to_string(),
                fingerprint: fingerprint.map(str::to_string),
                amount,
            })
            .await
    }

    /// Logs a step and adds a failure to the report.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        woo_id: u64,
        woo_kind: &str,
        action: &str,
        step: &Step,
        started: Instant,
        attempt: Attempt,
        report: &mut BillingReport,
    ) -> Result<(), StoreError> {
        let duration_ms = started.elapsed().as_millis() as i64;
        self.log(woo_id, woo_kind, action, step, duration_ms, attempt)
            .await?;
        if let Step::Failed { reason, retryable } = step {
            report.failures.push(BillingFailure {
                step: format!("{action} ({woo_kind} {woo_id})"),
                reason: reason.clone(),
                retryable: *retryable,
            });
        }
        Ok(())
    }

    async fn log(
        &self,
        woo_id: u64,
        woo_kind: &str,
        action: &str,
        step: &Step,
        duration_ms: i64,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        let (outcome, message) = match step {
            Step::Made(name) => (LogOutcome::Ok, format!("{name} made")),
            // Polls pass done and not-yet-due orders again and again: not worth a row.
            Step::Exists(_) | Step::Waiting(_) => return Ok(()),
            Step::Failed { reason, .. } => (LogOutcome::Failed, reason.clone()),
        };
        self.sync
            .store()
            .append_log(&LogEntry {
                connection_id: self.sync.connection_id(),
                direction: DIRECTION.to_string(),
                object_kind: woo_kind.to_string(),
                object_id: woo_id.to_string(),
                action: action.to_string(),
                outcome,
                message: self.sync.redact(&message),
                request_excerpt: None,
                response_excerpt: None,
                duration_ms,
                attempt: attempt.number,
            })
            .await?;
        Ok(())
    }
}

/// A keyed document ERPNext has.
struct Found {
    name: String,
    docstatus: i64,
    grand_total: Option<Decimal>,
    paid_amount: Option<Decimal>,
}

impl Found {
    fn from_document(document: &Value) -> Found {
        let optional = |field: &str| match &document[field] {
            Value::Null => None,
            value => Some(decimal_of(value)),
        };
        Found {
            name: document["name"].as_str().unwrap_or_default().to_string(),
            docstatus: document["docstatus"].as_i64().unwrap_or(0),
            grand_total: optional("grand_total"),
            paid_amount: optional("paid_amount"),
        }
    }
}

/// The gateway's transaction id, or the order number when the gateway gave none (bank transfer).
fn payment_reference(order: &Order) -> String {
    if !order.transaction_id.trim().is_empty() {
        order.transaction_id.trim().to_string()
    } else if !order.number.is_empty() {
        order.number.clone()
    } else {
        order.id.to_string()
    }
}

/// A decimal as the JSON number ERPNext's numeric fields take; see `mapping::amounts`.
fn number(value: Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().map(Value::from).unwrap_or(Value::Null)
}

/// A money or quantity field, whether ERPNext sent it as a number or a string.
fn decimal_of(value: &Value) -> Decimal {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Decimal::ZERO,
    };
    parse_decimal(&text).unwrap_or_default()
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
