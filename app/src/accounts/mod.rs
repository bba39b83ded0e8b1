//! Sign-in, sessions, users and roles, and the one authorization check every server
//! function and HTTP route goes through.

pub mod api;
pub mod audit_log;
pub mod model;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod throttle;
pub mod ui;
