//! SQL of reports and alerts (`alerts` is owned here; the SLA's tables in `sla`, the
//! monthly mail's claims in `mailings`). A report reads across owners (messages and their
//! events, orders, reviews, brands, stores, campaigns) in one statement per question, so
//! those reads live here with the reader; every write to those tables goes through their
//! owners (reviews: `orders::store::reviews`).

use super::engine::{Event, Events, CHANNELS};
use super::model::{AlertRow, AlertState, ReviewRow, KINDS};
use super::rules::day_of;
use crate::db::Db;
use crate::error::AppError;
use crate::outbox::model::EventKind;
use crate::shell::table::{ListQuery, Page};
use futures_util::TryStreamExt;
use sqlx::Row;
use std::collections::HashMap;

pub mod mailings;
pub mod sla;

/// The clients with at least `min_messages` sent messages (reads `messages`): those whose
/// reports come from a daily Parquet snapshot.
pub async fn clients_with_sent(db: &Db, min_messages: i64) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT client_id FROM messages WHERE sent_at IS NOT NULL GROUP BY client_id HAVING COUNT(*) >= $1 ORDER BY client_id",
    )
    .bind(min_messages)
    .fetch_all(&db.pool)
    .await?)
}

/// Which events a report reads: of messages sent in `sent_from ..< sent_until`, and (for
/// Parquet snapshots and what came after one) that happened in `at_from ..< at_until`
/// (reviews: received then). Epoch milliseconds.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub sent_from: i64,
    pub sent_until: i64,
    pub at_from: i64,
    pub at_until: i64,
    /// Only the first event of each kind of a message since `at_from` (what a snapshot
    /// taken at `at_from` does not already count). Reviews count each, always.
    pub new_only: bool,
}

impl Window {
    /// Messages sent in `from ..< until`, whenever their events happened.
    pub fn sent(from: i64, until: i64) -> Window {
        Window { sent_from: from, sent_until: until, at_from: i64::MIN, at_until: i64::MAX, new_only: false }
    }
}

/// The client's events in `window`, with each message's dimensions, appended to `events`;
/// reviews attributed to those messages come with their stars.
pub async fn load_events(db: &Db, client_id: i64, window: Window, events: &mut Events) -> Result<(), AppError> {
    // Message events (not `reviewed`: those come with their stars from `reviews`).
    let new_only = if window.new_only {
        " AND NOT EXISTS (SELECT 1 FROM message_events p WHERE p.message_id = e.message_id AND p.kind = e.kind AND p.at < $4)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT m.id, e.kind, NULL AS rating, m.brand_id, o.store_id, m.campaign_id, m.variant, m.locale, m.sent_at, m.channel \
         FROM messages m JOIN message_events e ON e.message_id = m.id JOIN orders o ON o.id = m.order_id \
         WHERE m.client_id = $1 AND m.sent_at >= $2 AND m.sent_at < $3 AND e.kind <> 'reviewed' AND e.at >= $4 AND e.at < $5{new_only} \
         UNION ALL \
         SELECT m.id, 'reviewed', r.rating, m.brand_id, o.store_id, m.campaign_id, m.variant, m.locale, m.sent_at, m.channel \
         FROM reviews r JOIN messages m ON m.id = r.message_id JOIN orders o ON o.id = m.order_id \
         WHERE r.client_id = $1 AND m.sent_at >= $2 AND m.sent_at < $3 AND r.received_at >= $4 AND r.received_at < $5"
    );
    let mut rows = sqlx::query(&sql)
        .bind(client_id)
        .bind(window.sent_from)
        .bind(window.sent_until)
        .bind(window.at_from)
        .bind(window.at_until)
        .fetch(&db.pool);
    while let Some(row) = rows.try_next().await? {
        let kind: String = row.try_get(1)?;
        let channel: String = row.try_get(9)?;
        // Amazon's request taken counts as sent (its buyers' reviews count against it as
        // for e-mail); not eligible and failed requests were never sent. A text the carrier
        // failed to deliver is the text's bounce (delivered = sent − bounced for every
        // channel).
        let kind = if kind == EventKind::Requested.as_str() {
            EventKind::Sent.as_str()
        } else if kind == EventKind::Failed.as_str()
            && crate::outbox::model::Channel::parse(&channel).is_some_and(crate::outbox::model::Channel::is_phone)
        {
            EventKind::Bounced.as_str()
        } else {
            kind.as_str()
        };
        let Some(code) = KINDS.iter().position(|k| *k == kind) else { continue };
        let locale: String = row.try_get(7)?;
        events.push(Event {
            message_id: row.try_get(0)?,
            kind: code as i32,
            rating: row.try_get(2)?,
            brand: row.try_get(3)?,
            store: row.try_get(4)?,
            campaign: row.try_get(5)?,
            variant: row.try_get(6)?,
            locale: &locale,
            day: day_of(row.try_get(8)?),
            channel: CHANNELS.iter().position(|c| c.as_str() == channel).unwrap_or(0) as i64,
        });
    }
    Ok(())
}

