//! Watching a running campaign from its message events: the canary's halt thresholds,
//! releasing the held audience once the canary passed, and the A/B winner.
//!
//! `record_event` is the one way events enter (the Delivery issue's sender, tracking and
//! bounce webhooks call it); every new event re-evaluates its campaign at once, and a
//! periodic sweep (`evaluate_running`) catches canaries whose watch period ran out.

use super::ab::{self, Arm, Verdict};
use super::canary::{breach, Breach, Counts};
use super::model::variant_label;
use super::planner::CampaignRules;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The kinds of message events.
pub const KINDS: [&str; 7] = ["sent", "bounced", "complained", "unsubscribed", "opened", "clicked", "reviewed"];

/// Records that `kind` happened to a message; `source` names the report it came from (a
/// replayed report changes nothing). Answers whether the event was new. A new event
/// re-evaluates the message's campaign, except `sent`: more sent messages never pass a
/// threshold, and the release after the canary's watch period is the sweep's (`work`).
pub async fn record_event(db: &Db, message_id: i64, kind: &str, source: &str, at: i64, detail: &str) -> Result<bool, AppError> {
    if !KINDS.contains(&kind) {
        return Err(AppError::internal(format!("unknown message event {kind:?}")));
    }
    let inserted =
        sqlx::query("INSERT INTO message_events (message_id, kind, at, detail, source) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(message_id)
            .bind(kind)
            .bind(at)
            .bind(detail)
            .bind(source)
            .execute(&db.pool)
            .await?
            .rows_affected()
            == 1;
    if !inserted {
        return Ok(false);
    }
    if kind == "sent" {
        sqlx::query("UPDATE messages SET state = 'sent', sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(at)
            .bind(message_id)
            .execute(&db.pool)
            .await?;
        return Ok(true);
    }
    let campaign: Option<i64> =
        sqlx::query_scalar("SELECT campaign_id FROM messages WHERE id = $1").bind(message_id).fetch_optional(&db.pool).await?;
    if let Some(campaign_id) = campaign {
        evaluate(db, campaign_id, now_millis().max(at)).await?;
    }
    Ok(true)
}

/// What an evaluation did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Nothing to do (not running, or nothing changed).
    Unchanged,
    /// A threshold was passed: the campaign halted.
    Halted(Breach),
    /// The canary passed: the held audience was released.
    Released { messages: u64 },
}

/// SQL counting the messages `m` with at least one event of `kind` (each message once,
/// however many reports came in). `kind` is one of `KINDS`, never user input.
fn messages_with(kind: &str) -> String {
    debug_assert!(KINDS.contains(&kind));
    format!("COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.kind = '{kind}') THEN 1 ELSE 0 END), 0)")
}

/// The counts the thresholds are judged on: messages sent since `monitor_from` (only the
/// canary's while the canary holds). Each message counts once per kind, however many
/// reports came in, and complaints once per buyer. Delivered = sent − bounced.
pub async fn counts(db: &Db, campaign_id: i64, canary_only: bool, from: i64) -> Result<Counts, AppError> {
    // Complaints count buyers: one buyer's reports about several messages are one.
    let sql = format!(
        "SELECT COUNT(*) AS sent, {} AS bounced, \
                COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM message_events e WHERE e.message_id = m.id AND e.kind = 'complained') \
                                    THEN m.customer_id END) AS complained, \
                {} AS unsubscribed \
         FROM messages m WHERE m.campaign_id = $1 AND m.sent_at IS NOT NULL AND m.sent_at >= $2 AND (m.canary = 1 OR $3 = 0)",
        messages_with("bounced"),
        messages_with("unsubscribed")
    );
    let row = sqlx::query(&sql).bind(campaign_id).bind(from).bind(i64::from(canary_only)).fetch_one(&db.pool).await?;
    let sent = row.get::<i64, _>("sent") as u64;
    let bounced = row.get::<i64, _>("bounced") as u64;
    Ok(Counts {
        sent,
        delivered: sent.saturating_sub(bounced),
        bounced,
        complained: row.get::<i64, _>("complained") as u64,
        unsubscribed: row.get::<i64, _>("unsubscribed") as u64,
    })
}

/// Judges a running campaign now: halts it past a threshold; releases the held audience
/// when the canary's messages are all out, enough of them were judged, and the watch
/// period after the last one has passed without a breach.
pub async fn evaluate(db: &Db, campaign_id: i64, now: i64) -> Result<Outcome, AppError> {
    let Some(row) = sqlx::query("SELECT client_id, rules, state, phase, monitor_from FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(Outcome::Unchanged);
    };
    if row.get::<String, _>("state") != "running" {
        return Ok(Outcome::Unchanged);
    }
    let client_id: i64 = row.get("client_id");
    let rules = CampaignRules::parse(&row.get::<String, _>("rules"))?;
    let Some(canary) = rules.canary else { return Ok(Outcome::Unchanged) };
    let in_canary = row.get::<String, _>("phase") == "canary";
    let counts = counts(db, campaign_id, in_canary, row.get("monitor_from")).await?;
    if let Some(b) = breach(counts, canary.thresholds) {
        let halted =
            sqlx::query("UPDATE campaigns SET state = 'halted', halt_reason = $1, updated_at = $2 WHERE id = $3 AND state = 'running'")
                .bind(b.explain())
                .bind(now)
                .bind(campaign_id)
                .execute(&db.pool)
                .await?
                .rows_affected();
        if halted == 1 {
            crate::audit::record(db, None, "starling", "campaign.halt", Some(client_id), &format!("campaign {campaign_id}"), &b.explain())
                .await?;
            tracing::warn!(campaign_id, reason = %b.explain(), "campaign halted");
            return Ok(Outcome::Halted(b));
        }
        return Ok(Outcome::Unchanged);
    }
    if !in_canary {
        return Ok(Outcome::Unchanged);
    }
    let (waiting, total, last_sent): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN sent_at IS NULL AND state = 'queued' THEN 1 ELSE 0 END), 0), COUNT(*), MAX(sent_at) \
         FROM messages WHERE campaign_id = $1 AND canary = 1",
    )
    .bind(campaign_id)
    .fetch_one(&db.pool)
    .await?;
    let judged = counts.sent >= canary.thresholds.min_sent.min(total as u64);
    let watched = last_sent.is_some_and(|at| now >= at + i64::from(canary.hold_hours) * 3_600_000);
    if total == 0 || waiting > 0 || !judged || !watched {
        return Ok(Outcome::Unchanged);
    }
    let released = release(db, campaign_id, now).await?;
    crate::audit::record(
        db,
        None,
        "starling",
        "campaign.canary_passed",
        Some(client_id),
        &format!("campaign {campaign_id}"),
        &format!(
            "canary of {} sent passed ({} bounced, {} complaints, {} unsubscribed); {released} held messages released",
            counts.sent, counts.bounced, counts.complained, counts.unsubscribed
        ),
    )
    .await?;
    Ok(Outcome::Released { messages: released })
}

