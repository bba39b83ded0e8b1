//! The planner: applies `eligibility::decide` to a running campaign's undecided orders and
//! records each final decision durably, once per (campaign, order). A message to send goes
//! into the `messages` outbox with the exact approved version it will use; the unique
//! index on (order, purpose) makes a second message for the same order and purpose
//! impossible, whichever planner (process, restart) gets there first.
//!
//! One pass is one transaction that first takes the brand's turn (a row write on the
//! brand: a row lock on PostgreSQL, the write lock on SQLite), so planners of one brand
//! never interleave and the frequency cap sees every message already planned. It reads
//! the brand's facts once (planned sends, consents, suppressions, stores, and its customers
//! in one scan), then the orders window by window with their history, each read packed into
//! one value (see `store`), decides in memory, and writes each window's decisions and
//! messages as multi-row statements. The SQL is in `store` (campaigns' tables and the
//! facts it reads) and `outbox::store` (messages); this module keeps the decisions.

use super::ab;
use super::canary::CanaryRule;
use super::eligibility::{
    decide, Audience, Cap, CustomerFacts, Decision, Exclusion, History, OrderFacts, Rules, SendWindow, Trigger, DAY_MS,
};
use super::model::{CampaignPhase, CampaignState};
use super::store::{self, DecisionOutcome, NewDecision};
use crate::common::fingerprint::{fingerprint, Salt};
use crate::db::Db;
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use crate::orders::privacy::normalise_address;
use crate::outbox::model::{Channel, MessageState};
use crate::outbox::store::{self as outbox, MessageOrigin, NewMessage};
use crate::templates::model::Purpose;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Orders read and decided per page.
const PAGE: i64 = 20_000;

/// One A/B variant: its share and what it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub weight: u32,
    /// Replaces the template's subject when not empty (same variables allowed).
    #[serde(default)]
    pub subject: String,
    /// Hours added to the trigger's delay.
    #[serde(default)]
    pub delay_hours: u32,
}

/// What a campaign keeps in its `rules` column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The A/B test's variants (empty: no test, everyone gets variant 0).
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// The A/B test's target metric: `click` (clicks / delivered) or `review`.
    #[serde(default = "click")]
    pub metric: String,
    /// Once a winner is declared, the rest of the audience gets it.
    #[serde(default)]
    pub auto_promote: bool,
    /// A canary share goes first (none: everything goes at once).
    #[serde(default)]
    pub canary: Option<CanaryRule>,
    /// When the account manager plans to launch (epoch ms, UTC): the SLA's "launched on
    /// schedule" is judged against it.
    #[serde(default)]
    pub scheduled_at: Option<i64>,
    /// E-mail (the default), SMS, or Amazon's own request a review.
    #[serde(default)]
    pub channel: Channel,
    /// E-mail and SMS in order of preference: each buyer gets the first that reaches them
    /// (empty: `channel` alone).
    #[serde(default)]
    pub channels: Vec<Channel>,
}

fn click() -> String {
    "click".into()
}

impl CampaignRules {
    /// A campaign with this trigger and every other rule at its default.
    pub fn new(trigger: Trigger) -> CampaignRules {
        CampaignRules {
            trigger,
            audience: Audience::default(),
            cap: Cap::default(),
            window: SendWindow::default(),
            fallback_locales: Vec::new(),
            variants: Vec::new(),
            metric: click(),
            auto_promote: false,
            scheduled_at: None,
            canary: None,
            channel: Channel::Email,
            channels: Vec::new(),
        }
    }

    /// With an A/B test of variants that differ only in their weights.
    pub fn weighted(self, weights: &[u32]) -> CampaignRules {
        CampaignRules {
            variants: weights.iter().map(|&weight| Variant { weight, subject: String::new(), delay_hours: 0 }).collect(),
            ..self
        }
    }

    /// The rules as a campaign's `rules` column keeps them.
    pub fn parse(json: &str) -> Result<CampaignRules, AppError> {
        serde_json::from_str(json).map_err(|e| AppError::caused("campaign rules", e))
    }

    pub fn weights(&self) -> Vec<u32> {
        self.variants.iter().map(|v| v.weight).collect()
    }
}

