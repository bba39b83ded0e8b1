//! Sorting and paging shared by every list: the query travels in the URL
//! (`?q=…&sort=name&desc=1&page=2`) so lists are linkable and work before hydration.

use serde::{Deserialize, Serialize};

pub const PER_PAGE: u32 = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub q: String,
    pub sort: String,
    pub desc: bool,
    /// 1-based.
    pub page: u32,
    /// A list's own filters (`?store=3&status=pending`), kept across sorting and paging.
    #[serde(default)]
    pub filters: Vec<(String, String)>,
}

impl ListQuery {
    /// The search text as a case-insensitive `LIKE` pattern (use with `ESCAPE '\'`):
    /// `%` and `_` typed by the user match themselves.
    pub fn like_pattern(&self) -> String {
        let mut pattern = String::from("%");
        for c in self.q.trim().to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }

    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> ListQuery {
        ListQuery {
            q: get("q").unwrap_or_default().chars().take(200).collect(),
            sort: get("sort").unwrap_or_default().chars().take(40).collect(),
            desc: get("desc").is_some_and(|v| v == "1"),
            page: get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1),
            filters: Vec::new(),
        }
    }

    /// The same, also keeping the list's own filter parameters `keys`.
    pub fn from_params_with(get: impl Fn(&str) -> Option<String>, keys: &[&str]) -> ListQuery {
        let filters =
            keys.iter().filter_map(|k| get(k).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.chars().take(100).collect()))).collect();
        ListQuery { filters, ..ListQuery::from_params(get) }
    }

    /// The value of filter `key`, if set.
    pub fn filter(&self, key: &str) -> Option<&str> {
        self.filters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn limit(&self) -> i64 {
        PER_PAGE as i64
    }

    pub fn offset(&self) -> i64 {
        (self.page.max(1) as i64 - 1) * PER_PAGE as i64
    }

    /// The URL query string for this query with some fields changed.
    pub fn to_search(&self) -> String {
        let mut parts = Vec::new();
        if !self.q.is_empty() {
            parts.push(format!("q={}", encode(&self.q)));
        }
        if !self.sort.is_empty() {
            parts.push(format!("sort={}", encode(&self.sort)));
        }
        if self.desc {
            parts.push("desc=1".to_string());
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        for (key, value) in &self.filters {
            parts.push(format!("{}={}", encode(key), encode(value)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// The query after clicking a column header: same column flips the direction.
    pub fn sorted_by(&self, column: &str) -> ListQuery {
        let desc = self.sort == column && !self.desc;
        ListQuery { sort: column.to_string(), desc, page: 1, ..self.clone() }
    }

    pub fn at_page(&self, page: u32) -> ListQuery {
        ListQuery { page, ..self.clone() }
    }
}

/// Percent-encodes a URL query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
    pub page: u32,
    pub pages: u32,
}

impl<T> Page<T> {
    pub fn new(rows: Vec<T>, total: i64, query: &ListQuery) -> Page<T> {
        let pages = ((total.max(0) as u64).div_ceil(PER_PAGE as u64)).max(1) as u32;
        Page { rows, total, page: query.page.max(1), pages }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_matches_literally_in_like_patterns() {
        let q = |text: &str| ListQuery { q: text.into(), ..Default::default() }.like_pattern();
        assert_eq!(q("  Nord "), "%nord%");
        assert_eq!(q("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(q(""), "%%");
    }

    #[test]
    fn clicking_the_sorted_column_flips_direction_and_resets_page() {
        let q = ListQuery { sort: "name".into(), page: 3, ..Default::default() };
        let next = q.sorted_by("name");
        assert!(next.desc);
        assert_eq!(next.page, 1);
        assert!(!next.sorted_by("name").desc);
        assert!(!q.sorted_by("created").desc);
    }

    #[test]
    fn search_string_round_trips_the_query() {
        let q = ListQuery { q: "a&b c".into(), sort: "name".into(), desc: true, page: 2, filters: vec![] };
        assert_eq!(q.to_search(), "?q=a%26b%20c&sort=name&desc=1&page=2");
        let filtered = ListQuery::from_params_with(|k| (k == "status").then(|| "pending".to_string()), &["status", "store"]);
        assert_eq!(filtered.sorted_by("total").to_search(), "?sort=total&status=pending");
    }

    #[test]
    fn page_count_rounds_up_and_is_at_least_one() {
        let q = ListQuery::default();
        assert_eq!(Page::<i32>::new(vec![], 0, &q).pages, 1);
        assert_eq!(Page::<i32>::new(vec![], 41, &q).pages, 3);
    }
}
