//! Shopify: the Admin GraphQL API's `orders` (cursor pages sorted by update time, within
//! the cost-based throttle), the OAuth authorization-code grant (offline token), webhook
//! signatures, and how Shopify's orders (GraphQL nodes and webhook bodies) map to Starling's.

use super::draft::{some_text, text, Draft, DraftItem};
use super::http::{retry_after, Failure, Settings};
use crate::orders::model::{OrderStatus, ParsedOrder, RowError};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

pub const API_VERSION: &str = "2025-07";
/// Orders per page: the most Shopify's connections allow.
pub const PAGE_SIZE: u32 = 250;
/// The scopes Starling asks a shop for.
pub const SCOPES: &str = "read_orders,read_customers,read_fulfillments";

const ORDERS_QUERY: &str = "query Orders($first: Int!, $after: String, $query: String) { \
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { \
    nodes { id name createdAt updatedAt cancelledAt email phone displayFinancialStatus displayFulfillmentStatus currencyCode \
      totalPriceSet { shopMoney { amount currencyCode } } \
      customer { firstName lastName phone emailMarketingConsent { marketingState } \
        smsMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom } } \
      shippingAddress { countryCodeV2 name } \
      lineItems(first: 50) { nodes { sku name quantity originalUnitPriceSet { shopMoney { amount } } product { id } } } \
      fulfillments(first: 10) { createdAt deliveredAt displayStatus } } \
    pageInfo { hasNextPage endCursor } } }";

/// The shop's API root: the configured base with `{shop}` filled in.
pub fn base(settings: &Settings, shop: &str) -> String {
    settings.shopify_base_url.replace("{shop}", shop).trim_end_matches('/').to_string()
}

/// A shop domain as Shopify names shops (`name.myshopify.com`), from what a user typed.
pub fn shop_domain(input: &str) -> Option<String> {
    let s = input.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_ascii_lowercase();
    let s = if s.contains('.') { s } else { format!("{s}.myshopify.com") };
    let name = s.strip_suffix(".myshopify.com")?;
    let valid =
        !name.is_empty() && name.len() <= 60 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !name.starts_with('-');
    valid.then_some(s)
}

/// One page of orders, read.
pub struct Page {
    pub orders: Vec<Result<ParsedOrder, RowError>>,
    /// The latest update time on the page (the next pull's cursor).
    pub max_updated_at: Option<i64>,
}

/// A page as it arrived: its text, and what the next request needs (read from it at once,
/// so the next page is asked for while this one is read).
pub struct Arrived {
    pub body: Vec<u8>,
    pub next: Option<String>,
    /// Orders on the page.
    pub count: u64,
    /// How long to wait before the next request so it fits the throttle bucket.
    pub pause: Duration,
}

/// What the next request needs of an answer: its errors, cost and page info (the orders
/// themselves are skipped unread, which also checks the body is whole JSON).
#[derive(serde::Deserialize)]
struct Glance {
    #[serde(default)]
    data: Option<GlanceData>,
    #[serde(default)]
    errors: Value,
    #[serde(default)]
    extensions: Value,
}

#[derive(serde::Deserialize)]
struct GlanceData {
    orders: Option<GlanceOrders>,
}

#[derive(serde::Deserialize)]
struct GlanceOrders {
    nodes: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
}

#[derive(serde::Deserialize)]
struct PageInfo {
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
    #[serde(rename = "endCursor")]
    end_cursor: Option<String>,
}

/// Throttle state from `extensions`: how long until `cost` points are available.
fn throttle_wait(extensions: &Value, cost: f64) -> Duration {
    let status = &extensions["cost"]["throttleStatus"];
    let available = status["currentlyAvailable"].as_f64().unwrap_or(f64::MAX);
    let restore = status["restoreRate"].as_f64().filter(|r| *r > 0.0).unwrap_or(50.0);
    if available >= cost {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(((cost - available) / restore).min(60.0))
    }
}

