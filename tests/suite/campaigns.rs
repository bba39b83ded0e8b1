//! The campaign planner over the demo data: each decision recorded once per (campaign,
//! order), never two messages per (order, purpose) across re-runs, other campaigns and (on
//! PostgreSQL) planners running at the same time; suppression, consent and status rules
//! hold in what was planned.

use app::campaigns::eligibility::Trigger;
use app::campaigns::model::CampaignState;
use app::campaigns::planner::{self, CampaignRules};
use app::db::{now_millis, Backend};
use app::outbox::model::EventKind;
use app::templates::model::Purpose;
use starling_tests::*;

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.pool).await.unwrap();
    n
}

/// A running campaign of the brand whose template has an approved version.
async fn campaign(app: &TestApp, purpose: Purpose, weights: Vec<u32>) -> i64 {
    let (template_id, client_id, brand_id) = approved_template(app).await;
    // Every buyer falls back to the approved German version.
    let rules = CampaignRules { fallback_locales: vec!["de".into()], ..CampaignRules::new(Trigger::Batch).weighted(&weights) };
    let id = planner::create(&app.db, client_id, brand_id, Some(template_id), "Test", purpose, &rules, "test").await.unwrap();
    planner::set_state(&app.db, id, CampaignState::Running).await.unwrap();
    id
}

#[tokio::test]
async fn planning_decides_each_order_once_and_never_doubles_a_message() {
    let app = TestApp::spawn().await;
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let first = campaign(&app, Purpose::ReviewRequest, vec![50, 50]).await;
    let now = now_millis();
    let brand_orders =
        count(&app, &format!("SELECT COUNT(*) FROM orders WHERE brand_id = (SELECT brand_id FROM campaigns WHERE id = {first})")).await;
    // Among the buyers of live orders: three in Germany without consent, one unsubscribed.
    let buyers: Vec<(i64, i64, String)> = sqlx::query_as(&format!(
        "SELECT DISTINCT c.id, c.client_id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE o.brand_id = (SELECT brand_id FROM campaigns WHERE id = {first}) AND o.status IN ('delivered', 'fulfilled', 'pending') \
         AND c.email <> '' ORDER BY c.id LIMIT 4"
    ))
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(buyers.len(), 4, "the demo brand has buyers of live orders");
    for (id, _, _) in &buyers[..3] {
        sqlx::query(&format!("UPDATE customers SET country = 'DE' WHERE id = {id}")).execute(&app.db.pool).await.unwrap();
        sqlx::query(&format!("DELETE FROM consents WHERE customer_id = {id}")).execute(&app.db.pool).await.unwrap();
    }
    let (_, client_id, unsubscribed) = &buyers[3];
    let brand_id = count(&app, &format!("SELECT brand_id FROM campaigns WHERE id = {first}")).await;
    let scope = app::orders::privacy::Scope { client_id: Some(*client_id), brand_id: Some(brand_id) };
    app::orders::privacy::suppress(&app.db, &salt, scope, unsubscribed, app::orders::model::Reason::Unsubscribed, "test", "test")
        .await
        .unwrap();

    let stats = planner::plan(&app.db, &salt, first, now).await.unwrap();
    assert_eq!(stats.looked_at as i64, brand_orders, "{stats:?}");
    assert_eq!(stats.planned + stats.excluded + stats.waiting, stats.looked_at);
    assert!(stats.planned > 0, "something is planned: {stats:?}");
    let rule = |key: &str| stats.by_rule.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n);
    assert!(rule("status") > 0, "refunded, returned and cancelled orders are excluded: {stats:?}");
    assert!(rule("no_consent") > 0, "German buyers without consent are excluded: {stats:?}");
    assert!(rule("suppressed") > 0, "the unsubscribed buyer is excluded: {stats:?}");
    let decided = count(&app, &format!("SELECT COUNT(*) FROM campaign_decisions WHERE campaign_id = {first}")).await;
    assert_eq!(decided as u64, stats.planned + stats.excluded);
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM campaign_decisions WHERE campaign_id = {first} AND outcome = 'exclude' AND detail = ''")
        )
        .await,
        0,
        "every exclusion says why"
    );

    // What was planned obeys the rules.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages m JOIN orders o ON o.id = m.order_id WHERE o.status IN ('refunded', 'returned', 'cancelled')"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages m JOIN customers c ON c.id = m.customer_id WHERE c.country IN ('DE', 'AT') \
                     AND NOT EXISTS (SELECT 1 FROM consents k WHERE k.customer_id = c.id AND k.channel = 'email')"
        )
        .await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM messages m JOIN customers c ON c.id = m.customer_id JOIN suppressions s ON s.value = c.email")
            .await,
        0,
        "no suppressed address is planned"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM messages m JOIN template_versions v ON v.id = m.template_version_id WHERE v.status <> 'approved'"
        )
        .await,
        0
    );
    let variants = count(&app, &format!("SELECT COUNT(DISTINCT variant) FROM messages WHERE campaign_id = {first}")).await;
    assert!(variants >= 1 && variants <= 2);

    // Re-running (a restart) plans nothing new.
    let again = planner::plan(&app.db, &salt, first, now + 60_000).await.unwrap();
    assert_eq!((again.planned, again.excluded), (0, 0), "{again:?}");
    assert_eq!(again.looked_at, stats.waiting);

    // Another campaign of the same purpose cannot ask the same orders again.
    let second = campaign(&app, Purpose::ReviewRequest, vec![]).await;
    let other = planner::plan(&app.db, &salt, second, now).await.unwrap();
    assert_eq!(other.planned, 0, "{other:?}");
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM campaign_decisions WHERE campaign_id = {second} AND rule = 'already_asked'")).await
            as u64,
        stats.planned
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM (SELECT order_id, purpose FROM messages GROUP BY order_id, purpose HAVING COUNT(*) > 1) d").await,
        0
    );

    // A paused campaign plans nothing.
    let third = campaign(&app, Purpose::Care, vec![]).await;
    planner::set_state(&app.db, third, CampaignState::Paused).await.unwrap();
    assert_eq!(planner::plan(&app.db, &salt, third, now).await.unwrap().looked_at, 0);
}

