//! Server functions of accounts: sign-in/out, the caller, password change, user admin.

use super::model::{Actor, Role, UserSummary};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub use server::{caller, caller_from_headers, hash_password};

/// The user the sign-in guard found for a page request, carried in the request's
/// extensions so that the page's server functions need not look the session up again.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct SignedIn(pub Actor);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
    pub clients: Vec<i64>,
    /// Locales the user reviews as a copywriter (`de, fr-CA`).
    #[serde(default)]
    pub locales: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UserChange {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub clients: Vec<i64>,
    /// Empty keeps the current password.
    pub new_password: String,
    #[serde(default)]
    pub locales: String,
}

#[server(prefix = "/rpc", endpoint = "sign_in", input = crate::shell::forms::FormOrJson)]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    crate::request::scoped(server::sign_in(email, password)).await
}

#[server(prefix = "/rpc", endpoint = "sign_out", input = crate::shell::forms::FormOrJson)]
pub async fn sign_out() -> Result<(), AppError> {
    crate::request::scoped(server::sign_out()).await
}

/// The signed-in user, or `None` (pages use it to show the shell or the sign-in form).
#[server(prefix = "/rpc", endpoint = "current_user", input = Json)]
pub async fn current_user() -> Result<Option<Actor>, AppError> {
    crate::request::scoped(async {
        match caller().await {
            Ok(actor) => Ok(Some(actor)),
            Err(AppError::SignInRequired) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "change_password", input = crate::shell::forms::FormOrJson)]
pub async fn change_password(current: String, new_password: String, confirm: String) -> Result<(), AppError> {
    crate::request::scoped(server::change_password(current, new_password, confirm)).await
}

/// Every client, for assigning users to clients (admins only).
#[server(prefix = "/rpc", endpoint = "assignable_clients", input = Json)]
pub async fn assignable_clients() -> Result<Vec<(i64, String)>, AppError> {
    crate::request::scoped(server::assignable_clients()).await
}

#[server(prefix = "/rpc", endpoint = "list_users", input = Json)]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    crate::request::scoped(server::list_users()).await
}

#[server(prefix = "/rpc", endpoint = "create_user", input = crate::shell::forms::FormOrJson)]
pub async fn create_user(user: NewUser) -> Result<i64, AppError> {
    crate::request::scoped(server::create_user(user)).await
}

#[server(prefix = "/rpc", endpoint = "update_user", input = crate::shell::forms::FormOrJson)]
pub async fn update_user(change: UserChange) -> Result<(), AppError> {
    crate::request::scoped(server::update_user(change)).await
}

/// Roles a form may offer, as (value, label).
pub fn role_choices() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect()
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::model::NewPassword;
    use crate::accounts::rules::{authorize, Action};
    use crate::accounts::{session, store, throttle};
    use crate::audit;
    use crate::common::values::{parse_locales, required_text, EmailAddress, Validation};
    use crate::db::Db;
    use crate::ServerState;
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    use argon2::Argon2;
    use secrecy::{ExposeSecret, SecretString};

    /// The network address this request's password attempts count against.
    fn attempt_source(state: &ServerState) -> String {
        let parts = crate::request::current().and_then(|scope| scope.parts);
        let peer = parts.as_ref().and_then(|p| p.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()).map(|c| c.0.ip());
        let headers = parts.map(|p| p.headers).unwrap_or_default();
        throttle::source_address(peer, &headers, &state.trusted_proxies)
    }

    /// The headers of the request this server function serves.
    fn request_headers() -> Result<http::HeaderMap, AppError> {
        crate::request::current()
            .and_then(|scope| scope.parts)
            .map(|parts| parts.headers)
            .ok_or_else(|| AppError::internal("request headers unavailable"))
    }

    /// The signed-in caller of this request, or `SignInRequired`.
    pub async fn caller() -> Result<Actor, AppError> {
        let scope = crate::request::current();
        if let Some(SignedIn(actor)) = scope.as_ref().and_then(|s| s.parts.as_ref()).and_then(|p| p.extensions.get::<SignedIn>()) {
            return Ok(actor.clone());
        }
        let state = ServerState::get()?;
        let headers = request_headers()?;
        caller_from_headers(&state.db, &headers).await
    }

    /// The same check for plain axum routes, which have the headers at hand.
    pub async fn caller_from_headers(db: &Db, headers: &http::HeaderMap) -> Result<Actor, AppError> {
        let token = session::token_from_headers(headers).ok_or(AppError::SignInRequired)?;
        session::actor_of(db, &token).await?.ok_or(AppError::SignInRequired)
    }

    /// argon2id with the crate's default (OWASP) parameters, off the async threads.
    pub async fn hash_password(password: SecretString) -> Result<String, AppError> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Argon2::default()
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::caused("password hashing failed", e))
        })
        .await
        .map_err(|e| AppError::caused("a background task stopped", e))?
    }

    async fn verify_password(password: SecretString, hash: String) -> bool {
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }

    /// A hash to verify against when the e-mail is unknown, so that a wrong e-mail and a
    /// wrong password take the same time.
    async fn decoy_hash() -> String {
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        if let Some(hash) = DECOY.get() {
            return hash.clone();
        }
        let hash = hash_password(SecretString::from("decoy password, never valid".to_string())).await.unwrap_or_default();
        DECOY.get_or_init(|| hash).clone()
    }

    fn wrong_credentials() -> AppError {
        AppError::invalid("form", "The e-mail address or the password is wrong.")
    }

    pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
        let state = ServerState::get()?;
        let db = &state.db;
        let mut v = Validation::default();
        let email = v.check(EmailAddress::parse("email", &email));
        if password.is_empty() {
            v.check::<()>(Err(AppError::invalid("password", "Enter your password.")));
        }
        v.finish()?;
        let email = email.expect("validated above");
        let password = SecretString::from(password);

        // Counted before the password is checked, so parallel guesses cannot all get through.
        let attempt = match throttle::reserve(db, throttle::Secret::SignIn(email.as_str()), &attempt_source(&state)).await {
            Ok(attempt) => attempt,
            Err(refused) => {
                audit::record(db, None, email.as_str(), "sign_in_throttled", None, email.as_str(), "").await?;
                return Err(refused);
            }
        };
        let credentials = store::credentials(db, email.as_str()).await?;
        let hash = credentials.as_ref().map(|c| c.password_hash.clone());
        let hash = match hash {
            Some(hash) => hash,
            None => decoy_hash().await,
        };
        let ok = verify_password(password, hash).await;
        let credentials = match credentials {
            Some(c) if ok => c,
            _ => {
                audit::record(db, None, email.as_str(), "sign_in_failed", None, email.as_str(), "").await?;
                return Err(wrong_credentials());
            }
        };
        attempt.succeeded(db).await?;
        if credentials.disabled {
            // The same answer as a wrong password: telling "disabled" would confirm that
            // the password was right. The audit log says what happened.
            audit::record(db, None, email.as_str(), "sign_in_refused_disabled", None, email.as_str(), "").await?;
            return Err(wrong_credentials());
        }

        // Rotation: whatever session the browser had is dropped, a fresh token is issued.
        let headers = request_headers().unwrap_or_default();
        if let Some(old) = session::token_from_headers(&headers) {
            session::destroy(db, &old).await?;
        }
        let token = session::create(db, credentials.user_id).await?;
        set_cookie_header(&session::set_cookie(&token, state.secure_cookies));
        let actor = store::actor(db, credentials.user_id).await?.ok_or(AppError::SignInRequired)?;
        audit::record(db, Some(&actor), &actor.email, "signed_in", None, &actor.email, "").await?;
        Ok(())
    }

    fn set_cookie_header(value: &str) {
        if let (Some(options), Ok(value)) = (crate::request::current().and_then(|scope| scope.response), http::HeaderValue::from_str(value))
        {
            options.append_header(http::header::SET_COOKIE, value);
        }
    }

    pub async fn sign_out() -> Result<(), AppError> {
        let state = ServerState::get()?;
        let headers = request_headers()?;
        if let Some(token) = session::token_from_headers(&headers) {
            if let Ok(actor) = caller_from_headers(&state.db, &headers).await {
                audit::record(&state.db, Some(&actor), &actor.email, "signed_out", None, &actor.email, "").await?;
            }
            session::destroy(&state.db, &token).await?;
        }
        set_cookie_header(&session::clear_cookie(state.secure_cookies));
        Ok(())
    }

    pub async fn change_password(current: String, new_password: String, confirm: String) -> Result<(), AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let db = &state.db;
        let hash = store::password_hash(db, actor.user_id).await?;
        let mut v = Validation::default();
        // A stolen session must not become a way to guess the password.
        let attempt = throttle::reserve(db, throttle::Secret::CurrentPassword(actor.user_id), &attempt_source(&state)).await?;
        if verify_password(SecretString::from(current), hash).await {
            attempt.succeeded(db).await?;
        } else {
            v.check::<()>(Err(AppError::invalid("current", "This is not your current password.")));
        }
        let new = v.check(NewPassword::parse("new_password", &new_password));
        if new_password != confirm {
            v.check::<()>(Err(AppError::invalid("confirm", "The two new passwords differ.")));
        }
        v.finish()?;
        let new = new.expect("validated above");
        let hash = hash_password(SecretString::from(new.expose().to_string())).await?;
        store::set_password_hash(db, actor.user_id, &hash).await?;
        // Every other session of this user ends; this browser gets a fresh one.
        session::destroy_all_for(db, actor.user_id).await?;
        let token = session::create(db, actor.user_id).await?;
        set_cookie_header(&session::set_cookie(&token, state.secure_cookies));
        audit::record(db, Some(&actor), &actor.email, "password_changed", None, &actor.email, "").await
    }

    pub async fn assignable_clients() -> Result<Vec<(i64, String)>, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageUsers)?;
        store::client_choices(&ServerState::get()?.db).await
    }

    pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageUsers)?;
        store::list_users(&ServerState::get()?.db).await
    }

    /// Role and client assignments that make sense together.
    async fn check_assignment(db: &Db, v: &mut Validation, role: Option<Role>, clients: &[i64]) -> Result<(), AppError> {
        let known: Vec<i64> = store::client_choices(db).await?.into_iter().map(|(id, _)| id).collect();
        for client in clients.iter().filter(|c| !known.contains(c)) {
            v.check::<()>(Err(AppError::invalid("clients", format!("Client {client} does not exist."))));
        }
        if role == Some(Role::ClientViewer) && clients.len() != 1 {
            v.check::<()>(Err(AppError::invalid("clients", "A client viewer belongs to exactly one client.")));
        }
        Ok(())
    }

    pub async fn create_user(user: NewUser) -> Result<i64, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageUsers)?;
        let db = &ServerState::get()?.db;
        let mut v = Validation::default();
        let email = v.check(EmailAddress::parse("email", &user.email));
        let name = v.check(required_text("name", &user.name, 120));
        let role = v.check(Role::parse(&user.role));
        let password = v.check(NewPassword::parse("password", &user.password));
        let locales = v.check(parse_locales("locales", &user.locales)).unwrap_or_default();
        let mut clients = user.clients.clone();
        clients.sort_unstable();
        clients.dedup();
        check_assignment(db, &mut v, role, &clients).await?;
        v.finish()?;
        let (email, name, role, password) =
            (email.expect("validated"), name.expect("validated"), role.expect("validated"), password.expect("validated"));
        let hash = hash_password(SecretString::from(password.expose().to_string())).await?;
        let id = store::insert_user(db, email.as_str(), &name, &hash, role).await?;
        store::set_clients(db, id, &clients).await?;
        store::set_locales(db, id, &locales).await?;
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "user_created",
            None,
            email.as_str(),
            &format!("role={} clients={:?} locales={}", role.as_str(), clients, locales.join(" ")),
        )
        .await?;
        Ok(id)
    }

    pub async fn update_user(change: UserChange) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageUsers)?;
        let db = &ServerState::get()?.db;
        let mut v = Validation::default();
        let name = v.check(required_text("name", &change.name, 120));
        let role = v.check(Role::parse(&change.role));
        let password =
            if change.new_password.is_empty() { None } else { v.check(NewPassword::parse("new_password", &change.new_password)) };
        let locales = v.check(parse_locales("locales", &change.locales)).unwrap_or_default();
        let mut clients = change.clients.clone();
        clients.sort_unstable();
        clients.dedup();
        check_assignment(db, &mut v, role, &clients).await?;
        if change.id == actor.user_id && (change.disabled || role != Some(Role::Admin)) {
            v.check::<()>(Err(AppError::invalid("role", "You cannot disable yourself or take away your own admin role.")));
        }
        v.finish()?;
        let (name, role) = (name.expect("validated"), role.expect("validated"));
        let target = store::actor_any(db, change.id).await?.ok_or_else(|| AppError::NotFound(format!("user {}", change.id)))?;
        store::update_user(db, change.id, &name, role, change.disabled).await?;
        store::set_clients(db, change.id, &clients).await?;
        store::set_locales(db, change.id, &locales).await?;
        let password_changed = password.is_some();
        if let Some(password) = password {
            let hash = hash_password(SecretString::from(password.expose().to_string())).await?;
            store::set_password_hash(db, change.id, &hash).await?;
        }
        if change.disabled || password_changed {
            session::destroy_all_for(db, change.id).await?;
        }
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "user_updated",
            None,
            &target,
            &format!(
                "role={} disabled={} clients={:?} locales={}{}",
                role.as_str(),
                change.disabled,
                clients,
                locales.join(" "),
                if password_changed { " password reset" } else { "" }
            ),
        )
        .await
    }
}
