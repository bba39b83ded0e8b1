//! Connectors against fake Shopify, Amazon and eBay servers on loopback that implement
//! the platforms' documented contracts: paging, the cost throttle and 429s, expired tokens,
//! server errors, malformed bodies and signed webhooks. Nothing lost, nothing stored twice,
//! every rejection named, and no user sees or changes another client's connections.

use app::connectors::model::ConnectionState;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use starling_tests::fakes::amazon::{self, AmazonOrder, FakeAmazon};
use starling_tests::fakes::ebay::{self, EbayOrder, FakeEbay};
use starling_tests::fakes::shopify::{self, FakeShopify, ShopifyOrder};
use starling_tests::{Client, TestApp, ADMIN, MANAGER, VIEWER, VIEWER_SAKURA, WRITER};
use std::time::{Duration, Instant};

const SHOP: &str = "nordlicht.myshopify.com";
const SHOP_TOKEN: &str = "shpat_fake_secret_token_0001";
const WEBHOOK_SECRET: &str = "custom-app-secret-for-webhooks";

/// A server whose connectors talk to the fakes, retrying fast.
pub(crate) async fn app_with(shopify: &str, amazon: &str, ebay: &str, adjust: impl FnOnce(&mut server::config::Config)) -> TestApp {
    let (shopify, amazon, ebay) = (shopify.to_string(), amazon.to_string(), ebay.to_string());
    TestApp::spawn_with(move |c| {
        c.sync = true;
        c.connector_retry_first_ms = 50;
        c.connector_timeout_secs = 2;
        c.shopify_base_url = shopify;
        c.amazon_lwa_url = amazon.clone();
        c.amazon_endpoint_na = amazon.clone();
        c.amazon_endpoint_eu = amazon.clone();
        c.amazon_endpoint_fe = amazon;
        c.amazon_client_id = amazon::CLIENT_ID.into();
        c.amazon_client_secret = Some(secrecy::SecretString::from(amazon::CLIENT_SECRET.to_string()));
        c.ebay_identity_url = ebay.clone();
        c.ebay_api_url = ebay;
        c.ebay_client_id = ebay::CLIENT_ID.into();
        c.ebay_client_secret = Some(secrecy::SecretString::from(ebay::CLIENT_SECRET.to_string()));
        adjust(c);
    })
    .await
}

/// The demo store of `platform` of the client `client_index` (0 Nordlicht, 1 Sakura, 2 Maison Verte).
pub(crate) async fn store_of(app: &TestApp, platform: &str, client_index: usize) -> (i64, i64) {
    let clients = app::clients::store::ids(&app.db).await.unwrap();
    let client = clients[client_index];
    for (store, _, p) in app::clients::store::store_platforms(&app.db).await.unwrap() {
        if p == platform && app::clients::store::store_client(&app.db, store).await.unwrap() == Some(client) {
            return (store, client);
        }
    }
    panic!("the demo has no {platform} store of client {client}");
}

