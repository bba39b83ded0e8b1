//! SQL for orders and customers: the batched, idempotent upsert every way in (file
//! imports, the ingest API) goes through, and the lists and details pages read.
//!
//! One batch is one transaction of a handful of statements whatever its size: look up the
//! batch's customers and orders with `IN (…)`, insert the missing ones with multi-row
//! `INSERT … ON CONFLICT DO NOTHING RETURNING`, and update only orders whose status moves
//! forward. Re-running a batch therefore changes nothing, and two importers racing on one
//! store cannot create an order twice.

use super::model::{infer_locale, Consent, Customer, OrderFilter, OrderRow, OrderStatus, ParsedOrder};
use super::privacy::{fingerprint, Salt};
use crate::db::{now_millis, Backend, Db};
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// Where orders land: the store and what the batch needs to know about it.
#[derive(Clone, Debug)]
pub struct Target {
    pub client_id: i64,
    pub brand_id: i64,
    pub store_id: i64,
    pub platform: String,
    pub marketplace: String,
    pub currency: String,
    pub default_locale: String,
}

pub async fn target(db: &Db, store_id: i64) -> Result<Option<Target>, AppError> {
    let row = sqlx::query(
        "SELECT s.id, s.client_id, s.brand_id, s.platform, s.marketplace, s.currency, b.default_locale \
         FROM stores s JOIN brands b ON b.id = s.brand_id WHERE s.id = $1",
    )
    .bind(store_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Target {
        client_id: r.get("client_id"),
        brand_id: r.get("brand_id"),
        store_id: r.get("id"),
        platform: r.get("platform"),
        marketplace: r.get("marketplace"),
        currency: r.get("currency"),
        default_locale: r.get("default_locale"),
    }))
}

/// What happened to one order of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    /// Its status moved forward.
    Updated,
    /// Already there with this status or a later one.
    Unchanged,
}

/// Counts of a whole import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
}

impl Tally {
    pub fn add(&mut self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            match outcome {
                Outcome::Created => self.created += 1,
                Outcome::Updated => self.updated += 1,
                Outcome::Unchanged => self.unchanged += 1,
            }
        }
    }
}

/// A buyer's identity within a brand: the normalised e-mail, else the E.164 phone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum BuyerKey {
    Email(String),
    Phone(String),
}

/// An order ready for the database, with its buyer's normalised identity.
struct Prepared<'a> {
    order: &'a ParsedOrder,
    status: OrderStatus,
    placed_at: i64,
    email: String,
    phone: String,
    key: Option<BuyerKey>,
}

/// Rows per multi-row statement (SQLite allows 32,766 parameters per statement).
const ROWS_PER_STATEMENT: usize = 200;

/// `LEFT JOIN customers c ON …` finding each row's customer (column `v.buyer`) by the
/// kind of key the rows share: e-mail, phone, or none. The partial indexes' conditions
/// are repeated so the planner uses them.
fn customer_join(key: Option<&BuyerKey>) -> &'static str {
    match key {
        Some(BuyerKey::Email(_)) => "LEFT JOIN customers c ON c.brand_id = v.brand_id AND c.email = v.buyer AND c.email <> ''",
        Some(BuyerKey::Phone(_)) => {
            "LEFT JOIN customers c ON c.brand_id = v.brand_id AND c.email = '' AND c.phone = v.buyer AND c.phone <> ''"
        }
        None => "LEFT JOIN customers c ON 1 = 0",
    }
}

/// `WITH v(columns) AS (VALUES (…), (…))` for `rows` rows: a batch as a table both
/// databases can join (SQLite takes no column list on a VALUES alias, but does on a CTE).
fn values_table(b: Backend, columns: &[&str], rows: usize) -> String {
    format!("WITH v({}) AS (VALUES {})", columns.join(", "), b.rows(rows, columns.len()))
}

fn key_value(key: Option<&BuyerKey>) -> &str {
    match key {
        Some(BuyerKey::Email(v)) | Some(BuyerKey::Phone(v)) => v,
        None => "",
    }
}

/// Which kind of buyer key a row has, so rows of one statement share one SQL text.
fn key_kind(key: Option<&BuyerKey>) -> u8 {
    match key {
        Some(BuyerKey::Email(_)) => 0,
        Some(BuyerKey::Phone(_)) => 1,
        None => 2,
    }
}

