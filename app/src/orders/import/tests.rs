//! Fixtures in each platform's column layout (written from the platforms' documented
//! headers), in the encodings sellers actually send.

use super::*;
use crate::orders::model::OrderStatus;

const SHOPIFY_HEADER: &str = "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount,Phone";

fn shopify_row(
    name: &str,
    email: &str,
    financial: &str,
    fulfillment: &str,
    fulfilled_at: &str,
    created: &str,
    qty: &str,
    item: &str,
    price: &str,
    sku: &str,
    ship_name: &str,
    country: &str,
    cancelled: &str,
) -> String {
    let mut cells = vec![""; 57];
    cells[0] = name;
    cells[1] = email;
    cells[2] = financial;
    cells[4] = fulfillment;
    cells[5] = fulfilled_at;
    cells[7] = if email.is_empty() { "" } else { "EUR" };
    cells[11] = if email.is_empty() { "" } else { "59.80" };
    cells[15] = created;
    cells[16] = qty;
    cells[17] = item;
    cells[18] = price;
    cells[20] = sku;
    cells[34] = ship_name;
    cells[42] = country;
    cells[46] = cancelled;
    cells
        .iter()
        .map(|c| if c.contains([',', '"', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.to_string() })
        .collect::<Vec<_>>()
        .join(",")
}

fn shopify_file() -> String {
    [
        SHOPIFY_HEADER.to_string(),
        shopify_row(
            "#1001",
            " Anna.Becker@Example.DE ",
            "paid",
            "fulfilled",
            "2024-03-06 10:00:00 +0100",
            "2024-03-05 14:22:11 +0100",
            "1",
            "Trail Jacket",
            "39.90",
            "TJ-1",
            "Anna Becker",
            "DE",
            "",
        ),
        shopify_row("#1001", "", "", "", "", "", "2", "Wool Socks", "9,95", "WS-2", "", "", ""),
        shopify_row(
            "#1002",
            "tom@example.co.uk",
            "refunded",
            "",
            "",
            "2024-03-05 15:00:00 +0000",
            "1",
            "Tent \"Fjell\", 2 persons,\nwith footprint",
            "199.00",
            "TN-2",
            "<script>alert(1)</script>",
            "GB",
            "",
        ),
        shopify_row("#1003", "x@example.com", "paid", "", "", "yesterday", "1", "Cap", "5.00", "CP", "", "FR", ""),
        shopify_row(
            "#1004",
            "y@example.com",
            "voided",
            "",
            "",
            "2024-03-07 09:00:00 +0100",
            "1",
            "Cap",
            "5.00",
            "CP",
            "",
            "FR",
            "2024-03-07 10:00:00 +0100",
        ),
    ]
    .join("\n")
}

fn read_all(bytes: Vec<u8>) -> (Import, Vec<Item>) {
    let mut import = Import::open(Cursor::new(bytes), None).expect("the file opens");
    let items: Vec<Item> = import.by_ref().collect();
    (import, items)
}

#[test]
fn a_shopify_export_groups_line_items_into_orders_and_explains_bad_rows() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(shopify_file().into_bytes());
    let (import, items) = read_all(bytes);
    assert_eq!(import.detected.layout, Layout::Shopify);
    assert_eq!(import.detected.encoding, UTF_8);
    assert_eq!(import.detected.delimiter, b',');
    assert_eq!(items.len(), 4, "{items:?}");

    let first = items[0].as_ref().unwrap();
    assert_eq!(first.platform_order_id, "#1001");
    assert_eq!(first.line, 2);
    assert_eq!(first.buyer_email, "anna.becker@example.de");
    assert_eq!(first.status, Some(OrderStatus::Fulfilled));
    assert_eq!(first.status_at, Some(1709715600000));
    assert_eq!(first.placed_at, Some(1709644931000));
    assert_eq!(first.country, "DE");
    assert_eq!(first.currency, "EUR");
    assert_eq!(first.total_minor, Some(5980));
    assert_eq!(first.items.len(), 2);
    assert_eq!((first.items[1].sku.as_str(), first.items[1].quantity, first.items[1].unit_price_minor), ("WS-2", 2, Some(995)));

    let second = items[1].as_ref().unwrap();
    assert_eq!(second.status, Some(OrderStatus::Refunded));
    assert_eq!(second.items[0].product_name, "Tent \"Fjell\", 2 persons,\nwith footprint", "quoted newlines stay in the field");
    assert_eq!(second.buyer_name, "<script>alert(1)</script>", "kept as text; the UI escapes it");
    assert_eq!(second.line, 4);

    let bad = items[2].as_ref().unwrap_err();
    assert_eq!((bad.line, bad.field.as_str()), (6, "Created at"), "the quoted newline counts as a line: {bad:?}");
    assert!(bad.reason.contains("\"yesterday\""));

    let cancelled = items[3].as_ref().unwrap();
    assert_eq!(cancelled.status, Some(OrderStatus::Cancelled));
}

