//! WooCommerce REST v3: wire types, client, webhook verification.

pub mod types;
