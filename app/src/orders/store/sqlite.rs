//! SQLite's side of storing orders, on a rusqlite connection of its own and a blocking
//! thread. A batch is written under the write lock taken up front (`BEGIN IMMEDIATE`), so
//! no other writer can slip in between a look-up and the insert it decides. It looks up
//! the batch's customers and orders with one statement each (the keys as a JSON array read
//! by `json_each`), then runs prepared statements row by row, binding values straight
//! into SQLite.
//!
//! Why not sqlx here: each sqlx statement is a message to its SQLite worker thread and
//! back, so a batch had to be written as multi-row statements; measured on 1,000,000
//! rows, those cost SQLite about twice the work of prepared single-row inserts (README,
//! Measured). And why `json_each` rather than a prepared look-up per row: a statement
//! whose `WHERE` must prove a partial index's condition next to a bound parameter is
//! prepared again by SQLite every time that parameter changes.

use super::{
    buyers, consent_source, consenting, consenting_by_phone, fingerprints, forget_erased, sort_out, BuyerKey, Outcome, Prepared, Target,
};
use crate::common::fingerprint::Salt;
use crate::db::{now_millis, SQLITE_BULK_CACHE_SIZE, SQLITE_PRAGMAS};
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) struct Writer {
    conn: Connection,
    /// Keep the transaction open across batches until it is `COMMIT_AFTER` old.
    bulk: bool,
    /// When the open transaction began (None: no transaction open).
    open_since: Option<Instant>,
}

/// How long a bulk writer (an import) keeps one transaction open across batches. Each
/// commit writes every page it dirtied to the WAL, and the inserts of a batch dirty pages
/// all over the indexes, so committing every batch of 10,000 orders wrote most index pages
/// again and again; the cost is that other writers wait up to this long for the lock.
const COMMIT_AFTER: Duration = Duration::from_millis(500);

