//! Campaigns: who gets which approved message when. The rules are pure
//! functions (`eligibility`), as are A/B assignment and the winner decision (`ab`) and the
//! canary's halt thresholds (`canary`); the planner applies them and records each decision.
//! The SQL on campaigns' tables is in `store`; messages are the outbox's.

#[cfg(feature = "ssr")]
pub mod ab;
pub mod api;
pub mod canary;
#[cfg(feature = "ssr")]
pub mod eligibility;
pub mod model;
#[cfg(feature = "ssr")]
pub mod monitor;
#[cfg(feature = "ssr")]
pub mod planner;
#[cfg(feature = "ssr")]
pub mod quiet;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;

#[cfg(all(test, feature = "ssr"))]
mod tests;
