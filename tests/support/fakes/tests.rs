//! The fakes against the contract, with plain HTTP (the connectors are tested by the suite).

use super::amazon::{self, FakeAmazon, MARKETPLACE_DE};
use super::ebay::{self, FakeEbay};
use super::shopify::{self, FakeShopify, ShopifyOrder, SHOP};
use super::{AmazonOrder, EbayOrder};
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client")
}

async fn shopify_page(fake: &FakeShopify, token: &str, variables: Value) -> (u16, Value) {
    let url = format!("{}/admin/api/{}/graphql.json", fake.base, shopify::API_VERSION);
    let answer = client()
        .post(url)
        .header("X-Shopify-Access-Token", token)
        .json(&json!({ "query": "{}", "variables": variables }))
        .send()
        .await
        .expect("an answer");
    (answer.status().as_u16(), answer.json().await.unwrap_or_default())
}

#[tokio::test]
async fn shopify_pages_miss_nothing_while_orders_change() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, "tok");
    fake.put_orders(SHOP, ShopifyOrder::generate(10, Utc::now() - TimeDelta::days(30)));
    let (mut seen, mut after) = (Vec::new(), Value::Null);
    loop {
        let (status, body) = shopify_page(&fake, "tok", json!({ "first": 4, "after": after, "query": "" })).await;
        assert_eq!(status, 200, "{body}");
        let orders = &body["data"]["orders"];
        seen.extend(orders["nodes"].as_array().expect("nodes").iter().map(|node| node["id"].as_str().unwrap_or_default().to_string()));
        if seen.len() == 4 {
            assert!(fake.update_order(SHOP, 5002, |order| order.email = None));
        }
        if orders["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 11, "every order once, the updated one again at the end: {seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("gid://shopify/Order/5002"));
    assert_eq!(fake.pages_served(), 3);
    let (_, body) = shopify_page(&fake, "tok", json!({ "first": 251 })).await;
    assert_eq!(body["errors"][0]["message"], "first: must be <= 250");
    assert_eq!(shopify_page(&fake, "nope", json!({ "first": 1 })).await.0, 401);
}

#[tokio::test]
async fn shopify_cursors_keep_sub_second_times_apart() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, "tok");
    let now = Utc::now();
    fake.put_orders(SHOP, (1..=3).map(|id| ShopifyOrder::new(id).updated(now + TimeDelta::milliseconds(id as i64 * 10))));
    let (mut ids, mut after) = (Vec::new(), Value::Null);
    while ids.len() < 5 {
        let (_, body) = shopify_page(&fake, "tok", json!({ "first": 1, "after": after })).await;
        let orders = &body["data"]["orders"];
        ids.extend(orders["nodes"].as_array().expect("nodes").iter().map(|node| node["id"].clone()));
        if orders["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(ids, ["gid://shopify/Order/1", "gid://shopify/Order/2", "gid://shopify/Order/3"]);
}

#[tokio::test]
async fn shopify_throttle_and_retry_after_count_violations() {
    let fake = FakeShopify::start();
    fake.add_shop(SHOP, "tok");
    fake.set_query_cost(1500);
    let (_, body) = shopify_page(&fake, "tok", json!({ "first": 1 })).await;
    assert_eq!(body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 500);
    let (_, body) = shopify_page(&fake, "tok", json!({ "first": 1 })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(fake.violations(), 1);
    fake.throttle(false);
    fake.rate_limit_next(1, 0.2);
    let url = format!("{}/admin/api/{}/graphql.json", fake.base, shopify::API_VERSION);
    let answer = client().post(&url).header("X-Shopify-Access-Token", "tok").body("{}").send().await.expect("an answer");
    assert_eq!((answer.status().as_u16(), answer.headers()["retry-after"].to_str().ok()), (429, Some("0.2")));
    assert_eq!(shopify_page(&fake, "tok", json!({ "first": 1 })).await.0, 429);
    assert_eq!(fake.violations(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(shopify_page(&fake, "tok", json!({ "first": 1 })).await.0, 200);
    assert_eq!(fake.requests(shopify::route::GRAPHQL), 5);
}

#[tokio::test]
async fn shopify_oauth_signs_the_redirect_and_exchanges_the_code_once() {
    let fake = FakeShopify::start_with("key", "secret");
    let url = format!("{}/admin/oauth/authorize?client_id=key&scope=read_orders&redirect_uri=http://app.test/cb&state=n%201", fake.base);
    let answer = client().get(url).send().await.expect("an answer");
    assert_eq!(answer.status().as_u16(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().expect("a location")).expect("a URL");
    let mut params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let hmac = params.iter().find(|(name, _)| name == "hmac").map(|(_, value)| value.clone()).expect("hmac");
    params.retain(|(name, _)| name != "hmac");
    params.sort();
    assert_eq!(params.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["code", "shop", "state", "timestamp"]);
    let message = params.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"secret").expect("a key");
    hmac::Mac::update(&mut mac, message.as_bytes());
    assert_eq!(hmac, hex::encode(hmac::Mac::finalize(mac).into_bytes()));
    let code = params[0].1.clone();
    let exchange = json!({ "client_id": "key", "client_secret": "secret", "code": code });
    let token_url = format!("{}/admin/oauth/access_token", fake.base);
    let answer: Value = client().post(&token_url).json(&exchange).send().await.expect("an answer").json().await.expect("JSON");
    assert_eq!(answer["scope"], "read_orders");
    let token = answer["access_token"].as_str().expect("a token").to_string();
    assert_eq!(shopify_page(&fake, &token, json!({ "first": 1 })).await.0, 200);
    assert_eq!(client().post(&token_url).json(&exchange).send().await.expect("an answer").status().as_u16(), 400);
    fake.revoke_refresh();
    assert_eq!(shopify_page(&fake, &token, json!({ "first": 1 })).await.0, 401);
}

#[tokio::test]
async fn amazon_pages_by_next_token_within_rate_limits() {
    let fake = FakeAmazon::start();
    fake.add_seller("Atzr|r", "SELLER");
    fake.put_orders("SELLER", AmazonOrder::generate(5, Utc::now() - TimeDelta::days(30)));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "Atzr|r"),
        ("client_id", amazon::CLIENT_ID),
        ("client_secret", amazon::CLIENT_SECRET),
    ];
    let token: Value =
        client().post(format!("{}/auth/o2/token", fake.base)).form(&form).send().await.expect("an answer").json().await.expect("JSON");
    let token = token["access_token"].as_str().expect("a token").to_string();
    fake.set_rate(amazon::Operation::GetOrders, 0.5, 2.0);
    let orders = format!("{}/orders/v0/orders", fake.base);
    let get = |query: Vec<(&'static str, String)>| client().get(&orders).header("x-amz-access-token", &token).query(&query).send();
    let first = get(vec![
        ("MarketplaceIds", MARKETPLACE_DE.into()),
        ("LastUpdatedAfter", "2000-01-01T00:00:00Z".into()),
        ("MaxResultsPerPage", "3".into()),
    ])
    .await
    .expect("an answer");
    assert_eq!(first.headers()["x-amzn-ratelimit-limit"], "0.5");
    let first: Value = first.json().await.expect("JSON");
    assert_eq!(first["payload"]["Orders"].as_array().map(Vec::len), Some(3));
    let next = first["payload"]["NextToken"].as_str().expect("a NextToken").to_string();
    let second: Value =
        get(vec![("MarketplaceIds", MARKETPLACE_DE.into()), ("NextToken", next)]).await.expect("an answer").json().await.expect("JSON");
    assert_eq!(second["payload"]["Orders"].as_array().map(Vec::len), Some(2));
    assert!(second["payload"].get("NextToken").is_none());
    let third =
        get(vec![("MarketplaceIds", MARKETPLACE_DE.into()), ("LastUpdatedAfter", "2000-01-01T00:00:00Z".into())]).await.expect("an answer");
    assert_eq!((third.status().as_u16(), fake.violations()), (429, 1));
    fake.expire_tokens();
    let items = client()
        .get(format!("{orders}/302-0000000-0000000/orderItems"))
        .header("x-amz-access-token", &token)
        .send()
        .await
        .expect("an answer");
    assert_eq!(items.status().as_u16(), 403);
}

#[tokio::test]
async fn ebay_pages_by_offset_with_next_links() {
    let fake = FakeEbay::start();
    fake.add_seller("v^1.1#r", "seller");
    fake.put_orders("seller", EbayOrder::generate(5, Utc::now() - TimeDelta::days(30)));
    let token_url = format!("{}/identity/v1/oauth2/token", fake.base);
    let form = [("grant_type", "refresh_token"), ("refresh_token", "v^1.1#r")];
    let answer =
        client().post(&token_url).basic_auth(ebay::CLIENT_ID, Some(ebay::CLIENT_SECRET)).form(&form).send().await.expect("an answer");
    let token: Value = answer.json().await.expect("JSON");
    let token = token["access_token"].as_str().expect("a token").to_string();
    let url = format!("{}/sell/fulfillment/v1/order?filter=lastmodifieddate:%5B2000-01-01T00:00:00.000Z..%5D&limit=3&offset=0", fake.base);
    let first: Value = client().get(url).bearer_auth(&token).send().await.expect("an answer").json().await.expect("JSON");
    assert_eq!((first["total"].as_u64(), first["orders"].as_array().map(Vec::len)), (Some(5), Some(3)));
    let next = first["next"].as_str().expect("a next link");
    let second: Value = client().get(next).bearer_auth(&token).send().await.expect("an answer").json().await.expect("JSON");
    assert_eq!((second["offset"].as_u64(), second["orders"].as_array().map(Vec::len)), (Some(3), Some(2)));
    assert!(second.get("next").is_none());
    fake.expire_tokens();
    assert_eq!(client().get(next).bearer_auth(&token).send().await.expect("an answer").status().as_u16(), 401);
    let bad = client()
        .post(&token_url)
        .basic_auth(ebay::CLIENT_ID, Some(ebay::CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]);
    assert_eq!(bad.send().await.expect("an answer").status().as_u16(), 400);
    assert_eq!(fake.token_refreshes(), 1);
}