/// What one planning pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStats {
    pub looked_at: u64,
    pub planned: u64,
    /// Of the planned, how many wait for the canary.
    pub held: u64,
    pub excluded: u64,
    pub waiting: u64,
    /// Exclusions per rule key.
    pub by_rule: Vec<(String, u64)>,
    /// Milliseconds spent on the status pass, reading the brand's facts, reading and
    /// deciding the orders, and writing.
    pub status_ms: u64,
    pub facts_ms: u64,
    pub read_ms: u64,
    pub write_ms: u64,
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: &Db,
    client_id: i64,
    brand_id: i64,
    template_id: Option<i64>,
    name: &str,
    purpose: Purpose,
    rules: &CampaignRules,
    by: &str,
) -> Result<i64, AppError> {
    let json = serde_json::to_string(rules).map_err(|e| AppError::caused("encoding failed", e))?;
    let phase = if rules.canary.is_some() { CampaignPhase::Canary } else { CampaignPhase::Full };
    let campaign = store::NewCampaign {
        client_id,
        brand_id,
        template_id,
        channel: rules.channel,
        name,
        purpose,
        rules: json,
        phase,
        created_by: by,
        created_at: crate::db::now_millis(),
    };
    store::insert(db, &campaign).await
}

pub async fn set_state(db: &Db, campaign_id: i64, state: CampaignState) -> Result<(), AppError> {
    store::set_state(db, campaign_id, state, crate::db::now_millis()).await
}

pub struct Campaign {
    pub id: i64,
    pub client_id: i64,
    pub brand_id: i64,
    pub purpose: Purpose,
    pub state: CampaignState,
    pub phase: CampaignPhase,
    pub winner: Option<i64>,
    pub rules: CampaignRules,
    /// Approved version per locale.
    pub versions: HashMap<String, i64>,
    /// Locales whose approved version has an SMS part.
    pub sms_locales: Vec<String>,
    /// Locales whose approved version has a WhatsApp template Meta approved, and those of
    /// them filed as marketing.
    pub whatsapp_locales: Vec<String>,
    pub whatsapp_marketing: Vec<String>,
}

/// The campaign with its approved versions (read inside `tx`, after any lock it took).
pub async fn load(tx: &mut Tx<'_>, campaign_id: i64) -> Result<Option<Campaign>, AppError> {
    let Some(row) = store::planned(tx, campaign_id).await? else {
        return Ok(None);
    };
    let purpose = Purpose::parse("purpose", &row.purpose)?;
    let rules = CampaignRules::parse(&row.rules)?;
    // The newest approved version of each locale (the last of each, oldest first).
    let versions = match row.template_id {
        Some(template_id) => store::approved_versions(tx, template_id).await?,
        None => Vec::new(),
    };
    // The newest approved version of each locale decides (later rows replace earlier).
    let mut newest: HashMap<String, store::ApprovedVersion> = HashMap::new();
    for v in versions {
        newest.insert(v.locale.clone(), v);
    }
    let locales_where = |keep: &dyn Fn(&store::ApprovedVersion) -> bool| {
        let mut found: Vec<String> = newest.values().filter(|v| keep(v)).map(|v| v.locale.clone()).collect();
        found.sort();
        found
    };
    let sms_locales = locales_where(&|v| v.sms);
    let whatsapp_locales = locales_where(&|v| v.whatsapp.is_some());
    let whatsapp_marketing = locales_where(&|v| v.whatsapp == Some(crate::common::whatsapp::Category::Marketing));
    Ok(Some(Campaign {
        id: campaign_id,
        client_id: row.client_id,
        brand_id: row.brand_id,
        purpose,
        state: row.state,
        phase: row.phase,
        winner: row.winner,
        rules,
        versions: newest.into_iter().map(|(locale, v)| (locale, v.id)).collect(),
        sms_locales,
        whatsapp_locales,
        whatsapp_marketing,
    }))
}

