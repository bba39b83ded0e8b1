//! Password guessing, throttled.
//!
//! Every password check first reserves an attempt against three budgets per 15 minutes,
//! and is refused without checking when one is spent:
//! - one account from one network address: 5 (a guesser locks only their own address out,
//!   never the account's owner signing in from elsewhere),
//! - one account from anywhere: 50 (guessing spread over many addresses),
//! - one network address over all accounts: 20 (password spraying: one common password
//!   tried against many accounts).
//!
//! The reservation is one transaction under a lock (a process-wide mutex, and on
//! PostgreSQL an advisory lock shared by every server process), so parallel guesses are
//! counted before any of them is checked. A check that succeeds takes back its own
//! reservations and the earlier failures of its account at its address; refused attempts
//! leave nothing behind, and rows older than the window are deleted as new ones come.
//! The attempts themselves are kept by `accounts::store::throttle`.

use crate::accounts::store::throttle as attempts;
use crate::db::{now_millis, Db};
use crate::error::AppError;

pub const WINDOW_MILLIS: i64 = 15 * 60 * 1000;
/// Failures of one account from one address.
pub const PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failures of one account from every address.
pub const PER_ACCOUNT: i64 = 50;
/// Failures from one address over every account.
pub const PER_ADDRESS: i64 = 20;

/// What is being guessed: a sign-in (by e-mail) or a signed-in user's current password.
#[derive(Clone, Copy, Debug)]
pub enum Secret<'a> {
    SignIn(&'a str),
    CurrentPassword(i64),
}

/// Reserved attempts; give them back with [`Attempt::succeeded`], keep them as failures
/// by dropping the value.
#[must_use]
pub struct Attempt {
    ids: Vec<i64>,
    pair: String,
}

/// One budget: the key its attempts are stored under, its size, and what the refusal says.
struct Budget {
    key: String,
    max: i64,
    refusal: &'static str,
}

fn budgets(secret: Secret<'_>, address: &str) -> Vec<Budget> {
    let (account, refusal) = match secret {
        Secret::SignIn(email) => (format!("sign-in:{}", email.to_lowercase()), "Too many failed sign-ins for this account."),
        Secret::CurrentPassword(user) => (format!("password:{user}"), "Too many wrong current passwords."),
    };
    vec![
        Budget { key: format!("{account}|{address}"), max: PER_ACCOUNT_AND_ADDRESS, refusal },
        Budget { key: account, max: PER_ACCOUNT, refusal },
        Budget { key: format!("address:{address}"), max: PER_ADDRESS, refusal: "Too many failed sign-ins from your network." },
    ]
}

/// Serialises reservations within this process (SQLite's deferred transactions would
/// otherwise fail one of two concurrent writers instead of waiting).
static RESERVING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reserves one attempt at `secret` from `address`, or refuses (429) naming when to retry.
pub async fn reserve(db: &Db, secret: Secret<'_>, address: &str) -> Result<Attempt, AppError> {
    let now = now_millis();
    let budgets = budgets(secret, address);
    let _serial = RESERVING.lock().await;
    let mut ledger = attempts::open(db).await?;
    ledger.forget_until(now - WINDOW_MILLIS).await?;
    for budget in &budgets {
        let tally = ledger.tally(&budget.key, now - WINDOW_MILLIS).await?;
        if tally.count >= budget.max {
            ledger.abandon().await?;
            let minutes = ((tally.oldest.unwrap_or(now) + WINDOW_MILLIS - now) / 60_000).max(1);
            let plural = if minutes == 1 { "" } else { "s" };
            return Err(AppError::TooManyAttempts(format!("{} Try again in {minutes} minute{plural}.", budget.refusal)));
        }
    }
    let mut ids = Vec::with_capacity(budgets.len());
    for budget in &budgets {
        ids.push(ledger.add(&budget.key, now).await?);
    }
    ledger.commit().await?;
    Ok(Attempt { ids, pair: budgets.into_iter().next().map(|b| b.key).unwrap_or_default() })
}

impl Attempt {
    /// The secret was right: this attempt does not count, nor do the account's earlier
    /// failures from this address (other addresses' failures and the address's failures
    /// on other accounts still do).
    pub async fn succeeded(self, db: &Db) -> Result<(), AppError> {
        attempts::delete(db, &self.ids).await?;
        attempts::delete_key(db, &self.pair).await
    }
}

/// The network address attempts are counted against: the connection's peer, or, when the
/// peer is one of the configured reverse proxies, the last address its `X-Forwarded-For`
/// names that is not itself a proxy. IPv6 addresses count by their /64 (one subscriber's
/// whole prefix), so rotating addresses within it gains nothing.
pub fn source_address(peer: Option<std::net::IpAddr>, headers: &http::HeaderMap, trusted_proxies: &[std::net::IpAddr]) -> String {
    use std::net::IpAddr;
    let mut address = peer;
    if let Some(p) = peer {
        if trusted_proxies.contains(&p) {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .collect::<Vec<_>>();
            if let Some(client) = forwarded.iter().rev().find(|a| !trusted_proxies.contains(a)) {
                address = Some(*client);
            }
        }
    }
    match address {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_peer_unless_a_trusted_proxy_forwards() {
        let proxy: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.7, 203.0.113.9".parse().unwrap());
        assert_eq!(source_address(Some(proxy), &headers, &[]), "127.0.0.1", "no proxy configured: the header is ignored");
        assert_eq!(source_address(Some(proxy), &headers, &[proxy]), "203.0.113.9", "the proxy's own view of the client");
        let other: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(source_address(Some(other), &headers, &[proxy]), "192.0.2.1", "only a trusted proxy is believed");
        let v6: std::net::IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(source_address(Some(v6), &http::HeaderMap::new(), &[]), "2001:db8:1:2::/64");
        let mapped: std::net::IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(source_address(Some(mapped), &http::HeaderMap::new(), &[]), "192.0.2.1");
        assert_eq!(source_address(None, &headers, &[proxy]), "unknown");
    }
}