#[test]
fn utf16_and_windows_1252_exports_read_the_same_as_utf8() {
    let text = shopify_file().replace("Anna Becker", "Jürgen Müß");
    let utf8 = read_all(text.clone().into_bytes()).1;

    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let (import, from_utf16) = read_all(utf16);
    assert_eq!(import.detected.encoding, UTF_16LE);
    assert_eq!(from_utf16, utf8);

    let (cp1252, _, unmappable) = WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    let (import, from_cp1252) = read_all(cp1252.into_owned());
    assert_eq!(import.detected.encoding, WINDOWS_1252);
    assert_eq!(from_cp1252, utf8);
    assert_eq!(from_cp1252[0].as_ref().unwrap().buyer_name, "Jürgen Müß");
}

#[test]
fn excel_unicode_text_is_tab_separated_utf16() {
    let text = shopify_file().replace(',', "\t");
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let (import, items) = read_all(bytes);
    assert_eq!((import.detected.layout, import.detected.delimiter), (Layout::Shopify, b'\t'));
    assert_eq!(items[0].as_ref().unwrap().items.len(), 2);
}

const AMAZON_HEADER: &str = "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\tshipping-tax\tgift-wrap-price\tgift-wrap-tax\titem-promotion-discount\tship-promotion-discount\tship-city\tship-state\tship-postal-code\tship-country\tpromotion-ids\tis-business-order\tpurchase-order-number\tprice-designation";

#[test]
fn an_amazon_report_reads_tab_separated_items_without_buyer_emails() {
    let rows = [
        AMAZON_HEADER,
        "302-1234567-1234567\t\t2024-03-05T13:22:11+00:00\t2024-03-08T09:00:00+00:00\tShipped\tAmazon\tAmazon.de\t\tExpedited\tTrail Jacket \"Pro\"\tTJ-1\tB0ABCDEF12\tShipped\t1\tEUR\t39.90\t\t\t\t\t\t\t\tHamburg\t\t20457\tDE\t\tfalse\t\t",
        "302-1234567-1234567\t\t2024-03-05T13:22:11+00:00\t2024-03-08T09:00:00+00:00\tShipped\tAmazon\tAmazon.de\t\tExpedited\tWool Socks\tWS-2\tB0ABCDEF13\tShipped\t2\tEUR\t19.90\t\t\t\t\t\t\t\tHamburg\t\t20457\tDE\t\tfalse\t\t",
        "302-7654321-7654321\t\t2024-03-06T08:00:00+00:00\t2024-03-06T08:00:00+00:00\tLost\tAmazon\tAmazon.de\t\tStandard\tCap\tCP\tB0ABCDEF14\tUnshipped\t1\tEUR\t5.00\t\t\t\t\t\t\t\tBerlin\t\t10115\tDE\t\tfalse\t\t",
        "302-1111111-1111111\t\t2024-03-06T08:00:00+00:00\t2024-03-06T08:00:00+00:00\tPending\tMerchant\tAmazon.fr\t\tStandard\tCap\tCP\tB0ABCDEF14\tUnshipped\t1\tEUR\t5.00\t\t\t\t\t\t\t\tParis\t\t75002\tFR\t\tfalse\t\t",
    ]
    .join("\r\n");
    let (import, items) = read_all(rows.into_bytes());
    assert_eq!((import.detected.layout, import.detected.delimiter), (Layout::Amazon, b'\t'));
    assert_eq!(items.len(), 3);
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.platform_order_id, "302-1234567-1234567");
    assert_eq!(first.status, Some(OrderStatus::Fulfilled));
    assert_eq!(first.marketplace, "amazon.de");
    assert_eq!(first.buyer_email, "", "Amazon gives no buyer e-mail here");
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].product_name, "Trail Jacket \"Pro\"");
    assert_eq!((first.items[1].listing_id.as_str(), first.items[1].unit_price_minor), ("B0ABCDEF13", Some(995)));
    assert_eq!(first.total_minor, Some(5980));
    let lost = items[1].as_ref().unwrap_err();
    assert_eq!((lost.line, lost.field.as_str()), (4, "order-status"));
    assert_eq!(items[2].as_ref().unwrap().status, Some(OrderStatus::Pending));
}

