//! The outbox's states and event kinds, shared by the pages and the server (no database
//! types here: this compiles for the browser too). Each is stored as the text of its
//! `as_str`, and serialises to the same text, so pages and JSON answers read as before.

use serde::{Deserialize, Serialize};

/// How a message reaches the buyer: an e-mail, a text (SMS) or a WhatsApp message Starling
/// writes and sends, or
/// Amazon's own "Request a Review" (the Solicitations API), which Amazon writes and
/// translates. Stored
/// in `messages.channel` and `campaigns.channel` as the text of `as_str`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Email,
    Sms,
    Amazon,
    Whatsapp,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Amazon, Channel::Whatsapp];

    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Amazon => "amazon",
            Channel::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The channel in words, for pages and reports.
    pub const fn label(self) -> &'static str {
        match self {
            Channel::Email => "E-mail",
            Channel::Sms => "SMS",
            Channel::Amazon => "Amazon Request a Review",
            Channel::Whatsapp => "WhatsApp",
        }
    }

    /// Whether messages of the channel go to the buyer's phone (a text or WhatsApp).
    pub const fn is_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Whatsapp)
    }
}

/// Where a planned message is. The planner writes `Queued` (or `Held` behind a canary);
/// the sender claims it (`Sending`) and records `Sent` or `Failed`, or queues it again
/// after a temporary failure; cancelling a campaign or suppressing a buyer cancels what
/// has not gone yet. An Amazon request that Amazon does not offer for the order ends
/// `Skipped` (its `not_eligible` event says why).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    #[default]
    Queued,
    /// Waiting for the campaign's canary to pass.
    Held,
    Sending,
    Sent,
    Failed,
    Cancelled,
    Skipped,
}

impl MessageState {
    pub const ALL: [MessageState; 7] = [
        MessageState::Queued,
        MessageState::Held,
        MessageState::Sending,
        MessageState::Sent,
        MessageState::Failed,
        MessageState::Cancelled,
        MessageState::Skipped,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Held => "held",
            MessageState::Sending => "sending",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Cancelled => "cancelled",
            MessageState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<MessageState> {
        MessageState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// What happened to a message, as its events record it: sent by the relay, reported
/// back (bounce, complaint), or done by the buyer (unsubscribe, open, click, review). An
/// Amazon request ends `Requested` (Amazon took it, or had taken it before),
/// `NotEligible` (Amazon offers none for the order, with its reason) or `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Sent,
    Bounced,
    Complained,
    Unsubscribed,
    Opened,
    Clicked,
    Reviewed,
    Requested,
    NotEligible,
    Failed,
    /// A text's provider reports it reached the handset.
    Delivered,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::Sent,
        EventKind::Bounced,
        EventKind::Complained,
        EventKind::Unsubscribed,
        EventKind::Opened,
        EventKind::Clicked,
        EventKind::Reviewed,
        EventKind::Requested,
        EventKind::NotEligible,
        EventKind::Failed,
        EventKind::Delivered,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Sent => "sent",
            EventKind::Bounced => "bounced",
            EventKind::Complained => "complained",
            EventKind::Unsubscribed => "unsubscribed",
            EventKind::Opened => "opened",
            EventKind::Clicked => "clicked",
            EventKind::Reviewed => "reviewed",
            EventKind::Requested => "requested",
            EventKind::NotEligible => "not_eligible",
            EventKind::Failed => "failed",
            EventKind::Delivered => "delivered",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }
}

/// How one try at sending a message ended (`Pending` while it is under way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Pending,
    Sent,
    /// A temporary failure: the message is queued again after its back-off.
    Retry,
    Failed,
    /// The process stopped during the try: it may or may not have reached the relay.
    Unknown,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 5] =
        [AttemptOutcome::Pending, AttemptOutcome::Sent, AttemptOutcome::Retry, AttemptOutcome::Failed, AttemptOutcome::Unknown];

    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Pending => "pending",
            AttemptOutcome::Sent => "sent",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<AttemptOutcome> {
        AttemptOutcome::ALL.into_iter().find(|outcome| outcome.as_str() == s)
    }
}
