//! SQL of import jobs (`import_jobs`), their rejected rows (`import_rejects`) and each
//! store's saved column mapping (`column_mappings`). A job's row is read with its store's
//! name from `stores` (owned by `clients::store`).

use super::{decode, Target};
use crate::db::{now_millis, Backend, Db};
use crate::error::AppError;
use crate::orders::model::{ImportState, Job, RowError};
use sqlx::any::AnyRow;
use sqlx::Row;

const JOB_SELECT: &str = "SELECT j.id, j.client_id, j.store_id, s.name AS store_name, j.file_name, j.size_bytes, j.layout, \
    j.encoding, j.state, j.bytes_read, j.rows_read, j.orders_new, j.orders_updated, j.orders_unchanged, j.rows_rejected, \
    j.values_set_aside, j.message, j.created_by, j.created_at, j.started_at, j.finished_at FROM import_jobs j JOIN stores s ON s.id = j.store_id";

impl sqlx::FromRow<'_, AnyRow> for Job {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Job {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            store_id: r.try_get("store_id")?,
            store_name: r.try_get("store_name")?,
            file_name: r.try_get("file_name")?,
            size_bytes: r.try_get("size_bytes")?,
            layout: r.try_get("layout")?,
            encoding: r.try_get("encoding")?,
            state: decode(r, "state", ImportState::parse)?,
            bytes_read: r.try_get("bytes_read")?,
            rows_read: r.try_get("rows_read")?,
            orders_new: r.try_get("orders_new")?,
            orders_updated: r.try_get("orders_updated")?,
            orders_unchanged: r.try_get("orders_unchanged")?,
            rows_rejected: r.try_get("rows_rejected")?,
            values_set_aside: r.try_get("values_set_aside")?,
            message: r.try_get("message")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for RowError {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(RowError { line: r.try_get::<i64, _>("line")? as u64, field: r.try_get("field")?, reason: r.try_get("reason")? })
    }
}

/// A new job for a file that is about to arrive (state `receiving`).
pub async fn create(db: &Db, target: &Target, file_name: &str, by: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO import_jobs (client_id, store_id, file_name, size_bytes, state, created_by, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING id",
    )
    .bind(target.client_id)
    .bind(target.store_id)
    .bind(file_name)
    .bind(ImportState::Receiving.as_str())
    .bind(by)
    .bind(now_millis())
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>(0)?)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, AppError> {
    Ok(sqlx::query_as::<_, Job>(&format!("{JOB_SELECT} WHERE j.id = $1")).bind(id).fetch_optional(&db.pool).await?)
}

/// A client's latest 50 jobs, newest first.
pub async fn list(db: &Db, client_id: i64) -> Result<Vec<Job>, AppError> {
    Ok(sqlx::query_as::<_, Job>(&format!("{JOB_SELECT} WHERE j.client_id = $1 ORDER BY j.id DESC LIMIT 50"))
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?)
}