/// One page of the shop's orders updated at or after `since` (epoch ms), after `cursor`.
/// `first` is halved by the caller when Shopify says a query costs too much.
pub async fn orders_page(
    client: &reqwest::Client,
    settings: &Settings,
    shop: &str,
    token: &str,
    since: i64,
    cursor: Option<&str>,
    first: u32,
) -> Result<Arrived, Failure> {
    let filter = if since > 0 { format!("updated_at:>='{}'", super::http::rfc3339(since)) } else { String::new() };
    let body = json!({ "query": ORDERS_QUERY, "variables": { "first": first, "after": cursor, "query": filter } });
    let response = client
        .post(format!("{}/admin/api/{API_VERSION}/graphql.json", base(settings, shop)))
        .header("X-Shopify-Access-Token", token)
        .json(&body)
        .send()
        .await
        .map_err(|e| Failure::of_request(&e))?;
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::RateLimited(retry_after(response.headers(), Duration::from_secs(2))));
    }
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Failure::Unauthorized(format!("the shop answered {status} to its access token")));
    }
    if status.is_server_error() {
        return Err(Failure::server_error(status));
    }
    let bytes = response.bytes().await.map_err(|e| Failure::of_request(&e))?.to_vec();
    let malformed = || Failure::Transient("the answer is not the JSON the API documents".into());
    let glance: Glance = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if !status.is_success() {
        return Err(Failure::Rejected(format!("Shopify answered {status}: {}", glance.errors)));
    }
    let requested = glance.extensions["cost"]["requestedQueryCost"].as_f64().unwrap_or(0.0);
    if let Some(error) = glance.errors.as_array().and_then(|e| e.first()) {
        let code = text(error, "/extensions/code");
        return Err(match code.as_str() {
            "THROTTLED" => Failure::RateLimited(throttle_wait(&glance.extensions, requested).max(Duration::from_millis(100))),
            "MAX_COST_EXCEEDED" => Failure::Rejected("MAX_COST_EXCEEDED".into()),
            _ => Failure::Rejected(format!("Shopify refused the orders query: {}", text(error, "/message"))),
        });
    }
    let orders = glance.data.and_then(|d| d.orders).ok_or_else(|| Failure::Transient("the answer has no orders".into()))?;
    let next = if orders.page_info.has_next_page { orders.page_info.end_cursor.filter(|c| !c.is_empty()) } else { None };
    Ok(Arrived { body: bytes, next, count: orders.nodes.len() as u64, pause: throttle_wait(&glance.extensions, requested) })
}

/// An order's status from its cancellation, refund and fulfilments.
fn status(
    cancelled_at: Option<String>,
    refunded: bool,
    fulfilled: bool,
    fulfilled_at: Option<String>,
    delivered_at: Option<String>,
) -> (OrderStatus, Option<String>) {
    if let Some(at) = cancelled_at {
        (OrderStatus::Cancelled, Some(at))
    } else if refunded {
        (OrderStatus::Refunded, None)
    } else if delivered_at.is_some() {
        (OrderStatus::Delivered, delivered_at)
    } else if fulfilled {
        (OrderStatus::Fulfilled, fulfilled_at)
    } else {
        (OrderStatus::Pending, None)
    }
}

/// The name on the shipping address, else the customer's.
fn buyer_name(shipping: String, first: String, last: String) -> String {
    let shipping = shipping.trim();
    if shipping.is_empty() {
        format!("{first} {last}").trim().to_string()
    } else {
        shipping.to_string()
    }
}

