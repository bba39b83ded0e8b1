//! SQL for clients, brands and stores: the only code that touches `clients`, `brands`,
//! `stores` and the contract's `channel_prices`. Lists take the caller's visible clients
//! as a filter (`None` = all, for admins) so that isolation lives in the query, not in the page.
//!
//! Read elsewhere for names and sending identity shown beside other rows (campaigns,
//! templates, delivery, reports, the audit log); written only here.

use super::model::*;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::Row;

impl sqlx::FromRow<'_, AnyRow> for ClientRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(ClientRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            brands: r.try_get("brands")?,
            stores: r.try_get("stores")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for Client {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Client {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            contact_email: r.try_get("contact_email")?,
            support_email: r.try_get("support_email")?,
            template_approval: r.try_get::<i64, _>("template_approval")? != 0,
            created_at: r.try_get("created_at")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for Brand {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Brand {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            name: r.try_get("name")?,
            sender_name: r.try_get("sender_name")?,
            sender_email: r.try_get("sender_email")?,
            sending_domain: r.try_get("sending_domain")?,
            default_locale: r.try_get("default_locale")?,
            postal_address: r.try_get("postal_address")?,
            sms_sender: r.try_get("sms_sender")?,
            sms_number: r.try_get("sms_number")?,
            whatsapp_phone_id: r.try_get("whatsapp_phone_id")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for Store {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Store {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            brand_name: r.try_get("brand_name")?,
            name: r.try_get("name")?,
            platform: r.try_get("platform")?,
            marketplace: r.try_get("marketplace")?,
            currency: r.try_get("currency")?,
            time_zone: r.try_get("time_zone")?,
        })
    }
}

/// `AND c.id IN (…)` for a non-admin caller; the ids are integers from the database.
fn visible(clients: Option<&[i64]>) -> String {
    match clients {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_string(),
        Some(ids) => format!(" AND c.id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
    }
}

pub async fn exists(db: &Db, client_id: i64) -> Result<bool, AppError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM clients WHERE id = $1").bind(client_id).fetch_optional(&db.pool).await?;
    Ok(row.is_some())
}

pub async fn list(db: &Db, clients: Option<&[i64]>, query: &ListQuery) -> Result<Page<ClientRow>, AppError> {
    let filter = query.like_pattern();
    let scope = visible(clients);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM clients c WHERE lower(c.name) LIKE $1 ESCAPE '\\'{scope}"))
        .bind(&filter)
        .fetch_one(&db.pool)
        .await?;
    let order = match query.sort.as_str() {
        "brands" => "brands",
        "stores" => "stores",
        "created" => "c.created_at",
        _ => "lower(c.name)",
    };
    let dir = if query.desc { "DESC" } else { "ASC" };
    let rows = sqlx::query_as::<_, ClientRow>(&format!(
        "SELECT c.id, c.name, c.created_at, \
           (SELECT COUNT(*) FROM brands b WHERE b.client_id = c.id) AS brands, \
           (SELECT COUNT(*) FROM stores s WHERE s.client_id = c.id) AS stores \
         FROM clients c WHERE lower(c.name) LIKE $1 ESCAPE '\\'{scope} \
         ORDER BY {order} {dir}, c.id LIMIT $2 OFFSET $3"
    ))
    .bind(&filter)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    Ok(Page::new(rows, total, query))
}

/// (id, name) of every visible client, for the client switcher.
pub async fn options(db: &Db, clients: Option<&[i64]>) -> Result<Vec<(i64, String)>, AppError> {
    let scope = visible(clients);
    Ok(sqlx::query_as(&format!("SELECT c.id, c.name FROM clients c WHERE 1 = 1{scope} ORDER BY lower(c.name)")).fetch_all(&db.pool).await?)
}

pub async fn client(db: &Db, id: i64) -> Result<Option<Client>, AppError> {
    Ok(sqlx::query_as::<_, Client>(
        "SELECT id, name, contact_email, support_email, created_at, template_approval FROM clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

const BRAND_COLUMNS: &str =
    "id, client_id, name, sender_name, sender_email, sending_domain, default_locale, postal_address, sms_sender, sms_number, whatsapp_phone_id";

pub async fn brands(db: &Db, client_id: i64) -> Result<Vec<Brand>, AppError> {
    Ok(sqlx::query_as::<_, Brand>(&format!("SELECT {BRAND_COLUMNS} FROM brands WHERE client_id = $1 ORDER BY lower(name)"))
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?)
}

pub async fn brand(db: &Db, id: i64) -> Result<Option<Brand>, AppError> {
    Ok(sqlx::query_as::<_, Brand>(&format!("SELECT {BRAND_COLUMNS} FROM brands WHERE id = $1")).bind(id).fetch_optional(&db.pool).await?)
}

/// The brands whose texts come from `sender` (a number buyers can reply to).
pub async fn brands_with_sms_sender(db: &Db, sender: &str) -> Result<Vec<(i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, client_id FROM brands WHERE $1 <> '' AND (sms_sender = $1 OR sms_number = $1)")
        .bind(sender.trim())
        .fetch_all(&db.pool)
        .await?)
}

/// The brands whose WhatsApp messages come from the phone number `phone_id`.
pub async fn brands_with_whatsapp_number(db: &Db, phone_id: &str) -> Result<Vec<(i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, client_id FROM brands WHERE $1 <> '' AND whatsapp_phone_id = $1")
        .bind(phone_id.trim())
        .fetch_all(&db.pool)
        .await?)
}

/// Each client's contract price per 1,000 messages of `channel` (`email`, `sms`, …), with
/// its currency.
pub async fn channel_prices(db: &Db, channel: &str) -> Result<std::collections::HashMap<i64, (i64, String)>, AppError> {
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT client_id, per_thousand_micros, currency FROM channel_prices WHERE channel = $1")
            .bind(channel)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(client, micros, currency)| (client, (micros, currency))).collect())
}

/// Sets a client's contract price per 1,000 messages of `channel`.
pub async fn set_channel_price(db: &Db, client_id: i64, channel: &str, per_thousand_micros: i64, currency: &str) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO channel_prices (client_id, channel, per_thousand_micros, currency, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (client_id, channel) DO UPDATE SET per_thousand_micros = excluded.per_thousand_micros, \
           currency = excluded.currency, updated_at = excluded.updated_at",
    )
    .bind(client_id)
    .bind(channel)
    .bind(per_thousand_micros)
    .bind(currency)
    .bind(now_millis())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Takes the brand's planning turn inside `tx`: a write on the brand's row (a row lock on
/// PostgreSQL, the database's write lock on SQLite), held until `tx` ends; it serialises
/// planning per brand.
pub async fn take_brand_turn(tx: &mut sqlx::Transaction<'_, sqlx::Any>, brand_id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE brands SET name = name WHERE id = $1").bind(brand_id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn stores(db: &Db, client_id: i64) -> Result<Vec<Store>, AppError> {
    Ok(sqlx::query_as::<_, Store>(
        "SELECT s.id, s.client_id, s.brand_id, b.name AS brand_name, s.name, s.platform, \
           s.marketplace, s.currency, s.time_zone \
         FROM stores s JOIN brands b ON b.id = s.brand_id \
         WHERE s.client_id = $1 ORDER BY lower(b.name), lower(s.name)",
    )
    .bind(client_id)
    .fetch_all(&db.pool)
    .await?)
}

/// The client a store belongs to (for authorizing edits by store id).
pub async fn store_client(db: &Db, store_id: i64) -> Result<Option<i64>, AppError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT client_id FROM stores WHERE id = $1").bind(store_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(c,)| c))
}

fn name_taken(e: sqlx::Error, field: &str, what: &str) -> AppError {
    match AppError::from(e) {
        AppError::Conflict(_) => AppError::invalid(field, format!("{what} with this name already exists.")),
        other => other,
    }
}

pub async fn insert_client(db: &Db, form: &ClientForm) -> Result<i64, AppError> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO clients (name, contact_email, support_email, created_at, updated_at, template_approval) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
    )
    .bind(&form.name)
    .bind(&form.contact_email)
    .bind(&form.support_email)
    .bind(now)
    .bind(i64::from(form.template_approval))
    .fetch_one(&db.pool)
    .await
    .map_err(|e| name_taken(e, "name", "A client"))?;
    Ok(id)
}

