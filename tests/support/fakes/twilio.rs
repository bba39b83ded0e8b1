//! A fake Twilio-compatible SMS provider: `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! with Basic authentication and a form of To, From, Body and StatusCallback, answering 201
//! with the message's `sid` as Twilio does. It refuses what Twilio refuses (a bad number:
//! 21211; an empty or too long body: 21617; a number that replied STOP to the sender:
//! 21610; wrong credentials: 401 with 20003), enforces a messages-per-second limit with
//! 429 / 20429 when one is set, and takes the common injected faults (5xx, cut-off JSON,
//! hangs). The test plays the carrier: `report` posts a signed status callback to the URL
//! the message named, and `reply` a signed inbound message (a buyer's answer), both with
//! `X-Twilio-Signature` as Twilio computes it.

use super::{json, lock, random_hex, Bucket, Controls, Server, Style};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use std::collections::HashSet;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

/// Route name for [`Controls::requests`].
pub mod route {
    pub const MESSAGES: &str = "messages";
    pub const FETCH: &str = "fetch";
    pub const LIST: &str = "list";
}

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "fake-twilio-auth-token-0123456789";

/// A text the fake took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: String,
}

pub struct FakeTwilio {
    /// `http://127.0.0.1:PORT`: Starling's `sms_url` in tests.
    pub base: String,
    shared: Arc<Shared>,
    _server: Server,
}

struct Shared {
    controls: Controls,
    state: Mutex<TwilioState>,
}

#[derive(Default)]
struct TwilioState {
    texts: Vec<Text>,
    /// (from, to) pairs whose recipient replied STOP to that sender.
    opted_out: HashSet<(String, String)>,
    /// Messages per second, when limited.
    limit: Option<Bucket>,
    /// What created messages report as their price (Twilio writes e.g. "-0.00790").
    price: Option<String>,
    /// What fetched messages report as their price.
    fetched_price: Option<String>,
    throttled: u64,
}

impl Deref for FakeTwilio {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.shared.controls
    }
}

const STYLE: Style = Style { truncated: r#"{"sid": "SM0123", "status": "que"#, too_many };

fn too_many(_secs: f64) -> Response {
    error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests")
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    json(
        status,
        json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16() }),
    )
}

/// Points a Starling configuration at the fake at `base`, with its account and token.
pub fn configure(c: &mut server::config::Config, base: &str) {
    c.sms_url = base.to_string();
    c.sms_account = ACCOUNT_SID.into();
    c.sms_token = Some(secrecy::SecretString::from(AUTH_TOKEN.to_string()));
}

impl FakeTwilio {
    pub fn start() -> FakeTwilio {
        let (listener, base) = Server::bind(0);
        let shared = Arc::new(Shared { controls: Controls::default(), state: Mutex::new(TwilioState::default()) });
        let router = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(create).get(list))
            .route("/2010-04-01/Accounts/{account}/Messages/{sid}", get(fetch))
            .with_state(shared.clone());
        FakeTwilio { base, shared, _server: Server::spawn(listener, router) }
    }

    fn state(&self) -> MutexGuard<'_, TwilioState> {
        lock(&self.shared.state)
    }

    /// Every text taken, in order.
    pub fn texts(&self) -> Vec<Text> {
        self.state().texts.clone()
    }

    /// At most `per_second` messages a second (burst of the same), 429 beyond.
    pub fn limit(&self, per_second: f64) {
        self.state().limit = Some(Bucket::full(per_second, per_second));
    }

    /// 429s answered because of the limit.
    pub fn throttled(&self) -> u64 {
        self.state().throttled
    }

    /// Created messages report this price (e.g. "-0.00790"), as some providers do at once.
    pub fn price(&self, price: &str) {
        self.state().price = Some(price.to_string());
    }

    /// Messages fetched (`GET …/Messages/{sid}.json`) report this price from now on, as
    /// Twilio does once a message is sent; created ones still report none.
    pub fn price_when_fetched(&self, price: &str) {
        self.state().fetched_price = Some(price.to_string());
    }

    /// The recipient `to` replied STOP to `from`: further texts from it are refused (21610).
    pub fn opt_out(&self, from: &str, to: &str) {
        self.state().opted_out.insert((from.to_string(), to.to_string()));
    }

    /// Posts the carrier's report on a text to its status callback, signed; answers the
    /// HTTP status Starling gave.
    pub async fn report(&self, sid: &str, status: &str, error_code: Option<&str>) -> u16 {
        let text = self.texts().into_iter().find(|t| t.sid == sid).expect("a text the fake took");
        let mut params = vec![
            ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
            ("MessageSid".to_string(), sid.to_string()),
            ("SmsSid".to_string(), sid.to_string()),
            ("MessageStatus".to_string(), status.to_string()),
            ("SmsStatus".to_string(), status.to_string()),
            ("From".to_string(), text.from.clone()),
            ("To".to_string(), text.to.clone()),
            ("ApiVersion".to_string(), "2010-04-01".to_string()),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode".to_string(), code.to_string()));
        }
        post_signed(&text.status_callback, &params, AUTH_TOKEN).await
    }

    /// A buyer's text `body` from `from` to the number `to`, posted to `url` (Starling's
    /// inbound webhook), signed with `token`; answers the HTTP status.
    pub async fn reply_with(url: &str, from: &str, to: &str, body: &str, token: &str) -> u16 {
        let params = vec![
            ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
            ("MessageSid".to_string(), format!("SM{}", random_hex(16))),
            ("From".to_string(), from.to_string()),
            ("To".to_string(), to.to_string()),
            ("Body".to_string(), body.to_string()),
            ("NumSegments".to_string(), "1".to_string()),
        ];
        post_signed(url, &params, token).await
    }

    pub async fn reply(url: &str, from: &str, to: &str, body: &str) -> u16 {
        Self::reply_with(url, from, to, body, AUTH_TOKEN).await
    }
}

