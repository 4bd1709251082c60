//! Process-local counters in the Prometheus text exposition format. A handful
//! of labelled counters does not need a metrics crate: a map and a writer.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Every metric the service exports: (name, type, help).
const METRICS: &[(&str, &str, &str)] = &[
    (
        "woocommerce_sync_webhooks_received_total",
        "counter",
        "Webhook deliveries accepted, by source and whether the content was new.",
    ),
    (
        "woocommerce_sync_webhooks_rejected_total",
        "counter",
        "Webhook requests refused, by source and reason.",
    ),
    (
        "woocommerce_sync_jobs_total",
        "counter",
        "Jobs run by this process, by kind and result (succeeded, retried, parked).",
    ),
    (
        "woocommerce_sync_orders_synced_total",
        "counter",
        "Orders handled by this process, by outcome.",
    ),
    (
        "woocommerce_sync_polls_total",
        "counter",
        "Scheduled or requested order polls, by result.",
    ),
    (
        "woocommerce_sync_poll_duration_seconds_sum",
        "counter",
        "Total time spent polling orders.",
    ),
    (
        "woocommerce_sync_poll_duration_seconds_count",
        "counter",
        "Number of order polls timed.",
    ),
    (
        "woocommerce_sync_jobs_pending",
        "gauge",
        "Jobs queued or running in the store, over all connections and instances.",
    ),
];

/// The counters. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (metric name, rendered label set) → value.
    counters: Mutex<BTreeMap<(&'static str, String), f64>>,
}

impl Metrics {
    pub fn webhook_received(&self, source: &str, new: bool) {
        let content = if new { "new" } else { "duplicate" };
        self.add(
            "woocommerce_sync_webhooks_received_total",
            &[("source", source), ("content", content)],
            1.0,
        );
    }

    pub fn webhook_rejected(&self, source: &str, reason: &str) {
        self.add(
            "woocommerce_sync_webhooks_rejected_total",
            &[("source", source), ("reason", reason)],
            1.0,
        );
    }

    pub fn job_finished(&self, kind: &str, result: &str) {
        self.add(
            "woocommerce_sync_jobs_total",
            &[("kind", kind), ("result", result)],
            1.0,
        );
    }

    pub fn orders_synced(&self, outcome: &str, count: u64) {
        if count > 0 {
            self.add(
                "woocommerce_sync_orders_synced_total",
                &[("outcome", outcome)],
                count as f64,
            );
        }
    }

    pub fn poll_finished(&self, succeeded: bool, seconds: f64) {
        let result = if succeeded { "ok" } else { "failed" };
        self.add("woocommerce_sync_polls_total", &[("result", result)], 1.0);
        self.add("woocommerce_sync_poll_duration_seconds_sum", &[], seconds);
        self.add("woocommerce_sync_poll_duration_seconds_count", &[], 1.0);
    }

    fn add(&self, name: &'static str, labels: &[(&str, &str)], amount: f64) {
        let rendered = labels
            .iter()
            .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
            .collect::<Vec<_>>()
            .join(",");
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counters.entry((name, rendered)).or_insert(0.0) += amount;
    }

    /// The text exposition, with `pending_jobs` from the store as a gauge.
    pub fn render(&self, pending_jobs: Option<i64>) -> String {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut text = String::new();
        for (name, kind, help) in METRICS {
            let _ = writeln!(text, "# HELP {name} {help}");
            let _ = writeln!(text, "# TYPE {name} {kind}");
            if *name == "woocommerce_sync_jobs_pending" {
                if let Some(pending) = pending_jobs {
                    let _ = writeln!(text, "{name} {pending}");
                }
                continue;
            }
            for ((metric, labels), value) in counters.iter() {
                if metric != name {
                    continue;
                }
                if labels.is_empty() {
                    let _ = writeln!(text, "{name} {value}");
                } else {
                    let _ = writeln!(text, "{name}{{{labels}}} {value}");
                }
            }
        }
        text
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_counters_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.webhook_received("woocommerce", true);
        metrics.webhook_received("woocommerce", true);
        metrics.webhook_rejected("erpnext", "signature");
        metrics.poll_finished(true, 0.5);
        let text = metrics.render(Some(3));
        assert!(text.contains(
            "woocommerce_sync_webhooks_received_total{source=\"woocommerce\",content=\"new\"} 2\n"
        ));
        assert!(text.contains(
            "woocommerce_sync_webhooks_rejected_total{source=\"erpnext\",reason=\"signature\"} 1\n"
        ));
        assert!(text.contains("woocommerce_sync_poll_duration_seconds_sum 0.5\n"));
        assert!(text.contains("woocommerce_sync_jobs_pending 3\n"));
        assert!(text.contains("# TYPE woocommerce_sync_jobs_total counter\n"));
    }
}
