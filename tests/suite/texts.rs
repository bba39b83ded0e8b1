//! Texts (SMS) against a fake Twilio-compatible provider on loopback: a campaign with SMS
//! then e-mail gives each buyer the first channel that reaches them (a phone and a
//! recorded consent to texts, else an e-mail address), one message per order in all; the
//! provider's 429s and 5xx are waited out or retried; status reports and replies are taken
//! only with a valid `X-Twilio-Signature` and once each; a STOP reply (in any of its
//! languages) suppresses the buyer for the brand on every channel; links in texts are short
//! signed links; each text's cost is recorded.

use app::messaging::sender::TextSender;
use app::orders::model::{OrderStatus, ParsedOrder};
use serde_json::json;
use starling_tests::fakes::twilio::{self, FakeTwilio};
use starling_tests::{approved_template, Client, TestApp, MANAGER};
use std::sync::Arc;

pub(crate) const SENDER: &str = "+15005550006";
pub(crate) const SMS: &str =
    "{{ brand.name }}: Hi {{ customer.first_name | default(\"there\") }}, how do you like your order {{ order.id }}? \
Tell others: {{ review_url }} Reply STOP to opt out";

/// A delivered order of the brand's shop, placed nine days ago.
pub(crate) fn order(id: &str, email: &str, phone: &str, country: &str, sms_consent: bool) -> ParsedOrder {
    let placed = app::db::now_millis() - 9 * 86_400_000;
    ParsedOrder {
        buyer_phone: phone.into(),
        sms_consent: sms_consent.then(|| "Yes, text me about my orders and offers from Fjell Gear. Reply STOP to opt out.".to_string()),
        ..ParsedOrder::one_item(
            id.into(),
            email.into(),
            "Kim Lee".into(),
            country,
            placed,
            OrderStatus::Delivered,
            placed + 4 * 86_400_000,
            "Wool Socks",
            1,
            2_500,
        )
    }
}

/// The app with the fake as its SMS provider, the brand's SMS sender and an SMS part on
/// its approved version; answers (client, brand, template).
async fn set_up(fake: &FakeTwilio) -> (TestApp, i64, i64, i64) {
    let base = fake.base.clone();
    let app = TestApp::spawn_with(|c| twilio::configure(c, &base)).await;
    let (template, client, brand) = approved_template(&app).await;
    sqlx::query("UPDATE brands SET sms_sender = $1 WHERE id = $2").bind(SENDER).bind(brand).execute(&app.db.pool).await.unwrap();
    sqlx::query("UPDATE template_versions SET sms_body = $1 WHERE template_id = $2 AND status = 'approved'")
        .bind(SMS)
        .bind(template)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // Only this test's orders: the demo's own are left out by deleting them.
    sqlx::query("DELETE FROM orders WHERE brand_id = $1").bind(brand).execute(&app.db.pool).await.unwrap();
    (app, client, brand, template)
}

pub(crate) async fn put_orders(app: &TestApp, brand: i64, orders: Vec<ParsedOrder>) {
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let (store,): (i64,) = sqlx::query_as("SELECT id FROM stores WHERE brand_id = $1 AND platform <> 'amazon' ORDER BY id LIMIT 1")
        .bind(brand)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let target = app::orders::store::target(&app.db, store).await.unwrap().unwrap();
    app::orders::store::upsert(&app.db, &target, orders, "test", &salt).await.unwrap();
}

/// The text worker, as the server builds it, against the fake.
pub(crate) fn texter(app: &TestApp, fake: &FakeTwilio) -> TextSender {
    TextSender {
        db: app.db.clone(),
        channel: app::outbox::model::Channel::Sms,
        provider: Arc::new(app::messaging::twilio::Twilio {
            base_url: fake.base.clone(),
            account_sid: twilio::ACCOUNT_SID.into(),
            auth_token: secrecy::SecretString::from(twilio::AUTH_TOKEN.to_string()),
            status_callback: app.url("/webhooks/sms/status"),
            client: reqwest::Client::new(),
        }),
        secret: Arc::new(secrecy::SecretString::from(std::fs::read_to_string(app.data_dir.join("secret.key")).unwrap().trim().to_string())),
        public_url: app.base.clone(),
        worker: "test:sms".into(),
        concurrency: 8,
        batch: 50,
        retry: app::delivery::sender::RetryPolicy { first_ms: 1, max_ms: 10, give_up_after_ms: 60_000 },
        lease_ms: 60_000,
    }
}

