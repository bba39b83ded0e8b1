//! The report's figures and groupings, reviews, alerts and SLA types.

use serde::{Deserialize, Serialize};

/// The ways a report is broken down, in the order the page shows them:
/// (key, label). "variant" is per (campaign, variant).
pub const GROUPINGS: [(&str, &str); 7] = [
    ("brand", "Brand"),
    ("store", "Store"),
    ("campaign", "Campaign"),
    ("variant", "A/B variant"),
    ("locale", "Locale"),
    ("day", "Day sent"),
    ("channel", "Channel"),
];

/// Event kinds the report counts, as the engine's codes (index = code).
pub const KINDS: [&str; 7] = ["sent", "bounced", "complained", "unsubscribed", "opened", "clicked", "reviewed"];
pub const SENT: i32 = 0;
pub const BOUNCED: i32 = 1;
pub const COMPLAINED: i32 = 2;
pub const UNSUBSCRIBED: i32 = 3;
pub const OPENED: i32 = 4;
pub const CLICKED: i32 = 5;
pub const REVIEWED: i32 = 6;

/// What happened to a set of messages. Each message counts once per kind however many
/// opens or clicks it had; reviews count each review attributed to the messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub sent: u64,
    pub bounced: u64,
    pub complained: u64,
    pub unsubscribed: u64,
    pub opened: u64,
    pub clicked: u64,
    pub reviews: u64,
    /// Sum of the reviews' stars (average = rating_sum / reviews).
    pub rating_sum: u64,
}

/// One line of a grouping: its key (ids as the engine sees them) and label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub key: i64,
    /// The variant index for the "variant" grouping (else 0).
    pub key2: i64,
    pub label: String,
    pub figures: Figures,
    /// What the row's messages cost (the channel grouping only: "0.05 USD", currencies
    /// joined by " + "; empty when nothing was priced).
    #[serde(default)]
    pub cost: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    pub name: String,
    pub label: String,
    pub rows: Vec<ReportRow>,
}

/// One arm of an A/B test as the report shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub variant: String,
    /// Delivered messages (the denominator).
    pub trials: u64,
    pub successes: u64,
    pub rate: f64,
    /// 95% confidence interval of the rate (Wilson).
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AbResult {
    pub campaign_id: i64,
    pub campaign: String,
    /// "click rate" or "review rate", per delivered message.
    pub metric: String,
    pub arms: Vec<ArmResult>,
    /// The Campaigns issue's decision (mixture SPRT), in words.
    pub decision: String,
    /// Bar chart of the arms' rates with their intervals (SVG).
    pub chart_svg: String,
}

/// Reviews received in the period, attributed to a message or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub brand: String,
    pub reviews: u64,
    pub average_rating: Option<f64>,
    pub negative: u64,
}

/// A client's report over `from ..= until` (days, `YYYY-MM-DD`, UTC).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub client_id: i64,
    pub client: String,
    pub from: String,
    pub until: String,
    pub totals: Figures,
    pub groupings: Vec<Grouping>,
    pub tests: Vec<AbResult>,
    pub reviews: Vec<ReviewSummary>,
    /// Daily trend chart (SVG) of sent, delivered, opened, clicked.
    pub trend_svg: String,
    /// How long the figures took to compute, in milliseconds (shown small, for trust).
    pub computed_ms: u64,
}

/// A review as lists show it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    pub id: i64,
    pub brand: String,
    pub store: String,
    pub platform_order_id: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub reviewed_at: i64,
    /// The message that asked for it, when attributed.
    pub message_id: Option<i64>,
    pub campaign: String,
    pub via: String,
}

/// What a reviews import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewImport {
    pub created: u64,
    pub duplicates: u64,
    pub attributed: u64,
    pub alerts: u64,
    /// (line, field, reason) of each row that could not be used.
    pub rejected: Vec<(u64, String, String)>,
}

