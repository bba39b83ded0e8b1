//! Templates: messages per brand and purpose, one version per locale, rendered with
//! minijinja, linted by `compliance`, and moved through the approval workflow.

pub mod api;
pub mod model;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;
