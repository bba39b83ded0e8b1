//! Clients (sellers), their brands (sender identities) and stores (sales channels).

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;
