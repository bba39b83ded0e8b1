//! The tables of connectors: `connections` (one per connected store: its sealed
//! credentials, cursor, schedule, lease and health), `webhook_deliveries` (deliveries
//! already taken), `connection_alerts` (feeds that stopped) and `oauth_states`
//! (authorizations under way), and `rate_buckets` (platform rate limits shared by every
//! process on the database). Reads `clients` and `stores` (owned by `clients::store`) for
//! the names on the Connections page.

use super::model::{ConnectionRow, ConnectionState, Platform};
use crate::db::{Backend, Db};
use crate::error::AppError;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A connection as the scheduler and webhooks use it (the sealed secret included).
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: i64,
    pub client_id: i64,
    pub store_id: i64,
    pub platform: Platform,
    pub account: String,
    pub region: String,
    pub marketplace_ids: String,
    pub secret: String,
    pub state: ConnectionState,
    pub cursor_at: i64,
    pub interval_secs: i64,
    pub failures: i64,
    pub last_success_at: Option<i64>,
    pub reauthorize_by: Option<i64>,
    pub created_at: i64,
}

fn decode<T>(r: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    let text: String = r.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode { index: column.to_string(), source: format!("unknown value {text:?}").into() })
}

impl sqlx::FromRow<'_, AnyRow> for Connection {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Connection {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            store_id: r.try_get("store_id")?,
            platform: decode(r, "platform", Platform::parse)?,
            account: r.try_get("account")?,
            region: r.try_get("region")?,
            marketplace_ids: r.try_get("marketplace_ids")?,
            secret: r.try_get("secret")?,
            state: decode(r, "state", ConnectionState::parse)?,
            cursor_at: r.try_get("cursor_at")?,
            interval_secs: r.try_get("interval_secs")?,
            failures: r.try_get("failures")?,
            last_success_at: r.try_get("last_success_at")?,
            reauthorize_by: r.try_get("reauthorize_by")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

const CONNECTION: &str = "SELECT id, client_id, store_id, platform, account, region, marketplace_ids, secret, state, cursor_at, \
    interval_secs, failures, last_success_at, reauthorize_by, created_at FROM connections";

/// What connecting a store stores.
pub struct NewConnection<'a> {
    pub client_id: i64,
    pub store_id: i64,
    pub platform: Platform,
    pub account: &'a str,
    pub region: &'a str,
    pub marketplace_ids: &'a str,
    pub sealed: &'a str,
    pub reauthorize_by: Option<i64>,
    pub interval_secs: i64,
    pub by: &'a str,
}

/// Connects a store, or connects it again with new credentials: its cursor is kept, so a
/// store connected again after its authorization ran out resumes where it stopped.
pub async fn connect(db: &Db, c: &NewConnection<'_>, now: i64) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO connections (client_id, store_id, platform, account, region, marketplace_ids, secret, state, interval_secs, \
           next_sync_at, authorized_at, reauthorize_by, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $10) \
         ON CONFLICT (store_id) DO UPDATE SET platform = excluded.platform, account = excluded.account, region = excluded.region, \
           marketplace_ids = excluded.marketplace_ids, secret = excluded.secret, state = excluded.state, \
           next_sync_at = excluded.next_sync_at, authorized_at = excluded.authorized_at, reauthorize_by = excluded.reauthorize_by, \
           failures = 0, last_error = '', lease_owner = '', lease_until = 0, token_expires_at = NULL, reauth_warned_at = NULL, \
           cursor_at = CASE WHEN connections.platform = excluded.platform AND connections.account = excluded.account \
             THEN connections.cursor_at ELSE 0 END \
         RETURNING id",
    )
    .bind(c.client_id)
    .bind(c.store_id)
    .bind(c.platform.as_str())
    .bind(c.account)
    .bind(c.region)
    .bind(c.marketplace_ids)
    .bind(c.sealed)
    .bind(ConnectionState::Pending.as_str())
    .bind(c.interval_secs)
    .bind(now)
    .bind(c.reauthorize_by)
    .bind(c.by)
    .fetch_one(&db.pool)
    .await?)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(&format!("{CONNECTION} WHERE id = $1")).bind(id).fetch_optional(&db.pool).await?)
}

