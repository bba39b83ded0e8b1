//! Validated values every capability takes from forms and files: e-mail addresses, domain
//! names, language tags, currency codes and required text, and the collected field errors
//! of a form. They depend on no capability, so any capability may use them.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// A trimmed, lower-cased e-mail address with one `@` and a dotted domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, raw: &str) -> Result<EmailAddress, AppError> {
        let value = raw.trim().to_lowercase();
        let bad = |why: &str| AppError::invalid(field, format!("\"{}\" {why}", raw.trim()));
        if value.is_empty() {
            return Err(AppError::invalid(field, "An e-mail address is required."));
        }
        if value.len() > 254 {
            return Err(AppError::invalid(field, "An e-mail address has at most 254 characters."));
        }
        let (local, domain) = value.split_once('@').ok_or_else(|| bad("has no @."))?;
        if local.is_empty() || domain.contains('@') || value.chars().any(char::is_whitespace) {
            return Err(bad("is not an e-mail address."));
        }
        DomainName::parse(field, domain).map_err(|_| bad("has no valid domain after the @."))?;
        Ok(EmailAddress(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A DNS name such as a brand's sending domain: lower-case labels of letters, digits and
/// hyphens, at least two labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainName(String);

impl DomainName {
    pub fn parse(field: &str, raw: &str) -> Result<DomainName, AppError> {
        let value = raw.trim().trim_end_matches('.').to_lowercase();
        let err = || AppError::invalid(field, format!("\"{}\" is not a domain name like mail.example.com.", raw.trim()));
        if value.len() > 253 || !value.contains('.') {
            return Err(err());
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !value.split('.').all(label_ok) {
            return Err(err());
        }
        Ok(DomainName(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A BCP-47 language tag of the common shape: language, optional script, optional region
/// (`de`, `de-AT`, `zh-Hans-CN`, `es-419`), normalised to canonical case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locale(String);

impl Locale {
    pub fn parse(field: &str, raw: &str) -> Result<Locale, AppError> {
        let err = || AppError::invalid(field, format!("\"{}\" is not a language tag like en, de-AT or zh-Hans-CN.", raw.trim()));
        let mut parts = raw.trim().split(['-', '_']);
        let language = parts.next().filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let mut out = language.ok_or_else(err)?.to_ascii_lowercase();
        let mut seen_region = false;
        let mut seen_script = false;
        for part in parts {
            let alpha = part.chars().all(|c| c.is_ascii_alphabetic());
            let digit = part.chars().all(|c| c.is_ascii_digit());
            if part.len() == 4 && alpha && !seen_script && !seen_region {
                seen_script = true;
                out.push('-');
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            } else if ((part.len() == 2 && alpha) || (part.len() == 3 && digit)) && !seen_region {
                seen_region = true;
                out.push('-');
                out.push_str(&part.to_ascii_uppercase());
            } else {
                return Err(err());
            }
        }
        Ok(Locale(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An ISO 4217 currency code: three capital letters.
pub fn parse_currency(field: &str, raw: &str) -> Result<String, AppError> {
    let value = raw.trim().to_ascii_uppercase();
    if value.len() == 3 && value.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err(AppError::invalid(field, format!("\"{}\" is not a currency code like EUR or USD.", raw.trim())))
    }
}

/// A required free-text field, trimmed, with a length limit.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::invalid(field, "This field is required."));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(field, format!("Use at most {max} characters.")));
    }
    Ok(value.to_string())
}

/// Collects the field errors of several parses into one `AppError::Invalid`.
#[derive(Default)]
pub struct Validation {
    errors: Vec<crate::error::FieldError>,
}

impl Validation {
    pub fn check<T>(&mut self, result: Result<T, AppError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(AppError::Invalid(mut errors)) => {
                self.errors.append(&mut errors);
                None
            }
            Err(other) => {
                self.errors.push(crate::error::FieldError::new("form", other.to_string()));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.errors))
        }
    }
}

/// A list of BCP-47 locales typed as `de, fr-CA en`, each checked and normalised.
pub fn parse_locales(field: &str, raw: &str) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', ' ', ';']).filter(|p| !p.trim().is_empty()) {
        let locale = Locale::parse(field, part)?.as_str().to_string();
        if !out.contains(&locale) {
            out.push(locale);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        let e = EmailAddress::parse("email", "  Ana@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ana@example.com");
    }

    #[test]
    fn email_without_at_or_domain_is_rejected_with_the_field_named() {
        for bad in ["", "ana", "ana@", "ana@localhost", "a b@example.com", "a@b@example.com"] {
            let err = EmailAddress::parse("email", bad).unwrap_err();
            assert!(err.field("email").is_some(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn domain_labels_are_checked() {
        assert!(DomainName::parse("d", "mail.acme.de").is_ok());
        assert!(DomainName::parse("d", "-bad.example.com").is_err());
        assert!(DomainName::parse("d", "exa_mple.com").is_err());
        assert!(DomainName::parse("d", "com").is_err());
    }
}
