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

/// 1990-01-01: no exported order is older.
const EARLIEST_ORDER_MILLIS: i64 = 631_152_000_000;

/// Epoch milliseconds of a date or date-time cell in one of `formats` (chrono syntax);
/// formats without a zone are read as UTC, dates alone as midnight UTC.
pub fn datetime(line: u64, field: &str, value: &str, formats: &[&str]) -> Result<Option<i64>, RowError> {
    if value.is_empty() {
        return Ok(None);
    }
    let original = value;
    let english = english_months(value);
    let value = english.as_ref();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t.timestamp_millis()));
    }
    // A two-digit year read by a four-digit format ("03.10.26" as the year 26) is no
    // order date: such a reading is skipped for the next format.
    let plausible = |millis: i64| millis >= EARLIEST_ORDER_MILLIS;
    for format in formats {
        if let Ok(t) = DateTime::parse_from_str(value, format) {
            if plausible(t.timestamp_millis()) {
                return Ok(Some(t.timestamp_millis()));
            }
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            if plausible(t.and_utc().timestamp_millis()) {
                return Ok(Some(t.and_utc().timestamp_millis()));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(value, format) {
            let millis = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
            if millis.is_some_and(plausible) {
                return Ok(millis);
            }
        }
    }
    Err(RowError::new(line, field, format!("\"{original}\" is not a date this export uses (like {})", example(formats))))
}

/// Month names in English and the languages of the marketplaces' sites (German, French,
/// Italian, Spanish, Dutch, Polish), whole or abbreviated with or without a dot, as the
/// English abbreviations chrono's `%b` reads: "05-Okt-24" -> "05-Oct-24",
/// "5 févr. 2024" -> "5 Feb 2024", "03-oct.-26" -> "03-Oct-26".
pub fn english_months(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.chars().any(char::is_alphabetic) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String, next_is_dot: bool| {
        let lower = word.to_lowercase();
        match MONTHS.iter().find(|(_, names)| names.contains(&lower.as_str())) {
            Some((english, _)) => {
                out.push_str(english);
                next_is_dot
            }
            None => {
                out.push_str(word);
                false
            }
        }
    };
    for c in value.chars() {
        if c.is_alphabetic() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            // "févr." -> "Feb": the abbreviation's dot goes with the month.
            let skip_dot = flush(&mut word, &mut out, c == '.');
            word.clear();
            if skip_dot {
                continue;
            }
        }
        out.push(c);
    }
    if !word.is_empty() {
        flush(&mut word, &mut out, false);
    }
    std::borrow::Cow::Owned(out)
}

const MONTHS: &[(&str, &[&str])] = &[
    (
        "Jan",
        &["jan", "january", "januar", "janv", "janvier", "gen", "gennaio", "ene", "enero", "januari", "sty", "stycznia", "jän", "jänner"],
    ),
    ("Feb", &["feb", "february", "februar", "févr", "fevr", "février", "fevrier", "febbraio", "febrero", "februari", "lut", "lutego"]),
    ("Mar", &["mar", "march", "mär", "märz", "maerz", "mrz", "mars", "marzo", "mrt", "maart", "marca"]),
    ("Apr", &["apr", "april", "avr", "avril", "aprile", "abr", "abril", "kwi", "kwietnia"]),
    ("May", &["may", "mai", "mag", "maggio", "mayo", "mei", "maj", "maja"]),
    ("Jun", &["jun", "june", "juni", "juin", "giu", "giugno", "junio", "cze", "czerwca"]),
    ("Jul", &["jul", "july", "juli", "juil", "juillet", "lug", "luglio", "julio", "lip", "lipca"]),
    ("Aug", &["aug", "august", "août", "aout", "ago", "agosto", "augustus", "sie", "sierpnia"]),
    ("Sep", &["sep", "september", "sept", "septembre", "set", "settembre", "septiembre", "wrz", "września"]),
    ("Oct", &["oct", "october", "okt", "oktober", "octobre", "ott", "ottobre", "octubre", "paź", "października"]),
    ("Nov", &["nov", "november", "novembre", "noviembre", "lis", "listopada"]),
    ("Dec", &["dec", "december", "dez", "dezember", "déc", "décembre", "decembre", "dic", "dicembre", "diciembre", "gru", "grudnia"]),
];

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
    crate::orders::customers::normalise_email(value)
}