impl Campaign {
    /// The rules of each variant (one when there is no test): they differ in delay only.
    fn variant_rules(&self) -> Vec<Rules> {
        let base = Rules {
            purpose: self.purpose,
            trigger: self.rules.trigger,
            audience: self.rules.audience.clone(),
            cap: self.rules.cap,
            window: self.rules.window,
            approved_locales: self.versions.keys().cloned().collect(),
            fallback_locales: self.rules.fallback_locales.clone(),
            delay_ms: 0,
            channel: self.rules.channel,
            channels: self.rules.channels.clone(),
            sms_locales: self.sms_locales.clone(),
            whatsapp_locales: self.whatsapp_locales.clone(),
            whatsapp_marketing: self.whatsapp_marketing.clone(),
        };
        if self.rules.variants.is_empty() {
            return vec![base];
        }
        self.rules.variants.iter().map(|v| Rules { delay_ms: i64::from(v.delay_hours) * 3_600_000, ..base.clone() }).collect()
    }

    /// The variant a customer gets: the promoted winner, or the deterministic assignment.
    /// (An Amazon order without a buyer record is assigned by its order, see `unit_of`.)
    pub fn variant_of(&self, customer_id: i64) -> usize {
        let weights = self.rules.weights();
        if weights.len() < 2 {
            return 0;
        }
        match self.winner {
            Some(w) if self.rules.auto_promote && (w as usize) < weights.len() => w as usize,
            _ => ab::assign(self.id, customer_id, &weights),
        }
    }
}

/// Who the A/B assignment and the canary are drawn for: the buyer, or an Amazon order
/// without a buyer record (Amazon keeps its buyers), as its order id negated so it never
/// meets a customer id.
fn unit_of(customer_id: Option<i64>, order_id: i64) -> i64 {
    customer_id.unwrap_or(-order_id)
}

/// One order's decision, before anything is written.
struct Decided {
    order_id: i64,
    platform_order_id: String,
    customer_id: Option<i64>,
    /// An Amazon order: one proactive contact in all.
    amazon: bool,
    variant: usize,
    decision: Decision,
}

pub use store::Tx;

/// One planning pass over every undecided order of a running campaign's brand.
pub async fn plan(db: &Db, salt: &Salt, campaign_id: i64, now: i64) -> Result<PlanStats, AppError> {
    let Some(brand_id) = store::brand_of(db, campaign_id).await? else {
        return Ok(PlanStats::default());
    };
    // One connection with a large page cache for the pass (given back on every path).
    let (mut conn, cache) = store::bulk_connection(db).await?;
    let planned = plan_on(&mut conn, salt, campaign_id, brand_id, now).await;
    cache.end(&mut conn).await?;
    planned
}

async fn plan_on(conn: &mut sqlx::AnyConnection, salt: &Salt, campaign_id: i64, brand_id: i64, now: i64) -> Result<PlanStats, AppError> {
    use sqlx::Connection;
    let mut stats = PlanStats::default();
    let mut tx = conn.begin().await?;
    crate::clients::store::take_brand_turn(&mut tx, brand_id).await?;
    let Some(campaign) = load(&mut tx, campaign_id).await?.filter(|c| c.state == CampaignState::Running) else {
        tx.rollback().await?;
        return Ok(stats);
    };
    let mut by_rule: HashMap<String, u64> = HashMap::new();
    let started = std::time::Instant::now();
    // The first rule depends on the order's status alone: excluded statuses are decided
    // and recorded in the database, without reading those orders out.
    let statuses = &campaign.rules.audience.exclude_statuses;
    if let Some(&first) = statuses.first() {
        let key = Exclusion::Status { status: first }.key();
        let explain = |status: OrderStatus| Exclusion::Status { status }.explain();
        let recorded = store::exclude_statuses(&mut tx, campaign_id, campaign.brand_id, statuses, key, explain, now).await?;
        if recorded > 0 {
            stats.looked_at += recorded;
            stats.excluded += recorded;
            *by_rule.entry(key.to_string()).or_default() += recorded;
        }
    }
    stats.status_ms = started.elapsed().as_millis() as u64;
    let facts = std::time::Instant::now();
    let mut decider = Decider::new(&mut tx, salt, &campaign, now).await?;
    stats.facts_ms = facts.elapsed().as_millis() as u64;
    let (mut reading, mut writing) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    loop {
        let read = std::time::Instant::now();
        let page = decider.next_page(&mut tx).await?;
        reading += read.elapsed();
        let Some(page) = page else { break };
        let write = std::time::Instant::now();
        write_page(&mut tx, &campaign, page, now, &mut stats, &mut by_rule).await?;
        writing += write.elapsed();
    }
    tx.commit().await?;
    stats.read_ms = reading.as_millis() as u64;
    stats.write_ms = writing.as_millis() as u64;
    tracing::debug!(campaign_id, total_ms = started.elapsed().as_millis() as u64, stats.read_ms, stats.write_ms, "planned");
    let mut by_rule: Vec<(String, u64)> = by_rule.into_iter().collect();
    by_rule.sort();
    stats.by_rule = by_rule;
    Ok(stats)
}

