//! The fingerprint of a buyer's address: HMAC-SHA256 of the normalised address under the
//! installation's salt. Suppression entries are matched by it, so an erased buyer's address
//! is recognised without being stored; the planner, the sender, tracking and the
//! suppression lists all compare fingerprints made here.

use crate::common::store;
use crate::db::Db;
use crate::error::AppError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The installation's salt for suppression fingerprints (kept in the database, so every
/// server process of one PostgreSQL agrees; never shown).
#[derive(Clone)]
pub struct Salt(String);

impl Salt {
    /// A salt of the given secret.
    #[cfg(test)]
    pub(crate) fn from_secret(value: &str) -> Salt {
        Salt(value.to_string())
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(redacted)")
    }
}

/// The salt, created once on first use.
pub async fn salt(db: &Db) -> Result<Salt, AppError> {
    if let Some(value) = store::suppression_salt(db).await? {
        return Ok(Salt(value));
    }
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    Ok(Salt(store::create_suppression_salt(db, &fresh).await?))
}

/// HMAC-SHA256 of a normalised address, hex.
pub fn fingerprint(salt: &Salt, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(salt.0.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
