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
    let owner: Option<i64> = sqlx::query_scalar("SELECT client_id FROM messages WHERE id = $1")
        .bind(claims.message_id)
        .fetch_optional(&state.server.db.pool)
        .await
        .ok()
        .flatten();
    (owner == Some(client_id)).then_some(claims)
}

/// `GET /t/o/{client}/{token}`: records an open (once per message and day of hits is not
/// needed: reports count unique opens per message) and answers the pixel.
pub async fn open(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(claims) = verified(&state, client_id, &token, Purpose::Open).await else { return not_found() };
    let now = now_millis();
    if let Err(e) = monitor::record_event(&state.server.db, claims.message_id, "opened", &format!("open-{}", now / 60_000), now, "").await {
        tracing::error!(error = %e, "recording an open failed");
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
    if let Err(e) = monitor::record_event(&state.server.db, claims.message_id, "clicked", &source, now, &claims.url).await {
        tracing::error!(error = %e, "recording a click failed");
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

/// `GET /t/u/{client}/{token}`: asks for confirmation (never unsubscribes by itself).
pub async fn unsubscribe_page(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(claims) = verified(&state, client_id, &token, Purpose::Unsubscribe).await else { return not_found() };
    let brand: String = sqlx::query_scalar("SELECT b.name FROM messages m JOIN brands b ON b.id = m.brand_id WHERE m.id = $1")
        .bind(claims.message_id)
        .fetch_one(&state.server.db.pool)
        .await
        .unwrap_or_default();
    let brand = escape(&brand);
    page(
        "Unsubscribe",
        &format!(
            "<h1>Unsubscribe from {brand}?</h1><p>You will get no more e-mails from {brand} about your orders.</p>\
             <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">Unsubscribe</button></form>"
        ),
    )
    .into_response()
}

/// `POST /t/u/{client}/{token}`: unsubscribes the message's buyer from its brand, at once
/// (the mail client's one-click POST or the confirmation button), and records how long
/// after the message was sent it was processed.
pub async fn unsubscribe(State(state): State<AppState>, Path((client_id, token)): Path<(i64, String)>) -> Response {
    let Some(claims) = verified(&state, client_id, &token, Purpose::Unsubscribe).await else { return not_found() };
    match app::delivery::unsubscribe(&state.server.db, claims.message_id, now_millis()).await {
        Ok(brand) => page("Unsubscribed", &format!("<h1>You are unsubscribed</h1><p>{} will not e-mail you again.</p>", escape(&brand)))
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
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
            tracing::error!(error = %e, "processing a feedback report failed");
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(serde_json::json!({ "error": "the report could not be processed; try again" })))
                .into_response()
        }
    }
}
