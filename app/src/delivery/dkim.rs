//! DKIM: a key pair per brand (RSA-2048 or Ed25519), the DNS records to publish, and the
//! signer the sender uses. Signing goes through mail-auth on its aws-lc-rs backend: the
//! same C implementation class as OpenSSL (RSA-2048 signing in the thousands per second
//! per core), where a pure-Rust RSA would be several times slower; aws-lc-rs is already
//! in the build through rustls. The private key stays in the database and in memory: it
//! is never logged, shown or exported (only the public half appears, in the DNS record).

use crate::db::Db;
use crate::error::AppError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::{DkimSigner, Done};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The headers signed (absent ones are signed as empty, so they cannot be added later).
pub const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Reply-To",
    "Sender",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    Rsa2048,
    Ed25519,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa-sha256",
            Algorithm::Ed25519 => "ed25519-sha256",
        }
    }

    pub fn parse(raw: &str) -> Option<Algorithm> {
        match raw {
            "rsa-sha256" => Some(Algorithm::Rsa2048),
            "ed25519-sha256" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

/// A new key pair: (PKCS#8 private key, public key as the DNS record's `p=`).
pub fn generate(algorithm: Algorithm) -> Result<(Vec<u8>, String), AppError> {
    let failed = |what: &str| AppError::internal(format!("generating the DKIM key: {what}"));
    match algorithm {
        Algorithm::Rsa2048 => {
            let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("RSA"))?;
            let private = pair.as_der().map_err(|_| failed("RSA private key"))?.as_ref().to_vec();
            // The record carries the SubjectPublicKeyInfo, as `openssl rsa -pubout` writes it.
            let public = pair.public_key().as_der().map_err(|_| failed("RSA public key"))?;
            Ok((private, STANDARD.encode(public.as_ref())))
        }
        Algorithm::Ed25519 => {
            let private = Ed25519Key::generate_pkcs8().map_err(|e| failed(&e.to_string()))?;
            let key = Ed25519Key::from_pkcs8_der(&private).map_err(|e| failed(&e.to_string()))?;
            // RFC 8463: the raw 32-byte public key.
            Ok((private, STANDARD.encode(key.public_key())))
        }
    }
}

/// The TXT record of a selector: `v=DKIM1; k=rsa; p=…`.
pub fn dns_record(algorithm: Algorithm, public_key: &str) -> String {
    let k = match algorithm {
        Algorithm::Rsa2048 => "rsa",
        Algorithm::Ed25519 => "ed25519",
    };
    format!("v=DKIM1; k={k}; p={public_key}")
}

/// A brand's signer, ready to sign.
pub struct Signer {
    pub domain: String,
    pub selector: String,
    inner: Inner,
}

enum Inner {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, selector {}, key redacted)", self.domain, self.selector)
    }
}

impl Signer {
    // `from_pkcs8_der` is deprecated in favour of `from_key_der`, which takes a
    // rustls-pki-types wrapper for the same PKCS#8 bytes.
    #[allow(deprecated)]
    pub fn new(algorithm: Algorithm, private_pkcs8: &[u8], domain: &str, selector: &str) -> Result<Signer, AppError> {
        let bad = |e: mail_auth::Error| AppError::internal(format!("the DKIM key of {domain} cannot be used: {e}"));
        let inner = match algorithm {
            Algorithm::Rsa2048 => Inner::Rsa(
                DkimSigner::from_key(RsaKey::<Sha256>::from_pkcs8_der(private_pkcs8).map_err(bad)?)
                    .domain(domain)
                    .selector(selector)
                    .headers(SIGNED_HEADERS),
            ),
            Algorithm::Ed25519 => Inner::Ed25519(
                DkimSigner::from_key(Ed25519Key::from_pkcs8_der(private_pkcs8).map_err(bad)?)
                    .domain(domain)
                    .selector(selector)
                    .headers(SIGNED_HEADERS),
            ),
        };
        Ok(Signer { domain: domain.into(), selector: selector.into(), inner })
    }

    /// The `DKIM-Signature: …\r\n` header to put in front of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<String, AppError> {
        use mail_auth::common::headers::HeaderWriter;
        let signature = match &self.inner {
            Inner::Rsa(signer) => signer.sign(message),
            Inner::Ed25519(signer) => signer.sign(message),
        }
        .map_err(|e| AppError::caused("DKIM signing failed", e))?;
        Ok(signature.to_header())
    }
}

pub use super::DkimRecord as PublicKey;

/// Generates and stores a new active key for the brand (the previous one is kept, inactive,
/// until the new record is published).
pub async fn create_key(db: &Db, brand_id: i64, algorithm: Algorithm, now: i64) -> Result<PublicKey, AppError> {
    let domain: String = sqlx::query_scalar("SELECT sending_domain FROM brands WHERE id = $1")
        .bind(brand_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("brand {brand_id}")))?;
    let (private, public) = generate(algorithm)?;
    let selector = format!("st{}{}", chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().format("%Y%m"), short(algorithm));
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE dkim_keys SET active = 0 WHERE brand_id = $1").bind(brand_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM dkim_keys WHERE brand_id = $1 AND selector = $2").bind(brand_id).bind(&selector).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO dkim_keys (brand_id, domain, selector, algorithm, private_key, public_key, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(brand_id)
    .bind(&domain)
    .bind(&selector)
    .bind(algorithm.as_str())
    .bind(STANDARD.encode(&private))
    .bind(&public)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PublicKey {
        record_name: format!("{selector}._domainkey.{domain}"),
        record: dns_record(algorithm, &public),
        domain,
        selector,
        algorithm: algorithm.as_str().into(),
        created_at: now,
    })
}

fn short(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Rsa2048 => "r",
        Algorithm::Ed25519 => "e",
    }
}

/// The brand's active signer, if it has a key.
pub async fn signer(db: &Db, brand_id: i64) -> Result<Option<Signer>, AppError> {
    let row = sqlx::query("SELECT domain, selector, algorithm, private_key FROM dkim_keys WHERE brand_id = $1 AND active = 1")
        .bind(brand_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let algorithm = Algorithm::parse(&row.get::<String, _>("algorithm")).ok_or_else(|| AppError::internal("unknown DKIM algorithm"))?;
    let private = STANDARD.decode(row.get::<String, _>("private_key")).map_err(|_| AppError::internal("a stored DKIM key is damaged"))?;
    Signer::new(algorithm, &private, &row.get::<String, _>("domain"), &row.get::<String, _>("selector")).map(Some)
}

/// The brand's active public key and its record.
pub async fn public_key(db: &Db, brand_id: i64) -> Result<Option<PublicKey>, AppError> {
    let row = sqlx::query("SELECT domain, selector, algorithm, public_key, created_at FROM dkim_keys WHERE brand_id = $1 AND active = 1")
        .bind(brand_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|row| {
        let algorithm = Algorithm::parse(&row.get::<String, _>("algorithm")).unwrap_or(Algorithm::Rsa2048);
        let (domain, selector): (String, String) = (row.get("domain"), row.get("selector"));
        PublicKey {
            record_name: format!("{selector}._domainkey.{domain}"),
            record: dns_record(algorithm, &row.get::<String, _>("public_key")),
            domain,
            selector,
            algorithm: algorithm.as_str().into(),
            created_at: row.get("created_at"),
        }
    }))
}
