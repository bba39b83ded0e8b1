//! Messages to the buyer's phone: texts (SMS) and WhatsApp, the channels beside e-mail for
//! buyers who left a phone number and agreed to them. The providers' APIs (`twilio` for
//! texts, behind [`SmsProvider`]; `whatsapp` for Meta's WhatsApp Cloud API), both behind
//! [`TextProvider`] for the worker that sends due messages (`sender`); the providers'
//! status and reply webhooks (`hooks`); and the submission of WhatsApp templates to Meta
//! (`meta`). What a text costs in parts, which replies opt out and what Meta accepts as a
//! template are pure and shared with the lint and the editor (`common::segments`,
//! `common::opt_out`, `common::whatsapp`); quiet hours are a campaign timing rule
//! (`campaigns::quiet`).

#[cfg(feature = "ssr")]
pub mod hooks;
#[cfg(feature = "ssr")]
pub mod meta;
#[cfg(feature = "ssr")]
pub mod sender;
#[cfg(feature = "ssr")]
pub mod twilio;
#[cfg(feature = "ssr")]
pub mod whatsapp;

use serde::{Deserialize, Serialize};

/// Where a text stands as its provider reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextStatus {
    Accepted,
    Queued,
    Sending,
    Sent,
    Delivered,
    Undelivered,
    Failed,
    Read,
}

impl TextStatus {
    pub fn parse(raw: &str) -> Option<TextStatus> {
        Some(match raw.trim().to_ascii_lowercase().as_str() {
            "accepted" | "scheduled" => TextStatus::Accepted,
            "queued" => TextStatus::Queued,
            "sending" => TextStatus::Sending,
            "sent" => TextStatus::Sent,
            "delivered" => TextStatus::Delivered,
            "undelivered" => TextStatus::Undelivered,
            "failed" | "canceled" => TextStatus::Failed,
            "read" => TextStatus::Read,
            _ => return None,
        })
    }

    /// The carrier gave up on it: the message ends `failed`.
    pub fn is_failure(self) -> bool {
        matches!(self, TextStatus::Undelivered | TextStatus::Failed)
    }
}

/// Who a text to `to` (E.164) comes from: the brand's sender, unless it is a sender ID and
/// the number is in a country whose carriers do not take sender IDs (the North American
/// Numbering Plan's US, Canada and Caribbean; China), where the brand's number is used.
/// Twilio's country guidelines list sender IDs as not supported there.
pub fn sender_for(sender: &str, number: &str, to: &str) -> Result<String, String> {
    let sender_id = sender.chars().any(|c| c.is_ascii_alphabetic());
    let no_sender_ids = to.starts_with("+1") || to.starts_with("+86");
    match (sender.trim(), number.trim()) {
        (sender, _) if !sender.is_empty() && !(sender_id && no_sender_ids) => Ok(sender.to_string()),
        (_, number) if !number.is_empty() => Ok(number.to_string()),
        ("", _) => Err("the brand has no SMS sender: set one on the brand's page".into()),
        (sender, _) => {
            Err(format!("carriers for {to} do not take sender IDs such as \"{sender}\": give the brand an SMS number on its page"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_id_is_used_where_carriers_take_one_and_the_number_elsewhere() {
        assert_eq!(sender_for("FjellGear", "+12025550143", "+4915112345678").unwrap(), "FjellGear");
        assert_eq!(sender_for("FjellGear", "+12025550143", "+12125550100").unwrap(), "+12025550143");
        assert_eq!(sender_for("FjellGear", "+12025550143", "+8613812345678").unwrap(), "+12025550143");
        assert_eq!(sender_for("+447911123456", "", "+12125550100").unwrap(), "+447911123456", "a number goes anywhere");
        assert_eq!(sender_for("", "+12025550143", "+4915112345678").unwrap(), "+12025550143");
        assert!(sender_for("FjellGear", "", "+12125550100").unwrap_err().contains("SMS number"));
        assert!(sender_for("", "", "+4915112345678").unwrap_err().contains("no SMS sender"));
    }
}

/// A price in millionths of its currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub micros: i64,
    pub currency: String,
}

#[cfg(feature = "ssr")]
pub use provider::*;

#[cfg(feature = "ssr")]
mod provider {
    use super::{Price, TextStatus};
    use crate::connectors::http::Failure;
    use futures_util::future::BoxFuture;

    /// One message to send to a phone.
    #[derive(Clone, Debug)]
    pub struct Sms {
        /// E.164.
        pub to: String,
        /// The brand's sender: an alphanumeric sender ID or a number (texts), or the
        /// WhatsApp Business phone number id.
        pub from: String,
        /// The message as the buyer reads it.
        pub body: String,
        /// A WhatsApp message's approved template and its parameters.
        pub template: Option<TemplateCall>,
        /// Starling's message, which WhatsApp echoes back in status reports.
        pub message_id: i64,
    }

    /// A template Meta approved, filled in.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TemplateCall {
        pub name: String,
        pub language: String,
        pub parameters: Vec<String>,
    }

    /// What the provider answered for a text it took.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Accepted {
        /// The provider's id of the message (status reports name it).
        pub provider_ref: String,
        pub segments: Option<i64>,
        pub price: Option<Price>,
    }

    /// Why a text was not taken; `opted_out` when the provider itself holds an opt-out of
    /// the number (the buyer replied STOP to it).
    #[derive(Clone, Debug, PartialEq)]
    pub struct SendFailure {
        pub failure: Failure,
        pub opted_out: bool,
    }

    impl From<Failure> for SendFailure {
        fn from(failure: Failure) -> Self {
            SendFailure { failure, opted_out: false }
        }
    }

    /// A provider's report on one text.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct StatusReport {
        pub provider_ref: String,
        pub status: TextStatus,
        /// The provider's error code of a failure.
        pub error: Option<String>,
        pub price: Option<Price>,
    }

    /// A provider of messages to phones: sends one, finds one it took before, and tells
    /// what it charged for one. Twilio's API (`twilio`) and WhatsApp's Cloud API
    /// (`whatsapp`) implement it.
    pub trait TextProvider: Send + Sync {
        /// The provider in words, for messages and logs.
        fn name(&self) -> &'static str;
        fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<Accepted, SendFailure>>;
        /// A text the provider already took from `from` to `to` with exactly `body` since
        /// `since` (epoch ms): how a try cut off by a crash is told from one that never left.
        fn find<'a>(&'a self, from: &'a str, to: &'a str, body: &'a str, since: i64) -> BoxFuture<'a, Result<Option<Accepted>, Failure>>;
        /// What the provider charged for a text, once it knows (`None` before).
        fn price<'a>(&'a self, provider_ref: &'a str) -> BoxFuture<'a, Result<Option<Price>, Failure>>;
        /// Whether the provider can be asked for prices (`price`); otherwise the contract's
        /// price stands.
        fn reports_prices(&self) -> bool {
            true
        }
    }

    /// An SMS provider, which also tells its genuine webhook requests from forged ones. Twilio's API is the
    /// one implemented (`twilio`); another provider implements these and plugs in.
    pub trait SmsProvider: TextProvider {
        /// Whether a webhook request to `url` with these form parameters carries the
        /// provider's signature.
        fn verify(&self, url: &str, params: &[(String, String)], signature: &str) -> bool;
    }
}
