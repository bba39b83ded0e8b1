//! Links in sent mail: the open pixel, tracked clicks and unsubscribing. No session is
//! involved: each link carries a signed token (`app::delivery::tokens`) bound to the
//! client in its path. A token that does not verify gets 404 — a forged or altered click
//! never redirects anywhere. GET on the unsubscribe link only shows a confirmation page
//! (link scanners open links); the buyer's button, or the mail client's RFC 8058 one-click
//! POST, unsubscribes — at once, without cookies, for the message's brand.

use crate::AppState;
use app::campaigns::monitor;
use app::db::now_millis;
use app::delivery::tokens::{self, Purpose};
use app::outbox::model::EventKind;
use app::outbox::store as outbox;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use secrecy::ExposeSecret;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "This link is not valid.").into_response()
}

/// The claims of a genuine token whose message belongs to the path's client.
async fn verified(state: &AppState, client_id: i64, token: &str, purpose: Purpose) -> Option<tokens::Claims> {
    let claims = tokens::verify(state.server.secret_key.expose_secret(), client_id, token, purpose, now_millis())?;
    let owner = outbox::client_of(&state.server.db, claims.message_id).await.ok().flatten();
    (owner == Some(client_id)).then_some(claims)
}

/// `GET /t/o/{client}/{token}`: records an open (once per message and day of hits is not
/// needed: reports count unique opens per message) and answers the pixel.
pub async fn open(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(claims) = verified(&state, client_id, &token, Purpose::Open).await else { return not_found() };
    let now = now_millis();
    if let Err(e) =
        monitor::record_event(&state.server.db, claims.message_id, EventKind::Opened, &format!("open-{}", now / 60_000), now, "").await
    {
        tracing::error!(error = %app::error::report(&e), "recording an open failed");
    }
    ([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store")], PIXEL).into_response()
}

/// `GET /t/c/{client}/{token}`: records the click and redirects to the signed target.
pub async fn click(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(claims) = verified(&state, client_id, &token, Purpose::Click).await else { return not_found() };
    if !(claims.url.starts_with("https://") || claims.url.starts_with("http://")) {
        return not_found();
    }
    let now = now_millis();
    // One click per link and minute counts (a double click is not two).
    let source = format!("click-{}-{}", now / 60_000, claims.url);
    if let Err(e) = monitor::record_event(&state.server.db, claims.message_id, EventKind::Clicked, &source, now, &claims.url).await {
        tracing::error!(error = %app::error::report(&e), "recording a click failed");
    }
    (StatusCode::FOUND, [(header::LOCATION, claims.url), (header::CACHE_CONTROL, "no-store".to_string())]).into_response()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1c2430}}\
         button{{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#2456c8;color:#fff}}</style></head>\
         <body>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A genuine unsubscribe token of a message of the path's client, expired or not.
async fn unsubscribe_claims(state: &AppState, client_id: i64, token: &str) -> Option<tokens::Checked> {
    let checked = tokens::check(state.server.secret_key.expose_secret(), client_id, token, Purpose::Unsubscribe, now_millis())?;
    let (tokens::Checked::Valid(claims) | tokens::Checked::Expired(claims)) = &checked;
    let owner = outbox::client_of(&state.server.db, claims.message_id).await.ok().flatten();
    (owner == Some(client_id)).then_some(checked)
}

async fn brand_of_message(state: &AppState, message_id: i64) -> String {
    outbox::brand_name_of(&state.server.db, message_id).await.ok().flatten().unwrap_or_default()
}

/// The page of an expired link: the address the message went to unsubscribes it.
fn address_form(brand: &str, note: &str) -> Response {
    page(
        "Unsubscribe",
        &format!(
            "<h1>Unsubscribe from {brand}</h1>{note}<p>This link is more than a year old. Enter the e-mail address the message \
             was sent to, and it gets no more e-mails from {brand} about its orders.</p>\
             <form method=\"post\"><label>E-mail address <input type=\"email\" name=\"email\" required autocomplete=\"email\"></label> \
             <button type=\"submit\">Unsubscribe</button></form>"
        ),
    )
    .into_response()
}

/// `GET /t/u/{client}/{token}`: asks for confirmation (never unsubscribes by itself).
pub async fn unsubscribe_page(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(checked) = unsubscribe_claims(&state, client_id, &token).await else { return not_found() };
    match checked {
        tokens::Checked::Valid(claims) => {
            let brand = escape(&brand_of_message(&state, claims.message_id).await);
            page(
                "Unsubscribe",
                &format!(
                    "<h1>Unsubscribe from {brand}?</h1><p>You will get no more e-mails from {brand} about your orders.</p>\
                     <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>"
                ),
            )
            .into_response()
        }
        tokens::Checked::Expired(claims) => address_form(&escape(&brand_of_message(&state, claims.message_id).await), ""),
    }
}

/// `POST /t/u/{client}/{token}`: unsubscribes the message's buyer from its brand, at once
/// (the mail client's one-click POST or the confirmation button), and records how long
/// after the message was sent it was processed. An expired link unsubscribes when the
/// form names the address the message went to; the answer is the same whatever the
/// address, so the link tells nobody who received the message.
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path((client_id, token)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(checked) = unsubscribe_claims(&state, client_id, &token).await else { return not_found() };
    let claims = match checked {
        tokens::Checked::Valid(claims) => claims,
        tokens::Checked::Expired(claims) => {
            let brand = escape(&brand_of_message(&state, claims.message_id).await);
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let typed = form.iter().find(|(k, _)| k == "email").map(|(_, v)| v.trim().to_lowercase()).unwrap_or_default();
            if typed.is_empty() {
                return address_form(&brand, "");
            }
            let recipient = app::delivery::recipient_of(&state.server.db, claims.message_id).await.unwrap_or_default();
            if !recipient.is_empty() && recipient.to_lowercase() == typed {
                if let Err(e) = app::delivery::unsubscribe(&state.server.db, claims.message_id, now_millis()).await {
                    tracing::error!(error = %app::error::report(&e), "unsubscribe failed");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; please try again.").into_response();
                }
            }
            let typed = escape(&typed);
            return page(
                "Unsubscribed",
                &format!(
                    "<h1>Thank you</h1><p>If {typed} received this message, it is unsubscribed: {brand} will not e-mail it again.</p>"
                ),
            )
            .into_response();
        }
    };
    match app::delivery::unsubscribe(&state.server.db, claims.message_id, now_millis()).await {
        Ok(brand) => page("Unsubscribed", &format!("<h1>You are unsubscribed</h1><p>{} will not e-mail you again.</p>", escape(&brand)))
            .into_response(),
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "unsubscribe failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; please try again.").into_response()
        }
    }
}

/// `POST /webhooks/feedback`: a bounce (RFC 3464 DSN) or complaint (RFC 5965 ARF) report,
/// the raw message as the body, from the relay, the ESP or the mailbox that forwards them.
/// No key: a report counts only when it names a message by its signed Message-ID or return
/// path (`app::delivery::feedback`). 200 with what was recorded (a replay records nothing
/// new), 422 naming what is missing when the report can't be read or matched.
pub async fn feedback(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let secret = state.server.secret_key.expose_secret().to_string();
    match app::delivery::feedback::process(&state.server.db, &secret, &body, now_millis()).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(app::error::AppError::Request(why)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(serde_json::json!({ "error": why }))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "processing a feedback report failed");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": "the report could not be processed; try again" })))
                .into_response()
        }
    }
}
