//! What a WooCommerce order's status means for the sync: import it, cancel its Sales Order, or
//! leave it; and whether it counts as paid for the invoice trigger.

use super::rules::MappingRules;
use crate::connection::InvoiceTrigger;
use crate::woocommerce::types::Order;

/// What the sync does with an order in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    /// Make (or keep) its submitted Sales Order.
    Import,
    /// Cancel its Sales Order if one exists (or close it when already invoiced); nothing otherwise.
    Cancel,
    /// Not yet (pending payment, drafts) or handled elsewhere (refunds become credit notes).
    Ignore,
}

/// The action for `status` under the connection's imported statuses. `cancelled`, `failed` and
/// `trash` cancel, unless the operator chose to import that status.
pub fn action_for_status(status: &str, rules: &MappingRules) -> OrderAction {
    if rules.imported_statuses.contains(status) {
        return OrderAction::Import;
    }
    match status {
        "cancelled" | "failed" | "trash" => OrderAction::Cancel,
        _ => OrderAction::Ignore,
    }
}

/// Whether the connection's invoice trigger has been reached for `order`.
pub fn invoice_due(trigger: InvoiceTrigger, order: &Order) -> bool {
    match trigger {
        InvoiceTrigger::Paid => is_paid(order),
        InvoiceTrigger::OnImport => true,
        InvoiceTrigger::OnCompleted => order.status == "completed",
        InvoiceTrigger::Never => false,
    }
}

/// Paid: WooCommerce recorded a payment date and the order is processing or completed (an
/// on-hold bank transfer has no payment yet, whatever its date says).
pub fn is_paid(order: &Order) -> bool {
    (order.date_paid.is_some() || order.date_paid_gmt.is_some())
        && matches!(order.status.as_str(), "processing" | "completed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_statuses_import_processing_on_hold_and_completed() {
        let rules = MappingRules::new("shop", "Test Company", "USD");
        assert_eq!(action_for_status("processing", &rules), OrderAction::Import);
        assert_eq!(action_for_status("on-hold", &rules), OrderAction::Import);
        assert_eq!(action_for_status("completed", &rules), OrderAction::Import);
        assert_eq!(action_for_status("pending", &rules), OrderAction::Ignore);
        assert_eq!(action_for_status("refunded", &rules), OrderAction::Ignore);
        assert_eq!(
            action_for_status("checkout-draft", &rules),
            OrderAction::Ignore
        );
        assert_eq!(action_for_status("cancelled", &rules), OrderAction::Cancel);
        assert_eq!(action_for_status("failed", &rules), OrderAction::Cancel);
        assert_eq!(action_for_status("trash", &rules), OrderAction::Cancel);
    }

    #[test]
    fn the_connection_can_import_pending_orders_too() {
        let mut rules = MappingRules::new("shop", "Test Company", "USD");
        rules.imported_statuses.insert("pending".to_string());
        assert_eq!(action_for_status("pending", &rules), OrderAction::Import);
    }
}
