//! SQL for templates, their versions, editors and events.

use super::model::*;
use crate::accounts::model::Actor;
use crate::common::render::{BrandVars, CustomerVars, OrderVars, ProductVars, RenderContext, StoreVars};
use crate::db::{now_millis, touched_nothing, Db};
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use sqlx::any::AnyRow;
use sqlx::Row;

const VERSION_COLUMNS: &str = "v.id, v.template_id, v.locale, v.number, v.status, v.author_email, v.blocking, v.warnings, v.updated_at";

fn version_row(r: &AnyRow) -> VersionRow {
    VersionRow {
        id: r.get("id"),
        template_id: r.get("template_id"),
        locale: r.get("locale"),
        number: r.get("number"),
        status: Status::parse(&r.get::<String, _>("status")),
        author_email: r.get("author_email"),
        blocking: r.get("blocking"),
        warnings: r.get("warnings"),
        updated_at: r.get("updated_at"),
    }
}

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
    let rows = sqlx::query(&format!(
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
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.get("id");
        out.push(TemplateRow {
            id,
            name: r.get("name"),
            brand: r.get("brand"),
            purpose: r.get("purpose"),
            platform: r.get("platform"),
            locales: latest_statuses(db, id).await?,
            updated_at: r.get("updated_at"),
        });
    }
    Ok(Page::new(out, total, query))
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
    Ok(rows.into_iter().map(|(l, s)| (l, Status::parse(&s))).collect())
}

pub async fn template(db: &Db, id: i64) -> Result<Option<Template>, AppError> {
    let row = sqlx::query(
        "SELECT t.id, t.client_id, t.brand_id, t.name, t.purpose, t.channel, t.platform, t.created_at, b.name AS brand \
         FROM templates t JOIN brands b ON b.id = t.brand_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Template {
        id: r.get("id"),
        client_id: r.get("client_id"),
        brand_id: r.get("brand_id"),
        brand: r.get("brand"),
        name: r.get("name"),
        purpose: r.get("purpose"),
        channel: r.get("channel"),
        platform: r.get("platform"),
        created_at: r.get("created_at"),
    }))
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
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM template_versions v WHERE v.template_id = $1 ORDER BY v.locale, v.number DESC"
    ))
    .bind(template_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(version_row).collect())
}

/// A version with its text, and the client it belongs to.
pub async fn version(db: &Db, id: i64) -> Result<Option<(Version, i64)>, AppError> {
    let row =
        sqlx::query(&format!("SELECT {VERSION_COLUMNS}, v.subject, v.html, v.text, v.client_id FROM template_versions v WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|r| {
        (Version { row: version_row(&r), subject: r.get("subject"), html: r.get("html"), text: r.get("text") }, r.get("client_id"))
    }))
}

