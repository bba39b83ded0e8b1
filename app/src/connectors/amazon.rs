//! Amazon: Login with Amazon (the seller's refresh token, from the `spapi_oauth_code`
//! exchange or pasted, traded for hour-long access tokens) and the SP-API Orders API of the
//! seller's region (`getOrders` by `LastUpdatedAfter` with `NextToken` pages, and each new
//! order's items), within each operation's rate limit per seller.

use super::draft::{some_text, text, Draft, DraftItem};
use super::http::{json_body, Failure, Settings};
use super::model::Region;
use crate::orders::model::{OrderStatus, ParsedOrder, RowError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A seller must authorize the app again a year after authorizing it.
pub const AUTHORIZATION_DAYS: i64 = 365;

/// The SP-API endpoint of a region.
pub fn endpoint(settings: &Settings, region: Region) -> &str {
    let i = match region {
        Region::Na => 0,
        Region::Eu => 1,
        Region::Fe => 2,
    };
    settings.amazon_endpoints[i].trim_end_matches('/')
}

/// Amazon's marketplaces: the store's marketplace as Starling names it, its id and region.
const MARKETPLACES: [(&str, &str, Region); 21] = [
    ("amazon.com", "ATVPDKIKX0DER", Region::Na),
    ("amazon.ca", "A2EUQ1WTGCTBG2", Region::Na),
    ("amazon.com.mx", "A1AM78C64UM0Y8", Region::Na),
    ("amazon.com.br", "A2Q3Y263D00KWC", Region::Na),
    ("amazon.de", "A1PA6795UKMFR9", Region::Eu),
    ("amazon.co.uk", "A1F83G8C2ARO7P", Region::Eu),
    ("amazon.fr", "A13V1IB3VIYZZH", Region::Eu),
    ("amazon.it", "APJ6JRA9NG5V4", Region::Eu),
    ("amazon.es", "A1RKKUPIHCS9HS", Region::Eu),
    ("amazon.nl", "A1805IZSGTT6HS", Region::Eu),
    ("amazon.se", "A2NODRKZP88ZB9", Region::Eu),
    ("amazon.pl", "A1C3SOZRARQ6R3", Region::Eu),
    ("amazon.com.be", "AMEN7PMS3EDWL", Region::Eu),
    ("amazon.com.tr", "A33AVAJ2PDY3EV", Region::Eu),
    ("amazon.ae", "A2VIGQ35RCS4UG", Region::Eu),
    ("amazon.sa", "A17E79C6D8DWNP", Region::Eu),
    ("amazon.eg", "ARBP9OOSHTCHU", Region::Eu),
    ("amazon.in", "A21TJRUUN4KGV", Region::Eu),
    ("amazon.co.jp", "A1VC38T7YXB528", Region::Fe),
    ("amazon.com.au", "A39IBJ37TRP1C6", Region::Fe),
    ("amazon.sg", "A19VAU5U5O7RUS", Region::Fe),
];

/// The marketplace id and region of a store's marketplace (`amazon.de`, `www.amazon.de`).
pub fn marketplace(name: &str) -> Option<(&'static str, Region)> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.trim_start_matches("https://").trim_start_matches("www.");
    MARKETPLACES.iter().find(|(n, _, _)| *n == name).map(|(_, id, region)| (*id, *region))
}

/// The operations Starling calls, with their documented default rate and burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    GetOrders,
    GetOrderItems,
}

impl Operation {
    fn default_limit(self) -> (f64, u32) {
        match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrderItems => (0.5, 30),
        }
    }
}

/// One token bucket per (seller, operation) in this process, at the rate Amazon last
/// announced in `x-amzn-RateLimit-Limit` (the documented default until it has).
struct Bucket {
    rate: f64,
    limiter: Arc<DefaultDirectRateLimiter>,
}

fn limiter(rate: f64, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let quota = Quota::with_period(period).expect("a positive period").allow_burst(NonZeroU32::new(burst.max(1)).expect("at least one"));
    Arc::new(RateLimiter::direct(quota))
}

fn buckets() -> &'static Mutex<HashMap<(String, Operation), Bucket>> {
    static BUCKETS: OnceLock<Mutex<HashMap<(String, Operation), Bucket>>> = OnceLock::new();
    BUCKETS.get_or_init(Default::default)
}

/// Waits for the seller's turn at `operation`.
async fn turn(seller: &str, operation: Operation) {
    let limiter = {
        let mut map = buckets().lock().unwrap_or_else(|e| e.into_inner());
        let (rate, burst) = operation.default_limit();
        map.entry((seller.to_string(), operation)).or_insert_with(|| Bucket { rate, limiter: limiter(rate, burst) }).limiter.clone()
    };
    limiter.until_ready().await;
}

