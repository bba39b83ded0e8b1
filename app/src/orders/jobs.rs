//! Import jobs: an uploaded file waits in the data folder; a worker claims queued jobs
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), streams the file through the parser on a
//! blocking thread, upserts batches of orders, records rejected rows and progress, and
//! finishes. A job left `running` by a process that died is queued again once its
//! heartbeat is stale; re-running is safe because the upsert is idempotent.

use super::import::{FileError, Import, Item};
use super::model::{ImportState, Job, Mapping, ParsedOrder, RowError};
use super::store::jobs::{finish, Counts, Recorder};
use super::store::{self, Tally};
use crate::common::fingerprint::Salt;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use super::store::jobs::{create, get, list, queue, received, rejects};

/// Orders per upsert transaction.
pub const BATCH: usize = 10_000;
/// How long an import's writer may hold its open transaction (and so the database's write
/// lock) while waiting for the next batch of the file. Parsing a batch of 10,000 rows takes
/// about as long as writing it (two cores), so a shorter wait (100 ms was tried) fires
/// often and turns the import back into one commit per batch.
const WAIT_OPEN: std::time::Duration = std::time::Duration::from_millis(500);
/// A running job whose heartbeat is older than this is taken over.
const STALE_MS: i64 = 120_000;

/// Where an uploaded file is kept until its import is done.
pub fn upload_path(data_dir: &Path, job_id: i64) -> PathBuf {
    data_dir.join("imports").join(format!("{job_id}.upload"))
}

/// Takes the oldest queued job (or one whose worker died) for this process.
pub async fn claim(db: &Db) -> Result<Option<Job>, AppError> {
    let now = now_millis();
    match store::jobs::claim(db, now, now - STALE_MS).await? {
        Some(id) => get(db, id).await,
        None => Ok(None),
    }
}

/// What an import has stored so far, and the rejected rows not yet recorded: they wait
/// for the writer's commit, since nobody else can write while its transaction is open.
#[derive(Default)]
struct Progress {
    tally: Tally,
    rejected: i64,
    set_aside: i64,
    last_line: u64,
    waiting: Vec<RowError>,
}

impl Progress {
    fn add(&mut self, outcomes: &[store::Outcome], errors: Vec<RowError>, notes: Vec<RowError>, last_line: u64) {
        self.tally.add(outcomes);
        self.rejected += errors.len() as i64;
        self.set_aside += notes.len() as i64;
        self.waiting.extend(errors);
        self.waiting.extend(notes);
        self.last_line = self.last_line.max(last_line);
    }

    /// Records what the writer has committed: the rejected rows waiting, and the counts.
    async fn record(&mut self, recorder: &mut Recorder, id: i64, bytes: i64) -> Result<(), AppError> {
        let counts = Counts {
            bytes_read: bytes,
            rows_read: self.last_line as i64,
            orders_new: self.tally.created,
            orders_updated: self.tally.updated,
            orders_unchanged: self.tally.unchanged,
            rows_rejected: self.rejected,
            values_set_aside: self.set_aside,
        };
        recorder.record(id, &counts, &std::mem::take(&mut self.waiting)).await
    }
}

/// The store's saved column mapping (none when there is none, or it no longer reads).
pub async fn saved_mapping(db: &Db, store_id: i64) -> Result<Option<Mapping>, AppError> {
    Ok(store::jobs::mapping(db, store_id).await?.and_then(|json| serde_json::from_str(&json).ok()))
}

pub async fn save_mapping(db: &Db, store_id: i64, mapping: &Mapping) -> Result<(), AppError> {
    let json = serde_json::to_string(mapping).map_err(|e| AppError::caused("encoding failed", e))?;
    store::jobs::save_mapping(db, store_id, &json).await
}

