//! A fake Amazon: Login with Amazon's token endpoint, SP-API Orders v0 (getOrders with
//! NextToken paging, getOrderItems) and Solicitations v1 (getSolicitationActionsForOrder,
//! createProductReviewAndSellerFeedbackSolicitation: the review request is offered once per
//! shipped order, from 5 days after its earliest delivery date to 30 days after its latest),
//! rate limited per selling partner and operation.
//!
//! One fake serves every region: tests point the NA, EU and FE endpoints and the LWA URL
//! at the same base (or start one fake per region).

use super::{
    cursor_time, json, lock, money, now_secs, parse_time, pick, random_hex, rfc3339, Book, Bucket, Controls, Record, Server, Style,
};
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::{Bound, Deref};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Route names for [`Controls::requests`].
pub mod route {
    pub const TOKEN: &str = "lwa_token";
    pub const GET_ORDERS: &str = "getOrders";
    pub const GET_ORDER_ITEMS: &str = "getOrderItems";
    pub const GET_SOLICITATION_ACTIONS: &str = "getSolicitationActionsForOrder";
    pub const CREATE_SOLICITATION: &str = "createProductReviewAndSellerFeedbackSolicitation";
}

/// The LWA client [`FakeAmazon::start`] accepts.
pub const CLIENT_ID: &str = "amzn1.application-oa2-client.fake";
pub const CLIENT_SECRET: &str = "fake-lwa-client-secret";
/// Amazon.de.
pub const MARKETPLACE_DE: &str = "A1PA6795UKMFR9";
/// The largest (and default) `MaxResultsPerPage`.
pub const MAX_RESULTS_PER_PAGE: usize = 100;
/// Rate and burst of both operations until [`FakeAmazon::set_rate`]: generous, so tests
/// that are not about rate limits never meet one.
pub const DEFAULT_RATE: (f64, f64) = (50.0, 50.0);

const INVALID_GRANT: &str = "The request has an invalid grant parameter : refresh_token";

/// The rate-limited SP-API operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    GetOrders,
    GetOrderItems,
    GetSolicitationActions,
    CreateSolicitation,
}

/// Amazon's answer to a second review request for an order.
pub const ALREADY_SOLICITED: &str = "A solicitation has already been sent for this order.";

/// A running fake Amazon; dereferences to its [`Controls`].
pub struct FakeAmazon {
    /// `http://127.0.0.1:PORT`: the LWA URL and every regional SP-API endpoint in tests.
    pub base: String,
    shared: Arc<Shared>,
    _server: Server,
}

struct Shared {
    controls: Controls,
    state: Mutex<AmazonState>,
}

struct AmazonState {
    client_id: String,
    client_secret: String,
    /// Selling partner id -> orders.
    sellers: HashMap<String, Book<AmazonOrder>>,
    /// Refresh token -> selling partner id.
    refresh_tokens: HashMap<String, String>,
    /// spapi_oauth_code -> refresh token.
    codes: HashMap<String, String>,
    access: HashMap<String, Access>,
    lifetime: Duration,
    rates: HashMap<Operation, (f64, f64)>,
    buckets: HashMap<(String, Operation), Bucket>,
    /// (seller, order id) -> review requests Amazon took (at most one each).
    solicited: HashMap<(String, String), u32>,
    /// Creates refused: outside the window, or the order solicited already.
    refused_creates: u64,
    /// The next create finds its order solicited already (by the seller, a moment before).
    race_next_create: bool,
}

struct Access {
    seller: String,
    expires: Instant,
}

impl Deref for FakeAmazon {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.shared.controls
    }
}

impl FakeAmazon {
    /// Serves on a free port, for the LWA client [`CLIENT_ID`] / [`CLIENT_SECRET`].
    pub fn start() -> FakeAmazon {
        Self::start_with(CLIENT_ID, CLIENT_SECRET)
    }

