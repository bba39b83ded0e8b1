//! The planner: applies `eligibility::decide` to a running campaign's undecided orders and
//! records each final decision durably, once per (campaign, order). A message to send goes
//! into the `messages` outbox with the exact approved version it will use; the unique
//! index on (order, purpose) makes a second message for the same order and purpose
//! impossible, whichever planner (process, restart) gets there first. Planners of one
//! brand take turns (a row lock on the brand on PostgreSQL; SQLite has one writer), so the
//! frequency cap sees every message already planned.

use super::ab;
use super::eligibility::{decide, Audience, Cap, CustomerFacts, Decision, Exclusion, History, OrderFacts, Rules, SendWindow, Trigger};
use crate::db::{Backend, Db};
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use crate::orders::privacy::{fingerprint, normalise_address, Salt};
use crate::templates::model::Purpose;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// Orders looked at per transaction.
const PAGE: i64 = 2_000;

/// What a campaign keeps in its `rules` column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRules {
    pub trigger: Trigger,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub cap: Cap,
    #[serde(default)]
    pub window: SendWindow,
    #[serde(default)]
    pub fallback_locales: Vec<String>,
    /// A/B weights (empty: no test, everyone gets variant 0).
    #[serde(default)]
    pub weights: Vec<u32>,
}

/// What one planning pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStats {
    pub looked_at: u64,
    pub planned: u64,
    pub excluded: u64,
    pub waiting: u64,
    /// Exclusions per rule key.
    pub by_rule: Vec<(String, u64)>,
}

pub async fn create(
    db: &Db,
    client_id: i64,
    brand_id: i64,
    template_id: i64,
    name: &str,
    purpose: Purpose,
    rules: &CampaignRules,
    by: &str,
) -> Result<i64, AppError> {
    let json = serde_json::to_string(rules).map_err(|e| AppError::Internal(e.to_string()))?;
    let now = crate::db::now_millis();
    let row = sqlx::query(
        "INSERT INTO campaigns (client_id, brand_id, template_id, name, purpose, rules, state, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $8) RETURNING id",
    )
    .bind(client_id)
    .bind(brand_id)
    .bind(template_id)
    .bind(name)
    .bind(purpose.as_str())
    .bind(json)
    .bind(by)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.get(0))
}

