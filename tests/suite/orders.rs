//! Orders in over HTTP: uploads run as background jobs, re-imports change nothing, status
//! only moves forward, the ingest API writes only its key's store, erasure leaves no
//! personal data, suppression lists import, export and block, exports neutralise formulas.
//!
//! Demo tenancy: client 1 (stores 1-3) belongs to the account manager; client 3 (stores
//! 7-9) to nobody but the admin.

use serde_json::{json, Value};
use starling_tests::*;
use std::time::Duration;

const SHOPIFY_HEADER: &str = "Name,Email,Financial Status,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Shipping Name,Shipping Country,Phone,Cancelled at";

/// A Shopify export: #5001 with two line items, a `<script>` buyer name in #5002, a bad
/// date in #5003, a quoted newline in a product name.
fn shopify_export(status_5001: &str, financial_5002: &str) -> Vec<u8> {
    let mut text = String::from("\u{feff}");
    text.push_str(SHOPIFY_HEADER);
    text.push('\n');
    text.push_str(&format!("#5001,Eva.Kraus@Example.AT,paid,{status_5001},2024-03-06 10:00:00 +0100,yes,EUR,59.80,2024-03-05 14:22:11 +0100,1,Trail Jacket,39.90,TJ-1,Eva Kraus,AT,+43 664 1234567,\n"));
    text.push_str("#5001,,,,,,,,,2,Wool Socks,9.95,WS-2,,,,\n");
    text.push_str(&format!("#5002,tom@example.co.uk,{financial_5002},,,no,GBP,199.00,2024-03-05 15:00:00 +0000,1,\"Tent \"\"Fjell\"\",\nwith footprint\",199.00,TN-2,<script>alert(1)</script>,GB,,\n"));
    text.push_str("#5003,x@example.com,paid,,,,EUR,5.00,yesterday,1,Cap,5.00,CP,Bad Date,FR,,\n");
    text.into_bytes()
}

/// Uploads a file as the import form does; returns the new import job's id.
pub async fn upload(client: &Client, client_id: i64, store_id: i64, name: &str, bytes: Vec<u8>) -> i64 {
    let answer = upload_answer(client, client_id, store_id, name, bytes).await;
    assert_eq!(answer.status, 303, "upload: {}", answer.body);
    let location = answer.headers.get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
    let prefix = format!("/clients/{client_id}/imports/");
    location.strip_prefix(&prefix).and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("upload went to {location}"))
}

async fn upload_answer(client: &Client, client_id: i64, store_id: i64, name: &str, bytes: Vec<u8>) -> Answer {
    let form = reqwest::multipart::Form::new()
        .text("store", store_id.to_string())
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()));
    let response =
        client.http.post(format!("{}/clients/{client_id}/imports/upload", client.base)).multipart(form).send().await.expect("upload");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer { status, headers, body: response.text().await.unwrap_or_default() }
}

/// Starts an uploaded import and waits for its end; returns the job as the page sees it.
pub async fn run_import(client: &Client, client_id: i64, job_id: i64) -> Value {
    let started = client.rpc("start_import", json!({ "client_id": client_id, "job_id": job_id })).await;
    assert_eq!(started.status, 200, "{}", started.body);
    wait_for_job(client, client_id, job_id).await
}