const EBAY_HEADER: &str = "Sales Record Number,Order Number,Buyer Username,Buyer Name,Buyer Email,Buyer Note,Buyer Address 1,Buyer Address 2,Buyer City,Buyer State,Buyer Zip,Buyer Country,Ship To Name,Ship To Phone,Ship To Address 1,Ship To Address 2,Ship To City,Ship To State,Ship To Zip,Ship To Country,Item Number,Item Title,Custom Label,Sold Via Promoted Listings,Quantity,Sold For,Shipping And Handling,Seller Collected Tax,eBay Collected Tax,Electronic Waste Recycling Fee,Mattress Recycling Fee,Additional Fee,Total Price,eBay Collected Tax and Fees Included in Total,Payment Method,Sale Date,Paid On Date,Ship By Date,Minimum Estimated Delivery Date,Maximum Estimated Delivery Date,Shipped On Date,Feedback Left,Feedback Received,My Item Note,PayPal Transaction ID,Shipping Service,Tracking Number,Transaction ID,Variation Details,Global Shipping Program,Global Shipping Reference ID,Click And Collect,Click And Collect Reference Number,eBay Plus";

fn ebay_row(
    order: &str,
    email: &str,
    country: &str,
    title: &str,
    qty: &str,
    price: &str,
    total: &str,
    sale: &str,
    shipped: &str,
) -> String {
    let mut cells = vec![String::new(); 54];
    cells[0] = "101".into();
    cells[1] = order.into();
    cells[4] = email.into();
    cells[12] = "Lena Koch".into();
    cells[19] = country.into();
    cells[20] = "2345678901".into();
    cells[21] = title.into();
    cells[22] = "SKU-1".into();
    cells[24] = qty.into();
    cells[25] = price.into();
    cells[32] = total.into();
    cells[35] = sale.into();
    cells[40] = shipped.into();
    cells.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(",")
}

#[test]
fn an_ebay_report_skips_its_preamble_and_summary_lines() {
    let file = [
        String::new(),
        EBAY_HEADER.to_string(),
        ebay_row("12-34567-89012", "lena@example.de", "Germany", "Camping Stove", "1", "EUR 24,99", "EUR 29,98", "Mar-05-24", "Mar-06-24"),
        ebay_row("12-34567-89013", "", "United Kingdom", "Mug", "x", "£4.00", "£4.00", "Mar-05-24", ""),
        String::new(),
        "\"2 record(s) downloaded\"".to_string(),
        "\"Seller ID : fjellgear\"".to_string(),
    ]
    .join("\n");
    let (import, items) = read_all(file.into_bytes());
    assert_eq!(import.detected.layout, Layout::Ebay);
    assert_eq!(items.len(), 2, "{items:?}");
    let first = items[0].as_ref().unwrap();
    assert_eq!(first.country, "DE");
    assert_eq!(first.status, Some(OrderStatus::Fulfilled));
    assert_eq!(first.total_minor, Some(2998));
    let bad = items[1].as_ref().unwrap_err();
    assert_eq!((bad.line, bad.field.as_str()), (4, "Quantity"));
}

