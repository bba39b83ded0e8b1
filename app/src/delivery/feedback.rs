//! Bounce and complaint reports: delivery status notifications (RFC 3464) and abuse
//! feedback reports (ARF, RFC 5965), as mailbox providers and relays send them back.
//! mail-parser reads the MIME structure; mail-auth reads the feedback report.
//!
//! A report is matched to the message it is about by the signed Message-ID of the quoted
//! original (a `message/rfc822` or `text/rfc822-headers` part), else by the signed return
//! path it was addressed to (`bounces+m42.<tag>@…`). The tag is an HMAC only Starling can
//! make, so a report can't name a message by guessing its id. A permanent failure is a hard
//! bounce, a complaint is a complaint: each is recorded as the message's event once per
//! report (replaying a report changes nothing), and the buyer is suppressed for the brand.
//! Temporary failures (`delayed`, 4.x.x) are acknowledged and change nothing: the relay is
//! still trying.

use super::compose::parse_message_id;
use crate::campaigns::monitor;
use crate::db::Db;
use crate::error::AppError;
use crate::orders::model::Reason;
use crate::outbox::model::EventKind;
use mail_auth::report::{Feedback, FeedbackType};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a report says about a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A permanent failure: `status` (5.x.x) and the server's words.
    Bounced { status: String, diagnostic: String },
    /// The buyer marked the message as spam (`abuse`, `fraud`, `virus`, `other`).
    Complained { feedback_type: String },
    /// Nothing to record, and why (a delay, a `not-spam` report, a successful delivery).
    Ignored(String),
}

/// A report read: its verdict, the message it names, and its identity for replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub message_id: i64,
    pub verdict: Verdict,
    /// `report:<Message-ID of the report>`, or of a hash of its bytes when it has none.
    pub source: String,
}

/// The answer of the webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `bounced`, `complained` or `ignored`.
    pub outcome: String,
    pub message_id: i64,
    /// Whether this report was new (false for a replay or an ignored report).
    pub recorded: bool,
    pub detail: String,
}

/// Reads a raw report. The error says what is missing, for the webhook's 422 answer.
pub fn parse(secret: &str, raw: &[u8]) -> Result<Report, String> {
    let message = MessageParser::default().parse(raw).ok_or("the body is not an e-mail message (RFC 5322)")?;
    let source = match message.message_id() {
        Some(id) => format!("report:{id}"),
        None => format!("report:sha256:{}", hex::encode(&Sha256::digest(raw)[..16])),
    };
    let message_id = original_message(secret, &message).ok_or(
        "the report names no message sent by Starling: no quoted original with a Starling Message-ID \
         (message/rfc822 or text/rfc822-headers part) and not addressed to a Starling return path",
    )?;
    let is_arf = message.parts.iter().any(|p| p.is_content_type("message", "feedback-report"));
    let status_part = message.parts.iter().find(|p| p.is_content_type("message", "delivery-status"));
    let verdict = if is_arf {
        let feedback = Feedback::parse_rfc5322(raw).map_err(|e| format!("the feedback report (RFC 5965) can't be read: {e:?}"))?;
        match feedback.feedback_type() {
            FeedbackType::NotSpam => Verdict::Ignored("a not-spam report".into()),
            FeedbackType::AuthFailure => Verdict::Ignored("an authentication failure report (not a complaint)".into()),
            other => Verdict::Complained { feedback_type: format!("{other:?}").to_lowercase() },
        }
    } else if let Some(part) = status_part {
        delivery_status(part.contents())?
    } else {
        return Err("neither a delivery status notification (message/delivery-status part, RFC 3464) \
                    nor a feedback report (message/feedback-report part, RFC 5965)"
            .into());
    };
    Ok(Report { message_id, verdict, source })
}

/// The message the report is about: the quoted original's Message-ID, else the return path
/// the report was sent to.
fn original_message(secret: &str, report: &Message<'_>) -> Option<i64> {
    let quoted = report.parts.iter().find_map(|part| match &part.body {
        PartType::Message(original) => original.message_id().and_then(|id| parse_message_id(secret, id)),
        PartType::Text(headers) if part.is_content_type("text", "rfc822-headers") => MessageParser::default()
            .parse_headers(headers.as_bytes())
            .and_then(|h| h.message_id().and_then(|id| parse_message_id(secret, id))),
        _ => None,
    });
    quoted.or_else(|| {
        let addressed = report.to().into_iter().flat_map(|to| to.iter()).filter_map(|a| a.address());
        let delivered = ["Delivered-To", "X-Original-To"].into_iter().filter_map(|h| report.header_raw(h)).map(str::trim);
        addressed.chain(delivered).find_map(|address| parse_message_id(secret, address))
    })
}

/// The verdict of a `message/delivery-status` body: its per-recipient field groups (after
/// the per-message group), each read as a header block.
fn delivery_status(body: &[u8]) -> Result<Verdict, String> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut groups = text.split("\n\n").map(str::trim).filter(|g| !g.is_empty()).skip(1).peekable();
    if groups.peek().is_none() {
        return Err("the delivery status has no per-recipient fields (Action, Status)".into());
    }
    let mut last = None;
    for group in groups {
        let block = format!("{group}\n\n");
        let Some(fields) = MessageParser::default().parse_headers(block.as_bytes()) else { continue };
        let field = |name: &str| fields.header_raw(name).map(|v| v.trim().to_string()).unwrap_or_default();
        let (action, status) = (field("Action").to_ascii_lowercase(), field("Status"));
        if action == "failed" || (action.is_empty() && status.starts_with('5')) {
            let diagnostic = field("Diagnostic-Code");
            let diagnostic = diagnostic.split_once(';').map_or(diagnostic.as_str(), |(_, words)| words).trim().to_string();
            return Ok(Verdict::Bounced { status, diagnostic });
        }
        last = Some(match action.as_str() {
            "delayed" => format!("a delay ({status}): the relay is still trying"),
            "" => format!("a status {status} without an action"),
            other => format!("action {other} ({status})"),
        });
    }
    Ok(Verdict::Ignored(last.unwrap_or_default()))
}

/// Reads a report and records what it says. A replay records nothing new.
pub async fn process(db: &Db, secret: &str, raw: &[u8], now: i64) -> Result<Outcome, AppError> {
    let report = parse(secret, raw).map_err(AppError::Request)?;
    let (outcome, detail, reason) = match &report.verdict {
        Verdict::Bounced { status, diagnostic } => {
            ("bounced", format!("{status} {diagnostic}").trim().to_string(), Some((EventKind::Bounced, Reason::HardBounce)))
        }
        Verdict::Complained { feedback_type } => {
            ("complained", format!("feedback type {feedback_type}"), Some((EventKind::Complained, Reason::Complaint)))
        }
        Verdict::Ignored(why) => ("ignored", why.clone(), None),
    };
    if !crate::outbox::store::exists(db, report.message_id).await? {
        return Err(AppError::Request(format!("message {} is no longer held (erased or purged)", report.message_id)));
    }
    let Some((kind, reason)) = reason else {
        return Ok(Outcome { outcome: outcome.into(), message_id: report.message_id, recorded: false, detail });
    };
    let recorded = monitor::record_event(db, report.message_id, kind, &report.source, now, &detail).await?;
    if recorded {
        super::suppress_buyer(db, report.message_id, reason, &detail, "feedback report").await?;
    }
    Ok(Outcome { outcome: outcome.into(), message_id: report.message_id, recorded, detail })
}
