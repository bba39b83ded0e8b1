//! Reviews in: CSV exports of platforms and review apps, and `POST /api/v1/reviews`.
//! Each review is stored once per (brand, review id or digest), attributed to the request
//! that asked for it (`rules::attribute`), and a 1-3 star review opens one alert and sends
//! one e-mail to the client's support contact and account managers at once.

use super::model::ReviewImport;
use super::rules;
use super::store;
use crate::common::mailer::{Mail, Mailer};
use crate::db::{now_millis, Db};
use crate::error::AppError;
use crate::orders::import::fields::{datetime, Columns};
use crate::orders::import::{read_header, FileError};
use crate::orders::model::RowError;
use crate::orders::store::reviews::{self as review_store, NewReview};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;

/// A review as it arrives, before matching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Incoming {
    pub review_id: String,
    pub platform_order_id: String,
    pub email: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub reviewed_at: i64,
}

/// Header names that mean each field, across Amazon, Shopify review apps (Judge.me,
/// Yotpo, Loox), Trustpilot and plain spreadsheets; compared lower-cased with `_` and `-`
/// read as spaces.
const RATING: &[&str] = &["rating", "stars", "star rating", "review stars", "score", "review score", "review rating"];
const BODY: &[&str] = &["body", "text", "review", "review text", "review content", "content", "comment", "review body"];
const TITLE: &[&str] = &["title", "review title", "headline", "summary"];
const DATE: &[&str] =
    &["date", "review date", "created at", "reviewed at", "review created (utc)", "created", "submitted at", "published at"];
const ORDER: &[&str] = &["order id", "order", "order number", "order name", "reference id", "amazon order id", "order reference"];
const EMAIL: &[&str] = &["email", "reviewer email", "buyer email", "customer email", "e mail"];
const AUTHOR: &[&str] = &["author", "reviewer name", "reviewer", "name", "review consumer user name", "customer name"];
const REVIEW_ID: &[&str] = &["review id", "id", "reference"];

const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%m/%d/%Y %H:%M",
];

fn normal(header: &str) -> String {
    header.trim().to_lowercase().replace(['_', '-'], " ")
}

/// Stars from "4", "4.0", "4/5", "4 stars" or "★★★★☆".
pub fn parse_rating(line: u64, value: &str) -> Result<i64, RowError> {
    let value = value.trim();
    let stars = value.chars().filter(|c| *c == '★').count();
    let number = if stars > 0 {
        Some(stars as f64)
    } else {
        let head = value.split(['/', ' ']).next().unwrap_or("").replace(',', ".");
        head.parse::<f64>().ok()
    };
    match number {
        Some(n) if n.fract() == 0.0 && (1.0..=5.0).contains(&n) => Ok(n as i64),
        _ if value.is_empty() => Err(RowError::new(line, "rating", "the rating is missing")),
        _ => Err(RowError::new(line, "rating", format!("\"{value}\" is not a rating of 1 to 5 stars"))),
    }
}

/// Reads a reviews file (any encoding and delimiter the order imports read). Good rows
/// come back with their line; bad rows as (line, field, reason).
pub fn parse_csv(input: impl Read + Send + 'static) -> Result<(Vec<(u64, Incoming)>, Vec<RowError>), FileError> {
    let (_, _, headers, rows) = read_header(input)?;
    let normalised: Vec<String> = headers.iter().map(|h| normal(h)).collect();
    let columns = Columns::new(&normalised);
    let pick =
        |names: &'static [&'static str]| -> Option<&'static str> { names.iter().find(|n| normalised.iter().any(|h| h == *n)).copied() };
    let (Some(rating), Some(date)) = (pick(RATING), pick(DATE)) else {
        let mut missing = Vec::new();
        if pick(RATING).is_none() {
            missing.push("rating");
        }
        if pick(DATE).is_none() {
            missing.push("date");
        }
        return Err(FileError::MissingColumns { layout: "reviews file", missing: missing.join(", ") });
    };
    let (body, title, order, email, author, id) = (pick(BODY), pick(TITLE), pick(ORDER), pick(EMAIL), pick(AUTHOR), pick(REVIEW_ID));
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for row in rows {
        let (line, record) = match row {
            Ok(r) => r,
            Err(e) => {
                bad.push(RowError::new(e.line, "row", e.reason));
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |name: Option<&str>| name.map(|n| columns.get(&record, n).to_string()).unwrap_or_default();
        let parsed = (|| -> Result<Incoming, RowError> {
            let rating = parse_rating(line, &get(Some(rating)))?;
            let reviewed_at = datetime(line, "date", &get(Some(date)), DATE_FORMATS)?
                .ok_or_else(|| RowError::new(line, "date", "the review's date is missing"))?;
            Ok(Incoming {
                review_id: get(id),
                platform_order_id: get(order),
                email: crate::orders::import::fields::email(&get(email)),
                rating,
                title: get(title),
                body: get(body),
                author: get(author),
                reviewed_at,
            })
        })();
        match parsed {
            Ok(review) => good.push((line, review)),
            Err(e) => bad.push(e),
        }
    }
    Ok((good, bad))
}

/// One review of `POST /api/v1/reviews`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiReview {
    pub id: String,
    pub order_id: String,
    pub email: String,
    pub rating: serde_json::Value,
    pub title: String,
    pub text: String,
    pub author: String,
    /// RFC 3339, or `YYYY-MM-DD`.
    pub date: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ApiBatch {
    pub reviews: Vec<ApiReview>,
}

pub const MAX_BATCH: usize = 1000;

impl ApiReview {
    pub fn parse(self, index: usize) -> Result<Incoming, RowError> {
        let line = index as u64;
        let rating = match &self.rating {
            serde_json::Value::Number(n) => parse_rating(line, &n.to_string())?,
            serde_json::Value::String(s) => parse_rating(line, s)?,
            _ => return Err(RowError::new(line, "rating", "the rating is missing (1 to 5)")),
        };
        let reviewed_at = datetime(line, "date", self.date.trim(), DATE_FORMATS)?
            .ok_or_else(|| RowError::new(line, "date", "the review's date is missing"))?;
        Ok(Incoming {
            review_id: self.id.trim().to_string(),
            platform_order_id: self.order_id.trim().to_string(),
            email: crate::orders::import::fields::email(&self.email),
            rating,
            title: self.title.trim().to_string(),
            body: self.text.trim().to_string(),
            author: self.author.trim().to_string(),
            reviewed_at,
        })
    }
}

/// Where reviews land: a client's brand, and the store when the file or key names one.
#[derive(Clone, Copy, Debug)]
pub struct Destination {
    pub client_id: i64,
    pub brand_id: i64,
    pub store_id: Option<i64>,
}

/// What recording one review did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Created { attributed: bool, alert: Option<i64> },
    Duplicate,
}

