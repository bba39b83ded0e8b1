//! PostgreSQL's side of storing orders: a handful of statements per batch whatever its
//! size. Each statement takes the batch as one JSON parameter and reads it as a table
//! (`json_to_recordset`), so 10,000 orders are one round trip and one plan, not fifty
//! statements of 200 bound rows. Look up the batch's orders, insert customers and orders
//! with `INSERT … ON CONFLICT DO NOTHING`, orders and consents finding their customer by
//! join, and move forward only orders whose status advances. Another writer may store the
//! same orders concurrently: rows it won are found again and treated as known ones.

use super::{
    buyers, consent_source, consenting, consenting_by_phone, fingerprints, forget_erased, sort_out, BuyerKey, Outcome, Prepared, Target,
};
use crate::common::fingerprint::Salt;
use crate::db::now_millis;
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// `LEFT JOIN customers c ON …` finding each row's customer (column `v.buyer`) by the
/// kind of key the rows share: e-mail, phone, or none. The partial indexes' conditions
/// are repeated so the planner uses them.
fn customer_join(key: Option<&BuyerKey>) -> &'static str {
    match key {
        Some(BuyerKey::Email(_)) => "LEFT JOIN customers c ON c.brand_id = $1 AND c.email = v.buyer AND c.email <> ''",
        Some(BuyerKey::Phone(_)) => "LEFT JOIN customers c ON c.brand_id = $1 AND c.email = '' AND c.phone = v.buyer AND c.phone <> ''",
        None => "LEFT JOIN customers c ON 1 = 0",
    }
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
    let rows = sqlx::query(
        "SELECT id, platform_order_id, status FROM orders \
         WHERE store_id = $1 AND platform_order_id IN (SELECT json_array_elements_text($2::json))",
    )
    .bind(target.store_id)
    .bind(json!(ids).to_string())
    .fetch_all(&mut *tx)
    .await?;
    for row in rows {
        let status: String = row.get("status");
        known.insert(row.get("platform_order_id"), (row.get("id"), OrderStatus::parse(&status).unwrap_or(OrderStatus::Pending)));
    }

    let mut sorted = sort_out(&prepared, &known);
    let mut fresh = std::mem::take(&mut sorted.fresh);
    fresh.sort_by_key(|&i| prepared[i].key_kind());
    let mut raced: Vec<usize> = Vec::new();
    for group in fresh.chunk_by(|&x, &y| prepared[x].key_kind() == prepared[y].key_kind()) {
        let rows: Vec<Value> = group
            .iter()
            .map(|&i| {
                let p = &prepared[i];
                let o = &p.order;
                json!({
                    "platform_order_id": o.platform_order_id,
                    "buyer": p.key_value(),
                    "placed_at": p.placed_at,
                    "status": p.status.as_str(),
                    "status_at": p.status_at(now),
                    "buyer_name": p.buyer_name(),
                    "buyer_email": p.email,
                    "buyer_phone": p.phone,
                    "country": o.country,
                    "marketplace": p.marketplace(target),
                    "currency": p.currency(target),
                    "total_minor": o.total_minor,
                    "items": p.items,
                    "earliest_delivery_at": o.earliest_delivery_at,
                    "latest_delivery_at": o.latest_delivery_at,
                })
            })
            .collect();
        let sql = format!(
            "INSERT INTO orders (client_id, brand_id, store_id, platform_order_id, customer_id, placed_at, status, \
               status_at, buyer_name, buyer_email, buyer_phone, country, marketplace, currency, total_minor, items, \
               source, created_at, updated_at, earliest_delivery_at, latest_delivery_at) \
             SELECT $2, $1, $3, v.platform_order_id, c.id, v.placed_at, v.status, v.status_at, v.buyer_name, \
               v.buyer_email, v.buyer_phone, v.country, v.marketplace, v.currency, v.total_minor, v.items, $4, $5, $5, \
               v.earliest_delivery_at, v.latest_delivery_at \
             FROM json_to_recordset($6::json) AS v(platform_order_id TEXT, buyer TEXT, placed_at BIGINT, status TEXT, \
               status_at BIGINT, buyer_name TEXT, buyer_email TEXT, buyer_phone TEXT, country TEXT, marketplace TEXT, \
               currency TEXT, total_minor BIGINT, items TEXT, earliest_delivery_at BIGINT, latest_delivery_at BIGINT) {} \
             ON CONFLICT DO NOTHING",
            customer_join(prepared[group[0]].key.as_ref())
        );
        let inserted = sqlx::query(&sql)
            .bind(target.brand_id)
            .bind(target.client_id)
            .bind(target.store_id)
            .bind(source)
            .bind(now)
            .bind(Value::Array(rows).to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
        if inserted < group.len() {
            // Another importer stored some of these between our look-up and our insert.
            raced.extend(not_ours(&mut tx, target.store_id, group, &prepared, source, now).await?);
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
    move_forward(&mut tx, &prepared, &sorted.moves, &mut sorted.outcomes, source, now).await?;
    tx.commit().await?;
    Ok(sorted.outcomes)
}

/// Moves stored orders forward and records each move in their history, in one statement.
/// An order moved by another writer since it was read is left alone (`Unchanged`), and so
/// is a second move of one order within a batch: its first one wins.
async fn move_forward(
    tx: &mut Tx<'_>,
    prepared: &[Prepared],
    moves: &[(usize, i64, OrderStatus)],
    outcomes: &mut [Outcome],
    source: &str,
    now: i64,
) -> Result<(), AppError> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut first: HashMap<i64, usize> = HashMap::new();
    let mut rows = Vec::new();
    for &(i, row_id, from) in moves {
        if first.contains_key(&row_id) {
            outcomes[i] = Outcome::Unchanged;
            continue;
        }
        first.insert(row_id, i);
        let p = &prepared[i];
        rows.push(json!({
            "id": row_id,
            "from_status": from.as_str(),
            "to_status": p.status.as_str(),
            "reached_at": p.order.status_at.unwrap_or(now),
            "earliest": p.order.earliest_delivery_at,
            "latest": p.order.latest_delivery_at,
        }));
    }
    let moved: HashSet<i64> = sqlx::query(
        "WITH v AS (SELECT * FROM json_to_recordset($1::json) AS v(id BIGINT, from_status TEXT, to_status TEXT, reached_at BIGINT, \
           earliest BIGINT, latest BIGINT)), \
         moved AS (UPDATE orders o SET status = v.to_status, status_at = v.reached_at, updated_at = $2, \
           earliest_delivery_at = COALESCE(v.earliest, o.earliest_delivery_at), latest_delivery_at = COALESCE(v.latest, o.latest_delivery_at) FROM v \
           WHERE o.id = v.id AND o.status = v.from_status RETURNING o.id, v.from_status, v.to_status, v.reached_at) \
         INSERT INTO order_status_history (order_id, from_status, to_status, reached_at, recorded_at, source) \
         SELECT id, from_status, to_status, reached_at, $2, $3 FROM moved RETURNING order_id",
    )
    .bind(Value::Array(rows).to_string())
    .bind(now)
    .bind(source)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| r.get::<i64, _>(0))
    .collect();
    for (row_id, i) in first {
        if !moved.contains(&row_id) {
            outcomes[i] = Outcome::Unchanged;
        }
    }
    Ok(())
}

