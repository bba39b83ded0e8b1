//! SQL of the SLA: the contracts and the breaches (owned here), and what the board
//! measures against them. The measurements read other owners' tables (messages and their
//! events, alerts with their reviews, template versions, campaigns) because each target is
//! about their timings; they only read.

use crate::db::Db;
use crate::error::AppError;
use crate::reports::model::{Breach, Contract};
use crate::templates::model::Status;
use sqlx::any::AnyRow;
use sqlx::Row;

impl sqlx::FromRow<'_, AnyRow> for Contract {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Contract {
            min_delivery_rate_bp: r.try_get("min_delivery_rate_bp")?,
            unsubscribe_hours: r.try_get("unsubscribe_hours")?,
            review_response_hours: r.try_get("review_response_hours")?,
            approval_hours: r.try_get("approval_hours")?,
            launch_grace_hours: r.try_get("launch_grace_hours")?,
            attribution_days: r.try_get("attribution_days")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for Breach {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        let evidence: String = r.try_get("evidence")?;
        Ok(Breach {
            id: r.try_get("id")?,
            rule: r.try_get("rule")?,
            subject: r.try_get("subject")?,
            measured: r.try_get("measured")?,
            target: r.try_get("target")?,
            evidence: serde_json::from_str(&evidence).unwrap_or_default(),
            happened_at: r.try_get("happened_at")?,
        })
    }
}

/// The client's contract, if the admin set one.
pub async fn contract(db: &Db, client_id: i64) -> Result<Option<Contract>, AppError> {
    Ok(sqlx::query_as(
        "SELECT min_delivery_rate_bp, unsubscribe_hours, review_response_hours, approval_hours, launch_grace_hours, attribution_days \
         FROM sla_contracts WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn save_contract(db: &Db, client_id: i64, c: &Contract, by: &str, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO sla_contracts (client_id, min_delivery_rate_bp, unsubscribe_hours, review_response_hours, approval_hours, \
         launch_grace_hours, attribution_days, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (client_id) DO UPDATE SET min_delivery_rate_bp = $2, unsubscribe_hours = $3, review_response_hours = $4, \
         approval_hours = $5, launch_grace_hours = $6, attribution_days = $7, updated_at = $8, updated_by = $9",
    )
    .bind(client_id)
    .bind(c.min_delivery_rate_bp)
    .bind(c.unsubscribe_hours)
    .bind(c.review_response_hours)
    .bind(c.approval_hours)
    .bind(c.launch_grace_hours)
    .bind(c.attribution_days)
    .bind(now)
    .bind(by)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A breach to store: `evidence` is its JSON list of links.
pub struct NewBreach<'a> {
    pub rule: &'a str,
    pub subject: &'a str,
    pub measured: &'a str,
    pub target: &'a str,
    pub evidence: &'a str,
    pub happened_at: i64,
}

/// Stores a breach once (per client, rule, subject and time); answers whether it was new.
pub async fn record_breach(db: &Db, client_id: i64, b: &NewBreach<'_>, now: i64) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "INSERT INTO sla_breaches (client_id, rule, subject, measured, target, evidence, happened_at, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(b.rule)
    .bind(b.subject)
    .bind(b.measured)
    .bind(b.target)
    .bind(b.evidence)
    .bind(b.happened_at)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected()
        == 1)
}

/// The client's stored breaches, newest first (at most 500).
pub async fn breaches(db: &Db, client_id: i64) -> Result<Vec<Breach>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, rule, subject, measured, target, evidence, happened_at FROM sla_breaches WHERE client_id = $1 \
         ORDER BY happened_at DESC, id DESC LIMIT 500",
    )
    .bind(client_id)
    .fetch_all(&db.pool)
    .await?)
}

/// How many launch breaches happened in `since ..= now`.
pub async fn late_launches(db: &Db, client_id: i64, since: i64, now: i64) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM sla_breaches WHERE client_id = $1 AND rule = 'launch' AND happened_at >= $2 AND happened_at <= $3",
    )
    .bind(client_id)
    .bind(since)
    .bind(now)
    .fetch_one(&db.pool)
    .await?)
}