/// (brand, stars) of every review the client received in `from ..< until`.
pub async fn review_ratings(db: &Db, client_id: i64, from: i64, until: i64) -> Result<(Vec<i64>, Vec<i64>), AppError> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT brand_id, rating FROM reviews WHERE client_id = $1 AND reviewed_at >= $2 AND reviewed_at < $3")
            .bind(client_id)
            .bind(from)
            .bind(until)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().unzip())
}

/// What a report's keys are called.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub brands: HashMap<i64, String>,
    pub stores: HashMap<i64, String>,
    /// id -> (name, A/B metric, number of variants)
    pub campaigns: HashMap<i64, (String, String, usize)>,
}

pub async fn names(db: &Db, client_id: i64) -> Result<Names, AppError> {
    let brands: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM brands WHERE client_id = $1").bind(client_id).fetch_all(&db.pool).await?;
    let stores: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM stores WHERE client_id = $1").bind(client_id).fetch_all(&db.pool).await?;
    let campaigns: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, rules FROM campaigns WHERE client_id = $1").bind(client_id).fetch_all(&db.pool).await?;
    Ok(Names {
        brands: brands.into_iter().collect(),
        stores: stores.into_iter().collect(),
        campaigns: campaigns
            .into_iter()
            .map(|(id, name, rules)| {
                let rules: Option<crate::campaigns::planner::CampaignRules> = serde_json::from_str(&rules).ok();
                let (metric, variants) = rules.map(|r| (r.metric, r.variants.len())).unwrap_or_else(|| ("click".into(), 0));
                (id, (name, metric, variants))
            })
            .collect(),
    })
}

/// The order a review names: by the platform's order id, in the store when known.
pub async fn find_order(
    db: &Db,
    brand_id: i64,
    store_id: Option<i64>,
    platform_order_id: &str,
) -> Result<Option<(i64, i64, Option<i64>)>, AppError> {
    if platform_order_id.is_empty() {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT id, store_id, customer_id FROM orders WHERE brand_id = $1 AND platform_order_id = $2 AND ($3 = 0 OR store_id = $3) \
         ORDER BY id LIMIT 1",
    )
    .bind(brand_id)
    .bind(platform_order_id)
    .bind(store_id.unwrap_or(0))
    .fetch_optional(&db.pool)
    .await?)
}

/// The brand's customer with this (normalised) e-mail address.
pub async fn find_customer(db: &Db, brand_id: i64, email: &str) -> Result<Option<i64>, AppError> {
    if email.is_empty() {
        return Ok(None);
    }
    Ok(sqlx::query_scalar("SELECT id FROM customers WHERE brand_id = $1 AND email = $2")
        .bind(brand_id)
        .bind(email)
        .fetch_optional(&db.pool)
        .await?)
}

/// (message id, sent at) of the messages sent for the order, else to the customer, by the
/// brand: the requests a review may answer.
pub async fn requests(db: &Db, brand_id: i64, order_id: Option<i64>, customer_id: Option<i64>) -> Result<Vec<(i64, i64)>, AppError> {
    let sql = "SELECT id, sent_at FROM messages WHERE brand_id = $1 AND sent_at IS NOT NULL AND ";
    let rows: Vec<(i64, i64)> = match (order_id, customer_id) {
        (Some(order), _) => sqlx::query_as(&format!("{sql} order_id = $2")).bind(brand_id).bind(order).fetch_all(&db.pool).await?,
        (None, Some(customer)) => {
            sqlx::query_as(&format!("{sql} customer_id = $2")).bind(brand_id).bind(customer).fetch_all(&db.pool).await?
        }
        (None, None) => Vec::new(),
    };
    Ok(rows)
}

