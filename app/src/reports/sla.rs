//! SLA per client contract: the targets as data (editable by the admin), breaches found
//! from events and stored once, when they happen, with their evidence, and the board's
//! current values.

use super::engine;
use super::model::{Contract, Evidence, SlaBoard, SlaLine};
use super::rules::{self, basis_points, day_label, duration, DAY_MS, HOUR_MS};
use super::store::sla as store;
use crate::campaigns::model::CampaignState;
use crate::db::Db;
use crate::error::AppError;
use std::path::Path;

/// The client's contract (the defaults until the admin sets one).
pub async fn contract(db: &Db, client_id: i64) -> Result<Contract, AppError> {
    Ok(store::contract(db, client_id).await?.unwrap_or_default())
}

/// Checks a contract form: every target in a sensible range, each error naming its field.
pub fn validate(c: &Contract) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, value: i64, range: std::ops::RangeInclusive<i64>, what: &str| {
        if !range.contains(&value) {
            errors.push(crate::error::FieldError::new(field, format!("{what} must be between {} and {}.", range.start(), range.end())));
        }
    };
    check("min_delivery_rate_bp", c.min_delivery_rate_bp, 0..=10_000, "The minimum delivery rate (basis points)");
    check(
        "unsubscribe_hours",
        c.unsubscribe_hours,
        1..=240,
        "The unsubscribe processing time (hours; the legal limit is 10 business days)",
    );
    check("review_response_hours", c.review_response_hours, 1..=720, "The first response to a negative review (hours)");
    check("approval_hours", c.approval_hours, 1..=720, "The template approval turnaround (hours)");
    check("launch_grace_hours", c.launch_grace_hours, 0..=720, "The launch grace period (hours)");
    check("attribution_days", c.attribution_days, 1..=90, "The review attribution window (days)");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

pub async fn save_contract(db: &Db, client_id: i64, c: &Contract, by: &str, now: i64) -> Result<(), AppError> {
    validate(c)?;
    store::save_contract(db, client_id, c, by, now).await
}

/// A breach found by `evaluate`, before it is stored.
struct Found {
    rule: &'static str,
    subject: String,
    measured: String,
    target: String,
    evidence: Vec<Evidence>,
    happened_at: i64,
}

/// How far back each evaluation looks.
const LOOKBACK_DAYS: i64 = 90;

/// Finds the client's breaches up to `now` and stores each new one once. Answers how many
/// were new.
pub async fn evaluate(db: &Db, data_dir: Option<&Path>, client_id: i64, now: i64) -> Result<u64, AppError> {
    let contract = contract(db, client_id).await?;
    let since = now - LOOKBACK_DAYS * DAY_MS;
    let mut found = Vec::new();
    delivery_rate(db, data_dir, client_id, &contract, since, now, &mut found).await?;
    unsubscribes(db, client_id, &contract, since, &mut found).await?;
    review_responses(db, client_id, &contract, since, now, &mut found).await?;
    approvals(db, client_id, &contract, since, now, &mut found).await?;
    launches(db, client_id, &contract, since, now, &mut found).await?;
    let mut new = 0;
    for f in found {
        let evidence = serde_json::to_string(&f.evidence).unwrap_or_else(|_| "[]".into());
        let breach = store::NewBreach {
            rule: f.rule,
            subject: &f.subject,
            measured: &f.measured,
            target: &f.target,
            evidence: &evidence,
            happened_at: f.happened_at,
        };
        new += store::record_breach(db, client_id, &breach, now).await? as u64;
    }
    Ok(new)
}

