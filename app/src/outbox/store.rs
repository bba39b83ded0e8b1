//! SQL on `messages`, `message_events` and `delivery_attempts`, the outbox's tables.
//!
//! A few statements also read other capabilities' tables, each said at the function:
//! `customers`, `orders` and `brands` for what a page or a page's link shows about a
//! message, and `campaigns` for the sender's claim (only running campaigns' messages go
//! out). Functions that are part of a caller's transaction take it as `tx`.
//!
//! Read elsewhere, never written: `campaigns::store` (the planner's frequency cap and the
//! campaign page's counts join messages), `delivery::store` (what to send: a message with
//! its order, buyer, brand and version) and `reports::store` (the events a report, the SLA
//! board and review attribution count).

use super::model::{AttemptOutcome, Channel, EventKind, MessageState};
use crate::db::{packed_int, packed_records, Backend, Db, FIELD_SEP};
use crate::error::AppError;
use crate::shell::table::ListQuery;
use crate::templates::model::Purpose;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Rows per multi-row INSERT of planned messages.
const ROWS_PER_INSERT: usize = 1_000;
/// Rows per multi-row statement of the sender (tries started, accepted messages).
const ROWS_PER_STATEMENT: usize = 400;

/// A state column as its enum (every state written is one of them).
fn message_state(r: &AnyRow, column: &str) -> Result<MessageState, sqlx::Error> {
    let raw: String = r.try_get(column)?;
    MessageState::parse(&raw).ok_or_else(|| sqlx::Error::Decode(format!("unknown message state {raw:?}").into()))
}

// ---------------------------------------------------------------------------------------
// Planning (inside the planner's transaction)
// ---------------------------------------------------------------------------------------

/// Planned send times per customer of the brand, of messages due after `since` that are
/// not cancelled: what the frequency cap counts. One packed value (`Backend::packed`): a
/// brand has hundreds of thousands of these.
pub async fn planned_sends(tx: &mut Tx<'_>, brand_id: i64, since: i64) -> Result<HashMap<i64, Vec<i64>>, AppError> {
    let backend = Backend::of(tx);
    let us = backend.field_sep();
    let sends_sql = format!(
        "SELECT {} FROM messages m WHERE m.brand_id = $1 AND m.send_at > $2 AND m.state <> 'cancelled'",
        backend.packed(&format!("m.customer_id || {us} || m.send_at"))
    );
    let planned: Option<String> = sqlx::query_scalar(&sends_sql).bind(brand_id).bind(since).fetch_one(&mut **tx).await?;
    let mut sends: HashMap<i64, Vec<i64>> = HashMap::new();
    for record in packed_records(planned.as_deref()) {
        let mut f = record.split(FIELD_SEP);
        if let (Some(customer), Some(at)) = (packed_int(f.next()), packed_int(f.next())) {
            sends.entry(customer).or_default().push(at);
        }
    }
    Ok(sends)
}

/// The purposes each order of the id range `first ..= last` has a message for (packed).
pub async fn purposes_by_order(tx: &mut Tx<'_>, first: i64, last: i64) -> Result<HashMap<i64, Vec<Purpose>>, AppError> {
    let backend = Backend::of(tx);
    let us = backend.field_sep();
    let planned_sql = format!(
        "SELECT {} FROM messages m WHERE m.order_id > $1 AND m.order_id <= $2",
        backend.packed(&format!("m.order_id || {us} || m.purpose"))
    );
    let planned: Option<String> = sqlx::query_scalar(&planned_sql).bind(first).bind(last).fetch_one(&mut **tx).await?;
    let mut order_purposes: HashMap<i64, Vec<Purpose>> = HashMap::new();
    for record in packed_records(planned.as_deref()) {
        let mut f = record.split(FIELD_SEP);
        let (Some(order), Some(purpose)) = (packed_int(f.next()), f.next()) else { continue };
        if let Ok(p) = Purpose::parse("purpose", purpose) {
            order_purposes.entry(order).or_default().push(p);
        }
    }
    Ok(order_purposes)
}

/// Whose messages a planning pass writes: the same for every row of the pass.
#[derive(Clone, Copy, Debug)]
pub struct MessageOrigin {
    pub client_id: i64,
    pub brand_id: i64,
    pub campaign_id: i64,
    pub purpose: Purpose,
    pub channel: Channel,
}

/// A message row of the outbox, before it is written.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub order_id: i64,
    /// `None` for an Amazon request to a buyer Amazon keeps to itself.
    pub customer_id: Option<i64>,
    /// `None` for Amazon's request (Amazon writes it).
    pub template_version_id: Option<i64>,
    pub locale: String,
    pub variant: i64,
    pub send_at: i64,
    /// `Queued`, or `Held` behind a canary.
    pub state: MessageState,
    /// 1 for the canary's messages.
    pub canary: i64,
    /// An Amazon order's message: the order's one proactive contact, whatever the purpose.
    pub one_per_order: bool,
}

