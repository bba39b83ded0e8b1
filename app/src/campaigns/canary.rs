//! Canary rollouts: a share of the audience goes first; the campaign holds, and halts
//! itself when the canary's bounce, complaint or unsubscribe rate passes its threshold
//! (defaults 5%, 0.1%, 2%). Evaluated from message events whenever they change.
//!
//! Complaints count buyers, not reports, and at least [`MIN_COMPLAINERS`] different buyers
//! must have complained before the complaint rate can halt a campaign: a complaint report
//! names its message by a tag the buyer received, so one buyer can post one about their
//! own message, and one person alone must not be able to stop a campaign.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Bounced / sent.
    pub bounce: f64,
    /// Complaints / delivered.
    pub complaint: f64,
    /// Unsubscribes / delivered.
    pub unsubscribe: f64,
    /// Rates are judged once this many canary messages were sent.
    pub min_sent: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { bounce: 0.05, complaint: 0.001, unsubscribe: 0.02, min_sent: 20 }
    }
}

/// A campaign's canary: the share of the audience that goes first, the thresholds that
/// halt it, and how long the canary is watched after its last message before the rest go.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanaryRule {
    pub share: f64,
    pub thresholds: Thresholds,
    pub hold_hours: u32,
}

impl Default for CanaryRule {
    fn default() -> Self {
        CanaryRule { share: 0.05, thresholds: Thresholds::default(), hold_hours: 24 }
    }
}

/// A campaign's message counts (the canary's, while it holds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    /// Buyers with at least one complaint (not reports, nor messages).
    pub complained: u64,
    pub unsubscribed: u64,
}

/// Which threshold was passed, with the numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// `bounce`, `complaint` or `unsubscribe`.
    pub metric: String,
    pub count: u64,
    /// The denominator (sent for bounces, delivered otherwise).
    pub base: u64,
    pub rate: f64,
    pub threshold: f64,
}

impl Breach {
    /// "bounce rate 6.00% (3 of 50 sent) passed the 5.00% threshold"
    pub fn explain(&self) -> String {
        let of = if self.metric == "bounce" { "sent" } else { "delivered" };
        format!(
            "{} rate {:.2}% ({} of {} {of}) passed the {:.2}% threshold",
            self.metric,
            self.rate * 100.0,
            self.count,
            self.base,
            self.threshold * 100.0
        )
    }
}

/// The fewest complaining buyers that can halt a campaign on its complaint rate.
pub const MIN_COMPLAINERS: u64 = 2;

/// The first threshold the counts pass (bounce, then complaint, then unsubscribe).
pub fn breach(counts: Counts, thresholds: Thresholds) -> Option<Breach> {
    if counts.sent < thresholds.min_sent {
        return None;
    }
    let checks = [
        ("bounce", counts.bounced, counts.sent, thresholds.bounce),
        ("complaint", counts.complained, counts.delivered, thresholds.complaint),
        ("unsubscribe", counts.unsubscribed, counts.delivered, thresholds.unsubscribe),
    ];
    checks.into_iter().find_map(|(metric, count, base, threshold)| {
        if metric == "complaint" && count < MIN_COMPLAINERS {
            return None;
        }
        let rate = if base == 0 { 0.0 } else { count as f64 / base as f64 };
        (rate > threshold).then(|| Breach { metric: metric.into(), count, base, rate, threshold })
    })
}

/// The number of the first `audience` orders that form the canary (at least one).
pub fn canary_size(audience: u64, share: f64) -> u64 {
    if audience == 0 {
        return 0;
    }
    ((audience as f64 * share).ceil() as u64).clamp(1, audience)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halts_just_past_each_threshold_and_not_at_it() {
        let t = Thresholds::default();
        let base = Counts { sent: 100, delivered: 100, ..Counts::default() };
        assert_eq!(breach(Counts { bounced: 5, ..base }, t), None, "5 of 100 is the threshold, not past it");
        let b = breach(Counts { bounced: 6, delivered: 94, ..base }, t).expect("6% bounces halt");
        assert_eq!((b.metric.as_str(), b.count, b.base), ("bounce", 6, 100));
        assert_eq!(b.explain(), "bounce rate 6.00% (6 of 100 sent) passed the 5.00% threshold");
        let c = breach(Counts { sent: 2000, delivered: 2000, complained: 3, ..base }, t).expect("0.15% complaints halt");
        assert_eq!(c.metric, "complaint");
        assert_eq!(breach(Counts { sent: 2000, delivered: 2000, complained: 2, ..base }, t), None);
        let u = breach(Counts { unsubscribed: 3, ..base }, t).expect("3% unsubscribes halt");
        assert_eq!(u.metric, "unsubscribe");
        assert_eq!(breach(Counts { unsubscribed: 2, ..base }, t), None);
    }

    #[test]
    fn one_complaining_buyer_alone_never_halts() {
        let t = Thresholds::default();
        let canary = Counts { sent: 500, delivered: 500, ..Counts::default() };
        assert_eq!(breach(Counts { complained: 1, ..canary }, t), None, "0.2%, but one buyer");
        let two = breach(Counts { complained: 2, ..canary }, t).expect("two buyers at 0.4% halt");
        assert_eq!((two.metric.as_str(), two.count), ("complaint", 2));
    }

    #[test]
    fn a_tiny_sample_is_not_judged() {
        let t = Thresholds::default();
        assert_eq!(breach(Counts { sent: 3, bounced: 1, ..Counts::default() }, t), None);
    }

    #[test]
    fn canary_is_a_share_rounded_up() {
        assert_eq!(canary_size(1000, 0.05), 50);
        assert_eq!(canary_size(10, 0.05), 1);
        assert_eq!(canary_size(0, 0.05), 0);
        assert_eq!(canary_size(7, 1.0), 7);
    }
}
