//! Building blocks that every capability uses and that depend on none of them. Capabilities
//! may use `common`, `shell`, `db` and `error`; `common` uses only `error` (and `db` for the
//! salt), never a capability.

#[cfg(feature = "ssr")]
pub mod fingerprint;
pub mod values;
