//! Parquet snapshots of large clients' events, so a year of tens of millions of events
//! reports in about a second: the snapshot holds the cube (`engine::cube`) of every event
//! that happened before its watermark; the database adds the cube of what happened since
//! (only the first event of a kind per message, so nothing counts twice). Written
//! atomically (a new file is renamed over the old), refreshed daily by the worker.

use super::engine::Events;
use super::store::{self, Window};
use crate::db::Db;
use crate::error::AppError;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a snapshot holds, kept beside its Parquet file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every event before this time (epoch ms) is counted in the file; none after.
    pub watermark: i64,
    /// The names of the file's locale codes.
    pub locales: Vec<String>,
    /// Events summed up in the cube, and the cube's rows.
    pub events: u64,
    pub rows: u64,
    #[serde(skip)]
    pub path: PathBuf,
}

fn folder(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

fn paths(data_dir: &Path, client_id: i64) -> (PathBuf, PathBuf) {
    let dir = folder(data_dir);
    // `-v2`: the cube gained the channel; older snapshots are not read (the next is taken).
    (dir.join(format!("client-{client_id}-v2.parquet")), dir.join(format!("client-{client_id}-v2.json")))
}

/// The client's snapshot, when it has one.
pub fn open(data_dir: &Path, client_id: i64) -> Option<Snapshot> {
    let (parquet, meta) = paths(data_dir, client_id);
    let mut snapshot: Snapshot = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
    parquet.exists().then(|| {
        snapshot.path = parquet;
        snapshot
    })
}

/// Writes `cube` (see `engine::cube`) of `events` events as the client's snapshot up to
/// `watermark`.
pub fn write(
    data_dir: &Path,
    client_id: i64,
    cube: &mut DataFrame,
    locales: Vec<String>,
    events: u64,
    watermark: i64,
) -> Result<(), AppError> {
    let io = |e: std::io::Error| AppError::caused("writing a report snapshot", e);
    let (parquet, meta) = paths(data_dir, client_id);
    std::fs::create_dir_all(folder(data_dir)).map_err(io)?;
    let partial = parquet.with_extension("parquet.partial");
    let file = std::fs::File::create(&partial).map_err(io)?;
    ParquetWriter::new(std::io::BufWriter::new(file)).finish(cube).map_err(super::engine::polars_error)?;
    let snapshot = Snapshot { watermark, locales, events, rows: cube.height() as u64, path: PathBuf::new() };
    // Both files are complete before either replaces the one in place.
    let meta_partial = meta.with_extension("json.partial");
    std::fs::write(&meta_partial, serde_json::to_vec(&snapshot).unwrap_or_default()).map_err(io)?;
    std::fs::rename(&partial, &parquet).map_err(io)?;
    std::fs::rename(&meta_partial, &meta).map_err(io)?;
    Ok(())
}

/// Takes a new snapshot of every event of the client before `watermark`. Answers the
/// number of events in it.
pub async fn refresh(db: &Db, data_dir: &Path, client_id: i64, watermark: i64) -> Result<u64, AppError> {
    let mut events = Events::with_capacity(1 << 16);
    let everything = Window { sent_from: i64::MIN, sent_until: i64::MAX, at_from: i64::MIN, at_until: watermark, new_only: false };
    store::load_events(db, client_id, everything, &mut events).await?;
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let n = events.len() as u64;
        let (frame, locales) = events.into_frame().map_err(super::engine::polars_error)?;
        let mut cube = super::engine::cube_of(frame).map_err(super::engine::polars_error)?;
        write(&data_dir, client_id, &mut cube, locales, n, watermark)?;
        Ok(n)
    })
    .await
    .map_err(|e| AppError::caused("snapshot task", e))?
}

/// Refreshes the snapshot of every client with at least `min_messages` sent messages whose
/// snapshot is missing or older than a day. Answers (client, events) of those written.
pub async fn refresh_large(db: &Db, data_dir: &Path, now: i64, min_messages: i64) -> Result<Vec<(i64, u64)>, AppError> {
    let large = store::clients_with_sent(db, min_messages).await?;
    let mut written = Vec::new();
    for client_id in large {
        let fresh = open(data_dir, client_id).is_some_and(|s| now - s.watermark < super::rules::DAY_MS);
        if !fresh {
            // An hour's margin: an event stamped a little in the past (a late report) still
            // lands after the watermark and is read from the database.
            written.push((client_id, refresh(db, data_dir, client_id, now - super::rules::HOUR_MS).await?));
        }
    }
    Ok(written)
}