/// The key a review is stored once under: the platform's review id, else a digest of
/// what the review says (so the same export imported twice changes nothing).
fn source_key(r: &Incoming) -> String {
    if !r.review_id.is_empty() {
        return format!("id:{}", r.review_id);
    }
    let mut digest = Sha256::new();
    for part in [
        r.platform_order_id.as_str(),
        r.email.as_str(),
        &r.rating.to_string(),
        &r.reviewed_at.to_string(),
        r.title.as_str(),
        r.body.as_str(),
    ] {
        digest.update(part.as_bytes());
        digest.update([0x1f]);
    }
    format!("sha:{}", hex::encode(&digest.finalize()[..16]))
}

/// Everything recording a review needs besides the database.
pub struct Alerting<'a> {
    pub mailer: &'a Mailer,
    pub public_url: &'a str,
}

/// Stores one review: matched to its order and buyer, attributed to the request inside
/// the client's window, recorded on that message's timeline, and alerted when negative.
pub async fn record(db: &Db, alerting: &Alerting<'_>, to: Destination, review: &Incoming, via: &str) -> Result<Recorded, AppError> {
    let contract = super::sla::contract(db, to.client_id).await?;
    let order = store::find_order(db, to.brand_id, to.store_id, &review.platform_order_id).await?;
    let customer = match order.and_then(|(_, _, c)| c) {
        Some(c) => Some(c),
        None => store::find_customer(db, to.brand_id, &review.email).await?,
    };
    let requests = store::requests(db, to.brand_id, order.map(|(id, _, _)| id), customer).await?;
    let message_id = rules::attribute(&requests, review.reviewed_at, contract.attribution_days);
    let now = now_millis();
    let new = NewReview {
        client_id: to.client_id,
        brand_id: to.brand_id,
        store_id: order.map(|(_, store, _)| store).or(to.store_id),
        order_id: order.map(|(id, _, _)| id),
        customer_id: customer,
        message_id,
        source_key: source_key(review),
        platform_order_id: review.platform_order_id.clone(),
        rating: review.rating,
        title: review.title.chars().take(300).collect(),
        body: review.body.chars().take(5000).collect(),
        author: review.author.chars().take(200).collect(),
        reviewed_at: review.reviewed_at,
        received_at: now,
        via: via.into(),
    };
    let Some(review_id) = review_store::insert(db, &new).await? else { return Ok(Recorded::Duplicate) };
    if let Some(message_id) = message_id {
        crate::campaigns::monitor::record_event(
            db,
            message_id,
            crate::outbox::model::EventKind::Reviewed,
            &format!("review:{review_id}"),
            review.reviewed_at,
            &format!("{} stars", review.rating),
        )
        .await?;
    }
    let mut alert = None;
    if rules::is_negative(review.rating) {
        let managers = crate::accounts::store::account_managers_of(db, to.client_id).await?;
        alert = store::open_alert(db, to.client_id, to.brand_id, review_id, managers.first().map(|m| m.0), now).await?;
        if let Some(alert_id) = alert {
            notify(db, alerting, to, alert_id, &new, &managers).await;
        }
    }
    Ok(Recorded::Created { attributed: message_id.is_some(), alert })
}

