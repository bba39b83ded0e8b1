//! SQL for `sign_in_attempts`: the attempts counted against each budget of
//! `accounts::throttle`, which decides what to count and when to refuse.

use crate::db::{Backend, Db};
use crate::error::AppError;
use sqlx::any::AnyRow;
use sqlx::Row;

/// The attempts under one key within the window: how many, and when the oldest was.
pub struct Tally {
    pub count: i64,
    pub oldest: Option<i64>,
}

impl sqlx::FromRow<'_, AnyRow> for Tally {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Tally { count: r.try_get("n")?, oldest: r.try_get("oldest")? })
    }
}

/// The attempt table inside one transaction that holds the reservation lock: counts read
/// in it stay true until it ends, so parallel guesses are counted before any is checked.
pub struct Ledger {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

/// Opens a [`Ledger`]. On PostgreSQL the transaction takes an advisory lock shared by
/// every server process; on SQLite the caller's process-wide mutex serialises writers.
pub async fn open(db: &Db) -> Result<Ledger, AppError> {
    let mut tx = db.pool.begin().await?;
    if db.backend == Backend::Postgres {
        // (Selected through a subquery: the Any driver reads no `void` column.)
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtext('starling sign-in attempts'))) AS l")
            .execute(&mut *tx)
            .await?;
    }
    Ok(Ledger { tx })
}

impl Ledger {
    /// Deletes attempts made at or before `cutoff` (outside every window).
    pub async fn forget_until(&mut self, cutoff: i64) -> Result<(), AppError> {
        sqlx::query("DELETE FROM sign_in_attempts WHERE at <= $1").bind(cutoff).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// The attempts under `key` made after `since`.
    pub async fn tally(&mut self, key: &str, since: i64) -> Result<Tally, AppError> {
        Ok(sqlx::query_as::<_, Tally>("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM sign_in_attempts WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    /// Records one attempt under `key` at `at`; its id.
    pub async fn add(&mut self, key: &str, at: i64) -> Result<i64, AppError> {
        let (id,): (i64,) = sqlx::query_as("INSERT INTO sign_in_attempts (key, at) VALUES ($1, $2) RETURNING id")
            .bind(key)
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(id)
    }

    /// Keeps what was added and releases the lock.
    pub async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Drops what was done and releases the lock.
    pub async fn abandon(self) -> Result<(), AppError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// Deletes the attempts with these ids.
pub async fn delete(db: &Db, ids: &[i64]) -> Result<(), AppError> {
    for id in ids {
        sqlx::query("DELETE FROM sign_in_attempts WHERE id = $1").bind(id).execute(&db.pool).await?;
    }
    Ok(())
}

/// Deletes every attempt under `key`.
pub async fn delete_key(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE key = $1").bind(key).execute(&db.pool).await?;
    Ok(())
}