/// The text of a new version (a new locale, or a new round after approval).
pub struct NewVersion<'a> {
    pub template_id: i64,
    pub client_id: i64,
    pub locale: &'a str,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
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
           author_id, author_email, blocking, warnings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, $10, $11, $12, $12) RETURNING id",
    )
    .bind(v.template_id)
    .bind(v.client_id)
    .bind(v.locale)
    .bind(number)
    .bind(v.subject)
    .bind(v.html)
    .bind(v.text)
    .bind(actor.user_id)
    .bind(&actor.email)
    .bind(v.blocking)
    .bind(v.warnings)
    .bind(now)
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
    blocking: i64,
    warnings: i64,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut tx = db.pool.begin().await?;
    let result = sqlx::query(
        "UPDATE template_versions SET subject = $1, html = $2, text = $3, blocking = $4, warnings = $5, updated_at = $6 \
         WHERE id = $7 AND status = $8",
    )
    .bind(subject)
    .bind(html)
    .bind(text)
    .bind(blocking)
    .bind(warnings)
    .bind(now_millis())
    .bind(id)
    .bind(status.as_str())
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
           submitted_at = CASE WHEN $1 = 'in_review' THEN $2 ELSE submitted_at END, \
           approved_at = CASE WHEN $1 = 'approved' THEN $2 ELSE approved_at END \
         WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(version.id)
    .bind(version.status.as_str())
    .execute(&mut *tx)
    .await?;
    if touched_nothing(&result) {
        return Err(AppError::Conflict("The version changed meanwhile. Reload to see its current state.".into()));
    }
    insert_event(&mut tx, version.id, client_id, now, actor, action, version.status, to, comment).await?;
    if to == Status::Approved {
        let older: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM template_versions WHERE template_id = $1 AND locale = $2 AND status = 'approved' AND id <> $3")
                .bind(version.template_id)
                .bind(&version.locale)
                .bind(version.id)
                .fetch_all(&mut *tx)
                .await?;
        for (old,) in older {
            sqlx::query("UPDATE template_versions SET status = 'retired', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(old)
                .execute(&mut *tx)
                .await?;
            let comment = format!("replaced by version {}", version.number);
            insert_event(&mut tx, old, client_id, now, actor, "retired", Status::Approved, Status::Retired, &comment).await?;
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
    let rows = sqlx::query(
        "SELECT at, actor_email, action, from_status, to_status, comment FROM template_events \
         WHERE version_id = $1 ORDER BY at, id",
    )
    .bind(version_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| VersionEvent {
            at: r.get("at"),
            actor_email: r.get("actor_email"),
            action: r.get("action"),
            from_status: Status::parse(&r.get::<String, _>("from_status")),
            to_status: Status::parse(&r.get::<String, _>("to_status")),
            comment: r.get("comment"),
        })
        .collect())
}

/// Versions waiting in review or for the client, in the given clients (`None` = all).
pub async fn waiting(db: &Db, clients: Option<&[i64]>) -> Result<Vec<QueueItem>, AppError> {
    let scope = match clients {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => format!(" AND v.client_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
    };
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS}, v.client_id, c.name AS client, t.name AS template, COALESCE(v.submitted_at, v.updated_at) AS since \
         FROM template_versions v JOIN templates t ON t.id = v.template_id JOIN clients c ON c.id = v.client_id \
         WHERE v.status IN ('in_review', 'client_review', 'changes_requested'){scope} ORDER BY since"
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| QueueItem {
            client_id: r.get("client_id"),
            client: r.get("client"),
            template: r.get("template"),
            version: version_row(r),
            waiting_since: r.get("since"),
        })
        .collect())
}

/// Enabled users of a role assigned to a client: (id, e-mail, locales).
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

pub async fn user_email(db: &Db, user_id: i64) -> Result<Option<String>, AppError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM users WHERE id = $1 AND disabled = 0").bind(user_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(e,)| e))
}

/// The brand's postal address and whether the client approves templates last.
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
/// of `locale` read dates and amounts; `None` without orders.
pub async fn sample(db: &Db, brand_id: i64, locale: &str, unsubscribe_url: &str) -> Result<Option<(RenderContext, String)>, AppError> {
    let row = sqlx::query(
        "SELECT o.platform_order_id, o.placed_at, o.buyer_name, o.currency, o.total_minor, o.items, \
           s.name AS store, s.marketplace, b.name AS brand, b.postal_address \
         FROM orders o JOIN stores s ON s.id = o.store_id JOIN brands b ON b.id = o.brand_id \
         WHERE o.brand_id = $1 AND o.buyer_name <> '' ORDER BY o.placed_at DESC, o.id DESC LIMIT 1",
    )
    .bind(brand_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let name: String = r.get("buyer_name");
    let mut words = name.split_whitespace();
    let first = words.next().unwrap_or("").to_string();
    let last = words.collect::<Vec<_>>().join(" ");
    let items: Vec<crate::orders::model::OrderItem> = serde_json::from_str(&r.get::<String, _>("items")).unwrap_or_default();
    let item = items.into_iter().next();
    let placed: i64 = r.get("placed_at");
    let currency: String = r.get("currency");
    let total =
        r.get::<Option<i64>, _>("total_minor").map(|m| crate::common::render::local_amount(locale, m, &currency)).unwrap_or_default();
    let date = chrono::DateTime::from_timestamp_millis(placed)
        .map(|t| {
            use chrono::Datelike;
            crate::common::render::local_date(locale, t.year(), t.month(), t.day())
        })
        .unwrap_or_default();
    let order_id: String = r.get("platform_order_id");
    let store: String = r.get("store");
    let marketplace: String = r.get("marketplace");
    let context = RenderContext {
        customer: CustomerVars { first_name: first, last_name: last, name: name.clone() },
        order: OrderVars { id: order_id.clone(), date, total },
        product: ProductVars {
            name: item.as_ref().map(|i| i.product_name.clone()).unwrap_or_default(),
            sku: item.map(|i| i.sku).unwrap_or_default(),
        },
        brand: BrandVars { name: r.get("brand"), postal_address: r.get("postal_address") },
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
