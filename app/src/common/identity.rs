//! Who is signed in, as every authorization decision and every page sees them. Accounts
//! stores and checks them; everything else only reads them.

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
