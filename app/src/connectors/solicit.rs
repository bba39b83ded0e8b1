//! Amazon's "Request a Review": the Solicitations API, for the review requests of
//! campaigns on the Amazon channel. Amazon writes and translates the message itself and
//! allows one per order, from 5 days after the earliest delivery date to 30 days after the
//! latest (the planner times the messages by that window).
//!
//! Per order: `getSolicitationActionsForOrder` first; when it offers
//! `productReviewAndSellerFeedback`, `createProductReviewAndSellerFeedbackSolicitation`;
//! otherwise the message ends "not eligible" with the reason. Amazon's answer that the order
//! was solicited already is recorded as a request made, not as a failure.
//!
//! Rate limits: each operation allows 1 request per second with a burst of 5 per selling
//! partner. The buckets live in the database (`connectors::store::take_token`), so every
//! campaign and every process on one PostgreSQL database shares them, and a restarted
//! process goes on from where the bucket stood. Starling's bucket holds one request less
//! than Amazon's: a request that takes a token may reach Amazon a little later than the
//! next one, and that spare request absorbs it. A 429 all the same empties the bucket and
//! is waited out; timeouts and 5xx are retried, then the message is queued again with the
//! e-mail sender's back-off; a refused authorization pauses the seller's requests (they stay
//! queued) and raises the connector's alert.
//!
//! Sellers are served in parallel, each by its own task at its own limit.

use super::amazon;
use super::http::{json_body, Failure};
use super::model::{ConnectionState, Region};
use super::seal::Credentials;
use super::store::{self, Connection};
use super::sync::{PullError, Syncer};
use crate::db::now_millis;
use crate::delivery::sender::{backoff_ms, RetryPolicy};
use crate::error::AppError;
use crate::outbox::store::{self as outbox, ClaimedRequest, RequestOutcome};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The two operations, as Amazon names them (and the buckets are keyed).
pub const GET_ACTIONS: &str = "getSolicitationActionsForOrder";
pub const CREATE: &str = "createProductReviewAndSellerFeedbackSolicitation";
/// The action Starling asks for.
const ACTION: &str = "productReviewAndSellerFeedback";
/// Amazon's documented usage plan of both operations.
pub const RATE: f64 = 1.0;
pub const BURST: f64 = 5.0;
/// Requests claimed per seller at a time, and worked on at once.
const BATCH: i64 = 10;
const IN_FLIGHT: usize = 4;
/// 429s waited out for one request before it is queued again.
const MAX_WAITS: u32 = 30;

/// Sends due Amazon requests for every connected seller.
pub struct Solicitor {
    pub syncer: Arc<Syncer>,
    /// This process's name in message claims.
    pub worker: String,
    /// How often and for how long temporary failures are retried (as for e-mail).
    pub retry: RetryPolicy,
    /// A claim not renewed for this long belongs to a process that is gone.
    pub lease_ms: i64,
}

/// What a drain did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Solicited {
    pub requested: u64,
    pub not_eligible: u64,
    pub failed: u64,
    /// 429s Amazon answered (each was waited out).
    pub throttled: u64,
    /// Queued again after temporary failures or a refused authorization.
    pub deferred: u64,
}

impl Solicited {
    fn add(&mut self, o: Solicited) {
        self.requested += o.requested;
        self.not_eligible += o.not_eligible;
        self.failed += o.failed;
        self.throttled += o.throttled;
        self.deferred += o.deferred;
    }
}

/// Why a seller's batch stopped.
enum Stop {
    /// Amazon refused the seller's authorization.
    Refused(String),
    Internal(AppError),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Internal(e)
    }
}

/// One seller being served: its connection, credentials (the access token is shared by
/// its requests) and endpoint.
struct Seller {
    connection: Connection,
    credentials: tokio::sync::Mutex<Credentials>,
    base: String,
    marketplace: String,
}