async fn write_page(
    tx: &mut Tx<'_>,
    campaign: &Campaign,
    page: Vec<Decided>,
    now: i64,
    stats: &mut PlanStats,
    by_rule: &mut HashMap<String, u64>,
) -> Result<(), AppError> {
    let canary_phase = campaign.phase == CampaignPhase::Canary;
    let mut planned = Vec::new();
    let mut decisions: Vec<NewDecision> = Vec::new();
    for Decided { order_id, customer_id, amazon, variant, decision, .. } in page {
        stats.looked_at += 1;
        match decision {
            Decision::Wait(_) => stats.waiting += 1,
            Decision::Exclude(exclusion) => {
                stats.excluded += 1;
                *by_rule.entry(exclusion.key().to_string()).or_default() += 1;
                decisions.push(NewDecision {
                    order_id,
                    outcome: DecisionOutcome::Exclude,
                    rule: exclusion.key().to_string(),
                    detail: exclusion.explain(),
                });
            }
            Decision::Send { at, locale, channel } => {
                // An e-mail or a text needs its buyer and the approved version; Amazon's
                // request neither.
                let version = match channel {
                    Channel::Email | Channel::Sms | Channel::Whatsapp => {
                        let (Some(_), Some(&version)) = (customer_id, campaign.versions.get(&locale)) else { continue };
                        Some(version)
                    }
                    Channel::Amazon => None,
                };
                let (state, canary) = match &campaign.rules.canary {
                    Some(rule) if canary_phase => {
                        if ab::in_canary(campaign.id, unit_of(customer_id, order_id), rule.share) {
                            (MessageState::Queued, 1)
                        } else {
                            (MessageState::Held, 0)
                        }
                    }
                    _ => (MessageState::Queued, 0),
                };
                planned.push((
                    channel,
                    NewMessage {
                        order_id,
                        customer_id,
                        template_version_id: version,
                        locale,
                        variant: variant as i64,
                        send_at: at,
                        state,
                        canary,
                        one_per_order: amazon,
                    },
                ));
            }
        }
    }
    // Messages first, one statement per channel: the unique (order, purpose) index answers
    // which were really new.
    let mut inserted = HashSet::new();
    for channel in Channel::ALL {
        let of_channel: Vec<NewMessage> = planned.iter().filter(|(c, _)| *c == channel).map(|(_, m)| m.clone()).collect();
        if of_channel.is_empty() {
            continue;
        }
        let origin = MessageOrigin {
            client_id: campaign.client_id,
            brand_id: campaign.brand_id,
            campaign_id: campaign.id,
            purpose: campaign.purpose,
            channel,
        };
        inserted.extend(outbox::insert_planned(tx, origin, &of_channel, now).await?);
    }
    for (_, m) in &planned {
        if inserted.contains(&m.order_id) {
            stats.planned += 1;
            stats.held += u64::from(m.state == MessageState::Held);
            decisions.push(NewDecision {
                order_id: m.order_id,
                outcome: DecisionOutcome::Send,
                rule: String::new(),
                detail: String::new(),
            });
        } else {
            // Another campaign planned this order's message of this purpose first (or, on
            // an Amazon order, its one contact).
            let already = Exclusion::AlreadyAsked;
            stats.excluded += 1;
            *by_rule.entry(already.key().into()).or_default() += 1;
            decisions.push(NewDecision {
                order_id: m.order_id,
                outcome: DecisionOutcome::Exclude,
                rule: already.key().into(),
                detail: already.explain(),
            });
        }
    }
    store::insert_decisions(tx, campaign.id, &decisions, now).await
}

