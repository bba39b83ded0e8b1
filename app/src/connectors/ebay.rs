//! eBay: the user's OAuth refresh token traded for two-hour access tokens, and the Sell
//! Fulfillment API's `getOrders` filtered by `lastmodifieddate`, paged by offset.

use super::draft::{some_text, text, Draft, DraftItem};
use super::http::{json_body, retry_after, Failure, Settings};
use crate::orders::model::{OrderStatus, ParsedOrder, RowError};
use base64::Engine;
use serde_json::Value;
use std::time::Duration;

pub const SCOPE: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly";
/// Orders per page: the most `getOrders` gives.
pub const PAGE_SIZE: u32 = 200;

fn basic(settings: &Settings) -> String {
    let secret = super::http::exposed(&settings.ebay_client_secret);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", settings.ebay_client_id)))
}

async fn token(client: &reqwest::Client, settings: &Settings, form: &[(&str, &str)]) -> Result<Value, Failure> {
    let request = client
        .post(format!("{}/identity/v1/oauth2/token", settings.ebay_identity_url.trim_end_matches('/')))
        .header(reqwest::header::AUTHORIZATION, basic(settings))
        .form(form);
    let (status, body) = super::http::token_answer(request).await?;
    if status.is_success() && some_text(&body, "/access_token").is_some() {
        Ok(body)
    } else {
        Err(Failure::Unauthorized(format!(
            "eBay refused the refresh token ({})",
            some_text(&body, "/error_description").unwrap_or_else(|| text(&body, "/error"))
        )))
    }
}

/// An access token and when it ends (epoch ms).
pub async fn access_token(client: &reqwest::Client, settings: &Settings, refresh_token: &str, now: i64) -> Result<(String, i64), Failure> {
    let body = token(client, settings, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("scope", SCOPE)]).await?;
    Ok((text(&body, "/access_token"), now + body["expires_in"].as_i64().unwrap_or(7200) * 1000))
}

/// The refresh token and its end (epoch ms) for the `code` eBay's consent page sent back.
pub async fn exchange_code(client: &reqwest::Client, settings: &Settings, code: &str, now: i64) -> Result<(String, Option<i64>), Failure> {
    let body =
        token(client, settings, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.ebay_ru_name.as_str())])
            .await?;
    let refresh = some_text(&body, "/refresh_token").ok_or_else(|| Failure::Unauthorized("eBay gave no refresh token".into()))?;
    Ok((refresh, body["refresh_token_expires_in"].as_i64().map(|s| now + s * 1000)))
}

/// eBay's consent page for Starling's app.
pub fn authorize_url(settings: &Settings, state: &str) -> String {
    let query = [
        ("client_id", settings.ebay_client_id.as_str()),
        ("redirect_uri", settings.ebay_ru_name.as_str()),
        ("response_type", "code"),
        ("scope", SCOPE),
        ("state", state),
    ];
    format!("{}/oauth2/authorize?{}", settings.ebay_auth_url.trim_end_matches('/'), serde_urlencoded::to_string(query).unwrap_or_default())
}

pub struct Page {
    pub orders: Vec<Result<ParsedOrder, RowError>>,
    /// How many orders the filter matches now: pages are worked out afresh for each
    /// request, so when this changes between pages an order may have been skipped.
    pub total: Option<i64>,
    /// The next page's full URL, as eBay gives it.
    pub next: Option<String>,
}

/// The first page of orders modified from `since` to `until`, or the page `next` names.
#[allow(clippy::too_many_arguments)]
pub async fn orders_page(
    client: &reqwest::Client,
    settings: &Settings,
    access: &str,
    since: i64,
    until: i64,
    next: Option<&str>,
    line_offset: u64,
) -> Result<Page, Failure> {
    let api = settings.ebay_api_url.trim_end_matches('/');
    let request = match next {
        // Only follow eBay's own next links (never send the token elsewhere).
        Some(url) if url.starts_with(api) => client.get(url),
        Some(_) => return Err(Failure::Rejected("eBay's next page link points to another host".into())),
        None => {
            let time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms.max(0)).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ");
            client.get(format!("{api}/sell/fulfillment/v1/order")).query(&[
                ("filter", format!("lastmodifieddate:[{}..{}]", time(since), time(until))),
                ("limit", PAGE_SIZE.to_string()),
                ("offset", "0".into()),
            ])
        }
    };
    let response = request.bearer_auth(access).send().await.map_err(|e| Failure::of_request(&e))?;
    let status = response.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::RateLimited(retry_after(response.headers(), Duration::from_secs(5))));
    }
    if status.is_server_error() {
        return Err(Failure::server_error(status));
    }
    let body = json_body(response).await?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Failure::Expired);
    }
    if status == reqwest::StatusCode::FORBIDDEN {
        return Err(Failure::Unauthorized(format!("eBay denied access ({})", text(&body, "/errors/0/message"))));
    }
    if !status.is_success() {
        return Err(Failure::Rejected(format!("eBay answered {status}: {}", text(&body, "/errors/0/message"))));
    }
    let list = body["orders"].as_array().ok_or_else(|| Failure::Transient("the answer has no orders list".into()))?;
    let orders = list.iter().enumerate().map(|(i, o)| draft(o).into_order(line_offset + i as u64 + 1)).collect();
    Ok(Page { orders, total: body["total"].as_i64(), next: some_text(&body, "/next") })
}

