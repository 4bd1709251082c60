//! API simulators (WooCommerce, ERPNext) used by the tests, `demo` and `bench`.

pub mod erpnext;
