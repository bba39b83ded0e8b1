//! Reports, reviews, alerts and SLA: figures checked against a fixture worked out by hand,
//! review attribution at the window's edges, imports that are idempotent, one alert and one
//! e-mail per negative review, SLA breaches on synthetic timelines, the monthly e-mail, and
//! client isolation of reports, charts and exports.

use app::campaigns::eligibility::Trigger;
use app::campaigns::model::CampaignState;
use app::campaigns::monitor::record_event;
use app::campaigns::planner::{self, CampaignRules, Variant};
use app::db::now_millis;
use app::outbox::model::EventKind;
use app::templates::model::Purpose;
use serde_json::{json, Value};
use starling_tests::*;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// A running two-variant campaign of Nordlicht with `n` planned messages; answers
/// (campaign, brand, message ids in order).
async fn planned(app: &TestApp, n: u64) -> (i64, i64, Vec<i64>) {
    let (template_id, client_id, brand_id) = approved_template(app).await;
    sqlx::query("UPDATE orders SET status = 'cancelled'").execute(&app.db.pool).await.unwrap();
    delivered_orders(app, brand_id, 0, n).await;
    let variants = vec![
        Variant { weight: 50, subject: String::new(), delay_hours: 0 },
        Variant { weight: 50, subject: "Wie gefällt Ihnen {{ product.name }}?".into(), delay_hours: 0 },
    ];
    let rules = CampaignRules { fallback_locales: vec!["de".into()], variants, ..CampaignRules::new(Trigger::Batch) };
    let id = planner::create(&app.db, client_id, brand_id, Some(template_id), "Report fixture", Purpose::ReviewRequest, &rules, "test")
        .await
        .unwrap();
    planner::set_state(&app.db, id, CampaignState::Running).await.unwrap();
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    assert_eq!(planner::plan(&app.db, &salt, id, now_millis()).await.unwrap().planned, n);
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE campaign_id = $1 ORDER BY id").bind(id).fetch_all(&app.db.pool).await.unwrap();
    (id, brand_id, ids)
}

/// Marks a message sent at `at` (the sender's own record of it), in variant `variant`.
async fn sent(app: &TestApp, message: i64, at: i64, variant: i64) {
    sqlx::query("UPDATE messages SET variant = $1 WHERE id = $2").bind(variant).bind(message).execute(&app.db.pool).await.unwrap();
    assert!(record_event(&app.db, message, EventKind::Sent, &format!("attempt:{message}"), at, "250 ok").await.unwrap());
}

async fn event(app: &TestApp, message: i64, kind: &str, n: u32, at: i64) {
    for i in 0..n {
        let kind = EventKind::parse(kind).expect("an event kind");
        record_event(&app.db, message, kind, &format!("{}:{message}:{i}", kind.as_str()), at, "").await.unwrap();
    }
}

/// A store API key of the store of a message's order: (key, platform order id).
async fn key_and_order(app: &TestApp, message: i64) -> (String, String) {
    let (store_id, order): (i64, String) =
        sqlx::query_as("SELECT o.store_id, o.platform_order_id FROM messages m JOIN orders o ON o.id = m.order_id WHERE m.id = $1")
            .bind(message)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let target = app::orders::store::target(&app.db, store_id).await.unwrap().unwrap();
    let (_, key) = app::orders::keys::create(&app.db, &target, "reviews", "test").await.unwrap();
    (key, order)
}

async fn post_reviews(app: &TestApp, key: &str, reviews: Value) -> Answer {
    let response =
        app.client().http.post(app.url("/api/v1/reviews")).bearer_auth(key).json(&json!({ "reviews": reviews })).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer { status, headers, body: response.text().await.unwrap() }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d").to_string()
}

fn figures(v: &Value) -> [u64; 8] {
    let f = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    [f("sent"), f("bounced"), f("complained"), f("unsubscribed"), f("opened"), f("clicked"), f("reviews"), f("rating_sum")]
}

fn grouping<'a>(report: &'a Value, name: &str) -> &'a Vec<Value> {
    report["groupings"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["rows"].as_array().unwrap()
}

