//! The business of keeping WooCommerce and ERPNext in step. `mapping` is its pure core; each
//! direction has a folder of flows, every flow takes the one [`context::ConnectionContext`] of
//! its connection, and the keys every document carries are built in [`keys`].

pub mod catalogue;
pub mod context;
pub mod discovery;
pub mod erp_to_woo;
pub mod keys;
pub mod mapping;
pub mod order_state;
pub mod problems;
pub mod reconcile;
pub mod report;
pub mod setup;
pub mod woo_to_erp;
