//! Delivery end to end: planned messages go through the outbox worker to a real SMTP
//! server, DKIM-signed (checked by dkimpy, an independent implementation), with the
//! headers mailbox providers expect; tracked links and one-click unsubscribe work without a
//! session, and anything forged gets 404.

use app::campaigns::eligibility::Trigger;
use app::campaigns::model::CampaignState;
use app::campaigns::planner::{self, CampaignRules, Variant};
use app::common::mailer::Mailer;
use app::db::now_millis;
use app::delivery::dkim::{self, Algorithm};
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
    let id =
        planner::create(&app.db, client_id, brand_id, Some(template_id), "Delivery", Purpose::ReviewRequest, &rules, "test").await.unwrap();
    planner::set_state(&app.db, id, CampaignState::Running).await.unwrap();
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
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

/// The server's signing key (tokens, Message-IDs).
fn secret_of(app: &TestApp) -> String {
    std::fs::read_to_string(app.data_dir.join("secret.key")).unwrap().trim().to_string()
}

fn sender(app: &TestApp, sink: &SmtpSink) -> Sender {
    sender_to(app, &sink.url())
}

/// A sender to the SMTP server at `url`.
fn sender_to(app: &TestApp, url: &str) -> Sender {
    let url = secrecy::SecretString::from(url.to_string());
    let mailer = Mailer::new(Some(&url), app.data_dir.join("outbox"), "Starling <starling@localhost>").unwrap();
    Sender {
        db: app.db.clone(),
        mailer: Arc::new(mailer),
        secret: Arc::new(secrecy::SecretString::from(secret_of(app))),
        public_url: app.url(""),
        worker: "test".into(),
        concurrency: 8,
        batch: 500,
        limits: Arc::new(app::delivery::limits::DomainLimits::none()),
        retry: app::delivery::sender::RetryPolicy::default(),
        lease_ms: app::delivery::sender::LEASE_MS,
        journal: None,
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
        assert!(app::delivery::compose::parse_message_id(&secret_of(&app), message_id).is_some(), "{message_id}");
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

/// A report of `report_type` (`delivery-status` or `feedback-report`) whose machine part
/// is `fields` and which quotes `original` as `quote_type`, as mailbox providers send them.
fn report(to: &str, report_type: &str, fields: &str, quote_type: &str, original: &str, id: &str) -> String {
    let original = original.replace("\r\n", "\n").replace('\n', "\r\n");
    let fields = fields.replace('\n', "\r\n");
    format!(
        "From: MAILER-DAEMON@mx.buyer.example\r\nTo: {to}\r\nSubject: Report\r\nMessage-ID: <{id}@mx.buyer.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type={report_type}; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain\r\n\r\nA report about your message.\r\n\
         --b1\r\nContent-Type: message/{report_type}\r\n\r\n{fields}\r\n\
         --b1\r\nContent-Type: {quote_type}\r\n\r\n{original}\r\n--b1--\r\n"
    )
}

async fn post_feedback(app: &TestApp, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().post(app.url("/webhooks/feedback")).body(body.to_string()).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn events_of(app: &TestApp, message_id: i64, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM message_events WHERE message_id = $1 AND kind = $2")
        .bind(message_id)
        .bind(kind)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn bounce_and_complaint_reports_are_matched_recorded_once_and_suppress() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (_, brand_id) = campaign(&app, 6).await;
    let stats = sender(&app, &sink).pass(now_millis()).await.unwrap();
    assert_eq!(stats.sent, 6, "{stats:?}");
    let secret = secret_of(&app);
    let mails = sink.messages();
    let id_of = |mail: &ReceivedMail| app::delivery::compose::parse_message_id(&secret, header(mail, "Message-ID").unwrap()).unwrap();
    let headers_of = |mail: &ReceivedMail| mail.data.split("\n\n").next().unwrap().to_string();

    // A hard bounce quoting the original's headers.
    let dsn = |mail: &ReceivedMail, action: &str, status: &str, report_id: &str| {
        let fields = format!(
            "Reporting-MTA: dns; mx.buyer.example\n\nFinal-Recipient: rfc822; {}\nAction: {action}\nStatus: {status}\n\
             Diagnostic-Code: smtp; 550 5.1.1 <{}>: Recipient address rejected: User unknown\n",
            mail.to[0], mail.to[0]
        );
        report(&mail.from, "delivery-status", &fields, "text/rfc822-headers", &headers_of(mail), report_id)
    };
    let bounced = &mails[0];
    let body = dsn(bounced, "failed", "5.1.1", "dsn-1");
    let (status, answer) = post_feedback(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "bounced");
    assert_eq!(answer["message_id"], id_of(bounced));
    assert_eq!(answer["recorded"], true);
    assert!(answer["detail"].as_str().unwrap().starts_with("5.1.1 550 5.1.1"), "{answer}");
    // Replaying the same report records nothing new.
    let (status, answer) = post_feedback(&app, &body).await;
    assert_eq!((status, answer["recorded"].clone()), (200, serde_json::json!(false)), "{answer}");
    assert_eq!(events_of(&app, id_of(bounced), "bounced").await, 1);
    let suppressed: Vec<(String, Option<i64>)> = sqlx::query_as("SELECT reason, brand_id FROM suppressions WHERE value = $1")
        .bind(bounced.to[0].to_lowercase())
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(suppressed, vec![("hard_bounce".to_string(), Some(brand_id))]);

    // A delay changes nothing: the relay is still trying.
    let delayed = &mails[1];
    let (status, answer) = post_feedback(&app, &dsn(delayed, "delayed", "4.2.2", "dsn-2")).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")), "{answer}");
    assert_eq!(events_of(&app, id_of(delayed), "bounced").await, 0);

    // A bounce that quotes nothing is matched by the return path it was sent to.
    let bare = &mails[2];
    let body = dsn(bare, "failed", "5.2.1", "dsn-3").replace(&headers_of(bare).replace('\n', "\r\n"), "Subject: (original not quoted)");
    assert!(!body.contains("Message-ID: <m"), "the original is not quoted");
    let (status, answer) = post_feedback(&app, &body).await;
    assert_eq!((status, answer["message_id"].as_i64()), (200, Some(id_of(bare))), "{answer}");

    // A complaint (ARF) quoting the whole original message.
    let complained = &mails[3];
    let fields = "Feedback-Type: abuse\nUser-Agent: BuyerMail-FBL/1.0\nVersion: 1\nOriginal-Mail-From: <bounces@example.com>\n";
    let arf = report("fbl@brand.example", "feedback-report", fields, "message/rfc822", &complained.data, "arf-1");
    let (status, answer) = post_feedback(&app, &arf).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((answer["outcome"].as_str(), answer["message_id"].as_i64()), (Some("complained"), Some(id_of(complained))));
    assert_eq!(events_of(&app, id_of(complained), "complained").await, 1);
    let reason: String = sqlx::query_scalar("SELECT reason FROM suppressions WHERE value = $1")
        .bind(complained.to[0].to_lowercase())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(reason, "complaint");

    // A report naming a message with a forged tag, or none at all, is refused and changes nothing.
    let forged_target = &mails[4];
    let real = header(forged_target, "Message-ID").unwrap().to_string();
    let (local, domain) = real.trim_matches(['<', '>']).split_once('@').unwrap();
    let (id_part, _) = local.split_once('.').unwrap();
    let forged = dsn(forged_target, "failed", "5.1.1", "dsn-4")
        .replace(&real, &format!("<{id_part}.0000000000000000@{domain}>"))
        .replace(&forged_target.from, "postmaster@elsewhere.example");
    let (status, answer) = post_feedback(&app, &forged).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("names no message sent by Starling"), "{answer}");
    assert_eq!(events_of(&app, id_of(forged_target), "bounced").await, 0);
    let (status, answer) = post_feedback(&app, "this is not a report").await;
    assert_eq!(status, 422, "{answer}");
}

/// The brand's DNS check as the account manager sees it: (record, level, verdict) per row.
async fn dns_check(manager: &Client, brand_id: i64) -> (bool, Vec<(String, String, String)>) {
    let answer = manager.rpc("check_domain", serde_json::json!({ "brand_id": brand_id })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    let rows = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["record"].as_str().unwrap().to_string(),
                c["level"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (body["aligned"].as_bool().unwrap(), rows)
}

fn level_of<'a>(rows: &'a [(String, String, String)], record: &str) -> (&'a str, &'a str) {
    rows.iter().find(|(r, _, _)| r == record).map(|(_, level, verdict)| (level.as_str(), verdict.as_str())).unwrap()
}

#[tokio::test]
async fn the_domain_check_reads_what_dns_publishes_now_and_judges_alignment() {
    let app = TestApp::spawn_with(|c| c.spf_include = "_spf.relay.example".into()).await;
    let (_, _, brand_id) = approved_template(&app).await;
    let key = dkim::create_key(&app.db, brand_id, Algorithm::Rsa2048, now_millis()).await.unwrap();
    let domain = key.domain.clone();
    let dmarc = format!("_dmarc.{domain}");
    let manager = app.signed_in("am@starling.test").await;

    // Nothing published yet: every record is missing, and says so.
    let (aligned, rows) = dns_check(&manager, brand_id).await;
    assert!(aligned, "care@{domain} signed with d={domain} aligns: {rows:?}");
    for record in ["SPF", "DKIM", "DMARC"] {
        let (level, verdict) = level_of(&rows, record);
        assert_eq!(level, "error", "{record}: {verdict}");
        assert!(verdict.starts_with("No "), "{record}: {verdict}");
    }

    // Published as the page says (beside an unrelated TXT record): all in order.
    app.dns.set_txt(&domain, &["site-verification=abc123", "v=spf1 include:_spf.relay.example ~all"]);
    app.dns.set_txt(&key.record_name, &[&key.record]);
    app.dns.set_txt(&dmarc, &["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"]);
    let (aligned, rows) = dns_check(&manager, brand_id).await;
    assert!(aligned);
    assert!(rows.iter().all(|(_, level, _)| level == "ok"), "{rows:?}");

    // What goes wrong in practice, each named.
    app.dns.set_txt(&domain, &["v=spf1 include:_spf.relay.example ~all", "v=spf1 include:_spf.google.com ~all"]);
    app.dns.set_txt(&key.record_name, &["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAstale"]);
    app.dns.set_txt(&dmarc, &["v=DMARC1; p=none"]);
    let (_, rows) = dns_check(&manager, brand_id).await;
    assert_eq!(
        level_of(&rows, "SPF"),
        ("error", "2 SPF records: receivers treat more than one as a permanent error (RFC 7208 §4.5). Keep one.")
    );
    assert!(level_of(&rows, "DKIM").1.contains("not the brand's current signing key"), "{rows:?}");
    assert_eq!(level_of(&rows, "DMARC").0, "warning");
    app.dns.set_txt(&domain, &["v=spf1 include:_spf.google.com ~all"]);
    let (_, rows) = dns_check(&manager, brand_id).await;
    assert_eq!(level_of(&rows, "SPF").0, "warning", "the relay is not included: {rows:?}");

    // A From address at another organization's domain does not align.
    sqlx::query("UPDATE brands SET sender_email = 'care@other-shop.example' WHERE id = $1")
        .bind(brand_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (aligned, rows) = dns_check(&manager, brand_id).await;
    assert!(!aligned);
    assert_eq!(level_of(&rows, "Alignment").0, "error");
    assert!(level_of(&rows, "DMARC").1.contains("other-shop.example"), "DMARC is looked up at the From domain: {rows:?}");

    // A subdomain From aligns in relaxed mode only; strict (adkim=s) wants the same domain.
    sqlx::query("UPDATE brands SET sender_email = $1 WHERE id = $2")
        .bind(format!("care@news.{domain}"))
        .bind(brand_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (aligned, _) = dns_check(&manager, brand_id).await;
    assert!(aligned, "relaxed: the organizational domains match");
    app.dns.set_txt(&format!("_dmarc.news.{domain}"), &["v=DMARC1; p=reject; adkim=s"]);
    let (aligned, rows) = dns_check(&manager, brand_id).await;
    assert!(!aligned, "strict: {rows:?}");
}

/// The distinct Message-IDs among `mails`.
fn distinct(mails: &[ReceivedMail]) -> usize {
    mails.iter().filter_map(|m| header(m, "Message-ID").map(str::to_string)).collect::<std::collections::HashSet<_>>().len()
}

/// Waits (up to `seconds`) until `inbox` holds `n` distinct messages; answers how many it has.
async fn distinct_arrived(inbox: impl Fn() -> Vec<ReceivedMail>, n: usize, seconds: u64) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let arrived = distinct(&inbox());
        if arrived >= n || std::time::Instant::now() > deadline {
            return arrived;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn temporary_failures_dropped_connections_and_an_outage_lose_nothing() {
    const N: usize = 600;
    // 10% of messages are answered 421/451, 2% of connections are cut mid-DATA, and 1% of
    // accepted messages never get their 250 to the sender.
    let server = FaultySmtp::start(Faults { transient: 100, cut_mid_data: 20, lose_reply: 10 });
    let app = TestApp::spawn().await;
    let (id, _) = campaign(&app, N as u64).await;
    let mut sender = sender_to(&app, &server.url());
    sender.retry = app::delivery::sender::RetryPolicy { first_ms: 250, max_ms: 2_000, give_up_after_ms: 10 * 60_000 };
    let worker = tokio::spawn(sender.run());

    // A third in, the server goes away for 30 s.
    assert!(distinct_arrived(|| server.messages(), N / 3, 120).await >= N / 3, "a third arrives before the outage");
    server.outage(30);
    let during = distinct_arrived(|| server.messages(), N, 25).await;
    assert!(during < N, "the outage stops delivery");
    let arrived = distinct_arrived(|| server.messages(), N, 240).await;
    // A message whose 250 was lost may still be waiting for its resend after every distinct
    // one has arrived: stop the worker only once nothing of the campaign is queued or sending.
    wait_settled(&app, id, 60).await;
    worker.abort();
    assert_eq!(arrived, N, "every message is delivered");

    let mails = server.messages();
    let duplicates = mails.len() - N;
    let (transient, cut_mid_data, lost_replies) = server.counts();
    let retried = count(
        &app,
        "SELECT COUNT(*) FROM delivery_attempts a JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = $1 AND a.outcome = 'retry'",
        id,
    )
    .await;
    println!(
        "faults: {N} messages; {transient} answered 421/451, {cut_mid_data} connections cut mid-DATA, {lost_replies} replies to accepted \
         messages lost, a 30 s outage; {retried} tries retried; {} received, {duplicates} duplicates",
        mails.len()
    );
    assert!(transient > 0 && cut_mid_data > 0 && lost_replies > 0, "the faults happened");
    // A message arrives twice exactly when the server kept it and its 250 was lost (the
    // outage cuts connections too, but only between commands or mid-DATA here).
    assert_eq!(duplicates as u64, lost_replies, "duplicates are the lost replies, each retried once more");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'sent'", id).await, N as i64);
}

/// Not a test by itself: the server process the crash and two-process tests start (and
/// kill), over their database, sending to their SMTP server.
#[tokio::test]
#[ignore = "a server process started by other tests"]
async fn child_server_process() {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(database_url), Some(data_dir), Some(smtp)) =
        (var("STARLING_CHILD_DATABASE_URL"), var("STARLING_CHILD_DATA_DIR"), var("STARLING_CHILD_SMTP_URL"))
    else {
        return;
    };
    let config = server::config::Config {
        database_url,
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.into(),
        smtp_url: Some(secrecy::SecretString::from(smtp)),
        send: true,
        send_lease_secs: var("STARLING_CHILD_LEASE_SECS").and_then(|s| s.parse().ok()).unwrap_or(60),
        ..server::config::Config::default()
    };
    let mut config = config;
    if let Some(amazon) = var("STARLING_CHILD_AMAZON_URL") {
        config.amazon_lwa_url = amazon.clone();
        config.amazon_endpoint_na = amazon.clone();
        config.amazon_endpoint_eu = amazon.clone();
        config.amazon_endpoint_fe = amazon;
        config.amazon_client_id = starling_tests::fakes::amazon::CLIENT_ID.into();
        config.amazon_client_secret = Some(secrecy::SecretString::from(starling_tests::fakes::amazon::CLIENT_SECRET.to_string()));
        config.connector_retry_first_ms = 50;
        config.sync = false;
    }
    let running = server::start(config).await.expect("the child server starts");
    let _ = running.task.await;
}

/// (messages received, distinct Message-IDs).
fn received(sink: &SmtpSink) -> (usize, usize) {
    let mails = sink.messages();
    (mails.len(), distinct(&mails))
}

/// Waits (up to `secs`) until no message of the campaign is queued or sending.
async fn wait_settled(app: &TestApp, campaign_id: i64, secs: u64) {
    for _ in 0..secs * 5 {
        let open = count(app, "SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state IN ('queued', 'sending')", campaign_id).await;
        if open == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn count(app: &TestApp, sql: &str, campaign_id: i64) -> i64 {
    sqlx::query_scalar(sql).bind(campaign_id).fetch_one(&app.db.pool).await.unwrap()
}

#[tokio::test]
async fn a_server_killed_mid_send_loses_nothing_and_duplicates_only_what_was_in_flight() {
    const N: usize = 20_000;
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (id, _) = campaign(&app, N as u64).await;
    let mut first = ChildServer::start(&app, &sink.url(), 2);
    assert!(distinct_arrived(|| sink.messages(), N / 4, 300).await >= N / 4, "a quarter arrives before the crash");
    first.kill9();
    let in_flight =
        count(&app, "SELECT COUNT(*) FROM delivery_attempts a JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = $1 AND a.finished_at IS NULL", id)
            .await;
    let claimed = count(&app, "SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'sending'", id).await;
    let before_restart = received(&sink);

    let second = ChildServer::start(&app, &sink.url(), 2);
    let arrived = distinct_arrived(|| sink.messages(), N, 600).await;
    // The last messages' group commit follows their arrival: wait for it before stopping.
    for _ in 0..150 {
        if count(&app, "SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'sent'", id).await == N as i64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(second);
    let (total, distinct) = received(&sink);
    let unknown =
        count(&app, "SELECT COUNT(*) FROM delivery_attempts a JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = $1 AND a.outcome = 'unknown'", id)
            .await;
    let duplicates = total - distinct;
    println!(
        "crash: {N} messages; killed after {} received ({} distinct); {claimed} claimed and {in_flight} tries in flight at the kill, \
         {unknown} settled as unknown ({} found accepted in the journal); after the restart {distinct} distinct of {total} received: {} lost, {duplicates} duplicates",
        before_restart.0,
        before_restart.1,
        in_flight - unknown,
        N - arrived
    );
    assert_eq!(arrived, N, "nothing is lost");
    assert!(claimed <= 200 && in_flight <= claimed, "at most the configured batch (both lanes together) is claimed");
    // What the relay accepted is in the journal at once, so only messages whose SMTP
    // transaction was open at the kill can arrive twice: at most the send concurrency.
    let concurrency = server::config::Config::default().send_concurrency as i64;
    assert!(duplicates as i64 <= concurrency, "{duplicates} duplicates: at most the {concurrency} sends in flight");
    assert!(unknown <= in_flight, "tries the journal shows as accepted are recorded as sent, the rest as unknown");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'sent'", id).await, N as i64);
}

#[tokio::test]
async fn two_server_processes_on_postgresql_send_each_message_once() {
    if TestDb::from_env() != TestDb::Postgres {
        eprintln!("skipped: several sending processes share one PostgreSQL; SQLite has a single writer");
        return;
    }
    const N: usize = 3_000;
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (id, _) = campaign(&app, N as u64).await;
    let a = ChildServer::start(&app, &sink.url(), 60);
    let b = ChildServer::start(&app, &sink.url(), 60);
    let arrived = distinct_arrived(|| sink.messages(), N, 300).await;
    drop((a, b));
    let (total, distinct) = received(&sink);
    let workers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT a.worker FROM delivery_attempts a JOIN messages m ON m.id = a.message_id WHERE m.campaign_id = $1",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    println!("two processes: {distinct} distinct of {total} received, sent by {workers:?}");
    assert_eq!(arrived, N);
    assert_eq!(total, N, "no message twice");
    assert_eq!(workers.len(), 2, "both processes sent: {workers:?}");
}

#[tokio::test]
async fn sends_to_one_recipient_domain_keep_to_its_rate() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (_, _) = campaign(&app, 60).await;
    let mut limited = sender(&app, &sink);
    // Every buyer is at example.test: 20 a second, after the bucket's first second's worth.
    limited.limits = Arc::new(app::delivery::limits::DomainLimits::parse("example.test=20,gmail.com=1000").unwrap());
    let started = std::time::Instant::now();
    let stats = limited.pass(now_millis()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(stats.sent, 60, "{stats:?}");
    assert!(took >= std::time::Duration::from_millis(1_900), "60 messages at 20/s with a burst of 20 take 2 s at least: {took:?}");

    // Another domain's limit does not hold these back.
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let (_, _) = campaign(&app, 60).await;
    let mut other = sender(&app, &sink);
    other.limits = Arc::new(app::delivery::limits::DomainLimits::parse("gmail.com=1").unwrap());
    let started = std::time::Instant::now();
    assert_eq!(other.pass(now_millis()).await.unwrap().sent, 60);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "unlimited domains are not slowed to gmail.com's rate");
}

/// An unsubscribe link older than a year unsubscribes nobody by itself, but still gets a
/// buyer off the list once they type the address the message went to; the answer is the
/// same for any address.
#[tokio::test]
async fn an_expired_unsubscribe_link_asks_for_the_address_and_honours_it() {
    let app = TestApp::spawn_with(|c| c.secret_key = Some(secrecy::SecretString::from("expiry-test-key".to_string()))).await;
    campaign(&app, 4).await;
    let (message_id, email): (i64, String) =
        sqlx::query_as("SELECT m.id, c.email FROM messages m JOIN customers c ON c.id = m.customer_id WHERE m.client_id = 1 AND c.email <> '' ORDER BY m.id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let issued_at = now_millis() - app::delivery::tokens::UNSUBSCRIBE_LIFETIME_MS - 86_400_000;
    let claims =
        app::delivery::tokens::Claims { purpose: app::delivery::tokens::Purpose::Unsubscribe, message_id, issued_at, url: String::new() };
    let link = app.url(&format!("/t/u/1/{}", app::delivery::tokens::sign("expiry-test-key", 1, &claims)));
    let http = reqwest::Client::new();
    let suppressed = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM suppressions WHERE value = $1 AND reason = 'unsubscribed'")
            .bind(&email)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        n
    };
    let page = http.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("more than a year old") && page.contains("name=\"email\""), "{page}");
    // The one-click POST of an old mail cannot name the address: it gets the form.
    let one_click = http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert!(one_click.text().await.unwrap().contains("name=\"email\""));
    assert_eq!(suppressed().await, 0, "an expired token alone unsubscribes nobody");
    let form = |address: &str| http.post(&link).form(&[("email", address)]).send();
    let wrong = form("someone-else@example.com").await.unwrap().text().await.unwrap();
    assert_eq!(suppressed().await, 0);
    let right = form(&email.to_uppercase()).await.unwrap().text().await.unwrap();
    assert_eq!(suppressed().await, 1, "the buyer who typed their address is off the list");
    assert_eq!(
        wrong.replace("someone-else@example.com", "X"),
        right.replace(&email.to_uppercase().to_lowercase(), "X"),
        "the same answer whatever the address"
    );
    // A forged token is still just not found.
    assert_eq!(http.get(app.url("/t/u/1/abc.def")).send().await.unwrap().status(), 404);
}
