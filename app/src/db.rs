//! The database handle: SQLite (default, a file in the data folder, WAL) or PostgreSQL,
//! behind one sqlx `Any` pool so every query is written once for both.

use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::AnyPool;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The `i`-th bind parameter (1-based) of a statement whose parameters appear in order
    /// and once each: `$i` on PostgreSQL, `?` on SQLite. (SQLite finds a named parameter
    /// such as `$7` by a linear scan on every bind, so a multi-row statement with
    /// thousands of them binds in quadratic time: 90 ms instead of 2 ms for 9,500.)
    pub fn param(self, i: usize) -> String {
        match self {
            Backend::Postgres => format!("${i}"),
            Backend::Sqlite => "?".to_string(),
        }
    }

    /// An aggregate that joins a text expression of every row into one value, records
    /// separated by [`RECORD_SEP`]: one row out of the database instead of thousands, for
    /// bulk reads where the per-row cost of the driver would dominate.
    pub fn packed(self, expr: &str) -> String {
        match self {
            Backend::Postgres => format!("string_agg({expr}, chr(30))"),
            Backend::Sqlite => format!("group_concat({expr}, char(30))"),
        }
    }

    /// The field separator of [`Backend::packed`] records, as an SQL expression.
    pub fn field_sep(self) -> &'static str {
        match self {
            Backend::Postgres => "chr(31)",
            Backend::Sqlite => "char(31)",
        }
    }

    /// A free-text column made safe to pack: separators removed, NULL as ''.
    pub fn packable(self, column: &str) -> String {
        let (rs, us) = match self {
            Backend::Postgres => ("chr(30)", "chr(31)"),
            Backend::Sqlite => ("char(30)", "char(31)"),
        };
        format!("COALESCE(replace(replace(CAST({column} AS TEXT), {rs}, ''), {us}, ''), '')")
    }

    /// `count` parameters from the `first`, comma-separated.
    pub fn params(self, first: usize, count: usize) -> String {
        (first..first + count).map(|i| self.param(i)).collect::<Vec<_>>().join(",")
    }

    /// `(…),(…)`: the VALUES of a multi-row statement, `rows` rows of `per_row`
    /// parameters each, numbered from 1.
    pub fn rows(self, rows: usize, per_row: usize) -> String {
        (0..rows).map(|r| format!("({})", self.params(1 + r * per_row, per_row))).collect::<Vec<_>>().join(",")
    }
}

/// Separates the records of a [`Backend::packed`] value.
pub const RECORD_SEP: char = '\u{1e}';
/// Separates the fields of one packed record.
pub const FIELD_SEP: char = '\u{1f}';

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The SQLite database file (None on PostgreSQL), for the order writer's own
    /// connection (`orders::store::sqlite`).
    pub sqlite_file: Option<std::path::PathBuf>,
}

/// Page cache of a pooled SQLite connection (8 MB) and of one doing bulk work (64 MB).
const SQLITE_CACHE_SIZE: &str = "PRAGMA cache_size = -8192";
pub(crate) const SQLITE_BULK_CACHE_SIZE: &str = "PRAGMA cache_size = -65536";

pub(crate) const SQLITE_PRAGMAS: [&str; 7] = [
    // 8 KiB pages: shallower indexes for tables of millions of orders. Takes effect when
    // the database file is created (before the first table), ignored afterwards.
    "PRAGMA page_size = 8192",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    // 8 MB of page cache per connection (the default is 2 MB). A pool of eight that each
    // filled a large cache would hold hundreds of MB; bulk work raises its own
    // connection's cache (a planning pass for its duration with `BulkCache`; the order
    // writer's own connection, `orders::store::sqlite`, from the start).
    SQLITE_CACHE_SIZE,
    // Checkpoint the WAL every 16,384 pages (128 MB) rather than every 1,000: fewer,
    // larger checkpoints during imports.
    "PRAGMA wal_autocheckpoint = 16384",
];

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Db {
    /// Opens the pool named by `url` (`sqlite://…` or `postgres://…`) and runs migrations.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration("the database URL must start with sqlite:// or postgres://".into()));
        };
        let pool = match backend {
            Backend::Sqlite => {
                // The Any driver takes only a URL, so the file is created through
                // `mode=rwc`, and WAL, foreign keys and the busy timeout are set on every
                // new connection (they are per-connection pragmas in SQLite).
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in SQLITE_PRAGMAS {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // Plan each execution with its values and the current statistics:
                            // a generic plan cached while a table was empty (a sequential
                            // scan) would otherwise stay while it grows to millions of rows.
                            sqlx::query("SET plan_cache_mode = force_custom_plan").execute(&mut *conn).await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let sqlite_file = (backend == Backend::Sqlite).then(|| sqlite_file(url));
        let db = Db { pool, backend, sqlite_file };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), sqlx::Error> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(|e| sqlx::Error::Migrate(Box::new(e)))
    }

    /// `true` when a trivial query succeeds (for `/healthz`).
    pub async fn is_reachable(&self) -> bool {
        let probe = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Ok(_)))
    }
}

/// The file of a `sqlite://path?options` (or `sqlite:path`) URL.
fn sqlite_file(url: &str) -> std::path::PathBuf {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// A large SQLite page cache for one connection while it does bulk work: without it the
/// index inserts of a million-row import or a planning pass read the same pages again and
/// again. Only touched pages cost memory, and `end` gives them back (SQLite frees pages
/// beyond a lowered cache size), so the pool's idle connections stay small.
pub struct BulkCache(Backend);

impl BulkCache {
    /// 64 MB of page cache on `conn` (nothing on PostgreSQL, whose cache is the server's).
    pub async fn begin(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<BulkCache, sqlx::Error> {
        if backend == Backend::Sqlite {
            sqlx::query(SQLITE_BULK_CACHE_SIZE).execute(&mut *conn).await?;
        }
        Ok(BulkCache(backend))
    }

    /// Back to the pool's cache size (call on every path, errors included).
    pub async fn end(self, conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
        if self.0 == Backend::Sqlite {
            sqlx::query(SQLITE_CACHE_SIZE).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `true` when a write touched no row (for "not found" answers).
pub fn touched_nothing(result: &AnyQueryResult) -> bool {
    result.rows_affected() == 0
}

/// Milliseconds since the epoch, the one time representation in the database.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
