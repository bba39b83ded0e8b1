//! DKIM: a key pair per brand (RSA-2048 or Ed25519), the DNS records to publish, and the
//! signer the sender uses. Signing goes through mail-auth on its aws-lc-rs backend: the
//! same C implementation class as OpenSSL (RSA-2048 signing in the thousands per second
//! per core), where a pure-Rust RSA would be several times slower; aws-lc-rs is already
//! in the build through rustls. The private key stays in the database and in memory: it
//! is never logged, shown or exported (only the public half appears, in the DNS record).

use super::store;
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
    let domain = crate::clients::store::brand(db, brand_id)
        .await?
        .map(|brand| brand.sending_domain)
        .ok_or_else(|| AppError::NotFound(format!("brand {brand_id}")))?;
    let (private, public) = generate(algorithm)?;
    let selector = format!("st{}{}", chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().format("%Y%m"), short(algorithm));
    let key = store::NewKey {
        brand_id,
        domain: &domain,
        selector: &selector,
        algorithm: algorithm.as_str(),
        private_key: STANDARD.encode(&private),
        public_key: &public,
        created_at: now,
    };
    store::replace_active_key(db, &key).await?;
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
    let Some(key) = store::signing_key(db, brand_id).await? else { return Ok(None) };
    let algorithm = Algorithm::parse(&key.algorithm).ok_or_else(|| AppError::internal("unknown DKIM algorithm"))?;
    let private = STANDARD.decode(&key.private_key).map_err(|_| AppError::internal("a stored DKIM key is damaged"))?;
    Signer::new(algorithm, &private, &key.domain, &key.selector).map(Some)
}

/// The brand's active public key and its record.
pub async fn public_key(db: &Db, brand_id: i64) -> Result<Option<PublicKey>, AppError> {
    Ok(store::published_key(db, brand_id).await?.map(|key| {
        let algorithm = Algorithm::parse(&key.algorithm).unwrap_or(Algorithm::Rsa2048);
        PublicKey {
            record_name: format!("{}._domainkey.{}", key.selector, key.domain),
            record: dns_record(algorithm, &key.public_key),
            domain: key.domain,
            selector: key.selector,
            algorithm: algorithm.as_str().into(),
            created_at: key.created_at,
        }
    }))
}
