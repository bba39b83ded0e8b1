//! Reading typed values out of export cells: column lookup by header name, dates in each
//! platform's format, money in either decimal convention, countries, e-mail addresses.

use super::{FileError, RowError};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::collections::HashMap;

/// Header name -> column position.
#[derive(Clone, Debug)]
pub struct Columns {
    index: HashMap<String, usize>,
}

impl Columns {
    pub fn new(headers: &[String]) -> Columns {
        let mut index = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            index.entry(h.clone()).or_insert(i);
        }
        Columns { index }
    }

    /// Fails naming every required column the file lacks.
    pub fn require(&self, layout: &'static str, names: &[&str]) -> Result<(), FileError> {
        let missing: Vec<&str> = names.iter().copied().filter(|n| !self.index.contains_key(*n)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(FileError::MissingColumns { layout, missing: missing.join(", ") })
        }
    }

    /// The trimmed cell of column `name` ("" when the column or cell is absent).
    pub fn get<'r>(&self, record: &'r csv::StringRecord, name: &str) -> &'r str {
        self.index.get(name).and_then(|i| record.get(*i)).map(str::trim).unwrap_or("")
    }
}

/// Epoch milliseconds of a date or date-time cell in one of `formats` (chrono syntax);
/// formats without a zone are read as UTC, dates alone as midnight UTC.
pub fn datetime(line: u64, field: &str, value: &str, formats: &[&str]) -> Result<Option<i64>, RowError> {
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t.timestamp_millis()));
    }
    for format in formats {
        if let Ok(t) = DateTime::parse_from_str(value, format) {
            return Ok(Some(t.timestamp_millis()));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(Some(t.and_utc().timestamp_millis()));
        }
        if let Ok(d) = NaiveDate::parse_from_str(value, format) {
            return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()));
        }
    }
    Err(RowError::new(line, field, format!("\"{value}\" is not a date this export uses (like {})", example(formats))))
}

fn example(formats: &[&str]) -> String {
    let sample = DateTime::parse_from_rfc3339("2024-03-05T14:22:11+01:00").expect("a valid sample");
    formats.first().map(|f| sample.format(f).to_string()).unwrap_or_else(|| sample.to_rfc3339())
}

/// An amount in minor units: "29.90", "29,90", "1.299,00", "$1,299.00", "EUR 29,90".
pub fn money(line: u64, field: &str, value: &str) -> Result<Option<i64>, RowError> {
    let cleaned: String = value.chars().filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-')).collect();
    if cleaned.is_empty() {
        return if value.trim().is_empty() { Ok(None) } else { Err(RowError::new(line, field, format!("\"{value}\" is not an amount"))) };
    }
    // The last separator followed by one or two digits is the decimal point.
    let decimal_at = cleaned.rfind(['.', ',']).filter(|i| (1..=2).contains(&(cleaned.len() - i - 1)));
    let (whole, fraction) = match decimal_at {
        Some(i) => (&cleaned[..i], &cleaned[i + 1..]),
        None => (cleaned.as_str(), ""),
    };
    let whole: String = whole.chars().filter(|c| c.is_ascii_digit() || *c == '-').collect();
    let negative = whole.starts_with('-');
    let whole: i64 = whole.trim_start_matches('-').parse().unwrap_or(0);
    let fraction: i64 =
        format!("{fraction:0<2}").parse().map_err(|_| RowError::new(line, field, format!("\"{value}\" is not an amount")))?;
    let minor = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| RowError::new(line, field, format!("\"{value}\" is too large")))?;
    Ok(Some(if negative { -minor } else { minor }))
}

/// A whole quantity of at least 1.
pub fn quantity(line: u64, field: &str, value: &str) -> Result<u32, RowError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ if value.is_empty() => Ok(1),
        _ => Err(RowError::new(line, field, format!("\"{value}\" is not a quantity (a whole number of 1 or more)"))),
    }
}

/// A trimmed, lower-cased e-mail address, or "" when the cell holds none.
pub fn email(value: &str) -> String {
    let v = value.trim().to_lowercase();
    if v.contains('@') {
        v
    } else {
        String::new()
    }
}

/// ISO 3166-1 alpha-2 code for a code or an English country name as exports write them.
pub fn country(value: &str) -> String {
    let v = value.trim();
    if v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()) {
        return v.to_ascii_uppercase();
    }
    const NAMES: [(&str, &str); 24] = [
        ("germany", "DE"),
        ("deutschland", "DE"),
        ("austria", "AT"),
        ("switzerland", "CH"),
        ("france", "FR"),
        ("italy", "IT"),
        ("spain", "ES"),
        ("netherlands", "NL"),
        ("belgium", "BE"),
        ("poland", "PL"),
        ("sweden", "SE"),
        ("denmark", "DK"),
        ("united kingdom", "GB"),
        ("great britain", "GB"),
        ("ireland", "IE"),
        ("united states", "US"),
        ("united states of america", "US"),
        ("canada", "CA"),
        ("australia", "AU"),
        ("japan", "JP"),
        ("china", "CN"),
        ("mexico", "MX"),
        ("portugal", "PT"),
        ("czech republic", "CZ"),
    ];
    let lower = v.to_lowercase();
    NAMES.iter().find(|(name, _)| *name == lower).map(|(_, code)| code.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_both_decimal_conventions_and_symbols() {
        let m = |v: &str| money(2, "Total", v).unwrap();
        assert_eq!(m("29.90"), Some(2990));
        assert_eq!(m("29,90"), Some(2990));
        assert_eq!(m("1.299,00"), Some(129900));
        assert_eq!(m("$1,299.00"), Some(129900));
        assert_eq!(m("EUR 5"), Some(500));
        assert_eq!(m("-3.5"), Some(-350));
        assert_eq!(m(""), None);
        let err = money(7, "Total", "free").unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (7, "Total"));
    }

    #[test]
    fn dates_in_each_platform_format_become_utc_millis() {
        let shopify = datetime(2, "Created at", "2024-03-05 14:22:11 +0100", &["%Y-%m-%d %H:%M:%S %z"]).unwrap();
        assert_eq!(shopify, Some(1709644931000));
        let amazon = datetime(2, "purchase-date", "2024-03-05T13:22:11+00:00", &[]).unwrap();
        assert_eq!(amazon, shopify);
        let ebay = datetime(2, "Sale Date", "Mar-05-24", &["%b-%d-%y"]).unwrap();
        assert_eq!(ebay, Some(1709596800000));
        let bad = datetime(9, "Created at", "yesterday", &["%Y-%m-%d %H:%M:%S %z"]).unwrap_err();
        assert_eq!(bad.line, 9);
        assert!(bad.reason.contains("\"yesterday\"") && bad.reason.contains("2024-03-05 14:22:11 +0100"), "{}", bad.reason);
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(country("de"), "DE");
        assert_eq!(country("Germany"), "DE");
        assert_eq!(country("United Kingdom"), "GB");
        assert_eq!(country("Atlantis"), "");
    }
}
