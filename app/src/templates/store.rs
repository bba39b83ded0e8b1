//! SQL for templates, their versions, editors and events: the only code that touches
//! `templates`, `template_versions`, `template_version_editors` and `template_events`.
//! A few reads join other owners' tables for what the template pages show; each says
//! which. Statuses are bound as [`Status::as_str`], never written out in the SQL.
//!
//! Read elsewhere, never written: `campaigns::store` and `delivery::store` (approved
//! versions to plan and send), `reports::store::sla` (approval turnaround).

use super::model::*;
use crate::accounts::model::Actor;
use crate::common::render::{BrandVars, CustomerVars, OrderVars, ProductVars, RenderContext, StoreVars};
use crate::db::{now_millis, touched_nothing, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

const VERSION_COLUMNS: &str = "v.id, v.template_id, v.locale, v.number, v.status, v.author_email, v.blocking, v.warnings, v.updated_at";

fn status_of(stored: &str) -> Status {
    // Only `Status::as_str` values are written; anything else reads as a draft, which no
    // campaign sends and nobody can approve without a review.
    Status::parse(stored).unwrap_or(Status::Draft)
}

impl FromRow<'_, AnyRow> for VersionRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(VersionRow {
            id: r.try_get("id")?,
            template_id: r.try_get("template_id")?,
            locale: r.try_get("locale")?,
            number: r.try_get("number")?,
            status: status_of(&r.try_get::<String, _>("status")?),
            author_email: r.try_get("author_email")?,
            blocking: r.try_get("blocking")?,
            warnings: r.try_get("warnings")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// A template as the list shows it; its locales' statuses are read separately
/// ([`latest_statuses`]) and filled in after.
impl FromRow<'_, AnyRow> for TemplateRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(TemplateRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            brand: r.try_get("brand")?,
            purpose: r.try_get("purpose")?,
            platform: r.try_get("platform")?,
            locales: Vec::new(),
            updated_at: r.try_get("updated_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Template {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Template {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            brand: r.try_get("brand")?,
            name: r.try_get("name")?,
            purpose: r.try_get("purpose")?,
            channel: r.try_get("channel")?,
            platform: r.try_get("platform")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// A version with its text, and the client it belongs to.
struct OwnedVersion {
    version: Version,
    client_id: i64,
}

impl FromRow<'_, AnyRow> for OwnedVersion {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(OwnedVersion {
            version: Version {
                row: VersionRow::from_row(r)?,
                subject: r.try_get("subject")?,
                html: r.try_get("html")?,
                text: r.try_get("text")?,
                sms: r.try_get("sms_body")?,
                whatsapp: r.try_get("whatsapp_body")?,
                whatsapp_category: r.try_get("whatsapp_category")?,
            },
            client_id: r.try_get("client_id")?,
        })
    }
}

impl FromRow<'_, AnyRow> for VersionEvent {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(VersionEvent {
            at: r.try_get("at")?,
            actor_email: r.try_get("actor_email")?,
            action: r.try_get("action")?,
            from_status: status_of(&r.try_get::<String, _>("from_status")?),
            to_status: status_of(&r.try_get::<String, _>("to_status")?),
            comment: r.try_get("comment")?,
        })
    }
}

impl FromRow<'_, AnyRow> for QueueItem {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(QueueItem {
            client_id: r.try_get("client_id")?,
            client: r.try_get("client")?,
            template: r.try_get("template")?,
            version: VersionRow::from_row(r)?,
            waiting_since: r.try_get("since")?,
        })
    }
}

/// The newest order of a brand with a named buyer, as the preview sample reads it.
struct SampleOrder {
    platform_order_id: String,
    placed_at: i64,
    buyer_name: String,
    currency: String,
    total_minor: Option<i64>,
    items: String,
    store: String,
    marketplace: String,
    brand: String,
    postal_address: String,
}

impl FromRow<'_, AnyRow> for SampleOrder {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(SampleOrder {
            platform_order_id: r.try_get("platform_order_id")?,
            placed_at: r.try_get("placed_at")?,
            buyer_name: r.try_get("buyer_name")?,
            currency: r.try_get("currency")?,
            total_minor: r.try_get("total_minor")?,
            items: r.try_get("items")?,
            store: r.try_get("store")?,
            marketplace: r.try_get("marketplace")?,
            brand: r.try_get("brand")?,
            postal_address: r.try_get("postal_address")?,
        })
    }
}

