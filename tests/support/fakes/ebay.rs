//! A fake eBay: the OAuth token endpoint (refresh-token grant, Basic client auth) and the
//! Sell Fulfillment API's getOrders with offset/limit paging and the lastmodifieddate
//! filter.
//!
//! Offset paging is read afresh for every page, as eBay's is: an order updated while a
//! client pages moves to the end and shifts the later pages, so a client that trusts
//! offsets can miss an order, exactly as against the real API.

use super::{encode, json, lock, money, now_secs, parse_time, pick, random_hex, Book, Controls, Record, Server, Style};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Route names for [`Controls::requests`].
pub mod route {
    pub const TOKEN: &str = "token";
    pub const GET_ORDERS: &str = "getOrders";
}

/// The client [`FakeEbay::start`] accepts.
pub const CLIENT_ID: &str = "Starling-fake-PRD-0123456789-abcdef01";
pub const CLIENT_SECRET: &str = "PRD-fake-ebay-client-secret";
/// The largest `limit`.
pub const MAX_LIMIT: usize = 200;
/// The `limit` of a request without one.
pub const DEFAULT_LIMIT: usize = 50;

const ORDERS_PATH: &str = "/sell/fulfillment/v1/order";

/// A running fake eBay; dereferences to its [`Controls`].
pub struct FakeEbay {
    /// `http://127.0.0.1:PORT`: the identity and API URLs in tests.
    pub base: String,
    shared: Arc<Shared>,
    _server: Server,
}

struct Shared {
    /// For the `href` and `next` links.
    base: String,
    controls: Controls,
    state: Mutex<EbayState>,
}

struct EbayState {
    client_id: String,
    client_secret: String,
    /// Seller -> orders.
    sellers: HashMap<String, Book<EbayOrder>>,
    /// Refresh token -> seller.
    refresh_tokens: HashMap<String, String>,
    access: HashMap<String, Access>,
    lifetime: Duration,
}

struct Access {
    seller: String,
    expires: Instant,
}

impl Deref for FakeEbay {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.shared.controls
    }
}

impl FakeEbay {
    /// Serves on a free port, for the client [`CLIENT_ID`] / [`CLIENT_SECRET`].
    pub fn start() -> FakeEbay {
        Self::start_with(CLIENT_ID, CLIENT_SECRET)
    }

    /// Serves on a free port, for the client with these credentials.
    pub fn start_with(client_id: &str, client_secret: &str) -> FakeEbay {
        let state = EbayState {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            sellers: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access: HashMap::new(),
            lifetime: Duration::from_secs(7200),
        };
        let (listener, base) = Server::bind(0);
        let shared = Arc::new(Shared { base: base.clone(), controls: Controls::default(), state: Mutex::new(state) });
        let router =
            Router::new().route("/identity/v1/oauth2/token", post(token)).route(ORDERS_PATH, get(get_orders)).with_state(shared.clone());
        FakeEbay { base, shared, _server: Server::spawn(listener, router) }
    }

    fn state(&self) -> MutexGuard<'_, EbayState> {
        lock(&self.shared.state)
    }

    /// The seller (created if new) whose user token `refresh_token` refreshes.
    pub fn add_seller(&self, refresh_token: &str, seller: &str) {
        let mut state = self.state();
        state.sellers.entry(seller.into()).or_default();
        state.refresh_tokens.insert(refresh_token.into(), seller.into());
    }

    /// Adds orders to the seller (created if new), replacing those with the same id.
    pub fn put_orders(&self, seller: &str, orders: impl IntoIterator<Item = EbayOrder>) {
        let mut state = self.state();
        let book = state.sellers.entry(seller.into()).or_default();
        orders.into_iter().for_each(|order| book.put(order));
    }

    /// Changes an order, making it the seller's most recently modified one (see
    /// `Book::update`); false when the seller has no such order.
    pub fn update_order(&self, seller: &str, id: &str, change: impl FnOnce(&mut EbayOrder)) -> bool {
        self.state().sellers.get_mut(seller).is_some_and(|book| book.update(&id.to_string(), change))
    }

    /// The seller's orders in (lastModifiedDate, orderId) order.
    pub fn orders(&self, seller: &str) -> Vec<EbayOrder> {
        self.state().sellers.get(seller).map(Book::all).unwrap_or_default()
    }

    /// How long access tokens issued from now on live (`expires_in`).
    pub fn token_lifetime(&self, secs: u64) {
        self.state().lifetime = Duration::from_secs(secs);
    }

    /// Every access token issued so far has expired (401 until the client refreshes).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.state().access.values_mut().for_each(|access| access.expires = now);
    }

    /// Every refresh token is revoked (400 invalid_grant): access tokens already issued
    /// live out their lifetime, then only a new consent helps.
    pub fn revoke_refresh(&self) {
        self.state().refresh_tokens.clear();
    }
}