/// Where an alert about a negative review stands: the response clock runs while it is
/// open; the first response and the resolution are stamped once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    #[default]
    Open,
    Responded,
    Resolved,
}

impl AlertState {
    pub const ALL: [AlertState; 3] = [AlertState::Open, AlertState::Responded, AlertState::Resolved];

    /// How the state is stored and sent in forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Responded => "responded",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub const fn label(self) -> &'static str {
        match self {
            AlertState::Open => "Open",
            AlertState::Responded => "Responded",
            AlertState::Resolved => "Resolved",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRow {
    pub id: i64,
    pub client_id: i64,
    pub client: String,
    pub brand: String,
    pub review_id: i64,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub platform_order_id: String,
    pub owner_id: Option<i64>,
    pub owner: String,
    pub status: AlertState,
    pub opened_at: i64,
    pub responded_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub note: String,
    /// The client's first-response target, in hours.
    pub response_hours: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertList {
    pub alerts: Vec<AlertRow>,
    /// (id, name) of the people an alert can be given to.
    pub owners: Vec<(i64, String)>,
    pub can_manage: bool,
    pub now: i64,
}

/// The contract's targets: (rule, label).
pub const RULE_LABELS: [(&str, &str); 5] = [
    ("delivery_rate", "Minimum delivery rate"),
    ("unsubscribe", "Unsubscribe processing time"),
    ("review_response", "First response to a negative review"),
    ("approval", "Template approval turnaround"),
    ("launch", "Campaigns launched on schedule"),
];

/// A client's contract targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// Basis points: 9500 = 95.00 % of sent messages delivered.
    pub min_delivery_rate_bp: i64,
    pub unsubscribe_hours: i64,
    pub review_response_hours: i64,
    pub approval_hours: i64,
    pub launch_grace_hours: i64,
    /// A review is attributed to a request sent at most this many days before it.
    pub attribution_days: i64,
}

impl Default for Contract {
    fn default() -> Self {
        // The 2-day unsubscribe target is the mailbox providers' (Gmail and Yahoo sender
        // rules, 2024); the legal limit (CAN-SPAM) is 10 business days.
        Contract {
            min_delivery_rate_bp: 9500,
            unsubscribe_hours: 48,
            review_response_hours: 24,
            approval_hours: 72,
            launch_grace_hours: 24,
            attribution_days: 30,
        }
    }
}

/// A link in a breach's evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub href: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    pub id: i64,
    pub rule: String,
    pub subject: String,
    pub measured: String,
    pub target: String,
    pub evidence: Vec<Evidence>,
    pub happened_at: i64,
}

/// One target on the SLA board: its current value and whether it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaLine {
    pub rule: String,
    pub label: String,
    pub target: String,
    pub current: String,
    pub holds: bool,
    pub breaches: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaBoard {
    pub client_id: i64,
    pub client: String,
    pub contract: Contract,
    pub lines: Vec<SlaLine>,
    pub breaches: Vec<Breach>,
    pub can_edit: bool,
}

/// The agency-wide board: one row per client the caller sees.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaOverview {
    pub clients: Vec<SlaBoard>,
}

/// One line of a usage statement: a channel's sent messages in the month and what they cost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    pub channel: String,
    pub messages: i64,
    /// SMS parts (one per e-mail or Amazon request).
    pub parts: i64,
    /// Millionths of `currency`; `None` when nothing prices it (no contract price).
    pub cost_micros: Option<i64>,
    pub currency: String,
    /// How the cost was arrived at, in words ("provider's price for 2, contract for 1").
    pub priced: String,
}

/// A client's usage and cost per channel in one month, to rebill from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageStatement {
    pub client_id: i64,
    pub client: String,
    /// `YYYY-MM`.
    pub month: String,
    pub rows: Vec<UsageRow>,
    /// The contract's prices per 1,000 messages: (channel, price as typed, currency).
    pub prices: Vec<(String, String, String)>,
    pub can_edit_prices: bool,
}