#[tokio::test]
async fn report_figures_match_a_hand_computed_fixture() {
    let app = TestApp::spawn().await;
    let (campaign, _, m) = planned(&app, 10).await;
    let today = now_millis() / DAY * DAY;
    let (d1, d2) = (today - 3 * DAY + 10 * HOUR, today - 2 * DAY + 10 * HOUR);
    for (i, id) in m.iter().enumerate() {
        sent(&app, *id, if i < 6 { d1 } else { d2 }, if i < 5 { 0 } else { 1 }).await;
    }
    // Worked out by hand below: m0 and m7 bounce; m1 opens three times and clicks twice;
    // m2 opens, clicks and gets a 5-star review; m3 opens and unsubscribes; m4 complains;
    // m6 opens, clicks and gets a 2-star review.
    event(&app, m[0], "bounced", 1, d1 + HOUR).await;
    event(&app, m[1], "opened", 3, d1 + HOUR).await;
    event(&app, m[1], "clicked", 2, d1 + HOUR).await;
    event(&app, m[2], "opened", 1, d1 + HOUR).await;
    event(&app, m[2], "clicked", 1, d1 + HOUR).await;
    event(&app, m[3], "opened", 1, d1 + HOUR).await;
    event(&app, m[3], "unsubscribed", 1, d1 + HOUR).await;
    event(&app, m[4], "complained", 1, d1 + HOUR).await;
    event(&app, m[6], "opened", 1, d2 + HOUR).await;
    event(&app, m[6], "clicked", 1, d2 + HOUR).await;
    event(&app, m[7], "bounced", 1, d2 + HOUR).await;
    let (key, order2) = key_and_order(&app, m[2]).await;
    let (_, order6) = key_and_order(&app, m[6]).await;
    let posted = post_reviews(
        &app,
        &key,
        json!([
            { "id": "R-2", "order_id": order2, "rating": 5, "title": "Great", "text": "Warm and light.", "date": iso(d1 + DAY) },
            { "id": "R-6", "order_id": order6, "rating": "2", "title": "Too small", "text": "Runs small.", "date": iso(d2 + 2 * HOUR) },
        ]),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.json()["created"], 2, "{}", posted.body);
    assert!(posted.json()["results"].as_array().unwrap().iter().all(|r| r["attributed"] == true), "{}", posted.body);

    let viewer = app.signed_in(VIEWER).await;
    let answer = viewer.rpc("client_report", json!({ "client_id": 1, "from": day(d1), "until": day(d2) })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let report = answer.json();
    // [sent, bounced, complained, unsubscribed, opened (once per message), clicked, reviews, stars]
    assert_eq!(figures(&report["totals"]), [10, 2, 1, 1, 4, 3, 2, 7]);
    let days = grouping(&report, "day");
    assert_eq!(days.len(), 2);
    assert_eq!((days[0]["label"].as_str().unwrap(), figures(&days[0]["figures"])), (day(d1).as_str(), [6, 1, 1, 1, 3, 2, 1, 5]));
    assert_eq!((days[1]["label"].as_str().unwrap(), figures(&days[1]["figures"])), (day(d2).as_str(), [4, 1, 0, 0, 1, 1, 1, 2]));
    let variants = grouping(&report, "variant");
    let of = |v: i64| variants.iter().find(|r| r["key"] == campaign && r["key2"] == v).map(|r| figures(&r["figures"])).unwrap();
    assert_eq!(of(0), [5, 1, 1, 1, 3, 2, 1, 5]);
    assert_eq!(of(1), [5, 1, 0, 0, 1, 1, 1, 2]);
    for name in ["brand", "store", "campaign", "locale"] {
        let rows = grouping(&report, name);
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(figures(&rows[0]["figures"]), [10, 2, 1, 1, 4, 3, 2, 7], "{name}");
    }
    // The A/B test: click rate per delivered message, A 2 of 4, B 1 of 4.
    let test = &report["tests"][0];
    assert_eq!(test["campaign_id"], campaign);
    assert_eq!((test["arms"][0]["trials"].as_u64(), test["arms"][0]["successes"].as_u64()), (Some(4), Some(2)));
    assert_eq!((test["arms"][1]["trials"].as_u64(), test["arms"][1]["successes"].as_u64()), (Some(4), Some(1)));
    assert!(test["decision"].as_str().unwrap().starts_with("Collecting"), "{}", test["decision"]);
    assert!(test["chart_svg"].as_str().unwrap().contains("Variant B"));
    assert!(report["trend_svg"].as_str().unwrap().contains("Messages per day"));
    // All reviews received: Fjell Gear, 2 reviews averaging 3.5, one negative.
    assert_eq!(report["reviews"][0]["reviews"], 2);
    assert_eq!(report["reviews"][0]["average_rating"], 3.5);
    assert_eq!(report["reviews"][0]["negative"], 1);

    // The CSV holds the same numbers, with rates over the right denominators.
    let csv = viewer.get(&format!("/clients/1/reports/export.csv?from={}&until={}", day(d1), day(d2))).await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    let mut lines = csv.body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let total: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cell = |name: &str| total[header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} in {header:?}"))];
    assert_eq!((cell("grouping"), cell("sent"), cell("delivered"), cell("opened"), cell("clicked")), ("total", "10", "8", "4", "3"));
    assert_eq!(cell("delivery_rate_of_sent").parse::<f64>().unwrap(), 0.8);
    assert_eq!(cell("open_rate_of_delivered").parse::<f64>().unwrap(), 0.5);
    assert_eq!(cell("click_rate_of_delivered").parse::<f64>().unwrap(), 0.375);
    assert_eq!(cell("unsubscribe_rate_of_delivered").parse::<f64>().unwrap(), 0.125);
    assert_eq!(cell("review_rate_of_delivered").parse::<f64>().unwrap(), 0.25);
    assert_eq!(cell("average_rating").parse::<f64>().unwrap(), 3.5);
    let parquet =
        viewer.http.get(app.url(&format!("/clients/1/reports/export.parquet?from={}&until={}", day(d1), day(d2)))).send().await.unwrap();
    assert_eq!(parquet.status(), 200);
    let bytes = parquet.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"), "a Parquet file");

    // A snapshot (the cube of every event so far) plus what happens after it gives the
    // same figures as the database alone: a second open of m1 changes nothing, a first open
    // of m5 and a first click of m8 count once.
    let watermark = now_millis();
    assert_eq!(
        app::reports::snapshot::refresh(&app.db, &app.data_dir, 1, watermark).await.unwrap(),
        26,
        "10 sent, 2 bounced, 6 opens, 4 clicks, 1 unsubscribe, 1 complaint, 2 reviews"
    );
    event(&app, m[1], "opened", 1, watermark + 1000).await;
    record_event(&app.db, m[1], EventKind::Opened, "late-open", watermark + 1000, "").await.unwrap();
    record_event(&app.db, m[5], EventKind::Opened, "late-open", watermark + 1000, "").await.unwrap();
    record_event(&app.db, m[8], EventKind::Clicked, "late-click", watermark + 1000, "").await.unwrap();
    let (from, until) = (d1 / DAY, d2 / DAY);
    let with = app::reports::build::report(&app.db, Some(&app.data_dir), 1, "n".into(), from, until).await.unwrap();
    let without = app::reports::build::report(&app.db, None, 1, "n".into(), from, until).await.unwrap();
    assert_eq!(with.totals, without.totals);
    assert_eq!((with.totals.opened, with.totals.clicked, with.totals.sent), (5, 4, 10));
    assert_eq!(with.groupings, without.groupings);

    // A range without the sends shows nothing.
    let before = viewer.rpc("client_report", json!({ "client_id": 1, "from": day(d1 - 10 * DAY), "until": day(d1 - 5 * DAY) })).await;
    assert_eq!(figures(&before.json()["totals"])[0], 0);
}

#[tokio::test]
async fn a_campaign_name_that_looks_like_a_formula_is_neutralised_in_the_export() {
    let app = TestApp::spawn().await;
    let (campaign, _, m) = planned(&app, 2).await;
    sqlx::query("UPDATE campaigns SET name = '=HYPERLINK(\"http://evil.test\")' WHERE id = $1")
        .bind(campaign)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sent(&app, m[0], now_millis() - HOUR, 0).await;
    let manager = app.signed_in(MANAGER).await;
    let csv = manager.get("/clients/1/reports/export.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("'=HYPERLINK"), "{}", csv.body);
    assert!(!csv.body.lines().any(|l| l.split(',').any(|c| c.trim_matches('"').starts_with("=HYPERLINK"))), "{}", csv.body);
}

#[tokio::test]
async fn reviews_are_attributed_inside_the_window_and_a_second_import_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, brand, m) = planned(&app, 2).await;
    let t0 = (now_millis() - 40 * DAY) / 1000 * 1000;
    sent(&app, m[0], t0, 0).await;
    let (_, order) = key_and_order(&app, m[0]).await;
    let email: String = sqlx::query_scalar("SELECT c.email FROM messages m JOIN customers c ON c.id = m.customer_id WHERE m.id = $1")
        .bind(m[0])
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d %H:%M:%S").to_string();
    // Exactly 30 days after the request (inside), one second later (outside), before it
    // (outside), by e-mail only (inside), and a bad row.
    let file = format!(
        "Review ID,Order ID,Reviewer Email,Rating,Title,Body,Review Date\n\
         A1,{order},,5,Edge,On the last day,{}\n\
         A2,{order},,4,Late,One second late,{}\n\
         A3,{order},,3,Early,Before the request,{}\n\
         A4,,{},2,By mail,Found by address,{}\n\
         A5,{order},,six,Bad,Not a rating,{}\n",
        at(t0 + 30 * DAY),
        at(t0 + 30 * DAY + 1000),
        at(t0 - HOUR),
        email.to_uppercase(),
        at(t0 + DAY),
        at(t0 + DAY),
    );
    let manager = app.signed_in(MANAGER).await;
    let upload = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("brand", brand.to_string())
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name("reviews.csv"));
        manager.http.post(app.url("/clients/1/reviews/upload")).multipart(form).send()
    };
    let first = upload(file.clone().into_bytes()).await.unwrap();
    assert_eq!(first.status(), 303);
    let location = first.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("4%20reviews%20imported%20%282%20attributed"), "{location}");
    assert!(location.contains("Line%206%2C%20rating"), "the bad row is named: {location}");
    let attributed: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT source_key, message_id FROM reviews ORDER BY source_key").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(
        attributed,
        vec![("id:A1".into(), Some(m[0])), ("id:A2".into(), None), ("id:A3".into(), None), ("id:A4".into(), Some(m[0]))]
    );
    let second = upload(file.into_bytes()).await.unwrap();
    let location = second.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("0%20reviews%20imported") && location.contains("4%20already%20known"), "{location}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 4);
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM message_events WHERE kind = 'reviewed'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(events, 2, "each attributed review on the request's timeline, once");
    // Two negative reviews (3 and 2 stars): two alerts, not four.
    let alerts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(alerts, 2);
}

