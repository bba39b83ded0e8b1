//! A fake WhatsApp Business Cloud API (Meta's Graph API): `POST
//! /{version}/{phone-number-id}/messages` sends a template message, `POST` and `GET
//! /{version}/{account-id}/message_templates` create and list templates, all with a bearer
//! token. It refuses what Meta refuses: a wrong or expired token (401, code 190), a
//! template that does not exist, is not approved or has another language (132001), the
//! wrong number of parameters (132000), a parameter with a new line (132018), a marketing
//! template to a +1 number (131049), a buyer who stopped the business's marketing messages
//! (131050), a second template of the same name and language (100, "already exists"), a
//! template whose variables Meta would refuse; it enforces a messages-per-second limit
//! with 130429 when one is set, and takes the common injected faults. The test plays Meta:
//! `review` decides a template and posts `message_template_status_update`, `report` posts a
//! message status and `reply` a buyer's message, each signed with `X-Hub-Signature-256`
//! under the app secret.

use super::{json, lock, random_hex, Bucket, Controls, Server, Style};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

pub mod route {
    pub const MESSAGES: &str = "messages";
    pub const TEMPLATES: &str = "templates";
}

pub const ACCOUNT_ID: &str = "102290129340398";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "fake-meta-system-user-token-0123";
pub const APP_SECRET: &str = "fake-meta-app-secret-0123456789";
pub const VERIFY_TOKEN: &str = "fake-meta-verify-token";
pub const VERSION: &str = "v21.0";

/// A template the fake holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub body: String,
    pub examples: Vec<String>,
    pub status: String,
    pub reason: String,
}

/// A message the fake took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub phone_number_id: String,
    pub to: String,
    pub template: String,
    pub language: String,
    pub parameters: Vec<String>,
    pub callback_data: String,
}

pub struct FakeWhatsapp {
    /// `http://127.0.0.1:PORT`: Starling's `whatsapp_url` in tests.
    pub base: String,
    shared: Arc<Shared>,
    _server: Server,
}

struct Shared {
    controls: Controls,
    state: Mutex<MetaState>,
}

#[derive(Default)]
struct MetaState {
    templates: Vec<Template>,
    messages: Vec<Message>,
    /// Numbers (digits) that stopped the business's marketing messages.
    stopped: HashSet<String>,
    limit: Option<Bucket>,
    throttled: u64,
    /// The token was revoked: every request is refused with 190.
    expired: bool,
    /// Where Meta posts webhooks (Starling's `/webhooks/whatsapp`).
    webhook: String,
}

impl Deref for FakeWhatsapp {
    type Target = Controls;
    fn deref(&self) -> &Controls {
        &self.shared.controls
    }
}

const STYLE: Style = Style { truncated: r#"{"messaging_product": "whatsapp", "messa"#, too_many };

fn too_many(_secs: f64) -> Response {
    error(StatusCode::BAD_REQUEST, 130429, "Rate limit hit", "Cloud API message throughput has been reached.")
}

fn error(status: StatusCode, code: i64, message: &str, details: &str) -> Response {
    json(
        status,
        json!({ "error": { "message": format!("({code}) {message}"), "type": "OAuthException", "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": details }, "fbtrace_id": format!("A{}", random_hex(8)) } }),
    )
}

/// Points a Starling configuration at the fake at `base`, with its account, token, app
/// secret and verify token.
pub fn configure(c: &mut server::config::Config, base: &str) {
    c.whatsapp_url = base.to_string();
    c.whatsapp_account = ACCOUNT_ID.into();
    c.whatsapp_token = Some(secrecy::SecretString::from(TOKEN.to_string()));
    c.whatsapp_app_secret = Some(secrecy::SecretString::from(APP_SECRET.to_string()));
    c.whatsapp_verify_token = Some(secrecy::SecretString::from(VERIFY_TOKEN.to_string()));
}