/// Several planners at once (PostgreSQL: several server processes) never plan an order
/// twice. SQLite has a single writer, so there the planners run one after the other.
#[tokio::test]
async fn concurrent_planners_never_double_plan() {
    let app = TestApp::spawn().await;
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let id = campaign(&app, Purpose::Care, vec![]).await;
    let now = now_millis();
    let (a, b) = if app.db.backend == Backend::Postgres {
        tokio::join!(planner::plan(&app.db, &salt, id, now), planner::plan(&app.db, &salt, id, now))
    } else {
        let a = planner::plan(&app.db, &salt, id, now).await;
        (a, planner::plan(&app.db, &salt, id, now).await)
    };
    let (a, b) = (a.unwrap(), b.unwrap());
    let messages = count(&app, &format!("SELECT COUNT(*) FROM messages WHERE campaign_id = {id}")).await;
    assert!(messages > 0);
    assert_eq!(messages as u64, a.planned + b.planned, "{a:?} {b:?}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM (SELECT order_id, purpose FROM messages GROUP BY order_id, purpose HAVING COUNT(*) > 1) d").await,
        0
    );
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM (SELECT order_id FROM campaign_decisions WHERE campaign_id = {id} GROUP BY order_id HAVING COUNT(*) > 1) d")).await, 0);
}

