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

/// A client of a server behind a trusted reverse proxy at 127.0.0.1, which names the
/// client's address in `X-Forwarded-For`.
fn from_address(app: &TestApp, address: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, app.base.parse().unwrap());
    headers.insert("x-forwarded-for", address.parse().unwrap());
    let http =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap();
    Client { base: app.base.clone(), http }
}

async fn behind_a_proxy() -> TestApp {
    TestApp::spawn_with(|c| c.trusted_proxies = "127.0.0.1".into()).await
}

/// Parallel guesses are counted before any is checked: of 20 sent at once, exactly 5 are
/// checked, and the guesser cannot lock the owner, who signs in from another address.
#[tokio::test]
async fn parallel_guesses_are_all_counted_and_do_not_lock_the_owner_out() {
    let app = behind_a_proxy().await;
    let guesser = from_address(&app, "198.51.100.7");
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..20 {
        let guesser = guesser.clone();
        guesses.spawn(
            async move { guesser.rpc("sign_in", json!({ "email": WRITER, "password": format!("parallel-guess-{n}") })).await.status },
        );
    }
    let mut statuses = guesses.join_all().await;
    statuses.sort_unstable();
    let checked = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    let (email, password) = login(WRITER);
    let locked = guesser.rpc("sign_in", json!({ "email": email, "password": password })).await;
    assert_eq!(locked.status, 429, "the guesser's address stays locked even with the right password");
    let owner = from_address(&app, "203.0.113.20");
    assert_eq!(owner.rpc("sign_in", json!({ "email": email, "password": password })).await.status, 200, "the owner elsewhere signs in");
    let audit: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'sign_in_failed' AND subject = $1")
        .bind(WRITER)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(audit.0, 5, "only the checked guesses were password checks");
}

/// One address trying one password against many accounts is stopped after 20 failures,
/// whatever the accounts; other addresses are not.
#[tokio::test]
async fn password_spraying_from_one_address_is_stopped() {
    let app = behind_a_proxy().await;
    let sprayer = from_address(&app, "198.51.100.8");
    for n in 0..20 {
        let answer = sprayer.rpc("sign_in", json!({ "email": format!("user{n}@agency.test"), "password": "Summer2026!" })).await;
        assert_eq!(answer.status, 422, "attempt {n}: {}", answer.body);
    }
    let stopped = sprayer.rpc("sign_in", json!({ "email": MANAGER, "password": "Summer2026!" })).await;
    assert_eq!(stopped.status, 429, "{}", stopped.body);
    assert!(stopped.body.contains("from your network"), "{}", stopped.body);
    let (email, password) = login(MANAGER);
    assert_eq!(from_address(&app, "203.0.113.21").rpc("sign_in", json!({ "email": email, "password": password })).await.status, 200);
    // An IPv6 client counts by its /64: another address in the same prefix is stopped too.
    let v6 = from_address(&app, "2001:db8:5:6::1");
    for n in 0..20 {
        assert_eq!(v6.rpc("sign_in", json!({ "email": format!("v6user{n}@agency.test"), "password": "x-1" })).await.status, 422);
    }
    let same_prefix = from_address(&app, "2001:db8:5:6:ffff::9");
    assert_eq!(same_prefix.rpc("sign_in", json!({ "email": "v6other@agency.test", "password": "x-1" })).await.status, 429);
}

/// Checking the current password on a password change is throttled like a sign-in.
#[tokio::test]
async fn a_stolen_session_cannot_guess_the_current_password() {
    let app = TestApp::spawn().await;
    let session = app.signed_in(MANAGER).await;
    for n in 0..5 {
        let change =
            json!({ "current": format!("guess-{n}-wrong"), "new_password": "a-new-password-2026", "confirm": "a-new-password-2026" });
        assert_eq!(session.rpc("change_password", change).await.status, 422);
    }
    let (_, password) = login(MANAGER);
    let change = json!({ "current": password, "new_password": "a-new-password-2026", "confirm": "a-new-password-2026" });
    let refused = session.rpc("change_password", change).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("Too many wrong current passwords"), "{}", refused.body);
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
    let foreign = bare.post(app.url("/rpc/save_client")).header("origin", "https://evil.example").json(&form).send().await.unwrap();
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
        .rpc(
            "save_client",
            json!({ "form": { "id": 3, "name": "Maison Verte SAS", "contact_email": "contact@maisonverte.test", "support_email": "" } }),
        )
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

