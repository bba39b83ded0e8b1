//! Import jobs: an uploaded file waits in the data folder; a worker claims queued jobs
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), streams the file through the parser on a
//! blocking thread, upserts batches of orders, records rejected rows and progress, and
//! finishes. A job left `running` by a process that died is queued again once its
//! heartbeat is stale; re-running is safe because the upsert is idempotent.

use super::import::{FileError, Import, Item};
use super::model::{Job, Mapping, ParsedOrder, RowError};
use super::store::{self, Tally, Target};
use crate::common::fingerprint::Salt;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use sqlx::Row;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Orders per upsert transaction.
pub const BATCH: usize = 10_000;
/// How long an import's writer may hold its open transaction (and so the database's write
/// lock) while waiting for the next batch of the file. Parsing a batch of 10,000 rows takes
/// about as long as writing it (two cores), so a shorter wait (100 ms was tried) fires
/// often and turns the import back into one commit per batch.
const WAIT_OPEN: std::time::Duration = std::time::Duration::from_millis(500);
/// A running job whose heartbeat is older than this is taken over.
const STALE_MS: i64 = 120_000;

const JOB_SELECT: &str = "SELECT j.id, j.client_id, j.store_id, s.name AS store_name, j.file_name, j.size_bytes, j.layout, \
    j.encoding, j.state, j.bytes_read, j.rows_read, j.orders_new, j.orders_updated, j.orders_unchanged, j.rows_rejected, \
    j.values_set_aside, j.message, j.created_by, j.created_at, j.started_at, j.finished_at FROM import_jobs j JOIN stores s ON s.id = j.store_id";

fn job(r: &sqlx::any::AnyRow) -> Job {
    Job {
        id: r.get("id"),
        client_id: r.get("client_id"),
        store_id: r.get("store_id"),
        store_name: r.get("store_name"),
        file_name: r.get("file_name"),
        size_bytes: r.get("size_bytes"),
        layout: r.get("layout"),
        encoding: r.get("encoding"),
        state: r.get("state"),
        bytes_read: r.get("bytes_read"),
        rows_read: r.get("rows_read"),
        orders_new: r.get("orders_new"),
        orders_updated: r.get("orders_updated"),
        orders_unchanged: r.get("orders_unchanged"),
        rows_rejected: r.get("rows_rejected"),
        values_set_aside: r.get("values_set_aside"),
        message: r.get("message"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
    }
}

/// Where an uploaded file is kept until its import is done.
pub fn upload_path(data_dir: &Path, job_id: i64) -> PathBuf {
    data_dir.join("imports").join(format!("{job_id}.upload"))
}

pub async fn create(db: &Db, target: &Target, file_name: &str, by: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO import_jobs (client_id, store_id, file_name, size_bytes, state, created_by, created_at) \
         VALUES ($1, $2, $3, 0, 'receiving', $4, $5) RETURNING id",
    )
    .bind(target.client_id)
    .bind(target.store_id)
    .bind(file_name)
    .bind(by)
    .bind(now_millis())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.get(0))
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, AppError> {
    let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = $1")).bind(id).fetch_optional(&db.pool).await?;
    Ok(row.as_ref().map(job))
}

pub async fn list(db: &Db, client_id: i64) -> Result<Vec<Job>, AppError> {
    let rows = sqlx::query(&format!("{JOB_SELECT} WHERE j.client_id = $1 ORDER BY j.id DESC LIMIT 50"))
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(job).collect())
}