/// Of `group` (just inserted with `ON CONFLICT DO NOTHING`), the rows that were not
/// written by this batch (another writer's source or time).
async fn not_ours(
    tx: &mut Tx<'_>,
    store_id: i64,
    group: &[usize],
    prepared: &[Prepared],
    source: &str,
    now: i64,
) -> Result<Vec<usize>, AppError> {
    let ids: Vec<&str> = group.iter().map(|&i| prepared[i].order.platform_order_id.as_str()).collect();
    let ours: HashSet<String> = sqlx::query(
        "SELECT platform_order_id FROM orders WHERE store_id = $1 AND source = $2 AND created_at = $3 \
         AND platform_order_id IN (SELECT json_array_elements_text($4::json))",
    )
    .bind(store_id)
    .bind(source)
    .bind(now)
    .bind(json!(ids).to_string())
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect();
    Ok(group.iter().copied().filter(|&i| !ours.contains(&prepared[i].order.platform_order_id)).collect())
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
    let rows = sqlx::query(
        "SELECT value_hash FROM suppressions WHERE reason = 'erased' AND (brand_id IS NULL OR brand_id = $1) \
         AND value_hash IN (SELECT json_array_elements_text($2::json))",
    )
    .bind(brand_id)
    .bind(json!(prints).to_string())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
}

