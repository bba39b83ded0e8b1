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
    /// The database a connection (or a transaction, through `Deref`) talks to: statements
    /// built inside a transaction, away from the pool's `Db`, ask it.
    pub fn of(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

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

/// The records of a [`Backend::packed`] value (none for NULL, the aggregate of no rows).
pub fn packed_records(packed: Option<&str>) -> impl Iterator<Item = &str> {
    packed.unwrap_or_default().split(RECORD_SEP).filter(|r| !r.is_empty())
}

/// An integer field of a packed record; `None` when empty (NULL) or absent.
pub fn packed_int(field: Option<&str>) -> Option<i64> {
    field.filter(|f| !f.is_empty())?.parse().ok()
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The SQLite database file (None on PostgreSQL), for the order writer's own
    /// connection (`orders::store::sqlite`).
    pub sqlite_file: Option<std::path::PathBuf>,
}

/// Page cache of a pooled SQLite connection (2 MB, SQLite's own default) and of one doing
/// bulk work (64 MB). Each of the pool's eight connections keeps its cache for as long as
/// it lives, so a larger pooled cache is paid eight times over (8 MB each held a sending
/// server 50 MB higher) while the bulk paths, which reread pages, raise their own.
const SQLITE_CACHE_SIZE: &str = "PRAGMA cache_size = -2048";
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

/// Columns that must allow NULL though the SQLite migrations that made them said NOT NULL
/// (Amazon campaigns have no template, their messages no version and often no buyer): see
/// `Db::relax_not_null`.
const SQLITE_NULLABLE: [(&str, &[&str]); 2] = [("campaigns", &["template_id"]), ("messages", &["customer_id", "template_version_id"])];

/// `CREATE TABLE <name> ` as a table's schema begins (the name may be quoted).
fn create_head(create: &str) -> String {
    let open = create.find('(').unwrap_or(create.len());
    create[..open].to_string()
}

/// A `CREATE TABLE` statement without its comments and without NOT NULL on `columns`;
/// `None` when one of them is not found.
fn without_not_null(create: &str, columns: &[&str]) -> Option<String> {
    // Comments may hold commas and brackets: gone first.
    let sql: String = create.lines().map(|line| line.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let (open, close) = (sql.find('(')?, sql.rfind(')')?);
    let mut parts: Vec<String> = Vec::new();
    let (mut depth, mut start) = (0i32, open + 1);
    for (i, c) in sql[..close].char_indices().skip(open + 1) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(sql[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(sql[start..close].to_string());
    let mut found = 0;
    for part in &mut parts {
        let name = part.split_whitespace().next().unwrap_or_default().trim_matches(['"', '`', '[', ']']);
        if columns.contains(&name) {
            let upper = part.to_ascii_uppercase();
            let at = upper.find("NOT NULL")?;
            part.replace_range(at..at + "NOT NULL".len(), "");
            found += 1;
        }
    }
    (found == columns.len()).then(|| format!("{}({})", &sql[..open], parts.join(",")))
}

/// The migrations, compiled into the binary as `(version, name, SQL)`, named and versioned
/// from their file names (`0001_foundation.sql`) exactly as sqlx's own `migrate!` does, so
/// the checksums recorded in existing databases match. Not `migrate!` itself: it needs
/// sqlx's `macros` feature, which compiles both database drivers and SQLite's C source a
/// second time into a procedural macro (about two minutes of every cold build). The test
/// `the_embedded_migrations_are_the_folders` keeps these lists equal to the folders.
macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../../migrations/", $dir, "/", stringify!($version), "_", $name, ".sql")))),*]
    };
}

type EmbeddedMigrations = &'static [(i64, &'static str, &'static str)];

// `stringify!` of `0001` keeps the leading zeros of the file name.
static SQLITE_MIGRATIONS: EmbeddedMigrations = migrations!("sqlite":
    0001 "foundation", 0002 "orders", 0003 "templates", 0004 "campaigns", 0005 "canary_events",
    0006 "delivery", 0007 "decisions_clustered", 0008 "reports", 0009 "drop_redundant_index", 0010 "hardening", 0011 "connectors", 0012 "solicitations", 0013 "texts", 0014 "whatsapp",
);
static POSTGRES_MIGRATIONS: EmbeddedMigrations = migrations!("postgres":
    0001 "foundation", 0002 "orders", 0003 "templates", 0004 "campaigns", 0005 "canary_events",
    0006 "delivery", 0007 "decisions_clustered", 0008 "reports", 0009 "drop_redundant_index", 0010 "hardening", 0011 "connectors", 0012 "solicitations", 0013 "texts", 0014 "whatsapp",
);

/// The embedded migrations as sqlx's migrator reads a folder of them.
#[derive(Debug)]
struct Embedded(EmbeddedMigrations);

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async move { Ok(embedded_migrations(self.0)) })
    }
}