async fn wait_for_job(client: &Client, client_id: i64, job_id: i64) -> Value {
    for _ in 0..300 {
        let detail = client.rpc("get_import", json!({ "client_id": client_id, "job_id": job_id })).await.json();
        if matches!(detail["job"]["state"].as_str(), Some("done") | Some("failed")) {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {job_id} did not finish");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.pool).await.unwrap();
    n
}

#[tokio::test]
async fn a_shopify_export_imports_in_the_background_once_and_moves_status_forward_only() {
    let app = TestApp::spawn().await;
    let am = app.signed_in(MANAGER).await;
    let job = upload(&am, 1, 2, "orders_export.csv", shopify_export("fulfilled", "paid")).await;

    // The preview names the format and shows the first orders mapped to Starling's fields.
    let detail = am.rpc("get_import", json!({ "client_id": 1, "job_id": job })).await.json();
    assert_eq!(detail["job"]["state"], "uploaded");
    assert_eq!(detail["preview"]["layout"], "Shopify orders export");
    assert_eq!(detail["preview"]["orders"][0]["platform_order_id"], "#5001");
    assert_eq!(detail["preview"]["orders"][0]["items"].as_array().unwrap().len(), 2);
    assert_eq!(detail["preview"]["errors"][0]["field"], "Created at");
    // The page shows the buyer name as text, never as markup.
    let page = am.get(&format!("/clients/1/imports/{job}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.body.contains("<script>alert(1)"), "escaped buyer name");

    let done = run_import(&am, 1, job).await;
    assert_eq!(done["job"]["state"], "done", "{done}");
    assert_eq!((done["job"]["orders_new"].as_i64(), done["job"]["rows_rejected"].as_i64()), (Some(2), Some(1)));
    assert_eq!(
        done["rejects"][0],
        json!({ "line": 6, "field": "Created at", "reason": "\"yesterday\" is not a date this export uses (like 2024-03-05 14:22:11 +0100)" })
    );
    let report = am.get(&format!("/clients/1/imports/{job}/rejects.csv")).await;
    assert_eq!(report.status, 200);
    assert!(report.body.starts_with("line,field,reason\n6,Created at,"), "{}", report.body);
    let stored = count(&app, "SELECT COUNT(*) FROM orders WHERE store_id = 2 AND platform_order_id IN ('#5001', '#5002')").await;
    assert_eq!(stored, 2);
    // The buyer became a customer of the brand, with locale and checkout consent.
    let row: (String, String, String) = sqlx::query_as("SELECT email, phone, locale FROM customers WHERE email = 'eva.kraus@example.at'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(row, ("eva.kraus@example.at".into(), "+436641234567".into(), "de-AT".into()));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM consents c JOIN customers u ON u.id = c.customer_id WHERE u.email = 'eva.kraus@example.at'")
            .await,
        1
    );

    // The same file again changes nothing, and says so.
    let again = upload(&am, 1, 2, "orders_export.csv", shopify_export("fulfilled", "paid")).await;
    let done = run_import(&am, 1, again).await;
    assert_eq!(
        (done["job"]["orders_new"].as_i64(), done["job"]["orders_updated"].as_i64(), done["job"]["orders_unchanged"].as_i64()),
        (Some(0), Some(0), Some(2))
    );
    assert!(done["job"]["message"].as_str().unwrap().starts_with("Nothing changed"), "{done}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE store_id = 2 AND platform_order_id LIKE '#500%'").await, 2);

    // A later file moves #5002 forward (refunded) and records when; an older one (#5001
    // back to unfulfilled) moves nothing backward.
    let later = upload(&am, 1, 2, "later.csv", shopify_export("", "refunded")).await;
    let done = run_import(&am, 1, later).await;
    assert_eq!((done["job"]["orders_updated"].as_i64(), done["job"]["orders_unchanged"].as_i64()), (Some(1), Some(1)), "{done}");
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "SELECT platform_order_id, status FROM orders WHERE store_id = 2 AND platform_order_id LIKE '#500%' ORDER BY platform_order_id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(statuses, vec![("#5001".into(), "fulfilled".into()), ("#5002".into(), "refunded".into())]);
    let history: Vec<(String, String)> = sqlx::query_as("SELECT h.from_status, h.to_status FROM order_status_history h JOIN orders o ON o.id = h.order_id WHERE o.platform_order_id = '#5002'").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(history, vec![("pending".into(), "refunded".into())]);
}

#[tokio::test]
async fn amazon_utf16_and_a_mapped_csv_import_and_the_mapping_is_kept_per_store() {
    let app = TestApp::spawn().await;
    let am = app.signed_in(MANAGER).await;
    // An Amazon report saved by Excel as "Unicode text": UTF-16 with BOM, tab-separated.
    let report = "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tsales-channel\tproduct-name\tsku\tasin\tquantity\tcurrency\titem-price\tship-country\r\n\
                  305-1111111-0000001\t2024-03-05T13:22:11+00:00\t2024-03-08T09:00:00+00:00\tShipped\tAmazon.de\tStirnlampe \"Pro\"\tHL-1\tB0TEST0001\t1\tEUR\t19.90\tDE\r\n\
                  305-1111111-0000002\t2024-03-06T08:00:00+00:00\t2024-03-06T08:00:00+00:00\tPending\tAmazon.de\tBatterien\tBT-4\tB0TEST0002\t4\tEUR\t10.00\tDE\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for unit in report.encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let job = upload(&am, 1, 1, "amazon.txt", bytes).await;
    let done = run_import(&am, 1, job).await;
    assert_eq!(
        (done["job"]["layout"].as_str(), done["job"]["encoding"].as_str(), done["job"]["orders_new"].as_i64()),
        (Some("amazon"), Some("UTF-16LE"), Some(2)),
        "{done}"
    );
    let (items, customer): (String, Option<i64>) =
        sqlx::query_as("SELECT items, customer_id FROM orders WHERE platform_order_id = '305-1111111-0000001'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(items.contains("Stirnlampe \\\"Pro\\\""), "{items}");
    assert_eq!(customer, None, "Amazon gives no buyer address: no customer");

    // Any other CSV (Windows-1252, semicolons) needs its columns mapped once per store.
    let (csv, _, _) = encoding_rs_windows_1252(
        "Bestellnummer;Datum;Kunde;E-Mail;Land;Artikel;Menge;Preis\nA-1;05.03.2024;Jürgen Groß;JG@example.de;DE;Stirnlampe;1;19,90\n",
    );
    let job = upload(&am, 1, 2, "erp.csv", csv.clone()).await;
    let detail = am.rpc("get_import", json!({ "client_id": 1, "job_id": job })).await.json();
    assert_eq!(detail["job"]["state"], "needs_mapping");
    assert_eq!(detail["headers"][0], "Bestellnummer");
    assert_eq!(detail["mapping"]["order_id"], "Bestellnummer", "a first guess from the headers");
    let refused = am.rpc("start_import", json!({ "client_id": 1, "job_id": job })).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let mut mapping = detail["mapping"].clone();
    let incomplete = am.rpc("save_mapping", json!({ "client_id": 1, "job_id": job, "mapping": mapping })).await;
    assert_eq!(incomplete.status, 422);
    assert!(incomplete.body.contains("placed_at") && incomplete.body.contains("Order date is required"), "{}", incomplete.body);
    mapping["placed_at"] = json!("Datum");
    mapping["name"] = json!("Kunde");
    let saved = am.rpc("save_mapping", json!({ "client_id": 1, "job_id": job, "mapping": mapping })).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let done = run_import(&am, 1, job).await;
    assert_eq!(done["job"]["orders_new"].as_i64(), Some(1), "{done}");
    let name: (String,) =
        sqlx::query_as("SELECT buyer_name FROM orders WHERE platform_order_id = 'A-1'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(name.0, "Jürgen Groß");
    // The next file of that store uses the saved mapping without asking.
    let next = upload(&am, 1, 2, "erp-2.csv", csv).await;
    let detail = am.rpc("get_import", json!({ "client_id": 1, "job_id": next })).await.json();
    assert_eq!(detail["preview"]["layout"], "CSV with a column mapping", "{detail}");
    let done = run_import(&am, 1, next).await;
    assert_eq!(done["job"]["orders_unchanged"].as_i64(), Some(1));
}

fn encoding_rs_windows_1252(text: &str) -> (Vec<u8>, (), ()) {
    // Windows-1252 covers Latin-1's letters at the same code points.
    (text.chars().map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character")).collect(), (), ())
}

#[tokio::test]
async fn uploads_past_the_limit_and_unreadable_files_get_a_clear_message() {
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 4096).await;
    let am = app.signed_in(MANAGER).await;
    let big = upload_answer(&am, 1, 2, "big.csv", vec![b'a'; 20_000]).await;
    assert_eq!(big.status, 303);
    let location = big.headers.get("location").unwrap().to_str().unwrap();
    assert!(location.starts_with("/clients/1/imports?error=") && location.contains("upload%20limit%20of%204%20KB"), "{location}");
    let empty = upload_answer(&am, 1, 2, "empty.csv", Vec::new()).await;
    assert!(empty.headers.get("location").unwrap().to_str().unwrap().contains("empty"), "an empty file is named");
    // A store of another client cannot be the target.
    let foreign = upload_answer(&am, 1, 7, "x.csv", shopify_export("", "paid")).await;
    assert!(
        foreign.headers.get("location").unwrap().to_str().unwrap().contains("Pick%20one%20of%20this%20client"),
        "foreign store refused"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM import_jobs WHERE store_id = 7").await, 0);
}

async fn api_key(client: &Client, client_id: i64, store_id: i64) -> String {
    let answer = client.rpc("create_api_key", json!({ "client_id": client_id, "store_id": store_id, "label": "shop system" })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json().as_str().unwrap().to_string()
}

async fn push(app: &TestApp, key: &str, body: Value) -> Answer {
    let response = reqwest::Client::new().post(app.url("/api/v1/orders")).bearer_auth(key).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer { status, headers, body: response.text().await.unwrap() }
}

fn api_order(id: &str, status: &str, email: &str) -> Value {
    json!({ "id": id, "placed_at": "2024-03-05T14:22:11+01:00", "status": status, "email": email, "name": "Ida Berg",
            "phone": "+46 70 123 45 67", "country": "SE", "total": "24.50",
            "items": [{ "sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 24.5 }] })
}

#[tokio::test]
async fn the_ingest_api_writes_only_its_keys_store_and_answers_per_order() {
    let app = TestApp::spawn().await;
    let am = app.signed_in(MANAGER).await;
    let key = api_key(&am, 1, 3).await;
    let keys = am.rpc("list_api_keys", json!({ "client_id": 1, "store_id": 3 })).await;
    assert!(!keys.body.contains(&key), "the key is shown once, then only its prefix");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM api_keys WHERE key_hash LIKE '%{}%'", &key[4..20])).await, 0, "stored hashed");

    let batch = json!({ "orders": [api_order("A1", "pending", "ida@example.se"), api_order("A2", "delivered", "ida@example.se"),
                                    { "id": "A3", "placed_at": "someday", "items": [{ "name": "x" }] },
                                    { "id": "A4", "placed_at": "2024-03-05T14:22:11Z", "items": [{ "name": "x" }], "store_id": 7 }] });
    let answer = push(&app, &key, batch.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!((body["created"].as_i64(), body["rejected"].as_i64()), (Some(2), Some(2)));
    assert_eq!(
        body["results"][2],
        json!({ "index": 2, "id": "A3", "result": "rejected", "errors": [{ "field": "placed_at", "reason": "\"someday\" is not a date this export uses (like 2024-03-05T14:22:11+01:00)" }] })
    );
    assert!(body["results"][3]["errors"][0]["reason"].as_str().unwrap().contains("store_id"), "no order names its own store");
    // Both orders of the one buyer share one customer; the phone is E.164.
    let customers: Vec<(String, String)> =
        sqlx::query_as("SELECT email, phone FROM customers WHERE email = 'ida@example.se'").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(customers.len(), 1);
    let phone: (String,) =
        sqlx::query_as("SELECT buyer_phone FROM orders WHERE platform_order_id = 'A1'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(phone.0, "+46701234567");

    // Replaying changes nothing; a later status moves forward, an earlier one does not.
    let again = push(&app, &key, batch).await.json();
    assert_eq!((again["created"].as_i64(), again["unchanged"].as_i64()), (Some(0), Some(2)));
    let moved = push(
        &app,
        &key,
        json!({ "orders": [api_order("A1", "fulfilled", "ida@example.se"), api_order("A2", "pending", "ida@example.se")] }),
    )
    .await
    .json();
    assert_eq!((moved["results"][0]["result"].as_str(), moved["results"][1]["result"].as_str()), (Some("updated"), Some("unchanged")));

    // The key wrote store 3 only.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE platform_order_id IN ('A1', 'A2') AND store_id = 3").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE platform_order_id LIKE 'A%' AND store_id <> 3").await, 0);

    // Keys for another client's store cannot be made; bad, missing and revoked keys are refused.
    assert_eq!(am.rpc("create_api_key", json!({ "client_id": 3, "store_id": 7, "label": "x" })).await.status, 403);
    assert_eq!(am.rpc("create_api_key", json!({ "client_id": 1, "store_id": 7, "label": "x" })).await.status, 404);
    assert_eq!(push(&app, "stk_not-a-key", json!({ "orders": [] })).await.status, 401);
    assert_eq!(push(&app, "", json!({ "orders": [] })).await.status, 401);
    let too_many: Vec<Value> = (0..1001).map(|i| api_order(&format!("B{i}"), "pending", "")).collect();
    let answer = push(&app, &key, json!({ "orders": too_many })).await;
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("At most 1000 orders"), "{}", answer.body);
    let malformed = push(&app, &key, json!({ "order": [] })).await;
    assert_eq!(malformed.status, 400);
    let id: (i64,) = sqlx::query_as("SELECT id FROM api_keys WHERE store_id = 3").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(am.rpc("revoke_api_key", json!({ "client_id": 1, "key_id": id.0 })).await.status, 200);
    assert_eq!(push(&app, &key, json!({ "orders": [api_order("A9", "pending", "")] })).await.status, 401);
}

#[tokio::test]
async fn erasing_a_buyer_leaves_no_personal_data_and_blocks_them_for_good() {
    let app = TestApp::spawn().await;
    let am = app.signed_in(MANAGER).await;
    let key = api_key(&am, 1, 2).await;
    let order = json!({ "orders": [{ "id": "E1", "placed_at": "2024-03-05T14:22:11Z", "email": "Erik.Erased@Example.DE", "name": "Erik Erased",
                                      "phone": "0151 23456789", "country": "DE", "consent": true, "items": [{ "name": "Cap" }] }] });
    assert_eq!(push(&app, &key, order.clone()).await.json()["created"], 1);
    let (customer,): (i64,) =
        sqlx::query_as("SELECT id FROM customers WHERE email = 'erik.erased@example.de'").fetch_one(&app.db.pool).await.unwrap();
    let personal = ["erik.erased@example.de", "Erik Erased", "+4915123456789"];

    // The buyer's export holds everything about them.
    let export = am.get(&format!("/clients/1/customers/{customer}/export.json")).await;
    assert_eq!(export.status, 200);
    assert!(export.headers.get("content-disposition").unwrap().to_str().unwrap().contains("attachment"));
    let data = export.json();
    assert_eq!(data["customer"]["email"], "erik.erased@example.de");
    assert_eq!(data["orders"][0]["order_id"], "E1");
    assert_eq!(data["consents"][0]["channel"], "email");
    // Another client's manager cannot read it.
    assert_eq!(app.signed_in(VIEWER_SAKURA).await.get(&format!("/clients/1/customers/{customer}/export.json")).await.status, 403);

    let erased = am.rpc("erase_customer", json!({ "client_id": 1, "customer_id": customer })).await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.json(), 1, "one order stripped");
    for (table, columns) in [
        ("orders", "buyer_name || buyer_email || buyer_phone || items"),
        ("customers", "email || phone || name"),
        ("suppressions", "value || note"),
        ("audit_log", "subject || detail"),
        ("consents", "source"),
        ("order_status_history", "source"),
        ("import_rejects", "reason"),
    ] {
        for value in personal {
            let n = count(&app, &format!("SELECT COUNT(*) FROM {table} WHERE lower({columns}) LIKE lower('%{value}%')")).await;
            assert_eq!(n, 0, "{value} is still in {table}");
        }
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE platform_order_id = 'E1'").await, 1, "the order itself stays");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM suppressions WHERE reason = 'erased' AND brand_id = 1").await, 2, "e-mail and phone");
    let audit: (String,) =
        sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'buyer.erase'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(audit.0, "1 orders stripped of personal data");

    // They are never contacted again: suppressed for the brand, and a replayed order
    // comes back without them.
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    assert!(app::orders::privacy::is_suppressed(&app.db, &salt, 1, " Erik.Erased@example.de").await.unwrap());
    assert!(!app::orders::privacy::is_suppressed(&app.db, &salt, 3, "erik.erased@example.de").await.unwrap(), "per brand");
    let mut replay = order.clone();
    replay["orders"][0]["id"] = json!("E2");
    assert_eq!(push(&app, &key, replay).await.json()["created"], 1);
    let row: (String, String, Option<i64>) =
        sqlx::query_as("SELECT buyer_email, buyer_name, customer_id FROM orders WHERE platform_order_id = 'E2'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(row, (String::new(), String::new(), None));
}

#[tokio::test]
async fn suppression_lists_import_export_and_neutralise_formulas() {
    let app = TestApp::spawn().await;
    let am = app.signed_in(MANAGER).await;
    let csv = "email,reason,note\nBlock.Me@Example.com,hard bounce,=HYPERLINK(\"http://evil.test\")\nnot-an-address,manual,\nkeep@example.com,spam,\n+49 151 11112222,complaint,@SUM(1)\n";
    let form = reqwest::multipart::Form::new()
        .text("brand", "1")
        .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("list.csv"));
    let answer = am.http.post(app.url("/clients/1/suppression/upload")).multipart(form).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    let location = answer.headers().get("location").unwrap().to_str().unwrap().to_string();
    assert!(
        location.contains("2%20added")
            && location.contains("2%20rejected")
            && location.contains("line%203")
            && location.contains("line%204%2C%20reason"),
        "{location}"
    );

    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    assert!(app::orders::privacy::is_suppressed(&app.db, &salt, 1, "block.me@example.com").await.unwrap());
    assert!(app::orders::privacy::is_suppressed(&app.db, &salt, 1, "+4915111112222").await.unwrap());

    let export = am.get("/clients/1/suppression.csv").await;
    assert_eq!(export.status, 200);
    assert!(
        export.body.contains("block.me@example.com,Nordlicht,hard_bounce,\"'=HYPERLINK(\"\"http://evil.test\"\")\""),
        "{}",
        export.body
    );
    assert!(export.body.contains("'+4915111112222") && export.body.contains("'@SUM(1)"), "{}", export.body);
    assert!(!export.body.contains("Maison Verte"), "only this client's lists");

    // Adding by hand: brand list for the manager, agency-wide only for admins.
    let added =
        am.rpc("add_suppression", json!({ "client_id": 1, "brand_id": 1, "address": "Hand@Example.com", "note": "asked by phone" })).await;
    assert_eq!((added.status, added.json()), (200, json!(true)));
    let dup = am.rpc("add_suppression", json!({ "client_id": 1, "brand_id": 1, "address": "hand@example.com ", "note": "" })).await;
    assert_eq!(dup.json(), json!(false), "already listed");
    let bad = am.rpc("add_suppression", json!({ "client_id": 1, "brand_id": 1, "address": "nobody", "note": "" })).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("address"), "{}", bad.body);
    assert_eq!(
        am.rpc("add_suppression", json!({ "client_id": 1, "brand_id": null, "address": "x@example.com", "note": "" })).await.status,
        403
    );
    assert_eq!(
        am.rpc("add_suppression", json!({ "client_id": 1, "brand_id": 5, "address": "x@example.com", "note": "" })).await.status,
        422,
        "a brand of another client"
    );
    let admin = app.signed_in(ADMIN).await;
    assert_eq!(
        admin
            .rpc("add_suppression", json!({ "client_id": 1, "brand_id": null, "address": "everyone@example.com", "note": "" }))
            .await
            .status,
        200
    );
    assert!(
        app::orders::privacy::is_suppressed(&app.db, &salt, 6, "everyone@example.com").await.unwrap(),
        "agency-wide covers every brand"
    );

    // An unsubscribe stays; a manual entry can be removed.
    let (unsub,): (i64,) = sqlx::query_as("SELECT id FROM suppressions WHERE reason = 'unsubscribed' AND client_id = 1 LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(am.rpc("remove_suppression", json!({ "client_id": 1, "id": unsub })).await.status, 409);
    let (manual,): (i64,) =
        sqlx::query_as("SELECT id FROM suppressions WHERE value = 'hand@example.com'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(am.rpc("remove_suppression", json!({ "client_id": 1, "id": manual })).await.status, 200);
}

#[tokio::test]
async fn orders_list_filters_pages_and_exports_without_formulas() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(VIEWER).await;
    let all = viewer
        .rpc("list_orders", json!({ "client_id": 1, "filter": {}, "query": { "q": "", "sort": "", "desc": false, "page": 1 } }))
        .await
        .json();
    assert_eq!(all["page"]["total"], 90, "30 demo orders in each of the client's 3 stores");
    assert_eq!(all["page"]["rows"].as_array().unwrap().len(), 20);
    let refunded = viewer.rpc("list_orders", json!({ "client_id": 1, "filter": { "status": "refunded", "store_id": 2 }, "query": { "q": "", "sort": "total", "desc": true, "page": 1 } })).await.json();
    let rows = refunded["page"]["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["status"] == "refunded" && r["store_name"] == "nordlicht.test shop"), "{refunded}");
    let totals: Vec<i64> = rows.iter().map(|r| r["total_minor"].as_i64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "sorted by total, descending");
    let page = viewer.get("/clients/1/orders?status=refunded&store=2").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("refunded") && !page.body.contains("status-delivered"), "the page applies the URL's filters");

    // A buyer name that is a formula is exported as text.
    let am = app.signed_in(MANAGER).await;
    let key = api_key(&am, 1, 2).await;
    let formula = json!({ "orders": [{ "id": "=1+1", "placed_at": "2024-03-05T14:22:11Z", "name": "=HYPERLINK(\"http://evil.test\",\"x\")", "items": [{ "name": "Cap" }] }] });
    assert_eq!(push(&app, &key, formula).await.json()["created"], 1);
    let csv = viewer.get("/clients/1/orders.csv?store=2").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("order_id,store,placed_at,status"), "{}", &csv.body[..80]);
    assert!(csv.body.contains("'=1+1,") && csv.body.contains("\"'=HYPERLINK("), "{}", csv.body);
    assert!(!csv.body.contains(",=HYPERLINK") && !csv.body.contains("\n=1+1"));
    assert_eq!(app.signed_in(WRITER).await.get("/clients/1/orders.csv").await.status, 403, "copywriters see no buyers");
}

#[tokio::test]
async fn retention_purges_old_orders_and_is_logged() {
    let app = TestApp::spawn().await;
    let before = count(&app, "SELECT COUNT(*) FROM orders WHERE client_id = 1").await;
    let admin = app.signed_in(ADMIN).await;
    assert_eq!(app.signed_in(MANAGER).await.rpc("set_retention", json!({ "client_id": 1, "months": 1 })).await.status, 403);
    let bad = admin.rpc("set_retention", json!({ "client_id": 1, "months": -2 })).await;
    assert_eq!(bad.status, 422);
    let purged = admin.rpc("set_retention", json!({ "client_id": 1, "months": 1 })).await;
    assert_eq!(purged.status, 200, "{}", purged.body);
    let purged = purged.json().as_i64().unwrap();
    let after = count(&app, "SELECT COUNT(*) FROM orders WHERE client_id = 1").await;
    assert!(purged > 0 && after == before - purged, "{before} - {purged} = {after}");
    let cutoff = chrono::Utc::now().timestamp_millis() - 31 * 86_400_000;
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM orders WHERE client_id = 1 AND placed_at < {cutoff}")).await, 0);
    assert!(count(&app, "SELECT COUNT(*) FROM orders WHERE client_id = 3").await == 90, "other clients keep theirs");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'orders.purge' AND client_id = 1").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'client.retention'").await, 1);
}

#[tokio::test]
async fn two_writers_storing_the_same_orders_at_once_create_each_once() {
    let app = TestApp::spawn().await;
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let target = app::orders::store::target(&app.db, 2).await.unwrap().unwrap();
    let placed = app::db::now_millis() - 9 * 86_400_000;
    // Overlapping batches: orders 0-2,999 and 1,500-4,499, written at the same time, four
    // times over, so the writers' transactions interleave.
    let first: Vec<_> = (0..3_000).map(|i| app::demo::delivered_order("RACE", i, placed)).collect();
    let second: Vec<_> = (1_500..4_500).map(|i| app::demo::delivered_order("RACE", i, placed)).collect();
    let mut created = 0;
    for _ in 0..4 {
        let (a, b) = tokio::join!(
            app::orders::store::upsert(&app.db, &target, first.clone(), "race-a", &salt),
            app::orders::store::upsert(&app.db, &target, second.clone(), "race-b", &salt)
        );
        let outcomes: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
        created += outcomes.iter().filter(|o| **o == app::orders::store::Outcome::Created).count();
    }
    assert_eq!(created, 4_500, "each order is created once, whichever writer wins it");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE platform_order_id LIKE 'RACE-%'").await, 4_500);
    assert_eq!(
        count(&app, "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE platform_order_id LIKE 'RACE-%'").await,
        4_500,
        "each buyer is one customer"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM orders o WHERE o.platform_order_id LIKE 'RACE-%' AND o.customer_id IS NULL").await,
        0,
        "every order found its customer"
    );
}

/// Sends the head of a POST announcing a 16 MB body and only its first bytes, and gives the
/// server `wait` to answer: an endpoint that checks the key first answers at once.
async fn answer_to_a_body_never_sent(app: &TestApp, path: &str, key: &str, wait: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 16000000\r\n\r\n{{\"orders\": ["
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&answer[..n]).to_string()),
        _ => None,
    }
}

/// A request with a wrong key is refused before its body is read: nobody without a key
/// makes the server buffer 16 MB.
#[tokio::test]
async fn the_api_refuses_a_wrong_key_before_reading_the_body() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/orders", "/api/v1/reviews"] {
        let answer = answer_to_a_body_never_sent(&app, path, "not-a-key", Duration::from_secs(5)).await;
        let answer = answer.unwrap_or_else(|| panic!("{path}: no answer while the body was still coming"));
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
    // A good key's request does wait for its body (and gets it refused as too large if
    // it were sent): the limit is still there.
    let key = api_key(&app.signed_in(MANAGER).await, 1, 2).await;
    assert!(answer_to_a_body_never_sent(&app, "/api/v1/orders", &key, Duration::from_millis(500)).await.is_none());
}

/// The small fields of an upload form are read with a cap.
#[tokio::test]
async fn an_upload_form_field_of_megabytes_is_refused() {
    let app = TestApp::spawn().await;
    let manager = app.signed_in(MANAGER).await;
    let form = reqwest::multipart::Form::new()
        .text("brand", "1".repeat(5 * 1024 * 1024))
        .part("file", reqwest::multipart::Part::bytes(b"email\nx@example.com\n".to_vec()).file_name("list.csv"));
    let answer = manager.http.post(app.url("/clients/1/suppression/upload")).multipart(form).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let to = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("error=") && to.contains("longer"), "{to}");
    // A normal upload still works, streamed through the data folder.
    let form = reqwest::multipart::Form::new()
        .text("brand", "1")
        .part("file", reqwest::multipart::Part::bytes(b"email;note\nStreamed@Example.com;from a file\n".to_vec()).file_name("list.csv"));
    let answer = manager.http.post(app.url("/clients/1/suppression/upload")).multipart(form).send().await.unwrap();
    let to = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("result=1%20added") || to.contains("result=1+added"), "{to}");
    let leftovers = std::fs::read_dir(app.data_dir.join("uploads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "the spooled file is removed");
}
