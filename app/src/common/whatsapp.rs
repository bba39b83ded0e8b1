//! WhatsApp templates as Meta keeps them. A business may open a WhatsApp conversation only
//! with a template Meta has approved: fixed text with numbered parameters (`{{1}}`,
//! `{{2}}`…) filled in at sending, a language and a category. A version's WhatsApp part is
//! written like the SMS part, with Starling's variables (`{{ customer.first_name }}`);
//! here it becomes Meta's form (`meta_body`), each variable one parameter in order. Pure,
//! shared by the editor (which shows the problems as the copywriter types), the lint, the
//! submission and the sender.

use serde::{Deserialize, Serialize};

/// Meta's template categories that Starling uses. Authentication templates (one-time
/// codes) are not for post-purchase messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Category {
    /// Offers, review requests and anything that asks the buyer to act for the business.
    Marketing,
    /// About a transaction the buyer made: shipping, delivery, care.
    Utility,
}

impl Category {
    pub const ALL: [Category; 2] = [Category::Marketing, Category::Utility];

    /// As Meta writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "MARKETING",
            Category::Utility => "UTILITY",
        }
    }

    pub fn parse(raw: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    pub const fn label(self) -> &'static str {
        match self {
            Category::Marketing => "Marketing",
            Category::Utility => "Utility",
        }
    }
}

/// Where Meta's review of a template stands (its `status`), as Starling shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaStatus {
    Pending,
    Approved,
    Rejected,
    /// Meta paused it (buyers blocked or reported it too often), or disabled it.
    Paused,
    Disabled,
    /// Meta refused the submission itself (the reason says why).
    Refused,
}

impl MetaStatus {
    pub const ALL: [MetaStatus; 6] =
        [MetaStatus::Pending, MetaStatus::Approved, MetaStatus::Rejected, MetaStatus::Paused, MetaStatus::Disabled, MetaStatus::Refused];

    pub const fn as_str(self) -> &'static str {
        match self {
            MetaStatus::Pending => "pending",
            MetaStatus::Approved => "approved",
            MetaStatus::Rejected => "rejected",
            MetaStatus::Paused => "paused",
            MetaStatus::Disabled => "disabled",
            MetaStatus::Refused => "refused",
        }
    }

    /// Starling's own text, or Meta's (`APPROVED`, `IN_APPEAL`, `PENDING_DELETION`…).
    pub fn parse(raw: &str) -> Option<MetaStatus> {
        let raw = raw.trim().to_ascii_lowercase();
        if let Some(s) = MetaStatus::ALL.into_iter().find(|s| s.as_str() == raw) {
            return Some(s);
        }
        Some(match raw.as_str() {
            "in_appeal" | "pending_deletion" => MetaStatus::Pending,
            "flagged" => MetaStatus::Approved,
            "deleted" | "archived" => MetaStatus::Disabled,
            _ => return None,
        })
    }
}

/// A template's standing at Meta, as the editor shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaTemplate {
    pub name: String,
    pub language: String,
    /// As Meta last reported it (Meta may re-categorise a template it approves).
    pub category: String,
    pub status: MetaStatus,
    pub reason: String,
    pub updated_at: i64,
}

/// Meta's limit on a template body.
pub const MAX_BODY: usize = 1024;

/// The name Starling submits a version under: lower-case letters, digits and underscores,
/// as Meta requires, unique per version.
pub fn template_name(template_id: i64, version_id: i64) -> String {
    format!("starling_{template_id}_{version_id}")
}

/// Meta's language code for a locale, where Meta has templates in that language: the
/// locale itself (`pt_BR`, `en_GB`), else its language (`de` for `de-AT`).
pub fn language(locale: &str) -> Option<&'static str> {
    const LANGUAGES: &[&str] = &[
        "af", "ar", "bg", "ca", "cs", "da", "de", "el", "en", "en_GB", "en_US", "es", "es_AR", "es_ES", "es_MX", "et", "fi", "fil", "fr",
        "he", "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "nb", "nl", "pl", "pt_BR", "pt_PT", "ro", "ru", "sk", "sl", "sr",
        "sv", "th", "tr", "uk", "vi", "zh_CN", "zh_HK", "zh_TW",
    ];
    let exact = locale.trim().replace('-', "_");
    let mut parts = exact.split('_');
    let language = parts.next().unwrap_or("").to_ascii_lowercase();
    let region = parts.next().unwrap_or("").to_ascii_uppercase();
    let full = if region.is_empty() { language.clone() } else { format!("{language}_{region}") };
    LANGUAGES.iter().find(|l| **l == full).or_else(|| LANGUAGES.iter().find(|l| **l == language)).copied().or(match language.as_str() {
        // Meta has Portuguese and Chinese by region only.
        "pt" => Some("pt_BR"),
        "zh" => Some("zh_CN"),
        "no" => Some("nb"),
        _ => None,
    })
}

/// A WhatsApp part in Meta's form: the body with each `{{ … }}` variable replaced by its
/// number (`{{1}}`, `{{2}}`…, in order of appearance), and the variables in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaBody {
    pub text: String,
    pub variables: Vec<String>,
}