fn session_cookie(answer: &Answer) -> String {
    let header = answer.headers.get("set-cookie").expect("a session cookie").to_str().unwrap();
    header.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn signing_in_again_rotates_the_session_and_the_old_token_stops_working() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let (email, password) = login(MANAGER);
    let credentials = json!({ "email": email, "password": password });
    let first = session_cookie(&client.rpc("sign_in", credentials.clone()).await);
    let second = session_cookie(&client.rpc("sign_in", credentials).await);
    assert_ne!(first, second, "a sign-in issues a fresh token");
    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let old = bare.get(app.url("/clients")).header("cookie", &first).send().await.unwrap();
    assert_eq!(old.status(), 303, "the replaced token is dead");
    let new = bare.get(app.url("/clients")).header("cookie", &second).send().await.unwrap();
    assert_eq!(new.status(), 200);
}

#[tokio::test]
async fn a_user_changes_their_password_and_their_other_sessions_end() {
    let app = TestApp::spawn().await;
    let (email, old_password) = login(WRITER);
    let laptop = app.signed_in(WRITER).await;
    let phone = app.signed_in(WRITER).await;
    let change = |current: &str, new: &str, confirm: &str| json!({ "current": current, "new_password": new, "confirm": confirm });

    let wrong = laptop.rpc("change_password", change("not-my-password", "a-brand-new-pass", "a-brand-new-pass")).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("\"current\""), "{}", wrong.body);
    let short = laptop.rpc("change_password", change(old_password, "short", "short")).await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("\"new_password\""), "{}", short.body);
    let mismatch = laptop.rpc("change_password", change(old_password, "a-brand-new-pass", "a-brand-new-pasS")).await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("\"confirm\""), "{}", mismatch.body);

    let ok = laptop.rpc("change_password", change(old_password, "a-brand-new-pass", "a-brand-new-pass")).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(laptop.rpc("current_user", json!({})).await.json()["email"], email, "this session stays");
    assert_eq!(
        phone.rpc("list_clients", json!({ "query": { "q": "", "sort": "", "desc": false, "page": 1 } })).await.status,
        401,
        "other sessions end"
    );

    let old = app.client().rpc("sign_in", json!({ "email": email, "password": old_password })).await;
    assert_eq!(old.status, 422);
    let new = app.client().rpc("sign_in", json!({ "email": email, "password": "a-brand-new-pass" })).await;
    assert_eq!(new.status, 200);
    let stored: (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE email = $1").bind(email).fetch_one(&app.db.pool).await.unwrap();
    assert!(stored.0.starts_with("$argon2id$"), "passwords are argon2id hashes: {}", stored.0);
}

#[tokio::test]
async fn an_admin_creates_a_user_assigns_clients_and_disables_them() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    let user = json!({ "user": { "email": "Lena.AM@Starling.test ", "name": "Lena", "role": "account_manager",
                                  "password": "lena-password-1", "clients": [3] } });
    let created = admin.rpc("create_user", user.clone()).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json().as_i64().unwrap();
    let again = admin.rpc("create_user", user).await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("already exists"), "{}", again.body);

    let lena = app.client();
    let signed_in = lena.rpc("sign_in", json!({ "email": "lena.am@starling.test", "password": "lena-password-1" })).await;
    assert_eq!(signed_in.status, 200, "the address is stored trimmed and lower-cased: {}", signed_in.body);
    let options = lena.rpc("client_options", json!({})).await.json();
    assert_eq!(options.as_array().unwrap().len(), 1);
    assert_eq!(options[0][1], "Maison Verte SARL");

    let disable =
        json!({ "change": { "id": id, "name": "Lena", "role": "account_manager", "disabled": true, "clients": [3], "new_password": "" } });
    assert_eq!(admin.rpc("update_user", disable).await.status, 200);
    assert_eq!(lena.rpc("client_options", json!({})).await.status, 401, "a disabled user's sessions end");
    // The right password of a disabled account gets the wrong-password answer: "disabled"
    // would confirm the password to whoever guessed it.
    let refused = app.client().rpc("sign_in", json!({ "email": "lena.am@starling.test", "password": "lena-password-1" })).await;
    let wrong = app.client().rpc("sign_in", json!({ "email": "lena.am@starling.test", "password": "not-lenas-password" })).await;
    assert_eq!((refused.status, &refused.body), (wrong.status, &wrong.body));
    assert!(!refused.body.contains("disabled"), "{}", refused.body);

    // The admin cannot lock themselves out.
    let me = admin.rpc("current_user", json!({})).await.json();
    let self_disable = json!({ "change": { "id": me["user_id"], "name": "Ada Admin", "role": "admin", "disabled": true, "clients": [], "new_password": "" } });
    assert_eq!(admin.rpc("update_user", self_disable).await.status, 422);
}

