//! PostgreSQL's side of storing orders: a handful of multi-row statements per batch
//! whatever its size (each statement is a round trip to the server). Look up the batch's
//! orders with `IN (…)`, insert customers and orders with `INSERT … ON CONFLICT DO
//! NOTHING`, orders and consents finding their customer by join, and move forward only
//! orders whose status advances. Another writer may store the same orders concurrently:
//! rows it won are found again and treated as known ones.

use super::{buyers, consent_source, consenting, fingerprints, forget_erased, sort_out, BuyerKey, Outcome, Prepared, Target};
use crate::db::{now_millis, Backend};
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use crate::orders::privacy::Salt;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

const B: Backend = Backend::Postgres;

/// Rows per multi-row statement.
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

/// `WITH v(columns) AS (VALUES (…), (…))` for `rows` rows: a batch as a table to join.
fn values_table(columns: &[&str], rows: usize) -> String {
    format!("WITH v({}) AS (VALUES {})", columns.join(", "), B.rows(rows, columns.len()))
}

pub(super) async fn upsert(
    conn: &mut sqlx::AnyConnection,
    target: &Target,
    mut prepared: Vec<Prepared>,
    source: &str,
    salt: &Salt,
) -> Result<Vec<Outcome>, AppError> {
    use sqlx::Connection;
    let now = now_millis();
    let mut tx = conn.begin().await?;

    let erased = erased_among(&mut tx, target.brand_id, &prepared, salt).await?;
    forget_erased(&mut prepared, &erased, salt);
    insert_customers(&mut tx, target, &prepared, now).await?;
    record_consents(&mut tx, target, &prepared, source, now).await?;

    // Orders already stored for this store.
    let mut known: HashMap<String, (i64, OrderStatus)> = HashMap::new();
    let ids: Vec<&str> = prepared.iter().map(|p| p.order.platform_order_id.as_str()).collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, platform_order_id, status FROM orders WHERE store_id = {} AND platform_order_id IN ({})",
            B.param(1),
            B.params(2, chunk.len())
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

    let mut sorted = sort_out(&prepared, &known);
    let mut fresh = std::mem::take(&mut sorted.fresh);
    fresh.sort_by_key(|&i| prepared[i].key_kind());
    let mut raced: Vec<usize> = Vec::new();
    for group in fresh.chunk_by(|&x, &y| prepared[x].key_kind() == prepared[y].key_kind()) {
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
            let sql = format!(
                "{} INSERT INTO orders (client_id, brand_id, store_id, platform_order_id, customer_id, placed_at, status, \
                   status_at, buyer_name, buyer_email, buyer_phone, country, marketplace, currency, total_minor, items, \
                   source, created_at, updated_at) \
                 SELECT v.client_id, v.brand_id, v.store_id, v.platform_order_id, c.id, v.placed_at, v.status, v.status_at, \
                   v.buyer_name, v.buyer_email, v.buyer_phone, v.country, v.marketplace, v.currency, v.total_minor, v.items, \
                   v.source, v.created_at, v.updated_at FROM v {} ON CONFLICT DO NOTHING",
                values_table(&COLUMNS, chunk.len()),
                customer_join(key)
            );
            // Only full-size statements are kept prepared: the last, shorter chunk of each
            // batch would otherwise fill the statement cache with large one-off programs.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for &i in chunk {
                let p = &prepared[i];
                let o = &p.order;
                query = query
                    .bind(target.client_id)
                    .bind(target.brand_id)
                    .bind(target.store_id)
                    .bind(o.platform_order_id.as_str())
                    .bind(p.key_value())
                    .bind(p.placed_at)
                    .bind(p.status.as_str())
                    .bind(p.status_at(now))
                    .bind(p.buyer_name())
                    .bind(p.email.as_str())
                    .bind(p.phone.as_str())
                    .bind(o.country.as_str())
                    .bind(p.marketplace(target))
                    .bind(p.currency(target))
                    .bind(o.total_minor)
                    .bind(p.items.as_str())
                    .bind(source)
                    .bind(now)
                    .bind(now);
            }
            let inserted = query.execute(&mut *tx).await?.rows_affected() as usize;
            if inserted < chunk.len() {
                // Another importer stored some of these between our look-up and our insert.
                raced.extend(not_ours(&mut tx, target.store_id, chunk, &prepared, source, now).await?);
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
        sorted.outcomes[i] = Outcome::Unchanged;
        if current.moves_forward_to(p.status) {
            sorted.moves.push((i, row.get("id"), current));
            sorted.outcomes[i] = Outcome::Updated;
        }
    }
    for (i, row_id, from) in sorted.moves {
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
            sorted.outcomes[i] = Outcome::Unchanged;
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
    Ok(sorted.outcomes)
}

/// Of `chunk` (just inserted with `ON CONFLICT DO NOTHING`), the rows that were not
/// written by this batch (another writer's source or time).
async fn not_ours(
    tx: &mut Tx<'_>,
    store_id: i64,
    chunk: &[usize],
    prepared: &[Prepared],
    source: &str,
    now: i64,
) -> Result<Vec<usize>, AppError> {
    let sql = format!(
        "SELECT platform_order_id FROM orders WHERE store_id = {} AND source = {} AND created_at = {} AND platform_order_id IN ({})",
        B.param(1),
        B.param(2),
        B.param(3),
        B.params(4, chunk.len())
    );
    let mut query = sqlx::query(&sql).bind(store_id).bind(source).bind(now);
    for &i in chunk {
        query = query.bind(prepared[i].order.platform_order_id.as_str());
    }
    let ours: HashSet<String> = query.fetch_all(&mut **tx).await?.into_iter().map(|r| r.get(0)).collect();
    Ok(chunk.iter().copied().filter(|&i| !ours.contains(&prepared[i].order.platform_order_id)).collect())
}

/// Fingerprints of the batch's buyers that are on an erased list of this brand or the agency.
async fn erased_among(tx: &mut Tx<'_>, brand_id: i64, prepared: &[Prepared], salt: &Salt) -> Result<HashSet<String>, AppError> {
    // Most brands have no erased buyer: then no fingerprint needs computing.
    let any: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = $1) LIMIT 1")
            .bind(brand_id)
            .fetch_optional(&mut **tx)
            .await?;
    if any.is_none() {
        return Ok(HashSet::new());
    }
    let prints = fingerprints(prepared, salt);
    let mut erased = HashSet::new();
    for chunk in prints.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT value_hash FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = {}) \
             AND value_hash IN ({})",
            B.param(1),
            B.params(2, chunk.len())
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

