//! Shopify's orders export: one row per line item, grouped by `Name` (#1001); the order's
//! own fields are on its first row only.

use super::fields::{self, Columns};
use super::{grouped, is_blank, FileError, Group, Item, RowError, Rows};
use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder};
use std::io::Read;

const LAYOUT: &str = "Shopify orders export";
const DATES: &[&str] = &["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"];

pub(super) fn orders<R: Read + Send + 'static>(columns: Columns, rows: Rows<R>) -> Result<impl Iterator<Item = Item> + Send, FileError> {
    columns.require(LAYOUT, &["Name", "Created at", "Financial Status", "Fulfillment Status", "Lineitem name", "Lineitem quantity"])?;
    Ok(grouped(rows, columns, "Name", is_blank, order))
}

fn order(c: &Columns, group: &Group) -> Item {
    let (line, first) = (group.line, &group.first);
    let placed_at = fields::datetime(line, "Created at", c.get(first, "Created at"), DATES)?;
    let fulfilled_at = fields::datetime(line, "Fulfilled at", c.get(first, "Fulfilled at"), DATES)?;
    let cancelled_at = fields::datetime(line, "Cancelled at", c.get(first, "Cancelled at"), DATES)?;
    let financial = c.get(first, "Financial Status").to_ascii_lowercase();
    let fulfillment = c.get(first, "Fulfillment Status").to_ascii_lowercase();
    let (status, status_at) = if cancelled_at.is_some() {
        (OrderStatus::Cancelled, cancelled_at)
    } else if financial == "refunded" {
        (OrderStatus::Refunded, None)
    } else if fulfillment == "fulfilled" {
        (OrderStatus::Fulfilled, fulfilled_at)
    } else {
        (OrderStatus::Pending, None)
    };
    let items = group.items(|l, row| item(c, l, row))?;
    // The first filled of several columns, with its name (for notes).
    let first_filled = |names: &[&'static str]| -> (&'static str, &str) {
        names.iter().map(|n| (*n, c.get(first, n))).find(|(_, v)| !v.is_empty()).unwrap_or((names[0], ""))
    };
    let name = first_filled(&["Shipping Name", "Billing Name"]).1.to_string();
    let mut contact = fields::contact(
        line,
        ("Email", c.get(first, "Email")),
        first_filled(&["Phone", "Shipping Phone", "Billing Phone"]),
        first_filled(&["Shipping Country", "Billing Country"]),
        &name,
        false,
    );
    let currency = fields::currency(line, ("Currency", c.get(first, "Currency")), &mut contact.notes);
    Ok(ParsedOrder {
        line,
        platform_order_id: group.key.clone(),
        placed_at,
        status: Some(status),
        status_at,
        buyer_email: contact.email,
        buyer_phone: contact.phone,
        buyer_name: name,
        country: contact.country,
        notes: contact.notes,
        marketplace: String::new(),
        currency,
        total_minor: fields::money(line, "Total", c.get(first, "Total"))?,
        items,
        accepts_marketing: match c.get(first, "Accepts Marketing").to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => None,
        },
        sms_consent: None,
        whatsapp_consent: None,
        earliest_delivery_at: None,
        latest_delivery_at: None,
    })
}

fn item(c: &Columns, line: u64, row: &csv::StringRecord) -> Result<OrderItem, RowError> {
    Ok(OrderItem {
        sku: c.get(row, "Lineitem sku").to_string(),
        product_name: c.get(row, "Lineitem name").to_string(),
        listing_id: String::new(),
        quantity: fields::quantity(line, "Lineitem quantity", c.get(row, "Lineitem quantity"))?,
        unit_price_minor: fields::money(line, "Lineitem price", c.get(row, "Lineitem price"))?,
    })
}
