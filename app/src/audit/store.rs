//! SQL for the audit log (`audit_log`).

use super::AuditEntry;
use crate::common::identity::Actor;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::Row;

impl sqlx::FromRow<'_, AnyRow> for AuditEntry {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(AuditEntry {
            id: r.try_get("id")?,
            at: r.try_get("at")?,
            actor_email: r.try_get("actor_email")?,
            action: r.try_get("action")?,
            client_id: r.try_get("client_id")?,
            client_name: r.try_get("client_name")?,
            subject: r.try_get("subject")?,
            detail: r.try_get("detail")?,
        })
    }
}

/// Appends one entry. `actor` is `None` for anonymous events such as failed sign-ins.
pub async fn record(
    db: &Db,
    actor: Option<&Actor>,
    actor_email: &str,
    action: &str,
    client_id: Option<i64>,
    subject: &str,
    detail: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor_email, action, client_id, subject, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now_millis())
    .bind(actor.map(|a| a.user_id))
    .bind(actor_email)
    .bind(action)
    .bind(client_id)
    .bind(subject)
    .bind(detail)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// One page of the log, newest first unless sorted otherwise. Reads `clients` (owned by
/// `clients::store`) for each entry's client name: the audit log comes before clients in
/// the dependency order, so it joins the table rather than calling that store.
pub async fn list(db: &Db, query: &ListQuery) -> Result<Page<AuditEntry>, AppError> {
    let filter = query.like_pattern();
    let where_sql =
        "WHERE lower(a.action) LIKE $1 ESCAPE '\\' OR lower(a.actor_email) LIKE $1 ESCAPE '\\' OR lower(a.subject) LIKE $1 ESCAPE '\\'";
    let (total,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM audit_log a {where_sql}")).bind(&filter).fetch_one(&db.pool).await?;
    let order = match query.sort.as_str() {
        "action" => "a.action",
        "actor" => "a.actor_email",
        _ => "a.at",
    };
    let dir = if query.desc || query.sort.is_empty() { "DESC" } else { "ASC" };
    let rows = sqlx::query_as::<_, AuditEntry>(&format!(
        "SELECT a.id, a.at, a.actor_email, a.action, a.client_id, c.name AS client_name, a.subject, a.detail \
         FROM audit_log a LEFT JOIN clients c ON c.id = a.client_id {where_sql} \
         ORDER BY {order} {dir}, a.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(&filter)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    Ok(Page::new(rows, total, query))
}

/// The newest `limit` entries about one subject of a client (a campaign's history):
/// (at, actor e-mail, action, detail), newest first.
pub async fn subject_history(db: &Db, client_id: i64, subject: &str, limit: i64) -> Result<Vec<(i64, String, String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT at, actor_email, action, detail FROM audit_log WHERE client_id = $1 AND subject = $2 ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(client_id)
    .bind(subject)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}
