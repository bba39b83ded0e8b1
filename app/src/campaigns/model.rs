//! Campaigns' types shared by the pages and the server functions.

use serde::{Deserialize, Serialize};

/// One campaign in the client's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub template: String,
    pub purpose: String,
    pub state: String,
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
}

/// The new-campaign form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignForm {
    pub client_id: i64,
    pub template_id: i64,
    pub name: String,
    /// `fulfilment`, `delivery` or `batch`.
    pub trigger: String,
    pub days: u32,
    /// Comma-separated ISO country codes; empty = all.
    pub countries: String,
    /// Comma-separated locales tried after the buyer's own (e.g. `en`).
    pub fallback: String,
    /// A/B weights, comma-separated (`50,50`); empty = no test.
    pub weights: String,
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
    pub fn next(self, state: &str) -> Option<&'static str> {
        match (self, state) {
            (CampaignStep::Launch, "draft") => Some("running"),
            (CampaignStep::Pause, "running") => Some("paused"),
            (CampaignStep::Resume, "paused" | "halted") => Some("running"),
            (CampaignStep::Cancel, "draft" | "running" | "paused" | "halted") => Some("cancelled"),
            _ => None,
        }
    }

    /// The steps offered in a state.
    pub fn offered(state: &str) -> Vec<CampaignStep> {
        [CampaignStep::Launch, CampaignStep::Pause, CampaignStep::Resume, CampaignStep::Cancel]
            .into_iter()
            .filter(|s| s.next(state).is_some())
            .collect()
    }
}