/// Follows the rate Amazon announces for this seller and operation.
fn announced(seller: &str, operation: Operation, headers: &reqwest::header::HeaderMap) {
    let Some(rate) = headers.get("x-amzn-RateLimit-Limit").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok()) else {
        return;
    };
    if !(rate.is_finite() && rate > 0.0) {
        return;
    }
    let mut map = buckets().lock().unwrap_or_else(|e| e.into_inner());
    let burst = operation.default_limit().1;
    let bucket = map.entry((seller.to_string(), operation)).or_insert_with(|| Bucket { rate, limiter: limiter(rate, burst) });
    if (bucket.rate - rate).abs() > f64::EPSILON {
        *bucket = Bucket { rate, limiter: limiter(rate, burst) };
        // The new bucket starts full: the request just answered used one of it.
        let _ = bucket.limiter.check();
    }
}

/// An access token and when it ends (epoch ms), from a refresh token.
pub async fn access_token(client: &reqwest::Client, settings: &Settings, refresh_token: &str, now: i64) -> Result<(String, i64), Failure> {
    let (token, expires_in, _) = lwa(client, settings, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await?;
    Ok((token, now + expires_in * 1000))
}

/// The refresh token for the `spapi_oauth_code` Seller Central sent back.
pub async fn exchange_code(client: &reqwest::Client, settings: &Settings, code: &str, redirect_uri: &str) -> Result<String, Failure> {
    let (_, _, refresh) =
        lwa(client, settings, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)]).await?;
    refresh.ok_or_else(|| Failure::Unauthorized("Login with Amazon gave no refresh token".into()))
}

async fn lwa(client: &reqwest::Client, settings: &Settings, grant: &[(&str, &str)]) -> Result<(String, i64, Option<String>), Failure> {
    let secret = super::http::exposed(&settings.amazon_client_secret);
    let mut form: Vec<(&str, &str)> = grant.to_vec();
    form.push(("client_id", settings.amazon_client_id.as_str()));
    form.push(("client_secret", secret.as_str()));
    let request = client.post(format!("{}/auth/o2/token", settings.amazon_lwa_url.trim_end_matches('/'))).form(&form);
    let (status, body) = super::http::token_answer(request).await?;
    match some_text(&body, "/access_token") {
        Some(token) if status.is_success() => Ok((token, body["expires_in"].as_i64().unwrap_or(3600), some_text(&body, "/refresh_token"))),
        _ => Err(Failure::Unauthorized(format!(
            "Login with Amazon refused the refresh token ({})",
            some_text(&body, "/error_description").unwrap_or_else(|| text(&body, "/error"))
        ))),
    }
}

/// What an SP-API answer other than 200 means.
pub(super) async fn failure(response: reqwest::Response) -> Failure {
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Failure::RateLimited(super::http::retry_after(response.headers(), Duration::from_secs(2)));
    }
    if status.is_server_error() {
        return Failure::server_error(status);
    }
    let body = json_body(response).await.unwrap_or(Value::Null);
    let error = &body["errors"][0];
    let details = format!("{} {}", text(error, "/message"), text(error, "/details"));
    if status == reqwest::StatusCode::FORBIDDEN && details.contains("expired") {
        Failure::Expired
    } else if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::UNAUTHORIZED {
        Failure::Unauthorized(format!("Amazon denied access ({})", details.trim()))
    } else {
        Failure::Rejected(format!("Amazon answered {status}: {}", details.trim()))
    }
}

/// One page of the seller's orders (without their items).
pub struct Page {
    pub orders: Vec<Draft>,
    pub max_updated_at: Option<i64>,
    pub next: Option<String>,
}

/// `getOrders`: orders updated at or after `since`, or the page `next_token` names.
pub async fn orders_page(
    client: &reqwest::Client,
    base: &str,
    seller: &str,
    access: &str,
    marketplaces: &str,
    since: i64,
    next_token: Option<&str>,
) -> Result<Page, Failure> {
    turn(seller, Operation::GetOrders).await;
    let mut query: Vec<(&str, String)> = vec![("MarketplaceIds", marketplaces.to_string())];
    match next_token {
        Some(token) => query.push(("NextToken", token.to_string())),
        None => {
            query.push(("LastUpdatedAfter", super::http::rfc3339(since.max(0))));
            query.push(("MaxResultsPerPage", "100".into()));
        }
    }
    let response = client
        .get(format!("{base}/orders/v0/orders"))
        .query(&query)
        .header("x-amz-access-token", access)
        .send()
        .await
        .map_err(|e| Failure::of_request(&e))?;
    announced(seller, Operation::GetOrders, response.headers());
    if !response.status().is_success() {
        return Err(failure(response).await);
    }
    let body = json_body(response).await?;
    let list = body["payload"]["Orders"].as_array().ok_or_else(|| Failure::Transient("the answer has no Orders list".into()))?;
    let mut max_updated_at = None;
    let orders = list
        .iter()
        .map(|o| {
            max_updated_at = max_updated_at.max(super::http::millis(&text(o, "/LastUpdateDate")));
            draft(o)
        })
        .collect();
    // Orders up to LastUpdatedBefore are in this run: the next one starts there.
    let before = super::http::millis(&text(&body, "/payload/LastUpdatedBefore"));
    Ok(Page { orders, max_updated_at: max_updated_at.max(before), next: some_text(&body, "/payload/NextToken") })
}

