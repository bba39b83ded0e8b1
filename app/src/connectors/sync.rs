//! The scheduler: every connected store is pulled on its own cursor, every few minutes
//! (settable per connection). A pull asks the platform for orders updated since the
//! cursor (less a few minutes, for clocks that disagree: storing is idempotent), stores
//! them page by page through the same upsert as file imports, and moves the cursor on.
//! Timeouts, server errors and malformed answers are retried, then the pull is retried
//! later with backoff; a refused authorization marks the connection "needs
//! re-authorization" and alerts the client's account managers, as does a feed with no
//! successful pull for too long. Connections are claimed with a lease, so several server
//! processes on one PostgreSQL database never pull the same store at once.

use super::draft::Draft;
use super::http::{retrying, Failure, Settings};
use super::model::{ConnectionState, Platform, Region};
use super::seal::{Credentials, Sealer};
use super::store::{self, Connection, Ending};
use super::{amazon, ebay, shopify};
use crate::common::fingerprint::Salt;
use crate::common::mailer::Mailer;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::model::{ParsedOrder, RowError};
use crate::orders::store::{self as orders, Tally, Target};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How long a claim lasts unless renewed (each page renews it).
const LEASE_MS: i64 = 120_000;
/// Pulls re-read this much before the cursor: a platform's clock and ours may disagree.
const OVERLAP_MS: i64 = 5 * 60_000;
/// A refreshed access token is used until this long before it ends.
const TOKEN_MARGIN_MS: i64 = 5 * 60_000;
const DAY_MS: i64 = 86_400_000;
/// Orders gathered before they are stored: one batch's statements serve them all.
const FLUSH_AT: usize = 2_000;

/// What ended a pull early.
#[derive(Debug)]
pub enum PullError {
    /// The platform refused the credentials.
    Unauthorized(String),
    /// Still failing after retries (the message in plain words).
    Failed(String),
    /// Another process took the connection over, or it was disconnected.
    LeaseLost,
    Internal(AppError),
}

impl From<AppError> for PullError {
    fn from(e: AppError) -> Self {
        PullError::Internal(e)
    }
}

/// What a pull did.
#[derive(Clone, Debug, Default)]
pub struct Pulled {
    pub tally: Tally,
    pub rejected: usize,
    pub set_aside: usize,
    pub pages: usize,
}

pub struct Syncer {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub sealer: Sealer,
    pub client: reqwest::Client,
    /// This process's name in leases.
    pub owner: String,
    pub mailer: Arc<Mailer>,
    pub public_url: String,
    /// Stores pulled at once by this process.
    pub concurrency: usize,
}

