//! SQL of delivery: `dkim_keys`, its own table, and the sender's read of the messages it
//! is about to send. That read joins the outbox's `messages` with `template_versions`
//! (the approved text), `campaigns` (the rules: A/B subjects), `customers`, `orders`,
//! `stores` and `brands` (everything the message says and who it is from): one query per
//! batch instead of one per message and table.

use super::compose::Outgoing;
use crate::db::Db;
use crate::error::AppError;
use sqlx::any::AnyRow;
use sqlx::Row;

// ---------------------------------------------------------------------------------------
// DKIM keys
// ---------------------------------------------------------------------------------------

/// A key pair to store as the brand's active key.
pub struct NewKey<'a> {
    pub brand_id: i64,
    pub domain: &'a str,
    pub selector: &'a str,
    /// `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: &'static str,
    /// Base64 PKCS#8.
    pub private_key: String,
    /// Base64, the record's `p=`.
    pub public_key: &'a str,
    pub created_at: i64,
}

/// Stores `key` as the brand's active key in one transaction: the previous keys stay,
/// inactive (until the new record is published), and a key of the same selector is
/// replaced.
pub async fn replace_active_key(db: &Db, key: &NewKey<'_>) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE dkim_keys SET active = 0 WHERE brand_id = $1").bind(key.brand_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM dkim_keys WHERE brand_id = $1 AND selector = $2")
        .bind(key.brand_id)
        .bind(key.selector)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO dkim_keys (brand_id, domain, selector, algorithm, private_key, public_key, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(key.brand_id)
    .bind(key.domain)
    .bind(key.selector)
    .bind(key.algorithm)
    .bind(key.private_key.as_str())
    .bind(key.public_key)
    .bind(key.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The brand's active key as the signer needs it. No `Debug`: it holds the private key.
pub struct SigningKey {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    /// Base64 PKCS#8.
    pub private_key: String,
}

impl sqlx::FromRow<'_, AnyRow> for SigningKey {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(SigningKey {
            domain: r.try_get("domain")?,
            selector: r.try_get("selector")?,
            algorithm: r.try_get("algorithm")?,
            private_key: r.try_get("private_key")?,
        })
    }
}

pub async fn signing_key(db: &Db, brand_id: i64) -> Result<Option<SigningKey>, AppError> {
    Ok(sqlx::query_as::<_, SigningKey>("SELECT domain, selector, algorithm, private_key FROM dkim_keys WHERE brand_id = $1 AND active = 1")
        .bind(brand_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// The public half of the brand's active key, for the DNS record.
#[derive(Clone, Debug)]
pub struct PublishedKey {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    /// Base64, the record's `p=`.
    pub public_key: String,
    pub created_at: i64,
}

impl sqlx::FromRow<'_, AnyRow> for PublishedKey {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(PublishedKey {
            domain: r.try_get("domain")?,
            selector: r.try_get("selector")?,
            algorithm: r.try_get("algorithm")?,
            public_key: r.try_get("public_key")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

pub async fn published_key(db: &Db, brand_id: i64) -> Result<Option<PublishedKey>, AppError> {
    Ok(sqlx::query_as::<_, PublishedKey>(
        "SELECT domain, selector, algorithm, public_key, created_at FROM dkim_keys WHERE brand_id = $1 AND active = 1",
    )
    .bind(brand_id)
    .fetch_optional(&db.pool)
    .await?)
}

// ---------------------------------------------------------------------------------------
// Messages to send (a reader of the outbox and of what messages say)
// ---------------------------------------------------------------------------------------

/// The columns of `Outgoing`, joined from the message's version, campaign, buyer, order,
/// store and brand.
const OUTGOING_SQL: &str = "SELECT m.id, m.client_id, m.brand_id, m.campaign_id, m.purpose, m.locale, m.variant, m.attempts, \
       v.subject, v.html, v.text, c.rules, cu.email, cu.name AS customer_name, o.platform_order_id, o.placed_at, o.total_minor, \
       o.currency, o.items, s.name AS store_name, s.platform, s.marketplace, b.name AS brand_name, b.sender_name, b.sender_email, \
       b.sending_domain, b.postal_address, cu.phone, v.sms_body, b.sms_sender, b.sms_number, \
       v.whatsapp_body, b.whatsapp_phone_id, m.channel, COALESCE(w.name, '') AS whatsapp_template, \
       COALESCE(w.language, '') AS whatsapp_language \
     FROM messages m JOIN template_versions v ON v.id = m.template_version_id JOIN campaigns c ON c.id = m.campaign_id \
       JOIN customers cu ON cu.id = m.customer_id JOIN orders o ON o.id = m.order_id JOIN stores s ON s.id = o.store_id \
       JOIN brands b ON b.id = m.brand_id LEFT JOIN whatsapp_templates w ON w.version_id = v.id AND w.status = 'approved'";

impl sqlx::FromRow<'_, AnyRow> for Outgoing {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Outgoing {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            campaign_id: r.try_get("campaign_id")?,
            purpose: r.try_get("purpose")?,
            locale: r.try_get("locale")?,
            variant: r.try_get("variant")?,
            attempts: r.try_get("attempts")?,
            subject: r.try_get("subject")?,
            html: r.try_get("html")?,
            text: r.try_get("text")?,
            rules: r.try_get("rules")?,
            email: r.try_get("email")?,
            customer_name: r.try_get("customer_name")?,
            platform_order_id: r.try_get("platform_order_id")?,
            placed_at: r.try_get("placed_at")?,
            total_minor: r.try_get("total_minor")?,
            currency: r.try_get("currency")?,
            items: r.try_get("items")?,
            store_name: r.try_get("store_name")?,
            platform: r.try_get("platform")?,
            marketplace: r.try_get("marketplace")?,
            brand_name: r.try_get("brand_name")?,
            sender_name: r.try_get("sender_name")?,
            sender_email: r.try_get("sender_email")?,
            sending_domain: r.try_get("sending_domain")?,
            postal_address: r.try_get("postal_address")?,
            phone: r.try_get("phone")?,
            sms_body: r.try_get("sms_body")?,
            sms_sender: r.try_get("sms_sender")?,
            sms_number: r.try_get("sms_number")?,
            whatsapp_body: r.try_get("whatsapp_body")?,
            whatsapp_phone_id: r.try_get("whatsapp_phone_id")?,
            channel: r.try_get("channel")?,
            whatsapp_template: r.try_get("whatsapp_template")?,
            whatsapp_language: r.try_get("whatsapp_language")?,
        })
    }
}

/// Everything the sender needs about the messages `ids`, in one query.
pub async fn outgoing(db: &Db, ids: &[i64]) -> Result<Vec<Outgoing>, AppError> {
    let sql = format!("{OUTGOING_SQL} WHERE m.id IN ({})", db.backend.params(1, ids.len()));
    let mut query = sqlx::query_as::<_, Outgoing>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(&db.pool).await?)
}

/// One of a campaign's messages as it would be sent (the benchmark sizes messages by it).
pub async fn one_outgoing_of_campaign(db: &Db, campaign_id: i64) -> Result<Option<Outgoing>, AppError> {
    Ok(sqlx::query_as::<_, Outgoing>(&format!("{OUTGOING_SQL} WHERE m.campaign_id = $1 LIMIT 1"))
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?)
}
