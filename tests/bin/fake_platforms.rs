//! A fake platform in a process of its own, for the benchmark: a fake Shopify with generated
//! orders, serving until killed.
//!
//! `starling-fake-platforms shopify <port or 0> <orders> [--no-throttle] [--csv <file>]`
//! prints one line, `LISTENING http://127.0.0.1:PORT TOKEN <access token>`, once it accepts
//! requests. The orders were all last updated before the start, a minute apart, in the
//! shop `nordlicht.myshopify.com`. With `--csv` it first writes the same orders as the
//! shop's orders export (one row per line item), so the benchmark can import by file
//! exactly what the connector pulls.

use chrono::{TimeDelta, Utc};
use starling_tests::fakes::shopify::{FakeShopify, ShopifyOrder, APP_KEY, APP_SECRET, SHOP};
use std::io::Write;

const USAGE: &str = "usage: starling-fake-platforms shopify <port or 0> <orders> [--no-throttle] [--csv <file>]";

/// What the command line asks for.
struct Options {
    port: u16,
    orders: u64,
    throttle: bool,
    csv: Option<std::path::PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Option<Options> {
        let (platform, port, orders, rest) = match args {
            [platform, port, orders, rest @ ..] => (platform, port, orders, rest),
            _ => return None,
        };
        let (mut throttle, mut csv, mut rest) = (true, None, rest);
        loop {
            match rest {
                [] => break,
                [flag, more @ ..] if flag == "--no-throttle" => (throttle, rest) = (false, more),
                [flag, file, more @ ..] if flag == "--csv" => (csv, rest) = (Some(file.into()), more),
                _ => return None,
            }
        }
        if platform != "shopify" {
            return None;
        }
        Some(Options { port: port.parse().ok()?, orders: orders.parse().ok()?, throttle, csv })
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(options) = Options::parse(&args) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let fake = FakeShopify::start_on(options.port, APP_KEY, APP_SECRET);
    let token = format!("shpat_{}", hex::encode(rand::random::<[u8; 16]>()));
    fake.add_shop(SHOP, &token);
    // Placed so that even the last order's update (three days after it was placed) is past.
    let start = Utc::now() - TimeDelta::minutes(options.orders as i64) - TimeDelta::days(4);
    let orders = ShopifyOrder::generate(options.orders, start);
    if let Some(file) = &options.csv {
        if let Err(e) = write_export(file, &orders) {
            eprintln!("writing {}: {e}", file.display());
            std::process::exit(1);
        }
    }
    fake.put_orders(SHOP, orders);
    fake.prepare_pages(SHOP);
    fake.throttle(options.throttle);
    println!("LISTENING {} TOKEN {token}", fake.base);
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}

/// The orders as Shopify's orders export has them: the order's columns on its first line
/// item's row, one row per line item.
fn write_export(file: &std::path::Path, orders: &[ShopifyOrder]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    writeln!(
        out,
        "Name,Email,Financial Status,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Total,Created at,Cancelled at,\
         Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Shipping Name,Shipping Country,Phone"
    )?;
    let time = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S %z").to_string();
    for o in orders {
        let fulfillment = match o.fulfillment_status.as_str() {
            "FULFILLED" => "fulfilled",
            "PARTIALLY_FULFILLED" => "partial",
            _ => "unfulfilled",
        };
        let fulfilled_at = o.fulfillments.iter().map(|f| f.created_at).min().map(time).unwrap_or_default();
        let customer = o.customer.as_ref();
        let marketing = if customer.is_some_and(|c| c.marketing_state == "SUBSCRIBED") { "yes" } else { "no" };
        let name = customer.map(|c| format!("{} {}", c.first_name, c.last_name)).unwrap_or_default();
        for (i, item) in o.line_items.iter().enumerate() {
            let order_columns = if i == 0 {
                [
                    o.email.clone().unwrap_or_default(),
                    o.financial_status.to_lowercase(),
                    fulfillment.to_string(),
                    fulfilled_at.clone(),
                    marketing.to_string(),
                    o.currency.clone(),
                    o.total.clone(),
                    time(o.created_at),
                    o.cancelled_at.map(time).unwrap_or_default(),
                ]
            } else {
                Default::default()
            };
            let item_columns =
                [item.quantity.to_string(), item.name.clone(), item.unit_price.clone(), item.sku.clone().unwrap_or_default()];
            let buyer = if i == 0 {
                [name.clone(), o.country.clone().unwrap_or_default(), o.phone.clone().unwrap_or_default()]
            } else {
                Default::default()
            };
            let row: Vec<String> =
                std::iter::once(o.name.clone()).chain(order_columns).chain(item_columns).chain(buyer).map(|v| quote(&v)).collect();
            writeln!(out, "{}", row.join(","))?;
        }
    }
    out.flush()
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn quote(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}
