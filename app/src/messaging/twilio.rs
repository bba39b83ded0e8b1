//! Texts through a provider with Twilio's Programmable Messaging API (Twilio itself, or any
//! provider or sandbox that speaks the same contract): `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic authentication, a form
//! of `To`, `From`, `Body` and `StatusCallback`, and a JSON answer naming the message's
//! `sid`. The provider reports each message's fate to the status callback, and buyers'
//! replies to the inbound webhook, both signed with `X-Twilio-Signature`: base64 of the
//! HMAC-SHA1, under the account's auth token, of the full URL followed by every POST
//! parameter's name and value, sorted by name.

use super::{Accepted, Price, SendFailure, Sms, SmsProvider, StatusReport, TextProvider, TextStatus};
use crate::connectors::http::{json_body, retry_after, Failure};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

/// Twilio's "Attempt to send to unsubscribed recipient": the number replied STOP to this
/// sender, and the provider blocks texts to it.
const UNSUBSCRIBED_RECIPIENT: i64 = 21610;

/// A Twilio-compatible account.
#[derive(Clone, Debug)]
pub struct Twilio {
    /// `https://api.twilio.com`, or a sandbox or test server.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    /// Where the provider posts status reports (Starling's `/webhooks/sms/status`).
    pub status_callback: String,
    pub client: reqwest::Client,
}

impl TextProvider for Twilio {
    fn name(&self) -> &'static str {
        "SMS provider"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<Accepted, SendFailure>> {
        Box::pin(async move {
            let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base_url.trim_end_matches('/'), self.account_sid);
            let form = [
                ("To", sms.to.as_str()),
                ("From", sms.from.as_str()),
                ("Body", sms.body.as_str()),
                ("StatusCallback", self.status_callback.as_str()),
            ];
            let response = self
                .client
                .post(url)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .form(&form)
                .send()
                .await
                .map_err(|e| SendFailure::from(Failure::of_request(&e)))?;
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(Failure::RateLimited(retry_after(response.headers(), Duration::from_secs(1))).into());
            }
            if status.is_server_error() {
                return Err(Failure::server_error(status).into());
            }
            let body = json_body(response).await?;
            if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
                return Err(Failure::Unauthorized(error_words(&body)).into());
            }
            if !status.is_success() {
                let code = body.get("code").and_then(Value::as_i64);
                return Err(SendFailure {
                    failure: Failure::Rejected(error_words(&body)),
                    opted_out: code == Some(UNSUBSCRIBED_RECIPIENT),
                });
            }
            accepted(&body).map_err(SendFailure::from)
        })
    }

    /// `GET …/Messages.json?To=…&From=…&DateSent>=…`: the account's messages to the number,
    /// newest first, a page at a time (`next_page_uri`), up to ten pages.
    fn find<'a>(&'a self, from: &'a str, to: &'a str, body: &'a str, since: i64) -> BoxFuture<'a, Result<Option<Accepted>, Failure>> {
        Box::pin(async move {
            let base = self.base_url.trim_end_matches('/');
            // DateSent filters by day (UTC): the day before covers a try just after midnight.
            let day = chrono::DateTime::from_timestamp_millis(since - 86_400_000).unwrap_or_default().format("%Y-%m-%d").to_string();
            let mut url = format!("{base}/2010-04-01/Accounts/{}/Messages.json", self.account_sid);
            let mut query = vec![("To", to.to_string()), ("From", from.to_string()), ("DateSent>", day), ("PageSize", "100".to_string())];
            for _ in 0..10 {
                let response = self
                    .client
                    .get(&url)
                    .query(&query)
                    .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                    .send()
                    .await
                    .map_err(|e| Failure::of_request(&e))?;
                let page = read(response).await?;
                let messages = page
                    .get("messages")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Failure::Transient("the answer has no messages list (not the JSON the API documents)".into()))?;
                if let Some(found) = messages.iter().find(|m| m.get("body").and_then(Value::as_str) == Some(body)) {
                    return accepted(found).map(Some);
                }
                match page.get("next_page_uri").and_then(Value::as_str).filter(|u| !u.is_empty()) {
                    Some(next) => {
                        url = format!("{base}{next}");
                        query.clear();
                    }
                    None => return Ok(None),
                }
            }
            Ok(None)
        })
    }

    /// `GET …/Messages/{sid}.json`: Twilio prices a message once it is sent (`price` is null
    /// until then).
    fn price<'a>(&'a self, provider_ref: &'a str) -> BoxFuture<'a, Result<Option<Price>, Failure>> {
        Box::pin(async move {
            // Message SIDs are letters and digits: anything else is not one to put in a path.
            if provider_ref.is_empty() || !provider_ref.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Failure::Rejected(format!("\"{provider_ref}\" is not a message SID")));
            }
            let url =
                format!("{}/2010-04-01/Accounts/{}/Messages/{provider_ref}.json", self.base_url.trim_end_matches('/'), self.account_sid);
            let response = self
                .client
                .get(url)
                .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
                .send()
                .await
                .map_err(|e| Failure::of_request(&e))?;
            let body = read(response).await?;
            Ok(price(body.get("price"), body.get("price_unit")))
        })
    }
}