/// `getOrderItems` of one order.
pub async fn order_items(
    client: &reqwest::Client,
    base: &str,
    seller: &str,
    access: &str,
    order_id: &str,
) -> Result<Vec<DraftItem>, Failure> {
    turn(seller, Operation::GetOrderItems).await;
    let response = client
        .get(format!("{base}/orders/v0/orders/{}/orderItems", urlencode(order_id)))
        .header("x-amz-access-token", access)
        .send()
        .await
        .map_err(|e| Failure::of_request(&e))?;
    announced(seller, Operation::GetOrderItems, response.headers());
    if !response.status().is_success() {
        return Err(failure(response).await);
    }
    let body = json_body(response).await?;
    let items = body["payload"]["OrderItems"].as_array().ok_or_else(|| Failure::Transient("the answer has no OrderItems list".into()))?;
    Ok(items
        .iter()
        .map(|i| {
            let quantity = i["QuantityOrdered"].as_i64();
            // Amazon's ItemPrice is the line's total.
            let unit = super::http::minor(&text(i, "/ItemPrice/Amount"))
                .map(|total| format!("{:.2}", total as f64 / 100.0 / quantity.unwrap_or(1).max(1) as f64));
            DraftItem { sku: text(i, "/SellerSKU"), name: text(i, "/Title"), listing_id: text(i, "/ASIN"), quantity, unit_price: unit }
        })
        .collect())
}

pub(super) fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// An order's status in Starling's terms.
fn status(amazon: &str) -> OrderStatus {
    match amazon {
        "Shipped" | "PartiallyShipped" => OrderStatus::Fulfilled,
        "Canceled" | "Unfulfillable" => OrderStatus::Cancelled,
        _ => OrderStatus::Pending,
    }
}

/// An order of `getOrders` (its items come from `getOrderItems`).
pub fn draft(o: &Value) -> Draft {
    let status = status(&text(o, "/OrderStatus"));
    Draft {
        id: text(o, "/AmazonOrderId"),
        placed_at: some_text(o, "/PurchaseDate"),
        status,
        status_at: if status == OrderStatus::Pending { None } else { some_text(o, "/LastUpdateDate") },
        email: text(o, "/BuyerInfo/BuyerEmail"),
        country: text(o, "/ShippingAddress/CountryCode"),
        marketplace: text(o, "/SalesChannel"),
        currency: text(o, "/OrderTotal/CurrencyCode"),
        total: some_text(o, "/OrderTotal/Amount"),
        earliest_delivery: some_text(o, "/EarliestDeliveryDate"),
        latest_delivery: some_text(o, "/LatestDeliveryDate"),
        reachable_elsewhere: true,
        ..Draft::default()
    }
}

/// The order ready to store, or why not.
pub fn order(draft: Draft, items: Vec<DraftItem>, line: u64) -> Result<ParsedOrder, RowError> {
    Draft { items, ..draft }.into_order(line)
}

/// The Seller Central page where a seller authorizes Starling.
pub fn authorize_url(settings: &Settings, state: &str) -> String {
    let query = [("application_id", settings.amazon_app_id.as_str()), ("state", state), ("version", "beta")];
    format!(
        "{}/apps/authorize/consent?{}",
        settings.amazon_consent_url.trim_end_matches('/'),
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_amazon_order_keeps_its_delivery_window_and_marketplace() {
        let o = json!({"AmazonOrderId": "302-1234567-1234567", "PurchaseDate": "2026-11-20T10:00:00Z", "LastUpdateDate": "2026-11-22T10:00:00Z",
            "OrderStatus": "Shipped", "SalesChannel": "Amazon.de", "OrderTotal": {"CurrencyCode": "EUR", "Amount": "29.90"},
            "EarliestDeliveryDate": "2026-11-24T00:00:00Z", "LatestDeliveryDate": "2026-11-27T23:59:59Z",
            "ShippingAddress": {"CountryCode": "DE"}, "BuyerInfo": {"BuyerEmail": "abc@marketplace.amazon.de"}});
        let items = vec![DraftItem {
            sku: "HL-1".into(),
            name: "Headlamp".into(),
            listing_id: "B0X".into(),
            quantity: Some(2),
            unit_price: Some("14.95".into()),
        }];
        let order = order(draft(&o), items, 1).unwrap();
        assert_eq!(order.status, Some(OrderStatus::Fulfilled));
        assert_eq!(order.marketplace, "amazon.de");
        assert_eq!(order.earliest_delivery_at, Some(1_795_478_400_000));
        assert!(order.latest_delivery_at.unwrap() > order.earliest_delivery_at.unwrap());
        assert_eq!(status("Canceled"), OrderStatus::Cancelled);
        assert_eq!(urlencode("302-1/2"), "302-1%2F2");
    }
}
