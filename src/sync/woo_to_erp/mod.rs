//! WooCommerce → ERPNext: orders become Sales Orders ([`orders`]) with their customers,
//! addresses and items ([`masters`]), and what follows them: invoices, payments, credit notes
//! ([`billing`]).

/// The direction this folder's flows write in the sync log.
pub const DIRECTION: &str = "woocommerce_to_erpnext";

pub mod billing;
pub mod masters;
pub mod orders;
mod page;
