//! SQL of the monthly report mail: which client's month was claimed (`report_mailings`),
//! so that each report goes out once however many processes run the loop.

use crate::db::Db;
use crate::error::AppError;

/// Claims the client's `month` for sending; answers false when it was claimed already.
pub async fn claim(db: &Db, client_id: i64, month: &str, now: i64) -> Result<bool, AppError> {
    Ok(sqlx::query("INSERT INTO report_mailings (client_id, month, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(client_id)
        .bind(month)
        .bind(now)
        .execute(&db.pool)
        .await?
        .rows_affected()
        == 1)
}

/// Gives a claim back after a failed send: the next run tries again.
pub async fn release(db: &Db, client_id: i64, month: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM report_mailings WHERE client_id = $1 AND month = $2").bind(client_id).bind(month).execute(&db.pool).await?;
    Ok(())
}