/// 15:00 UTC of the next day: inside the quiet hours in London and New York alike.
pub(crate) fn afternoon() -> i64 {
    let day = app::db::now_millis().div_euclid(86_400_000) + 1;
    day * 86_400_000 + 15 * 3_600_000
}

pub(crate) async fn launch(am: &Client, client: i64, template: i64, channel: &str, name: &str) -> i64 {
    let form = json!({ "client_id": client, "channel": channel, "template_id": template, "name": name, "trigger": "batch", "days": 0,
        "countries": "", "fallback": "de" });
    let answer = am.rpc("create_campaign", json!({ "form": form })).await;
    assert_eq!(answer.status, 200, "creating: {}", answer.body);
    let id = answer.json().as_i64().unwrap();
    let preview = am.rpc("preview_campaign", json!({ "id": id })).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let answer = am.rpc("campaign_step", json!({ "id": id, "step": "Launch" })).await;
    assert_eq!(answer.status, 200, "launching: {}", answer.body);
    id
}

/// (order, channel, state, provider ref, cost micros, cost source) of the campaign's messages.
pub(crate) async fn messages(app: &TestApp, campaign: i64) -> Vec<(String, String, String, Option<String>, Option<i64>, String)> {
    sqlx::query_as(
        "SELECT o.platform_order_id, m.channel, m.state, m.provider_ref, m.cost_micros, m.cost_source FROM messages m \
         JOIN orders o ON o.id = m.order_id WHERE m.campaign_id = $1 ORDER BY o.platform_order_id",
    )
    .bind(campaign)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

pub(crate) async fn events(app: &TestApp, order: &str, kind: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM message_events e JOIN messages m ON m.id = e.message_id JOIN orders o ON o.id = m.order_id \
         WHERE o.platform_order_id = $1 AND e.kind = $2",
    )
    .bind(order)
    .bind(kind)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    n
}

