//! Reading a platform's order export as downloaded: the encoding (UTF-8 with or without
//! BOM, UTF-16 from Excel's "Unicode text", Windows-1252), the delimiter (comma, tab,
//! semicolon) and the platform (from the header row) are detected from the first bytes,
//! then rows stream through the platform's parser one order at a time.

mod amazon;
mod ebay;
pub(crate) mod fields;
pub mod mapped;
mod shopify;

pub use crate::orders::model::{Mapping, RowError};

use super::model::ParsedOrder;
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use std::io::{Cursor, Read};

/// How much of the file is read to detect its encoding and delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// The platform layouts Starling reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Shopify,
    Amazon,
    Ebay,
    /// Any other CSV, read through the store's saved column mapping.
    Mapped,
}

impl Layout {
    pub fn label(self) -> &'static str {
        match self {
            Layout::Shopify => "Shopify orders export",
            Layout::Amazon => "Amazon order report",
            Layout::Ebay => "eBay orders report",
            Layout::Mapped => "CSV with a column mapping",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Layout::Shopify => "shopify",
            Layout::Amazon => "amazon",
            Layout::Ebay => "ebay",
            Layout::Mapped => "mapped",
        }
    }
}

/// What the first bytes of a file said about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    pub layout: Layout,
    pub encoding: &'static Encoding,
    pub delimiter: u8,
}

/// Why a whole file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("The file is empty.")]
    Empty,
    #[error(
        "The header row matches no known export (Shopify orders export, Amazon order report, \
         eBay orders report). Map its columns as a generic CSV instead. Columns seen: {0}"
    )]
    UnknownLayout(String),
    #[error("This {layout} lacks the column(s) {missing}; export it again with all columns.")]
    MissingColumns { layout: &'static str, missing: String },
    #[error("The file could not be read: {0}")]
    Unreadable(String),
}

/// One item of an import: an order, or a row that could not be used.
pub type Item = Result<ParsedOrder, RowError>;

/// Picks the text encoding from a byte-order mark, else UTF-8 when the sample is valid
/// UTF-8, else Windows-1252 (what Excel on Windows writes for "CSV").
pub fn detect_encoding(sample: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(sample) {
        return encoding;
    }
    // Without a BOM, UTF-16 still shows as every other byte being zero in ASCII text.
    let zeros_even = sample.iter().step_by(2).take(512).filter(|b| **b == 0).count();
    let zeros_odd = sample.iter().skip(1).step_by(2).take(512).filter(|b| **b == 0).count();
    let half = sample.len().min(1024) / 4;
    if half > 0 && zeros_odd > half && zeros_even == 0 {
        return UTF_16LE;
    }
    if half > 0 && zeros_even > half && zeros_odd == 0 {
        return UTF_16BE;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => UTF_8,
        // A sample cut inside a multi-byte character is still UTF-8.
        Err(e) if e.error_len().is_none() => UTF_8,
        Err(_) => WINDOWS_1252,
    }
}

/// The delimiter of the header line: the most frequent of tab, comma and semicolon
/// outside quotes (a tab wins a tie: Amazon reports are tab-separated).
pub fn detect_delimiter(first_line: &str) -> u8 {
    let mut counts = [(b'\t', 0usize), (b',', 0), (b';', 0)];
    let mut quoted = false;
    for c in first_line.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if *d == c {
                    *n += 1;
                }
            }
        }
    }
    counts.iter().max_by_key(|(d, n)| (*n, *d == b'\t')).map(|(d, _)| *d).unwrap_or(b',')
}

fn detect_layout(headers: &[String]) -> Option<Layout> {
    let has = |name: &str| headers.iter().any(|h| h == name);
    if has("amazon-order-id") {
        Some(Layout::Amazon)
    } else if has("Name") && has("Lineitem name") {
        Some(Layout::Shopify)
    } else if has("Order Number") && (has("Sales Record Number") || has("Item Title")) {
        Some(Layout::Ebay)
    } else {
        None
    }
}

/// Decodes any supported encoding into UTF-8, streaming.
fn decoded(sample: Vec<u8>, rest: impl Read + Send, encoding: &'static Encoding) -> impl Read + Send {
    encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .bom_override(true)
        .strip_bom(true)
        .build(Cursor::new(sample).chain(rest))
}

/// An opened export: what was detected, and its orders as they stream by.
pub struct Import {
    pub detected: Detected,
    pub headers: Vec<String>,
    orders: Box<dyn Iterator<Item = Item> + Send>,
}

impl Import {
    /// Detects encoding, delimiter and layout from the start of `input` and prepares to
    /// stream its orders. Fails only when the file as a whole cannot be read. A file of
    /// no known layout is read with `mapping` when one is given.
    pub fn open(input: impl Read + Send + 'static, mapping: Option<&Mapping>) -> Result<Import, FileError> {
        let (encoding, delimiter, headers, rows) = read_header(input)?;
        let layout = match detect_layout(&headers) {
            Some(layout) => layout,
            None if mapping.is_some() => Layout::Mapped,
            None => return Err(FileError::UnknownLayout(headers.join(", "))),
        };
        let columns = fields::Columns::new(&headers);
        let orders: Box<dyn Iterator<Item = Item> + Send> = match (layout, mapping) {
            (Layout::Shopify, _) => Box::new(shopify::orders(columns, rows)?),
            (Layout::Amazon, _) => Box::new(amazon::orders(columns, rows)?),
            (Layout::Ebay, _) => Box::new(ebay::orders(columns, rows)?),
            (Layout::Mapped, Some(mapping)) => Box::new(mapped::orders(columns, rows, mapping.clone())?),
            (Layout::Mapped, None) => return Err(FileError::UnknownLayout(headers.join(", "))),
        };
        Ok(Import { detected: Detected { layout, encoding, delimiter }, headers, orders })
    }

