//! The one error type server functions return to the browser, and where each capability's
//! errors are mapped to an HTTP status at the edge.

use serde::{Deserialize, Serialize};

/// A field-level validation message, shown next to the field it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every way a request can fail, with a message the user can act on.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    #[error("Please sign in first.")]
    SignInRequired,
    #[error("You do not have access to this: {0}")]
    Forbidden(String),
    #[error("Not found: {0}")]
    NotFound(String),
    #[error("Please correct the highlighted fields.")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyAttempts(String),
    /// A fault of the server: a short message for the page, and the error behind it for
    /// the log (never serialized, so it never reaches a browser).
    #[error("Something went wrong on our side; it has been logged. ({0})")]
    Internal(
        String,
        #[source]
        #[serde(skip)]
        Option<Cause>,
    ),
    #[error("{0}")]
    Request(String),
}

/// The error behind an internal failure, kept with its own chain of causes for the log.
#[derive(Clone, Debug)]
pub struct Cause(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Errors are equal by what the user is told; the cause is for the log.
impl PartialEq for Cause {
    fn eq(&self, _: &Cause) -> bool {
        true
    }
}

impl Eq for Cause {}

/// An error and every cause under it, `: `-separated, for the log.
pub fn report(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

impl AppError {
    /// A server fault with nothing behind it but `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        AppError::Internal(message.into(), None)
    }

    /// A server fault: `message` for the page, `cause` kept for the log.
    pub fn caused(message: impl Into<String>, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(message.into(), Some(Cause(std::sync::Arc::new(cause))))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::SignInRequired => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::TooManyAttempts(_) => 429,
            AppError::Internal(..) => 500,
            AppError::Request(_) => 400,
        }
    }

    /// The message for one field, if this is a validation error naming it.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors.iter().find(|e| e.field == name).map(|e| e.message.clone()),
            _ => None,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::Deserialization(m) | E::MissingArg(m) => AppError::Request(m),
            E::Request(m) => AppError::Request(format!("The server could not be reached: {m}")),
            other => AppError::internal(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return AppError::Conflict("That already exists.".into());
            }
        }
        AppError::caused("database error", e)
    }
}

#[cfg(feature = "ssr")]
impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, _) = &e {
            if [rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY].contains(&failure.extended_code) {
                return AppError::Conflict("That already exists.".into());
            }
        }
        AppError::caused("database error", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_fault_keeps_its_cause_for_the_log_and_shows_only_its_message() {
        let io = std::io::Error::other("disk full on /var/lib/starling");
        let e = AppError::caused("writing the export", io);
        assert_eq!(e.to_string(), "Something went wrong on our side; it has been logged. (writing the export)");
        assert_eq!(
            report(&e),
            "Something went wrong on our side; it has been logged. (writing the export): disk full on /var/lib/starling"
        );
        // What a browser receives: the message, never the cause.
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("disk full"), "{json}");
        let received = serde_json::from_str::<AppError>(&json).unwrap();
        assert_eq!((received.status(), received.to_string()), (500, e.to_string()));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_database_failure_says_database_error_and_logs_what_failed() {
        let e = AppError::from(sqlx::Error::RowNotFound);
        assert!(e.to_string().ends_with("(database error)"), "{e}");
        assert!(report(&e).contains("no rows returned"), "{}", report(&e));
    }
}
