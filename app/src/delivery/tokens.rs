//! Signed tokens for the links in sent mail: the open pixel, tracked clicks and the
//! unsubscribe link. A token names the message (and, for a click, the link's target) and
//! carries an HMAC-SHA256 tag under a key derived from the server's secret and the
//! message's client, so a token cannot be forged, altered (a changed target fails the tag,
//! and a forged click never redirects anywhere) or replayed against another client's path.
//! Opens and clicks expire after 180 days, unsubscribe links after a year. An expired
//! unsubscribe link is still honoured, once the buyer types the address the message went
//! to (`server::tracking`): a token copied out of an old mail, a log or a forward then
//! unsubscribes nobody by itself, and a buyer with an old mail still gets off the list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const CLICK_LIFETIME_MS: i64 = 180 * 86_400_000;
pub const UNSUBSCRIBE_LIFETIME_MS: i64 = 365 * 86_400_000;

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    #[serde(rename = "o")]
    Open,
    #[serde(rename = "c")]
    Click,
    #[serde(rename = "u")]
    Unsubscribe,
}

/// The signed content of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "p")]
    pub purpose: Purpose,
    /// The message.
    #[serde(rename = "m")]
    pub message_id: i64,
    /// Issued at (ms).
    #[serde(rename = "t")]
    pub issued_at: i64,
    /// A click's target URL.
    #[serde(rename = "u", default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

fn key(secret: &str, client_id: i64) -> Hmac<Sha256> {
    let mut derive = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    derive.update(format!("starling tracking tokens, client {client_id}").as_bytes());
    let derived = derive.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&derived).expect("HMAC takes a key of any length")
}

/// `<claims>.<tag>`, both base64url.
pub fn sign(secret: &str, client_id: i64, claims: &Claims) -> String {
    sign_body(secret, client_id, &URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default()))
}

/// `<body>.<tag>` for an already encoded body (the fuzz tests sign hostile claims with it).
pub fn sign_body(secret: &str, client_id: i64, body: &str) -> String {
    let mut mac = key(secret, client_id);
    mac.update(body.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16]);
    format!("{body}.{tag}")
}

/// A genuine token of this client and purpose, and whether it is past its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    Valid(Claims),
    Expired(Claims),
}

/// The claims of a genuine, unexpired token of this client and purpose; `None` for
/// anything else (forged, altered, another client's, another purpose, expired).
pub fn verify(secret: &str, client_id: i64, token: &str, purpose: Purpose, now: i64) -> Option<Claims> {
    match check(secret, client_id, token, purpose, now)? {
        Checked::Valid(claims) => Some(claims),
        Checked::Expired(_) => None,
    }
}

/// Like [`verify`], but tells a genuine expired token from one that is not genuine.
pub fn check(secret: &str, client_id: i64, token: &str, purpose: Purpose, now: i64) -> Option<Checked> {
    let (body, tag) = token.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let mut mac = key(secret, client_id);
    mac.update(body.as_bytes());
    let full = mac.finalize().into_bytes();
    // Constant-time comparison of the truncated tag.
    if tag.len() != 16 || !subtle_eq(&full[..16], &tag) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    if claims.purpose != purpose {
        return None;
    }
    let lifetime = if purpose == Purpose::Unsubscribe { UNSUBSCRIBE_LIFETIME_MS } else { CLICK_LIFETIME_MS };
    Some(if now - claims.issued_at > lifetime { Checked::Expired(claims) } else { Checked::Valid(claims) })
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret";

    fn click(url: &str) -> Claims {
        Claims { purpose: Purpose::Click, message_id: 42, issued_at: 1_000, url: url.into() }
    }

    #[test]
    fn a_genuine_token_verifies_and_anything_else_does_not() {
        let token = sign(SECRET, 1, &click("https://shop.example/p/1"));
        assert_eq!(verify(SECRET, 1, &token, Purpose::Click, 2_000), Some(click("https://shop.example/p/1")));
        // Another client's path, another purpose, another key.
        assert_eq!(verify(SECRET, 2, &token, Purpose::Click, 2_000), None);
        assert_eq!(verify(SECRET, 1, &token, Purpose::Unsubscribe, 2_000), None);
        assert_eq!(verify("other", 1, &token, Purpose::Click, 2_000), None);
        // An altered target: the body changes, the tag no longer fits.
        let (_, tag) = token.split_once('.').unwrap();
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&click("https://evil.example/")).unwrap());
        assert_eq!(verify(SECRET, 1, &format!("{forged_body}.{tag}"), Purpose::Click, 2_000), None);
        for junk in ["", ".", "abc", "abc.def", &token[..token.len() - 1]] {
            assert_eq!(verify(SECRET, 1, junk, Purpose::Click, 2_000), None, "{junk:?}");
        }
    }

    #[test]
    fn clicks_expire_after_half_a_year_and_unsubscribes_after_a_year() {
        let token = sign(SECRET, 1, &click("https://shop.example/"));
        assert!(verify(SECRET, 1, &token, Purpose::Click, 1_000 + CLICK_LIFETIME_MS).is_some());
        assert!(verify(SECRET, 1, &token, Purpose::Click, 1_001 + CLICK_LIFETIME_MS).is_none());
        let unsubscribe = Claims { purpose: Purpose::Unsubscribe, message_id: 42, issued_at: 1_000, url: String::new() };
        let token = sign(SECRET, 1, &unsubscribe);
        assert!(verify(SECRET, 1, &token, Purpose::Unsubscribe, 1_000 + UNSUBSCRIBE_LIFETIME_MS).is_some());
        assert!(verify(SECRET, 1, &token, Purpose::Unsubscribe, 1_001 + UNSUBSCRIBE_LIFETIME_MS).is_none());
        // Expired, but genuine: told apart from a forgery.
        assert_eq!(check(SECRET, 1, &token, Purpose::Unsubscribe, 1_001 + UNSUBSCRIBE_LIFETIME_MS), Some(Checked::Expired(unsubscribe)));
        assert_eq!(check("other", 1, &token, Purpose::Unsubscribe, 1_001 + UNSUBSCRIBE_LIFETIME_MS), None);
    }
}
