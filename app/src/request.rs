//! What a server function needs from its request (the process state, the request's
//! headers, the response options), captured once when the call starts and carried in a
//! task-local for the rest of the call. Leptos offers these as reactive context, but during
//! streaming SSR the context is not reliably there after the call's first `.await`.

use crate::error::AppError;
use crate::ServerState;
use leptos::prelude::use_context;
use std::future::Future;

#[derive(Clone)]
pub struct RequestScope {
    pub state: Option<ServerState>,
    pub parts: Option<http::request::Parts>,
    pub response: Option<leptos_axum::ResponseOptions>,
}

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// Runs one server function's work with its request captured, and maps an error to the
/// HTTP status of the response (401, 403, 404, 422…) at this one place.
pub async fn scoped<T>(work: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let parts = use_context::<http::request::Parts>();
    let state = use_context::<ServerState>().or_else(|| parts.as_ref().and_then(|p| p.extensions.get::<ServerState>().cloned()));
    let scope = RequestScope { state, parts, response: use_context::<leptos_axum::ResponseOptions>() };
    let result = REQUEST.scope(scope.clone(), work).await;
    if let Err(e @ AppError::Internal(..)) = &result {
        tracing::error!(error = %crate::error::report(e), "a server function failed");
    }
    if let (Err(e), Some(response)) = (&result, &scope.response) {
        if let Ok(code) = http::StatusCode::from_u16(e.status()) {
            response.set_status(code);
        }
    }
    result
}

/// The captured request of the running server function, if any.
pub fn current() -> Option<RequestScope> {
    REQUEST.try_with(|scope| scope.clone()).ok()
}