/// Writes planned messages as multi-row statements; answers the orders whose message was
/// really new (the unique (order, purpose) index turns away a second one, and on an Amazon
/// order the unique `one_per_order` index a second of any purpose, whichever planner got
/// there first).
pub async fn insert_planned(tx: &mut Tx<'_>, origin: MessageOrigin, planned: &[NewMessage], now: i64) -> Result<HashSet<i64>, AppError> {
    let b = Backend::of(tx);
    let mut inserted: HashSet<i64> = HashSet::new();
    const MESSAGE_BINDS: usize = 9;
    for chunk in planned.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO messages (order_id, customer_id, template_version_id, locale, variant, send_at, state, canary, one_per_order, \
               client_id, brand_id, campaign_id, purpose, channel, created_at) \
             SELECT v.*, {}, {}, {}, '{}', '{}', {now} FROM (VALUES {}) AS v WHERE true \
             ON CONFLICT DO NOTHING RETURNING order_id",
            origin.client_id,
            origin.brand_id,
            origin.campaign_id,
            origin.purpose.as_str(),
            origin.channel.as_str(),
            b.rows(chunk.len(), MESSAGE_BINDS)
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql).persistent(chunk.len() == ROWS_PER_INSERT);
        for m in chunk {
            query = query
                .bind(m.order_id)
                .bind(m.customer_id)
                .bind(m.template_version_id)
                .bind(m.locale.as_str())
                .bind(m.variant)
                .bind(m.send_at)
                .bind(m.state.as_str())
                .bind(m.canary)
                .bind(i64::from(m.one_per_order));
        }
        inserted.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(inserted)
}

// ---------------------------------------------------------------------------------------
// A campaign's messages
// ---------------------------------------------------------------------------------------

/// Seeds a brand's message history for a benchmark: a `sent` care message (`Purpose::Care`,
/// locale `de`, version `template_version_id`) at `at`, of campaign `campaign_id`, for
/// every fifth order of the brand that has a buyer. Reads `orders`.
pub async fn seed_sent_care_history(db: &Db, campaign_id: i64, template_version_id: i64, brand_id: i64, at: i64) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "INSERT INTO messages (client_id, brand_id, campaign_id, order_id, customer_id, purpose, channel, template_version_id, locale, \
           variant, send_at, state, created_at, sent_at) \
         SELECT client_id, brand_id, $1, id, customer_id, 'care', 'email', $2, 'de', 0, $3, 'sent', $3, $3 FROM orders \
         WHERE brand_id = $4 AND id % 5 = 0 AND customer_id IS NOT NULL",
    )
    .bind(campaign_id)
    .bind(template_version_id)
    .bind(at)
    .bind(brand_id)
    .execute(&db.pool)
    .await?
    .rows_affected())
}

/// Makes every message of a campaign due at `send_at` (benchmarks and demos send at once).
pub async fn reschedule_campaign(db: &Db, campaign_id: i64, send_at: i64) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE messages SET send_at = $1 WHERE campaign_id = $2")
        .bind(send_at)
        .bind(campaign_id)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

/// (message id, the order's platform id) of each of a campaign's messages, by id. Reads
/// `orders`.
pub async fn campaign_message_orders(db: &Db, campaign_id: i64) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT m.id, o.platform_order_id FROM messages m JOIN orders o ON o.id = m.order_id WHERE m.campaign_id = $1 ORDER BY m.id",
    )
    .bind(campaign_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Cancels a campaign's messages that have not gone yet (queued or held).
pub async fn cancel_campaign(db: &Db, campaign_id: i64) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE messages SET state = 'cancelled' WHERE campaign_id = $1 AND state IN ('queued', 'held')")
        .bind(campaign_id)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

/// Ends a canary inside `tx`: the campaign's held messages join the queue. Answers how many.
pub async fn release_held(tx: &mut Tx<'_>, campaign_id: i64) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE messages SET state = 'queued' WHERE campaign_id = $1 AND state = 'held'")
        .bind(campaign_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// How many of a campaign's messages are in each state, by state.
pub async fn state_counts(db: &Db, campaign_id: i64) -> Result<Vec<(MessageState, i64)>, AppError> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM messages WHERE campaign_id = $1 GROUP BY state ORDER BY state")
        .bind(campaign_id)
        .fetch_all(&db.pool)
        .await?;
    let counts: Result<Vec<(MessageState, i64)>, sqlx::Error> =
        rows.iter().map(|r| Ok((message_state(r, "state")?, r.try_get::<i64, _>("n")?))).collect();
    Ok(counts?)
}

/// One message of a campaign's log, with its buyer's address and its order's number.
#[derive(Clone, Debug)]
pub struct ListedMessage {
    pub id: i64,
    pub email: String,
    pub platform_order_id: String,
    pub variant: i64,
    pub locale: String,
    pub state: MessageState,
    pub send_at: i64,
    pub attempts: i64,
    pub last_error: String,
}

impl sqlx::FromRow<'_, AnyRow> for ListedMessage {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ListedMessage {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            platform_order_id: r.try_get("platform_order_id")?,
            variant: r.try_get("variant")?,
            locale: r.try_get("locale")?,
            state: message_state(r, "state")?,
            send_at: r.try_get("send_at")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
        })
    }
}

/// A page of a campaign's messages (sorted and filtered as `query` says, `state` filter
/// included) and how many match in all. Reads `customers` (the address, searched) and
/// `orders` (the order's number) beside the messages.
pub async fn campaign_messages(db: &Db, campaign_id: i64, query: &ListQuery) -> Result<(i64, Vec<ListedMessage>), AppError> {
    let order_by = match query.sort.as_str() {
        "state" => "m.state",
        "recipient" => "c.email",
        "attempts" => "m.attempts",
        _ => "m.send_at",
    };
    let direction = if query.desc { "DESC" } else { "ASC" };
    let state = query.filter("state").unwrap_or("").to_string();
    // An Amazon request may have no buyer record (Amazon keeps its buyers): searched by
    // its order number.
    let filter =
        "m.campaign_id = $1 AND (lower(COALESCE(c.email, '')) LIKE $2 ESCAPE '\\' OR lower(o.platform_order_id) LIKE $2 ESCAPE '\\') \
                  AND ($3 = '' OR m.state = $3)";
    let from = "messages m LEFT JOIN customers c ON c.id = m.customer_id JOIN orders o ON o.id = m.order_id";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {from} WHERE {filter}"))
        .bind(campaign_id)
        .bind(query.like_pattern())
        .bind(&state)
        .fetch_one(&db.pool)
        .await?;
    let rows = sqlx::query_as::<_, ListedMessage>(&format!(
        "SELECT m.id, COALESCE(c.email, '') AS email, o.platform_order_id, m.variant, m.locale, m.state, m.send_at, m.attempts, \
           m.last_error FROM {from} WHERE {filter} ORDER BY {order_by} {direction}, m.id LIMIT $4 OFFSET $5"
    ))
    .bind(campaign_id)
    .bind(query.like_pattern())
    .bind(&state)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    Ok((total, rows))
}