/// Ends the canary phase: the held messages join the queue.
pub async fn release(db: &Db, campaign_id: i64, now: i64) -> Result<u64, AppError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE campaigns SET phase = 'full', updated_at = $1 WHERE id = $2").bind(now).bind(campaign_id).execute(&mut *tx).await?;
    let released = sqlx::query("UPDATE messages SET state = 'queued' WHERE campaign_id = $1 AND state = 'held'")
        .bind(campaign_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(released)
}

/// Re-evaluates every running campaign (the periodic sweep): canaries, and A/B tests, so a
/// winner is recorded (and promoted) without anyone opening the page.
pub async fn evaluate_running(db: &Db, now: i64) -> Result<Vec<(i64, Outcome)>, AppError> {
    let running: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, rules FROM campaigns WHERE state = 'running' ORDER BY id").fetch_all(&db.pool).await?;
    let mut out = Vec::new();
    for (id, rules) in running {
        let outcome = evaluate(db, id, now).await?;
        if outcome != Outcome::Unchanged {
            out.push((id, outcome));
        }
        if CampaignRules::parse(&rules).is_ok_and(|r| r.variants.len() > 1) {
            judge_test(db, id).await?;
        }
    }
    Ok(out)
}

/// The event that counts as success for an A/B test's target metric.
pub fn success_event(metric: &str) -> &'static str {
    if metric == "review" {
        "reviewed"
    } else {
        "clicked"
    }
}

/// One variant's numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantCounts {
    pub variant: i64,
    pub planned: u64,
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    pub reviewed: u64,
}