#[tokio::test]
async fn each_buyer_gets_the_first_channel_that_reaches_them_and_texts_are_tracked_to_the_end() {
    let fake = FakeTwilio::start();
    let (app, client, brand, template) = set_up(&fake).await;
    put_orders(
        &app,
        brand,
        vec![
            order("S-1", "kim1@example.test", "+447911123401", "GB", true),
            order("S-2", "kim2@example.test", "+447911123402", "GB", false),
            order("S-3", "kim3@example.test", "", "GB", false),
            order("S-4", "kim4@example.test", "+12125550104", "US", true),
            order("S-5", "kim5@example.test", "+447911123405", "GB", true),
            order("S-6", "", "+447911123406", "GB", false),
        ],
    )
    .await;
    // The contract's price of texts: 12 USD per 1,000.
    app::clients::store::set_channel_price(&app.db, client, "sms", 12_000_000, "USD").await.unwrap();
    // S-5's number replied STOP to the sender at the provider before.
    fake.opt_out(SENDER, "+447911123405");
    let am = app.signed_in(MANAGER).await;

    let form = json!({ "client_id": client, "channel": "sms,email", "template_id": template, "name": "Texts first", "trigger": "batch",
        "days": 0, "countries": "", "fallback": "de" });
    let created = am.rpc("create_campaign", json!({ "form": form })).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let campaign = created.json().as_i64().unwrap();
    let preview = am.rpc("preview_campaign", json!({ "id": campaign })).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let p = preview.json();
    let channels: Vec<(String, u64)> = serde_json::from_value(p["channels"].clone()).unwrap();
    assert_eq!(channels, vec![("SMS".to_string(), 3), ("E-mail".to_string(), 2)], "{p}");
    let none = p["excluded"].as_array().unwrap().iter().find(|e| e[0] == "no_channel").expect("S-6 has no channel");
    let why = none[1].as_str().unwrap();
    assert!(
        why.contains("SMS: no recorded consent to marketing texts") && why.contains("E-mail: the buyer has no e-mail address"),
        "{why}"
    );

    let step = am.rpc("campaign_step", json!({ "id": campaign, "step": "Launch" })).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let planned = messages(&app, campaign).await;
    let channel_of = |id: &str| planned.iter().find(|m| m.0 == id).map(|m| m.1.clone()).unwrap_or_default();
    assert_eq!(
        ["S-1", "S-2", "S-3", "S-4", "S-5", "S-6"].map(channel_of),
        ["sms", "email", "email", "sms", "sms", ""].map(String::from),
        "{planned:?}"
    );

    // Sending: two 429s and one 500 on the way.
    fake.rate_limit_next(2, 0.05);
    fake.fail_next(1, 500);
    let texter = texter(&app, &fake);
    let at = afternoon();
    let (mut sent, mut throttled) = (0, 0);
    for _ in 0..5 {
        let stats = texter.pass(at).await.unwrap();
        sent += stats.sent;
        throttled += stats.throttled;
        if stats.claimed == 0 {
            break;
        }
        // A retried text is due after its (short) back-off.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 2, "S-1 and S-4");
    let texts = fake.texts();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(throttled >= 2, "the 429s were waited out, then sent: {throttled}");
    for t in &texts {
        assert_eq!(t.from, SENDER);
        assert!(t.body.starts_with("Fjell Gear: Hi Kim, how do you like your order S-"), "{}", t.body);
        assert!(t.body.contains(&format!("{}/t/s/", app.base)) && t.body.ends_with("Reply STOP to opt out"), "{}", t.body);
        assert_eq!(t.status_callback, app.url("/webhooks/sms/status"));
    }
    let after = messages(&app, campaign).await;
    let row = |id: &str| after.iter().find(|m| m.0 == id).cloned().unwrap();
    assert_eq!(row("S-1").2, "sent");
    assert_eq!((row("S-1").4, row("S-1").5.as_str()), (Some(12_000), "contract"), "12 USD per 1,000 texts");
    assert_eq!(row("S-5").2, "failed", "the provider holds S-5's opt-out (21610)");
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    for address in ["+447911123405", "kim5@example.test"] {
        assert!(
            app::orders::privacy::is_suppressed(&app.db, &salt, brand, address).await.unwrap(),
            "{address} is suppressed on every channel"
        );
    }

    // Status reports: delivered once however often it comes; forged ones change nothing.
    let s1 = row("S-1").3.unwrap();
    assert_eq!(fake.report(&s1, "sent", None).await, 200);
    assert_eq!(fake.report(&s1, "delivered", None).await, 200);
    assert_eq!(fake.report(&s1, "delivered", None).await, 200, "a replayed report");
    assert_eq!(events(&app, "S-1", "delivered").await, 1);
    let s4 = row("S-4").3.unwrap();
    let forged = vec![("MessageSid".to_string(), s4.clone()), ("MessageStatus".to_string(), "undelivered".to_string())];
    assert_eq!(twilio::post_form(&app.url("/webhooks/sms/status"), &forged, "bm90IGEgc2lnbmF0dXJl").await, 403);
    assert_eq!(twilio::post_signed(&app.url("/webhooks/sms/status"), &forged, "another account's token").await, 403);
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM messages WHERE provider_ref = $1").bind(&s4).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(state, "sent", "nothing changed");
    assert_eq!(fake.report(&s4, "undelivered", Some("30003")).await, 200);
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM messages WHERE provider_ref = $1").bind(&s4).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(state, "failed");
    assert!(error.contains("30003"), "{error}");

    // The short link: the review page, counted as a click; an altered code goes nowhere.
    let text = texts.iter().find(|t| t.to == "+447911123401").unwrap();
    let link = text.body.split_whitespace().find(|w| w.contains("/t/s/")).unwrap().to_string();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(&link).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    assert!(answer.headers()["location"].to_str().unwrap().starts_with("https://"), "{:?}", answer.headers()["location"]);
    assert_eq!(events(&app, "S-1", "clicked").await, 1);
    let altered = format!("{}x", &link[..link.len() - 1]);
    assert_eq!(http.get(&altered).send().await.unwrap().status().as_u16(), 404);

    // Replies: a forged STOP changes nothing; "Stopp" (German) suppresses S-1's buyer for the
    // brand on every channel; a question is not an opt-out.
    let inbound = app.url("/webhooks/sms/inbound");
    assert_eq!(FakeTwilio::reply_with(&inbound, "+447911123401", SENDER, "STOP", "not the token").await, 403);
    assert!(!app::orders::privacy::is_suppressed(&app.db, &salt, brand, "kim1@example.test").await.unwrap());
    assert_eq!(FakeTwilio::reply(&inbound, "+447911123402", SENDER, "When does it ship?").await, 200);
    assert!(!app::orders::privacy::is_suppressed(&app.db, &salt, brand, "+447911123402").await.unwrap());
    assert_eq!(FakeTwilio::reply(&inbound, "+447911123401", SENDER, " Stopp! ").await, 200);
    for address in ["+447911123401", "kim1@example.test"] {
        assert!(app::orders::privacy::is_suppressed(&app.db, &salt, brand, address).await.unwrap(), "{address}");
    }
    assert_eq!(events(&app, "S-1", "unsubscribed").await, 1, "the opt-out counts against the text");

    // Twilio prices a text once it is sent: the worker asks, and the provider's price
    // replaces the contract's (S-1: 0.0079 USD); asked again within the hour, nothing more.
    fake.price_when_fetched("-0.00790");
    let later = app::db::now_millis() + 120_000;
    assert_eq!(texter.reconcile_prices(later).await.unwrap(), 2, "S-1 and S-4");
    assert_eq!(texter.reconcile_prices(later + 60_000).await.unwrap(), 0);
    let (micros, source): (Option<i64>, String) = sqlx::query_as("SELECT cost_micros, cost_source FROM messages WHERE provider_ref = $1")
        .bind(&s1)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!((micros, source.as_str()), (Some(7_900), "provider"));

    // The report's SMS row: two sent, one the carrier did not deliver (a bounce), one click.
    let today = app::reports::rules::day_of(app::db::now_millis());
    let counts = app::reports::build::figures(&app.db, None, client, today - 1, today + 1).await.unwrap();
    let by_channel = app::reports::engine::GROUP_KEYS.iter().position(|(g, _, _)| *g == "channel").unwrap();
    let sms_code = app::reports::engine::CHANNELS.iter().position(|c| *c == app::outbox::model::Channel::Sms).unwrap() as i64;
    let row = counts[by_channel].get(&(sms_code, 0)).cloned().expect("an SMS row");
    assert_eq!((row.sent, row.bounced, row.clicked, row.unsubscribed), (2, 1, 1, 1), "{row:?}");

    // The usage statement: two texts at the provider's price, for the client to be billed.
    let usage = am.rpc("usage_statement", json!({ "client_id": client, "month": "" })).await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let sms = usage.json()["rows"].as_array().unwrap().iter().find(|r| r["channel"] == "SMS").cloned().expect("an SMS line");
    assert_eq!(
        (sms["messages"].as_i64(), sms["cost_micros"].as_i64(), sms["currency"].as_str()),
        (Some(2), Some(15_800), Some("USD")),
        "{sms}"
    );
    let csv = am.get(&format!("/clients/{client}/usage.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains(",\"SMS\",2,") && csv.body.contains("0.0158,USD"), "{}", csv.body);

    // One message per order and purpose across channels: an e-mail campaign of the same
    // purpose plans nothing more for these orders (S-4 was texted; it has an address too).
    let again = launch(&am, client, template, "email", "E-mail too").await;
    assert!(messages(&app, again).await.is_empty(), "{:?}", messages(&app, again).await);
    let (rule,): (String,) = sqlx::query_as(
        "SELECT d.rule FROM campaign_decisions d JOIN orders o ON o.id = d.order_id WHERE d.campaign_id = $1 AND o.platform_order_id = 'S-4'",
    )
    .bind(again)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rule, "already_asked");
}

