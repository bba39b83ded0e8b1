//! The ingest API's JSON: `POST /api/v1/orders` with `{"orders": [...]}` (at most 1,000).
//! Each order is read on its own, so one bad order is rejected with its field and reason
//! while the rest of the batch lands; every order gets its own result.

use super::import::fields;
use super::model::RowError;
use super::model::{OrderItem, OrderStatus, ParsedOrder};
use serde::{Deserialize, Serialize};

pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize)]
pub struct Batch {
    pub orders: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderIn {
    id: String,
    placed_at: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_at: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    marketplace: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    total: Option<serde_json::Value>,
    items: Vec<ItemIn>,
    /// The buyer opted in to e-mail at checkout.
    #[serde(default)]
    consent: Option<bool>,
    /// The buyer agreed to marketing texts: the words they agreed to.
    #[serde(default)]
    sms_consent: Option<String>,
    /// The buyer opted in to WhatsApp messages: the words they agreed to.
    #[serde(default)]
    whatsapp_consent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemIn {
    #[serde(default)]
    sku: String,
    name: String,
    #[serde(default)]
    listing_id: String,
    #[serde(default = "one")]
    quantity: u32,
    #[serde(default)]
    unit_price: Option<serde_json::Value>,
}

fn one() -> u32 {
    1
}

/// One order's result in the response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderResult {
    pub index: usize,
    pub id: String,
    /// created | updated | unchanged | rejected
    pub result: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldProblem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

fn amount(index: usize, field: &str, value: &Option<serde_json::Value>) -> Result<Option<i64>, RowError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => fields::money(index as u64, field, &n.to_string()),
        Some(serde_json::Value::String(s)) => fields::money(index as u64, field, s),
        Some(other) => Err(RowError::new(index as u64, field, format!("{other} is not an amount"))),
    }
}

/// Reads one order of the batch (`index` is its position, reported as its "line").
pub fn parse(index: usize, value: serde_json::Value) -> Result<ParsedOrder, RowError> {
    let order: OrderIn = serde_json::from_value(value).map_err(|e| RowError::new(index as u64, "order", e.to_string()))?;
    let line = index as u64;
    if order.id.trim().is_empty() {
        return Err(RowError::new(line, "id", "is empty: every order needs the shop's order id"));
    }
    let placed_at = fields::datetime(line, "placed_at", order.placed_at.trim(), &[])?;
    let status = match order.status.as_deref().map(str::trim) {
        None | Some("") => OrderStatus::Pending,
        Some(s) => OrderStatus::parse(&s.to_lowercase()).ok_or_else(|| {
            RowError::new(line, "status", format!("\"{s}\" is not one of pending, fulfilled, delivered, cancelled, refunded, returned"))
        })?,
    };
    let status_at = fields::datetime(line, "status_at", order.status_at.as_deref().unwrap_or("").trim(), &[])?;
    if order.items.is_empty() {
        return Err(RowError::new(line, "items", "is empty: an order needs at least one item"));
    }
    let mut items = Vec::with_capacity(order.items.len());
    for (i, item) in order.items.iter().enumerate() {
        if item.quantity == 0 {
            return Err(RowError::new(line, &format!("items[{i}].quantity"), "must be 1 or more"));
        }
        items.push(OrderItem {
            sku: item.sku.trim().to_string(),
            product_name: item.name.trim().to_string(),
            listing_id: item.listing_id.trim().to_string(),
            quantity: item.quantity,
            unit_price_minor: amount(index, &format!("items[{i}].unit_price"), &item.unit_price)?,
        });
    }
    let email = order.email.trim();
    if !email.is_empty() && super::customers::normalise_email(email).is_empty() {
        return Err(RowError::new(line, "email", format!("\"{email}\" is not an e-mail address")));
    }
    let currency = order.currency.trim();
    if !currency.is_empty() && !fields::is_currency(currency) {
        return Err(RowError::new(line, "currency", format!("\"{currency}\" is not a currency code (three letters, like EUR)")));
    }
    let marketplace = order.marketplace.trim().to_lowercase();
    let name = order.name.trim();
    let phone_consent = |field: &str, given: Option<&String>| match given.map(|w| w.trim()) {
        None => Ok(None),
        Some("") => Err(RowError::new(
            line,
            field,
            "is empty: give the words the buyer agreed to (consent to texts and WhatsApp messages must be express and recorded)",
        )),
        Some(words) if order.phone.trim().is_empty() => {
            Err(RowError::new(line, field, format!("is given (\"{words}\") but the order has no phone number")))
        }
        Some(words) => Ok(Some(words.to_string())),
    };
    let sms_consent = phone_consent("sms_consent", order.sms_consent.as_ref())?;
    let whatsapp_consent = phone_consent("whatsapp_consent", order.whatsapp_consent.as_ref())?;
    // A bad phone or an unknown country is told beside the stored order, which is kept.
    let contact = fields::contact(
        line,
        ("email", email),
        ("phone", order.phone.trim()),
        ("country", order.country.trim()),
        name,
        marketplace.starts_with("amazon."),
    );
    Ok(ParsedOrder {
        line,
        platform_order_id: order.id.trim().to_string(),
        placed_at,
        status: Some(status),
        status_at,
        buyer_email: contact.email,
        buyer_phone: contact.phone,
        buyer_name: name.to_string(),
        country: contact.country,
        notes: contact.notes,
        marketplace,
        currency: currency.to_ascii_uppercase(),
        total_minor: amount(index, "total", &order.total)?,
        items,
        accepts_marketing: order.consent,
        sms_consent,
        whatsapp_consent,
        earliest_delivery_at: None,
        latest_delivery_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_complete_order_reads_and_a_bad_one_names_its_field() {
        let good = json!({"id": "1001", "placed_at": "2024-03-05T14:22:11+01:00", "status": "Fulfilled",
            "email": " Eva@Example.AT ", "country": "at", "total": "29.90",
            "items": [{"sku": "HL-1", "name": "Headlamp", "quantity": 2, "unit_price": 14.95}], "consent": true});
        let order = parse(0, good).unwrap();
        assert_eq!(order.buyer_email, "eva@example.at");
        assert_eq!(order.status, Some(OrderStatus::Fulfilled));
        assert_eq!(order.total_minor, Some(2990));
        assert_eq!(order.items[0].unit_price_minor, Some(1495));
        assert_eq!(order.accepts_marketing, Some(true));

        let bad_date = parse(3, json!({"id": "1", "placed_at": "soon", "items": [{"name": "x"}]})).unwrap_err();
        assert_eq!((bad_date.line, bad_date.field.as_str()), (3, "placed_at"));
        let bad_status =
            parse(1, json!({"id": "1", "placed_at": "2024-03-05T14:22:11Z", "status": "lost", "items": [{"name": "x"}]})).unwrap_err();
        assert_eq!(bad_status.field, "status");
        let unknown =
            parse(2, json!({"id": "1", "placed_at": "2024-03-05T14:22:11Z", "items": [{"name": "x"}], "store_id": 9})).unwrap_err();
        assert!(unknown.reason.contains("store_id"), "{}", unknown.reason);
        let no_items = parse(2, json!({"id": "1", "placed_at": "2024-03-05T14:22:11Z", "items": []})).unwrap_err();
        assert_eq!(no_items.field, "items");
    }
}