pub async fn update_client(db: &Db, id: i64, form: &ClientForm) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE clients SET name = $1, contact_email = $2, support_email = $3, updated_at = $4, template_approval = $6 WHERE id = $5",
    )
    .bind(&form.name)
    .bind(&form.contact_email)
    .bind(&form.support_email)
    .bind(now_millis())
    .bind(id)
    .bind(i64::from(form.template_approval))
    .execute(&db.pool)
    .await
    .map_err(|e| name_taken(e, "name", "A client"))?;
    Ok(())
}

pub async fn insert_brand(db: &Db, form: &BrandForm) -> Result<i64, AppError> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO brands (client_id, name, sender_name, sender_email, sending_domain, \
           default_locale, postal_address, created_at, updated_at, sms_sender, sms_number, whatsapp_phone_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11) RETURNING id",
    )
    .bind(form.client_id)
    .bind(&form.name)
    .bind(&form.sender_name)
    .bind(&form.sender_email)
    .bind(&form.sending_domain)
    .bind(&form.default_locale)
    .bind(&form.postal_address)
    .bind(now)
    .bind(&form.sms_sender)
    .bind(&form.sms_number)
    .bind(&form.whatsapp_phone_id)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| name_taken(e, "name", "A brand of this client"))?;
    Ok(id)
}