/// A GraphQL order node, as the orders query selects it (read into these types directly:
/// a page is read several times faster than through a JSON tree).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GqlOrder {
    name: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    cancelled_at: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    display_financial_status: Option<String>,
    display_fulfillment_status: Option<String>,
    currency_code: Option<String>,
    total_price_set: Option<MoneySet>,
    customer: Option<GqlCustomer>,
    shipping_address: Option<GqlAddress>,
    line_items: Option<GqlNodes<GqlItem>>,
    fulfillments: Option<Vec<GqlFulfillment>>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MoneySet {
    shop_money: Option<Money>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Money {
    amount: Option<String>,
    currency_code: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GqlCustomer {
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    email_marketing_consent: Option<GqlConsent>,
    sms_marketing_consent: Option<GqlConsent>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GqlConsent {
    marketing_state: Option<String>,
    marketing_opt_in_level: Option<String>,
    consent_updated_at: Option<String>,
    consent_collected_from: Option<String>,
}

/// Shopify's SMS marketing consent as the ledger keeps it: Shopify records the state, how
/// the buyer opted in and where, not the words shown, so those facts stand for the wording.
/// Only a subscribed buyer has consented.
fn sms_consent(state: &str, level: &str, updated: &str, collected_from: &str) -> Option<String> {
    if !state.eq_ignore_ascii_case("subscribed") {
        return None;
    }
    let mut words = "Shopify SMS marketing consent: subscribed".to_string();
    for (label, value) in [("opt-in level", level), ("collected from", collected_from), ("updated", updated)] {
        if !value.trim().is_empty() {
            words.push_str(&format!(", {label} {}", value.trim().to_ascii_lowercase()));
        }
    }
    Some(words)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GqlAddress {
    country_code_v2: Option<String>,
    name: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct GqlNodes<T> {
    nodes: Vec<T>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GqlItem {
    sku: Option<String>,
    name: Option<String>,
    quantity: Option<i64>,
    original_unit_price_set: Option<MoneySet>,
    product: Option<GqlProduct>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct GqlProduct {
    id: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GqlFulfillment {
    created_at: Option<String>,
    delivered_at: Option<String>,
    display_status: Option<String>,
}

/// `{"data":{"orders":{"nodes":[…]}}}`, the nodes read as [`GqlOrder`]s.
#[derive(serde::Deserialize)]
struct GqlPage {
    data: GqlPageData,
}

#[derive(serde::Deserialize)]
struct GqlPageData {
    orders: GqlNodes<GqlOrder>,
}

/// Reads an arrived page's orders (`line_offset`: how many came before it in this pull).
pub fn read_page(body: &[u8], line_offset: u64) -> Page {
    let nodes = serde_json::from_slice::<GqlPage>(body).map(|p| p.data.orders.nodes).unwrap_or_default();
    let mut max_updated_at = None;
    let orders = nodes
        .into_iter()
        .enumerate()
        .map(|(i, node)| {
            max_updated_at = max_updated_at.max(node.updated_at.as_deref().and_then(super::http::millis));
            from_graphql(node).into_order(line_offset + i as u64 + 1)
        })
        .collect();
    Page { orders, max_updated_at }
}

/// A GraphQL order node as a draft.
pub fn from_graphql(node: GqlOrder) -> Draft {
    let fulfillments = node.fulfillments.unwrap_or_default();
    let delivered_at = fulfillments
        .iter()
        .find(|f| f.display_status.as_deref() == Some("DELIVERED") || f.delivered_at.is_some())
        .and_then(|f| f.delivered_at.clone().or_else(|| f.created_at.clone()));
    let fulfilled_at = fulfillments.iter().filter_map(|f| f.created_at.clone()).min();
    let fulfilled = node.display_fulfillment_status.as_deref() == Some("FULFILLED");
    let refunded = node.display_financial_status.as_deref() == Some("REFUNDED");
    let (status, status_at) = status(node.cancelled_at.filter(|c| !c.is_empty()), refunded, fulfilled, fulfilled_at, delivered_at);
    let customer = node.customer.unwrap_or_default();
    let address = node.shipping_address.unwrap_or_default();
    let name =
        buyer_name(address.name.unwrap_or_default(), customer.first_name.unwrap_or_default(), customer.last_name.unwrap_or_default());
    let texts = customer.sms_marketing_consent.as_ref().and_then(|c| {
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        sms_consent(&get(&c.marketing_state), &get(&c.marketing_opt_in_level), &get(&c.consent_updated_at), &get(&c.consent_collected_from))
    });
    let customer_phone = customer.phone.clone().unwrap_or_default();
    let consent = match customer.email_marketing_consent.and_then(|c| c.marketing_state).as_deref() {
        Some("SUBSCRIBED") => Some(true),
        None | Some("") => None,
        Some(_) => Some(false),
    };
    let items = node
        .line_items
        .map(|items| {
            items
                .nodes
                .into_iter()
                .map(|i| DraftItem {
                    sku: i.sku.unwrap_or_default(),
                    name: i.name.unwrap_or_default(),
                    listing_id: i.product.and_then(|p| p.id).map(|id| id.rsplit('/').next().unwrap_or("").to_string()).unwrap_or_default(),
                    quantity: i.quantity,
                    unit_price: i.original_unit_price_set.and_then(|m| m.shop_money).and_then(|m| m.amount),
                })
                .collect()
        })
        .unwrap_or_default();
    let money = node.total_price_set.and_then(|m| m.shop_money).unwrap_or_default();
    Draft {
        id: node.name.unwrap_or_default(),
        placed_at: node.created_at,
        status,
        status_at,
        email: node.email.unwrap_or_default(),
        phone: node.phone.filter(|p| !p.trim().is_empty()).unwrap_or(customer_phone),
        name,
        country: address.country_code_v2.unwrap_or_default(),
        currency: money.currency_code.or(node.currency_code).unwrap_or_default(),
        total: money.amount,
        accepts_marketing: consent,
        sms_consent: texts,
        items,
        ..Draft::default()
    }
}

/// A webhook's order body (the REST resource).
pub fn from_webhook(body: &Value) -> Draft {
    let fulfillments = body["fulfillments"].as_array().cloned().unwrap_or_default();
    let delivered_at = fulfillments
        .iter()
        .find(|f| text(f, "/shipment_status") == "delivered")
        .map(|f| some_text(f, "/updated_at").unwrap_or_else(|| text(f, "/created_at")));
    let fulfilled_at = fulfillments.iter().filter_map(|f| some_text(f, "/created_at")).min();
    let fulfilled = text(body, "/fulfillment_status") == "fulfilled";
    let (status, status_at) =
        status(some_text(body, "/cancelled_at"), text(body, "/financial_status") == "refunded", fulfilled, fulfilled_at, delivered_at);
    let name =
        [text(body, "/shipping_address/name"), format!("{} {}", text(body, "/customer/first_name"), text(body, "/customer/last_name"))]
            .into_iter()
            .map(|n| n.trim().to_string())
            .find(|n| !n.is_empty())
            .unwrap_or_default();
    let texts = sms_consent(
        &text(body, "/customer/sms_marketing_consent/state"),
        &text(body, "/customer/sms_marketing_consent/opt_in_level"),
        &text(body, "/customer/sms_marketing_consent/consent_updated_at"),
        &text(body, "/customer/sms_marketing_consent/consent_collected_from"),
    );
    let consent = match text(body, "/customer/email_marketing_consent/state").as_str() {
        "subscribed" => Some(true),
        "" => body["buyer_accepts_marketing"].as_bool(),
        _ => Some(false),
    };
    let items = body["line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| DraftItem {
                    sku: text(i, "/sku"),
                    name: some_text(i, "/name").unwrap_or_else(|| text(i, "/title")),
                    listing_id: text(i, "/product_id"),
                    quantity: i["quantity"].as_i64(),
                    unit_price: some_text(i, "/price"),
                })
                .collect()
        })
        .unwrap_or_default();
    Draft {
        id: text(body, "/name"),
        placed_at: some_text(body, "/created_at"),
        status,
        status_at,
        email: some_text(body, "/email").unwrap_or_else(|| text(body, "/customer/email")),
        phone: some_text(body, "/phone").filter(|p| !p.trim().is_empty()).unwrap_or_else(|| text(body, "/customer/phone")),
        name,
        country: text(body, "/shipping_address/country_code"),
        currency: text(body, "/currency"),
        total: some_text(body, "/total_price"),
        accepts_marketing: consent,
        sms_consent: texts,
        items,
        ..Draft::default()
    }
}

/// Whether `signature` (base64, from `X-Shopify-Hmac-Sha256`) is the HMAC-SHA256 of the raw
/// `body` under `secret`, compared in constant time.
pub fn verify_webhook(secret: &str, body: &[u8], signature: &str) -> bool {
    use base64::Engine;
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Whether an OAuth redirect's query (`code`, `shop`, `state`, `timestamp`, `hmac`) was
/// signed by Shopify with the app secret: the other parameters sorted, joined as
/// `k=v&k=v`, HMAC-SHA256 in hex, compared in constant time.
pub fn verify_redirect(secret: &str, params: &[(String, String)]) -> bool {
    let Some(signature) = params.iter().find(|(k, _)| k == "hmac").and_then(|(_, v)| hex::decode(v).ok()) else {
        return false;
    };
    let mut rest: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "hmac" && k != "signature").collect();
    rest.sort();
    let message = rest.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// The page a merchant is sent to, to let Starling read the shop (offline token).
pub fn authorize_url(settings: &Settings, shop: &str, redirect_uri: &str, state: &str) -> String {
    let query = [("client_id", settings.shopify_api_key.as_str()), ("scope", SCOPES), ("redirect_uri", redirect_uri), ("state", state)];
    format!("{}/admin/oauth/authorize?{}", base(settings, shop), serde_urlencoded::to_string(query).unwrap_or_default())
}

/// Trades the redirect's `code` for the shop's offline access token.
pub async fn exchange_code(client: &reqwest::Client, settings: &Settings, shop: &str, code: &str) -> Result<String, Failure> {
    let secret = super::http::exposed(&settings.shopify_api_secret);
    let request = client
        .post(format!("{}/admin/oauth/access_token", base(settings, shop)))
        .json(&json!({ "client_id": settings.shopify_api_key, "client_secret": secret, "code": code }));
    let (status, body) = super::http::token_answer(request).await?;
    match some_text(&body, "/access_token") {
        Some(token) if status.is_success() => Ok(token),
        _ => Err(Failure::Unauthorized(format!("the shop did not give an access token ({})", text(&body, "/error_description")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_sms_consent_becomes_a_consent_to_texts_with_its_facts() {
        let node = json!({"id": "gid://shopify/Order/5002", "name": "#1002", "createdAt": "2026-11-20T10:00:00Z", "phone": null,
            "email": "ola@example.no", "displayFulfillmentStatus": "FULFILLED",
            "customer": {"firstName": "Ola", "phone": "+4791234567", "smsMarketingConsent": {"marketingState": "SUBSCRIBED",
                "marketingOptInLevel": "CONFIRMED_OPT_IN", "consentUpdatedAt": "2026-11-20T09:58:00Z", "consentCollectedFrom": "SHOPIFY"}},
            "shippingAddress": {"countryCodeV2": "NO"},
            "lineItems": {"nodes": [{"sku": "A", "name": "Socks", "quantity": 1}]}});
        let a = from_graphql(serde_json::from_value(node).unwrap()).into_order(1).unwrap();
        assert_eq!(a.buyer_phone, "+4791234567", "the customer's phone when the order has none");
        let words = a.sms_consent.expect("a consent to texts");
        assert!(words.contains("subscribed") && words.contains("confirmed_opt_in") && words.contains("shopify"), "{words}");
        let hook = json!({"id": 5002, "name": "#1002", "created_at": "2026-11-20T10:00:00Z", "email": "ola@example.no", "phone": "",
            "fulfillment_status": "fulfilled", "shipping_address": {"country_code": "NO"}, "line_items": [{"sku": "A", "title": "Socks", "quantity": 1}],
            "customer": {"first_name": "Ola", "phone": "+4791234567", "sms_marketing_consent": {"state": "unsubscribed", "opt_in_level": "single_opt_in"}}});
        let b = from_webhook(&hook).into_order(1).unwrap();
        assert_eq!((b.buyer_phone.as_str(), b.sms_consent), ("+4791234567", None), "unsubscribed is no consent");
    }

    #[test]
    fn graphql_and_webhook_orders_map_to_the_same_order() {
        let node = json!({"id": "gid://shopify/Order/5001", "name": "#1001", "createdAt": "2026-11-20T10:00:00Z", "updatedAt": "2026-11-25T10:00:00Z",
            "cancelledAt": null, "email": "eva@example.at", "phone": null, "displayFinancialStatus": "PAID", "displayFulfillmentStatus": "FULFILLED",
            "currencyCode": "EUR", "totalPriceSet": {"shopMoney": {"amount": "29.90", "currencyCode": "EUR"}},
            "customer": {"firstName": "Eva", "lastName": "Huber", "emailMarketingConsent": {"marketingState": "SUBSCRIBED"}},
            "shippingAddress": {"countryCodeV2": "AT", "name": "Eva Huber"},
            "lineItems": {"nodes": [{"sku": "HL-1", "name": "Headlamp", "quantity": 2, "originalUnitPriceSet": {"shopMoney": {"amount": "14.95"}}, "product": {"id": "gid://shopify/Product/77"}}]},
            "fulfillments": [{"createdAt": "2026-11-21T08:00:00Z", "deliveredAt": "2026-11-24T12:00:00Z", "displayStatus": "DELIVERED"}]});
        let hook = json!({"id": 5001, "name": "#1001", "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z", "cancelled_at": null,
            "email": "eva@example.at", "financial_status": "paid", "fulfillment_status": "fulfilled", "currency": "EUR", "total_price": "29.90",
            "buyer_accepts_marketing": true, "customer": {"first_name": "Eva", "last_name": "Huber", "email_marketing_consent": {"state": "subscribed"}},
            "shipping_address": {"country_code": "AT", "name": "Eva Huber"},
            "line_items": [{"sku": "HL-1", "name": "Headlamp", "quantity": 2, "price": "14.95", "product_id": 77}],
            "fulfillments": [{"created_at": "2026-11-21T08:00:00Z", "updated_at": "2026-11-24T12:00:00Z", "shipment_status": "delivered"}]});
        let a = from_graphql(serde_json::from_value(node).unwrap()).into_order(1).unwrap();
        let b = from_webhook(&hook).into_order(1).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.platform_order_id.as_str(), a.status, a.accepts_marketing), ("#1001", Some(OrderStatus::Delivered), Some(true)));
        assert_eq!(a.items[0].listing_id, "77");
        let cancelled = from_webhook(&json!({"name": "#2", "cancelled_at": "2026-11-21T00:00:00Z", "financial_status": "refunded"}));
        assert_eq!(cancelled.status, OrderStatus::Cancelled, "cancellation wins over refund");
    }

    #[test]
    fn signatures_are_checked_in_constant_time_against_the_raw_body() {
        use base64::Engine;
        let body = br#"{"id":1}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let good = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(verify_webhook("app-secret", body, &good));
        assert!(!verify_webhook("app-secret", br#"{"id":2}"#, &good));
        assert!(!verify_webhook("other", body, &good));
        assert!(!verify_webhook("app-secret", body, "not base64!"));

        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(b"code=abc&shop=x.myshopify.com&state=s1&timestamp=1");
        let hmac = hex::encode(mac.finalize().into_bytes());
        let mut params: Vec<(String, String)> = [("shop", "x.myshopify.com"), ("code", "abc"), ("timestamp", "1"), ("state", "s1")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.push(("hmac".into(), hmac));
        assert!(verify_redirect("app-secret", &params));
        params[0].1 = "evil.myshopify.com".into();
        assert!(!verify_redirect("app-secret", &params));
    }

    #[test]
    fn shop_domains_are_read_from_what_people_type() {
        assert_eq!(shop_domain("nordlicht").as_deref(), Some("nordlicht.myshopify.com"));
        assert_eq!(shop_domain("https://Nordlicht.myshopify.com/").as_deref(), Some("nordlicht.myshopify.com"));
        assert_eq!(shop_domain("evil.com"), None);
        assert_eq!(shop_domain("a/b.myshopify.com"), None);
    }

    #[test]
    fn the_throttle_says_how_long_until_a_query_fits() {
        let extensions =
            json!({"cost": {"throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 10.0, "restoreRate": 100.0}}});
        assert_eq!(throttle_wait(&extensions, 52.0), Duration::from_secs_f64(0.42));
        assert_eq!(throttle_wait(&extensions, 5.0), Duration::ZERO);
    }
}