/// Over HTTP as the account manager: bad input names its fields; a campaign is created,
/// its audience previewed with reasons, launched (planned at once), paused; each change is
/// audit-logged. The page lists it.
#[tokio::test]
async fn a_manager_creates_previews_and_launches_a_campaign() {
    let app = TestApp::spawn().await;
    let manager = app.signed_in("am@starling.test").await;
    let bad = manager
        .rpc(
            "create_campaign",
            serde_json::json!({ "form": { "client_id": 1, "template_id": 1, "name": " ", "trigger": "delivery",
            "days": 400, "countries": "DE, Germany", "fallback": "en",
            "variants": [{ "weight": "50", "subject": "", "delay_hours": "" }, { "weight": "0", "subject": "Gib uns 5 Sterne", "delay_hours": "x" }],
            "canary": true, "canary_share": "80", "bounce_pct": "5", "complaint_pct": "0.1", "unsubscribe_pct": "2", "hold_hours": "24" } }),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["name", "days", "countries", "variant-1-weight", "variant-1-subject", "variant-1-delay", "canary_share"] {
        assert!(bad.body.contains(&format!("\"{field}\"")), "{field} is named: {}", bad.body);
    }
    let created = manager
        .rpc(
            "create_campaign",
            serde_json::json!({ "form": { "client_id": 1, "template_id": 1, "name": "Bewertung sofort", "trigger": "batch",
            "days": 0, "countries": "", "fallback": "de",
            "variants": [{ "weight": "50", "subject": "", "delay_hours": "" }, { "weight": "50", "subject": "Wie gefällt Ihnen {{ product.name }}?", "delay_hours": "0" }] } }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json().as_i64().unwrap();

    let preview = manager.rpc("preview_campaign", serde_json::json!({ "id": id })).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let p = preview.json();
    let would_send = p["would_send"].as_u64().unwrap();
    assert!(p["looked_at"].as_u64().unwrap() >= would_send + 1);
    let rules: Vec<&str> = p["excluded"].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap()).collect();
    assert!(rules.contains(&"status"), "{rules:?}");
    assert!(p["excluded"].as_array().unwrap().iter().all(|e| !e[1].as_str().unwrap().is_empty() && !e[3].as_array().unwrap().is_empty()));
    // Previewing writes nothing.
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM campaign_decisions WHERE campaign_id = {id}")).await, 0);

    let launched = manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Launch" })).await;
    assert_eq!((launched.status, launched.json()), (200, serde_json::json!("running")), "{}", launched.body);
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM messages WHERE campaign_id = {id}")).await as u64, would_send);
    let again = manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Launch" })).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let paused = manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Pause" })).await;
    assert_eq!(paused.json(), serde_json::json!("paused"));
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action IN ('campaign.create', 'campaign.launch', 'campaign.pause')").await,
        3
    );

    // A paused campaign can change its rules but not its A/B variants; the change is
    // recorded with what changed.
    let mut form = manager.rpc("campaign_form", serde_json::json!({ "id": id })).await.json();
    assert_eq!(form["variants"].as_array().unwrap().len(), 2, "{form}");
    form["variants"][1]["weight"] = serde_json::json!("70");
    let refused = manager.rpc("update_campaign", serde_json::json!({ "id": id, "form": form.clone() })).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("\"variants\""), "{}", refused.body);
    form["variants"][1]["weight"] = serde_json::json!("50");
    form["canary"] = serde_json::json!(true);
    form["canary_share"] = serde_json::json!("10");
    let changed = manager.rpc("update_campaign", serde_json::json!({ "id": id, "form": form })).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let (detail,): (String,) = sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'campaign.edit' AND subject = $1")
        .bind(format!("campaign {id}"))
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(detail.starts_with("canary: null → {"), "{detail}");
    let running_edit = {
        manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Resume" })).await;
        let form = manager.rpc("campaign_form", serde_json::json!({ "id": id })).await.json();
        manager.rpc("update_campaign", serde_json::json!({ "id": id, "form": form })).await
    };
    assert_eq!(running_edit.status, 409, "a running campaign is paused before it changes: {}", running_edit.body);
    manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Pause" })).await;

    let page = manager.get("/clients/1/campaigns").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Bewertung sofort") && page.body.contains("paused"), "the list shows the campaign");
    // The client's viewer may not run campaigns.
    let viewer = app.signed_in("viewer@nordlicht.test").await;
    assert_eq!(viewer.rpc("preview_campaign", serde_json::json!({ "id": id })).await.status, 403);
    assert_eq!(viewer.get("/clients/1/campaigns").await.status, 403);
}

