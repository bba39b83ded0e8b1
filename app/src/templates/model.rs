//! Templates' types: purposes, the approval statuses, versions, their events, and forms.

use crate::compliance::{Finding, LintInput};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Why a message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    ReviewRequest,
    Care,
    Repurchase,
    Survey,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [Purpose::ReviewRequest, Purpose::Care, Purpose::Repurchase, Purpose::Survey];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::ReviewRequest => "review_request",
            Purpose::Care => "care",
            Purpose::Repurchase => "repurchase",
            Purpose::Survey => "survey",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::ReviewRequest => "Review request",
            Purpose::Care => "Care",
            Purpose::Repurchase => "Repurchase",
            Purpose::Survey => "Survey",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Purpose, AppError> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| AppError::invalid(field, format!("Choose a purpose (\"{raw}\" is not one).")))
    }

    pub fn label_of(raw: &str) -> &'static str {
        Purpose::parse("purpose", raw).map(Purpose::label).unwrap_or("?")
    }
}

/// Where a version stands in the approval workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Draft,
    InReview,
    ChangesRequested,
    /// Approved by the locale's reviewer; the client's viewer approves last.
    ClientReview,
    Approved,
    Retired,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Draft, Status::InReview, Status::ChangesRequested, Status::ClientReview, Status::Approved, Status::Retired];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::ChangesRequested => "changes_requested",
            Status::ClientReview => "client_review",
            Status::Approved => "approved",
            Status::Retired => "retired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::InReview => "In review",
            Status::ChangesRequested => "Changes requested",
            Status::ClientReview => "Awaiting client",
            Status::Approved => "Approved",
            Status::Retired => "Retired",
        }
    }

    /// The status stored as `raw`, if it is one.
    pub fn parse(raw: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Text can change only before review starts, or when changes were asked for.
    pub fn editable(self) -> bool {
        matches!(self, Status::Draft | Status::ChangesRequested)
    }
}

/// A template as the list shows it, with its locales' latest statuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub brand: String,
    pub purpose: String,
    pub platform: String,
    /// (locale, status of its newest version)
    pub locales: Vec<(String, Status)>,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: i64,
    pub client_id: i64,
    pub brand_id: i64,
    pub brand: String,
    pub name: String,
    pub purpose: String,
    pub channel: String,
    pub platform: String,
    pub created_at: i64,
}

/// A version without its text (lists and history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    pub id: i64,
    pub template_id: i64,
    pub locale: String,
    pub number: i64,
    pub status: Status,
    pub author_email: String,
    pub blocking: i64,
    pub warnings: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub row: VersionRow,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The text message (SMS) part; empty when the version sends no texts.
    #[serde(default)]
    pub sms: String,
    /// The WhatsApp part (submitted to Meta as a template once the version is approved)
    /// and its Meta category; empty when the version sends no WhatsApp messages.
    #[serde(default)]
    pub whatsapp: String,
    #[serde(default)]
    pub whatsapp_category: String,
}

impl Version {
    pub fn phone(&self) -> Phone {
        Phone { sms: self.sms.clone(), whatsapp: self.whatsapp.clone(), whatsapp_category: self.whatsapp_category.clone() }
    }
}

/// The parts of a version that reach the buyer's phone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    pub sms: String,
    pub whatsapp: String,
    /// `MARKETING` or `UTILITY` (Meta's categories); empty without a WhatsApp part.
    pub whatsapp_category: String,
}

/// One thing that happened to a version: who, when, from which status to which, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEvent {
    pub at: i64,
    pub actor_email: String,
    pub action: String,
    pub from_status: Status,
    pub to_status: Status,
    pub comment: String,
}

/// What the template page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDetail {
    pub template: Template,
    pub versions: Vec<VersionRow>,
    pub can_write: bool,
}

/// What the editor needs: the version, its template and brand, what the caller may do,
/// a sample to preview with, and the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditorData {
    pub template: Template,
    pub version: Version,
    pub postal_address: String,
    pub sample: crate::common::render::RenderContext,
    /// Where the sample came from ("order 1001 of Amazon DE" or "made-up values").
    pub sample_source: String,
    pub findings: Vec<Finding>,
    pub events: Vec<VersionEvent>,
    /// Other versions of the same template, to compare with.
    pub siblings: Vec<VersionRow>,
    pub can_edit: bool,
    pub can_submit: bool,
    pub can_approve: bool,
    pub can_request_changes: bool,
    pub can_retire: bool,
    pub can_copy: bool,
    /// Why the caller can't approve, when they can't (shown beside the disabled button).
    pub approve_hint: String,
    /// The WhatsApp part's template at Meta, once submitted.
    #[serde(default)]
    pub whatsapp_meta: Option<crate::common::whatsapp::MetaTemplate>,
}

impl EditorData {
    pub fn lint_input(&self, subject: &str, html: &str, text: &str, phone: &Phone) -> LintInput {
        LintInput {
            locale: self.version.row.locale.clone(),
            platform: self.template.platform.clone(),
            purpose: self.template.purpose.clone(),
            postal_address: self.postal_address.clone(),
            subject: subject.into(),
            html: html.into(),
            text: text.into(),
            sms: phone.sms.clone(),
            whatsapp: phone.whatsapp.clone(),
            whatsapp_category: phone.whatsapp_category.clone(),
        }
    }
}

/// A new template with its first version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateForm {
    pub client_id: i64,
    pub brand_id: i64,
    pub name: String,
    pub purpose: String,
    pub platform: String,
    pub locale: String,
}

/// One line of a diff between two versions' text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `' '` same, `'-'` only in the older, `'+'` only in the newer.
    pub sign: char,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionDiff {
    pub from: VersionRow,
    pub to: VersionRow,
    /// (part label, lines) for subject, HTML and text.
    pub parts: Vec<(String, Vec<DiffLine>)>,
}

/// A line of the approval queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    pub client_id: i64,
    pub client: String,
    pub template: String,
    pub version: VersionRow,
    pub waiting_since: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub items: Vec<QueueItem>,
    pub in_review: i64,
    pub client_review: i64,
    pub changes_requested: i64,
}