#[tokio::test]
async fn a_texts_campaign_needs_an_approved_sms_part_and_a_sender() {
    let fake = FakeTwilio::start();
    let (app, client, brand, template) = set_up(&fake).await;
    let am = app.signed_in(MANAGER).await;
    sqlx::query("UPDATE brands SET sms_sender = '' WHERE id = $1").bind(brand).execute(&app.db.pool).await.unwrap();
    sqlx::query("UPDATE template_versions SET sms_body = '' WHERE template_id = $1").bind(template).execute(&app.db.pool).await.unwrap();
    let form = json!({ "client_id": client, "channel": "sms", "template_id": template, "name": "Texts", "trigger": "batch", "days": 0 });
    let answer = am.rpc("create_campaign", json!({ "form": form })).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body.contains("no approved version with an SMS part") && answer.body.contains("no SMS sender"), "{}", answer.body);
    let form =
        json!({ "client_id": client, "channel": "sms,amazon", "template_id": template, "name": "Texts", "trigger": "batch", "days": 0 });
    let answer = am.rpc("create_campaign", json!({ "form": form })).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    // A brand's sender is checked where it is typed.
    let bad = am
        .rpc(
            "save_brand",
            json!({ "form": { "id": brand, "client_id": client, "name": "Fjell Gear", "sender_name": "Fjell Gear",
            "sender_email": "care@mail.fjell.example", "sending_domain": "mail.fjell.example", "default_locale": "de",
            "postal_address": "Hafenstr. 1, 20457 Hamburg", "sms_sender": "Fjell Gear Shop GmbH" } }),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("sms_sender"), "{}", bad.body);
}

