//! Stock Ledger Entry: one row per stock move (item × warehouse), written by the site when a
//! stock document is submitted or cancelled (a cancel writes the reversing row). Not
//! submittable, and the API only reads it. What the real site showed (`tests/real_erpnext.rs`,
//! stock events): every move raises the entry's `after_insert` and `on_update`, while its Bin
//! raises events only when it is made (later moves update the Bin in SQL, `modified` advancing).

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{Access, DoctypeRules};
use crate::simulators::erpnext::engine::{hash_name, Site};
use crate::simulators::erpnext::values::set_float;

pub(crate) struct StockLedgerEntry;

const DOCTYPE: &str = "Stock Ledger Entry";

impl DoctypeRules for StockLedgerEntry {
    fn doctype(&self) -> &'static str {
        DOCTYPE
    }

    fn access(&self) -> Access {
        Access::SystemManaged
    }

    fn templates(&self) -> Vec<(&'static str, Value)> {
        vec![(
            DOCTYPE,
            json!({"item_code": null, "warehouse": null, "posting_date": null,
            "actual_qty": 0.0, "qty_after_transaction": 0.0, "stock_uom": "Nos",
            "is_cancelled": 0, "voucher_type": null, "voucher_no": null}),
        )]
    }
}

/// Records one move and raises its events: `actual` into (or out of) the warehouse, leaving
/// `after` there.
pub(crate) fn record_move(
    site: &mut Site,
    item_code: &str,
    warehouse: &str,
    actual: Decimal,
    after: Decimal,
) {
    let name = hash_name();
    let mut entry = site.new_doc(DOCTYPE);
    entry.insert("item_code".into(), json!(item_code));
    entry.insert("warehouse".into(), json!(warehouse));
    let today = site.today();
    entry.insert("posting_date".into(), json!(today));
    set_float(&mut entry, "actual_qty", actual);
    set_float(&mut entry, "qty_after_transaction", after);
    entry.insert("docstatus".into(), json!(1));
    site.stamp(DOCTYPE, &name, &mut entry, true);
    site.event(DOCTYPE, "after_insert", &entry);
    site.event(DOCTYPE, "on_update", &entry);
    site.store(DOCTYPE, &name, entry);
}
