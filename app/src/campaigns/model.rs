//! Campaigns' types shared by the pages and the server functions.

use crate::outbox::model::{EventKind, MessageState};
use serde::{Deserialize, Serialize};

/// Where a campaign is: drafted, launched (`Running`: planning and sending), paused by
/// someone, halted by its canary's thresholds, or cancelled for good. Stored as the text
/// of `as_str`, and serialised as the same text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    #[default]
    Draft,
    Running,
    Paused,
    Halted,
    Cancelled,
}

impl CampaignState {
    pub const ALL: [CampaignState; 5] =
        [CampaignState::Draft, CampaignState::Running, CampaignState::Paused, CampaignState::Halted, CampaignState::Cancelled];

    pub const fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Halted => "halted",
            CampaignState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignState> {
        CampaignState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Whether the campaign may be edited in this state (a running one is paused first).
    pub fn is_editable(self) -> bool {
        matches!(self, CampaignState::Draft | CampaignState::Paused | CampaignState::Halted)
    }
}

impl std::fmt::Display for CampaignState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A canary campaign's phase: only the canary's share goes out until it passes, then the
/// whole audience (`Full`, also every campaign without a canary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignPhase {
    Canary,
    #[default]
    Full,
}

impl CampaignPhase {
    pub const ALL: [CampaignPhase; 2] = [CampaignPhase::Canary, CampaignPhase::Full];

    pub const fn as_str(self) -> &'static str {
        match self {
            CampaignPhase::Canary => "canary",
            CampaignPhase::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignPhase> {
        CampaignPhase::ALL.into_iter().find(|phase| phase.as_str() == s)
    }
}

/// One campaign in the client's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub template: String,
    pub purpose: String,
    pub state: CampaignState,
    /// "3 days after delivery", "one-off batch"…
    pub trigger: String,
    pub planned: i64,
    pub excluded: i64,
    pub created_at: i64,
}

/// A template a campaign may use: (id, name, brand, purpose, approved locales).
pub type UsableTemplate = (i64, String, String, String, Vec<String>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignList {
    pub client_id: i64,
    pub client: String,
    pub campaigns: Vec<CampaignRow>,
    /// Templates with at least one approved version.
    pub templates: Vec<UsableTemplate>,
    /// (id, name) of the client's brands with an Amazon store: Amazon's request a review
    /// is a campaign of a brand, without a template.
    #[serde(default)]
    pub amazon_brands: Vec<(i64, String)>,
}

/// One A/B variant in the new-campaign form (text as typed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantForm {
    pub weight: String,
    /// Subject override; empty keeps the template's.
    pub subject: String,
    /// Extra hours before sending.
    pub delay_hours: String,
}

/// The new-campaign form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignForm {
    pub client_id: i64,
    /// `email` (the default), `sms`, `whatsapp`, or several in order of preference
    /// (`whatsapp,sms,email`: a WhatsApp message where the buyer can get one, else a text,
    /// else an e-mail), or `amazon` (Amazon's request a review: no template).
    #[serde(default)]
    pub channel: String,
    /// The template of an e-mail campaign.
    #[serde(default)]
    pub template_id: i64,
    /// The brand of an Amazon campaign (an e-mail campaign's is its template's).
    #[serde(default)]
    pub brand_id: i64,
    pub name: String,
    /// `fulfilment`, `delivery` or `batch`.
    pub trigger: String,
    pub days: u32,
    /// Comma-separated ISO country codes; empty = all.
    #[serde(default)]
    pub countries: String,
    /// Comma-separated locales tried after the buyer's own (e.g. `en`).
    #[serde(default)]
    pub fallback: String,
    /// The A/B test's variants: none, or 2-4.
    #[serde(default)]
    pub variants: Vec<VariantForm>,
    /// `click` or `review`.
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub auto_promote: bool,
    /// A canary goes first when set.
    #[serde(default)]
    pub canary: bool,
    /// Percentages as typed: the canary share and the halt thresholds.
    #[serde(default)]
    pub canary_share: String,
    #[serde(default)]
    pub bounce_pct: String,
    #[serde(default)]
    pub complaint_pct: String,
    #[serde(default)]
    pub unsubscribe_pct: String,
    /// The planned launch, `YYYY-MM-DDTHH:MM` in UTC (empty: none).
    #[serde(default)]
    pub scheduled_at: String,
    #[serde(default)]
    pub hold_hours: String,
}

