//! The phone worker, one per channel: claims due SMS (or WhatsApp) messages of running
//! campaigns, renders each from the approved version's SMS part (or fills in its WhatsApp
//! template), holds it back outside the recipient's quiet hours, sends it through the
//! provider and records the outcome, with what it cost.
//!
//! Claims, tries and crash settling are the e-mail outbox's (`outbox::store`): a try is
//! written before the text leaves, accepted texts are recorded in small group commits, and
//! a process that dies leaves its claims to `delivery::sender::settle`. Outcomes: the
//! provider took it → `sent` (its id kept, so status reports find it); a 429 is waited out;
//! a timeout or 5xx → queued again with the e-mail back-off until the give-up time; a
//! refusal → `failed` with the provider's words, and a number the provider holds an
//! opt-out for is suppressed for the brand on every channel.

use super::{SendFailure, Sms, TemplateCall, TextProvider};
use crate::campaigns::eligibility::SendWindow;
use crate::campaigns::quiet;
use crate::connectors::http::Failure;
use crate::db::{now_millis, Db};
use crate::delivery::compose::{self, Outgoing};
use crate::delivery::sender::{backoff_ms, RetryPolicy};
use crate::error::AppError;
use crate::outbox::model::{AttemptOutcome, Channel};
use crate::outbox::store::{self as outbox, TextSent};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// 429s waited out for one text before it is queued again.
const MAX_WAITS: u32 = 20;
/// How often the provider is asked for the prices of recent texts.
const PRICE_EVERY_MS: i64 = 60_000;

#[derive(Clone)]
pub struct TextSender {
    pub db: Db,
    /// `Channel::Sms` or `Channel::Whatsapp`: the messages this worker sends.
    pub channel: Channel,
    pub provider: Arc<dyn TextProvider>,
    pub secret: Arc<secrecy::SecretString>,
    /// Where links in texts point.
    pub public_url: String,
    pub worker: String,
    /// Texts in flight at once, and claimed per batch.
    pub concurrency: usize,
    pub batch: i64,
    pub retry: RetryPolicy,
    pub lease_ms: i64,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextStats {
    pub claimed: u64,
    pub sent: u64,
    /// Queued again: temporary failures, and texts held for the quiet hours.
    pub deferred: u64,
    pub failed: u64,
    /// 429s the provider answered (each waited out).
    pub throttled: u64,
}

impl TextStats {
    fn add(&mut self, o: TextStats) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.deferred += o.deferred;
        self.failed += o.failed;
        self.throttled += o.throttled;
    }
}

/// How one text's send ended.
enum Sent {
    Accepted(super::Accepted),
    Failed(SendFailure),
}

