//! Shopify's webhooks: the signature is checked against the raw body before anything else
//! (401 and nothing stored on a mismatch), a delivery already taken (same
//! `X-Shopify-Webhook-Id`) changes nothing, order topics go through the same upsert as
//! every other way in, fulfilment topics make the store's next pull due now (Shopify's
//! fulfilment body does not carry the order), and the mandatory privacy topics drive the
//! buyer export and erasure.

use super::http::Settings;
use super::model::Platform;
use super::seal::Sealer;
use super::store::{self, Connection};
use crate::common::mailer::Mailer;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::store as orders;
use serde_json::Value;

/// One delivery as it arrived.
pub struct Delivery<'a> {
    pub topic: &'a str,
    pub shop: &'a str,
    pub webhook_id: &'a str,
    pub signature: &'a str,
    pub body: &'a [u8],
}

/// What to answer Shopify.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200: taken (or taken before).
    Taken(&'static str),
    /// 401: the signature does not match; nothing was stored.
    BadSignature,
    /// 400: signed, but not a body Starling can read (told, not retried forever).
    Unreadable(String),
}

pub struct Context<'a> {
    pub db: &'a Db,
    pub settings: &'a Settings,
    pub sealer: &'a Sealer,
    pub mailer: &'a Mailer,
    pub public_url: &'a str,
}

/// The connections this delivery is for, when its signature verifies under the app's
/// secret or a connected custom app's own.
fn signed_for(cx: &Context<'_>, connections: Vec<Connection>, d: &Delivery<'_>) -> Vec<Connection> {
    let app_secret = Some(super::http::exposed(&cx.settings.shopify_api_secret)).filter(|s| !s.is_empty());
    if app_secret.is_some_and(|secret| super::shopify::verify_webhook(&secret, d.body, d.signature)) {
        return connections;
    }
    connections
        .into_iter()
        .filter(|c| {
            cx.sealer.open(c.store_id, &c.secret).is_ok_and(|creds| {
                !creds.webhook_secret.is_empty() && super::shopify::verify_webhook(&creds.webhook_secret, d.body, d.signature)
            })
        })
        .collect()
}

pub async fn shopify(cx: &Context<'_>, d: &Delivery<'_>) -> Result<Answer, AppError> {
    let connections = signed_for(cx, store::of_account(cx.db, Platform::Shopify, &d.shop.trim().to_ascii_lowercase()).await?, d);
    if connections.is_empty() {
        return Ok(Answer::BadSignature);
    }
    let Ok(body) = serde_json::from_slice::<Value>(d.body) else {
        return Ok(Answer::Unreadable("the body is not JSON".into()));
    };
    let mut answer = Answer::Taken("taken");
    for c in connections {
        if !d.webhook_id.is_empty() && store::delivered_before(cx.db, c.id, d.webhook_id).await? {
            answer = Answer::Taken("taken before");
            continue;
        }
        match d.topic {
            "orders/create" | "orders/updated" | "orders/fulfilled" | "orders/cancelled" | "orders/paid" => order(cx, &c, &body).await?,
            "fulfillments/create" | "fulfillments/update" => store::due_now(cx.db, c.id, now_millis()).await?,
            "customers/data_request" => data_request(cx, &c, &body).await?,
            "customers/redact" => redact(cx, &c, &body).await?,
            "shop/redact" => shop_redact(cx, &c).await?,
            _ => {}
        }
        if !d.webhook_id.is_empty() {
            store::record_delivery(cx.db, c.id, d.webhook_id, now_millis()).await?;
        }
    }
    Ok(answer)
}

/// An order pushed by the shop: stored like a pulled one; a rejected order is recorded
/// with its reason as an import of its own.
async fn order(cx: &Context<'_>, c: &Connection, body: &Value) -> Result<(), AppError> {
    let Some(target) = orders::target(cx.db, c.store_id).await? else { return Ok(()) };
    let salt = crate::common::fingerprint::salt(cx.db).await?;
    let parsed = super::shopify::from_webhook(body).into_order(1).and_then(|o| crate::orders::jobs::check(&o).map(|_| o));
    let now = now_millis();
    match parsed {
        Ok(mut order) => {
            let notes = std::mem::take(&mut order.notes);
            let outcomes = orders::upsert(cx.db, &target, vec![order], "shopify webhook", &salt).await?;
            let mut tally = orders::Tally::default();
            tally.add(&outcomes);
            store::add_received(cx.db, c.id, now.div_euclid(86_400_000), tally.created + tally.updated, 0).await?;
            if !notes.is_empty() {
                record(cx.db, &target, &tally, 0, notes, c).await?;
            }
        }
        Err(reject) => {
            store::add_received(cx.db, c.id, now.div_euclid(86_400_000), 0, 1).await?;
            record(cx.db, &target, &orders::Tally::default(), 1, vec![reject], c).await?;
        }
    }
    Ok(())
}