    /// Serves on a free port, for the LWA client with these credentials.
    pub fn start_with(client_id: &str, client_secret: &str) -> FakeAmazon {
        let state = AmazonState {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            sellers: HashMap::new(),
            refresh_tokens: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            lifetime: Duration::from_secs(3600),
            rates: HashMap::new(),
            buckets: HashMap::new(),
            solicited: HashMap::new(),
            refused_creates: 0,
            race_next_create: false,
        };
        let shared = Arc::new(Shared { controls: Controls::default(), state: Mutex::new(state) });
        let (listener, base) = Server::bind(0);
        let router = Router::new()
            .route("/auth/o2/token", post(token))
            .route("/orders/v0/orders", get(get_orders))
            .route("/orders/v0/orders/{order_id}/orderItems", get(get_order_items))
            .route("/solicitations/v1/orders/{order_id}", get(get_solicitation_actions))
            .route("/solicitations/v1/orders/{order_id}/solicitations/productReviewAndSellerFeedback", post(create_solicitation))
            .with_state(shared.clone());
        FakeAmazon { base, shared, _server: Server::spawn(listener, router) }
    }

    fn state(&self) -> MutexGuard<'_, AmazonState> {
        lock(&self.shared.state)
    }

    /// The selling partner (created if new) authorised with `refresh_token`.
    pub fn add_seller(&self, refresh_token: &str, selling_partner_id: &str) {
        let mut state = self.state();
        state.sellers.entry(selling_partner_id.into()).or_default();
        state.refresh_tokens.insert(refresh_token.into(), selling_partner_id.into());
    }

    /// The `spapi_oauth_code` of a consent: the code grant exchanges it (once) for
    /// `refresh_token` (of a seller added with [`FakeAmazon::add_seller`]).
    pub fn add_auth_code(&self, code: &str, refresh_token: &str) {
        self.state().codes.insert(code.into(), refresh_token.into());
    }

    /// Adds orders to the seller (created if new), replacing those with the same id.
    pub fn put_orders(&self, selling_partner_id: &str, orders: impl IntoIterator<Item = AmazonOrder>) {
        let mut state = self.state();
        let book = state.sellers.entry(selling_partner_id.into()).or_default();
        orders.into_iter().for_each(|order| book.put(order));
    }

    /// Changes an order, making it the seller's most recently updated one (see
    /// `Book::update`); false when the seller has no such order.
    pub fn update_order(&self, selling_partner_id: &str, id: &str, change: impl FnOnce(&mut AmazonOrder)) -> bool {
        self.state().sellers.get_mut(selling_partner_id).is_some_and(|book| book.update(&id.to_string(), change))
    }

    /// The seller's orders in (LastUpdateDate, AmazonOrderId) order.
    pub fn orders(&self, selling_partner_id: &str) -> Vec<AmazonOrder> {
        self.state().sellers.get(selling_partner_id).map(Book::all).unwrap_or_default()
    }

    /// The operation's rate limit (requests per second, burst) for every seller, with
    /// full buckets; sent in `x-amzn-RateLimit-Limit`.
    pub fn set_rate(&self, operation: Operation, per_sec: f64, burst: f64) {
        let mut state = self.state();
        state.rates.insert(operation, (per_sec, burst));
        state.buckets.retain(|(_, op), _| *op != operation);
    }

    /// The review requests Amazon took, per (seller, order id).
    pub fn solicited(&self) -> HashMap<(String, String), u32> {
        self.state().solicited.clone()
    }

    /// The seller asked for the order's review in Seller Central (Amazon offers no other).
    pub fn seller_solicits(&self, selling_partner_id: &str, order_id: &str) {
        self.state().solicited.insert((selling_partner_id.into(), order_id.into()), 0);
    }

    /// The next create finds its order solicited by the seller a moment before.
    pub fn race_next_create(&self) {
        self.state().race_next_create = true;
    }

    /// Review requests refused (outside the window, or asked for a second time).
    pub fn refused_creates(&self) -> u64 {
        self.state().refused_creates
    }

    /// How long access tokens issued from now on live (`expires_in`).
    pub fn token_lifetime(&self, secs: u64) {
        self.state().lifetime = Duration::from_secs(secs);
    }

    /// Every access token issued so far has expired (403 until the client refreshes).
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

const STYLE: Style = Style { truncated: r#"{"payload":{"Orders":[{"AmazonOrderId":"302-12"#, too_many: quota_exceeded };

/// SP-API's 429 (it sends no Retry-After: clients pace by `x-amzn-RateLimit-Limit`).
fn quota_exceeded(_secs: f64) -> Response {
    sp_error(StatusCode::TOO_MANY_REQUESTS, "QuotaExceeded", "You exceeded your quota for the requested resource.", None)
}

fn sp_error(status: StatusCode, code: &str, message: &str, details: Option<&str>) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(details) = details {
        error["details"] = details.into();
    }
    json(status, json!({ "errors": [error] }))
}