/// (message, campaign) of up to 20 messages sent in `from ..< until` that bounced: the
/// evidence of a day's delivery rate breach.
pub async fn bounced_sample(db: &Db, client_id: i64, from: i64, until: i64) -> Result<Vec<(i64, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.campaign_id FROM messages m JOIN message_events e ON e.message_id = m.id AND e.kind = 'bounced' \
         WHERE m.client_id = $1 AND m.sent_at >= $2 AND m.sent_at < $3 ORDER BY m.id LIMIT 20",
    )
    .bind(client_id)
    .bind(from)
    .bind(until)
    .fetch_all(&db.pool)
    .await?)
}

/// (message, campaign, asked at, processed at) of each processed unsubscribe since `since`.
pub async fn unsubscribe_timings(db: &Db, client_id: i64, since: i64) -> Result<Vec<(i64, i64, i64, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.campaign_id, e.at, e.processed_at FROM message_events e JOIN messages m ON m.id = e.message_id \
         WHERE m.client_id = $1 AND e.kind = 'unsubscribed' AND e.at >= $2 AND e.processed_at IS NOT NULL",
    )
    .bind(client_id)
    .bind(since)
    .fetch_all(&db.pool)
    .await?)
}

/// (alert, stars, opened at, first response at) of each alert opened since `since`.
pub async fn review_response_timings(db: &Db, client_id: i64, since: i64) -> Result<Vec<(i64, i64, i64, Option<i64>)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.id, r.rating, a.opened_at, a.responded_at FROM alerts a JOIN reviews r ON r.id = a.review_id \
         WHERE a.client_id = $1 AND a.opened_at >= $2",
    )
    .bind(client_id)
    .bind(since)
    .fetch_all(&db.pool)
    .await?)
}

/// (version, template, locale, submitted at, approved at) of each version submitted since
/// `since` that was approved or is still waiting for a reviewer or the client.
pub async fn approval_timings(db: &Db, client_id: i64, since: i64) -> Result<Vec<(i64, i64, String, i64, Option<i64>)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT v.id, v.template_id, v.locale, v.submitted_at, v.approved_at FROM template_versions v \
         WHERE v.client_id = $1 AND v.submitted_at IS NOT NULL AND v.submitted_at >= $2 \
         AND (v.approved_at IS NOT NULL OR v.status IN ($3, $4))",
    )
    .bind(client_id)
    .bind(since)
    .bind(Status::InReview.as_str())
    .bind(Status::ClientReview.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// A campaign scheduled to launch: (id, name, scheduled at, launched at, state).
pub async fn scheduled_launches(db: &Db, client_id: i64, since: i64) -> Result<Vec<(i64, String, i64, Option<i64>, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, name, scheduled_at, launched_at, state FROM campaigns \
         WHERE client_id = $1 AND scheduled_at IS NOT NULL AND scheduled_at >= $2",
    )
    .bind(client_id)
    .bind(since)
    .fetch_all(&db.pool)
    .await?)
}

/// The slowest unsubscribe of `since ..= now` (asked to processed), in milliseconds.
pub async fn slowest_unsubscribe(db: &Db, client_id: i64, since: i64, now: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(e.processed_at - e.at) FROM message_events e JOIN messages m ON m.id = e.message_id \
         WHERE m.client_id = $1 AND e.kind = 'unsubscribed' AND e.at >= $2 AND e.at <= $3",
    )
    .bind(client_id)
    .bind(since)
    .bind(now)
    .fetch_one(&db.pool)
    .await?)
}

/// The slowest first response to an alert opened since `since` (still open: until `now`).
pub async fn slowest_review_response(db: &Db, client_id: i64, since: i64, now: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT MAX(COALESCE(responded_at, $3) - opened_at) FROM alerts WHERE client_id = $1 AND opened_at >= $2")
        .bind(client_id)
        .bind(since)
        .bind(now)
        .fetch_one(&db.pool)
        .await?)
}

/// The slowest approval of a version submitted since `since` (still waiting: until `now`).
pub async fn slowest_approval(db: &Db, client_id: i64, since: i64, now: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(COALESCE(approved_at, $3) - submitted_at) FROM template_versions WHERE client_id = $1 AND submitted_at >= $2 \
         AND (approved_at IS NOT NULL OR status IN ($4, $5))",
    )
    .bind(client_id)
    .bind(since)
    .bind(now)
    .bind(Status::InReview.as_str())
    .bind(Status::ClientReview.as_str())
    .fetch_one(&db.pool)
    .await?)
}
