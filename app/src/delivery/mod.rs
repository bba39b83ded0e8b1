//! Delivery: getting mail out. So far the mailer (SMTP or the outbox folder) and the
//! Outbox page; campaigns' sending, DKIM and tracking come with the Delivery issue.

pub mod api;
#[cfg(feature = "ssr")]
pub mod mailer;
pub mod ui;

use serde::{Deserialize, Serialize};

/// A message in the outbox folder, as the Outbox page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub file: String,
    pub at: i64,
    pub to: String,
    pub subject: String,
}
