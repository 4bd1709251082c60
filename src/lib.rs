//! woocommerce-sync: keeps WooCommerce stores and an ERPNext site in step.
//!
//! The binary's commands live in `cli`; everything else is a library so the
//! integration tests can build the app as a value and drive it from outside.

pub mod app;
pub mod cli;
pub mod config;
pub mod connection;
pub mod erpnext;
pub mod jobs;
pub mod metrics;
pub mod money;
pub mod remote;
pub mod secrets;
pub mod simulators;
pub mod store;
pub mod sync;
pub mod web;
pub mod woocommerce;
