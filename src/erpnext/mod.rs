//! ERPNext (Frappe) REST client: token auth, `/api/resource` and `/api/method`,
//! wire types and error classification. Knows nothing of the store, jobs or sync.

pub mod client;
pub mod countries;
pub mod error;
pub mod types;
pub mod webhook;

pub use client::{site_datetime_to_utc, utc_to_site_datetime, ErpClient, ErpConfig, ListQuery};
pub use error::ErpError;