fn invalid_input(message: &str) -> Response {
    sp_error(StatusCode::BAD_REQUEST, "InvalidInput", message, None)
}

fn lwa_error(error: &str, description: &str) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": error, "error_description": description }))
}

/// POST /auth/o2/token: the refresh-token grant, and the authorization-code grant of a
/// seller's consent (which also answers the refresh token).
async fn token(State(shared): State<Arc<Shared>>, form: Result<Form<HashMap<String, String>>, FormRejection>) -> Response {
    if let Some(answer) = shared.controls.gate_token(route::TOKEN) {
        return answer;
    }
    let Ok(Form(form)) = form else { return lwa_error("invalid_request", "The request body is not a form") };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut state = lock(&shared.state);
    if field("client_id") != state.client_id || field("client_secret") != state.client_secret {
        return lwa_error("invalid_grant", INVALID_GRANT);
    }
    let refresh_token = match field("grant_type") {
        "refresh_token" => field("refresh_token").to_string(),
        "authorization_code" => match state.codes.remove(field("code")) {
            Some(refresh_token) => refresh_token,
            None => return lwa_error("invalid_grant", "The request has an invalid grant parameter : code"),
        },
        _ => return lwa_error("unsupported_grant_type", "The grant_type is not supported"),
    };
    let Some(seller) = state.refresh_tokens.get(&refresh_token).cloned() else { return lwa_error("invalid_grant", INVALID_GRANT) };
    let access_token = format!("Atza|{}", random_hex(24));
    let lifetime = state.lifetime;
    state.access.insert(access_token.clone(), Access { seller, expires: Instant::now() + lifetime });
    drop(state);
    let mut body = json!({ "access_token": access_token, "token_type": "bearer", "expires_in": lifetime.as_secs() });
    if field("grant_type") == "authorization_code" {
        body["refresh_token"] = refresh_token.into();
    } else {
        shared.controls.token_refreshed();
    }
    json(StatusCode::OK, body)
}

/// Whose an SP-API request is, or why it is refused.
enum Caller {
    Seller(String),
    Refused(Response),
    /// Over the operation's rate limit: a violation.
    OverQuota(Response),
}

impl AmazonState {
    /// The caller's seller, after taking one request from its bucket for `operation`.
    fn admit(&mut self, headers: &HeaderMap, operation: Operation) -> Caller {
        let token = headers.get("x-amz-access-token").and_then(|value| value.to_str().ok()).unwrap_or_default();
        let seller = match self.access.get(token) {
            None => Err("The access token you provided is revoked, malformed or invalid."),
            Some(access) if access.expires <= Instant::now() => Err("The access token you provided has expired."),
            Some(access) => Ok(access.seller.clone()),
        };
        match seller {
            Ok(seller) => self.take(seller, operation),
            Err(details) => {
                Caller::Refused(sp_error(StatusCode::FORBIDDEN, "Unauthorized", "Access to requested resource is denied.", Some(details)))
            }
        }
    }

    fn take(&mut self, seller: String, operation: Operation) -> Caller {
        let (rate, burst) = self.rate(operation);
        let bucket = self.buckets.entry((seller.clone(), operation)).or_insert_with(|| Bucket::full(burst, rate));
        if bucket.take(1.0) {
            Caller::Seller(seller)
        } else {
            Caller::OverQuota(with_rate(quota_exceeded(0.0), rate))
        }
    }

    fn rate(&self, operation: Operation) -> (f64, f64) {
        self.rates.get(&operation).copied().unwrap_or(DEFAULT_RATE)
    }
}

/// Adds `x-amzn-RateLimit-Limit: <rate>` to an answer.
fn with_rate(mut answer: Response, rate: f64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("{rate:?}")) {
        answer.headers_mut().insert("x-amzn-ratelimit-limit", value);
    }
    answer
}

/// Faults, token and rate limit of an SP-API request: its seller, or the whole answer.
async fn caller(shared: &Shared, headers: &HeaderMap, operation: Operation, route: &'static str) -> Caller {
    if let Some(answer) = shared.controls.gate(route, &STYLE).await {
        return Caller::Refused(answer);
    }
    let caller = lock(&shared.state).admit(headers, operation);
    if let Caller::OverQuota(_) = caller {
        shared.controls.violation();
    }
    caller
}

