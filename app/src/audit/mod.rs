//! The audit log: who did what, when, to which client. Written by every capability,
//! read by the agency admin (`accounts::audit_log`).

#[cfg(feature = "ssr")]
pub mod store;

#[cfg(feature = "ssr")]
pub use store::record;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_email: String,
    pub action: String,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub subject: String,
    pub detail: String,
}
