//! The data layer's shape: each table has one owning store module, the only code that
//! writes it; SQL, row access by column and the differences between the two databases
//! live in store modules only. A rename of a column is then a change to one module.

use std::path::{Path, PathBuf};

/// Each table and the store module (a path under `app/src`) that owns it.
const OWNERS: &[(&str, &str)] = &[
    ("settings", "common/store"),
    ("audit_log", "audit/store"),
    ("users", "accounts/store"),
    ("user_clients", "accounts/store"),
    ("sessions", "accounts/store"),
    ("sign_in_attempts", "accounts/store"),
    ("clients", "clients/store"),
    ("brands", "clients/store"),
    ("stores", "clients/store"),
    ("channel_prices", "clients/store"),
    ("whatsapp_templates", "templates/store"),
    ("orders", "orders/store"),
    ("order_status_history", "orders/store"),
    ("customers", "orders/store"),
    ("consents", "orders/store"),
    ("suppressions", "orders/store"),
    ("reviews", "orders/store"),
    ("import_jobs", "orders/store"),
    ("import_rejects", "orders/store"),
    ("column_mappings", "orders/store"),
    ("api_keys", "orders/store"),
    ("templates", "templates/store"),
    ("template_versions", "templates/store"),
    ("template_version_editors", "templates/store"),
    ("template_events", "templates/store"),
    ("messages", "outbox/store"),
    ("message_events", "outbox/store"),
    ("delivery_attempts", "outbox/store"),
    ("campaigns", "campaigns/store"),
    ("campaign_decisions", "campaigns/store"),
    ("campaign_decisions_clustered", "campaigns/store"),
    ("dkim_keys", "delivery/store"),
    ("connections", "connectors/store"),
    ("webhook_deliveries", "connectors/store"),
    ("connection_alerts", "connectors/store"),
    ("oauth_states", "connectors/store"),
    ("rate_buckets", "connectors/store"),
    ("alerts", "reports/store"),
    ("sla_contracts", "reports/store"),
    ("sla_breaches", "reports/store"),
    ("report_mailings", "reports/store"),
];

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()) {
            if entry.is_dir() {
                folders.push(entry);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                files.push(entry);
            }
        }
    }
    files.sort();
    files
}

/// The path of a file of `app/src` relative to it, with `/` separators.
fn relative(file: &Path, app_src: &Path) -> String {
    file.strip_prefix(app_src).unwrap().to_string_lossy().replace('\\', "/")
}

/// Whether a file of `app/src` (relative path) belongs to a store module: `x/store.rs` or
/// anything under `x/store/`.
fn is_store(relative: &str) -> bool {
    relative.ends_with("/store.rs") || relative.contains("/store/")
}

/// The store module a store file belongs to: `orders/store/jobs.rs` -> `orders/store`.
fn store_of(relative: &str) -> &str {
    match relative.find("/store") {
        Some(at) => &relative[..at + "/store".len()],
        None => relative,
    }
}

/// (is a write, table) of every SQL statement part naming a table in `text`: `INSERT INTO t`,
/// `UPDATE t`, `DELETE FROM t` write; `FROM t` and `JOIN t` read.
fn table_uses(text: &str) -> Vec<(bool, &str)> {
    let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    let mut uses = Vec::new();
    for i in 1..words.len() {
        let Some(&(table, _)) = OWNERS.iter().find(|(t, _)| *t == words[i]) else { continue };
        let before = words[i - 1];
        let earlier = if i >= 2 { words[i - 2] } else { "" };
        match before {
            "UPDATE" => uses.push((true, table)),
            "INTO" if earlier == "INSERT" => uses.push((true, table)),
            "FROM" if earlier == "DELETE" => uses.push((true, table)),
            "FROM" | "JOIN" => uses.push((false, table)),
            _ => {}
        }
    }
    uses
}

fn owner_of(table: &str) -> &'static str {
    OWNERS.iter().find(|(t, _)| *t == table).map(|(_, o)| *o).unwrap()
}

#[test]
fn every_table_is_written_only_by_its_owner_and_sql_lives_in_store_modules() {
    let root = starling_tests::repo_root();
    let app_src = root.join("app/src");
    let mut problems = Vec::new();
    for file in rust_files(&app_src) {
        let rel = relative(&file, &app_src);
        let text = std::fs::read_to_string(&file).unwrap();
        for (write, table) in table_uses(&text) {
            if !is_store(&rel) {
                problems.push(format!("app/src/{rel} holds SQL on `{table}`: only store modules may ({} owns it)", owner_of(table)));
            } else if write && store_of(&rel) != owner_of(table) {
                problems.push(format!("app/src/{rel} writes `{table}`, which {} owns: call the owner's store", owner_of(table)));
            }
        }
    }
    // The server binary and its tools hold no SQL on the tables at all.
    for file in rust_files(&root.join("server/src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (_, table) in table_uses(&text) {
            problems.push(format!("{} holds SQL on `{table}`: call {}", file.strip_prefix(&root).unwrap().display(), owner_of(table)));
        }
    }
    problems.dedup();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_table_of_the_migrations_has_an_owner() {
    let root = starling_tests::repo_root();
    let mut missing = Vec::new();
    let mut dropped = Vec::new();
    for backend in ["sqlite", "postgres"] {
        for file in std::fs::read_dir(root.join("migrations").join(backend)).unwrap().map(|e| e.unwrap().path()) {
            let text = std::fs::read_to_string(&file).unwrap();
            let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
            for (i, w) in words.windows(3).enumerate() {
                if w[0].eq_ignore_ascii_case("DROP") && w[1].eq_ignore_ascii_case("TABLE") {
                    dropped.push(w[2].to_string());
                }

                if !(w[0].eq_ignore_ascii_case("CREATE") && w[1].eq_ignore_ascii_case("TABLE")) {
                    continue;
                }
                // CREATE TABLE [IF NOT EXISTS] name
                let mut name = words.get(i + 2).copied().unwrap_or("");
                if name.eq_ignore_ascii_case("IF") {
                    name = words.get(i + 5).copied().unwrap_or("");
                }
                if !OWNERS.iter().any(|(t, _)| *t == name) && !missing.contains(&name.to_string()) {
                    missing.push(name.to_string());
                }
            }
        }
    }
    missing.retain(|t| !dropped.contains(t));
    assert!(missing.is_empty(), "tables without an owner in OWNERS: {missing:?}");
}

#[test]
fn rows_and_database_differences_are_handled_only_in_store_modules() {
    let root = starling_tests::repo_root();
    let app_src = root.join("app/src");
    let mut problems = Vec::new();
    for file in rust_files(&app_src) {
        let rel = relative(&file, &app_src);
        if is_store(&rel) || rel == "db.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Reading a row by column needs sqlx's `Row` trait in scope.
        for needle in ["sqlx::Row", "AnyRow", ".try_get(", "sqlx::query"] {
            if text.contains(needle) {
                problems.push(format!("app/src/{rel} uses `{needle}`: rows are read in store modules"));
            }
        }
        for needle in ["Backend::Sqlite", "Backend::Postgres", ".backend"] {
            if text.contains(needle) {
                problems.push(format!("app/src/{rel} uses `{needle}`: the two databases differ only inside store modules"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
