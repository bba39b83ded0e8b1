//! A fake platform in a process of its own, for the benchmark: a fake Shopify with generated
//! orders, serving until killed.
//!
//! `starling-fake-platforms shopify <port or 0> <orders> [--no-throttle]` prints one line,
//! `LISTENING http://127.0.0.1:PORT TOKEN <access token>`, once it accepts requests. The
//! orders were all last updated before the start, a minute apart, in the shop
//! `nordlicht.myshopify.com`.

use chrono::{TimeDelta, Utc};
use starling_tests::fakes::shopify::{FakeShopify, ShopifyOrder, APP_KEY, APP_SECRET, SHOP};
use std::io::Write;

const USAGE: &str = "usage: starling-fake-platforms shopify <port or 0> <orders> [--no-throttle]";

/// What the command line asks for.
struct Options {
    port: u16,
    orders: u64,
    throttle: bool,
}

impl Options {
    fn parse(args: &[String]) -> Option<Options> {
        let (platform, port, orders, rest) = match args {
            [platform, port, orders, rest @ ..] => (platform, port, orders, rest),
            _ => return None,
        };
        let throttle = match rest {
            [] => true,
            [flag] if flag == "--no-throttle" => false,
            _ => return None,
        };
        if platform != "shopify" {
            return None;
        }
        Some(Options { port: port.parse().ok()?, orders: orders.parse().ok()?, throttle })
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
    fake.put_orders(SHOP, ShopifyOrder::generate(options.orders, start));
    fake.throttle(options.throttle);
    println!("LISTENING {} TOKEN {token}", fake.base);
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