/// Creates the brand's customers the batch brings; known ones stay as they are.
async fn insert_customers(tx: &mut Tx<'_>, target: &Target, prepared: &[Prepared], now: i64) -> Result<(), AppError> {
    let buyers = buyers(prepared);
    if buyers.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = buyers
        .iter()
        .map(|p| {
            json!({
                "email": p.email,
                "phone": p.phone,
                "name": p.order.buyer_name,
                "country": p.order.country,
                "locale": p.locale(target),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO customers (client_id, brand_id, email, phone, name, country, locale, created_at, updated_at) \
         SELECT $1, $2, v.email, v.phone, v.name, v.country, v.locale, $3, $3 \
         FROM json_to_recordset($4::json) AS v(email TEXT, phone TEXT, name TEXT, country TEXT, locale TEXT) \
         ON CONFLICT DO NOTHING",
    )
    .bind(target.client_id)
    .bind(target.brand_id)
    .bind(now)
    .bind(Value::Array(rows).to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A checkout opt-in becomes a consent record (source and time) once per customer.
async fn record_consents(tx: &mut Tx<'_>, target: &Target, prepared: &[Prepared], source: &str, now: i64) -> Result<(), AppError> {
    let mut consenting = consenting(prepared);
    consenting.sort_by_key(|p| p.key_kind());
    let label = consent_source(source);
    for group in consenting.chunk_by(|x, y| x.key_kind() == y.key_kind()) {
        let rows: Vec<Value> = group.iter().map(|p| json!({ "buyer": p.key_value(), "given_at": p.placed_at })).collect();
        let sql = format!(
            "INSERT INTO consents (customer_id, channel, source, given_at, recorded_at) \
             SELECT c.id, 'email', $2, v.given_at, $3 \
             FROM json_to_recordset($4::json) AS v(buyer TEXT, given_at BIGINT) {} \
             WHERE c.id IS NOT NULL ON CONFLICT DO NOTHING",
            customer_join(group[0].key.as_ref())
        );
        sqlx::query(&sql)
            .bind(target.brand_id)
            .bind(label.as_str())
            .bind(now)
            .bind(Value::Array(rows).to_string())
            .execute(&mut **tx)
            .await?;
    }
    for channel in ["sms", "whatsapp"] {
        let mut texts = consenting_by_phone(prepared, channel);
        texts.sort_by_key(|(p, _)| p.key_kind());
        for group in texts.chunk_by(|x, y| x.0.key_kind() == y.0.key_kind()) {
            let rows: Vec<Value> =
                group.iter().map(|(p, wording)| json!({ "buyer": p.key_value(), "given_at": p.placed_at, "wording": wording })).collect();
            let sql = format!(
                "INSERT INTO consents (customer_id, channel, source, given_at, recorded_at, scope, wording) \
             SELECT c.id, $5, $2, v.given_at, $3, 'marketing', v.wording \
             FROM json_to_recordset($4::json) AS v(buyer TEXT, given_at BIGINT, wording TEXT) {} \
             WHERE c.id IS NOT NULL ON CONFLICT DO NOTHING",
                customer_join(group[0].0.key.as_ref())
            );
            sqlx::query(&sql)
                .bind(target.brand_id)
                .bind(label.as_str())
                .bind(now)
                .bind(Value::Array(rows).to_string())
                .bind(channel)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}