/// One page of a client's templates. Reads `brands` (owned by `clients::store`) for the
/// brand names it shows and filters by.
pub async fn list(db: &Db, client_id: i64, query: &ListQuery) -> Result<Page<TemplateRow>, AppError> {
    let filter = query.like_pattern();
    let where_sql = "WHERE t.client_id = $1 AND (lower(t.name) LIKE $2 ESCAPE '\\' OR lower(b.name) LIKE $2 ESCAPE '\\')";
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM templates t JOIN brands b ON b.id = t.brand_id {where_sql}"))
        .bind(client_id)
        .bind(&filter)
        .fetch_one(&db.pool)
        .await?;
    let order = match query.sort.as_str() {
        "brand" => "lower(b.name)",
        "purpose" => "t.purpose",
        "updated" => "t.updated_at",
        _ => "lower(t.name)",
    };
    let dir = if query.desc { "DESC" } else { "ASC" };
    let mut rows = sqlx::query_as::<_, TemplateRow>(&format!(
        "SELECT t.id, t.name, t.purpose, t.platform, t.updated_at, b.name AS brand \
         FROM templates t JOIN brands b ON b.id = t.brand_id {where_sql} \
         ORDER BY {order} {dir}, t.id LIMIT $3 OFFSET $4"
    ))
    .bind(client_id)
    .bind(&filter)
    .bind(query.limit())
    .bind(query.offset())
    .fetch_all(&db.pool)
    .await?;
    for row in &mut rows {
        row.locales = latest_statuses(db, row.id).await?;
    }
    Ok(Page::new(rows, total, query))
}

/// Each locale's newest version status.
async fn latest_statuses(db: &Db, template_id: i64) -> Result<Vec<(String, Status)>, AppError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT v.locale, v.status FROM template_versions v \
         WHERE v.template_id = $1 AND v.number = (SELECT MAX(w.number) FROM template_versions w \
           WHERE w.template_id = v.template_id AND w.locale = v.locale) ORDER BY v.locale",
    )
    .bind(template_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(l, s)| (l, status_of(&s))).collect())
}

/// A template with its brand's name (read from `brands`, owned by `clients::store`).
pub async fn template(db: &Db, id: i64) -> Result<Option<Template>, AppError> {
    Ok(sqlx::query_as::<_, Template>(
        "SELECT t.id, t.client_id, t.brand_id, t.name, t.purpose, t.channel, t.platform, t.created_at, b.name AS brand \
         FROM templates t JOIN brands b ON b.id = t.brand_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn insert_template(db: &Db, client_id: i64, form: &TemplateForm, actor: &Actor) -> Result<i64, AppError> {
    let now = now_millis();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO templates (client_id, brand_id, name, purpose, channel, platform, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'email', $5, $6, $7, $7) RETURNING id",
    )
    .bind(client_id)
    .bind(form.brand_id)
    .bind(&form.name)
    .bind(&form.purpose)
    .bind(&form.platform)
    .bind(actor.user_id)
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::invalid("name", "This brand already has a template with this name."),
        other => other,
    })?;
    Ok(id)
}

pub async fn versions(db: &Db, template_id: i64) -> Result<Vec<VersionRow>, AppError> {
    Ok(sqlx::query_as::<_, VersionRow>(&format!(
        "SELECT {VERSION_COLUMNS} FROM template_versions v WHERE v.template_id = $1 ORDER BY v.locale, v.number DESC"
    ))
    .bind(template_id)
    .fetch_all(&db.pool)
    .await?)
}