/// One variant's results on the campaign page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    pub label: String,
    pub weight: u32,
    pub subject: String,
    pub delay_hours: u32,
    pub planned: u64,
    pub sent: u64,
    pub delivered: u64,
    pub opened: u64,
    pub successes: u64,
    /// Successes / delivered, with its 95% Wilson interval.
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

/// The canary's state on the campaign page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryView {
    pub share: f64,
    pub bounce: f64,
    pub complaint: f64,
    pub unsubscribe: f64,
    pub min_sent: u64,
    pub hold_hours: u32,
    /// `Canary` while it holds, `Full` after.
    pub phase: CampaignPhase,
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
    pub unsubscribed: u64,
    /// Messages waiting for the canary to pass.
    pub held: u64,
}

/// One campaign, whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignDetail {
    pub client_id: i64,
    pub client: String,
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub template: String,
    pub purpose: String,
    pub state: CampaignState,
    pub trigger: String,
    /// Which threshold halted it, with the numbers (empty unless halted).
    pub halt_reason: String,
    /// (label, value) of the rules, for reading.
    pub settings: Vec<(String, String)>,
    /// Messages per outbox state.
    pub messages: Vec<(MessageState, i64)>,
    pub canary: Option<CanaryView>,
    /// `click` or `review`.
    pub metric: String,
    pub variants: Vec<VariantResult>,
    /// "Collecting", "Undecided" or "B wins", in words.
    pub verdict: String,
    pub winner: Option<String>,
    pub auto_promote: bool,
    /// (at, who, action, detail): the campaign's audit trail, newest first.
    pub history: Vec<(i64, String, String, String)>,
    /// The client's usable templates, for the edit form.
    pub templates: Vec<UsableTemplate>,
    /// `email` or `amazon`.
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub amazon_brands: Vec<(i64, String)>,
}

/// What planning now would decide (the audience preview).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub looked_at: u64,
    pub would_send: u64,
    pub waiting: u64,
    /// (rule key, the reason in words, count, sample of platform order ids), largest first.
    pub excluded: Vec<(String, String, u64, Vec<String>)>,
    /// Messages per locale.
    pub locales: Vec<(String, u64)>,
    /// Messages per channel, most first.
    #[serde(default)]
    pub channels: Vec<(String, u64)>,
}

/// Launch, pause, resume or cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CampaignStep {
    Launch,
    Pause,
    Resume,
    Cancel,
}

impl CampaignStep {
    pub fn label(self) -> &'static str {
        match self {
            CampaignStep::Launch => "Launch",
            CampaignStep::Pause => "Pause",
            CampaignStep::Resume => "Resume",
            CampaignStep::Cancel => "Cancel",
        }
    }

    /// The state a step leads to from `state`, if it is allowed there.
    pub fn next(self, state: CampaignState) -> Option<CampaignState> {
        use CampaignState::*;
        match (self, state) {
            (CampaignStep::Launch, Draft) => Some(Running),
            (CampaignStep::Pause, Running) => Some(Paused),
            (CampaignStep::Resume, Paused | Halted) => Some(Running),
            (CampaignStep::Cancel, Draft | Running | Paused | Halted) => Some(Cancelled),
            _ => None,
        }
    }

    /// The steps offered in a state.
    pub fn offered(state: CampaignState) -> Vec<CampaignStep> {
        [CampaignStep::Launch, CampaignStep::Pause, CampaignStep::Resume, CampaignStep::Cancel]
            .into_iter()
            .filter(|s| s.next(state).is_some())
            .collect()
    }
}

/// A variant's name in pages: A, B, C, D.
pub fn variant_label(index: usize) -> String {
    char::from(b'A' + (index.min(25) as u8)).to_string()
}

/// One message of a campaign's log, with its events in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    pub recipient: String,
    pub order: String,
    pub variant: String,
    pub locale: String,
    pub state: MessageState,
    pub send_at: i64,
    pub attempts: i64,
    pub last_error: String,
    /// (kind, at, detail), oldest first.
    pub events: Vec<(EventKind, i64, String)>,
}