pub async fn of_store(db: &Db, store_id: i64) -> Result<Option<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(&format!("{CONNECTION} WHERE store_id = $1")).bind(store_id).fetch_optional(&db.pool).await?)
}

/// The live connections of a platform account (a shop domain may be connected to the
/// stores of more than one brand).
pub async fn of_account(db: &Db, platform: Platform, account: &str) -> Result<Vec<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(&format!("{CONNECTION} WHERE platform = $1 AND account = $2 AND secret <> '' ORDER BY id"))
        .bind(platform.as_str())
        .bind(account)
        .fetch_all(&db.pool)
        .await?)
}

/// Takes the connection most overdue for a pull, for `lease_ms`: one statement, so two
/// processes never take the same one (the second finds the lease taken and updates
/// nothing; PostgreSQL re-checks the condition on the locked row).
pub async fn claim_due(db: &Db, owner: &str, now: i64, lease_ms: i64) -> Result<Option<Connection>, AppError> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE connections SET lease_owner = $1, lease_until = $2 \
         WHERE id = (SELECT id FROM connections WHERE state IN ('pending', 'healthy', 'failing') AND secret <> '' \
             AND next_sync_at <= $3 AND lease_until < $3 ORDER BY next_sync_at LIMIT 1) \
           AND lease_until < $3 AND state IN ('pending', 'healthy', 'failing') \
         RETURNING id",
    )
    .bind(owner)
    .bind(now + lease_ms)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    match id {
        Some(id) => get(db, id).await,
        None => Ok(None),
    }
}

/// Keeps the lease while a long pull goes on, and saves how far it got; false when the
/// lease was lost (another process took the connection over, or it was disconnected).
pub async fn checkpoint(db: &Db, id: i64, owner: &str, until: i64, cursor_at: i64) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE connections SET lease_until = $1, cursor_at = CASE WHEN $2 > cursor_at THEN $2 ELSE cursor_at END \
         WHERE id = $3 AND lease_owner = $4 AND secret <> ''",
    )
    .bind(until)
    .bind(cursor_at)
    .bind(id)
    .bind(owner)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a refreshed access token (sealed with the rest of the credentials).
