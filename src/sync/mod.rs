//! The business of keeping WooCommerce and ERPNext in step; `mapping` is its pure core.

pub mod mapping;
pub mod setup;