#[tokio::test]
async fn a_consent_recorded_by_hand_makes_a_buyer_textable_and_needs_its_wording() {
    let fake = FakeTwilio::start();
    let (app, client, brand, template) = set_up(&fake).await;
    put_orders(&app, brand, vec![order("H-1", "", "+447911123431", "GB", false)]).await;
    let (customer,): (i64,) =
        sqlx::query_as("SELECT id FROM customers WHERE phone = '+447911123431'").fetch_one(&app.db.pool).await.unwrap();
    let am = app.signed_in(MANAGER).await;
    let consent = |wording: &str, given_on: &str| json!({ "form": { "client_id": client, "customer_id": customer, "channel": "sms", "scope": "marketing", "wording": wording, "given_on": given_on } });
    let refused = am.rpc("record_consent", consent("", "")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("wording"), "{}", refused.body);
    let future = am.rpc("record_consent", consent("Yes, text me", "2999-01-01")).await;
    assert!(future.status == 422 && future.body.contains("given_on"), "{}", future.body);
    let recorded = am.rpc("record_consent", consent("Yes, text me about my orders and offers from Fjell Gear.", "")).await;
    assert_eq!(recorded.status, 200, "{}", recorded.body);
    let detail = am.rpc("get_customer", json!({ "client_id": client, "customer_id": customer })).await.json();
    let kept = &detail["consents"][0];
    assert_eq!((kept["channel"].as_str(), kept["scope"].as_str()), (Some("sms"), Some("marketing")), "{detail}");
    assert!(kept["source"].as_str().unwrap().contains(MANAGER) && kept["wording"].as_str().unwrap().contains("Fjell Gear"));
    // The page's form, posted by a browser that has not loaded the WASM, records one too.
    let body = format!(
        "form%5Bclient_id%5D={client}&form%5Bcustomer_id%5D={customer}&form%5Bchannel%5D=email&form%5Bscope%5D=service&form%5Bwording%5D=&form%5Bgiven_on%5D="
    );
    let posted = am.post_raw("/rpc/record_consent", "application/x-www-form-urlencoded", body.into_bytes()).await;
    assert!(posted.status == 200 || posted.status == 303, "{} {}", posted.status, posted.body);
    let detail = am.rpc("get_customer", json!({ "client_id": client, "customer_id": customer })).await.json();
    assert_eq!(detail["consents"].as_array().map(Vec::len), Some(2), "{detail}");
    // With it, a texts campaign reaches the buyer.
    let campaign = launch(&am, client, template, "sms", "After consent").await;
    assert_eq!(messages(&app, campaign).await.len(), 1);
}

