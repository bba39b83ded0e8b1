//! A client's report put together: events from the database into the polars engine, the
//! figures labelled per grouping, A/B tests judged, charts drawn. The page, the exports
//! and the monthly e-mail all come from here.

use super::charts;
use super::engine::{self, polars_error, Counts, Events, GROUP_KEYS};
use super::model::{AbResult, ArmResult, Figures, Grouping, Report, ReportRow, ReviewSummary, GROUPINGS};
use super::rules::{day_label, DAY_MS};
use super::snapshot;
use super::store::{self, Window};
use crate::campaigns::ab::{self, Arm, Verdict};
use crate::campaigns::model::variant_label;
use crate::db::Db;
use crate::error::AppError;
use polars::prelude::*;
use std::path::Path;

/// The cube (`engine::cube`) of the client's events of messages sent on the days
/// `from ..= until`: the Parquet snapshot's (when the client has one under `data_dir`)
/// and that of what happened since its watermark, from the database; else all from the
/// database. With the names of the locale codes.
pub async fn cube(db: &Db, data_dir: Option<&Path>, client_id: i64, from: i64, until: i64) -> Result<(LazyFrame, Vec<String>), AppError> {
    let (sent_from, sent_until) = (from * DAY_MS, (until + 1) * DAY_MS);
    let Some(snapshot) = data_dir.and_then(|d| snapshot::open(d, client_id)) else {
        let mut events = Events::default();
        store::load_events(db, client_id, Window::sent(sent_from, sent_until), &mut events).await?;
        let (frame, locales) = events.into_frame().map_err(polars_error)?;
        return Ok((engine::cube(frame.lazy()).map_err(polars_error)?, locales));
    };
    let mut since = Events::with_locales(snapshot.locales.clone());
    let window = Window { sent_from, sent_until, at_from: snapshot.watermark, at_until: i64::MAX, new_only: true };
    store::load_events(db, client_id, window, &mut since).await?;
    let (since, locales) = since.into_frame().map_err(polars_error)?;
    let stored = engine::scan(&snapshot.path, from, until).map_err(polars_error)?;
    let since = engine::cube(since.lazy()).map_err(polars_error)?;
    Ok((concat([stored, since], UnionArgs::default()).map_err(polars_error)?, locales))
}

/// Runs polars work on the blocking pool (polars has its own threads; the async workers
/// stay free), with its error as the caller's.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> PolarsResult<T> + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| AppError::caused("report task", e))?.map_err(polars_error)
}

/// Every grouping's figures of the client's messages sent on the days `from ..= until`
/// (for the SLA, which needs no labels or charts).
pub async fn figures(db: &Db, data_dir: Option<&Path>, client_id: i64, from: i64, until: i64) -> Result<Counts, AppError> {
    let (cube, _) = cube(db, data_dir, client_id, from, until).await?;
    blocking(move || engine::figures_of_cube(cube)).await
}

