//! SQL of the ingest API's keys (`api_keys`): only their SHA-256 hashes are stored.

use super::Target;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::model::ApiKey;
use sqlx::any::AnyRow;
use sqlx::Row;

impl sqlx::FromRow<'_, AnyRow> for ApiKey {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ApiKey {
            id: r.try_get("id")?,
            store_id: r.try_get("store_id")?,
            label: r.try_get("label")?,
            prefix: r.try_get("prefix")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            last_used_at: r.try_get("last_used_at")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }
}

/// Stores a new key for the target's store by its prefix and hash; answers its id.
pub async fn insert(db: &Db, target: &Target, label: &str, prefix: &str, key_hash: &str, by: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO api_keys (client_id, store_id, label, prefix, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(target.client_id)
    .bind(target.store_id)
    .bind(label)
    .bind(prefix)
    .bind(key_hash)
    .bind(by)
    .bind(now_millis())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// A store's keys, newest first (revoked ones too).
pub async fn list(db: &Db, store_id: i64) -> Result<Vec<ApiKey>, AppError> {
    Ok(sqlx::query_as::<_, ApiKey>(
        "SELECT id, store_id, label, prefix, created_by, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE store_id = $1 ORDER BY id DESC",
    )
    .bind(store_id)
    .fetch_all(&db.pool)
    .await?)
}

/// (client, store) of a key, for authorization.
pub async fn owner(db: &Db, id: i64) -> Result<Option<(i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT client_id, store_id FROM api_keys WHERE id = $1").bind(id).fetch_optional(&db.pool).await?)
}

pub async fn revoke(db: &Db, id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_millis())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// (key id, store id) of the live (not revoked) key with this hash.
pub async fn live(db: &Db, key_hash: &str) -> Result<Option<(i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, store_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(key_hash)
        .fetch_optional(&db.pool)
        .await?)
}

/// Notes that a key was just used.
pub async fn mark_used(db: &Db, id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2").bind(now_millis()).bind(id).execute(&db.pool).await?;
    Ok(())
}
