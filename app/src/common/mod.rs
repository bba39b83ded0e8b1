//! Building blocks that every capability uses and that depend on none of them. Capabilities
//! may use `common`, `shell`, `db` and `error`; `common` uses only `error` (and `db` for the
//! salt, whose SQL is in `common::store`), never a capability.

#[cfg(feature = "ssr")]
pub mod fingerprint;
pub mod identity;
#[cfg(feature = "ssr")]
pub mod mailer;
pub mod opt_out;
pub mod render;
pub mod segments;
#[cfg(feature = "ssr")]
pub mod store;
pub mod values;
pub mod whatsapp;

/// A message in the outbox folder, as the Outbox page lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboxEntry {
    pub file: String,
    pub at: i64,
    pub to: String,
    pub subject: String,
}
