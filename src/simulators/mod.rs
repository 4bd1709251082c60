//! In-process simulators of the two remote systems, used by tests, `demo` and `bench`.

pub mod erpnext;
pub mod woocommerce;

use std::time::Duration;

/// Waits the latency a simulator adds to a call. The OS timer keeps it to a
/// fraction of a millisecond; tokio's timer wheel rounds every wait up to the
/// next millisecond tick, which added 0.5–1.5 ms to each call of a bench that
/// asks for 20.
pub async fn add_latency(milliseconds: u64) {
    if milliseconds == 0 {
        return;
    }
    let wait = Duration::from_millis(milliseconds);
    if tokio::task::spawn_blocking(move || std::thread::sleep(wait))
        .await
        .is_err()
    {
        tokio::time::sleep(wait).await;
    }
}
