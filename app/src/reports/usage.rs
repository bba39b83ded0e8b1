//! The usage statement: a client's sent messages per channel in a calendar month (UTC) and
//! what they cost, for the agency to rebill. A text's cost was fixed when it was sent (the
//! provider's price, else the contract's price per 1,000 then); e-mails and Amazon
//! requests cost the contract's price per 1,000 at the time of the statement.

use super::model::{UsageRow, UsageStatement};
pub use super::rules::amount;
use crate::db::Db;
use crate::error::AppError;
use crate::outbox::model::Channel;

/// The month `YYYY-MM` as (first millisecond, first millisecond of the next month); the
/// current month when empty.
pub fn month_range(month: &str, now: i64) -> Result<(String, i64, i64), AppError> {
    use chrono::Datelike;
    let month = month.trim();
    let first = if month.is_empty() {
        let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().date_naive();
        today.with_day(1).unwrap_or(today)
    } else {
        chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
            .map_err(|_| AppError::invalid("month", format!("\"{month}\" is not a month (YYYY-MM).")))?
    };
    let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
    let ms = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis();
    Ok((first.format("%Y-%m").to_string(), ms(first), ms(next)))
}

/// A price per 1,000 as typed ("12.50") in millionths, or why not.
pub fn parse_price(raw: &str) -> Result<i64, AppError> {
    let raw = raw.trim().replace(',', ".");
    let value: f64 = raw
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v < 1_000_000.0)
        .ok_or_else(|| AppError::invalid("price", format!("\"{raw}\" is not a price per 1,000 messages (a number such as 12.50).")))?;
    Ok((value * 1_000_000.0).round() as i64)
}

/// The statement of `client_id` for `month`.
pub async fn statement(
    db: &Db,
    client_id: i64,
    client: String,
    month: &str,
    now: i64,
    can_edit_prices: bool,
) -> Result<UsageStatement, AppError> {
    let (month, from, until) = month_range(month, now)?;
    let tallies = crate::outbox::store::usage(db, client_id, from, until).await?;
    let mut prices = Vec::new();
    let mut contract = std::collections::HashMap::new();
    for channel in [Channel::Email, Channel::Sms, Channel::Whatsapp, Channel::Amazon] {
        if let Some((micros, currency)) = crate::clients::store::channel_prices(db, channel.as_str()).await?.remove(&client_id) {
            prices.push((channel.label().to_string(), amount(micros), currency.clone()));
            contract.insert(channel.as_str().to_string(), (micros, currency));
        }
    }
    let mut rows = Vec::new();
    for t in tallies {
        let label = Channel::parse(&t.channel).map(Channel::label).unwrap_or("?").to_string();
        let unpriced = t.messages - t.by_provider - t.by_contract;
        let (cost_micros, currency, priced) = if t.by_provider + t.by_contract > 0 {
            let mut how = Vec::new();
            if t.by_provider > 0 {
                how.push(format!("provider's price for {}", t.by_provider));
            }
            if t.by_contract > 0 {
                how.push(format!("contract price for {}", t.by_contract));
            }
            if unpriced > 0 {
                how.push(format!("{unpriced} unpriced"));
            }
            (Some(t.cost_micros), t.currency.clone(), how.join(", "))
        } else if let Some((per_thousand, currency)) = contract.get(&t.channel) {
            (Some(per_thousand * t.messages / 1000), currency.clone(), "contract price per 1,000".to_string())
        } else {
            (None, String::new(), "no price: set one in the contract".to_string())
        };
        rows.push(UsageRow { channel: label, messages: t.messages, parts: t.parts, cost_micros, currency, priced });
    }
    Ok(UsageStatement { client_id, client, month, rows, prices, can_edit_prices })
}

/// The statement as CSV (one line per channel and currency).
pub fn csv(statement: &UsageStatement) -> String {
    let mut out = String::from("client,month,channel,messages,parts,cost,currency,priced\n");
    let field = |s: &str| {
        // Quoted, and neutralised where a spreadsheet would read a formula.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    for r in &statement.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            field(&statement.client),
            statement.month,
            field(&r.channel),
            r.messages,
            r.parts,
            r.cost_micros.map(amount).unwrap_or_default(),
            r.currency,
            field(&r.priced)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_prices_and_amounts_read_and_print_as_people_write_them() {
        let (month, from, until) = month_range("2026-12", 0).unwrap();
        assert_eq!(month, "2026-12");
        assert_eq!(until - from, 31 * 86_400_000);
        assert_eq!(month_range("", 1_796_119_200_000).unwrap().0, "2026-12", "the current month");
        assert!(month_range("December", 0).is_err());
        assert_eq!(parse_price("12.50").unwrap(), 12_500_000);
        assert_eq!(parse_price("0,79").unwrap(), 790_000);
        assert!(parse_price("-1").is_err() && parse_price("abc").is_err());
        assert_eq!(amount(24_000), "0.024");
        assert_eq!(amount(12_500_000), "12.50");
        assert_eq!(amount(0), "0.00");
        assert_eq!(amount(7_900), "0.0079");
    }

    #[test]
    fn the_csv_quotes_names_and_neutralises_formulas() {
        let s = UsageStatement {
            client: "=HYPERLINK(\"x\")".into(),
            month: "2026-12".into(),
            rows: vec![UsageRow {
                channel: "SMS".into(),
                messages: 2,
                parts: 3,
                cost_micros: Some(24_000),
                currency: "USD".into(),
                priced: "contract price for 2".into(),
            }],
            ..UsageStatement::default()
        };
        let text = csv(&s);
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\",2026-12,\"SMS\",2,3,0.024,USD,\"contract price for 2\""), "{text}");
    }
}