/// The Connections page's data as `client` sees it.
pub(crate) async fn connections(client: &Client) -> Value {
    let answer = client.rpc("list_connections", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

pub(crate) fn row(list: &Value, store_id: i64) -> Option<Value> {
    list["rows"].as_array().unwrap().iter().find(|r| r["store_id"] == store_id).cloned()
}

/// Waits until the store's connection is in `state` with a successful pull after `after`
/// (for healthy) or its alert raised (for needs re-authorization) and answers its row.
pub(crate) async fn wait_for(client: &Client, store_id: i64, state: ConnectionState, after: i64, seconds: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let list = connections(client).await;
        if let Some(r) = row(&list, store_id) {
            let fresh = state != ConnectionState::Healthy || r["last_success_at"].as_i64().is_some_and(|at| at > after);
            // The alert is raised just after the state is written: wait for both.
            let alerted = state != ConnectionState::NeedsReauth || !r["alert"].is_null();
            if r["state"] == json!(state) && fresh && alerted {
                return r;
            }
            assert!(Instant::now() < deadline, "the connection did not become {state:?}: {r}");
        } else {
            assert!(Instant::now() < deadline, "no connection for store {store_id}: {list}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn connect(client: &Client, form: Value) -> i64 {
    let answer = client.rpc("connect_store", json!({ "form": form })).await;
    assert_eq!(answer.status, 200, "connecting: {}", answer.body);
    answer.json().as_i64().expect("the connection id")
}

/// Orders of the store that came through a connector (the demo's own orders apart).
pub(crate) async fn stored(app: &TestApp, store_id: i64) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM orders WHERE store_id = $1 AND source IN ('shopify', 'shopify webhook', 'amazon', 'ebay')")
            .bind(store_id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    n
}

/// The mail in the app's outbox folder (no SMTP configured): each as its recipients,
/// subject and text, decoded.
pub(crate) fn outbox(app: &TestApp) -> Vec<String> {
    let Ok(files) = std::fs::read_dir(app.data_dir.join("outbox")) else { return Vec::new() };
    files
        .flatten()
        .filter_map(|f| std::fs::read(f.path()).ok())
        .filter_map(|bytes| {
            let m = mail_parser::MessageParser::default().parse(&bytes)?;
            let to = m.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_string();
            Some(format!("{to}\n{}\n{}", m.subject().unwrap_or_default(), m.body_text(0).unwrap_or_default()))
        })
        .collect()
}

pub(crate) fn now() -> i64 {
    app::db::now_millis()
}

#[tokio::test]
async fn a_shopify_backfill_pages_within_the_throttle_survives_faults_and_stores_each_order_once() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    let start = Utc::now() - TimeDelta::days(20);
    let mut orders = ShopifyOrder::generate(600, start);
    // One order the platform sent without line items: rejected and named, the rest land.
    orders[7].line_items.clear();
    let broken = orders[7].name.clone();
    fake.put_orders(SHOP, orders);
    // Three pages of 250 at a cost of 900 each: the third must wait for the bucket.
    fake.set_query_cost(900);
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |_| {}).await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "shopify", 0).await;
    let before = now();
    connect(&am, json!({ "store_id": store, "account": "nordlicht", "token": SHOP_TOKEN, "webhook_secret": WEBHOOK_SECRET })).await;
    let r = wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert_eq!(stored(&app, store).await, 599, "every order but the broken one");
    assert_eq!(fake.violations(), 0, "Starling never asked beyond the throttle");
    assert!(fake.pages_served() >= 3);
    assert_eq!(r["received_today"], 599);
    // The rejected order is an import record with its reason, like a file's row.
    let jobs = app::orders::store::jobs::list(&app.db, app::clients::store::ids(&app.db).await.unwrap()[0]).await.unwrap();
    let job = jobs.iter().find(|j| j.file_name.starts_with("Shopify sync")).expect("the pull's import record");
    let rejects = app::orders::store::jobs::rejects(&app.db, job.id, None, 0).await.unwrap();
    assert!(rejects.iter().any(|e| e.field == "items" && e.reason.contains(&broken)), "{rejects:?}");

    // Faults on the next pull: two 503s, a cut-off body, a 429 with Retry-After, a timeout.
    fake.set_query_cost(52);
    let cancelled_before = count_status(&am, &app, store, "cancelled").await;
    let changed = fake
        .orders(SHOP)
        .iter()
        .filter(|o| o.cancelled_at.is_none() && o.financial_status != "REFUNDED" && !o.line_items.is_empty())
        .take(10)
        .map(|o| o.id)
        .collect::<Vec<_>>();
    for id in &changed {
        fake.update_order(SHOP, *id, |o| o.cancelled_at = Some(Utc::now()));
    }
    let new: Vec<ShopifyOrder> = ShopifyOrder::generate(605, start).into_iter().skip(600).collect();
    let new_cancelled = new.iter().filter(|o| o.cancelled_at.is_some()).count() as i64;
    fake.put_orders(SHOP, new);
    fake.fail_next(2, 503);
    fake.malformed_next(1);
    fake.rate_limit_next(1, 1.0);
    fake.hang_next(1, 3.0);
    let before = now();
    let id = r["id"].as_i64().unwrap();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": id })).await.status, 200);
    let r = wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert_eq!(stored(&app, store).await, 604, "five new orders, none twice");
    assert_eq!(fake.violations(), 0, "the Retry-After was waited out");
    assert_eq!(r["last_error"], "");
    assert_eq!(
        count_status(&am, &app, store, "cancelled").await,
        10 + new_cancelled + cancelled_before,
        "the ten cancellations moved forward"
    );
}

/// The status of the store's order `name`.
async fn status_of(app: &TestApp, store: i64, name: &str) -> String {
    let (status,): (String,) = sqlx::query_as("SELECT status FROM orders WHERE store_id = $1 AND platform_order_id = $2")
        .bind(store)
        .bind(name)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    status
}

/// How many of the store's orders are in `status`, as the Orders page counts them.
async fn count_status(client: &Client, app: &TestApp, store: i64, status: &str) -> i64 {
    let client_id = app::clients::store::store_client(&app.db, store).await.unwrap().unwrap();
    let query = json!({ "q": "", "sort": "", "desc": false, "page": 1, "filters": [] });
    let answer = client
        .rpc("list_orders", json!({ "client_id": client_id, "filter": { "store_id": store, "status": status }, "query": query }))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["page"]["total"].as_i64().unwrap()
}

/// Posts a signed (or not) Shopify webhook to the app.
async fn deliver(app: &TestApp, headers: http::HeaderMap, body: Vec<u8>) -> (u16, String) {
    let answer = reqwest::Client::new().post(app.url("/webhooks/shopify")).headers(headers).body(body).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap_or_default())
}