#[tokio::test]
async fn a_text_cut_off_by_a_crash_is_found_at_the_provider_and_never_sent_twice() {
    let fake = FakeTwilio::start();
    let (app, client, brand, template) = set_up(&fake).await;
    put_orders(
        &app,
        brand,
        vec![
            order("C-1", "", "+447911123421", "GB", true),
            order("C-2", "", "+447911123422", "GB", true),
            order("C-3", "", "+447911123423", "GB", true),
        ],
    )
    .await;
    let am = app.signed_in(MANAGER).await;
    let campaign = launch(&am, client, template, "sms", "Crash").await;
    let texter = texter(&app, &fake);
    let at = afternoon();

    // A worker claims the three texts, writes its tries, and the provider takes two of
    // them before the process dies (nothing of that is recorded).
    let db = &app.db;
    let ids = app::outbox::store::claim_channel(db, app::outbox::model::Channel::Sms, "dead-worker", at, 10).await.unwrap();
    assert_eq!(ids.len(), 3);
    let tries: Vec<(i64, String)> = ids.iter().map(|id| (*id, format!("{id}-1"))).collect();
    let named: Vec<(i64, &str)> = tries.iter().map(|(id, name)| (*id, name.as_str())).collect();
    app::outbox::store::start_attempts(db, "dead-worker", app::db::now_millis(), &named).await.unwrap();
    use secrecy::ExposeSecret;
    for m in app::delivery::store::outgoing(db, &ids).await.unwrap().into_iter().filter(|m| m.phone != "+447911123423") {
        let body = app::delivery::compose::compose_text(&m, texter.secret.expose_secret(), &texter.public_url).unwrap();
        let sms = app::messaging::Sms { to: m.phone.clone(), from: SENDER.into(), body, template: None, message_id: m.id };
        texter.provider.send(&sms).await.unwrap();
    }
    assert_eq!(fake.texts().len(), 2);

    // Another process settles the dead one's claims (its tries `unknown`, the texts queued
    // again), and the worker asks the provider before sending: the two it took are recorded
    // with their ids, only the third leaves.
    let later = at + 120_000;
    assert_eq!(app::delivery::sender::settle(db, later, 60_000, None).await.unwrap(), 3);
    let stats = texter.pass(later).await.unwrap();
    assert_eq!(stats.sent, 3, "{stats:?}");
    let texts = fake.texts();
    assert_eq!(texts.len(), 3, "each buyer texted once: {texts:?}");
    let recorded = messages(&app, campaign).await;
    assert!(recorded.iter().all(|m| m.2 == "sent"), "{recorded:?}");
    let refs: std::collections::HashSet<String> = recorded.iter().filter_map(|m| m.3.clone()).collect();
    let sids: std::collections::HashSet<String> = texts.iter().map(|t| t.sid.clone()).collect();
    assert_eq!(refs, sids, "the messages carry the provider's ids of what it took");
    assert_eq!(fake.requests(twilio::route::LIST), 3, "the provider was asked about each cut-off try");
}

/// `n` valid mobile numbers of a place where it is between 09:00 and 18:00 now, so that
/// the quiet hours hold none of them back during the run.
fn daytime_numbers(n: usize) -> Vec<String> {
    use chrono::Timelike;
    let families: [(chrono_tz::Tz, &str); 6] = [
        (chrono_tz::Europe::London, "+447911"),
        (chrono_tz::Asia::Tokyo, "+8190"),
        (chrono_tz::America::New_York, "+12122"),
        (chrono_tz::America::Los_Angeles, "+13102"),
        (chrono_tz::Australia::Sydney, "+61412"),
        (chrono_tz::Asia::Kolkata, "+9198"),
    ];
    let now = chrono::Utc::now();
    let (_, prefix) =
        families.into_iter().find(|(tz, _)| (9..18).contains(&now.with_timezone(tz).hour())).expect("somewhere it is daytime");
    // Every family leaves room for a million numbers: pad to the plan's length.
    let width = match prefix {
        "+447911" | "+12122" | "+13102" | "+61412" => 6,
        _ => 8,
    };
    (0..n).map(|i| format!("{prefix}{i:0width$}")).collect()
}