/// A getOrders request: the first page's filters, or the NextToken's.
struct OrdersQuery {
    marketplaces: Vec<String>,
    after: DateTime<Utc>,
    /// The upper bound, fixed by the first page so orders updated while a client pages
    /// wait for its next sync instead of shifting the pages.
    before: Option<DateTime<Utc>>,
    /// The last order of the previous page.
    last: Option<(DateTime<Utc>, String)>,
    max: usize,
}

/// GET /orders/v0/orders.
async fn get_orders(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let seller = match caller(&shared, &headers, Operation::GetOrders, route::GET_ORDERS).await {
        Caller::Seller(seller) => seller,
        Caller::Refused(answer) | Caller::OverQuota(answer) => return answer,
    };
    let Ok(Query(params)) = query else { return invalid_input("Invalid query string") };
    let query = match OrdersQuery::read(&params) {
        Ok(query) => query,
        Err(message) => return invalid_input(&message),
    };
    let state = lock(&shared.state);
    let payload = state.sellers.get(&seller).map(|book| page(book, &query)).unwrap_or_else(|| page(&Book::default(), &query));
    let rate = state.rate(Operation::GetOrders).0;
    drop(state);
    shared.controls.page_served();
    with_rate(json(StatusCode::OK, json!({ "payload": payload })), rate)
}

/// One page of the seller's orders: `{"Orders", "NextToken"?, "LastUpdatedBefore"}`.
fn page(book: &Book<AmazonOrder>, query: &OrdersQuery) -> Value {
    let before = query.before.unwrap_or_else(|| book.latest().map_or(now_secs(), |latest| latest.max(now_secs())));
    let start = match &query.last {
        Some(last) => Bound::Excluded(last.clone()),
        None => Bound::Included((query.after, String::new())),
    };
    let mut orders: Vec<&AmazonOrder> = book
        .from(start)
        .take_while(|order| order.last_update <= before)
        .filter(|order| query.marketplaces.contains(&order.marketplace_id))
        .take(query.max + 1)
        .collect();
    let more = orders.len() > query.max;
    orders.truncate(query.max);
    let mut payload = json!({
        "Orders": orders.iter().map(|order| order.json()).collect::<Vec<_>>(),
        "LastUpdatedBefore": rfc3339(before),
    });
    if let Some(last) = orders.last().filter(|_| more) {
        payload["NextToken"] = next_token(query, before, last).into();
    }
    payload
}

/// An opaque NextToken: base64 (with `+`, `/` and `=`, which a client must URL-encode) of
/// `after|before|last update|page size|last id` (times in unix nanoseconds).
fn next_token(query: &OrdersQuery, before: DateTime<Utc>, last: &AmazonOrder) -> String {
    let times = [query.after, before, last.last_update].map(cursor_time);
    let text = format!("{}|{}|{}|{}|{}", times[0], times[1], times[2], query.max, last.id);
    base64::engine::general_purpose::STANDARD.encode(text)
}

impl OrdersQuery {
    /// The query's parameters, or the InvalidInput message they earn.
    fn read(params: &HashMap<String, String>) -> Result<OrdersQuery, String> {
        let marketplaces: Vec<String> = params
            .get("MarketplaceIds")
            .map(|ids| ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(Into::into).collect())
            .unwrap_or_default();
        if marketplaces.is_empty() {
            return Err("MarketplaceIds is required".into());
        }
        if let Some(token) = params.get("NextToken") {
            return read_next_token(token, marketplaces).ok_or_else(|| "Invalid NextToken".into());
        }
        let after = params.get("LastUpdatedAfter").ok_or("LastUpdatedAfter or NextToken is required")?;
        let after = parse_time(after).ok_or("LastUpdatedAfter is not an ISO 8601 date-time")?;
        let max = match params.get("MaxResultsPerPage") {
            None => MAX_RESULTS_PER_PAGE,
            Some(max) => max
                .parse::<usize>()
                .ok()
                .filter(|max| (1..=MAX_RESULTS_PER_PAGE).contains(max))
                .ok_or("MaxResultsPerPage must be 1 to 100")?,
        };
        Ok(OrdersQuery { marketplaces, after, before: None, last: None, max })
    }
}