/// The alert e-mail: one message to the client's support contact, copied to the account
/// managers. A failure to send is logged; the alert stays on the alerts page either way.
async fn notify(db: &Db, alerting: &Alerting<'_>, to: Destination, alert_id: i64, review: &NewReview, managers: &[(i64, String, String)]) {
    let client = crate::clients::store::client(db, to.client_id).await.ok().flatten();
    let brand = crate::clients::store::brand(db, to.brand_id).await.ok().flatten().map(|b| b.name).unwrap_or_default();
    let mut recipients: Vec<String> = client.iter().map(|c| c.support_email.clone()).filter(|e| !e.is_empty()).collect();
    recipients.extend(managers.iter().map(|m| m.2.clone()));
    recipients.dedup();
    let Some((first, rest)) = recipients.split_first() else {
        tracing::warn!(alert = alert_id, "negative review alert: nobody to e-mail (no support contact, no account manager)");
        return;
    };
    let stars = "★".repeat(review.rating as usize) + &"☆".repeat(5 - review.rating.clamp(0, 5) as usize);
    let order = if review.platform_order_id.is_empty() { String::new() } else { format!("Order: {}\n", review.platform_order_id) };
    let text = format!(
        "A {rating}-star review of {brand} just came in ({stars}).\n\n{order}Title: {title}\n\n{body}\n\n\
         Respond and track the alert: {url}/alerts?alert={alert_id}\n",
        rating = review.rating,
        title = review.title,
        body = review.body,
        url = alerting.public_url.trim_end_matches('/'),
    );
    let mail = Mail {
        to: first.clone(),
        cc: rest.to_vec(),
        subject: format!("Negative {}-star review for {brand}", review.rating),
        text,
        ..Mail::default()
    };
    if let Err(e) = alerting.mailer.send(&mail).await {
        tracing::warn!(alert = alert_id, error = %crate::error::report(&e), "negative review alert e-mail not sent");
    }
}

/// Records a file's reviews, each on its own (a bad row never stops the good ones).
pub async fn import(
    db: &Db,
    alerting: &Alerting<'_>,
    to: Destination,
    input: impl Read + Send + 'static,
) -> Result<ReviewImport, AppError> {
    // Parsed on a blocking thread: the file may be hundreds of megabytes.
    let (good, bad) = tokio::task::spawn_blocking(move || parse_csv(input))
        .await
        .map_err(|e| AppError::caused("reading the reviews file", e))?
        .map_err(|e| AppError::invalid("file", e.to_string()))?;
    let mut result = ReviewImport { rejected: bad.into_iter().map(|e| (e.line, e.field, e.reason)).collect(), ..ReviewImport::default() };
    for (_, review) in good {
        match record(db, alerting, to, &review, "import").await? {
            Recorded::Created { attributed, alert } => {
                result.created += 1;
                result.attributed += attributed as u64;
                result.alerts += alert.is_some() as u64;
            }
            Recorded::Duplicate => result.duplicates += 1,
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_in_the_shapes_exports_use() {
        for (raw, stars) in [("4", 4), ("4.0", 4), ("4/5", 4), ("5 stars", 5), ("★★☆☆☆", 2), ("1,0", 1)] {
            assert_eq!(parse_rating(2, raw).unwrap(), stars, "{raw}");
        }
        for raw in ["0", "6", "4.5", "great", ""] {
            let e = parse_rating(7, raw).unwrap_err();
            assert_eq!((e.line, e.field.as_str()), (7, "rating"), "{raw}");
        }
    }

    #[test]
    fn a_judge_me_export_reads_with_bad_rows_named() {
        let file = "title,body,rating,review_date,reviewer_name,reviewer_email,order_id\n\
                    Great,\"Fits well,\nwould buy again\",5,2026-11-02 10:00:00,Ann,ANN@example.com ,#1001\n\
                    Broken,Arrived broken,2,2026-11-03,Bob,bob@example.com,#1002\n\
                    Hmm,?,7,2026-11-03,Cy,cy@example.com,#1003\n\
                    Late,Slow,3,03/13/2026,Di,di@example.com,#1004\n";
        let (good, bad) = parse_csv(std::io::Cursor::new(file.as_bytes().to_vec())).unwrap();
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].1.body, "Fits well,\nwould buy again");
        assert_eq!(good[0].1.email, "ann@example.com");
        assert_eq!(good[0].1.platform_order_id, "#1001");
        assert_eq!(good[1].0, 4, "line of the second good row (after a quoted newline)");
        let bad: Vec<(u64, &str)> = bad.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(bad, vec![(5, "rating"), (6, "date")]);
        let missing = parse_csv(std::io::Cursor::new(b"title,body\nx,y\n".to_vec())).err().unwrap();
        assert!(missing.to_string().contains("rating, date"), "{missing}");
    }

    #[test]
    fn the_same_review_has_the_same_key() {
        let r = Incoming { platform_order_id: "1".into(), rating: 2, reviewed_at: 5, body: "x".into(), ..Incoming::default() };
        assert_eq!(source_key(&r), source_key(&r.clone()));
        assert_ne!(source_key(&r), source_key(&Incoming { rating: 3, ..r.clone() }));
        assert_eq!(source_key(&Incoming { review_id: "R1".into(), ..r }), "id:R1");
    }
}