const STYLE: Style = Style { truncated: r#"{"href":"","total":3,"limit":200,"offset":0,"orders":[{"orderId":"12-3"#, too_many };

fn too_many(_secs: f64) -> Response {
    api_error(StatusCode::TOO_MANY_REQUESTS, 2001, "ACCESS", "Too many requests. The request limit has been reached for the resource.")
}

fn api_error(status: StatusCode, error_id: u32, domain: &str, message: &str) -> Response {
    json(status, json!({ "errors": [{ "errorId": error_id, "domain": domain, "category": "REQUEST", "message": message }] }))
}

fn invalid_token() -> Response {
    let error = json!({
        "errorId": 1001, "domain": "OAuth", "category": "REQUEST", "message": "Invalid access token",
        "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header.",
    });
    json(StatusCode::UNAUTHORIZED, json!({ "errors": [error] }))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(status, json!({ "error": error, "error_description": description }))
}

/// POST /identity/v1/oauth2/token: a user access token for a refresh token.
async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    if let Some(answer) = shared.controls.gate_token(route::TOKEN) {
        return answer;
    }
    let mut state = lock(&shared.state);
    if basic_credentials(&headers) != Some((state.client_id.clone(), state.client_secret.clone())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    }
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "request is missing a required parameter");
    };
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant type in request is not supported by the authorization server",
        );
    }
    let refresh_token = form.get("refresh_token").map(String::as_str).unwrap_or_default();
    let Some(seller) = state.refresh_tokens.get(refresh_token).cloned() else {
        let description = "the provided authorization refresh token is invalid or was issued to another client";
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description);
    };
    let access_token = format!("v^1.1#i^1#p^3#r^1#{}", random_hex(24));
    let lifetime = state.lifetime;
    state.access.insert(access_token.clone(), Access { seller, expires: Instant::now() + lifetime });
    drop(state);
    shared.controls.token_refreshed();
    json(StatusCode::OK, json!({ "access_token": access_token, "expires_in": lifetime.as_secs(), "token_type": "User Access Token" }))
}

/// `Authorization: Basic base64(client_id:client_secret)`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.into(), secret.into()))
}

/// A getOrders request.
struct OrdersQuery {
    /// The `filter` parameter as sent, repeated in the links.
    filter: Option<String>,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    limit: usize,
    offset: usize,
}

/// GET /sell/fulfillment/v1/order.
async fn get_orders(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    if let Some(answer) = shared.controls.gate(route::GET_ORDERS, &STYLE).await {
        return answer;
    }
    let bearer = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| value.strip_prefix("Bearer "));
    let state = lock(&shared.state);
    let Some(seller) = bearer.and_then(|token| state.seller(token)) else { return invalid_token() };
    let query = match query.map_err(|_| "Invalid query string".to_string()).and_then(|Query(params)| OrdersQuery::read(&params)) {
        Ok(query) => query,
        Err(message) => return api_error(StatusCode::BAD_REQUEST, 30700, "API_FULFILLMENT", &message),
    };
    let body = state
        .sellers
        .get(&seller)
        .map(|book| page(book, &query, &shared.base))
        .unwrap_or_else(|| page(&Book::default(), &query, &shared.base));
    drop(state);
    shared.controls.page_served();
    json(StatusCode::OK, body)
}

impl EbayState {
    /// The seller of a live access token.
    fn seller(&self, token: &str) -> Option<String> {
        self.access.get(token).filter(|access| access.expires > Instant::now()).map(|access| access.seller.clone())
    }
}

/// `{"href","total","limit","offset","next"?,"orders"}`: the matching orders in
/// (lastModifiedDate, orderId) order from `offset` on.
fn page(book: &Book<EbayOrder>, query: &OrdersQuery, base: &str) -> Value {
    let matching: Vec<&EbayOrder> = book.since(query.from).take_while(|order| query.to.is_none_or(|to| order.modified <= to)).collect();
    let total = matching.len();
    let orders: Vec<Value> = matching.iter().skip(query.offset).take(query.limit).map(|order| order.json()).collect();
    let mut body = json!({
        "href": query.link(base, query.offset),
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "orders": orders,
    });
    if query.offset + query.limit < total {
        body["next"] = query.link(base, query.offset + query.limit).into();
    }
    body
}

