//! `starling-bench`: the import benchmark behind `.ci/bench` (see the README).
//!
//! - `starling-bench generate <file> <rows>` writes a Shopify orders export of `rows` line
//!   item rows (orders of 1-3 items, returning buyers, a few bad rows), streaming.
//! - `starling-bench import <file> sqlite|postgres` imports it into a fresh database through
//!   the same job runner the server uses, twice (the second run must change nothing), and
//!   prints rows/s and the process's peak RSS.
//! - `starling-bench plan sqlite|postgres <orders> <customers>` plans one campaign over
//!   synthetic orders with history and suppressions, through every rule.
//! - `starling-bench deliver sqlite|postgres <messages> <smtp url> none|rsa` plans that many
//!   messages and times the outbox worker sending them all to the SMTP server (DKIM off or
//!   RSA-2048), with the peak RSS of the sending phase alone: it runs in a child process
//!   (`starling-bench send …`), as a server that only sends.
//! - `starling-bench report <events> <folder>` generates a year of `events` events of one
//!   client (5 brands, 20 campaigns) as Parquet, times the full client report (all
//!   groupings) from them with polars, keeps their cube as the client's snapshot, and times
//!   the report as the page builds it and the page served over HTTP. `.ci/bench` then times
//!   the same aggregations in DuckDB over the same Parquet file.
//! - `starling-bench backfill sqlite|postgres <shopify url> <token>` connects the demo's
//!   Shopify store to the shop at `<shopify url>` (the test suite's fake Shopify, run by
//!   `.ci/bench`) and times one full pull of its orders through the connector, with the
//!   process's peak RSS.

use app::db::Db;
use app::orders::{jobs, privacy, store};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") if args.len() == 4 => generate(Path::new(&args[2]), args[3].parse()?),
        Some("import") if args.len() == 4 => import(Path::new(&args[2]), &args[3]).await,
        Some("parse") if args.len() == 3 => parse_only(Path::new(&args[2])),
        Some("plan") if args.len() == 5 => plan(&args[2], args[3].parse()?, args[4].parse()?).await,
        Some("deliver") if args.len() == 6 => deliver(&args[2], args[3].parse()?, &args[4], &args[5]).await,
        Some("send") if args.len() == 7 => send(&args[2], &args[3], &args[4], &args[5], Path::new(&args[6])).await,
        Some("report") if args.len() == 4 => report(args[2].parse()?, Path::new(&args[3])).await,
        Some("backfill") if args.len() == 5 => backfill(&args[2], &args[3], &args[4]).await,
        _ => {
            eprintln!(
                "usage: starling-bench generate <file> <rows> | starling-bench import <file> sqlite|postgres | \
                 starling-bench plan sqlite|postgres <orders> <customers> | starling-bench deliver sqlite|postgres <messages> <smtp url> none|rsa"
            );
            std::process::exit(2);
        }
    }
}

const FIRST: [&str; 16] =
    ["Anna", "Jonas", "Léa", "Marco", "Yuki", "Sofia", "Lukas", "Chloé", "Hiro", "Emma", "Mateo", "Ingrid", "Noah", "Mia", "Elif", "Olga"];
const LAST: [&str; 16] = [
    "Becker", "Schmidt", "Dubois", "Rossi", "Tanaka", "García", "Müller", "Martin", "Sato", "Wilson", "López", "Larsen", "Nowak", "Kovač",
    "Yılmaz", "Ivanova",
];
const COUNTRIES: [&str; 8] = ["DE", "AT", "FR", "IT", "ES", "GB", "US", "NL"];
const PRODUCTS: [&str; 8] =
    ["Trail Jacket", "Wool Socks", "Headlamp \"Pro\"", "Tea Set, 4 cups", "Linen Towels", "Rice Cooker", "Plant Pot", "Camping Stove"];

