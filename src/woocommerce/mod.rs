//! WooCommerce REST v3: wire types, client, webhook verification.

pub mod client;
pub mod error;
pub mod listing;
pub mod oauth;
pub mod types;
pub mod webhook;

pub use client::{AuthMode, OrderBy, OrderQuery, Page, WooClient, WooConfig};
pub use error::WooError;
