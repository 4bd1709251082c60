//! The pure core of ERPNext → WooCommerce: from what ERPNext says of a Sales Order (its status,
//! its Delivery Notes and invoices), what the WooCommerce order is now and what was written to it
//! before, decide what to write. No IO.
//!
//! The rules a shop can trust:
//! - **Statuses only move forward** along `pending`/`failed` < `on-hold` < `processing` <
//!   `completed`; `cancelled` and `refunded` can follow any of them and are terminal (nothing
//!   moves an order out of them). A status outside this list (a plugin's own, `checkout-draft`)
//!   is never changed.
//! - **The shop's word wins**: a status the shop set after our last write (the order's
//!   `date_modified` is not older than our write left it, and its status differs from the one our
//!   write left) is never overwritten. A shop that moved the order forward (`on-hold` →
//!   `processing` when a transfer arrived) has overwritten nothing of ours, and the order may move
//!   on from there; a shop that moved it *back* or aside (`processing` → `on-hold`, a plugin's
//!   own status) keeps it: the sync writes no status to that order until the shop moves it
//!   forward again. Meta and notes still follow; they overwrite nothing.
//! - **Completed means delivered**: `completed` is written only when ERPNext says everything was
//!   delivered (`per_delivered` 100, or the Sales Order is `Completed`), whatever the map says.
//! - **Nothing twice**: a note is keyed by what it reports (a Sales Order status, a Delivery
//!   Note submitted or cancelled) and written once per key; meta is written when it differs from
//!   the order's; the status when it differs from the order's.
//! - **The buyer hears of shipments while the order is open**: a Delivery Note's note is
//!   customer-visible (WooCommerce e-mails it) unless the shop order is already `completed`,
//!   `cancelled` or `refunded`, when it is private (no e-mail storm over old orders).
//! - The status map (`status_to_woocommerce`) names the WooCommerce status of each ERPNext Sales
//!   Order status; a status it does not name writes no status.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use crate::store::WooWriteBack;

/// Meta keys the service keeps on a WooCommerce order.
pub const META_SALES_ORDER: &str = "erpnext_sales_order";
pub const META_SALES_INVOICE: &str = "erpnext_sales_invoice";
pub const META_DELIVERY_NOTE: &str = "erpnext_delivery_note";
pub const META_KEYS: [&str; 3] = [META_SALES_ORDER, META_SALES_INVOICE, META_DELIVERY_NOTE];

/// A Sales Order as ERPNext has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct SalesOrderFacts {
    pub name: String,
    /// 1 submitted, 2 cancelled (drafts are not followed).
    pub cancelled: bool,
    /// ERPNext's status: `To Deliver and Bill`, `To Bill`, `To Deliver`, `Completed`, `Closed`,
    /// `On Hold`, `Cancelled`, …
    pub status: String,
    pub per_delivered: Decimal,
    pub per_billed: Decimal,
}

/// One shipped row of a Delivery Note.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedLine {
    pub item_code: String,
    pub item_name: String,
    pub qty: Decimal,
}

/// A submitted or cancelled Delivery Note against the Sales Order.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFacts {
    pub name: String,
    pub cancelled: bool,
    /// `transporter_name`, else `transporter`.
    pub carrier: String,
    /// `lr_no` (the transport receipt / tracking number).
    pub tracking: String,
    pub lines: Vec<ShippedLine>,
}

/// What ERPNext says of one order.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpFacts {
    pub sales_order: SalesOrderFacts,
    /// Oldest first.
    pub deliveries: Vec<DeliveryFacts>,
    /// Submitted Sales Invoices (not returns) of the order.
    pub invoices: Vec<String>,
}

/// The WooCommerce order as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct WooFacts {
    pub status: String,
    pub date_modified_gmt: Option<NaiveDateTime>,
    /// The values of [`META_KEYS`] it carries.
    pub meta: BTreeMap<String, String>,
}

/// One order note to add.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedNote {
    /// What it reports, e.g. `dn:MAT-DN-2026-00001:submitted` (written once per key).
    pub key: String,
    pub text: String,
    /// `true`: the buyer sees it (WooCommerce e-mails it).
    pub customer_note: bool,
}

