//! Reading multipart uploads without holding them in memory: a form's small fields read
//! with a cap, files written chunk by chunk to the data folder (`uploads/`), where the
//! importers read them back as a stream. A spooled file is removed when it is dropped.

use axum::extract::multipart::Field;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The longest value of a form's own fields (a store or brand id, a choice).
pub const MAX_FIELD_BYTES: usize = 1024;

/// A small form field's text, refusing one longer than [`MAX_FIELD_BYTES`].
pub async fn field_text(mut field: Field<'_>) -> Result<String, String> {
    let name = field.name().unwrap_or("field").to_string();
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                    return Err(format!("The form field \"{name}\" is longer than {MAX_FIELD_BYTES} bytes."));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(format!("The upload was interrupted: {e}")),
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("The form field \"{name}\" is not text."))
}

/// An uploaded file in the data folder, removed when dropped.
pub struct Spooled {
    pub path: PathBuf,
    pub size: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spooled {
    /// The file for reading (on a blocking thread: it may be hundreds of megabytes).
    pub fn open(&self) -> Result<std::fs::File, String> {
        std::fs::File::open(&self.path).map_err(|e| format!("The uploaded file could not be read back: {e}"))
    }
}

/// Writes a file field to `<data_dir>/uploads/` as it arrives, up to `limit` bytes.
pub async fn spool(mut field: Field<'_>, data_dir: &Path, limit: u64, too_large: impl Fn(u64) -> String) -> Result<Spooled, String> {
    let dir = data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir).await.map_err(|e| format!("The data folder is not writable: {e}"))?;
    let path = dir.join(format!("spool-{}-{:016x}", std::process::id(), rand::random::<u64>()));
    let mut file = tokio::fs::File::create(&path).await.map_err(|e| format!("The data folder is not writable: {e}"))?;
    let mut spooled = Spooled { path, size: 0 };
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                spooled.size += chunk.len() as u64;
                if spooled.size > limit {
                    return Err(too_large(limit));
                }
                file.write_all(&chunk).await.map_err(|e| format!("The file could not be stored: {e}"))?;
            }
            Ok(None) => break,
            Err(e) => return Err(format!("The upload was interrupted: {e}")),
        }
    }
    file.flush().await.map_err(|e| format!("The file could not be stored: {e}"))?;
    Ok(spooled)
}

/// A request body read only after its sender was let in: at most `limit` bytes, or a
/// message naming the limit.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, String> {
    axum::body::to_bytes(body, limit).await.map_err(|_| format!("The body is larger than {} MB.", limit / (1024 * 1024)))
}