/// Twilio's request signature: base64 HMAC-SHA1 of the URL and the sorted parameters.
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts `params` as a form to `url` with the signature `token` gives; answers the status.
pub async fn post_signed(url: &str, params: &[(String, String)], token: &str) -> u16 {
    post_form(url, params, &signature(token, url, params)).await
}

/// Posts `params` as a form to `url` with this `X-Twilio-Signature` (a forged one, say).
pub async fn post_form(url: &str, params: &[(String, String)], signature: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("X-Twilio-Signature", signature)
        .form(params)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn authorized(headers: &HeaderMap, account: &str) -> bool {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}")));
    account == ACCOUNT_SID && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn e164(number: &str) -> bool {
    number.starts_with('+') && (8..=15).contains(&(number.len() - 1)) && number[1..].chars().all(|c| c.is_ascii_digit())
}

async fn create(State(shared): State<Arc<Shared>>, Path(account): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(injected) = shared.controls.gate(route::MESSAGES, &STYLE).await {
        return injected;
    }
    if !authorized(&headers, &account) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    };
    let get = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let (to, from, text, callback) = (get("To"), get("From"), get("Body"), get("StatusCallback"));
    let mut state = lock(&shared.state);
    if let Some(bucket) = state.limit.as_mut() {
        if !bucket.take(1.0) {
            state.throttled += 1;
            return too_many(1.0);
        }
    }
    if !e164(&to) {
        return error(StatusCode::BAD_REQUEST, 21211, &format!("The 'To' number {to} is not a valid phone number."));
    }
    if from.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21603, "The 'From' phone number is required.");
    }
    if text.trim().is_empty() || text.chars().count() > 1600 {
        return error(StatusCode::BAD_REQUEST, 21617, "The concatenated message body exceeds the 1600 character limit.");
    }
    if state.opted_out.contains(&(from.clone(), to.clone())) {
        return error(StatusCode::BAD_REQUEST, 21610, "Attempt to send to unsubscribed recipient");
    }
    let sid = format!("SM{}", random_hex(16));
    let segments = app::common::segments::count(&text).parts;
    state.texts.push(Text { sid: sid.clone(), to: to.clone(), from: from.clone(), body: text.clone(), status_callback: callback });
    let price = state.price.clone();
    drop(state);
    json(
        StatusCode::CREATED,
        json!({
            "sid": sid, "account_sid": ACCOUNT_SID, "to": to, "from": from, "body": text, "status": "queued",
            "num_segments": segments.to_string(), "price": price, "price_unit": "USD", "error_code": null, "error_message": null,
            "api_version": "2010-04-01", "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"),
        }),
    )
}

/// `GET /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json`: a message as Twilio shows it,
/// priced once `price_when_fetched` says so.
async fn fetch(State(shared): State<Arc<Shared>>, Path((account, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    if let Some(injected) = shared.controls.gate(route::FETCH, &STYLE).await {
        return injected;
    }
    if !authorized(&headers, &account) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let sid = file.trim_end_matches(".json");
    let state = lock(&shared.state);
    let Some(text) = state.texts.iter().find(|t| t.sid == sid) else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /2010-04-01/Accounts/{account}/Messages/{sid}.json was not found"),
        );
    };
    json(
        StatusCode::OK,
        json!({ "sid": text.sid, "to": text.to, "from": text.from, "body": text.body, "status": "delivered",
            "price": state.fetched_price, "price_unit": "USD", "num_segments": app::common::segments::count(&text.body).parts.to_string() }),
    )
}

/// `GET /2010-04-01/Accounts/{sid}/Messages.json?To=&From=&DateSent>=`: the account's
/// messages, newest first, filtered as Twilio filters (every text the fake took is from
/// today, so the date filter lets all of them through), one page.
async fn list(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(injected) = shared.controls.gate(route::LIST, &STYLE).await {
        return injected;
    }
    if !authorized(&headers, &account) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let (to, from) = (get("To"), get("From"));
    let state = lock(&shared.state);
    let messages: Vec<serde_json::Value> = state
        .texts
        .iter()
        .rev()
        .filter(|t| to.as_ref().is_none_or(|to| *to == t.to) && from.as_ref().is_none_or(|from| *from == t.from))
        .map(|t| {
            json!({ "sid": t.sid, "to": t.to, "from": t.from, "body": t.body, "status": "delivered", "price": null, "price_unit": "USD",
                "num_segments": app::common::segments::count(&t.body).parts.to_string() })
        })
        .collect();
    json(StatusCode::OK, json!({ "messages": messages, "next_page_uri": null, "page": 0, "page_size": 100 }))
}
