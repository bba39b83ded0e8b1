//! The outbox worker's note of every message the relay accepted, written the moment the
//! 250 reply arrives: one line appended to this process's file in
//! `<data dir>/outbox-journal/`, while the database records accepted messages in groups
//! (`outbox::store::record_accepted`). A `kill -9` leaves the file whole (it is in the page
//! cache), so `sender::settle` counts what the relay accepted as sent: a killed sender
//! re-sends only the messages whose SMTP transaction was open. (A power loss can lose the newest lines:
//! those messages are re-sent, as without a journal.) Only processes sharing the data
//! folder see each other's journals; PostgreSQL servers on other machines fall back to
//! re-sending their unrecorded messages.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A journal is renamed to `.old` (replacing the previous one) past this size; entries
/// of the `.old` are older than any unfinished pass.
const ROTATE_BYTES: u64 = 4 * 1024 * 1024;

pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: Mutex<(std::fs::File, u64)>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

fn journal_path(dir: &Path, worker: &str) -> PathBuf {
    let safe: String = worker.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    dir.join(format!("{safe}.journal"))
}

fn open_append(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

impl Journal {
    /// This worker's journal in `dir` (created when missing).
    pub fn open(dir: &Path, worker: &str) -> std::io::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = journal_path(dir, worker);
        let file = open_append(&path)?;
        Ok(Journal { dir: dir.to_path_buf(), path, file: Mutex::new(file) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Notes that the relay accepted try `attempt` at `at` with `reply`.
    pub fn accepted(&self, attempt: &str, at: i64, reply: &str) {
        let reply: String = reply.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
        let line = format!("{attempt}\t{at}\t{reply}\n");
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.1 > ROTATE_BYTES {
            let old = self.path.with_extension("journal.old");
            if std::fs::rename(&self.path, &old).is_ok() {
                if let Ok(fresh) = open_append(&self.path) {
                    *guard = fresh;
                }
            }
        }
        if let Err(e) = guard.0.write_all(line.as_bytes()) {
            tracing::error!(error = %crate::error::report(&e), "writing the outbox journal failed");
            return;
        }
        guard.1 += line.len() as u64;
    }
}

/// Every accepted try noted in the journals of `dir`: attempt -> (at, reply).
pub fn read_all(dir: &Path) -> HashMap<String, (i64, String)> {
    let mut accepted = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return accepted };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.ends_with(".journal") || name.ends_with(".journal.old")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            if let (Some(attempt), Some(Ok(at)), reply) = (parts.next(), parts.next().map(str::parse::<i64>), parts.next()) {
                accepted.insert(attempt.to_string(), (at, reply.unwrap_or("").to_string()));
            }
        }
    }
    accepted
}

/// Removes the journals of workers that hold no claim any more (every message they had
/// in flight is settled), except `own`'s.
pub async fn forget_settled(db: &crate::db::Db, dir: &Path, own: &str) -> Result<(), crate::error::AppError> {
    let mut holding = crate::outbox::store::claim_holders(db).await?;
    holding.push(own.to_string());
    let keep: Vec<PathBuf> = holding.iter().map(|w| journal_path(dir, w)).collect();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let base = path.to_string_lossy().trim_end_matches(".old").to_string();
        if !keep.iter().any(|k| k.to_string_lossy() == base) {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_tries_are_read_back_from_every_journal_of_the_folder() {
        let dir = std::env::temp_dir().join(format!("journal-test-{}", rand::random::<u32>()));
        let a = Journal::open(&dir, "host-1").unwrap();
        let b = Journal::open(&dir, "host/2").unwrap();
        a.accepted("7-1", 1_000, "250 2.0.0 Ok: queued\r\nas X");
        b.accepted("8-2", 2_000, "250 OK");
        let all = read_all(&dir);
        assert_eq!(all.get("7-1"), Some(&(1_000, "250 2.0.0 Ok: queued  as X".to_string())));
        assert_eq!(all.get("8-2"), Some(&(2_000, "250 OK".to_string())));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
