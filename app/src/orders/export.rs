//! CSV exports (orders, suppression, rejected rows). Every text cell goes through
//! [`cell`], so a value a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+…`,
//! `-…`, `@…`, or one starting with a tab or carriage return) is written as text.

use std::borrow::Cow;

/// The cell as a spreadsheet will show it, never as a formula (OWASP "CSV injection":
/// a leading apostrophe makes the cell text).
pub fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A CSV writer into memory with the header row written.
pub fn writer(header: &[&str]) -> csv::Writer<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("+49 151"), "'+49 151");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Anna"), "Anna");
        assert_eq!(cell(""), "");
    }
}
