//! Per-store ingest API keys: shown once when created, stored as a SHA-256 hash, revocable.
//! A key identifies its store, so a request can only ever write that store's orders.

use super::store::{self, Target};
use crate::db::Db;
use crate::error::AppError;
use sha2::{Digest, Sha256};

pub use super::store::keys::{list, owner, revoke};

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a key for the store and returns (id, the key itself: shown once).
pub async fn create(db: &Db, target: &Target, label: &str, by: &str) -> Result<(i64, String), AppError> {
    let key = format!("stk_{}", hex::encode(rand::random::<[u8; 24]>()));
    let id = store::keys::insert(db, target, label, &key[..12], &hash(&key), by).await?;
    Ok((id, key))
}

/// The store a live key writes to, or `None` for an unknown or revoked key.
pub async fn authenticate(db: &Db, key: &str) -> Result<Option<Target>, AppError> {
    let Some((id, store_id)) = store::keys::live(db, &hash(key.trim())).await? else { return Ok(None) };
    store::keys::mark_used(db, id).await?;
    store::target(db, store_id).await
}