impl Syncer {
    /// Pulls due connections for ever, and watches for stalled feeds.
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        let mut watched = 0;
        loop {
            while running.len() < this.concurrency.max(1) {
                match store::claim_due(&this.db, &this.owner, now_millis(), LEASE_MS).await {
                    Ok(Some(connection)) => {
                        let this = this.clone();
                        running.spawn(async move { this.sync(connection).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %crate::error::report(&e), "claiming a connection to pull failed");
                        break;
                    }
                }
            }
            // Often enough to alert within a third of the stale time, at most every 30 s.
            let every = (this.settings.stale_after_secs * 1000 / 3).clamp(1000, 30_000);
            if now_millis() - watched > every {
                watched = now_millis();
                if let Err(e) = this.watch(watched).await {
                    tracing::error!(error = %crate::error::report(&e), "checking connector health failed");
                }
            }
            tokio::select! {
                _ = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One claimed connection's pull, and what follows from how it ended.
    pub async fn sync(&self, connection: Connection) {
        let result = self.pull(&connection).await;
        if let Err(e) = self.settle(&connection, result).await {
            tracing::error!(error = %crate::error::report(&e), connection = connection.id, "recording a pull failed");
        }
    }

    async fn settle(&self, c: &Connection, result: Result<Pulled, PullError>) -> Result<(), AppError> {
        let now = now_millis();
        let platform = c.platform.label();
        match result {
            Ok(pulled) => {
                store::finished(&self.db, c.id, &self.owner, Ending::Succeeded, now, now + c.interval_secs.max(30) * 1000).await?;
                tracing::info!(
                    connection = c.id,
                    created = pulled.tally.created,
                    updated = pulled.tally.updated,
                    rejected = pulled.rejected,
                    "pulled"
                );
                if store::close_alert(&self.db, c.id, now).await? {
                    self.tell(c, &format!("{platform} feed of {} recovered", c.account), "Orders arrive again; the alert is closed.").await;
                }
            }
            Err(PullError::LeaseLost) => {}
            Err(PullError::Unauthorized(why)) => {
                store::finished(&self.db, c.id, &self.owner, Ending::Failed(ConnectionState::NeedsReauth, &why), now, i64::MAX / 2).await?;
                self.alert(c, "Authorization failing", &why, now).await?;
            }
            Err(PullError::Failed(why)) => {
                // 1, 2, 4 … minutes, at most the connection's interval.
                let backoff = (60_000i64 << c.failures.clamp(0, 10)).min(c.interval_secs.max(60) * 1000);
                store::finished(&self.db, c.id, &self.owner, Ending::Failed(ConnectionState::Failing, &why), now, now + backoff).await?;
            }
            Err(PullError::Internal(e)) => {
                tracing::error!(error = %crate::error::report(&e), connection = c.id, "a pull could not store its orders");
                let why = "Starling could not store the orders; it will try again";
                store::finished(&self.db, c.id, &self.owner, Ending::Failed(ConnectionState::Failing, why), now, now + 60_000).await?;
            }
        }
        Ok(())
    }

    /// Opens the connection's alert (`reason`, short, for the page) and, when it is new,
    /// mails the client's account managers the reason and `detail`.
    pub(super) async fn alert(&self, c: &Connection, reason: &str, detail: &str, now: i64) -> Result<(), AppError> {
        if store::open_alert(&self.db, c.id, c.client_id, reason, now).await? {
            self.tell(c, &format!("{} feed of {} needs attention", c.platform.label(), c.account), &format!("{reason}. {detail}")).await;
        }
        Ok(())
    }

    /// Mails the client's account managers about a connection.
    async fn tell(&self, c: &Connection, subject: &str, text: &str) {
        let text = format!("{text}\n\nConnections: {}/connections\n", self.public_url);
        if let Err(e) = super::mail_managers(&self.db, &self.mailer, c.client_id, subject, &text).await {
            tracing::error!(error = %crate::error::report(&e), "mailing a connector alert failed");
        }
    }

    /// Alerts for feeds with no successful pull for too long, warnings of authorizations
    /// ending within 30 days, and forgetting old webhook deliveries.
    pub async fn watch(&self, now: i64) -> Result<(), AppError> {
        let stale_ms = self.settings.stale_after_secs.max(1) * 1000;
        for c in store::stale(&self.db, now - stale_ms).await? {
            let since = c.last_success_at.map_or("it was connected".to_string(), super::http::utc_label);
            let detail = "Orders from this store are not arriving; the Connections page shows the last error.";
            self.alert(&c, &format!("No successful sync since {since}"), detail, now).await?;
        }
        for c in store::ending_authorizations(&self.db, now + 30 * DAY_MS, now).await? {
            let by = c.reauthorize_by.map(|at| super::http::rfc3339(at)[..10].to_string()).unwrap_or_default();
            self.tell(
                &c,
                &format!("{} authorization of {} ends on {by}", c.platform.label(), c.account),
                &format!("The seller must authorize Starling again in Seller Central before {by}, or its orders stop arriving. Connect the store again on the Connections page."),
            )
            .await;
        }
        store::forget_deliveries(&self.db, now - 7 * DAY_MS).await
    }

    /// Pulls one connection's orders updated since its cursor.
    pub async fn pull(&self, c: &Connection) -> Result<Pulled, PullError> {
        let mut credentials = self.sealer.open(c.store_id, &c.secret).map_err(|e| PullError::Unauthorized(e.to_string()))?;
        let target = orders::target(&self.db, c.store_id).await?.ok_or_else(|| PullError::Failed("the store was deleted".into()))?;
        let mut run = Run {
            syncer: self,
            connection: c,
            target,
            salt: crate::common::fingerprint::salt(&self.db).await?,
            writer: orders::Writer::open_bulk(&self.db).await?,
            since: if c.cursor_at > 0 { c.cursor_at - OVERLAP_MS } else { 0 },
            cursor: None,
            waiting: Vec::new(),
            waiting_cursor: None,
            pulled: Pulled::default(),
            problems: Vec::new(),
        };
        match c.platform {
            Platform::Shopify => run.shopify(&credentials).await?,
            Platform::Amazon => run.amazon(&mut credentials).await?,
            Platform::Ebay => run.ebay(&mut credentials).await?,
        }
        run.finish().await
    }

    /// A fresh access token (Amazon, eBay), kept sealed with the credentials until shortly
    /// before it ends.
    pub(super) async fn access(&self, c: &Connection, credentials: &mut Credentials, force: bool) -> Result<String, PullError> {
        let now = now_millis();
        if let Some((token, ends)) = &credentials.access {
            if !force && ends - now > TOKEN_MARGIN_MS {
                return Ok(token.clone());
            }
        }
        let refresh = credentials.token.clone();
        let answer = match c.platform {
            Platform::Amazon => retrying(&self.settings, || amazon::access_token(&self.client, &self.settings, &refresh, now)).await,
            Platform::Ebay => retrying(&self.settings, || ebay::access_token(&self.client, &self.settings, &refresh, now)).await,
            Platform::Shopify => return Ok(refresh),
        };
        let (token, ends) = answer.map_err(|f| failure(c.platform, f))?;
        credentials.access = Some((token.clone(), ends));
        store::save_secret(&self.db, c.id, &self.sealer.seal(c.store_id, credentials)?, Some(ends)).await?;
        Ok(token)
    }
}

/// A failure after retries as the pull's end.
fn failure(platform: Platform, f: Failure) -> PullError {
    match f {
        Failure::Unauthorized(_) => PullError::Unauthorized(f.describe(platform.label())),
        other => PullError::Failed(other.describe(platform.label())),
    }
}

/// A page's orders checked and prepared for the database, with the rejected ones and the
/// values set aside, and how far the page reaches.
struct Checked {
    orders: Vec<orders::Prepared>,
    rejected: Vec<RowError>,
    notes: Vec<RowError>,
    cursor: Option<i64>,
}

impl Checked {
    /// Orders in `known` are stored already and come without their items (only their
    /// status and delivery window can move), so the rule that an order has items is not
    /// asked of them.
    fn of(orders: Vec<Result<ParsedOrder, RowError>>, known: &HashSet<String>, cursor: Option<i64>) -> Checked {
        let (mut good, mut rejected, mut notes) = (Vec::with_capacity(orders.len()), Vec::new(), Vec::new());
        for order in orders {
            match order.and_then(|o| if known.contains(&o.platform_order_id) { Ok(o) } else { crate::orders::jobs::check(&o).map(|_| o) }) {
                Ok(mut o) => {
                    notes.append(&mut o.notes);
                    good.push(o);
                }
                Err(e) => rejected.push(e),
            }
        }
        Checked { orders: orders::prepare(good, now_millis()), rejected, notes, cursor }
    }
}

/// Asks Shopify for pages on a task of their own, so pages are fetched and read while
/// earlier ones are stored.
struct Fetch<'a> {
    syncer: &'a Syncer,
    shop: String,
    token: String,
    since: i64,
}

/// Pages read ahead of storing.
const READ_AHEAD: usize = 8;

impl Fetch<'_> {
    /// The shop's pages in order, ending after the last one or with the failure that
    /// stopped them. Each page is read (JSON to checked, prepared orders) on a blocking thread while the next
    /// one is asked for.
    fn start(&self) -> tokio::sync::mpsc::Receiver<Result<tokio::task::JoinHandle<Checked>, Failure>> {
        let (client, settings) = (self.syncer.client.clone(), self.syncer.settings.clone());
        let (shop, token, since) = (self.shop.clone(), self.token.clone(), self.since);
        let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        tokio::spawn(async move {
            let (mut cursor, mut first, mut line) = (None::<String>, shopify::PAGE_SIZE, 0u64);
            loop {
                let answer =
                    retrying(&settings, || shopify::orders_page(&client, &settings, &shop, &token, since, cursor.as_deref(), first)).await;
                let arrived = match answer {
                    // A query over Shopify's cost limit: ask for fewer orders per page.
                    Err(Failure::Rejected(code)) if code == "MAX_COST_EXCEEDED" && first > 10 => {
                        first /= 2;
                        continue;
                    }
                    Err(f) => {
                        let _ = sender.send(Err(f)).await;
                        return;
                    }
                    Ok(arrived) => arrived,
                };
                let shopify::Arrived { body, next, count, pause } = arrived;
                let offset = line;
                line += count;
                let reading = tokio::task::spawn_blocking(move || {
                    let page = shopify::read_page(&body, offset);
                    Checked::of(page.orders, &HashSet::new(), page.max_updated_at)
                });
                if sender.send(Ok(reading)).await.is_err() {
                    return; // the pull stopped
                }
                match next {
                    Some(next) => cursor = Some(next),
                    None => return,
                }
                tokio::time::sleep(pause).await;
            }
        });
        receiver
    }
}

/// One pull under way.
struct Run<'a> {
    syncer: &'a Syncer,
    connection: &'a Connection,
    target: Target,
    salt: Salt,
    /// An import's writer: on SQLite it keeps a transaction open across pages for a moment
    /// (commits are what an import spends most on); `commit` closes it before any wait.
    writer: orders::Writer,
    since: i64,
    /// The cursor reached by what was stored, saved once it is committed.
    cursor: Option<i64>,
    /// Checked orders not stored yet, and how far they reach.
    waiting: Vec<orders::Prepared>,
    waiting_cursor: Option<i64>,
    pulled: Pulled,
    /// Rejected orders and values set aside, for the import record.
    problems: Vec<RowError>,
}