/// Each finished day's delivery rate (figures from the report engine, so the board and the
/// report never disagree).
async fn delivery_rate(
    db: &Db,
    data_dir: Option<&Path>,
    client_id: i64,
    contract: &Contract,
    since: i64,
    now: i64,
    found: &mut Vec<Found>,
) -> Result<(), AppError> {
    // Finished days only: today's rate is still moving.
    let counts = super::build::figures(db, data_dir, client_id, rules::day_of(since), rules::day_of(now) - 1).await?;
    let day_grouping = engine::GROUP_KEYS.iter().position(|(name, _, _)| *name == "day").unwrap_or(5);
    for ((day, _), figures) in &counts[day_grouping] {
        let Some(rate) = rules::delivery_rate_breach(figures.sent, figures.bounced, contract) else { continue };
        let bounced = store::bounced_sample(db, client_id, day * DAY_MS, (day + 1) * DAY_MS).await?;
        found.push(Found {
            rule: "delivery_rate",
            subject: day_label(*day),
            measured: format!("{} ({} of {} delivered)", basis_points(rate), figures.delivered(), figures.sent),
            target: format!("at least {}", basis_points(contract.min_delivery_rate_bp)),
            evidence: bounced
                .into_iter()
                .map(|(id, campaign)| Evidence {
                    label: format!("message {id} bounced"),
                    href: format!("/clients/{client_id}/campaigns/{campaign}?message={id}"),
                })
                .collect(),
            happened_at: (day + 1) * DAY_MS,
        });
    }
    Ok(())
}

async fn unsubscribes(db: &Db, client_id: i64, contract: &Contract, since: i64, found: &mut Vec<Found>) -> Result<(), AppError> {
    let rows = store::unsubscribe_timings(db, client_id, since).await?;
    for (id, campaign, requested, processed) in rows {
        let evidence = Evidence {
            label: format!("unsubscribe from message {id}"),
            href: format!("/clients/{client_id}/campaigns/{campaign}?message={id}"),
        };
        let timing = Timing { start: requested, end: Some(processed), now: processed, hours: contract.unsubscribe_hours };
        let words = ["processed after", "not processed after", ""];
        found.extend(late(
            "unsubscribe",
            format!("message {id}"),
            timing,
            words,
            format!("within {} h", contract.unsubscribe_hours),
            evidence,
        ));
    }
    Ok(())
}

/// When something started and ended (or is still open at `now`), and its target in hours.
struct Timing {
    start: i64,
    end: Option<i64>,
    now: i64,
    hours: i64,
}

/// The breach of a time target, when it was missed: measured in words (`done` or
/// `pending` prefix, then the duration, then `suffix`), happening when the target passed.
fn late(
    rule: &'static str,
    subject: String,
    t: Timing,
    [done, pending, suffix]: [&str; 3],
    target: String,
    evidence: Evidence,
) -> Option<Found> {
    let took = rules::overdue(t.start, t.end, t.now, t.hours)?;
    let measured = format!("{} {}{suffix}", if t.end.is_some() { done } else { pending }, duration(took));
    Some(Found { rule, subject, measured, target, evidence: vec![evidence], happened_at: t.start + t.hours * HOUR_MS })
}

async fn review_responses(
    db: &Db,
    client_id: i64,
    contract: &Contract,
    since: i64,
    now: i64,
    found: &mut Vec<Found>,
) -> Result<(), AppError> {
    let rows = store::review_response_timings(db, client_id, since).await?;
    for (id, rating, opened, responded) in rows {
        let evidence = Evidence { label: format!("alert {id}: {rating}-star review"), href: format!("/alerts?alert={id}") };
        let timing = Timing { start: opened, end: responded, now, hours: contract.review_response_hours };
        let words = ["first response after", "no response after", ""];
        let target = format!("within {} h", contract.review_response_hours);
        found.extend(late("review_response", format!("alert {id}"), timing, words, target, evidence));
    }
    Ok(())
}

async fn approvals(db: &Db, client_id: i64, contract: &Contract, since: i64, now: i64, found: &mut Vec<Found>) -> Result<(), AppError> {
    let rows = store::approval_timings(db, client_id, since).await?;
    for (id, template, locale, submitted, approved) in rows {
        let evidence = Evidence {
            label: format!("template version {id} ({locale})"),
            href: format!("/clients/{client_id}/templates/{template}/versions/{id}"),
        };
        let timing = Timing { start: submitted, end: approved, now, hours: contract.approval_hours };
        let words = ["approved after", "still waiting after", ""];
        found.extend(late("approval", format!("version {id}"), timing, words, format!("within {} h", contract.approval_hours), evidence));
    }
    Ok(())
}

