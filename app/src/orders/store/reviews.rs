//! SQL of buyers' reviews (`reviews`): buyer data, so it belongs with orders in, where
//! erasure anonymises it. Reports read reviews for their figures and alerts.

use crate::db::Db;
use crate::error::AppError;

/// A review to store, with what it was matched to.
#[derive(Clone, Debug, Default)]
pub struct NewReview {
    pub client_id: i64,
    pub brand_id: i64,
    pub store_id: Option<i64>,
    pub order_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub message_id: Option<i64>,
    pub source_key: String,
    pub platform_order_id: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub reviewed_at: i64,
    pub received_at: i64,
    pub via: String,
}

/// Stores a review once per (brand, source key); answers its id when it is new.
pub async fn insert(db: &Db, r: &NewReview) -> Result<Option<i64>, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO reviews (client_id, brand_id, store_id, order_id, customer_id, message_id, source_key, platform_order_id, rating, \
         title, body, author, reviewed_at, received_at, via) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(r.client_id)
    .bind(r.brand_id)
    .bind(r.store_id)
    .bind(r.order_id)
    .bind(r.customer_id)
    .bind(r.message_id)
    .bind(&r.source_key)
    .bind(&r.platform_order_id)
    .bind(r.rating)
    .bind(&r.title)
    .bind(&r.body)
    .bind(&r.author)
    .bind(r.reviewed_at)
    .bind(r.received_at)
    .bind(&r.via)
    .fetch_optional(&db.pool)
    .await?)
}

/// Anonymises a buyer's reviews on the erasing transaction: a review keeps its stars and
/// words (the client's public review), not who wrote it.
pub async fn anonymise_by(conn: &mut sqlx::AnyConnection, customer_id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE reviews SET author = '', customer_id = NULL WHERE customer_id = $1").bind(customer_id).execute(&mut *conn).await?;
    Ok(())
}