/// Records what the upload's first bytes said: the layout (or that it needs a mapping).
pub async fn received(
    db: &Db,
    id: i64,
    size: i64,
    layout: &str,
    encoding: &str,
    state: ImportState,
    message: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE import_jobs SET size_bytes = $1, layout = $2, encoding = $3, state = $4, message = $5 WHERE id = $6")
        .bind(size)
        .bind(layout)
        .bind(encoding)
        .bind(state.as_str())
        .bind(message)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Queues an uploaded job; `false` when it is not waiting to be started.
pub async fn queue(db: &Db, id: i64) -> Result<bool, AppError> {
    let r = sqlx::query("UPDATE import_jobs SET state = $2, message = '' WHERE id = $1 AND state IN ($3, $4)")
        .bind(id)
        .bind(ImportState::Queued.as_str())
        .bind(ImportState::Uploaded.as_str())
        .bind(ImportState::NeedsMapping.as_str())
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Whether `backend` locks claimed rows (`FOR UPDATE SKIP LOCKED`) or relies on SQLite's
/// single writer.
fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

/// Marks the oldest queued job, or a running one whose heartbeat is older than
/// `stale_before`, as running for this process, and answers its id. The states stay
/// literals here: the worker asks this every 300 ms, by the index on `state`.
pub async fn claim(db: &Db, now: i64, stale_before: i64) -> Result<Option<i64>, AppError> {
    let lock = skip_locked(db.backend);
    let row = sqlx::query(&format!(
        "UPDATE import_jobs SET state = 'running', started_at = COALESCE(started_at, $1), heartbeat_at = $1 \
         WHERE id = (SELECT id FROM import_jobs WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $2) \
                     ORDER BY id LIMIT 1{lock}) RETURNING id"
    ))
    .bind(now)
    .bind(stale_before)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

/// Ends a job as `done` or `failed`, with the summary or the reason.
pub async fn finish(db: &Db, id: i64, state: ImportState, message: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE import_jobs SET state = $1, message = $2, finished_at = $3 WHERE id = $4")
        .bind(state.as_str())
        .bind(message)
        .bind(now_millis())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// How far a running import has got, as its row records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub bytes_read: i64,
    pub rows_read: i64,
    pub orders_new: i64,
    pub orders_updated: i64,
    pub orders_unchanged: i64,
    pub rows_rejected: i64,
    pub values_set_aside: i64,
}

/// A running import's own pooled connection, beside the order writer's: progress and
/// rejected rows go there once the writer has committed (an open SQLite transaction holds
/// the write lock), and PostgreSQL's statistics are refreshed there.
pub struct Recorder {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    backend: Backend,
}

impl Recorder {
    pub async fn open(db: &Db) -> Result<Recorder, AppError> {
        Ok(Recorder { conn: db.pool.acquire().await?, backend: db.backend })
    }

    /// Adds the rejected rows and records the counts (and the heartbeat).
    pub async fn record(&mut self, id: i64, counts: &Counts, rejects: &[RowError]) -> Result<(), AppError> {
        self.add_rejects(id, rejects).await?;
        sqlx::query(
            "UPDATE import_jobs SET bytes_read = $1, rows_read = $2, orders_new = $3, orders_updated = $4, \
               orders_unchanged = $5, rows_rejected = $6, heartbeat_at = $7, values_set_aside = $9 WHERE id = $8",
        )
        .bind(counts.bytes_read)
        .bind(counts.rows_read)
        .bind(counts.orders_new)
        .bind(counts.orders_updated)
        .bind(counts.orders_unchanged)
        .bind(counts.rows_rejected)
        .bind(now_millis())
        .bind(id)
        .bind(counts.values_set_aside)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn add_rejects(&mut self, id: i64, rejects: &[RowError]) -> Result<(), AppError> {
        for chunk in rejects.chunks(500) {
            let values: Vec<String> = (0..chunk.len()).map(|r| format!("({})", self.backend.params(1 + r * 4, 4))).collect();
            let sql = format!("INSERT INTO import_rejects (job_id, line, field, reason) VALUES {}", values.join(","));
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query.bind(id).bind(e.line as i64).bind(e.field.as_str()).bind(e.reason.as_str());
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    /// PostgreSQL plans by its statistics, and autovacuum may be off or behind: refreshes
    /// them for the tables an import grows (nothing on SQLite).
    pub async fn refresh_statistics(&mut self) -> Result<(), AppError> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE orders, customers, consents").execute(&mut *self.conn).await?;
        }
        Ok(())
    }
}

/// Rejected rows of a job, by line (a page of them, or all with `limit` None).
pub async fn rejects(db: &Db, id: i64, limit: Option<i64>, offset: i64) -> Result<Vec<RowError>, AppError> {
    Ok(sqlx::query_as::<_, RowError>(
        "SELECT line, field, reason FROM import_rejects WHERE job_id = $1 ORDER BY line, id LIMIT $2 OFFSET $3",
    )
    .bind(id)
    .bind(limit.unwrap_or(i64::MAX))
    .bind(offset)
    .fetch_all(&db.pool)
    .await?)
}

/// The store's saved column mapping, as the JSON it is kept in.
pub async fn mapping(db: &Db, store_id: i64) -> Result<Option<String>, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT mapping FROM column_mappings WHERE store_id = $1").bind(store_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(json,)| json))
}

pub async fn save_mapping(db: &Db, store_id: i64, json: &str) -> Result<(), AppError> {
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