impl SmsProvider for Twilio {
    fn verify(&self, url: &str, params: &[(String, String)], signature: &str) -> bool {
        let Ok(given) = STANDARD.decode(signature.trim()) else { return false };
        mac(self.auth_token.expose_secret(), url, params).verify_slice(&given).is_ok()
    }
}

fn mac(token: &str, url: &str, params: &[(String, String)]) -> Hmac<sha1::Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// A read answer's JSON: a 429 is waited out, a 5xx retried, any other error refused with
/// the provider's words.
async fn read(response: reqwest::Response) -> Result<Value, Failure> {
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::RateLimited(retry_after(response.headers(), Duration::from_secs(1))));
    }
    if status.is_server_error() {
        return Err(Failure::server_error(status));
    }
    let body = json_body(response).await?;
    if !status.is_success() {
        return Err(Failure::Rejected(error_words(&body)));
    }
    Ok(body)
}

/// The `X-Twilio-Signature` of a request to `url` with these POST parameters.
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(token, url, params).finalize().into_bytes())
}

/// The provider's error in words: `21211: The 'To' number +1555 is not a valid phone number.`
fn error_words(body: &Value) -> String {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("no reason given");
    match body.get("code").and_then(Value::as_i64) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_string(),
    }
}

/// A created message: its `sid`, and its parts and price when the answer has them (Twilio
/// prices a message once it is sent; some compatible providers at once).
pub fn accepted(body: &Value) -> Result<Accepted, Failure> {
    let provider_ref = body
        .get("sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Failure::Transient("the answer names no message sid (not the JSON the API documents)".into()))?;
    Ok(Accepted {
        provider_ref: provider_ref.to_string(),
        segments: number(body.get("num_segments")),
        price: price(body.get("price"), body.get("price_unit")),
    })
}

/// A count the API writes as a string ("2") or a number.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Twilio writes what a message cost as a negative decimal string ("-0.00750") with its
/// currency in `price_unit`.
fn price(amount: Option<&Value>, unit: Option<&Value>) -> Option<Price> {
    let text = match amount? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let value: f64 = text.parse().ok().filter(|v: &f64| v.is_finite())?;
    let currency = unit.and_then(Value::as_str).unwrap_or("USD").trim().to_ascii_uppercase();
    Some(Price { micros: (value.abs() * 1_000_000.0).round() as i64, currency })
}

/// A status callback's parameters as a report: the message, its status, the error code of
/// a failure, and the price when the provider sends one.
pub fn status_report(params: &[(String, String)]) -> Option<StatusReport> {
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let provider_ref = get("MessageSid").or(get("SmsSid"))?.to_string();
    let status = TextStatus::parse(get("MessageStatus").or(get("SmsStatus"))?)?;
    let error = get("ErrorCode").filter(|c| !c.is_empty() && *c != "0").map(str::to_string);
    let price = price(get("Price").map(|p| Value::String(p.into())).as_ref(), get("PriceUnit").map(|u| Value::String(u.into())).as_ref());
    Some(StatusReport { provider_ref, status, error, price })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn signatures_follow_twilios_documented_example() {
        // Twilio's documentation: this URL and these parameters, signed with the auth
        // token 12345, give 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(signature("12345", url, &p), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let twilio = Twilio {
            base_url: String::new(),
            account_sid: "AC1".into(),
            auth_token: SecretString::from("12345"),
            status_callback: String::new(),
            client: reqwest::Client::new(),
        };
        assert!(twilio.verify(url, &p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!twilio.verify(url, &p, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        let mut changed = p.clone();
        changed[2].1 = "9999".into();
        assert!(!twilio.verify(url, &changed, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), "a changed parameter");
        assert!(!twilio.verify("https://mycompany.com/other", &p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), "another URL");
        assert!(!twilio.verify(url, &p, "not base64!"));
    }

    #[test]
    fn answers_and_reports_read_as_the_api_writes_them() {
        let body = serde_json::json!({"sid": "SM123", "status": "queued", "num_segments": "2", "price": "-0.00750", "price_unit": "USD"});
        let a = accepted(&body).unwrap();
        assert_eq!((a.provider_ref.as_str(), a.segments), ("SM123", Some(2)));
        assert_eq!(a.price, Some(Price { micros: 7_500, currency: "USD".into() }));
        assert_eq!(accepted(&serde_json::json!({"sid": "SM1", "price": null})).unwrap().price, None);
        assert!(accepted(&serde_json::json!({"status": "queued"})).is_err());
        let r = status_report(&params(&[("MessageSid", "SM123"), ("MessageStatus", "undelivered"), ("ErrorCode", "30003")])).unwrap();
        assert_eq!((r.provider_ref.as_str(), r.status, r.error.as_deref()), ("SM123", TextStatus::Undelivered, Some("30003")));
        assert_eq!(status_report(&params(&[("MessageSid", "SM1"), ("MessageStatus", "exploded")])), None);
    }
}
