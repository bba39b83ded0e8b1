//! SQL for clients, brands and stores. Lists take the caller's visible clients as a filter
//! (`None` = all, for admins) so that isolation lives in the query, not in the page.

use super::model::*;
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::Row;

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
    let rows = sqlx::query(&format!(
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
    let rows = rows
        .into_iter()
        .map(|r| ClientRow {
            id: r.get("id"),
            name: r.get("name"),
            brands: r.get("brands"),
            stores: r.get("stores"),
            created_at: r.get("created_at"),
        })
        .collect();
    Ok(Page::new(rows, total, query))
}

/// (id, name) of every visible client, for the client switcher.
pub async fn options(db: &Db, clients: Option<&[i64]>) -> Result<Vec<(i64, String)>, AppError> {
    let scope = visible(clients);
    Ok(sqlx::query_as(&format!("SELECT c.id, c.name FROM clients c WHERE 1 = 1{scope} ORDER BY lower(c.name)")).fetch_all(&db.pool).await?)
}

pub async fn client(db: &Db, id: i64) -> Result<Option<Client>, AppError> {
    let row = sqlx::query("SELECT id, name, contact_email, support_email, created_at, template_approval FROM clients WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| Client {
        id: r.get("id"),
        name: r.get("name"),
        contact_email: r.get("contact_email"),
        support_email: r.get("support_email"),
        template_approval: r.get::<i64, _>("template_approval") != 0,
        created_at: r.get("created_at"),
    }))
}

fn brand_from(r: AnyRow) -> Brand {
    Brand {
        id: r.get("id"),
        client_id: r.get("client_id"),
        name: r.get("name"),
        sender_name: r.get("sender_name"),
        sender_email: r.get("sender_email"),
        sending_domain: r.get("sending_domain"),
        default_locale: r.get("default_locale"),
        postal_address: r.get("postal_address"),
    }
}

const BRAND_COLUMNS: &str = "id, client_id, name, sender_name, sender_email, sending_domain, default_locale, postal_address";

pub async fn brands(db: &Db, client_id: i64) -> Result<Vec<Brand>, AppError> {
    let rows = sqlx::query(&format!("SELECT {BRAND_COLUMNS} FROM brands WHERE client_id = $1 ORDER BY lower(name)"))
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(brand_from).collect())
}

pub async fn brand(db: &Db, id: i64) -> Result<Option<Brand>, AppError> {
    let row = sqlx::query(&format!("SELECT {BRAND_COLUMNS} FROM brands WHERE id = $1")).bind(id).fetch_optional(&db.pool).await?;
    Ok(row.map(brand_from))
}

pub async fn stores(db: &Db, client_id: i64) -> Result<Vec<Store>, AppError> {
    let rows = sqlx::query(
        "SELECT s.id, s.client_id, s.brand_id, b.name AS brand_name, s.name, s.platform, \
           s.marketplace, s.currency, s.time_zone \
         FROM stores s JOIN brands b ON b.id = s.brand_id \
         WHERE s.client_id = $1 ORDER BY lower(b.name), lower(s.name)",
    )
    .bind(client_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Store {
            id: r.get("id"),
            client_id: r.get("client_id"),
            brand_id: r.get("brand_id"),
            brand_name: r.get("brand_name"),
            name: r.get("name"),
            platform: r.get("platform"),
            marketplace: r.get("marketplace"),
            currency: r.get("currency"),
            time_zone: r.get("time_zone"),
        })
        .collect())
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
           default_locale, postal_address, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(form.client_id)
    .bind(&form.name)
    .bind(&form.sender_name)
    .bind(&form.sender_email)
    .bind(&form.sending_domain)
    .bind(&form.default_locale)
    .bind(&form.postal_address)
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| name_taken(e, "name", "A brand of this client"))?;
    Ok(id)
}

pub async fn update_brand(db: &Db, id: i64, form: &BrandForm) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE brands SET name = $1, sender_name = $2, sender_email = $3, sending_domain = $4, \
           default_locale = $5, postal_address = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&form.name)
    .bind(&form.sender_name)
    .bind(&form.sender_email)
    .bind(&form.sending_domain)
    .bind(&form.default_locale)
    .bind(&form.postal_address)
    .bind(now_millis())
    .bind(id)
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