// A pull's steps take `&mut self` across their awaits, and read the syncer through its own
// reference: the order writer (a SQLite connection) may move between threads but is not
// shared, so no `&Run` may be held over an await.
impl<'a> Run<'a> {
    /// Takes a page's orders: checked (rejected ones are kept with their reason) and
    /// gathered, stored once `FLUSH_AT` are waiting; `cursor` is how far they reach.
    async fn store(
        &mut self,
        orders: Vec<Result<ParsedOrder, RowError>>,
        known: &HashSet<String>,
        cursor: Option<i64>,
    ) -> Result<(), PullError> {
        self.take(Checked::of(orders, known, cursor)).await
    }

    /// Gathers checked orders, and stores them once `FLUSH_AT` are waiting.
    async fn take(&mut self, mut page: Checked) -> Result<(), PullError> {
        self.pulled.rejected += page.rejected.len();
        self.pulled.set_aside += page.notes.len();
        self.problems.append(&mut page.rejected);
        self.problems.append(&mut page.notes);
        self.waiting.append(&mut page.orders);
        self.waiting_cursor = self.waiting_cursor.max(page.cursor);
        self.pulled.pages += 1;
        if self.waiting.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores the gathered orders in one batch (one set of statements on PostgreSQL, one
    /// run of prepared rows on SQLite), and notes how far they reach.
    async fn flush(&mut self) -> Result<(), PullError> {
        let batch = std::mem::take(&mut self.waiting);
        let reach = self.waiting_cursor.take();
        if !batch.is_empty() {
            let source = self.connection.platform.as_str();
            let outcomes = self.writer.upsert(&self.target, batch, source, &self.salt).await?;
            self.pulled.tally.add(&outcomes);
        }
        self.checkpoint(reach).await
    }

    /// Notes how far the stored orders reach (`None`: no further) and, once they are
    /// committed, renews the lease and saves the cursor.
    async fn checkpoint(&mut self, cursor: Option<i64>) -> Result<(), PullError> {
        self.cursor = self.cursor.max(cursor);
        if !self.writer.committed() {
            return Ok(());
        }
        let (syncer, c): (&'a Syncer, &'a Connection) = (self.syncer, self.connection);
        if store::checkpoint(&syncer.db, c.id, &syncer.owner, now_millis() + LEASE_MS, self.cursor.unwrap_or(0)).await? {
            Ok(())
        } else {
            Err(PullError::LeaseLost)
        }
    }

    /// Commits what is stored and saves the cursor: before waiting on the network, so no
    /// other writer waits on this pull.
    async fn commit(&mut self) -> Result<(), PullError> {
        self.flush().await?;
        self.writer.finish().await?;
        self.checkpoint(None).await
    }

    /// Shopify's pages come sorted by update time, so each stored page moves the cursor.
    /// Pages are asked for and read on a task of their own, a few ahead of storing.
    async fn shopify(&mut self, credentials: &Credentials) -> Result<(), PullError> {
        let fetch =
            Fetch { syncer: self.syncer, shop: self.connection.account.clone(), token: credentials.token.clone(), since: self.since };
        let mut pages = fetch.start();
        loop {
            // Nothing arriving soon: commit first, so no other writer waits on the network.
            let next = match tokio::time::timeout(Duration::from_millis(200), pages.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    self.commit().await?;
                    pages.recv().await
                }
            };
            match next {
                None => return Ok(()),
                Some(reading) => {
                    let reading = reading.map_err(|f| failure(Platform::Shopify, f))?;
                    let page = reading.await.map_err(|e| PullError::Internal(AppError::caused("reading a Shopify page stopped", e)))?;
                    self.take(page).await?;
                }
            }
        }
    }

    /// eBay pages by offset, each page worked out afresh: an order modified while the pull
    /// pages moves, and an order behind it could be skipped. So the pull reads a window
    /// closed at its start (`until`), and moves the cursor to that end only when the
    /// window's total stayed the same on every page; otherwise the next pull reads the
    /// window again (storing is idempotent).
    async fn ebay(&mut self, credentials: &mut Credentials) -> Result<(), PullError> {
        let (syncer, connection): (&'a Syncer, &'a Connection) = (self.syncer, self.connection);
        let (client, settings): (&reqwest::Client, &Settings) = (&syncer.client, &syncer.settings);
        let mut access = syncer.access(connection, credentials, false).await?;
        let (since, until) = (self.since, now_millis());
        let (mut next, mut line, mut refreshed, mut totals) = (None::<String>, 0u64, false, HashSet::new());
        loop {
            let page = match retrying(settings, || ebay::orders_page(client, settings, &access, since, until, next.as_deref(), line)).await
            {
                Err(Failure::Expired) if !refreshed => {
                    access = syncer.access(connection, credentials, true).await?;
                    refreshed = true;
                    continue;
                }
                Err(Failure::Expired) => return Err(PullError::Unauthorized("eBay refused a freshly refreshed access token".into())),
                other => other.map_err(|f| failure(Platform::Ebay, f))?,
            };
            totals.insert(page.total);
            line += page.orders.len() as u64;
            self.store(page.orders, &HashSet::new(), None).await?;
            self.commit().await?;
            match page.next {
                Some(url) => next = Some(url),
                None => break,
            }
        }
        let stable = totals.len() == 1;
        self.checkpoint(stable.then_some(until)).await
    }

    /// Amazon does not promise an order of its pages, so the cursor moves once the whole
    /// pull is stored. New orders' items are asked for one order at a time (an order
    /// already stored keeps its items: only its status and delivery window can change).
    async fn amazon(&mut self, credentials: &mut Credentials) -> Result<(), PullError> {
        let (syncer, c): (&'a Syncer, &'a Connection) = (self.syncer, self.connection);
        let (client, settings): (&reqwest::Client, &Settings) = (&syncer.client, &syncer.settings);
        let region = Region::parse(&c.region).ok_or_else(|| PullError::Failed(format!("\"{}\" is not an Amazon region", c.region)))?;
        let base = amazon::endpoint(settings, region).to_string();
        let mut access = syncer.access(c, credentials, false).await?;
        let (mut next, mut line, mut latest) = (None::<String>, 0u64, None::<i64>);
        loop {
            let since = self.since;
            let result =
                retrying(settings, || amazon::orders_page(client, &base, &c.account, &access, &c.marketplace_ids, since, next.as_deref()))
                    .await;
            let page = match result {
                Err(Failure::Expired) => {
                    access = syncer.access(c, credentials, true).await?;
                    continue;
                }
                other => other.map_err(|f| failure(Platform::Amazon, f))?,
            };
            latest = latest.max(page.max_updated_at);
            let ids: Vec<String> = page.orders.iter().map(|d| d.id.clone()).collect();
            let known = orders::known(&syncer.db, c.store_id, &ids).await?;
            let mut parsed = Vec::with_capacity(page.orders.len());
            for (draft, id) in page.orders.into_iter().zip(&ids) {
                line += 1;
                parsed.push(self.amazon_order(draft, known.contains(id), &base, &mut access, credentials, line).await?);
            }
            self.store(parsed, &known, None).await?;
            self.commit().await?;
            match page.next {
                Some(token) => next = Some(token),
                None => break,
            }
        }
        self.checkpoint(latest).await
    }

    async fn amazon_order(
        &mut self,
        draft: Draft,
        known: bool,
        base: &str,
        access: &mut String,
        credentials: &mut Credentials,
        line: u64,
    ) -> Result<Result<ParsedOrder, RowError>, PullError> {
        let (syncer, c): (&'a Syncer, &'a Connection) = (self.syncer, self.connection);
        if known {
            return Ok(draft.into_known_order(line));
        }
        let (client, settings): (&reqwest::Client, &Settings) = (&syncer.client, &syncer.settings);
        loop {
            let token = access.clone();
            match retrying(settings, || amazon::order_items(client, base, &c.account, &token, &draft.id)).await {
                Ok(items) => return Ok(amazon::order(draft, items, line)),
                Err(Failure::Expired) => *access = syncer.access(c, credentials, true).await?,
                Err(f) => return Err(failure(Platform::Amazon, f)),
            }
        }
    }

    /// Counts the pull on the connection and, when orders were rejected or values set
    /// aside, records it as an import, so its problems are listed (and downloadable) like a
    /// file's.
    async fn finish(mut self) -> Result<Pulled, PullError> {
        self.commit().await?;
        let db = &self.syncer.db;
        let now = now_millis();
        let t = &self.pulled.tally;
        store::add_received(db, self.connection.id, now.div_euclid(DAY_MS), t.created + t.updated, self.pulled.rejected as i64).await?;
        if !self.problems.is_empty() {
            let name = format!("{} sync {}", self.connection.platform.label(), super::http::utc_label(now));
            let by = format!("connector {}", self.connection.account);
            let (rejected, set_aside) = (self.pulled.rejected as i64, self.pulled.set_aside as i64);
            crate::orders::jobs::record_feed(db, &self.target, &name, &by, t, rejected, set_aside, &self.problems).await?;
        }
        Ok(self.pulled)
    }
}
