//! Non-UI HTTP: health, and the guards every request passes (CSRF origin check, page
//! sign-in redirect, body limit message).

use app::accounts::api::caller_from_headers;
use app::ServerState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Who may call a plain HTTP route (the authorization matrix test reads this list, so a
/// route missing from it fails the test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteAccess {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user; pages fetch their data through server functions, which check
    /// the role and client themselves.
    SignedIn,
    /// Signed-in agency admins; others get 403.
    AdminOnly,
    /// A page of one client (`{id}`): admins and users assigned to that client; others
    /// get 403.
    Client,
    /// A client's orders and buyers: admins, and that client's account managers and
    /// viewers (not copywriters); others get 403.
    ClientOrders,
    /// Changing a client's orders and buyers (imports, keys, erasure): admins and that
    /// client's account managers; others get 403.
    ClientManage,
    /// Agency work across clients (review alerts): admins and account managers; others
    /// get 403.
    Managers,
    /// Store connections across clients: admins, account managers and client viewers (each
    /// their own clients' stores); copywriters get 403.
    NotCopywriters,
}

/// Every route the server answers besides server functions and static files: the health
/// check and every page of the app. The authorization matrix test compares this list with
/// the router's, so a page added without a line here fails the suite.
pub const HTTP_ROUTES: &[(&str, RouteAccess)] = &[
    ("/healthz", RouteAccess::Public),
    ("/favicon.ico", RouteAccess::Public),
    ("/sign-in", RouteAccess::Public),
    ("/", RouteAccess::SignedIn),
    ("/clients", RouteAccess::SignedIn),
    ("/clients/new", RouteAccess::SignedIn),
    ("/clients/{id}", RouteAccess::Client),
    ("/clients/{id}/edit", RouteAccess::Client),
    ("/clients/{id}/brands/new", RouteAccess::Client),
    ("/clients/{id}/brands/{brand}/edit", RouteAccess::Client),
    ("/clients/{id}/brands/{brand}/sending", RouteAccess::ClientManage),
    ("/clients/{id}/stores/new", RouteAccess::Client),
    ("/clients/{id}/stores/{store}/edit", RouteAccess::Client),
    ("/clients/{id}/stores/{store}/keys", RouteAccess::ClientManage),
    ("/clients/{id}/orders", RouteAccess::ClientOrders),
    ("/clients/{id}/customers/{customer}", RouteAccess::ClientOrders),
    ("/clients/{id}/imports", RouteAccess::ClientManage),
    ("/clients/{id}/campaigns", RouteAccess::ClientManage),
    ("/clients/{id}/campaigns/{campaign}", RouteAccess::ClientManage),
    ("/clients/{id}/imports/{job}", RouteAccess::ClientManage),
    ("/clients/{id}/privacy", RouteAccess::ClientOrders),
    ("/clients/{id}/orders.csv", RouteAccess::ClientOrders),
    ("/clients/{id}/suppression.csv", RouteAccess::ClientOrders),
    ("/clients/{id}/imports/{job}/rejects.csv", RouteAccess::ClientManage),
    ("/clients/{id}/customers/{customer}/export.json", RouteAccess::ClientManage),
    ("/clients/{id}/templates", RouteAccess::Client),
    ("/clients/{id}/templates/{template}", RouteAccess::Client),
    ("/clients/{id}/templates/{template}/versions/{version}", RouteAccess::Client),
    ("/clients/{id}/reports", RouteAccess::Client),
    ("/clients/{id}/reports/export.csv", RouteAccess::Client),
    ("/clients/{id}/reports/export.parquet", RouteAccess::Client),
    ("/clients/{id}/reviews", RouteAccess::Client),
    ("/clients/{id}/sla", RouteAccess::Client),
    ("/clients/{id}/usage", RouteAccess::ClientOrders),
    ("/clients/{id}/usage.csv", RouteAccess::ClientOrders),
    ("/alerts", RouteAccess::Managers),
    ("/connections", RouteAccess::NotCopywriters),
    ("/sla", RouteAccess::SignedIn),
    ("/approvals", RouteAccess::SignedIn),
    ("/outbox", RouteAccess::AdminOnly),
    ("/users", RouteAccess::AdminOnly),
    ("/audit", RouteAccess::AdminOnly),
    ("/account", RouteAccess::SignedIn),
];

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<crate::AppState>) -> Response {
    if state.server.db.is_reachable().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
    }
}

/// `GET /favicon.ico`, which browsers and tools ask for by default: the console's icon
/// (pages name the same SVG as `/favicon.svg`).
pub async fn favicon() -> Response {
    const ICON: &str = include_str!("../../style/favicon.svg");
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}

/// Paths that are not cookie-authenticated and so need no CSRF proof: machine APIs with
/// their own keys, tracking links and webhooks.
fn csrf_exempt(path: &str) -> bool {
    path.starts_with("/api/v1/") || path.starts_with("/t/") || path.starts_with("/webhooks/")
}

