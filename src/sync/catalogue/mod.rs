//! ERPNext → WooCommerce catalogue: which shop product sells which Item ([`links`], matched by
//! SKU = item code) and what the shop offers of it ([`stock`]: ERPNext's stock, in the unit the
//! shop sells in ([`units`]), less what the shop sold that ERPNext does not reserve yet) and at what price
//! ([`prices`]: the Item Prices valid today). These are pure; [`flow`] reads both sides, stores
//! the links and writes the changed quantities and prices in batches.

pub mod flow;
pub mod links;
pub mod prices;
pub mod stock;
pub mod units;
