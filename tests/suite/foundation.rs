//! Foundation over HTTP: health, sign-in and its cookie, CSRF, throttling, bad input and
//! the audit trail.

use serde_json::json;
use starling_tests::*;

#[tokio::test]
async fn healthz_answers_200_while_the_database_is_reachable_and_503_after() {
    let app = TestApp::spawn().await;
    let answer = app.client().get("/healthz").await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    app.db.pool.close().await;
    let answer = app.client().get("/healthz").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("database"), "{}", answer.body);
}

#[tokio::test]
async fn signing_in_sets_an_http_only_session_cookie_and_signing_out_ends_it() {
    let app = TestApp::spawn().await;
    let client = app.client();
    assert_eq!(client.get("/").await.status, 303, "pages need a session");
    let (email, password) = login(MANAGER);
    let answer = client.rpc("sign_in", json!({ "email": email, "password": password })).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.headers.get("set-cookie").expect("a session cookie").to_str().unwrap().to_string();
    assert!(cookie.starts_with("starling_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains(password), "the cookie never carries the password");

    let me = client.rpc("current_user", json!({})).await.json();
    assert_eq!(me["email"], MANAGER);
    assert_eq!(me["role"], "account_manager");
    let page = client.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Max Manager"), "the user menu names the user");

    assert_eq!(client.rpc("sign_out", json!({})).await.status, 200);
    assert_eq!(client.rpc("current_user", json!({})).await.json(), serde_json::Value::Null);
    assert_eq!(client.get("/").await.status, 303);
}

#[tokio::test]
async fn a_wrong_password_gets_a_message_and_no_cookie() {
    let app = TestApp::spawn().await;
    let answer = app.client().rpc("sign_in", json!({ "email": MANAGER, "password": "not-it-at-all" })).await;
    assert_eq!(answer.status, 422);
    assert!(answer.headers.get("set-cookie").is_none());
    assert!(answer.body.contains("The e-mail address or the password is wrong."), "{}", answer.body);
    // An unknown address gets the very same answer, so accounts cannot be discovered.
    let unknown = app.client().rpc("sign_in", json!({ "email": "nobody@x.test", "password": "whatever-1" })).await;
    assert_eq!((unknown.status, unknown.body), (answer.status, answer.body));
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for attempt in 1..=5 {
        let answer = client.rpc("sign_in", json!({ "email": WRITER, "password": format!("guess-{attempt}") })).await;
        assert_eq!(answer.status, 422, "attempt {attempt}: {}", answer.body);
    }
    let (_, password) = login(WRITER);
    let answer = client.rpc("sign_in", json!({ "email": WRITER, "password": password })).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(answer.body.contains("Too many failed sign-ins"), "{}", answer.body);
    assert!(answer.body.contains("15 minutes") || answer.body.contains("14 minutes"), "{}", answer.body);
    // Other accounts are unaffected.
    app.signed_in(MANAGER).await;
}

#[tokio::test]
async fn a_post_without_a_same_site_origin_is_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let signed_in = app.signed_in(ADMIN).await;
    let form = json!({ "form": { "id": null, "name": "Evil Corp", "contact_email": "", "support_email": "" } });
    let bare = reqwest::Client::new();
    let no_origin = bare.post(app.url("/rpc/save_client")).json(&form).send().await.unwrap();
    assert_eq!(no_origin.status(), 403);
    assert!(no_origin.text().await.unwrap().contains("no Origin or Referer"));
    let foreign = bare
        .post(app.url("/rpc/save_client"))
        .header("origin", "https://evil.example")
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.text().await.unwrap().contains("another site"));
    // The same request from the console itself goes through.
    let answer = signed_in.rpc("save_client", form).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_forged_session_cookie_is_treated_as_signed_out() {
    let app = TestApp::spawn().await;
    let forged = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for cookie in ["starling_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "starling_session=", "starling_session=%00%ff'--"] {
        let page = forged.get(app.url("/clients")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(page.status(), 303, "{cookie}");
        assert_eq!(page.headers()["location"], "/sign-in");
        let rpc = forged
            .post(app.url("/rpc/list_users"))
            .header("cookie", cookie)
            .header("origin", &app.base)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(rpc.status(), 401, "{cookie}");
        assert!(rpc.text().await.unwrap().contains("SignInRequired"));
    }
}

#[tokio::test]
async fn a_ten_megabyte_body_gets_413_with_the_limit_named() {
    let app = TestApp::spawn().await;
    let client = app.signed_in(ADMIN).await;
    let big = format!("{{\"form\":{{\"name\":\"{}\"}}}}", "x".repeat(10 * 1024 * 1024));
    let answer = client.post_raw("/rpc/save_client", "application/json", big.into_bytes()).await;
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("limit is 1024 KiB"), "{}", answer.body);
    // The server is fine afterwards.
    assert_eq!(client.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn empty_and_oversized_fields_get_field_messages_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let client = app.signed_in(ADMIN).await;
    let answer = client
        .rpc("save_client", json!({ "form": { "id": null, "name": "  ", "contact_email": "not-an-address", "support_email": "" } }))
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let body = answer.json();
    let errors = body["Invalid"].as_array().expect("field errors");
    let fields: Vec<&str> = errors.iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"contact_email"), "{fields:?}");

    let brand = json!({ "form": {
        "id": null, "client_id": 1, "name": "n".repeat(500), "sender_name": "", "sender_email": "care@elsewhere.test",
        "sending_domain": "mail.brand.test", "default_locale": "xx-notalocale-really", "postal_address": ""
    }});
    let answer = client.rpc("save_brand", brand).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let text = answer.body;
    for field in ["\"name\"", "\"sender_name\"", "\"sender_email\"", "\"postal_address\""] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
    let clients = client.rpc("list_clients", json!({ "query": { "q": "", "sort": "", "desc": false, "page": 1 } })).await.json();
    assert_eq!(clients["total"], 3, "nothing was saved");

    // A request that is not even the right shape is a 400 with the reason, not a 500.
    let answer = client.post_raw("/rpc/save_client", "application/json", b"{\"form\": 12}".to_vec()).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[tokio::test]
async fn sign_ins_and_user_and_client_changes_are_in_the_audit_log_for_the_admin_only() {
    let app = TestApp::spawn().await;
    let _ = app.client().rpc("sign_in", json!({ "email": MANAGER, "password": "wrong-password" })).await;
    let manager = app.signed_in(MANAGER).await;
    let admin = app.signed_in(ADMIN).await;
    let created = admin
        .rpc("create_user", json!({ "user": { "email": "new.am@starling.test", "name": "New Manager", "role": "account_manager", "password": "a-long-password-1", "clients": [1] } }))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let saved = admin
        .rpc("save_client", json!({ "form": { "id": 3, "name": "Maison Verte SAS", "contact_email": "contact@maisonverte.test", "support_email": "" } }))
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);

    let query = json!({ "query": { "q": "", "sort": "", "desc": false, "page": 1 } });
    let log = admin.rpc("list_audit", query.clone()).await.json();
    let actions: Vec<String> = log["rows"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_string()).collect();
    for expected in ["sign_in_failed", "signed_in", "user_created", "client_updated"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} not in {actions:?}");
    }
    assert!(!log.to_string().contains("a-long-password-1"), "passwords never reach the audit log");
    assert_eq!(manager.rpc("list_audit", query).await.status, 403);
}
