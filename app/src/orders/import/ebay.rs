//! eBay's orders report (Seller Hub, CSV): one row per order line, keyed by
//! `Order Number`, with a blank line before the header and summary lines after the data.

use super::fields::{self, Columns};
use super::{grouped, FileError, Group, Item, RowError, Rows};
use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder};
use std::io::Read;

const LAYOUT: &str = "eBay orders report";
/// eBay.com writes `Mar-05-24`; eBay.co.uk, .com.au, .ie and the European sites write the
/// day first (`05-Mar-24`), the German site also `05.03.24`. Month names in the sites'
/// languages are read too (`fields::datetime`). Slashes are left out:
/// `03/05/24` is March 5th or May 3rd depending on the site.
const DATES: &[&str] = &[
    "%b-%d-%y",
    "%b-%d-%Y",
    "%b-%d-%y %H:%M:%S",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d-%b-%y %H:%M:%S",
    "%d %b %Y",
    "%d. %b %Y",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d.%m.%y",
];

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
    let name = [c.get(first, "Ship To Name"), c.get(first, "Buyer Name")].into_iter().find(|n| !n.is_empty()).unwrap_or("").to_string();
    let country = [("Ship To Country", c.get(first, "Ship To Country")), ("Buyer Country", c.get(first, "Buyer Country"))]
        .into_iter()
        .find(|(_, v)| !v.is_empty())
        .unwrap_or(("Ship To Country", ""));
    let contact = fields::contact(
        line,
        ("Buyer Email", c.get(first, "Buyer Email")),
        ("Ship To Phone", c.get(first, "Ship To Phone")),
        country,
        &name,
        false,
    );
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
        currency: String::new(),
        total_minor: fields::money(line, "Total Price", c.get(first, "Total Price"))?,
        items,
        accepts_marketing: None,
        sms_consent: None,
        whatsapp_consent: None,
        earliest_delivery_at: None,
        latest_delivery_at: None,
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
