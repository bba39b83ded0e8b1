//! CSV exports (orders, suppression, rejected rows). Every cell of every row goes through
//! [`cell`] (the [`Sheet`] writer does it, so no column can be forgotten): a value a
//! spreadsheet would run as a formula (`=HYPERLINK(…)`, `+…`, `-…`, `@…`, or one
//! starting with a tab or carriage return) is written as text.

use std::borrow::Cow;

/// The cell as a spreadsheet will show it, never as a formula (OWASP "CSV injection":
/// a leading apostrophe makes the cell text). A plain negative number (`-12.50`) is a
/// number, not a formula, and stays as it is.
pub fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// `-` followed by digits with at most one decimal point.
fn is_plain_number(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('-') else { return false };
    let mut parts = rest.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// A CSV export in memory: the header row, then rows whose every cell is neutralised.
pub struct Sheet {
    w: csv::Writer<Vec<u8>>,
}

impl Sheet {
    pub fn new(header: &[&str]) -> Sheet {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(header);
        Sheet { w }
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<(), crate::error::AppError> {
        self.w
            .write_record(cells.iter().map(|c| cell(c.as_ref()).into_owned()))
            .map_err(|e| crate::error::AppError::caused("writing the export", e))
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_inner().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("+49 151"), "'+49 151");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("-"), "'-");
        assert_eq!(cell("-1."), "'-1.");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Anna"), "Anna");
        assert_eq!(cell(""), "");
        assert_eq!(cell("-12.50"), "-12.50", "a negative total is a number");
        assert_eq!(cell("-3"), "-3");
    }

    #[test]
    fn every_cell_of_a_row_is_neutralised() {
        let mut sheet = Sheet::new(&["a", "b", "c"]);
        sheet.row(&["=1+1", "EUR", "@x"]).unwrap();
        sheet.row(&[String::from("-2.00"), String::from("\tcmd"), String::new()]).unwrap();
        let text = String::from_utf8(sheet.into_bytes()).unwrap();
        assert_eq!(text, "a,b,c\n'=1+1,EUR,'@x\n-2.00,'\tcmd,\n");
    }
}
