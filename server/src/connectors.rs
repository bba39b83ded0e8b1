//! The connectors' plain routes: Shopify's webhooks (the raw body is needed for its
//! signature), and the two ends of an OAuth authorization (a full-page redirect to the
//! platform's consent page, and its way back).

use crate::http::{error_response, redirect};
use crate::AppState;
use app::connectors::model::Platform;
use app::connectors::webhooks::{self, Answer, Context, Delivery};
use axum::extract::{Form, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// `POST /webhooks/shopify`.
pub async fn shopify_webhook(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let delivery = Delivery {
        topic: header("x-shopify-topic"),
        shop: header("x-shopify-shop-domain"),
        webhook_id: header("x-shopify-webhook-id"),
        signature: header("x-shopify-hmac-sha256"),
        body: &body,
    };
    let server = &state.server;
    let cx = Context {
        db: &server.db,
        settings: &server.connectors.settings,
        sealer: &server.connectors.sealer,
        mailer: &server.mailer,
        public_url: &server.public_url,
    };
    match webhooks::shopify(&cx, &delivery).await {
        Ok(Answer::Taken(what)) => (StatusCode::OK, what).into_response(),
        Ok(Answer::BadSignature) => {
            tracing::warn!(topic = delivery.topic, "a Shopify webhook's signature did not verify");
            (StatusCode::UNAUTHORIZED, "The signature does not match.").into_response()
        }
        Ok(Answer::Unreadable(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), topic = delivery.topic, "a Shopify webhook failed");
            // 5xx: Shopify delivers it again later.
            (StatusCode::SERVICE_UNAVAILABLE, "Try again.").into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct AuthorizeForm {
    store_id: i64,
    #[serde(default)]
    account: String,
}

/// Back to the Connections page with what went wrong in words (never a credential).
fn back_with_error(e: &app::error::AppError) -> Response {
    let message = match e {
        app::error::AppError::Invalid(fields) => fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    };
    redirect(&format!("/connections?error={}", app::shell::table::encode(&message)))
}

/// `POST /connections/authorize`: to the platform's consent page.
pub async fn authorize(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<AuthorizeForm>) -> Response {
    let server = &state.server;
    let actor = match app::accounts::api::caller_from_headers(&server.db, &headers).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    match app::connectors::api::begin_authorization(
        &server.db,
        &server.connectors,
        &server.public_url,
        &actor,
        form.store_id,
        &form.account,
    )
    .await
    {
        Ok(url) => redirect(&url),
        Err(e) => back_with_error(&e),
    }
}

/// `GET /connections/{platform}/callback`: the platform sends the merchant back here.
pub async fn callback(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(platform) = Platform::parse(&platform) else {
        return (StatusCode::NOT_FOUND, "Unknown platform.").into_response();
    };
    // The store's own permission is checked when the authorization is finished.
    let actor = match app::accounts::api::caller_from_headers(&state.server.db, &headers).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    if let Some((_, why)) = params.iter().find(|(k, _)| k == "error") {
        return back_with_error(&app::error::AppError::invalid(
            "error",
            format!("{} did not authorize Starling ({why}).", platform.label()),
        ));
    }
    let back = app::connectors::api::Callback { platform, params };
    match app::connectors::api::finish_authorization(&state.server, &actor, back).await {
        Ok(store) => redirect(&format!("/connections?connected={store}")),
        Err(e) => back_with_error(&e),
    }
}