/// A version with its text, and the client it belongs to.
pub async fn version(db: &Db, id: i64) -> Result<Option<(Version, i64)>, AppError> {
    let row = sqlx::query_as::<_, OwnedVersion>(&format!(
        "SELECT {VERSION_COLUMNS}, v.subject, v.html, v.text, v.sms_body, v.whatsapp_body, v.whatsapp_category, v.client_id FROM template_versions v WHERE v.id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| (r.version, r.client_id)))
}

/// The text of a new version (a new locale, or a new round after approval).
pub struct NewVersion<'a> {
    pub template_id: i64,
    pub client_id: i64,
    pub locale: &'a str,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    pub phone: &'a Phone,
    pub blocking: i64,
    pub warnings: i64,
    /// The version whose text this one starts from: its editors are this one's editors
    /// too (they wrote the text), so none of them may approve the copy.
    pub copied_from: Option<i64>,
}

pub async fn insert_version(db: &Db, v: &NewVersion<'_>, actor: &Actor) -> Result<i64, AppError> {
    let now = now_millis();
    let mut tx = db.pool.begin().await?;
    let (number,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(number), 0) + 1 FROM template_versions WHERE template_id = $1 AND locale = $2")
            .bind(v.template_id)
            .bind(v.locale)
            .fetch_one(&mut *tx)
            .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO template_versions (template_id, client_id, locale, number, subject, html, text, status, \
           author_id, author_email, blocking, warnings, created_at, updated_at, sms_body, whatsapp_body, whatsapp_category) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16) RETURNING id",
    )
    .bind(v.template_id)
    .bind(v.client_id)
    .bind(v.locale)
    .bind(number)
    .bind(v.subject)
    .bind(v.html)
    .bind(v.text)
    .bind(Status::Draft.as_str())
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(v.blocking)
    .bind(v.warnings)
    .bind(now)
    .bind(&v.phone.sms)
    .bind(&v.phone.whatsapp)
    .bind(&v.phone.whatsapp_category)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO template_version_editors (version_id, user_id) VALUES ($1, $2)")
        .bind(id)
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
    if let Some(source) = v.copied_from {
        sqlx::query(
            "INSERT INTO template_version_editors (version_id, user_id) \
             SELECT $1, user_id FROM template_version_editors WHERE version_id = $2 AND user_id <> $3",
        )
        .bind(id)
        .bind(source)
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE templates SET updated_at = $1 WHERE id = $2").bind(now).bind(v.template_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves new text if the version is still in `status` (another tab may have submitted
/// it meanwhile), and remembers the editor.
#[allow(clippy::too_many_arguments)]
pub async fn update_text(
    db: &Db,
    id: i64,
    status: Status,
    subject: &str,
    html: &str,
    text: &str,
    phone: &Phone,
    blocking: i64,
    warnings: i64,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    let result = sqlx::query(
        "UPDATE template_versions SET subject = $1, html = $2, text = $3, blocking = $4, warnings = $5, updated_at = $6, sms_body = $9, \
           whatsapp_body = $10, whatsapp_category = $11 WHERE id = $7 AND status = $8",
    )
    .bind(subject)
    .bind(html)
    .bind(text)
    .bind(blocking)
    .bind(warnings)
    .bind(now_millis())
    .bind(id)
    .bind(status.as_str())
    .bind(&phone.sms)
    .bind(&phone.whatsapp)
    .bind(&phone.whatsapp_category)
    .execute(&mut *tx)
    .await?;
    if touched_nothing(&result) {
        return Err(AppError::Conflict("The version changed meanwhile (someone submitted or approved it). Reload to see it.".into()));
    }
    let known: Option<(i64,)> = sqlx::query_as("SELECT user_id FROM template_version_editors WHERE version_id = $1 AND user_id = $2")
        .bind(id)
        .bind(actor.user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        sqlx::query("INSERT INTO template_version_editors (version_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(actor.user_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn editors(db: &Db, version_id: i64) -> Result<Vec<i64>, AppError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT user_id FROM template_version_editors WHERE version_id = $1").bind(version_id).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}

/// Moves a version from `from` to `to` and records the event, in one transaction; fails
/// with a conflict if another request moved it first. Approving retires the locale's
/// previously approved version.
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    db: &Db,
    version: &VersionRow,
    client_id: i64,
    to: Status,
    action: &str,
    comment: &str,
    actor: &Actor,
) -> Result<(), AppError> {
    let now = now_millis();
    let mut tx = db.pool.begin().await?;
    let result = sqlx::query(
        "UPDATE template_versions SET status = $1, updated_at = $2, \
           submitted_at = CASE WHEN $1 = $5 THEN $2 ELSE submitted_at END, \
           approved_at = CASE WHEN $1 = $6 THEN $2 ELSE approved_at END \
         WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(version.id)
    .bind(version.status.as_str())
    .bind(Status::InReview.as_str())
    .bind(Status::Approved.as_str())
    .execute(&mut *tx)
    .await?;
    if touched_nothing(&result) {
        return Err(AppError::Conflict("The version changed meanwhile. Reload to see its current state.".into()));
    }
    insert_event(&mut tx, version.id, client_id, now, actor, action, version.status, to, comment).await?;
    if to == Status::Approved {
        let older: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM template_versions WHERE template_id = $1 AND locale = $2 AND status = $3 AND id <> $4")
                .bind(version.template_id)
                .bind(&version.locale)
                .bind(Status::Approved.as_str())
                .bind(version.id)
                .fetch_all(&mut *tx)
                .await?;
        for (old,) in older {
            sqlx::query("UPDATE template_versions SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(Status::Retired.as_str())
                .bind(now)
                .bind(old)
                .execute(&mut *tx)
                .await?;
            let comment = format!("replaced by version {}", version.number);
            insert_event(
                &mut tx,
                old,
                client_id,
                now,
                actor,
                super::rules::Step::Retire.as_str(),
                Status::Approved,
                Status::Retired,
                &comment,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    version_id: i64,
    client_id: i64,
    at: i64,
    actor: &Actor,
    action: &str,
    from: Status,
    to: Status,
    comment: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO template_events (version_id, client_id, at, actor_id, actor_email, action, from_status, to_status, comment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(version_id)
    .bind(client_id)
    .bind(at)
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(action)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(comment)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records an event that does not change the status (created, edited, commented).
pub async fn record(
    db: &Db,
    version_id: i64,
    client_id: i64,
    status: Status,
    action: &str,
    comment: &str,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    insert_event(&mut tx, version_id, client_id, now_millis(), actor, action, status, status, comment).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn events(db: &Db, version_id: i64) -> Result<Vec<VersionEvent>, AppError> {
    Ok(sqlx::query_as::<_, VersionEvent>(
        "SELECT at, actor_email, action, from_status, to_status, comment FROM template_events \
         WHERE version_id = $1 ORDER BY at, id",
    )
    .bind(version_id)
    .fetch_all(&db.pool)
    .await?)
}

/// Versions waiting in review or for the client, in the given clients (`None` = all).
/// Reads `clients` (owned by `clients::store`) for the client names.
pub async fn waiting(db: &Db, clients: Option<&[i64]>) -> Result<Vec<QueueItem>, AppError> {
    let scope = match clients {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => format!(" AND v.client_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
    };
    Ok(sqlx::query_as::<_, QueueItem>(&format!(
        "SELECT {VERSION_COLUMNS}, v.client_id, c.name AS client, t.name AS template, COALESCE(v.submitted_at, v.updated_at) AS since \
         FROM template_versions v JOIN templates t ON t.id = v.template_id JOIN clients c ON c.id = v.client_id \
         WHERE v.status IN ($1, $2, $3){scope} ORDER BY since"
    ))
    .bind(Status::InReview.as_str())
    .bind(Status::ClientReview.as_str())
    .bind(Status::ChangesRequested.as_str())
    .fetch_all(&db.pool)
    .await?)
}

/// Enabled users of a role assigned to a client: (id, e-mail, locales). Reads `users` and
/// `user_clients` (owned by `accounts::store`) for the people to notify.
pub async fn assigned_users(db: &Db, client_id: i64, role: &str) -> Result<Vec<(i64, String, Vec<String>)>, AppError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT u.id, u.email, u.locales FROM users u JOIN user_clients uc ON uc.user_id = u.id \
         WHERE uc.client_id = $1 AND u.role = $2 AND u.disabled = 0 ORDER BY u.id",
    )
    .bind(client_id)
    .bind(role)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, email, locales)| (id, email, locales.split_whitespace().map(String::from).collect())).collect())
}

/// The e-mail of an enabled user. Reads `users` (owned by `accounts::store`).
pub async fn user_email(db: &Db, user_id: i64) -> Result<Option<String>, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM users WHERE id = $1 AND disabled = 0").bind(user_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(e,)| e))
}

/// The brand's name and postal address, and whether the client approves templates last.
/// Reads `brands` and `clients` (owned by `clients::store`).
pub async fn brand_facts(db: &Db, brand_id: i64) -> Result<(String, String, bool), AppError> {
    let (name, address, approval): (String, String, i64) = sqlx::query_as(
        "SELECT b.name, b.postal_address, c.template_approval FROM brands b JOIN clients c ON c.id = b.client_id WHERE b.id = $1",
    )
    .bind(brand_id)
    .fetch_one(&db.pool)
    .await?;
    Ok((name, address, approval != 0))
}

/// The brand's newest order with a named buyer, as preview values written the way buyers
/// of `locale` read dates and amounts; `None` without orders. Reads `orders` (owned by
/// `orders::store`), `stores` and `brands` (owned by `clients::store`).
pub async fn sample(db: &Db, brand_id: i64, locale: &str, unsubscribe_url: &str) -> Result<Option<(RenderContext, String)>, AppError> {
    let row = sqlx::query_as::<_, SampleOrder>(
        "SELECT o.platform_order_id, o.placed_at, o.buyer_name, o.currency, o.total_minor, o.items, \
           s.name AS store, s.marketplace, b.name AS brand, b.postal_address \
         FROM orders o JOIN stores s ON s.id = o.store_id JOIN brands b ON b.id = o.brand_id \
         WHERE o.brand_id = $1 AND o.buyer_name <> '' ORDER BY o.placed_at DESC, o.id DESC LIMIT 1",
    )
    .bind(brand_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let name = r.buyer_name;
    let mut words = name.split_whitespace();
    let first = words.next().unwrap_or("").to_string();
    let last = words.collect::<Vec<_>>().join(" ");
    let items: Vec<crate::orders::model::OrderItem> = serde_json::from_str(&r.items).unwrap_or_default();
    let item = items.into_iter().next();
    let placed = r.placed_at;
    let currency = r.currency;
    let total = r.total_minor.map(|m| crate::common::render::local_amount(locale, m, &currency)).unwrap_or_default();
    let date = chrono::DateTime::from_timestamp_millis(placed)
        .map(|t| {
            use chrono::Datelike;
            crate::common::render::local_date(locale, t.year(), t.month(), t.day())
        })
        .unwrap_or_default();
    let order_id = r.platform_order_id;
    let store = r.store;
    let marketplace = r.marketplace;
    let context = RenderContext {
        customer: CustomerVars { first_name: first, last_name: last, name: name.clone() },
        order: OrderVars { id: order_id.clone(), date, total },
        product: ProductVars {
            name: item.as_ref().map(|i| i.product_name.clone()).unwrap_or_default(),
            sku: item.map(|i| i.sku).unwrap_or_default(),
        },
        brand: BrandVars { name: r.brand, postal_address: r.postal_address },
        store: StoreVars { name: store.clone() },
        review_url: review_url(&marketplace, &order_id),
        unsubscribe_url: unsubscribe_url.to_string(),
    };
    Ok(Some((context, format!("order {order_id} from {store}"))))
}

/// The platform's review page for an order (Amazon: the order's review page on that
/// marketplace; elsewhere the shop's own page).
fn review_url(marketplace: &str, order_id: &str) -> String {
    if marketplace.contains("amazon.") {
        format!("https://www.{marketplace}/review/review-your-purchases?orderId={order_id}")
    } else {
        format!("https://{marketplace}/reviews?order={order_id}")
    }
}

/// (template, brand, purpose) of the client's first template: the demo's campaigns start
/// from it.
pub async fn first_of_client(db: &Db, client_id: i64) -> Result<Option<(i64, i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, brand_id, purpose FROM templates WHERE client_id = $1 ORDER BY id LIMIT 1")
        .bind(client_id)
        .fetch_optional(&db.pool)
        .await?)
}

/// (template, client, brand) of the first template with an approved version: what the
/// demo's history and the benchmarks send.
pub async fn first_approved(db: &Db) -> Result<Option<(i64, i64, i64)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.client_id, t.brand_id FROM templates t WHERE EXISTS \
         (SELECT 1 FROM template_versions v WHERE v.template_id = t.id AND v.status = $1) ORDER BY t.id LIMIT 1",
    )
    .bind(Status::Approved.as_str())
    .fetch_optional(&db.pool)
    .await?)
}

/// The template's first approved version.
pub async fn first_approved_version(db: &Db, template_id: i64) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT id FROM template_versions WHERE template_id = $1 AND status = $2 ORDER BY id LIMIT 1")
        .bind(template_id)
        .bind(Status::Approved.as_str())
        .fetch_optional(&db.pool)
        .await?)
}

