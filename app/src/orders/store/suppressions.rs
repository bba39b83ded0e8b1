//! SQL of the suppression lists (`suppressions`): one row per (list, fingerprint), the
//! address itself kept beside it except for erased buyers. Entries are read with their
//! brand's name from `brands` (owned by `clients::store`).

use super::decode;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::model::{Entry, Reason, Scope};
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::Row;

impl sqlx::FromRow<'_, AnyRow> for Entry {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Entry {
            id: r.try_get("id")?,
            brand_id: r.try_get("brand_id")?,
            brand_name: r.try_get("brand_name")?,
            value: r.try_get("value")?,
            reason: decode(r, "reason", Reason::parse)?,
            note: r.try_get("note")?,
            created_at: r.try_get("created_at")?,
            created_by: r.try_get("created_by")?,
        })
    }
}

const ENTRY_COLUMNS: &str =
    "SELECT x.id, x.brand_id, COALESCE(b.name, '') AS brand_name, x.value, x.reason, x.note, x.created_at, x.created_by";

/// Adds an entry to `scope`'s list (`value` "" for an erased buyer); `false` when the
/// fingerprint was already on it.
pub async fn insert(db: &Db, scope: Scope, value: &str, value_hash: &str, reason: Reason, note: &str, by: &str) -> Result<bool, AppError> {
    let result = sqlx::query(
        "INSERT INTO suppressions (client_id, brand_id, value, value_hash, reason, note, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(scope.client_id)
    .bind(scope.brand_id)
    .bind(value)
    .bind(value_hash)
    .bind(reason.as_str())
    .bind(note)
    .bind(now_millis())
    .bind(by)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Whether the fingerprint is on `brand_id`'s list or the agency's.
pub async fn listed(db: &Db, value_hash: &str, brand_id: i64) -> Result<bool, AppError> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM suppressions WHERE value_hash = $1 AND (brand_id IS NULL OR brand_id = $2) LIMIT 1")
            .bind(value_hash)
            .bind(brand_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.is_some())
}

/// A page of a client's entries (its brands' lists), plus the agency-wide list when
/// `with_agency`, searched by address or note.
pub async fn page(db: &Db, client_id: i64, with_agency: bool, query: &ListQuery) -> Result<Page<Entry>, AppError> {
    let base = format!("FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE (x.client_id = $2 OR ($3 = 1 AND x.brand_id IS NULL)) AND (x.value LIKE $1 ESCAPE '\\' OR lower(x.note) LIKE $1 ESCAPE '\\')");
    let pattern = query.like_pattern();
    let agency = i64::from(with_agency);
    let total: i64 = sqlx::query(&format!("SELECT COUNT(*) {base}"))
        .bind(&pattern)
        .bind(client_id)
        .bind(agency)
        .fetch_one(&db.pool)
        .await?
        .try_get(0)?;
    let order = match query.sort.as_str() {
        "value" => "x.value",
        "reason" => "x.reason",
        "brand" => "b.name",
        _ => "x.created_at",
    };
    let dir = if query.desc || query.sort.is_empty() { "DESC" } else { "ASC" };
    let rows = sqlx::query_as::<_, Entry>(&format!("{ENTRY_COLUMNS} {base} ORDER BY {order} {dir}, x.id DESC LIMIT $4 OFFSET $5"))
        .bind(&pattern)
        .bind(client_id)
        .bind(agency)
        .bind(query.limit())
        .bind(query.offset())
        .fetch_all(&db.pool)
        .await?;
    Ok(Page::new(rows, total, query))
}

/// Every entry of a client's brands (or the agency-wide list with `client_id` None).
pub async fn all(db: &Db, client_id: Option<i64>) -> Result<Vec<Entry>, AppError> {
    let sql = format!("{ENTRY_COLUMNS} FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE ");
    Ok(match client_id {
        Some(client) => {
            sqlx::query_as::<_, Entry>(&format!("{sql} x.client_id = $1 ORDER BY x.id")).bind(client).fetch_all(&db.pool).await?
        }
        None => sqlx::query_as::<_, Entry>(&format!("{sql} x.brand_id IS NULL ORDER BY x.id")).fetch_all(&db.pool).await?,
    })
}

/// The entries of one fingerprint on `brand_id`'s list and the agency's.
pub async fn matching(db: &Db, value_hash: &str, brand_id: i64) -> Result<Vec<Entry>, AppError> {
    Ok(sqlx::query_as::<_, Entry>(&format!(
        "{ENTRY_COLUMNS} FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE x.value_hash = $1 AND (x.brand_id IS NULL OR x.brand_id = $2)"
    ))
    .bind(value_hash)
    .bind(brand_id)
    .fetch_all(&db.pool)
    .await?)
}

/// The entry's list and reason, for authorization: (client, brand, reason).
pub async fn scope_of(db: &Db, id: i64) -> Result<Option<(Option<i64>, Option<i64>, Reason)>, AppError> {
    let row: Option<(Option<i64>, Option<i64>, String)> =
        sqlx::query_as("SELECT client_id, brand_id, reason FROM suppressions WHERE id = $1").bind(id).fetch_optional(&db.pool).await?;
    row.map(|(client, brand, reason)| match Reason::parse(&reason) {
        Some(reason) => Ok((client, brand, reason)),
        None => Err(AppError::internal(format!("suppression {id} has the unknown reason {reason:?}"))),
    })
    .transpose()
}

pub async fn remove(db: &Db, id: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM suppressions WHERE id = $1").bind(id).execute(&db.pool).await?;
    Ok(())
}

// ----- erasure, on the erasing transaction ---------------------------------------------

/// Removes the plain address from every list that holds its fingerprint.
pub async fn forget_address(conn: &mut sqlx::AnyConnection, value_hash: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE suppressions SET value = '' WHERE value_hash = $1").bind(value_hash).execute(&mut *conn).await?;
    Ok(())
}

/// Turns the brand's entry for the fingerprint, if any, into an erasure (no note kept).
pub async fn mark_erased(conn: &mut sqlx::AnyConnection, value_hash: &str, brand_id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE suppressions SET reason = $3, note = '' WHERE value_hash = $1 AND brand_id = $2")
        .bind(value_hash)
        .bind(brand_id)
        .bind(Reason::Erased.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Puts the fingerprint on the brand's list as erased, unless it is there already.
pub async fn add_erased(
    conn: &mut sqlx::AnyConnection,
    client_id: i64,
    brand_id: i64,
    value_hash: &str,
    at: i64,
    by: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO suppressions (client_id, brand_id, value, value_hash, reason, note, created_at, created_by) \
         VALUES ($1, $2, '', $3, $6, '', $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(client_id)
    .bind(brand_id)
    .bind(value_hash)
    .bind(at)
    .bind(by)
    .bind(Reason::Erased.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
