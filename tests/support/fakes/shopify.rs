//! A fake Shopify (Admin API 2025-07): the OAuth install flow, the GraphQL orders query
//! with cursor paging and the cost throttle, and signed webhooks for tests to send.
//!
//! Real shops are told apart by host name; on loopback one fake serves every shop and
//! tells them apart by access token.

use super::{
    cursor_time, encode, json, lock, money, now_secs, parse_time, pick, random_hex, rfc3339, Book, Bucket, Controls, Record, Server, Style,
};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::{Bound, Deref};
use std::sync::{Arc, Mutex};

/// Route names for [`Controls::requests`].
pub mod route {
    pub const AUTHORIZE: &str = "authorize";
    pub const ACCESS_TOKEN: &str = "access_token";
    pub const GRAPHQL: &str = "graphql";
}

pub const API_VERSION: &str = "2025-07";
/// The app credentials [`FakeShopify::start`] accepts.
pub const APP_KEY: &str = "fake-shopify-app-key";
pub const APP_SECRET: &str = "fake-shopify-app-secret";
/// The shop the OAuth flow installs into unless told otherwise ([`FakeShopify::authorize_as`]).
pub const SHOP: &str = "nordlicht.myshopify.com";
/// What one orders query costs unless [`FakeShopify::set_query_cost`] says otherwise.
pub const DEFAULT_QUERY_COST: u32 = 52;
pub const MAXIMUM_AVAILABLE: f64 = 2000.0;
pub const RESTORE_RATE: f64 = 100.0;
/// The largest page `first` may ask for.
pub const MAX_FIRST: u64 = 250;

const INVALID_TOKEN: &str = "[API] Invalid API key or access token (unrecognized login or wrong password)";

/// A running fake Shopify; dereferences to its [`Controls`].
pub struct FakeShopify {
    /// `http://127.0.0.1:PORT`, Starling's `shopify_base_url` in tests.
    pub base: String,
    shared: Arc<Shared>,
    _server: Server,
}

struct Shared {
    controls: Controls,
    state: Mutex<ShopifyState>,
}

struct ShopifyState {
    app_key: String,
    app_secret: String,
    shops: HashMap<String, Shop>,
    /// Access token -> shop domain.
    tokens: HashMap<String, String>,
    /// Authorization code -> the install it grants.
    codes: HashMap<String, Grant>,
    oauth_shop: String,
    query_cost: u32,
    throttled: bool,
}

struct Shop {
    orders: Book<ShopifyOrder>,
    bucket: Bucket,
    /// Each order's node as JSON text, made once: the benchmark's backfill measures
    /// Starling, not how fast the fake writes JSON. Emptied whenever an order changes.
    nodes: HashMap<u64, String>,
}

impl Default for Shop {
    fn default() -> Self {
        Shop { orders: Book::default(), bucket: Bucket::full(MAXIMUM_AVAILABLE, RESTORE_RATE), nodes: HashMap::new() }
    }
}

struct Grant {
    shop: String,
    scope: String,
}

impl Deref for FakeShopify {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.shared.controls
    }
}

impl FakeShopify {
    /// Serves on a free port, for the app [`APP_KEY`] / [`APP_SECRET`].
    pub fn start() -> FakeShopify {
        Self::start_with(APP_KEY, APP_SECRET)
    }

    /// Serves on a free port, for the app with these credentials (the code exchange checks
    /// them, the OAuth redirect is signed with the secret).
    pub fn start_with(app_key: &str, app_secret: &str) -> FakeShopify {
        Self::start_on(0, app_key, app_secret)
    }