impl FakeWhatsapp {
    pub fn start() -> FakeWhatsapp {
        let (listener, base) = Server::bind(0);
        let shared = Arc::new(Shared { controls: Controls::default(), state: Mutex::new(MetaState::default()) });
        let router = Router::new()
            .route("/{version}/{id}/messages", post(send))
            .route("/{version}/{id}/message_templates", post(create_template).get(list_templates))
            .with_state(shared.clone());
        FakeWhatsapp { base, shared, _server: Server::spawn(listener, router) }
    }

    fn state(&self) -> MutexGuard<'_, MetaState> {
        lock(&self.shared.state)
    }

    /// Where webhooks go (Starling's `{public_url}/webhooks/whatsapp`).
    pub fn webhook(&self, url: &str) {
        self.state().webhook = url.to_string();
    }

    pub fn templates(&self) -> Vec<Template> {
        self.state().templates.clone()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.state().messages.clone()
    }

    pub fn limit(&self, per_second: f64) {
        self.state().limit = Some(Bucket::full(per_second, per_second));
    }

    pub fn throttled(&self) -> u64 {
        self.state().throttled
    }

    /// The access token is revoked (or expired): requests are refused with 190 until
    /// `renew`.
    pub fn expire_token(&self, expired: bool) {
        self.state().expired = expired;
    }

    /// The buyer at `phone` (E.164) stopped the business's marketing messages in WhatsApp.
    pub fn stop_marketing(&self, phone: &str) {
        self.state().stopped.insert(phone.trim_start_matches('+').to_string());
    }

    /// Meta decides on the template `name`: `APPROVED`, or `REJECTED` with a reason; the
    /// decision is posted to the webhook. Answers the HTTP status Starling gave.
    pub async fn review(&self, name: &str, event: &str, reason: &str) -> u16 {
        let (template, url) = {
            let mut state = self.state();
            let template = state.templates.iter_mut().find(|t| t.name == name).expect("a template the fake holds");
            template.status = event.to_string();
            template.reason = reason.to_string();
            (template.clone(), state.webhook.clone())
        };
        let value = json!({ "event": event, "message_template_id": template.id.parse::<i64>().unwrap_or(0),
            "message_template_name": template.name, "message_template_language": template.language,
            "reason": if reason.is_empty() { "NONE" } else { reason } });
        post_signed(&url, &envelope("message_template_status_update", value), APP_SECRET).await
    }

    /// Decides every template without posting the decision (as when Meta's report is
    /// lost): Starling finds out by looking them up.
    pub fn decide_quietly(&self, event: &str) {
        for t in self.state().templates.iter_mut() {
            t.status = event.to_string();
        }
    }

    /// Posts a message's status (`sent`, `delivered`, `read`, `failed` with a code).
    pub async fn report(&self, id: &str, status: &str, error_code: Option<i64>) -> u16 {
        let (message, url) = {
            let state = self.state();
            (state.messages.iter().find(|m| m.id == id).cloned().expect("a message the fake took"), state.webhook.clone())
        };
        post_signed(&url, &status_body(&message, status, error_code), APP_SECRET).await
    }

    /// A buyer at `from` (E.164) writes `text` to the business number `phone_number_id`.
    pub async fn reply(&self, from: &str, phone_number_id: &str, text: &str) -> u16 {
        let url = self.state().webhook.clone();
        post_signed(&url, &reply_body(from, phone_number_id, text), APP_SECRET).await
    }
}

/// A webhook delivery of one change, as Meta wraps it.
pub fn envelope(field: &str, value: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "object": "whatsapp_business_account",
        "entry": [{ "id": ACCOUNT_ID, "changes": [{ "field": field, "value": value }] }] }))
    .unwrap()
}

pub fn status_body(message: &Message, status: &str, error_code: Option<i64>) -> Vec<u8> {
    let mut entry = json!({ "id": message.id, "status": status, "timestamp": chrono::Utc::now().timestamp().to_string(),
        "recipient_id": message.to, "biz_opaque_callback_data": message.callback_data,
        "pricing": { "billable": true, "pricing_model": "PMP", "category": "marketing" } });
    if let Some(code) = error_code {
        entry["errors"] = json!([{ "code": code, "title": "Message undeliverable", "message": "Message undeliverable",
            "error_data": { "details": "Message failed to send because of an unknown error." } }]);
    }
    envelope(
        "messages",
        json!({ "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": message.phone_number_id },
            "statuses": [entry] }),
    )
}

