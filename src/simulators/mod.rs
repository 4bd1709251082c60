//! In-process simulators of the two remote systems, used by tests, `demo` and `bench`.

pub mod erpnext;
pub mod woocommerce;