/// One event of a message.
#[derive(Clone, Debug)]
pub struct MessageEvent {
    pub message_id: i64,
    pub kind: EventKind,
    pub at: i64,
    pub detail: String,
}

impl sqlx::FromRow<'_, AnyRow> for MessageEvent {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let kind: String = r.try_get("kind")?;
        Ok(MessageEvent {
            message_id: r.try_get("message_id")?,
            kind: EventKind::parse(&kind).ok_or_else(|| sqlx::Error::Decode(format!("unknown message event {kind:?}").into()))?,
            at: r.try_get("at")?,
            detail: r.try_get("detail")?,
        })
    }
}

/// The events of the messages `ids`, oldest first.
pub async fn events_of(db: &Db, ids: &[i64]) -> Result<Vec<MessageEvent>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT message_id, kind, at, detail FROM message_events WHERE message_id IN ({}) ORDER BY at, id",
        db.backend.params(1, ids.len())
    );
    let mut events = sqlx::query_as::<_, MessageEvent>(&sql);
    for id in ids {
        events = events.bind(*id);
    }
    Ok(events.fetch_all(&db.pool).await?)
}

// ---------------------------------------------------------------------------------------
// Events and what the canary and the A/B test count
// ---------------------------------------------------------------------------------------

/// Records that `kind` happened to a message; `source` names the report it came from (a
/// replayed report changes nothing). Answers whether the event was new.
pub async fn insert_event(db: &Db, message_id: i64, kind: EventKind, source: &str, at: i64, detail: &str) -> Result<bool, AppError> {
    Ok(sqlx::query("INSERT INTO message_events (message_id, kind, at, detail, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
        .bind(message_id)
        .bind(kind.as_str())
        .bind(at)
        .bind(detail)
        .bind(source)
        .execute(&db.pool)
        .await?
        .rows_affected()
        == 1)
}

/// A message's `sent` event taken as its state: sent at `at`, unless already recorded sent.
pub async fn mark_sent(db: &Db, message_id: i64, at: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE messages SET state = 'sent', sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
        .bind(at)
        .bind(message_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// When a buyer's unsubscribe took effect (for the SLA's processing time).
pub async fn mark_unsubscribe_processed(db: &Db, message_id: i64, processed_at: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE message_events SET processed_at = $1 WHERE message_id = $2 AND kind = 'unsubscribed' AND processed_at IS NULL")
        .bind(processed_at)
        .bind(message_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// SQL counting the messages `m` with at least one event of `kind` (each message once,
/// however many reports came in).
fn messages_with(kind: EventKind) -> String {
    let kind = kind.as_str();
    format!("COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.kind = '{kind}') THEN 1 ELSE 0 END), 0)")
}

/// A campaign's sent messages and how many of them bounced, drew a complaint or an
/// unsubscribe (complaints counted once per buyer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SentCounts {
    pub sent: u64,
    pub bounced: u64,
    pub complained: u64,
    pub unsubscribed: u64,
}

impl sqlx::FromRow<'_, AnyRow> for SentCounts {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(SentCounts {
            sent: r.try_get::<i64, _>("sent")? as u64,
            bounced: r.try_get::<i64, _>("bounced")? as u64,
            complained: r.try_get::<i64, _>("complained")? as u64,
            unsubscribed: r.try_get::<i64, _>("unsubscribed")? as u64,
        })
    }
}

/// The counts a canary's thresholds are judged on: messages sent since `from` (only the
/// canary's when `canary_only`). Each message counts once per kind, however many reports
/// came in, and complaints once per buyer: one buyer's reports about several messages
/// are one.
pub async fn sent_counts(db: &Db, campaign_id: i64, canary_only: bool, from: i64) -> Result<SentCounts, AppError> {
    let sql = format!(
        "SELECT COUNT(*) AS sent, {} AS bounced, \
                COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.kind = 'complained') \
                                    THEN m.customer_id END) AS complained, \
                {} AS unsubscribed \
         FROM messages m WHERE m.campaign_id = $1 AND m.sent_at IS NOT NULL AND m.sent_at >= $2 AND (m.canary = 1 OR $3 = 0)",
        messages_with(EventKind::Bounced),
        messages_with(EventKind::Unsubscribed)
    );
    Ok(sqlx::query_as::<_, SentCounts>(&sql).bind(campaign_id).bind(from).bind(i64::from(canary_only)).fetch_one(&db.pool).await?)
}

/// Where a campaign's canary messages are: how many still wait in the queue, how many
/// there are, and when the last one was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CanaryProgress {
    pub waiting: i64,
    pub total: i64,
    pub last_sent: Option<i64>,
}

impl sqlx::FromRow<'_, AnyRow> for CanaryProgress {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(CanaryProgress { waiting: r.try_get("waiting")?, total: r.try_get("total")?, last_sent: r.try_get("last_sent")? })
    }
}