#[tokio::test]
async fn shopify_webhooks_are_verified_taken_once_and_meet_file_and_pull_as_one_order() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |c| c.sync_interval_secs = 3600).await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "shopify", 0).await;
    let before = now();
    connect(&am, json!({ "store_id": store, "account": SHOP, "token": SHOP_TOKEN, "webhook_secret": WEBHOOK_SECRET })).await;
    wait_for(&am, store, ConnectionState::Healthy, before, 30).await;
    let baseline = stored(&app, store).await;

    // A new order, pending, pushed by the shop.
    let order = ShopifyOrder::new(90_001).status("PENDING", "UNFULFILLED");
    let body = shopify::order_webhook_body(&order);
    // A wrong signature: 401 and nothing stored.
    let (headers, raw) = shopify::webhook(SHOP, "orders/create", &body, "not-the-secret");
    assert_eq!(deliver(&app, headers, raw).await.0, 401);
    assert_eq!(stored(&app, store).await, baseline, "nothing stored from an unsigned body");
    // A body changed after signing: 401 too.
    let (headers, mut raw) = shopify::webhook(SHOP, "orders/create", &body, WEBHOOK_SECRET);
    raw.extend_from_slice(b" ");
    assert_eq!(deliver(&app, headers, raw).await.0, 401);
    // Signed with the custom app's secret: stored once, and its repeat changes nothing.
    let (headers, raw) = shopify::webhook(SHOP, "orders/create", &body, WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers.clone(), raw.clone()).await, (200, "taken".to_string()));
    assert_eq!(stored(&app, store).await, baseline + 1);
    assert_eq!(deliver(&app, headers, raw).await, (200, "taken before".to_string()));
    assert_eq!(stored(&app, store).await, baseline + 1);
    assert_eq!(status_of(&app, store, &order.name).await, "pending");

    // The shop fulfils it; the pull sees it, the order moves forward, still one order.
    fake.put_orders(SHOP, [order.clone().status("PAID", "FULFILLED").updated(Utc::now())]);
    let fulfilment = shopify::fulfillment_webhook_body(&order, &ShopifyOrder::new(1).fulfillments[0]);
    let (headers, raw) = shopify::webhook(SHOP, "fulfillments/create", &fulfilment, WEBHOOK_SECRET);
    let before = now();
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    wait_for(&am, store, ConnectionState::Healthy, before, 30).await;
    assert_eq!(stored(&app, store).await, baseline + 1, "the pull found the order it already had");
    assert_eq!(status_of(&app, store, &order.name).await, "fulfilled", "fulfilled by the pull");
    // A late, older update (pending again) under a new delivery id: statuses only move forward.
    let (headers, raw) = shopify::webhook(SHOP, "orders/updated", &body, WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    assert_eq!(status_of(&app, store, &order.name).await, "fulfilled");

    // The same order in an uploaded Shopify export is the same order.
    let csv = format!(
        "Name,Email,Financial Status,Fulfillment Status,Created at,Lineitem quantity,Lineitem name,Lineitem price,Currency,Total,Shipping Country\n\
         {},eva@example.at,paid,fulfilled,2026-11-20 10:00:00 +0100,2,Headlamp,14.95,EUR,29.90,AT\n",
        order.name
    );
    let client = app::clients::store::store_client(&app.db, store).await.unwrap().unwrap();
    let job_id = crate::orders::upload(&am, client, store, "orders_export.csv", csv.into_bytes()).await;
    let job = crate::orders::run_import(&am, client, job_id).await;
    assert_eq!((job["job"]["orders_new"].as_i64(), job["job"]["orders_unchanged"].as_i64()), (Some(0), Some(1)), "{job}");
    assert_eq!(stored(&app, store).await, baseline + 1);

    // A rejected pushed order is recorded with its reason, like a file's row.
    let mut broken = ShopifyOrder::new(90_002);
    broken.line_items.clear();
    let (headers, raw) = shopify::webhook(SHOP, "orders/create", &shopify::order_webhook_body(&broken), WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    let jobs = app::orders::store::jobs::list(&app.db, client).await.unwrap();
    let job = jobs.iter().find(|j| j.file_name.starts_with("Shopify webhook")).expect("the webhook's import record");
    let rejects = app::orders::store::jobs::rejects(&app.db, job.id, None, 0).await.unwrap();
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].reason.contains("#90002") && rejects[0].field == "items", "{rejects:?}");
}