pub async fn save_secret(db: &Db, id: i64, sealed: &str, token_expires_at: Option<i64>) -> Result<(), AppError> {
    sqlx::query("UPDATE connections SET secret = $1, token_expires_at = $2 WHERE id = $3 AND secret <> ''")
        .bind(sealed)
        .bind(token_expires_at)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Orders a pull or webhook brought in today (the UTC day `day`).
pub async fn add_received(db: &Db, id: i64, day: i64, received: i64, rejected: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE connections SET received_today = CASE WHEN received_day = $2 THEN received_today + $3 ELSE $3 END, \
           received_day = $2, rejected_total = rejected_total + $4 WHERE id = $1",
    )
    .bind(id)
    .bind(day)
    .bind(received)
    .bind(rejected)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// How a pull ended: healthy, or `state` (failing, needs re-authorization) with the error
/// in plain words.
pub enum Ending<'a> {
    Succeeded,
    Failed(ConnectionState, &'a str),
}

/// Records a pull's end (the next one due at `next_at`) and releases the lease.
pub async fn finished(db: &Db, id: i64, owner: &str, ending: Ending<'_>, now: i64, next_at: i64) -> Result<(), AppError> {
    let (state, error, success) = match ending {
        Ending::Succeeded => (ConnectionState::Healthy, "", true),
        Ending::Failed(state, error) => (state, error, false),
    };
    sqlx::query(
        "UPDATE connections SET state = $1, last_error = $2, last_attempt_at = $3, next_sync_at = $4, lease_owner = '', lease_until = 0, \
           failures = CASE WHEN $7 = 1 THEN 0 ELSE failures + 1 END, \
           last_success_at = CASE WHEN $7 = 1 THEN $3 ELSE last_success_at END \
         WHERE id = $5 AND lease_owner = $6 AND secret <> ''",
    )
    .bind(state.as_str())
    .bind(error)
    .bind(now)
    .bind(next_at)
    .bind(id)
    .bind(owner)
    .bind(i64::from(success))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Deletes the credentials; the row stays for its history on the page.
pub async fn disconnect(db: &Db, id: i64) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE connections SET secret = '', state = $1, lease_owner = '', lease_until = 0, token_expires_at = NULL WHERE id = $2 AND secret <> ''",
    )
    .bind(ConnectionState::Disconnected.as_str())
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_interval(db: &Db, id: i64, secs: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE connections SET interval_secs = $1 WHERE id = $2").bind(secs).bind(id).execute(&db.pool).await?;
    Ok(())
}

/// Makes the next pull due now (a user asked, or a webhook told of a change).
pub async fn due_now(db: &Db, id: i64, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE connections SET next_sync_at = $1 WHERE id = $2 AND next_sync_at > $1")
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Connections of the given clients (all when `None`) for the Connections page.
pub async fn list(db: &Db, clients: Option<&[i64]>, now: i64) -> Result<Vec<ConnectionRow>, AppError> {
    let scope = match clients {
        None => String::new(),
        Some([]) => " WHERE 1 = 0".into(),
        Some(ids) => format!(" WHERE k.client_id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
    };
    let rows = sqlx::query(&format!(
        "SELECT k.id, k.client_id, cl.name AS client, k.store_id, s.name AS store, k.platform, k.account, k.state, k.last_success_at, \
           k.last_attempt_at, k.received_day, k.received_today, k.last_error, k.interval_secs, k.next_sync_at, k.reauthorize_by, \
           (SELECT a.reason FROM connection_alerts a WHERE a.connection_id = k.id AND a.closed_at IS NULL) AS alert \
         FROM connections k JOIN clients cl ON cl.id = k.client_id JOIN stores s ON s.id = k.store_id{scope} \
         ORDER BY cl.name, s.name"
    ))
    .fetch_all(&db.pool)
    .await?;
    let today = now.div_euclid(86_400_000);
    rows.iter()
        .map(|r| -> Result<ConnectionRow, sqlx::Error> {
            let last_success_at: Option<i64> = r.try_get("last_success_at")?;
            let day: i64 = r.try_get("received_day")?;
            Ok(ConnectionRow {
                id: r.try_get("id")?,
                client_id: r.try_get("client_id")?,
                client: r.try_get("client")?,
                store_id: r.try_get("store_id")?,
                store: r.try_get("store")?,
                platform: decode(r, "platform", Platform::parse)?,
                account: r.try_get("account")?,
                state: decode(r, "state", ConnectionState::parse)?,
                last_success_at,
                last_attempt_at: r.try_get("last_attempt_at")?,
                lag_secs: last_success_at.map(|at| (now - at).max(0) / 1000),
                received_today: if day == today { r.try_get("received_today")? } else { 0 },
                last_error: r.try_get("last_error")?,
                interval_secs: r.try_get("interval_secs")?,
                next_sync_at: r.try_get("next_sync_at")?,
                reauthorize_by: r.try_get("reauthorize_by")?,
                alert: r.try_get("alert")?,
            })
        })
        .collect::<Result<_, _>>()
        .map_err(AppError::from)
}

// ----- webhooks ------------------------------------------------------------------------

/// Whether this delivery was taken before.
pub async fn delivered_before(db: &Db, connection_id: i64, webhook_id: &str) -> Result<bool, AppError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT connection_id FROM webhook_deliveries WHERE connection_id = $1 AND webhook_id = $2")
            .bind(connection_id)
            .bind(webhook_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.is_some())
}

/// Notes a delivery as taken (after its work is done, so a failed one is taken again when
/// the platform retries it).
pub async fn record_delivery(db: &Db, connection_id: i64, webhook_id: &str, now: i64) -> Result<(), AppError> {
    sqlx::query("INSERT INTO webhook_deliveries (connection_id, webhook_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(connection_id)
        .bind(webhook_id)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets deliveries older than `before` (platforms retry for two days at most).
pub async fn forget_deliveries(db: &Db, before: i64) -> Result<(), AppError> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1").bind(before).execute(&db.pool).await?;
    Ok(())
}

// ----- alerts --------------------------------------------------------------------------

/// Opens the connection's alert; true when it was not open already.
pub async fn open_alert(db: &Db, connection_id: i64, client_id: i64, reason: &str, now: i64) -> Result<bool, AppError> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO connection_alerts (connection_id, client_id, reason, opened_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(connection_id)
    .bind(client_id)
    .bind(reason)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    Ok(id.is_some())
}

/// Closes the connection's open alert; true when one was open.
pub async fn close_alert(db: &Db, connection_id: i64, now: i64) -> Result<bool, AppError> {
    let done = sqlx::query("UPDATE connection_alerts SET closed_at = $1 WHERE connection_id = $2 AND closed_at IS NULL")
        .bind(now)
        .bind(connection_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Live connections with no successful pull since `before` (or never, connected before it).
pub async fn stale(db: &Db, before: i64) -> Result<Vec<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(&format!(
        "{CONNECTION} WHERE secret <> '' AND state <> 'disconnected' AND COALESCE(last_success_at, created_at) < $1"
    ))
    .bind(before)
    .fetch_all(&db.pool)
    .await?)
}

/// Live connections whose authorization ends before `before` and whose managers were
/// not told yet; each is marked as told.
pub async fn ending_authorizations(db: &Db, before: i64, now: i64) -> Result<Vec<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(
        "UPDATE connections SET reauth_warned_at = $2 WHERE secret <> '' AND reauthorize_by < $1 AND reauth_warned_at IS NULL \
         RETURNING id, client_id, store_id, platform, account, region, marketplace_ids, secret, state, cursor_at, \
           interval_secs, failures, last_success_at, reauthorize_by, created_at",
    )
    .bind(before)
    .bind(now)
    .fetch_all(&db.pool)
    .await?)
}

// ----- OAuth ---------------------------------------------------------------------------

/// An authorization under way.
#[derive(Clone, Debug)]
pub struct OAuthState {
    pub store_id: i64,
    pub platform: Platform,
    pub account: String,
    pub user_id: i64,
    pub created_at: i64,
}

pub async fn save_state(db: &Db, state: &str, s: &OAuthState) -> Result<(), AppError> {
    sqlx::query("INSERT INTO oauth_states (state, store_id, platform, account, user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(state)
        .bind(s.store_id)
        .bind(s.platform.as_str())
        .bind(s.account.as_str())
        .bind(s.user_id)
        .bind(s.created_at)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Takes (and deletes) an authorization's state: each can be used once.
pub async fn take_state(db: &Db, state: &str) -> Result<Option<OAuthState>, AppError> {
    let row = sqlx::query("DELETE FROM oauth_states WHERE state = $1 RETURNING store_id, platform, account, user_id, created_at")
        .bind(state)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| -> Result<OAuthState, sqlx::Error> {
        Ok(OAuthState {
            store_id: r.try_get("store_id")?,
            platform: decode(&r, "platform", Platform::parse)?,
            account: r.try_get("account")?,
            user_id: r.try_get("user_id")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
    .map_err(AppError::from)
}

// ---------------------------------------------------------------------------------------
// Amazon's request a review
// ---------------------------------------------------------------------------------------

/// Amazon connections whose credentials are usable now (not disconnected, not waiting for
/// re-authorization): the sellers whose review requests may go out.
pub async fn solicitable(db: &Db) -> Result<Vec<Connection>, AppError> {
    Ok(sqlx::query_as::<_, Connection>(&format!(
        "{CONNECTION} WHERE platform = 'amazon' AND secret <> '' AND state NOT IN ('needs_reauth', 'disconnected') ORDER BY id"
    ))
    .fetch_all(&db.pool)
    .await?)
}

/// The platform refused a connection's credentials outside a pull (a review request):
/// it needs re-authorization, with the reason, and is not pulled until then.
pub async fn refused(db: &Db, id: i64, why: &str, now: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE connections SET state = $1, last_error = $2, last_attempt_at = $3, next_sync_at = $4 WHERE id = $5 AND secret <> ''",
    )
    .bind(ConnectionState::NeedsReauth.as_str())
    .bind(why)
    .bind(now)
    .bind(i64::MAX / 2)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rate buckets
// ---------------------------------------------------------------------------------------

/// Takes one request from the token bucket `bucket` at `now` (epoch ms): the bucket refills
/// at `rate` per second up to `burst`, and is made full the first time it is named. One
/// statement: on PostgreSQL the row lock orders the processes that share it. Answers
/// `None` when taken, else how many milliseconds until a token is there.
pub async fn take_token(db: &Db, bucket: &str, rate: f64, burst: f64, now: i64) -> Result<Option<i64>, AppError> {
    let (least, greatest) = match db.backend {
        Backend::Postgres => ("LEAST", "GREATEST"),
        Backend::Sqlite => ("MIN", "MAX"),
    };
    // What the bucket holds at `now`: never more than its burst; a clock that is behind
    // the last take's (another process's) counts as no time passed.
    let filled = format!("{least}(burst, tokens + {greatest}(0, $2 - updated_at) * rate / 1000.0)");
    let take = format!(
        "UPDATE rate_buckets SET tokens = {filled} - 1, updated_at = {greatest}(updated_at, $2) WHERE bucket = $1 AND {filled} >= 1 \
         RETURNING tokens"
    );
    let look = format!("SELECT {filled}, rate FROM rate_buckets WHERE bucket = $1");
    for _ in 0..2 {
        let taken: Option<f64> = sqlx::query_scalar(&take).bind(bucket).bind(now).fetch_optional(&db.pool).await?;
        if taken.is_some() {
            return Ok(None);
        }
        let held: Option<(f64, f64)> = sqlx::query_as(&look).bind(bucket).bind(now).fetch_optional(&db.pool).await?;
        if let Some((held, rate)) = held {
            return Ok(Some((((1.0 - held) / rate.max(0.001)) * 1000.0).ceil().max(1.0) as i64));
        }
        // The first take of this bucket: it starts full.
        sqlx::query(
            "INSERT INTO rate_buckets (bucket, tokens, rate, burst, updated_at) VALUES ($1, $2, $3, $2, $4) ON CONFLICT DO NOTHING",
        )
        .bind(bucket)
        .bind(burst)
        .bind(rate)
        .bind(now)
        .execute(&db.pool)
        .await?;
    }
    Ok(Some(1))
}

/// The platform announced another rate for the bucket (`x-amzn-RateLimit-Limit`).
pub async fn set_rate(db: &Db, bucket: &str, rate: f64) -> Result<(), AppError> {
    sqlx::query("UPDATE rate_buckets SET rate = $1 WHERE bucket = $2 AND rate <> $1").bind(rate).bind(bucket).execute(&db.pool).await?;
    Ok(())
}

/// The platform answered 429 all the same: the bucket is empty from `now`.
pub async fn drain(db: &Db, bucket: &str, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE rate_buckets SET tokens = 0, updated_at = $1 WHERE bucket = $2").bind(now).bind(bucket).execute(&db.pool).await?;
    Ok(())
}