/// Records what the upload's first bytes said: the layout (or that it needs a mapping).
pub async fn received(db: &Db, id: i64, size: i64, layout: &str, encoding: &str, state: &str, message: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE import_jobs SET size_bytes = $1, layout = $2, encoding = $3, state = $4, message = $5 WHERE id = $6")
        .bind(size)
        .bind(layout)
        .bind(encoding)
        .bind(state)
        .bind(message)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Queues an uploaded job; `false` when it is not waiting to be started.
pub async fn queue(db: &Db, id: i64) -> Result<bool, AppError> {
    let r = sqlx::query("UPDATE import_jobs SET state = 'queued', message = '' WHERE id = $1 AND state IN ('uploaded', 'needs_mapping')")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Takes the oldest queued job (or one whose worker died) for this process.
pub async fn claim(db: &Db) -> Result<Option<Job>, AppError> {
    let now = now_millis();
    let lock = store::skip_locked(db.backend);
    let row = sqlx::query(&format!(
        "UPDATE import_jobs SET state = 'running', started_at = COALESCE(started_at, $1), heartbeat_at = $1 \
         WHERE id = (SELECT id FROM import_jobs WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $2) \
                     ORDER BY id LIMIT 1{lock}) RETURNING id"
    ))
    .bind(now)
    .bind(now - STALE_MS)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(r) => get(db, r.get(0)).await,
        None => Ok(None),
    }
}

async fn finish(db: &Db, id: i64, state: &str, message: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE import_jobs SET state = $1, message = $2, finished_at = $3 WHERE id = $4")
        .bind(state)
        .bind(message)
        .bind(now_millis())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn add_rejects(conn: &mut sqlx::AnyConnection, backend: crate::db::Backend, id: i64, rejects: &[RowError]) -> Result<(), AppError> {
    for chunk in rejects.chunks(500) {
        let values: Vec<String> = (0..chunk.len()).map(|r| format!("({})", backend.params(1 + r * 4, 4))).collect();
        let sql = format!("INSERT INTO import_rejects (job_id, line, field, reason) VALUES {}", values.join(","));
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query.bind(id).bind(e.line as i64).bind(e.field.as_str()).bind(e.reason.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
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
    async fn record(&mut self, conn: &mut sqlx::AnyConnection, backend: crate::db::Backend, id: i64, bytes: i64) -> Result<(), AppError> {
        add_rejects(conn, backend, id, &std::mem::take(&mut self.waiting)).await?;
        sqlx::query(
            "UPDATE import_jobs SET bytes_read = $1, rows_read = $2, orders_new = $3, orders_updated = $4, \
               orders_unchanged = $5, rows_rejected = $6, heartbeat_at = $7, values_set_aside = $9 WHERE id = $8",
        )
        .bind(bytes)
        .bind(self.last_line as i64)
        .bind(self.tally.created)
        .bind(self.tally.updated)
        .bind(self.tally.unchanged)
        .bind(self.rejected)
        .bind(now_millis())
        .bind(id)
        .bind(self.set_aside)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Rejected rows of a job, by line (a page of them, or all with `limit` None).
pub async fn rejects(db: &Db, id: i64, limit: Option<i64>, offset: i64) -> Result<Vec<RowError>, AppError> {
    let rows = sqlx::query("SELECT line, field, reason FROM import_rejects WHERE job_id = $1 ORDER BY line, id LIMIT $2 OFFSET $3")
        .bind(id)
        .bind(limit.unwrap_or(i64::MAX))
        .bind(offset)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| RowError { line: r.get::<i64, _>("line") as u64, field: r.get("field"), reason: r.get("reason") })
        .collect())
}

pub async fn saved_mapping(db: &Db, store_id: i64) -> Result<Option<Mapping>, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT mapping FROM column_mappings WHERE store_id = $1").bind(store_id).fetch_optional(&db.pool).await?;
    Ok(row.and_then(|(json,)| serde_json::from_str(&json).ok()))
}

pub async fn save_mapping(db: &Db, store_id: i64, mapping: &Mapping) -> Result<(), AppError> {
    let json = serde_json::to_string(mapping).map_err(|e| AppError::caused("encoding failed", e))?;
    sqlx::query(
        "INSERT INTO column_mappings (store_id, mapping, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (store_id) DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
    )
    .bind(store_id)
    .bind(json)
    .bind(now_millis())
    .execute(&db.pool)
    .await?;
    Ok(())
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
        return finish(db, job.id, "failed", "The store was deleted.").await;
    };
    let mapping = saved_mapping(db, job.store_id).await?;
    let path = upload_path(data_dir, job.id);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return finish(db, job.id, "failed", &format!("The uploaded file is gone ({e}); upload it again.")).await,
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
    let mut conn = db.pool.acquire().await?;
    let mut writer = store::Writer::open_bulk(db).await?;
    let stored: Result<(), AppError> = async {
        loop {
            // Never hold the write lock long while waiting for the file: when the next
            // batch is not parsed in time, commit what is open first.
            let next = match tokio::time::timeout(WAIT_OPEN, receiver.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    writer.finish().await?;
                    done.record(&mut conn, db.backend, job.id, count.load(Ordering::Relaxed) as i64).await?;
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
                done.record(&mut conn, db.backend, job.id, count.load(Ordering::Relaxed) as i64).await?;
            }
            batches += 1;
            // PostgreSQL plans by its statistics, and autovacuum may be off or behind: refresh
            // them as a large import grows the tables (after batches 1, 4, 16, 64…).
            if db.backend == crate::db::Backend::Postgres && batches.is_power_of_two() && batches.trailing_zeros() % 2 == 0 {
                sqlx::query("ANALYZE orders, customers, consents").execute(&mut *conn).await?;
            }
        }
        writer.finish().await
    }
    .await;
    stored?;
    let _ = parser.await;
    done.record(&mut conn, db.backend, job.id, count.load(Ordering::Relaxed) as i64).await?;
    match failure {
        Some(reason) => finish(db, job.id, "failed", &reason).await,
        None => {
            let summary = summary(&done.tally, done.rejected, done.set_aside);
            finish(db, job.id, "done", &summary).await?;
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
                    let _ = finish(&db, job.id, "failed", &format!("The import stopped: {e}")).await;
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
