//! What both API clients share: one retry policy and one per-connection
//! concurrency limit. The clients decide *whether* an error is retryable
//! (`is_retryable()` on their error types); this module decides *when*.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How a client retries an idempotent call: exponential backoff with full jitter,
/// capped, and a server's `Retry-After` taking precedence when it asks for longer.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each attempt after it.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: for tests that count calls, and for calls that must not repeat.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` (attempts count from 1).
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let jittered = rand::thread_rng().gen_range(Duration::ZERO..=ceiling);
        match retry_after {
            Some(asked) => asked.min(self.max_delay).max(jittered),
            None => jittered,
        }
    }
}

/// Parses a `Retry-After` header given in seconds (the HTTP-date form is rare
/// from these hosts and is treated as absent).
pub fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Bounds the calls in flight to one remote, per connection, and counts the
/// calls made (every attempt takes a permit) and the time permits were held,
/// for `bench` and metrics.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
    calls: Arc<AtomicU64>,
    held_nanos: Arc<AtomicU64>,
}

/// A call's place in the limit; gives it back, and counts how long it was held, when dropped.
#[derive(Debug)]
pub struct CallPermit {
    _permit: OwnedSemaphorePermit,
    since: Instant,
    held_nanos: Arc<AtomicU64>,
}

impl Drop for CallPermit {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.held_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl ConcurrencyLimit {
    pub fn new(max_in_flight: usize) -> Self {
        ConcurrencyLimit {
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            calls: Arc::new(AtomicU64::new(0)),
            held_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    pub async fn acquire(&self) -> CallPermit {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        CallPermit {
            _permit: permit,
            since: Instant::now(),
            held_nanos: self.held_nanos.clone(),
        }
    }

    /// The time permits were held so far, summed over calls: from sending
    /// the request to having read the answer.
    pub fn time_in_calls(&self) -> Duration {
        Duration::from_nanos(self.held_nanos.load(Ordering::Relaxed))
    }

    /// Calls started through this limit so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// What one kind of call (say `insert Sales Order` or `list Item`) cost so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CallKindStats {
    /// Attempts, retries included.
    pub calls: u64,
    /// Attempts that ended in an error (a refused insert, a deadlock victim, a timeout…).
    pub failed: u64,
    /// Time from sending the request to having read the answer, summed over attempts.
    pub seconds: f64,
}

/// Counts calls per kind, for `bench` to say where a run's calls and time went. Shared by a
/// client's clones; one short lock per call, which is nothing next to an HTTP round trip.
#[derive(Debug, Clone, Default)]
pub struct CallTally {
    kinds: Arc<std::sync::Mutex<std::collections::BTreeMap<String, CallKindStats>>>,
}

impl CallTally {
    pub fn record(&self, kind: &str, took: Duration, ok: bool) {
        let mut kinds = self
            .kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stats = match kinds.get_mut(kind) {
            Some(stats) => stats,
            None => kinds.entry(kind.to_string()).or_default(),
        };
        stats.calls += 1;
        stats.failed += u64::from(!ok);
        stats.seconds += took.as_secs_f64();
    }

    /// Every kind seen so far, by name.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, CallKindStats> {
        self.kinds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// What was recorded after `before` (a snapshot taken earlier), kinds without calls left out.
    pub fn since(
        &self,
        before: &std::collections::BTreeMap<String, CallKindStats>,
    ) -> std::collections::BTreeMap<String, CallKindStats> {
        self.snapshot()
            .into_iter()
            .filter_map(|(kind, now)| {
                let earlier = before.get(&kind).copied().unwrap_or_default();
                let calls = now.calls - earlier.calls.min(now.calls);
                (calls > 0).then(|| {
                    let stats = CallKindStats {
                        calls,
                        failed: now.failed - earlier.failed.min(now.failed),
                        seconds: (now.seconds - earlier.seconds).max(0.0),
                    };
                    (kind, stats)
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_calls_and_the_time_permits_are_held() {
        let limit = ConcurrencyLimit::new(2);
        for _ in 0..3 {
            let _permit = limit.acquire().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(limit.calls(), 3);
        assert!(limit.time_in_calls() >= Duration::from_millis(15));
        assert!(limit.time_in_calls() < Duration::from_secs(5));
    }

    #[test]
    fn the_tally_counts_each_kind_and_what_came_after_a_snapshot() {
        let tally = CallTally::default();
        tally.record("insert Sales Order", Duration::from_millis(100), true);
        let before = tally.snapshot();
        tally.record("insert Sales Order", Duration::from_millis(50), false);
        tally.record("list Item", Duration::from_millis(10), true);
        let since = tally.since(&before);
        assert_eq!(since["insert Sales Order"].calls, 1);
        assert_eq!(since["insert Sales Order"].failed, 1);
        assert!((since["insert Sales Order"].seconds - 0.05).abs() < 1e-9);
        assert_eq!(since["list Item"].calls, 1);
        assert_eq!(tally.snapshot()["insert Sales Order"].calls, 2);
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            assert!(policy.delay_after(1, None) <= Duration::from_millis(100));
            assert!(policy.delay_after(3, None) <= Duration::from_millis(400));
            assert!(policy.delay_after(9, None) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_wins_when_longer_but_is_capped() {
        let policy = RetryPolicy::default();
        let asked = Some(Duration::from_secs(5));
        assert!(policy.delay_after(1, asked) >= Duration::from_secs(5));
        let huge = Some(Duration::from_secs(3600));
        assert_eq!(policy.delay_after(1, huge), policy.max_delay);
    }

    #[test]
    fn parses_retry_after_seconds() {
        let value = reqwest::header::HeaderValue::from_static(" 7 ");
        assert_eq!(
            parse_retry_after(Some(&value)),
            Some(Duration::from_secs(7))
        );
        let date = reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(Some(&date)), None);
    }
}
