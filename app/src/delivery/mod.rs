//! Delivery: getting mail out. The mailer (SMTP or the outbox folder), the outbox worker
//! that sends campaigns' planned messages (`sender`), composing and DKIM-signing them,
//! signed tracking and unsubscribe links, and the Outbox page. Its SQL is in `store` (DKIM
//! keys, and the read of messages about to be sent); the messages, their events and tries
//! belong to the outbox capability, whose store records what happens to them.

pub mod api;
#[cfg(feature = "ssr")]
pub mod compose;
#[cfg(feature = "ssr")]
pub mod dkim;
#[cfg(feature = "ssr")]
pub mod domain;
#[cfg(feature = "ssr")]
pub mod feedback;
#[cfg(feature = "ssr")]
pub mod journal;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod sender;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod tokens;
pub mod ui;

/// Puts a message's buyer on its brand's suppression list and cancels anything still
/// queued or held for them by the brand, at once. Answers the brand's name.
#[cfg(feature = "ssr")]
pub async fn suppress_buyer(
    db: &crate::db::Db,
    message_id: i64,
    reason: crate::orders::model::Reason,
    note: &str,
    by: &str,
) -> Result<String, crate::error::AppError> {
    use crate::orders::privacy;
    let buyer = crate::outbox::store::buyer_of(db, message_id)
        .await?
        .ok_or_else(|| crate::error::AppError::NotFound(format!("message {message_id}")))?;
    // The buyer, not one address: an unsubscribe by e-mail or a STOP by text stops every
    // channel of the brand.
    let salt = crate::common::fingerprint::salt(db).await?;
    let scope = privacy::Scope { client_id: Some(buyer.client_id), brand_id: Some(buyer.brand_id) };
    for address in [&buyer.email, &buyer.phone].into_iter().filter(|a| !a.is_empty()) {
        privacy::suppress(db, &salt, scope, address, reason, note, by).await?;
    }
    crate::outbox::store::cancel_for_buyer(db, buyer.brand_id, buyer.customer_id).await?;
    Ok(buyer.brand)
}

/// The e-mail address a message went to ("" when the buyer has none any more).
#[cfg(feature = "ssr")]
pub async fn recipient_of(db: &crate::db::Db, message_id: i64) -> Result<String, crate::error::AppError> {
    Ok(crate::outbox::store::recipient_of(db, message_id).await?.unwrap_or_default())
}

/// Unsubscribes a message's buyer from its brand, effective at once (`suppress_buyer`),
/// and records an `unsubscribed` event (which the canary counts) with how long the
/// processing took. Answers the brand's name.
#[cfg(feature = "ssr")]
pub async fn unsubscribe(db: &crate::db::Db, message_id: i64, requested_at: i64) -> Result<String, crate::error::AppError> {
    use crate::outbox::model::EventKind;
    let brand = suppress_buyer(db, message_id, crate::orders::model::Reason::Unsubscribed, "unsubscribe link", "buyer").await?;
    let took = crate::db::now_millis() - requested_at;
    crate::campaigns::monitor::record_event(
        db,
        message_id,
        EventKind::Unsubscribed,
        "unsubscribe",
        requested_at,
        &format!("processed in {took} ms"),
    )
    .await?;
    // When it took effect, for the SLA's unsubscribe processing time.
    crate::outbox::store::mark_unsubscribe_processed(db, message_id, requested_at + took).await?;
    Ok(brand)
}

use serde::{Deserialize, Serialize};

/// A brand's active DKIM key as the settings page shows it (never the private half).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimRecord {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    pub record_name: String,
    pub record: String,
    pub created_at: i64,
}

/// A brand's sending set-up: its domain, its DKIM key and the records to publish.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendingSettings {
    pub client_id: i64,
    pub client: String,
    pub brand_id: i64,
    pub brand: String,
    pub domain: String,
    pub sender_email: String,
    pub dkim: Option<DkimRecord>,
    /// (name, type, value) of each record to publish.
    pub records: Vec<(String, String, String)>,
}

/// One record of a brand's DNS check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCheck {
    /// `SPF`, `DKIM`, `DMARC` or `Alignment`.
    pub record: String,
    /// The DNS name looked up.
    pub name: String,
    /// What DNS has there now (empty: nothing).
    pub found: String,
    /// `ok`, `warning` or `error`.
    pub level: String,
    pub verdict: String,
    /// The record to publish instead, when there is one.
    pub publish: String,
}

/// What DNS says now about a brand's sending domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCheck {
    pub checked_at: i64,
    /// Whether the From domain aligns with the DKIM signing domain.
    pub aligned: bool,
    pub checks: Vec<RecordCheck>,
}