    /// Only the header row (for mapping a file of no known layout).
    pub fn headers(input: impl Read + Send + 'static) -> Result<Vec<String>, FileError> {
        Ok(read_header(input)?.2)
    }
}

pub(crate) type Opened = (&'static Encoding, u8, Vec<String>, Rows<Box<dyn Read + Send>>);

/// Sniffs encoding and delimiter, then reads up to the header row (skipping blank
/// preamble lines such as eBay's).
pub(crate) fn read_header(mut input: impl Read + Send + 'static) -> Result<Opened, FileError> {
    let mut sample = Vec::with_capacity(SNIFF_BYTES);
    (&mut input).take(SNIFF_BYTES as u64).read_to_end(&mut sample).map_err(|e| FileError::Unreadable(e.to_string()))?;
    if sample.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty);
    }
    let encoding = detect_encoding(&sample);
    let (text, _, _) = encoding.decode(&sample);
    let first_line = text
        .trim_start_matches('\u{feff}')
        .lines()
        .find(|l| !l.trim().trim_matches(|c| c == ',' || c == ';' || c == '\t').is_empty())
        .unwrap_or("")
        .to_string();
    let delimiter = detect_delimiter(&first_line);
    let decoded: Box<dyn Read + Send> = Box::new(decoded(sample, input, encoding));
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        // Rows differ in length (eBay's summary lines); Amazon's bare quotes inside
        // product names stay literal, since only a field that starts with a quote is
        // read as quoted.
        .flexible(true)
        // Lines end at `\n`; a `\r` before it stays in the last cell, which is
        // trimmed. (With CRLF terminators the csv reader counts a row's line only
        // when it reaches the `\n`, so every line number would be one short.)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(256 * 1024)
        .from_reader(decoded);
    let mut rows = Rows { records: reader.into_records(), last_line: 0 };
    let headers = loop {
        match rows.next() {
            None => return Err(FileError::Empty),
            Some(Err(e)) => return Err(FileError::Unreadable(e.reason)),
            Some(Ok((_, record))) if record.iter().all(|f| f.trim().is_empty()) => continue,
            Some(Ok((_, record))) => break record.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect::<Vec<_>>(),
        }
    };
    Ok((encoding, delimiter, headers, rows))
}

impl Iterator for Import {
    type Item = Item;
    fn next(&mut self) -> Option<Item> {
        self.orders.next()
    }
}

/// Records with the file line each starts on (quoted fields may span lines).
pub(crate) struct Rows<R: Read> {
    records: csv::StringRecordsIntoIter<R>,
    last_line: u64,
}

pub(crate) struct RowReadError {
    pub line: u64,
    pub reason: String,
}

impl<R: Read> Iterator for Rows<R> {
    type Item = Result<(u64, csv::StringRecord), RowReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.records.next()? {
            Ok(record) => {
                let line = record.position().map(|p| p.line()).unwrap_or(self.last_line + 1);
                self.last_line = line;
                Some(Ok((line, record)))
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(self.last_line + 1);
                self.last_line = line;
                Some(Err(RowReadError { line, reason: format!("unreadable row: {e}") }))
            }
        }
    }
}

/// One order's rows: platforms write one row per line item, the order's own fields on
/// the first, and the rows of one order follow each other.
pub(crate) struct Group {
    pub line: u64,
    pub key: String,
    pub first: csv::StringRecord,
    pub extra: Vec<(u64, csv::StringRecord)>,
}

impl Group {
    /// Every row of the order with its line.
    pub fn rows(&self) -> impl Iterator<Item = (u64, &csv::StringRecord)> {
        std::iter::once((self.line, &self.first)).chain(self.extra.iter().map(|(l, r)| (*l, r)))
    }

    /// The order's line items, one per row; the first bad one fails the order.
    pub fn items<T>(&self, mut item: impl FnMut(u64, &csv::StringRecord) -> Result<T, RowError>) -> Result<Vec<T>, RowError> {
        self.rows().map(|(line, row)| item(line, row)).collect()
    }
}

/// Groups consecutive rows with the same `key` cell into orders and builds each with
/// `build`; rows `skip` says are filler (blank lines, summaries) are passed over.
pub(crate) fn grouped<R: Read + Send + 'static>(
    rows: Rows<R>,
    columns: fields::Columns,
    key: impl Into<String>,
    skip: fn(&fields::Columns, &csv::StringRecord) -> bool,
    build: impl Fn(&fields::Columns, &Group) -> Item + Send + 'static,
) -> impl Iterator<Item = Item> + Send {
    let key: String = key.into();
    let mut rows = rows.peekable();
    std::iter::from_fn(move || {
        let key = key.as_str();
        let (line, first) = loop {
            match rows.next()? {
                Err(e) => return Some(Err(RowError::new(e.line, "row", e.reason))),
                Ok((_, record)) if skip(&columns, &record) => continue,
                Ok(row) => break row,
            }
        };
        let id = columns.get(&first, key).to_string();
        let mut extra = Vec::new();
        while let Some(Ok((_, next))) = rows.peek() {
            if id.is_empty() || columns.get(next, key) != id {
                break;
            }
            if let Some(Ok(row)) = rows.next() {
                extra.push(row);
            }
        }
        if id.is_empty() {
            return Some(Err(RowError::new(line, key, "is empty: every row needs the order's id")));
        }
        Some(build(&columns, &Group { line, key: id, first, extra }))
    })
}

/// A row with no cell filled.
pub(crate) fn is_blank(_: &fields::Columns, record: &csv::StringRecord) -> bool {
    record.iter().all(|f| f.trim().is_empty())
}

#[cfg(test)]
mod tests;