fn read_next_token(token: &str, marketplaces: Vec<String>) -> Option<OrdersQuery> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(5, '|');
    let mut time = || Some(DateTime::from_timestamp_nanos(parts.next()?.parse().ok()?));
    let (after, before, last_update) = (time()?, time()?, time()?);
    let (max, id) = (parts.next()?.parse().ok()?, parts.next()?.to_string());
    Some(OrdersQuery { marketplaces, after, before: Some(before), last: Some((last_update, id)), max })
}

/// GET /orders/v0/orders/{orderId}/orderItems: every item on one page.
async fn get_order_items(State(shared): State<Arc<Shared>>, headers: HeaderMap, order_id: Result<Path<String>, PathRejection>) -> Response {
    let seller = match caller(&shared, &headers, Operation::GetOrderItems, route::GET_ORDER_ITEMS).await {
        Caller::Seller(seller) => seller,
        Caller::Refused(answer) | Caller::OverQuota(answer) => return answer,
    };
    let Ok(Path(order_id)) = order_id else { return invalid_input("Invalid orderId") };
    let state = lock(&shared.state);
    let rate = state.rate(Operation::GetOrderItems).0;
    let items = state.sellers.get(&seller).and_then(|book| book.get(&order_id)).map(AmazonOrder::items_json);
    drop(state);
    let answer = match items {
        Some(items) => json(StatusCode::OK, json!({ "payload": { "AmazonOrderId": order_id, "OrderItems": items } })),
        None => sp_error(StatusCode::NOT_FOUND, "NotFound", &format!("The order {order_id} was not found"), None),
    };
    with_rate(answer, rate)
}

/// The marketplace a Solicitations request names, or the answer refusing it.
fn marketplace_of(query: &Result<Query<HashMap<String, String>>, QueryRejection>) -> Result<String, Response> {
    match query {
        Ok(Query(params)) => match params.get("marketplaceIds").filter(|m| !m.is_empty()) {
            Some(m) => Ok(m.clone()),
            None => Err(invalid_input("marketplaceIds is required")),
        },
        Err(_) => Err(invalid_input("Invalid query string")),
    }
}

impl AmazonOrder {
    /// Whether Amazon offers a review request for the order now: shipped, and between 5
    /// days after its earliest delivery date and 30 days after its latest.
    pub fn in_solicitation_window(&self, now: DateTime<Utc>) -> bool {
        let shipped = matches!(self.status.as_str(), "Shipped" | "PartiallyShipped");
        match (self.earliest_delivery, self.latest_delivery.or(self.earliest_delivery)) {
            (Some(earliest), Some(latest)) => shipped && now >= earliest + TimeDelta::days(5) && now <= latest + TimeDelta::days(30),
            _ => false,
        }
    }
}

/// GET /solicitations/v1/orders/{amazonOrderId}: the actions (HAL) Amazon offers for the order.
async fn get_solicitation_actions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    order_id: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let seller = match caller(&shared, &headers, Operation::GetSolicitationActions, route::GET_SOLICITATION_ACTIONS).await {
        Caller::Seller(seller) => seller,
        Caller::Refused(answer) | Caller::OverQuota(answer) => return answer,
    };
    let Ok(Path(order_id)) = order_id else { return invalid_input("Invalid amazonOrderId") };
    let marketplace = match marketplace_of(&query) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let state = lock(&shared.state);
    let rate = state.rate(Operation::GetSolicitationActions).0;
    let Some(order) = state.sellers.get(&seller).and_then(|book| book.get(&order_id)).cloned() else {
        return with_rate(sp_error(StatusCode::NOT_FOUND, "NotFound", &format!("The order {order_id} was not found"), None), rate);
    };
    let offered = order.in_solicitation_window(Utc::now()) && !state.solicited.contains_key(&(seller, order_id.clone()));
    drop(state);
    let path = format!("/solicitations/v1/orders/{order_id}");
    let action = |_: ()| json!({ "href": format!("{path}/solicitations/productReviewAndSellerFeedback?marketplaceIds={marketplace}"), "name": "productReviewAndSellerFeedback" });
    let actions: Vec<Value> = if offered { vec![action(())] } else { Vec::new() };
    let body = json!({
        "_links": { "actions": actions, "self": { "href": format!("{path}?marketplaceIds={marketplace}") } },
        "_embedded": { "actions": actions.iter().map(|a| json!({ "name": a["name"], "_links": { "self": { "href": a["href"] } } })).collect::<Vec<_>>() },
    });
    with_rate(json(StatusCode::OK, body), rate)
}

