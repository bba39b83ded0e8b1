//! SQL on `campaigns` and `campaign_decisions`, the campaigns' tables
//! (`campaign_decisions_clustered` exists only inside migration 0007, which rebuilt
//! `campaign_decisions` under its name).
//!
//! The campaigns capability also reads other owners' tables here, where a read must join
//! them or run inside the planner's transaction:
//! - the planner's facts about a brand and its orders (`orders`, `order_status_history`,
//!   `customers`, `consents`, `suppressions`, `stores`, and the approved
//!   `template_versions`): one planning pass reads them in its own transaction, after it
//!   took the brand's turn, packed into one value per read (`Backend::packed`), so they
//!   cannot go through the owners' pool-based functions;
//! - the names a campaign list or page shows beside each campaign (`brands`, `templates`,
//!   `clients`) and the templates a campaign may use (`templates`, `template_versions`).
//!
//! Functions that are part of a caller's transaction take it as `tx`.
//!
//! Read elsewhere, never written: `outbox::store` (the sender claims only running
//! campaigns' messages), `delivery::store` (a campaign's rules for composing) and
//! `reports::store` (campaign names and A/B settings, launches for the SLA).

use super::model::{CampaignPhase, CampaignState};
use crate::db::{packed_int, packed_records, Backend, BulkCache, Db, FIELD_SEP};
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use crate::outbox::model::Channel;
use crate::templates::model::Purpose;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Rows per multi-row INSERT of decisions.
const ROWS_PER_INSERT: usize = 1_000;

fn campaign_state(r: &AnyRow) -> Result<CampaignState, sqlx::Error> {
    let raw: String = r.try_get("state")?;
    CampaignState::parse(&raw).ok_or_else(|| sqlx::Error::Decode(format!("unknown campaign state {raw:?}").into()))
}

fn campaign_phase(r: &AnyRow) -> Result<CampaignPhase, sqlx::Error> {
    let raw: String = r.try_get("phase")?;
    CampaignPhase::parse(&raw).ok_or_else(|| sqlx::Error::Decode(format!("unknown campaign phase {raw:?}").into()))
}

// ---------------------------------------------------------------------------------------
// A campaign's row
// ---------------------------------------------------------------------------------------

/// A campaign as it is created (in `Draft`).
#[derive(Clone, Debug)]
pub struct NewCampaign<'a> {
    pub client_id: i64,
    pub brand_id: i64,
    /// `None` for Amazon's request a review (Amazon writes the message).
    pub template_id: Option<i64>,
    pub channel: Channel,
    pub name: &'a str,
    pub purpose: Purpose,
    /// The rules as JSON.
    pub rules: String,
    pub phase: CampaignPhase,
    pub created_by: &'a str,
    pub created_at: i64,
}

/// Writes a new draft campaign; answers its id.
pub async fn insert(db: &Db, c: &NewCampaign<'_>) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar::<_, i64>(
        "INSERT INTO campaigns (client_id, brand_id, template_id, name, purpose, rules, state, phase, created_by, created_at, updated_at, \
           channel) VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $9, $10) RETURNING id",
    )
    .bind(c.client_id)
    .bind(c.brand_id)
    .bind(c.template_id)
    .bind(c.name)
    .bind(c.purpose.as_str())
    .bind(c.rules.as_str())
    .bind(c.phase.as_str())
    .bind(c.created_by)
    .bind(c.created_at)
    .bind(c.channel.as_str())
    .fetch_one(&db.pool)
    .await?)
}