/// (template, brand, client) of the first template: the benchmarks' campaigns use it.
pub async fn first(db: &Db) -> Result<Option<(i64, i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, brand_id, client_id FROM templates ORDER BY id LIMIT 1").fetch_optional(&db.pool).await?)
}

// ---------------------------------------------------------------------------------------
// WhatsApp templates at Meta (one per version with a WhatsApp part, once approved here)
// ---------------------------------------------------------------------------------------

/// The version's template at Meta, once submitted.
pub async fn whatsapp_template(db: &Db, version_id: i64) -> Result<Option<crate::common::whatsapp::MetaTemplate>, AppError> {
    use crate::common::whatsapp::{MetaStatus, MetaTemplate};
    let row: Option<(String, String, String, String, String, i64)> =
        sqlx::query_as("SELECT name, language, category, status, reason, updated_at FROM whatsapp_templates WHERE version_id = $1")
            .bind(version_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(name, language, category, status, reason, updated_at)| MetaTemplate {
        name,
        language,
        category,
        status: MetaStatus::parse(&status).unwrap_or(MetaStatus::Pending),
        reason,
        updated_at,
    }))
}

/// An approved version whose WhatsApp part Meta has not been sent yet.
#[derive(Clone, Debug)]
pub struct WhatsappDue {
    pub version_id: i64,
    pub template_id: i64,
    pub locale: String,
    pub body: String,
    pub category: String,
}

