//! Fake Shopify, Amazon (Login with Amazon + SP-API Orders v0) and eBay (OAuth + Sell
//! Fulfillment v1) servers on loopback, speaking the subset of each platform's documented
//! API that Starling's connectors use, so the suite and the benchmark can drive the real
//! clients without the internet.
//!
//! Each fake binds `127.0.0.1:0`, serves on the current tokio runtime until its handle is
//! dropped, and keeps its state behind a mutex the handle's control methods change. Every
//! fake dereferences to [`Controls`]: injected failures (5xx, truncated JSON, hangs, 429s)
//! and the counters tests check a client's manners with (requests per route, rate-limit
//! violations, token refreshes, pages).

pub mod amazon;
pub mod ebay;
pub mod shopify;
pub mod twilio;
pub mod whatsapp;

pub use amazon::{AmazonItem, AmazonOrder, FakeAmazon, Operation};
pub use ebay::{EbayLineItem, EbayOrder, FakeEbay};
pub use shopify::{FakeShopify, ShopifyCustomer, ShopifyFulfillment, ShopifyLineItem, ShopifyOrder};
pub use twilio::FakeTwilio;
pub use whatsapp::FakeWhatsapp;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What a fake served, for tests and the benchmark to judge a client's manners by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received per route (each fake's `route` constants), however answered.
    pub requests: BTreeMap<&'static str, u64>,
    /// Requests that broke a rate limit, a cost throttle or a `Retry-After`.
    pub violations: u64,
    /// Access tokens issued for a refresh token (Shopify: for an authorization code, as
    /// its offline tokens never refresh).
    pub token_refreshes: u64,
    /// Pages of orders answered with data.
    pub pages: u64,
}

/// One injected answer, taken by the next API request.
enum Fault {
    Fail(StatusCode),
    Malformed,
    Hang(Duration),
    /// 429, then a window of this many seconds in which any request is a violation.
    RateLimit(f64),
}

/// What a request is answered instead of being served.
enum Injected {
    Fail(StatusCode),
    Malformed,
    Hang(Duration),
    /// 429 telling the client to wait this many seconds.
    TooMany(f64),
}

#[derive(Default)]
struct Common {
    api_faults: VecDeque<Fault>,
    token_faults: VecDeque<StatusCode>,
    retry_until: Option<Instant>,
    counters: Counters,
}

impl Common {
    fn count(&mut self, route: &'static str) {
        *self.counters.requests.entry(route).or_default() += 1;
    }

    /// Counts an API request and says what it gets instead of its answer, if anything: a
    /// request inside a Retry-After window is a violation and gets another 429.
    fn admit(&mut self, route: &'static str) -> Option<Injected> {
        self.count(route);
        let now = Instant::now();
        if let Some(until) = self.retry_until.filter(|until| now < *until) {
            self.counters.violations += 1;
            return Some(Injected::TooMany(round_up_millis(until - now)));
        }
        Some(match self.api_faults.pop_front()? {
            Fault::Fail(status) => Injected::Fail(status),
            Fault::Malformed => Injected::Malformed,
            Fault::Hang(pause) => Injected::Hang(pause),
            Fault::RateLimit(secs) => {
                self.retry_until = Some(now + Duration::from_secs_f64(secs));
                Injected::TooMany(secs)
            }
        })
    }
}

/// Seconds, rounded up to the millisecond so a client waiting that long is never early.
fn round_up_millis(left: Duration) -> f64 {
    (left.as_secs_f64() * 1000.0).ceil() / 1000.0
}

/// How a platform words the answers [`Controls`] injects.
pub(crate) struct Style {
    /// A 200 body cut off mid-document.
    pub truncated: &'static str,
    /// The platform's 429 for a wait of this many seconds.
    pub too_many: fn(f64) -> Response,
}

/// Failure injection and counters, common to every fake (each fake dereferences to these).
#[derive(Default)]
pub struct Controls {
    common: Mutex<Common>,
}