/// A reader that counts the bytes read through it (for progress).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Records orders that came from a feed (a connector's pull or webhook) as a finished
/// import named `name`, so its rejected orders and set-aside values are listed and
/// downloadable like a file's rows.
#[allow(clippy::too_many_arguments)]
pub async fn record_feed(
    db: &Db,
    target: &store::Target,
    name: &str,
    by: &str,
    tally: &Tally,
    rejected: i64,
    set_aside: i64,
    problems: &[RowError],
) -> Result<(), AppError> {
    let id = store::jobs::create(db, target, name, by).await?;
    let counts = Counts {
        rows_read: tally.created + tally.updated + tally.unchanged + rejected,
        orders_new: tally.created,
        orders_updated: tally.updated,
        orders_unchanged: tally.unchanged,
        rows_rejected: rejected,
        values_set_aside: set_aside,
        ..Default::default()
    };
    Recorder::open(db).await?.record(id, &counts, problems).await?;
    finish(db, id, ImportState::Done, &summary(tally, rejected, set_aside)).await
}

/// An order is stored only when it has what every later step needs.
pub fn check(order: &ParsedOrder) -> Result<(), RowError> {
    if order.platform_order_id.chars().count() > 100 {
        return Err(RowError::new(order.line, "order id", "is longer than 100 characters"));
    }
    if order.placed_at.is_none() {
        return Err(RowError::new(order.line, "order date", "is empty: every order needs the date it was placed"));
    }
    if order.items.is_empty() {
        return Err(RowError::new(order.line, "items", "the order has no line item"));
    }
    Ok(())
}

/// One batch of a file as the writer gets it: its good orders prepared for the database,
/// its rejected rows, and the last line it reached.
struct Batch {
    orders: Vec<store::Prepared>,
    errors: Vec<RowError>,
    /// Values set aside from orders that were kept.
    notes: Vec<RowError>,
    last_line: u64,
}

/// The parsing thread's batch being filled: orders are checked as they are read and
/// prepared for the database once the batch is full.
#[derive(Default)]
struct Filling {
    checked: Vec<ParsedOrder>,
    errors: Vec<RowError>,
    notes: Vec<RowError>,
    last_line: u64,
}

impl Filling {
    fn add(&mut self, item: Item) {
        match item.and_then(|o| check(&o).map(|_| o)) {
            Ok(mut order) => {
                self.last_line = self.last_line.max(order.line);
                self.notes.append(&mut order.notes);
                self.checked.push(order);
            }
            Err(e) => {
                self.last_line = self.last_line.max(e.line);
                self.errors.push(e);
            }
        }
    }

    fn len(&self) -> usize {
        self.checked.len() + self.errors.len()
    }

    fn take(&mut self) -> Batch {
        let Filling { checked, errors, notes, last_line } = std::mem::take(self);
        Batch { orders: store::prepare(checked, now_millis()), errors, notes, last_line }
    }
}

/// Runs one claimed job to its end. File-level problems end it as failed with the reason;
/// row-level ones are recorded and the good rows land.
pub async fn run(db: &Db, salt: &Salt, data_dir: &Path, job: &Job) -> Result<(), AppError> {
    let Some(target) = store::target(db, job.store_id).await? else {
        return finish(db, job.id, ImportState::Failed, "The store was deleted.").await;
    };
    let mapping = saved_mapping(db, job.store_id).await?;
    let path = upload_path(data_dir, job.id);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return finish(db, job.id, ImportState::Failed, &format!("The uploaded file is gone ({e}); upload it again.")).await,
    };
    let count = Arc::new(AtomicU64::new(0));
    let reader = Counting { inner: std::io::BufReader::with_capacity(256 * 1024, file), count: count.clone() };
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Batch, FileError>>(2);
    // The parsing thread also checks each order and prepares it for the database (the
    // buyer's identity normalised, the line items serialised): the writing side then
    // does nothing but write.
    let parser = tokio::task::spawn_blocking(move || {
        let import = match Import::open(reader, mapping.as_ref()) {
            Ok(import) => import,
            Err(e) => {
                let _ = sender.blocking_send(Err(e));
                return;
            }
        };
        let mut filling = Filling::default();
        for item in import {
            filling.add(item);
            if filling.len() == BATCH && sender.blocking_send(Ok(filling.take())).is_err() {
                return;
            }
        }
        if filling.len() > 0 {
            let _ = sender.blocking_send(Ok(filling.take()));
        }
    });
    let source = format!("import:{}", job.id);
    let mut done = Progress::default();
    let mut failure = None;
    let mut batches = 0u64;
    let mut recorder = Recorder::open(db).await?;
    let mut writer = store::Writer::open_bulk(db).await?;
    let stored: Result<(), AppError> = async {
        loop {
            // Never hold the write lock long while waiting for the file: when the next
            // batch is not parsed in time, commit what is open first.
            let next = match tokio::time::timeout(WAIT_OPEN, receiver.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    writer.finish().await?;
                    done.record(&mut recorder, job.id, count.load(Ordering::Relaxed) as i64).await?;
                    receiver.recv().await
                }
            };
            let Some(batch) = next else { break };
            let Batch { orders, errors, notes, last_line } = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            };
            let outcomes = writer.upsert(&target, orders, &source, salt).await?;
            done.add(&outcomes, errors, notes, last_line);
            if writer.committed() {
                done.record(&mut recorder, job.id, count.load(Ordering::Relaxed) as i64).await?;
            }
            batches += 1;
            // Refresh PostgreSQL's statistics as a large import grows the tables (after
            // batches 1, 4, 16, 64…).
            if batches.is_power_of_two() && batches.trailing_zeros() % 2 == 0 {
                recorder.refresh_statistics().await?;
            }
        }
        writer.finish().await
    }
    .await;
    stored?;
    let _ = parser.await;
    done.record(&mut recorder, job.id, count.load(Ordering::Relaxed) as i64).await?;
    match failure {
        Some(reason) => finish(db, job.id, ImportState::Failed, &reason).await,
        None => {
            let summary = summary(&done.tally, done.rejected, done.set_aside);
            finish(db, job.id, ImportState::Done, &summary).await?;
            let _ = std::fs::remove_file(&path);
            Ok(())
        }
    }
}

