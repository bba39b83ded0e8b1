//! Orders in: platform exports (Shopify, Amazon, eBay, mapped CSV) and the ingest API,
//! upserted exactly once per (store, platform order id); customers per brand; suppression
//! lists; buyer privacy (export, erasure, retention).

pub mod api;
#[cfg(feature = "ssr")]
pub mod customers;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod ingest;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod keys;
pub mod model;
#[cfg(feature = "ssr")]
pub mod privacy;
#[cfg(feature = "ssr")]
pub mod store;
pub mod ui;