/// 100,000 texts through the fake provider, which answers at once: the time from starting
/// the `starling` server process to the last text recorded as sent, texts per second, and
/// that process's peak memory; then 20,000 signed status reports posted to Starling,
/// verified and recorded, per second.
#[tokio::test]
#[ignore = "a benchmark (.ci/bench): about two minutes"]
async fn benchmark_a_hundred_thousand_texts() {
    const TEXTS: usize = 100_000;
    const REPORTS: usize = 20_000;
    let fake = FakeTwilio::start();
    let (app, client, brand, template) = set_up(&fake).await;
    let setup = std::time::Instant::now();
    let numbers = daytime_numbers(TEXTS);
    for (batch, chunk) in numbers.chunks(5_000).enumerate() {
        let orders = chunk.iter().enumerate().map(|(i, phone)| order(&format!("B-{batch}-{i}"), "", phone, "", true)).collect();
        put_orders(&app, brand, orders).await;
    }
    let am = app.signed_in(MANAGER).await;
    let campaign = launch(&am, client, template, "sms", "Benchmark").await;
    let planned = messages_in(&app, campaign, "queued").await;
    assert_eq!(planned, TEXTS as i64, "every order planned a text");
    println!("set-up: {TEXTS} orders with phones and consent, planned in {:.1} s", setup.elapsed().as_secs_f64());

    // The anchor: the fake provider alone, 20,000 creates posted straight to it by one
    // client at the worker's concurrency (no database, no rendering).
    use futures_util::StreamExt;
    const ANCHOR: usize = 20_000;
    let http = reqwest::Client::new();
    let endpoint = format!("{}/2010-04-01/Accounts/{}/Messages.json", fake.base, twilio::ACCOUNT_SID);
    let anchored = std::time::Instant::now();
    let created: Vec<bool> = futures_util::stream::iter(0..ANCHOR)
        .map(|i| {
            let (http, endpoint) = (http.clone(), endpoint.clone());
            async move {
                let form = [("To", format!("+4479110{i:05}")), ("From", SENDER.to_string()), ("Body", "Anchor text".to_string())];
                let answer = http.post(endpoint).basic_auth(twilio::ACCOUNT_SID, Some(twilio::AUTH_TOKEN)).form(&form).send().await;
                answer.is_ok_and(|a| a.status().as_u16() == 201)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let anchor_per_second = ANCHOR as f64 / anchored.elapsed().as_secs_f64();
    assert!(created.iter().all(|c| *c));

    // The server the run command serves, built beside the tests (.ci/bench names it).
    let bin = std::env::var("STARLING_SERVER_BIN").expect("STARLING_SERVER_BIN names the starling binary (bash .ci/bench sets it)");
    if std::env::var("STARLING_BENCH_SAMPLES").is_ok() {
        // The same server without an SMS provider: what it holds when not texting.
        let idle = starling_tests::ChildServer::start_binary_texting(std::path::Path::new(&bin), &app, "");
        for i in 0..10 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            println!("sample idle {:.1} s: {} MB", (i + 1) as f64 * 0.5, idle.rss().unwrap_or_default() / 1_048_576);
        }
    }
    let started = std::time::Instant::now();
    let child = starling_tests::ChildServer::start_binary_texting(std::path::Path::new(&bin), &app, &fake.base);
    let deadline = started + std::time::Duration::from_secs(900);
    let mut samples = Vec::new();
    loop {
        let sent = messages_in(&app, campaign, "sent").await;
        samples.push((started.elapsed().as_secs_f64(), sent, child.rss().unwrap_or_default() / 1_048_576));
        if sent == TEXTS as i64 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {} sent", messages_in(&app, campaign, "sent").await);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss = child.peak_rss().unwrap_or_default();
    drop(child);
    if std::env::var("STARLING_BENCH_SAMPLES").is_ok() {
        for (at, sent, mb) in &samples {
            println!("sample {at:.1} s: {sent} sent, {mb} MB");
        }
    }
    let texts: Vec<_> = fake.texts().into_iter().skip(ANCHOR).collect();
    assert_eq!(texts.len(), TEXTS, "each text once");

    // Status reports, as the provider posts them: signed, several at once.
    let url = app.url("/webhooks/sms/status");
    let reported = std::time::Instant::now();
    let statuses: Vec<u16> = futures_util::stream::iter(texts.iter().take(REPORTS))
        .map(|t| {
            let params = vec![
                ("AccountSid".to_string(), twilio::ACCOUNT_SID.to_string()),
                ("MessageSid".to_string(), t.sid.clone()),
                ("MessageStatus".to_string(), "delivered".to_string()),
                ("From".to_string(), t.from.clone()),
                ("To".to_string(), t.to.clone()),
            ];
            let url = url.clone();
            async move { twilio::post_signed(&url, &params, twilio::AUTH_TOKEN).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let report_seconds = reported.elapsed().as_secs_f64();
    assert!(statuses.iter().all(|s| *s == 200), "{:?}", statuses.iter().find(|s| **s != 200));
    let (delivered,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.kind = 'delivered'",
    )
    .bind(campaign)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(delivered, REPORTS as i64);
    let backend = if app.database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    println!(
        "RESULT db={backend} texts={TEXTS} seconds={seconds:.1} texts_per_second={:.0} anchor_fake_alone_per_second={anchor_per_second:.0} \
         peak_rss_mb={:.1} reports={REPORTS} reports_per_second={:.0}",
        TEXTS as f64 / seconds,
        rss as f64 / 1_048_576.0,
        REPORTS as f64 / report_seconds
    );
}

async fn messages_in(app: &TestApp, campaign: i64, state: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = $2")
        .bind(campaign)
        .bind(state)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    n
}