impl Controls {
    /// The next `n` API requests (not token requests) answer `status` with a short body.
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        self.push(n, || Fault::Fail(status));
    }

    /// Forgets the faults not yet served (the platform is well again).
    pub fn clear_faults(&self) {
        self.lock().api_faults.clear();
    }

    /// The next `n` API requests answer 200 with a JSON body cut off in the middle.
    pub fn malformed_next(&self, n: usize) {
        self.push(n, || Fault::Malformed);
    }

    /// The next `n` API requests wait `secs` before they are served (for client timeouts).
    pub fn hang_next(&self, n: usize, secs: f64) {
        let pause = Duration::from_secs_f64(secs);
        self.push(n, || Fault::Hang(pause));
    }

    /// The next `n` API requests answer 429 (Shopify with `Retry-After: <secs>`); a
    /// request arriving less than `retry_after_secs` after a 429 is a violation (and gets
    /// another 429 without using up one of the `n`).
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: f64) {
        self.push(n, || Fault::RateLimit(retry_after_secs));
    }

    /// The next `n` token requests (Shopify's code exchange, LWA, eBay's token endpoint)
    /// answer `status` with a short body.
    pub fn fail_token_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        self.lock().token_faults.extend(std::iter::repeat_n(status, n));
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// Requests received on `route` (one of the fake's `route` constants).
    pub fn requests(&self, route: &str) -> u64 {
        self.lock().counters.requests.get(route).copied().unwrap_or_default()
    }

    pub fn violations(&self) -> u64 {
        self.lock().counters.violations
    }

    pub fn token_refreshes(&self) -> u64 {
        self.lock().counters.token_refreshes
    }

    pub fn pages_served(&self) -> u64 {
        self.lock().counters.pages
    }

    fn push(&self, n: usize, fault: impl Fn() -> Fault) {
        self.lock().api_faults.extend((0..n).map(|_| fault()));
    }

    fn lock(&self) -> MutexGuard<'_, Common> {
        lock(&self.common)
    }

    /// Counts an API request on `route` and answers it when a fault is due (after a hang,
    /// lets it through): `Some` is the whole answer.
    pub(crate) async fn gate(&self, route: &'static str, style: &Style) -> Option<Response> {
        let injected = self.lock().admit(route)?;
        match injected {
            Injected::Hang(pause) => {
                tokio::time::sleep(pause).await;
                None
            }
            Injected::Fail(status) => Some(failure(status)),
            Injected::Malformed => Some(([(header::CONTENT_TYPE, "application/json")], style.truncated).into_response()),
            Injected::TooMany(secs) => Some((style.too_many)(secs)),
        }
    }

    /// Counts a token request on `route` and answers it when a token fault is due.
    pub(crate) fn gate_token(&self, route: &'static str) -> Option<Response> {
        let mut common = self.lock();
        common.count(route);
        common.token_faults.pop_front().map(failure)
    }

    /// Counts a request no fault applies to (a browser's visit).
    pub(crate) fn count(&self, route: &'static str) {
        self.lock().count(route);
    }

    pub(crate) fn violation(&self) {
        self.lock().counters.violations += 1;
    }

    pub(crate) fn page_served(&self) {
        self.lock().counters.pages += 1;
    }

    pub(crate) fn token_refreshed(&self) {
        self.lock().counters.token_refreshes += 1;
    }
}

/// An injected failure: the status and the kind of short text a proxy in front of an API
/// answers with.
fn failure(status: StatusCode) -> Response {
    (status, format!("fake platform: injected {status}")).into_response()
}

