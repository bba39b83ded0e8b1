//! How Starling talks to platforms: one HTTP client with timeouts, the server's settings
//! for each platform (endpoints, the app's own keys), and what a failed request means.
//! Every platform module classifies its answers into [`Failure`]; [`retrying`] waits out
//! rate limits and retries what may pass on a second try.

use secrecy::SecretString;
use std::time::Duration;

/// The platform settings of this server. Every base URL can point at a sandbox or a test
/// server. The app keys are needed for OAuth and token refreshes; a custom Shopify app's
/// pasted token needs none.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `https://{shop}`: `{shop}` is replaced by the shop's domain (`x.myshopify.com`).
    pub shopify_base_url: String,
    pub shopify_api_key: String,
    pub shopify_api_secret: Option<SecretString>,
    /// Login with Amazon (`https://api.amazon.com`).
    pub amazon_lwa_url: String,
    /// The SP-API endpoint per region: North America, Europe, Far East.
    pub amazon_endpoints: [String; 3],
    /// Seller Central's consent page base (`https://sellercentral.amazon.com`).
    pub amazon_consent_url: String,
    pub amazon_app_id: String,
    pub amazon_client_id: String,
    pub amazon_client_secret: Option<SecretString>,
    /// eBay's identity service (`https://api.ebay.com`) and APIs (`https://api.ebay.com`).
    pub ebay_identity_url: String,
    pub ebay_api_url: String,
    /// eBay's consent page (`https://auth.ebay.com`).
    pub ebay_auth_url: String,
    pub ebay_client_id: String,
    pub ebay_client_secret: Option<SecretString>,
    /// eBay's redirect URL name (RuName) registered for the app.
    pub ebay_ru_name: String,
    /// A request that has not answered within this is a timeout (retried).
    pub timeout: Duration,
    /// Pull every connected store this often unless its connection says otherwise.
    pub default_interval_secs: i64,
    /// A feed with no successful pull for this long opens an alert.
    pub stale_after_secs: i64,
    /// Tries of one request before a pull gives up (rate limits are waited out apart).
    pub attempts: u32,
    /// The first retry's delay (doubling after).
    pub retry_first: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            shopify_base_url: "https://{shop}".into(),
            shopify_api_key: String::new(),
            shopify_api_secret: None,
            amazon_lwa_url: "https://api.amazon.com".into(),
            amazon_endpoints: [
                "https://sellingpartnerapi-na.amazon.com".into(),
                "https://sellingpartnerapi-eu.amazon.com".into(),
                "https://sellingpartnerapi-fe.amazon.com".into(),
            ],
            amazon_consent_url: "https://sellercentral.amazon.com".into(),
            amazon_app_id: String::new(),
            amazon_client_id: String::new(),
            amazon_client_secret: None,
            ebay_identity_url: "https://api.ebay.com".into(),
            ebay_api_url: "https://api.ebay.com".into(),
            ebay_auth_url: "https://auth.ebay.com".into(),
            ebay_client_id: String::new(),
            ebay_client_secret: None,
            ebay_ru_name: String::new(),
            timeout: Duration::from_secs(30),
            default_interval_secs: 300,
            stale_after_secs: 3600,
            attempts: 5,
            retry_first: Duration::from_secs(1),
        }
    }
}

impl Settings {
    /// The HTTP client every connector request goes through.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("Starling/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid")
    }
}

/// Why a request to a platform did not give what was asked.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The access token has expired: refresh it and ask again.
    Expired,
    /// The platform refuses the credentials; only connecting the store again helps.
    Unauthorized(String),
    /// Too many requests: wait this long.
    RateLimited(Duration),
    /// A timeout, a server error or a body that is not what the API documents: may pass
    /// on another try.
    Transient(String),
    /// The platform refused the request itself (not retried).
    Rejected(String),
}

impl Failure {
    /// The failure in plain words, for the Connections page.
    pub fn describe(&self, platform: &str) -> String {
        match self {
            Failure::Expired => format!("{platform} said the access token has expired"),
            Failure::Unauthorized(why) => format!("{platform} refused Starling's authorization: {why}. Connect the store again."),
            Failure::RateLimited(wait) => format!("{platform} asked Starling to slow down for {:.1} s", wait.as_secs_f64()),
            Failure::Transient(why) | Failure::Rejected(why) => format!("{platform}: {why}"),
        }
    }