#[tokio::test]
async fn shopify_privacy_webhooks_export_and_erase_the_buyer() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    let mut orders = ShopifyOrder::generate(3, Utc::now() - TimeDelta::days(5));
    for o in &mut orders {
        o.email = Some("erase.me@example.at".into());
    }
    fake.put_orders(SHOP, orders.clone());
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |_| {}).await;
    let am = app.signed_in(MANAGER).await;
    let (store, client) = store_of(&app, "shopify", 0).await;
    let before = now();
    connect(&am, json!({ "store_id": store, "account": SHOP, "token": SHOP_TOKEN, "webhook_secret": WEBHOOK_SECRET })).await;
    wait_for(&am, store, ConnectionState::Healthy, before, 30).await;
    let target = app::orders::store::target(&app.db, store).await.unwrap().unwrap();
    let found = app::orders::store::privacy::customers_by_address(&app.db, target.brand_id, "erase.me@example.at", "").await.unwrap();
    assert_eq!(found.len(), 1, "one buyer of three orders");

    let request = json!({"shop_id": 1, "shop_domain": SHOP, "orders_requested": [orders[0].id], "customer": {"id": 9, "email": "erase.me@example.at", "phone": null}, "data_request": {"id": 4242}});
    let (headers, raw) = shopify::webhook(SHOP, "customers/data_request", &request, WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    let mail = outbox(&app).into_iter().find(|m| m.contains("4242"));
    let mail = mail.expect("the account managers are told of the data request");
    assert!(mail.contains(&format!("/clients/{client}/customers/{}/export.json", found[0])), "{mail}");

    let redact = json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 9, "email": "erase.me@example.at", "phone": null}, "orders_to_redact": [orders[0].id]});
    let (headers, raw) = shopify::webhook(SHOP, "customers/redact", &redact, WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    let left = app::orders::store::privacy::customers_by_address(&app.db, target.brand_id, "erase.me@example.at", "").await.unwrap();
    assert!(left.is_empty(), "the buyer is erased");
    assert_eq!(stored(&app, store).await, 3, "the orders stay, without the buyer");
    // A later pull brings the same orders again: the erased buyer stays erased.
    let before = now();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": row(&connections(&am).await, store).unwrap()["id"] })).await.status, 200);
    wait_for(&am, store, ConnectionState::Healthy, before, 30).await;
    let again = app::orders::store::privacy::customers_by_address(&app.db, target.brand_id, "erase.me@example.at", "").await.unwrap();
    assert!(again.is_empty(), "a pulled order does not bring an erased buyer back");

    let (headers, raw) = shopify::webhook(SHOP, "shop/redact", &json!({"shop_id": 1, "shop_domain": SHOP}), WEBHOOK_SECRET);
    assert_eq!(deliver(&app, headers, raw).await.0, 200);
    assert!(app::orders::store::privacy::customers_of_store(&app.db, store).await.unwrap().is_empty(), "every buyer of the shop erased");
}

