//! Suppression lists and buyer privacy: who must never be contacted (per brand or
//! agency-wide), a buyer's data export (GDPR access), erasure (GDPR erasure: personal data
//! removed, a salted hash kept so the address is never contacted again), and retention.
//!
//! Every entry is matched by `fingerprint` (HMAC-SHA256 of the normalised address under the
//! installation's salt), so erased addresses are matched without being stored.

use super::customers::{normalise_email, normalise_phone};
use super::model::{Entry, Reason};
use crate::common::fingerprint::{fingerprint, Salt};
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// An address as suppression compares it: an e-mail lower-cased, a phone in E.164.
pub fn normalise_address(value: &str) -> Option<String> {
    let email = normalise_email(value);
    if !email.is_empty() {
        return Some(email);
    }
    let phone = normalise_phone(value, "");
    (!phone.is_empty()).then_some(phone)
}

/// Which list: one brand's, or the agency-wide one (`brand_id` None).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub client_id: Option<i64>,
    pub brand_id: Option<i64>,
}

/// Adds an address to a list; `false` when it was already there.
pub async fn suppress(db: &Db, salt: &Salt, scope: Scope, address: &str, reason: Reason, note: &str, by: &str) -> Result<bool, AppError> {
    let value = normalise_address(address).ok_or_else(|| {
        AppError::invalid("address", format!("\"{address}\" is neither an e-mail address nor a phone number with country code."))
    })?;
    let stored = if reason == Reason::Erased { String::new() } else { value.clone() };
    let result = sqlx::query(
        "INSERT INTO suppressions (client_id, brand_id, value, value_hash, reason, note, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(scope.client_id)
    .bind(scope.brand_id)
    .bind(stored)
    .bind(fingerprint(salt, &value))
    .bind(reason.as_str())
    .bind(note)
    .bind(now_millis())
    .bind(by)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Whether `address` may not be contacted by `brand_id` (its list or the agency's).
pub async fn is_suppressed(db: &Db, salt: &Salt, brand_id: i64, address: &str) -> Result<bool, AppError> {
    let Some(value) = normalise_address(address) else { return Ok(false) };
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM suppressions WHERE value_hash = $1 AND (brand_id IS NULL OR brand_id = $2) LIMIT 1")
            .bind(fingerprint(salt, &value))
            .bind(brand_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.is_some())
}

/// A client's entries (its brands' lists), plus the agency-wide list when `with_agency`:
/// that list can hold any client's buyers, so only those who may see every client's data
/// (agency admins) get it.
pub async fn list(db: &Db, client_id: i64, with_agency: bool, query: &ListQuery) -> Result<Page<Entry>, AppError> {
    let base = format!("FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE (x.client_id = $2 OR ($3 = 1 AND x.brand_id IS NULL)) AND (x.value LIKE $1 ESCAPE '\\' OR lower(x.note) LIKE $1 ESCAPE '\\')");
    let pattern = query.like_pattern();
    let agency = i64::from(with_agency);
    let total: i64 =
        sqlx::query(&format!("SELECT COUNT(*) {base}")).bind(&pattern).bind(client_id).bind(agency).fetch_one(&db.pool).await?.get(0);
    let order = match query.sort.as_str() {
        "value" => "x.value",
        "reason" => "x.reason",
        "brand" => "b.name",
        _ => "x.created_at",
    };
    let dir = if query.desc || query.sort.is_empty() { "DESC" } else { "ASC" };
    let rows = sqlx::query(&format!(
        "SELECT x.id, x.brand_id, COALESCE(b.name, '') AS brand_name, x.value, x.reason, x.note, x.created_at, x.created_by \
         {base} ORDER BY {order} {dir}, x.id DESC LIMIT $4 OFFSET $5"
    ))
    .bind(&pattern)
    .bind(client_id)
    .bind(agency)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    Ok(Page::new(rows.iter().map(entry).collect(), total, query))
}

fn entry(r: &sqlx::any::AnyRow) -> Entry {
    Entry {
        id: r.get("id"),
        brand_id: r.get("brand_id"),
        brand_name: r.get("brand_name"),
        value: r.get("value"),
        reason: r.get("reason"),
        note: r.get("note"),
        created_at: r.get("created_at"),
        created_by: r.get("created_by"),
    }
}

/// Every entry of a client's brands (or the agency-wide list with `client_id` None).
pub async fn all(db: &Db, client_id: Option<i64>) -> Result<Vec<Entry>, AppError> {
    let sql = "SELECT x.id, x.brand_id, COALESCE(b.name, '') AS brand_name, x.value, x.reason, x.note, x.created_at, x.created_by \
               FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE ";
    let rows = match client_id {
        Some(client) => sqlx::query(&format!("{sql} x.client_id = $1 ORDER BY x.id")).bind(client).fetch_all(&db.pool).await?,
        None => sqlx::query(&format!("{sql} x.brand_id IS NULL ORDER BY x.id")).fetch_all(&db.pool).await?,
    };
    Ok(rows.iter().map(entry).collect())
}

/// The entry's list, for authorization: (client, brand).
pub async fn entry_scope(db: &Db, id: i64) -> Result<Option<(Option<i64>, Option<i64>, String)>, AppError> {
    Ok(sqlx::query_as("SELECT client_id, brand_id, reason FROM suppressions WHERE id = $1").bind(id).fetch_optional(&db.pool).await?)
}

pub async fn remove(db: &Db, id: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM suppressions WHERE id = $1").bind(id).execute(&db.pool).await?;
    Ok(())
}

/// Everything Starling holds about one buyer, as the GDPR access export gives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuyerExport {
    pub exported_at: String,
    pub customer: super::model::Customer,
    pub consents: Vec<super::model::Consent>,
    pub orders: Vec<serde_json::Value>,
    pub suppressions: Vec<Entry>,
}

pub async fn export_buyer(db: &Db, salt: &Salt, customer_id: i64) -> Result<BuyerExport, AppError> {
    let customer = super::store::customer(db, customer_id).await?.ok_or_else(|| AppError::NotFound(format!("customer {customer_id}")))?;
    let rows = sqlx::query(
        "SELECT o.platform_order_id, s.name AS store, o.placed_at, o.status, o.status_at, o.buyer_name, o.buyer_email, \
           o.buyer_phone, o.country, o.marketplace, o.currency, o.total_minor, o.items \
         FROM orders o JOIN stores s ON s.id = o.store_id WHERE o.customer_id = $1 ORDER BY o.placed_at",
    )
    .bind(customer_id)
    .fetch_all(&db.pool)
    .await?;
    let orders = rows
        .iter()
        .map(|r| {
            let items: String = r.get("items");
            serde_json::json!({
                "order_id": r.get::<String, _>("platform_order_id"),
                "store": r.get::<String, _>("store"),
                "placed_at": crate::shell::format_time(r.get("placed_at")),
                "status": r.get::<String, _>("status"),
                "status_at": crate::shell::format_time(r.get("status_at")),
                "buyer_name": r.get::<String, _>("buyer_name"),
                "buyer_email": r.get::<String, _>("buyer_email"),
                "buyer_phone": r.get::<String, _>("buyer_phone"),
                "country": r.get::<String, _>("country"),
                "marketplace": r.get::<String, _>("marketplace"),
                "currency": r.get::<String, _>("currency"),
                "total_minor": r.get::<Option<i64>, _>("total_minor"),
                "items": serde_json::from_str::<serde_json::Value>(&items).unwrap_or_default(),
            })
        })
        .collect();
    let prints: Vec<String> = [&customer.email, &customer.phone].iter().filter(|v| !v.is_empty()).map(|v| fingerprint(salt, v)).collect();
    let mut suppressions = Vec::new();
    for print in prints {
        let rows = sqlx::query(
            "SELECT x.id, x.brand_id, COALESCE(b.name, '') AS brand_name, x.value, x.reason, x.note, x.created_at, x.created_by \
             FROM suppressions x LEFT JOIN brands b ON b.id = x.brand_id WHERE x.value_hash = $1 AND (x.brand_id IS NULL OR x.brand_id = $2)",
        )
        .bind(print)
        .bind(customer.brand_id)
        .fetch_all(&db.pool)
        .await?;
        suppressions.extend(rows.iter().map(entry));
    }
    Ok(BuyerExport {
        exported_at: chrono::Utc::now().to_rfc3339(),
        consents: super::store::consents(db, customer_id).await?,
        customer,
        orders,
        suppressions,
    })
}

/// Erases a buyer: their orders keep only what is not personal (ids, dates, status,
/// products, amounts, country), the customer record and consents go, the plain address
/// leaves every list, and the brand's list gets the fingerprint as "erased". Returns how
/// many orders were stripped.
pub async fn erase_buyer(db: &Db, salt: &Salt, customer_id: i64, by: &str) -> Result<i64, AppError> {
    let customer = super::store::customer(db, customer_id).await?.ok_or_else(|| AppError::NotFound(format!("customer {customer_id}")))?;
    let addresses: Vec<&String> = [&customer.email, &customer.phone].into_iter().filter(|v| !v.is_empty()).collect();
    let now = now_millis();
    let mut tx = db.pool.begin().await?;
    let mut stripped = sqlx::query(
        "UPDATE orders SET buyer_name = '', buyer_email = '', buyer_phone = '', customer_id = NULL, updated_at = $1 \
         WHERE customer_id = $2",
    )
    .bind(now)
    .bind(customer_id)
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    for address in &addresses {
        // Orders of this brand that carry the address without being linked (erased before).
        stripped += sqlx::query(
            "UPDATE orders SET buyer_name = '', buyer_email = '', buyer_phone = '', updated_at = $1 \
             WHERE brand_id = $2 AND (buyer_email = $3 OR buyer_phone = $3)",
        )
        .bind(now)
        .bind(customer.brand_id)
        .bind(address.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;
        let print = fingerprint(salt, address);
        sqlx::query("UPDATE suppressions SET value = '' WHERE value_hash = $1").bind(&print).execute(&mut *tx).await?;
        sqlx::query("UPDATE suppressions SET reason = 'erased', note = '' WHERE value_hash = $1 AND brand_id = $2")
            .bind(&print)
            .bind(customer.brand_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO suppressions (client_id, brand_id, value, value_hash, reason, note, created_at, created_by) \
             VALUES ($1, $2, '', $3, 'erased', '', $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(customer.client_id)
        .bind(customer.brand_id)
        .bind(&print)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
    }
    // A review keeps its stars and words (the client's public review), not who wrote it.
    sqlx::query("UPDATE reviews SET author = '', customer_id = NULL WHERE customer_id = $1").bind(customer_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM consents WHERE customer_id = $1").bind(customer_id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM customers WHERE id = $1").bind(customer_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(stripped)
}

/// Deletes orders older than each client's retention period (0 = keep). Returns
/// (client, orders deleted) for each client that lost any.
pub async fn purge_expired(db: &Db, now: i64) -> Result<Vec<(i64, i64)>, AppError> {
    let clients: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, retention_months FROM clients WHERE retention_months > 0").fetch_all(&db.pool).await?;
    let mut purged = Vec::new();
    for (client, months) in clients {
        let cutoff = chrono::DateTime::from_timestamp_millis(now)
            .and_then(|t| t.checked_sub_months(chrono::Months::new(months.clamp(1, 1200) as u32)))
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN);
        let deleted = sqlx::query("DELETE FROM orders WHERE client_id = $1 AND placed_at < $2")
            .bind(client)
            .bind(cutoff)
            .execute(&db.pool)
            .await?
            .rows_affected() as i64;
        if deleted > 0 {
            purged.push((client, deleted));
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_the_salt_and_not_on_how_the_address_was_written() {
        let a = Salt::from_secret("one");
        let b = Salt::from_secret("two");
        let x = normalise_address(" Anna@Example.DE ").unwrap();
        assert_eq!(fingerprint(&a, &x), fingerprint(&a, &normalise_address("anna@example.de").unwrap()));
        assert_ne!(fingerprint(&a, &x), fingerprint(&b, &x));
        assert!(!fingerprint(&a, &x).contains("anna"));
        assert_eq!(format!("{a:?}"), "Salt(redacted)");
    }

    #[test]
    fn reasons_read_as_people_write_them() {
        assert_eq!(Reason::parse("Hard bounce"), Some(Reason::HardBounce));
        assert_eq!(Reason::parse("unsubscribe"), Some(Reason::Unsubscribed));
        assert_eq!(Reason::parse("complaint"), Some(Reason::Complaint));
        assert_eq!(Reason::parse("spam"), None);
    }
}

/// What an uploaded suppression list did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListImport {
    pub added: u64,
    pub known: u64,
    /// "line 7, address: …", one per rejected row.
    pub rejected: Vec<String>,
}

/// One usable row of an uploaded list.
pub struct ListRow {
    pub line: u64,
    pub address: String,
    pub reason: Reason,
    pub note: String,
}

/// The rows of an uploaded list (any encoding and delimiter the order importer reads),
/// read as they stream by: an address column (`email`, `phone`…), optional `reason` and
/// `note`.
pub fn read_list(input: impl std::io::Read + Send + 'static) -> Result<impl Iterator<Item = Result<ListRow, String>> + Send, String> {
    let (_, _, headers, rows) = crate::orders::import::read_header(input).map_err(|e| e.to_string())?;
    let headers: Vec<String> = headers.iter().map(|h| h.trim().to_lowercase()).collect();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let address_at = column(&["email", "e-mail", "phone", "address", "value"]).ok_or("The file needs an \"email\" or \"phone\" column.")?;
    let (reason_at, note_at) = (column(&["reason"]), column(&["note"]));
    Ok(rows.filter_map(move |row| {
        let (line, record) = match row {
            Ok(r) => r,
            Err(e) => return Some(Err(format!("line {}: {}", e.line, e.reason))),
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            return None;
        }
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("").trim().to_string();
        let reason_text = cell(reason_at);
        let reason =
            if reason_text.is_empty() { Some(Reason::Manual) } else { Reason::parse(&reason_text).filter(|r| *r != Reason::Erased) };
        Some(match reason {
            Some(reason) => Ok(ListRow { line, address: cell(Some(address_at)), reason, note: cell(note_at) }),
            None => Err(format!("line {line}, reason: \"{reason_text}\" is not unsubscribed, hard bounce, complaint or manual")),
        })
    }))
}

/// Adds every row of an uploaded list file to `scope`'s list. The file is read on a
/// blocking thread and its rows stream to the database, so no upload is held in memory.
pub async fn import_list(db: &Db, salt: &Salt, scope: Scope, by: &str, file: std::fs::File) -> Result<ListImport, AppError> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<ListRow, String>>(512);
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        for row in read_list(std::io::BufReader::with_capacity(256 * 1024, file))? {
            if sender.blocking_send(row).is_err() {
                break;
            }
        }
        Ok(())
    });
    let mut result = ListImport::default();
    while let Some(row) = receiver.recv().await {
        let row = match row {
            Ok(row) => row,
            Err(message) => {
                result.rejected.push(message);
                continue;
            }
        };
        match suppress(db, salt, scope, &row.address, row.reason, &row.note, by).await {
            Ok(true) => result.added += 1,
            Ok(false) => result.known += 1,
            Err(AppError::Invalid(fields)) => {
                let field = if row.address.is_empty() { "address is empty".to_string() } else { "address".to_string() };
                let why = fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join(" ");
                result.rejected.push(format!("line {}, {field}: {why}", row.line));
            }
            Err(other) => return Err(other),
        }
    }
    match reader.await {
        Ok(Ok(())) => Ok(result),
        Ok(Err(message)) => Err(AppError::invalid("file", message)),
        Err(e) => Err(AppError::caused("reading the list", e)),
    }
}
