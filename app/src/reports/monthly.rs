//! The monthly report e-mail: on the first of each month (or the first run after it),
//! each client's contact receives last month's report — the summary in the body, the
//! charts attached as PNG, a link to the portal. Sent once per client and month, also
//! with several server processes (the claim is a row in `report_mailings`).

use super::build;
use super::charts;
use super::model::Report;
use super::rules::{percent, previous_month, Rate, DAY_MS};
use super::store::mailings;
use crate::common::mailer::{Mail, Mailer};
use crate::db::Db;
use crate::error::AppError;
use std::path::{Path, PathBuf};

/// The e-mail of one client's month.
pub fn compose(report: &Report, to: &str, portal: &str) -> Result<Mail, String> {
    let t = &report.totals;
    let mut text = format!(
        "Your post-purchase outreach, {} to {}.\n\n\
         Sent: {}\nDelivered: {} ({} of sent)\nOpened: {} ({} of delivered)\nClicked: {} ({} of delivered)\n\
         Unsubscribed: {} ({} of delivered)\nComplaints: {} ({} of delivered)\nReviews from our requests: {}{}\n",
        report.from,
        report.until,
        t.sent,
        t.delivered(),
        percent(t.rate(Rate::Delivery)),
        t.opened,
        percent(t.rate(Rate::Open)),
        t.clicked,
        percent(t.rate(Rate::Click)),
        t.unsubscribed,
        percent(t.rate(Rate::Unsubscribe)),
        t.complained,
        percent(t.rate(Rate::Complaint)),
        t.reviews,
        t.average_rating().map(|a| format!(", average {a:.2} stars")).unwrap_or_default(),
    );
    if let Some(brands) = report.groupings.iter().find(|g| g.name == "brand").filter(|g| !g.rows.is_empty()) {
        text.push_str("\nPer brand:\n");
        for row in &brands.rows {
            text.push_str(&format!(
                "- {}: {} sent, {} delivered, open rate {}, click rate {}\n",
                row.label,
                row.figures.sent,
                row.figures.delivered(),
                percent(row.figures.rate(Rate::Open)),
                percent(row.figures.rate(Rate::Click))
            ));
        }
    }
    if !report.reviews.is_empty() {
        text.push_str("\nAll reviews received:\n");
        for r in &report.reviews {
            text.push_str(&format!(
                "- {}: {} reviews{}, {} negative\n",
                r.brand,
                r.reviews,
                r.average_rating.map(|a| format!(", average {a:.2} stars")).unwrap_or_default(),
                r.negative
            ));
        }
    }
    for test in &report.tests {
        text.push_str(&format!("\nA/B test \"{}\": {}\n", test.campaign, test.decision));
    }
    text.push_str(&format!("\nThe full report, by store, campaign, variant, locale and day: {portal}\n"));
    let (from, until) = (super::rules::parse_day(&report.from).unwrap_or(0), super::rules::parse_day(&report.until).unwrap_or(0));
    let days: Vec<_> =
        report.groupings.iter().find(|g| g.name == "day").map(|g| g.rows.iter().map(|r| (r.key, r.figures)).collect()).unwrap_or_default();
    let mut attachments = vec![("messages-per-day.png".to_string(), "image/png".to_string(), charts::trend_png(from, until, &days)?)];
    for (i, test) in report.tests.iter().enumerate() {
        attachments.push((format!("ab-test-{}.png", i + 1), "image/png".into(), charts::arms_png(&test.metric, &test.arms)?));
    }
    Ok(Mail {
        to: to.to_string(),
        subject: format!("{}: your report for {}", report.client, &report.from[..7.min(report.from.len())]),
        text,
        attachments,
        ..Mail::default()
    })
}

/// Sends every client's report for the month before `now` that was not sent yet.
/// Answers how many were sent.
pub async fn send_due(db: &Db, data_dir: Option<&Path>, mailer: &Mailer, public_url: &str, now: i64) -> Result<u64, AppError> {
    let (from, until, month) = previous_month(now);
    let clients = crate::clients::store::report_recipients(db, (until + 1) * DAY_MS).await?;
    let mut sent = 0;
    for (client_id, name, contact) in clients {
        let claimed = mailings::claim(db, client_id, &month, now).await?;
        if !claimed {
            continue;
        }
        let outcome = async {
            let report = build::report(db, data_dir, client_id, name, from, until).await?;
            let portal =
                format!("{}/clients/{client_id}/reports?from={}&until={}", public_url.trim_end_matches('/'), report.from, report.until);
            let mail = compose(&report, &contact, &portal).map_err(AppError::internal)?;
            mailer.send(&mail).await
        }
        .await;
        match outcome {
            Ok(()) => sent += 1,
            Err(e) => {
                // Give the claim back: the next run tries again.
                tracing::warn!(client = client_id, month = %month, error = %crate::error::report(&e), "monthly report not sent");
                mailings::release(db, client_id, &month).await?;
            }
        }
    }
    Ok(sent)
}

/// Background loop, hourly: last month's report e-mails (once a month), SLA breaches of
/// every client, and the Parquet snapshots of large clients (once a day each).
pub async fn work(db: Db, data_dir: PathBuf, mailer: std::sync::Arc<Mailer>, public_url: String, snapshot_min_messages: i64) {
    loop {
        let now = crate::db::now_millis();
        match super::snapshot::refresh_large(&db, &data_dir, now, snapshot_min_messages).await {
            Ok(written) => {
                for (client, events) in written {
                    tracing::info!(client, events, "report snapshot written");
                }
            }
            Err(e) => tracing::error!(error = %crate::error::report(&e), "report snapshots failed"),
        }
        if let Err(e) = send_due(&db, Some(&data_dir), &mailer, &public_url, now).await {
            tracing::error!(error = %crate::error::report(&e), "monthly reports failed");
        }
        match crate::clients::store::ids(&db).await {
            Ok(clients) => {
                for client in clients {
                    if let Err(e) = super::sla::evaluate(&db, Some(&data_dir), client, now).await {
                        tracing::error!(client, error = %crate::error::report(&e), "SLA evaluation failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %crate::error::report(&e), "SLA evaluation failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}
