//! A short-lived cache of rendered console pages, per session.
//!
//! Rendering a console page runs the whole app on the server: the sign-in check, every
//! server function the page reads, the HTML and the serialized data the browser hydrates
//! from. A page that many requests ask for at once (a dashboard left open by a team,
//! reloads, a wall screen) is rendered once and served from memory for [`FRESH_FOR`].
//!
//! What keeps it correct:
//! - An entry belongs to one session (the key is the session token's hash with the path
//!   and query), so nobody is ever served a page rendered for someone else, and the
//!   sign-in guard still runs before every hit (a signed-out or expired session gets the
//!   sign-in page, not the cached one).
//! - Every request that may change data (any method but GET and HEAD, on any route of this
//!   process) makes every entry stale when it finishes, so a user who saves a form and is
//!   sent back to the page sees the change. Work that changes data in the background (import
//!   jobs, the sender, another server process on the same PostgreSQL) shows within
//!   [`FRESH_FOR`] and the time of one render.
//! - One render of a page at a time: while it runs, the same session's other requests for
//!   the page get the copy it replaces (when no write came since) or wait for it, so a
//!   busy page costs one render per second however many ask for it.
//! - Each response gets its own Content-Security-Policy nonce: the cached page's nonce is
//!   replaced in the header and in the page's script tags.
//! - Only complete `200 text/html` answers without `Set-Cookie` are kept, and at most
//!   [`CAPACITY_BYTES`] of them.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a rendered page is served without rendering it again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// The most memory the cache holds (pages are 10-300 KB).
pub const CAPACITY_BYTES: u64 = 64 << 20;
/// A page larger than this is not kept.
const LARGEST_PAGE: usize = 4 << 20;

type Key = (String, String);

pub struct PageCache {
    entries: moka::sync::Cache<Key, Arc<Entry>>,
    /// One render of a page at a time: the others wait for it, or take the copy it
    /// replaces when that is only older than [`FRESH_FOR`] (nothing was written since).
    renders: moka::sync::Cache<Key, Arc<tokio::sync::Mutex<()>>>,
    /// Bumped when a request that may have changed data finishes.
    generation: AtomicU64,
}

struct Entry {
    generation: u64,
    rendered: Instant,
    headers: HeaderMap,
    body: Bytes,
    /// The nonce of the page's inline scripts and its policy header.
    nonce: Option<String>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY_BYTES)
                .weigher(|key: &Key, entry: &Arc<Entry>| {
                    (key.0.len() + key.1.len() + entry.body.len() + 512).try_into().unwrap_or(u32::MAX)
                })
                // Stale entries are never served; this only gives their memory back.
                .time_to_live(Duration::from_secs(30))
                .build(),
            renders: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(30)).build(),
            generation: AtomicU64::new(0),
        }
    }
}

impl PageCache {
    /// Marks every entry stale (after a request that may have changed data).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The entry of `key` rendered since the last write, and whether it is younger than
    /// [`FRESH_FOR`].
    fn current(&self, key: &Key) -> Option<(Arc<Entry>, bool)> {
        let entry = self.entries.get(key)?;
        let young = entry.rendered.elapsed() < FRESH_FOR;
        (entry.generation == self.generation.load(Ordering::Acquire)).then_some((entry, young))
    }
}

/// Outermost layer: any request but GET or HEAD, to any route, makes cached pages stale
/// once it has been answered.
pub async fn invalidate_on_write(State(state): State<crate::AppState>, request: Request, next: Next) -> Response {
    let reads_only = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(request).await;
    if !reads_only {
        state.pages.invalidate();
    }
    response
}

/// Inside the sign-in guard: serves a console page from the cache when this session has a
/// fresh copy, else renders it and keeps the copy.
pub async fn serve(State(state): State<crate::AppState>, request: Request, next: Next) -> Response {
    let Some(key) = key(&request) else { return next.run(request).await };
    let cache = &state.pages;
    let current = cache.current(&key);
    if let Some((entry, true)) = &current {
        return respond(entry);
    }
    let render = cache.renders.get_with(key.clone(), Default::default);
    let _rendering = match render.try_lock() {
        Ok(guard) => guard,
        // Someone is rendering this page again: their copy's predecessor still shows what
        // the database held a moment ago.
        Err(_) if current.is_some() => return respond(&current.expect("checked").0),
        Err(_) => {
            let guard = render.lock().await;
            if let Some((entry, true)) = cache.current(&key) {
                return respond(&entry);
            }
            guard
        }
    };
    let generation = cache.generation.load(Ordering::Acquire);
    let rendered = Instant::now();
    let response = next.run(request).await;
    let keep = response.status() == StatusCode::OK
        && !response.headers().contains_key(header::SET_COOKIE)
        && response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if !keep {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Pages render whole before the first byte is sent (`SsrMode::Async`), so collecting
    // the body holds nothing the renderer did not already hold.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "a rendered page could not be read");
            return Response::builder().status(StatusCode::INTERNAL_SERVER_ERROR).body(Body::empty()).unwrap_or_default();
        }
    };
    if body.len() > LARGEST_PAGE {
        return Response::from_parts(parts, Body::from(body));
    }
    let nonce = parts.headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).and_then(nonce_of).map(str::to_string);
    let mut headers = parts.headers.clone();
    // Set again for each response by the outer layers.
    headers.remove("x-request-id");
    let entry = Arc::new(Entry { generation, rendered, headers, body: body.clone(), nonce });
    cache.entries.insert(key, entry);
    Response::from_parts(parts, Body::from(body))
}

/// (session token hash, path and query) of a GET of a console page by a signed-in user.
/// The guard before this layer has let only signed-in users' pages through.
fn key(request: &Request) -> Option<Key> {
    if request.method() != Method::GET || !crate::routes::is_page(request.uri().path()) {
        return None;
    }
    let token = app::accounts::session::token_from_headers(request.headers())?;
    let hash = app::accounts::session::token_hash(secrecy::ExposeSecret::expose_secret(&token));
    let uri = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    Some((hash, uri))
}

/// A cached page as a new response, with a nonce of its own.
fn respond(entry: &Entry) -> Response {
    let mut headers = entry.headers.clone();
    let body = match &entry.nonce {
        None => entry.body.clone(),
        Some(old) => {
            let mut bytes = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let new = base64::engine::general_purpose::STANDARD.encode(bytes);
            if let Some(policy) = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
                if let Ok(value) = HeaderValue::from_str(&policy.replace(old.as_str(), &new)) {
                    headers.insert(header::CONTENT_SECURITY_POLICY, value);
                }
            }
            match std::str::from_utf8(&entry.body) {
                Ok(text) => Bytes::from(text.replace(old.as_str(), &new)),
                Err(_) => entry.body.clone(),
            }
        }
    };
    headers.remove(header::CONTENT_LENGTH);
    let mut response = Response::new(Body::from(body));
    *response.headers_mut() = headers;
    response
}

/// The value of `'nonce-…'` in a Content-Security-Policy.
fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let end = policy[start..].find('\'')? + start;
    (end > start).then(|| &policy[start..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_nonce_is_read_from_the_policy() {
        assert_eq!(super::nonce_of("script-src 'self' 'nonce-abc+/=' 'wasm-unsafe-eval'"), Some("abc+/="));
        assert_eq!(super::nonce_of("default-src 'none'"), None);
        assert_eq!(super::nonce_of("script-src 'nonce-'"), None);
    }
}
