//! Delivery end to end: planned messages go through the outbox worker to a real SMTP
//! server, DKIM-signed (checked by dkimpy, an independent implementation), with the
//! headers mailbox providers expect; tracked links and one-click unsubscribe work without a
//! session, and anything forged gets 404.

use app::campaigns::eligibility::Trigger;
use app::campaigns::planner::{self, CampaignRules, Variant};
use app::db::now_millis;
use app::delivery::dkim::{self, Algorithm};
use app::delivery::mailer::Mailer;
use app::delivery::sender::Sender;
use app::templates::model::Purpose;
use starling_tests::*;
use std::sync::Arc;

/// A running batch campaign of the first approved template (German) on `n` fresh orders
/// of British buyers (every demo order is cancelled first), with two variants: B has its
/// own subject. Planned at once; answers (campaign, brand).
async fn campaign(app: &TestApp, n: u64) -> (i64, i64) {
    let (template_id, client_id, brand_id) = approved_template(app).await;
    sqlx::query("UPDATE orders SET status = 'cancelled'").execute(&app.db.pool).await.unwrap();
    delivered_orders(app, brand_id, 0, n).await;
    let variants = vec![
        Variant { weight: 50, subject: String::new(), delay_hours: 0 },
        Variant { weight: 50, subject: "Ihre Meinung zu {{ product.name }}".into(), delay_hours: 0 },
    ];
    let rules = CampaignRules { fallback_locales: vec!["de".into()], variants, ..CampaignRules::new(Trigger::Batch) };
    let id = planner::create(&app.db, client_id, brand_id, template_id, "Delivery", Purpose::ReviewRequest, &rules, "test").await.unwrap();
    planner::set_state(&app.db, id, "running").await.unwrap();
    let salt = app::orders::privacy::salt(&app.db).await.unwrap();
    let stats = planner::plan(&app.db, &salt, id, now_millis()).await.unwrap();
    assert_eq!(stats.planned, n, "{stats:?}");
    // Due now, whatever the buyers' local time.
    sqlx::query("UPDATE messages SET send_at = $1 WHERE campaign_id = $2")
        .bind(now_millis() - 1)
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    (id, brand_id)
}

fn sender(app: &TestApp, sink: &SmtpSink) -> Sender {
    let url = secrecy::SecretString::from(sink.url());
    let mailer = Mailer::new(Some(&url), app.data_dir.join("outbox"), "Starling <starling@localhost>").unwrap();
    Sender {
        db: app.db.clone(),
        mailer: Arc::new(mailer),
        secret: Arc::new(secrecy::SecretString::from(std::fs::read_to_string(app.data_dir.join("secret.key")).unwrap().trim().to_string())),
        public_url: app.url(""),
        worker: "test".into(),
        concurrency: 8,
        batch: 500,
    }
}

fn header<'a>(mail: &'a ReceivedMail, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}: ");
    mail.data.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(prefix.as_str()))
}

/// The whole header block of `name`, with its folded continuation lines joined.
fn unfolded(mail: &ReceivedMail, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in mail.data.lines().take_while(|l| !l.is_empty()) {
        if inside && (line.starts_with(' ') || line.starts_with('\t')) {
            out.push_str(line.trim_start());
            continue;
        }
        inside = line.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase()));
        if inside {
            out.push_str(line[name.len() + 1..].trim_start());
        }
    }
    out
}

fn dkim_verifies(mail: &ReceivedMail, record_name: &str, record: &str) -> bool {
    let path = std::env::temp_dir().join(format!("dkim-{}-{}.eml", std::process::id(), rand::random::<u32>()));
    std::fs::write(&path, mail.data.replace('\n', "\r\n")).unwrap();
    let script = repo_root().join("tests/support/dkim_verify.py");
    let status = std::process::Command::new("python3").arg(script).arg(&path).arg(record_name).arg(record).status().unwrap();
    let _ = std::fs::remove_file(&path);
    status.success()
}