#[tokio::test]
async fn a_negative_review_raises_exactly_one_alert_and_one_email() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = TestApp::spawn_with(move |c| c.smtp_url = Some(secrecy::SecretString::from(url))).await;
    sqlx::query("UPDATE clients SET support_email = 'support@nordlicht.test' WHERE id = 1").execute(&app.db.pool).await.unwrap();
    let (_, _, m) = planned(&app, 1).await;
    sent(&app, m[0], now_millis() - DAY, 0).await;
    let (key, order) = key_and_order(&app, m[0]).await;
    let review = json!([{ "id": "N-1", "order_id": order, "rating": 1, "title": "Broke", "text": "<script>alert(1)</script> broke in a week", "date": iso(now_millis() - HOUR) }]);
    let first = post_reviews(&app, &key, review.clone()).await;
    assert_eq!(first.json()["results"][0]["result"], "created", "{}", first.body);
    let alert = first.json()["results"][0]["alert"].as_i64().expect("an alert");
    let replay = post_reviews(&app, &key, review).await;
    assert_eq!(replay.json()["results"][0]["result"], "duplicate");
    let mail = sink.wait_for("support@nordlicht.test", "Negative 1-star review").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "one e-mail");
    assert!(mail.to.contains(&"am@starling.test".to_string()), "the account manager is a recipient: {:?}", mail.to);
    let parsed = mail_parser::MessageParser::default().parse(mail.data.as_bytes()).unwrap();
    let body = parsed.body_text(0).unwrap().to_string();
    assert!(body.contains(&format!("/alerts?alert={alert}")) && body.contains("broke in a week"), "{body}");
    let alerts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(alerts, 1);

    // The account manager owns it, responds, and the clock stops.
    let manager = app.signed_in(MANAGER).await;
    let list = manager.rpc("list_alerts", json!({ "status": "open" })).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let row = &list.json()["alerts"][0];
    assert_eq!((row["id"].as_i64(), row["owner"].as_str()), (Some(alert), Some("Max Manager")));
    let saved = manager
        .rpc("update_alert", json!({ "id": alert, "status": "responded", "owner_id": row["owner_id"], "note": "Replacement sent" }))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let responded: Option<i64> =
        sqlx::query_scalar("SELECT responded_at FROM alerts WHERE id = $1").bind(alert).fetch_one(&app.db.pool).await.unwrap();
    assert!(responded.is_some());
    // The page shows the review text escaped.
    let page = manager.get("/alerts").await;
    assert!(!page.body.contains("<script>alert(1)"), "escaped");
    assert!(page.body.contains("&lt;script&gt;"), "shown as text");
}

