//! ERPNext → WooCommerce: a Sales Order's progress (status, shipments with carrier and tracking,
//! invoices) written back to the WooCommerce order it came from. [`status`] decides, purely;
//! [`write_back`] reads both sides, writes and remembers.

/// The direction this folder's flows write in the sync log.
pub const DIRECTION: &str = "erpnext_to_woocommerce";

pub mod status;
pub mod write_back;
