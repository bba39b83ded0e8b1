//! Users, roles and the signed-in caller, as typed values parsed once at the edge.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// The four kinds of users: agency admins, account managers, copywriters, client viewers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    AccountManager,
    Copywriter,
    ClientViewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::AccountManager, Role::Copywriter, Role::ClientViewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::AccountManager => "account_manager",
            Role::Copywriter => "copywriter",
            Role::ClientViewer => "client_viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Agency admin",
            Role::AccountManager => "Account manager",
            Role::Copywriter => "Copywriter",
            Role::ClientViewer => "Client viewer",
        }
    }

    pub fn parse(value: &str) -> Result<Role, AppError> {
        Role::ALL.into_iter().find(|r| r.as_str() == value).ok_or_else(|| AppError::invalid("role", format!("Unknown role \"{value}\".")))
    }
}

/// The signed-in user as every authorization decision sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Clients assigned to this user (ignored for admins, who see all).
    pub clients: Vec<i64>,
    /// Locales a copywriter reviews (`de`, `fr-CA`…).
    #[serde(default)]
    pub locales: Vec<String>,
}

/// A user as the admin's users page lists them (never with the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub clients: Vec<i64>,
    pub created_at: i64,
    #[serde(default)]
    pub locales: Vec<String>,
}

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

/// A new password that meets the policy: 10 to 128 characters, not all one kind.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN: usize = 10;
    pub const MAX: usize = 128;

    pub fn parse(field: &str, raw: &str) -> Result<NewPassword, AppError> {
        let count = raw.chars().count();
        if count < Self::MIN {
            return Err(AppError::invalid(field, format!("Use at least {} characters.", Self::MIN)));
        }
        if count > Self::MAX {
            return Err(AppError::invalid(field, format!("Use at most {} characters.", Self::MAX)));
        }
        if raw.trim().is_empty() {
            return Err(AppError::invalid(field, "A password cannot be only spaces."));
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
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

    #[test]
    fn short_passwords_are_refused() {
        assert!(NewPassword::parse("p", "short").is_err());
        assert!(NewPassword::parse("p", "long enough pw").is_ok());
        assert!(NewPassword::parse("p", &"x".repeat(129)).is_err());
    }
}

/// A list of BCP-47 locales typed as `de, fr-CA en`, each checked and normalised.
pub fn parse_locales(field: &str, raw: &str) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split([',', ' ', ';']).filter(|p| !p.trim().is_empty()) {
        let locale = crate::clients::model::Locale::parse(field, part)?.as_str().to_string();
        if !out.contains(&locale) {
            out.push(locale);
        }
    }
    Ok(out)
}