/// A running care campaign of the first approved template with these rules, planned once,
/// on orders made for it alone (every demo order is excluded first).
async fn running(app: &TestApp, rules: CampaignRules, orders: u64) -> i64 {
    let id = campaign(app, Purpose::Care, vec![]).await;
    sqlx::query("UPDATE campaigns SET rules = $1, phase = $2 WHERE id = $3")
        .bind(serde_json::to_string(&rules).unwrap())
        .bind(if rules.canary.is_some() { "canary" } else { "full" })
        .bind(id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET status = 'cancelled'").execute(&app.db.pool).await.unwrap();
    delivered_orders(app, brand_of(app, id).await, 0, orders).await;
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let stats = planner::plan(&app.db, &salt, id, now_millis()).await.unwrap();
    assert_eq!(stats.planned, orders, "{stats:?}");
    id
}

/// A running batch campaign of `orders` orders with a canary of `share`: its id and the
/// canary's queued messages.
async fn with_canary(app: &TestApp, share: f64, orders: u64) -> (i64, Vec<i64>) {
    let canary = app::campaigns::canary::CanaryRule { share, ..Default::default() };
    let rules = CampaignRules { fallback_locales: vec!["de".into()], canary: Some(canary), ..CampaignRules::new(Trigger::Batch) };
    let id = running(app, rules, orders).await;
    (id, messages_of(app, id, "canary = 1 AND state = 'queued'").await)
}

async fn brand_of(app: &TestApp, campaign_id: i64) -> i64 {
    sqlx::query_scalar("SELECT brand_id FROM campaigns WHERE id = $1").bind(campaign_id).fetch_one(&app.db.pool).await.unwrap()
}

async fn messages_of(app: &TestApp, campaign_id: i64, filter: &str) -> Vec<i64> {
    sqlx::query_scalar(&format!("SELECT id FROM messages WHERE campaign_id = {campaign_id} AND {filter} ORDER BY id"))
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

async fn state_of(app: &TestApp, campaign_id: i64) -> (String, String, String) {
    sqlx::query_as("SELECT state, phase, halt_reason FROM campaigns WHERE id = $1").bind(campaign_id).fetch_one(&app.db.pool).await.unwrap()
}

/// The canary goes first and the rest is held; bounces one past the 5% threshold halt the
/// campaign with the numbers (not one before); replaying a report changes nothing; the
/// manager resumes it, which releases the held audience.
#[tokio::test]
async fn a_canary_halts_at_its_threshold_and_resumes() {
    use app::campaigns::monitor::{self, Outcome};
    let app = TestApp::spawn().await;
    let (id, first) = with_canary(&app, 0.2, 400).await;
    let held = messages_of(&app, id, "canary = 0 AND state = 'held'").await;
    assert_eq!(first.len() + held.len(), 400);
    assert!((50..=110).contains(&first.len()), "about 20% go first: {}", first.len());

    // All canary messages go out; a bounce rate at the threshold holds, one past halts.
    let now = now_millis();
    for &m in &first {
        assert!(monitor::record_event(&app.db, m, EventKind::Sent, &format!("smtp-{m}"), now, "250 OK").await.unwrap());
    }
    let allowed = (first.len() as f64 * 0.05).floor() as usize;
    for &m in &first[..allowed] {
        monitor::record_event(&app.db, m, EventKind::Bounced, &format!("dsn-{m}"), now, "550 5.1.1").await.unwrap();
    }
    assert_eq!(state_of(&app, id).await.0, "running", "{allowed} of {} bounced is not past 5%", first.len());
    // A replayed report is not a second bounce.
    assert!(!monitor::record_event(&app.db, first[0], EventKind::Bounced, &format!("dsn-{}", first[0]), now, "550 5.1.1").await.unwrap());
    assert_eq!(monitor::counts(&app.db, id, true, 0).await.unwrap().bounced, allowed as u64);
    let last = first[allowed];
    assert!(monitor::record_event(&app.db, last, EventKind::Bounced, &format!("dsn-{last}"), now, "550 5.1.1").await.unwrap());
    let (state, phase, reason) = state_of(&app, id).await;
    assert_eq!((state.as_str(), phase.as_str()), ("halted", "canary"));
    assert!(
        reason.starts_with(&format!(
            "bounce rate {:.2}% ({} of {} sent) passed the 5.00% threshold",
            (allowed + 1) as f64 / first.len() as f64 * 100.0,
            allowed + 1,
            first.len()
        )),
        "{reason}"
    );
    assert_eq!(messages_of(&app, id, "state = 'held'").await.len(), held.len(), "nothing more goes while halted");
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'campaign.halt' AND subject = 'campaign {id}'")).await,
        1
    );

    // The page says why; the manager resumes, which accepts the breach and releases the rest.
    let manager = app.signed_in("am@starling.test").await;
    let detail = manager.rpc("campaign_detail", serde_json::json!({ "id": id })).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert_eq!(detail.json()["halt_reason"].as_str().unwrap(), reason);
    assert_eq!(detail.json()["canary"]["bounced"].as_u64().unwrap(), allowed as u64 + 1);
    let page = manager.get(&format!("/clients/1/campaigns/{id}")).await;
    assert!(page.body.contains("passed the 5.00% threshold"), "the page shows the reason");
    let resumed = manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Resume" })).await;
    assert_eq!(resumed.json(), serde_json::json!("running"), "{}", resumed.body);
    let (state, phase, reason) = state_of(&app, id).await;
    assert_eq!((state.as_str(), phase.as_str(), reason.as_str()), ("running", "full", ""));
    assert_eq!(messages_of(&app, id, "state = 'held'").await.len(), 0);
    assert_eq!(messages_of(&app, id, "state = 'queued'").await.len(), held.len());
    // Judged afresh from the resume: the old bounces do not halt it again.
    assert_eq!(monitor::evaluate(&app.db, id, now_millis()).await.unwrap(), Outcome::Unchanged);
    assert_eq!(state_of(&app, id).await.0, "running");
}

/// A clean canary releases the rest only after its watch period; cancelling a campaign
/// cancels what it has not sent.
#[tokio::test]
async fn a_clean_canary_releases_the_rest_after_its_watch() {
    use app::campaigns::monitor::{self, Outcome};
    let app = TestApp::spawn().await;
    // The default watch: 24 hours after the canary's last message.
    let (id, first) = with_canary(&app, 0.1, 300).await;
    let held = messages_of(&app, id, "state = 'held'").await.len();
    let sent_at = now_millis();
    for &m in &first[..first.len() - 1] {
        monitor::record_event(&app.db, m, EventKind::Sent, &format!("smtp-{m}"), sent_at, "250 OK").await.unwrap();
    }
    let hour = 3_600_000;
    assert_eq!(
        monitor::evaluate(&app.db, id, sent_at + 25 * hour).await.unwrap(),
        Outcome::Unchanged,
        "one canary message is still queued"
    );
    let m = *first.last().unwrap();
    monitor::record_event(&app.db, m, EventKind::Sent, &format!("smtp-{m}"), sent_at, "250 OK").await.unwrap();
    assert_eq!(monitor::evaluate(&app.db, id, sent_at + 23 * hour).await.unwrap(), Outcome::Unchanged, "watched for 24 hours");
    assert_eq!(monitor::evaluate(&app.db, id, sent_at + 24 * hour).await.unwrap(), Outcome::Released { messages: held as u64 });
    assert_eq!(state_of(&app, id).await.1, "full");
    assert_eq!(messages_of(&app, id, "state = 'queued'").await.len(), held);

    let manager = app.signed_in("am@starling.test").await;
    let cancelled = manager.rpc("campaign_step", serde_json::json!({ "id": id, "step": "Cancel" })).await;
    assert_eq!(cancelled.json(), serde_json::json!("cancelled"));
    assert_eq!(messages_of(&app, id, "state = 'cancelled'").await.len(), held);
    assert_eq!(messages_of(&app, id, "state = 'sent'").await.len(), first.len());
}

/// Two variants, B clicked far more: the test declares B once every variant has enough
/// delivered messages, records it once, and with auto-promotion the orders planned after
/// that all get B. Per-variant counts are unique per message.
#[tokio::test]
async fn an_ab_winner_is_declared_recorded_and_promoted() {
    use app::campaigns::monitor;
    let app = TestApp::spawn().await;
    let rules =
        CampaignRules { fallback_locales: vec!["de".into()], auto_promote: true, ..CampaignRules::new(Trigger::Batch).weighted(&[50, 50]) };
    let id = running(&app, rules, 600).await;
    let by_variant: Vec<(i64, i64)> = sqlx::query_as(&format!("SELECT id, variant FROM messages WHERE campaign_id = {id} ORDER BY id"))
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let now = now_millis();
    for (i, &(m, variant)) in by_variant.iter().enumerate() {
        monitor::record_event(&app.db, m, EventKind::Sent, &format!("smtp-{m}"), now, "").await.unwrap();
        // A: every 10th clicks (10%); B: every 3rd (33%); some click twice.
        if i % if variant == 0 { 10 } else { 3 } == 0 {
            monitor::record_event(&app.db, m, EventKind::Clicked, &format!("click-{m}-1"), now, "").await.unwrap();
            monitor::record_event(&app.db, m, EventKind::Clicked, &format!("click-{m}-2"), now, "").await.unwrap();
        }
    }
    let manager = app.signed_in("am@starling.test").await;
    let detail = manager.rpc("campaign_detail", serde_json::json!({ "id": id })).await.json();
    assert_eq!(detail["winner"], serde_json::json!("B"), "{detail}");
    let variants = detail["variants"].as_array().unwrap();
    for (v, every) in [(0usize, 10usize), (1, 3)] {
        let ids: Vec<usize> = by_variant.iter().enumerate().filter(|(_, (_, var))| *var == v as i64).map(|(i, _)| i).collect();
        let expected = ids.iter().filter(|&&i| i % every == 0).count() as u64;
        assert_eq!(variants[v]["delivered"].as_u64().unwrap(), ids.len() as u64);
        assert_eq!(variants[v]["successes"].as_u64().unwrap(), expected, "clicks count once per message");
    }
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'campaign.winner' AND subject = 'campaign {id}'")).await,
        1
    );
    // Orders arriving later all get the winner.
    delivered_orders(&app, brand_of(&app, id).await, 10_000, 50).await;
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let later = planner::plan(&app.db, &salt, id, now_millis()).await.unwrap();
    assert_eq!(later.planned, 50, "{later:?}");
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM messages WHERE campaign_id = {id} AND id > {} AND variant <> 1", by_variant.last().unwrap().0)
        )
        .await,
        0
    );
}

