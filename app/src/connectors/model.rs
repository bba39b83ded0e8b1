//! What the Connections pages show and the forms send (shared with the browser).

use serde::{Deserialize, Serialize};

/// The platforms a store can be connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    Amazon,
    Ebay,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Shopify, Platform::Amazon, Platform::Ebay];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Amazon => "amazon",
            Platform::Ebay => "ebay",
        }
    }

    pub fn parse(value: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == value)
    }

    pub const fn label(self) -> &'static str {
        match self {
            Platform::Shopify => "Shopify",
            Platform::Amazon => "Amazon",
            Platform::Ebay => "eBay",
        }
    }
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connected, no pull finished yet.
    Pending,
    Healthy,
    /// The last pulls failed (timeouts, server errors); retried with backoff.
    Failing,
    /// The platform refused the credentials: someone must connect the store again.
    NeedsReauth,
    /// Disconnected by a user; its credentials are deleted.
    Disconnected,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 5] = [
        ConnectionState::Pending,
        ConnectionState::Healthy,
        ConnectionState::Failing,
        ConnectionState::NeedsReauth,
        ConnectionState::Disconnected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Pending => "pending",
            ConnectionState::Healthy => "healthy",
            ConnectionState::Failing => "failing",
            ConnectionState::NeedsReauth => "needs_reauth",
            ConnectionState::Disconnected => "disconnected",
        }
    }

    pub fn parse(value: &str) -> Option<ConnectionState> {
        ConnectionState::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub const fn label(self) -> &'static str {
        match self {
            ConnectionState::Pending => "Connecting",
            ConnectionState::Healthy => "Healthy",
            ConnectionState::Failing => "Failing",
            ConnectionState::NeedsReauth => "Needs re-authorization",
            ConnectionState::Disconnected => "Disconnected",
        }
    }
}

/// Amazon's SP-API regions (each has its own endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    Na,
    Eu,
    Fe,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Na, Region::Eu, Region::Fe];

    pub const fn as_str(self) -> &'static str {
        match self {
            Region::Na => "na",
            Region::Eu => "eu",
            Region::Fe => "fe",
        }
    }

    pub fn parse(value: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.as_str() == value.trim().to_ascii_lowercase())
    }

    pub const fn label(self) -> &'static str {
        match self {
            Region::Na => "North America",
            Region::Eu => "Europe",
            Region::Fe => "Far East",
        }
    }
}

/// One connection as the Connections page lists it (no credential, ever).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRow {
    pub id: i64,
    pub client_id: i64,
    pub client: String,
    pub store_id: i64,
    pub store: String,
    pub platform: Platform,
    pub account: String,
    pub state: ConnectionState,
    pub last_success_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// How far behind the feed is: now minus the last successful pull, in seconds.
    pub lag_secs: Option<i64>,
    pub received_today: i64,
    pub last_error: String,
    pub interval_secs: i64,
    pub next_sync_at: i64,
    /// When the seller must authorize again (Amazon: a year after authorizing).
    pub reauthorize_by: Option<i64>,
    /// An open alert's reason.
    pub alert: Option<String>,
}

impl ConnectionRow {
    /// Whether someone should look at this feed: not healthy, alerting, or its
    /// authorization ends within 30 days.
    pub fn needs_attention(&self, now: i64) -> bool {
        !matches!(self.state, ConnectionState::Healthy | ConnectionState::Pending | ConnectionState::Disconnected)
            || self.alert.is_some()
            || self.reauthorize_by.is_some_and(|by| by - now < 30 * 86_400_000)
    }
}

/// A store that can be connected, for the connect form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreChoice {
    pub store_id: i64,
    pub client_id: i64,
    pub label: String,
    pub platform: String,
    pub connected: bool,
}

/// The Connections page: rows the caller may see, and whether they may change them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    pub rows: Vec<ConnectionRow>,
    pub stores: Vec<StoreChoice>,
    pub can_manage: bool,
    /// Which ways to connect are set up on this server (OAuth needs the app's keys).
    pub oauth: Vec<Platform>,
    pub now: i64,
}

/// Connecting a store with a pasted credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectForm {
    pub store_id: i64,
    /// Shopify: the shop's domain; Amazon: the selling partner id; eBay: the seller's user name.
    #[serde(default)]
    pub account: String,
    /// Shopify: a custom app's Admin API access token; Amazon and eBay: the refresh token.
    #[serde(default)]
    pub token: String,
    /// Shopify custom apps: the app's API secret key, which signs its webhooks.
    #[serde(default)]
    pub webhook_secret: String,
    /// Amazon: na, eu or fe.
    #[serde(default)]
    pub region: String,
    /// Amazon: marketplace ids, comma-separated (A1PA6795UKMFR9 for amazon.de…).
    #[serde(default)]
    pub marketplace_ids: String,
}

/// Minutes between pulls a user may set.
pub const INTERVAL_MINUTES: [i64; 6] = [5, 10, 15, 30, 60, 240];
