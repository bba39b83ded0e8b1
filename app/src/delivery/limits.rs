//! Per-recipient-domain send rates: mailbox providers throttle (421/451) a sender that
//! opens too many messages at once for their users, so each recipient domain gets its own
//! token bucket (governor's GCRA limiter) and a send waits for its domain's turn.
//!
//! Configured as `gmail.com=20,outlook.com=10,*=50`: messages per second per domain, `*`
//! for every other domain (absent: no limit for them).

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct DomainLimits {
    /// Messages per second by domain (lower-case).
    rates: HashMap<String, NonZeroU32>,
    /// For any other domain.
    default: Option<NonZeroU32>,
    buckets: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
}

impl std::fmt::Debug for DomainLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainLimits").field("rates", &self.rates).field("default", &self.default).finish()
    }
}

impl DomainLimits {
    /// No limits.
    pub fn none() -> DomainLimits {
        DomainLimits::default()
    }

    /// Reads `domain=rate,…`; the error names the entry that is wrong.
    pub fn parse(spec: &str) -> Result<DomainLimits, String> {
        let mut limits = DomainLimits::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (domain, rate) = entry.split_once('=').ok_or_else(|| format!("\"{entry}\": expected domain=messages per second"))?;
            let rate: u32 =
                rate.trim().parse().map_err(|_| format!("\"{entry}\": the rate must be a whole number of messages per second"))?;
            let rate = NonZeroU32::new(rate).ok_or_else(|| format!("\"{entry}\": the rate must be at least 1 message per second"))?;
            match domain.trim().to_ascii_lowercase().as_str() {
                "*" => limits.default = Some(rate),
                d if d.contains('.') && !d.contains('@') => {
                    limits.rates.insert(d.to_string(), rate);
                }
                d => return Err(format!("\"{entry}\": \"{d}\" is not a domain")),
            }
        }
        Ok(limits)
    }

    /// The rate that applies to `domain`, if any.
    pub fn rate_of(&self, domain: &str) -> Option<NonZeroU32> {
        self.rates.get(domain).copied().or(self.default)
    }

    /// Waits until a message to `address` may go. A bucket per domain holds one second's
    /// worth of messages, so a burst never exceeds the rate in any one-second window.
    pub async fn wait_turn(&self, address: &str) {
        let domain = address.rsplit_once('@').map(|(_, d)| d.trim().to_ascii_lowercase()).unwrap_or_default();
        let Some(rate) = self.rate_of(&domain) else { return };
        let bucket = {
            let Ok(mut buckets) = self.buckets.lock() else { return };
            buckets.entry(domain).or_insert_with(|| Arc::new(RateLimiter::direct(Quota::per_second(rate)))).clone()
        };
        bucket.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_per_domain_with_a_default() {
        let limits = DomainLimits::parse("Gmail.com=20, outlook.com=10,*=50").unwrap();
        assert_eq!(limits.rate_of("gmail.com").map(|r| r.get()), Some(20));
        assert_eq!(limits.rate_of("outlook.com").map(|r| r.get()), Some(10));
        assert_eq!(limits.rate_of("web.de").map(|r| r.get()), Some(50));
        assert_eq!(DomainLimits::parse("").unwrap().rate_of("gmail.com"), None);
        assert!(DomainLimits::parse("gmail.com").unwrap_err().contains("expected domain=messages per second"));
        assert!(DomainLimits::parse("gmail.com=0").unwrap_err().contains("at least 1"));
        assert!(DomainLimits::parse("gmail.com=fast").unwrap_err().contains("whole number"));
        assert!(DomainLimits::parse("nobody=5").unwrap_err().contains("not a domain"));
    }
}