impl Solicitor {
    /// Runs until the process ends: keeps this worker's claims alive and serves each
    /// seller with requests due, one task per seller.
    pub async fn run(self) {
        let this = Arc::new(self);
        let beat = this.clone();
        tokio::spawn(async move {
            let every = Duration::from_millis((beat.lease_ms / 3).max(100) as u64);
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = outbox::heartbeat(&beat.syncer.db, &beat.worker, now_millis()).await {
                    tracing::error!(error = %crate::error::report(&e), "refreshing this worker's Amazon claims failed");
                }
            }
        });
        let mut active: HashMap<i64, tokio::task::JoinHandle<Solicited>> = HashMap::new();
        loop {
            active.retain(|_, task| !task.is_finished());
            match this.due_sellers().await {
                Ok(sellers) => {
                    for c in sellers {
                        if !active.contains_key(&c.id) {
                            let this = this.clone();
                            active.insert(c.id, tokio::spawn(async move { this.serve(c).await }));
                        }
                    }
                }
                Err(e) => tracing::error!(error = %crate::error::report(&e), "looking for due Amazon requests failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Sends every Amazon request due now, all sellers in parallel, until none is left
    /// (what `run` does, for a caller that wants to know when it is done).
    pub async fn drain(self: &Arc<Self>) -> Result<Solicited, AppError> {
        let mut total = Solicited::default();
        loop {
            let sellers = self.due_sellers().await?;
            if sellers.is_empty() {
                return Ok(total);
            }
            let mut tasks = tokio::task::JoinSet::new();
            for c in sellers {
                let this = self.clone();
                tasks.spawn(async move { this.serve(c).await });
            }
            let before = total;
            while let Some(done) = tasks.join_next().await {
                total.add(done.map_err(|e| AppError::caused("a background task stopped", e))?);
            }
            // Only deferred requests are left, and they are not due yet.
            if total.requested + total.not_eligible + total.failed == before.requested + before.not_eligible + before.failed {
                return Ok(total);
            }
        }
    }

    /// Usable Amazon connections of the stores with requests due.
    async fn due_sellers(&self) -> Result<Vec<Connection>, AppError> {
        let db = &self.syncer.db;
        let stores = outbox::due_request_stores(db, now_millis()).await?;
        if stores.is_empty() {
            return Ok(Vec::new());
        }
        Ok(store::solicitable(db).await?.into_iter().filter(|c| stores.contains(&c.store_id)).collect())
    }

    /// Serves one seller until it has no request due: a few at a time, each operation
    /// within the seller's limit.
    async fn serve(&self, c: Connection) -> Solicited {
        let mut done = Solicited::default();
        let seller = match self.seller(&c) {
            Ok(seller) => seller,
            Err(why) => {
                tracing::error!(connection = c.id, reason = %why, "an Amazon connection cannot send review requests");
                return done;
            }
        };
        loop {
            let claimed = match outbox::claim_requests(&self.syncer.db, &self.worker, c.store_id, now_millis(), BATCH).await {
                Ok(claimed) if claimed.is_empty() => return done,
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = %crate::error::report(&e), "claiming Amazon requests failed");
                    return done;
                }
            };
            let ids: Vec<i64> = claimed.iter().map(|m| m.message_id).collect();
            let results: Vec<Result<Solicited, Stop>> =
                futures_util::stream::iter(claimed).map(|m| self.request(&seller, m)).buffer_unordered(IN_FLIGHT).collect().await;
            let mut stop = None;
            for result in results {
                match result {
                    Ok(one) => done.add(one),
                    Err(s) => stop = Some(s),
                }
            }
            match stop {
                None => {}
                Some(Stop::Refused(why)) => {
                    // The seller's requests wait (queued) until the store is connected again.
                    let db = &self.syncer.db;
                    let now = now_millis();
                    let result = async {
                        done.deferred += outbox::release_claims(db, &self.worker, &ids, now, &why).await?;
                        store::refused(db, c.id, &why, now).await?;
                        self.syncer.alert(&c, "Authorization failing", &format!("{why} Its review requests wait until then."), now).await
                    }
                    .await;
                    if let Err(e) = result {
                        tracing::error!(error = %crate::error::report(&e), "pausing an Amazon seller's requests failed");
                    }
                    return done;
                }
                Some(Stop::Internal(e)) => {
                    tracing::error!(error = %crate::error::report(&e), connection = c.id, "an Amazon request could not be recorded");
                    return done;
                }
            }
        }
    }

    fn seller(&self, c: &Connection) -> Result<Seller, String> {
        if c.state == ConnectionState::NeedsReauth {
            return Err("the connection needs re-authorization".into());
        }
        let credentials = self.syncer.sealer.open(c.store_id, &c.secret).map_err(|e| e.to_string())?;
        let region = Region::parse(&c.region).ok_or_else(|| format!("\"{}\" is not an Amazon region", c.region))?;
        let marketplace = c.marketplace_ids.split(',').next().unwrap_or_default().trim().to_string();
        Ok(Seller {
            connection: c.clone(),
            credentials: tokio::sync::Mutex::new(credentials),
            base: amazon::endpoint(&self.syncer.settings, region).to_string(),
            marketplace,
        })
    }

    /// One claimed request, to its end or back to the queue.
    async fn request(&self, seller: &Seller, m: ClaimedRequest) -> Result<Solicited, Stop> {
        let db = &self.syncer.db;
        let mut done = Solicited::default();
        let order = m.amazon_order_id.as_str();
        let offered = self
            .call(seller, GET_ACTIONS, &mut done, |client, access| actions(client, &seller.base, access, order, &seller.marketplace))
            .await;
        let attempt = outbox::request_attempt(&self.worker, m.message_id, m.attempts);
        match offered {
            Ok(true) => {}
            Ok(false) if m.interrupted => {
                // An earlier try asked Amazon and its process stopped before the answer was
                // recorded; now Amazon offers no request: it had taken that one.
                let why = "requested by an earlier try that stopped before its answer was recorded (Amazon offers no further request)";
                outbox::record_request(db, m.message_id, None, RequestOutcome::Requested, now_millis(), why).await?;
                done.requested += 1;
                return Ok(done);
            }
            Ok(false) => {
                let why = "Amazon offers no review request for this order now (outside its window, or requested already by the seller)";
                outbox::record_request(db, m.message_id, None, RequestOutcome::NotEligible, now_millis(), why).await?;
                done.not_eligible += 1;
                return Ok(done);
            }
            Err(failure) => return self.failed(m, None, failure, done).await,
        }
        // The try is written before Amazon is asked: if this process dies now, the next
        // try knows Amazon may have taken the request.
        outbox::start_attempts(db, &self.worker, now_millis(), &[(m.message_id, attempt.as_str())]).await?;
        let created =
            self.call(seller, CREATE, &mut done, |client, access| create(client, &seller.base, access, order, &seller.marketplace)).await;
        match created {
            Ok(Created::Now) => {
                outbox::record_request(
                    db,
                    m.message_id,
                    Some(&attempt),
                    RequestOutcome::Requested,
                    now_millis(),
                    "Amazon accepted the request",
                )
                .await?;
                done.requested += 1;
            }
            Ok(Created::Before(words)) => {
                let why = format!("requested already (Amazon: {words})");
                outbox::record_request(db, m.message_id, Some(&attempt), RequestOutcome::Requested, now_millis(), &why).await?;
                done.requested += 1;
            }
            Err(failure) => return self.failed(m, Some(&attempt), failure, done).await,
        }
        Ok(done)
    }

    /// A request that failed after its retries: the seller stops on a refused
    /// authorization; temporary failures queue it again with back-off until the e-mail
    /// give-up time has passed; anything else fails it with Amazon's words.
    async fn failed(&self, m: ClaimedRequest, attempt: Option<&str>, failure: Failure, mut done: Solicited) -> Result<Solicited, Stop> {
        let db = &self.syncer.db;
        let now = now_millis();
        let why = failure.describe("Amazon");
        match failure {
            Failure::Unauthorized(_) | Failure::Expired => {
                if let Some(attempt) = attempt {
                    outbox::finish_attempt(db, attempt, now, crate::outbox::model::AttemptOutcome::Retry, &why).await?;
                }
                Err(Stop::Refused(why))
            }
            Failure::Transient(_) | Failure::RateLimited(_) => {
                if let Some(attempt) = attempt {
                    outbox::finish_attempt(db, attempt, now, crate::outbox::model::AttemptOutcome::Retry, &why).await?;
                }
                let first = outbox::first_try_at(db, m.message_id).await?.unwrap_or(now);
                if now - first >= self.retry.give_up_after_ms {
                    outbox::record_request(db, m.message_id, None, RequestOutcome::Failed, now, &why).await?;
                    done.failed += 1;
                } else {
                    outbox::requeue(db, m.message_id, now + backoff_ms(self.retry, m.attempts, rand::random::<f64>()), &why).await?;
                    done.deferred += 1;
                }
                Ok(done)
            }
            Failure::Rejected(_) => {
                outbox::record_request(db, m.message_id, attempt, RequestOutcome::Failed, now, &why).await?;
                done.failed += 1;
                Ok(done)
            }
        }
    }

    /// One operation for the seller: a token of its bucket first, then the request;
    /// a 429 empties the bucket and is waited out, an expired token is refreshed once,
    /// timeouts and 5xx are retried with doubling delays.
    async fn call<T, F, Fut>(&self, seller: &Seller, operation: &'static str, done: &mut Solicited, mut send: F) -> Result<T, Failure>
    where
        F: FnMut(reqwest::Client, String) -> Fut,
        Fut: std::future::Future<Output = (Result<T, Failure>, Option<f64>)>,
    {
        let settings = &self.syncer.settings;
        let bucket = format!("amazon:{}:{operation}", seller.connection.account);
        let (mut tries, mut waits, mut refreshed) = (0u32, 0u32, false);
        let mut delay = settings.retry_first;
        loop {
            self.turn(&bucket).await.map_err(|e| Failure::Transient(e.to_string()))?;
            let access = self.access(seller, false).await?;
            let (answer, announced) = send(self.syncer.client.clone(), access).await;
            if let Some(rate) = announced.filter(|r| r.is_finite() && *r > 0.0 && (*r - RATE).abs() > f64::EPSILON) {
                let _ = store::set_rate(&self.syncer.db, &bucket, rate).await;
            }
            match answer {
                Err(Failure::RateLimited(wait)) if waits < MAX_WAITS => {
                    waits += 1;
                    done.throttled += 1;
                    tracing::warn!(operation, seller = %seller.connection.account, "Amazon answered 429; waiting");
                    let _ = store::drain(&self.syncer.db, &bucket, now_millis()).await;
                    tokio::time::sleep(wait.max(Duration::from_secs(1))).await;
                }
                Err(Failure::Expired) if !refreshed => {
                    refreshed = true;
                    self.access(seller, true).await?;
                }
                Err(Failure::Transient(why)) => {
                    tries += 1;
                    if tries >= settings.attempts {
                        return Err(Failure::Transient(format!("{why} ({tries} tries)")));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
                other => return other,
            }
        }
    }

    /// Waits for a token of `bucket`; one waiter per bucket in this process asks the
    /// database, the others queue behind it.
    async fn turn(&self, bucket: &str) -> Result<(), AppError> {
        let lock = {
            static LOCKS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = std::sync::OnceLock::new();
            let mut map = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
            map.entry(bucket.to_string()).or_default().clone()
        };
        let _queue = lock.lock().await;
        loop {
            // One request of margin under Amazon's burst (see the module's comment).
            match store::take_token(&self.syncer.db, bucket, RATE, BURST - 1.0, now_millis()).await? {
                None => return Ok(()),
                Some(wait_ms) => tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await,
            }
        }
    }

    async fn access(&self, seller: &Seller, force: bool) -> Result<String, Failure> {
        let mut credentials = seller.credentials.lock().await;
        self.syncer.access(&seller.connection, &mut credentials, force).await.map_err(|e| match e {
            PullError::Unauthorized(why) => Failure::Unauthorized(why),
            PullError::Failed(why) => Failure::Transient(why),
            PullError::LeaseLost => Failure::Transient("the connection changed".into()),
            PullError::Internal(e) => Failure::Transient(e.to_string()),
        })
    }
}

/// The rate Amazon announced for the operation, when it did.
fn announced(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    headers.get("x-amzn-RateLimit-Limit").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
}

/// `getSolicitationActionsForOrder`: whether Amazon offers the review request now.
pub async fn actions(
    client: reqwest::Client,
    base: &str,
    access: String,
    order: &str,
    marketplace: &str,
) -> (Result<bool, Failure>, Option<f64>) {
    let url = format!("{base}/solicitations/v1/orders/{}", amazon::urlencode(order));
    let response = match client.get(url).query(&[("marketplaceIds", marketplace)]).header("x-amz-access-token", access).send().await {
        Ok(response) => response,
        Err(e) => return (Err(Failure::of_request(&e)), None),
    };
    let rate = announced(response.headers());
    if !response.status().is_success() {
        return (Err(amazon::failure(response).await), rate);
    }
    let body = match json_body(response).await {
        Ok(body) => body,
        Err(f) => return (Err(f), rate),
    };
    (offers(&body), rate)
}

/// Whether an actions answer (HAL: `_links.actions` and `_embedded.actions`) offers the
/// review request; an answer without `_links` is not what Amazon documents.
pub fn offers(body: &Value) -> Result<bool, Failure> {
    let Some(links) = body.get("_links").filter(|l| l.is_object()) else {
        return Err(Failure::Transient("the answer has no _links (not the JSON the API documents)".into()));
    };
    let named = |list: Option<&Value>| {
        list.and_then(Value::as_array).is_some_and(|actions| actions.iter().any(|a| a.get("name").and_then(Value::as_str) == Some(ACTION)))
    };
    Ok(named(links.get("actions")) || named(body.pointer("/_embedded/actions")))
}

/// How a create answer ended well.
pub enum Created {
    Now,
    /// Amazon says the order was solicited already (its words).
    Before(String),
}

/// `createProductReviewAndSellerFeedbackSolicitation`.
pub async fn create(
    client: reqwest::Client,
    base: &str,
    access: String,
    order: &str,
    marketplace: &str,
) -> (Result<Created, Failure>, Option<f64>) {
    let url = format!("{base}/solicitations/v1/orders/{}/solicitations/{ACTION}", amazon::urlencode(order));
    let response = match client.post(url).query(&[("marketplaceIds", marketplace)]).header("x-amz-access-token", access).send().await {
        Ok(response) => response,
        Err(e) => return (Err(Failure::of_request(&e)), None),
    };
    let rate = announced(response.headers());
    if response.status().is_success() {
        return (Ok(Created::Now), rate);
    }
    let answer = match amazon::failure(response).await {
        // Amazon refuses a second request for an order: the first one stands.
        Failure::Rejected(words) if words.to_ascii_lowercase().contains("already") => Ok(Created::Before(words)),
        other => Err(other),
    };
    (answer, rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_actions_answer_offers_the_request_only_when_it_names_it() {
        let offered = json!({"_links": {"actions": [{"href": "/solicitations/v1/orders/1/solicitations/productReviewAndSellerFeedback?marketplaceIds=X", "name": "productReviewAndSellerFeedback"}], "self": {"href": "/x"}}});
        assert_eq!(offers(&offered), Ok(true));
        let embedded = json!({"_links": {"self": {"href": "/x"}}, "_embedded": {"actions": [{"name": "productReviewAndSellerFeedback"}]}});
        assert_eq!(offers(&embedded), Ok(true));
        assert_eq!(offers(&json!({"_links": {"actions": [], "self": {"href": "/x"}}})), Ok(false));
        assert_eq!(offers(&json!({"_links": {"actions": [{"name": "somethingElse"}]}})), Ok(false));
        assert!(matches!(offers(&json!({"payload": {}})), Err(Failure::Transient(_))));
    }
}
