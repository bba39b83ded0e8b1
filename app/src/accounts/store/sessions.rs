//! SQL for `sessions`: one row per signed-in browser, keyed by the SHA-256 of its token
//! (`accounts::session` makes tokens and their hashes; only hashes reach this module).

use super::split_locales;
use crate::accounts::model::{Actor, Role};
use crate::db::{Db, RECORD_SEP};
use crate::error::AppError;

/// Stores a session for `user_id`, valid until `expires_at`.
pub async fn insert(db: &Db, token_hash: &str, user_id: i64, created_at: i64, expires_at: i64) -> Result<(), AppError> {
    sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(created_at)
        .bind(expires_at)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes every session that expired before `now`.
pub async fn delete_expired(db: &Db, now: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&db.pool).await?;
    Ok(())
}

/// The signed-in user of the live session with this token hash at `now` (an enabled user,
/// with their client assignments), or `None`. One statement: every page and server
/// function asks this, so it reads the session, the user and the user's clients together.
pub async fn actor_of(db: &Db, token_hash: &str, now: i64) -> Result<Option<Actor>, AppError> {
    let sql = format!(
        "SELECT u.id, u.email, u.name, u.role, u.locales, \
                (SELECT {} FROM user_clients c WHERE c.user_id = u.id) AS clients \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        db.backend.packed("CAST(c.client_id AS TEXT)")
    );
    let row: Option<(i64, String, String, String, String, Option<String>)> =
        sqlx::query_as(&sql).bind(token_hash).bind(now).fetch_optional(&db.pool).await?;
    let Some((user_id, email, name, role, locales, clients)) = row else { return Ok(None) };
    let mut clients: Vec<i64> = clients.unwrap_or_default().split(RECORD_SEP).filter_map(|c| c.parse().ok()).collect();
    clients.sort_unstable();
    Ok(Some(Actor { user_id, email, name, role: Role::parse(&role)?, clients, locales: split_locales(&locales) }))
}

/// Ends the session with this token hash (nothing when there is none).
pub async fn delete(db: &Db, token_hash: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&db.pool).await?;
    Ok(())
}

/// Ends every session of a user.
pub async fn delete_for_user(db: &Db, user_id: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&db.pool).await?;
    Ok(())
}