fn embedded_migrations(list: EmbeddedMigrations) -> Vec<sqlx::migrate::Migration> {
    list.iter()
        .map(|(version, name, sql)| {
            sqlx::migrate::Migration::new(
                *version,
                name.replace('_', " ").into(),
                sqlx::migrate::MigrationType::Simple,
                (*sql).into(),
                sql.starts_with("-- no-transaction"),
            )
        })
        .collect()
}

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
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrator = sqlx::migrate::Migrator::new(Embedded(list)).await?;
        migrator.run(&self.pool).await.map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
        if self.backend == Backend::Sqlite {
            for (table, columns) in SQLITE_NULLABLE {
                self.relax_not_null(table, columns).await?;
            }
        }
        Ok(())
    }

    /// Lets `columns` of `table` be NULL on SQLite, which cannot drop a NOT NULL in place:
    /// the table is rebuilt from its own schema without those constraints (SQLite's
    /// documented procedure: create the new table, copy, drop the old, rename, recreate the
    /// indexes), once, on a connection with foreign keys off (dropping the old table would
    /// otherwise delete every row that refers to it), in one transaction. sqlx runs SQLite
    /// migrations inside a transaction, where foreign keys cannot be switched off, so this
    /// runs after them; a database whose columns already allow NULL is left alone.
    async fn relax_not_null(&self, table: &str, columns: &[&str]) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut conn = self.pool.acquire().await?;
        let info: Vec<(String, i64)> =
            sqlx::query_as(&format!("SELECT name, \"notnull\" FROM pragma_table_info('{table}')")).fetch_all(&mut *conn).await?;
        let strict: Vec<&str> = columns.iter().copied().filter(|c| info.iter().any(|(name, notnull)| name == c && *notnull == 1)).collect();
        if strict.is_empty() {
            return Ok(());
        }
        let schema: Vec<(String, String)> =
            sqlx::query_as("SELECT type, sql FROM sqlite_master WHERE tbl_name = $1 AND sql IS NOT NULL ORDER BY type DESC")
                .bind(table)
                .fetch_all(&mut *conn)
                .await?;
        let Some(create) = schema.iter().find(|(kind, _)| kind == "table").map(|(_, sql)| sql.clone()) else { return Ok(()) };
        let indexes: Vec<String> = schema.into_iter().filter(|(kind, _)| kind == "index").map(|(_, sql)| sql).collect();
        let rebuilt = format!("{table}_rebuilt");
        let create = without_not_null(&create, &strict)
            .ok_or_else(|| sqlx::Error::Protocol(format!("the schema of {table} could not be read to relax {strict:?}")))?
            .replacen(&create_head(&create), &format!("CREATE TABLE {rebuilt} "), 1);
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
        let result = async {
            let mut tx = conn.begin().await?;
            sqlx::query(&create).execute(&mut *tx).await?;
            sqlx::query(&format!("INSERT INTO {rebuilt} SELECT * FROM {table}")).execute(&mut *tx).await?;
            sqlx::query(&format!("DROP TABLE {table}")).execute(&mut *tx).await?;
            sqlx::query(&format!("ALTER TABLE {rebuilt} RENAME TO {table}")).execute(&mut *tx).await?;
            for index in &indexes {
                sqlx::query(index).execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
        result
    }

    /// A consistent copy of a SQLite database in `file`, taken while the server runs
    /// (`VACUUM INTO` reads one snapshot; writers go on meanwhile). PostgreSQL is backed
    /// up with its own tools (`pg_dump`), which this refuses, naming them.
    pub async fn backup_to(&self, file: &std::path::Path) -> Result<(), crate::error::AppError> {
        if self.backend != Backend::Sqlite {
            return Err(crate::error::AppError::invalid(
                "database",
                "This is a PostgreSQL database: back it up with pg_dump (see the README's Backups section).",
            ));
        }
        if file.exists() {
            return Err(crate::error::AppError::invalid("file", format!("{} exists already; choose a new file.", file.display())));
        }
        let path = file.to_str().ok_or_else(|| crate::error::AppError::invalid("file", "The backup path is not valid UTF-8."))?;
        sqlx::query("VACUUM INTO $1").bind(path).execute(&self.pool).await?;
        Ok(())
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

#[cfg(test)]
mod migration_tests {
    use super::*;

    /// The embedded lists hold every file of the migration folders, and give sqlx exactly
    /// what its own reading of those folders gives (versions, names, checksums).
    #[test]
    fn not_null_goes_from_the_named_columns_only() {
        let create = "CREATE TABLE \"messages\" (\n    id INTEGER PRIMARY KEY,\n    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE, -- the buyer, (or none)\n    \
                      locale TEXT NOT NULL, version BIGINT NOT NULL REFERENCES v (id)\n, extra TEXT NOT NULL DEFAULT '')";
        let relaxed = without_not_null(create, &["customer_id", "version"]).unwrap();
        assert!(relaxed.contains("customer_id BIGINT  REFERENCES customers (id) ON DELETE CASCADE"), "{relaxed}");
        assert!(relaxed.contains("version BIGINT  REFERENCES v (id)") && relaxed.contains("locale TEXT NOT NULL"), "{relaxed}");
        assert!(relaxed.contains("extra TEXT NOT NULL DEFAULT ''") && !relaxed.contains("--"), "{relaxed}");
        assert_eq!(create_head(create), "CREATE TABLE \"messages\" ");
        assert!(without_not_null(create, &["nowhere"]).is_none());
    }

    #[tokio::test]
    async fn relaxing_a_column_keeps_every_row_index_and_reference() {
        let dir = std::env::temp_dir().join(format!("starling-relax-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("a.db").display());
        let db = Db::connect(&url).await.unwrap();
        // A new database has the Amazon columns relaxed, with messages' indexes and the
        // references to it as they were.
        let strict: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM pragma_table_info('messages') WHERE \"notnull\" = 1 AND name IN ('customer_id', 'template_version_id', 'order_id')",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(strict, vec![("order_id".to_string(),)]);
        let indexes: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(indexes, 7, "every index of messages is back");
        let fk: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_list('message_events')").fetch_all(&db.pool).await.unwrap();
        assert_eq!(fk, vec![("messages".to_string(),)]);
        // A table with rows and rows that refer to it (cascading): nothing is lost.
        for sql in [
            "CREATE TABLE relax_parent (id INTEGER PRIMARY KEY, a TEXT NOT NULL, -- a comment, with (brackets)\n b TEXT NOT NULL)",
            "CREATE INDEX relax_parent_b ON relax_parent (b)",
            "CREATE TABLE relax_child (id INTEGER PRIMARY KEY, parent BIGINT NOT NULL REFERENCES relax_parent (id) ON DELETE CASCADE)",
            "INSERT INTO relax_parent (id, a, b) VALUES (1, 'x', 'y'), (2, 'z', 'w')",
            "INSERT INTO relax_child (parent) VALUES (1), (2), (2)",
        ] {
            sqlx::query(sql).execute(&db.pool).await.unwrap();
        }
        db.relax_not_null("relax_parent", &["a"]).await.unwrap();
        sqlx::query("INSERT INTO relax_parent (id, a, b) VALUES (3, NULL, 'v')").execute(&db.pool).await.unwrap();
        let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM relax_child").fetch_one(&db.pool).await.unwrap();
        assert_eq!(children, 3, "no row referring to the rebuilt table was deleted");
        let kept: Vec<(i64, Option<String>, String)> =
            sqlx::query_as("SELECT id, a, b FROM relax_parent ORDER BY id").fetch_all(&db.pool).await.unwrap();
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[1], (2, Some("z".into()), "w".into()));
        let b_strict: i64 = sqlx::query_scalar("SELECT \"notnull\" FROM pragma_table_info('relax_parent') WHERE name = 'b'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(b_strict, 1, "other columns keep NOT NULL");
        let index: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'relax_parent_b'").fetch_one(&db.pool).await.unwrap();
        assert_eq!(index, 1);
        // Foreign keys are on again, and cascade as before.
        sqlx::query("DELETE FROM relax_parent WHERE id = 2").execute(&db.pool).await.unwrap();
        let children: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM relax_child").fetch_one(&db.pool).await.unwrap();
        assert_eq!(children, 1);
        // Connecting again finds nothing to do.
        db.pool.close().await;
        Db::connect(&url).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_embedded_migrations_are_the_folders() {
        for (dir, list) in [("sqlite", SQLITE_MIGRATIONS), ("postgres", POSTGRES_MIGRATIONS)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dir);
            let from_folder = sqlx::migrate::Migrator::new(path.as_path()).await.expect("the migration folder");
            let embedded = embedded_migrations(list);
            let key = |m: &sqlx::migrate::Migration| (m.version, m.description.to_string(), m.checksum.to_vec(), m.no_tx);
            let want: Vec<_> = from_folder.iter().map(key).collect();
            let have: Vec<_> = embedded.iter().map(key).collect();
            assert_eq!(have, want, "app/src/db.rs lists the {dir} migrations differently from migrations/{dir}/");
        }
    }
}
