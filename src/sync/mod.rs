//! The business of keeping WooCommerce and ERPNext in step; `mapping` is its pure core.

pub mod billing;
pub mod mapping;
pub mod masters;
pub mod orders;
pub mod reconcile;
pub mod remotes;
pub mod setup;