/// An order of `getOrders`.
pub fn draft(o: &Value) -> Draft {
    let status = if text(o, "/cancelStatus/cancelState") == "CANCELED" {
        OrderStatus::Cancelled
    } else if text(o, "/orderPaymentStatus") == "FULLY_REFUNDED" {
        OrderStatus::Refunded
    } else if text(o, "/orderFulfillmentStatus") == "FULFILLED" {
        OrderStatus::Fulfilled
    } else {
        OrderStatus::Pending
    };
    let ship_to = &o["fulfillmentStartInstructions"][0];
    let registration = &o["buyer"]["buyerRegistrationAddress"];
    let items = o["lineItems"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let quantity = i["quantity"].as_i64();
                    // lineItemCost is the line's total.
                    let unit = super::http::minor(&text(i, "/lineItemCost/value"))
                        .map(|total| format!("{:.2}", total as f64 / 100.0 / quantity.unwrap_or(1).max(1) as f64));
                    DraftItem {
                        sku: text(i, "/sku"),
                        name: text(i, "/title"),
                        listing_id: text(i, "/legacyItemId"),
                        quantity,
                        unit_price: unit,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Draft {
        id: text(o, "/orderId"),
        placed_at: some_text(o, "/creationDate"),
        status,
        status_at: if status == OrderStatus::Pending { None } else { some_text(o, "/lastModifiedDate") },
        email: some_text(ship_to, "/shippingStep/shipTo/email").unwrap_or_else(|| text(registration, "/email")),
        name: some_text(ship_to, "/shippingStep/shipTo/fullName").unwrap_or_else(|| text(registration, "/fullName")),
        country: some_text(ship_to, "/shippingStep/shipTo/contactAddress/countryCode")
            .unwrap_or_else(|| text(registration, "/contactAddress/countryCode")),
        currency: text(o, "/pricingSummary/total/currency"),
        total: some_text(o, "/pricingSummary/total/value"),
        earliest_delivery: some_text(ship_to, "/minEstimatedDeliveryDate"),
        latest_delivery: some_text(ship_to, "/maxEstimatedDeliveryDate"),
        items,
        ..Draft::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_ebay_order_maps_with_its_buyer_and_unit_prices() {
        let o = json!({"orderId": "12-34567-89012", "creationDate": "2026-11-20T10:00:00.000Z", "lastModifiedDate": "2026-11-22T10:00:00.000Z",
            "orderFulfillmentStatus": "FULFILLED", "orderPaymentStatus": "PAID", "cancelStatus": {"cancelState": "NONE_REQUESTED"},
            "buyer": {"username": "eva_h", "buyerRegistrationAddress": {"email": "eva@example.at", "fullName": "Eva Huber", "contactAddress": {"countryCode": "AT"}}},
            "pricingSummary": {"total": {"value": "29.90", "currency": "EUR"}},
            "lineItems": [{"sku": "HL-1", "title": "Headlamp", "legacyItemId": "1234567890", "quantity": 2, "lineItemCost": {"value": "29.90", "currency": "EUR"}}],
            "fulfillmentStartInstructions": [{"minEstimatedDeliveryDate": "2026-11-24T00:00:00.000Z", "maxEstimatedDeliveryDate": "2026-11-27T00:00:00.000Z"}]});
        let order = draft(&o).into_order(1).unwrap();
        assert_eq!((order.platform_order_id.as_str(), order.status), ("12-34567-89012", Some(OrderStatus::Fulfilled)));
        assert_eq!((order.buyer_email.as_str(), order.country.as_str()), ("eva@example.at", "AT"));
        assert_eq!(order.items[0].unit_price_minor, Some(1495));
        assert!(order.latest_delivery_at.is_some());
    }
}
