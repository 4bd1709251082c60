//! The business: turning WooCommerce orders into ERPNext documents and back.

pub mod setup;
