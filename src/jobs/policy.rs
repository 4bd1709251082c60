//! When a failed job runs again, decided in one place: retryable failures back off (exponential,
//! jittered) until the attempts run out; permanent ones, and those out of attempts, are parked with
//! their reason until someone fixes the cause and retries them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::remote::RetryPolicy;

/// How a job's failure should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt later (the remote was down, throttled, timed out).
    Retryable(String),
    /// Will fail the same way until someone changes something (bad data, a missing mapping);
    /// parked at once with its reason.
    Permanent(String),
}

impl JobFailure {
    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retryable(message) | JobFailure::Permanent(message) => message,
        }
    }
}

/// How the queue retries and how long a claimed job is reserved for its worker.
#[derive(Debug, Clone)]
pub struct QueuePolicy {
    pub retry: RetryPolicy,
    /// A claimed job is its worker's for this long; a running worker renews it, so only a crashed
    /// worker's job becomes claimable again when it runs out.
    pub lease: Duration,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        QueuePolicy {
            retry: RetryPolicy {
                max_attempts: 5,
                base_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(3600),
            },
            lease: Duration::from_secs(300),
        }
    }
}

impl QueuePolicy {
    /// When a job whose `attempts`-th attempt failed runs again; `None` parks it.
    pub fn retry_at(&self, attempts: u32, failure: &JobFailure) -> Option<DateTime<Utc>> {
        match failure {
            JobFailure::Retryable(_) if attempts < self.retry.max_attempts => {
                let delay = self.retry.delay_after(attempts.max(1), None);
                Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_failures_back_off_until_the_attempts_run_out_and_permanent_ones_park() {
        let policy = QueuePolicy::default();
        let transient = JobFailure::Retryable("502".into());
        let first = policy.retry_at(1, &transient).expect("retried");
        assert!(first <= Utc::now() + chrono::Duration::seconds(31));
        assert!(policy.retry_at(4, &transient).is_some());
        assert_eq!(policy.retry_at(5, &transient), None);
        assert_eq!(
            policy.retry_at(1, &JobFailure::Permanent("no account".into())),
            None
        );
    }
}