/// OWASP "verify origin with standard headers": a state-changing request must come from a
/// page of this same site. Browsers always send `Origin` on POST; a forged cross-site form
/// or a script elsewhere carries a foreign one, and a bare client none.
pub async fn csrf_guard(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) || csrf_exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let source = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|h| h.to_str().ok());
    let same_site = source.is_some_and(|s| {
        let rest = s.split_once("://").map(|(_, r)| r).unwrap_or("");
        let authority = rest.split('/').next().unwrap_or("");
        !host.is_empty() && authority.eq_ignore_ascii_case(host)
    });
    if same_site {
        next.run(request).await
    } else {
        let why = if source.is_none() {
            "Cross-site request refused: the request has no Origin or Referer header."
        } else {
            "Cross-site request refused: the request comes from another site."
        };
        tracing::warn!(path = %loggable_path(request.uri().path()), "csrf check failed");
        (StatusCode::FORBIDDEN, why).into_response()
    }
}

/// Whether a path is a console page (rather than a file, a server function, an API, a
/// tracking link or a webhook).
pub fn is_page(path: &str) -> bool {
    !path.starts_with("/pkg/")
        && !path.starts_with("/rpc/")
        && !path.starts_with("/api/")
        && !path.starts_with("/t/")
        && !path.starts_with("/webhooks/")
        && path != "/healthz"
        && path != "/favicon.ico"
        && path != "/favicon.svg"
}

/// Pages need a signed-in user: anyone else is sent to the sign-in page (and a signed-in
/// user opening the sign-in page goes to the dashboard). The user found here goes with the
/// request, so the page's server functions need not look the session up again.
pub async fn page_guard(State(state): State<crate::AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() != Method::GET || !is_page(path) {
        return next.run(request).await;
    }
    let actor = caller_from_headers(&state.server.db, request.headers()).await.ok();
    match (path == "/sign-in", actor) {
        (true, Some(_)) => redirect("/"),
        (false, None) => redirect("/sign-in"),
        (_, Some(actor)) => {
            request.extensions_mut().insert(app::accounts::api::SignedIn(actor));
            next.run(request).await
        }
        (true, None) => next.run(request).await,
    }
}

fn redirect(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).body(Body::empty()).unwrap_or_default()
}

/// Gives the bare 413 of the body-limit layer a message a person can act on.
pub async fn explain_limits(State(state): State<crate::AppState>, response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let message = format!("Request body too large: the limit is {} KiB.", state.max_body_bytes / 1024);
        return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
    }
    response
}

/// Server functions answer errors the framework itself raised (a body that does not
/// deserialize, a missing argument) as 500; this gives them the status of the `AppError`
/// they carry (400 for a malformed request), so only real server faults are 500s.
pub async fn rpc_status(request: Request, next: Next) -> Response {
    let is_rpc = request.uri().path().starts_with("/rpc/");
    let mut response = next.run(request).await;
    // A browser's own form post (no WASM yet, or JavaScript off) is answered with the page
    // to go back to, its error (if any) in the address: whatever the outcome, that must be
    // a redirect the browser follows with a GET, or it would show the error's JSON.
    if is_rpc && response.headers().contains_key(header::LOCATION) {
        *response.status_mut() = StatusCode::SEE_OTHER;
        // Back to the page as it was: no empty query left behind by the error parameter.
        let bare =
            response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| l.strip_suffix('?')).map(str::to_string);
        if let Some(value) = bare.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return response;
    }
    if !is_rpc || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 256 * 1024).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A request path as logs may show it: the token of a tracking, click or unsubscribe link
/// (a bearer credential) is cut off.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/t/") {
        Some(rest) => {
            // /t/{kind}/{client}/{token}: keep the kind and the client.
            let kept: Vec<&str> = rest.splitn(3, '/').take(2).collect();
            std::borrow::Cow::Owned(format!("/t/{}/…", kept.join("/")))
        }
        None => std::borrow::Cow::Borrowed(path),
    }
}

#[cfg(test)]
mod log_tests {
    #[test]
    fn tokens_never_reach_a_logged_path() {
        assert_eq!(super::loggable_path("/t/u/1/eyJwIjoidSJ9.abcdef"), "/t/u/1/…");
        assert_eq!(super::loggable_path("/t/c/12/tok/extra"), "/t/c/12/…");
        assert_eq!(super::loggable_path("/t/o"), "/t/o/…");
        assert_eq!(super::loggable_path("/clients/1/orders"), "/clients/1/orders");
    }
}

/// The policy of a response that set none itself: nothing runs, nothing loads but the
/// server's own images and inline styles (the unsubscribe page), forms post only here.
/// Console pages set their own, with the nonce of their inline scripts (`app::shell`).
const FALLBACK_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Headers on every response: no page of Starling may be framed by another site (the
/// approve and launch buttons cannot be clickjacked), no file is sniffed as another type,
/// and no address (tracking links carry tokens) leaks to other sites as a referrer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(FALLBACK_POLICY));
    }
    response
}

/// Kept for symmetry with other handlers: state for the server functions' context.
pub fn server_state(state: &crate::AppState) -> ServerState {
    state.server.clone()
}