#[tokio::test]
async fn sla_breaches_are_found_on_synthetic_timelines_and_stored_once() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    let contract = json!({ "min_delivery_rate_bp": 9500, "unsubscribe_hours": 48, "review_response_hours": 24,
                           "approval_hours": 72, "launch_grace_hours": 24, "attribution_days": 30 });
    let saved = admin.rpc("save_contract", json!({ "client_id": 1, "contract": contract })).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let bad = admin
        .rpc(
            "save_contract",
            json!({ "client_id": 1, "contract": { "min_delivery_rate_bp": 12000, "unsubscribe_hours": 0,
        "review_response_hours": 24, "approval_hours": 72, "launch_grace_hours": 24, "attribution_days": 30 } }),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("min_delivery_rate_bp") && bad.body.contains("unsubscribe_hours"), "{}", bad.body);

    let now = now_millis();
    let t = now - 10 * DAY;
    // Delivery: 100 sent on one day, 6 bounced (94 % < 95 %); another day exactly 95 %.
    let (campaign, _, m) = planned(&app, 200).await;
    for (i, id) in m.iter().enumerate() {
        let at = if i < 100 { t } else { t + DAY };
        sent(&app, *id, at, 0).await;
    }
    for id in &m[..6] {
        event(&app, *id, "bounced", 1, t + HOUR).await;
    }
    for id in &m[100..105] {
        event(&app, *id, "bounced", 1, t + DAY + HOUR).await;
    }
    // Unsubscribes: processed after 49 h (late) and after exactly 48 h (on time).
    event(&app, m[10], "unsubscribed", 1, t).await;
    event(&app, m[11], "unsubscribed", 1, t).await;
    sqlx::query("UPDATE message_events SET processed_at = at + $1 WHERE message_id = $2 AND kind = 'unsubscribed'")
        .bind(49 * HOUR)
        .bind(m[10])
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE message_events SET processed_at = at + $1 WHERE message_id = $2 AND kind = 'unsubscribed'")
        .bind(48 * HOUR)
        .bind(m[11])
        .execute(&app.db.pool)
        .await
        .unwrap();
    // Alerts: answered after 30 h (late), after 2 h (on time), never answered (late by now).
    let review = |key: &str, rating: i64| {
        let key = key.to_string();
        let db = app.db.clone();
        async move {
            sqlx::query(
                "INSERT INTO reviews (client_id, brand_id, source_key, rating, reviewed_at, received_at, via) VALUES (1, 1, $1, $2, $3, $3, 'api')",
            )
            .bind(&key)
            .bind(rating)
            .bind(t)
            .execute(&db.pool)
            .await
            .unwrap();
            sqlx::query_scalar::<_, i64>("SELECT id FROM reviews WHERE source_key = $1").bind(&key).fetch_one(&db.pool).await.unwrap()
        }
    };
    let alert = |review: i64, responded: Option<i64>| {
        let db = app.db.clone();
        async move {
            sqlx::query(
                "INSERT INTO alerts (client_id, brand_id, review_id, status, opened_at, responded_at) VALUES (1, 1, $1, 'open', $2, $3)",
            )
            .bind(review)
            .bind(t)
            .bind(responded)
            .execute(&db.pool)
            .await
            .unwrap();
            sqlx::query_scalar::<_, i64>("SELECT id FROM alerts WHERE review_id = $1").bind(review).fetch_one(&db.pool).await.unwrap()
        }
    };
    let slow = alert(review("s1", 2).await, Some(t + 30 * HOUR)).await;
    let _fast = alert(review("s2", 1).await, Some(t + 2 * HOUR)).await;
    let silent = alert(review("s3", 3).await, None).await;
    // Approvals: a version approved after 80 h (late), one after 10 h (on time).
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM template_versions WHERE client_id = 1 ORDER BY id").fetch_all(&app.db.pool).await.unwrap();
    sqlx::query("UPDATE template_versions SET status = 'approved', submitted_at = $1, approved_at = $2 WHERE id = $3")
        .bind(t)
        .bind(t + 80 * HOUR)
        .bind(versions[0])
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE template_versions SET status = 'approved', submitted_at = $1, approved_at = $2 WHERE id = $3")
        .bind(t)
        .bind(t + 10 * HOUR)
        .bind(versions[1])
        .execute(&app.db.pool)
        .await
        .unwrap();
    // Launches: the fixture's campaign 30 h late; the demo campaign on time.
    sqlx::query("UPDATE campaigns SET scheduled_at = $1, launched_at = $2 WHERE id = $3")
        .bind(t)
        .bind(t + 30 * HOUR)
        .bind(campaign)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE campaigns SET scheduled_at = $1, launched_at = $2 WHERE id = 1")
        .bind(t)
        .bind(t + HOUR)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let new = app::reports::sla::evaluate(&app.db, None, 1, now).await.unwrap();
    let breaches: Vec<(String, String)> =
        sqlx::query_as("SELECT rule, subject FROM sla_breaches WHERE client_id = 1 ORDER BY rule, subject")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let day_t = day(t);
    let mut expected = vec![
        ("approval".to_string(), format!("version {}", versions[0])),
        ("delivery_rate".to_string(), day_t),
        ("launch".to_string(), format!("campaign {campaign}")),
        ("review_response".to_string(), format!("alert {slow}")),
        ("review_response".to_string(), format!("alert {silent}")),
        ("unsubscribe".to_string(), format!("message {}", m[10])),
    ];
    expected.sort();
    assert_eq!(breaches, expected);
    assert_eq!(new, 6);
    assert_eq!(app::reports::sla::evaluate(&app.db, None, 1, now + HOUR).await.unwrap(), 0, "stored once");

    // The board: each target breached, with evidence linking to what breached it.
    let viewer = app.signed_in(VIEWER).await;
    let board = viewer.rpc("sla_board", json!({ "client_id": 1 })).await;
    assert_eq!(board.status, 200, "{}", board.body);
    let board = board.json();
    assert!(board["lines"].as_array().unwrap().iter().all(|l| l["holds"] == false), "{board}");
    assert_eq!(board["can_edit"], false);
    let delivery = board["breaches"].as_array().unwrap().iter().find(|b| b["rule"] == "delivery_rate").unwrap();
    assert!(delivery["measured"].as_str().unwrap().starts_with("94.00 %"), "{delivery}");
    assert_eq!(delivery["evidence"].as_array().unwrap().len(), 6, "the six bounced messages");
    let page = viewer.get("/clients/1/sla").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("alert {slow}")));
}

