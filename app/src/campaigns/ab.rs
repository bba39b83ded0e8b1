//! A/B tests: deterministic assignment of customers to variants, and a winner decision
//! that stays valid however often people look.
//!
//! **Assignment.** SHA-256 of `"<campaign id>:<customer id>"`; its first 8 bytes, read as
//! an integer, are scaled onto the sum of the weights. The same customer always gets the
//! same variant of a campaign, across restarts and processes, and shares follow the weights.
//!
//! **Decision: mixture sequential probability ratio test (mSPRT).** For two variants with
//! conversion counts, the difference of rates θ = p₁ − p₀ is estimated with variance
//! V = p̄(1 − p̄)(1/n₀ + 1/n₁) (pooled rate p̄), and the likelihood ratio of "θ ≠ 0" against
//! "θ = 0", mixed over a normal prior θ ~ N(0, τ²), is
//!
//! Λ = √(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²))).
//!
//! Under no true difference Λ is a (approximately) a non-negative martingale with mean 1,
//! so by Ville's inequality P(Λ ever reaches 1/α) ≤ α: checking after every message, every
//! day, or whenever someone opens the page does not inflate the false-positive rate (Johari,
//! Pekelis & Walsh, "Always valid inference", 2017/2022). With k variants every pair is
//! tested at α / (k(k − 1)/2) (Bonferroni); a variant wins when it beats each other variant.
//! The decision is recorded the first time it is reached, so it never flips back.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Default significance level: at most a 5% chance of declaring a winner when the variants
/// do not differ.
pub const ALPHA: f64 = 0.05;
/// Default mixing variance τ²: effects of about ±2 percentage points are expected.
pub const TAU2: f64 = 0.0004;
/// No decision before every variant has this many messages.
pub const MIN_PER_ARM: u64 = 100;

/// The variant (index into `weights`) a customer gets in a campaign.
pub fn assign(campaign_id: i64, customer_id: i64, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return 0;
    }
    let point = ((u128::from(hash64(&format!("{campaign_id}:{customer_id}"))) * u128::from(total)) >> 64) as u64;
    let mut upto = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        upto += u64::from(w);
        if point < upto {
            return i;
        }
    }
    weights.len() - 1
}

/// Whether a customer is in a campaign's canary share: a hash of its own, independent of
/// the A/B variant, so the canary is a fair sample of every variant.
pub fn in_canary(campaign_id: i64, customer_id: i64, share: f64) -> bool {
    (hash64(&format!("canary:{campaign_id}:{customer_id}")) as f64 / 18_446_744_073_709_551_616.0) < share
}

/// The first 8 bytes of the SHA-256 of `seed`, as a big-endian integer.
fn hash64(seed: &str) -> u64 {
    let digest = Sha256::digest(seed.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// One variant's counts for the target metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arm {
    /// Messages delivered (the denominator).
    pub trials: u64,
    /// Of those, how many clicked (or reviewed, per the target metric).
    pub successes: u64,
}

impl Arm {
    pub fn rate(self) -> f64 {
        if self.trials == 0 {
            0.0
        } else {
            self.successes as f64 / self.trials as f64
        }
    }

    /// Wilson score interval (95%) of the rate, for display.
    pub fn interval(self) -> (f64, f64) {
        if self.trials == 0 {
            return (0.0, 1.0);
        }
        let (n, p, z) = (self.trials as f64, self.rate(), 1.959_963_985);
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
        ((centre - half).max(0.0), (centre + half).min(1.0))
    }
}

/// The mixture likelihood ratio Λ of "b's rate differs from a's" (see the module comment);
/// 1 when there is not yet anything to compare.
pub fn likelihood_ratio(a: Arm, b: Arm, tau2: f64) -> f64 {
    let Some((diff, v)) = difference(a, b) else { return 1.0 };
    (v / (v + tau2)).sqrt() * (diff * diff * tau2 / (2.0 * v * (v + tau2))).exp()
}

fn difference(a: Arm, b: Arm) -> Option<(f64, f64)> {
    if a.trials == 0 || b.trials == 0 {
        return None;
    }
    let pooled = (a.successes + b.successes) as f64 / (a.trials + b.trials) as f64;
    let v = pooled * (1.0 - pooled) * (1.0 / a.trials as f64 + 1.0 / b.trials as f64);
    (v > 0.0).then(|| (b.rate() - a.rate(), v))
}

/// The always-valid (1 − alpha) confidence sequence for b's rate minus a's: the θ for
/// which Λ(θ) < 1/alpha.
pub fn difference_interval(a: Arm, b: Arm, tau2: f64, alpha: f64) -> Option<(f64, f64)> {
    let (diff, v) = difference(a, b)?;
    let radius = ((2.0 * v * (v + tau2) / tau2) * (((v + tau2) / v).sqrt() / alpha).ln()).sqrt();
    Some((diff - radius, diff + radius))
}

/// Where a test stands at one look.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Verdict {
    /// Too few messages in some variant to decide anything.
    Collecting,
    /// No variant beats every other one yet.
    Undecided,
    /// This variant beats every other one.
    Winner(usize),
}