pub async fn update_brand(db: &Db, id: i64, form: &BrandForm) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE brands SET name = $1, sender_name = $2, sender_email = $3, sending_domain = $4, \
           default_locale = $5, postal_address = $6, updated_at = $7, sms_sender = $9, sms_number = $10, \
           whatsapp_phone_id = $11 WHERE id = $8",
    )
    .bind(&form.name)
    .bind(&form.sender_name)
    .bind(&form.sender_email)
    .bind(&form.sending_domain)
    .bind(&form.default_locale)
    .bind(&form.postal_address)
    .bind(now_millis())
    .bind(id)
    .bind(&form.sms_sender)
    .bind(&form.sms_number)
    .bind(&form.whatsapp_phone_id)
    .execute(&db.pool)
    .await
    .map_err(|e| name_taken(e, "name", "A brand of this client"))?;
    Ok(())
}

pub async fn insert_store(db: &Db, client_id: i64, form: &StoreForm) -> Result<i64, AppError> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO stores (client_id, brand_id, name, platform, marketplace, currency, time_zone, \
           created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(client_id)
    .bind(form.brand_id)
    .bind(&form.name)
    .bind(&form.platform)
    .bind(&form.marketplace)
    .bind(&form.currency)
    .bind(&form.time_zone)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(id)
}

pub async fn update_store(db: &Db, id: i64, form: &StoreForm) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE stores SET brand_id = $1, name = $2, platform = $3, marketplace = $4, currency = $5, \
           time_zone = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(form.brand_id)
    .bind(&form.name)
    .bind(&form.platform)
    .bind(&form.marketplace)
    .bind(&form.currency)
    .bind(&form.time_zone)
    .bind(now_millis())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The id of every client, in order.
pub async fn ids(db: &Db) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT id FROM clients ORDER BY id").fetch_all(&db.pool).await?)
}

/// (id, name, contact e-mail) of the clients created before `created_before` that have a
/// contact address: who receives a monthly report.
pub async fn report_recipients(db: &Db, created_before: i64) -> Result<Vec<(i64, String, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, name, contact_email FROM clients WHERE contact_email <> '' AND created_at < $1 ORDER BY id")
        .bind(created_before)
        .fetch_all(&db.pool)
        .await?)
}

/// How many months a client keeps its orders (0 = keep everything).
pub async fn retention_months(db: &Db, client_id: i64) -> Result<i64, AppError> {
    let (months,): (i64,) =
        sqlx::query_as("SELECT retention_months FROM clients WHERE id = $1").bind(client_id).fetch_one(&db.pool).await?;
    Ok(months)
}

/// Sets how many months a client keeps its orders (0 = keep everything).
pub async fn set_retention(db: &Db, client_id: i64, months: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE clients SET retention_months = $1 WHERE id = $2").bind(months).bind(client_id).execute(&db.pool).await?;
    Ok(())
}

/// Counts of what the caller can see, for the dashboard.
pub async fn counts(db: &Db, clients: Option<&[i64]>) -> Result<(i64, i64, i64), AppError> {
    let scope = visible(clients);
    let (c,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM clients c WHERE 1 = 1{scope}")).fetch_one(&db.pool).await?;
    let (b,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM brands b JOIN clients c ON c.id = b.client_id WHERE 1 = 1{scope}"))
        .fetch_one(&db.pool)
        .await?;
    let (s,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM stores s JOIN clients c ON c.id = s.client_id WHERE 1 = 1{scope}"))
        .fetch_one(&db.pool)
        .await?;
    Ok((c, b, s))
}

/// (id, brand, platform) of every store, by id: the demo and the benchmarks pick theirs.
pub async fn store_platforms(db: &Db) -> Result<Vec<(i64, i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, brand_id, platform FROM stores ORDER BY id").fetch_all(&db.pool).await?)
}