/// Creates the brand's customers the batch brings; known ones stay as they are.
async fn insert_customers(tx: &mut Tx<'_>, target: &Target, prepared: &[Prepared], now: i64) -> Result<(), AppError> {
    let buyers = buyers(prepared);
    for chunk in buyers.chunks(ROWS_PER_STATEMENT) {
        const COLUMNS: usize = 9;
        let sql = format!(
            "INSERT INTO customers (client_id, brand_id, email, phone, name, country, locale, created_at, updated_at) \
             VALUES {} ON CONFLICT DO NOTHING",
            B.rows(chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
        for p in chunk {
            let o = &p.order;
            query = query
                .bind(target.client_id)
                .bind(target.brand_id)
                .bind(p.email.as_str())
                .bind(p.phone.as_str())
                .bind(o.buyer_name.as_str())
                .bind(o.country.as_str())
                .bind(p.locale(target))
                .bind(now)
                .bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A checkout opt-in becomes a consent record (source and time) once per customer.
async fn record_consents(tx: &mut Tx<'_>, target: &Target, prepared: &[Prepared], source: &str, now: i64) -> Result<(), AppError> {
    let mut consenting = consenting(prepared);
    consenting.sort_by_key(|p| p.key_kind());
    let label = consent_source(source);
    for group in consenting.chunk_by(|x, y| x.key_kind() == y.key_kind()) {
        for chunk in group.chunks(ROWS_PER_STATEMENT) {
            const COLUMNS: [&str; 5] = ["brand_id", "buyer", "source", "given_at", "recorded_at"];
            let sql = format!(
                "{} INSERT INTO consents (customer_id, channel, source, given_at, recorded_at) \
                 SELECT c.id, 'email', v.source, v.given_at, v.recorded_at FROM v {} WHERE c.id IS NOT NULL ON CONFLICT DO NOTHING",
                values_table(&COLUMNS, chunk.len()),
                customer_join(chunk[0].key.as_ref())
            );
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_STATEMENT);
            for p in chunk {
                query = query.bind(target.brand_id).bind(p.key_value()).bind(label.as_str()).bind(p.placed_at).bind(now);
            }
            query.execute(&mut **tx).await?;
        }
    }
    Ok(())
}
