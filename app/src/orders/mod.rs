//! Orders in: platform exports (Shopify, Amazon, eBay, mapped CSV) and the ingest API,
//! upserted exactly once per (store, platform order id); customers per brand; suppression
//! lists; buyer privacy (export, erasure, retention).

pub mod api;
pub mod model;
pub mod ui;
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
#[cfg(feature = "ssr")]
pub mod privacy;
#[cfg(feature = "ssr")]
pub mod store;
