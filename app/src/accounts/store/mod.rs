//! SQL for users and their client assignments; `sessions` and `throttle` hold the
//! sessions and failed sign-ins. The only code that touches `users`, `user_clients`,
//! `sessions` and `sign_in_attempts`.

pub mod sessions;
pub mod throttle;

use super::model::{Actor, Role, UserSummary};
use crate::db::{now_millis, Db};
use crate::error::AppError;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

pub struct Credentials {
    pub user_id: i64,
    pub password_hash: String,
    pub disabled: bool,
}

impl FromRow<'_, AnyRow> for Credentials {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Credentials {
            user_id: r.try_get("id")?,
            password_hash: r.try_get("password_hash")?,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
        })
    }
}

/// A row of `users` without its password hash. The role stays text here and is parsed
/// where the row becomes an [`Actor`] or a [`UserSummary`], so that an unknown role is
/// the same `AppError` as everywhere else roles are parsed.
struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    disabled: bool,
    locales: String,
}

impl FromRow<'_, AnyRow> for UserRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(UserRow {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            role: r.try_get("role")?,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            locales: r.try_get("locales")?,
        })
    }
}

impl UserRow {
    fn into_actor(self, clients: Vec<i64>) -> Result<Actor, AppError> {
        Ok(Actor {
            user_id: self.id,
            role: Role::parse(&self.role)?,
            locales: split_locales(&self.locales),
            email: self.email,
            name: self.name,
            clients,
        })
    }
}

/// A user as the users page lists them: the row and when it was created.
struct ListedUser {
    user: UserRow,
    created_at: i64,
}

impl FromRow<'_, AnyRow> for ListedUser {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ListedUser { user: UserRow::from_row(r)?, created_at: r.try_get("created_at")? })
    }
}

impl ListedUser {
    fn into_summary(self, clients: Vec<i64>) -> Result<UserSummary, AppError> {
        let ListedUser { user, created_at } = self;
        Ok(UserSummary {
            id: user.id,
            role: Role::parse(&user.role)?,
            disabled: user.disabled,
            locales: split_locales(&user.locales),
            email: user.email,
            name: user.name,
            clients,
            created_at,
        })
    }
}

pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, AppError> {
    Ok(sqlx::query_as::<_, Credentials>("SELECT id, password_hash, disabled FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&db.pool)
        .await?)
}

pub async fn password_hash(db: &Db, user_id: i64) -> Result<String, AppError> {
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(user_id).fetch_one(&db.pool).await?;
    Ok(hash)
}

pub async fn set_password_hash(db: &Db, user_id: i64, hash: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_millis())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Every client as (id, name), by name: what a user can be assigned to. Reads `clients`
/// (owned by `clients::store`) so that accounts need not call the clients capability,
/// which calls accounts for every authorization.
pub async fn client_choices(db: &Db) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, name FROM clients ORDER BY lower(name)").fetch_all(&db.pool).await?)
}

/// The actor for an enabled user, with their client assignments.
pub async fn actor(db: &Db, user_id: i64) -> Result<Option<Actor>, AppError> {
    let Some(user) = sqlx::query_as::<_, UserRow>("SELECT id, email, name, role, disabled, locales FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let clients = clients_of(db, user_id).await?;
    user.into_actor(clients).map(Some)
}

async fn clients_of(db: &Db, user_id: i64) -> Result<Vec<i64>, AppError> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT client_id FROM user_clients WHERE user_id = $1 ORDER BY client_id")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

pub async fn insert_user(db: &Db, email: &str, name: &str, password_hash: &str, role: Role) -> Result<i64, AppError> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO users (email, name, password_hash, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
    )
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::invalid("email", "A user with this e-mail already exists."),
        other => other,
    })?;
    Ok(id)
}

pub async fn update_user(db: &Db, user_id: i64, name: &str, role: Role, disabled: bool) -> Result<(), AppError> {
    let result = sqlx::query("UPDATE users SET name = $1, role = $2, disabled = $3, updated_at = $4 WHERE id = $5")
        .bind(name)
        .bind(role.as_str())
        .bind(i64::from(disabled))
        .bind(now_millis())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    if crate::db::touched_nothing(&result) {
        return Err(AppError::NotFound(format!("user {user_id}")));
    }
    Ok(())
}

pub async fn set_clients(db: &Db, user_id: i64, clients: &[i64]) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM user_clients WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    for client in clients {
        sqlx::query("INSERT INTO user_clients (user_id, client_id) VALUES ($1, $2)").bind(user_id).bind(client).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list_users(db: &Db) -> Result<Vec<UserSummary>, AppError> {
    let rows =
        sqlx::query_as::<_, ListedUser>("SELECT id, email, name, role, disabled, created_at, locales FROM users ORDER BY lower(name), id")
            .fetch_all(&db.pool)
            .await?;
    let assignments: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, client_id FROM user_clients ORDER BY client_id").fetch_all(&db.pool).await?;
    rows.into_iter()
        .map(|r| {
            let id = r.user.id;
            r.into_summary(assignments.iter().filter(|(u, _)| *u == id).map(|(_, c)| *c).collect())
        })
        .collect()
}

pub async fn count_users(db: &Db) -> Result<i64, AppError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&db.pool).await?;
    Ok(n)
}

/// (id, name) of the enabled admins and account managers, by name: who may own an alert.
pub async fn staff(db: &Db) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, name FROM users WHERE role IN ($1, $2) AND disabled = 0 ORDER BY name")
        .bind(Role::Admin.as_str())
        .bind(Role::AccountManager.as_str())
        .fetch_all(&db.pool)
        .await?)
}

/// (id, name, e-mail) of the enabled account managers assigned to the client.
pub async fn account_managers_of(db: &Db, client_id: i64) -> Result<Vec<(i64, String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.name, u.email FROM users u JOIN user_clients uc ON uc.user_id = u.id \
         WHERE uc.client_id = $1 AND u.role = $2 AND u.disabled = 0 ORDER BY u.id",
    )
    .bind(client_id)
    .bind(Role::AccountManager.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// The e-mail of any user, enabled or not (for audit subjects).
pub async fn actor_any(db: &Db, user_id: i64) -> Result<Option<String>, AppError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT email FROM users WHERE id = $1").bind(user_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(e,)| e))
}

fn split_locales(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(String::from).collect()
}

/// The locales a copywriter reviews, stored space-separated.
pub async fn set_locales(db: &Db, user_id: i64, locales: &[String]) -> Result<(), AppError> {
    sqlx::query("UPDATE users SET locales = $1 WHERE id = $2").bind(locales.join(" ")).bind(user_id).execute(&db.pool).await?;
    Ok(())
}

/// The actor of a user by e-mail (demo seeding).
pub async fn actor_by_email(db: &Db, email: &str) -> Result<Option<Actor>, AppError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_optional(&db.pool).await?;
    match row {
        Some((id,)) => actor(db, id).await,
        None => Ok(None),
    }
}

/// The first user with `role`, by id (the benchmarks sign in as the demo's admin).
pub async fn first_with_role(db: &Db, role: Role) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT id FROM users WHERE role = $1 ORDER BY id LIMIT 1").bind(role.as_str()).fetch_optional(&db.pool).await?)
}