/// The report of `client_id` over the days `from ..= until` (UTC day numbers).
pub async fn report(db: &Db, data_dir: Option<&Path>, client_id: i64, client: String, from: i64, until: i64) -> Result<Report, AppError> {
    let started = std::time::Instant::now();
    let (from_ms, until_ms) = (from * DAY_MS, (until + 1) * DAY_MS);
    let (cube, locales) = cube(db, data_dir, client_id, from, until).await?;
    let names = store::names(db, client_id).await?;
    let (brands, ratings) = store::review_ratings(db, client_id, from_ms, until_ms).await?;
    let (counts, summary) = blocking(move || {
        let counts = engine::figures_of_cube(cube)?;
        let summary = engine::review_summary(engine::reviews_frame(brands, ratings)?)?;
        Ok((counts, summary))
    })
    .await?;
    let mut report = assemble(client_id, client, from, until, &counts, &locales, &names);
    // What each channel cost: the messages' own prices (the provider's, else the
    // contract's), summed per currency.
    let usage = crate::outbox::store::usage(db, client_id, from_ms, until_ms).await?;
    if let Some(grouping) = report.groupings.iter_mut().find(|g| g.name == "channel") {
        for row in &mut grouping.rows {
            let channel = engine::CHANNELS.get(row.key as usize).map(|c| c.as_str());
            row.cost = usage
                .iter()
                .filter(|t| Some(t.channel.as_str()) == channel && t.cost_micros > 0)
                .map(|t| format!("{} {}", super::rules::amount(t.cost_micros), t.currency))
                .collect::<Vec<_>>()
                .join(" + ");
        }
    }
    report.reviews = summary
        .into_iter()
        .map(|(brand, reviews, average_rating, negative)| ReviewSummary {
            brand: names.brands.get(&brand).cloned().unwrap_or_else(|| format!("brand {brand}")),
            reviews,
            average_rating,
            negative,
        })
        .collect();
    report.computed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Labels, orders and charts the engine's counts.
pub fn assemble(
    client_id: i64,
    client: String,
    from: i64,
    until: i64,
    counts: &Counts,
    locales: &[String],
    names: &store::Names,
) -> Report {
    let mut groupings = Vec::new();
    for (name, label) in GROUPINGS {
        let Some(index) = GROUP_KEYS.iter().position(|(g, _, _)| *g == name) else { continue };
        let mut rows: Vec<ReportRow> = counts[index]
            .iter()
            .map(|(&(key, key2), figures)| ReportRow {
                key,
                key2,
                label: row_label(name, key, key2, locales, names),
                figures: *figures,
                cost: String::new(),
            })
            .collect();
        if name == "day" {
            rows.sort_by_key(|r| r.key);
        } else {
            rows.sort_by(|a, b| b.figures.sent.cmp(&a.figures.sent).then_with(|| a.label.cmp(&b.label)));
        }
        groupings.push(Grouping { name: name.into(), label: label.into(), rows });
    }
    let totals = counts.last().and_then(|t| t.get(&(0, 0)).copied()).unwrap_or_default();
    let days: Vec<(i64, Figures)> =
        groupings.iter().find(|g| g.name == "day").map(|g| g.rows.iter().map(|r| (r.key, r.figures)).collect()).unwrap_or_default();
    let trend_svg = if days.is_empty() { String::new() } else { charts::trend_svg(from, until, &days) };
    let tests = ab_tests(counts, names);
    Report {
        client_id,
        client,
        from: day_label(from),
        until: day_label(until),
        totals,
        groupings,
        tests,
        reviews: Vec::new(),
        trend_svg,
        computed_ms: 0,
    }
}

fn row_label(grouping: &str, key: i64, key2: i64, locales: &[String], names: &store::Names) -> String {
    let campaign = |id: i64| names.campaigns.get(&id).map(|c| c.0.clone()).unwrap_or_else(|| format!("campaign {id}"));
    match grouping {
        "brand" => names.brands.get(&key).cloned().unwrap_or_else(|| format!("brand {key}")),
        "store" => names.stores.get(&key).cloned().unwrap_or_else(|| format!("store {key}")),
        "campaign" => campaign(key),
        "variant" => format!("{} · variant {}", campaign(key), variant_label(key2.max(0) as usize)),
        "locale" => locales.get(key as usize).cloned().unwrap_or_default(),
        "day" => day_label(key),
        "channel" => engine::CHANNELS.get(key as usize).map_or("?", |c| c.label()).to_string(),
        _ => String::new(),
    }
}

/// Every campaign with two or more variants in the period: its arms on the campaign's
/// target metric per delivered message, and the Campaigns issue's decision (mixture SPRT,
/// always valid under continuous monitoring).
fn ab_tests(counts: &Counts, names: &store::Names) -> Vec<AbResult> {
    let Some(index) = GROUP_KEYS.iter().position(|(g, _, _)| *g == "variant") else { return Vec::new() };
    let mut campaigns: Vec<i64> = counts[index].keys().map(|(c, _)| *c).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    campaigns
        .into_iter()
        .filter_map(|campaign| {
            let (name, metric, variants) = names.campaigns.get(&campaign)?.clone();
            if variants < 2 {
                return None;
            }
            let review = metric == "review";
            let metric_label = if review { "Review rate" } else { "Click rate" };
            let arms: Vec<Arm> = (0..variants as i64)
                .map(|v| {
                    let f = counts[index].get(&(campaign, v)).copied().unwrap_or_default();
                    Arm { trials: f.delivered(), successes: if review { f.reviews.min(f.delivered()) } else { f.clicked } }
                })
                .collect();
            let decision = match ab::verdict(&arms, ab::TAU2, ab::ALPHA) {
                Verdict::Collecting => {
                    format!("Collecting: each variant needs {} delivered messages before any decision.", ab::MIN_PER_ARM)
                }
                Verdict::Undecided => "No variant is better yet (the test stays valid however often you look).".into(),
                Verdict::Winner(w) => {
                    format!("Variant {} wins on {} (mixture SPRT, α = {}).", variant_label(w), metric_label.to_lowercase(), ab::ALPHA)
                }
            };
            let arms: Vec<ArmResult> = arms
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let (low, high) = a.interval();
                    ArmResult { variant: variant_label(i), trials: a.trials, successes: a.successes, rate: a.rate(), low, high }
                })
                .collect();
            let chart_svg = charts::arms_svg(metric_label, &arms);
            Some(AbResult { campaign_id: campaign, campaign: name, metric: metric_label.into(), arms, decision, chart_svg })
        })
        .collect()
}

