//! SQL for `settings`: installation-wide values kept in the database so that every server
//! process of one PostgreSQL agrees on them. Today that is the suppression salt.

use crate::db::Db;
use crate::error::AppError;

/// The stored suppression salt, if one was made.
pub async fn suppression_salt(db: &Db) -> Result<Option<String>, AppError> {
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT value FROM settings WHERE key = 'suppression_salt'").fetch_optional(&db.pool).await?;
    Ok(existing.map(|(value,)| value))
}

/// Stores `fresh` as the suppression salt unless another process stored one first, and
/// returns whichever is stored.
pub async fn create_suppression_salt(db: &Db, fresh: &str) -> Result<String, AppError> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ('suppression_salt', $1) ON CONFLICT DO NOTHING")
        .bind(fresh)
        .execute(&db.pool)
        .await?;
    let (value,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE key = 'suppression_salt'").fetch_one(&db.pool).await?;
    Ok(value)
}
