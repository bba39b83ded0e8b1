//! Watching a running campaign from its message events: the canary's halt thresholds,
//! releasing the held audience once the canary passed, and the A/B winner.
//!
//! `record_event` is the one way events enter (the Delivery issue's sender, tracking and
//! bounce webhooks call it); every new event re-evaluates its campaign at once, and a
//! periodic sweep (`evaluate_running`) catches canaries whose watch period ran out.

use super::ab::{self, Arm, Verdict};
use super::canary::{breach, Breach, Counts};
use super::model::{variant_label, CampaignPhase, CampaignState};
use super::planner::CampaignRules;
use super::store;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::outbox::model::EventKind;
use crate::outbox::store as outbox;
use serde::{Deserialize, Serialize};

/// Records that `kind` happened to a message; `source` names the report it came from (a
/// replayed report changes nothing). Answers whether the event was new. A new event
/// re-evaluates the message's campaign, except `sent`: more sent messages never pass a
/// threshold, and the release after the canary's watch period is the sweep's (`work`).
pub async fn record_event(db: &Db, message_id: i64, kind: EventKind, source: &str, at: i64, detail: &str) -> Result<bool, AppError> {
    if !outbox::insert_event(db, message_id, kind, source, at, detail).await? {
        return Ok(false);
    }
    if kind == EventKind::Sent {
        outbox::mark_sent(db, message_id, at).await?;
        return Ok(true);
    }
    if let Some(campaign_id) = outbox::campaign_of(db, message_id).await? {
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

/// The counts the thresholds are judged on: messages sent since `monitor_from` (only the
/// canary's while the canary holds). Each message counts once per kind, however many
/// reports came in, and complaints once per buyer. Delivered = sent − bounced.
pub async fn counts(db: &Db, campaign_id: i64, canary_only: bool, from: i64) -> Result<Counts, AppError> {
    let c = outbox::sent_counts(db, campaign_id, canary_only, from).await?;
    Ok(Counts {
        sent: c.sent,
        delivered: c.sent.saturating_sub(c.bounced),
        bounced: c.bounced,
        complained: c.complained,
        unsubscribed: c.unsubscribed,
    })
}

/// Judges a running campaign now: halts it past a threshold; releases the held audience
/// when the canary's messages are all out, enough of them were judged, and the watch
/// period after the last one has passed without a breach.
pub async fn evaluate(db: &Db, campaign_id: i64, now: i64) -> Result<Outcome, AppError> {
    let Some(campaign) = store::monitored(db, campaign_id).await? else {
        return Ok(Outcome::Unchanged);
    };
    if campaign.state != CampaignState::Running {
        return Ok(Outcome::Unchanged);
    }
    let client_id = campaign.client_id;
    let rules = CampaignRules::parse(&campaign.rules)?;
    let Some(canary) = rules.canary else { return Ok(Outcome::Unchanged) };
    let in_canary = campaign.phase == CampaignPhase::Canary;
    let counts = counts(db, campaign_id, in_canary, campaign.monitor_from).await?;
    if let Some(b) = breach(counts, canary.thresholds) {
        if store::halt(db, campaign_id, &b.explain(), now).await? {
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
    let outbox::CanaryProgress { waiting, total, last_sent } = outbox::canary_progress(db, campaign_id).await?;
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
    store::end_canary(&mut tx, campaign_id, now).await?;
    let released = outbox::release_held(&mut tx, campaign_id).await?;
    tx.commit().await?;
    Ok(released)
}

/// Re-evaluates every running campaign (the periodic sweep): canaries, and A/B tests, so a
/// winner is recorded (and promoted) without anyone opening the page.
pub async fn evaluate_running(db: &Db, now: i64) -> Result<Vec<(i64, Outcome)>, AppError> {
    let running = store::running(db).await?;
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
pub fn success_event(metric: &str) -> EventKind {
    if metric == "review" {
        EventKind::Reviewed
    } else {
        EventKind::Clicked
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
    Ok(outbox::variant_tallies(db, campaign_id)
        .await?
        .into_iter()
        .map(|t| VariantCounts {
            variant: t.variant,
            planned: t.planned,
            sent: t.sent,
            delivered: t.sent.saturating_sub(t.bounced),
            opened: t.opened,
            clicked: t.clicked,
            reviewed: t.reviewed,
        })
        .collect())
}

/// The arms of the test for its metric: delivered messages and their successes.
pub fn arms(counts: &[VariantCounts], variants: usize, metric: &str) -> Vec<Arm> {
    (0..variants)
        .map(|v| {
            counts.iter().find(|c| c.variant == v as i64).map_or(Arm::default(), |c| Arm {
                trials: c.delivered,
                successes: if success_event(metric) == EventKind::Reviewed { c.reviewed } else { c.clicked },
            })
        })
        .collect()
}

/// The test's verdict now; a winner is recorded the first time it is reached and never
/// changes afterwards (auto-promotion then sends it to the rest of the audience).
pub async fn judge_test(db: &Db, campaign_id: i64) -> Result<(Vec<VariantCounts>, Vec<Arm>, Verdict, Option<i64>), AppError> {
    let test = store::ab_test(db, campaign_id).await?.ok_or_else(|| AppError::NotFound(format!("campaign {campaign_id}")))?;
    let rules = CampaignRules::parse(&test.rules)?;
    let counts = variant_counts(db, campaign_id).await?;
    let arms = arms(&counts, rules.variants.len(), &rules.metric);
    let verdict = ab::verdict(&arms, ab::TAU2, ab::ALPHA);
    let mut winner: Option<i64> = test.winner;
    if let (Verdict::Winner(w), None) = (&verdict, winner) {
        if store::declare_winner(db, campaign_id, *w as i64, now_millis()).await? {
            let a = arms[*w];
            crate::audit::record(
                db,
                None,
                "starling",
                "campaign.winner",
                Some(test.client_id),
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
    let running = store::running(db).await?;
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