pub async fn set_state(db: &Db, campaign_id: i64, state: CampaignState, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE campaigns SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now)
        .bind(campaign_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Moves a campaign from `from` to `to` if it is still in `from`, stamping its first launch
/// (the SLA's "launched on schedule"). Answers whether it moved.
pub async fn step(db: &Db, campaign_id: i64, from: CampaignState, to: CampaignState, now: i64) -> Result<bool, AppError> {
    let changed = sqlx::query(
        "UPDATE campaigns SET state = $1, updated_at = $2, \
         launched_at = CASE WHEN $1 = 'running' AND launched_at IS NULL THEN $2 ELSE launched_at END WHERE id = $3 AND state = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(campaign_id)
    .bind(from.as_str())
    .execute(&db.pool)
    .await?;
    Ok(changed.rows_affected() > 0)
}

/// The client a campaign belongs to and its state.
pub async fn client_and_state(db: &Db, campaign_id: i64) -> Result<Option<(i64, CampaignState)>, AppError> {
    let row = sqlx::query("SELECT client_id, state FROM campaigns WHERE id = $1").bind(campaign_id).fetch_optional(&db.pool).await?;
    let owner: Option<(i64, CampaignState)> =
        row.map(|r| Ok::<_, sqlx::Error>((r.try_get("client_id")?, campaign_state(&r)?))).transpose()?;
    Ok(owner)
}

/// The brand a campaign sends for.
pub async fn brand_of(db: &Db, campaign_id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT brand_id FROM campaigns WHERE id = $1").bind(campaign_id).fetch_optional(&db.pool).await?)
}

/// The planned launch as a column, for the SLA board.
pub async fn set_schedule(db: &Db, campaign_id: i64, scheduled_at: Option<i64>) -> Result<(), AppError> {
    sqlx::query("UPDATE campaigns SET scheduled_at = $1 WHERE id = $2").bind(scheduled_at).bind(campaign_id).execute(&db.pool).await?;
    Ok(())
}

/// What the edit form changes: name, template and rules (JSON).
#[derive(Clone, Debug)]
pub struct Editable {
    pub name: String,
    pub template_id: Option<i64>,
    pub rules: String,
}

impl sqlx::FromRow<'_, AnyRow> for Editable {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Editable { name: r.try_get("name")?, template_id: r.try_get("template_id")?, rules: r.try_get("rules")? })
    }
}

pub async fn editable(db: &Db, campaign_id: i64) -> Result<Editable, AppError> {
    Ok(sqlx::query_as::<_, Editable>("SELECT name, template_id, rules FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_one(&db.pool)
        .await?)
}

/// An edit of a campaign. `phase` is set only for a draft (its canary choice decides the
/// phase it starts in); after launch the phase is the canary's own business.
#[derive(Clone, Debug)]
pub struct CampaignEdit<'a> {
    pub name: &'a str,
    pub template_id: Option<i64>,
    pub channel: Channel,
    pub brand_id: i64,
    pub purpose: Purpose,
    /// The rules as JSON.
    pub rules: String,
    pub phase: Option<CampaignPhase>,
}

pub async fn update(db: &Db, campaign_id: i64, edit: &CampaignEdit<'_>, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE campaigns SET name = $1, template_id = $2, brand_id = $3, purpose = $4, rules = $5, updated_at = $6, \
           phase = CASE WHEN $7 = '' THEN phase ELSE $7 END, channel = $9 WHERE id = $8",
    )
    .bind(edit.name)
    .bind(edit.template_id)
    .bind(edit.brand_id)
    .bind(edit.purpose.as_str())
    .bind(edit.rules.as_str())
    .bind(now)
    .bind(edit.phase.map_or("", CampaignPhase::as_str))
    .bind(campaign_id)
    .bind(edit.channel.as_str())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Resuming a halted campaign accepts what halted it: the reason is cleared and rates are