/// The decision at one look, for any number of variants (2-4).
pub fn verdict(arms: &[Arm], tau2: f64, alpha: f64) -> Verdict {
    if arms.len() < 2 || arms.iter().any(|a| a.trials < MIN_PER_ARM) {
        return Verdict::Collecting;
    }
    let pairs = (arms.len() * (arms.len() - 1) / 2) as f64;
    let threshold = pairs / alpha;
    let beats = |i: usize, j: usize| arms[i].rate() > arms[j].rate() && likelihood_ratio(arms[j], arms[i], tau2) >= threshold;
    (0..arms.len()).find(|&i| (0..arms.len()).filter(|&j| j != i).all(|j| beats(i, j))).map_or(Verdict::Undecided, Verdict::Winner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for the simulations (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn assignment_is_stable_and_depends_on_campaign_and_customer() {
        let weights = [50, 50];
        for customer in 0..1000 {
            assert_eq!(assign(7, customer, &weights), assign(7, customer, &weights));
        }
        let differs = (0..1000).filter(|&c| assign(7, c, &weights) != assign(8, c, &weights)).count();
        assert!(differs > 350 && differs < 650, "{differs} of 1000 customers change variant between campaigns");
        assert_eq!(assign(1, 1, &[0, 10]), 1);
        assert_eq!(assign(1, 1, &[10, 0]), 0);
    }

    /// Chi-square goodness of fit of 100,000 synthetic customers to the weights.
    #[test]
    fn assignment_follows_the_weights_chi_square() {
        for weights in [vec![50u32, 50], vec![70, 20, 10], vec![25, 25, 25, 25], vec![1, 2, 3, 4]] {
            let n = 100_000u64;
            let mut counts = vec![0u64; weights.len()];
            for customer in 0..n as i64 {
                counts[assign(42, 1_000_000 + customer, &weights)] += 1;
            }
            let total: u32 = weights.iter().sum();
            let chi2: f64 = counts
                .iter()
                .zip(&weights)
                .map(|(&observed, &w)| {
                    let expected = n as f64 * f64::from(w) / f64::from(total);
                    (observed as f64 - expected).powi(2) / expected
                })
                .sum();
            // 99.9% quantiles of chi-square with 1, 2, 3 degrees of freedom.
            let critical = [10.83, 13.82, 16.27][weights.len() - 2];
            println!("weights {weights:?}: counts {counts:?}, chi2 {chi2:.2} (critical {critical})");
            assert!(chi2 < critical, "weights {weights:?}: counts {counts:?}, chi2 {chi2:.2} >= {critical}");
        }
    }

    /// Simulates tests where both variants convert at the same rate, looking after every
    /// 200 messages per variant (60 looks), and counts how often a winner is declared.
    #[test]
    fn false_positive_rate_under_continuous_monitoring_stays_below_alpha() {
        let runs = 400;
        let mut rng = Rng(2026);
        let mut false_winners = 0;
        let mut naive_false = 0;
        for run in 0..runs {
            let rate = [0.02, 0.05, 0.10, 0.20][run % 4];
            let (mut a, mut b) = (Arm::default(), Arm::default());
            let (mut declared, mut naive) = (false, false);
            for _look in 0..60 {
                for _ in 0..200 {
                    a.trials += 1;
                    b.trials += 1;
                    a.successes += u64::from(rng.next() < rate);
                    b.successes += u64::from(rng.next() < rate);
                }
                declared |= matches!(verdict(&[a, b], TAU2, ALPHA), Verdict::Winner(_));
                // What a fixed-sample z-test checked at every look would do.
                let (diff, v) = difference(a, b).unwrap_or((0.0, 1.0));
                naive |= diff.abs() / v.sqrt() > 1.96;
            }
            false_winners += u32::from(declared);
            naive_false += u32::from(naive);
        }
        let rate = f64::from(false_winners) / runs as f64;
        let naive_rate = f64::from(naive_false) / runs as f64;
        println!("false-positive rate over {runs} A/A tests with 60 looks: mSPRT {rate:.3}, repeated z-test {naive_rate:.3}");
        assert!(rate <= ALPHA, "mSPRT false-positive rate {rate}");
        assert!(naive_rate > rate, "peeking at a z-test should be worse ({naive_rate} vs {rate})");
    }

    #[test]
    fn a_real_difference_is_found() {
        let mut rng = Rng(7);
        let (mut a, mut b) = (Arm::default(), Arm::default());
        let mut found_at = None;
        for look in 0..100 {
            for _ in 0..200 {
                a.trials += 1;
                b.trials += 1;
                a.successes += u64::from(rng.next() < 0.05);
                b.successes += u64::from(rng.next() < 0.08);
            }
            if verdict(&[a, b], TAU2, ALPHA) == Verdict::Winner(1) {
                found_at = Some(look);
                break;
            }
        }
        let look = found_at.expect("a 5% vs 8% click rate difference is detected within 20,000 messages per variant");
        let (low, high) = difference_interval(a, b, TAU2, ALPHA).unwrap();
        assert!(low > 0.0 && high > low, "interval {low}..{high} after {look} looks");
    }

    #[test]
    fn too_few_messages_decide_nothing() {
        let a = Arm { trials: 50, successes: 0 };
        let b = Arm { trials: 50, successes: 40 };
        assert_eq!(verdict(&[a, b], TAU2, ALPHA), Verdict::Collecting);
        let (low, high) = Arm { trials: 100, successes: 10 }.interval();
        assert!(low < 0.1 && high > 0.1 && low > 0.04 && high < 0.18, "{low}..{high}");
    }
}