#[tokio::test]
async fn amazon_orders_arrive_with_delivery_windows_across_expired_tokens_and_rate_limits() {
    let fake = FakeAmazon::start();
    let seller = "A2FAKESELLER01";
    fake.add_seller("Atzr|refresh-token-of-the-seller", seller);
    // Tight limits the fake enforces; Starling follows the rate Amazon announces.
    fake.set_rate(amazon::Operation::GetOrderItems, 20.0, 30.0);
    fake.set_rate(amazon::Operation::GetOrders, 5.0, 20.0);
    fake.token_lifetime(3600);
    let mut orders = AmazonOrder::generate(230, Utc::now() - TimeDelta::days(15));
    orders[3].items.clear();
    let broken = orders[3].id.clone();
    fake.put_orders(seller, orders);
    let app = app_with("http://127.0.0.1:9", &fake.base, "http://127.0.0.1:9", |_| {}).await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "amazon", 0).await;
    let before = now();
    connect(&am, json!({ "store_id": store, "account": seller, "token": "Atzr|refresh-token-of-the-seller" })).await;
    let r = wait_for(&am, store, ConnectionState::Healthy, before, 90).await;
    assert_eq!(stored(&app, store).await, 229, "every order but the one without items");
    assert_eq!(fake.violations(), 0, "no request beyond Amazon's limits");
    assert_eq!(fake.token_refreshes(), 1, "one access token for the whole pull");
    assert!(r["reauthorize_by"].as_i64().unwrap() > now() + 360 * 86_400_000, "a year to re-authorize");
    let window = app::orders::store::delivery_window(&app.db, store, &fake.orders(seller)[0].id).await.unwrap();
    assert!(matches!(window, (Some(a), Some(b)) if a < b), "the delivery window is kept: {window:?}");
    let client = app::clients::store::store_client(&app.db, store).await.unwrap().unwrap();
    let jobs = app::orders::store::jobs::list(&app.db, client).await.unwrap();
    let job = jobs.iter().find(|j| j.file_name.starts_with("Amazon sync")).expect("the pull's import record");
    let rejects = app::orders::store::jobs::rejects(&app.db, job.id, None, 0).await.unwrap();
    assert!(rejects.iter().any(|e| e.reason.contains(&broken)), "{rejects:?}");

    // The access token expires: refreshed once, and the pull goes on.
    fake.expire_tokens();
    let first = fake.orders(seller)[10].id.clone();
    fake.update_order(seller, &first, |o| o.status = "Canceled".into());
    fake.put_orders(seller, [AmazonOrder::new("302-0000000-0000001").updated(Utc::now())]);
    fake.fail_next(1, 500);
    let before = now();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": r["id"] })).await.status, 200);
    wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert_eq!(stored(&app, store).await, 230);
    assert_eq!(fake.token_refreshes(), 2);
    assert_eq!(fake.violations(), 0);
    assert!(count_status(&am, &app, store, "cancelled").await >= 1);

    // The seller revokes Starling: needs re-authorization, an alert, a mail to the managers.
    fake.revoke_refresh();
    fake.expire_tokens();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": r["id"] })).await.status, 200);
    let r = wait_for(&am, store, ConnectionState::NeedsReauth, before, 60).await;
    assert!(r["alert"].as_str().unwrap().contains("Authorization"), "{r}");
    assert!(r["last_error"].as_str().unwrap().contains("Amazon"), "{r}");
    let told = outbox(&app).iter().any(|m| m.contains("needs attention") && m.contains("am@starling.test"));
    assert!(told, "the account managers got the alert by mail");
}