async fn launches(db: &Db, client_id: i64, contract: &Contract, since: i64, now: i64, found: &mut Vec<Found>) -> Result<(), AppError> {
    let rows = store::scheduled_launches(db, client_id, since).await?;
    for (id, name, scheduled, launched, state) in rows {
        // A campaign cancelled before its launch was not "late".
        if launched.is_none() && CampaignState::parse(&state) == Some(CampaignState::Cancelled) {
            continue;
        }
        let evidence = Evidence { label: format!("campaign \"{name}\""), href: format!("/clients/{client_id}/campaigns/{id}") };
        let timing = Timing { start: scheduled, end: launched, now, hours: contract.launch_grace_hours };
        let target = format!("within {} h of the scheduled {}", contract.launch_grace_hours, day_label(rules::day_of(scheduled)));
        found.extend(late("launch", format!("campaign {id}"), timing, ["launched", "not launched", " after schedule"], target, evidence));
    }
    Ok(())
}

/// The board of one client: evaluates first, then shows each target with the last 30
/// days' breaches and every breach stored.
pub async fn board(
    db: &Db,
    data_dir: Option<&Path>,
    client_id: i64,
    client: String,
    now: i64,
    can_edit: bool,
) -> Result<SlaBoard, AppError> {
    evaluate(db, data_dir, client_id, now).await?;
    let contract = contract(db, client_id).await?;
    let breaches = store::breaches(db, client_id).await?;
    let recent = |rule: &str| breaches.iter().filter(|b| b.rule == rule && b.happened_at >= now - 30 * DAY_MS).count() as u64;
    let current = current_values(db, data_dir, client_id, now).await?;
    let lines = super::model::RULE_LABELS
        .iter()
        .map(|(rule, label)| {
            let target = match *rule {
                "delivery_rate" => format!("≥ {}", basis_points(contract.min_delivery_rate_bp)),
                "unsubscribe" => format!("≤ {} h", contract.unsubscribe_hours),
                "review_response" => format!("≤ {} h", contract.review_response_hours),
                "approval" => format!("≤ {} h", contract.approval_hours),
                _ => format!("≤ {} h late", contract.launch_grace_hours),
            };
            let count = recent(rule);
            SlaLine {
                rule: rule.to_string(),
                label: label.to_string(),
                target,
                current: current.iter().find(|(r, _)| r == rule).map(|(_, v)| v.clone()).unwrap_or_else(|| "–".into()),
                holds: count == 0,
                breaches: count,
            }
        })
        .collect();
    Ok(SlaBoard { client_id, client, contract, lines, breaches, can_edit })
}

/// The last 30 days' value of each target, as the board shows it.
async fn current_values(db: &Db, data_dir: Option<&Path>, client_id: i64, now: i64) -> Result<Vec<(&'static str, String)>, AppError> {
    let since = now - 30 * DAY_MS;
    let today = rules::day_of(now);
    let counts = super::build::figures(db, data_dir, client_id, today - 29, today).await?;
    let mut values = Vec::new();
    if let Some(total) = counts.last().and_then(|t| t.get(&(0, 0))) {
        values.push(("delivery_rate", rules::percent(total.rate(rules::Rate::Delivery))));
    }
    let slowest = |ms: Option<i64>| ms.map(|ms| format!("slowest {}", duration(ms))).unwrap_or_else(|| "none in 30 days".into());
    values.push(("unsubscribe", slowest(store::slowest_unsubscribe(db, client_id, since, now).await?)));
    values.push(("review_response", slowest(store::slowest_review_response(db, client_id, since, now).await?)));
    values.push(("approval", slowest(store::slowest_approval(db, client_id, since, now).await?)));
    let late = store::late_launches(db, client_id, since, now).await?;
    values.push(("launch", format!("{late} late in 30 days")));
    Ok(values)
}
