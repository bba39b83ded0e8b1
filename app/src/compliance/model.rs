//! The lint's vocabulary: what a rule is, what a message under lint is, what a finding is.

use serde::{Deserialize, Serialize};

/// `Block` findings make submitting and approving a version impossible; `Warn` findings
/// are shown and explained but do not stop anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Block,
    Warn,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Block => "block",
            Severity::Warn => "warn",
        }
    }
}

pub use crate::common::render::Part;

/// Which sales platforms a rule concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platforms {
    All,
    Only(&'static [&'static str]),
    Except(&'static [&'static str]),
}

impl Platforms {
    pub fn covers(self, platform: &str) -> bool {
        match self {
            Platforms::All => true,
            Platforms::Only(list) => list.contains(&platform),
            Platforms::Except(list) => !list.contains(&platform),
        }
    }
}

/// How a rule looks at a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Each match of the pattern (case-insensitive) is a finding.
    Forbidden(&'static str),
    /// Each listed part that is not empty must match the pattern, else one finding.
    Required(&'static str),
    /// The subject is mostly capital letters.
    AllCapsSubject,
    /// The plain-text part is empty.
    MissingPlainText,
    /// An `<img>` without an `alt` attribute.
    ImageWithoutAlt,
    /// The brand's postal address, as the variable or written out, in each non-empty body.
    PostalAddress,
    /// A link to anywhere but the allowed hosts or the `review_url` variable.
    ExternalLink { allowed_hosts: &'static [&'static str] },
    /// Variables not in the documented list, and template syntax errors.
    Variables,
    /// The purpose itself is not allowed (e.g. marketing to Amazon buyers).
    Purpose,
    /// A non-empty text that does not say how to opt out (STOP).
    TextOptOut,
    /// A non-empty text that does not name the brand (`{{ brand.name }}`).
    TextSender,
    /// A text longer than this many parts (as written, before variables are filled in).
    TextSegments { max: usize },
    /// A WhatsApp part Meta would refuse (blocks, a variable at either end or two side by
    /// side, too long).
    WhatsappTemplate,
    /// A WhatsApp part without a category, or an offer filed as a utility message.
    WhatsappCategory,
}

/// One compliance rule, as data: what it looks for, where it applies, why, and the source.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    /// The finding category (several rules, one per language, share one).
    pub category: &'static str,
    pub severity: Severity,
    /// Languages (`de`, `ja`…) the rule applies to; empty means every language.
    pub locales: &'static [&'static str],
    pub platforms: Platforms,
    /// Buyer countries (ISO 3166 alpha-2) the rule applies to; empty means every country.
    pub countries: &'static [&'static str],
    /// Template purposes (`review_request`…) the rule applies to; empty means every purpose.
    pub purposes: &'static [&'static str],
    pub parts: &'static [Part],
    pub check: Check,
    /// What is wrong, in plain language, for the person who wrote it.
    pub explanation: &'static str,
    /// The law or platform policy it comes from (a link or citation).
    pub source: &'static str,
}

/// A message version as the lint sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintInput {
    /// BCP-47 locale of the version (`de-AT`); rules match on its language.
    pub locale: String,
    /// Platform of the stores the template is for (`amazon`, `shopify`, `any`…).
    pub platform: String,
    /// `review_request`, `care`, `repurchase` or `survey`.
    pub purpose: String,
    /// The brand's postal address, accepted written out instead of the variable.
    pub postal_address: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The text message (SMS) part; empty when the version sends no texts.
    #[serde(default)]
    pub sms: String,
    /// The WhatsApp part and its Meta category (`MARKETING` or `UTILITY`); empty when the
    /// version sends no WhatsApp messages.
    #[serde(default)]
    pub whatsapp: String,
    #[serde(default)]
    pub whatsapp_category: String,
}

impl LintInput {
    pub fn part(&self, part: Part) -> &str {
        match part {
            Part::Subject => &self.subject,
            Part::Html => &self.html,
            Part::Text => &self.text,
            Part::Sms => &self.sms,
            Part::Whatsapp => &self.whatsapp,
        }
    }

    /// The language subtag, lower-cased (`de` for `de-AT`).
    pub fn language(&self) -> String {
        self.locale.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase()
    }

    /// The region subtag when the locale has one (`AT` for `de-AT`).
    pub fn country(&self) -> Option<String> {
        self.locale
            .split(['-', '_'])
            .skip(1)
            .find(|s| s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic()))
            .map(|s| s.to_ascii_uppercase())
    }
}

/// One thing the lint found, pointing at the bytes it concerns so the editor can mark them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub category: String,
    pub severity: Severity,
    pub part: Part,
    /// Byte range in that part's source; `start == end` for "something is missing".
    pub start: usize,
    pub end: usize,
    /// The text found (empty for something missing).
    pub excerpt: String,
    /// What was found, specifically (`"5 Sterne" asks for a rating`).
    pub message: String,
    pub explanation: String,
    pub source: String,
}

impl Finding {
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Block
    }
}
