//! Per-store ingest API keys: shown once when created, stored as a SHA-256 hash, revocable.
//! A key identifies its store, so a request can only ever write that store's orders.

use super::model::ApiKey;
use super::store::{self, Target};
use crate::db::{now_millis, Db};
use crate::error::AppError;
use sha2::{Digest, Sha256};
use sqlx::Row;

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a key for the store and returns (id, the key itself: shown once).
pub async fn create(db: &Db, target: &Target, label: &str, by: &str) -> Result<(i64, String), AppError> {
    let key = format!("stk_{}", hex::encode(rand::random::<[u8; 24]>()));
    let row = sqlx::query(
        "INSERT INTO api_keys (client_id, store_id, label, prefix, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(target.client_id)
    .bind(target.store_id)
    .bind(label)
    .bind(&key[..12])
    .bind(hash(&key))
    .bind(by)
    .bind(now_millis())
    .fetch_one(&db.pool)
    .await?;
    Ok((row.get(0), key))
}

pub async fn list(db: &Db, store_id: i64) -> Result<Vec<ApiKey>, AppError> {
    let rows = sqlx::query(
        "SELECT id, store_id, label, prefix, created_by, created_at, last_used_at, revoked_at FROM api_keys \
         WHERE store_id = $1 ORDER BY id DESC",
    )
    .bind(store_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ApiKey {
            id: r.get("id"),
            store_id: r.get("store_id"),
            label: r.get("label"),
            prefix: r.get("prefix"),
            created_by: r.get("created_by"),
            created_at: r.get("created_at"),
            last_used_at: r.get("last_used_at"),
            revoked_at: r.get("revoked_at"),
        })
        .collect())
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

/// The store a live key writes to, or `None` for an unknown or revoked key.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<Target>, AppError> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT id, store_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(hash(key.trim()))
        .fetch_optional(&db.pool)
        .await?;
    let Some((id, store_id)) = row else { return Ok(None) };
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2").bind(now_millis()).bind(id).execute(&db.pool).await?;
    store::target(db, store_id).await
}