/// A Shopify export with the platform's full header; one row per line item.
fn generate(path: &Path, rows: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    const HEADER: &str = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount,Phone";
    let header: Vec<&str> = HEADER.split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("a Shopify column");
    let mut out = csv::WriterBuilder::new().buffer_capacity(1 << 20).from_path(path)?;
    out.write_record(&header)?;
    let mut state: u64 = 0x5eed;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let money = |minor: u64| format!("{}.{:02}", minor / 100, minor % 100);
    let (mut written, mut order) = (0u64, 100_000u64);
    let base = 1_704_067_200i64; // 2024-01-01
    let mut row = vec![String::new(); header.len()];
    while written < rows {
        order += 1;
        let items = [1, 1, 1, 2, 2, 3][next(6) as usize].min(rows - written);
        let buyer = next(400_000);
        let (first, last) = (FIRST[(buyer % 16) as usize], LAST[(buyer / 16 % 16) as usize]);
        let country = COUNTRIES[(buyer % 8) as usize];
        let created = chrono::DateTime::from_timestamp(base + next(300 * 86_400) as i64, 0).unwrap_or_default();
        let created_text = created.format("%Y-%m-%d %H:%M:%S +0000").to_string();
        let fulfilled = next(3) > 0;
        for item in 0..items {
            row.iter_mut().for_each(String::clear);
            let price = 500 + next(20_000);
            row[column("Name")] = format!("#{order}");
            row[column("Lineitem quantity")] = (1 + next(3)).to_string();
            row[column("Lineitem name")] = PRODUCTS[next(8) as usize].to_string();
            row[column("Lineitem price")] = money(price);
            row[column("Lineitem sku")] = format!("SKU-{}", next(500));
            row[column("Lineitem requires shipping")] = "true".into();
            row[column("Lineitem taxable")] = "true".into();
            if item == 0 {
                row[column("Email")] = format!("{}.{}{buyer}@example.test", first.to_lowercase(), last.to_lowercase());
                row[column("Financial Status")] = "paid".into();
                row[column("Paid at")] = created_text.clone();
                row[column("Fulfillment Status")] = if fulfilled { "fulfilled" } else { "unfulfilled" }.into();
                row[column("Fulfilled at")] = if fulfilled { created_text.clone() } else { String::new() };
                row[column("Accepts Marketing")] = if next(2) == 0 { "yes" } else { "no" }.into();
                row[column("Currency")] = "EUR".into();
                row[column("Subtotal")] = money(price);
                row[column("Shipping")] = "4.90".into();
                row[column("Total")] = money(price + 490);
                row[column("Shipping Method")] = "Standard".into();
                // One order in 2,000 has a date nobody can read: reported, the rest lands.
                row[column("Created at")] = if next(2000) == 0 { "31/02/2024".into() } else { created_text.clone() };
                for side in ["Billing", "Shipping"] {
                    row[column(&format!("{side} Name"))] = format!("{first} {last}");
                    row[column(&format!("{side} Address1"))] = "Hafenstraße 1".into();
                    row[column(&format!("{side} City"))] = "Hamburg".into();
                    row[column(&format!("{side} Zip"))] = "20457".into();
                    row[column(&format!("{side} Country"))] = country.into();
                }
                row[column("Payment Method")] = "Shopify Payments".into();
                row[column("Id")] = order.to_string();
                row[column("Risk Level")] = "Low".into();
                row[column("Source")] = "web".into();
            }
            out.write_record(&row)?;
            written += 1;
        }
    }
    out.flush()?;
    let size = std::fs::metadata(path)?.len();
    println!(
        "generated {rows} rows ({} orders, {:.1} MB) in {:.1} s: {}",
        order - 100_000,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Peak resident set size of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// Resident set size of this process now (VmRSS), in MB.
fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// A size line of `/proc/self/status`, in MB.
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn fresh_database(kind: &str, dir: &Path) -> anyhow::Result<(Db, Option<String>)> {
    match kind {
        "sqlite" => Ok((Db::connect(&format!("sqlite://{}", dir.join("bench.db").display())).await?, None)),
        "postgres" => {
            use sqlx::Connection;
            let admin_url = std::env::var("STARLING_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let name = format!("starling_bench_{}", std::process::id());
            let mut admin = sqlx::PgConnection::connect(&format!("{admin_url}/postgres")).await?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
            Ok((Db::connect(&format!("{admin_url}/{name}")).await?, Some(name)))
        }
        other => anyhow::bail!("unknown database {other}: sqlite or postgres"),
    }
}

async fn drop_database(name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let admin_url = std::env::var("STARLING_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut admin = sqlx::PgConnection::connect(&format!("{admin_url}/postgres")).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    Ok(())
}

async fn import(file: &Path, kind: &str) -> anyhow::Result<()> {
    let rows = count_rows(file)?;
    let dir: PathBuf = std::env::temp_dir().join(format!("starling-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("imports"))?;
    let (db, pg_name) = fresh_database(kind, &dir).await?;
    app::demo::seed(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let salt = app::common::fingerprint::salt(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    // The demo's Shopify store of the first client.
    let stores = app::clients::store::store_platforms(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let store_id = stores
        .iter()
        .find(|(_, _, platform)| platform == app::clients::model::Platform::Shopify.as_str())
        .map(|s| s.0)
        .ok_or_else(|| anyhow::anyhow!("no Shopify store"))?;
    let target = store::target(&db, store_id).await.map_err(|e| anyhow::anyhow!("{e}"))?.ok_or_else(|| anyhow::anyhow!("no store"))?;
    let mut results = Vec::new();
    for run in ["first import", "same file again"] {
        let job_id = jobs::create(&db, &target, "bench.csv", "bench").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let upload = jobs::upload_path(&dir, job_id);
        // A hard link where the file system allows it: the import reads it like an upload.
        if std::fs::hard_link(file, &upload).is_err() {
            std::fs::copy(file, &upload)?;
        }
        let size = std::fs::metadata(&upload)?.len() as i64;
        let queued = app::orders::model::ImportState::Queued;
        jobs::received(&db, job_id, size, "shopify", "UTF-8", queued, "").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let job = jobs::claim(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?.ok_or_else(|| anyhow::anyhow!("no job to claim"))?;
        let started = Instant::now();
        jobs::run(&db, &salt, &dir, &job).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let done = jobs::get(&db, job_id).await.map_err(|e| anyhow::anyhow!("{e}"))?.ok_or_else(|| anyhow::anyhow!("job gone"))?;
        println!(
            "{kind} {run}: {rows} rows in {seconds:.2} s = {:.0} rows/s ({:.0} orders/s); {}",
            rows as f64 / seconds,
            (done.orders_new + done.orders_updated + done.orders_unchanged) as f64 / seconds,
            done.message
        );
        results.push((run, seconds, done));
    }
    let (_, seconds, first) = &results[0];
    let stored = store::count_imported(&db, store_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(stored == first.orders_new, "stored {stored} orders, the job says {}", first.orders_new);
    anyhow::ensure!(results[1].2.orders_new == 0 && results[1].2.orders_updated == 0, "the second import changed something");
    println!("RESULT db={kind} rows={rows} seconds={seconds:.3} rows_per_s={:.0} peak_rss_mb={:.0}", rows as f64 / seconds, peak_rss_mb());
    teardown(db, pg_name, &dir).await
}

/// One full pull of a Shopify shop's orders into a fresh database, through the connector
/// as the scheduler runs it.
async fn backfill(kind: &str, base: &str, token: &str) -> anyhow::Result<()> {
    use app::connectors::{model::Platform, seal::Credentials, store as connections, sync::Syncer, Connectors};
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    let dir: PathBuf = std::env::temp_dir().join(format!("starling-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (db, pg_name) = fresh_database(kind, &dir).await?;
    app::demo::seed(&db).await.map_err(e)?;
    let stores = app::clients::store::store_platforms(&db).await.map_err(e)?;
    let store_id =
        stores.iter().find(|(_, _, p)| p == Platform::Shopify.as_str()).map(|s| s.0).ok_or_else(|| anyhow::anyhow!("no Shopify store"))?;
    let target = store::target(&db, store_id).await.map_err(e)?.ok_or_else(|| anyhow::anyhow!("no store"))?;
    let settings = app::connectors::http::Settings { shopify_base_url: base.to_string(), ..Default::default() };
    let cx = Connectors::new(settings, &secrecy::SecretString::from("bench-secret-key".to_string()));
    let sealed = cx.sealer.seal(store_id, &Credentials { token: token.to_string(), ..Default::default() }).map_err(e)?;
    let now = app::db::now_millis();
    let new = connections::NewConnection {
        client_id: target.client_id,
        store_id,
        platform: Platform::Shopify,
        account: "bench.myshopify.com",
        region: "",
        marketplace_ids: "",
        sealed: &sealed,
        reauthorize_by: None,
        interval_secs: 3600,
        by: "bench",
    };
    connections::connect(&db, &new, now).await.map_err(e)?;
    let connection =
        connections::claim_due(&db, "bench", now + 1, 3_600_000).await.map_err(e)?.ok_or_else(|| anyhow::anyhow!("nothing to pull"))?;
    let mailer =
        app::common::mailer::Mailer::new(None, dir.join("outbox"), "Starling <bench@localhost>").map_err(|e| anyhow::anyhow!(e))?;
    let syncer = Syncer {
        db: db.clone(),
        settings: cx.settings,
        sealer: cx.sealer,
        client: cx.client,
        owner: "bench".into(),
        mailer: std::sync::Arc::new(mailer),
        public_url: String::new(),
        concurrency: 1,
    };
    let started = Instant::now();
    let pulled = syncer.pull(&connection).await.map_err(|e| anyhow::anyhow!("the pull failed: {e:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let stored = store::count_from(&db, store_id, "shopify").await.map_err(e)?;
    anyhow::ensure!(stored == pulled.tally.created, "stored {stored} orders, the pull says {}", pulled.tally.created);
    println!(
        "{kind} backfill: {stored} orders in {} pages in {seconds:.2} s = {:.0} orders/s ({} rejected)",
        pulled.pages,
        stored as f64 / seconds,
        pulled.rejected
    );
    println!(
        "RESULT db={kind} orders={stored} seconds={seconds:.3} orders_per_s={:.0} peak_rss_mb={:.0}",
        stored as f64 / seconds,
        peak_rss_mb()
    );
    teardown(db, pg_name, &dir).await
}

/// Parses the file without storing it (how much of an import is reading).
fn parse_only(file: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let reader = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
    let import = app::orders::import::Import::open(reader, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut orders, mut bad) = (0, 0);
    for item in import {
        match item {
            Ok(_) => orders += 1,
            Err(_) => bad += 1,
        }
    }
    println!("parsed {orders} orders and {bad} bad rows in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A fresh database with the demo data, and what the benchmarks use of it: demo template 1
/// (Nordlicht's review request, German version approved), its brand and client, and the
/// brand's first store (not an Amazon one when `not_amazon`).
struct Setup {
    dir: PathBuf,
    db: Db,
    pg_name: Option<String>,
    salt: app::common::fingerprint::Salt,
    template_id: i64,
    brand_id: i64,
    client_id: i64,
    target: store::Target,
}

async fn setup(kind: &str, not_amazon: bool) -> anyhow::Result<Setup> {
    let dir: PathBuf = std::env::temp_dir().join(format!("starling-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (db, pg_name) = fresh_database(kind, &dir).await?;
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    app::demo::seed(&db).await.map_err(e)?;
    let salt = app::common::fingerprint::salt(&db).await.map_err(e)?;
    let (template_id, brand_id, client_id) =
        app::templates::store::first(&db).await.map_err(e)?.ok_or_else(|| anyhow::anyhow!("the demo has no template"))?;
    let amazon = app::clients::model::Platform::Amazon.as_str();
    let stores = app::clients::store::store_platforms(&db).await.map_err(e)?;
    let store_id = stores
        .iter()
        .find(|(_, brand, platform)| *brand == brand_id && !(not_amazon && platform == amazon))
        .map(|s| s.0)
        .ok_or_else(|| anyhow::anyhow!("the demo brand has no store"))?;
    let target = store::target(&db, store_id).await.map_err(e)?.ok_or_else(|| anyhow::anyhow!("no store"))?;
    Ok(Setup { dir, db, pg_name, salt, template_id, brand_id, client_id, target })
}

/// Closes the benchmark's database and removes it with its folder.
async fn teardown(db: Db, pg_name: Option<String>, dir: &Path) -> anyhow::Result<()> {
    db.pool.close().await;
    if let Some(name) = pg_name {
        drop_database(&name).await?;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// Stores `orders` orders of `customers` buyers (a mix of countries, statuses and consent,
/// placed over the last 120 days) for one brand, then times one planning pass of a
/// review-request campaign with an A/B test over all of them through every rule.
async fn plan(kind: &str, orders: u64, customers: u64) -> anyhow::Result<()> {
    use app::campaigns::eligibility::Trigger;
    use app::campaigns::planner::{self, CampaignRules};
    use app::orders::model::{OrderStatus, ParsedOrder};
    let Setup { dir, db, pg_name, salt, template_id, brand_id, client_id, target } = setup(kind, false).await?;
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    let started = Instant::now();
    let now = app::db::now_millis();
    let mut state: u64 = 0x9e37;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    const COUNTRIES: [&str; 6] = ["DE", "FR", "IT", "ES", "GB", "AT"];
    const STATUSES: [OrderStatus; 7] = [
        OrderStatus::Delivered,
        OrderStatus::Delivered,
        OrderStatus::Delivered,
        OrderStatus::Fulfilled,
        OrderStatus::Pending,
        OrderStatus::Refunded,
        OrderStatus::Returned,
    ];
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..orders {
        let buyer = next(customers);
        let placed = now - (1 + next(120) as i64) * 86_400_000;
        let status = STATUSES[next(7) as usize];
        let placed_then = placed + (2 + next(5) as i64) * 86_400_000;
        batch.push(ParsedOrder {
            line: i + 2,
            currency: "EUR".into(),
            total_minor: Some(1_000 + next(20_000) as i64),
            accepts_marketing: Some(buyer % 3 != 0),
            sms_consent: None,
            ..ParsedOrder::one_item(
                format!("B-{i}"),
                format!("buyer{buyer}@example.test"),
                format!("Buyer {buyer}"),
                COUNTRIES[(buyer % 6) as usize],
                placed,
                status,
                placed_then,
                "Trail Jacket",
                1,
                4_990,
            )
        });
        if batch.len() == 10_000 {
            store::upsert(&db, &target, std::mem::take(&mut batch), "bench", &salt).await.map_err(e)?;
        }
    }
    if !batch.is_empty() {
        store::upsert(&db, &target, batch, "bench", &salt).await.map_err(e)?;
    }
    println!("stored {orders} orders of {customers} buyers in {:.1} s", started.elapsed().as_secs_f64());
    // History: every fifth order already had a care message ten days ago (it counts for the
    // frequency cap), and 2% of the buyers are on the brand's suppression list.
    let purpose = app::templates::model::Purpose::Care;
    let earlier = CampaignRules::new(Trigger::AfterFulfilment { days: 1 });
    let previous =
        planner::create(&db, client_id, brand_id, Some(template_id), "earlier care", purpose, &earlier, "bench").await.map_err(e)?;
    let version = app::templates::store::first_approved_version(&db, template_id)
        .await
        .map_err(e)?
        .ok_or_else(|| anyhow::anyhow!("the demo template has no approved version"))?;
    app::outbox::store::seed_sent_care_history(&db, previous, version, brand_id, now - 10 * 86_400_000).await.map_err(e)?;
    let scope = privacy::Scope { client_id: Some(client_id), brand_id: Some(brand_id) };
    for buyer in (0..customers).step_by(50) {
        let address = format!("buyer{buyer}@example.test");
        privacy::suppress(&db, &salt, scope, &address, app::orders::model::Reason::Unsubscribed, "bench", "bench").await.map_err(e)?;
    }
    let rules = CampaignRules {
        fallback_locales: vec!["de".into()],
        canary: Some(Default::default()),
        ..CampaignRules::new(Trigger::AfterDelivery { days: 3 }).weighted(&[50, 50])
    };
    let purpose = app::templates::model::Purpose::ReviewRequest;
    let id = planner::create(&db, client_id, brand_id, Some(template_id), "bench", purpose, &rules, "bench").await.map_err(e)?;
    planner::set_state(&db, id, app::campaigns::model::CampaignState::Running).await.map_err(e)?;
    let started = Instant::now();
    let stats = planner::plan(&db, &salt, id, now).await.map_err(e)?;
    let seconds = started.elapsed().as_secs_f64();
    println!("planned: {stats:?}");
    println!(
        "RESULT db={kind} orders={} seconds={seconds:.3} orders_per_s={:.0} peak_rss_mb={:.0}",
        stats.looked_at,
        stats.looked_at as f64 / seconds,
        peak_rss_mb()
    );
    teardown(db, pg_name, &dir).await
}

async fn deliver(kind: &str, messages: u64, smtp_url: &str, dkim: &str) -> anyhow::Result<()> {
    use app::campaigns::eligibility::Trigger;
    use app::campaigns::planner::{self, CampaignRules};
    use app::delivery::dkim as keys;
    let Setup { dir, db, pg_name, salt, template_id, brand_id, client_id, target } = setup(kind, true).await?;
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    store::set_every_status(&db, app::orders::model::OrderStatus::Cancelled).await.map_err(e)?;
    let placed = app::db::now_millis() - 9 * 86_400_000;
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..messages {
        batch.push(app::demo::delivered_order("D", i, placed));
        if batch.len() == 10_000 || i + 1 == messages {
            store::upsert(&db, &target, std::mem::take(&mut batch), "bench", &salt).await.map_err(e)?;
        }
    }
    let rules = CampaignRules { fallback_locales: vec!["de".into()], ..CampaignRules::new(Trigger::Batch) };
    let purpose = app::templates::model::Purpose::ReviewRequest;
    let id = planner::create(&db, client_id, brand_id, Some(template_id), "deliver", purpose, &rules, "bench").await.map_err(e)?;
    planner::set_state(&db, id, app::campaigns::model::CampaignState::Running).await.map_err(e)?;
    let stats = planner::plan(&db, &salt, id, app::db::now_millis()).await.map_err(e)?;
    app::outbox::store::reschedule_campaign(&db, id, app::db::now_millis() - 1).await.map_err(e)?;
    match dkim {
        "rsa" => {
            keys::create_key(&db, brand_id, keys::Algorithm::Rsa2048, app::db::now_millis()).await.map_err(e)?;
        }
        "none" => {}
        other => anyhow::bail!("DKIM {other}: none or rsa"),
    }
    // The size of one message as sent (unsigned), for smtp-source's -l.
    let outgoing =
        app::delivery::store::one_outgoing_of_campaign(&db, id).await.map_err(e)?.ok_or_else(|| anyhow::anyhow!("nothing planned"))?;
    let one = app::delivery::compose::compose(&outgoing, "bench secret", "https://starling.example", 0).map_err(e)?;
    println!("planned {} messages of about {} bytes", stats.planned, one.bytes.len());
    db.pool.close().await;
    // The sending phase runs in a process of its own, as a server that only sends: its peak
    // RSS is the sender's, not what the set-up (orders, planning) left in this process.
    let url_of_db = match &pg_name {
        Some(name) => {
            format!("{}/{name}", std::env::var("STARLING_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()))
        }
        None => format!("sqlite://{}", dir.join("bench.db").display()),
    };
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["send", &url_of_db, smtp_url, dkim, kind, &dir.join("outbox").display().to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "the sending process failed: {status}");
    let db = Db::connect(&url_of_db).await?;
    teardown(db, pg_name, &dir).await
}

/// The sending phase of `deliver`: the outbox worker of a fresh process sends every queued
/// message to `smtp_url` and prints the rate and the process's peak RSS.
async fn send(url_of_db: &str, smtp_url: &str, dkim: &str, kind: &str, outbox: &Path) -> anyhow::Result<()> {
    use app::common::mailer::Mailer;
    use app::delivery::sender;
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    let db = Db::connect(url_of_db).await?;
    let url = secrecy::SecretString::from(smtp_url.to_string());
    let mailer = Mailer::new(Some(&url), outbox.to_path_buf(), "Starling <starling@localhost>").map_err(|e| anyhow::anyhow!(e))?;
    let sender = sender::Sender {
        db: db.clone(),
        mailer: std::sync::Arc::new(mailer),
        secret: std::sync::Arc::new(secrecy::SecretString::from("bench secret".to_string())),
        public_url: "https://starling.example".into(),
        worker: "bench".into(),
        concurrency: 20,
        batch: 500,
        limits: std::sync::Arc::new(app::delivery::limits::DomainLimits::none()),
        retry: sender::RetryPolicy::default(),
        lease_ms: sender::LEASE_MS,
        // As the server sends: every accepted message noted in the journal.
        journal: Some(std::sync::Arc::new(app::delivery::journal::Journal::open(&outbox.with_extension("journal"), "bench")?)),
    };
    println!("resident at the start of sending: {:.0} MB", rss_mb());
    let started = Instant::now();
    let done = sender.drain().await.map_err(e)?;
    let (sent, failed) = (done.sent, done.failed + done.retried);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "RESULT db={kind} dkim={dkim} messages={sent} not_sent={failed} seconds={seconds:.3} msg_per_s={:.0} peak_rss_mb={:.0}",
        sent as f64 / seconds,
        peak_rss_mb()
    );
    db.pool.close().await;
    Ok(())
}

/// Data rows of the file (records, not lines: a quoted newline stays in its row).
fn count_rows(file: &Path) -> anyhow::Result<u64> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(file)?;
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record)? {
        n += 1;
    }
    Ok(n)
}

/// A small deterministic generator (xorshift64*): the same events on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A year of one client's events: every message is sent; 2 % bounce; half are opened
/// (1-3 opens), 12 % clicked (1-2 clicks), 3 % reviewed; a few unsubscribe or complain.
fn year_of_events(n: usize, today: i64) -> app::reports::engine::Events {
    use app::reports::engine::{Event, Events};
    use app::reports::model::*;
    const LOCALES: [&str; 6] = ["de", "en", "fr", "it", "es", "ja"];
    let mut events = Events::with_capacity(n + 16);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut message_id = 0;
    while events.len() < n {
        message_id += 1;
        let campaign = rng.below(20) as i64 + 1;
        let brand = (campaign - 1) / 4 + 1;
        let base = Event {
            message_id,
            kind: SENT,
            brand,
            store: brand * 10 + rng.below(2) as i64,
            campaign,
            variant: if campaign % 2 == 0 { rng.below(2) as i64 } else { 0 },
            locale: LOCALES[rng.below(6) as usize],
            day: today - 364 + rng.below(365) as i64,
            rating: None,
            channel: 0,
        };
        let mut push = |kind: i32, rating: Option<i64>| events.push(Event { kind, rating, ..base });
        push(SENT, None);
        let r = rng.below(10_000);
        if r < 200 {
            push(BOUNCED, None);
            continue;
        }
        if r < 5_200 {
            for _ in 0..=rng.below(3) {
                push(OPENED, None);
            }
        }
        if r < 1_400 {
            for _ in 0..=rng.below(2) {
                push(CLICKED, None);
            }
        }
        if r < 500 {
            push(REVIEWED, Some(rng.below(5) as i64 + 1));
        }
        if r % 97 == 5 {
            push(UNSUBSCRIBED, None);
        }
        if r % 1999 == 7 {
            push(COMPLAINED, None);
        }
    }
    events
}

async fn report(n: usize, dir: &Path) -> anyhow::Result<()> {
    use app::reports::{build, engine, rules};
    let e = |e: app::error::AppError| anyhow::anyhow!("{e}");
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let now = app::db::now_millis();
    let today = rules::day_of(now);
    let (from, until) = (today - 364, today);
    let started = Instant::now();
    let events = year_of_events(n, today);
    let (mut frame, locales) = events.into_frame()?;
    println!("generated {} events in {:.1} s", frame.height(), started.elapsed().as_secs_f64());
    // The raw events as Parquet: what polars and DuckDB both aggregate.
    let raw = dir.join("events.parquet");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&raw)?);
    out.write_all(&app::reports::engine::to_parquet(&mut frame)?)?;
    drop(out);
    println!("raw events: {} ({} MB)", raw.display(), std::fs::metadata(&raw)?.len() >> 20);

    // 1. The full client report's figures (every grouping) from the raw events, with polars.
    let mut polars_times = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let counts = engine::figures(engine::scan(&raw, from, until)?)?;
        polars_times.push(started.elapsed().as_secs_f64());
        rows = counts.iter().map(|g| g.len()).sum::<usize>();
        if polars_times.len() == 1 {
            println!("totals: {:?}", counts.last().and_then(|t| t.get(&(0, 0)).copied()).unwrap_or_default());
        }
    }
    polars_times.sort_by(f64::total_cmp);
    println!("polars, raw events to every grouping: {rows} rows; runs {polars_times:.3?} s");

    // The client's snapshot, as the server keeps it for a large client: the cube.
    let started = Instant::now();
    let mut cube = engine::cube_of(frame)?;
    app::reports::snapshot::write(dir, 1, &mut cube, locales, n as u64, now).map_err(e)?;
    println!("snapshot (cube of {} rows) computed and written in {:.1} s", cube.height(), started.elapsed().as_secs_f64());
    drop(cube);

    // 2. The report as the page builds it (snapshot + database since + labels + charts), and
    // 3. the page served over HTTP, on a server over that folder with the demo data.
    let config = server::config::Config {
        database_url: format!("sqlite://{}", dir.join("starling.db").display()),
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.to_path_buf(),
        demo: true,
        send: false,
        ..server::config::Config::default()
    };
    let running = server::start(config).await?;
    let db = running.db.clone();
    let mut build_times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let report = build::report(&db, Some(dir), 1, "bench".into(), from, until).await.map_err(e)?;
        build_times.push(started.elapsed().as_secs_f64());
        assert!(report.totals.sent > 0 && !report.trend_svg.is_empty());
    }
    build_times.sort_by(f64::total_cmp);
    let admin = app::accounts::store::first_with_role(&db, app::accounts::model::Role::Admin)
        .await
        .map_err(e)?
        .ok_or_else(|| anyhow::anyhow!("the demo has no admin"))?;
    let token = app::accounts::session::create(&db, admin).await.map_err(e)?;
    let cookie = app::accounts::session::set_cookie(&token, false);
    let cookie = cookie.split(';').next().unwrap_or_default().to_string();
    let mut page_times = Vec::new();
    let mut bytes = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = http_get(
            running.addr,
            &format!("/clients/1/reports?from={}&until={}", rules::day_label(from), rules::day_label(until)),
            &cookie,
        )
        .await?;
        page_times.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(status == 200 && body.contains("Messages per day"), "the report page answered {status}");
        bytes = body.len();
    }
    page_times.sort_by(f64::total_cmp);
    println!("report built for the page: runs {build_times:.3?} s; page served ({} KB): runs {page_times:.3?} s", bytes >> 10);
    println!(
        "RESULT events={n} polars_s={:.3} report_s={:.3} page_s={:.3} peak_rss_mb={:.0} parquet={} from_day={from} until_day={until}",
        polars_times[1],
        build_times[1],
        page_times[1],
        peak_rss_mb(),
        raw.display()
    );
    running.task.abort();
    Ok(())
}

/// A plain HTTP/1.1 GET with a cookie: (status, body).
async fn http_get(addr: std::net::SocketAddr, path: &str, cookie: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
}