/// Complaints halt a canary only when two different buyers complained: one buyer (who
/// could post a report about their own message) complaining about two messages is one.
#[tokio::test]
async fn one_buyer_complaining_does_not_halt_a_canary_and_two_buyers_do() {
    use app::campaigns::monitor;
    let app = TestApp::spawn().await;
    let (id, first) = with_canary(&app, 0.5, 200).await;
    let now = now_millis();
    for &m in &first {
        monitor::record_event(&app.db, m, EventKind::Sent, &format!("smtp-{m}"), now, "250 OK").await.unwrap();
    }
    // The same buyer on two messages (as a buyer with two orders would be).
    let (buyer,): (i64,) =
        sqlx::query_as("SELECT customer_id FROM messages WHERE id = $1").bind(first[0]).fetch_one(&app.db.pool).await.unwrap();
    sqlx::query("UPDATE messages SET customer_id = $1 WHERE id = $2").bind(buyer).bind(first[1]).execute(&app.db.pool).await.unwrap();
    for &m in &first[..2] {
        monitor::record_event(&app.db, m, EventKind::Complained, &format!("arf-{m}"), now, "abuse").await.unwrap();
    }
    assert_eq!(monitor::counts(&app.db, id, true, 0).await.unwrap().complained, 1, "one buyer");
    assert_eq!(state_of(&app, id).await.0, "running", "one buyer alone does not halt ({} delivered)", first.len());
    let other = first[2];
    monitor::record_event(&app.db, other, EventKind::Complained, &format!("arf-{other}"), now, "abuse").await.unwrap();
    let (state, _, reason) = state_of(&app, id).await;
    assert_eq!(state, "halted");
    assert!(reason.starts_with("complaint rate"), "{reason}");
}
