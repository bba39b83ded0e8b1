//! Amazon's order report (flat file, tab-separated): one row per order item; buyer
//! e-mails, when present at all, are Amazon relay addresses.

use super::fields::{self, Columns};
use super::{grouped, is_blank, FileError, Group, Item, RowError, Rows};
use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder};
use std::io::Read;

const LAYOUT: &str = "Amazon order report";
const DATES: &[&str] = &["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"];

pub(super) fn orders<R: Read + Send + 'static>(columns: Columns, rows: Rows<R>) -> Result<impl Iterator<Item = Item> + Send, FileError> {
    columns.require(LAYOUT, &["amazon-order-id", "purchase-date", "order-status", "sku", "product-name", "ship-country"])?;
    Ok(grouped(rows, columns, "amazon-order-id", is_blank, order))
}

fn order(c: &Columns, group: &Group) -> Item {
    let (line, first) = (group.line, &group.first);
    let placed_at = fields::datetime(line, "purchase-date", c.get(first, "purchase-date"), DATES)?;
    let updated_at = fields::datetime(line, "last-updated-date", c.get(first, "last-updated-date"), DATES)?;
    let status = match c.get(first, "order-status").to_ascii_lowercase().as_str() {
        "shipped" => OrderStatus::Fulfilled,
        "cancelled" | "canceled" => OrderStatus::Cancelled,
        "pending" | "unshipped" | "shipping" | "partiallyshipped" | "" => OrderStatus::Pending,
        other => {
            return Err(RowError::new(
                line,
                "order-status",
                format!("\"{other}\" is not an Amazon order status (Pending, Shipped, Cancelled…)"),
            ))
        }
    };
    let items = group.items(|l, row| item(c, l, row))?;
    // Amazon's item-price is the line's total, so the order's total is their sum.
    let mut total = None;
    for (l, row) in group.rows() {
        if let Some(price) = fields::money(l, "item-price", c.get(row, "item-price"))? {
            total = Some(total.unwrap_or(0) + price);
        }
    }
    let name = [c.get(first, "buyer-name"), c.get(first, "recipient-name")].into_iter().find(|n| !n.is_empty()).unwrap_or("").to_string();
    // Amazon buyers are reached through Amazon's own messaging: no address is normal.
    let mut contact = fields::contact(
        line,
        ("buyer-email", c.get(first, "buyer-email")),
        ("buyer-phone-number", c.get(first, "buyer-phone-number")),
        ("ship-country", c.get(first, "ship-country")),
        &name,
        true,
    );
    let currency = fields::currency(line, ("currency", c.get(first, "currency")), &mut contact.notes);
    Ok(ParsedOrder {
        line,
        platform_order_id: group.key.clone(),
        placed_at,
        status: Some(status),
        status_at: if status == OrderStatus::Pending { None } else { updated_at },
        buyer_email: contact.email,
        buyer_phone: contact.phone,
        buyer_name: name,
        country: contact.country,
        notes: contact.notes,
        marketplace: c.get(first, "sales-channel").to_ascii_lowercase(),
        currency,
        total_minor: total,
        items,
        accepts_marketing: None,
        sms_consent: None,
        whatsapp_consent: None,
        earliest_delivery_at: None,
        latest_delivery_at: None,
    })
}

fn item(c: &Columns, line: u64, row: &csv::StringRecord) -> Result<OrderItem, RowError> {
    let quantity = fields::quantity(line, "quantity", c.get(row, "quantity"))?;
    let price = fields::money(line, "item-price", c.get(row, "item-price"))?;
    Ok(OrderItem {
        sku: c.get(row, "sku").to_string(),
        product_name: c.get(row, "product-name").to_string(),
        listing_id: c.get(row, "asin").to_string(),
        quantity,
        // Amazon's item-price is the line's total.
        unit_price_minor: price.map(|p| p / i64::from(quantity.max(1))),
    })
}