/// POST .../solicitations/productReviewAndSellerFeedback: Amazon sends its review request
/// (201), once per order and only within the window.
async fn create_solicitation(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    order_id: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let seller = match caller(&shared, &headers, Operation::CreateSolicitation, route::CREATE_SOLICITATION).await {
        Caller::Seller(seller) => seller,
        Caller::Refused(answer) | Caller::OverQuota(answer) => return answer,
    };
    let Ok(Path(order_id)) = order_id else { return invalid_input("Invalid amazonOrderId") };
    if let Err(answer) = marketplace_of(&query) {
        return answer;
    }
    let mut state = lock(&shared.state);
    let rate = state.rate(Operation::CreateSolicitation).0;
    let Some(order) = state.sellers.get(&seller).and_then(|book| book.get(&order_id)).cloned() else {
        return with_rate(sp_error(StatusCode::NOT_FOUND, "NotFound", &format!("The order {order_id} was not found"), None), rate);
    };
    let key = (seller, order_id);
    if std::mem::take(&mut state.race_next_create) {
        state.solicited.insert(key.clone(), 0);
    }
    let answer = if state.solicited.contains_key(&key) {
        state.refused_creates += 1;
        invalid_input(ALREADY_SOLICITED)
    } else if !order.in_solicitation_window(Utc::now()) {
        state.refused_creates += 1;
        invalid_input("The order is not eligible for a solicitation at this time.")
    } else {
        *state.solicited.entry(key).or_default() += 1;
        json(StatusCode::CREATED, json!({}))
    };
    with_rate(answer, rate)
}

/// An Amazon order (see [`AmazonOrder::new`] for the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct AmazonOrder {
    /// AmazonOrderId, `302-1234567-1234567`.
    pub id: String,
    pub purchase_date: DateTime<Utc>,
    pub last_update: DateTime<Utc>,
    /// Pending, Unshipped, PartiallyShipped, Shipped, Canceled or Unfulfillable.
    pub status: String,
    pub marketplace_id: String,
    pub sales_channel: String,
    /// Of the total and every item price.
    pub currency: String,
    /// `None`: no OrderTotal (as for some pending orders).
    pub total: Option<String>,
    pub earliest_delivery: Option<DateTime<Utc>>,
    pub latest_delivery: Option<DateTime<Utc>>,
    /// `None`: no ShippingAddress.
    pub country: Option<String>,
    /// `None`: no BuyerInfo.
    pub buyer_email: Option<String>,
    pub items: Vec<AmazonItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AmazonItem {
    pub asin: String,
    pub sku: String,
    pub title: String,
    pub quantity: u32,
    /// ItemPrice: the line's total.
    pub price: String,
}

impl Record for AmazonOrder {
    type Id = String;
    fn key(&self) -> (DateTime<Utc>, String) {
        (self.last_update, self.id.clone())
    }
    fn touch(&mut self, at: DateTime<Utc>) {
        self.last_update = at;
    }
}

impl AmazonOrder {
    /// A shipped Amazon.de order for two headlamps (29.90 EUR) to Germany, placed ten days
    /// ago, delivered between eight and six days ago, last updated seven days ago.
    pub fn new(id: &str) -> AmazonOrder {
        let item =
            AmazonItem { asin: "B0HL000001".into(), sku: "HL-1".into(), title: "Headlamp".into(), quantity: 2, price: "29.90".into() };
        let placed = now_secs() - TimeDelta::days(10);
        AmazonOrder {
            id: id.into(),
            purchase_date: placed,
            last_update: placed,
            status: "Shipped".into(),
            marketplace_id: MARKETPLACE_DE.into(),
            sales_channel: "Amazon.de".into(),
            currency: "EUR".into(),
            total: Some("29.90".into()),
            earliest_delivery: None,
            latest_delivery: None,
            country: Some("DE".into()),
            buyer_email: Some("abc123@marketplace.amazon.de".into()),
            items: vec![item],
        }
        .placed(placed)
    }