pub async fn canary_progress(db: &Db, campaign_id: i64) -> Result<CanaryProgress, AppError> {
    Ok(sqlx::query_as::<_, CanaryProgress>(
        "SELECT COALESCE(SUM(CASE WHEN sent_at IS NULL AND state = 'queued' THEN 1 ELSE 0 END), 0) AS waiting, COUNT(*) AS total, \
           MAX(sent_at) AS last_sent \
         FROM messages WHERE campaign_id = $1 AND canary = 1",
    )
    .bind(campaign_id)
    .fetch_one(&db.pool)
    .await?)
}

/// One A/B variant's messages: planned (not cancelled), sent, and those with at least one
/// bounce, open, click or review (each message once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VariantTally {
    pub variant: i64,
    pub planned: u64,
    pub sent: u64,
    pub bounced: u64,
    pub opened: u64,
    pub clicked: u64,
    pub reviewed: u64,
}

impl sqlx::FromRow<'_, AnyRow> for VariantTally {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(VariantTally {
            variant: r.try_get("variant")?,
            planned: r.try_get::<i64, _>("planned")? as u64,
            sent: r.try_get::<i64, _>("sent")? as u64,
            bounced: r.try_get::<i64, _>("bounced")? as u64,
            opened: r.try_get::<i64, _>("opened")? as u64,
            clicked: r.try_get::<i64, _>("clicked")? as u64,
            reviewed: r.try_get::<i64, _>("reviewed")? as u64,
        })
    }
}

/// Per-variant tallies of a campaign, by variant.
pub async fn variant_tallies(db: &Db, campaign_id: i64) -> Result<Vec<VariantTally>, AppError> {
    let sql = format!(
        "SELECT m.variant, COUNT(*) AS planned, COALESCE(SUM(CASE WHEN m.sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sent, \
           {} AS bounced, {} AS opened, {} AS clicked, {} AS reviewed \
         FROM messages m WHERE m.campaign_id = $1 AND m.state <> 'cancelled' GROUP BY m.variant ORDER BY m.variant",
        messages_with(EventKind::Bounced),
        messages_with(EventKind::Opened),
        messages_with(EventKind::Clicked),
        messages_with(EventKind::Reviewed)
    );
    Ok(sqlx::query_as::<_, VariantTally>(&sql).bind(campaign_id).fetch_all(&db.pool).await?)
}

// ---------------------------------------------------------------------------------------
// One message
// ---------------------------------------------------------------------------------------

/// Whether the outbox still holds message `message_id` (not erased or purged).
pub async fn exists(db: &Db, message_id: i64) -> Result<bool, AppError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE id = $1").bind(message_id).fetch_optional(&db.pool).await?;
    Ok(found.is_some())
}

/// The campaign a message belongs to.
pub async fn campaign_of(db: &Db, message_id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT campaign_id FROM messages WHERE id = $1").bind(message_id).fetch_optional(&db.pool).await?)
}

/// The client a message belongs to (links in mail are checked against it).
pub async fn client_of(db: &Db, message_id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT client_id FROM messages WHERE id = $1").bind(message_id).fetch_optional(&db.pool).await?)
}

/// The name of the brand a message was sent for (reads `brands`).
pub async fn brand_name_of(db: &Db, message_id: i64) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT b.name FROM messages m JOIN brands b ON b.id = m.brand_id WHERE m.id = $1")
        .bind(message_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// The e-mail address a message went to (reads `customers`; "" when the buyer has none
/// any more), `None` when there is no such message.
pub async fn recipient_of(db: &Db, message_id: i64) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT c.email FROM messages m JOIN customers c ON c.id = m.customer_id WHERE m.id = $1")
        .bind(message_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// Who a message went to, for suppressing the buyer: the message's client, brand and
/// customer, the customer's address (from `customers`) and the brand's name (`brands`).
#[derive(Clone, Debug)]
pub struct MessageBuyer {
    pub client_id: i64,
    pub brand_id: i64,
    pub customer_id: i64,
    pub email: String,
    pub phone: String,
    pub brand: String,
}

impl sqlx::FromRow<'_, AnyRow> for MessageBuyer {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(MessageBuyer {
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            customer_id: r.try_get("customer_id")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
            brand: r.try_get("brand")?,
        })
    }
}

