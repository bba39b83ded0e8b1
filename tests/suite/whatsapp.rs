//! WhatsApp against a fake WhatsApp Cloud API on loopback (and the fake SMS provider for
//! the fallback): an approved version's WhatsApp part is submitted to Meta as a template
//! and sent only once Meta approved it; a campaign with WhatsApp then SMS gives each buyer
//! WhatsApp where they opted in (never a marketing template to a +1 number), else a text,
//! one message per order in all; Meta's webhooks are taken only with a valid
//! `X-Hub-Signature-256` and once each; a STOP reply suppresses the buyer on every channel.

use crate::texts::{afternoon, events, messages, order, put_orders, texter, SENDER, SMS};
use app::common::whatsapp::MetaStatus;
use app::messaging::meta;
use app::messaging::sender::TextSender;
use app::messaging::whatsapp::WhatsappCloud;
use app::orders::model::ParsedOrder;
use app::outbox::model::Channel;
use serde_json::json;
use starling_tests::fakes::twilio::{self, FakeTwilio};
use starling_tests::fakes::whatsapp::{self as cloud_api, FakeWhatsapp};
use starling_tests::{approved_template, TestApp, MANAGER};
use std::sync::Arc;

const WHATSAPP: &str =
    "Hi {{ customer.first_name | default(\"there\") }}, how do you like your order {{ order.id }} from {{ brand.name }}? \
Tell others: {{ review_url }} Thank you!";

/// The app with both fakes configured, the brand's SMS sender and WhatsApp number, and an
/// SMS and a WhatsApp part (marketing) on the template's approved versions; answers (client,
/// brand, template).
async fn set_up(sms: &FakeTwilio, wa: &FakeWhatsapp) -> (TestApp, i64, i64, i64) {
    let (sms_base, wa_base) = (sms.base.clone(), wa.base.clone());
    let app = TestApp::spawn_with(|c| {
        twilio::configure(c, &sms_base);
        cloud_api::configure(c, &wa_base);
    })
    .await;
    wa.webhook(&app.url("/webhooks/whatsapp"));
    let (template, client, brand) = approved_template(&app).await;
    sqlx::query("UPDATE brands SET sms_sender = $1, whatsapp_phone_id = $2 WHERE id = $3")
        .bind(SENDER)
        .bind(cloud_api::PHONE_NUMBER_ID)
        .bind(brand)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE template_versions SET sms_body = $1, whatsapp_body = $2, whatsapp_category = 'MARKETING' \
         WHERE template_id = $3 AND status = 'approved'",
    )
    .bind(SMS)
    .bind(WHATSAPP)
    .bind(template)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM orders WHERE brand_id = $1").bind(brand).execute(&app.db.pool).await.unwrap();
    (app, client, brand, template)
}

pub(crate) fn cloud(wa: &FakeWhatsapp) -> WhatsappCloud {
    WhatsappCloud {
        base_url: wa.base.clone(),
        version: cloud_api::VERSION.into(),
        account_id: cloud_api::ACCOUNT_ID.into(),
        token: secrecy::SecretString::from(cloud_api::TOKEN.to_string()),
        app_secret: secrecy::SecretString::from(cloud_api::APP_SECRET.to_string()),
        client: reqwest::Client::new(),
    }
}

/// The WhatsApp worker, as the server builds it, against the fake.
pub(crate) fn whatsapper(app: &TestApp, sms: &FakeTwilio, wa: &FakeWhatsapp) -> TextSender {
    TextSender { channel: Channel::Whatsapp, provider: Arc::new(cloud(wa)), worker: "test:whatsapp".into(), ..texter(app, sms) }
}

pub(crate) fn with_whatsapp(order: ParsedOrder) -> ParsedOrder {
    ParsedOrder { whatsapp_consent: Some("Yes, message me on WhatsApp about my orders and offers.".into()), ..order }
}

/// (name, status, reason) of the template's versions at Meta, as Starling recorded them.
async fn recorded(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT name, status, reason FROM whatsapp_templates ORDER BY name").fetch_all(&app.db.pool).await.unwrap()
}