impl Writer {
    /// A connection to the database file with the pool's settings and a large page cache
    /// (the index inserts of a large import read the same pages again and again).
    pub(super) fn open(file: &Path, bulk: bool) -> Result<Writer, AppError> {
        let conn = Connection::open(file)?;
        for pragma in SQLITE_PRAGMAS.iter().chain([&SQLITE_BULK_CACHE_SIZE]) {
            conn.execute_batch(pragma)?;
        }
        // Foreign keys are checked by the writer itself rather than by SQLite on every
        // row (SQLite's parent look-ups took 14% of the writing time in a prototype of
        // this writer, 1,000,000 rows): the store, brand and client once per batch
        // (`store_exists`), and every customer or order id it writes was found or created
        // in the same transaction. Deletes elsewhere still cascade: that is the deleting
        // connection's setting.
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Writer { conn, bulk, open_since: None })
    }

    /// Whether everything written so far is committed.
    pub(super) fn committed(&self) -> bool {
        self.open_since.is_none()
    }

    pub(super) fn commit(&mut self) -> Result<(), AppError> {
        if self.open_since.take().is_some() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Writes a batch, in the open transaction or a new one (`BEGIN IMMEDIATE`: the write
    /// lock is taken before the look-ups), and commits unless a bulk writer's transaction
    /// is still young. A failed batch rolls back the whole open transaction.
    pub(super) fn upsert(&mut self, target: &Target, prepared: Vec<Prepared>, source: &str, salt: &Salt) -> Result<Vec<Outcome>, AppError> {
        if self.open_since.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open_since = Some(Instant::now());
        }
        match write(&self.conn, target, prepared, source, salt) {
            Ok(outcomes) => {
                if !self.bulk || self.open_since.is_some_and(|since| since.elapsed() >= COMMIT_AFTER) {
                    self.commit()?;
                }
                Ok(outcomes)
            }
            Err(e) => {
                self.open_since = None;
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn write(tx: &Connection, target: &Target, mut prepared: Vec<Prepared>, source: &str, salt: &Salt) -> Result<Vec<Outcome>, AppError> {
    let now = now_millis();
    if !store_exists(tx, target)? {
        return Err(AppError::NotFound("the store was deleted".into()));
    }
    if any_erased(tx, target.brand_id)? {
        let erased = erased_among(tx, target.brand_id, &fingerprints(&prepared, salt))?;
        forget_erased(&mut prepared, &erased, salt);
    }
    let customers = customers(tx, target, &prepared, now)?;
    record_consents(tx, &customers, &prepared, source, now)?;
    let known = known_orders(tx, target.store_id, &prepared)?;
    let sorted = sort_out(&prepared, &known);
    insert_orders(tx, target, &customers, &prepared, &sorted.fresh, source, now)?;
    move_forward(tx, &prepared, &sorted.moves, source, now)?;
    Ok(sorted.outcomes)
}

/// Whether the target's store is still there, under its client and brand: with foreign
/// keys not enforced on this connection, this check (under the write lock) is what keeps
/// every order it writes attached to an existing store, brand and client.
fn store_exists(tx: &Connection, target: &Target) -> Result<bool, AppError> {
    let mut statement = tx.prepare_cached("SELECT 1 FROM stores WHERE id = ?1 AND client_id = ?2 AND brand_id = ?3")?;
    Ok(statement.query_row(params![target.store_id, target.client_id, target.brand_id], |_| Ok(())).optional()?.is_some())
}

/// `values` as a JSON array, for `json_each`.
fn json_list(values: &[&str]) -> Result<String, AppError> {
    serde_json::to_string(values).map_err(|e| AppError::caused("encoding failed", e))
}

/// Whether this brand or the agency has any erased buyer (most have none: then no
/// fingerprint needs computing).
fn any_erased(tx: &Connection, brand_id: i64) -> Result<bool, AppError> {
    let mut statement =
        tx.prepare_cached("SELECT 1 FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = ?1) LIMIT 1")?;
    Ok(statement.query_row(params![brand_id], |_| Ok(())).optional()?.is_some())
}

/// Of `prints`, those on an erased list of this brand or the agency.
fn erased_among(tx: &Connection, brand_id: i64, prints: &[String]) -> Result<HashSet<String>, AppError> {
    let prints: Vec<&str> = prints.iter().map(String::as_str).collect();
    let mut statement = tx.prepare_cached(
        "SELECT j.value FROM json_each(?2) j WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.value_hash = j.value \
           AND s.reason = 'erased' AND (s.brand_id IS NULL OR s.brand_id = ?1))",
    )?;
    let erased = statement.query_map(params![brand_id, json_list(&prints)?], |row| row.get(0))?.collect::<Result<_, _>>()?;
    Ok(erased)
}

/// The brand's customer of every buyer of the batch: known ones as they are, new ones
/// created.
fn customers(tx: &Connection, target: &Target, prepared: &[Prepared], now: i64) -> Result<HashMap<BuyerKey, i64>, AppError> {
    let buyers = buyers(prepared);
    let mut ids = HashMap::with_capacity(buyers.len());
    // `CROSS JOIN` keeps the batch as the outer loop: one index search per buyer. The
    // partial indexes' conditions are repeated so the planner uses them.
    let emails: Vec<&str> = buyers.iter().filter(|p| matches!(p.key, Some(BuyerKey::Email(_)))).map(|p| p.key_value()).collect();
    if !emails.is_empty() {
        let mut statement = tx.prepare_cached(
            "SELECT j.value, c.id FROM json_each(?2) j CROSS JOIN customers c \
             ON c.brand_id = ?1 AND c.email = j.value AND c.email <> ''",
        )?;
        let mut rows = statement.query(params![target.brand_id, json_list(&emails)?])?;
        while let Some(row) = rows.next()? {
            ids.insert(BuyerKey::Email(row.get(0)?), row.get(1)?);
        }
    }
    let phones: Vec<&str> = buyers.iter().filter(|p| matches!(p.key, Some(BuyerKey::Phone(_)))).map(|p| p.key_value()).collect();
    if !phones.is_empty() {
        let mut statement = tx.prepare_cached(
            "SELECT j.value, c.id FROM json_each(?2) j CROSS JOIN customers c \
             ON c.brand_id = ?1 AND c.email = '' AND c.phone = j.value AND c.phone <> ''",
        )?;
        let mut rows = statement.query(params![target.brand_id, json_list(&phones)?])?;
        while let Some(row) = rows.next()? {
            ids.insert(BuyerKey::Phone(row.get(0)?), row.get(1)?);
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO customers (client_id, brand_id, email, phone, name, country, locale, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?;
    for p in buyers {
        let Some(key) = &p.key else { continue };
        if ids.contains_key(key) {
            continue;
        }
        let o = &p.order;
        insert.execute(params![target.client_id, target.brand_id, p.email, p.phone, o.buyer_name, o.country, p.locale(target), now])?;
        ids.insert(key.clone(), tx.last_insert_rowid());
    }
    Ok(ids)
}

fn record_consents(
    tx: &Connection,
    customers: &HashMap<BuyerKey, i64>,
    prepared: &[Prepared],
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    let label = consent_source(source);
    let mut insert = tx.prepare_cached(
        "INSERT INTO consents (customer_id, channel, source, given_at, recorded_at) VALUES (?1, 'email', ?2, ?3, ?4) \
         ON CONFLICT DO NOTHING",
    )?;
    for p in consenting(prepared) {
        if let Some(id) = p.key.as_ref().and_then(|k| customers.get(k)) {
            insert.execute(params![id, label, p.placed_at, now])?;
        }
    }
    let mut texts = tx.prepare_cached(
        "INSERT INTO consents (customer_id, channel, source, given_at, recorded_at, scope, wording) \
         VALUES (?1, ?6, ?2, ?3, ?4, 'marketing', ?5) ON CONFLICT DO NOTHING",
    )?;
    for channel in ["sms", "whatsapp"] {
        for (p, wording) in consenting_by_phone(prepared, channel) {
            if let Some(id) = p.key.as_ref().and_then(|k| customers.get(k)) {
                texts.execute(params![id, label, p.placed_at, now, wording, channel])?;
            }
        }
    }
    Ok(())
}

/// The store's orders the batch names: platform id -> row id and status.
fn known_orders(tx: &Connection, store_id: i64, prepared: &[Prepared]) -> Result<HashMap<String, (i64, OrderStatus)>, AppError> {
    let ids: Vec<&str> = prepared.iter().map(|p| p.order.platform_order_id.as_str()).collect();
    let mut statement = tx.prepare_cached(
        "SELECT j.value, o.id, o.status FROM json_each(?2) j CROSS JOIN orders o ON o.store_id = ?1 AND o.platform_order_id = j.value",
    )?;
    let mut rows = statement.query(params![store_id, json_list(&ids)?])?;
    let mut known = HashMap::new();
    while let Some(row) = rows.next()? {
        let status: String = row.get(2)?;
        known.insert(row.get(0)?, (row.get(1)?, OrderStatus::parse(&status).unwrap_or(OrderStatus::Pending)));
    }
    Ok(known)
}

fn insert_orders(
    tx: &Connection,
    target: &Target,
    customers: &HashMap<BuyerKey, i64>,
    prepared: &[Prepared],
    fresh: &[usize],
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO orders (client_id, brand_id, store_id, platform_order_id, customer_id, placed_at, status, status_at, \
           buyer_name, buyer_email, buyer_phone, country, marketplace, currency, total_minor, items, source, created_at, \
           updated_at, earliest_delivery_at, latest_delivery_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19, ?20)",
    )?;
    for &i in fresh {
        let p = &prepared[i];
        let o = &p.order;
        insert.execute(params![
            target.client_id,
            target.brand_id,
            target.store_id,
            o.platform_order_id,
            p.key.as_ref().and_then(|k| customers.get(k)),
            p.placed_at,
            p.status.as_str(),
            p.status_at(now),
            p.buyer_name(),
            p.email,
            p.phone,
            o.country,
            p.marketplace(target),
            p.currency(target),
            o.total_minor,
            p.items.as_str(),
            source,
            now,
            o.earliest_delivery_at,
            o.latest_delivery_at,
        ])?;
    }
    Ok(())
}

/// Moves stored orders forward and records each change in their history.
fn move_forward(
    tx: &Connection,
    prepared: &[Prepared],
    moves: &[(usize, i64, OrderStatus)],
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    // A later answer of the platform may only then know the promised delivery window.
    let mut update = tx.prepare_cached(
        "UPDATE orders SET status = ?1, status_at = ?2, updated_at = ?3, \
           earliest_delivery_at = COALESCE(?5, earliest_delivery_at), latest_delivery_at = COALESCE(?6, latest_delivery_at) \
         WHERE id = ?4",
    )?;
    let mut history = tx.prepare_cached(
        "INSERT INTO order_status_history (order_id, from_status, to_status, reached_at, recorded_at, source) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for &(i, row_id, from) in moves {
        let p = &prepared[i];
        let reached_at = p.order.status_at.unwrap_or(now);
        update.execute(params![p.status.as_str(), reached_at, now, row_id, p.order.earliest_delivery_at, p.order.latest_delivery_at])?;
        history.execute(params![row_id, from.as_str(), p.status.as_str(), reached_at, now, source])?;
    }
    Ok(())
}
