//! An order as a platform's API describes it, before it is checked: each platform module
//! fills a [`Draft`] from its JSON, and [`Draft::into_order`] checks it with the same rules
//! file imports use (dates, addresses, countries, phones, amounts), so an order read from an
//! API and from a file of the same shop comes out the same.

use crate::orders::import::fields;
use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder, RowError};
use serde_json::Value;

/// One line item as the platform gave it.
#[derive(Clone, Debug, Default)]
pub struct DraftItem {
    pub sku: String,
    pub name: String,
    pub listing_id: String,
    pub quantity: Option<i64>,
    /// Decimal text, per unit.
    pub unit_price: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// The id the shop's own exports use (Shopify's "#1001", Amazon's and eBay's order ids),
    /// so an order that arrives by file and by API is one order.
    pub id: String,
    pub placed_at: Option<String>,
    pub status: OrderStatus,
    /// When it reached `status` (RFC 3339), when the platform says.
    pub status_at: Option<String>,
    pub email: String,
    pub phone: String,
    pub name: String,
    pub country: String,
    pub marketplace: String,
    pub currency: String,
    pub total: Option<String>,
    pub accepts_marketing: Option<bool>,
    /// The buyer's consent to marketing texts as the platform records it (in words).
    pub sms_consent: Option<String>,
    pub earliest_delivery: Option<String>,
    pub latest_delivery: Option<String>,
    pub items: Vec<DraftItem>,
    /// Amazon hides buyers' addresses: none is normal there.
    pub reachable_elsewhere: bool,
}

impl Draft {
    /// The order, or why it cannot be stored (field named as the platform names it).
    /// `line` is its position in what was received, for the rejected-rows list.
    pub fn into_order(self, line: u64) -> Result<ParsedOrder, RowError> {
        self.read(line, true)
    }

    /// An order Starling has stored already, read without its items (the platform gives
    /// them by a separate, slower request, and a stored order keeps its own).
    pub fn into_known_order(self, line: u64) -> Result<ParsedOrder, RowError> {
        self.read(line, false)
    }

    fn read(self, line: u64, with_items: bool) -> Result<ParsedOrder, RowError> {
        let reject = |field: &str, reason: String| RowError::new(line, field, format!("order {}: {reason}", self.id));
        if self.id.trim().is_empty() {
            return Err(RowError::new(line, "id", "the platform sent an order without an id"));
        }
        let time = |field: &str, value: &Option<String>| -> Result<Option<i64>, RowError> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => super::http::millis(v).map(Some).ok_or_else(|| reject(field, format!("\"{v}\" is not a date and time"))),
            }
        };
        let placed_at = time("placed", &self.placed_at)?.ok_or_else(|| reject("placed", "has no order date".into()))?;
        let status_at = time("status date", &self.status_at)?;
        let earliest_delivery_at = time("earliest delivery", &self.earliest_delivery)?;
        let latest_delivery_at = time("latest delivery", &self.latest_delivery)?;
        let amount = |field: &str, value: &Option<String>| -> Result<Option<i64>, RowError> {
            match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => super::http::minor(v).map(Some).ok_or_else(|| reject(field, format!("\"{v}\" is not an amount"))),
            }
        };
        if with_items && self.items.is_empty() {
            return Err(reject("items", "has no line item".into()));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for (i, item) in self.items.iter().enumerate() {
            let quantity = item.quantity.unwrap_or(1);
            if !(1..=i64::from(u32::MAX)).contains(&quantity) {
                return Err(reject(&format!("items[{i}].quantity"), format!("{quantity} is not a quantity")));
            }
            items.push(OrderItem {
                sku: item.sku.trim().to_string(),
                product_name: item.name.trim().to_string(),
                listing_id: item.listing_id.trim().to_string(),
                quantity: quantity as u32,
                unit_price_minor: amount(&format!("items[{i}].price"), &item.unit_price)?,
            });
        }
        let total_minor = amount("total", &self.total)?;
        let mut contact = fields::contact(
            line,
            ("email", self.email.trim()),
            ("phone", self.phone.trim()),
            ("country", self.country.trim()),
            self.name.trim(),
            self.reachable_elsewhere,
        );
        let currency = fields::currency(line, ("currency", self.currency.trim()), &mut contact.notes);
        // A consent to texts without a number to text is nothing to record.
        let contact_phone_empty = contact.phone.is_empty();
        Ok(ParsedOrder {
            line,
            platform_order_id: self.id.trim().to_string(),
            placed_at: Some(placed_at),
            status: Some(self.status),
            status_at,
            buyer_email: contact.email,
            buyer_phone: contact.phone,
            buyer_name: self.name.trim().to_string(),
            country: contact.country,
            notes: contact.notes,
            marketplace: self.marketplace.trim().to_ascii_lowercase(),
            currency,
            total_minor,
            items,
            accepts_marketing: self.accepts_marketing,
            sms_consent: self.sms_consent.filter(|_| !contact_phone_empty),
            whatsapp_consent: None,
            earliest_delivery_at,
            latest_delivery_at,
        })
    }
}

/// Text at a JSON pointer ("" when absent or null; numbers as their text).
pub fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// Text at a JSON pointer, `None` when absent, null or empty.
pub fn some_text(value: &Value, pointer: &str) -> Option<String> {
    Some(text(value, pointer)).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft {
            id: "#1001".into(),
            placed_at: Some("2026-11-20T10:00:00Z".into()),
            email: "Eva@Example.AT".into(),
            country: "AT".into(),
            currency: "EUR".into(),
            total: Some("29.90".into()),
            items: vec![DraftItem {
                sku: "HL-1".into(),
                name: "Headlamp".into(),
                quantity: Some(2),
                unit_price: Some("14.95".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_draft_becomes_the_order_a_file_would_give_and_a_bad_one_names_its_field() {
        let order = draft().into_order(3).unwrap();
        assert_eq!(
            (order.buyer_email.as_str(), order.total_minor, order.items[0].unit_price_minor),
            ("eva@example.at", Some(2990), Some(1495))
        );
        let no_items = Draft { items: vec![], ..draft() }.into_order(4).unwrap_err();
        assert_eq!((no_items.line, no_items.field.as_str()), (4, "items"));
        assert!(no_items.reason.contains("#1001"), "{}", no_items.reason);
        let bad_date = Draft { placed_at: Some("yesterday".into()), ..draft() }.into_order(5).unwrap_err();
        assert_eq!(bad_date.field, "placed");
        let bad_email = Draft { email: "not-an-address".into(), ..draft() }.into_order(6).unwrap();
        assert!(bad_email.buyer_email.is_empty() && bad_email.notes.len() == 1, "kept without the bad value, and told");
    }
}