#[tokio::test]
async fn the_monthly_report_goes_to_each_client_contact_once_with_its_charts() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = TestApp::spawn().await;
    let (_, _, m) = planned(&app, 3).await;
    // The first of a month: the report covers the month before.
    let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(6, 0, 0).unwrap().and_utc().timestamp_millis();
    let in_november = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap().and_hms_opt(9, 0, 0).unwrap().and_utc().timestamp_millis();
    sqlx::query("UPDATE clients SET created_at = $1").bind(in_november - 30 * DAY).execute(&app.db.pool).await.unwrap();
    for id in &m {
        sent(&app, *id, in_november, 0).await;
    }
    event(&app, m[0], "opened", 1, in_november + HOUR).await;
    let mailer = app::common::mailer::Mailer::new(
        Some(&secrecy::SecretString::from(url)),
        app.data_dir.join("outbox"),
        "Starling <reports@starling.test>",
    )
    .unwrap();
    let sent_now = app::reports::monthly::send_due(&app.db, None, &mailer, "https://portal.test", now).await.unwrap();
    let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE contact_email <> ''").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(sent_now as i64, contacts);
    assert_eq!(
        app::reports::monthly::send_due(&app.db, None, &mailer, "https://portal.test", now + HOUR).await.unwrap(),
        0,
        "once per month"
    );
    let contact: String = sqlx::query_scalar("SELECT contact_email FROM clients WHERE id = 1").fetch_one(&app.db.pool).await.unwrap();
    let mail = sink.wait_for(&contact, "your report for 2026-11").await;
    let parsed = mail_parser::MessageParser::default().parse(mail.data.as_bytes()).unwrap();
    let body = parsed.body_text(0).unwrap().to_string();
    assert!(body.contains("Sent: 3") && body.contains("Opened: 1 (33.3 % of delivered)"), "{body}");
    assert!(body.contains("https://portal.test/clients/1/reports?from=2026-11-01&until=2026-11-30"), "{body}");
    let pictures: Vec<_> = parsed.attachments().filter(|a| mail_parser::MimeHeaders::is_content_type(*a, "image", "png")).collect();
    assert!(!pictures.is_empty(), "charts attached");
    assert!(pictures.iter().all(|p| p.contents().starts_with(b"\x89PNG")), "real PNG images");
}