/// An ISO 4217 code's shape: three ASCII letters.
pub fn is_currency(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic())
}

/// An order's currency cell as a code, or "" with a note when it is not one (a file's
/// free text must not reach exports and pages as a currency).
pub fn currency(line: u64, cell: Cell<'_>, notes: &mut Vec<RowError>) -> String {
    if cell.1.is_empty() {
        String::new()
    } else if is_currency(cell.1) {
        cell.1.to_ascii_uppercase()
    } else {
        notes.push(RowError::new(
            line,
            cell.0,
            format!("\"{}\" is not a currency code (three letters, like EUR); the order is kept without it", cell.1),
        ));
        String::new()
    }
}

/// The buyer's contact details of one order as read from its cells: each value that is not
/// what its column should hold is set aside with a note naming the column (the order is
/// kept, without that value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    /// Lower-cased, or "".
    pub email: String,
    /// E.164, or "".
    pub phone: String,
    /// ISO 3166-1 alpha-2, or "".
    pub country: String,
    pub notes: Vec<RowError>,
}

/// One cell: the file's column name and its trimmed value.
pub type Cell<'a> = (&'a str, &'a str);

/// Reads an order's e-mail, phone and country cells. `name` is the buyer's name as the
/// file gives it; `reachable_elsewhere` is true for marketplaces that carry their own
/// buyer messaging (Amazon), where an order without an address is normal.
pub fn contact(line: u64, email: Cell<'_>, phone: Cell<'_>, country: Cell<'_>, name: &str, reachable_elsewhere: bool) -> Contact {
    let mut notes = Vec::new();
    let kept = "the order is kept without it";
    let email_value = if email.1.is_empty() {
        String::new()
    } else if crate::orders::customers::is_email(email.1) {
        email.1.to_lowercase()
    } else {
        notes.push(RowError::new(line, email.0, format!("\"{}\" is not an e-mail address; {kept}", email.1)));
        String::new()
    };
    let country_code = if country.1.is_empty() {
        String::new()
    } else {
        let code = self::country(country.1);
        if code.is_empty() {
            notes.push(RowError::new(line, country.0, format!("\"{}\" is not a country Starling knows; {kept}", country.1)));
        }
        code
    };
    let phone_value = if phone.1.is_empty() {
        String::new()
    } else {
        let e164 = crate::orders::customers::normalise_phone(phone.1, &country_code);
        if e164.is_empty() {
            let why = if country_code.is_empty() && !phone.1.trim_start().starts_with('+') && !phone.1.trim_start().starts_with("00") {
                "is not a phone number with a country code, and the order names no country to read it in"
            } else {
                "is not a valid phone number"
            };
            let shown = if country_code.is_empty() { String::new() } else { format!(" of {country_code}") };
            let why = if why.starts_with("is not a valid") { format!("{why}{shown}") } else { why.to_string() };
            notes.push(RowError::new(line, phone.0, format!("\"{}\" {why}; {kept}", phone.1)));
        }
        e164
    };
    if email_value.is_empty() && phone_value.is_empty() && notes.is_empty() && !reachable_elsewhere {
        let who = if name.is_empty() { "The buyer".to_string() } else { format!("The buyer ({name})") };
        notes.push(RowError::new(
            line,
            "buyer",
            format!("{who} has no e-mail address or phone number in the file: the order is kept, but nobody can be contacted about it"),
        ));
    }
    Contact { email: email_value, phone: phone_value, country: country_code, notes }
}

