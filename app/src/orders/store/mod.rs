//! SQL for orders and customers: the batched, idempotent upsert every way in (file
//! imports, the ingest API) goes through, and the lists and details pages read.
//!
//! One batch is one transaction: look up the batch's customers and orders, insert the
//! missing ones, and update only orders whose status moves forward. Re-running a batch
//! therefore changes nothing, and two importers racing on one store cannot create an order
//! twice. What a batch does is decided here, once, for both databases (`prepare`,
//! `sort_out`); how it is written differs: SQLite row by row on a connection of its own
//! (`sqlite`), PostgreSQL with multi-row statements (`postgres`).
//!
//! The other tables of orders in have a submodule each: `jobs` (import jobs, their rejected
//! rows, column mappings), `keys` (API keys), `suppressions`, `reviews`, and `privacy`
//! (a buyer's export, erasure and retention on orders, customers and consents).
//!
//! Read elsewhere, never written: `campaigns::store` (the planner pages through a brand's
//! orders with their status history, buyers, consents and suppressions), `delivery::store`
//! (the order and buyer a message is sent for), `templates::store` (the preview's sample
//! order), `outbox::store` (a message's buyer and order number) and `reports::store`
//! (report dimensions, review matching).

pub mod jobs;
pub mod keys;
mod postgres;
pub mod privacy;
pub mod reviews;
mod sqlite;
pub mod suppressions;

use super::model::{infer_locale, Consent, Customer, OrderFilter, OrderRow, OrderStatus, ParsedOrder};
use crate::common::fingerprint::{fingerprint, Salt};
use crate::db::{Backend, Db};
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// A text column read as one of the capability's enums: a value the enum does not know is
/// an error of the read, not a panic.
fn decode<T>(r: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    let text: String = r.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode { index: column.to_string(), source: format!("unknown value {text:?}").into() })
}

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

impl sqlx::FromRow<'_, AnyRow> for Target {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Target {
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            store_id: r.try_get("id")?,
            platform: r.try_get("platform")?,
            marketplace: r.try_get("marketplace")?,
            currency: r.try_get("currency")?,
            default_locale: r.try_get("default_locale")?,
        })
    }
}