/// judged afresh from `now`.
pub async fn accept_halt(db: &Db, campaign_id: i64, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE campaigns SET halt_reason = '', monitor_from = $1 WHERE id = $2")
        .bind(now)
        .bind(campaign_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Halts a running campaign past a threshold, with the reason. Answers whether it was
/// running (and so is halted now by this call).
pub async fn halt(db: &Db, campaign_id: i64, reason: &str, now: i64) -> Result<bool, AppError> {
    let halted =
        sqlx::query("UPDATE campaigns SET state = 'halted', halt_reason = $1, updated_at = $2 WHERE id = $3 AND state = 'running'")
            .bind(reason)
            .bind(now)
            .bind(campaign_id)
            .execute(&db.pool)
            .await?
            .rows_affected();
    Ok(halted == 1)
}

/// Ends the canary phase inside `tx` (the held messages are released in the same one).
pub async fn end_canary(tx: &mut Tx<'_>, campaign_id: i64, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE campaigns SET phase = 'full', updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(campaign_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records the A/B test's winner once. Answers whether this call recorded it.
pub async fn declare_winner(db: &Db, campaign_id: i64, variant: i64, now: i64) -> Result<bool, AppError> {
    let set = sqlx::query("UPDATE campaigns SET winner = $1, winner_at = $2 WHERE id = $3 AND winner IS NULL")
        .bind(variant)
        .bind(now)
        .bind(campaign_id)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(set == 1)
}

/// Every running campaign: (id, rules as JSON), by id.
pub async fn running(db: &Db) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, rules FROM campaigns WHERE state = 'running' ORDER BY id").fetch_all(&db.pool).await?)
}

/// What the monitor judges a campaign by.
#[derive(Clone, Debug)]
pub struct Monitored {
    pub client_id: i64,
    pub rules: String,
    pub state: CampaignState,
    pub phase: CampaignPhase,
    pub monitor_from: i64,
}

impl sqlx::FromRow<'_, AnyRow> for Monitored {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Monitored {
            client_id: r.try_get("client_id")?,
            rules: r.try_get("rules")?,
            state: campaign_state(r)?,
            phase: campaign_phase(r)?,
            monitor_from: r.try_get("monitor_from")?,
        })
    }
}

pub async fn monitored(db: &Db, campaign_id: i64) -> Result<Option<Monitored>, AppError> {
    Ok(sqlx::query_as::<_, Monitored>("SELECT client_id, rules, state, phase, monitor_from FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// What the A/B test's judge needs: the client, the rules (JSON) and the winner so far.
#[derive(Clone, Debug)]
pub struct AbTest {
    pub client_id: i64,
    pub rules: String,
    pub winner: Option<i64>,
}

impl sqlx::FromRow<'_, AnyRow> for AbTest {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(AbTest { client_id: r.try_get("client_id")?, rules: r.try_get("rules")?, winner: r.try_get("winner")? })
    }
}

pub async fn ab_test(db: &Db, campaign_id: i64) -> Result<Option<AbTest>, AppError> {
    Ok(sqlx::query_as::<_, AbTest>("SELECT client_id, rules, winner FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?)
}

// ---------------------------------------------------------------------------------------
// Lists and pages (with names from `brands`, `templates`, `clients`)
// ---------------------------------------------------------------------------------------

/// One campaign of a client's list, with its brand's and template's names and how many
/// orders it decided to send to or excluded.
#[derive(Clone, Debug)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub template: String,
    pub purpose: String,
    pub state: CampaignState,
    pub rules: String,
    pub planned: i64,
    pub excluded: i64,
    pub created_at: i64,
}

impl sqlx::FromRow<'_, AnyRow> for Listed {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Listed {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            brand: r.try_get("brand")?,
            template: r.try_get("template")?,
            purpose: r.try_get("purpose")?,
            state: campaign_state(r)?,
            rules: r.try_get("rules")?,
            planned: r.try_get("planned")?,
            excluded: r.try_get("excluded")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// A client's campaigns, newest first (reads `brands` and `templates` for their names).
pub async fn list(db: &Db, client_id: i64) -> Result<Vec<Listed>, AppError> {
    Ok(sqlx::query_as::<_, Listed>(
        "SELECT c.id, c.name, b.name AS brand, COALESCE(t.name, '') AS template, c.purpose, c.state, c.rules, c.created_at, \
           (SELECT COUNT(*) FROM campaign_decisions d WHERE d.campaign_id = c.id AND d.outcome = 'send') AS planned, \
           (SELECT COUNT(*) FROM campaign_decisions d WHERE d.campaign_id = c.id AND d.outcome = 'exclude') AS excluded \
         FROM campaigns c JOIN brands b ON b.id = c.brand_id LEFT JOIN templates t ON t.id = c.template_id \
         WHERE c.client_id = $1 ORDER BY c.id DESC",
    )
    .bind(client_id)
    .fetch_all(&db.pool)
    .await?)
}

/// One campaign for its page, with its brand's, template's and client's names.
#[derive(Clone, Debug)]
pub struct Shown {
    pub name: String,
    pub purpose: String,
    pub state: CampaignState,
    pub phase: CampaignPhase,
    pub rules: String,
    pub halt_reason: String,
    pub monitor_from: i64,
    pub brand: String,
    pub template: String,
    pub client: String,
}

impl sqlx::FromRow<'_, AnyRow> for Shown {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Shown {
            name: r.try_get("name")?,
            purpose: r.try_get("purpose")?,
            state: campaign_state(r)?,
            phase: campaign_phase(r)?,
            rules: r.try_get("rules")?,
            halt_reason: r.try_get("halt_reason")?,
            monitor_from: r.try_get("monitor_from")?,
            brand: r.try_get("brand")?,
            template: r.try_get("template")?,
            client: r.try_get("client")?,
        })
    }
}

