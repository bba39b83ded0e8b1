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
//! 2, 4, … capped at 2 h), `failed` after 8 tries.
//!
//! **Crashes.** A message left in `sending` by a process that died (its claim older than
//! the lease) had an attempt that may or may not have reached the SMTP server: SMTP gives
//! no way to ask. `settle` marks that attempt `unknown` and queues the message again with
//! the same Message-ID. So nothing is silently dropped, and the only possible duplicates
//! are messages that were in flight at the moment of the crash (at most the worker's
//! concurrency per process), each carrying one Message-ID by which receivers and the logs
//! can tell the copies apart.

use super::compose::{self, Composed, Outgoing, OUTGOING_SQL};
use super::dkim::{self, Signer};
use super::mailer::Mailer;
use crate::campaigns::monitor;
use crate::db::{now_millis, Backend, Db};
use crate::error::AppError;
use crate::orders::model::Reason;
use crate::orders::privacy::{self, Scope};
use std::collections::HashMap;
use std::sync::Arc;

/// Tries before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// A claim older than this belongs to a process that is gone.
pub const LEASE_MS: i64 = 5 * 60_000;

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
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub claimed: u64,
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
}

/// Back-off before try `attempt + 1`: 1 min · 2^(attempt − 1), capped at 2 h, with up to
/// 20% jitter so retries of one outage do not arrive together.
pub fn backoff_ms(attempt: i64, jitter: f64) -> i64 {
    let base = 60_000i64.saturating_mul(1i64 << (attempt - 1).clamp(0, 20)).min(2 * 3_600_000);
    base + (base as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64
}

impl Sender {
    /// Runs until the process ends: settles abandoned claims, then sends what is due.
    pub async fn run(self) {
        if let Err(e) = settle(&self.db, now_millis()).await {
            tracing::error!(error = %e, "settling abandoned sends failed");
        }
        loop {
            match self.pass(now_millis()).await {
                Ok(stats) if stats.claimed > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "delivery pass failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    /// Claims one batch of due messages and sends them.
    pub async fn pass(&self, now: i64) -> Result<PassStats, AppError> {
        let ids = claim(&self.db, &self.worker, now, self.batch).await?;
        let mut stats = PassStats { claimed: ids.len() as u64, ..PassStats::default() };
        if ids.is_empty() {
            return Ok(stats);
        }
        let sql = format!("{OUTGOING_SQL} WHERE m.id IN ({})", self.db.backend.params(1, ids.len()));
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let outgoing: Vec<Outgoing> = rows.iter().map(Outgoing::from_row).collect();
        let mut signers: HashMap<i64, Option<Arc<Signer>>> = HashMap::new();
        for m in &outgoing {
            if let std::collections::hash_map::Entry::Vacant(slot) = signers.entry(m.brand_id) {
                slot.insert(dkim::signer(&self.db, m.brand_id).await?.map(Arc::new));
            }
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for m in outgoing {
            let signer = signers.get(&m.brand_id).cloned().flatten();
            let this = self.clone();
            let permit = limit.clone().acquire_owned().await.map_err(|e| AppError::Internal(e.to_string()))?;
            tasks.spawn(async move {
                let outcome = this.send_one(&m, signer.as_deref(), now).await;
                drop(permit);
                outcome
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done.map_err(|e| AppError::Internal(e.to_string()))? {
                Ok(Outcome::Sent) => stats.sent += 1,
                Ok(Outcome::Retry) => stats.retried += 1,
                Ok(Outcome::Failed) => stats.failed += 1,
                Err(e) => {
                    stats.failed += 1;
                    tracing::error!(error = %e, "a message could not be recorded");
                }
            }
        }
        Ok(stats)
    }

    async fn send_one(&self, m: &Outgoing, signer: Option<&Signer>, now: i64) -> Result<Outcome, AppError> {
        use secrecy::ExposeSecret;
        let attempt = format!("{}-{}", m.id, m.attempts);
        sqlx::query("INSERT INTO delivery_attempts (message_id, attempt, worker, started_at) VALUES ($1, $2, $3, $4)")
            .bind(m.id)
            .bind(&attempt)
            .bind(&self.worker)
            .bind(now_millis())
            .execute(&self.db.pool)
            .await?;
        let composed = compose::compose(m, self.secret.expose_secret(), &self.public_url, now).and_then(|c| sign(c, signer));
        let composed = match composed {
            Ok(c) => c,
            Err(e) => return self.finish(m, &attempt, Err(super::mailer::SendError { permanent: true, message: e.to_string() })).await,
        };
        let result = self.mailer.send_raw(&composed.from, &composed.to, &composed.bytes).await;
        self.finish(m, &attempt, result).await
    }

    async fn finish(&self, m: &Outgoing, attempt: &str, result: Result<String, super::mailer::SendError>) -> Result<Outcome, AppError> {
        let db = &self.db;
        let now = now_millis();
        let (outcome, reply) = match &result {
            Ok(reply) => (Outcome::Sent, reply.clone()),
            Err(e) if e.permanent => (Outcome::Failed, e.message.clone()),
            Err(e) if m.attempts >= MAX_ATTEMPTS => (Outcome::Failed, e.message.clone()),
            Err(e) => (Outcome::Retry, e.message.clone()),
        };
        sqlx::query("UPDATE delivery_attempts SET finished_at = $1, outcome = $2, reply = $3 WHERE attempt = $4")
            .bind(now)
            .bind(outcome.as_str())
            .bind(&reply)
            .bind(attempt)
            .execute(&db.pool)
            .await?;
        match outcome {
            Outcome::Sent => {
                sqlx::query("UPDATE messages SET state = 'sent', sent_at = $1, last_error = '' WHERE id = $2")
                    .bind(now)
                    .bind(m.id)
                    .execute(&db.pool)
                    .await?;
                monitor::record_event(db, m.id, "sent", attempt, now, &reply).await?;
            }
            Outcome::Retry => {
                let jitter = (now.rem_euclid(997) as f64) / 997.0;
                sqlx::query("UPDATE messages SET state = 'queued', send_at = $1, last_error = $2 WHERE id = $3 AND state = 'sending'")
                    .bind(now + backoff_ms(m.attempts, jitter))
                    .bind(&reply)
                    .bind(m.id)
                    .execute(&db.pool)
                    .await?;
            }
            Outcome::Failed => {
                sqlx::query("UPDATE messages SET state = 'failed', last_error = $1 WHERE id = $2")
                    .bind(&reply)
                    .bind(m.id)
                    .execute(&db.pool)
                    .await?;
                if matches!(&result, Err(e) if e.permanent) {
                    // A 5xx is a hard bounce: the address is never tried again for this brand.
                    monitor::record_event(db, m.id, "bounced", attempt, now, &reply).await?;
                    let salt = privacy::salt(db).await?;
                    let scope = Scope { client_id: Some(m.client_id), brand_id: Some(m.brand_id) };
                    let _ = privacy::suppress(db, &salt, scope, &m.email, Reason::HardBounce, &reply, "delivery").await;
                }
            }
        }
        Ok(outcome)
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retry,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retry => "retry",
            Outcome::Failed => "failed",
        }
    }
}

/// Moves up to `limit` due messages of running campaigns to `sending` under `worker`.
pub async fn claim(db: &Db, worker: &str, now: i64, limit: i64) -> Result<Vec<i64>, AppError> {
    let lock = if db.backend == Backend::Postgres { "FOR UPDATE OF m SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE messages SET state = 'sending', claimed_by = $1, claimed_at = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id \
           WHERE m.state = 'queued' AND m.send_at <= $2 AND c.state = 'running' ORDER BY m.send_at LIMIT $3 {lock}) \
         RETURNING id"
    );
    let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(worker).bind(now).bind(limit).fetch_all(&db.pool).await?;
    Ok(ids)
}

/// Settles claims abandoned by a process that died: their last attempt is marked
/// `unknown` (it may have reached the server) and the message is queued again, keeping its
/// Message-ID. Answers how many were settled.
pub async fn settle(db: &Db, now: i64) -> Result<u64, AppError> {
    let stale: Vec<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE state = 'sending' AND claimed_at < $1")
        .bind(now - LEASE_MS)
        .fetch_all(&db.pool)
        .await?;
    for id in &stale {
        sqlx::query(
            "UPDATE delivery_attempts SET outcome = 'unknown', finished_at = $1, reply = 'the process stopped during this attempt' \
             WHERE message_id = $2 AND finished_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
        sqlx::query("UPDATE messages SET state = 'queued', send_at = $1 WHERE id = $2 AND state = 'sending'")
            .bind(now)
            .bind(id)
            .execute(&db.pool)
            .await?;
    }
    if !stale.is_empty() {
        tracing::warn!(messages = stale.len(), "re-queued messages whose sending process stopped (same Message-ID)");
    }
    Ok(stale.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff_ms(1, 0.0), 60_000);
        assert_eq!(backoff_ms(2, 0.0), 120_000);
        assert_eq!(backoff_ms(4, 0.0), 480_000);
        assert_eq!(backoff_ms(30, 0.0), 7_200_000);
        assert_eq!(backoff_ms(1, 1.0), 72_000);
        assert!(backoff_ms(3, 0.5) > backoff_ms(3, 0.0));
    }
}