/// Reads `stores` and `brands` (owned by `clients::store`): what a batch needs of the
/// store it lands in, in the one statement every import and API request starts with.
pub async fn target(db: &Db, store_id: i64) -> Result<Option<Target>, AppError> {
    Ok(sqlx::query_as::<_, Target>(
        "SELECT s.id, s.client_id, s.brand_id, s.platform, s.marketplace, s.currency, b.default_locale \
         FROM stores s JOIN brands b ON b.id = s.brand_id WHERE s.id = $1",
    )
    .bind(store_id)
    .fetch_optional(&db.pool)
    .await?)
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

/// An order ready for the database: its buyer's identity normalised and its line items
/// serialised. Made by [`prepare`], which an import runs on its parsing thread, so the
/// thread writing to the database does only that.
pub struct Prepared {
    order: ParsedOrder,
    status: OrderStatus,
    placed_at: i64,
    email: String,
    phone: String,
    key: Option<BuyerKey>,
    items: String,
}

impl Prepared {
    fn key_value(&self) -> &str {
        match &self.key {
            Some(BuyerKey::Email(v)) | Some(BuyerKey::Phone(v)) => v,
            None => "",
        }
    }

    /// Which kind of buyer key the order has (rows of one statement share one kind).
    fn key_kind(&self) -> u8 {
        match self.key {
            Some(BuyerKey::Email(_)) => 0,
            Some(BuyerKey::Phone(_)) => 1,
            None => 2,
        }
    }

    /// When the order reached its status: the file's date, else the order date for a
    /// pending order, else now.
    fn status_at(&self, now: i64) -> i64 {
        self.order.status_at.unwrap_or(if self.status == OrderStatus::Pending { self.placed_at } else { now })
    }

    /// The buyer's name, unless their address was dropped (an erased buyer stays nameless).
    fn buyer_name(&self) -> &str {
        let o = &self.order;
        let erased = self.key.is_none() && (!o.buyer_email.is_empty() || !o.buyer_phone.is_empty());
        if erased {
            ""
        } else {
            &o.buyer_name
        }
    }

    fn marketplace<'t>(&'t self, target: &'t Target) -> &'t str {
        if self.order.marketplace.is_empty() {
            &target.marketplace
        } else {
            &self.order.marketplace
        }
    }

    fn currency<'t>(&'t self, target: &'t Target) -> &'t str {
        if self.order.currency.is_empty() {
            &target.currency
        } else {
            &self.order.currency
        }
    }

    fn locale(&self, target: &Target) -> String {
        infer_locale(&self.order.marketplace, &self.order.country, &target.default_locale)
    }
}

/// The batch's orders ready for the database (`now` stands in for a missing order date).
pub fn prepare(batch: Vec<ParsedOrder>, now: i64) -> Vec<Prepared> {
    batch
        .into_iter()
        .map(|order| {
            let email = super::customers::normalise_email(&order.buyer_email);
            // Importers and the API hand over phones already in E.164; others (demo data,
            // benchmarks) are read here.
            let phone = if is_e164(&order.buyer_phone) {
                order.buyer_phone.clone()
            } else {
                super::customers::normalise_phone(&order.buyer_phone, &order.country)
            };
            let key = if !email.is_empty() {
                Some(BuyerKey::Email(email.clone()))
            } else if !phone.is_empty() {
                Some(BuyerKey::Phone(phone.clone()))
            } else {
                None
            };
            let items = serde_json::to_string(&order.items).unwrap_or_else(|_| "[]".into());
            let (status, placed_at) = (order.status.unwrap_or(OrderStatus::Pending), order.placed_at.unwrap_or(now));
            Prepared { order, status, placed_at, email, phone, key, items }
        })
        .collect()
}

/// `+` and 7 to 15 digits, as `normalise_phone` writes numbers.
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The distinct fingerprints of the batch's addresses (to match erased buyers).
fn fingerprints(prepared: &[Prepared], salt: &Salt) -> Vec<String> {
    prepared
        .iter()
        .flat_map(|p| [&p.email, &p.phone])
        .filter(|v| !v.is_empty())
        .map(|v| fingerprint(salt, v))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// Buyers who asked to be erased stay erased: their orders are kept without them.
fn forget_erased(prepared: &mut [Prepared], erased: &HashSet<String>, salt: &Salt) {
    if erased.is_empty() {
        return;
    }
    for p in prepared.iter_mut() {
        if [&p.email, &p.phone].iter().any(|v| !v.is_empty() && erased.contains(&fingerprint(salt, v))) {
            p.email.clear();
            p.phone.clear();
            p.key = None;
        }
    }
}

/// The batch's buyers, one per key, first occurrence first.
fn buyers(prepared: &[Prepared]) -> Vec<&Prepared> {
    let mut seen = HashSet::new();
    prepared.iter().filter(|p| p.key.as_ref().is_some_and(|k| seen.insert(k))).collect()
}

/// The batch's buyers who opted in at checkout: each becomes a consent record (source and
/// time) once per customer.
fn consenting(prepared: &[Prepared]) -> Vec<&Prepared> {
    buyers(prepared).into_iter().filter(|p| p.order.accepts_marketing == Some(true)).collect()
}

/// The batch's buyers who agreed to marketing texts (`sms`) or WhatsApp messages
/// (`whatsapp`), with the words they were shown.
fn consenting_by_phone<'a>(prepared: &'a [Prepared], channel: &str) -> Vec<(&'a Prepared, &'a str)> {
    buyers(prepared)
        .into_iter()
        .filter_map(|p| {
            let given = if channel == "whatsapp" { &p.order.whatsapp_consent } else { &p.order.sms_consent };
            given.as_deref().filter(|w| !w.trim().is_empty()).map(|w| (p, w))
        })
        .collect()
}

fn consent_source(source: &str) -> String {
    if source == "api" {
        "ingest API: consent".into()
    } else {
        format!("checkout opt-in ({source})")
    }
}

/// What a batch does to a store's orders.
struct Sorted {
    outcomes: Vec<Outcome>,
    /// Orders to insert (an id repeated within the batch: its most advanced status).
    fresh: Vec<usize>,
    /// Stored orders whose status moves forward: (batch index, row id, current status).
    moves: Vec<(usize, i64, OrderStatus)>,
}

/// Sorts the batch against the orders already stored (platform id -> row id and status).
fn sort_out(prepared: &[Prepared], known: &HashMap<String, (i64, OrderStatus)>) -> Sorted {
    let mut outcomes = vec![Outcome::Unchanged; prepared.len()];
    let mut fresh: Vec<usize> = Vec::new();
    let mut fresh_index: HashMap<&str, usize> = HashMap::new();
    let mut moves = Vec::new();
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
    Sorted { outcomes, fresh, moves }
}

/// Stores a batch of orders (all valid: the caller has checked them) for `target`, and
/// says for each whether it was created, moved forward, or already known.
pub async fn upsert(db: &Db, target: &Target, batch: Vec<ParsedOrder>, source: &str, salt: &Salt) -> Result<Vec<Outcome>, AppError> {
    let mut writer = Writer::open(db).await?;
    writer.upsert(target, prepare(batch, crate::db::now_millis()), source, salt).await
}

/// Stores batch after batch on one connection: only one SQLite page cache fills, and it
/// stays warm.
pub struct Writer(Connection);

enum Connection {
    /// Taken while a batch is written on a blocking thread.
    Sqlite(Option<sqlite::Writer>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl Writer {
    /// A writer that commits every batch.
    pub async fn open(db: &Db) -> Result<Writer, AppError> {
        Writer::connect(db, false).await
    }

    /// A writer for an import: on SQLite it may keep a transaction open across batches
    /// (see `sqlite::COMMIT_AFTER`); [`Writer::committed`] says when it has committed, and
    /// [`Writer::finish`] commits the rest.
    pub async fn open_bulk(db: &Db) -> Result<Writer, AppError> {
        Writer::connect(db, true).await
    }

    async fn connect(db: &Db, bulk: bool) -> Result<Writer, AppError> {
        match (db.backend, &db.sqlite_file) {
            (Backend::Sqlite, Some(file)) => {
                let file = file.clone();
                let writer = tokio::task::spawn_blocking(move || sqlite::Writer::open(&file, bulk)).await.map_err(joined)??;
                Ok(Writer(Connection::Sqlite(Some(writer))))
            }
            (Backend::Sqlite, None) => Err(AppError::internal("the SQLite database has no file")),
            (Backend::Postgres, _) => Ok(Writer(Connection::Postgres(db.pool.acquire().await?))),
        }
    }

    /// Stores one batch (see [`upsert`]).
    pub async fn upsert(&mut self, target: &Target, batch: Vec<Prepared>, source: &str, salt: &Salt) -> Result<Vec<Outcome>, AppError> {
        match &mut self.0 {
            Connection::Postgres(conn) => postgres::upsert(&mut **conn, target, batch, source, salt).await,
            Connection::Sqlite(slot) => {
                let mut writer = slot.take().ok_or_else(|| AppError::internal("an earlier batch failed midway"))?;
                let (target, source, salt) = (target.clone(), source.to_string(), salt.clone());
                let (writer, outcomes) = tokio::task::spawn_blocking(move || {
                    let outcomes = writer.upsert(&target, batch, &source, &salt);
                    (writer, outcomes)
                })
                .await
                .map_err(joined)?;
                *slot = Some(writer);
                outcomes
            }
        }
    }

    /// Whether every batch stored so far is committed (other connections see it, and may
    /// write: an open SQLite transaction holds the write lock).
    pub fn committed(&self) -> bool {
        match &self.0 {
            Connection::Postgres(_) => true,
            Connection::Sqlite(slot) => slot.as_ref().is_none_or(sqlite::Writer::committed),
        }
    }

    /// Commits what is still open.
    pub async fn finish(&mut self) -> Result<(), AppError> {
        if self.committed() {
            return Ok(());
        }
        if let Connection::Sqlite(slot) = &mut self.0 {
            if let Some(mut writer) = slot.take() {
                let writer = tokio::task::spawn_blocking(move || writer.commit().map(|_| writer)).await.map_err(joined)??;
                *slot = Some(writer);
            }
        }
        Ok(())
    }
}

fn joined(e: tokio::task::JoinError) -> AppError {
    AppError::caused("storing orders stopped", e)
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

/// Reads `stores` (owned by `clients::store`) for the store's name.
const ORDER_ROW_SELECT: &str = "SELECT o.id, s.name AS store_name, o.platform_order_id, o.customer_id, o.buyer_name, \
    o.buyer_email, o.country, o.placed_at, o.status, o.status_at, o.currency, o.total_minor, o.items \
    FROM orders o JOIN stores s ON s.id = o.store_id";

/// An order as lists show it: its line items counted, not carried.
fn order_row(r: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    let items: String = r.try_get("items")?;
    let count =
        serde_json::from_str::<Vec<super::model::OrderItem>>(&items).map(|v| v.iter().map(|i| i64::from(i.quantity)).sum()).unwrap_or(0);
    Ok(OrderRow {
        id: r.try_get("id")?,
        store_name: r.try_get("store_name")?,
        platform_order_id: r.try_get("platform_order_id")?,
        customer_id: r.try_get("customer_id")?,
        buyer_name: r.try_get("buyer_name")?,
        buyer_email: r.try_get("buyer_email")?,
        country: r.try_get("country")?,
        placed_at: r.try_get("placed_at")?,
        status: decode(r, "status", OrderStatus::parse)?,
        status_at: r.try_get("status_at")?,
        currency: r.try_get("currency")?,
        total_minor: r.try_get("total_minor")?,
        items: count,
    })
}

fn order_rows(rows: &[AnyRow]) -> Result<Vec<OrderRow>, sqlx::Error> {
    rows.iter().map(order_row).collect()
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
    Ok(crate::shell::table::Page::new(order_rows(&rows)?, total, query))
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
        let rows: Vec<OrderRow> = order_rows(&rows)?;
        after = rows.last().map(|r| r.id).unwrap_or(after);
        each(rows)?;
    }
}

impl sqlx::FromRow<'_, AnyRow> for Customer {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Customer {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            brand_id: r.try_get("brand_id")?,
            brand_name: r.try_get("brand_name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
            name: r.try_get("name")?,
            country: r.try_get("country")?,
            locale: r.try_get("locale")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// Reads `brands` (owned by `clients::store`) for the brand's name.
pub async fn customer(db: &Db, id: i64) -> Result<Option<Customer>, AppError> {
    Ok(sqlx::query_as::<_, Customer>(
        "SELECT c.id, c.client_id, c.brand_id, b.name AS brand_name, c.email, c.phone, c.name, c.country, c.locale, c.created_at \
         FROM customers c JOIN brands b ON b.id = c.brand_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn customer_orders(db: &Db, customer_id: i64) -> Result<Vec<OrderRow>, AppError> {
    let rows = sqlx::query(&format!("{ORDER_ROW_SELECT} WHERE o.customer_id = $1 ORDER BY o.placed_at DESC LIMIT 500"))
        .bind(customer_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(order_rows(&rows)?)
}

impl sqlx::FromRow<'_, AnyRow> for Consent {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Consent {
            channel: r.try_get("channel")?,
            source: r.try_get("source")?,
            given_at: r.try_get("given_at")?,
            scope: r.try_get("scope")?,
            wording: r.try_get("wording")?,
        })
    }
}

pub async fn consents(db: &Db, customer_id: i64) -> Result<Vec<Consent>, AppError> {
    Ok(sqlx::query_as::<_, Consent>(
        "SELECT channel, source, given_at, scope, wording FROM consents WHERE customer_id = $1 ORDER BY given_at, channel",
    )
    .bind(customer_id)
    .fetch_all(&db.pool)
    .await?)
}

/// A brand's customers with this phone (E.164), with their e-mail ('' when none).
pub async fn customers_with_phone(db: &Db, brand_id: i64, phone: &str) -> Result<Vec<(i64, String)>, AppError> {
    Ok(sqlx::query_as("SELECT id, email FROM customers WHERE brand_id = $1 AND phone = $2 AND phone <> ''")
        .bind(brand_id)
        .bind(phone)
        .fetch_all(&db.pool)
        .await?)
}

/// Records a consent by hand or through the API: channel, where and when it was given, its
/// scope and the words the buyer agreed to. A consent from the same source is kept once.
pub async fn record_consent(db: &Db, customer_id: i64, consent: &Consent, now: i64) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "INSERT INTO consents (customer_id, channel, source, given_at, recorded_at, scope, wording) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT DO NOTHING",
    )
    .bind(customer_id)
    .bind(&consent.channel)
    .bind(&consent.source)
    .bind(consent.given_at)
    .bind(now)
    .bind(&consent.scope)
    .bind(&consent.wording)
    .execute(&db.pool)
    .await?
    .rows_affected()
        > 0)
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

/// How many of the store's orders came from file imports (`source` `import:<job>`).
pub async fn count_imported(db: &Db, store_id: i64) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE store_id = $1 AND source LIKE 'import:%'")
        .bind(store_id)
        .fetch_one(&db.pool)
        .await?)
}

