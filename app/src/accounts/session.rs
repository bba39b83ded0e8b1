//! Server-side sessions: the cookie holds a random token, the database holds only its
//! SHA-256, so a leaked database row cannot be replayed as a cookie. Sign-in always issues
//! a fresh token (rotation); sign-out deletes the row.

use crate::accounts::model::Actor;
use crate::accounts::store::sessions;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "starling_session";
/// Absolute lifetime of a session.
pub const LIFETIME_MILLIS: i64 = 12 * 60 * 60 * 1000;

/// What the database keeps of a session token (and what the page cache keys by).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a session row for `user_id` and returns the cookie value.
pub async fn create(db: &Db, user_id: i64) -> Result<SecretString, AppError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = now_millis();
    sessions::insert(db, &token_hash(&token), user_id, now, now + LIFETIME_MILLIS).await?;
    // Expired sessions are swept here, where they are cheapest to find.
    sessions::delete_expired(db, now).await?;
    Ok(SecretString::from(token))
}

/// The signed-in user of a live session (an enabled user, with their client assignments),
/// or `None` for a missing, forged or expired token or a disabled user.
pub async fn actor_of(db: &Db, token: &SecretString) -> Result<Option<Actor>, AppError> {
    sessions::actor_of(db, &token_hash(token.expose_secret()), now_millis()).await
}

pub async fn destroy(db: &Db, token: &SecretString) -> Result<(), AppError> {
    sessions::delete(db, &token_hash(token.expose_secret())).await
}

pub async fn destroy_all_for(db: &Db, user_id: i64) -> Result<(), AppError> {
    sessions::delete_for_user(db, user_id).await
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<SecretString> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| SecretString::from(c.value().to_string()))
}

/// The `Set-Cookie` value for a new session: HttpOnly, SameSite=Lax, Secure when the
/// console is served over https.
pub fn set_cookie(token: &SecretString, secure: bool) -> String {
    cookie::Cookie::build((COOKIE_NAME, token.expose_secret().to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::milliseconds(LIFETIME_MILLIS))
        .build()
        .to_string()
}

pub fn clear_cookie(secure: bool) -> String {
    cookie::Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_behind_https() {
        let token = SecretString::from("t0ken".to_string());
        let plain = set_cookie(&token, false);
        assert!(plain.starts_with("starling_session=t0ken;"), "{plain}");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && plain.contains("Path=/"), "{plain}");
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(set_cookie(&token, true).contains("Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0"), "{}", clear_cookie(true));
    }

    #[test]
    fn only_a_hash_of_the_token_is_stored() {
        let hash = token_hash("t0ken");
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, "t0ken");
    }
}