/// A problem with a WhatsApp part, with where it is (byte range) for the editor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// The part in Meta's form, or what Meta would refuse in it: blocks (`{% if %}`) cannot
/// be approved once and filled in differently per buyer; a variable may not open or close
/// the body, nor follow another with nothing between; the body is at most 1,024
/// characters.
pub fn meta_body(source: &str) -> Result<MetaBody, Vec<Problem>> {
    let mut problems = Vec::new();
    if let Some(start) = source.find("{%") {
        let end = source[start..].find("%}").map(|e| start + e + 2).unwrap_or(source.len());
        problems.push(Problem {
            start,
            end,
            message: "WhatsApp templates are fixed text with variables: Meta approves one wording, so {% … %} blocks cannot be used."
                .into(),
        });
    }
    let mut text = String::with_capacity(source.len());
    let mut variables = Vec::new();
    let mut rest = source;
    let mut offset = 0;
    let mut last_end: Option<usize> = None;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c + 2) else { break };
        let (start, end) = (offset + open, offset + close);
        let expression = rest[open + 2..close - 2].trim().trim_matches('-').trim().to_string();
        let between = &source[last_end.unwrap_or(0)..start];
        if last_end.is_some() && between.trim().is_empty() {
            problems.push(Problem { start, end, message: "Two variables with nothing between them: Meta refuses such templates.".into() });
        }
        if source[..start].trim().is_empty() {
            problems.push(Problem { start, end, message: "The body may not begin with a variable: Meta refuses such templates.".into() });
        }
        text.push_str(&rest[..open]);
        variables.push(expression);
        text.push_str(&format!("{{{{{}}}}}", variables.len()));
        last_end = Some(end);
        offset += close;
        rest = &rest[close..];
    }
    text.push_str(rest);
    if let Some(end) = last_end {
        if source[end..].trim().is_empty() {
            problems.push(Problem {
                start: source[..end].rfind("{{").unwrap_or(0),
                end,
                message: "The body may not end with a variable: Meta refuses such templates (end with a word or a full stop).".into(),
            });
        }
    }
    let chars = source.chars().count();
    if chars > MAX_BODY {
        problems.push(Problem { start: 0, end: source.len(), message: format!("The body is {chars} characters: Meta allows {MAX_BODY}.") });
    }
    if problems.is_empty() {
        Ok(MetaBody { text: text.trim().to_string(), variables })
    } else {
        Err(problems)
    }
}

/// Meta's rules for parameter values: no new lines or tabs, and no more than four spaces
/// in a row (it refuses the message otherwise). Applied to each filled-in value.
pub fn parameter_value(value: &str) -> String {
    let flat: String = value.chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect();
    let mut out = String::with_capacity(flat.len());
    let mut spaces = 0;
    for c in flat.trim().chars() {
        spaces = if c == ' ' { spaces + 1 } else { 0 };
        if spaces <= 1 {
            out.push(c);
        }
    }
    if out.is_empty() {
        // Meta refuses an empty parameter: a dash stands in for a missing value.
        "-".into()
    } else {
        out
    }
}

/// Whether Meta lets a marketing template reach this number: since April 2025 Meta
/// delivers no marketing templates to United States numbers (+1 and a US area code).
/// Starling holds back marketing WhatsApp messages to every +1 number, Canada's included,
/// because area codes move between the countries of the numbering plan with porting.
pub fn marketing_allowed_to(phone: &str) -> bool {
    !phone.trim().starts_with("+1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn variables_become_numbered_parameters_in_order() {
        let body =
            meta_body("Hi {{ customer.first_name }}, how is {{ order.items[0].title }}? Tell us at {{ review_url }} - {{ brand.name }}.")
                .unwrap();
        assert_eq!(body.text, "Hi {{1}}, how is {{2}}? Tell us at {{3}} - {{4}}.");
        assert_eq!(body.variables, vec!["customer.first_name", "order.items[0].title", "review_url", "brand.name"]);
        assert_eq!(meta_body("No variables at all.").unwrap().variables, Vec::<String>::new());
    }

    #[test]
    fn what_meta_refuses_is_named() {
        let first = |s: &str| meta_body(s).unwrap_err().remove(0).message;
        assert!(first("{{ customer.first_name }}, hello.").contains("begin"));
        assert!(first("Hello {{ customer.first_name }}").contains("end"));
        assert!(first("Hello {{ customer.first_name }} {{ brand.name }} and bye.").contains("nothing between"));
        assert!(first("Hi {% if customer.first_name %}there{% endif %}.").contains("blocks"));
        assert!(first(&format!("Hi {}.", "a".repeat(1100))).contains("1024"));
    }

    #[test]
    fn meta_languages_follow_the_locale() {
        assert_eq!(language("de-AT"), Some("de"));
        assert_eq!(language("en-GB"), Some("en_GB"));
        assert_eq!(language("en"), Some("en"));
        assert_eq!(language("pt"), Some("pt_BR"));
        assert_eq!(language("zh-TW"), Some("zh_TW"));
        assert_eq!(language("xx"), None);
    }

    #[test]
    fn marketing_stays_away_from_plus_one_numbers() {
        assert!(!marketing_allowed_to("+12125550100"));
        assert!(!marketing_allowed_to("+14165550100"));
        assert!(marketing_allowed_to("+4915112345678"));
    }

    proptest! {
        #[test]
        fn parameter_values_are_what_meta_accepts(value in "\\PC{0,40}[\n\t ]{0,8}\\PC{0,40}") {
            let v = parameter_value(&value);
            prop_assert!(!v.is_empty());
            prop_assert!(!v.contains('\n') && !v.contains('\t'));
            prop_assert!(!v.contains("     "));
        }

        #[test]
        fn every_variable_is_numbered_once(names in proptest::collection::vec("[a-z_]{1,8}", 1..6)) {
            let source = format!("Hi {}.", names.iter().map(|n| format!("{{{{ {n} }}}}")).collect::<Vec<_>>().join(" and "));
            let body = meta_body(&source).unwrap();
            prop_assert_eq!(&body.variables, &names);
            for n in 1..=names.len() {
                let numbered = format!("{{{{{}}}}}", n);
                prop_assert!(body.text.contains(&numbered));
            }
        }
    }
}
