//! ERPNext → WooCommerce: a Sales Order's progress (status, shipments with carrier and tracking,
//! invoices) written back to the WooCommerce order it came from. [`status`] decides, purely;
//! [`write_back`] reads both sides, writes and remembers. Sales Orders born in ERPNext become
//! shop orders: [`shop_order`] builds the order, purely; [`erpnext_orders`] creates it once.

/// The direction this folder's flows write in the sync log.
pub const DIRECTION: &str = "erpnext_to_woocommerce";

pub mod erpnext_orders;
pub mod shop_order;
pub mod status;
pub mod write_back;