#[tokio::test]
async fn a_client_viewer_cannot_open_another_clients_report_chart_or_export() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(VIEWER).await;
    for (name, args) in [
        ("client_report", json!({ "client_id": 2, "from": "", "until": "" })),
        ("list_reviews", json!({ "client_id": 2, "query": { "q": "", "sort": "", "desc": false, "page": 1 } })),
        ("sla_board", json!({ "client_id": 2 })),
        ("list_alerts", json!({ "status": "" })),
    ] {
        let answer = viewer.rpc(name, args).await;
        assert_eq!(answer.status, 403, "{name}: {}", answer.body);
        assert!(!answer.body.contains("Sakura"), "{name}");
    }
    for path in ["/clients/2/reports", "/clients/2/reports/export.csv", "/clients/2/reports/export.parquet", "/clients/2/sla"] {
        let answer = viewer.get(path).await;
        assert_eq!(answer.status, 403, "{path}");
        assert!(!answer.body.contains("Sakura"), "{path}");
    }
    // Their own report is there.
    assert_eq!(viewer.get("/clients/1/reports").await.status, 200);
    // A store's API key writes reviews into its own brand only.
    let target = app::orders::store::target(&app.db, 1).await.unwrap().unwrap();
    let (_, key) = app::orders::keys::create(&app.db, &target, "reviews", "test").await.unwrap();
    let posted = post_reviews(&app, &key, json!([{ "id": "X1", "rating": 4, "date": "2026-11-01" }])).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let (client, brand): (i64, i64) =
        sqlx::query_as("SELECT client_id, brand_id FROM reviews WHERE source_key = 'id:X1'").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!((client, brand), (target.client_id, target.brand_id));
}
