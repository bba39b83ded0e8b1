//! eBay's orders report (Seller Hub, CSV): one row per order line, keyed by
//! `Order Number`, with a blank line before the header and summary lines after the data.

use super::fields::{self, Columns};
use super::{grouped, FileError, Group, Item, RowError, Rows};
use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder};
use std::io::Read;

const LAYOUT: &str = "eBay orders report";
const DATES: &[&str] = &["%b-%d-%y", "%b-%d-%Y", "%b-%d-%y %H:%M:%S", "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y"];

pub(super) fn orders<R: Read + Send + 'static>(columns: Columns, rows: Rows<R>) -> Result<impl Iterator<Item = Item> + Send, FileError> {
    columns.require(LAYOUT, &["Order Number", "Item Title", "Quantity", "Sale Date"])?;
    Ok(grouped(rows, columns, "Order Number", is_filler, order))
}

/// Blank rows and eBay's trailing summary ("12 record(s) downloaded", "Seller ID: …").
fn is_filler(c: &Columns, record: &csv::StringRecord) -> bool {
    let filled = record.iter().filter(|f| !f.trim().is_empty()).count();
    filled == 0 || (filled <= 2 && c.get(record, "Order Number").is_empty() && c.get(record, "Item Title").is_empty())
}

fn order(c: &Columns, group: &Group) -> Item {
    let (line, first) = (group.line, &group.first);
    let placed_at = fields::datetime(line, "Sale Date", c.get(first, "Sale Date"), DATES)?;
    let shipped_at = fields::datetime(line, "Shipped On Date", c.get(first, "Shipped On Date"), DATES)?;
    let (status, status_at) = match shipped_at {
        Some(at) => (OrderStatus::Fulfilled, Some(at)),
        None => (OrderStatus::Pending, None),
    };
    let items = group.items(|l, row| item(c, l, row))?;
    Ok(ParsedOrder {
        line,
        platform_order_id: group.key.clone(),
        placed_at,
        status: Some(status),
        status_at,
        buyer_email: fields::email(c.get(first, "Buyer Email")),
        buyer_phone: c.get(first, "Ship To Phone").to_string(),
        buyer_name: [c.get(first, "Ship To Name"), c.get(first, "Buyer Name")]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or("")
            .to_string(),
        country: fields::country(
            [c.get(first, "Ship To Country"), c.get(first, "Buyer Country")].into_iter().find(|n| !n.is_empty()).unwrap_or(""),
        ),
        marketplace: String::new(),
        currency: String::new(),
        total_minor: fields::money(line, "Total Price", c.get(first, "Total Price"))?,
        items,
        accepts_marketing: None,
    })
}

fn item(c: &Columns, line: u64, row: &csv::StringRecord) -> Result<OrderItem, RowError> {
    Ok(OrderItem {
        sku: c.get(row, "Custom Label").to_string(),
        product_name: c.get(row, "Item Title").to_string(),
        listing_id: c.get(row, "Item Number").to_string(),
        quantity: fields::quantity(line, "Quantity", c.get(row, "Quantity"))?,
        unit_price_minor: fields::money(line, "Sold For", c.get(row, "Sold For"))?,
    })
}