#[test]
fn missing_columns_and_unknown_layouts_are_named() {
    let without_dates = SHOPIFY_HEADER.replace("Created at,", "").replace("Financial Status,", "");
    let err = Import::open(Cursor::new(format!("{without_dates}\n").into_bytes()), None).err().expect("refused");
    assert_eq!(err, FileError::MissingColumns { layout: "Shopify orders export", missing: "Created at, Financial Status".into() });
    let err = Import::open(Cursor::new(b"order;mail\n1;a@b.de\n".to_vec()), None).err().expect("refused");
    assert!(matches!(&err, FileError::UnknownLayout(cols) if cols == "order, mail"), "{err:?}");
    assert_eq!(Import::open(Cursor::new(b"  \n".to_vec()), None).err(), Some(FileError::Empty));
}

#[test]
fn delimiters_are_counted_outside_quotes() {
    assert_eq!(detect_delimiter("a,b,c"), b',');
    assert_eq!(detect_delimiter("a;b;\"c,d,e,f\""), b';');
    assert_eq!(detect_delimiter("a\tb,c"), b'\t');
}

#[test]
fn any_csv_reads_through_a_saved_column_mapping() {
    let file = "Bestellnummer;Datum;Kunde;E-Mail;Land;Artikel;Menge;Preis;Status\n\
                A-1;05.03.2024;Eva Kraus;EVA@example.at;AT;Stirnlampe;1;19,90;versendet\n\
                A-1;05.03.2024;Eva Kraus;EVA@example.at;AT;Batterien;4;2,50;versendet\n\
                A-2;31.02.2024;Max;max@example.de;DE;Stirnlampe;1;19,90;offen\n";
    let headers = Import::headers(Cursor::new(file.as_bytes().to_vec())).unwrap();
    let mut mapping = Mapping::guess(&headers);
    assert_eq!(mapping.order_id, "Bestellnummer");
    assert_eq!(mapping.email, "E-Mail");
    assert_eq!(mapping.product_name, "Artikel");
    assert!(mapping.problems(&headers).iter().any(|(field, _)| field == "placed_at"), "the date column is not guessed");
    mapping.placed_at = "Datum".into();
    mapping.name = "Kunde".into();
    assert_eq!(mapping.problems(&headers), vec![]);
    let err = Import::open(Cursor::new(file.as_bytes().to_vec()), None).err().unwrap();
    assert!(matches!(err, FileError::UnknownLayout(_)));
    let mut import = Import::open(Cursor::new(file.as_bytes().to_vec()), Some(&mapping)).unwrap();
    assert_eq!((import.detected.layout, import.detected.delimiter), (Layout::Mapped, b';'));
    let items: Vec<Item> = import.by_ref().collect();
    let first = items[0].as_ref().unwrap();
    assert_eq!((first.platform_order_id.as_str(), first.items.len(), first.status), ("A-1", 2, Some(OrderStatus::Fulfilled)));
    assert_eq!((first.buyer_email.as_str(), first.country.as_str()), ("eva@example.at", "AT"));
    assert_eq!(first.items[1].unit_price_minor, Some(250));
    let bad = items[1].as_ref().unwrap_err();
    assert_eq!((bad.line, bad.field.as_str()), (4, "Datum"), "31 February is no date: {bad:?}");
}

/// A one-item Shopify order with the buyer cells given (the order-level `Phone` column is
/// the last one).
fn shopify_buyer(name: &str, email: &str, phone: &str, ship_name: &str, country: &str, currency: &str) -> String {
    let mut cells = vec![String::new(); 57];
    cells[0] = name.into();
    cells[1] = email.into();
    cells[2] = "paid".into();
    cells[7] = currency.into();
    cells[11] = "10.00".into();
    cells[15] = "2026-10-03 10:00:00 +0100".into();
    cells[16] = "1".into();
    cells[17] = "Mug".into();
    cells[18] = "10.00".into();
    cells[34] = ship_name.into();
    cells[42] = country.into();
    cells[56] = phone.into();
    cells.iter().map(|c| format!("\"{}\"", c.replace('"', "\"\""))).collect::<Vec<_>>().join(",")
}

