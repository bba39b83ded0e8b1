//! HTTP helpers of the plain routes (uploads, downloads, the APIs): answers, redirects,
//! the signed-in caller with their permission checked, and the store an API key names.

use crate::AppState;
use app::accounts::api::caller_from_headers;
use app::accounts::model::Actor;
use app::accounts::rules::{authorize, Action};
use app::error::AppError;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A 303 to `to`.
pub(crate) fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// An error as a plain-text answer with its status.
pub(crate) fn error_response(e: AppError) -> Response {
    if matches!(e, AppError::Internal(..)) {
        tracing::error!(error = %app::error::report(&e), "a request failed");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, e.to_string()).into_response()
}

/// The signed-in caller, when `action` is allowed to them.
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap, action: Action) -> Result<Actor, AppError> {
    let actor = caller_from_headers(&state.server.db, headers).await?;
    authorize(&actor, action)?;
    Ok(actor)
}

/// A file download that no cache keeps.
pub(crate) fn download(content_type: &'static str, file_name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// Why an upload was refused for its size, with what to do.
pub(crate) fn too_large(limit: u64) -> String {
    let size = if limit >= 1024 * 1024 { format!("{} MB", limit / (1024 * 1024)) } else { format!("{} KB", limit.div_ceil(1024)) };
    format!("The file is larger than the upload limit of {size}. Split it, or ask the admin to raise STARLING_MAX_UPLOAD_BYTES.")
}

/// A JSON `{"error": …}` answer of the shop APIs.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The store whose API key the request carries (`Authorization: Bearer <key>`), or the
/// answer that says why there is none.
pub(crate) async fn key_store(state: &AppState, headers: &HeaderMap) -> Result<app::orders::store::Target, Response> {
    let key = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if key.is_empty() {
        return Err(json_error(StatusCode::UNAUTHORIZED, "Send the store's API key as \"Authorization: Bearer <key>\"."));
    }
    match app::orders::keys::authenticate(&state.server.db, key).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(json_error(StatusCode::UNAUTHORIZED, "This API key is unknown or was revoked.")),
        Err(_) => Err(json_error(StatusCode::INTERNAL_SERVER_ERROR, "The key could not be checked; try again.")),
    }
}
