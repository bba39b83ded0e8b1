//! Sending mail with lettre: through the configured SMTP relay (pooled, TLS as the URL
//! says), or, with none configured, as `.eml` files in the outbox folder that the Outbox
//! page lists (the embedded default, SPEC "Deployment").

use super::OutboxEntry;
use crate::error::AppError;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

/// Where mail goes. `Debug` never shows credentials.
pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox, relay: String },
    Outbox { folder: PathBuf, from: Mailbox },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { relay, .. } => write!(f, "Mailer::Smtp({relay})"),
            Mailer::Outbox { folder, .. } => write!(f, "Mailer::Outbox({})", folder.display()),
        }
    }
}

/// One message for one recipient: a subject and a plain-text body, optionally HTML too.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl Mailer {
    /// SMTP when `smtp_url` is set (`smtp://host:25`, `smtp://host:587?tls=required`,
    /// `smtps://user:pass@host:465`), else the outbox folder under the data folder.
    pub fn new(smtp_url: Option<&SecretString>, outbox: PathBuf, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("mail_from \"{from}\" is not an address: {e}"))?;
        match smtp_url.map(|u| u.expose_secret().trim().to_string()).filter(|u| !u.is_empty()) {
            Some(url) => {
                let transport =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|e| format!("smtp_url is not usable: {e}"))?.build();
                Ok(Mailer::Smtp { transport, from, relay: redact(&url) })
            }
            None => {
                std::fs::create_dir_all(&outbox).map_err(|e| format!("creating {}: {e}", outbox.display()))?;
                Ok(Mailer::Outbox { folder: outbox, from })
            }
        }
    }

    /// The outbox folder, when mail goes there.
    pub fn outbox(&self) -> Option<&Path> {
        match self {
            Mailer::Outbox { folder, .. } => Some(folder),
            Mailer::Smtp { .. } => None,
        }
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), AppError> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. } => from.clone(),
        };
        let to: Mailbox = mail.to.parse().map_err(|e| AppError::invalid("to", format!("\"{}\" is not an e-mail address: {e}", mail.to)))?;
        let builder = Message::builder().from(from).to(to).subject(mail.subject.clone());
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone());
        let message = match &mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(text),
        }
        .map_err(|e| AppError::Internal(format!("building a message: {e}")))?;
        match self {
            Mailer::Smtp { transport, relay, .. } => {
                transport.send(message).await.map_err(|e| {
                    tracing::warn!(relay = %relay, error = %e, "SMTP send failed");
                    AppError::Internal("the mail server did not accept the message".into())
                })?;
            }
            Mailer::Outbox { folder, .. } => {
                AsyncFileTransport::<Tokio1Executor>::new(folder)
                    .send(message)
                    .await
                    .map_err(|e| AppError::Internal(format!("writing to the outbox: {e}")))?;
            }
        }
        Ok(())
    }

    /// Sends prepared bytes (already signed) to one recipient; answers the server's reply.
    pub async fn send_raw(&self, from: &str, to: &str, bytes: &[u8]) -> Result<String, SendError> {
        use lettre::address::{Address, Envelope};
        let parse = |a: &str| a.parse::<Address>().map_err(|e| SendError { permanent: true, message: format!("\"{a}\": {e}") });
        let envelope = Envelope::new(Some(parse(from)?), vec![parse(to)?])
            .map_err(|e| SendError { permanent: true, message: format!("envelope: {e}") })?;
        match self {
            Mailer::Smtp { transport, .. } => match transport.send_raw(&envelope, bytes).await {
                Ok(response) => Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))),
                Err(e) => Err(SendError { permanent: e.is_permanent(), message: e.to_string() }),
            },
            Mailer::Outbox { folder, .. } => AsyncFileTransport::<Tokio1Executor>::new(folder)
                .send_raw(&envelope, bytes)
                .await
                .map(|id| format!("written to the outbox as {id}.eml"))
                .map_err(|e| SendError { permanent: false, message: format!("writing to the outbox: {e}") }),
        }
    }

    /// The newest `limit` messages of the outbox folder, newest first.
    pub fn list_outbox(&self, limit: usize) -> Vec<OutboxEntry> {
        let Some(folder) = self.outbox() else { return vec![] };
        let Ok(entries) = std::fs::read_dir(folder) else { return vec![] };
        let mut files: Vec<(i64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| {
                let at = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                (at, e.path())
            })
            .collect();
        files.sort_by(|a, b| b.cmp(a));
        files
            .into_iter()
            .take(limit)
            .map(|(at, path)| {
                let head = std::fs::read_to_string(&path).unwrap_or_default();
                let header = |name: &str| {
                    head.lines()
                        .take_while(|l| !l.is_empty())
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                        .unwrap_or_default()
                };
                OutboxEntry {
                    file: path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
                    at,
                    to: header("To:"),
                    subject: decode_subject(&header("Subject:")),
                }
            })
            .collect()
    }

    /// One outbox message's raw text, by its file name (never a path).
    pub fn read_outbox(&self, file: &str) -> Option<String> {
        let folder = self.outbox()?;
        let valid = file.ends_with(".eml") && file.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return None;
        }
        std::fs::read_to_string(folder.join(file)).ok()
    }
}

/// Why a send failed: `permanent` for a 5xx answer (the address or the message is refused
/// for good), otherwise worth another try (4xx, a dropped connection, a timeout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

/// `smtps://user:secret@host:465` → `smtps://host:465` for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}{}", &url[..scheme + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Subjects with non-ASCII text are RFC 2047 encoded-words; show them decoded.
fn decode_subject(raw: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    for word in raw.split_whitespace() {
        let decoded = word
            .strip_prefix("=?utf-8?b?")
            .or_else(|| word.strip_prefix("=?UTF-8?B?"))
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded {
            Some(text) => out.push_str(&text),
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // lettre's SMTP pool lives on the Tokio runtime, as it does in the server.
    #[tokio::test]
    async fn credentials_never_reach_logs() {
        assert_eq!(redact("smtps://mailer:hunter2@smtp.example.com:465"), "smtps://smtp.example.com:465");
        let url = SecretString::from("smtp://mailer:hunter2@127.0.0.1:2525".to_string());
        let mailer = Mailer::new(Some(&url), PathBuf::from("/nonexistent"), "Starling <starling@example.com>").unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"));
    }
}
