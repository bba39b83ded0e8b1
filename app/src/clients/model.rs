//! The tenancy tree's types, and the parsing of their forms.

use crate::common::values::{parse_currency, required_text, DomainName, EmailAddress, Locale, Validation};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRow {
    pub id: i64,
    pub name: String,
    pub brands: i64,
    pub stores: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: i64,
    pub name: String,
    pub contact_email: String,
    pub support_email: String,
    pub created_at: i64,
    #[serde(default)]
    pub template_approval: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub id: i64,
    pub client_id: i64,
    pub name: String,
    pub sender_name: String,
    pub sender_email: String,
    pub sending_domain: String,
    pub default_locale: String,
    pub postal_address: String,
    /// Who texts come from: an alphanumeric sender ID (up to 11 characters, where the
    /// country allows one) or a number in E.164; empty when the brand sends no texts.
    #[serde(default)]
    pub sms_sender: String,
    /// The number texts come from where sender IDs are not allowed (North America, China),
    /// and that buyers can reply STOP to.
    #[serde(default)]
    pub sms_number: String,
    /// The WhatsApp Business phone number the brand's WhatsApp messages come from (the
    /// Cloud API's phone number id); empty when the brand sends none.
    #[serde(default)]
    pub whatsapp_phone_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub id: i64,
    pub client_id: i64,
    pub brand_id: i64,
    pub brand_name: String,
    pub name: String,
    pub platform: String,
    pub marketplace: String,
    pub currency: String,
    pub time_zone: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetail {
    pub client: Client,
    pub brands: Vec<Brand>,
    pub stores: Vec<Store>,
    /// Whether the caller may change brands and stores (drives which buttons show).
    pub can_manage: bool,
    pub can_edit: bool,
    /// Whether the caller may see the client's orders and buyers (not copywriters).
    #[serde(default)]
    pub can_read_orders: bool,
}

/// The sales channels Starling knows the rules of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Platform {
    Amazon,
    Ebay,
    Shopify,
    AliExpress,
    Walmart,
    Other,
}

