//! The document events of one request, in the order Frappe raises them, for the Webhook
//! documents: the HTTP layer drains them once the request succeeded and plans the deliveries
//! (`super::super::webhooks`). Only events some registered listener follows are kept (the
//! snapshot of a large Sales Order is a costly copy).

use super::{DocEvent, Site};
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::values::Doc;

impl Site {
    /// Raises `event` on `doc` for the Webhook documents (see `events_at`).
    pub(crate) fn event(&mut self, doctype: &str, event: &'static str, doc: &Doc) {
        let position = self.events.len();
        self.events_at(position, doctype, &[event], doc);
    }

    /// Raises `events` on `doc`, in order, at `position` in this request's events. A write
    /// raises its own events around what its `on_submit` sets off in other documents (an
    /// order's `on_change` when an invoice bills it), and the Webhook jobs run in the order
    /// the events were raised; the payload is the document as the write leaves it.
    pub(super) fn events_at(
        &mut self,
        position: usize,
        doctype: &str,
        events: &[&'static str],
        doc: &Doc,
    ) {
        // Snapshots (a Sales Order with its rows is a large copy) are only
        // taken for the events some enabled Webhook wants.
        let wanted: Vec<&'static str> = events
            .iter()
            .copied()
            .filter(|event| {
                doctypes::registry()
                    .iter()
                    .any(|rules| rules.follows_event(self, doctype, event))
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        // The events of one write carry one document: copy it once.
        let snapshot = match self.events.last() {
            Some(last) if last.doctype == doctype && *last.doc == *doc => last.doc.clone(),
            _ => std::sync::Arc::new(doc.clone()),
        };
        let position = position.min(self.events.len());
        let raised = wanted.into_iter().map(|event| DocEvent {
            doctype: doctype.to_string(),
            event,
            doc: snapshot.clone(),
        });
        self.events.splice(position..position, raised);
    }
}
