//! The campaign planner over the demo data: each decision recorded once per (campaign,
//! order), never two messages per (order, purpose) across re-runs, other campaigns and (on
//! PostgreSQL) planners running at the same time; suppression, consent and status rules
//! hold in what was planned.

use app::campaigns::eligibility::{Audience, Trigger};
use app::campaigns::planner::{self, CampaignRules};
use app::db::{now_millis, Backend};
use app::templates::model::Purpose;
use starling_tests::*;

async fn count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&app.db.pool).await.unwrap();
    n
}

/// A running campaign of the brand whose template has an approved version.
async fn campaign(app: &TestApp, purpose: Purpose, weights: Vec<u32>) -> i64 {
    let (template_id, client_id, brand_id): (i64, i64, i64) = sqlx::query_as(
        "SELECT t.id, t.client_id, t.brand_id FROM templates t WHERE EXISTS \
         (SELECT 1 FROM template_versions v WHERE v.template_id = t.id AND v.status = 'approved') ORDER BY t.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let rules = CampaignRules {
        trigger: Trigger::Batch,
        audience: Audience::default(),
        cap: Default::default(),
        window: Default::default(),
        // Every buyer falls back to the approved German version.
        fallback_locales: vec!["de".into()],
        weights,
    };
    let id = planner::create(&app.db, client_id, brand_id, template_id, "Test", purpose, &rules, "test").await.unwrap();
    planner::set_state(&app.db, id, "running").await.unwrap();
    id
}

#[tokio::test]
async fn planning_decides_each_order_once_and_never_doubles_a_message() {
    let app = TestApp::spawn().await;
    let salt = app::orders::privacy::salt(&app.db).await.unwrap();
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
    planner::set_state(&app.db, third, "paused").await.unwrap();
    assert_eq!(planner::plan(&app.db, &salt, third, now).await.unwrap().looked_at, 0);
}

/// Several planners at once (PostgreSQL: several server processes) never plan an order
/// twice. SQLite has a single writer, so there the planners run one after the other.
#[tokio::test]
async fn concurrent_planners_never_double_plan() {
    let app = TestApp::spawn().await;
    let salt = app::orders::privacy::salt(&app.db).await.unwrap();
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
            "days": 400, "countries": "DE, Germany", "fallback": "en", "weights": "50" } }),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["name", "days", "countries", "weights"] {
        assert!(bad.body.contains(&format!("\"{field}\"")), "{field} is named: {}", bad.body);
    }
    let created = manager
        .rpc(
            "create_campaign",
            serde_json::json!({ "form": { "client_id": 1, "template_id": 1, "name": "Bewertung sofort", "trigger": "batch",
            "days": 0, "countries": "", "fallback": "de", "weights": "50,50" } }),
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

    let page = manager.get("/clients/1/campaigns").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Bewertung sofort") && page.body.contains("paused"), "the list shows the campaign");
    // The client's viewer may not run campaigns.
    let viewer = app.signed_in("viewer@nordlicht.test").await;
    assert_eq!(viewer.rpc("preview_campaign", serde_json::json!({ "id": id })).await.status, 403);
    assert_eq!(viewer.get("/clients/1/campaigns").await.status, 403);
}
