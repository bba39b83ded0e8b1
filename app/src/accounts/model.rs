//! Users, roles and the signed-in caller, as typed values parsed once at the edge.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

pub use crate::common::identity::{Actor, Role};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_refused() {
        assert!(NewPassword::parse("p", "short").is_err());
        assert!(NewPassword::parse("p", "long enough pw").is_ok());
        assert!(NewPassword::parse("p", &"x".repeat(129)).is_err());
    }
}