#[tokio::test]
async fn client_lists_sort_and_page_twenty_at_a_time() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    for i in 0..25 {
        let form = json!({ "form": { "id": null, "name": format!("Paging Client {i:02}"), "contact_email": "", "support_email": "" } });
        assert_eq!(admin.rpc("save_client", form).await.status, 200);
    }
    let list = |page: u32, sort: &str, desc: bool| json!({ "query": { "q": "", "sort": sort, "desc": desc, "page": page } });
    let first = admin.rpc("list_clients", list(1, "name", true)).await.json();
    assert_eq!(first["total"], 28);
    assert_eq!(first["pages"], 2);
    assert_eq!(first["rows"].as_array().unwrap().len(), 20);
    assert_eq!(first["rows"][0]["name"], "Sakura Home Co.");
    let second = admin.rpc("list_clients", list(2, "name", true)).await.json();
    assert_eq!(second["rows"].as_array().unwrap().len(), 8);
    assert_eq!(second["rows"][7]["name"], "Maison Verte SARL");
    let searched =
        admin.rpc("list_clients", json!({ "query": { "q": "client 1", "sort": "name", "desc": false, "page": 1 } })).await.json();
    assert_eq!(searched["total"], 10, "{searched}");
    assert_eq!(searched["rows"][0]["name"], "Paging Client 10");
}