/// Reads `brands`, `templates` and `clients` for their names.
pub async fn shown(db: &Db, campaign_id: i64) -> Result<Shown, AppError> {
    Ok(sqlx::query_as::<_, Shown>(
        "SELECT c.name, c.purpose, c.state, c.phase, c.rules, c.halt_reason, c.monitor_from, b.name AS brand, \
           COALESCE(t.name, '') AS template, k.name AS client \
         FROM campaigns c JOIN brands b ON b.id = c.brand_id LEFT JOIN templates t ON t.id = c.template_id JOIN clients k ON k.id = c.client_id \
         WHERE c.id = $1",
    )
    .bind(campaign_id)
    .fetch_one(&db.pool)
    .await?)
}

/// One approved locale of a client's template: (template id, name, brand's name, purpose,
/// locale), by name and locale. Reads `templates`, `brands` and `template_versions`: the
/// templates a campaign may use.
pub async fn approved_locales(db: &Db, client_id: i64) -> Result<Vec<(i64, String, String, String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.name, b.name, t.purpose, v.locale FROM templates t JOIN brands b ON b.id = t.brand_id \
         JOIN template_versions v ON v.template_id = t.id AND v.status = 'approved' WHERE t.client_id = $1 ORDER BY t.name, v.locale",
    )
    .bind(client_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Whether a template has an approved version with a WhatsApp part. Reads `template_versions`.
pub async fn has_approved_whatsapp(db: &Db, template_id: i64) -> Result<bool, AppError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM template_versions WHERE template_id = $1 AND status = 'approved' AND whatsapp_body <> '' LIMIT 1",
    )
    .bind(template_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.is_some())
}

/// Whether a template has an approved version with an SMS part. Reads `template_versions`.
pub async fn has_approved_text(db: &Db, template_id: i64) -> Result<bool, AppError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM template_versions WHERE template_id = $1 AND status = 'approved' AND sms_body <> '' LIMIT 1")
            .bind(template_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.is_some())
}

/// (locale, platform, purpose) of each approved version of a template, what a variant's
/// subject is linted against. Reads `template_versions` and `templates`.
pub async fn approved_lint_targets(db: &Db, template_id: i64) -> Result<Vec<(String, String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT v.locale, t.platform, t.purpose FROM template_versions v JOIN templates t ON t.id = v.template_id \
         WHERE v.template_id = $1 AND v.status = 'approved'",
    )
    .bind(template_id)
    .fetch_all(&db.pool)
    .await?)
}

// ---------------------------------------------------------------------------------------
// The planner's reads and writes (inside its transaction)
// ---------------------------------------------------------------------------------------

/// A pooled connection for a planning pass with a large page cache (`BulkCache`): give the
/// cache back with `BulkCache::end` on every path, errors included.
pub async fn bulk_connection(db: &Db) -> Result<(sqlx::pool::PoolConnection<sqlx::Any>, BulkCache), AppError> {
    let mut conn = db.pool.acquire().await?;
    let cache = BulkCache::begin(&mut conn, db.backend).await?;
    Ok((conn, cache))
}

/// A campaign as the planner reads it.
#[derive(Clone, Debug)]
pub struct Planned {
    pub client_id: i64,
    pub brand_id: i64,
    pub template_id: Option<i64>,
    pub purpose: String,
    pub rules: String,
    pub state: CampaignState,
    pub phase: CampaignPhase,
    pub winner: Option<i64>,
}

