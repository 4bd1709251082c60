//! WooCommerce → ERPNext: orders become Sales Orders ([`orders`]) with their customers,
//! addresses and items ([`masters`]), and what follows them: invoices, payments, credit notes
//! ([`billing`]).

pub mod billing;
pub mod masters;
pub mod orders;
