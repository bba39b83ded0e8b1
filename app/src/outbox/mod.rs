//! The outbox: every message a campaign planned, what happened to it (`message_events`),
//! and each try at sending it (`delivery_attempts`). This module owns those three tables;
//! everything else reads and writes them through `store`.
//!
//! It is a capability of its own, below campaigns and delivery, because both need it in
//! opposite directions: the campaigns planner writes messages, and delivery, which comes
//! after campaigns, records events that make campaigns re-judge their canaries. A store
//! inside delivery would have campaigns use delivery and delivery use campaigns: an import
//! cycle. Here campaigns and delivery both use the outbox, and the outbox uses neither
//! (the few statements that must look at a campaign's state read the table in SQL).

pub mod model;
#[cfg(feature = "ssr")]
pub mod store;

pub use model::{AttemptOutcome, EventKind, MessageState};
