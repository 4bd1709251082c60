//! In-process simulators of the two remote systems, used by tests, `demo` and `bench`.
//!
//! Both inject faults drawn from a seeded generator ([`FaultDice`]): the seed is in their
//! options and at `/__sim/faults`, and a test that fails while holding a simulator whose
//! faults were ever on prints it, so the same faults can be met again.

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

/// The seeded generator a simulator draws its faults from.
pub(crate) struct FaultDice {
    seed: u64,
    generator: rand::rngs::StdRng,
    /// Whether any fault could be drawn since the simulator started: a failing test then
    /// prints the seed, even if it turned the faults off before it failed.
    pub ever_faulty: bool,
}

impl FaultDice {
    /// Starts from `seed`, or from a random one.
    pub fn new(seed: Option<u64>) -> FaultDice {
        use rand::SeedableRng;
        let seed = seed.unwrap_or_else(rand::random);
        FaultDice {
            seed,
            generator: rand::rngs::StdRng::seed_from_u64(seed),
            ever_faulty: false,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Starts again from `seed` (the same requests in the same order meet the same faults).
    pub fn restart(&mut self, seed: u64) {
        let ever_faulty = self.ever_faulty;
        *self = FaultDice::new(Some(seed));
        self.ever_faulty = ever_faulty;
    }

    /// True with probability `rate` (clamped to 0..1).
    pub fn chance(&mut self, rate: f64) -> bool {
        use rand::Rng;
        self.generator.gen_bool(rate.clamp(0.0, 1.0))
    }

    /// A number in 0..1.
    pub fn uniform(&mut self) -> f64 {
        use rand::Rng;
        self.generator.gen()
    }

    /// An index in 0..count.
    pub fn index(&mut self, count: usize) -> usize {
        use rand::Rng;
        self.generator.gen_range(0..count.max(1))
    }
}

/// What a test that failed while holding a simulator prints, when its faults were ever on.
pub(crate) fn report_fault_seed(simulator: &str, dice: &FaultDice, replay: &str) {
    if std::thread::panicking() && dice.ever_faulty {
        eprintln!(
            "{simulator} simulator faults were drawn with seed {seed} (replay: {replay} or PUT /__sim/faults {{\"seed\": {seed}}})",
            seed = dice.seed(),
            replay = replay.replace("{seed}", &dice.seed().to_string()),
        );
    }
}