/// Approved versions with a WhatsApp part and no template at Meta yet, oldest first.
pub async fn whatsapp_due(db: &Db, limit: i64) -> Result<Vec<WhatsappDue>, AppError> {
    let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT v.id, v.template_id, v.locale, v.whatsapp_body, v.whatsapp_category FROM template_versions v \
         WHERE v.status = 'approved' AND v.whatsapp_body <> '' \
           AND NOT EXISTS (SELECT 1 FROM whatsapp_templates w WHERE w.version_id = v.id) ORDER BY v.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(version_id, template_id, locale, body, category)| WhatsappDue { version_id, template_id, locale, body, category })
        .collect())
}

/// Records what Meta answered a submission (or why it refused it).
#[allow(clippy::too_many_arguments)]
pub async fn record_whatsapp_submission(
    db: &Db,
    version_id: i64,
    name: &str,
    language: &str,
    category: &str,
    meta_id: &str,
    status: crate::common::whatsapp::MetaStatus,
    reason: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO whatsapp_templates (version_id, name, language, category, meta_id, status, reason, submitted_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (version_id) DO UPDATE SET meta_id = excluded.meta_id, status = excluded.status, reason = excluded.reason, \
           category = excluded.category, updated_at = excluded.updated_at",
    )
    .bind(version_id)
    .bind(name)
    .bind(language)
    .bind(category)
    .bind(meta_id)
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Templates Meta is still reviewing, last looked at before `checked_before`: (name,
/// language).
pub async fn whatsapp_pending(db: &Db, checked_before: i64, limit: i64) -> Result<Vec<(String, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT name, language FROM whatsapp_templates WHERE status = 'pending' AND updated_at < $1 ORDER BY updated_at LIMIT $2",
    )
    .bind(checked_before)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// Meta's word on a template (its review, a pause, a new category), found by its name and
/// language; answers whether Starling knows the template. A status Meta reports again
/// only refreshes when it was looked at.
pub async fn record_whatsapp_status(
    db: &Db,
    name: &str,
    language: &str,
    status: Option<crate::common::whatsapp::MetaStatus>,
    reason: &str,
    category: Option<&str>,
    now: i64,
) -> Result<bool, AppError> {
    let result = sqlx::query(
        "UPDATE whatsapp_templates SET status = COALESCE($1, status), reason = CASE WHEN $1 IS NULL THEN reason ELSE $2 END, \
           category = COALESCE($3, category), updated_at = $4 WHERE name = $5 AND language = $6",
    )
    .bind(status.map(|s| s.as_str()))
    .bind(reason)
    .bind(category)
    .bind(now)
    .bind(name)
    .bind(language)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() > 0)
}