/// The report's numbers as one table (grouping, key, counts, rates): what the CSV and
/// Parquet exports hold. Labels are neutralised against spreadsheet formulas.
pub fn table(report: &Report) -> PolarsResult<DataFrame> {
    let mut grouping = Vec::new();
    let mut key = Vec::new();
    let mut columns: [Vec<i64>; 9] = Default::default();
    let mut average = Vec::new();
    let mut cost = Vec::new();
    let mut rows = vec![("total".to_string(), "all".to_string(), report.totals, String::new())];
    for g in &report.groupings {
        rows.extend(g.rows.iter().map(|r| (g.name.clone(), r.label.clone(), r.figures, r.cost.clone())));
    }
    for (g, label, f, c) in rows {
        grouping.push(g);
        cost.push(c);
        key.push(crate::orders::export::cell(&label).into_owned());
        for (i, v) in [f.sent, f.delivered(), f.bounced, f.opened, f.clicked, f.unsubscribed, f.complained, f.reviews, f.rating_sum]
            .into_iter()
            .enumerate()
        {
            columns[i].push(v as i64);
        }
        average.push(f.average_rating());
    }
    let names = ["sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "complained", "reviews", "rating_sum"];
    let height = grouping.len();
    let mut cols = vec![Column::new("grouping".into(), grouping), Column::new("key".into(), key)];
    for (name, values) in names.iter().zip(columns) {
        cols.push(Column::new((*name).into(), values));
    }
    cols.push(Column::new("average_rating".into(), average));
    cols.push(Column::new("cost".into(), cost));
    let mut frame = DataFrame::new(height, cols)?;
    // Rates with their denominators in the column name (empty when nothing to divide by).
    let ratio = |part: &str, whole: &str, name: &str| {
        when(col(whole).gt(lit(0i64)))
            .then(col(part).cast(DataType::Float64) / col(whole).cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(name)
    };
    frame = frame
        .lazy()
        .with_columns([
            ratio("delivered", "sent", "delivery_rate_of_sent"),
            ratio("bounced", "sent", "bounce_rate_of_sent"),
            ratio("opened", "delivered", "open_rate_of_delivered"),
            ratio("clicked", "delivered", "click_rate_of_delivered"),
            ratio("unsubscribed", "delivered", "unsubscribe_rate_of_delivered"),
            ratio("complained", "delivered", "complaint_rate_of_delivered"),
            ratio("reviews", "delivered", "review_rate_of_delivered"),
        ])
        .collect()?;
    Ok(frame)
}