    /// A failure of the connection itself (timeout, refused connection) or of reading the
    /// answer.
    pub fn of_request(e: &reqwest::Error) -> Failure {
        if e.is_timeout() {
            Failure::Transient("no answer within the time limit (timeout)".into())
        } else if e.is_connect() {
            Failure::Transient("could not connect".into())
        } else if e.is_decode() || e.is_body() {
            Failure::Transient("the answer was cut off or is not the JSON the API documents".into())
        } else {
            Failure::Transient(format!("the request failed ({})", without_url(e)))
        }
    }

    /// A 5xx answer.
    pub fn server_error(status: reqwest::StatusCode) -> Failure {
        Failure::Transient(format!("the platform answered {status} (a server error)"))
    }
}

/// A request error without its URL (which may name an account or carry a token).
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(at) = e.find(" for url") {
        e.truncate(at);
    }
    e
}

/// `Retry-After` in seconds (decimal or whole), else `fallback`.
pub fn retry_after(headers: &reqwest::header::HeaderMap, fallback: Duration) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
        .unwrap_or(fallback)
}

/// Runs `attempt` until it answers, waiting out rate limits and retrying transient
/// failures with doubling delays (at most `settings.attempts` tries of those; rate limits
/// are waited out up to 30 times). Expired tokens, refusals and rejections come back at once.
pub async fn retrying<T, F, Fut>(settings: &Settings, mut attempt: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let (mut tries, mut waits) = (0u32, 0u32);
    let mut delay = settings.retry_first;
    loop {
        match attempt().await {
            Err(Failure::RateLimited(wait)) if waits < 30 => {
                waits += 1;
                tokio::time::sleep(wait).await;
            }
            Err(Failure::Transient(why)) => {
                tries += 1;
                if tries >= settings.attempts {
                    return Err(Failure::Transient(format!("{why} ({tries} tries)")));
                }
                tracing::info!(reason = %why, try_number = tries, "platform request failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            other => return other,
        }
    }
}

/// An app secret from the settings (empty when not configured).
pub fn exposed(secret: &Option<SecretString>) -> String {
    use secrecy::ExposeSecret;
    secret.as_ref().map(|s| s.expose_secret().to_string()).unwrap_or_default()
}

/// Sends a token request (an OAuth code exchange or refresh) and reads its JSON answer:
/// a server error or a 429 is a failure to retry; any other status comes back with its
/// body, for the platform module to tell a token from a refusal.
pub async fn token_answer(request: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, serde_json::Value), Failure> {
    let response = request.send().await.map_err(|e| Failure::of_request(&e))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(Failure::server_error(status));
    }
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::RateLimited(retry_after(response.headers(), Duration::from_secs(2))));
    }
    Ok((status, json_body(response).await?))
}

/// Reads a JSON answer; a body that is not JSON is a transient failure (a proxy's error
/// page, a cut-off answer).
pub async fn json_body(response: reqwest::Response) -> Result<serde_json::Value, Failure> {
    let bytes = response.bytes().await.map_err(|e| Failure::of_request(&e))?;
    serde_json::from_slice(&bytes).map_err(|_| Failure::Transient("the answer is not the JSON the API documents".into()))
}

/// Epoch milliseconds of an RFC 3339 time.
pub fn millis(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value.trim()).ok().map(|t| t.timestamp_millis())
}

/// RFC 3339 (UTC, seconds) of epoch milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Epoch milliseconds as people read them in names and mail: `2026-12-04 21:30:00 UTC`.
pub fn utc_label(ms: i64) -> String {
    format!("{} UTC", rfc3339(ms).replace('T', " ").trim_end_matches('Z'))
}

/// A money amount in decimal text ("29.90") as minor units.
pub fn minor(amount: &str) -> Option<i64> {
    let amount = amount.trim();
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let negative = whole.starts_with('-');
    let whole: i64 = whole.trim_start_matches('-').parse().ok()?;
    let cents: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction[..2].parse().ok()?,
    };
    let value = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_times_and_retry_after_read_as_the_platforms_write_them() {
        assert_eq!(minor("29.90"), Some(2990));
        assert_eq!(minor("5"), Some(500));
        assert_eq!(minor("0.5"), Some(50));
        assert_eq!(minor("x"), None);
        assert_eq!(millis("2026-12-01T10:00:00Z"), Some(1_796_119_200_000));
        assert_eq!(rfc3339(1_796_119_200_000), "2026-12-01T10:00:00Z");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2.0".parse().unwrap());
        assert_eq!(retry_after(&headers, Duration::from_secs(9)), Duration::from_secs(2));
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new(), Duration::from_secs(9)), Duration::from_secs(9));
    }
}
