//! Pure rules of reports, reviews and SLA: the rates and their denominators, day
//! arithmetic, which message a review answers, what makes an alert, and when a contract
//! target is breached. Time is always an argument.

use super::model::{Contract, Figures};

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// Reviews are attributed to a request sent at most this many days before (default).
pub const ATTRIBUTION_DAYS: i64 = 30;

/// A day's delivery rate is judged only once it sent at least this many messages: on a
/// handful, one bounce is not a breach of a delivery-rate promise.
pub const DELIVERY_RATE_MIN_SENT: u64 = 50;

impl Figures {
    /// Sent messages that did not bounce.
    pub fn delivered(&self) -> u64 {
        self.sent.saturating_sub(self.bounced)
    }

    pub fn add(&mut self, other: &Figures) {
        self.sent += other.sent;
        self.bounced += other.bounced;
        self.complained += other.complained;
        self.unsubscribed += other.unsubscribed;
        self.opened += other.opened;
        self.clicked += other.clicked;
        self.reviews += other.reviews;
        self.rating_sum += other.rating_sum;
    }

    pub fn average_rating(&self) -> Option<f64> {
        (self.reviews > 0).then(|| self.rating_sum as f64 / self.reviews as f64)
    }

    /// Each rate with its denominator: bounces and deliveries are shares of what was
    /// sent; everything a buyer does is a share of what was delivered (a bounced message
    /// can't be opened).
    pub fn rate(&self, of: Rate) -> Option<f64> {
        let (part, whole) = match of {
            Rate::Delivery => (self.delivered(), self.sent),
            Rate::Bounce => (self.bounced, self.sent),
            Rate::Open => (self.opened, self.delivered()),
            Rate::Click => (self.clicked, self.delivered()),
            Rate::Unsubscribe => (self.unsubscribed, self.delivered()),
            Rate::Complaint => (self.complained, self.delivered()),
            Rate::Review => (self.reviews, self.delivered()),
        };
        (whole > 0).then(|| part as f64 / whole as f64)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    Delivery,
    Bounce,
    Open,
    Click,
    Unsubscribe,
    Complaint,
    Review,
}

impl Rate {
    pub const ALL: [Rate; 7] = [Rate::Delivery, Rate::Bounce, Rate::Open, Rate::Click, Rate::Unsubscribe, Rate::Complaint, Rate::Review];

    pub fn label(self) -> &'static str {
        match self {
            Rate::Delivery => "Delivery rate",
            Rate::Bounce => "Bounce rate",
            Rate::Open => "Open rate",
            Rate::Click => "Click rate",
            Rate::Unsubscribe => "Unsubscribe rate",
            Rate::Complaint => "Complaint rate",
            Rate::Review => "Review rate",
        }
    }

    /// What the rate is a share of, as the page says it.
    pub fn denominator(self) -> &'static str {
        match self {
            Rate::Delivery | Rate::Bounce => "of sent",
            _ => "of delivered",
        }
    }
}

/// "12.3 %" (one decimal), or "–" when there is nothing to divide by.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1} %", r * 100.0),
        None => "–".into(),
    }
}

