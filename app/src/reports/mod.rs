//! Reports, reviews, alerts and SLA: what the client sees (figures computed with polars,
//! charts drawn with plotters), reviews attributed to the message that asked for them,
//! alerts on negative reviews, and the SLA board with every breach and its evidence.

pub mod api;
#[cfg(feature = "ssr")]
pub mod build;
#[cfg(feature = "ssr")]
pub mod charts;
#[cfg(feature = "ssr")]
pub mod engine;
pub mod model;
#[cfg(feature = "ssr")]
pub mod monthly;
#[cfg(feature = "ssr")]
pub mod reviews;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod sla;
#[cfg(feature = "ssr")]
pub mod snapshot;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;
#[cfg(feature = "ssr")]
pub mod usage;