pub async fn buyer_of(db: &Db, message_id: i64) -> Result<Option<MessageBuyer>, AppError> {
    Ok(sqlx::query_as::<_, MessageBuyer>(
        "SELECT m.client_id, m.brand_id, m.customer_id, c.email, c.phone, b.name AS brand FROM messages m JOIN customers c ON c.id = m.customer_id \
         JOIN brands b ON b.id = m.brand_id WHERE m.id = $1",
    )
    .bind(message_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Cancels everything still queued or held for a buyer by a brand (after a suppression).
pub async fn cancel_for_buyer(db: &Db, brand_id: i64, customer_id: i64) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE messages SET state = 'cancelled' WHERE brand_id = $1 AND customer_id = $2 AND state IN ('queued', 'held')")
        .bind(brand_id)
        .bind(customer_id)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

// ---------------------------------------------------------------------------------------
// The sender: claims, tries, outcomes
// ---------------------------------------------------------------------------------------

/// Moves up to `limit` due e-mails of running campaigns to `sending` under `worker`
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes take disjoint batches).
/// Reads `campaigns`: only a running campaign's messages go out. (Amazon's requests are
/// claimed per seller by `claim_requests`.)
pub async fn claim(db: &Db, worker: &str, now: i64, limit: i64) -> Result<Vec<i64>, AppError> {
    claim_channel(db, Channel::Email, worker, now, limit).await
}

/// `claim` for the messages of one channel (e-mail, or texts).
pub async fn claim_channel(db: &Db, channel: Channel, worker: &str, now: i64, limit: i64) -> Result<Vec<i64>, AppError> {
    let lock = if db.backend == Backend::Postgres { "FOR UPDATE OF m SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE messages SET state = 'sending', claimed_by = $1, claimed_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id \
           WHERE m.state = 'queued' AND m.send_at <= $2 AND c.state = 'running' AND m.channel = $4 ORDER BY m.send_at LIMIT $3 {lock}) \
         RETURNING id"
    );
    let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(worker).bind(now).bind(limit).bind(channel.as_str()).fetch_all(&db.pool).await?;
    Ok(ids)
}

/// An Amazon review request claimed for sending.
#[derive(Clone, Debug)]
pub struct ClaimedRequest {
    pub message_id: i64,
    pub campaign_id: i64,
    /// Amazon's order id.
    pub amazon_order_id: String,
    /// The message's tries so far, this one included.
    pub attempts: i64,
    /// An earlier try asked Amazon to send the request and its process stopped before the
    /// answer was recorded: Amazon may have taken it.
    pub interrupted: bool,
}

/// The name of a try at creating an Amazon request; `ClaimedRequest::interrupted` looks
/// for it.
pub fn request_attempt(worker: &str, message_id: i64, attempt: i64) -> String {
    format!("{worker}:{message_id}:{attempt}:create")
}

/// Moves up to `limit` due Amazon requests of running campaigns on orders of `store_id`
/// to `sending` under `worker` (`SKIP LOCKED` on PostgreSQL, as `claim`), and reads what
/// sending them needs. Reads `campaigns` and `orders`.
pub async fn claim_requests(db: &Db, worker: &str, store_id: i64, now: i64, limit: i64) -> Result<Vec<ClaimedRequest>, AppError> {
    let lock = if db.backend == Backend::Postgres { "FOR UPDATE OF m SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE messages SET state = 'sending', claimed_by = $1, claimed_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN orders o ON o.id = m.order_id \
           WHERE m.state = 'queued' AND m.send_at <= $2 AND c.state = 'running' AND m.channel = 'amazon' AND o.store_id = $4 \
           ORDER BY m.send_at LIMIT $3 {lock}) \
         RETURNING id"
    );
    let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(worker).bind(now).bind(limit).bind(store_id).fetch_all(&db.pool).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows: Vec<(i64, i64, String, i64, Option<String>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT m.id, m.campaign_id, o.platform_order_id, m.attempts, a.attempt, a.outcome FROM messages m \
         JOIN orders o ON o.id = m.order_id \
         LEFT JOIN delivery_attempts a ON a.id = (SELECT MAX(x.id) FROM delivery_attempts x WHERE x.message_id = m.id) \
         WHERE m.id IN ({list}) ORDER BY m.send_at, m.id"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(message_id, campaign_id, amazon_order_id, attempts, attempt, outcome)| ClaimedRequest {
            message_id,
            campaign_id,
            amazon_order_id,
            attempts,
            // Unknown (its process died), still pending, or a retry after a timeout or 5xx:
            // any of them may have reached Amazon.
            interrupted: attempt.is_some_and(|a| a.ends_with(":create"))
                && outcome.is_some_and(|o| {
                    [AttemptOutcome::Unknown, AttemptOutcome::Pending, AttemptOutcome::Retry].iter().any(|x| x.as_str() == o)
                }),
        })
        .collect())
}

/// The stores with Amazon requests due at `now` in running campaigns. Reads `campaigns`
/// and `orders`.
pub async fn due_request_stores(db: &Db, now: i64) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT o.store_id FROM messages m JOIN campaigns c ON c.id = m.campaign_id JOIN orders o ON o.id = m.order_id \
         WHERE m.state = 'queued' AND m.send_at <= $1 AND m.channel = 'amazon' AND c.state = 'running'",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?)
}

/// How an Amazon request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Amazon took it (now or before): the message is `sent`.
    Requested,
    /// Amazon offers no request for the order: `skipped`.
    NotEligible,
    /// Given up on: `failed`.
    Failed,
}