pub fn reply_body(from: &str, phone_number_id: &str, text: &str) -> Vec<u8> {
    let from = from.trim_start_matches('+');
    envelope(
        "messages",
        json!({ "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": "Buyer" }, "wa_id": from }],
            "messages": [{ "from": from, "id": format!("wamid.{}", random_hex(20)), "timestamp": chrono::Utc::now().timestamp().to_string(),
                "type": "text", "text": { "body": text } }] }),
    )
}

/// Meta's signature of a body: `sha256=` and the hex HMAC-SHA256 under the app secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `body` to `url` signed under `secret`; answers the HTTP status.
pub async fn post_signed(url: &str, body: &[u8], secret: &str) -> u16 {
    post_body(url, body, &signature(secret, body)).await
}

/// Posts `body` with this signature header (a forged one, say).
pub async fn post_body(url: &str, body: &[u8], signature: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("X-Hub-Signature-256", signature)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The token check: `None` when the request may go on.
fn refused(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if given != format!("Bearer {TOKEN}") {
        return Some(error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token", "Malformed access token."));
    }
    if lock(&shared.state).expired {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            190,
            "Error validating access token: Session has expired",
            "The access token has expired.",
        ));
    }
    None
}

/// The numbered parameters (`{{1}}`…) of a body, in order.
fn placeholders(body: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else { break };
        if let Ok(n) = rest[open + 2..open + close].trim().parse() {
            found.push(n);
        }
        rest = &rest[open + close + 2..];
    }
    found
}

async fn create_template(
    State(shared): State<Arc<Shared>>,
    Path((_version, account)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(injected) = shared.controls.gate(route::TEMPLATES, &STYLE).await {
        return injected;
    }
    if let Some(refusal) = refused(&shared, &headers) {
        return refusal;
    }
    if account != ACCOUNT_ID {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Unknown WhatsApp Business account.");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "The body is not JSON.");
    };
    let text = |key: &str| request.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let (name, language, category) = (text("name"), text("language"), text("category"));
    let body_component = request
        .get("components")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("BODY")));
    let Some(component) = body_component else {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "A template needs a BODY component.");
    };
    let body_text = component.get("text").and_then(Value::as_str).unwrap_or_default().to_string();
    let examples: Vec<String> = component
        .pointer("/example/body_text/0")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return error(
            StatusCode::BAD_REQUEST,
            100,
            "Invalid parameter",
            "Name may only contain lowercase letters, digits and underscores.",
        );
    }
    if !matches!(category.as_str(), "MARKETING" | "UTILITY" | "AUTHENTICATION") {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Category must be MARKETING, UTILITY or AUTHENTICATION.");
    }
    let numbers = placeholders(&body_text);
    if numbers.iter().enumerate().any(|(i, n)| *n != i + 1) {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Variables must be sequential: {{1}}, {{2}}, ...");
    }
    if body_text.trim_start().starts_with("{{") || body_text.trim_end().ends_with("}}") {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Variables can't be at the start or end of the template.");
    }
    if examples.len() != numbers.len() {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Each variable needs an example value.");
    }
    let mut state = lock(&shared.state);
    if state.templates.iter().any(|t| t.name == name && t.language == language) {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "Content in this language already exists.");
    }
    let id = format!("{}", 1_000_000 + state.templates.len() as u64 * 7 + 3);
    state.templates.push(Template {
        id: id.clone(),
        name,
        language,
        category: category.clone(),
        body: body_text,
        examples,
        status: "PENDING".into(),
        reason: String::new(),
    });
    json(StatusCode::OK, json!({ "id": id, "status": "PENDING", "category": category }))
}