impl sqlx::FromRow<'_, AnyRow> for Planned {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Planned {
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            template_id: r.try_get("template_id")?,
            purpose: r.try_get("purpose")?,
            rules: r.try_get("rules")?,
            state: campaign_state(r)?,
            phase: campaign_phase(r)?,
            winner: r.try_get("winner")?,
        })
    }
}

/// The campaign (read inside `tx`, after any lock it took).
pub async fn planned(tx: &mut Tx<'_>, campaign_id: i64) -> Result<Option<Planned>, AppError> {
    Ok(sqlx::query_as::<_, Planned>(
        "SELECT client_id, brand_id, template_id, purpose, rules, state, phase, winner FROM campaigns WHERE id = $1",
    )
    .bind(campaign_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// An approved version as a campaign sends it: whether it has an SMS part, and the
/// category of its WhatsApp template when Meta approved one.
#[derive(Clone, Debug)]
pub struct ApprovedVersion {
    pub locale: String,
    pub id: i64,
    pub sms: bool,
    pub whatsapp: Option<crate::common::whatsapp::Category>,
}

/// A template's approved versions, oldest first (so the newest of each locale comes
/// last). Reads `template_versions` and `whatsapp_templates`.
pub async fn approved_versions(tx: &mut Tx<'_>, template_id: i64) -> Result<Vec<ApprovedVersion>, AppError> {
    let rows: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT v.locale, v.id, CASE WHEN v.sms_body <> '' THEN 1 ELSE 0 END, \
           CASE WHEN v.whatsapp_body <> '' AND w.status = 'approved' THEN w.category END \
         FROM template_versions v LEFT JOIN whatsapp_templates w ON w.version_id = v.id \
         WHERE v.template_id = $1 AND v.status = 'approved' ORDER BY v.number",
    )
    .bind(template_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(locale, id, sms, whatsapp)| ApprovedVersion {
            locale,
            id,
            sms: sms != 0,
            whatsapp: whatsapp.as_deref().and_then(crate::common::whatsapp::Category::parse),
        })
        .collect())
}

/// Records an exclusion for every undecided order of the brand whose status is one of
/// `statuses`, each with its status's explanation (`explain`); `rule` is the exclusion's
/// key. The first rule depends on the order's status alone, so those orders are decided in
/// the database without being read out. SQLite does it in one pass over the brand's orders
/// (each status's explanation picked by a CASE); PostgreSQL is about 5x faster with one
/// statement per status (measured: 100,000 orders, 1.0-1.3 s against 6.5-7.0 s), so it
/// gets one statement per status. Reads `orders`. Answers how many were recorded.
pub async fn exclude_statuses(
    tx: &mut Tx<'_>,
    campaign_id: i64,
    brand_id: i64,
    statuses: &[OrderStatus],
    rule: &str,
    explain: impl Fn(OrderStatus) -> String,
    now: i64,
) -> Result<u64, AppError> {
    let per_statement = match Backend::of(tx) {
        Backend::Sqlite => statuses.len().max(1),
        Backend::Postgres => 1,
    };
    let mut recorded = 0;
    for group in statuses.chunks(per_statement) {
        recorded += exclude_status_group(tx, campaign_id, brand_id, group, rule, &explain, now).await?;
    }
    Ok(recorded)
}

/// One statement of `exclude_statuses`, for the statuses of `group`.
async fn exclude_status_group(
    tx: &mut Tx<'_>,
    campaign_id: i64,
    brand_id: i64,
    statuses: &[OrderStatus],
    rule: &str,
    explain: &impl Fn(OrderStatus) -> String,
    now: i64,
) -> Result<u64, AppError> {
    if statuses.is_empty() {
        return Ok(0);
    }
    // Parameters in order of first appearance: $1 campaign, $2 rule, then a (status,
    // explanation) pair per status, then the time, the brand and the statuses again.
    let n = statuses.len();
    let cases: String = (0..n).map(|i| format!(" WHEN ${} THEN ${}", 3 + 2 * i, 4 + 2 * i)).collect();
    let at = 3 + 2 * n;
    let listed: Vec<String> = (0..n).map(|i| format!("${}", at + 2 + i)).collect();
    let sql = format!(
        "INSERT INTO campaign_decisions (campaign_id, order_id, outcome, rule, detail, decided_at) \
         SELECT $1, o.id, 'exclude', $2, CASE o.status{cases} END, ${at} FROM orders o \
         WHERE o.brand_id = ${} AND o.status IN ({}) \
           AND NOT EXISTS (SELECT 1 FROM campaign_decisions d WHERE d.campaign_id = $1 AND d.order_id = o.id) \
         ON CONFLICT DO NOTHING",
        at + 1,
        listed.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(campaign_id).bind(rule);
    for &status in statuses {
        query = query.bind(status.as_str()).bind(explain(status));
    }
    query = query.bind(now).bind(brand_id);
    for &status in statuses {
        query = query.bind(status.as_str());
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// The brand's customers with a recorded e-mail consent (packed). Reads `consents` and
/// `customers`.
pub async fn email_consents(tx: &mut Tx<'_>, brand_id: i64) -> Result<HashSet<i64>, AppError> {
    consents_of(tx, brand_id, "email").await
}

/// The brand's customers with a recorded consent to marketing texts. Reads `consents`.
pub async fn text_consents(tx: &mut Tx<'_>, brand_id: i64) -> Result<HashSet<i64>, AppError> {
    consents_of(tx, brand_id, "sms").await
}

/// The brand's customers with a recorded opt-in to WhatsApp messages. Reads `consents`.
pub async fn whatsapp_consents(tx: &mut Tx<'_>, brand_id: i64) -> Result<HashSet<i64>, AppError> {
    consents_of(tx, brand_id, "whatsapp").await
}

async fn consents_of(tx: &mut Tx<'_>, brand_id: i64, channel: &str) -> Result<HashSet<i64>, AppError> {
    let backend = Backend::of(tx);
    let consents_sql = format!(
        "SELECT {} FROM (SELECT DISTINCT k.customer_id FROM consents k JOIN customers c ON c.id = k.customer_id \
         WHERE c.brand_id = $1 AND k.channel = $2) k",
        backend.packed("CAST(k.customer_id AS TEXT)")
    );
    let consented: Option<String> = sqlx::query_scalar(&consents_sql).bind(brand_id).bind(channel).fetch_one(&mut **tx).await?;
    Ok(packed_records(consented.as_deref()).filter_map(|r| r.parse().ok()).collect())
}

/// Suppressed address fingerprints for the brand (its own and everyone's): fingerprint ->
/// reason. Reads `suppressions`.
pub async fn suppression_reasons(tx: &mut Tx<'_>, brand_id: i64) -> Result<HashMap<String, String>, AppError> {
    Ok(sqlx::query_as::<_, (String, String)>("SELECT value_hash, reason FROM suppressions WHERE brand_id IS NULL OR brand_id = $1")
        .bind(brand_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}

/// The platform of each of the brand's stores. Reads `stores`.
pub async fn store_platforms(tx: &mut Tx<'_>, brand_id: i64) -> Result<HashMap<i64, String>, AppError> {
    Ok(sqlx::query_as("SELECT id, platform FROM stores WHERE brand_id = $1")
        .bind(brand_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}

/// The brand's customers in one packed value; read them with `PackedCustomers::records`.
pub struct PackedCustomers(Option<String>);

/// One customer of a packed read (fields in the SELECT's order; "" for NULL).
pub struct PackedCustomer<'a> {
    pub id: i64,
    pub email: &'a str,
    pub phone: &'a str,
    pub country: &'a str,
    pub locale: &'a str,
}

impl PackedCustomers {
    /// The customers, each an error when its record can't be read.
    pub fn records(&self) -> impl Iterator<Item = Result<PackedCustomer<'_>, AppError>> {
        packed_records(self.0.as_deref()).map(|record| {
            let mut f = record.split(FIELD_SEP);
            let (Some(id), Some(email), Some(phone), Some(country), Some(locale)) =
                (packed_int(f.next()), f.next(), f.next(), f.next(), f.next())
            else {
                return Err(AppError::internal(format!(
                    "unreadable packed customer record (customer {:?})",
                    record.split(FIELD_SEP).next()
                )));
            };
            Ok(PackedCustomer { id, email, phone, country, locale })
        })
    }
}

/// Every customer of the brand, in one scan rather than a lookup per order. Reads
/// `customers`.
pub async fn brand_customers(tx: &mut Tx<'_>, brand_id: i64) -> Result<PackedCustomers, AppError> {
    let backend = Backend::of(tx);
    let us = backend.field_sep();
    let customers_sql = format!(
        "SELECT {} FROM customers c WHERE c.brand_id = $1",
        backend.packed(&format!(
            "c.id || {us} || {} || {us} || {} || {us} || {} || {us} || {}",
            backend.packable("c.email"),
            backend.packable("c.phone"),
            backend.packable("c.country"),
            backend.packable("c.locale")
        ))
    );
    let packed: Option<String> = sqlx::query_scalar(&customers_sql).bind(brand_id).fetch_one(&mut **tx).await?;
    Ok(PackedCustomers(packed))
}

/// The last order id of the brand's next window of `size` orders after `after` (`None`
/// when there are no more). Reads `orders`.
pub async fn window_end(tx: &mut Tx<'_>, brand_id: i64, after: i64, size: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT MAX(id) FROM (SELECT id FROM orders WHERE brand_id = $1 AND id > $2 ORDER BY id LIMIT $3) w")
        .bind(brand_id)
        .bind(after)
        .bind(size)
        .fetch_one(&mut **tx)
        .await?)
}

/// A window's undecided orders in one packed value; read them with `PackedOrders::orders`.
pub struct PackedOrders(Option<String>);

/// One order of a window as the packed read gives it (fields in the SELECT's order).
pub struct PackedOrder<'a> {
    pub id: i64,
    pub store_id: i64,
    pub status: &'a str,
    pub status_at: i64,
    pub placed_at: i64,
    pub country: &'a str,
    pub total_minor: Option<i64>,
    pub customer_id: Option<i64>,
    pub platform_order_id: &'a str,
    pub earliest_delivery_at: Option<i64>,
    pub latest_delivery_at: Option<i64>,
}

impl<'a> PackedOrder<'a> {
    fn parse(record: &'a str) -> Option<PackedOrder<'a>> {
        let mut f = record.split(FIELD_SEP);
        Some(PackedOrder {
            id: packed_int(f.next())?,
            store_id: packed_int(f.next())?,
            status: f.next()?,
            status_at: packed_int(f.next())?,
            placed_at: packed_int(f.next())?,
            country: f.next()?,
            total_minor: packed_int(f.next()),
            customer_id: packed_int(f.next()),
            platform_order_id: f.next()?,
            earliest_delivery_at: packed_int(f.next()),
            latest_delivery_at: packed_int(f.next()),
        })
    }
}

impl PackedOrders {
    /// The window's orders (in no particular order), or an error naming the first order
    /// whose record can't be read.
    pub fn orders(&self) -> Result<Vec<PackedOrder<'_>>, AppError> {
        packed_records(self.0.as_deref())
            .map(|r| {
                PackedOrder::parse(r).ok_or_else(|| {
                    // The order id only: the record holds the buyer's address.
                    AppError::internal(format!("unreadable packed order record (order {:?})", r.split(FIELD_SEP).next()))
                })
            })
            .collect()
    }
}

/// The brand's orders with ids in `after ..= last` that the campaign has not decided yet.
/// Reads `orders`.
pub async fn undecided_orders(tx: &mut Tx<'_>, brand_id: i64, campaign_id: i64, after: i64, last: i64) -> Result<PackedOrders, AppError> {
    let b = Backend::of(tx);
    let us = b.field_sep();
    // The range is repeated in the decisions' subquery so it reads only this window's
    // decisions (PostgreSQL does not carry the inequality over from o.id by itself). Each
    // read comes back packed into one text value (see `Backend::packed`): through sqlx's
    // Any driver a row costs microseconds, and a window has tens of thousands. On
    // PostgreSQL the window's decided ids are a hashed `NOT IN` list: its anti-join is
    // planned from statistics, and with stale ones (decisions just recorded by the status
    // pass, orders just imported) it chose a nested loop over a materialised list,
    // quadratic in the window (3.4 s a window of 20,000 orders, measured).
    let undecided = match b {
        Backend::Sqlite => {
            "NOT EXISTS (SELECT 1 FROM campaign_decisions d \
             WHERE d.campaign_id = $4 AND d.order_id = o.id AND d.order_id > $2 AND d.order_id <= $3)"
        }
        Backend::Postgres => {
            "o.id NOT IN (SELECT d.order_id FROM campaign_decisions d \
             WHERE d.campaign_id = $4 AND d.order_id > $2 AND d.order_id <= $3)"
        }
    };
    let orders_sql = format!(
        "SELECT {} FROM orders o WHERE o.brand_id = $1 AND o.id > $2 AND o.id <= $3 AND {undecided}",
        b.packed(&format!(
            "o.id || {us} || o.store_id || {us} || o.status || {us} || o.status_at || {us} || o.placed_at || {us} || \
             {} || {us} || {} || {us} || {} || {us} || {} || {us} || {} || {us} || {}",
            b.packable("o.country"),
            b.packable("o.total_minor"),
            b.packable("o.customer_id"),
            b.packable("o.platform_order_id"),
            b.packable("o.earliest_delivery_at"),
            b.packable("o.latest_delivery_at"),
        ))
    );
    let orders: Option<String> =
        sqlx::query_scalar(&orders_sql).bind(brand_id).bind(after).bind(last).bind(campaign_id).fetch_one(&mut **tx).await?;
    Ok(PackedOrders(orders))
}

/// When each order with an id in `first ..= last` first reached `fulfilled` (key `false`)
/// and `delivered` (key `true`). Reads `order_status_history`.
pub async fn first_reached(tx: &mut Tx<'_>, first: i64, last: i64) -> Result<HashMap<(i64, bool), i64>, AppError> {
    let b = Backend::of(tx);
    let us = b.field_sep();
    let history_sql = format!(
        "SELECT {} FROM (SELECT order_id, to_status, MIN(reached_at) AS at FROM order_status_history \
           WHERE order_id > $1 AND order_id <= $2 AND to_status IN ('fulfilled', 'delivered') GROUP BY order_id, to_status) h",
        b.packed(&format!("h.order_id || {us} || h.to_status || {us} || h.at"))
    );
    let history: Option<String> = sqlx::query_scalar(&history_sql).bind(first).bind(last).fetch_one(&mut **tx).await?;
    let mut reached: HashMap<(i64, bool), i64> = HashMap::new();
    for record in packed_records(history.as_deref()) {
        let mut f = record.split(FIELD_SEP);
        let (Some(order), Some(status), Some(at)) = (packed_int(f.next()), f.next(), packed_int(f.next())) else { continue };
        reached.insert((order, status == OrderStatus::Delivered.as_str()), at);
    }
    Ok(reached)
}

/// What the planner decided for an order: send, or exclude (and why).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    Send,
    Exclude,
}

impl DecisionOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            DecisionOutcome::Send => "send",
            DecisionOutcome::Exclude => "exclude",
        }
    }
}

/// One decision, before it is written: the order, the outcome, and for an exclusion its
/// rule key and explanation (empty for a send).
#[derive(Clone, Debug)]
pub struct NewDecision {
    pub order_id: i64,
    pub outcome: DecisionOutcome,
    pub rule: String,
    pub detail: String,
}

/// Writes a page's decisions as multi-row statements (a decision already recorded stays).
pub async fn insert_decisions(tx: &mut Tx<'_>, campaign_id: i64, decisions: &[NewDecision], now: i64) -> Result<(), AppError> {
    let b = Backend::of(tx);
    const DECISION_BINDS: usize = 4;
    for chunk in decisions.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO campaign_decisions (order_id, outcome, rule, detail, campaign_id, decided_at) \
             SELECT v.*, {}, {now} FROM (VALUES {}) AS v WHERE true ON CONFLICT DO NOTHING",
            campaign_id,
            b.rows(chunk.len(), DECISION_BINDS)
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_INSERT);
        for d in chunk {
            query = query.bind(d.order_id).bind(d.outcome.as_str()).bind(d.rule.as_str()).bind(d.detail.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