    /// Serves on 127.0.0.1:`port` (0: a free one).
    pub fn start_on(port: u16, app_key: &str, app_secret: &str) -> FakeShopify {
        let state = ShopifyState {
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            shops: HashMap::new(),
            tokens: HashMap::new(),
            codes: HashMap::new(),
            oauth_shop: SHOP.into(),
            query_cost: DEFAULT_QUERY_COST,
            throttled: true,
        };
        let shared = Arc::new(Shared { controls: Controls::default(), state: Mutex::new(state) });
        let (listener, base) = Server::bind(port);
        let router = Router::new()
            .route("/admin/oauth/authorize", get(authorize))
            .route("/admin/oauth/access_token", post(access_token))
            .route(&format!("/admin/api/{API_VERSION}/graphql.json"), post(graphql))
            .with_state(shared.clone());
        FakeShopify { base, shared, _server: Server::spawn(listener, router) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ShopifyState> {
        lock(&self.shared.state)
    }

    /// The shop `domain` (created if new) accepts the access token `token`.
    pub fn add_shop(&self, domain: &str, token: &str) {
        let mut state = self.state();
        state.shops.entry(domain.into()).or_default();
        state.tokens.insert(token.into(), domain.into());
    }

    /// The shop the OAuth authorize page installs into (a real shop is the URL's host).
    pub fn authorize_as(&self, domain: &str) {
        self.state().oauth_shop = domain.into();
    }

    /// Adds orders to the shop (created if new), replacing those with the same id.
    pub fn put_orders(&self, domain: &str, orders: impl IntoIterator<Item = ShopifyOrder>) {
        let mut state = self.state();
        let shop = state.shops.entry(domain.into()).or_default();
        shop.nodes.clear();
        orders.into_iter().for_each(|order| shop.orders.put(order));
    }

    /// Changes an order, making it the shop's most recently updated one (see
    /// `Book::update`); false when the shop has no such order.
    pub fn update_order(&self, domain: &str, id: u64, change: impl FnOnce(&mut ShopifyOrder)) -> bool {
        self.state().shops.get_mut(domain).is_some_and(|shop| {
            shop.nodes.clear();
            shop.orders.update(&id, change)
        })
    }

    /// The shop's orders in (updatedAt, id) order.
    pub fn orders(&self, domain: &str) -> Vec<ShopifyOrder> {
        self.state().shops.get(domain).map(|shop| shop.orders.all()).unwrap_or_default()
    }

    /// Writes every order's JSON now, so serving pages costs the fake next to nothing (the
    /// benchmark times Starling, not the fake).
    pub fn prepare_pages(&self, domain: &str) {
        let mut state = self.state();
        if let Some(shop) = state.shops.get_mut(domain) {
            let texts: Vec<(u64, String)> = shop.orders.all().iter().map(|o| (o.id, o.node().to_string())).collect();
            shop.nodes.extend(texts);
        }
    }

    /// What each orders query costs from now on (requested and actual).
    pub fn set_query_cost(&self, cost: u32) {
        self.state().query_cost = cost;
    }

    /// Turns the cost throttle on or off (off: every query is served, the bucket reads full).
    pub fn throttle(&self, on: bool) {
        self.state().throttled = on;
    }

    /// Offline tokens never expire, so this is [`FakeShopify::revoke_refresh`]: every
    /// access token issued so far answers 401.
    pub fn expire_tokens(&self) {
        self.revoke_refresh();
    }

    /// Uninstalls the app everywhere: every access token issued so far answers 401, which
    /// only a new install fixes.
    pub fn revoke_refresh(&self) {
        self.state().tokens.clear();
    }
}

const STYLE: Style = Style { truncated: r#"{"data":{"orders":{"nodes":[{"id":"gid://shopify/Order/50"#, too_many };

/// Shopify's REST-style 429 with the decimal `Retry-After` its clients honour.
fn too_many(secs: f64) -> Response {
    let body = json!({ "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." });
    let mut answer = json(StatusCode::TOO_MANY_REQUESTS, body);
    if let Ok(value) = HeaderValue::from_str(&format!("{secs:?}")) {
        answer.headers_mut().insert(header::RETRY_AFTER, value);
    }
    answer
}

fn invalid_token() -> Response {
    json(StatusCode::UNAUTHORIZED, json!({ "errors": INVALID_TOKEN }))
}

fn oauth_error(description: &str) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": "invalid_request", "error_description": description }))
}

/// GET /admin/oauth/authorize: the merchant approves at once; 302 back to the app with a
/// code and the hmac Starling must check.
async fn authorize(State(shared): State<Arc<Shared>>, query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Response {
    shared.controls.count(route::AUTHORIZE);
    let Ok(Query(params)) = query else { return (StatusCode::BAD_REQUEST, "Invalid query string").into_response() };
    let mut state = lock(&shared.state);
    if params.get("client_id") != Some(&state.app_key) {
        return (StatusCode::BAD_REQUEST, "Oauth error invalid_request: The client_id is invalid").into_response();
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return (StatusCode::BAD_REQUEST, "Oauth error invalid_request: The redirect_uri is missing").into_response();
    };
    let code = random_hex(16);
    let shop = state.oauth_shop.clone();
    let scope = params.get("scope").cloned().unwrap_or_default();
    state.codes.insert(code.clone(), Grant { shop: shop.clone(), scope });
    let mut signed = vec![("code", code), ("shop", shop), ("timestamp", Utc::now().timestamp().to_string())];
    if let Some(nonce) = params.get("state") {
        signed.push(("state", nonce.clone()));
    }
    let location = redirect_location(redirect_uri, signed, &state.app_secret);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `redirect_uri` with the parameters and their hmac: hex HMAC-SHA256 over `name=value`
/// pairs sorted by name and joined by `&`.
fn redirect_location(redirect_uri: &str, mut params: Vec<(&str, String)>, secret: &str) -> String {
    params.sort();
    let message = params.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    let hmac = hex::encode(hmac_sha256(secret, message.as_bytes()));
    let query = params.iter().map(|(name, value)| format!("{name}={}", encode(value))).collect::<Vec<_>>().join("&");
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{query}&hmac={hmac}")
}

fn hmac_sha256(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// POST /admin/oauth/access_token: a code (once) for an offline access token.
async fn access_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if let Some(answer) = shared.controls.gate_token(route::ACCESS_TOKEN) {
        return answer;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else { return oauth_error("The request body is not JSON") };
    let field = |name: &str| request.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let (client_id, client_secret, code) = (field("client_id"), field("client_secret"), field("code"));
    let mut state = lock(&shared.state);
    if client_id != state.app_key || client_secret != state.app_secret {
        return oauth_error("The client_id or client_secret is invalid");
    }
    let Some(grant) = state.codes.remove(&code) else { return oauth_error("The authorization code was not found or was already used") };
    let token = format!("shpat_{}", random_hex(16));
    state.shops.entry(grant.shop.clone()).or_default();
    state.tokens.insert(token.clone(), grant.shop);
    drop(state);
    shared.controls.token_refreshed();
    json(StatusCode::OK, json!({ "access_token": token, "scope": grant.scope }))
}

/// The variables of an orders query.
struct OrdersQuery {
    first: usize,
    after: Option<(DateTime<Utc>, u64)>,
    updated_from: Option<DateTime<Utc>>,
}

/// POST /admin/api/2025-07/graphql.json: the orders connection, read from `variables`.
async fn graphql(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = shared.controls.gate(route::GRAPHQL, &STYLE).await {
        return answer;
    }
    let token = headers.get("x-shopify-access-token").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else { return bad_graphql_request() };
    if !request.get("query").is_some_and(Value::is_string) {
        return bad_graphql_request();
    }
    let outcome = lock(&shared.state).orders_page(token, request.get("variables").unwrap_or(&Value::Null));
    match outcome {
        Outcome::Unauthorized => invalid_token(),
        Outcome::Errors(body) => json(StatusCode::OK, body),
        Outcome::Throttled(body) => {
            shared.controls.violation();
            json(StatusCode::OK, body)
        }
        Outcome::Page(body) => {
            shared.controls.page_served();
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

fn bad_graphql_request() -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "errors": { "query": "Required parameter missing or invalid" } }))
}

enum Outcome {
    Unauthorized,
    /// 200 with `errors` and no data.
    Errors(Value),
    Throttled(Value),
    /// The page's JSON text.
    Page(String),
}

impl ShopifyState {
    fn orders_page(&mut self, token: &str, variables: &Value) -> Outcome {
        let Some(domain) = self.tokens.get(token).cloned() else { return Outcome::Unauthorized };
        let query = match OrdersQuery::read(variables) {
            Ok(query) => query,
            Err(message) => return Outcome::Errors(json!({ "errors": [{ "message": message }] })),
        };
        let (cost, throttled) = (self.query_cost, self.throttled);
        let shop = self.shops.entry(domain).or_default();
        if throttled && !shop.bucket.take(f64::from(cost)) {
            let extensions = cost_extensions(cost, None, shop.bucket.available());
            return Outcome::Throttled(json!({
                "errors": [{ "message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                "extensions": extensions,
            }));
        }
        let available = if throttled { shop.bucket.available() } else { MAXIMUM_AVAILABLE - f64::from(cost) };
        Outcome::Page(shop.page(&query, &cost_extensions(cost, Some(cost), available)))
    }
}

impl Shop {
    /// `{"data":{"orders":{nodes, pageInfo}},"extensions":…}`: the orders after the cursor
    /// (or updated since the filter's time), in (updatedAt, id) order.
    fn page(&mut self, query: &OrdersQuery, extensions: &Value) -> String {
        let start = match (query.after, query.updated_from) {
            (Some(cursor), Some(from)) if cursor.0 < from => Bound::Included((from, 0)),
            (Some(cursor), _) => Bound::Excluded(cursor),
            (None, Some(from)) => Bound::Included((from, 0)),
            (None, None) => Bound::Unbounded,
        };
        let mut orders: Vec<&ShopifyOrder> = self.orders.from(start).take(query.first + 1).collect();
        let has_next = orders.len() > query.first;
        orders.truncate(query.first);
        let end_cursor = orders.last().map(|order| cursor(order.updated_at, order.id));
        for order in &orders {
            self.nodes.entry(order.id).or_insert_with(|| order.node().to_string());
        }
        let nodes: Vec<&str> = orders.iter().map(|order| self.nodes[&order.id].as_str()).collect();
        let page_info = json!({ "hasNextPage": has_next, "endCursor": end_cursor });
        format!(r#"{{"data":{{"orders":{{"nodes":[{}],"pageInfo":{page_info}}}}},"extensions":{extensions}}}"#, nodes.join(","))
    }
}

fn cost_extensions(requested: u32, actual: Option<u32>, available: f64) -> Value {
    json!({ "cost": {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": { "maximumAvailable": MAXIMUM_AVAILABLE, "currentlyAvailable": available.floor() as u64, "restoreRate": RESTORE_RATE },
    } })
}

/// An opaque cursor: base64 of `<updatedAt unix nanoseconds>|<id>`.
fn cursor(updated_at: DateTime<Utc>, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}|{id}", cursor_time(updated_at)))
}

fn read_cursor(text: &str) -> Option<(DateTime<Utc>, u64)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    let (nanos, id) = std::str::from_utf8(&bytes).ok()?.split_once('|')?;
    Some((DateTime::from_timestamp_nanos(nanos.parse().ok()?), id.parse().ok()?))
}

impl OrdersQuery {
    /// The variables, or the message of the GraphQL error they earn.
    fn read(variables: &Value) -> Result<OrdersQuery, String> {
        let first = match variables.get("first") {
            None | Some(Value::Null) => return Err("you must provide one of first or last".into()),
            Some(first) => first.as_u64().ok_or("Variable $first of type Int was provided invalid value")?,
        };
        if first > MAX_FIRST {
            return Err(format!("first: must be <= {MAX_FIRST}"));
        }
        let after = match variables.get("after") {
            None | Some(Value::Null) => None,
            Some(after) => Some(after.as_str().and_then(read_cursor).ok_or("Invalid cursor for current pagination")?),
        };
        let updated_from = match variables.get("query") {
            None | Some(Value::Null) => None,
            Some(query) => read_filter(query.as_str().ok_or("Variable $query of type String was provided invalid value")?)?,
        };
        Ok(OrdersQuery { first: first as usize, after, updated_from })
    }
}

/// `updated_at:>='<RFC 3339>'` (quotes optional) or empty: the only search the connector
/// sends. Anything else is an error here (real Shopify would ignore it silently), so a
/// client's mistake shows.
fn read_filter(query: &str) -> Result<Option<DateTime<Utc>>, String> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(None);
    }
    let unsupported = || format!("Unsupported search query (the fake knows updated_at:>='<time>'): {query}");
    let time = query.strip_prefix("updated_at:>=").ok_or_else(unsupported)?;
    let time = time.trim_matches(|c| c == '\'' || c == '"');
    parse_time(time).map(Some).ok_or_else(unsupported)
}

/// A Shopify order, with defaults for everything (see [`ShopifyOrder::new`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ShopifyOrder {
    pub id: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `displayFinancialStatus`: PAID, PENDING, REFUNDED, PARTIALLY_REFUNDED, VOIDED.
    pub financial_status: String,
    /// `displayFulfillmentStatus`: UNFULFILLED, FULFILLED, PARTIALLY_FULFILLED, RESTOCKED.
    pub fulfillment_status: String,
    pub currency: String,
    pub total: String,
    pub customer: Option<ShopifyCustomer>,
    /// The shipping address's country; `None`: no shipping address.
    pub country: Option<String>,
    pub line_items: Vec<ShopifyLineItem>,
    pub fulfillments: Vec<ShopifyFulfillment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShopifyCustomer {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    /// SUBSCRIBED, NOT_SUBSCRIBED or UNSUBSCRIBED.
    pub marketing_state: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShopifyLineItem {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    pub unit_price: String,
    pub product_id: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShopifyFulfillment {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// FULFILLED, DELIVERED or IN_TRANSIT.
    pub display_status: String,
}

impl Record for ShopifyOrder {
    type Id = u64;
    fn key(&self) -> (DateTime<Utc>, u64) {
        (self.updated_at, self.id)
    }
    fn touch(&mut self, at: DateTime<Utc>) {
        self.updated_at = at;
    }
}

impl ShopifyOrder {
    /// A paid order Eva Huber (subscribed to marketing) in Austria placed ten days ago for
    /// two headlamps at 14.95 EUR, fulfilled the next day and delivered three days after it
    /// was placed (its last update).
    pub fn new(id: u64) -> ShopifyOrder {
        let placed = now_secs() - TimeDelta::days(10);
        let line_item = ShopifyLineItem {
            sku: Some("HL-1".into()),
            name: "Headlamp".into(),
            quantity: 2,
            unit_price: "14.95".into(),
            product_id: Some(77),
        };
        let fulfillment = ShopifyFulfillment { id: 1, created_at: placed, delivered_at: Some(placed), display_status: "DELIVERED".into() };
        ShopifyOrder {
            id,
            name: format!("#{id}"),
            created_at: placed,
            updated_at: placed,
            cancelled_at: None,
            email: Some("eva@example.at".into()),
            phone: None,
            financial_status: "PAID".into(),
            fulfillment_status: "FULFILLED".into(),
            currency: "EUR".into(),
            total: "29.90".into(),
            customer: Some(ShopifyCustomer {
                id: 9,
                first_name: "Eva".into(),
                last_name: "Huber".into(),
                marketing_state: "SUBSCRIBED".into(),
            }),
            country: Some("AT".into()),
            line_items: vec![line_item],
            fulfillments: vec![fulfillment],
        }
        .placed(placed)
    }

    /// Moves the order's times to one placed at `at`: fulfilled a day later, delivered
    /// (and last updated) three days later.
    pub fn placed(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = at;
        self.updated_at = at + TimeDelta::days(3);
        for fulfillment in &mut self.fulfillments {
            fulfillment.created_at = at + TimeDelta::days(1);
            fulfillment.delivered_at = fulfillment.delivered_at.map(|_| at + TimeDelta::days(3));
        }
        self
    }

    pub fn updated(mut self, at: DateTime<Utc>) -> Self {
        self.updated_at = at;
        self
    }

    /// The financial and fulfillment display statuses (UNFULFILLED drops the fulfillments).
    pub fn status(mut self, financial: &str, fulfillment: &str) -> Self {
        self.financial_status = financial.into();
        self.fulfillment_status = fulfillment.into();
        if fulfillment == "UNFULFILLED" {
            self.fulfillments.clear();
        }
        self
    }

    pub fn email(mut self, email: Option<&str>) -> Self {
        self.email = email.map(Into::into);
        self
    }

    pub fn country(mut self, country: Option<&str>) -> Self {
        self.country = country.map(Into::into);
        self
    }

    /// The order's total in `currency`, as its one line item's price (quantity one).
    pub fn total(mut self, currency: &str, amount: &str) -> Self {
        self.currency = currency.into();
        self.total = amount.into();
        self.line_items.truncate(1);
        for item in &mut self.line_items {
            item.quantity = 1;
            item.unit_price = amount.into();
        }
        self
    }

    /// `n` distinct orders (ids from 5001, names from #1001) placed a minute apart from
    /// `start` (to the second), updated in the same order, with statuses, countries,
    /// currencies, consents and missing fields varying (deterministically) from one to
    /// the next.
    pub fn generate(n: u64, start: DateTime<Utc>) -> Vec<ShopifyOrder> {
        let start = start.trunc_subsecs(0);
        (0..n).map(|i| Self::generated(i, start + TimeDelta::minutes(i as i64))).collect()
    }

    fn generated(i: u64, placed: DateTime<Utc>) -> ShopifyOrder {
        const FIRST: [&str; 6] = ["Eva", "Jonas", "Mia", "Lukas", "Sophie", "Kenji"];
        const LAST: [&str; 5] = ["Huber", "Schmidt", "Dubois", "Smith", "Tanaka"];
        let (country, currency) =
            pick(&[("AT", "EUR"), ("DE", "EUR"), ("GB", "GBP"), ("FR", "EUR"), ("JP", "JPY"), ("US", "USD"), ("CH", "CHF")], i);
        let financial = pick(&["PAID", "PAID", "PAID", "PENDING", "REFUNDED", "PARTIALLY_REFUNDED", "VOIDED"], i);
        let fulfillment = pick(&["FULFILLED", "FULFILLED", "UNFULFILLED", "PARTIALLY_FULFILLED", "RESTOCKED"], i / 2);
        let quantity = 1 + (i % 3) as u32;
        let unit_cents = 995 + (i * 131) % 9000;
        let mut order = ShopifyOrder::new(5001 + i).placed(placed).status(financial, fulfillment);
        order.name = format!("#{}", 1001 + i);
        order.email = (i % 11 != 10).then(|| format!("buyer{i}@example.test"));
        order.phone = (i % 4 == 0).then(|| format!("+43660{i:07}"));
        order.cancelled_at = (financial == "VOIDED").then(|| placed + TimeDelta::hours(1));
        order.currency = currency.into();
        order.total = money(unit_cents * u64::from(quantity));
        order.country = (i % 17 != 16).then(|| country.into());
        order.customer = (i % 13 != 12).then(|| ShopifyCustomer {
            id: 100_000 + i,
            first_name: pick(&FIRST, i).into(),
            last_name: pick(&LAST, i / 6).into(),
            marketing_state: pick(&["SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED"], i / 3).into(),
        });
        order.line_items = vec![ShopifyLineItem {
            sku: (i % 19 != 18).then(|| format!("SKU-{}", i % 40)),
            name: format!("Product {}", i % 40),
            quantity,
            unit_price: money(unit_cents),
            product_id: Some(7000 + i % 40),
        }];
        for fulfillment in &mut order.fulfillments {
            let status = pick(&["DELIVERED", "IN_TRANSIT", "FULFILLED"], i / 5);
            fulfillment.display_status = status.into();
            fulfillment.delivered_at = (status == "DELIVERED").then(|| placed + TimeDelta::days(3));
        }
        order
    }

    fn customer_name(&self) -> String {
        self.customer.as_ref().map(|c| format!("{} {}", c.first_name, c.last_name)).unwrap_or_default()
    }

    /// The GraphQL `Order` node the connector's query selects.
    fn node(&self) -> Value {
        let price = |amount: &str| json!({ "shopMoney": { "amount": amount, "currencyCode": self.currency } });
        json!({
            "id": format!("gid://shopify/Order/{}", self.id),
            "name": self.name,
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
            "cancelledAt": self.cancelled_at.map(rfc3339),
            "email": self.email,
            "phone": self.phone,
            "displayFinancialStatus": self.financial_status,
            "displayFulfillmentStatus": self.fulfillment_status,
            "currencyCode": self.currency,
            "totalPriceSet": price(&self.total),
            "customer": self.customer.as_ref().map(|c| json!({
                "firstName": c.first_name, "lastName": c.last_name,
                "emailMarketingConsent": { "marketingState": c.marketing_state },
            })),
            "shippingAddress": self.country.as_ref().map(|country| json!({ "countryCodeV2": country, "name": self.customer_name() })),
            "lineItems": { "nodes": self.line_items.iter().map(|item| json!({
                "sku": item.sku, "name": item.name, "quantity": item.quantity,
                "originalUnitPriceSet": price(&item.unit_price),
                "product": item.product_id.map(|id| json!({ "id": format!("gid://shopify/Product/{id}") })),
            })).collect::<Vec<_>>() },
            "fulfillments": self.fulfillments.iter().map(|f| json!({
                "createdAt": rfc3339(f.created_at), "deliveredAt": f.delivered_at.map(rfc3339), "displayStatus": f.display_status,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The REST-shaped order of the `orders/*` webhooks.
pub fn order_webhook_body(order: &ShopifyOrder) -> Value {
    let fulfillment_status = match order.fulfillment_status.as_str() {
        "FULFILLED" => Some("fulfilled"),
        "PARTIALLY_FULFILLED" => Some("partial"),
        "RESTOCKED" => Some("restocked"),
        _ => None,
    };
    json!({
        "id": order.id,
        "admin_graphql_api_id": format!("gid://shopify/Order/{}", order.id),
        "name": order.name,
        "email": order.email,
        "phone": order.phone,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "cancelled_at": order.cancelled_at.map(rfc3339),
        "financial_status": order.financial_status.to_lowercase(),
        "fulfillment_status": fulfillment_status,
        "currency": order.currency,
        "total_price": order.total,
        "buyer_accepts_marketing": order.customer.as_ref().is_some_and(|c| c.marketing_state == "SUBSCRIBED"),
        "customer": order.customer.as_ref().map(|c| json!({
            "id": c.id, "email": order.email, "first_name": c.first_name, "last_name": c.last_name,
            "email_marketing_consent": { "state": c.marketing_state.to_lowercase() },
        })),
        "shipping_address": order.country.as_ref().map(|country| json!({ "country_code": country, "name": order.customer_name() })),
        "line_items": order.line_items.iter().map(|item| json!({
            "sku": item.sku, "name": item.name, "title": item.name, "quantity": item.quantity,
            "price": item.unit_price, "product_id": item.product_id,
        })).collect::<Vec<_>>(),
        "fulfillments": order.fulfillments.iter().map(|f| json!({
            "created_at": rfc3339(f.created_at), "shipment_status": shipment_status(f), "status": "success",
        })).collect::<Vec<_>>(),
    })
}

/// The body of a `fulfillments/create` or `fulfillments/update` webhook for one of the
/// order's fulfillments.
pub fn fulfillment_webhook_body(order: &ShopifyOrder, fulfillment: &ShopifyFulfillment) -> Value {
    json!({
        "id": fulfillment.id,
        "order_id": order.id,
        "status": "success",
        "shipment_status": shipment_status(fulfillment),
        "created_at": rfc3339(fulfillment.created_at),
        "updated_at": rfc3339(fulfillment.delivered_at.unwrap_or(fulfillment.created_at)),
    })
}

fn shipment_status(fulfillment: &ShopifyFulfillment) -> Option<&'static str> {
    match fulfillment.display_status.as_str() {
        "DELIVERED" => Some("delivered"),
        "IN_TRANSIT" => Some("in_transit"),
        _ => None,
    }
}

/// base64 HMAC-SHA256 of the raw body: the `X-Shopify-Hmac-Sha256` header.
pub fn webhook_hmac(secret: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, body))
}

/// The headers and raw body Shopify would POST to Starling's `/webhooks/shopify` for
/// `topic` from `shop`, signed with the app secret; each call has a new webhook id.
pub fn webhook(shop: &str, topic: &str, body: &Value, secret: &str) -> (HeaderMap, Vec<u8>) {
    let body = body.to_string().into_bytes();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_str(value).expect("a header-safe value"));
    };
    set("content-type", "application/json");
    set("x-shopify-topic", topic);
    set("x-shopify-hmac-sha256", &webhook_hmac(secret, &body));
    set("x-shopify-shop-domain", shop);
    set("x-shopify-webhook-id", &uuid());
    set("x-shopify-api-version", API_VERSION);
    set("x-shopify-triggered-at", &Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    (headers, body)
}

/// A random version-4 UUID in its usual spelling.
fn uuid() -> String {
    let hex = random_hex(16);
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}
