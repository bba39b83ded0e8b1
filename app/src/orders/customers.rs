//! A buyer's identity within a brand: the e-mail address trimmed and lower-cased, the
//! phone number in E.164 (parsed with the `phonenumber` crate, Google's libphonenumber
//! metadata, with the order's country as the region for national numbers).

/// The address trimmed and lower-cased, or "" when it is not an address.
pub fn normalise_email(value: &str) -> String {
    let v = value.trim().to_lowercase();
    let plausible = v.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !v.contains(char::is_whitespace)
    });
    if plausible {
        v
    } else {
        String::new()
    }
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
