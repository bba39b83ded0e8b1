//! Texts over HTTP: the SMS provider's status and reply webhooks (signed by the provider,
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
            tracing::warn!(hook = what, "an SMS webhook's signature did not verify");
            (StatusCode::FORBIDDEN, "The signature does not match.").into_response()
        }
        Err(HookError::Malformed(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(HookError::Internal(e)) => {
            tracing::error!(error = %app::error::report(&e), hook = what, "an SMS webhook failed");
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