/// What to write to the WooCommerce order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBackPlan {
    pub status: Option<String>,
    /// Only the meta that differs from the order's.
    pub meta: BTreeMap<String, String>,
    pub notes: Vec<PlannedNote>,
    /// Why the status the map names is not written, when it is not.
    pub status_left: Option<String>,
}

impl WriteBackPlan {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.meta.is_empty() && self.notes.is_empty()
    }
}

/// Where a WooCommerce status stands in the forward order; `None` for statuses never changed.
fn rank(status: &str) -> Option<u8> {
    match status {
        "pending" | "failed" => Some(0),
        "on-hold" => Some(1),
        "processing" => Some(2),
        "completed" => Some(3),
        "cancelled" | "refunded" => Some(4),
        _ => None,
    }
}

/// Whether an order may move from `from` to `to`: forward only, never out of a terminal status,
/// never from or to a status outside the known list.
pub fn moves_forward(from: &str, to: &str) -> bool {
    match (rank(from), rank(to)) {
        (Some(4), _) => false,
        (Some(from), Some(to)) => to > from,
        _ => false,
    }
}

/// The status ERPNext's progress implies for the shop's order when the shop's status is behind
/// it (for `reconcile`, which compares from scratch): the one the map names for the Sales
/// Order's status, if that moves the order forward, and `completed` only once everything was
/// delivered. `None` when the shop's status is where ERPNext's implies, or ahead of it.
pub fn lagging_status(
    so: &SalesOrderFacts,
    woo_status: &str,
    map: &BTreeMap<String, String>,
) -> Option<String> {
    let erp_status = if so.cancelled {
        "Cancelled"
    } else {
        so.status.as_str()
    };
    let target = map.get(erp_status)?;
    let delivered = so.per_delivered >= Decimal::from(100) || erp_status == "Completed";
    if target == "completed" && !delivered {
        return None;
    }
    moves_forward(woo_status, target).then(|| target.clone())
}