impl TextSender {
    /// Runs until the process ends: sends what is due, keeping this worker's claims alive.
    pub async fn run(self) {
        let beat = self.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis((beat.lease_ms / 3).max(100) as u64);
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = outbox::heartbeat(&beat.db, &beat.worker, now_millis()).await {
                    tracing::error!(error = %crate::error::report(&e), "refreshing this worker's text claims failed");
                }
            }
        });
        let mut priced_at = 0;
        loop {
            let now = now_millis();
            if self.provider.reports_prices() && now - priced_at >= PRICE_EVERY_MS {
                priced_at = now;
                if let Err(e) = self.reconcile_prices(now).await {
                    tracing::error!(error = %crate::error::report(&e), "asking the SMS provider for prices failed");
                }
            }
            match self.pass(now).await {
                Ok(stats) if stats.claimed > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::error::report(&e), channel = self.channel.as_str(), "text pass failed"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Asks the provider what it charged for texts sent at least a minute ago (it prices a
    /// text once the carrier has it) and not priced by it yet, each at most once an hour for
    /// three days; a price found replaces the contract's. Answers how many got one.
    pub async fn reconcile_prices(&self, now: i64) -> Result<u64, AppError> {
        let due = outbox::unpriced_texts(&self.db, now - 3 * 86_400_000, now - 60_000, now - 3_600_000, 500).await?;
        let found: Vec<(i64, Result<Option<super::Price>, Failure>)> = futures_util::stream::iter(due)
            .map(|(id, provider_ref)| async move { (id, self.provider.price(&provider_ref).await) })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut priced = 0;
        for (id, price) in found {
            match price {
                Ok(price) => {
                    priced += u64::from(price.is_some());
                    outbox::record_text_price(&self.db, id, price.as_ref().map(|p| (p.micros, p.currency.as_str())), now).await?;
                }
                // Asked again at the next round.
                Err(f) => tracing::info!(message = id, reason = %f.describe(self.provider.name()), "no price from the SMS provider yet"),
            }
        }
        Ok(priced)
    }

    /// Sends everything due now until nothing is left (what `run` does, for a caller that
    /// wants to know when it is done).
    pub async fn drain(&self) -> Result<TextStats, AppError> {
        let mut total = TextStats::default();
        loop {
            let pass = self.pass(now_millis()).await?;
            if pass.claimed == 0 {
                return Ok(total);
            }
            total.add(pass);
        }
    }

    /// Claims one batch of due texts and sends them.
    pub async fn pass(&self, now: i64) -> Result<TextStats, AppError> {
        let ids = outbox::claim_channel(&self.db, self.channel, &self.worker, now, self.batch).await?;
        let mut stats = TextStats { claimed: ids.len() as u64, ..TextStats::default() };
        if ids.is_empty() {
            return Ok(stats);
        }
        let outgoing = crate::delivery::store::outgoing(&self.db, &ids).await?;
        let prices = crate::clients::store::channel_prices(&self.db, self.channel.as_str()).await?;
        let mut ready = Vec::with_capacity(outgoing.len());
        for m in outgoing {
            // Quiet hours are checked again at sending: a text planned inside them may be
            // claimed late (a backlog, an outage, a retry).
            let zones = quiet::zones_of(&m.phone);
            if !quiet::allowed_now(now, &zones) {
                let at = quiet::next_allowed(now, SendWindow { start_hour: 0, end_hour: 24 }, &zones).unwrap_or(now + 3_600_000);
                outbox::requeue(&self.db, m.id, at, "held for the recipient's quiet hours (08:00-21:00 local time)").await?;
                stats.deferred += 1;
                continue;
            }
            match self.compose(&m) {
                Ok(sms) => ready.push((m, sms)),
                Err(why) => {
                    outbox::mark_failed(&self.db, m.id, &why).await?;
                    stats.failed += 1;
                }
            }
        }
        // One row per try, written before any text of the batch leaves.
        let attempts: Vec<String> = ready.iter().map(|(m, _)| format!("{}-{}", m.id, m.attempts)).collect();
        let tries: Vec<(i64, &str)> = ready.iter().zip(&attempts).map(|((m, _), name)| (m.id, name.as_str())).collect();
        outbox::start_attempts(&self.db, &self.worker, now_millis(), &tries).await?;
        let throttled = std::sync::atomic::AtomicU64::new(0);
        let results: Vec<(Outgoing, String, String, Sent)> = futures_util::stream::iter(ready.into_iter().zip(attempts))
            .map(|((m, sms), attempt)| {
                let throttled = &throttled;
                async move {
                    // A try cut off by a crash may have reached the provider: ask before
                    // sending again, so the buyer never gets the text twice.
                    let sent = match self.taken_before(&m, &sms).await {
                        Some(accepted) => Sent::Accepted(accepted),
                        None => self.send_waiting(&sms, throttled).await,
                    };
                    (m, attempt, sms.body, sent)
                }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        stats.throttled = throttled.into_inner();
        // What the provider took is recorded first, in one transaction: a failure recorded
        // after it cannot leave a sent text looking unsent.
        let mut accepted = Vec::new();
        let mut failed = Vec::new();
        let at = now_millis();
        for (m, attempt, body, sent) in results {
            match sent {
                Sent::Accepted(a) => {
                    let segments = match self.channel {
                        // A WhatsApp message is billed as one, whatever its length.
                        Channel::Whatsapp => 1,
                        _ => a.segments.unwrap_or_else(|| crate::common::segments::count(&body).parts as i64),
                    };
                    let (cost_micros, cost_currency, cost_source) = match (&a.price, prices.get(&m.client_id)) {
                        (Some(p), _) => (Some(p.micros), p.currency.clone(), "provider"),
                        (None, Some((per_thousand, currency))) => (Some(per_thousand / 1000), currency.clone(), "contract"),
                        (None, None) => (None, String::new(), ""),
                    };
                    accepted.push(TextSent {
                        message_id: m.id,
                        attempt,
                        at,
                        provider_ref: a.provider_ref,
                        segments,
                        cost_micros,
                        cost_currency,
                        cost_source: cost_source.to_string(),
                    });
                }
                Sent::Failed(f) => failed.push((m, attempt, f)),
            }
        }
        outbox::record_texts_sent(&self.db, &accepted).await?;
        stats.sent += accepted.len() as u64;
        for (m, attempt, f) in failed {
            match self.record_failure(&m, &attempt, f).await {
                Ok(true) => stats.deferred += 1,
                Ok(false) => stats.failed += 1,
                Err(e) => {
                    stats.failed += 1;
                    tracing::error!(error = %crate::error::report(&e), message = m.id, "a text's failure could not be recorded");
                }
            }
        }
        Ok(stats)
    }

    /// The message to send for `m`: its sender and body, and for WhatsApp the template
    /// filled in; or why it cannot be sent.
    fn compose(&self, m: &Outgoing) -> Result<Sms, String> {
        use secrecy::ExposeSecret;
        let secret = self.secret.expose_secret();
        match self.channel {
            Channel::Whatsapp => {
                if m.whatsapp_phone_id.trim().is_empty() {
                    return Err("the brand has no WhatsApp number: set its phone number id on the brand's page".into());
                }
                if m.whatsapp_template.is_empty() {
                    return Err("Meta no longer approves the version's WhatsApp template (rejected, paused or disabled)".into());
                }
                let (parameters, body) = compose::compose_whatsapp(m, secret, &self.public_url).map_err(|e| e.to_string())?;
                Ok(Sms {
                    to: m.phone.clone(),
                    from: m.whatsapp_phone_id.clone(),
                    body,
                    template: Some(TemplateCall { name: m.whatsapp_template.clone(), language: m.whatsapp_language.clone(), parameters }),
                    message_id: m.id,
                })
            }
            _ => {
                let from = super::sender_for(&m.sms_sender, &m.sms_number, &m.phone)?;
                let body = compose::compose_text(m, secret, &self.public_url).map_err(|e| e.to_string())?;
                Ok(Sms { to: m.phone.clone(), from, body, template: None, message_id: m.id })
            }
        }
    }

    /// The message as the provider took it before, when the message's previous try was cut
    /// off (its process died: `unknown`) and either a status report on it arrived since
    /// (which recorded the provider's id) or the provider has one with the same sender,
    /// number and body since that try began.
    async fn taken_before(&self, m: &Outgoing, sms: &Sms) -> Option<super::Accepted> {
        if m.attempts < 2 {
            return None;
        }
        let tries = outbox::attempts_of(&self.db, m.id).await.ok()?;
        let cut_off = tries.iter().rev().skip(1).find(|t| t.outcome == AttemptOutcome::Unknown)?;
        if let Ok(Some(provider_ref)) = outbox::provider_ref_of(&self.db, m.id).await {
            return Some(super::Accepted { provider_ref, segments: None, price: None });
        }
        match self.provider.find(&sms.from, &sms.to, &sms.body, cut_off.started_at).await {
            Ok(found) => found,
            Err(f) => {
                // Not knowing is not a reason to hold the text back for ever: it is sent.
                tracing::warn!(message = m.id, reason = %f.describe(self.provider.name()), "could not ask the SMS provider about a cut-off try");
                None
            }
        }
    }

    /// Sends one text, waiting out the provider's 429s.
    async fn send_waiting(&self, sms: &Sms, throttled: &std::sync::atomic::AtomicU64) -> Sent {
        let mut waits = 0;
        loop {
            match self.provider.send(sms).await {
                Ok(accepted) => return Sent::Accepted(accepted),
                Err(SendFailure { failure: Failure::RateLimited(wait), .. }) if waits < MAX_WAITS => {
                    waits += 1;
                    throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(wait.clamp(Duration::from_millis(50), Duration::from_secs(30))).await;
                }
                Err(failure) => return Sent::Failed(failure),
            }
        }
    }

    /// Records a text the provider did not take; answers whether it was queued again.
    async fn record_failure(&self, m: &Outgoing, attempt: &str, f: SendFailure) -> Result<bool, AppError> {
        let db = &self.db;
        let now = now_millis();
        let why = f.failure.describe(self.provider.name());
        let retry = matches!(f.failure, Failure::Transient(_) | Failure::RateLimited(_) | Failure::Unauthorized(_) | Failure::Expired);
        let first = outbox::first_try_at(db, m.id).await?.unwrap_or(now);
        if retry && now - first < self.retry.give_up_after_ms {
            outbox::finish_attempt(db, attempt, now, AttemptOutcome::Retry, &why).await?;
            outbox::requeue(db, m.id, now + backoff_ms(self.retry, m.attempts, rand::random::<f64>()), &why).await?;
            if matches!(f.failure, Failure::Unauthorized(_)) {
                tracing::error!(reason = %why, provider = self.provider.name(), "the provider refused Starling's credentials; messages wait");
            }
            return Ok(true);
        }
        outbox::finish_attempt(db, attempt, now, AttemptOutcome::Failed, &why).await?;
        outbox::mark_failed(db, m.id, &why).await?;
        if f.opted_out {
            crate::delivery::suppress_buyer(db, m.id, crate::orders::model::Reason::Unsubscribed, &why, "sms provider").await?;
        }
        Ok(false)
    }
}