#[tokio::test]
async fn ebay_orders_page_by_offset_and_refresh_their_token() {
    let fake = FakeEbay::start();
    fake.add_seller("v^1.1#refresh-of-eva", "eva_h");
    fake.put_orders("eva_h", EbayOrder::generate(450, Utc::now() - TimeDelta::days(9)));
    let app = app_with("http://127.0.0.1:9", "http://127.0.0.1:9", &fake.base, |_| {}).await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "ebay", 0).await;
    let before = now();
    connect(&am, json!({ "store_id": store, "account": "eva_h", "token": "v^1.1#refresh-of-eva" })).await;
    let r = wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert_eq!(stored(&app, store).await, 450);
    fake.expire_tokens();
    fake.put_orders("eva_h", [EbayOrder::new("99-00000-00001").updated(Utc::now())]);
    fake.malformed_next(1);
    let before = now();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": r["id"] })).await.status, 200);
    wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert_eq!(stored(&app, store).await, 451);
    assert_eq!(fake.token_refreshes(), 2, "refreshed when eBay said the token was no longer valid");
}

#[tokio::test]
async fn connections_are_per_client_and_credentials_never_leave_the_server() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |_| {}).await;
    let am = app.signed_in(MANAGER).await;
    let admin = app.signed_in(ADMIN).await;
    let (nordlicht_store, _) = store_of(&app, "shopify", 0).await;
    let (maison_store, _) = store_of(&app, "shopify", 2).await;
    let id =
        connect(&am, json!({ "store_id": nordlicht_store, "account": SHOP, "token": SHOP_TOKEN, "webhook_secret": WEBHOOK_SECRET })).await;

    // The account manager of Nordlicht and Sakura cannot connect Maison Verte's store.
    let other = am.rpc("connect_store", json!({ "form": { "store_id": maison_store, "account": "maison", "token": "shpat_x" } })).await;
    assert_eq!(other.status, 403, "{}", other.body);
    // Viewers read their own client's connections only and change nothing.
    let viewer = app.signed_in(VIEWER).await;
    let list = connections(&viewer).await;
    assert!(row(&list, nordlicht_store).is_some() && list["can_manage"] == false);
    assert_eq!(viewer.rpc("sync_store_now", json!({ "id": id })).await.status, 403);
    assert_eq!(viewer.rpc("disconnect_store", json!({ "id": id })).await.status, 403);
    let sakura = app.signed_in(VIEWER_SAKURA).await;
    assert!(row(&connections(&sakura).await, nordlicht_store).is_none(), "another client's viewer does not see it");
    assert_eq!(sakura.rpc("set_sync_interval", json!({ "id": id, "minutes": 10 })).await.status, 403);
    assert_eq!(app.signed_in(WRITER).await.rpc("list_connections", json!({})).await.status, 403);
    // Bad input is named.
    let bad = am.rpc("connect_store", json!({ "form": { "store_id": nordlicht_store, "account": "evil.com", "token": "shpat_x" } })).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("account"), "{}", bad.body);
    let bad = am.rpc("set_sync_interval", json!({ "id": id, "minutes": 1 })).await;
    assert_eq!(bad.status, 422);

    // The token is nowhere: not in the list, the page, the audit log, nor readable in the database.
    let page = am.get("/connections").await;
    assert_eq!(page.status, 200);
    for text in [connections(&admin).await.to_string(), page.body.clone(), admin.get("/audit").await.body] {
        assert!(!text.contains(SHOP_TOKEN) && !text.contains(WEBHOOK_SECRET), "a credential leaked");
    }
    let sealed = app::connectors::store::get(&app.db, id).await.unwrap().unwrap().secret;
    assert!(!sealed.contains(SHOP_TOKEN) && !sealed.is_empty(), "stored sealed");

    // Disconnecting deletes the credentials and says so in the audit log.
    assert_eq!(am.rpc("disconnect_store", json!({ "id": id })).await.status, 200);
    let gone = app::connectors::store::get(&app.db, id).await.unwrap().unwrap();
    assert_eq!((gone.secret.as_str(), gone.state), ("", ConnectionState::Disconnected));
    let audit = admin.get("/audit").await.body;
    assert!(audit.contains("disconnect store") && audit.contains("credentials deleted"), "the audit log says so");
}

