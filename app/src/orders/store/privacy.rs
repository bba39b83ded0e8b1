//! SQL of buyer privacy on orders, customers and consents: a buyer's orders for the access
//! export, what erasure strips and deletes, and the orders retention deletes. The
//! retention periods are read from `clients` (owned by `clients::store`).

use super::decode;
use crate::db::Db;
use crate::error::AppError;
use crate::orders::model::OrderStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One of a buyer's orders with everything kept about it (the access export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerOrder {
    pub platform_order_id: String,
    pub store: String,
    pub placed_at: i64,
    pub status: OrderStatus,
    pub status_at: i64,
    pub buyer_name: String,
    pub buyer_email: String,
    pub buyer_phone: String,
    pub country: String,
    pub marketplace: String,
    pub currency: String,
    pub total_minor: Option<i64>,
    /// The line items as stored (JSON).
    pub items: String,
}

impl sqlx::FromRow<'_, AnyRow> for BuyerOrder {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(BuyerOrder {
            platform_order_id: r.try_get("platform_order_id")?,
            store: r.try_get("store")?,
            placed_at: r.try_get("placed_at")?,
            status: decode(r, "status", OrderStatus::parse)?,
            status_at: r.try_get("status_at")?,
            buyer_name: r.try_get("buyer_name")?,
            buyer_email: r.try_get("buyer_email")?,
            buyer_phone: r.try_get("buyer_phone")?,
            country: r.try_get("country")?,
            marketplace: r.try_get("marketplace")?,
            currency: r.try_get("currency")?,
            total_minor: r.try_get("total_minor")?,
            items: r.try_get("items")?,
        })
    }
}

/// A customer's orders, oldest first, with their store's name from `stores` (owned by
/// `clients::store`).
pub async fn buyer_orders(db: &Db, customer_id: i64) -> Result<Vec<BuyerOrder>, AppError> {
    Ok(sqlx::query_as::<_, BuyerOrder>(
        "SELECT o.platform_order_id, s.name AS store, o.placed_at, o.status, o.status_at, o.buyer_name, o.buyer_email, \
           o.buyer_phone, o.country, o.marketplace, o.currency, o.total_minor, o.items \
         FROM orders o JOIN stores s ON s.id = o.store_id WHERE o.customer_id = $1 ORDER BY o.placed_at",
    )
    .bind(customer_id)
    .fetch_all(&db.pool)
    .await?)
}

// ----- erasure, on the erasing transaction ---------------------------------------------

/// Strips the customer's orders of who bought them and unlinks them; answers how many.
pub async fn strip_customer_orders(conn: &mut sqlx::AnyConnection, customer_id: i64, at: i64) -> Result<i64, AppError> {
    Ok(sqlx::query(
        "UPDATE orders SET buyer_name = '', buyer_email = '', buyer_phone = '', customer_id = NULL, updated_at = $1 \
         WHERE customer_id = $2",
    )
    .bind(at)
    .bind(customer_id)
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64)
}

/// Strips the brand's orders that carry `address` without being linked to a customer (a
/// buyer erased before); answers how many.
pub async fn strip_address_orders(conn: &mut sqlx::AnyConnection, brand_id: i64, address: &str, at: i64) -> Result<i64, AppError> {
    Ok(sqlx::query(
        "UPDATE orders SET buyer_name = '', buyer_email = '', buyer_phone = '', updated_at = $1 \
         WHERE brand_id = $2 AND (buyer_email = $3 OR buyer_phone = $3)",
    )
    .bind(at)
    .bind(brand_id)
    .bind(address)
    .execute(&mut *conn)
    .await?
    .rows_affected() as i64)
}

/// Deletes the customer record and its consents.
pub async fn delete_customer(conn: &mut sqlx::AnyConnection, customer_id: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM consents WHERE customer_id = $1").bind(customer_id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM customers WHERE id = $1").bind(customer_id).execute(&mut *conn).await?;
    Ok(())
}

// ----- retention -----------------------------------------------------------------------

/// (client, months) of every client with a retention period, read from `clients` (owned
/// by `clients::store`) as retention's one look at every client.
pub async fn retention_periods(db: &Db) -> Result<Vec<(i64, i64)>, AppError> {
    Ok(sqlx::query_as("SELECT id, retention_months FROM clients WHERE retention_months > 0").fetch_all(&db.pool).await?)
}

/// Deletes a client's orders placed before `cutoff`; answers how many.
pub async fn delete_orders_before(db: &Db, client_id: i64, cutoff: i64) -> Result<i64, AppError> {
    Ok(sqlx::query("DELETE FROM orders WHERE client_id = $1 AND placed_at < $2")
        .bind(client_id)
        .bind(cutoff)
        .execute(&db.pool)
        .await?
        .rows_affected() as i64)
}

/// The brand's customers with this e-mail or phone (either may be empty), for a platform's
/// erasure or data request that names a buyer by address.
pub async fn customers_by_address(db: &Db, brand_id: i64, email: &str, phone: &str) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM customers WHERE brand_id = $1 AND ((email <> '' AND email = $2) OR (phone <> '' AND phone = $3)) ORDER BY id",
    )
    .bind(brand_id)
    .bind(email)
    .bind(phone)
    .fetch_all(&db.pool)
    .await?)
}

/// The customers with an order in the store (a shop's erasure after it left).
pub async fn customers_of_store(db: &Db, store_id: i64) -> Result<Vec<i64>, AppError> {
    Ok(sqlx::query_scalar("SELECT DISTINCT customer_id FROM orders WHERE store_id = $1 AND customer_id IS NOT NULL ORDER BY customer_id")
        .bind(store_id)
        .fetch_all(&db.pool)
        .await?)
}