/// Days since 1970-01-01 (UTC) of a `YYYY-MM-DD` day.
pub fn parse_day(value: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()?;
    Some(date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
}

/// The `YYYY-MM-DD` of a day number.
pub fn day_label(day: i64) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(day)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The day of an epoch-milliseconds time (UTC).
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// A date range as the report reads it: `from ..= until` in days, swapped when given the
/// wrong way round, at most ~3 years, defaulting to the 30 days up to `today`.
pub fn date_range(from: &str, until: &str, today: i64) -> (i64, i64) {
    let until = parse_day(until).unwrap_or(today);
    let from = parse_day(from).unwrap_or(until - 29);
    let (from, until) = if from <= until { (from, until) } else { (until, from) };
    (from.max(until - 1100), until)
}

/// Which request a review answers: the latest message sent for the buyer's order (or to
/// the buyer) no later than the review and at most `window_days` before it. `sent` is
/// (message id, sent at) of the candidates.
pub fn attribute(sent: &[(i64, i64)], reviewed_at: i64, window_days: i64) -> Option<i64> {
    sent.iter()
        .filter(|(_, at)| *at <= reviewed_at && reviewed_at - *at <= window_days * DAY_MS)
        .max_by_key(|(id, at)| (*at, *id))
        .map(|(id, _)| *id)
}

/// A 1-3 star review raises an alert.
pub fn is_negative(rating: i64) -> bool {
    (1..=3).contains(&rating)
}

/// Whether something that started at `start` and finished at `end` (or is still running at
/// `now`) took longer than `hours`; answers how long it took (or has taken so far).
pub fn overdue(start: i64, end: Option<i64>, now: i64, hours: i64) -> Option<i64> {
    let took = end.unwrap_or(now) - start;
    (took > hours * HOUR_MS).then_some(took)
}

/// A day's delivery rate breaches the contract when enough was sent and fewer than the
/// minimum share was delivered. Answers the rate in basis points.
pub fn delivery_rate_breach(sent: u64, bounced: u64, contract: &Contract) -> Option<i64> {
    if sent < DELIVERY_RATE_MIN_SENT {
        return None;
    }
    let delivered = sent.saturating_sub(bounced);
    // Compared in integers: delivered / sent < bp / 10000.
    (delivered as i128 * 10_000 < contract.min_delivery_rate_bp as i128 * sent as i128).then(|| (delivered as i64 * 10_000) / sent as i64)
}

/// "31 h 5 min", "2 d 3 h": a duration as people read it.
pub fn duration(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// Basis points as a percentage: 9500 -> "95.00 %".
pub fn basis_points(bp: i64) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

/// The month before the one `now` falls in, as (first day, last day, "YYYY-MM").
pub fn previous_month(now: i64) -> (i64, i64, String) {
    use chrono::Datelike;
    let today = chrono::DateTime::from_timestamp_millis(now).map(|t| t.date_naive()).unwrap_or_default();
    let first_this = today.with_day(1).unwrap_or(today);
    let last_prev = first_this.pred_opt().unwrap_or(first_this);
    let first_prev = last_prev.with_day(1).unwrap_or(last_prev);
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (
        first_prev.signed_duration_since(epoch).num_days(),
        last_prev.signed_duration_since(epoch).num_days(),
        first_prev.format("%Y-%m").to_string(),
    )
}

/// Millionths of a currency as an amount with two to four decimals ("0.024", "12.50").
pub fn amount(micros: i64) -> String {
    let text = format!("{:.4}", micros as f64 / 1_000_000.0);
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((whole, decimals)) if decimals.len() < 2 => format!("{whole}.{decimals:0<2}"),
        _ => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rates_use_sent_for_delivery_and_delivered_for_what_buyers_do() {
        let f = Figures { sent: 200, bounced: 20, opened: 90, clicked: 18, unsubscribed: 3, complained: 1, reviews: 9, rating_sum: 36 };
        assert_eq!(f.delivered(), 180);
        assert_eq!(f.rate(Rate::Delivery), Some(0.9));
        assert_eq!(f.rate(Rate::Bounce), Some(0.1));
        assert_eq!(f.rate(Rate::Open), Some(0.5));
        assert_eq!(f.rate(Rate::Click), Some(0.1));
        assert_eq!(f.rate(Rate::Review), Some(0.05));
        assert_eq!(f.average_rating(), Some(4.0));
        assert_eq!(Figures::default().rate(Rate::Open), None);
        assert_eq!(percent(f.rate(Rate::Unsubscribe)), "1.7 %");
    }

    #[test]
    fn days_round_trip_and_ranges_default_to_thirty_days() {
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(day_label(parse_day("2026-11-30").unwrap()), "2026-11-30");
        assert_eq!(day_of(-1), -1);
        let today = parse_day("2026-11-30").unwrap();
        assert_eq!(date_range("", "", today), (today - 29, today));
        assert_eq!(date_range("2026-11-30", "2026-11-01", today), (today - 29, today), "swapped");
        assert_eq!(date_range("nonsense", "2026-11-30", today), (today - 29, today));
    }

    #[test]
    fn a_review_answers_the_latest_request_inside_the_window() {
        let day = DAY_MS;
        let sent = [(1, 0), (2, 10 * day), (3, 40 * day)];
        assert_eq!(attribute(&sent, 10 * day, 30), Some(2), "sent the same instant counts");
        assert_eq!(attribute(&sent, 10 * day - 1, 30), Some(1));
        assert_eq!(attribute(&sent, 40 * day, 30), Some(3));
        assert_eq!(attribute(&sent, 39 * day, 30), Some(2), "exactly 29 days after 2");
        assert_eq!(attribute(&sent[..2], 40 * day, 30), Some(2), "exactly 30 days: still inside");
        assert_eq!(attribute(&sent[..2], 40 * day + 1, 30), None, "a millisecond past 30 days");
        assert_eq!(attribute(&[], 0, 30), None);
    }

    #[test]
    fn one_to_three_stars_is_negative() {
        assert!(!is_negative(0));
        assert!(is_negative(1) && is_negative(3));
        assert!(!is_negative(4) && !is_negative(5));
    }

    #[test]
    fn breaches_are_judged_at_their_edges() {
        let contract = Contract::default();
        assert_eq!(overdue(0, Some(48 * HOUR_MS), 0, 48), None, "exactly on target holds");
        assert_eq!(overdue(0, Some(48 * HOUR_MS + 1), 0, 48), Some(48 * HOUR_MS + 1));
        assert_eq!(overdue(0, None, 49 * HOUR_MS, 48), Some(49 * HOUR_MS), "still open and late");
        assert_eq!(delivery_rate_breach(100, 5, &contract), None, "95.00 % holds");
        assert_eq!(delivery_rate_breach(100, 6, &contract), Some(9400));
        assert_eq!(delivery_rate_breach(49, 40, &contract), None, "too few to judge");
        assert_eq!(duration(31 * HOUR_MS + 5 * 60_000), "1 d 7 h");
        assert_eq!(duration(90 * 60_000), "1 h 30 min");
        assert_eq!(basis_points(9500), "95.00 %");
    }

    #[test]
    fn the_previous_month_of_a_date() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap().and_hms_opt(6, 0, 0).unwrap().and_utc().timestamp_millis();
        let (from, until, month) = previous_month(now);
        assert_eq!((day_label(from).as_str(), day_label(until).as_str(), month.as_str()), ("2026-02-01", "2026-02-28", "2026-02"));
    }

    proptest! {
        #[test]
        fn an_attributed_message_is_always_inside_the_window(
            sent in proptest::collection::vec((1i64..1000, 0i64..100 * DAY_MS), 0..20),
            reviewed_at in 0i64..120 * DAY_MS,
            window in 1i64..60,
        ) {
            match attribute(&sent, reviewed_at, window) {
                Some(id) => {
                    let at = sent.iter().filter(|(i, _)| *i == id).map(|(_, at)| *at).filter(|at| *at <= reviewed_at && reviewed_at - at <= window * DAY_MS).max();
                    prop_assert!(at.is_some());
                    // No other candidate inside the window is later.
                    prop_assert!(sent.iter().all(|(_, a)| !(*a <= reviewed_at && reviewed_at - a <= window * DAY_MS) || *a <= at.unwrap()));
                }
                None => prop_assert!(sent.iter().all(|(_, at)| *at > reviewed_at || reviewed_at - at > window * DAY_MS)),
            }
        }
    }
}