/// Decides what to write. `map` is the connection's `status_to_woocommerce`.
pub fn decide(
    erp: &ErpFacts,
    woo: &WooFacts,
    written: Option<&WooWriteBack>,
    map: &BTreeMap<String, String>,
) -> WriteBackPlan {
    let mut plan = WriteBackPlan::default();
    let noted: BTreeSet<&str> = written
        .map(|written| written.notes.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let so = &erp.sales_order;

    // Notes, in the order things happened: the order's status, then each shipment.
    let erp_status = if so.cancelled {
        "Cancelled"
    } else {
        so.status.as_str()
    };
    let status_key = format!("so:{}:status:{erp_status}", so.name);
    if !noted.contains(status_key.as_str()) {
        plan.notes.push(PlannedNote {
            key: status_key,
            text: status_note(so, erp_status),
            customer_note: false,
        });
    }
    let total_delivered = so.per_delivered >= Decimal::from(100);
    // The buyer is told of a shipment (WooCommerce e-mails a customer note) while the order is
    // open in the shop; an order the shop already closed (completed by hand, or historic orders
    // on a first run) gets the same note privately.
    let tell_the_buyer = !matches!(woo.status.as_str(), "completed" | "cancelled" | "refunded");
    for delivery in &erp.deliveries {
        let submitted_key = format!("dn:{}:submitted", delivery.name);
        // A note cancelled before we ever saw it submitted is reported as cancelled only.
        if !delivery.cancelled && !noted.contains(submitted_key.as_str()) {
            plan.notes.push(PlannedNote {
                key: submitted_key,
                text: shipment_note(delivery, total_delivered),
                customer_note: tell_the_buyer,
            });
        }
        let cancelled_key = format!("dn:{}:cancelled", delivery.name);
        if delivery.cancelled && !noted.contains(cancelled_key.as_str()) {
            plan.notes.push(PlannedNote {
                key: cancelled_key,
                text: format!(
                    "ERPNext: Delivery Note {} was cancelled; the shipment it recorded does not stand.",
                    delivery.name
                ),
                customer_note: false,
            });
        }
    }

    // Meta: what differs from the order's.
    let delivered: Vec<&str> = erp
        .deliveries
        .iter()
        .filter(|delivery| !delivery.cancelled)
        .map(|delivery| delivery.name.as_str())
        .collect();
    let wanted = [
        (META_SALES_ORDER, so.name.clone()),
        (META_SALES_INVOICE, erp.invoices.join(", ")),
        (META_DELIVERY_NOTE, delivered.join(", ")),
    ];
    for (key, value) in wanted {
        let current = woo.meta.get(key).map(String::as_str).unwrap_or_default();
        if current != value {
            plan.meta.insert(key.to_string(), value);
        }
    }

    // Status.
    let Some(target) = map.get(erp_status) else {
        return plan;
    };
    if target == &woo.status {
        return plan;
    }
    if target == "completed" && !(total_delivered || erp_status == "Completed") {
        plan.status_left = Some(format!(
            "the map names `completed` for `{erp_status}`, but ERPNext has delivered {}% of Sales Order {}",
            so.per_delivered.normalize(),
            so.name
        ));
        return plan;
    }
    if let Some(written) = written {
        // Not older than our write (a change in the same second as ours counts as later).
        let changed_since = match (woo.date_modified_gmt, written.woo_modified) {
            (Some(now), Some(then)) => now >= then,
            _ => true,
        };
        if let Some(left) = &written.status {
            if changed_since && left != &woo.status && !moves_forward(left, &woo.status) {
                plan.status_left = Some(format!(
                    "the shop moved the order from `{left}` back to `{}` after the sync's write; the shop's status stays",
                    woo.status
                ));
                return plan;
            }
        }
    }
    if !moves_forward(&woo.status, target) {
        plan.status_left = Some(format!(
            "`{}` → `{target}` would not move the order forward",
            woo.status
        ));
        return plan;
    }
    plan.status = Some(target.clone());
    plan
}

fn status_note(so: &SalesOrderFacts, erp_status: &str) -> String {
    if so.cancelled {
        return format!("ERPNext: Sales Order {} was cancelled.", so.name);
    }
    format!(
        "ERPNext: Sales Order {} is {erp_status} (delivered {}%, billed {}%).",
        so.name,
        so.per_delivered.round_dp(2).normalize(),
        so.per_billed.round_dp(2).normalize()
    )
}

fn shipment_note(delivery: &DeliveryFacts, everything: bool) -> String {
    let lines: Vec<String> = delivery
        .lines
        .iter()
        .map(|line| {
            let name = if line.item_name.is_empty() || line.item_name == line.item_code {
                line.item_code.clone()
            } else {
                format!("{} ({})", line.item_name, line.item_code)
            };
            format!("{} × {name}", line.qty.normalize())
        })
        .collect();
    let mut text = if everything {
        format!("Your order has shipped: {}.", lines.join(", "))
    } else {
        format!("Part of your order has shipped: {}.", lines.join(", "))
    };
    if !delivery.carrier.is_empty() {
        text.push_str(&format!(" Carrier: {}.", delivery.carrier));
    }
    if !delivery.tracking.is_empty() {
        text.push_str(&format!(" Tracking number: {}.", delivery.tracking));
    }
    text.push_str(&format!(" (Delivery Note {})", delivery.name));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn so(status: &str, delivered: i64) -> SalesOrderFacts {
        SalesOrderFacts {
            name: "SO-1".into(),
            cancelled: status == "Cancelled",
            status: status.into(),
            per_delivered: Decimal::from(delivered),
            per_billed: Decimal::ZERO,
        }
    }

    fn shipment(name: &str, cancelled: bool) -> DeliveryFacts {
        DeliveryFacts {
            name: name.into(),
            cancelled,
            carrier: "DHL".into(),
            tracking: "JD0123".into(),
            lines: vec![ShippedLine {
                item_code: "SIM-001".into(),
                item_name: "Widget".into(),
                qty: Decimal::from(2),
            }],
        }
    }

    fn woo(status: &str, minute: u32) -> WooFacts {
        WooFacts {
            status: status.into(),
            date_modified_gmt: chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .and_then(|day| day.and_hms_opt(10, minute, 0)),
            meta: BTreeMap::new(),
        }
    }

    fn map() -> BTreeMap<String, String> {
        [
            ("To Deliver and Bill", "processing"),
            ("To Bill", "completed"),
            ("Completed", "completed"),
            ("Cancelled", "cancelled"),
        ]
        .into_iter()
        .map(|(erp, woo)| (erp.to_string(), woo.to_string()))
        .collect()
    }

    fn facts(so: SalesOrderFacts, deliveries: Vec<DeliveryFacts>) -> ErpFacts {
        ErpFacts {
            sales_order: so,
            deliveries,
            invoices: Vec::new(),
        }
    }

    /// What was written if `plan` was applied to an order left at `minute`.
    fn applied(
        plan: &WriteBackPlan,
        before: Option<&WooWriteBack>,
        order: &WooFacts,
        minute: u32,
    ) -> WooWriteBack {
        let mut written = before.cloned().unwrap_or_default();
        written.status = plan.status.clone().or(Some(order.status.clone()));
        written.woo_modified = woo("x", minute).date_modified_gmt;
        written.meta.extend(plan.meta.clone());
        written
            .notes
            .extend(plan.notes.iter().map(|note| note.key.clone()));
        written
    }

    #[test]
    fn statuses_only_move_forward_and_terminal_ones_stay() {
        assert!(moves_forward("pending", "processing"));
        assert!(moves_forward("processing", "completed"));
        assert!(moves_forward("completed", "cancelled"));
        assert!(!moves_forward("completed", "processing"));
        assert!(!moves_forward("cancelled", "completed"));
        assert!(!moves_forward("refunded", "cancelled"));
        assert!(!moves_forward("wc-shipped", "completed"));
        assert!(!moves_forward("processing", "wc-shipped"));
    }

    #[test]
    fn a_full_delivery_completes_the_order_with_a_tracking_note() {
        let plan = decide(
            &facts(so("To Bill", 100), vec![shipment("DN-1", false)]),
            &woo("processing", 0),
            None,
            &map(),
        );
        assert_eq!(plan.status.as_deref(), Some("completed"));
        let shipped = plan.notes.iter().find(|note| note.customer_note).unwrap();
        assert_eq!(
            shipped.text,
            "Your order has shipped: 2 × Widget (SIM-001). Carrier: DHL. Tracking number: JD0123. (Delivery Note DN-1)"
        );
        assert_eq!(plan.meta[META_DELIVERY_NOTE], "DN-1");
        assert_eq!(plan.meta[META_SALES_ORDER], "SO-1");
    }

    #[test]
    fn an_order_the_shop_closed_gets_its_shipment_note_privately() {
        let plan = decide(
            &facts(so("Completed", 100), vec![shipment("DN-1", false)]),
            &woo("completed", 0),
            None,
            &map(),
        );
        assert_eq!(plan.status, None);
        assert!(
            plan.notes.iter().all(|note| !note.customer_note),
            "{plan:?}"
        );
        assert!(plan.notes[1].text.starts_with("Your order has shipped"));
    }

    #[test]
    fn a_partial_delivery_leaves_the_order_processing_with_a_note() {
        let mut partial = so("To Deliver and Bill", 50);
        partial.per_delivered = Decimal::new(5000, 2);
        let plan = decide(
            &facts(partial, vec![shipment("DN-1", false)]),
            &woo("processing", 0),
            None,
            &map(),
        );
        assert_eq!(plan.status, None);
        assert!(plan.notes[1]
            .text
            .starts_with("Part of your order has shipped"));
        // A map that says completed too early is not followed.
        let mut eager = map();
        eager.insert("To Deliver and Bill".into(), "completed".into());
        let plan = decide(
            &facts(so("To Deliver and Bill", 50), vec![]),
            &woo("processing", 0),
            None,
            &eager,
        );
        assert_eq!(plan.status, None);
        assert!(plan.status_left.unwrap().contains("delivered 50%"));
    }

    #[test]
    fn nothing_is_written_twice() {
        let erp = facts(so("To Bill", 100), vec![shipment("DN-1", false)]);
        let first = decide(&erp, &woo("processing", 0), None, &map());
        let written = applied(&first, None, &woo("processing", 0), 1);
        let mut now = woo("completed", 1);
        now.meta = written.meta.clone();
        let second = decide(&erp, &now, Some(&written), &map());
        assert!(second.is_empty(), "{second:?}");
    }

    #[test]
    fn a_status_the_shop_changed_after_our_write_is_not_overwritten() {
        let erp = facts(so("To Deliver and Bill", 0), vec![]);
        let first = decide(&erp, &woo("pending", 0), None, &map());
        assert_eq!(first.status.as_deref(), Some("processing"));
        let written = applied(&first, None, &woo("pending", 0), 1);
        // The shop puts it on hold; then ERPNext delivers everything.
        let erp = facts(so("To Bill", 100), vec![shipment("DN-1", false)]);
        let plan = decide(&erp, &woo("on-hold", 5), Some(&written), &map());
        assert_eq!(plan.status, None);
        assert!(plan
            .status_left
            .as_deref()
            .unwrap()
            .contains("the shop's status stays"));
        assert_eq!(plan.notes.len(), 2, "notes still follow: {plan:?}");
        // A change in the very second of our write is the shop's too.
        let plan = decide(&erp, &woo("on-hold", 1), Some(&written), &map());
        assert_eq!(plan.status, None);
        // A change that left our status alone (a plugin's meta) does not hold it.
        let plan = decide(&erp, &woo("processing", 5), Some(&written), &map());
        assert_eq!(plan.status.as_deref(), Some("completed"));
        // Nor does the shop moving it forward (a bank transfer arrived).
        let on_hold = applied(&WriteBackPlan::default(), None, &woo("on-hold", 0), 1);
        let plan = decide(&erp, &woo("processing", 5), Some(&on_hold), &map());
        assert_eq!(plan.status.as_deref(), Some("completed"));
    }

    #[test]
    fn a_cancelled_delivery_note_gets_a_note_and_leaves_the_meta() {
        let erp = facts(
            so("To Deliver and Bill", 0),
            vec![shipment("DN-1", true), shipment("DN-2", false)],
        );
        let mut written = WooWriteBack::default();
        written.notes.insert("dn:DN-1:submitted".into());
        let mut now = woo("processing", 0);
        now.meta.insert(META_DELIVERY_NOTE.into(), "DN-1".into());
        let plan = decide(&erp, &now, Some(&written), &map());
        let keys: Vec<&str> = plan.notes.iter().map(|note| note.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "so:SO-1:status:To Deliver and Bill",
                "dn:DN-1:cancelled",
                "dn:DN-2:submitted"
            ]
        );
        assert_eq!(plan.meta[META_DELIVERY_NOTE], "DN-2");
    }

    #[test]
    fn a_cancelled_sales_order_cancels_the_order_unless_it_is_terminal() {
        let erp = facts(so("Cancelled", 0), vec![]);
        let plan = decide(&erp, &woo("processing", 0), None, &map());
        assert_eq!(plan.status.as_deref(), Some("cancelled"));
        assert_eq!(
            plan.notes[0].text,
            "ERPNext: Sales Order SO-1 was cancelled."
        );
        let plan = decide(&erp, &woo("refunded", 0), None, &map());
        assert_eq!(plan.status, None);
        // No map entry: notes and meta only.
        let plan = decide(&erp, &woo("processing", 0), None, &BTreeMap::new());
        assert_eq!((plan.status, plan.status_left), (None, None));
    }

    #[test]
    fn a_shop_status_behind_erpnext_lags_and_one_ahead_or_not_delivered_does_not() {
        let map: BTreeMap<String, String> = [
            ("To Deliver and Bill", "processing"),
            ("To Bill", "completed"),
            ("Cancelled", "cancelled"),
        ]
        .into_iter()
        .map(|(erp, woo)| (erp.to_string(), woo.to_string()))
        .collect();
        let so = |status: &str, delivered: i64, cancelled: bool| SalesOrderFacts {
            name: "SO-1".into(),
            cancelled,
            status: status.into(),
            per_delivered: Decimal::from(delivered),
            per_billed: Decimal::ZERO,
        };
        assert_eq!(
            lagging_status(&so("To Bill", 100, false), "processing", &map).as_deref(),
            Some("completed")
        );
        assert_eq!(
            lagging_status(&so("To Deliver and Bill", 0, false), "pending", &map).as_deref(),
            Some("processing")
        );
        assert_eq!(
            lagging_status(&so("Draft", 0, true), "processing", &map).as_deref(),
            Some("cancelled")
        );
        // In step, ahead, not mapped, or `completed` before everything was delivered.
        assert_eq!(
            lagging_status(&so("To Bill", 100, false), "completed", &map),
            None
        );
        assert_eq!(
            lagging_status(&so("To Deliver and Bill", 0, false), "completed", &map),
            None
        );
        assert_eq!(
            lagging_status(&so("On Hold", 0, false), "pending", &map),
            None
        );
        assert_eq!(
            lagging_status(&so("To Bill", 50, false), "processing", &map),
            None
        );
    }
}