impl OrdersQuery {
    /// The parameters, or the message of the 400 they earn.
    fn read(params: &HashMap<String, String>) -> Result<OrdersQuery, String> {
        let number = |name: &str, default: usize| {
            params.get(name).map_or(Ok(default), |value| value.parse::<usize>().map_err(|_| format!("Invalid {name}")))
        };
        let (limit, offset) = (number("limit", DEFAULT_LIMIT)?, number("offset", 0)?);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!("The limit must be 1 to {MAX_LIMIT}"));
        }
        let filter = params.get("filter").cloned();
        let (from, to) = match &filter {
            Some(filter) => read_filter(filter).ok_or_else(|| format!("Invalid filter: {filter}"))?,
            None => (DateTime::UNIX_EPOCH, None),
        };
        Ok(OrdersQuery { filter, from, to, limit, offset })
    }

    /// The full URL of the page at `offset`.
    fn link(&self, base: &str, offset: usize) -> String {
        let filter = self.filter.as_ref().map(|filter| format!("filter={}&", encode(filter))).unwrap_or_default();
        format!("{base}{ORDERS_PATH}?{filter}limit={}&offset={offset}", self.limit)
    }
}

/// `lastmodifieddate:[<from>..]` or `lastmodifieddate:[<from>..<to>]`: the only filter
/// the connector sends.
fn read_filter(filter: &str) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let range = filter.trim().strip_prefix("lastmodifieddate:[")?.strip_suffix(']')?;
    let (from, to) = range.split_once("..")?;
    let to = if to.is_empty() { None } else { Some(parse_time(to)?) };
    Some((parse_time(from)?, to))
}

/// An eBay order (see [`EbayOrder::new`] for the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct EbayOrder {
    /// `12-34567-89012`.
    pub id: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// NOT_STARTED, IN_PROGRESS or FULFILLED.
    pub fulfillment_status: String,
    /// PAID, PENDING, FULLY_REFUNDED, PARTIALLY_REFUNDED or FAILED.
    pub payment_status: String,
    /// NONE_REQUESTED, IN_PROGRESS or CANCELED.
    pub cancel_state: String,
    pub username: String,
    /// `None`: no email in the buyer's or the ship-to address.
    pub email: Option<String>,
    pub full_name: String,
    pub country: String,
    /// Of the total and every line.
    pub currency: String,
    pub total: String,
    pub line_items: Vec<EbayLineItem>,
    pub min_delivery: Option<DateTime<Utc>>,
    pub max_delivery: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EbayLineItem {
    pub sku: Option<String>,
    pub title: String,
    pub legacy_item_id: String,
    pub quantity: u32,
    /// lineItemCost: the line's total.
    pub cost: String,
}

impl Record for EbayOrder {
    type Id = String;
    fn key(&self) -> (DateTime<Utc>, String) {
        (self.modified, self.id.clone())
    }
    fn touch(&mut self, at: DateTime<Utc>) {
        self.modified = at;
    }
}

