//! Sending mail with lettre: through the configured SMTP relay (pooled, TLS as the URL
//! says), or, with none configured, as `.eml` files in the outbox folder that the Outbox
//! page lists (the embedded default: a new install sends nothing until a relay is configured).

use super::OutboxEntry;
use crate::error::AppError;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

/// Where mail goes. `Debug` never shows credentials.
pub enum Mailer {
    /// `direct` is set for a plain `smtp://host:port` relay (no TLS, no credentials): the
    /// outbox worker's messages then go over Starling's own connections (`Direct`).
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        relay: String,
        direct: Option<Direct>,
    },
    Outbox {
        folder: PathBuf,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { relay, .. } => write!(f, "Mailer::Smtp({relay})"),
            Mailer::Outbox { folder, .. } => write!(f, "Mailer::Outbox({})", folder.display()),
        }
    }
}

/// Connections of lettre's SMTP client that Starling opens itself, with `TCP_NODELAY`.
/// lettre writes a message's final `.` on its own after the body; with Nagle's algorithm
/// on (lettre's pooled transport leaves it on) that write waits for the server to
/// acknowledge the body, which servers delay by up to 40 ms: one message per 45 ms per
/// connection. Idle connections are kept for reuse and checked with NOOP first, as
/// lettre's pool does; a connection that saw any error is closed.
pub struct Direct {
    addr: String,
    hello: lettre::transport::smtp::extension::ClientId,
    idle: tokio::sync::Mutex<Vec<lettre::transport::smtp::client::AsyncSmtpConnection>>,
}

impl Direct {
    /// Kept connections at most.
    const IDLE: usize = 32;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

    /// For `smtp://host[:port]` with nothing else in the URL.
    fn for_url(url: &str) -> Option<Direct> {
        let rest = url.strip_prefix("smtp://")?.trim_end_matches('/');
        if rest.is_empty() || rest.contains(['@', '?', '/']) {
            return None;
        }
        let addr = if rest.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
            rest.to_string()
        } else {
            format!("{rest}:25")
        };
        Some(Direct { addr, hello: Default::default(), idle: Default::default() })
    }

    async fn connect(&self) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, SendError> {
        let transient = |message: String| SendError { permanent: false, message };
        let stream = tokio::time::timeout(Self::TIMEOUT, tokio::net::TcpStream::connect(&self.addr))
            .await
            .map_err(|_| transient(format!("connecting to {}: timed out", self.addr)))?
            .map_err(|e| transient(format!("connecting to {}: {e}", self.addr)))?;
        stream.set_nodelay(true).map_err(|e| transient(format!("TCP_NODELAY: {e}")))?;
        tokio::time::timeout(
            Self::TIMEOUT,
            lettre::transport::smtp::client::AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
        )
        .await
        .map_err(|_| transient(format!("greeting from {}: timed out", self.addr)))?
        .map_err(|e| SendError { permanent: e.is_permanent(), message: e.to_string() })
    }

    async fn send(&self, envelope: &lettre::address::Envelope, bytes: &[u8]) -> Result<String, SendError> {
        let kept = self.idle.lock().await.pop();
        let mut conn = match kept {
            Some(mut conn) => {
                if conn.test_connected().await {
                    conn
                } else {
                    conn.abort().await;
                    self.connect().await?
                }
            }
            None => self.connect().await?,
        };
        match tokio::time::timeout(Self::TIMEOUT, conn.send(envelope, bytes)).await {
            Ok(Ok(response)) => {
                let mut idle = self.idle.lock().await;
                if idle.len() < Self::IDLE {
                    idle.push(conn);
                }
                Ok(reply_text(&response))
            }
            Ok(Err(e)) => {
                conn.abort().await;
                Err(SendError { permanent: e.is_permanent(), message: e.to_string() })
            }
            Err(_) => Err(SendError { permanent: false, message: "the SMTP server did not answer within 60 s".into() }),
        }
    }
}

/// A server's reply as the message log keeps it: `250 2.0.0 Ok: queued`.
fn reply_text(response: &lettre::transport::smtp::response::Response) -> String {
    format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))
}

/// One message for one recipient: a subject and a plain-text body, optionally HTML too.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub to: String,
    /// Further recipients of the same message (one message, several RCPT TO).
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// (file name, MIME type, bytes) of each attachment (the monthly report's charts).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl Mailer {
    /// SMTP when `smtp_url` is set (`smtp://host:25`, `smtp://host:587?tls=required`,
    /// `smtps://user:pass@host:465`), else the outbox folder under the data folder.
    pub fn new(smtp_url: Option<&SecretString>, outbox: PathBuf, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("mail_from \"{from}\" is not an address: {e}"))?;
        match smtp_url.map(|u| u.expose_secret().trim().to_string()).filter(|u| !u.is_empty()) {
            Some(url) => {
                // Room for the outbox worker's concurrency (20 by default) plus Starling's
                // own mail: lettre's default pool keeps 10 connections.
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|e| format!("smtp_url is not usable: {e}"))?
                    .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(32))
                    .build();
                Ok(Mailer::Smtp { transport, from, relay: redact(&url), direct: Direct::for_url(&url) })
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
        let mut builder = Message::builder().from(from).to(to).subject(mail.subject.clone());
        for cc in &mail.cc {
            let cc: Mailbox = cc.parse().map_err(|e| AppError::invalid("cc", format!("\"{cc}\" is not an e-mail address: {e}")))?;
            builder = builder.cc(cc);
        }
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone());
        let body = match &mail.html {
            Some(html) => MultiPart::alternative()
                .singlepart(text)
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            None => MultiPart::mixed().singlepart(text),
        };
        let message = if mail.attachments.is_empty() && mail.html.is_none() {
            builder.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.text.clone()))
        } else if mail.attachments.is_empty() {
            builder.multipart(body)
        } else {
            let mut mixed = if mail.html.is_some() { MultiPart::mixed().multipart(body) } else { body };
            for (name, mime, bytes) in &mail.attachments {
                let kind = ContentType::parse(mime).map_err(|e| AppError::internal(format!("attachment type {mime}: {e}")))?;
                mixed = mixed.singlepart(lettre::message::Attachment::new(name.clone()).body(bytes.clone(), kind));
            }
            builder.multipart(mixed)
        }
        .map_err(|e| AppError::caused("building a message", e))?;
        match self {
            Mailer::Smtp { transport, relay, .. } => {
                transport.send(message).await.map_err(|e| {
                    tracing::warn!(relay = %relay, error = %crate::error::report(&e), "SMTP send failed");
                    AppError::internal("the mail server did not accept the message")
                })?;
            }
            Mailer::Outbox { folder, .. } => {
                AsyncFileTransport::<Tokio1Executor>::new(folder)
                    .send(message)
                    .await
                    .map_err(|e| AppError::caused("writing to the outbox", e))?;
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
            Mailer::Smtp { direct: Some(direct), .. } => direct.send(&envelope, bytes).await,
            Mailer::Smtp { transport, .. } => match transport.send_raw(&envelope, bytes).await {
                Ok(response) => Ok(reply_text(&response)),
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
