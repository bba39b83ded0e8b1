//! The compliance lint: rules as data (`rules.rs`) and the engine that applies them. Pure
//! Rust with no IO, compiled into the server (which enforces it on save, submit and
//! approve) and into the browser bundle (which shows findings as the copywriter types).

pub mod model;
pub mod rules;

use model::{Check, Rule};
pub use model::{Finding, LintInput, Part, Severity};
use regex::{Regex, RegexBuilder};
use std::sync::OnceLock;

/// Every finding for one version, ordered by part and position.
pub fn lint(input: &LintInput) -> Vec<Finding> {
    let language = input.language();
    let country = input.country();
    let mut findings: Vec<Finding> = Vec::new();
    for (index, rule) in rules::RULES.iter().enumerate() {
        let applies = (rule.locales.is_empty() || rule.locales.contains(&language.as_str()))
            && rule.platforms.covers(&input.platform)
            && (rule.countries.is_empty() || country.as_deref().is_some_and(|c| rule.countries.contains(&c)))
            && (rule.purposes.is_empty() || rule.purposes.contains(&input.purpose.as_str()));
        if !applies {
            continue;
        }
        for &part in rule.parts {
            for (start, end, message) in check(index, rule, input, part) {
                let source = input.part(part);
                let finding = Finding {
                    rule: rule.id.to_string(),
                    category: rule.category.to_string(),
                    severity: rule.severity,
                    part,
                    start,
                    end,
                    excerpt: source.get(start..end).unwrap_or("").to_string(),
                    message,
                    explanation: rule.explanation.to_string(),
                    source: rule.source.to_string(),
                };
                // One finding per category and place: two rules seeing the same words
                // (an English and a language-neutral incentive pattern) say it once.
                let repeated = findings.iter().any(|f| {
                    f.category == finding.category && f.part == part && (f.start < end.max(start + 1) && start < f.end.max(f.start + 1))
                });
                if !repeated {
                    findings.push(finding);
                }
            }
        }
    }
    findings.sort_by(|a, b| (a.part, a.start, a.severity).cmp(&(b.part, b.start, b.severity)));
    findings
}

/// `true` when any finding stops submission and approval.
pub fn has_blocking(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::blocks)
}

/// The categories of the findings, each once (for summaries and the corpus test).
pub fn categories(findings: &[Finding]) -> Vec<String> {
    let mut all: Vec<String> = findings.iter().map(|f| f.category.clone()).collect();
    all.sort();
    all.dedup();
    all
}

type Hit = (usize, usize, String);