/// ISO 3166-1 alpha-2 code for a country as exports write it: the code itself, its
/// alpha-3 code, or its name in the languages of the marketplaces Starling knows
/// (English, German, French, Italian, Spanish, Dutch, Polish, Swedish, Portuguese,
/// Japanese), with or without accents. "" when it is none of these.
pub fn country(value: &str) -> String {
    let v = value.trim().trim_end_matches('.');
    let lower = fold(v);
    match lower.as_str() {
        // Not ISO codes, but what sellers and some marketplaces write.
        "uk" | "u.k" | "england" | "scotland" | "wales" | "northern ireland" | "gb-eng" | "gb-sct" | "gb-wls" | "gb-nir" => {
            return "GB".into()
        }
        "el" => return "GR".into(),
        "usa" | "u.s.a" | "u.s" | "us of america" => return "US".into(),
        _ => {}
    }
    if v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()) {
        let code = v.to_ascii_uppercase();
        return if COUNTRIES.iter().any(|(c, _, _)| *c == code) || code.parse::<phonenumber::country::Id>().is_ok() {
            code
        } else {
            String::new()
        };
    }
    COUNTRIES
        .iter()
        .find(|(_, alpha3, names)| lower.eq_ignore_ascii_case(alpha3) || names.iter().any(|n| fold(n) == lower))
        .map(|(code, _, _)| code.to_string())
        .unwrap_or_default()
}