#[tokio::test]
async fn messages_arrive_signed_with_their_headers_locale_and_variant() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (id, brand_id) = campaign(&app, 40).await;
    let key = dkim::create_key(&app.db, brand_id, Algorithm::Rsa2048, now_millis()).await.unwrap();
    let stats = sender(&app, &sink).pass(now_millis()).await.unwrap();
    assert_eq!((stats.claimed, stats.sent, stats.failed), (40, 40, 0), "{stats:?}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 40);
    let (by_b,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND variant = 1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(mails.iter().filter(|m| m.subject() == "Ihre Meinung zu Wool Socks").count() as i64, by_b, "variant B's subject");
    for mail in &mails {
        assert!(dkim_verifies(mail, &key.record_name, &key.record), "DKIM fails:\n{}", mail.data);
        let unsubscribe = unfolded(mail, "List-Unsubscribe");
        assert!(unsubscribe.contains("<http") && unsubscribe.contains("/t/u/") && unsubscribe.contains("<mailto:"), "{unsubscribe}");
        assert_eq!(header(mail, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
        assert!(header(mail, "Feedback-ID").is_some_and(|f| f.starts_with(&format!("{id}:"))));
        let message_id = header(mail, "Message-ID").unwrap();
        assert!(app::delivery::compose::parse_message_id(message_id).is_some(), "{message_id}");
        assert!(unfolded(mail, "Content-Type").starts_with("multipart/alternative"), "{}", mail.data);
        assert!(mail.data.contains("Content-Type: text/plain"));
        assert!(mail.from.starts_with("bounces+"), "the envelope sender names the message: {}", mail.from);
    }
    // Every message is sent once, with its `sent` event; nothing is left queued.
    let (sent, events): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'sent'), \
                (SELECT COUNT(*) FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.kind = 'sent')",
    )
    .bind(id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!((sent, events), (40, 40));
    assert_eq!(sender(&app, &sink).pass(now_millis()).await.unwrap().claimed, 0, "a second pass finds nothing to send");
}

#[tokio::test]
async fn ed25519_signatures_verify_too() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (_, brand_id) = campaign(&app, 3).await;
    let key = dkim::create_key(&app.db, brand_id, Algorithm::Ed25519, now_millis()).await.unwrap();
    assert!(key.record.starts_with("v=DKIM1; k=ed25519; p="), "{}", key.record);
    sender(&app, &sink).pass(now_millis()).await.unwrap();
    for mail in sink.messages() {
        assert!(dkim_verifies(&mail, &key.record_name, &key.record), "DKIM fails:\n{}", mail.data);
    }
}

/// Tracked links: the pixel and a click are recorded, the click redirects to its target; a
/// forged, altered or other-client token gets 404. GET on the unsubscribe link only asks;
/// the one-click POST (no cookie, no Origin) unsubscribes at once and cancels what was
/// still queued for the buyer.
#[tokio::test]
async fn tracking_and_one_click_unsubscribe() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (id, _) = campaign(&app, 4).await;
    sender(&app, &sink).pass(now_millis()).await.unwrap();
    let mail = &sink.messages()[0];
    let parsed = mail_parser::MessageParser::default().parse(mail.data.as_bytes()).expect("a MIME message");
    let body = parsed.body_html(0).expect("an HTML part").to_string();
    let link = |kind: &str| -> String {
        let start = body.find(&format!("{}/t/{kind}/", app.url(""))).unwrap_or_else(|| panic!("no /t/{kind}/ link in\n{body}"));
        body[start..].split(['"', '>', ' ', '\n']).next().unwrap().to_string()
    };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let click = link("c");
    let answer = http.get(&click).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    assert!(answer.headers()["location"].to_str().unwrap().starts_with("https://"), "{:?}", answer.headers());
    let pixel = http.get(link("o")).send().await.unwrap();
    assert_eq!((pixel.status().as_u16(), pixel.headers()["content-type"].to_str().unwrap()), (200, "image/gif"));
    // Forged and altered tokens, and a genuine token on another client's path.
    let (prefix, token) = click.rsplit_once('/').unwrap();
    let altered = format!("{prefix}/{}x", token);
    let other_client = click.replacen("/t/c/1/", "/t/c/3/", 1);
    for bad in [altered, other_client, format!("{}/t/c/1/abc.def", app.url(""))] {
        assert_eq!(http.get(&bad).send().await.unwrap().status(), 404, "{bad}");
    }
    let (message_id,): (i64,) =
        sqlx::query_as("SELECT id FROM messages WHERE campaign_id = $1 AND customer_id = (SELECT id FROM customers WHERE email = $2)")
            .bind(id)
            .bind(&mail.to[0])
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM message_events WHERE message_id = $1 ORDER BY id")
        .bind(message_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["sent", "clicked", "opened"]);
    // The campaign's message log shows the timeline.
    let manager = app.signed_in("am@starling.test").await;
    let log = manager
        .rpc("campaign_messages", serde_json::json!({ "id": id, "query": { "q": mail.to[0], "sort": "", "desc": false, "page": 1 } }))
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let rows = log.json()["rows"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let timeline: Vec<&str> = rows[0]["events"].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap()).collect();
    assert_eq!(timeline, vec!["sent", "clicked", "opened"]);
    assert_eq!(rows[0]["state"], "sent");

    // Another message for this buyer waits in the queue (a later campaign).
    sqlx::query("INSERT INTO messages (client_id, brand_id, campaign_id, order_id, customer_id, purpose, channel, template_version_id, locale, variant, send_at, state, created_at) \
                 SELECT client_id, brand_id, campaign_id, order_id, customer_id, 'care', channel, template_version_id, locale, variant, send_at + 86400000, 'queued', created_at FROM messages WHERE id = $1")
        .bind(message_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // The link a mail client's one-click unsubscribe uses: the https one of the header.
    let header = unfolded(mail, "List-Unsubscribe");
    let unsubscribe = header.trim_start_matches('<').split('>').next().unwrap().to_string();
    assert!(unsubscribe.starts_with(&app.url("/t/u/")), "{header}");
    let page = http.get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let suppressed = |email: String| {
        let db = app.db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM suppressions WHERE value = $1 AND reason = 'unsubscribed'")
                .bind(email)
                .fetch_one(&db.pool)
                .await
                .unwrap();
            n
        }
    };
    assert_eq!(suppressed(mail.to[0].clone()).await, 0, "GET never unsubscribes by itself");
    let one_click = http
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert_eq!(suppressed(mail.to[0].clone()).await, 1);
    let (queued, detail): (i64, String) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM messages WHERE customer_id = (SELECT customer_id FROM messages WHERE id = $1) AND state = 'queued'), \
                (SELECT detail FROM message_events WHERE message_id = $1 AND kind = 'unsubscribed')",
    )
    .bind(message_id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(queued, 0, "nothing more goes to the buyer");
    assert!(detail.starts_with("processed in ") && detail.ends_with(" ms"), "{detail}");
    // Replaying the POST changes nothing.
    http.post(&unsubscribe).body("List-Unsubscribe=One-Click").send().await.unwrap();
    assert_eq!(suppressed(mail.to[0].clone()).await, 1);
}