fn check(index: usize, rule: &Rule, input: &LintInput, part: Part) -> Vec<Hit> {
    let source = input.part(part);
    match rule.check {
        Check::Forbidden(_) => pattern(index)
            .map(|re| re.find_iter(source).map(|m| (m.start(), m.end(), format!("\"{}\"", m.as_str()))).collect())
            .unwrap_or_default(),
        Check::Required(_) => match pattern(index) {
            Some(re) if !source.trim().is_empty() && !re.is_match(source) => {
                vec![(0, 0, format!("The {} has no unsubscribe link.", part.label().to_lowercase()))]
            }
            _ => vec![],
        },
        Check::PostalAddress => {
            let variable = cached(&POSTAL_VARIABLE, r"\{\{-?\s*brand\.postal_address\b");
            let written = !input.postal_address.trim().is_empty() && source.contains(input.postal_address.trim());
            if source.trim().is_empty() || variable.is_match(source) || written {
                vec![]
            } else {
                vec![(0, 0, format!("The {} has no postal address.", part.label().to_lowercase()))]
            }
        }
        Check::AllCapsSubject => all_caps(source),
        Check::MissingPlainText => {
            if source.trim().is_empty() {
                vec![(0, 0, "There is no plain-text part.".to_string())]
            } else {
                vec![]
            }
        }
        Check::ImageWithoutAlt => {
            let img = cached(&IMG_TAG, r"(?i)<img\b[^>]*>");
            let alt = cached(&ALT_ATTRIBUTE, r"(?i)\salt\s*=");
            img.find_iter(source)
                .filter(|m| !alt.is_match(m.as_str()))
                .map(|m| (m.start(), m.end(), "An image has no alt text.".to_string()))
                .collect()
        }
        Check::ExternalLink { allowed_hosts } => {
            // Links, and addresses written as plain text ("nordlicht-shop.com", also an
            // e-mail address's domain): a bare name ending in a common shop domain.
            let url = cached(
                &URL,
                r#"(?i)\bhttps?://[^\s"'<>)]+|\bwww\.[^\s"'<>)]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|shop|store|eu|de|at|ch|fr|be|nl|es|it|pl|se|dk|ie|uk|co\.uk|com\.au|ca|jp|co\.jp|cn|com\.mx|io)\b"#,
            );
            url.find_iter(source)
                .filter(|m| {
                    let host = m.as_str().split("://").last().unwrap_or("").split(['/', ':', '?', '#']).next().unwrap_or("");
                    let host = host.to_ascii_lowercase();
                    !allowed_hosts.iter().any(|allowed| host.starts_with(allowed) || host.contains(&format!(".{allowed}")))
                })
                .map(|m| (m.start(), m.end(), format!("A link to {} leaves Amazon.", m.as_str())))
                .collect()
        }
        Check::Variables => crate::common::render::variable_problems(source).into_iter().map(|p| (p.start, p.end, p.message)).collect(),
        Check::Purpose => vec![(0, 0, rule.explanation.to_string())],
        Check::TextOptOut if !source.trim().is_empty() && !crate::common::opt_out::names_opt_out(source) => {
            let line = crate::common::opt_out::opt_out_line(&input.locale);
            vec![(0, 0, format!("The SMS part does not say how to opt out: add \"{line}\"."))]
        }
        Check::TextSender if !source.trim().is_empty() && !cached(&BRAND_VARIABLE, r"\{\{-?\s*brand\.name\b").is_match(source) => {
            vec![(0, 0, format!("The {} does not say who it is from: add {{{{ brand.name }}}}.", part.label()))]
        }
        Check::TextSegments { max } => {
            let counted = crate::common::segments::count(source);
            if counted.parts > max {
                vec![(
                    0,
                    source.len(),
                    format!("The SMS part is {} parts long ({}); each part is billed as a text.", counted.parts, counted.encoding.label()),
                )]
            } else {
                vec![]
            }
        }
        Check::WhatsappTemplate => match crate::common::whatsapp::meta_body(source) {
            Err(problems) if !source.trim().is_empty() => problems.into_iter().map(|p| (p.start, p.end, p.message)).collect(),
            _ => vec![],
        },
        Check::WhatsappCategory if !source.trim().is_empty() => {
            match (crate::common::whatsapp::Category::parse(&input.whatsapp_category), input.purpose.as_str()) {
                (None, _) => vec![(0, 0, "Choose the WhatsApp part's category: marketing or utility.".to_string())],
                (Some(crate::common::whatsapp::Category::Utility), "review_request" | "repurchase" | "survey") => {
                    vec![(0, 0, rule.explanation.to_string())]
                }
                _ => vec![],
            }
        }
        Check::TextOptOut | Check::TextSender | Check::WhatsappCategory => vec![],
    }
}

/// A subject whose letters (outside `{{ … }}` variables) are mostly capitals.
fn all_caps(subject: &str) -> Vec<Hit> {
    let tags = cached(&TAG, r"\{\{.*?\}\}|\{%.*?%\}");
    let plain = tags.replace_all(subject, " ");
    let upper = plain.chars().filter(|c| c.is_uppercase()).count();
    let lower = plain.chars().filter(|c| c.is_lowercase()).count();
    if upper >= 6 && upper * 10 > (upper + lower) * 7 {
        vec![(0, subject.len(), "The subject is mostly in capital letters.".to_string())]
    } else {
        vec![]
    }
}

static PATTERNS: OnceLock<Vec<Option<Regex>>> = OnceLock::new();
static POSTAL_VARIABLE: OnceLock<Regex> = OnceLock::new();
static IMG_TAG: OnceLock<Regex> = OnceLock::new();
static ALT_ATTRIBUTE: OnceLock<Regex> = OnceLock::new();
static URL: OnceLock<Regex> = OnceLock::new();
static TAG: OnceLock<Regex> = OnceLock::new();
static BRAND_VARIABLE: OnceLock<Regex> = OnceLock::new();

/// The compiled pattern of rule `index` (compiled once per process, case-insensitive).
fn pattern(index: usize) -> Option<&'static Regex> {
    let all = PATTERNS.get_or_init(|| {
        rules::RULES
            .iter()
            .map(|rule| match rule.check {
                Check::Forbidden(p) | Check::Required(p) => RegexBuilder::new(p).case_insensitive(true).size_limit(1 << 24).build().ok(),
                _ => None,
            })
            .collect()
    });
    all.get(index).and_then(Option::as_ref)
}

fn cached(cell: &'static OnceLock<Regex>, source: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(source).expect("a built-in pattern compiles"))
}

#[cfg(test)]
mod tests;