/// Stores a batch of orders (all valid: the caller has checked them) for `target`, and
/// says for each whether it was created, moved forward, or already known.
///
/// Everything is written with statements that return no rows (rows coming back from the
/// SQLite worker thread one by one cost more than the inserts): customers are inserted with
/// `ON CONFLICT DO NOTHING`, and orders and consents find their customer by subquery.
pub async fn upsert(db: &Db, target: &Target, batch: &[ParsedOrder], source: &str, salt: &Salt) -> Result<Vec<Outcome>, AppError> {
    let mut conn = db.pool.acquire().await?;
    upsert_on(&mut conn, db.backend, target, batch, source, salt).await
}

/// `upsert` on a connection the caller holds: an import keeps one for all its batches, so
/// only one SQLite page cache fills (a pool hands out its idle connections in turn, and
/// each would grow its own cache: the import's peak memory) and it stays warm.
pub async fn upsert_on(
    conn: &mut sqlx::AnyConnection,
    b: Backend,
    target: &Target,
    batch: &[ParsedOrder],
    source: &str,
    salt: &Salt,
) -> Result<Vec<Outcome>, AppError> {
    use sqlx::Connection;
    let now = now_millis();
    let mut prepared: Vec<Prepared> = batch
        .iter()
        .map(|order| {
            let email = super::customers::normalise_email(&order.buyer_email);
            let phone = super::customers::normalise_phone(&order.buyer_phone, &order.country);
            let key = if !email.is_empty() {
                Some(BuyerKey::Email(email.clone()))
            } else if !phone.is_empty() {
                Some(BuyerKey::Phone(phone.clone()))
            } else {
                None
            };
            Prepared {
                order,
                status: order.status.unwrap_or(OrderStatus::Pending),
                placed_at: order.placed_at.unwrap_or(now),
                email,
                phone,
                key,
            }
        })
        .collect();

    let mut tx = conn.begin().await?;

    // Buyers who asked to be erased stay erased: their orders are kept without them.
    let erased = erased_among(&mut tx, b, target.brand_id, &prepared, salt).await?;
    if !erased.is_empty() {
        for p in prepared.iter_mut() {
            if [&p.email, &p.phone].iter().any(|v| !v.is_empty() && erased.contains(&fingerprint(salt, v))) {
                p.email.clear();
                p.phone.clear();
                p.key = None;
            }
        }
    }

    insert_customers(&mut tx, b, target, &prepared, now).await?;
    record_consents(&mut tx, b, target, &prepared, source, now).await?;

    // Orders already stored for this store.
    let mut known: HashMap<String, (i64, OrderStatus)> = HashMap::new();
    let ids: Vec<&str> = prepared.iter().map(|p| p.order.platform_order_id.as_str()).collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, platform_order_id, status FROM orders WHERE store_id = {} AND platform_order_id IN ({})",
            b.param(1),
            b.params(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(target.store_id);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *tx).await? {
            let status: String = row.get("status");
            known.insert(row.get("platform_order_id"), (row.get("id"), OrderStatus::parse(&status).unwrap_or(OrderStatus::Pending)));
        }
    }

    // New orders (an id repeated within the batch keeps its most advanced status).
    let mut outcomes = vec![Outcome::Unchanged; prepared.len()];
    let mut fresh: Vec<usize> = Vec::new();
    let mut fresh_index: HashMap<&str, usize> = HashMap::new();
    let mut moves: Vec<(usize, i64, OrderStatus)> = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        let id = p.order.platform_order_id.as_str();
        if let Some((row_id, current)) = known.get(id) {
            if current.moves_forward_to(p.status) {
                moves.push((i, *row_id, *current));
                outcomes[i] = Outcome::Updated;
            }
        } else if let Some(&j) = fresh_index.get(id) {
            if prepared[fresh[j]].status.moves_forward_to(p.status) {
                fresh[j] = i;
            }
        } else {
            fresh_index.insert(id, fresh.len());
            fresh.push(i);
            outcomes[i] = Outcome::Created;
        }
    }
    fresh.sort_by_key(|&i| key_kind(prepared[i].key.as_ref()));
    let mut raced: Vec<usize> = Vec::new();
    for group in fresh.chunk_by(|&x, &y| key_kind(prepared[x].key.as_ref()) == key_kind(prepared[y].key.as_ref())) {
        for chunk in group.chunks(ROWS_PER_STATEMENT) {
            const COLUMNS: [&str; 19] = [
                "client_id",
                "brand_id",
                "store_id",
                "platform_order_id",
                "buyer",
                "placed_at",
                "status",
                "status_at",
                "buyer_name",
                "buyer_email",
                "buyer_phone",
                "country",
                "marketplace",
                "currency",
                "total_minor",
                "items",
                "source",
                "created_at",
                "updated_at",
            ];
            let key = prepared[chunk[0]].key.as_ref();
            // `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
            let sql = format!(
                "{} INSERT INTO orders (client_id, brand_id, store_id, platform_order_id, customer_id, placed_at, status, \
                   status_at, buyer_name, buyer_email, buyer_phone, country, marketplace, currency, total_minor, items, \
                   source, created_at, updated_at) \
                 SELECT v.client_id, v.brand_id, v.store_id, v.platform_order_id, c.id, v.placed_at, v.status, v.status_at, \
                   v.buyer_name, v.buyer_email, v.buyer_phone, v.country, v.marketplace, v.currency, v.total_minor, v.items, \
                   v.source, v.created_at, v.updated_at FROM v {} WHERE true ON CONFLICT DO NOTHING",
                values_table(b, &COLUMNS, chunk.len()),
                customer_join(key)
            );
            // Only full-size statements are kept prepared: the last, shorter chunk of each
            // batch would otherwise fill the statement cache with large one-off programs.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for &i in chunk {
                let p = &prepared[i];
                let o = p.order;
                let erased_name = p.key.is_none() && (!o.buyer_email.is_empty() || !o.buyer_phone.is_empty());
                query = query
                    .bind(target.client_id)
                    .bind(target.brand_id)
                    .bind(target.store_id)
                    .bind(o.platform_order_id.as_str())
                    .bind(key_value(p.key.as_ref()))
                    .bind(p.placed_at)
                    .bind(p.status.as_str())
                    .bind(o.status_at.unwrap_or(if p.status == OrderStatus::Pending { p.placed_at } else { now }))
                    .bind(if erased_name { "" } else { o.buyer_name.as_str() })
                    .bind(p.email.as_str())
                    .bind(p.phone.as_str())
                    .bind(o.country.as_str())
                    .bind(if o.marketplace.is_empty() { target.marketplace.as_str() } else { o.marketplace.as_str() })
                    .bind(if o.currency.is_empty() { target.currency.as_str() } else { o.currency.as_str() })
                    .bind(o.total_minor)
                    .bind(serde_json::to_string(&o.items).unwrap_or_else(|_| "[]".into()))
                    .bind(source)
                    .bind(now)
                    .bind(now);
            }
            let inserted = query.execute(&mut *tx).await?.rows_affected() as usize;
            if inserted < chunk.len() {
                // Another importer stored some of these between our look-up and our insert.
                raced.extend(not_ours(&mut tx, b, target.store_id, chunk, &prepared, source, now).await?);
            }
        }
    }
    // Treat raced orders as known ones: they may still move forward.
    for i in raced {
        let p = &prepared[i];
        let row = sqlx::query("SELECT id, status FROM orders WHERE store_id = $1 AND platform_order_id = $2")
            .bind(target.store_id)
            .bind(p.order.platform_order_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let current = OrderStatus::parse(&row.get::<String, _>("status")).unwrap_or(OrderStatus::Pending);
        outcomes[i] = Outcome::Unchanged;
        if current.moves_forward_to(p.status) {
            moves.push((i, row.get("id"), current));
            outcomes[i] = Outcome::Updated;
        }
    }
    for (i, row_id, from) in moves {
        let p = &prepared[i];
        let reached_at = p.order.status_at.unwrap_or(now);
        let moved = sqlx::query("UPDATE orders SET status = $1, status_at = $2, updated_at = $3 WHERE id = $4 AND status = $5")
            .bind(p.status.as_str())
            .bind(reached_at)
            .bind(now)
            .bind(row_id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() == 0 {
            outcomes[i] = Outcome::Unchanged;
            continue;
        }
        sqlx::query(
            "INSERT INTO order_status_history (order_id, from_status, to_status, reached_at, recorded_at, source) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row_id)
        .bind(from.as_str())
        .bind(p.status.as_str())
        .bind(reached_at)
        .bind(now)
        .bind(source)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Of `chunk` (just inserted with `ON CONFLICT DO NOTHING`), the rows that were not
/// written by this batch (another writer's source or time).
async fn not_ours(
    tx: &mut Tx<'_>,
    b: Backend,
    store_id: i64,
    chunk: &[usize],
    prepared: &[Prepared<'_>],
    source: &str,
    now: i64,
) -> Result<Vec<usize>, AppError> {
    let sql = format!(
        "SELECT platform_order_id FROM orders WHERE store_id = {} AND source = {} AND created_at = {} AND platform_order_id IN ({})",
        b.param(1),
        b.param(2),
        b.param(3),
        b.params(4, chunk.len())
    );
    let mut query = sqlx::query(&sql).bind(store_id).bind(source).bind(now);
    for &i in chunk {
        query = query.bind(prepared[i].order.platform_order_id.as_str());
    }
    let ours: HashSet<String> = query.fetch_all(&mut **tx).await?.into_iter().map(|r| r.get(0)).collect();
    Ok(chunk.iter().copied().filter(|&i| !ours.contains(&prepared[i].order.platform_order_id)).collect())
}

/// Fingerprints of the batch's buyers that are on an erased list of this brand or the agency.
async fn erased_among(
    tx: &mut Tx<'_>,
    b: Backend,
    brand_id: i64,
    prepared: &[Prepared<'_>],
    salt: &Salt,
) -> Result<HashSet<String>, AppError> {
    // Most brands have no erased buyer: then no fingerprint needs computing.
    let any: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT id FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = {}) LIMIT 1",
        b.param(1)
    ))
    .bind(brand_id)
    .fetch_optional(&mut **tx)
    .await?;
    if any.is_none() {
        return Ok(HashSet::new());
    }
    let prints: Vec<String> = prepared
        .iter()
        .flat_map(|p| [&p.email, &p.phone])
        .filter(|v| !v.is_empty())
        .map(|v| fingerprint(salt, v))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut erased = HashSet::new();
    for chunk in prints.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT value_hash FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = {}) \
             AND value_hash IN ({})",
            b.param(1),
            b.params(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(brand_id);
        for print in chunk {
            query = query.bind(print.as_str());
        }
        for row in query.fetch_all(&mut **tx).await? {
            erased.insert(row.get::<String, _>(0));
        }
    }
    Ok(erased)
}

/// The batch's buyers, one per key, first occurrence first.
fn buyers<'a, 'b>(prepared: &'b [Prepared<'a>]) -> Vec<&'b Prepared<'a>> {
    let mut seen = HashSet::new();
    prepared.iter().filter(|p| p.key.as_ref().is_some_and(|k| seen.insert(k))).collect()
}

/// Creates the brand's customers the batch brings; known ones stay as they are.
async fn insert_customers(tx: &mut Tx<'_>, b: Backend, target: &Target, prepared: &[Prepared<'_>], now: i64) -> Result<(), AppError> {
    let buyers = buyers(prepared);
    for chunk in buyers.chunks(ROWS_PER_STATEMENT) {
        const COLUMNS: usize = 9;
        let sql = format!(
            "INSERT INTO customers (client_id, brand_id, email, phone, name, country, locale, created_at, updated_at) \
             VALUES {} ON CONFLICT DO NOTHING",
            b.rows(chunk.len(), COLUMNS)
        );
        // Only full-size statements are kept prepared: the last, shorter chunk of each
        // batch would otherwise fill the statement cache with large one-off programs.
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for p in chunk {
            let o = p.order;
            let locale = infer_locale(&o.marketplace, &o.country, &target.default_locale);
            query = query
                .bind(target.client_id)
                .bind(target.brand_id)
                .bind(p.email.as_str())
                .bind(p.phone.as_str())
                .bind(o.buyer_name.as_str())
                .bind(o.country.as_str())
                .bind(locale)
                .bind(now)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A checkout opt-in becomes a consent record (source and time) once per customer.
async fn record_consents(
    tx: &mut Tx<'_>,
    b: Backend,
    target: &Target,
    prepared: &[Prepared<'_>],
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    let mut consenting: Vec<&Prepared> = buyers(prepared).into_iter().filter(|p| p.order.accepts_marketing == Some(true)).collect();
    consenting.sort_by_key(|p| key_kind(p.key.as_ref()));
    let label = consent_source(source);
    for group in consenting.chunk_by(|x, y| key_kind(x.key.as_ref()) == key_kind(y.key.as_ref())) {
        for chunk in group.chunks(ROWS_PER_STATEMENT) {
            const COLUMNS: [&str; 5] = ["brand_id", "buyer", "source", "given_at", "recorded_at"];
            let key = chunk[0].key.as_ref();
            let sql = format!(
                "{} INSERT INTO consents (customer_id, channel, source, given_at, recorded_at) \
                 SELECT c.id, 'email', v.source, v.given_at, v.recorded_at FROM v {} WHERE c.id IS NOT NULL ON CONFLICT DO NOTHING",
                values_table(b, &COLUMNS, chunk.len()),
                customer_join(key)
            );
            // Only full-size statements are kept prepared: the last, shorter chunk of each
            // batch would otherwise fill the statement cache with large one-off programs.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for p in chunk {
                query = query.bind(target.brand_id).bind(key_value(p.key.as_ref())).bind(label.as_str()).bind(p.placed_at).bind(now);
            }
            query.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

fn consent_source(source: &str) -> String {
    if source == "api" {
        "ingest API: consent".into()
    } else {
        format!("checkout opt-in ({source})")
    }
}

// ----- reading -------------------------------------------------------------------------

fn order_where(client_id: i64, filter: &OrderFilter, search: &str) -> (String, Vec<Bind>) {
    let mut sql = String::from("o.client_id = $1");
    let mut binds = vec![Bind::Int(client_id)];
    let mut add = |clause: &str, value: Bind, sql: &mut String| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(store) = filter.store_id {
        add(" AND o.store_id = ?", Bind::Int(store), &mut sql);
    }
    if let Some(status) = filter.status.as_ref().filter(|s| OrderStatus::parse(s).is_some()) {
        add(" AND o.status = ?", Bind::Text(status.clone()), &mut sql);
    }
    if let Some(from) = filter.from {
        add(" AND o.placed_at >= ?", Bind::Int(from), &mut sql);
    }
    if let Some(until) = filter.until {
        add(" AND o.placed_at < ?", Bind::Int(until), &mut sql);
    }
    if search != "%%" {
        // One parameter, used three times.
        add(
            " AND (lower(o.platform_order_id) LIKE ? ESCAPE '\\' OR o.buyer_email LIKE ? ESCAPE '\\' OR lower(o.buyer_name) LIKE ? ESCAPE '\\')",
            Bind::Text(search.to_string()),
            &mut sql,
        );
    }
    (sql, binds)
}

#[derive(Clone, Debug)]
enum Bind {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

const ORDER_ROW_SELECT: &str = "SELECT o.id, s.name AS store_name, o.platform_order_id, o.customer_id, o.buyer_name, \
    o.buyer_email, o.country, o.placed_at, o.status, o.status_at, o.currency, o.total_minor, o.items \
    FROM orders o JOIN stores s ON s.id = o.store_id";

fn order_row(r: &sqlx::any::AnyRow) -> OrderRow {
    let items: String = r.get("items");
    let count =
        serde_json::from_str::<Vec<super::model::OrderItem>>(&items).map(|v| v.iter().map(|i| i64::from(i.quantity)).sum()).unwrap_or(0);
    OrderRow {
        id: r.get("id"),
        store_name: r.get("store_name"),
        platform_order_id: r.get("platform_order_id"),
        customer_id: r.get("customer_id"),
        buyer_name: r.get("buyer_name"),
        buyer_email: r.get("buyer_email"),
        country: r.get("country"),
        placed_at: r.get("placed_at"),
        status: r.get("status"),
        status_at: r.get("status_at"),
        currency: r.get("currency"),
        total_minor: r.get("total_minor"),
        items: count,
    }
}

pub async fn list(
    db: &Db,
    client_id: i64,
    filter: &OrderFilter,
    query: &crate::shell::table::ListQuery,
) -> Result<crate::shell::table::Page<OrderRow>, AppError> {
    let (where_sql, binds) = order_where(client_id, filter, &query.like_pattern());
    let count_sql = format!("SELECT COUNT(*) FROM orders o WHERE {where_sql}");
    let total: i64 = bind_all(sqlx::query(&count_sql), &binds).fetch_one(&db.pool).await?.get(0);
    let order = match query.sort.as_str() {
        "order" => "o.platform_order_id",
        "status" => "o.status",
        "total" => "o.total_minor",
        "country" => "o.country",
        _ => "o.placed_at",
    };
    let dir = if query.desc || query.sort.is_empty() { "DESC" } else { "ASC" };
    let n = binds.len();
    let sql = format!("{ORDER_ROW_SELECT} WHERE {where_sql} ORDER BY {order} {dir}, o.id DESC LIMIT ${} OFFSET ${}", n + 1, n + 2);
    let rows = bind_all(sqlx::query(&sql), &binds).bind(query.limit()).bind(query.offset()).fetch_all(&db.pool).await?;
    Ok(crate::shell::table::Page::new(rows.iter().map(order_row).collect(), total, query))
}

/// Every order matching `filter`, in batches to `each` (for CSV exports: never all in memory).
pub async fn for_each_order(
    db: &Db,
    client_id: i64,
    filter: &OrderFilter,
    mut each: impl FnMut(Vec<OrderRow>) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let (where_sql, binds) = order_where(client_id, filter, "%%");
    let mut after = 0i64;
    loop {
        let n = binds.len();
        let sql = format!("{ORDER_ROW_SELECT} WHERE {where_sql} AND o.id > ${} ORDER BY o.id LIMIT 2000", n + 1);
        let rows = bind_all(sqlx::query(&sql), &binds).bind(after).fetch_all(&db.pool).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<OrderRow> = rows.iter().map(order_row).collect();
        after = rows.last().map(|r| r.id).unwrap_or(after);
        each(rows)?;
    }
}

pub async fn customer(db: &Db, id: i64) -> Result<Option<Customer>, AppError> {
    let row = sqlx::query(
        "SELECT c.id, c.client_id, c.brand_id, b.name AS brand_name, c.email, c.phone, c.name, c.country, c.locale, c.created_at \
         FROM customers c JOIN brands b ON b.id = c.brand_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Customer {
        id: r.get("id"),
        client_id: r.get("client_id"),
        brand_id: r.get("brand_id"),
        brand_name: r.get("brand_name"),
        email: r.get("email"),
        phone: r.get("phone"),
        name: r.get("name"),
        country: r.get("country"),
        locale: r.get("locale"),
        created_at: r.get("created_at"),
    }))
}

pub async fn customer_orders(db: &Db, customer_id: i64) -> Result<Vec<OrderRow>, AppError> {
    let rows = sqlx::query(&format!("{ORDER_ROW_SELECT} WHERE o.customer_id = $1 ORDER BY o.placed_at DESC LIMIT 500"))
        .bind(customer_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(order_row).collect())
}

pub async fn consents(db: &Db, customer_id: i64) -> Result<Vec<Consent>, AppError> {
    let rows = sqlx::query("SELECT channel, source, given_at FROM consents WHERE customer_id = $1 ORDER BY given_at")
        .bind(customer_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|r| Consent { channel: r.get("channel"), source: r.get("source"), given_at: r.get("given_at") }).collect())
}

/// Status changes of an order, oldest first: (from, to, reached at, source).
pub async fn status_history(db: &Db, order_id: i64) -> Result<Vec<(String, String, i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT from_status, to_status, reached_at, source FROM order_status_history WHERE order_id = $1 ORDER BY id")
        .bind(order_id)
        .fetch_all(&db.pool)
        .await?)
}

/// The client an order belongs to (for authorization).
pub async fn order_client(db: &Db, order_id: i64) -> Result<Option<i64>, AppError> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT client_id FROM orders WHERE id = $1").bind(order_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|r| r.0))
}

/// Whether `backend` locks claimed rows (`FOR UPDATE SKIP LOCKED`) or relies on SQLite's
/// single writer.
pub fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}
