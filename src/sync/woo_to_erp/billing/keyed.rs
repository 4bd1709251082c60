//! The one protocol by which billing makes a document exactly once, whatever happens in between
//! (an answer lost after ERPNext committed, a crash, another process on the same connection):
//!
//! 1. a finished link in the store means it exists: nothing to do;
//! 2. a *pending* link (written before an earlier insert) or a later attempt means an insert may
//!    have happened: look the document up by its unique key in ERPNext first;
//! 3. write the pending link — only where there is no link yet, never over another process's
//!    finished one; with the page's others before its first create when the page expected the
//!    insert ([`Billing::pending_links`]) — then insert; ERPNext refuses a second document with
//!    the key, and the refusal is answered by looking the winner up;
//! 4. record the finished link with what the step needs to know next time.
//!
//! A step that finds nothing left to do (the invoice owes nothing, nothing is left to credit)
//! looks its key up before saying so: another process's insert may have landed between step 1
//! and its call, and what follows the step must not wait for a link nobody would write.

use serde::Serialize;

use super::Billing;
use crate::erpnext::client::ListQuery;
use crate::erpnext::error::ErpError;
use crate::erpnext::types::Keyed;
use crate::store::{Link, StoreError};
use crate::sync::report::Attempt;

/// What a document is to the store and to ERPNext: the WooCommerce object it stands for, its
/// doctype, and the unique field and key it carries.
#[derive(Debug, Clone)]
pub(super) struct KeyedDoc {
    /// `order`, `refund` or `cancellation`.
    pub woo_kind: &'static str,
    pub woo_id: u64,
    pub doctype: &'static str,
    pub key_field: &'static str,
    pub key: String,
}

/// Where a keyed document stands before a step acts.
pub(super) enum Known {
    /// The store links it: made by an earlier run.
    Linked(Link),
    /// Found in ERPNext by its key after an uncertain earlier attempt (now linked).
    Found(Keyed),
    /// Not made yet.
    Missing,
}

impl Billing<'_> {
    /// Steps 1 and 2: the linked document, or the one ERPNext holds under the key when an earlier
    /// attempt may have made it.
    pub(super) async fn known(
        &self,
        doc: &KeyedDoc,
        attempt: Attempt,
    ) -> Result<Result<Known, ErpError>, StoreError> {
        let link = self.link(doc.woo_id, doc.woo_kind, doc.doctype).await?;
        if let Some(link) = link.as_ref().filter(|link| !link.erp_name.is_empty()) {
            return Ok(Ok(Known::Linked(link.clone())));
        }
        if link.is_none() && !attempt.is_retry() {
            return Ok(Ok(Known::Missing));
        }
        Ok(self.look_up(doc).await.map(|found| match found {
            Some(found) => Known::Found(found),
            None => Known::Missing,
        }))
    }

    /// Step 3: the pending link, the insert, the winner on a duplicate. Answers the document and
    /// whether this call made it; the caller records the finished link (step 4) once it knows the
    /// state to keep.
    pub(super) async fn insert_once(
        &self,
        doc: &KeyedDoc,
        body: &impl Serialize,
    ) -> Result<Result<(Keyed, bool), ErpError>, StoreError> {
        let written = self.page.is_some_and(|page| {
            page.has_pending(doc.woo_kind, &doc.woo_id.to_string(), doc.doctype)
        });
        if !written {
            self.ctx
                .store
                .put_pending_link(&self.new_link(doc, "", None, None))
                .await?;
        }
        Ok(
            match self.ctx.erp.insert::<Keyed>(doc.doctype, body).await {
                Ok(inserted) => Ok((inserted, true)),
                Err(error) if error.is_duplicate() => match self.look_up(doc).await {
                    Ok(Some(found)) => Ok((found, false)),
                    Ok(None) => Err(error),
                    Err(lookup) => Err(lookup),
                },
                Err(error) => Err(error),
            },
        )
    }

    /// Records the finished link of `found`.
    pub(super) async fn record_link(
        &self,
        doc: &KeyedDoc,
        found: &Keyed,
        fingerprint: Option<&str>,
    ) -> Result<(), StoreError> {
        let amount = found.grand_total.or(found.paid_amount);
        self.put_link(self.new_link(doc, &found.name, fingerprint, amount))
            .await
    }

    /// The document ERPNext holds under the key (drafts and submitted ones; a cancelled one
    /// was undone and does not count).
    pub(super) async fn look_up(&self, doc: &KeyedDoc) -> Result<Option<Keyed>, ErpError> {
        // ERPNext refuses a list field the doctype does not have.
        let total_field = if doc.doctype == "Payment Entry" {
            "paid_amount"
        } else {
            "grand_total"
        };
        let rows: Vec<Keyed> = self
            .ctx
            .erp
            .list(
                doc.doctype,
                &ListQuery::default()
                    .fields(&["name", "docstatus", total_field])
                    .filter(doc.key_field, "=", doc.key.as_str())
                    .filter("docstatus", "<", 2)
                    .all_rows(),
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    pub(super) fn new_link(
        &self,
        doc: &KeyedDoc,
        name: &str,
        fingerprint: Option<&str>,
        amount: Option<rust_decimal::Decimal>,
    ) -> Link {
        Link {
            connection_id: self.ctx.connection_id,
            woo_kind: doc.woo_kind.to_string(),
            woo_id: doc.woo_id.to_string(),
            erp_doctype: doc.doctype.to_string(),
            erp_name: name.to_string(),
            fingerprint: fingerprint.map(str::to_string),
            amount,
        }
    }
}