pub async fn list_reviews(db: &Db, client_id: i64, query: &ListQuery) -> Result<Page<ReviewRow>, AppError> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews WHERE client_id = $1").bind(client_id).fetch_one(&db.pool).await?;
    let order = match query.sort.as_str() {
        "rating" => "r.rating",
        "brand" => "b.name",
        _ => "r.reviewed_at",
    };
    let direction = if query.desc || query.sort.is_empty() { "DESC" } else { "ASC" };
    let rows = sqlx::query(&format!(
        "SELECT r.id, b.name, COALESCE(s.name, ''), r.platform_order_id, r.rating, r.title, r.body, r.author, r.reviewed_at, r.message_id, \
         COALESCE(c.name, ''), r.via FROM reviews r JOIN brands b ON b.id = r.brand_id LEFT JOIN stores s ON s.id = r.store_id \
         LEFT JOIN messages m ON m.id = r.message_id LEFT JOIN campaigns c ON c.id = m.campaign_id \
         WHERE r.client_id = $1 ORDER BY {order} {direction}, r.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(client_id)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    let rows = rows
        .into_iter()
        .map(|row| -> Result<ReviewRow, sqlx::Error> {
            Ok(ReviewRow {
                id: row.try_get(0)?,
                brand: row.try_get(1)?,
                store: row.try_get(2)?,
                platform_order_id: row.try_get(3)?,
                rating: row.try_get(4)?,
                title: row.try_get(5)?,
                body: row.try_get(6)?,
                author: row.try_get(7)?,
                reviewed_at: row.try_get(8)?,
                message_id: row.try_get(9)?,
                campaign: row.try_get(10)?,
                via: row.try_get(11)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(rows, total, query))
}

/// Opens the alert of a negative review (once per review); answers its id when new.
pub async fn open_alert(
    db: &Db,
    client_id: i64,
    brand_id: i64,
    review_id: i64,
    owner: Option<i64>,
    at: i64,
) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO alerts (client_id, brand_id, review_id, owner_id, status, opened_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(client_id)
    .bind(brand_id)
    .bind(review_id)
    .bind(owner)
    .bind(AlertState::Open.as_str())
    .bind(at)
    .fetch_optional(&db.pool)
    .await?)
}

/// Alerts of the given clients (all when `None`) in `status` (any when `None`), open ones
/// first, newest first. Reads clients, brands, reviews, users and the SLA contract for the
/// names and the response target beside each alert.
pub async fn list_alerts(db: &Db, clients: Option<&[i64]>, status: Option<AlertState>) -> Result<Vec<AlertRow>, AppError> {
    let scope = match clients {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => format!(" AND a.client_id IN ({})", ids.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",")),
    };
    let rows = sqlx::query(&format!(
        "SELECT a.id, a.client_id, cl.name, b.name, r.id, r.rating, r.title, r.body, r.platform_order_id, a.owner_id, COALESCE(u.name, ''), \
         a.status, a.opened_at, a.responded_at, a.resolved_at, a.note, COALESCE(k.review_response_hours, 24) \
         FROM alerts a JOIN clients cl ON cl.id = a.client_id JOIN brands b ON b.id = a.brand_id JOIN reviews r ON r.id = a.review_id \
         LEFT JOIN users u ON u.id = a.owner_id LEFT JOIN sla_contracts k ON k.client_id = a.client_id \
         WHERE ($1 = '' OR a.status = $1){scope} \
         ORDER BY CASE a.status WHEN 'open' THEN 0 WHEN 'responded' THEN 1 ELSE 2 END, a.opened_at DESC LIMIT 500"
    ))
    .bind(status.map_or("", AlertState::as_str))
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|row| -> Result<AlertRow, sqlx::Error> {
            let status: String = row.try_get(11)?;
            Ok(AlertRow {
                id: row.try_get(0)?,
                client_id: row.try_get(1)?,
                client: row.try_get(2)?,
                brand: row.try_get(3)?,
                review_id: row.try_get(4)?,
                rating: row.try_get(5)?,
                title: row.try_get(6)?,
                body: row.try_get(7)?,
                platform_order_id: row.try_get(8)?,
                owner_id: row.try_get(9)?,
                owner: row.try_get(10)?,
                status: AlertState::parse(&status).ok_or_else(|| sqlx::Error::Decode(format!("unknown alert state {status:?}").into()))?,
                opened_at: row.try_get(12)?,
                responded_at: row.try_get(13)?,
                resolved_at: row.try_get(14)?,
                note: row.try_get(15)?,
                response_hours: row.try_get(16)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::from)
}

pub async fn alert_client(db: &Db, id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT client_id FROM alerts WHERE id = $1").bind(id).fetch_optional(&db.pool).await?)
}

/// Moves an alert on: the first response and the resolution are stamped once.
pub async fn update_alert(db: &Db, id: i64, status: AlertState, owner: Option<i64>, note: &str, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE alerts SET status = $1, owner_id = $2, note = $3, \
         responded_at = CASE WHEN $1 IN ('responded', 'resolved') AND responded_at IS NULL THEN $4 ELSE responded_at END, \
         resolved_at = CASE WHEN $1 = 'resolved' AND resolved_at IS NULL THEN $4 ELSE resolved_at END WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(owner)
    .bind(note)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}