pub use super::model::Preview;

pub async fn preview(db: &Db, salt: &Salt, campaign_id: i64, now: i64) -> Result<Preview, AppError> {
    let mut out = Preview::default();
    let mut tx = db.pool.begin().await?;
    let Some(campaign) = load(&mut tx, campaign_id).await? else { return Ok(out) };
    let mut decider = Decider::new(&mut tx, salt, &campaign, now).await?;
    let mut excluded: HashMap<String, (String, u64, Vec<String>)> = HashMap::new();
    let mut locales: HashMap<String, u64> = HashMap::new();
    let mut channels: HashMap<String, u64> = HashMap::new();
    loop {
        let Some(page) = decider.next_page(&mut tx).await? else { break };
        for d in page {
            out.looked_at += 1;
            match d.decision {
                Decision::Wait(_) => out.waiting += 1,
                Decision::Send { locale, channel, .. } => {
                    out.would_send += 1;
                    *channels.entry(channel.label().to_string()).or_default() += 1;
                    // Amazon writes its request in the buyer's language itself.
                    let locale = if locale.is_empty() { "buyer's language (Amazon)".to_string() } else { locale };
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
    tx.rollback().await?;
    let mut excluded: Vec<_> = excluded
        .into_iter()
        .map(|(group, (why, n, sample))| (group.split('\u{1f}').next().unwrap_or_default().to_string(), why, n, sample))
        .collect();
    excluded.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    out.excluded = excluded;
    let mut locales: Vec<_> = locales.into_iter().collect();
    locales.sort();
    out.locales = locales;
    // In the campaign's order of preference.
    let preference: Vec<&str> = if campaign.rules.channels.is_empty() {
        vec![campaign.rules.channel.label()]
    } else {
        campaign.rules.channels.iter().map(|c| c.label()).collect()
    };
    let mut channels: Vec<_> = channels.into_iter().collect();
    channels.sort_by_key(|(label, _)| preference.iter().position(|p| p == label).unwrap_or(usize::MAX));
    out.channels = channels;
    Ok(out)
}

/// Decides a campaign's undecided orders page by page, with the brand's facts read once.
/// Sends decided earlier count for the cap of later orders.
struct Decider<'c> {
    campaign: &'c Campaign,
    rules: Vec<Rules>,
    now: i64,
    after: i64,
    /// Planned send times per customer of the brand (within reach of the cap).
    sends: HashMap<i64, Vec<i64>>,
    /// Customers with a recorded e-mail consent, and with one to marketing texts.
    consents: HashSet<i64>,
    text_consents: HashSet<i64>,
    whatsapp_consents: HashSet<i64>,
    /// The brand's stores' platforms.
    platforms: HashMap<i64, String>,
    /// The brand's customers, read once (a scan, not a lookup per order).
    customers: HashMap<i64, Buyer>,
}

/// What the planner needs of a customer; the suppression reason is worked out once.
struct Buyer {
    has_email: bool,
    phone: String,
    country: String,
    locale: String,
    suppressed: Option<String>,
}

impl<'c> Decider<'c> {
    async fn new(tx: &mut Tx<'_>, salt: &Salt, campaign: &'c Campaign, now: i64) -> Result<Decider<'c>, AppError> {
        let brand = campaign.brand_id;
        let reach = now - i64::from(campaign.rules.cap.window_days) * DAY_MS;
        let sends = outbox::planned_sends(tx, brand, reach).await?;
        let consents = store::email_consents(tx, brand).await?;
        let text_consents = store::text_consents(tx, brand).await?;
        let whatsapp = campaign.rules.channel == Channel::Whatsapp || campaign.rules.channels.contains(&Channel::Whatsapp);
        let whatsapp_consents = if whatsapp { store::whatsapp_consents(tx, brand).await? } else { HashSet::new() };
        let suppressed = store::suppression_reasons(tx, brand).await?;
        let platforms = store::store_platforms(tx, brand).await?;
        let packed = store::brand_customers(tx, brand).await?;
        let mut customers = HashMap::new();
        for customer in packed.records() {
            let store::PackedCustomer { id, email, phone, country, locale } = customer?;
            // By the fingerprint of either address (erased addresses are kept only so): a
            // buyer who unsubscribed by e-mail or replied STOP by text gets neither.
            let reason = if suppressed.is_empty() {
                None
            } else {
                let by_email = normalise_address(email).and_then(|value| suppressed.get(&fingerprint(salt, &value)).cloned());
                // Stored phones are E.164 already, as suppression normalises them.
                by_email.or_else(|| (!phone.is_empty()).then(|| suppressed.get(&fingerprint(salt, phone)).cloned()).flatten())
            };
            customers.insert(
                id,
                Buyer {
                    has_email: !email.is_empty(),
                    phone: phone.to_string(),
                    country: country.to_string(),
                    locale: locale.to_string(),
                    suppressed: reason,
                },
            );
        }
        Ok(Decider {
            campaign,
            rules: campaign.variant_rules(),
            now,
            after: 0,
            sends,
            consents,
            text_consents,
            whatsapp_consents,
            platforms,
            customers,
        })
    }

    /// The next page of undecided orders, decided (empty when there are no more).
    /// `None` when every order has been looked at; a window may hold no undecided order.
    async fn next_page(&mut self, tx: &mut Tx<'_>) -> Result<Option<Vec<Decided>>, AppError> {
        // The next window of the brand's orders by id, then its undecided orders.
        let Some(last) = store::window_end(tx, self.campaign.brand_id, self.after, PAGE).await? else { return Ok(None) };
        let orders = store::undecided_orders(tx, self.campaign.brand_id, self.campaign.id, self.after, last).await?;
        let first = self.after;
        self.after = last;

        // The window's status history and planned messages, by order id range.
        let reached = store::first_reached(tx, first, last).await?;
        let mut order_purposes = outbox::purposes_by_order(tx, first, last).await?;

        let mut rows = orders.orders()?;
        rows.sort_unstable_by_key(|r| r.id);
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let order_id = row.id;
            let status = OrderStatus::parse(row.status).unwrap_or(OrderStatus::Pending);
            let fulfilled_at = reached.get(&(order_id, false)).copied().or((status == OrderStatus::Fulfilled).then_some(row.status_at));
            let delivered_at = reached.get(&(order_id, true)).copied().or((status == OrderStatus::Delivered).then_some(row.status_at));
            let order = OrderFacts {
                order_id,
                store_id: row.store_id,
                platform: self.platforms.get(&row.store_id).cloned().unwrap_or_default(),
                status,
                placed_at: row.placed_at,
                fulfilled_at,
                delivered_at,
                earliest_delivery_at: row.earliest_delivery_at,
                latest_delivery_at: row.latest_delivery_at,
                country: row.country.to_string(),
                total_minor: row.total_minor,
            };
            let customer_id = row.customer_id;
            let customer = customer_id.and_then(|id| {
                self.customers.get(&id).map(|b| CustomerFacts {
                    customer_id: id,
                    has_email: b.has_email,
                    country: b.country.clone(),
                    locale: b.locale.clone(),
                    suppressed: b.suppressed.clone(),
                    email_consent: self.consents.contains(&id),
                    phone: b.phone.clone(),
                    sms_consent: self.text_consents.contains(&id),
                    whatsapp_consent: self.whatsapp_consents.contains(&id),
                })
            });
            let variant = self.campaign.variant_of(unit_of(customer_id, order_id));
            let history = History {
                order_purposes: order_purposes.remove(&order_id).unwrap_or_default(),
                customer_sends: customer_id.and_then(|c| self.sends.get(&c).cloned()).unwrap_or_default(),
            };
            let rules = &self.rules[variant.min(self.rules.len() - 1)];
            let decision = decide(&order, customer.as_ref(), &history, rules, self.now);
            if let (Decision::Send { at, .. }, Some(c)) = (&decision, customer_id) {
                self.sends.entry(c).or_default().push(*at);
            }
            let amazon = order.platform.eq_ignore_ascii_case("amazon");
            out.push(Decided { order_id, platform_order_id: row.platform_order_id.to_string(), customer_id, amazon, variant, decision });
        }
        Ok(Some(out))
    }
}
