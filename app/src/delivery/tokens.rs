//! Signed tokens for the links in sent mail: the open pixel, tracked clicks and the
//! unsubscribe link. A token names the message (and, for a click, the link's target) and
//! carries an HMAC-SHA256 tag under a key derived from the server's secret and the
//! message's client, so a token cannot be forged, altered (a changed target fails the tag,
//! and a forged click never redirects anywhere) or replayed against another client's path.
//! Opens and clicks expire after 180 days; unsubscribe links never do (a buyer may use an
//! old mail, and an unsubscribe must always work).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const CLICK_LIFETIME_MS: i64 = 180 * 86_400_000;

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
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mut mac = key(secret, client_id);
    mac.update(body.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16]);
    format!("{body}.{tag}")
}

/// The claims of a genuine, unexpired token of this client and purpose; `None` for
/// anything else (forged, altered, another client's, another purpose, expired).
pub fn verify(secret: &str, client_id: i64, token: &str, purpose: Purpose, now: i64) -> Option<Claims> {
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
    if purpose != Purpose::Unsubscribe && now - claims.issued_at > CLICK_LIFETIME_MS {
        return None;
    }
    Some(claims)
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
    fn clicks_expire_and_unsubscribes_do_not() {
        let token = sign(SECRET, 1, &click("https://shop.example/"));
        assert!(verify(SECRET, 1, &token, Purpose::Click, 1_000 + CLICK_LIFETIME_MS).is_some());
        assert!(verify(SECRET, 1, &token, Purpose::Click, 1_001 + CLICK_LIFETIME_MS).is_none());
        let unsubscribe = Claims { purpose: Purpose::Unsubscribe, message_id: 42, issued_at: 1_000, url: String::new() };
        let token = sign(SECRET, 1, &unsubscribe);
        assert!(verify(SECRET, 1, &token, Purpose::Unsubscribe, 1_000 + 10 * CLICK_LIFETIME_MS).is_some());
    }
}