/// How many of the store's orders came in by `source` (`shopify`, `api`…).
pub async fn count_from(db: &Db, store_id: i64, source: &str) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE store_id = $1 AND source = $2")
        .bind(store_id)
        .bind(source)
        .fetch_one(&db.pool)
        .await?)
}

/// Gives every order the status `status` at once, without history: the delivery benchmark
/// takes the demo's orders out of its campaign's audience this way before adding its own.
pub async fn set_every_status(db: &Db, status: OrderStatus) -> Result<u64, AppError> {
    Ok(sqlx::query("UPDATE orders SET status = $1").bind(status.as_str()).execute(&db.pool).await?.rows_affected())
}

/// Which of `ids` (platform order ids) the store has already: a connector asks a platform
/// for an order's line items only when the order is new.
pub async fn known(db: &Db, store_id: i64, ids: &[String]) -> Result<HashSet<String>, AppError> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(500) {
        let params = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT platform_order_id FROM orders WHERE store_id = $1 AND platform_order_id IN ({params})");
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(store_id);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        found.extend(query.fetch_all(&db.pool).await?);
    }
    Ok(found)
}

/// The promised delivery window of the store's order `platform_order_id` (epoch ms).
pub async fn delivery_window(db: &Db, store_id: i64, platform_order_id: &str) -> Result<(Option<i64>, Option<i64>), AppError> {
    let row: Option<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT earliest_delivery_at, latest_delivery_at FROM orders WHERE store_id = $1 AND platform_order_id = $2")
            .bind(store_id)
            .bind(platform_order_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.unwrap_or((None, None)))
}