/// Records how an Amazon request ended, in one transaction: its create try (when it got
/// that far), the message's state, and the event with Amazon's words in `detail`.
pub async fn record_request(
    db: &Db,
    message_id: i64,
    attempt: Option<&str>,
    outcome: RequestOutcome,
    at: i64,
    detail: &str,
) -> Result<(), AppError> {
    let (state, kind, tried) = match outcome {
        RequestOutcome::Requested => (MessageState::Sent, EventKind::Requested, AttemptOutcome::Sent),
        RequestOutcome::NotEligible => (MessageState::Skipped, EventKind::NotEligible, AttemptOutcome::Failed),
        RequestOutcome::Failed => (MessageState::Failed, EventKind::Failed, AttemptOutcome::Failed),
    };
    let mut tx = db.pool.begin().await?;
    if let Some(attempt) = attempt {
        sqlx::query("UPDATE delivery_attempts SET finished_at = $1, outcome = $2, reply = $3 WHERE attempt = $4")
            .bind(at)
            .bind(tried.as_str())
            .bind(detail)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
    }
    let sent_at = (outcome == RequestOutcome::Requested).then_some(at);
    let error = if outcome == RequestOutcome::Requested { "" } else { detail };
    sqlx::query("UPDATE messages SET state = $1, sent_at = COALESCE(sent_at, $2), last_error = $3 WHERE id = $4")
        .bind(state.as_str())
        .bind(sent_at)
        .bind(error)
        .bind(message_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO message_events (message_id, kind, at, detail, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
        .bind(message_id)
        .bind(kind.as_str())
        .bind(at)
        .bind(detail)
        .bind(attempt.unwrap_or("amazon"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Messages `worker` holds in `sending` back to the queue, due at `send_at`, with the
/// reason (an Amazon seller's authorization was refused: they wait for it).
pub async fn release_claims(db: &Db, worker: &str, ids: &[i64], send_at: i64, error: &str) -> Result<u64, AppError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    Ok(sqlx::query(&format!(
        "UPDATE messages SET state = 'queued', send_at = $1, last_error = $2 WHERE claimed_by = $3 AND state = 'sending' AND id IN ({list})"
    ))
    .bind(send_at)
    .bind(error)
    .bind(worker)
    .execute(&db.pool)
    .await?
    .rows_affected())
}

/// Renews the claims `worker` holds; answers how many.
pub async fn heartbeat(db: &Db, worker: &str, now: i64) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE messages SET claimed_at = $1 WHERE claimed_by = $2 AND state = 'sending'")
        .bind(now)
        .bind(worker)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

/// The workers holding a claim now.
pub async fn claim_holders(db: &Db) -> Result<Vec<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT claimed_by FROM messages WHERE state = 'sending'").fetch_all(&db.pool).await?)
}

/// One row per try, `(message, attempt name)`, started by `worker` at `started`: written
/// before any message of the batch leaves.
pub async fn start_attempts(db: &Db, worker: &str, started: i64, attempts: &[(i64, &str)]) -> Result<(), AppError> {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO delivery_attempts (message_id, attempt, worker, started_at) SELECT v.*, {started} FROM (VALUES {}) AS v WHERE true",
            db.backend.rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (message_id, name) in chunk {
            query = query.bind(*message_id).bind(*name).bind(worker);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}

/// Records how a try ended.
pub async fn finish_attempt(db: &Db, attempt: &str, finished_at: i64, outcome: AttemptOutcome, reply: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE delivery_attempts SET finished_at = $1, outcome = $2, reply = $3 WHERE attempt = $4")
        .bind(finished_at)
        .bind(outcome.as_str())
        .bind(reply)
        .bind(attempt)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// When the message's first try started, if it had one.
pub async fn first_try_at(db: &Db, message_id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT MIN(started_at) FROM delivery_attempts WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(&db.pool)
        .await?)
}

/// A message in `sending` back to the queue, due at `send_at`, with the try's error.
pub async fn requeue(db: &Db, message_id: i64, send_at: i64, error: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE messages SET state = 'queued', send_at = $1, last_error = $2 WHERE id = $3 AND state = 'sending'")
        .bind(send_at)
        .bind(error)
        .bind(message_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A message given up on, with the reason.
pub async fn mark_failed(db: &Db, message_id: i64, error: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE messages SET state = 'failed', last_error = $1 WHERE id = $2")
        .bind(error)
        .bind(message_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A try the relay accepted: the message, the try's name, when, and the relay's reply.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub message_id: i64,
    pub attempt: String,
    pub at: i64,
    pub reply: String,
}

/// In `tx`: each try `(attempt, finished at, reply)` finished `sent`.
async fn finish_sent_tries(tx: &mut sqlx::Transaction<'_, sqlx::Any>, b: Backend, tries: &[(&str, i64, &str)]) -> Result<(), AppError> {
    let sql = format!(
        "UPDATE delivery_attempts SET finished_at = v.column2, outcome = 'sent', reply = v.column3 \
         FROM (VALUES {}) AS v WHERE delivery_attempts.attempt = v.column1",
        b.rows(tries.len(), 3)
    );
    let mut query = sqlx::query(&sql);
    for (attempt, at, reply) in tries {
        query = query.bind(*attempt).bind(*at).bind(*reply);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// In `tx`: a `sent` event per `(message, attempt, at, detail)`, kept once per try.
async fn insert_sent_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    b: Backend,
    events: &[(i64, &str, i64, &str)],
) -> Result<(), AppError> {
    let sql = format!(
        "INSERT INTO message_events (message_id, source, at, detail, kind) SELECT v.*, 'sent' FROM (VALUES {}) AS v WHERE true \
         ON CONFLICT DO NOTHING",
        b.rows(events.len(), 4)
    );
    let mut query = sqlx::query(&sql);
    for (message, attempt, at, detail) in events {
        query = query.bind(*message).bind(*attempt).bind(*at).bind(*detail);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Records accepted messages in one transaction (the sender's group commit): each try's
/// reply, the messages `sent`, and their `sent` events (kept once per try, like every
/// event), as multi-row statements.
pub async fn record_accepted(db: &Db, delivered: &[Accepted]) -> Result<(), AppError> {
    if delivered.is_empty() {
        return Ok(());
    }
    let b = db.backend;
    let mut tx = db.pool.begin().await?;
    for chunk in delivered.chunks(ROWS_PER_STATEMENT) {
        let tries: Vec<(&str, i64, &str)> = chunk.iter().map(|a| (a.attempt.as_str(), a.at, a.reply.as_str())).collect();
        finish_sent_tries(&mut tx, b, &tries).await?;
        let sql = format!(
            "UPDATE messages SET state = 'sent', sent_at = COALESCE(messages.sent_at, v.column2), last_error = '' \
             FROM (VALUES {}) AS v WHERE messages.id = v.column1",
            b.rows(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for a in chunk {
            query = query.bind(a.message_id).bind(a.at);
        }
        query.execute(&mut *tx).await?;
        let events: Vec<(i64, &str, i64, &str)> =
            chunk.iter().map(|a| (a.message_id, a.attempt.as_str(), a.at, a.reply.as_str())).collect();
        insert_sent_events(&mut tx, b, &events).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Messages left in `sending` by a claim older than `cutoff` (their process is gone).
pub async fn abandoned(db: &Db, cutoff: i64) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT id FROM messages WHERE state = 'sending' AND claimed_at < $1").bind(cutoff).fetch_all(&db.pool).await?)
}

/// A message's latest try.
#[derive(Clone, Debug)]
pub struct LastAttempt {
    pub attempt: String,
    pub outcome: AttemptOutcome,
    pub finished_at: Option<i64>,
    pub reply: String,
}

impl sqlx::FromRow<'_, AnyRow> for LastAttempt {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let outcome: String = r.try_get("outcome")?;
        Ok(LastAttempt {
            attempt: r.try_get("attempt")?,
            outcome: AttemptOutcome::parse(&outcome)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown delivery attempt outcome {outcome:?}").into()))?,
            finished_at: r.try_get("finished_at")?,
            reply: r.try_get("reply")?,
        })
    }
}

pub async fn last_attempt(db: &Db, message_id: i64) -> Result<Option<LastAttempt>, AppError> {
    Ok(sqlx::query_as::<_, LastAttempt>(
        "SELECT attempt, outcome, finished_at, reply FROM delivery_attempts WHERE message_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(message_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Settles an abandoned message into `state` (`Queued` again due `now`, or `Sent` at
/// `sent_at`, or `Failed`), if it is still abandoned (not claimed again or renewed
/// meanwhile). Answers whether it was.
pub async fn settle(db: &Db, message_id: i64, state: MessageState, now: i64, sent_at: Option<i64>, cutoff: i64) -> Result<bool, AppError> {
    let changed = sqlx::query(
        "UPDATE messages SET state = $1, send_at = CASE WHEN $1 = 'queued' THEN $2 ELSE send_at END, sent_at = COALESCE(sent_at, $3) \
         WHERE id = $4 AND state = 'sending' AND claimed_at < $5",
    )
    .bind(state.as_str())
    .bind(now)
    .bind(sent_at)
    .bind(message_id)
    .bind(cutoff)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Marks a message's unfinished tries `unknown`: the process stopped during them.
pub async fn mark_unfinished_unknown(db: &Db, message_id: i64, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE delivery_attempts SET outcome = 'unknown', finished_at = $1, reply = 'the process stopped during this attempt' \
         WHERE message_id = $2 AND finished_at IS NULL",
    )
    .bind(now)
    .bind(message_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A text the provider took: the try, when, the provider's id for it, its parts and what
/// it cost (`cost_source`: `provider` when the provider priced it, `contract` when the
/// client's contract did).
#[derive(Clone, Debug)]
pub struct TextSent {
    pub message_id: i64,
    pub attempt: String,
    pub at: i64,
    pub provider_ref: String,
    pub segments: i64,
    pub cost_micros: Option<i64>,
    pub cost_currency: String,
    pub cost_source: String,
}

/// Records texts the provider took, in one transaction: each try, the message `sent` with
/// the provider's id, parts and cost, and its `sent` event.
pub async fn record_texts_sent(db: &Db, sent: &[TextSent]) -> Result<(), AppError> {
    if sent.is_empty() {
        return Ok(());
    }
    let b = db.backend;
    let mut tx = db.pool.begin().await?;
    for chunk in sent.chunks(ROWS_PER_STATEMENT) {
        let tries: Vec<(&str, i64, &str)> = chunk.iter().map(|t| (t.attempt.as_str(), t.at, t.provider_ref.as_str())).collect();
        finish_sent_tries(&mut tx, b, &tries).await?;
        let sql = format!(
            "UPDATE messages SET state = 'sent', sent_at = COALESCE(messages.sent_at, v.column2), last_error = '', \
               provider_ref = v.column3, segments = v.column4, cost_micros = v.column5, cost_currency = v.column6, cost_source = v.column7 \
             FROM (VALUES {}) AS v WHERE messages.id = v.column1",
            b.rows(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for t in chunk {
            query = query
                .bind(t.message_id)
                .bind(t.at)
                .bind(t.provider_ref.as_str())
                .bind(t.segments)
                .bind(t.cost_micros)
                .bind(t.cost_currency.as_str())
                .bind(t.cost_source.as_str());
        }
        query.execute(&mut *tx).await?;
        let events: Vec<(i64, &str, i64, &str)> =
            chunk.iter().map(|t| (t.message_id, t.attempt.as_str(), t.at, t.provider_ref.as_str())).collect();
        insert_sent_events(&mut tx, b, &events).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The provider's id of a message, once recorded.
pub async fn provider_ref_of(db: &Db, message_id: i64) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar::<_, Option<String>>("SELECT provider_ref FROM messages WHERE id = $1")
        .bind(message_id)
        .fetch_optional(&db.pool)
        .await?
        .flatten())
}

/// A status report named a message of `channel` whose send was cut off before its
/// provider id was recorded (the report carries Starling's own id back): the id is
/// recorded now, so the report and every later one find it, and the message is not sent
/// again. Answers whether the message is one of that channel's.
pub async fn record_provider_ref(db: &Db, message_id: i64, channel: Channel, provider_ref: &str) -> Result<bool, AppError> {
    let result = sqlx::query("UPDATE messages SET provider_ref = $1 WHERE id = $2 AND channel = $3 AND provider_ref IS NULL")
        .bind(provider_ref)
        .bind(message_id)
        .bind(channel.as_str())
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// The message a provider's id names, with its client and brand.
pub async fn message_of_provider_ref(db: &Db, provider_ref: &str) -> Result<Option<(i64, i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, client_id, brand_id FROM messages WHERE provider_ref = $1")
        .bind(provider_ref)
        .fetch_optional(&db.pool)
        .await?)
}

/// A provider's report on a text: a `delivered` event, or on a failure the message
/// `failed` with the provider's error code and a `failed` event; each report once (a
/// replayed report changes nothing). The provider's price, when the report has one,
/// replaces the contract's. Answers whether the report was new.
pub async fn record_text_status(
    db: &Db,
    message_id: i64,
    kind: EventKind,
    source: &str,
    at: i64,
    detail: &str,
    price: Option<(i64, &str)>,
) -> Result<bool, AppError> {
    let mut tx = db.pool.begin().await?;
    let new =
        sqlx::query("INSERT INTO message_events (message_id, kind, at, detail, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(message_id)
            .bind(kind.as_str())
            .bind(at)
            .bind(detail)
            .bind(source)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
    if new && kind == EventKind::Failed {
        sqlx::query("UPDATE messages SET state = 'failed', last_error = $1 WHERE id = $2")
            .bind(detail)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some((micros, currency)) = price {
        sqlx::query("UPDATE messages SET cost_micros = $1, cost_currency = $2, cost_source = 'provider' WHERE id = $3")
            .bind(micros)
            .bind(currency)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(new)
}

/// The newest message of `channel` a brand sent a customer.
pub async fn last_text_to(db: &Db, brand_id: i64, customer_id: i64, channel: Channel) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM messages WHERE brand_id = $1 AND customer_id = $2 AND channel = $3 AND state = 'sent' \
         ORDER BY sent_at DESC, id DESC LIMIT 1",
    )
    .bind(brand_id)
    .bind(customer_id)
    .bind(channel.as_str())
    .fetch_optional(&db.pool)
    .await?)
}

/// What a client's sent messages of one channel (and cost currency) came to between `from`
/// and `until` (epoch ms, until exclusive): messages, parts, the summed cost, and how many
/// were priced by the provider, by the contract, or not at all. A text the provider took
/// counts even when the carrier later failed to deliver it: the provider bills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageTally {
    pub channel: String,
    pub messages: i64,
    pub parts: i64,
    pub cost_micros: i64,
    pub currency: String,
    pub by_provider: i64,
    pub by_contract: i64,
}

pub async fn usage(db: &Db, client_id: i64, from: i64, until: i64) -> Result<Vec<UsageTally>, AppError> {
    let rows: Vec<(String, i64, i64, i64, String, i64, i64)> = sqlx::query_as(
        "SELECT channel, COUNT(*), CAST(COALESCE(SUM(COALESCE(segments, 1)), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT), \
           cost_currency, CAST(SUM(CASE WHEN cost_source = 'provider' THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(SUM(CASE WHEN cost_source = 'contract' THEN 1 ELSE 0 END) AS BIGINT) \
         FROM messages WHERE client_id = $1 AND (state = 'sent' OR provider_ref IS NOT NULL) AND sent_at >= $2 AND sent_at < $3 \
         GROUP BY channel, cost_currency ORDER BY channel, cost_currency",
    )
    .bind(client_id)
    .bind(from)
    .bind(until)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(channel, messages, parts, cost_micros, currency, by_provider, by_contract)| UsageTally {
            channel,
            messages,
            parts,
            cost_micros,
            currency,
            by_provider,
            by_contract,
        })
        .collect())
}

/// Texts the provider took between `sent_after` and `sent_before` whose price it has not
/// reported yet and that were not asked about since `checked_before`: (message, provider id).
pub async fn unpriced_texts(
    db: &Db,
    sent_after: i64,
    sent_before: i64,
    checked_before: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, provider_ref FROM messages WHERE channel = 'sms' AND provider_ref IS NOT NULL AND cost_source <> 'provider' \
         AND sent_at >= $1 AND sent_at < $2 AND (price_checked_at IS NULL OR price_checked_at < $3) ORDER BY sent_at LIMIT $4",
    )
    .bind(sent_after)
    .bind(sent_before)
    .bind(checked_before)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// Records that the provider was asked for a text's price at `at`, and the price when it
/// gave one (it replaces the contract's).
pub async fn record_text_price(db: &Db, message_id: i64, price: Option<(i64, &str)>, at: i64) -> Result<(), AppError> {
    match price {
        Some((micros, currency)) => {
            sqlx::query(
                "UPDATE messages SET cost_micros = $1, cost_currency = $2, cost_source = 'provider', price_checked_at = $3 WHERE id = $4",
            )
            .bind(micros)
            .bind(currency)
            .bind(at)
            .bind(message_id)
            .execute(&db.pool)
            .await?;
        }
        None => {
            sqlx::query("UPDATE messages SET price_checked_at = $1 WHERE id = $2").bind(at).bind(message_id).execute(&db.pool).await?;
        }
    }
    Ok(())
}

/// A try at sending a message: when it started and how it ended.
#[derive(Clone, Debug)]
pub struct Try {
    pub started_at: i64,
    pub outcome: AttemptOutcome,
}

/// A message's tries, oldest first.
pub async fn attempts_of(db: &Db, message_id: i64) -> Result<Vec<Try>, AppError> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT started_at, outcome FROM delivery_attempts WHERE message_id = $1 ORDER BY id")
        .bind(message_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(started_at, outcome)| Try { started_at, outcome: AttemptOutcome::parse(&outcome).unwrap_or(AttemptOutcome::Unknown) })
        .collect())
}
