//! The outbox worker: claims due messages of running campaigns, composes and signs each,
//! sends it, and records the outcome.
//!
//! **Claiming.** One statement moves a batch from `queued` to `sending` under this worker's
//! name (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several server processes take disjoint
//! batches; SQLite has a single writer). Each try is a row in `delivery_attempts` written
//! before the message leaves.
//!
//! **Outcomes.** 2xx: `sent` (and a `sent` event, which the canary counts). 5xx: `failed`,
//! a hard bounce (event and suppression of the address for the brand). 4xx, a dropped
//! connection or a timeout: back to `queued` with exponential back-off and jitter (1 min,
//! 2, 4, … capped at 2 h), `failed` once the first try is 24 h old (`RetryPolicy`).
//!
//! **Crashes.** A message left in `sending` by a process that died (its claim older than
//! the lease) had an attempt that may or may not have reached the SMTP server: SMTP gives
//! no way to ask. `settle` marks that attempt `unknown` and queues the message again with
//! the same Message-ID. So nothing is silently dropped, and the only possible duplicates
//! are messages that were in flight at the moment of the crash (at most the worker's
//! concurrency per process), each carrying one Message-ID by which receivers and the logs
//! can tell the copies apart. Each accepted message is noted in this process's journal
//! the moment the relay accepts it (`journal`), so `settle` records those as sent instead
//! of queueing them again: only the messages whose SMTP transaction was open can arrive
//! twice, not the ones accepted but not yet recorded by the group commit.

use super::compose::{self, Composed, Outgoing};
use super::dkim::{self, Signer};
use crate::campaigns::monitor;
use crate::common::mailer::Mailer;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::model::Reason;
use crate::orders::privacy::{self, Scope};
use crate::outbox::model::{AttemptOutcome, EventKind, MessageState};
use crate::outbox::store::{self as outbox, Accepted};
use std::collections::HashMap;
use std::sync::Arc;

/// Accepted messages recorded together at most …
pub const FLUSH_ROWS: usize = 64;
/// … or after at most this long.
pub const FLUSH_MS: u64 = 20;

/// A claim not renewed for this long belongs to a process that is gone (the default lease;
/// a live worker renews its claims every third of it).
pub const LEASE_MS: i64 = 60_000;
/// When a message that got a temporary failure (a 4xx reply, a dropped or refused
/// connection, a timeout) is tried again: after `first_ms`, then twice as long each time up
/// to `max_ms`, with up to 20% jitter; it fails once its first try is older than
/// `give_up_after_ms`. Time, not a count of tries, decides, as MTAs do: an outage of the
/// relay costs a message waiting time, not its chances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_ms: i64,
    pub max_ms: i64,
    pub give_up_after_ms: i64,
}

impl Default for RetryPolicy {
    /// 1 min, 2, 4, … up to 2 h between tries, for up to 24 h.
    fn default() -> Self {
        RetryPolicy { first_ms: 60_000, max_ms: 2 * 3_600_000, give_up_after_ms: 24 * 3_600_000 }
    }
}

/// What the worker needs: the database, the mailer, the key for links and Message-IDs, the
/// public URL links point to, and how many sends run at once.
#[derive(Clone)]
pub struct Sender {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub secret: Arc<secrecy::SecretString>,
    pub public_url: String,
    pub worker: String,
    pub concurrency: usize,
    pub batch: i64,
    /// Per-recipient-domain send rates.
    pub limits: Arc<super::limits::DomainLimits>,
    /// When and for how long 4xx replies and dropped connections are retried.
    pub retry: RetryPolicy,
    /// A claim not renewed for this long belongs to a process that is gone (`settle`).
    pub lease_ms: i64,
    /// Where each accepted message is noted at once (`journal`), so a crash re-sends only
    /// what was in flight; `None` sends without one.
    pub journal: Option<Arc<super::journal::Journal>>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
}

impl PassStats {
    fn add(&mut self, other: PassStats) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
    }
}

/// A worker sends in two lanes: while one is between batches (claiming, reading its
/// messages, recording what was accepted: database work on one thread) the other keeps
/// the SMTP connections busy. With one lane the senders sat idle at every batch boundary.
const LANES: usize = 2;