pub async fn set_state(db: &Db, campaign_id: i64, state: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE campaigns SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state)
        .bind(crate::db::now_millis())
        .bind(campaign_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

struct Campaign {
    client_id: i64,
    brand_id: i64,
    purpose: Purpose,
    rules: CampaignRules,
    /// Approved version per locale.
    versions: HashMap<String, i64>,
}

async fn load(db: &Db, campaign_id: i64, running_only: bool) -> Result<Option<Campaign>, AppError> {
    let Some(row) = sqlx::query("SELECT client_id, brand_id, template_id, purpose, rules, state FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    if running_only && row.get::<String, _>("state") != "running" {
        return Ok(None);
    }
    let purpose = Purpose::parse("purpose", &row.get::<String, _>("purpose"))?;
    let rules: CampaignRules =
        serde_json::from_str(&row.get::<String, _>("rules")).map_err(|e| AppError::Internal(format!("campaign rules: {e}")))?;
    // The newest approved version of each locale.
    let versions: Vec<(String, i64)> =
        sqlx::query_as("SELECT locale, id FROM template_versions WHERE template_id = $1 AND status = 'approved' ORDER BY number")
            .bind(row.get::<i64, _>("template_id"))
            .fetch_all(&db.pool)
            .await?;
    Ok(Some(Campaign {
        client_id: row.get("client_id"),
        brand_id: row.get("brand_id"),
        purpose,
        rules,
        versions: versions.into_iter().collect(),
    }))
}

impl Campaign {
    fn rules(&self) -> Rules {
        Rules {
            purpose: self.purpose,
            trigger: self.rules.trigger,
            audience: self.rules.audience.clone(),
            cap: self.rules.cap,
            window: self.rules.window,
            approved_locales: self.versions.keys().cloned().collect(),
            fallback_locales: self.rules.fallback_locales.clone(),
        }
    }
}

/// One order's decision, before anything is written.
struct Decided {
    order_id: i64,
    platform_order_id: String,
    customer_id: Option<i64>,
    decision: Decision,
}

/// One planning pass over every undecided order of a running campaign's brand.
pub async fn plan(db: &Db, salt: &Salt, campaign_id: i64, now: i64) -> Result<PlanStats, AppError> {
    let mut stats = PlanStats::default();
    let Some(campaign) = load(db, campaign_id, true).await? else { return Ok(stats) };
    let rules = campaign.rules();
    let mut by_rule: HashMap<String, u64> = HashMap::new();
    let mut after = 0i64;
    loop {
        let mut tx = db.pool.begin().await?;
        if db.backend == Backend::Postgres {
            // Planners of one brand take turns: the cap must see every planned message.
            sqlx::query("SELECT id FROM brands WHERE id = $1 FOR UPDATE").bind(campaign.brand_id).execute(&mut *tx).await?;
        }
        let page = decide_page(&mut tx, db.backend, salt, &campaign, &rules, campaign_id, after, now).await?;
        let Some(last) = page.last() else { break };
        after = last.order_id;
        for Decided { order_id, customer_id, decision, .. } in page {
            stats.looked_at += 1;
            match decision {
                Decision::Wait(_) => stats.waiting += 1,
                Decision::Exclude(exclusion) => {
                    stats.excluded += 1;
                    *by_rule.entry(exclusion.key().to_string()).or_default() += 1;
                    record(&mut tx, campaign_id, order_id, "exclude", exclusion.key(), &exclusion.explain(), now).await?;
                }
                Decision::Send { at, locale } => {
                    let (Some(customer_id), Some(&version)) = (customer_id, campaign.versions.get(&locale)) else { continue };
                    let variant =
                        if campaign.rules.weights.len() > 1 { ab::assign(campaign_id, customer_id, &campaign.rules.weights) } else { 0 };
                    let inserted = sqlx::query(
                        "INSERT INTO messages (client_id, brand_id, campaign_id, order_id, customer_id, purpose, channel, \
                           template_version_id, locale, variant, send_at, state, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'email', $7, $8, $9, $10, 'queued', $11) ON CONFLICT DO NOTHING",
                    )
                    .bind(campaign.client_id)
                    .bind(campaign.brand_id)
                    .bind(campaign_id)
                    .bind(order_id)
                    .bind(customer_id)
                    .bind(campaign.purpose.as_str())
                    .bind(version)
                    .bind(locale.as_str())
                    .bind(variant as i64)
                    .bind(at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 {
                        stats.planned += 1;
                        record(&mut tx, campaign_id, order_id, "send", "", "", now).await?;
                    } else {
                        // Another campaign planned this order's message of this purpose first.
                        stats.excluded += 1;
                        *by_rule.entry("already_asked".into()).or_default() += 1;
                        record(
                            &mut tx,
                            campaign_id,
                            order_id,
                            "exclude",
                            "already_asked",
                            "this order already has a message for this purpose",
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
    }
    let mut by_rule: Vec<(String, u64)> = by_rule.into_iter().collect();
    by_rule.sort();
    stats.by_rule = by_rule;
    Ok(stats)
}

pub use super::model::Preview;

pub async fn preview(db: &Db, salt: &Salt, campaign_id: i64, now: i64) -> Result<Preview, AppError> {
    let mut out = Preview::default();
    let Some(campaign) = load(db, campaign_id, false).await? else { return Ok(out) };
    let rules = campaign.rules();
    let mut excluded: HashMap<String, (String, u64, Vec<String>)> = HashMap::new();
    let mut locales: HashMap<String, u64> = HashMap::new();
    let mut after = 0i64;
    loop {
        let mut tx = db.pool.begin().await?;
        let page = decide_page(&mut tx, db.backend, salt, &campaign, &rules, campaign_id, after, now).await?;
        tx.rollback().await?;
        let Some(last) = page.last() else { break };
        after = last.order_id;
        for d in page {
            out.looked_at += 1;
            match d.decision {
                Decision::Wait(_) => out.waiting += 1,
                Decision::Send { locale, .. } => {
                    out.would_send += 1;
                    *locales.entry(locale).or_default() += 1;
                }
                Decision::Exclude(e) => {
                    // Statuses, filters and suppression reasons each get their own row.
                    let group = match &e {
                        Exclusion::Status { .. } | Exclusion::Filter { .. } | Exclusion::Suppressed { .. } => {
                            format!("{}\u{1f}{}", e.key(), e.explain())
                        }
                        _ => e.key().to_string(),
                    };
                    let entry = excluded.entry(group).or_insert_with(|| (e.explain(), 0, Vec::new()));
                    entry.1 += 1;
                    if entry.2.len() < 5 {
                        entry.2.push(d.platform_order_id);
                    }
                }
            }
        }
    }
    let mut excluded: Vec<_> = excluded
        .into_iter()
        .map(|(group, (why, n, sample))| (group.split('\u{1f}').next().unwrap_or_default().to_string(), why, n, sample))
        .collect();
    excluded.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    out.excluded = excluded;
    let mut locales: Vec<_> = locales.into_iter().collect();
    locales.sort();
    out.locales = locales;
    Ok(out)
}

/// Decides the next page of undecided orders after `after` (nothing is written; sends
/// decided earlier in the page count for the cap of later ones).
#[allow(clippy::too_many_arguments)]
async fn decide_page(
    tx: &mut Tx<'_>,
    b: Backend,
    salt: &Salt,
    campaign: &Campaign,
    rules: &Rules,
    campaign_id: i64,
    after: i64,
    now: i64,
) -> Result<Vec<Decided>, AppError> {
    let rows = sqlx::query(
        "SELECT o.id, o.platform_order_id, o.store_id, s.platform, o.status, o.status_at, o.placed_at, o.country, o.total_minor, o.customer_id, \
           (SELECT MIN(h.reached_at) FROM order_status_history h WHERE h.order_id = o.id AND h.to_status = 'fulfilled') AS fulfilled_at, \
           (SELECT MIN(h.reached_at) FROM order_status_history h WHERE h.order_id = o.id AND h.to_status = 'delivered') AS delivered_at, \
           c.email, c.country AS customer_country, c.locale, \
           (SELECT COUNT(*) FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email') AS consents \
         FROM orders o JOIN stores s ON s.id = o.store_id LEFT JOIN customers c ON c.id = o.customer_id \
         WHERE o.brand_id = $1 AND o.id > $2 \
           AND NOT EXISTS (SELECT 1 FROM campaign_decisions d WHERE d.campaign_id = $3 AND d.order_id = o.id) \
         ORDER BY o.id LIMIT $4",
    )
    .bind(campaign.brand_id)
    .bind(after)
    .bind(campaign_id)
    .bind(PAGE)
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }

    // What is already planned for these orders and their customers.
    let order_ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let customer_ids: Vec<i64> =
        rows.iter().filter_map(|r| r.get::<Option<i64>, _>("customer_id")).collect::<HashSet<_>>().into_iter().collect();
    let mut order_purposes: HashMap<i64, Vec<Purpose>> = HashMap::new();
    let planned: Vec<(i64, String)> = in_list(tx, b, "SELECT order_id, purpose FROM messages WHERE order_id IN", &order_ids).await?;
    for (order, purpose) in planned {
        if let Ok(p) = Purpose::parse("purpose", &purpose) {
            order_purposes.entry(order).or_default().push(p);
        }
    }
    let mut sends: HashMap<i64, Vec<i64>> = HashMap::new();
    let brand_filter = format!("SELECT customer_id, send_at FROM messages WHERE brand_id = {} AND customer_id IN", campaign.brand_id);
    let planned: Vec<(i64, i64)> = in_list(tx, b, &brand_filter, &customer_ids).await?;
    for (customer, at) in planned {
        sends.entry(customer).or_default().push(at);
    }
    // Suppressed addresses, by their fingerprint (erased ones are kept only so).
    let prints: HashMap<String, String> = rows
        .iter()
        .filter_map(|r| r.get::<Option<String>, _>("email"))
        .filter_map(|e| normalise_address(&e).map(|value| (fingerprint(salt, &value), e)))
        .collect();
    let keys: Vec<String> = prints.keys().cloned().collect();
    let suppressed_sql = format!(
        "SELECT value_hash, reason FROM suppressions WHERE (brand_id IS NULL OR brand_id = {}) AND value_hash IN",
        campaign.brand_id
    );
    let found: Vec<(String, String)> = in_list(tx, b, &suppressed_sql, &keys).await?;
    let suppressed: HashMap<String, String> =
        found.into_iter().filter_map(|(hash, reason)| prints.get(&hash).map(|email| (email.clone(), reason))).collect();

    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let status = OrderStatus::parse(&row.get::<String, _>("status")).unwrap_or(OrderStatus::Pending);
        let status_at: i64 = row.get("status_at");
        let fulfilled_at = row.get::<Option<i64>, _>("fulfilled_at").or((status == OrderStatus::Fulfilled).then_some(status_at));
        let delivered_at = row.get::<Option<i64>, _>("delivered_at").or((status == OrderStatus::Delivered).then_some(status_at));
        let order = OrderFacts {
            order_id: row.get("id"),
            store_id: row.get("store_id"),
            platform: row.get("platform"),
            status,
            placed_at: row.get("placed_at"),
            fulfilled_at,
            delivered_at,
            latest_delivery_at: None,
            country: row.get("country"),
            total_minor: row.get("total_minor"),
        };
        let customer_id: Option<i64> = row.get("customer_id");
        let email: String = row.get::<Option<String>, _>("email").unwrap_or_default();
        let customer = customer_id.map(|id| CustomerFacts {
            customer_id: id,
            has_email: !email.is_empty(),
            country: row.get::<Option<String>, _>("customer_country").unwrap_or_default(),
            locale: row.get::<Option<String>, _>("locale").unwrap_or_default(),
            suppressed: suppressed.get(&email).cloned(),
            email_consent: row.get::<i64, _>("consents") > 0,
        });
        let history = History {
            order_purposes: order_purposes.get(&order.order_id).cloned().unwrap_or_default(),
            customer_sends: customer_id.and_then(|c| sends.get(&c).cloned()).unwrap_or_default(),
        };
        let decision = decide(&order, customer.as_ref(), &history, rules, now);
        if let (Decision::Send { at, .. }, Some(c)) = (&decision, customer_id) {
            sends.entry(c).or_default().push(*at);
        }
        out.push(Decided { order_id: order.order_id, platform_order_id: row.get("platform_order_id"), customer_id, decision });
    }
    Ok(out)
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

async fn record(
    tx: &mut Tx<'_>,
    campaign_id: i64,
    order_id: i64,
    outcome: &str,
    rule: &str,
    detail: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO campaign_decisions (campaign_id, order_id, outcome, rule, detail, decided_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT DO NOTHING",
    )
    .bind(campaign_id)
    .bind(order_id)
    .bind(outcome)
    .bind(rule)
    .bind(detail)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Runs `select (…)` with the values as bound parameters, in chunks.
async fn in_list<T, V>(tx: &mut Tx<'_>, b: Backend, select: &str, values: &[V]) -> Result<Vec<T>, AppError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    V: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Clone + Send + 'static,
{
    let mut out = Vec::new();
    for chunk in values.chunks(500) {
        let sql = format!("{select} ({})", b.params(1, chunk.len()));
        let mut query = sqlx::query_as::<_, T>(&sql);
        for v in chunk {
            query = query.bind(v.clone());
        }
        out.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}
