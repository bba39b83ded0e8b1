//! Texts and WhatsApp over HTTP: the SMS provider's status and reply webhooks, Meta's WhatsApp webhook (signed by the provider,
//! verified against the URL it was configured with: Starling's public URL), and the short
//! tracked links in texts (`/t/s/{code}`), whose code is signed like the e-mail's links.

use crate::AppState;
use app::campaigns::monitor;
use app::db::now_millis;
use app::messaging::hooks::{self, HookError, Reply};
use app::outbox::model::EventKind;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

/// The form parameters of a webhook body, as sent (names and values URL-decoded).
fn form(body: &[u8]) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).ok()
}

/// The URL the provider signed: Starling's public URL and the path (with its query) asked.
fn signed_url(state: &AppState, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{path}", state.server.public_url.trim_end_matches('/'))
}

fn answer(result: Result<String, HookError>, what: &str) -> Response {
    match result {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], text).into_response(),
        Err(HookError::Forged) => {
            tracing::warn!(hook = what, "a messaging webhook's signature did not verify");
            (StatusCode::FORBIDDEN, "The signature does not match.").into_response()
        }
        Err(HookError::Malformed(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(HookError::Internal(e)) => {
            tracing::error!(error = %app::error::report(&e), hook = what, "a messaging webhook failed");
            // 5xx: the provider posts it again.
            (StatusCode::SERVICE_UNAVAILABLE, "Try again.").into_response()
        }
    }
}

/// An empty TwiML answer: no reply text.
const EMPTY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// `POST /webhooks/sms/status`: the provider's report on a text.
pub async fn status(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(provider) = state.sms.clone() else { return (StatusCode::NOT_FOUND, "No SMS provider is configured.").into_response() };
    let Some(params) = form(&body) else { return (StatusCode::BAD_REQUEST, "The body is not a form.").into_response() };
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    let url = signed_url(&state, &uri);
    let result = hooks::status(&state.server.db, provider.as_ref(), &url, &params, signature, now_millis()).await;
    answer(result.map(|_| EMPTY.to_string()), "status")
}

/// `POST /webhooks/sms/inbound`: a buyer's reply; an opt-out keyword suppresses the buyer.
pub async fn inbound(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(provider) = state.sms.clone() else { return (StatusCode::NOT_FOUND, "No SMS provider is configured.").into_response() };
    let Some(params) = form(&body) else { return (StatusCode::BAD_REQUEST, "The body is not a form.").into_response() };
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    let url = signed_url(&state, &uri);
    let result = hooks::reply(&state.server.db, provider.as_ref(), &url, &params, signature, now_millis()).await;
    if let Ok(Reply::OptedOut { brands }) = &result {
        tracing::info!(brands, "a buyer opted out by text");
    }
    answer(result.map(|_| EMPTY.to_string()), "inbound")
}

/// `GET /t/s/{code}`: a text's link. Records the click and redirects to the link's target,
/// found by rendering the message again; a code that does not verify is 404.
pub async fn short_link(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "This link is not valid.").into_response();
    let secret = state.server.secret_key.expose_secret();
    let Some((message_id, index)) = app::delivery::compose::parse_short_link(secret, &code) else { return not_found() };
    let db = &state.server.db;
    let outgoing = match app::delivery::store::outgoing(db, &[message_id]).await {
        Ok(mut found) if !found.is_empty() => found.remove(0),
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "reading a text for its link failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "Try again.").into_response();
        }
    };
    let Some(target) = app::delivery::compose::text_link_target(&outgoing, index) else { return not_found() };
    if !(target.starts_with("https://") || target.starts_with("http://")) {
        return not_found();
    }
    let now = now_millis();
    let source = format!("click-{}-{}", now / 60_000, target);
    if let Err(e) = monitor::record_event(db, message_id, EventKind::Clicked, &source, now, &target).await {
        tracing::error!(error = %app::error::report(&e), "recording a click failed");
    }
    (StatusCode::FOUND, [(header::LOCATION, target), (header::CACHE_CONTROL, "no-store".to_string())]).into_response()
}

/// `GET /webhooks/whatsapp`: Meta's subscription check. It sends the verify token
/// configured in the app's webhook settings and a challenge, which is answered back when
/// the token matches.
pub async fn whatsapp_subscribe(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let Some(expected) = state.whatsapp_verify_token.clone() else {
        return (StatusCode::NOT_FOUND, "No WhatsApp webhook is configured.").into_response();
    };
    let given = get("hub.verify_token").unwrap_or_default();
    let matches = !expected.expose_secret().is_empty()
        && given.len() == expected.expose_secret().len()
        && given.bytes().zip(expected.expose_secret().bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    match (get("hub.mode"), get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if matches => (StatusCode::OK, challenge.to_string()).into_response(),
        _ => (StatusCode::FORBIDDEN, "The verify token does not match.").into_response(),
    }
}

/// `POST /webhooks/whatsapp`: Meta's report of statuses, replies and template reviews,
/// signed over the raw body.
pub async fn whatsapp(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(cloud) = state.whatsapp.clone() else { return (StatusCode::NOT_FOUND, "No WhatsApp account is configured.").into_response() };
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let result = hooks::whatsapp(&state.server.db, &cloud, &body, signature, now_millis()).await;
    if let Ok(outcome) = &result {
        if outcome.opt_outs > 0 {
            tracing::info!(buyers = outcome.opt_outs, "buyers opted out on WhatsApp");
        }
    }
    answer(result.map(|_| String::new()), "whatsapp")
}

/// Submits approved versions' WhatsApp parts to Meta and follows their review, every
/// `every_ms`, for the life of the process.
pub async fn meta_templates(db: app::db::Db, cloud: std::sync::Arc<app::messaging::whatsapp::WhatsappCloud>, every_ms: u64) {
    loop {
        if let Err(e) = app::messaging::meta::sync(&db, &cloud, now_millis()).await {
            tracing::error!(error = %app::error::report(&e), "submitting WhatsApp templates to Meta failed");
        }
        tokio::time::sleep(std::time::Duration::from_millis(every_ms)).await;
    }
}