fn orders_of(file: String) -> Vec<ParsedOrder> {
    let (_, items) = read_all(file.into_bytes());
    items.into_iter().map(|i| i.expect("every order is kept")).collect()
}

#[test]
fn a_buyer_reachable_only_by_phone_is_kept_with_the_number_in_e164() {
    let file = [
        SHOPIFY_HEADER.to_string(),
        shopify_buyer("#2001", "", "07911 123456", "Jo Bloggs", "GB", "GBP"),
        shopify_buyer("#2002", "", "07911 123457", "Jo Bloggs", "United Kingdom", "GBP"),
        shopify_buyer("#2003", "", "07911 123458", "Jo Bloggs", "UK", "GBP"),
        shopify_buyer("#2004", "", "+44 7911 123459", "Jo Bloggs", "", "GBP"),
    ]
    .join("\n");
    let orders = orders_of(file);
    let phones: Vec<&str> = orders.iter().map(|o| o.buyer_phone.as_str()).collect();
    assert_eq!(phones, ["+447911123456", "+447911123457", "+447911123458", "+447911123459"]);
    assert!(orders.iter().all(|o| o.notes.is_empty() && o.buyer_name == "Jo Bloggs"), "{orders:?}");
    assert_eq!(orders[2].country, "GB");
}

#[test]
fn a_value_that_is_not_what_its_column_says_is_set_aside_and_named_with_the_order_kept() {
    let file = [
        SHOPIFY_HEADER.to_string(),
        shopify_buyer("#3001", "=HYPERLINK(\"http://evil.example\",\"x\")@example.com", "", "Eve", "DE", "EUR"),
        shopify_buyer("#3002", "ok@example.de", "12", "Olaf", "DE", "=cmd|'/C calc'!A0"),
        shopify_buyer("#3003", "", "", "Nemo", "DE", "EUR"),
        shopify_buyer("#3004", "", "07911 123456", "Nora", "", "EUR"),
        shopify_buyer("#3005", "z@example.de", "", "Zoe", "Atlantis", "EUR"),
    ]
    .join("\n");
    let orders = orders_of(file);
    assert_eq!(orders.len(), 5, "no order is lost");
    let notes: Vec<Vec<(&str, &str)>> =
        orders.iter().map(|o| o.notes.iter().map(|n| (n.field.as_str(), n.reason.as_str())).collect()).collect();
    assert_eq!(orders[0].buyer_email, "");
    assert_eq!(notes[0].len(), 1);
    assert_eq!(notes[0][0].0, "Email");
    assert!(notes[0][0].1.contains("is not an e-mail address; the order is kept without it"), "{notes:?}");
    assert_eq!(orders[1].currency, "", "a formula is no currency");
    assert!(notes[1].iter().any(|(f, r)| *f == "Phone" && r.contains("\"12\" is not a valid phone number of DE")), "{notes:?}");
    assert!(notes[1].iter().any(|(f, r)| *f == "Currency" && r.contains("is not a currency code")), "{notes:?}");
    assert_eq!(notes[2][0].0, "buyer", "nobody can be contacted: said, not silent");
    assert!(notes[2][0].1.contains("Nemo") && notes[2][0].1.contains("kept"), "{notes:?}");
    assert!(notes[3][0].1.contains("names no country"), "{notes:?}");
    assert_eq!((orders[4].country.as_str(), notes[4][0].0), ("", "Shipping Country"));
    // Every note carries its file line.
    assert_eq!(orders[4].notes[0].line, 6);
}