/// eBay's times: `2026-12-01T10:00:00.000Z`.
fn millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl EbayOrder {
    /// A paid, fulfilled order by Eva Huber in Austria for two headlamps (29.90 EUR),
    /// placed ten days ago, to be delivered between eight and six days ago, last modified
    /// seven days ago.
    pub fn new(id: &str) -> EbayOrder {
        let line = EbayLineItem {
            sku: Some("HL-1".into()),
            title: "Headlamp".into(),
            legacy_item_id: "1234567890".into(),
            quantity: 2,
            cost: "29.90".into(),
        };
        let placed = now_secs() - TimeDelta::days(10);
        EbayOrder {
            id: id.into(),
            created: placed,
            modified: placed,
            fulfillment_status: "FULFILLED".into(),
            payment_status: "PAID".into(),
            cancel_state: "NONE_REQUESTED".into(),
            username: "eva_h".into(),
            email: Some("eva@example.at".into()),
            full_name: "Eva Huber".into(),
            country: "AT".into(),
            currency: "EUR".into(),
            total: "29.90".into(),
            line_items: vec![line],
            min_delivery: None,
            max_delivery: None,
        }
        .placed(placed)
    }

    /// Moves the order's times to one placed at `at`: delivered two to four days later,
    /// last modified three days later.
    pub fn placed(mut self, at: DateTime<Utc>) -> Self {
        self.created = at;
        self.modified = at + TimeDelta::days(3);
        self.min_delivery = Some(at + TimeDelta::days(2));
        self.max_delivery = Some(at + TimeDelta::days(4));
        self
    }

    pub fn updated(mut self, at: DateTime<Utc>) -> Self {
        self.modified = at;
        self
    }

    /// The fulfillment, payment and cancel states.
    pub fn status(mut self, fulfillment: &str, payment: &str, cancel: &str) -> Self {
        self.fulfillment_status = fulfillment.into();
        self.payment_status = payment.into();
        self.cancel_state = cancel.into();
        self
    }

    pub fn email(mut self, email: Option<&str>) -> Self {
        self.email = email.map(Into::into);
        self
    }

    pub fn country(mut self, country: &str) -> Self {
        self.country = country.into();
        self
    }

    /// The order's total in `currency`, as its one line's cost.
    pub fn total(mut self, currency: &str, amount: &str) -> Self {
        self.currency = currency.into();
        self.total = amount.into();
        self.line_items.truncate(1);
        for line in &mut self.line_items {
            line.cost = amount.into();
        }
        self
    }

    /// `n` distinct orders placed a minute apart from `start` (to the second), modified
    /// in the same order, with states, countries, currencies, prices and missing fields
    /// varying (deterministically) from one to the next.
    pub fn generate(n: u64, start: DateTime<Utc>) -> Vec<EbayOrder> {
        let start = start.trunc_subsecs(0);
        (0..n).map(|i| Self::generated(i, start + TimeDelta::minutes(i as i64))).collect()
    }

    fn generated(i: u64, placed: DateTime<Utc>) -> EbayOrder {
        const NAMES: [(&str, &str); 5] = [
            ("eva_h", "Eva Huber"),
            ("jonas.s", "Jonas Schmidt"),
            ("mia-d", "Mia Dubois"),
            ("olly_smith", "Oliver Smith"),
            ("kenji_t", "Kenji Tanaka"),
        ];
        let (country, currency) = pick(&[("AT", "EUR"), ("DE", "EUR"), ("GB", "GBP"), ("FR", "EUR"), ("US", "USD"), ("IT", "EUR")], i);
        let fulfillment = pick(&["FULFILLED", "FULFILLED", "IN_PROGRESS", "NOT_STARTED"], i);
        let payment = pick(&["PAID", "PAID", "PAID", "PAID", "PENDING", "FULLY_REFUNDED", "PARTIALLY_REFUNDED", "FAILED"], i / 4);
        let cancel = if i % 9 == 8 {
            "CANCELED"
        } else if i % 29 == 28 {
            "IN_PROGRESS"
        } else {
            "NONE_REQUESTED"
        };
        let quantity = 1 + (i % 3) as u32;
        let cost = money((995 + (i * 131) % 9000) * u64::from(quantity));
        let (username, full_name) = pick(&NAMES, i / 3);
        let mut order = EbayOrder::new(&format!("{:02}-{:05}-{:05}", 10 + i / 10_000_000_000, (i / 100_000) % 100_000, i % 100_000))
            .placed(placed)
            .status(fulfillment, payment, cancel);
        order.username = format!("{username}{i}");
        order.full_name = full_name.into();
        order.email = (i % 11 != 10).then(|| format!("{:x}@members.ebay.com", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24));
        order.country = country.into();
        order.currency = currency.into();
        order.total = cost.clone();
        order.max_delivery = order.max_delivery.filter(|_| i % 23 != 22);
        order.line_items = vec![EbayLineItem {
            sku: (i % 19 != 18).then(|| format!("SKU-{}", i % 40)),
            title: format!("Product {}", i % 40),
            legacy_item_id: format!("{}", 1_000_000_000 + i % 40),
            quantity,
            cost,
        }];
        order
    }

    /// The getOrders `Order` object (absent parts left out, as eBay does).
    fn json(&self) -> Value {
        let price = |value: &str| json!({ "value": value, "currency": self.currency });
        let mut address = json!({ "fullName": self.full_name, "contactAddress": { "countryCode": self.country } });
        if let Some(email) = &self.email {
            address["email"] = email.as_str().into();
        }
        let mut instruction = json!({ "shippingStep": { "shipTo": address.clone() } });
        if let Some(at) = self.min_delivery {
            instruction["minEstimatedDeliveryDate"] = millis(at).into();
        }
        if let Some(at) = self.max_delivery {
            instruction["maxEstimatedDeliveryDate"] = millis(at).into();
        }
        let lines = self.line_items.iter().map(|line| {
            let mut item = json!({ "title": line.title, "legacyItemId": line.legacy_item_id, "quantity": line.quantity, "lineItemCost": price(&line.cost) });
            if let Some(sku) = &line.sku {
                item["sku"] = sku.as_str().into();
            }
            item
        });
        json!({
            "orderId": self.id,
            "creationDate": millis(self.created),
            "lastModifiedDate": millis(self.modified),
            "orderFulfillmentStatus": self.fulfillment_status,
            "orderPaymentStatus": self.payment_status,
            "cancelStatus": { "cancelState": self.cancel_state },
            "buyer": { "username": self.username, "buyerRegistrationAddress": address },
            "pricingSummary": { "total": price(&self.total) },
            "lineItems": lines.collect::<Vec<_>>(),
            "fulfillmentStartInstructions": [instruction],
        })
    }
}
