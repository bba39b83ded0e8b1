//! Platform credentials encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256)
//! from the server's secret key, a fresh random nonce per sealing, and the store's id as
//! associated data, so a sealed value copied onto another store's row does not open. A
//! database dump alone reveals no token.

use crate::error::AppError;
use aws_lc_rs::{aead, hkdf};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// What a connection needs to talk to its platform. Never logged (`Debug` is redacted),
/// never sent to a page.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// Shopify's Admin API access token, or Amazon's and eBay's refresh token.
    pub token: String,
    /// Shopify custom apps sign their webhooks with their own secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub webhook_secret: String,
    /// The cached access token (Amazon, eBay) and when it ends (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<(String, i64)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// The sealing key of this server.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<aead::LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

const NONCE_LEN: usize = 12;

impl Sealer {
    pub fn new(secret: &SecretString) -> Sealer {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"starling connector credentials").extract(secret.expose_secret().as_bytes());
        let okm = prk.expand(&[b"aes-256-gcm v1"], &aead::AES_256_GCM).expect("32 bytes is a valid HKDF length");
        Sealer { key: std::sync::Arc::new(aead::LessSafeKey::new(aead::UnboundKey::from(okm))) }
    }

    /// `credentials` sealed for the store `store_id`: base64 of nonce, ciphertext and tag.
    pub fn seal(&self, store_id: i64, credentials: &Credentials) -> Result<String, AppError> {
        let mut data = serde_json::to_vec(credentials).map_err(|e| AppError::caused("credentials could not be written", e))?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.key
            .seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(store_id.to_be_bytes()), &mut data)
            .map_err(|_| AppError::internal("credentials could not be sealed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    /// The credentials sealed for `store_id`; an error when the value was damaged, sealed
    /// for another store or under another server key.
    pub fn open(&self, store_id: i64, sealed: &str) -> Result<Credentials, AppError> {
        let damaged =
            || AppError::internal("the stored credentials cannot be opened (another server key, or damaged): connect the store again");
        let mut bytes = STANDARD.decode(sealed).map_err(|_| damaged())?;
        if bytes.len() < NONCE_LEN {
            return Err(damaged());
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(&bytes).map_err(|_| damaged())?;
        let plain = self.key.open_in_place(nonce, aead::Aad::from(store_id.to_be_bytes()), &mut data).map_err(|_| damaged())?;
        serde_json::from_slice(plain).map_err(|_| damaged())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_credentials_open_only_for_their_store_and_key_and_hide_the_token() {
        let sealer = Sealer::new(&SecretString::from("server-key-one".to_string()));
        let creds = Credentials { token: "shpat_very_secret".into(), webhook_secret: String::new(), access: Some(("Atza|x".into(), 5)) };
        let sealed = sealer.seal(7, &creds).unwrap();
        assert!(!sealed.contains("shpat"), "the token must not be readable in the stored value");
        assert_ne!(sealed, sealer.seal(7, &creds).unwrap(), "a fresh nonce every time");
        let opened = sealer.open(7, &sealed).unwrap();
        assert_eq!((opened.token.as_str(), opened.access), ("shpat_very_secret", Some(("Atza|x".to_string(), 5))));
        assert!(sealer.open(8, &sealed).is_err(), "bound to its store");
        let other = Sealer::new(&SecretString::from("server-key-two".to_string()));
        assert!(other.open(7, &sealed).is_err(), "bound to the server key");
        assert!(sealer.open(7, "bm9wZQ==").is_err());
        assert_eq!(format!("{creds:?}"), "Credentials([redacted])");
    }
}