impl Platform {
    pub const ALL: [Platform; 6] =
        [Platform::Amazon, Platform::Ebay, Platform::Shopify, Platform::AliExpress, Platform::Walmart, Platform::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Amazon => "amazon",
            Platform::Ebay => "ebay",
            Platform::Shopify => "shopify",
            Platform::AliExpress => "aliexpress",
            Platform::Walmart => "walmart",
            Platform::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Platform::Amazon => "Amazon",
            Platform::Ebay => "eBay",
            Platform::Shopify => "Shopify",
            Platform::AliExpress => "AliExpress",
            Platform::Walmart => "Walmart",
            Platform::Other => "Independent shop / other",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Platform, AppError> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == raw.trim())
            .ok_or_else(|| AppError::invalid(field, format!("Unknown platform \"{raw}\".")))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientForm {
    pub id: Option<i64>,
    pub name: String,
    pub contact_email: String,
    pub support_email: String,
    /// The contract asks the client's viewer to approve templates last.
    #[serde(default)]
    pub template_approval: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandForm {
    pub id: Option<i64>,
    pub client_id: i64,
    pub name: String,
    pub sender_name: String,
    pub sender_email: String,
    pub sending_domain: String,
    pub default_locale: String,
    pub postal_address: String,
    #[serde(default)]
    pub sms_sender: String,
    #[serde(default)]
    pub sms_number: String,
    #[serde(default)]
    pub whatsapp_phone_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreForm {
    pub id: Option<i64>,
    pub brand_id: i64,
    pub name: String,
    pub platform: String,
    pub marketplace: String,
    pub currency: String,
    pub time_zone: String,
}

fn optional_email(field: &str, raw: &str) -> Result<String, AppError> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        EmailAddress::parse(field, raw).map(EmailAddress::into_string)
    }
}

impl ClientForm {
    /// The form with every field parsed, or every field's problem at once.
    pub fn parse(&self) -> Result<ClientForm, AppError> {
        let mut v = Validation::default();
        let name = v.check(required_text("name", &self.name, 120));
        let contact = v.check(optional_email("contact_email", &self.contact_email));
        let support = v.check(optional_email("support_email", &self.support_email));
        v.finish()?;
        Ok(ClientForm {
            id: self.id,
            name: name.unwrap_or_default(),
            contact_email: contact.unwrap_or_default(),
            support_email: support.unwrap_or_default(),
            template_approval: self.template_approval,
        })
    }
}

impl BrandForm {
    pub fn parse(&self) -> Result<BrandForm, AppError> {
        let mut v = Validation::default();
        let name = v.check(required_text("name", &self.name, 120));
        let sender_name = v.check(required_text("sender_name", &self.sender_name, 120));
        let domain = v.check(DomainName::parse("sending_domain", &self.sending_domain));
        let sender = v.check(EmailAddress::parse("sender_email", &self.sender_email));
        let locale = v.check(Locale::parse("default_locale", &self.default_locale));
        // CAN-SPAM / EU e-commerce rules: every marketing e-mail carries a postal address.
        let address = v.check(required_text("postal_address", &self.postal_address, 500));
        if let (Some(sender), Some(domain)) = (&sender, &domain) {
            let sender_domain = sender.as_str().rsplit('@').next().unwrap_or_default();
            // DMARC alignment (relaxed): the From domain is the sending domain or below it.
            let aligned = sender_domain == domain.as_str()
                || sender_domain.ends_with(&format!(".{}", domain.as_str()))
                || domain.as_str().ends_with(&format!(".{sender_domain}"));
            if !aligned {
                v.check::<()>(Err(AppError::invalid(
                    "sender_email",
                    format!("The sender address must be on {} so that DMARC alignment holds.", domain.as_str()),
                )));
            }
        }
        let texts_from = v.check(sms_sender("sms_sender", &self.sms_sender));
        let number = v.check(sms_sender("sms_number", &self.sms_number).and_then(|n| {
            if n.chars().any(|c| c.is_ascii_alphabetic()) {
                Err(AppError::invalid(
                    "sms_number",
                    format!("\"{n}\" is a sender ID: give a number with country code (+1202…) or a short code."),
                ))
            } else {
                Ok(n)
            }
        }));
        let whatsapp = self.whatsapp_phone_id.trim();
        if !whatsapp.is_empty() && !(whatsapp.len() <= 30 && whatsapp.chars().all(|c| c.is_ascii_digit())) {
            v.check::<()>(Err(AppError::invalid(
                "whatsapp_phone_id",
                format!("\"{whatsapp}\" is not a WhatsApp phone number id: copy the digits Meta shows under the number in WhatsApp Manager (not the phone number)."),
            )));
        }
        v.finish()?;
        Ok(BrandForm {
            id: self.id,
            client_id: self.client_id,
            name: name.unwrap_or_default(),
            sender_name: sender_name.unwrap_or_default(),
            sender_email: sender.map(EmailAddress::into_string).unwrap_or_default(),
            sending_domain: domain.map(DomainName::into_string).unwrap_or_default(),
            default_locale: locale.map(Locale::into_string).unwrap_or_default(),
            postal_address: address.unwrap_or_default(),
            sms_sender: texts_from.unwrap_or_default(),
            sms_number: number.unwrap_or_default(),
            whatsapp_phone_id: whatsapp.to_string(),
        })
    }
}

/// A brand's SMS sender: an alphanumeric sender ID (1-11 letters, digits and spaces, at
/// least one letter: the GSM limit of the originator field), a short code (5-6 digits), or
/// a number in international form (+ and 8-15 digits); empty for none.
pub fn sms_sender(field: &str, raw: &str) -> Result<String, AppError> {
    let value = raw.trim();
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let ok = value.is_empty()
        || (value.starts_with('+') && (8..=15).contains(&(value.len() - 1)) && digits(&value[1..]))
        || ((5..=6).contains(&value.len()) && digits(value))
        || (value.chars().count() <= 11
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            && value.chars().any(|c| c.is_ascii_alphabetic()));
    if ok {
        Ok(value.to_string())
    } else {
        Err(AppError::invalid(
            field,
            format!("\"{value}\" is not an SMS sender: use a sender ID of up to 11 letters and digits, a short code, or a number with country code (+4915…)."),
        ))
    }
}

impl StoreForm {
    /// Parses everything but the time zone, which the server checks against the tz database.
    pub fn parse(&self) -> Result<StoreForm, AppError> {
        let mut v = Validation::default();
        let name = v.check(required_text("name", &self.name, 120));
        let platform = v.check(Platform::parse("platform", &self.platform));
        let marketplace = v.check(required_text("marketplace", &self.marketplace, 120));
        let currency = v.check(parse_currency("currency", &self.currency));
        let time_zone = v.check(required_text("time_zone", &self.time_zone, 64));
        if self.brand_id <= 0 {
            v.check::<()>(Err(AppError::invalid("brand_id", "Choose the brand this store sells under.")));
        }
        v.finish()?;
        Ok(StoreForm {
            id: self.id,
            brand_id: self.brand_id,
            name: name.unwrap_or_default(),
            platform: platform.map(|p| p.as_str().to_string()).unwrap_or_default(),
            marketplace: marketplace.unwrap_or_default(),
            currency: currency.unwrap_or_default(),
            time_zone: time_zone.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_are_canonicalised() {
        assert_eq!(Locale::parse("l", "de_at").unwrap().as_str(), "de-AT");
        assert_eq!(Locale::parse("l", "zh-hans-cn").unwrap().as_str(), "zh-Hans-CN");
        assert_eq!(Locale::parse("l", "es-419").unwrap().as_str(), "es-419");
        assert!(Locale::parse("l", "german").is_err());
        assert!(Locale::parse("l", "de-AT-AT").is_err());
        assert!(Locale::parse("l", "").is_err());
    }

    #[test]
    fn brand_sender_must_align_with_sending_domain() {
        let form = BrandForm {
            name: "Acme".into(),
            sender_name: "Acme Care".into(),
            sender_email: "care@other.com".into(),
            sending_domain: "mail.acme.de".into(),
            default_locale: "de".into(),
            postal_address: "Hauptstr. 1, Berlin".into(),
            ..Default::default()
        };
        let err = form.parse().unwrap_err();
        assert!(err.field("sender_email").unwrap().contains("DMARC"));
        let ok = BrandForm { sender_email: "care@mail.acme.de".into(), ..form };
        assert!(ok.parse().is_ok());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let err = BrandForm::default().parse().unwrap_err();
        for field in ["name", "sender_name", "sending_domain", "sender_email", "default_locale", "postal_address"] {
            assert!(err.field(field).is_some(), "{field} should be reported");
        }
    }
}