/// A webhook's rejected order or set-aside values, listed on the Imports page like a file's.
async fn record(
    db: &Db,
    target: &orders::Target,
    tally: &orders::Tally,
    rejected: i64,
    problems: Vec<crate::orders::model::RowError>,
    c: &Connection,
) -> Result<(), AppError> {
    let name = format!("Shopify webhook {}", super::http::utc_label(now_millis()));
    let set_aside = problems.len() as i64 - rejected;
    crate::orders::jobs::record_feed(db, target, &name, &format!("connector {}", c.account), tally, rejected, set_aside, &problems).await
}

/// The brand's customers a privacy request names.
async fn named_customers(db: &Db, c: &Connection, body: &Value) -> Result<(i64, Vec<i64>), AppError> {
    let Some(target) = orders::target(db, c.store_id).await? else { return Ok((0, Vec::new())) };
    let email = crate::orders::customers::normalise_email(&super::draft::text(body, "/customer/email"));
    let phone = crate::orders::customers::normalise_phone(&super::draft::text(body, "/customer/phone"), "");
    if email.is_empty() && phone.is_empty() {
        return Ok((target.brand_id, Vec::new()));
    }
    Ok((target.brand_id, orders::privacy::customers_by_address(db, target.brand_id, &email, &phone).await?))
}

/// `customers/data_request`: the buyer's data is made ready as the access export, and the
/// client's account managers are told where to download it for the merchant.
async fn data_request(cx: &Context<'_>, c: &Connection, body: &Value) -> Result<(), AppError> {
    let (_, customers) = named_customers(cx.db, c, body).await?;
    let request = super::draft::text(body, "/data_request/id");
    let links: Vec<String> =
        customers.iter().map(|id| format!("{}/clients/{}/customers/{id}/export.json", cx.public_url, c.client_id)).collect();
    let detail = if links.is_empty() {
        "no buyer with that address is stored".to_string()
    } else {
        format!("{} buyer record(s) to export", links.len())
    };
    crate::audit::store::record(cx.db, None, "shopify", "shopify data request", Some(c.client_id), &format!("request {request}"), &detail)
        .await?;
    let text = if links.is_empty() {
        format!("Shopify data request {request} from {}: Starling stores no buyer with that address; nothing to send.", c.account)
    } else {
        format!(
            "Shopify data request {request} from {}: send the merchant the buyer's data, exported here:\n{}",
            c.account,
            links.join("\n")
        )
    };
    super::mail_managers(cx.db, cx.mailer, c.client_id, &format!("Data request from {}", c.account), &text).await
}

/// `customers/redact`: the buyer is erased as on the buyer's page.
async fn redact(cx: &Context<'_>, c: &Connection, body: &Value) -> Result<(), AppError> {
    let (_, customers) = named_customers(cx.db, c, body).await?;
    erase(cx, c, customers, "shopify customers/redact").await
}

/// `shop/redact` (48 hours after the shop removed the app): every buyer of the store is
/// erased.
async fn shop_redact(cx: &Context<'_>, c: &Connection) -> Result<(), AppError> {
    let customers = orders::privacy::customers_of_store(cx.db, c.store_id).await?;
    erase(cx, c, customers, "shopify shop/redact").await
}

async fn erase(cx: &Context<'_>, c: &Connection, customers: Vec<i64>, why: &str) -> Result<(), AppError> {
    let salt = crate::common::fingerprint::salt(cx.db).await?;
    let mut stripped = 0;
    for id in &customers {
        stripped += crate::orders::privacy::erase_buyer(cx.db, &salt, *id, why).await?;
    }
    let detail = format!("{} buyer(s) erased, {stripped} order(s) stripped", customers.len());
    crate::audit::store::record(cx.db, None, "shopify", why, Some(c.client_id), &c.account, &detail).await
}