#[tokio::test]
async fn a_feed_with_no_successful_pull_alerts_and_recovers() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    fake.put_orders(SHOP, ShopifyOrder::generate(5, Utc::now() - TimeDelta::days(3)));
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |c| {
        c.sync_stale_after_secs = 5;
        c.sync_interval_secs = 30;
    })
    .await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "shopify", 0).await;
    // The shop's API is down from the start: every request 503.
    fake.fail_next(10_000, 503);
    let before = now();
    connect(&am, json!({ "store_id": store, "account": SHOP, "token": SHOP_TOKEN })).await;
    let r = wait_for(&am, store, ConnectionState::Failing, before, 60).await;
    assert!(r["last_error"].as_str().unwrap().contains("503"), "{r}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerted = loop {
        let r = row(&connections(&am).await, store).unwrap();
        if r["alert"].is_string() {
            break r;
        }
        assert!(Instant::now() < deadline, "no alert for a stalled feed: {r}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(alerted["alert"].as_str().unwrap().contains("No successful sync"), "{alerted}");
    // The shop comes back: the next pull is healthy and the alert closes.
    fake.clear_faults();
    let before = now();
    assert_eq!(am.rpc("sync_store_now", json!({ "id": r["id"] })).await.status, 200);
    let r = wait_for(&am, store, ConnectionState::Healthy, before, 60).await;
    assert!(r["alert"].is_null(), "the alert closed: {r}");
    assert_eq!(stored(&app, store).await, 5);
}

#[tokio::test]
async fn two_processes_never_take_the_same_store_at_once() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, SHOP_TOKEN);
    let app = app_with(&fake.base, "http://127.0.0.1:9", "http://127.0.0.1:9", |c| c.sync = false).await;
    let am = app.signed_in(MANAGER).await;
    let (store, _) = store_of(&app, "shopify", 0).await;
    let id = connect(&am, json!({ "store_id": store, "account": SHOP, "token": SHOP_TOKEN })).await;
    // Two pools on one database, as two server processes have; forty claims race for the
    // one due connection.
    let other = app::db::Db::connect(&app.database_url).await.unwrap();
    let at = now();
    let mut racing = Vec::new();
    for i in 0..40 {
        let db = if i % 2 == 0 { app.db.clone() } else { other.clone() };
        racing
            .push(tokio::spawn(async move { app::connectors::store::claim_due(&db, &format!("process-{i}"), at, 60_000).await.unwrap() }));
    }
    let mut won = 0;
    for task in racing {
        if let Some(c) = task.await.unwrap() {
            assert_eq!(c.id, id);
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one process holds the store");
}

/// The `Location` of a redirect answer.
fn location(answer: &starling_tests::Answer) -> String {
    answer.headers.get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string()
}

/// The value of query parameter `name` in `url`.
fn param(url: &str, name: &str) -> String {
    let url = url::Url::parse(url).expect("an absolute URL");
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

#[tokio::test]
async fn stores_connect_through_the_platforms_own_authorization_and_amazon_warns_before_its_year_ends() {
    let shop = FakeShopify::start();
    shop.put_orders(SHOP, ShopifyOrder::generate(12, Utc::now() - TimeDelta::days(4)));
    let amazon = FakeAmazon::start();
    amazon.add_seller("Atzr|from-the-code", "A2OAUTHSELLER");
    amazon.add_auth_code("spapi-code-1", "Atzr|from-the-code");
    amazon.put_orders("A2OAUTHSELLER", AmazonOrder::generate(7, Utc::now() - TimeDelta::days(8)));
    let app = app_with(&shop.base, &amazon.base, "http://127.0.0.1:9", |c| {
        c.shopify_api_key = shopify::APP_KEY.into();
        c.shopify_api_secret = Some(secrecy::SecretString::from(shopify::APP_SECRET.to_string()));
        c.amazon_app_id = "amzn1.sp.solution.fake".into();
        c.amazon_consent_url = amazon.base.clone();
        c.sync_stale_after_secs = 30;
    })
    .await;
    let am = app.signed_in(MANAGER).await;
    let (shop_store, _) = store_of(&app, "shopify", 0).await;
    let before = now();
    // Shopify: to the shop's consent page, which sends the merchant back signed.
    let go = am
        .post_raw(
            "/connections/authorize",
            "application/x-www-form-urlencoded",
            format!("store_id={shop_store}&account=nordlicht").into_bytes(),
        )
        .await;
    assert_eq!(go.status, 303, "{}", go.body);
    let consent = location(&go);
    assert!(consent.starts_with(&shop.base) && consent.contains("/admin/oauth/authorize") && !consent.contains("secret"), "{consent}");
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = plain.get(&consent).send().await.unwrap();
    let callback = back.headers().get("location").unwrap().to_str().unwrap().to_string();
    assert!(callback.contains("/connections/shopify/callback"), "{callback}");
    // A tampered answer is refused, and its state is spent.
    let tampered = callback.replace("code=", "code=x");
    let refused = am.get(&tampered[tampered.find("/connections").unwrap()..]).await;
    assert!(location(&refused).contains("not%20signed%20by%20Shopify"), "{}", location(&refused));
    let spent = am.get(&callback[callback.find("/connections").unwrap()..]).await;
    assert!(location(&spent).starts_with("/connections?error="), "{}", location(&spent));
    // Authorized again, the signed answer connects the store.
    let go = am
        .post_raw(
            "/connections/authorize",
            "application/x-www-form-urlencoded",
            format!("store_id={shop_store}&account=nordlicht").into_bytes(),
        )
        .await;
    let back = plain.get(location(&go)).send().await.unwrap();
    let callback = back.headers().get("location").unwrap().to_str().unwrap().to_string();
    let done = am.get(&callback[callback.find("/connections").unwrap()..]).await;
    assert_eq!(location(&done), format!("/connections?connected={shop_store}"));
    wait_for(&am, shop_store, ConnectionState::Healthy, before, 30).await;
    assert_eq!(stored(&app, shop_store).await, 12);
    // The state is single-use: the same answer again is refused.
    let again = am.get(&callback[callback.find("/connections").unwrap()..]).await;
    assert!(location(&again).starts_with("/connections?error="));

    // Amazon: Seller Central's consent page, then back with spapi_oauth_code.
    let (amazon_store, _) = store_of(&app, "amazon", 0).await;
    let go = am
        .post_raw("/connections/authorize", "application/x-www-form-urlencoded", format!("store_id={amazon_store}&account=eu").into_bytes())
        .await;
    let consent = location(&go);
    assert!(consent.contains("/apps/authorize/consent") && consent.contains("application_id=amzn1.sp.solution.fake"), "{consent}");
    let state = param(&consent, "state");
    let before = now();
    let done =
        am.get(&format!("/connections/amazon/callback?spapi_oauth_code=spapi-code-1&state={state}&selling_partner_id=A2OAUTHSELLER")).await;
    assert_eq!(location(&done), format!("/connections?connected={amazon_store}"), "{}", done.body);
    let r = wait_for(&am, amazon_store, ConnectionState::Healthy, before, 30).await;
    assert_eq!(stored(&app, amazon_store).await, 7);
    assert_eq!(r["account"], "A2OAUTHSELLER");

    // Ten days before the year is up, the account managers are told once.
    sqlx::query("UPDATE connections SET reauthorize_by = $1 WHERE store_id = $2")
        .bind(now() + 10 * 86_400_000)
        .bind(amazon_store)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    while !outbox(&app).iter().any(|m| m.contains("authorization of A2OAUTHSELLER ends on")) {
        assert!(Instant::now() < deadline, "no warning before the authorization ends");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let warnings = outbox(&app).iter().filter(|m| m.contains("authorization of A2OAUTHSELLER ends on")).count();
    assert_eq!(warnings, 1, "told once");
    let row = row(&connections(&am).await, amazon_store).unwrap();
    assert!(row["reauthorize_by"].as_i64().unwrap() < now() + 30 * 86_400_000);
}