/// A mutex's data even after a panicking handler poisoned it: a fake keeps serving so the
/// test reports the real failure.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fake's HTTP server task, stopped when dropped.
pub(crate) struct Server {
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds 127.0.0.1:`port` (0: any free port) and answers the base URL it serves on.
    /// Must run inside a tokio runtime.
    pub(crate) fn bind(port: u16) -> (tokio::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("a loopback port for a fake platform");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("the listener's address"));
        (tokio::net::TcpListener::from_std(listener).expect("a tokio runtime"), base)
    }

    /// Serves `router` on `listener` on the current runtime.
    pub(crate) fn spawn(listener: tokio::net::TcpListener, router: Router) -> Server {
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Server { task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An order as a [`Book`] keeps it: sorted by (last update, id), as every platform pages.
pub(crate) trait Record: Clone {
    /// Ids sort the way the platform breaks ties; `Id::default()` sorts first.
    type Id: Ord + Hash + Clone + Default;
    fn key(&self) -> (DateTime<Utc>, Self::Id);
    fn touch(&mut self, at: DateTime<Utc>);
}

/// A shop's orders by id, indexed by (last update, id) so a page is a range read even
/// over the benchmark's 100,000 orders.
pub(crate) struct Book<O: Record> {
    orders: HashMap<O::Id, O>,
    index: BTreeSet<(DateTime<Utc>, O::Id)>,
}

impl<O: Record> Default for Book<O> {
    fn default() -> Self {
        Book { orders: HashMap::new(), index: BTreeSet::new() }
    }
}

impl<O: Record> Book<O> {
    /// Adds the order, or replaces the one with its id.
    pub(crate) fn put(&mut self, order: O) {
        let key = order.key();
        if let Some(old) = self.orders.insert(key.1.clone(), order) {
            self.index.remove(&old.key());
        }
        self.index.insert(key);
    }

    /// Changes an order the way the platform records a change: its update time becomes the
    /// newest in the book (now, or a second after the latest update if that is later), so
    /// it moves behind every order a client has paged past; `change` runs after and may
    /// set the time itself. False when there is no such order.
    pub(crate) fn update(&mut self, id: &O::Id, change: impl FnOnce(&mut O)) -> bool {
        let at = self.next_update_time();
        let Some(mut order) = self.orders.get(id).cloned() else { return false };
        order.touch(at);
        change(&mut order);
        self.put(order);
        true
    }

    fn next_update_time(&self) -> DateTime<Utc> {
        let now = now_secs();
        self.latest().map_or(now, |latest| now.max(latest + TimeDelta::seconds(1)))
    }

    /// The latest update time of any order.
    pub(crate) fn latest(&self) -> Option<DateTime<Utc>> {
        self.index.last().map(|(at, _)| *at)
    }

    /// Orders in (update, id) order from `start` on.
    pub(crate) fn from(&self, start: Bound<(DateTime<Utc>, O::Id)>) -> impl Iterator<Item = &O> {
        self.index.range((start, Bound::Unbounded)).filter_map(|(_, id)| self.orders.get(id))
    }

    /// Orders updated at or after `at`, in (update, id) order.
    pub(crate) fn since(&self, at: DateTime<Utc>) -> impl Iterator<Item = &O> {
        self.from(Bound::Included((at, O::Id::default())))
    }

    pub(crate) fn get(&self, id: &O::Id) -> Option<&O> {
        self.orders.get(id)
    }

    /// Every order, in (update, id) order.
    pub(crate) fn all(&self) -> Vec<O> {
        self.from(Bound::Unbounded).cloned().collect()
    }
}

/// A token bucket: holds up to `capacity`, refills `rate` per second. Shopify's cost
/// throttle (points) and Amazon's rate limits (requests) are both one.
pub(crate) struct Bucket {
    capacity: f64,
    rate: f64,
    available: f64,
    at: Instant,
}

/// How far short of a cost a bucket may be and still serve: the clock jitter between a
/// client that waited exactly long enough and the server's reading.
const SLACK: f64 = 0.01;

impl Bucket {
    pub(crate) fn full(capacity: f64, rate: f64) -> Bucket {
        Bucket { capacity, rate, available: capacity, at: Instant::now() }
    }

    pub(crate) fn available(&mut self) -> f64 {
        let now = Instant::now();
        self.available = (self.available + (now - self.at).as_secs_f64() * self.rate).min(self.capacity);
        self.at = now;
        self.available
    }

    /// Takes `cost` if the bucket holds it; false (taking nothing) if not.
    pub(crate) fn take(&mut self, cost: f64) -> bool {
        if self.available() + SLACK < cost {
            return false;
        }
        self.available = (self.available - cost).max(0.0);
        true
    }
}

/// Now, to the second (the platforms' order times have whole seconds).
pub(crate) fn now_secs() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `2026-12-01T10:00:00Z`.
pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time in a cursor: to the nanosecond, so a cursor never falls between two orders
/// whose times differ by less than a second (tests may set such times).
pub(crate) fn cursor_time(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().expect("order times between the years 1677 and 2262")
}

pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// `bytes` random bytes as hex, for tokens and codes.
pub(crate) fn random_hex(bytes: usize) -> String {
    hex::encode((0..bytes).map(|_| rand::random::<u8>()).collect::<Vec<_>>())
}

/// Percent-encodes a query value (keeping `:` readable, as the platforms' own links do).
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Cents as the platforms write money: `"29.90"`.
pub(crate) fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

pub(crate) fn json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// One of `choices`, cycling with `i` (generated orders vary deterministically).
pub(crate) fn pick<T: Copy>(choices: &[T], i: u64) -> T {
    choices[(i % choices.len() as u64) as usize]
}

#[cfg(test)]
mod tests;
