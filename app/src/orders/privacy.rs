//! Suppression lists and buyer privacy: who must never be contacted (per brand or
//! agency-wide), a buyer's data export (GDPR access), erasure (GDPR erasure: personal data
//! removed, a salted hash kept so the address is never contacted again), and retention.
//!
//! Every entry is matched by `fingerprint` (HMAC-SHA256 of the normalised address under the
//! installation's salt), so erased addresses are matched without being stored.

use super::customers::{normalise_email, normalise_phone};
use super::model::{Entry, Reason};
use super::store::{self, suppressions};
use crate::common::fingerprint::{fingerprint, Salt};
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use serde::{Deserialize, Serialize};

pub use super::model::Scope;
pub use super::store::suppressions::{all, remove};

/// An address as suppression compares it: an e-mail lower-cased, a phone in E.164.
pub fn normalise_address(value: &str) -> Option<String> {
    let email = normalise_email(value);
    if !email.is_empty() {
        return Some(email);
    }
    let phone = normalise_phone(value, "");
    if !phone.is_empty() {
        return Some(phone);
    }
    // A number already in E.164 that the numbering plan does not know (a new range, a
    // test number) is kept as imports keep it, so the buyer's stored phone still matches.
    let trimmed = value.trim();
    let e164 = trimmed.strip_prefix('+').is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    e164.then(|| trimmed.to_string())
}

/// Adds an address to a list; `false` when it was already there.
pub async fn suppress(db: &Db, salt: &Salt, scope: Scope, address: &str, reason: Reason, note: &str, by: &str) -> Result<bool, AppError> {
    let value = normalise_address(address).ok_or_else(|| {
        AppError::invalid("address", format!("\"{address}\" is neither an e-mail address nor a phone number with country code."))
    })?;
    let stored = if reason == Reason::Erased { "" } else { value.as_str() };
    suppressions::insert(db, scope, stored, &fingerprint(salt, &value), reason, note, by).await
}

/// Whether `address` may not be contacted by `brand_id` (its list or the agency's).
pub async fn is_suppressed(db: &Db, salt: &Salt, brand_id: i64, address: &str) -> Result<bool, AppError> {
    let Some(value) = normalise_address(address) else { return Ok(false) };
    suppressions::listed(db, &fingerprint(salt, &value), brand_id).await
}

/// A client's entries (its brands' lists), plus the agency-wide list when `with_agency`:
/// that list can hold any client's buyers, so only those who may see every client's data
/// (agency admins) get it.
pub async fn list(db: &Db, client_id: i64, with_agency: bool, query: &ListQuery) -> Result<Page<Entry>, AppError> {
    suppressions::page(db, client_id, with_agency, query).await
}

/// The entry's list, for authorization: (client, brand, reason).
pub async fn entry_scope(db: &Db, id: i64) -> Result<Option<(Option<i64>, Option<i64>, Reason)>, AppError> {
    suppressions::scope_of(db, id).await
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
    let customer = store::customer(db, customer_id).await?.ok_or_else(|| AppError::NotFound(format!("customer {customer_id}")))?;
    let orders = store::privacy::buyer_orders(db, customer_id)
        .await?
        .into_iter()
        .map(|o| {
            serde_json::json!({
                "order_id": o.platform_order_id,
                "store": o.store,
                "placed_at": crate::shell::format_time(o.placed_at),
                "status": o.status.as_str(),
                "status_at": crate::shell::format_time(o.status_at),
                "buyer_name": o.buyer_name,
                "buyer_email": o.buyer_email,
                "buyer_phone": o.buyer_phone,
                "country": o.country,
                "marketplace": o.marketplace,
                "currency": o.currency,
                "total_minor": o.total_minor,
                "items": serde_json::from_str::<serde_json::Value>(&o.items).unwrap_or_default(),
            })
        })
        .collect();
    let prints: Vec<String> = [&customer.email, &customer.phone].iter().filter(|v| !v.is_empty()).map(|v| fingerprint(salt, v)).collect();
    let mut entries = Vec::new();
    for print in prints {
        entries.extend(suppressions::matching(db, &print, customer.brand_id).await?);
    }
    Ok(BuyerExport {
        exported_at: chrono::Utc::now().to_rfc3339(),
        consents: store::consents(db, customer_id).await?,
        customer,
        orders,
        suppressions: entries,
    })
}

/// Erases a buyer: their orders keep only what is not personal (ids, dates, status,
/// products, amounts, country), the customer record and consents go, the plain address
/// leaves every list, the brand's list gets the fingerprint as "erased", and their reviews
/// lose their author. One transaction. Returns how many orders were stripped.
pub async fn erase_buyer(db: &Db, salt: &Salt, customer_id: i64, by: &str) -> Result<i64, AppError> {
    let customer = store::customer(db, customer_id).await?.ok_or_else(|| AppError::NotFound(format!("customer {customer_id}")))?;
    let addresses: Vec<&String> = [&customer.email, &customer.phone].into_iter().filter(|v| !v.is_empty()).collect();
    let now = now_millis();
    let mut tx = db.pool.begin().await?;
    let mut stripped = store::privacy::strip_customer_orders(&mut tx, customer_id, now).await?;
    for address in &addresses {
        // Orders of this brand that carry the address without being linked (erased before).
        stripped += store::privacy::strip_address_orders(&mut tx, customer.brand_id, address, now).await?;
        let print = fingerprint(salt, address);
        suppressions::forget_address(&mut tx, &print).await?;
        suppressions::mark_erased(&mut tx, &print, customer.brand_id).await?;
        suppressions::add_erased(&mut tx, customer.client_id, customer.brand_id, &print, now, by).await?;
    }
    store::reviews::anonymise_by(&mut tx, customer_id).await?;
    store::privacy::delete_customer(&mut tx, customer_id).await?;
    tx.commit().await?;
    Ok(stripped)
}

/// Deletes orders older than each client's retention period (0 = keep). Returns
/// (client, orders deleted) for each client that lost any.
pub async fn purge_expired(db: &Db, now: i64) -> Result<Vec<(i64, i64)>, AppError> {
    let mut purged = Vec::new();
    for (client, months) in store::privacy::retention_periods(db).await? {
        let cutoff = chrono::DateTime::from_timestamp_millis(now)
            .and_then(|t| t.checked_sub_months(chrono::Months::new(months.clamp(1, 1200) as u32)))
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN);
        let deleted = store::privacy::delete_orders_before(db, client, cutoff).await?;
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
