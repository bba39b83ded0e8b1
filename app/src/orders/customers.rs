//! A buyer's identity within a brand: the e-mail address trimmed and lower-cased, the
//! phone number in E.164 (parsed with the `phonenumber` crate, Google's libphonenumber
//! metadata, with the order's country as the region for national numbers).

/// The address trimmed and lower-cased, or "" when it is not an address.
pub fn normalise_email(value: &str) -> String {
    let v = value.trim();
    if is_email(v) {
        v.to_lowercase()
    } else {
        String::new()
    }
}

/// Whether `value` (trimmed) is an address mail can be sent to: one `@`, a local part of
/// RFC 5322's unquoted characters (no spaces, quotes, parentheses or commas) that does not
/// start like a spreadsheet formula (`=`, `+`, `-`, `@`), and a domain of at least two
/// labels of letters, digits and hyphens ending in a name of two or more letters.
pub fn is_email(value: &str) -> bool {
    let v = value.trim();
    let Some((local, domain)) = v.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with(['=', '+', '-', '.'])
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

/// The number in E.164 (`+4915112345678`), or "" when it is not a valid number.
pub fn normalise_phone(value: &str, country: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    let region = country.trim().to_ascii_uppercase().parse::<phonenumber::country::Id>().ok();
    match phonenumber::parse(region, value) {
        Ok(number) if phonenumber::is_valid(&number) => number.format().mode(phonenumber::Mode::E164).to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(normalise_email("  Anna.Becker@Example.DE "), "anna.becker@example.de");
        assert_eq!(normalise_email("no address"), "");
        assert_eq!(normalise_email("a@b"), "");
        assert_eq!(normalise_email(""), "");
        for not_an_address in [
            "=HYPERLINK(\"http://x\")@example.com",
            "=1+1@example.com",
            "a b@example.com",
            "a@@example.com",
            "a@example",
            "a@-x.com",
            "\"q\"@example.com",
            "a@example.c0m",
        ] {
            assert_eq!(normalise_email(not_an_address), "", "{not_an_address}");
        }
        for address in ["anna+shop@example.de", "o'brien@example.ie", "jo@mail.example.co.uk", "müller@beispiel.de"] {
            assert_eq!(normalise_email(address), address, "{address}");
        }
    }

    #[test]
    fn phones_become_e164_with_the_order_country_as_region() {
        assert_eq!(normalise_phone("0151 1234 5678", "DE"), "+4915112345678");
        assert_eq!(normalise_phone("+49 151 12345678", ""), "+4915112345678");
        assert_eq!(normalise_phone("0049 151 12345678", "DE"), "+4915112345678");
        assert_eq!(normalise_phone("(415) 555-2671", "US"), "+14155552671");
        assert_eq!(normalise_phone("12", "DE"), "");
        assert_eq!(normalise_phone("", "DE"), "");
    }
}