    /// Moves the order's times to one purchased at `at`: delivered two to four days later,
    /// last updated three days later.
    pub fn placed(mut self, at: DateTime<Utc>) -> Self {
        self.purchase_date = at;
        self.last_update = at + TimeDelta::days(3);
        self.earliest_delivery = Some(at + TimeDelta::days(2));
        self.latest_delivery = Some(at + TimeDelta::days(4));
        self
    }

    pub fn updated(mut self, at: DateTime<Utc>) -> Self {
        self.last_update = at;
        self
    }

    pub fn status(mut self, status: &str) -> Self {
        self.status = status.into();
        self
    }

    pub fn email(mut self, email: Option<&str>) -> Self {
        self.buyer_email = email.map(Into::into);
        self
    }

    pub fn country(mut self, country: Option<&str>) -> Self {
        self.country = country.map(Into::into);
        self
    }

    /// The order's total in `currency`, as its one item's price.
    pub fn total(mut self, currency: &str, amount: &str) -> Self {
        self.currency = currency.into();
        self.total = Some(amount.into());
        self.items.truncate(1);
        for item in &mut self.items {
            item.price = amount.into();
        }
        self
    }

    /// `n` distinct Amazon.de orders purchased a minute apart from `start` (to the
    /// second), updated in the same order, with statuses, buyer countries, prices and
    /// missing fields varying (deterministically) from one to the next.
    pub fn generate(n: u64, start: DateTime<Utc>) -> Vec<AmazonOrder> {
        let start = start.trunc_subsecs(0);
        (0..n).map(|i| Self::generated(i, start + TimeDelta::minutes(i as i64))).collect()
    }

    fn generated(i: u64, placed: DateTime<Utc>) -> AmazonOrder {
        let status = pick(&["Shipped", "Shipped", "Shipped", "Unshipped", "Pending", "PartiallyShipped", "Canceled", "Unfulfillable"], i);
        let quantity = 1 + (i % 3) as u32;
        let price = money((995 + (i * 131) % 9000) * u64::from(quantity));
        let mut order =
            AmazonOrder::new(&format!("302-{:07}-{:07}", i % 10_000_000, (i * 7919) % 10_000_000)).placed(placed).status(status);
        order.country = (i % 17 != 16).then(|| pick(&["DE", "AT", "FR", "IT", "NL", "PL", "GB"], i).into());
        order.buyer_email = (status != "Pending" && i % 11 != 10).then(|| format!("{}@marketplace.amazon.de", relay_name(i)));
        order.total = (status != "Pending").then(|| price.clone());
        order.latest_delivery = order.latest_delivery.filter(|_| i % 23 != 22);
        order.items = vec![AmazonItem {
            asin: format!("B0{:08}", i % 40),
            sku: format!("SKU-{}", i % 40),
            title: format!("Product {}", i % 40),
            quantity,
            price,
        }];
        order
    }

    /// The getOrders `Order` object (absent parts left out, as SP-API does).
    fn json(&self) -> Value {
        let mut order = json!({
            "AmazonOrderId": self.id,
            "PurchaseDate": rfc3339(self.purchase_date),
            "LastUpdateDate": rfc3339(self.last_update),
            "OrderStatus": self.status,
            "MarketplaceId": self.marketplace_id,
            "SalesChannel": self.sales_channel,
        });
        let optional = [
            ("OrderTotal", self.total.as_ref().map(|amount| json!({ "CurrencyCode": self.currency, "Amount": amount }))),
            ("EarliestDeliveryDate", self.earliest_delivery.map(|at| rfc3339(at).into())),
            ("LatestDeliveryDate", self.latest_delivery.map(|at| rfc3339(at).into())),
            ("ShippingAddress", self.country.as_ref().map(|country| json!({ "CountryCode": country }))),
            ("BuyerInfo", self.buyer_email.as_ref().map(|email| json!({ "BuyerEmail": email }))),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                order[name] = value;
            }
        }
        order
    }

    fn items_json(&self) -> Vec<Value> {
        let items = self.items.iter().map(|item| {
            json!({
                "ASIN": item.asin, "SellerSKU": item.sku, "Title": item.title, "QuantityOrdered": item.quantity,
                "ItemPrice": { "CurrencyCode": self.currency, "Amount": item.price },
            })
        });
        items.collect()
    }
}

/// The anonymised mailbox of generated buyer `i`, as Amazon's relay addresses look.
fn relay_name(i: u64) -> String {
    format!("{:x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24)
}