/// "1204 new orders, 3 moved forward, 10 already known; 2 rows rejected; 5 values set
/// aside (their orders were kept)."
pub fn summary(tally: &Tally, rejected: i64, set_aside: i64) -> String {
    let aside = match set_aside {
        0 => String::new(),
        1 => " 1 value set aside (its order was kept).".to_string(),
        n => format!(" {n} values set aside (their orders were kept)."),
    };
    let orders = tally.created + tally.updated + tally.unchanged;
    if orders == 0 && rejected > 0 {
        return format!("No order was imported: all {rejected} rows were rejected (see the list below).{aside}");
    }
    if orders == 0 {
        return "The file holds no orders.".to_string();
    }
    if tally.created == 0 && tally.updated == 0 {
        let rows = if rejected > 0 { format!(" {rejected} rows rejected, as before.") } else { String::new() };
        return format!("Nothing changed: all {} orders were already imported with this status.{rows}{aside}", tally.unchanged);
    }
    format!(
        "{} new orders, {} moved forward, {} already known; {} rows rejected.{aside}",
        tally.created, tally.updated, tally.unchanged, rejected
    )
}

/// The worker loop: claims and runs jobs until the process ends.
pub async fn work(db: Db, data_dir: PathBuf) {
    loop {
        match claim(&db).await {
            Ok(Some(job)) => {
                let outcome = async {
                    let salt = crate::common::fingerprint::salt(&db).await?;
                    run(&db, &salt, &data_dir, &job).await
                }
                .await;
                if let Err(e) = outcome {
                    tracing::error!(job = job.id, error = %crate::error::report(&e), "import failed");
                    let _ = finish(&db, job.id, ImportState::Failed, &format!("The import stopped: {e}")).await;
                }
            }
            Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(300)).await,
            Err(e) => {
                tracing::error!(error = %crate::error::report(&e), "claiming import jobs failed");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_never_reads_as_success_when_nothing_was_imported() {
        let none = Tally::default();
        assert_eq!(summary(&none, 12, 0), "No order was imported: all 12 rows were rejected (see the list below).");
        assert_eq!(summary(&none, 0, 0), "The file holds no orders.");
        let known = Tally { unchanged: 5, ..Tally::default() };
        assert_eq!(summary(&known, 0, 0), "Nothing changed: all 5 orders were already imported with this status.");
        let new = Tally { created: 3, ..Tally::default() };
        assert_eq!(
            summary(&new, 1, 2),
            "3 new orders, 0 moved forward, 0 already known; 1 rows rejected. 2 values set aside (their orders were kept)."
        );
    }
}