/// Per-variant counts (unique per message), from the outbox and the events.
pub async fn variant_counts(db: &Db, campaign_id: i64) -> Result<Vec<VariantCounts>, AppError> {
    let sql = format!(
        "SELECT m.variant, COUNT(*) AS planned, COALESCE(SUM(CASE WHEN m.sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS sent, \
           {} AS bounced, {} AS opened, {} AS clicked, {} AS reviewed \
         FROM messages m WHERE m.campaign_id = $1 AND m.state <> 'cancelled' GROUP BY m.variant ORDER BY m.variant",
        messages_with("bounced"),
        messages_with("opened"),
        messages_with("clicked"),
        messages_with("reviewed")
    );
    let rows = sqlx::query(&sql).bind(campaign_id).fetch_all(&db.pool).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let sent = r.get::<i64, _>("sent") as u64;
            VariantCounts {
                variant: r.get("variant"),
                planned: r.get::<i64, _>("planned") as u64,
                sent,
                delivered: sent.saturating_sub(r.get::<i64, _>("bounced") as u64),
                opened: r.get::<i64, _>("opened") as u64,
                clicked: r.get::<i64, _>("clicked") as u64,
                reviewed: r.get::<i64, _>("reviewed") as u64,
            }
        })
        .collect())
}

/// The arms of the test for its metric: delivered messages and their successes.
pub fn arms(counts: &[VariantCounts], variants: usize, metric: &str) -> Vec<Arm> {
    (0..variants)
        .map(|v| {
            counts.iter().find(|c| c.variant == v as i64).map_or(Arm::default(), |c| Arm {
                trials: c.delivered,
                successes: if success_event(metric) == "reviewed" { c.reviewed } else { c.clicked },
            })
        })
        .collect()
}

/// The test's verdict now; a winner is recorded the first time it is reached and never
/// changes afterwards (auto-promotion then sends it to the rest of the audience).
pub async fn judge_test(db: &Db, campaign_id: i64) -> Result<(Vec<VariantCounts>, Vec<Arm>, Verdict, Option<i64>), AppError> {
    let row = sqlx::query("SELECT client_id, rules, winner FROM campaigns WHERE id = $1")
        .bind(campaign_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("campaign {campaign_id}")))?;
    let rules = CampaignRules::parse(&row.get::<String, _>("rules"))?;
    let counts = variant_counts(db, campaign_id).await?;
    let arms = arms(&counts, rules.variants.len(), &rules.metric);
    let verdict = ab::verdict(&arms, ab::TAU2, ab::ALPHA);
    let mut winner: Option<i64> = row.get("winner");
    if let (Verdict::Winner(w), None) = (&verdict, winner) {
        let set = sqlx::query("UPDATE campaigns SET winner = $1, winner_at = $2 WHERE id = $3 AND winner IS NULL")
            .bind(*w as i64)
            .bind(now_millis())
            .bind(campaign_id)
            .execute(&db.pool)
            .await?
            .rows_affected();
        if set == 1 {
            let a = arms[*w];
            crate::audit::record(
                db,
                None,
                "starling",
                "campaign.winner",
                Some(row.get("client_id")),
                &format!("campaign {campaign_id}"),
                &format!("variant {} wins: {} of {} ({:.2}%)", variant_label(*w), a.successes, a.trials, a.rate() * 100.0),
            )
            .await?;
        }
        winner = Some(*w as i64);
    }
    Ok((counts, arms, verdict, winner))
}

/// The campaigns' background work, once a minute: plan every running campaign's newly due
/// orders, then judge the canaries (a watch period may have run out without any event).
pub async fn work(db: Db) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        if let Err(e) = sweep(&db).await {
            tracing::error!(error = %crate::error::report(&e), "campaign sweep failed");
        }
    }
}

async fn sweep(db: &Db) -> Result<(), AppError> {
    let salt = crate::common::fingerprint::salt(db).await?;
    let running: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, rules FROM campaigns WHERE state = 'running' ORDER BY id").fetch_all(&db.pool).await?;
    for (id, rules) in running {
        // A one-off batch was planned at launch; automations pick up newly due orders.
        let batch = CampaignRules::parse(&rules).is_ok_and(|r| r.trigger == super::eligibility::Trigger::Batch);
        if !batch {
            super::planner::plan(db, &salt, id, now_millis()).await?;
        }
    }
    evaluate_running(db, now_millis()).await?;
    Ok(())
}