/// A browser's own form post (before the WASM has loaded, or with JavaScript off): the
/// server function runs, the answer is a 303 back to the page, an error travels as the
/// page's `__err` parameter, and nothing the form carried appears in the address.
#[tokio::test]
async fn plain_form_posts_run_their_server_functions_and_come_back_to_the_page() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let post = |client: &Client, path: &str, from: &str, form: &[(&str, &str)]| {
        client
            .http
            .post(app.url(path))
            .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
            .header(reqwest::header::REFERER, app.url(from))
            .form(form)
            .send()
    };
    let location = |answer: &reqwest::Response| answer.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_string();

    // A wrong password: back to the sign-in page with the message, the password nowhere.
    let (email, password) = login(MANAGER);
    let wrong = post(&browser, "/rpc/sign_in", "/sign-in", &[("email", email), ("password", "not-it-at-all")]).await.unwrap();
    assert_eq!(wrong.status(), 303);
    let to = location(&wrong);
    assert!(to.starts_with(&app.url("/sign-in?")) && to.contains("__err="), "{to}");
    assert!(!to.contains("not-it-at-all") && !to.contains("password=") && !to.contains("email="), "{to}");
    let page = browser.get(to.strip_prefix(&app.base).unwrap()).await;
    assert!(page.body.contains("The e-mail address or the password is wrong."), "the sign-in page shows the message");

    // The right one: signed in, back to the page (which sends a signed-in user home).
    let right = post(&browser, "/rpc/sign_in", "/sign-in", &[("email", email), ("password", password)]).await.unwrap();
    assert_eq!(right.status(), 303);
    assert!(browser.get("/").await.body.contains("Dashboard"));

    // A write with fixed arguments: launching the demo's draft campaign from its list.
    let (id, state): (i64, String) =
        sqlx::query_as("SELECT id, state FROM campaigns WHERE client_id = 1 AND state = 'draft' ORDER BY id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(state, "draft");
    let launched =
        post(&browser, "/rpc/campaign_step", "/clients/1/campaigns", &[("id", &id.to_string()), ("step", "Launch")]).await.unwrap();
    assert_eq!(launched.status(), 303);
    assert_eq!(location(&launched), app.url("/clients/1/campaigns"));
    let (state,): (String,) = sqlx::query_as("SELECT state FROM campaigns WHERE id = $1").bind(id).fetch_one(&app.db.pool).await.unwrap();
    assert_ne!(state, "draft", "the campaign was launched");

    // Approve and run-import forms are read too: an approval the manager may not give,
    // and an import that does not exist, come back as messages on their pages (the
    // `step` choice and the ids parsed from the form).
    let (version,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM template_versions").fetch_one(&app.db.pool).await.unwrap();
    let from = format!("/clients/1/templates/1/versions/{version}");
    let approve = post(&browser, "/rpc/version_step", &from, &[("id", &version.to_string()), ("step", "Approve"), ("comment", "fine")])
        .await
        .unwrap();
    assert_eq!(approve.status(), 303);
    let to = location(&approve);
    assert!(to.starts_with(&app.url(&format!("{from}?"))) && to.contains("__path=%2Frpc%2Fversion_step&__err="), "{to}");
    let import = post(&browser, "/rpc/start_import", "/clients/1/imports", &[("client_id", "1"), ("job_id", "999999")]).await.unwrap();
    assert_eq!(import.status(), 303);
    assert!(location(&import).contains("__path=%2Frpc%2Fstart_import&__err="), "{}", location(&import));

    // A form that needs the page's script says so on the page instead of failing silently.
    let partial = post(&browser, "/rpc/save_brand", "/clients/1/brands/new", &[("name", "Only a name")]).await.unwrap();
    assert_eq!(partial.status(), 303);
    let to = location(&partial);
    assert!(to.contains("__err=") && !to.contains("Only"), "{to}");

    // A password change with a wrong current password: the message, and no password in
    // the address.
    let change = post(
        &browser,
        "/rpc/change_password",
        "/account",
        &[("current", "wrong-current-1"), ("new_password", "a-new-password-2026"), ("confirm", "a-new-password-2026")],
    )
    .await
    .unwrap();
    assert_eq!(change.status(), 303);
    let to = location(&change);
    assert!(to.starts_with(&app.url("/account?")) && !to.contains("a-new-password") && !to.contains("wrong-current"), "{to}");

    // Signing out with a plain post.
    let out = post(&browser, "/rpc/sign_out", "/", &[]).await.unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(browser.get("/").await.status, 303, "signed out: pages send to the sign-in page");
}

/// Every response says it may not be framed by another site and is not to be sniffed;
/// console pages allow only their own scripts and the inline script carrying the
/// response's nonce.
#[tokio::test]
async fn every_page_refuses_framing_and_allows_only_its_own_scripts() {
    let app = TestApp::spawn().await;
    let manager = app.signed_in(MANAGER).await;
    for (who, path) in [("anyone", "/sign-in"), ("manager", "/"), ("manager", "/clients/1/orders"), ("anyone", "/healthz")] {
        let answer = if who == "anyone" { app.client().get(path).await } else { manager.get(path).await };
        assert_eq!(answer.status, 200, "{path}");
        let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        if path != "/healthz" {
            let nonce =
                policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap_or_else(|| panic!("{path}: {policy}"));
            assert!(nonce.len() >= 16, "{path}: {nonce}");
            assert!(answer.body.contains(&format!("nonce=\"{nonce}\"")), "{path}: the hydration script carries the nonce");
            assert!(!policy.contains("'unsafe-inline' 'wasm") && policy.contains("script-src 'self' 'nonce-"), "{path}: {policy}");
        }
    }
    // A second request gets another nonce.
    let first = app.client().get("/sign-in").await.headers["content-security-policy"].clone();
    let second = app.client().get("/sign-in").await.headers["content-security-policy"].clone();
    assert_ne!(first, second);
}

/// `starling backup` on a running SQLite Starling: a consistent copy of the database and
/// the secret key; a server started on the restored folder has the data written just
/// before and the same key (so links in sent mail keep working). On PostgreSQL it
/// refuses and names pg_dump.
#[tokio::test]
async fn a_backup_of_a_running_server_restores_with_its_data_and_key() {
    let app = TestApp::spawn().await;
    let to = app.data_dir.with_extension("backup");
    let config = server::config::Config { database_url: app.database_url.clone(), data_dir: app.data_dir.clone(), ..Default::default() };
    if app.database_url.starts_with("postgres") {
        let refused = server::backup(&config, &to).await.unwrap_err().to_string();
        assert!(refused.contains("pg_dump"), "{refused}");
        return;
    }
    let admin = app.signed_in(ADMIN).await;
    let added = admin
        .rpc("add_suppression", json!({ "client_id": 1, "brand_id": 1, "address": "backup.check@example.com", "note": "just before" }))
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    // The server keeps serving while the copy is taken.
    let (backup, during) = tokio::join!(server::backup(&config, &to), admin.get("/clients/1/privacy"));
    let backup = backup.unwrap();
    assert_eq!(during.status, 200);
    assert_eq!(backup.database, to.join("starling.db"));
    let key = std::fs::read_to_string(app.data_dir.join("secret.key")).unwrap();
    assert_eq!(std::fs::read_to_string(backup.secret_key.as_ref().unwrap()).unwrap(), key);
    assert!(server::backup(&config, &to).await.is_err(), "never over an earlier backup");

    // Restore: both files into an empty data folder, and a server started on it.
    let restore = app.data_dir.with_extension("restored");
    let (from, into) = (to.clone(), restore.clone());
    let restored = TestApp::spawn_with(move |c| {
        std::fs::create_dir_all(&into).unwrap();
        std::fs::copy(from.join("starling.db"), into.join("starling.db")).unwrap();
        std::fs::copy(from.join("secret.key"), into.join("secret.key")).unwrap();
        c.database_url = format!("sqlite://{}", into.join("starling.db").display());
        c.data_dir = into;
    })
    .await;
    let found = restored
        .signed_in(ADMIN)
        .await
        .rpc("list_suppressions", json!({ "client_id": 1, "query": { "q": "backup.check", "sort": "", "desc": false, "page": 1 } }))
        .await;
    assert!(found.body.contains("backup.check@example.com"), "{}", found.body);
    assert_eq!(std::fs::read_to_string(restore.join("secret.key")).unwrap(), key, "the key was kept, not regenerated");
    drop(restored);
    let _ = std::fs::remove_dir_all(&to);
    let _ = std::fs::remove_dir_all(&restore);
}

/// Console pages are kept for a second per session (server/src/page_cache.rs): a write is
/// visible on the very next page, a copy is never served to another session or after
/// signing out, and each response has its own nonce.
#[tokio::test]
async fn cached_pages_show_every_write_at_once_and_belong_to_one_session() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    let first = admin.get("/clients/1").await;
    assert_eq!(first.status, 200);
    let second = admin.get("/clients/1").await;
    assert_eq!(second.status, 200);
    let nonce = |answer: &Answer| answer.headers["content-security-policy"].to_str().unwrap().split("'nonce-").nth(1).unwrap().to_string();
    assert_ne!(nonce(&first), nonce(&second), "a copy gets a nonce of its own");
    let script_nonce = nonce(&second);
    let script_nonce = script_nonce.split('\'').next().unwrap();
    assert!(second.body.contains(&format!("nonce=\"{script_nonce}\"")), "the page's scripts carry the header's nonce");
    let name = |answer: &Answer| answer.body.contains("Renamed Nordlicht GmbH");
    assert!(!name(&second));

    // A write, then the same page at once: the new name, not the copy.
    let form = json!({ "form": { "id": 1, "name": "Renamed Nordlicht GmbH", "contact_email": "", "support_email": "" } });
    assert_eq!(admin.rpc("save_client", form).await.status, 200);
    assert!(name(&admin.get("/clients/1").await), "the page after a write shows it");

    // Another session of another user renders its own page: a viewer of another client
    // never gets the admin's copy.
    let viewer = app.signed_in(VIEWER_SAKURA).await;
    let foreign = viewer.get("/clients/1").await;
    assert!(!name(&foreign), "{}: another session's copy was served", foreign.status);

    // Signed out, the copy is gone with the session.
    assert_eq!(admin.rpc("sign_out", json!({})).await.status, 200);
    let after = admin.get("/clients/1").await;
    assert_eq!(after.status, 303, "a signed-out session gets the sign-in page");

    // A change the page cache cannot see (written to the database directly, as another
    // server process would) shows within a second and one render.
    let manager = app.signed_in(MANAGER).await;
    assert!(name(&manager.get("/clients/1").await));
    sqlx::query("UPDATE clients SET name = 'Nordlicht Again' WHERE id = 1").execute(&app.db.pool).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let _ = manager.get("/clients/1").await;
    assert!(manager.get("/clients/1").await.body.contains("Nordlicht Again"), "a copy lives about a second");
}