/// `GET /{version}/{account}/message_templates?name=…`: templates whose name contains the
/// filter, two to a page (so paging is exercised), with `paging.next` as an absolute URL.
async fn list_templates(
    State(shared): State<Arc<Shared>>,
    Path((_version, account)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(injected) = shared.controls.gate(route::TEMPLATES, &STYLE).await {
        return injected;
    }
    if let Some(refusal) = refused(&shared, &headers) {
        return refusal;
    }
    if query.iter().any(|(n, _)| n == "access_token") {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "The access token travelled in the URL.");
    }
    let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let filter = get("name").unwrap_or_default();
    let after: usize = get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let state = lock(&shared.state);
    let matching: Vec<&Template> = state.templates.iter().filter(|t| t.name.contains(&filter)).collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(after)
        .take(2)
        .map(|t| {
            json!({ "id": t.id, "name": t.name, "language": t.language, "status": t.status, "category": t.category,
                "rejected_reason": if t.reason.is_empty() { "NONE" } else { t.reason.as_str() } })
        })
        .collect();
    let mut answer = json!({ "data": page, "paging": { "cursors": { "before": "MAZDZD", "after": "MjQZD" } } });
    if after + 2 < matching.len() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        answer["paging"]["next"] = json!(format!(
            "http://{host}/{VERSION}/{account}/message_templates?access_token={TOKEN}&name={filter}&limit=2&after={}",
            after + 2
        ));
    }
    json(StatusCode::OK, answer)
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(injected) = shared.controls.gate(route::MESSAGES, &STYLE).await {
        return injected;
    }
    if let Some(refusal) = refused(&shared, &headers) {
        return refusal;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, 100, "Invalid parameter", "The body is not JSON.");
    };
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
    if text("/messaging_product") != "whatsapp" || text("/type") != "template" {
        return error(
            StatusCode::BAD_REQUEST,
            100,
            "Invalid parameter",
            "messaging_product must be whatsapp, and this fake sends templates.",
        );
    }
    let to = text("/to");
    if to.len() < 8 || to.len() > 15 || !to.chars().all(|c| c.is_ascii_digit()) {
        return error(StatusCode::BAD_REQUEST, 131009, "Parameter value is not valid", &format!("{to} is not a phone number."));
    }
    let (name, language) = (text("/template/name"), text("/template/language/code"));
    let parameters: Vec<String> = request
        .pointer("/template/components/0/parameters")
        .and_then(Value::as_array)
        .map(|p| p.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default();
    let mut state = lock(&shared.state);
    if let Some(bucket) = state.limit.as_mut() {
        if !bucket.take(1.0) {
            state.throttled += 1;
            return too_many(1.0);
        }
    }
    let Some(template) = state.templates.iter().find(|t| t.name == name && t.language == language && t.status == "APPROVED").cloned()
    else {
        return error(
            StatusCode::NOT_FOUND,
            132001,
            "Template name does not exist in the translation",
            &format!("template name ({name}) does not exist in {language}"),
        );
    };
    if placeholders(&template.body).len() != parameters.len() {
        return error(StatusCode::BAD_REQUEST, 132000, "Number of parameters does not match the expected number of params", "");
    }
    if parameters.iter().any(|p| p.contains('\n') || p.contains('\t') || p.contains("     ") || p.is_empty()) {
        return error(StatusCode::BAD_REQUEST, 132018, "There was an issue with the parameters in your template", "");
    }
    if template.category == "MARKETING" && to.starts_with('1') {
        return error(
            StatusCode::BAD_REQUEST,
            131049,
            "This message was not delivered to maintain healthy ecosystem engagement.",
            "Marketing template messages to US numbers are not delivered.",
        );
    }
    if template.category == "MARKETING" && state.stopped.contains(&to) {
        return error(StatusCode::BAD_REQUEST, 131050, "Unable to deliver the message", "The user has stopped marketing messages.");
    }
    let id = format!("wamid.HBgL{}", random_hex(24));
    state.messages.push(Message {
        id: id.clone(),
        phone_number_id,
        to: to.clone(),
        template: name,
        language,
        parameters,
        callback_data: text("/biz_opaque_callback_data"),
    });
    json(
        StatusCode::OK,
        json!({ "messaging_product": "whatsapp", "contacts": [{ "input": to, "wa_id": to }],
            "messages": [{ "id": id, "message_status": "accepted" }] }),
    )
}
