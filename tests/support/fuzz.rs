//! Every parser that reads input from outside Starling, as a fuzz target: the order
//! importers (Shopify, Amazon, eBay and any CSV through a column mapping), the review and
//! suppression importers, the ingest and review APIs' JSON, the bounce and complaint
//! webhook, tracking tokens and template rendering.
//!
//! Inputs come from proptest (stable Rust, no instrumented build): half are seed files with
//! a few mutations (bytes flipped, inserted, deleted, repeated, spliced from another seed,
//! tokens of the format dropped in), half are built from the format's own vocabulary (CSV
//! rows of the layout's columns with dates, amounts and addresses in many spellings; JSON
//! with the API's fields holding any type; templates from tag and filter soup). A target
//! fails when its parser panics, and `run` stops the process when one input takes longer
//! than [`HANG`]; either way the input is saved under `tests/fuzz/<target>/`, which the
//! suite replays on every run.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRng, TestRunner};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One input taking longer than this is a hang (the largest input is a few hundred KB).
pub const HANG: Duration = Duration::from_secs(10);
/// The secret the token and webhook targets sign with.
const SECRET: &str = "fuzz-secret-key";
/// "Now" for token lifetimes.
const NOW: i64 = 1_790_000_000_000;

/// How a target's generated inputs are shaped.
#[derive(Clone, Copy)]
pub enum Shape {
    /// A CSV export: the columns of the first line of its first seed, cells from the
    /// field vocabulary.
    Csv,
    /// JSON: `{"<list>": [objects with these fields]}`.
    Json { list: &'static str, fields: &'static [&'static str] },
    /// Text built from the dictionary's tokens and random words.
    Soup,
}

pub struct Target {
    pub name: &'static str,
    /// Reads one input the way the product reads it; a panic is a failure.
    pub run: fn(&[u8]),
    /// Well-formed inputs that reach deep into the parser.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens the format gives meaning to, dropped into inputs by mutations.
    pub dictionary: &'static [&'static str],
    pub shape: Shape,
}

pub fn targets() -> Vec<Target> {
    vec![
        Target { name: "shopify", run: read_orders, seeds: shopify_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target { name: "amazon", run: read_orders, seeds: amazon_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target { name: "ebay", run: read_orders, seeds: ebay_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target { name: "mapped", run: read_mapped, seeds: mapped_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target { name: "reviews_csv", run: read_reviews_csv, seeds: reviews_csv_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target { name: "suppression_csv", run: read_suppression_csv, seeds: suppression_seeds, dictionary: CSV_WORDS, shape: Shape::Csv },
        Target {
            name: "ingest_json",
            run: read_ingest_json,
            seeds: ingest_seeds,
            dictionary: JSON_WORDS,
            shape: Shape::Json {
                list: "orders",
                fields: &[
                    "id",
                    "placed_at",
                    "status",
                    "status_at",
                    "email",
                    "phone",
                    "name",
                    "country",
                    "marketplace",
                    "currency",
                    "total",
                    "items",
                    "consent",
                    "sku",
                    "listing_id",
                    "quantity",
                    "unit_price",
                ],
            },
        },
        Target {
            name: "reviews_json",
            run: read_reviews_json,
            seeds: reviews_json_seeds,
            dictionary: JSON_WORDS,
            shape: Shape::Json { list: "reviews", fields: &["id", "order_id", "email", "rating", "title", "text", "author", "date"] },
        },
        Target { name: "feedback", run: read_feedback, seeds: feedback_seeds, dictionary: MAIL_WORDS, shape: Shape::Soup },
        Target { name: "tokens", run: read_token, seeds: token_seeds, dictionary: TOKEN_WORDS, shape: Shape::Soup },
        Target { name: "templates", run: render_template, seeds: template_seeds, dictionary: TEMPLATE_WORDS, shape: Shape::Soup },
    ]
}

pub fn target(name: &str) -> Option<Target> {
    targets().into_iter().find(|t| t.name == name)
}

// ---------------------------------------------------------------------------------------
// The targets: each reads its input to the end, as the product does.

fn read_orders(input: &[u8]) {
    if let Ok(import) = app::orders::import::Import::open(Cursor::new(input.to_vec()), None) {
        for order in import {
            let _ = std::hint::black_box(order);
        }
    }
}

/// The mapping the user would confirm: the guess, with every required field left empty
/// given the first column not yet used.
fn read_mapped(input: &[u8]) {
    use app::orders::model::{Mapping, FIELDS};
    let Ok(headers) = app::orders::import::Import::headers(Cursor::new(input.to_vec())) else { return };
    let mut mapping = Mapping::guess(&headers);
    for (key, _, required) in FIELDS {
        if required && mapping.get(key).is_empty() {
            if let Some(free) = headers.iter().find(|h| !FIELDS.iter().any(|(k, _, _)| mapping.get(k) == h.as_str())) {
                mapping.set(key, free.clone());
            }
        }
    }
    let _ = mapping.problems(&headers);
    if let Ok(import) = app::orders::import::Import::open(Cursor::new(input.to_vec()), Some(&mapping)) {
        for order in import {
            let _ = std::hint::black_box(order);
        }
    }
}

fn read_reviews_csv(input: &[u8]) {
    let _ = std::hint::black_box(app::reports::reviews::parse_csv(Cursor::new(input.to_vec())));
}

fn read_suppression_csv(input: &[u8]) {
    if let Ok(rows) = app::orders::privacy::read_list(Cursor::new(input.to_vec())) {
        for row in rows {
            if let Ok(row) = row {
                // What the upload then checks of each address.
                let _ = app::orders::privacy::normalise_address(&row.address);
            }
        }
    }
}

fn read_ingest_json(input: &[u8]) {
    if let Ok(batch) = serde_json::from_slice::<app::orders::ingest::Batch>(input) {
        for (index, order) in batch.orders.into_iter().enumerate() {
            let _ = std::hint::black_box(app::orders::ingest::parse(index, order));
        }
    }
}

fn read_reviews_json(input: &[u8]) {
    if let Ok(batch) = serde_json::from_slice::<app::reports::reviews::ApiBatch>(input) {
        for (index, review) in batch.reviews.into_iter().enumerate() {
            let _ = std::hint::black_box(review.parse(index));
        }
    }
}

fn read_feedback(input: &[u8]) {
    let _ = std::hint::black_box(app::delivery::feedback::parse(SECRET, input));
}

/// A token as it arrives in a link's path, and the same bytes as the claims of a token
/// that verifies (as if its signing key had leaked): the claims reader and the lifetime
/// arithmetic see hostile values too.
fn read_token(input: &[u8]) {
    use app::delivery::tokens::{check, Purpose};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let text = String::from_utf8_lossy(input);
    for purpose in [Purpose::Open, Purpose::Click, Purpose::Unsubscribe] {
        let _ = check(SECRET, 1, &text, purpose, NOW);
    }
    let body = URL_SAFE_NO_PAD.encode(input);
    let token = app::delivery::tokens::sign_body(SECRET, 1, &body);
    for purpose in [Purpose::Open, Purpose::Click, Purpose::Unsubscribe] {
        if let Some(checked) = check(SECRET, 1, &token, purpose, NOW) {
            let _ = std::hint::black_box(checked);
        }
    }
    let _ = app::delivery::compose::parse_message_id(SECRET, &text);
}

/// Subject, HTML and text body (split at NUL bytes), checked and rendered as the editor's
/// preview and the sender do.
fn render_template(input: &[u8]) {
    use app::common::render;
    let text = String::from_utf8_lossy(input);
    let mut parts = text.splitn(3, '\0');
    let subject = parts.next().unwrap_or("");
    let html = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("");
    for source in [subject, html, body] {
        let _ = render::unsupported(source);
        let _ = render::variable_problems(source);
    }
    let context = render::placeholder_context("Nordlicht", "Hafenstraße 12, 20457 Hamburg");
    let _ = std::hint::black_box(render::render(subject, html, body, &context));
}

// ---------------------------------------------------------------------------------------
// Seeds: one of each platform's layouts and of every input the other parsers take.

/// A CSV row of `width` cells, empty but for `cells` (position, value), quoted as needed.
fn csv_row(width: usize, cells: &[(usize, &str)]) -> String {
    let mut row = vec![String::new(); width];
    for (at, value) in cells {
        row[*at] = if value.contains([',', '"', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_string() };
    }
    row.join(",")
}

const SHOPIFY_HEADER: &str = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount,Phone";

fn shopify_seeds() -> Vec<Vec<u8>> {
    let row = |cells: &[(usize, &str)]| csv_row(57, cells);
    let file = [
        SHOPIFY_HEADER.to_string(),
        row(&[
            (0, "#1001"),
            (1, "anna.becker@example.de"),
            (2, "paid"),
            (4, "fulfilled"),
            (5, "2024-03-06 10:00:00 +0100"),
            (7, "EUR"),
            (11, "59.80"),
            (15, "2024-03-05 14:22:11 +0100"),
            (16, "1"),
            (17, "Trail Jacket"),
            (18, "39.90"),
            (20, "TJ-1"),
            (34, "Anna Becker"),
            (42, "DE"),
        ]),
        row(&[(0, "#1001"), (16, "2"), (17, "Wool Socks"), (18, "9,95"), (20, "WS-2")]),
        row(&[
            (0, "#1002"),
            (2, "refunded"),
            (7, "GBP"),
            (15, "2024-03-05 15:00:00 +0000"),
            (16, "1"),
            (17, "Tent \"Fjell\", 2 persons,\nwith footprint"),
            (18, "199.00"),
            (34, "Tom Smith"),
            (42, "United Kingdom"),
            (56, "07700 900123"),
        ]),
        row(&[(0, "#1003"), (1, "=1+1@example.com"), (2, "voided"), (15, "2024-03-07 09:00:00 +0100"), (17, "Cap"), (46, "2024-03-07")]),
    ]
    .join("\r\n");
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(file.replace(',', "\t").encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
    vec![file.into_bytes(), utf16]
}

const AMAZON_HEADER: &str = "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\tshipping-tax\tgift-wrap-price\tgift-wrap-tax\titem-promotion-discount\tship-promotion-discount\tship-city\tship-state\tship-postal-code\tship-country\tpromotion-ids\tis-business-order\tpurchase-order-number\tprice-designation";

fn amazon_seeds() -> Vec<Vec<u8>> {
    let rows = [
        "028-1234567-1234567\t\t2024-03-05T14:22:11+00:00\t2024-03-07T09:00:00+00:00\tShipped\tAmazon\tAmazon.de\t\tStandard\tStirnlampe \"Nacht\" 300lm\tSL-1\tB0TEST0001\tShipped\t1\tEUR\t19.90\t3.18\t0.00\t0.00\t\t\t\t\tBerlin\t\t10115\tDE\t\tfalse\t\t",
        "028-1234567-1234567\t\t2024-03-05T14:22:11+00:00\t2024-03-07T09:00:00+00:00\tShipped\tAmazon\tAmazon.de\t\tStandard\tBatterien\tBT-4\tB0TEST0002\tShipped\t4\tEUR\t2.50\t0.40\t\t\t\t\t\t\tBerlin\t\t10115\tDE\t\tfalse\t\t",
        "250-7654321-7654321\t\t2024-03-06T01:02:03+09:00\t2024-03-06T01:02:03+09:00\tPending\tMerchant\tAmazon.co.jp\t\tStandard\t懐中電灯\tSL-2\tB0TEST0003\tUnshipped\t1\tJPY\t2980\t\t\t\t\t\t\t\t東京\t\t100-0001\tJP\t\ttrue\t\t",
        "111-0000000-0000000\t\t2024-03-06\t\tCancelled\tAmazon\tAmazon.com\t\t\tCap\tCP\t\tCancelled\t0\t=cmd|' /C calc'!A0\t5.00\t\t\t\t\t\t\t\t\t\t\tUS\t\t\t\t",
    ];
    vec![std::iter::once(AMAZON_HEADER).chain(rows).collect::<Vec<_>>().join("\n").into_bytes()]
}

const EBAY_HEADER: &str = "Sales Record Number,Order Number,Buyer Username,Buyer Name,Buyer Email,Buyer Note,Buyer Address 1,Buyer Address 2,Buyer City,Buyer State,Buyer Zip,Buyer Country,Ship To Name,Ship To Phone,Ship To Address 1,Ship To Address 2,Ship To City,Ship To State,Ship To Zip,Ship To Country,Item Number,Item Title,Custom Label,Sold Via Promoted Listings,Quantity,Sold For,Shipping And Handling,Seller Collected Tax,eBay Collected Tax,Electronic Waste Recycling Fee,Mattress Recycling Fee,Additional Fee,Total Price,eBay Collected Tax and Fees Included in Total,Payment Method,Sale Date,Paid On Date,Ship By Date,Minimum Estimated Delivery Date,Maximum Estimated Delivery Date,Shipped On Date,Feedback Left,Feedback Received,My Item Note,PayPal Transaction ID,Shipping Service,Tracking Number,Transaction ID,Variation Details,Global Shipping Program,Global Shipping Reference ID,Click And Collect,Click And Collect Reference Number,eBay Plus";

fn ebay_seeds() -> Vec<Vec<u8>> {
    let row = |cells: &[(usize, &str)]| csv_row(54, cells);
    let us = [
        String::new(),
        EBAY_HEADER.to_string(),
        String::new(),
        row(&[
            (0, "1001"),
            (1, "12-34567-89012"),
            (2, "buyer_one"),
            (3, "Jane Doe"),
            (4, "jane@example.com"),
            (11, "United States"),
            (13, "+1 415 555 0100"),
            (19, "United States"),
            (20, "123456789012"),
            (21, "Lantern, brass"),
            (24, "2"),
            (25, "$19.99"),
            (32, "$39.98"),
            (35, "Mar-05-24"),
            (40, "Mar-07-24"),
        ]),
        row(&[
            (0, "1002"),
            (1, "12-34567-89013"),
            (3, "Otto"),
            (11, "Deutschland"),
            (21, "Item"),
            (24, "1"),
            (25, "EUR 5,00"),
            (35, "03-Okt-26"),
        ]),
        "\"2 record(s) downloaded\"".to_string(),
        "Seller ID : seller".to_string(),
    ]
    .join("\n");
    let uk = [
        EBAY_HEADER.to_string(),
        row(&[
            (0, "1"),
            (1, "04-11111-22222"),
            (3, "Ann"),
            (4, "ann@example.co.uk"),
            (21, "Mug"),
            (24, "1"),
            (25, "£8.50"),
            (35, "03-Oct-26"),
            (19, "United Kingdom"),
        ]),
    ]
    .join("\n");
    vec![us.into_bytes(), uk.into_bytes()]
}

fn mapped_seeds() -> Vec<Vec<u8>> {
    let german = "Bestellnummer;Datum;Kunde;E-Mail;Land;Artikel;Menge;Preis;Status\n\
                  A-1;05.03.2024;Eva Kraus;eva@example.at;Österreich;Stirnlampe;1;19,90;versendet\n\
                  A-1;05.03.2024;Eva Kraus;eva@example.at;Österreich;Batterien;4;2,50;versendet\n\
                  A-2;06.03.2024;Max Maier;=1+1@example.com;Deutschland;Stirnlampe;1;1.019,90;offen\n\
                  A-3;31.02.2024;Ute Berg;+41 44 668 18 00;Schweiz;Stirnlampe;1;19,90;storniert\n";
    let windows_1252: Vec<u8> = german.chars().map(|c| if c == 'Ö' { 0xD6 } else { c as u8 }).collect();
    let english = "order id,order date,customer,email,phone,country,currency,total,product,sku,qty,price,status,shipped at\n\
                   X1,2024-03-05,Li Wei,li@example.cn,+86 138 0013 8000,CN,CNY,99.00,Tea,T-1,1,99.00,shipped,2024-03-06\n\
                   X2,03/05/2024,\"O'Brien, Pat\",pat@example.ie,,IE,EUR,,\"Kettle, 1.7l\",K-2,2,12.5,delivered,03/09/2024\n";
    vec![german.as_bytes().to_vec(), windows_1252, english.as_bytes().to_vec()]
}

fn reviews_csv_seeds() -> Vec<Vec<u8>> {
    vec![
        "Review ID,Order ID,Reviewer Email,Rating,Title,Body,Review Date\n\
         R1,#1001,anna.becker@example.de,5,Great,\"Warm, light\",2024-03-20\n\
         R2,#1002,,2 stars,Meh,\"Too \"\"big\"\"\",20/03/2024\n\
         R3,,x@example.com,4.5,,,2024-03-21T10:00:00+01:00\n"
            .as_bytes()
            .to_vec(),
        "Bewertung;Datum;Bestellnummer;Text\n★★★★☆;21.03.2024;A-1;Gut\n6;32.13.2024;A-2;\n".as_bytes().to_vec(),
    ]
}

fn suppression_seeds() -> Vec<Vec<u8>> {
    vec![
        "email,reason,note\nanna@example.de,unsubscribed,asked by phone\n+44 7700 900123,complaint,\nnot-an-address,manual,\n,,\nBOB@Example.com,spam,\n"
            .as_bytes()
            .to_vec(),
        "Phone;Reason\n0049 30 1234567;hard bounce\n".as_bytes().to_vec(),
    ]
}

fn ingest_seeds() -> Vec<Vec<u8>> {
    vec![serde_json::json!({"orders": [
        {"id": "1001", "placed_at": "2024-03-05T14:22:11+01:00", "status": "fulfilled", "status_at": "2024-03-06",
         "email": "anna@example.de", "name": "Anna Becker", "country": "DE", "currency": "EUR", "total": "59.80",
         "consent": true, "items": [{"sku": "TJ-1", "name": "Trail Jacket", "quantity": 1, "unit_price": 39.9},
                                    {"name": "Socks", "quantity": 2, "unit_price": "9,95"}]},
        {"id": "1002", "placed_at": "05.03.2024", "phone": "07700 900123", "country": "United Kingdom", "marketplace": "amazon.co.uk",
         "currency": "=1+1", "total": 1e308, "items": []},
        {"id": "", "placed_at": "yesterday", "items": [{"name": "x", "quantity": 4294967295u64}], "extra": 1}
    ]})
    .to_string()
    .into_bytes()]
}

fn reviews_json_seeds() -> Vec<Vec<u8>> {
    vec![serde_json::json!({"reviews": [
        {"id": "R1", "order_id": "1001", "email": "anna@example.de", "rating": 5, "title": "Great", "text": "Warm", "author": "Anna", "date": "2024-03-20"},
        {"id": "R2", "rating": "4.5", "date": "2024-03-20T10:00:00Z"},
        {"id": "R3", "rating": [1], "date": ""}
    ]})
    .to_string()
    .into_bytes()]
}

fn feedback_seeds() -> Vec<Vec<u8>> {
    let message_id = app::delivery::compose::message_id(SECRET, 42, "mail.nordlicht.example");
    let return_path = app::delivery::compose::return_path(SECRET, 42, "mail.nordlicht.example");
    let report = |report_type: &str, fields: &str, quote_type: &str, original: &str| {
        format!(
            "From: MAILER-DAEMON@mx.buyer.example\r\nTo: {return_path}\r\nSubject: Report\r\nMessage-ID: <r1@mx.buyer.example>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type={report_type}; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\nA report about your message.\r\n\
             --b1\r\nContent-Type: message/{report_type}\r\n\r\n{fields}\r\n\
             --b1\r\nContent-Type: {quote_type}\r\n\r\n{original}\r\n--b1--\r\n"
        )
        .into_bytes()
    };
    let original =
        format!("From: shop@nordlicht.example\r\nTo: anna@example.de\r\nMessage-ID: {message_id}\r\nSubject: Hi\r\n\r\nBody\r\n");
    let headers = original.split("\r\n\r\n").next().unwrap_or("").to_string();
    vec![
        report(
            "delivery-status",
            "Reporting-MTA: dns; mx.buyer.example\r\n\r\nFinal-Recipient: rfc822; anna@example.de\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown",
            "text/rfc822-headers",
            &headers,
        ),
        report(
            "delivery-status",
            "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: delayed\r\nStatus: 4.4.1",
            "message/rfc822",
            &original,
        ),
        report(
            "feedback-report",
            "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <x@y>\r\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT",
            "message/rfc822",
            &original,
        ),
    ]
}

fn token_seeds() -> Vec<Vec<u8>> {
    use app::delivery::tokens::{sign, Claims, Purpose};
    let claims = |purpose, url: &str| Claims { purpose, message_id: 42, issued_at: NOW - 1000, url: url.into() };
    vec![
        sign(SECRET, 1, &claims(Purpose::Unsubscribe, "")).into_bytes(),
        sign(SECRET, 1, &claims(Purpose::Click, "https://nordlicht.example/p/1?a=b#c")).into_bytes(),
        br#"{"p":"c","m":9223372036854775807,"t":-9223372036854775808,"u":"javascript:alert(1)"}"#.to_vec(),
        app::delivery::compose::message_id(SECRET, 42, "mail.nordlicht.example").into_bytes(),
    ]
}

fn template_seeds() -> Vec<Vec<u8>> {
    vec![
        "Danke, {{ customer.first_name }}!\0<p>Hallo {{ customer.name | title }}, wie gefällt dir {{ product.name }}?</p>\
         {% if order.total %}<p>{{ order.total }}</p>{% endif %}<a href=\"{{ review_url }}\">Bewerten</a>\0\
         Hallo {{ customer.first_name | default(\"du\") }}, {{ review_url }} {{ unsubscribe_url }}\n{{ brand.postal_address }}"
            .as_bytes()
            .to_vec(),
        "{% for i in range(3) %}{{ loop.index }}{% endfor %}\0{{ order.date | date }}{{ '%s' | format(1) }}\0{{ x.y.z }}{% raw %}{{{% endraw %}"
            .as_bytes()
            .to_vec(),
    ]
}

// ---------------------------------------------------------------------------------------
// Vocabularies.

const CSV_WORDS: &[&str] = &[
    ",",
    ";",
    "\t",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "=",
    "+",
    "-",
    "@",
    "=HYPERLINK(\"x\")",
    "0",
    "-1",
    "1e9",
    "99999999999999999999",
    "NaN",
    "1.019,90",
    "1,019.90",
    "€",
    "$",
    "£",
    "¥",
    "EUR",
    "usd",
    "2024-02-30",
    "2024-03-05T14:22:11+01:00",
    "05.03.2024",
    "03/05/2024",
    "Mar-05-24",
    "03-Oct-26",
    "31-Dez-24",
    "1989-12-31",
    "9999-12-31",
    "+0100",
    "Z",
    "United Kingdom",
    "UK",
    "GBR",
    "Österreich",
    "España",
    "日本",
    "a@b.c",
    "x@example..com",
    "@",
    "+44 7700 900123",
    "00",
    "paid",
    "refunded",
    "voided",
    "fulfilled",
    "shipped",
    "delivered",
    "cancelled",
    "versendet",
    "storniert",
    "#1001",
    "Lineitem name",
    "amazon-order-id",
    "Order Number",
    "Rating",
    "Review Date",
    "email",
    "reason",
    "unsubscribed",
    "complaint",
    "hard bounce",
    "erased",
    "★★★★★",
    "\u{0}",
    "\u{ffff}",
    "\u{1F600}",
    "\u{202e}",
];

const JSON_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1e308",
    "-1e309",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "\"orders\"",
    "\"reviews\"",
    "\"items\"",
    "\"quantity\"",
    "\"placed_at\"",
    "\"rating\"",
    "\"date\"",
    "\"2024-03-05T14:22:11+01:00\"",
    "\"05.03.2024\"",
    "\"=1+1\"",
    "\"+44 7700 900123\"",
];

const MAIL_WORDS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    ":",
    ";",
    "--b1",
    "--b1--",
    "boundary=\"b1\"",
    "Content-Type: ",
    "multipart/report",
    "multipart/mixed",
    "message/delivery-status",
    "message/feedback-report",
    "message/rfc822",
    "text/rfc822-headers",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "=?utf-8?B?",
    "?=",
    "=\r\n",
    "Action: failed",
    "Action: delayed",
    "Status: 5.1.1",
    "Status: 4.",
    "Feedback-Type: abuse",
    "Feedback-Type: not-spam",
    "Feedback-Type: auth-failure",
    "Message-ID: ",
    "<",
    ">",
    "bounces+m",
    "@mail.nordlicht.example",
    "Delivered-To: ",
    "X-Original-To: ",
    "Diagnostic-Code: smtp; ",
    "(",
    ")",
    "\"",
];

const TOKEN_WORDS: &[&str] = &[
    ".",
    "=",
    "-",
    "_",
    "/",
    "+",
    "%2e",
    "{",
    "}",
    "\"p\"",
    "\"m\"",
    "\"t\"",
    "\"u\"",
    "\"o\"",
    "\"c\"",
    ":",
    ",",
    "null",
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
    "\"javascript:alert(1)\"",
    "<m42.",
    "@mail.example>",
    "bounces+m",
];

const TEMPLATE_WORDS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{%-",
    "-%}",
    "{{-",
    "-}}",
    " for i in range(100000) ",
    " for j in range(100000) ",
    "endfor",
    " if ",
    " elif ",
    " else ",
    "endif",
    " set x = ",
    " macro m() ",
    "endmacro",
    " call m() ",
    "endcall",
    " include 'x' ",
    " extends 'x' ",
    " block b ",
    "endblock",
    " filter upper ",
    "endfilter",
    " with ",
    "endwith",
    " raw ",
    "endraw",
    "customer",
    "customer.first_name",
    "customer.name",
    "order.total",
    "order.date",
    "product.name",
    "brand.postal_address",
    "review_url",
    "unsubscribe_url",
    "loop.index",
    "loop",
    "self",
    "super()",
    "|",
    " | upper",
    " | title",
    " | default('x')",
    " | truncate(5)",
    " | date",
    " | money",
    " | join(',')",
    " | replace('a', 'b')",
    " | format(1)",
    " | safe",
    " | e",
    " | tojson",
    " | list",
    " | reverse",
    " | length",
    "(",
    ")",
    "[",
    "]",
    "~",
    "+",
    "*",
    "**",
    "//",
    "%",
    " ~ x * 1000000",
    "'",
    "\"",
    "\\",
    "1e308",
    "-9223372036854775808",
    "9223372036854775807",
    "true",
    "none",
    ".",
    ":",
    ",",
    "x",
    "range(",
    "lipsum(",
    "cycler(",
    "namespace(",
    "debug()",
    "dict(",
    "<",
    ">",
    "&",
    "<script>",
];

// ---------------------------------------------------------------------------------------
// Generators.

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Token(Index, Index),
    Delete(Index, usize),
    Repeat(Index, usize, usize),
    Splice(Index, Index, Index, usize),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 1u8..=255).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(at, token)| Mutation::Token(at, token)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
        1 => (any::<Index>(), 1usize..200, 1usize..50).prop_map(|(at, len, times)| Mutation::Repeat(at, len, times)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..400).prop_map(|(at, seed, from, len)| Mutation::Splice(at, seed, from, len)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation], seeds: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let at = |index: &Index, len: usize| if len == 0 { 0 } else { index.index(len + 1) };
    for m in mutations {
        match m {
            Mutation::Flip(i, bit) if !out.is_empty() => {
                let i = i.index(out.len());
                out[i] ^= bit;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, bytes) => {
                let i = at(i, out.len());
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Token(i, token) => {
                let i = at(i, out.len());
                let token = dictionary[token.index(dictionary.len())].as_bytes();
                out.splice(i..i, token.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let i = at(i, out.len());
                let end = (i + len).min(out.len());
                out.drain(i..end);
            }
            Mutation::Repeat(i, len, times) => {
                let i = at(i, out.len());
                let end = (i + len).min(out.len());
                let piece = out[i..end].to_vec();
                for _ in 0..*times {
                    out.splice(end..end, piece.iter().copied());
                }
            }
            Mutation::Splice(i, seed, from, len) => {
                let other = &seeds[seed.index(seeds.len())];
                let start = at(from, other.len()).min(other.len());
                let end = (start + len).min(other.len());
                let i = at(i, out.len());
                out.splice(i..i, other[start..end].iter().copied());
            }
            Mutation::Truncate(i) => {
                let i = at(i, out.len());
                out.truncate(i);
            }
        }
    }
    out
}

/// A seed with up to 16 mutations.
fn mutated(seeds: Arc<Vec<Vec<u8>>>, dictionary: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    (any::<Index>(), prop::collection::vec(mutation(), 0..16))
        .prop_map(move |(seed, mutations)| apply(&seeds[seed.index(seeds.len())], &mutations, &seeds, dictionary))
        .boxed()
}

/// A cell as people and platforms write them.
fn cell() -> BoxedStrategy<String> {
    prop_oneof![
        select(CSV_WORDS).prop_map(str::to_string),
        "[0-9]{1,4}[-/. ][0-9A-Za-zäöüéû]{1,9}[-/. ][0-9]{1,4}( [0-9]{1,2}:[0-9]{2}(:[0-9]{2})?( ?[+-][0-9]{2}:?[0-9]{2}| ?[AP]M| UTC| PST)?)?",
        "[-+]?[$€£¥]? ?[0-9]{0,7}([.,' ][0-9]{3}){0,3}([.,][0-9]{0,3})? ?([A-Z]{3}|€|zł)?",
        "[A-Za-z0-9._%+=-]{0,12}@[A-Za-z0-9-]{0,10}(\\.[A-Za-z]{0,4}){0,3}",
        "(\\+|00)?[0-9 ()-]{0,18}",
        "[A-Za-zÄÖÜäöüß ]{0,20}",
        ".{0,40}",
        Just(String::new()),
    ]
    .boxed()
}

/// A CSV file of the first seed's columns (a few dropped, repeated or renamed), rows of
/// generated cells, quoted or not, with the seed's delimiter or another.
fn csv_file(seeds: Arc<Vec<Vec<u8>>>) -> BoxedStrategy<Vec<u8>> {
    let text = String::from_utf8_lossy(&seeds[0]).to_string();
    let header_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
    let delimiter = [b'\t', b';', b','].into_iter().find(|d| header_line.contains(*d as char)).unwrap_or(b',');
    let columns: Vec<String> = header_line.split(delimiter as char).map(str::to_string).collect();
    let width = columns.len().max(1);
    let row = prop::collection::vec(cell(), 0..width + 3);
    (
        prop::collection::vec(any::<Index>(), 0..4),
        prop::collection::vec(row, 0..40),
        select(vec![delimiter, delimiter, b',', b';', b'\t']),
        any::<bool>(),
        select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(move |(dropped, rows, delimiter, quote_all, newline)| {
            let mut header = columns.clone();
            for index in dropped {
                if !header.is_empty() {
                    header.remove(index.index(header.len()));
                }
            }
            let quote = |cell: &str| {
                if quote_all || cell.contains([delimiter as char, '"', '\n', '\r']) {
                    format!("\"{}\"", cell.replace('"', "\"\""))
                } else {
                    cell.to_string()
                }
            };
            let sep = (delimiter as char).to_string();
            let mut out = header.join(&sep);
            for row in rows {
                out.push_str(newline);
                out.push_str(&row.iter().map(|c| quote(c)).collect::<Vec<_>>().join(&sep));
            }
            out.into_bytes()
        })
        .boxed()
}

fn json_value(fields: &'static [&'static str]) -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        cell().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((select(fields), inner), 0..12)
                .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
    .boxed()
}

fn json_file(list: &'static str, fields: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(json_value(fields), 0..12)
        .prop_map(move |items| serde_json::json!({ list: items }).to_string().into_bytes())
        .boxed()
}

/// Tokens of the dictionary and bits of text, joined.
fn soup(dictionary: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let piece = prop_oneof![3 => select(dictionary).prop_map(str::to_string), 1 => ".{0,12}"];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat().into_bytes()).boxed()
}

/// The inputs of `target`: every seed and every file saved under its corpus folder.
pub fn corpus(target: &Target) -> Vec<(String, Vec<u8>)> {
    let mut inputs: Vec<(String, Vec<u8>)> = (target.seeds)().into_iter().enumerate().map(|(i, s)| (format!("seed {i}"), s)).collect();
    if let Ok(entries) = std::fs::read_dir(corpus_dir(target.name)) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        for path in files {
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                inputs.push((path.display().to_string(), bytes));
            }
        }
    }
    inputs
}

pub fn corpus_dir(target: &str) -> PathBuf {
    crate::repo_root().join("tests/fuzz").join(target)
}

pub fn strategy(target: &Target) -> BoxedStrategy<Vec<u8>> {
    let seeds = Arc::new((target.seeds)().into_iter().chain(corpus(target).into_iter().map(|(_, b)| b)).collect::<Vec<_>>());
    let generated = match target.shape {
        Shape::Csv => csv_file(seeds.clone()),
        Shape::Json { list, fields } => json_file(list, fields),
        Shape::Soup => soup(target.dictionary),
    };
    prop_oneof![mutated(seeds, target.dictionary), generated].boxed()
}

/// What a fuzzing run of one target did.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: u64,
    pub largest_input: usize,
    pub slowest: Duration,
    /// The saved input and the panic's message, when one panicked.
    pub failure: Option<(PathBuf, String)>,
}

/// Runs `target` on generated inputs until `deadline` (or `max_cases`), with `seed` for
/// the random source when given (for a repeatable run). A panicking input is shrunk by
/// proptest, saved under the corpus folder and reported; one input running longer than
/// [`HANG`] is saved and stops the process, since its thread cannot be stopped.
pub fn run(target: &Target, deadline: Instant, max_cases: u64, seed: Option<u64>) -> Report {
    let strategy = strategy(target);
    let watch = Arc::new(Watch::new(target.name));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (watch, done) = (watch.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                watch.check();
            }
        })
    };
    let mut report = Report::default();
    let batch = 1_000u32;
    let mut round = 0u64;
    while Instant::now() < deadline && report.cases < max_cases {
        let config = Config {
            cases: batch.min((max_cases - report.cases) as u32),
            failure_persistence: None,
            max_shrink_iters: 4_000,
            max_shrink_time: 60_000,
            ..Config::default()
        };
        let mut runner = match seed {
            Some(seed) => {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&seed.to_le_bytes());
                bytes[8..16].copy_from_slice(&round.to_le_bytes());
                TestRunner::new_with_rng(config.clone(), TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &bytes))
            }
            None => TestRunner::new(config.clone()),
        };
        round += 1;
        let stats = std::cell::Cell::new((0usize, Duration::ZERO));
        let result = runner.run(&strategy, |input| {
            watch.begin(&input);
            let started = Instant::now();
            (target.run)(&input);
            let took = started.elapsed();
            watch.end();
            let (largest, slowest) = stats.get();
            stats.set((largest.max(input.len()), slowest.max(took)));
            Ok::<(), TestCaseError>(())
        });
        let (largest, slowest) = stats.get();
        report.largest_input = report.largest_input.max(largest);
        report.slowest = report.slowest.max(slowest);
        match result {
            Ok(()) => report.cases += config.cases as u64,
            Err(TestError::Fail(reason, input)) => {
                let path = save(target.name, "crash", &input);
                report.failure = Some((path, reason.to_string()));
                break;
            }
            Err(TestError::Abort(reason)) => {
                report.failure = Some((PathBuf::new(), format!("proptest aborted: {reason}")));
                break;
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    report
}

/// Saves an input that failed under `tests/fuzz/<target>/<kind>-<hash>`.
pub fn save(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    use sha2::Digest;
    let dir = corpus_dir(target);
    let _ = std::fs::create_dir_all(&dir);
    let hash = hex::encode(&sha2::Sha256::digest(input)[..8]);
    let path = dir.join(format!("{kind}-{hash}"));
    let _ = std::fs::write(&path, input);
    path
}

/// The input being read and since when, for the watchdog. The input is also copied into a
/// memory-mapped file (`last_input`), which outlives the process: an input that aborts it
/// (a stack overflow cannot be caught) is still on disk for `.ci/fuzz` to save.
struct Watch {
    target: &'static str,
    started_ms: AtomicU64,
    epoch: Instant,
    input: std::sync::Mutex<Option<memmap2::MmapMut>>,
}

/// The largest input the last-input file keeps whole.
const LAST_INPUT_BYTES: usize = 8 << 20;

/// `<dir>/<target>.last`: 8 bytes of length (little-endian), then the input.
pub fn last_input(target: &str) -> PathBuf {
    std::env::var_os("STARLING_FUZZ_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("starling-fuzz"))
        .join(format!("{target}.last"))
}

/// The input a crashed run was reading, from its last-input file.
pub fn read_last_input(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    bytes.get(8..8 + len).map(<[u8]>::to_vec)
}

impl Watch {
    fn new(target: &'static str) -> Watch {
        let path = last_input(target);
        let mapped = path.parent().and_then(|dir| std::fs::create_dir_all(dir).ok()).and_then(|_| {
            let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).ok()?;
            file.set_len((8 + LAST_INPUT_BYTES) as u64).ok()?;
            // SAFETY: the file is this run's own (named by target, truncated above); nothing
            // else maps or resizes it while the run holds the map.
            unsafe { memmap2::MmapMut::map_mut(&file) }.ok()
        });
        Watch { target, started_ms: AtomicU64::new(0), epoch: Instant::now(), input: std::sync::Mutex::new(mapped) }
    }

    fn begin(&self, input: &[u8]) {
        if let Ok(mut slot) = self.input.lock() {
            if let Some(map) = slot.as_mut() {
                let len = input.len().min(LAST_INPUT_BYTES);
                map[..8].copy_from_slice(&(len as u64).to_le_bytes());
                map[8..8 + len].copy_from_slice(&input[..len]);
            }
        }
        self.started_ms.store(self.epoch.elapsed().as_millis() as u64 + 1, Ordering::Release);
    }

    fn end(&self) {
        self.started_ms.store(0, Ordering::Release);
    }

    fn check(&self) {
        let started = self.started_ms.load(Ordering::Acquire);
        if started == 0 {
            return;
        }
        let running = Duration::from_millis((self.epoch.elapsed().as_millis() as u64 + 1).saturating_sub(started));
        if running > HANG {
            let input = read_last_input(&last_input(self.target)).unwrap_or_default();
            let path = save(self.target, "hang", &input);
            eprintln!("fuzz {}: one input has run for {running:?} (a hang); saved as {}", self.target, path.display());
            std::process::exit(3);
        }
    }
}

/// Replays every input of `target`'s corpus (seeds and saved failures); the first that
/// panics is returned with its name.
pub fn replay(target: &Target) -> Result<usize, String> {
    let inputs = corpus(target);
    for (name, input) in &inputs {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.run)(input)));
        if let Err(panic) = outcome {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            return Err(format!("{}: {name} panics: {}", target.name, message.unwrap_or_default()));
        }
    }
    Ok(inputs.len())
}