/// Back-off before try `attempt + 1`: `first_ms` · 2^(attempt − 1), capped at `max_ms`, with
/// up to 20% jitter so retries of one outage do not arrive together.
pub fn backoff_ms(policy: RetryPolicy, attempt: i64, jitter: f64) -> i64 {
    let base = policy.first_ms.saturating_mul(1i64 << (attempt - 1).clamp(0, 20)).min(policy.max_ms);
    base + (base as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64
}

impl Sender {
    /// Runs until the process ends: sends what is due, keeps this worker's claims alive
    /// (a heartbeat every third of the lease), and settles claims whose process stopped
    /// beating (at start, then once per lease).
    pub async fn run(self) {
        let beat = self.clone();
        tokio::spawn(async move {
            let every = std::time::Duration::from_millis((beat.lease_ms / 3).max(100) as u64);
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = heartbeat(&beat.db, &beat.worker, now_millis()).await {
                    tracing::error!(error = %crate::error::report(&e), "refreshing this worker's claims failed");
                }
            }
        });
        let lane = self.lane();
        for _ in 1..LANES {
            let lane = lane.clone();
            tokio::spawn(async move { lane.keep_sending(false).await });
        }
        lane.keep_sending(true).await
    }

    /// One lane's loop: passes back to back while there is work, a pause when there is
    /// none; the lane that `settles` also settles abandoned claims once per lease.
    async fn keep_sending(&self, settles: bool) {
        let mut settled_at = 0;
        loop {
            let now = now_millis();
            if settles && now - settled_at >= self.lease_ms {
                settled_at = now;
                let journals = self.journal.as_deref().map(super::journal::Journal::dir);
                if let Err(e) = settle(&self.db, now, self.lease_ms, journals).await {
                    tracing::error!(error = %crate::error::report(&e), "settling abandoned sends failed");
                }
                if let Some(dir) = journals {
                    if let Err(e) = super::journal::forget_settled(&self.db, dir, &self.worker).await {
                        tracing::error!(error = %crate::error::report(&e), "removing settled outbox journals failed");
                    }
                }
            }
            match self.pass(now).await {
                Ok(stats) if stats.claimed > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::error::report(&e), "delivery pass failed"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// One of the worker's lanes: half its batch and half its concurrency, so that what
    /// the worker claims and sends at once stays what was configured.
    fn lane(&self) -> Sender {
        Sender { concurrency: (self.concurrency / LANES).max(1), batch: (self.batch / LANES as i64).max(1), ..self.clone() }
    }

    /// Sends everything due, in lanes, until no lane finds more (what `run` does, for a
    /// caller that wants to know when the outbox is empty).
    pub async fn drain(&self) -> Result<PassStats, AppError> {
        let lane = self.lane();
        let mut lanes = tokio::task::JoinSet::new();
        for _ in 0..LANES {
            let lane = lane.clone();
            lanes.spawn(async move {
                let mut total = PassStats::default();
                loop {
                    let pass = lane.pass(now_millis()).await?;
                    if pass.claimed == 0 {
                        return Ok::<_, AppError>(total);
                    }
                    total.add(pass);
                }
            });
        }
        let mut total = PassStats::default();
        while let Some(done) = lanes.join_next().await {
            total.add(done.map_err(|e| AppError::caused("a background task stopped", e))??);
        }
        Ok(total)
    }

    /// Claims one batch of due messages and sends them.
    pub async fn pass(&self, now: i64) -> Result<PassStats, AppError> {
        let ids = claim(&self.db, &self.worker, now, self.batch).await?;
        let mut stats = PassStats { claimed: ids.len() as u64, ..PassStats::default() };
        if ids.is_empty() {
            return Ok(stats);
        }
        let outgoing = super::store::outgoing(&self.db, &ids).await?;
        let mut signers: HashMap<i64, Option<Arc<Signer>>> = HashMap::new();
        for m in &outgoing {
            if let std::collections::hash_map::Entry::Vacant(slot) = signers.entry(m.brand_id) {
                slot.insert(dkim::signer(&self.db, m.brand_id).await?.map(Arc::new));
            }
        }
        // One row per try, written before any message of the batch leaves.
        let started = now_millis();
        let attempts: Vec<String> = outgoing.iter().map(|m| format!("{}-{}", m.id, m.attempts)).collect();
        let tries: Vec<(i64, &str)> = outgoing.iter().zip(&attempts).map(|(m, name)| (m.id, name.as_str())).collect();
        outbox::start_attempts(&self.db, &self.worker, started, &tries).await?;
        let limit = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (m, attempt) in outgoing.into_iter().zip(attempts) {
            let signer = signers.get(&m.brand_id).cloned().flatten();
            let this = self.clone();
            let permit = limit.clone().acquire_owned().await.map_err(|e| AppError::caused("the send concurrency limit was closed", e))?;
            tasks.spawn(async move {
                let result = this.send_one(&m, signer.as_deref(), now).await;
                let at = now_millis();
                // Noted the moment the relay accepted it, before the group commit.
                if let (Ok(reply), Some(journal)) = (&result, &this.journal) {
                    journal.accepted(&attempt, at, reply);
                }
                drop(permit);
                (m, attempt, result, at)
            });
        }
        // Accepted messages are recorded in small groups (group commit): at most
        // FLUSH_ROWS messages or FLUSH_MS of them wait to be recorded, which bounds what a
        // crash can leave unrecorded beyond the SMTP ambiguity itself.
        let mut delivered = Vec::new();
        let mut oldest = std::time::Instant::now();
        let flush_after = std::time::Duration::from_millis(FLUSH_MS);
        loop {
            let next = tokio::time::timeout(flush_after, tasks.join_next()).await;
            let finished = match next {
                Ok(None) => true,
                Ok(Some(done)) => {
                    let (m, attempt, result, at) = done.map_err(|e| AppError::caused("a background task stopped", e))?;
                    match result {
                        Ok(reply) => {
                            if delivered.is_empty() {
                                oldest = std::time::Instant::now();
                            }
                            delivered.push(Accepted { message_id: m.id, attempt, at, reply });
                        }
                        Err(e) => match self.record_failure(&m, &attempt, e).await {
                            Ok(Outcome::Retry) => stats.retried += 1,
                            Ok(_) => stats.failed += 1,
                            Err(e) => {
                                stats.failed += 1;
                                tracing::error!(error = %crate::error::report(&e), "a message could not be recorded");
                            }
                        },
                    }
                    false
                }
                Err(_) => false,
            };
            if !delivered.is_empty() && (finished || delivered.len() >= FLUSH_ROWS || oldest.elapsed() >= flush_after) {
                outbox::record_accepted(&self.db, &delivered).await?;
                stats.sent += delivered.len() as u64;
                delivered.clear();
            }
            if finished {
                return Ok(stats);
            }
        }
    }

    /// Composes, signs and sends one message (its try is recorded already).
    async fn send_one(&self, m: &Outgoing, signer: Option<&Signer>, now: i64) -> Result<String, crate::common::mailer::SendError> {
        use secrecy::ExposeSecret;
        let composed = compose::compose(m, self.secret.expose_secret(), &self.public_url, now)
            .and_then(|c| sign(c, signer))
            .map_err(|e| crate::common::mailer::SendError { permanent: true, message: e.to_string() })?;
        self.limits.wait_turn(&composed.to).await;
        self.mailer.send_raw(&composed.from, &composed.to, &composed.bytes).await
    }

    /// Records a try that failed: queued again after its back-off (`Retry`), or failed (a
    /// 5xx, or temporary failures for longer than the policy allows). Accepted messages
    /// are recorded in groups by `outbox::record_accepted`.
    async fn record_failure(&self, m: &Outgoing, attempt: &str, error: crate::common::mailer::SendError) -> Result<Outcome, AppError> {
        let db = &self.db;
        let now = now_millis();
        let (outcome, reply) = if error.permanent {
            (Outcome::Failed, error.message.clone())
        } else if self.queued_too_long(m.id, now).await? {
            let hours = self.retry.give_up_after_ms / 3_600_000;
            (Outcome::Failed, format!("gave up after {hours} h of temporary failures: {}", error.message))
        } else {
            (Outcome::Retry, error.message.clone())
        };
        outbox::finish_attempt(db, attempt, now, outcome.attempt_outcome(), &reply).await?;
        match outcome {
            Outcome::Retry => {
                let jitter = (now.rem_euclid(997) as f64) / 997.0;
                outbox::requeue(db, m.id, now + backoff_ms(self.retry, m.attempts, jitter), &reply).await?;
            }
            Outcome::Failed => {
                outbox::mark_failed(db, m.id, &reply).await?;
                if error.permanent {
                    // A 5xx is a hard bounce: the address is never tried again for this brand.
                    monitor::record_event(db, m.id, EventKind::Bounced, attempt, now, &reply).await?;
                    let salt = crate::common::fingerprint::salt(db).await?;
                    let scope = Scope { client_id: Some(m.client_id), brand_id: Some(m.brand_id) };
                    let _ = privacy::suppress(db, &salt, scope, &m.email, Reason::HardBounce, &reply, "delivery").await;
                }
            }
        }
        Ok(outcome)
    }

    /// Whether the message's first try is older than the policy's give-up time.
    async fn queued_too_long(&self, message_id: i64, now: i64) -> Result<bool, AppError> {
        let first = outbox::first_try_at(&self.db, message_id).await?;
        Ok(first.is_some_and(|at| now - at >= self.retry.give_up_after_ms))
    }
}

fn sign(mut composed: Composed, signer: Option<&Signer>) -> Result<Composed, AppError> {
    if let Some(signer) = signer {
        let header = signer.sign(&composed.bytes)?;
        let mut signed = header.into_bytes();
        signed.extend_from_slice(&composed.bytes);
        composed.bytes = signed;
    }
    Ok(composed)
}

/// What became of a failed try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Retry,
    Failed,
}

impl Outcome {
    fn attempt_outcome(self) -> AttemptOutcome {
        match self {
            Outcome::Retry => AttemptOutcome::Retry,
            Outcome::Failed => AttemptOutcome::Failed,
        }
    }
}

/// Moves up to `limit` due messages of running campaigns to `sending` under `worker`.
pub async fn claim(db: &Db, worker: &str, now: i64, limit: i64) -> Result<Vec<i64>, AppError> {
    outbox::claim(db, worker, now, limit).await
}

/// Renews the claims `worker` holds: a live process's messages in `sending` never look
/// abandoned, however long its batch takes.
pub async fn heartbeat(db: &Db, worker: &str, now: i64) -> Result<u64, AppError> {
    outbox::heartbeat(db, worker, now).await
}

/// Settles claims abandoned by a process that died. A message whose last try was recorded
/// as sent (or failed) before the process died takes that state; otherwise its unfinished
/// try is marked `unknown` (it may have reached the server) and the message is queued
/// again, keeping its Message-ID. Answers how many were settled.
pub async fn settle(db: &Db, now: i64, lease_ms: i64, journals: Option<&std::path::Path>) -> Result<u64, AppError> {
    let cutoff = now - lease_ms;
    // Tries the relay accepted that the dead process had not recorded yet.
    let accepted = journals.map(super::journal::read_all).unwrap_or_default();
    let stale = outbox::abandoned(db, cutoff).await?;
    let mut settled = 0;
    for &id in &stale {
        // The last try may have been recorded as finished before the process died (then
        // its outcome stands), or not (then it may or may not have reached the server).
        let last = outbox::last_attempt(db, id).await?;
        let journaled = last.as_ref().and_then(|l| l.finished_at.is_none().then(|| accepted.get(&l.attempt)).flatten());
        let (state, sent_at) = match (&last, journaled) {
            (Some(l), _) if l.outcome == AttemptOutcome::Sent && l.finished_at.is_some() => (MessageState::Sent, l.finished_at),
            (Some(l), _) if l.outcome == AttemptOutcome::Failed && l.finished_at.is_some() => (MessageState::Failed, None),
            (_, Some((at, _))) => (MessageState::Sent, Some(*at)),
            _ => (MessageState::Queued, None),
        };
        // Still abandoned when it is settled (not claimed again or renewed meanwhile).
        if !outbox::settle(db, id, state, now, sent_at, cutoff).await? {
            continue;
        }
        settled += 1;
        match (state, &last) {
            (MessageState::Sent, Some(l)) => match l.finished_at {
                Some(at) => {
                    monitor::record_event(db, id, EventKind::Sent, &l.attempt, at, &l.reply).await?;
                }
                None => {
                    // Accepted by the relay, as the journal says: recorded now.
                    let (at, reply) = accepted.get(&l.attempt).cloned().unwrap_or((now, String::new()));
                    outbox::finish_attempt(db, &l.attempt, at, AttemptOutcome::Sent, &reply).await?;
                    monitor::record_event(db, id, EventKind::Sent, &l.attempt, at, &reply).await?;
                }
            },
            (MessageState::Queued, _) => {
                outbox::mark_unfinished_unknown(db, id, now).await?;
            }
            _ => {}
        }
    }
    if settled > 0 {
        tracing::warn!(messages = settled, "re-queued messages whose sending process stopped (same Message-ID)");
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(backoff_ms(policy, 1, 0.0), 60_000);
        assert_eq!(backoff_ms(policy, 2, 0.0), 120_000);
        assert_eq!(backoff_ms(policy, 4, 0.0), 480_000);
        assert_eq!(backoff_ms(policy, 30, 0.0), 7_200_000);
        assert_eq!(backoff_ms(policy, 1, 1.0), 72_000);
        assert!(backoff_ms(policy, 3, 0.5) > backoff_ms(policy, 3, 0.0));
        let quick = RetryPolicy { first_ms: 500, max_ms: 3_000, give_up_after_ms: 60_000 };
        assert_eq!(backoff_ms(quick, 3, 0.0), 2_000);
        assert_eq!(backoff_ms(quick, 9, 0.0), 3_000);
    }
}