#[test]
fn ebay_sale_dates_as_every_ebay_site_writes_them() {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 3).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
    for (site, sale, country, code) in [
        ("ebay.com", "Oct-03-26", "United States", "US"),
        ("ebay.co.uk", "03-Oct-26", "United Kingdom", "GB"),
        ("ebay.com.au", "03-Oct-26", "Australia", "AU"),
        ("ebay.ie", "03-Oct-26", "Ireland", "IE"),
        ("ebay.de", "03.10.26", "Deutschland", "DE"),
        ("ebay.de", "03-Okt-26", "Österreich", "AT"),
        ("ebay.fr", "03-oct.-26", "France", "FR"),
        ("ebay.it", "03-ott-26", "Italia", "IT"),
        ("ebay.es", "03-oct-26", "España", "ES"),
        ("ebay.nl", "03-okt-26", "Nederland", "NL"),
        ("ebay.pl", "03-paź-26", "Polska", "PL"),
    ] {
        let file = [EBAY_HEADER.to_string(), ebay_row("26-00001-00001", "b@example.com", country, "Mug", "1", "4.00", "4.00", sale, "")]
            .join("\n");
        let (_, items) = read_all(file.into_bytes());
        let order = items[0].as_ref().unwrap_or_else(|e| panic!("{site} {sale}: {e:?}"));
        assert_eq!(order.placed_at, Some(day), "{site}: {sale}");
        assert_eq!(order.country, code, "{site}: {country}");
    }
}

#[test]
fn amazon_reports_of_every_marketplace_read_their_countries_and_refuse_a_formula_currency() {
    for (channel, country) in [
        ("Amazon.co.uk", "GB"),
        ("Amazon.de", "DE"),
        ("Amazon.fr", "FR"),
        ("Amazon.it", "IT"),
        ("Amazon.es", "ES"),
        ("Amazon.com", "US"),
        ("Amazon.co.jp", "JP"),
        ("Amazon.nl", "NL"),
        ("Amazon.pl", "PL"),
        ("Amazon.se", "SE"),
    ] {
        let row = format!("302-0000000-0000001\t\t2026-10-03T10:00:00+00:00\t2026-10-03T10:00:00+00:00\tShipped\tAmazon\t{channel}\t\tStandard\tMug\tMG\tB0MUG\tShipped\t1\t=1+1\t4.00\t\t\t\t\t\t\t\tTown\t\t1000\t{country}\t\tfalse\t\t");
        let (_, items) = read_all([AMAZON_HEADER, &row].join("\n").into_bytes());
        let order = items[0].as_ref().unwrap();
        assert_eq!((order.country.as_str(), order.currency.as_str()), (country, ""), "{channel}");
        assert_eq!(order.notes.len(), 1, "{channel}: only the currency; Amazon buyers need no address: {:?}", order.notes);
        assert_eq!(order.notes[0].field, "currency");
    }
}

#[test]
fn a_german_spreadsheet_keeps_an_austrian_buyer_and_names_a_bad_address() {
    let file = "Bestellnummer;Datum;Kunde;E-Mail;Land;Artikel;Menge;Preis;Status\n\
                A-1;05.03.2024;Eva Kraus;eva@example.at;Österreich;Stirnlampe;1;19,90;versendet\n\
                A-2;06.03.2024;Max Maier;=1+1@example.com;Deutschland;Stirnlampe;1;19,90;offen\n\
                A-3;07.03.2024;Ute Berg;ute@example.ch;Schweiz;Stirnlampe;1;19,90;offen\n";
    let headers = Import::headers(Cursor::new(file.as_bytes().to_vec())).unwrap();
    let mut mapping = Mapping::guess(&headers);
    mapping.placed_at = "Datum".into();
    mapping.name = "Kunde".into();
    let import = Import::open(Cursor::new(file.as_bytes().to_vec()), Some(&mapping)).unwrap();
    let orders: Vec<ParsedOrder> = import.map(|i| i.unwrap()).collect();
    assert_eq!(orders[0].country, "AT", "the Austrian consent rule needs the country");
    assert_eq!(orders[2].country, "CH");
    assert_eq!(orders[1].buyer_email, "");
    assert_eq!((orders[1].notes[0].line, orders[1].notes[0].field.as_str()), (3, "E-Mail"));
    assert!(orders[1].notes[0].reason.contains("\"=1+1@example.com\" is not an e-mail address"), "{:?}", orders[1].notes);
}