#[tokio::test]
async fn whatsapp_goes_first_where_meta_and_the_buyer_allow_it_and_texts_take_the_rest() {
    let (sms, wa) = (FakeTwilio::start(), FakeWhatsapp::start());
    let (app, client, brand, template) = set_up(&sms, &wa).await;
    let cloud = cloud(&wa);
    let am = app.signed_in(MANAGER).await;

    // Meta's subscription check answers the challenge for the configured token only.
    let http = reqwest::Client::new();
    let subscribe = |token: &str| {
        http.get(app.url("/webhooks/whatsapp"))
            .query(&[("hub.mode", "subscribe"), ("hub.verify_token", token), ("hub.challenge", "1158201444")])
            .send()
    };
    let ok = subscribe(cloud_api::VERIFY_TOKEN).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(subscribe("guess").await.unwrap().status().as_u16(), 403);

    // The approved versions go to Meta in its form: numbered parameters with examples.
    let stats = meta::sync(&app.db, &cloud, app::db::now_millis()).await.unwrap();
    let submitted = wa.templates();
    assert!(stats.submitted >= 1 && submitted.len() as u64 == stats.submitted, "{stats:?} {submitted:?}");
    let t = &submitted[0];
    assert!(t.name.starts_with(&format!("starling_{template}_")), "{}", t.name);
    assert_eq!(t.body, "Hi {{1}}, how do you like your order {{2}} from {{3}}? Tell others: {{4}} Thank you!");
    assert_eq!(t.category, "MARKETING");
    assert_eq!(t.examples.len(), 4);
    assert!(recorded(&app).await.iter().all(|(_, status, _)| status == "pending"));
    assert_eq!(meta::sync(&app.db, &cloud, app::db::now_millis()).await.unwrap(), meta::SyncStats::default(), "once each");

    put_orders(
        &app,
        brand,
        vec![
            with_whatsapp(order("W-1", "wa1@example.test", "+447911123401", "GB", true)),
            order("W-2", "wa2@example.test", "+447911123402", "GB", true),
            with_whatsapp(order("W-3", "wa3@example.test", "+12125550103", "US", true)),
            with_whatsapp(order("W-4", "wa4@example.test", "+447911123404", "GB", false)),
            order("W-5", "wa5@example.test", "", "GB", false),
        ],
    )
    .await;
    app::clients::store::set_channel_price(&app.db, client, "whatsapp", 50_000_000, "USD").await.unwrap();
    let form = json!({ "client_id": client, "channel": "whatsapp,sms", "template_id": template, "name": "WhatsApp first",
        "trigger": "batch", "days": 0, "countries": "", "fallback": "de" });
    let created = am.rpc("create_campaign", json!({ "form": form })).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let campaign = created.json().as_i64().unwrap();
    let channels = |p: &serde_json::Value| serde_json::from_value::<Vec<(String, u64)>>(p["channels"].clone()).unwrap();

    // While Meta reviews, nobody gets WhatsApp.
    let preview = am.rpc("preview_campaign", json!({ "id": campaign })).await.json();
    assert_eq!(channels(&preview), vec![("SMS".to_string(), 3)], "{preview}");

    // A forged review changes nothing; Meta's rejection is shown with its reason; its
    // approval (after an appeal) lets the template be sent.
    let name = t.name.clone();
    let forged = cloud_api::envelope(
        "message_template_status_update",
        json!({ "event": "APPROVED", "message_template_name": name, "message_template_language": t.language, "reason": "NONE" }),
    );
    assert_eq!(cloud_api::post_signed(&app.url("/webhooks/whatsapp"), &forged, "not the app secret").await, 403);
    assert_eq!(cloud_api::post_body(&app.url("/webhooks/whatsapp"), &forged, "").await, 403);
    assert_eq!(recorded(&app).await.iter().find(|r| r.0 == name).unwrap().1, "pending");
    assert_eq!(wa.review(&name, "REJECTED", "INVALID_FORMAT").await, 200);
    let version: i64 = name.rsplit('_').next().unwrap().parse().unwrap();
    let editor = am.rpc("version_editor", json!({ "id": version })).await;
    assert_eq!(editor.status, 200, "{}", editor.body);
    let shown = &editor.json()["whatsapp_meta"];
    assert_eq!((shown["status"].as_str(), shown["reason"].as_str()), (Some("Rejected"), Some("INVALID_FORMAT")), "{shown}");
    for other in wa.templates() {
        assert_eq!(wa.review(&other.name, "APPROVED", "").await, 200);
    }
    assert!(recorded(&app).await.iter().all(|(_, status, _)| status == MetaStatus::Approved.as_str()));

    // W-1 and W-4 opted in to WhatsApp; W-3 did too, but Meta delivers no marketing
    // templates to +1 numbers, so W-3 gets a text, as W-2 (no WhatsApp opt-in) does. W-4
    // has no consent to texts; W-5 no phone at all.
    let preview = am.rpc("preview_campaign", json!({ "id": campaign })).await.json();
    assert_eq!(channels(&preview), vec![("WhatsApp".to_string(), 2), ("SMS".to_string(), 2)], "{preview}");
    let none = preview["excluded"].as_array().unwrap().iter().find(|e| e[0] == "no_channel").expect("W-5 has no channel");
    assert!(none[1].as_str().unwrap().contains("WhatsApp: the buyer has no phone number"), "{none}");
    let step = am.rpc("campaign_step", json!({ "id": campaign, "step": "Launch" })).await;
    assert_eq!(step.status, 200, "{}", step.body);
    let planned = messages(&app, campaign).await;
    let channel_of = |id: &str| planned.iter().find(|m| m.0 == id).map(|m| m.1.clone()).unwrap_or_default();
    assert_eq!(["W-1", "W-2", "W-3", "W-4", "W-5"].map(channel_of), ["whatsapp", "sms", "sms", "whatsapp", ""].map(String::from));

    // Sending, through one rate limit and one 500.
    wa.rate_limit_next(1, 0.05);
    wa.fail_next(1, 500);
    let whatsapper = whatsapper(&app, &sms, &wa);
    let at = afternoon();
    let mut sent = 0;
    for _ in 0..5 {
        let stats = whatsapper.pass(at).await.unwrap();
        sent += stats.sent;
        if stats.claimed == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 2);
    let mut texts = 0;
    for _ in 0..3 {
        texts += texter(&app, &sms).pass(at).await.unwrap().sent;
    }
    assert_eq!(texts, 2, "W-2 and W-3 by text");
    let sent_wa = wa.messages();
    assert_eq!(sent_wa.len(), 2, "{sent_wa:?}");
    let names: Vec<String> = wa.templates().into_iter().map(|t| t.name).collect();
    for m in &sent_wa {
        assert_eq!(m.phone_number_id, cloud_api::PHONE_NUMBER_ID);
        assert!(names.contains(&m.template), "{} is one of the template's versions at Meta", m.template);
        assert_eq!(m.parameters[0], "Kim");
        assert!(m.parameters[1].starts_with("W-"));
        assert!(m.parameters[3].starts_with(&format!("{}/t/s/", app.base)), "the review link is a tracked short link: {:?}", m.parameters);
        assert!(m.callback_data.starts_with("starling:"));
    }
    let after = messages(&app, campaign).await;
    let row = |id: &str| after.iter().find(|m| m.0 == id).cloned().unwrap();
    assert_eq!((row("W-1").2.as_str(), row("W-1").4, row("W-1").5.as_str()), ("sent", Some(50_000), "contract"));

    // Statuses: each once, forged ones refused; a failure fails the message.
    let w1 = row("W-1").3.unwrap();
    let w4 = row("W-4").3.unwrap();
    assert_eq!(wa.report(&w1, "sent", None).await, 200);
    assert_eq!(wa.report(&w1, "delivered", None).await, 200);
    assert_eq!(wa.report(&w1, "delivered", None).await, 200, "replayed");
    assert_eq!(wa.report(&w1, "read", None).await, 200);
    assert_eq!((events(&app, "W-1", "delivered").await, events(&app, "W-1", "opened").await), (1, 1));
    let message = wa.messages().into_iter().find(|m| m.id == w4).unwrap();
    let failed = cloud_api::status_body(&message, "failed", Some(131026));
    assert_eq!(cloud_api::post_signed(&app.url("/webhooks/whatsapp"), &failed, "wrong secret").await, 403);
    assert_eq!(row("W-4").2, "sent", "nothing changed");
    assert_eq!(wa.report(&w4, "failed", Some(131026)).await, 200);
    let (state, error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM messages WHERE provider_ref = $1").bind(&w4).fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(state, "failed");
    assert!(error.contains("131026"), "{error}");

    // A send whose answer was lost: the status report names Starling's message, which
    // gets its id from it.
    sqlx::query("UPDATE messages SET provider_ref = NULL WHERE provider_ref = $1").bind(&w1).execute(&app.db.pool).await.unwrap();
    assert_eq!(wa.report(&w1, "read", None).await, 200);
    let (found,): (Option<String>,) = sqlx::query_as(
        "SELECT provider_ref FROM messages m JOIN orders o ON o.id = m.order_id \
         WHERE o.platform_order_id = 'W-1'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(found.as_deref(), Some(w1.as_str()));

    // Replies: a forged STOP changes nothing; "Stopp" on WhatsApp suppresses W-1's buyer for
    // the brand on every channel.
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let stop = cloud_api::reply_body("+447911123401", cloud_api::PHONE_NUMBER_ID, "STOP");
    assert_eq!(cloud_api::post_signed(&app.url("/webhooks/whatsapp"), &stop, "wrong secret").await, 403);
    assert!(!app::orders::privacy::is_suppressed(&app.db, &salt, brand, "wa1@example.test").await.unwrap());
    assert_eq!(wa.reply("+447911123402", cloud_api::PHONE_NUMBER_ID, "Where is my parcel?").await, 200);
    assert!(!app::orders::privacy::is_suppressed(&app.db, &salt, brand, "+447911123402").await.unwrap());
    assert_eq!(wa.reply("+447911123401", cloud_api::PHONE_NUMBER_ID, "Stopp").await, 200);
    for address in ["+447911123401", "wa1@example.test"] {
        assert!(app::orders::privacy::is_suppressed(&app.db, &salt, brand, address).await.unwrap(), "{address}");
    }
    assert_eq!(events(&app, "W-1", "unsubscribed").await, 1, "the opt-out counts against the WhatsApp message");

    // One message per order and purpose across channels and campaigns: a second campaign
    // for the same purpose adds nothing for these orders.
    let form = json!({ "client_id": client, "channel": "sms", "template_id": template, "name": "Texts again",
        "trigger": "batch", "days": 0, "countries": "", "fallback": "de" });
    let second = am.rpc("create_campaign", json!({ "form": form })).await.json().as_i64().unwrap();
    assert_eq!(am.rpc("campaign_step", json!({ "id": second, "step": "Launch" })).await.status, 200);
    assert!(messages(&app, second).await.is_empty(), "{:?}", messages(&app, second).await);

    // Reports and usage: the WhatsApp row (two sent, one failed: a bounce) and its cost.
    let today = app::reports::rules::day_of(app::db::now_millis());
    let counts = app::reports::build::figures(&app.db, None, client, today - 1, today + 1).await.unwrap();
    let by_channel = app::reports::engine::GROUP_KEYS.iter().position(|(g, _, _)| *g == "channel").unwrap();
    let code = app::reports::engine::CHANNELS.iter().position(|c| *c == Channel::Whatsapp).unwrap() as i64;
    let figures = counts[by_channel].get(&(code, 0)).cloned().expect("a WhatsApp row");
    assert_eq!((figures.sent, figures.bounced, figures.unsubscribed), (2, 1, 1), "{figures:?}");
    let report = app::reports::build::report(&app.db, None, client, "Nordlicht".into(), today - 1, today + 1).await.unwrap();
    let rows = &report.groupings.iter().find(|g| g.name == "channel").expect("the channel table").rows;
    let cost_of = |label: &str| rows.iter().find(|r| r.label == label).map(|r| r.cost.clone()).unwrap_or_default();
    assert_eq!((cost_of("WhatsApp").as_str(), cost_of("SMS").as_str()), ("0.10 USD", ""), "the texts have no price yet: {rows:?}");
    let usage = am.rpc("usage_statement", json!({ "client_id": client, "month": "" })).await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let line = usage.json()["rows"].as_array().unwrap().iter().find(|r| r["channel"] == "WhatsApp").cloned().expect("a WhatsApp line");
    assert_eq!((line["messages"].as_i64(), line["cost_micros"].as_i64()), (Some(2), Some(100_000)), "{line}");
}

#[tokio::test]
async fn templates_reach_meta_through_refusals_lost_answers_and_lost_reports() {
    let (sms, wa) = (FakeTwilio::start(), FakeWhatsapp::start());
    let (app, _client, _brand, template) = set_up(&sms, &wa).await;
    let cloud = cloud(&wa);
    let now = app::db::now_millis();

    // An expired token: nothing is recorded, and the next round submits.
    wa.expire_token(true);
    assert_eq!(meta::sync(&app.db, &cloud, now).await.unwrap(), meta::SyncStats::default());
    assert!(recorded(&app).await.is_empty());
    wa.expire_token(false);
    let first = meta::sync(&app.db, &cloud, now).await.unwrap();
    assert!(first.submitted >= 1, "{first:?}");

    // A part Meta would refuse (written around the editor, which blocks it): refused with
    // Meta's reason, never sent.
    let (version,): (i64,) = sqlx::query_as("SELECT id FROM template_versions WHERE template_id = $1 AND status = 'approved' LIMIT 1")
        .bind(template)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO template_versions (template_id, client_id, locale, number, subject, html, text, status, author_id, author_email, \
           blocking, warnings, created_at, updated_at, whatsapp_body, whatsapp_category) \
         SELECT template_id, client_id, 'fr', 99, subject, html, text, 'approved', author_id, author_email, 0, 0, created_at, updated_at, \
           '{{ customer.first_name }}, merci !', 'MARKETING' FROM template_versions WHERE id = $1",
    )
    .bind(version)
    .execute(&app.db.pool)
    .await
    .unwrap();
    meta::sync(&app.db, &cloud, now).await.unwrap();
    let refused = recorded(&app).await.into_iter().find(|r| r.1 == "refused").expect("the French part is refused");
    assert!(refused.2.contains("may not begin with a variable"), "{refused:?}");

    // Several templates, and an answer lost on the way back: the next round finds the
    // template under its name (following Meta's pages) instead of submitting it twice.
    let pending = recorded(&app).await.into_iter().filter(|r| r.1 == "pending").count();
    assert!(pending >= 1);
    let all_at_meta = wa.templates().len();
    sqlx::query("DELETE FROM whatsapp_templates WHERE status = 'pending'").execute(&app.db.pool).await.unwrap();
    meta::sync(&app.db, &cloud, now).await.unwrap();
    assert_eq!(wa.templates().len(), all_at_meta, "nothing submitted twice");
    assert_eq!(recorded(&app).await.into_iter().filter(|r| r.1 == "pending").count(), pending);

    // Meta's decision report is lost: after ten minutes Starling looks it up.
    wa.decide_quietly("APPROVED");
    meta::sync(&app.db, &cloud, now + 60_000).await.unwrap();
    assert!(recorded(&app).await.iter().any(|r| r.1 == "pending"), "not looked up within ten minutes");
    let late = meta::sync(&app.db, &cloud, now + 11 * 60_000).await.unwrap();
    assert_eq!(late.looked_up as usize, pending);
    assert!(recorded(&app).await.iter().all(|r| r.1 == "approved" || r.1 == "refused"), "{:?}", recorded(&app).await);
}

#[tokio::test]
async fn a_buyer_who_stopped_marketing_is_suppressed_and_an_expired_token_only_delays() {
    let (sms, wa) = (FakeTwilio::start(), FakeWhatsapp::start());
    let (app, client, brand, template) = set_up(&sms, &wa).await;
    let cloud = cloud(&wa);
    meta::sync(&app.db, &cloud, app::db::now_millis()).await.unwrap();
    for t in wa.templates() {
        wa.review(&t.name, "APPROVED", "").await;
    }
    put_orders(
        &app,
        brand,
        vec![
            with_whatsapp(order("X-1", "x1@example.test", "+447911123411", "GB", false)),
            with_whatsapp(order("X-2", "x2@example.test", "+447911123412", "GB", false)),
        ],
    )
    .await;
    wa.stop_marketing("+447911123412");
    let am = app.signed_in(MANAGER).await;

    // A campaign needs the brand's WhatsApp number.
    sqlx::query("UPDATE brands SET whatsapp_phone_id = '' WHERE id = $1").bind(brand).execute(&app.db.pool).await.unwrap();
    let form = json!({ "client_id": client, "channel": "whatsapp", "template_id": template, "name": "WhatsApp only",
        "trigger": "batch", "days": 0, "countries": "", "fallback": "de" });
    let refused = am.rpc("create_campaign", json!({ "form": form.clone() })).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("no WhatsApp number"), "{}", refused.body);
    sqlx::query("UPDATE brands SET whatsapp_phone_id = $1 WHERE id = $2")
        .bind(cloud_api::PHONE_NUMBER_ID)
        .bind(brand)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let campaign = crate::texts::launch(&am, client, template, "whatsapp", "WhatsApp only").await;
    let planned = messages(&app, campaign).await;
    assert_eq!(planned.len(), 2, "{planned:?}");

    // The token expires: the messages wait (queued again), they do not fail.
    wa.expire_token(true);
    let whatsapper = whatsapper(&app, &sms, &wa);
    let at = afternoon();
    let stats = whatsapper.pass(at).await.unwrap();
    assert_eq!((stats.sent, stats.deferred, stats.failed), (0, 2, 0), "{stats:?}");
    wa.expire_token(false);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let stats = whatsapper.pass(at).await.unwrap();
    assert_eq!((stats.sent, stats.failed), (1, 1), "{stats:?}");
    let after = messages(&app, campaign).await;
    assert_eq!(after.iter().map(|m| m.2.as_str()).collect::<Vec<_>>(), ["sent", "failed"]);
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    for address in ["+447911123412", "x2@example.test"] {
        assert!(app::orders::privacy::is_suppressed(&app.db, &salt, brand, address).await.unwrap(), "{address}: stopped marketing");
    }
}
