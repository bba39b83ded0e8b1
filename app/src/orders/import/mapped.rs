//! Any other CSV: the account manager maps its columns to Starling's fields once per
//! store, and the mapping is saved and reused. Rows with the same order id form one order.

use super::fields::{self, Columns};
use super::{grouped, is_blank, FileError, Group, Item, RowError, Rows};
use crate::orders::model::{Mapping, OrderItem, OrderStatus, ParsedOrder, FIELDS};
use std::io::Read;

/// Date formats a mapped file may use (ISO first; day-first European before US).
const DATES: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d. %b %Y",
    "%b %d, %Y",
    "%b-%d-%y",
];

pub(super) fn orders<R: Read + Send + 'static>(
    columns: Columns,
    rows: Rows<R>,
    mapping: Mapping,
) -> Result<impl Iterator<Item = Item> + Send, FileError> {
    let missing: Vec<String> = FIELDS
        .iter()
        .filter(|(key, _, required)| *required && mapping.get(key).is_empty())
        .map(|(_, label, _)| label.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns { layout: "column mapping", missing: missing.join(", ") });
    }
    let headers: Vec<&str> = FIELDS.iter().map(|(key, _, _)| mapping.get(key)).filter(|h| !h.is_empty()).collect();
    columns.require("CSV (mapped)", &headers)?;
    // Cells are read by the mapped header; the key column is the mapped order id.
    let key = mapping.order_id.clone();
    Ok(grouped(rows, columns, key, is_blank, move |c, group| order(c, group, &mapping)))
}

fn status(line: u64, field: &str, value: &str) -> Result<Option<OrderStatus>, RowError> {
    let v = value.trim().to_lowercase();
    if v.is_empty() {
        return Ok(None);
    }
    let words: [(&[&str], OrderStatus); 6] = [
        (&["returned", "return", "retoure"], OrderStatus::Returned),
        (&["refunded", "refund", "erstattet"], OrderStatus::Refunded),
        (&["cancelled", "canceled", "storniert"], OrderStatus::Cancelled),
        (&["delivered", "zugestellt"], OrderStatus::Delivered),
        (&["shipped", "fulfilled", "sent", "versendet", "versandt"], OrderStatus::Fulfilled),
        (&["pending", "open", "paid", "unfulfilled", "unshipped", "new", "offen"], OrderStatus::Pending),
    ];
    words.iter().find(|(names, _)| names.contains(&v.as_str())).map(|(_, s)| Some(*s)).ok_or_else(|| {
        RowError::new(
            line,
            field,
            format!("\"{value}\" is not a status Starling knows (pending, shipped, delivered, cancelled, refunded, returned)"),
        )
    })
}

fn order(c: &Columns, group: &Group, m: &Mapping) -> Item {
    let (line, first) = (group.line, &group.first);
    let cell = |header: &str| if header.is_empty() { "" } else { c.get(first, header) };
    let placed_at = fields::datetime(line, &m.placed_at, cell(&m.placed_at), DATES)?;
    if placed_at.is_none() {
        return Err(RowError::new(line, &m.placed_at, "is empty: every order needs its date"));
    }
    let items = group.items(|l, row| {
        let cell = |header: &str| if header.is_empty() { "" } else { c.get(row, header) };
        Ok(OrderItem {
            sku: cell(&m.sku).to_string(),
            product_name: cell(&m.product_name).to_string(),
            listing_id: String::new(),
            quantity: fields::quantity(l, &m.quantity, cell(&m.quantity))?,
            unit_price_minor: fields::money(l, &m.unit_price, cell(&m.unit_price))?,
        })
    })?;
    let mut contact =
        fields::contact(line, (&m.email, cell(&m.email)), (&m.phone, cell(&m.phone)), (&m.country, cell(&m.country)), cell(&m.name), false);
    let currency = fields::currency(line, (&m.currency, cell(&m.currency)), &mut contact.notes);
    Ok(ParsedOrder {
        line,
        platform_order_id: group.key.clone(),
        placed_at,
        status: status(line, &m.status, cell(&m.status))?.or(Some(OrderStatus::Pending)),
        status_at: fields::datetime(line, &m.status_at, cell(&m.status_at), DATES)?,
        buyer_email: contact.email,
        buyer_phone: contact.phone,
        buyer_name: cell(&m.name).to_string(),
        country: contact.country,
        notes: contact.notes,
        marketplace: String::new(),
        currency,
        total_minor: fields::money(line, &m.total, cell(&m.total))?,
        items,
        accepts_marketing: None,
        sms_consent: None,
        whatsapp_consent: None,
        earliest_delivery_at: None,
        latest_delivery_at: None,
    })
}