/// Lower case without accents or punctuation spacing ("Österreich" -> "osterreich").
fn fold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.trim().chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'ä' | 'à' | 'á' | 'â' | 'ã' | 'å' => 'a',
            'ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'ø' => 'o',
            'ü' | 'ù' | 'ú' | 'û' => 'u',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ç' => 'c',
            'ñ' => 'n',
            'ß' => {
                out.push_str("ss");
                continue;
            }
            '-' | '_' => ' ',
            other => other,
        };
        out.push(plain);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Code, alpha-3, names (English first, then the marketplaces' languages).
const COUNTRIES: &[(&str, &str, &[&str])] = &[
    (
        "DE",
        "DEU",
        &["germany", "deutschland", "allemagne", "germania", "alemania", "duitsland", "niemcy", "tyskland", "alemanha", "ドイツ"],
    ),
    ("AT", "AUT", &["austria", "österreich", "oesterreich", "autriche", "oostenrijk", "österrike", "áustria", "オーストリア"]),
    ("CH", "CHE", &["switzerland", "schweiz", "suisse", "svizzera", "suiza", "zwitserland", "szwajcaria", "suíça", "スイス"]),
    ("FR", "FRA", &["france", "frankreich", "francia", "frankrijk", "francja", "frankrike", "frança", "フランス"]),
    ("IT", "ITA", &["italy", "italien", "italie", "italia", "italië", "włochy", "itália", "イタリア"]),
    ("ES", "ESP", &["spain", "spanien", "espagne", "spagna", "españa", "spanje", "hiszpania", "espanha", "スペイン"]),
    (
        "NL",
        "NLD",
        &[
            "netherlands",
            "the netherlands",
            "holland",
            "niederlande",
            "pays-bas",
            "paesi bassi",
            "países bajos",
            "nederland",
            "holandia",
            "nederländerna",
            "países baixos",
            "オランダ",
        ],
    ),
    ("BE", "BEL", &["belgium", "belgien", "belgique", "belgio", "bélgica", "belgië", "belgia", "ベルギー"]),
    ("LU", "LUX", &["luxembourg", "luxemburg", "lussemburgo", "luxemburgo"]),
    ("PL", "POL", &["poland", "polen", "pologne", "polonia", "polska", "polónia", "ポーランド"]),
    ("SE", "SWE", &["sweden", "schweden", "suède", "svezia", "suecia", "zweden", "szwecja", "sverige", "suécia", "スウェーデン"]),
    ("DK", "DNK", &["denmark", "dänemark", "danemark", "danimarca", "dinamarca", "denemarken", "dania", "danmark", "デンマーク"]),
    ("NO", "NOR", &["norway", "norwegen", "norvège", "norvegia", "noruega", "noorwegen", "norwegia", "norge"]),
    ("FI", "FIN", &["finland", "finnland", "finlande", "finlandia", "finlândia", "suomi"]),
    (
        "GB",
        "GBR",
        &[
            "united kingdom",
            "great britain",
            "britain",
            "vereinigtes königreich",
            "großbritannien",
            "grossbritannien",
            "royaume-uni",
            "regno unito",
            "reino unido",
            "verenigd koninkrijk",
            "groot-brittannië",
            "wielka brytania",
            "storbritannien",
            "イギリス",
        ],
    ),
    ("IE", "IRL", &["ireland", "irland", "irlande", "irlanda", "ierland", "irlandia"]),
    (
        "US",
        "USA",
        &[
            "united states",
            "united states of america",
            "vereinigte staaten",
            "vereinigte staaten von amerika",
            "états-unis",
            "stati uniti",
            "estados unidos",
            "verenigde staten",
            "stany zjednoczone",
            "usa",
            "アメリカ合衆国",
            "アメリカ",
        ],
    ),
    ("CA", "CAN", &["canada", "kanada", "canadá"]),
    ("MX", "MEX", &["mexico", "mexiko", "mexique", "messico", "méxico", "meksyk"]),
    ("BR", "BRA", &["brazil", "brasilien", "brésil", "brasile", "brasil"]),
    ("AU", "AUS", &["australia", "australien", "australie", "australië", "オーストラリア"]),
    ("NZ", "NZL", &["new zealand", "neuseeland", "nouvelle-zélande", "nuova zelanda", "nueva zelanda"]),
    ("JP", "JPN", &["japan", "japon", "giappone", "japón", "japonia", "japão", "日本"]),
    ("CN", "CHN", &["china", "chine", "cina", "chiny", "中国"]),
    ("IN", "IND", &["india", "indien", "inde", "indie", "índia"]),
    ("SG", "SGP", &["singapore", "singapur", "singapour", "シンガポール"]),
    ("AE", "ARE", &["united arab emirates", "vereinigte arabische emirate", "émirats arabes unis", "emiratos árabes unidos"]),
    ("SA", "SAU", &["saudi arabia", "saudi-arabien", "arabie saoudite", "arabia saudita"]),
    ("TR", "TUR", &["turkey", "türkiye", "türkei", "turquie", "turchia", "turquía", "turcja"]),
    ("EG", "EGY", &["egypt", "ägypten", "égypte", "egitto", "egipto"]),
    ("PT", "PRT", &["portugal", "portogallo", "portugalia"]),
    (
        "CZ",
        "CZE",
        &[
            "czech republic",
            "czechia",
            "tschechien",
            "tschechische republik",
            "république tchèque",
            "tchéquie",
            "repubblica ceca",
            "república checa",
            "chequia",
            "tsjechië",
            "czechy",
            "tjeckien",
        ],
    ),
    ("SK", "SVK", &["slovakia", "slowakei", "slovaquie", "slovacchia", "eslovaquia", "słowacja"]),
    ("HU", "HUN", &["hungary", "ungarn", "hongrie", "ungheria", "hungría", "węgry"]),
    ("GR", "GRC", &["greece", "griechenland", "grèce", "grecia", "griekenland", "grecja"]),
    ("RO", "ROU", &["romania", "rumänien", "roumanie", "rumanía", "rumunia"]),
    ("HR", "HRV", &["croatia", "kroatien", "croatie", "croazia", "croacia", "chorwacja"]),
    ("SI", "SVN", &["slovenia", "slowenien", "slovénie", "eslovenia", "słowenia"]),
];

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
        // eBay's UK and European sites: the day first, month names in the site's language.
        let formats = &["%b-%d-%y", "%d-%b-%y", "%d.%m.%y", "%d %b %Y"];
        for written in ["05-Mar-24", "05-Mär-24", "05-mars-24", "05-mar-24", "05.03.24", "5 März 2024", "05-MAR-24"] {
            assert_eq!(datetime(2, "Sale Date", written, formats).unwrap(), Some(1709596800000), "{written}");
        }
        assert_eq!(datetime(2, "Sale Date", "03-Oct-26", formats).unwrap(), datetime(2, "Sale Date", "Oct-03-26", formats).unwrap());
        assert_eq!(english_months("5 févr. 2024"), "5 Feb 2024");
        assert_eq!(english_months("2024-03-05T13:22:11+00:00"), "2024-03-05T13:22:11+00:00");
        let bad = datetime(9, "Created at", "yesterday", &["%Y-%m-%d %H:%M:%S %z"]).unwrap_err();
        assert_eq!(bad.line, 9);
        assert!(bad.reason.contains("\"yesterday\"") && bad.reason.contains("2024-03-05 14:22:11 +0100"), "{}", bad.reason);
    }

    #[test]
    fn countries_are_iso_codes_in_every_marketplace_language() {
        for (written, code) in [
            ("de", "DE"),
            ("Germany", "DE"),
            ("United Kingdom", "GB"),
            ("UK", "GB"),
            ("Österreich", "AT"),
            ("OESTERREICH", "AT"),
            ("Osterreich", "AT"),
            ("AUT", "AT"),
            ("Royaume-Uni", "GB"),
            ("Royaume Uni", "GB"),
            ("Vereinigtes Königreich", "GB"),
            ("Großbritannien", "GB"),
            ("Allemagne", "DE"),
            ("Germania", "DE"),
            ("España", "ES"),
            ("Espana", "ES"),
            ("Países Bajos", "NL"),
            ("Belgique", "BE"),
            ("Polska", "PL"),
            ("Sverige", "SE"),
            ("États-Unis", "US"),
            ("U.S.A.", "US"),
            ("日本", "JP"),
            ("Tschechien", "CZ"),
            ("Schweiz", "CH"),
        ] {
            assert_eq!(country(written), code, "{written}");
        }
        assert_eq!(country("Atlantis"), "");
        assert_eq!(country("XX"), "", "two letters that are no country");
    }

    #[test]
    fn contact_cells_that_are_not_what_they_say_are_set_aside_with_a_note() {
        let c = contact(4, ("Email", "=HYPERLINK(\"x\")@example.com"), ("Phone", "07911 123456"), ("Shipping Country", "UK"), "Jo", false);
        assert_eq!(c.email, "");
        assert_eq!(c.phone, "+447911123456", "a UK mobile with spaces, read with the order's country");
        assert_eq!(c.country, "GB");
        assert_eq!(c.notes.len(), 1);
        assert_eq!((c.notes[0].line, c.notes[0].field.as_str()), (4, "Email"));
        assert!(c.notes[0].reason.contains("is not an e-mail address") && c.notes[0].reason.contains("kept"), "{:?}", c.notes);
        // No address at all: the order is kept, and the import says nobody can be reached.
        let c = contact(5, ("Email", ""), ("Phone", ""), ("Shipping Country", "DE"), "Jo", false);
        assert_eq!((c.notes.len(), c.notes[0].field.as_str()), (1, "buyer"));
        // …except where the marketplace carries its own messaging.
        assert!(contact(5, ("buyer-email", ""), ("buyer-phone-number", ""), ("ship-country", "DE"), "", true).notes.is_empty());
        // A phone without a country code on an order without a country.
        let c = contact(6, ("Email", "jo@example.com"), ("Phone", "07911 123456"), ("Shipping Country", ""), "Jo", false);
        assert_eq!(c.email, "jo@example.com");
        assert!(c.notes[0].reason.contains("names no country"), "{:?}", c.notes);
        let c = contact(7, ("E-Mail", ""), ("Telefon", ""), ("Land", "Atlantis"), "", false);
        assert!(c.notes.iter().any(|n| n.reason.contains("not a country Starling knows")), "{:?}", c.notes);
    }
}
