//! Browser journeys in headless Debian Chromium through chromedriver (both installed by
//! `.ci/bootstrap --browser`). They need the compiled site (`cargo leptos build`), so the
//! pages hydrate exactly as they do for users. Screenshots go to `tests/artifacts/`.

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::json;
use starling_tests::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver process on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
    profile: std::path::PathBuf,
}

impl Driver {
    async fn start() -> Driver {
        assert!(
            option_env!("LEPTOS_OUTPUT_NAME") == Some("starling"),
            "build the tests with LEPTOS_OUTPUT_NAME=starling (as `bash .ci/test` does): leptos names \
             the WASM file it asks for from this variable at compile time"
        );
        let path = std::env::var("STARLING_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        assert!(
            std::path::Path::new(&path).exists(),
            "chromedriver not found at {path}: run `bash .ci/bootstrap --browser` (the README's test command does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("starling-chromium-{port}"));
        Driver { child, port, profile }
    }

    /// A desktop window of `width` x `height`, or with `phone`, Chromium's mobile
    /// emulation at that size (headless windows are never narrower than 500 px).
    async fn browser(&self, width: u32, height: u32, phone: bool) -> Browser {
        self.browser_with(width, height, phone, true).await
    }

    /// The same, with JavaScript on or off. The console's messages are kept for
    /// [`console_errors`].
    async fn browser_with(&self, width: u32, height: u32, phone: bool, javascript: bool) -> Browser {
        let mut caps = serde_json::Map::new();
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let mut options = json!({
            "binary": std::env::var("STARLING_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", self.profile.display()),
            ]
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        if phone {
            options["mobileEmulation"] = json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2 } });
        }
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that failed before closing its session leaves Chromium running without
        // its driver: end every process of this profile.
        let pattern = format!("user-data-dir={}( |$)", self.profile.display());
        let _ = Command::new("pkill").arg("-f").arg(pattern).status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Chromium's `/se/log` command: the console messages since the last call.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The console errors (level SEVERE: exceptions, failed loads, panics) logged since the
/// last call.
async fn console_errors(browser: &Browser) -> Vec<String> {
    let entries = browser.issue_cmd(BrowserLog).await.expect("the browser's console log");
    entries
        .as_array()
        .map(|all| all.iter().filter(|e| e["level"] == "SEVERE").map(|e| e["message"].as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

fn artifact(name: &str) -> std::path::PathBuf {
    let dir = repo_root().join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir.join(name)
}

async fn screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(artifact(name), png).expect("writing the screenshot");
}

/// Opens `url`. Chromium on a busy two-core machine sometimes gives up waiting for its
/// renderer ("Timed out receiving message from renderer"): the page is asked for once more
/// before the test fails.
async fn open(browser: &Browser, url: &str) {
    if let Err(first) = browser.goto(url).await {
        eprintln!("opening {url} failed ({first}); trying once more");
        browser.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e} (the first try: {first})"));
    }
}

/// Waits until the WASM has hydrated the page (the app marks `<body data-hydrated>`).
async fn hydrated(browser: &Browser) {
    let waited = browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("body[data-hydrated]")).await;
    if waited.is_err() {
        // Say what the browser saw: which files loaded and what the page is.
        let seen = browser
            .execute(
                "return JSON.stringify({ url: location.href, \
                   resources: performance.getEntriesByType('resource').map(e => e.name + ' ' + (e.responseStatus ?? '?') + ' ' + Math.round(e.duration) + 'ms'), \
                   body: document.body ? document.body.outerHTML.slice(0, 300) : null })",
                vec![],
            )
            .await;
        panic!("the page did not hydrate within 30 s (is the site built? `cargo leptos build`): {seen:?}");
    }
}

async fn wait_for_text(browser: &Browser, css: &str, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if found.contains(text) {
            return;
        }
        if std::time::Instant::now() > deadline {
            let url = browser.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("\"{text}\" never appeared in {css} at {url}; it shows: {found}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_path(browser: &Browser, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = browser.current_url().await.expect("url");
        if url.path() == path {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "expected to arrive at {path}, still at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(browser: &Browser, css: &str, value: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("field {css}"));
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    open(&browser, &app.url("/sign-in")).await;
    hydrated(browser).await;
    let (email, password) = login(email);
    fill(browser, "#field-email", email).await;
    fill(browser, "#field-password", password).await;
    browser.find(Locator::Css(".signin form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(browser, "/").await;
    wait_for_text(browser, "main h1", "Dashboard").await;
}

async fn sign_out(browser: &Browser) {
    browser.find(Locator::Css(".usermenu summary")).await.unwrap().click().await.unwrap();
    button(&browser, "Sign out").await.click().await.unwrap();
    wait_for_path(browser, "/sign-in").await;
}

/// The button labelled `label`, once it is on the page (pages render after their data).
async fn button(browser: &Browser, label: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(&format!("//button[normalize-space()='{label}']")))
        .await
        .unwrap_or_else(|_| panic!("a button \"{label}\""))
}

/// Clicks the link `text` once it is on the page (a page's links may come with its data,
/// after the route has changed).
async fn click_link(browser: &Browser, text: &str) {
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::LinkText(text))
        .await
        .unwrap_or_else(|_| panic!("a link \"{text}\""))
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn manager_creates_a_brand_and_a_viewer_sees_only_their_client() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900, false).await;

    // The account manager signs in and goes to their client the way a person does, by
    // clicking through the console; from the sign-in page on, the app navigates in the
    // page, and a marker on `window` survives only if no full page load happens.
    sign_in(&browser, &app, MANAGER).await;
    browser.execute("window.__starlingMarker = 42", vec![]).await.unwrap();
    click_link(&browser, "Clients").await;
    wait_for_path(&browser, "/clients").await;
    wait_for_text(&browser, "main", "Nordlicht Outdoor GmbH").await;
    let listed = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!listed.contains("Maison Verte"), "a manager sees only assigned clients: {listed}");
    click_link(&browser, "Nordlicht Outdoor GmbH").await;
    wait_for_path(&browser, "/clients/1").await;
    wait_for_text(&browser, "main h1", "Nordlicht Outdoor GmbH").await;
    click_link(&browser, "Add brand").await;
    wait_for_path(&browser, "/clients/1/brands/new").await;
    wait_for_text(&browser, "main h1", "New brand").await;
    // Submitting with a sender outside the sending domain shows the field's message.
    fill(&browser, "#field-name", "Polar Kids").await;
    fill(&browser, "#field-sender_name", "Polar Kids Care").await;
    fill(&browser, "#field-sending_domain", "mail.polarkids.test").await;
    fill(&browser, "#field-sender_email", "care@elsewhere.test").await;
    fill(&browser, "#field-postal_address", "Polar Kids, Hafenstraße 12, 20457 Hamburg").await;
    browser.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "#field-sender_email-error", "DMARC alignment").await;
    screenshot(&browser, "brand-form-validation.png").await;
    fill(&browser, "#field-sender_email", "care@mail.polarkids.test").await;
    browser.find(Locator::Css("main form button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_path(&browser, "/clients/1").await;
    wait_for_text(&browser, "table.brands", "Polar Kids").await;
    let marker = browser.execute("return window.__starlingMarker ?? null", vec![]).await.unwrap();
    assert_eq!(marker, json!(42), "navigation, validation and the save ran without a page reload");
    screenshot(&browser, "manager-client-page.png").await;
    // Reloaded, the page is served whole by the server and comes alive again.
    browser.refresh().await.unwrap();
    hydrated(&browser).await;
    wait_for_text(&browser, "table.brands", "Polar Kids").await;
    click_link(&browser, "Add store").await;
    wait_for_path(&browser, "/clients/1/stores/new").await;
    wait_for_text(&browser, "main h1", "New store").await;
    sign_out(&browser).await;

    // The Nordlicht viewer sees their own client only, read-only.
    sign_in(&browser, &app, VIEWER).await;
    click_link(&browser, "Clients").await;
    wait_for_path(&browser, "/clients").await;
    wait_for_text(&browser, "main", "Nordlicht Outdoor GmbH").await;
    let listed = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!listed.contains("Sakura") && !listed.contains("Maison Verte"), "the viewer sees only their client: {listed}");
    let switcher = browser.find(Locator::Css(".switcher select")).await.unwrap().text().await.unwrap();
    assert!(!switcher.contains("Sakura") && !switcher.contains("Maison Verte"), "switcher: {switcher}");
    click_link(&browser, "Nordlicht Outdoor GmbH").await;
    wait_for_path(&browser, "/clients/1").await;
    wait_for_text(&browser, "table.brands", "Polar Kids").await;
    assert!(browser.find(Locator::LinkText("Add brand")).await.is_err(), "viewers cannot add brands");
    screenshot(&browser, "viewer-client-page.png").await;
    // Typing another client's address shows a refusal, not the client.
    open(&browser, &app.url("/clients/3")).await;
    wait_for_text(&browser, "main", "not assigned to you").await;
    let page = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!page.contains("Maison Verte"), "{page}");

    browser.close().await.ok();
}

#[tokio::test]
async fn the_console_works_at_phone_width() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let browser = driver.browser(375, 812, true).await;
    sign_in(&browser, &app, ADMIN).await;
    let width = |browser: &Browser| {
        let browser = browser.clone();
        async move { browser.execute("return document.documentElement.scrollWidth", vec![]).await.unwrap().as_i64().unwrap() }
    };
    assert!(width(&browser).await <= 375, "the dashboard fits a 375px screen");
    // The navigation is behind the menu button and opens without a page load.
    let nav = browser.find(Locator::Css(".sidebar")).await.unwrap();
    assert!(!nav.is_displayed().await.unwrap(), "the sidebar is folded away on a phone");
    browser.find(Locator::Css(".menu-toggle")).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !nav.is_displayed().await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "the menu button opens the navigation");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&browser, "phone-menu.png").await;
    click_link(&browser, "Clients").await;
    wait_for_path(&browser, "/clients").await;
    wait_for_text(&browser, "main", "Maison Verte SARL").await;
    let w = width(&browser).await;
    assert!(w <= 375, "the clients table is {w}px wide at a 375px screen");
    screenshot(&browser, "phone-clients.png").await;
    browser.close().await.ok();
}

#[tokio::test]
async fn every_page_comes_alive_when_opened_directly() {
    use server::routes::{RouteAccess, HTTP_ROUTES};
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900, false).await;
    sign_in(&browser, &app, ADMIN).await;
    let (customer,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM customers WHERE client_id = 1").fetch_one(&app.db.pool).await.unwrap();
    let export =
        b"Name,Created at,Financial Status,Fulfillment Status,Lineitem name,Lineitem quantity\n#1,2024-03-05 10:00:00 +0100,paid,,Cap,1\n";
    let job = crate::orders::upload(&app.signed_in(ADMIN).await, 1, 2, "orders.csv", export.to_vec()).await;
    for (pattern, access) in HTTP_ROUTES {
        // Downloads (CSV, JSON) are files, not pages.
        if *access == RouteAccess::Public || pattern.ends_with(".csv") || pattern.ends_with(".json") || pattern.ends_with(".parquet") {
            continue;
        }
        let path = pattern
            .replace("{id}", "1")
            .replace("{brand}", "1")
            .replace("{store}", "1")
            .replace("{customer}", &customer.to_string())
            .replace("{job}", &job.to_string())
            .replace("{template}", "1")
            .replace("{version}", "1")
            .replace("{campaign}", "1");
        open(&browser, &app.url(&path)).await;
        let waited = browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("body[data-hydrated]")).await;
        assert!(waited.is_ok(), "{path} did not hydrate when opened directly");
    }
    browser.close().await.ok();
}

#[tokio::test]
async fn a_manager_uploads_an_export_previews_it_and_watches_the_import_finish() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900, false).await;
    sign_in(&browser, &app, MANAGER).await;
    // Twelve hundred orders, one with a bad date, so the job runs long enough to be seen.
    let mut export = String::from(
        "Name,Email,Financial Status,Fulfillment Status,Created at,Lineitem quantity,Lineitem name,Shipping Name,Shipping Country\n",
    );
    for i in 0..1200 {
        let date = if i == 7 { "someday".to_string() } else { format!("2024-03-{:02} 10:00:00 +0100", 1 + i % 28) };
        export.push_str(&format!("#B{i},buyer{i}@example.test,paid,fulfilled,{date},1,Headlamp,Buyer {i},DE\n"));
    }
    let file = std::env::temp_dir().join(format!("starling-browser-export-{}.csv", std::process::id()));
    std::fs::write(&file, export).unwrap();

    open(&browser, &app.url("/clients/1")).await;
    hydrated(&browser).await;
    click_link(&browser, "Imports").await;
    wait_for_path(&browser, "/clients/1/imports").await;
    wait_for_text(&browser, "main", "Upload an order export").await;
    let store = browser.find(Locator::Css("#upload-store")).await.unwrap();
    store.select_by_value("2").await.unwrap();
    browser.find(Locator::Css("#upload-file")).await.unwrap().send_keys(&file.to_string_lossy()).await.unwrap();
    browser.find(Locator::Css("form.upload button[type=submit]")).await.unwrap().click().await.unwrap();

    // The preview names the format and shows the first orders as Starling reads them.
    wait_for_text(&browser, "main", "Detected: Shopify orders export").await;
    wait_for_text(&browser, "table.preview", "buyer0@example.test").await;
    wait_for_text(&browser, "main", "Line 9, Created at").await;
    hydrated(&browser).await;
    screenshot(&browser, "import-preview.png").await;
    button(&browser, "Run import").await.click().await.unwrap();

    // The page follows the job without a reload until it is done.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap_or_default();
        if text.contains("1199 new orders") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the import never finished on the page: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let progress = browser.find(Locator::Css("progress.wide")).await.unwrap().attr("value").await.unwrap();
    assert_eq!(progress.as_deref(), Some("100"));
    wait_for_text(&browser, "table.rejects", "\"someday\" is not a date").await;
    screenshot(&browser, "import-done.png").await;

    // The orders are there, filtered by the store.
    open(&browser, &app.url("/clients/1/orders?store=2&q=buyer1199")).await;
    hydrated(&browser).await;
    wait_for_text(&browser, "table.orders", "#B1199").await;
    let _ = std::fs::remove_file(&file);
    browser.close().await.ok();
}

/// The connectors journey: a manager connects a Shopify shop (the fake) with a custom
/// app's token, watches its orders arrive and the feed turn healthy without reloading,
/// then the shop revokes the token and the page shows the feed needing re-authorization
/// with its alert.
#[tokio::test]
async fn a_manager_connects_a_shop_sees_it_turn_healthy_and_sees_the_alert_when_its_token_breaks() {
    use starling_tests::fakes::shopify::{FakeShopify, ShopifyOrder};
    let fake = FakeShopify::start();
    fake.add_shop("nordlicht.myshopify.com", "shpat_browser_journey_token");
    fake.put_orders("nordlicht.myshopify.com", ShopifyOrder::generate(40, chrono::Utc::now() - chrono::TimeDelta::days(6)));
    let base = fake.base.clone();
    let app = TestApp::spawn_with(move |c| {
        c.sync = true;
        c.shopify_base_url = base;
        c.connector_retry_first_ms = 50;
    })
    .await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 900, false).await;
    sign_in(&browser, &app, MANAGER).await;
    click_link(&browser, "Connections").await;
    wait_for_path(&browser, "/connections").await;
    hydrated(&browser).await;
    wait_for_text(&browser, "main", "Connect a store").await;
    browser.find(Locator::Css("select[name='form[store_id]']")).await.unwrap().select_by_value("2").await.unwrap();
    fill(&browser, "input[name='form[account]']", "nordlicht").await;
    fill(&browser, "input[name='form[token]']", "shpat_browser_journey_token").await;
    button(&browser, "Connect").await.click().await.unwrap();
    wait_for_text(&browser, "main", "Connected.").await;
    // The list refreshes on its own: the feed turns healthy with the shop's 40 orders.
    wait_for_text(&browser, "table.connections", "Healthy").await;
    wait_for_text(&browser, "table.connections td[data-label='Orders today']", "40").await;
    let page = browser.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!page.contains("shpat_browser_journey_token"), "the token is never shown again");
    screenshot(&browser, "connections-healthy.png").await;

    // The shop uninstalls the app: the next pull is refused.
    fake.revoke_refresh();
    button(&browser, "Sync now").await.click().await.unwrap();
    wait_for_text(&browser, "table.connections", "Needs re-authorization").await;
    wait_for_text(&browser, "table.connections", "Alert: Authorization failing").await;
    wait_for_text(&browser, "main", "Needs attention (1)").await;
    screenshot(&browser, "connections-alert.png").await;
    browser.close().await.ok();
}

/// The templates journey of the issue: a copywriter types "5 Sterne" into a German version
/// and sees the blocking finding appear without a page load, fixes it and submits; the
/// German reviewer approves; the client's viewer approves last; the version shows as
/// approved with its history.
#[tokio::test]
async fn a_german_version_is_linted_as_typed_then_approved_by_reviewer_and_client() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000, false).await;

    sign_in(&browser, &app, WRITER).await;
    click_link(&browser, "Clients").await;
    wait_for_text(&browser, "main", "Nordlicht Outdoor GmbH").await;
    click_link(&browser, "Nordlicht Outdoor GmbH").await;
    wait_for_path(&browser, "/clients/1").await;
    click_link(&browser, "Templates").await;
    wait_for_path(&browser, "/clients/1/templates").await;
    wait_for_text(&browser, "main", "Bewertungsanfrage").await;
    button(&browser, "New template").await.click().await.unwrap();
    browser.find(Locator::Css("#field-brand_id")).await.unwrap().select_by_label("Nordlicht").await.unwrap();
    fill(&browser, "#field-name", "Winterjacke Bewertung").await;
    fill(&browser, "#field-locale", "de").await;
    button(&browser, "Create and edit").await.click().await.unwrap();
    wait_for_text(&browser, "main h1", "Winterjacke Bewertung · de · version 1").await;
    let editor_path = browser.current_url().await.unwrap().path().to_string();
    wait_for_text(&browser, ".findings", "0 blocking").await;

    // Typing: the lint runs in the browser on each keystroke; no page load happens.
    browser.execute("window.__starlingMarker = 7", vec![]).await.unwrap();
    let html = browser.find(Locator::Css("#field-html")).await.unwrap();
    html.send_keys("\n<p>Bitte geben Sie uns 5 Sterne für {{ product.name }}.</p>").await.unwrap();
    wait_for_text(&browser, ".findings", "1 blocking").await;
    wait_for_text(&browser, ".findings", "\"5 Sterne\"").await;
    wait_for_text(&browser, "pre.marked mark.mark-block", "5 Sterne").await;
    let submit = button(&browser, "Submit for review").await;
    assert!(!submit.is_enabled().await.unwrap(), "submit is disabled while a finding blocks");
    screenshot(&browser, "template-lint-blocking.png").await;
    let marker = browser.execute("return window.__starlingMarker ?? null", vec![]).await.unwrap();
    assert_eq!(marker, json!(7), "the finding appeared without a page load");

    // Fixing the text clears the finding; save, then submit.
    let fixed = browser
        .execute(
            "return document.querySelector('#field-html').value.replace('Bitte geben Sie uns 5 Sterne für', 'Wie gefällt Ihnen')",
            vec![],
        )
        .await
        .unwrap();
    fill(&browser, "#field-html", fixed.as_str().unwrap()).await;
    wait_for_text(&browser, ".findings", "No findings").await;
    button(&browser, "Save").await.click().await.unwrap();
    wait_for_text(&browser, ".editor-parts .actions", "Saved").await;
    let submit = button(&browser, "Submit for review").await;
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath("//button[normalize-space()='Submit for review' and not(@disabled)]"))
        .await
        .unwrap();
    submit.click().await.unwrap();
    wait_for_text(&browser, ".page-head .badge", "In review").await;
    sign_out(&browser).await;

    // The German reviewer finds it in their queue and approves.
    sign_in(&browser, &app, REVIEWER).await;
    click_link(&browser, "Approvals").await;
    wait_for_path(&browser, "/approvals").await;
    wait_for_text(&browser, "main table", "Winterjacke Bewertung v1").await;
    click_link(&browser, "Winterjacke Bewertung v1").await;
    wait_for_path(&browser, &editor_path).await;
    button(&browser, "Approve").await.click().await.unwrap();
    wait_for_text(&browser, ".page-head .badge", "Awaiting client").await;
    sign_out(&browser).await;

    // The client's viewer approves last.
    sign_in(&browser, &app, VIEWER).await;
    click_link(&browser, "Approvals").await;
    wait_for_text(&browser, "main table", "Winterjacke Bewertung v1").await;
    click_link(&browser, "Winterjacke Bewertung v1").await;
    wait_for_path(&browser, &editor_path).await;
    button(&browser, "Approve").await.click().await.unwrap();
    wait_for_text(&browser, ".page-head .badge", "Approved").await;
    wait_for_text(&browser, ".history", "client approved").await;
    let history = browser.find(Locator::Css(".history")).await.unwrap().text().await.unwrap();
    for (who, what) in [(WRITER, "submitted"), (REVIEWER, "approved"), (VIEWER, "client approved")] {
        assert!(history.contains(&format!("{who} {what}")), "history lacks \"{who} {what}\": {history}");
    }
    screenshot(&browser, "template-approved.png").await;
    browser.close().await.ok();
}

/// An account manager builds a campaign with two A/B variants (one subject is refused for
/// gating, with the reason) and a canary, previews its audience with the reasons orders are
/// excluded, and launches it; the canary goes first and the rest is held. Synthetic bounce
/// reports then halt it: the campaign page says which threshold with which numbers, and the
/// manager resumes it.
#[tokio::test]
async fn a_manager_builds_previews_and_launches_a_campaign() {
    let app = TestApp::spawn().await;
    let (brand_id,): (i64,) = sqlx::query_as("SELECT brand_id FROM templates WHERE id = 1").fetch_one(&app.db.pool).await.unwrap();
    delivered_orders(&app, brand_id, 0, 120).await;
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000, false).await;

    sign_in(&browser, &app, MANAGER).await;
    // The brand's sending set-up: a DKIM key and the records to publish.
    open(&browser, &app.url(&format!("/clients/1/brands/{brand_id}/sending"))).await;
    hydrated(&browser).await;
    wait_for_text(&browser, "main", "goes out unsigned").await;
    button(&browser, "Generate Ed25519 key").await.click().await.unwrap();
    wait_for_text(&browser, "table.records", "v=DKIM1; k=ed25519; p=").await;
    wait_for_text(&browser, "table.records", "v=DMARC1").await;
    // What DNS says now: the SPF record is published, the new DKIM key's record not yet.
    let (domain,): (String,) =
        sqlx::query_as("SELECT sending_domain FROM brands WHERE id = $1").bind(brand_id).fetch_one(&app.db.pool).await.unwrap();
    app.dns.set_txt(&domain, &["v=spf1 include:_spf.relay.example ~all"]);
    button(&browser, "Check").await.click().await.unwrap();
    wait_for_text(&browser, "#dns-check", "One valid SPF record.").await;
    wait_for_text(&browser, "#dns-check", "No DKIM record at").await;
    screenshot(&browser, "brand-sending.png").await;
    open(&browser, &app.url("/clients/1")).await;
    hydrated(&browser).await;
    click_link(&browser, "Campaigns").await;
    wait_for_path(&browser, "/clients/1/campaigns").await;
    wait_for_text(&browser, "main table", "Review request, 7 days after delivery").await;
    button(&browser, "New campaign").await.click().await.unwrap();
    fill(&browser, "#field-name", "Bewertung A/B").await;
    browser.find(Locator::Css("#field-trigger")).await.unwrap().select_by_label("One-off batch, now").await.unwrap();
    fill(&browser, "#field-fallback", "de").await;
    browser.find(Locator::Css("#field-variant_count")).await.unwrap().select_by_label("2 variants").await.unwrap();
    fill(&browser, "#field-variant-1-subject", "Gib uns 5 Sterne").await;
    browser.find(Locator::Css("#field-canary")).await.unwrap().click().await.unwrap();
    fill(&browser, "#field-canary_share", "80").await;
    button(&browser, "Create and preview").await.click().await.unwrap();
    wait_for_text(&browser, "#field-variant-1-subject-error", "Variant B").await;
    wait_for_text(&browser, "#field-canary_share-error", "at most 50").await;
    fill(&browser, "#field-variant-1-subject", "Wie gefällt Ihnen {{ product.name }}?").await;
    fill(&browser, "#field-canary_share", "40").await;
    button(&browser, "Create and preview").await.click().await.unwrap();

    wait_for_text(&browser, ".preview", "orders qualify now").await;
    wait_for_text(&browser, ".preview table", "the order is").await;
    screenshot(&browser, "campaign-preview.png").await;
    let row = "//tr[td[contains(., 'Bewertung A/B')]]";
    browser.find(Locator::XPath(&format!("{row}//button[normalize-space()='Launch']"))).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "main table", "running").await;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM campaigns WHERE name = 'Bewertung A/B'").fetch_one(&app.db.pool).await.unwrap();
    let canary: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM messages WHERE campaign_id = $1 AND canary = 1 AND state = 'queued' ORDER BY id")
            .bind(id)
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'held'")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(canary.len() >= 20 && held > 0, "the canary goes first ({}), the rest is held ({held})", canary.len());

    click_link(&browser, "Bewertung A/B").await;
    wait_for_path(&browser, &format!("/clients/1/campaigns/{id}")).await;
    wait_for_text(&browser, "#canary", "held until").await;
    wait_for_text(&browser, "#ab-test", "Wie gefällt Ihnen").await;
    screenshot(&browser, "campaign-canary.png").await;

    // The canary goes out and a quarter of it bounces (synthetic reports).
    let now = app::db::now_millis();
    for (i, &m) in canary.iter().enumerate() {
        app::campaigns::monitor::record_event(&app.db, m, app::outbox::model::EventKind::Sent, &format!("smtp-{m}"), now, "250 OK")
            .await
            .unwrap();
        if i % 4 == 0 {
            app::campaigns::monitor::record_event(
                &app.db,
                m,
                app::outbox::model::EventKind::Bounced,
                &format!("dsn-{m}"),
                now,
                "550 5.1.1",
            )
            .await
            .unwrap();
        }
    }
    browser.refresh().await.unwrap();
    hydrated(&browser).await;
    wait_for_text(&browser, "#halt-reason", "passed the 5.00% threshold").await;
    wait_for_text(&browser, "#messages", "bounced").await;
    wait_for_text(&browser, ".page-head .badge", "halted").await;
    screenshot(&browser, "campaign-halted.png").await;
    button(&browser, "Resume").await.click().await.unwrap();
    wait_for_text(&browser, ".page-head .badge", "running").await;
    wait_for_text(&browser, ".history", "campaign.resume").await;
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE campaign_id = $1 AND state = 'held'")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(held, 0, "resuming releases the held audience");
    browser.close().await.ok();
}

#[tokio::test]
async fn a_manager_sends_whatsapp_first_then_texts_and_reads_the_usage() {
    use crate::texts::{afternoon, order, put_orders, texter};
    use crate::whatsapp::{cloud, whatsapper, with_whatsapp};
    use starling_tests::fakes::{twilio, whatsapp as cloud_api};
    let (fake, wa) = (twilio::FakeTwilio::start(), cloud_api::FakeWhatsapp::start());
    let (base, wa_base) = (fake.base.clone(), wa.base.clone());
    let app = TestApp::spawn_with(|c| {
        twilio::configure(c, &base);
        cloud_api::configure(c, &wa_base);
    })
    .await;
    wa.webhook(&app.url("/webhooks/whatsapp"));
    let (template, client, brand) = approved_template(&app).await;
    put_orders(
        &app,
        brand,
        vec![
            with_whatsapp(order("J-1", "jo1@example.test", "+447911123411", "GB", true)),
            order("J-2", "jo2@example.test", "+447911123412", "GB", true),
            order("J-3", "jo3@example.test", "+447911123413", "GB", false),
        ],
    )
    .await;
    app::clients::store::set_channel_price(&app.db, client, "sms", 12_000_000, "USD").await.unwrap();
    app::clients::store::set_channel_price(&app.db, client, "whatsapp", 50_000_000, "USD").await.unwrap();
    // The approved version's WhatsApp part goes to Meta, which approves it.
    app::messaging::meta::sync(&app.db, &cloud(&wa), app::db::now_millis()).await.unwrap();
    for t in wa.templates() {
        assert_eq!(wa.review(&t.name, "APPROVED", "").await, 200);
    }
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000, false).await;

    // The copywriter sees Meta's decision, and the editor counts the SMS part's parts and
    // names what Meta would refuse in a WhatsApp part, as they are typed.
    sign_in(&browser, &app, WRITER).await;
    let (version,): (i64,) =
        sqlx::query_as("SELECT id FROM template_versions WHERE template_id = $1 AND status = 'approved' ORDER BY id LIMIT 1")
            .bind(template)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    open(&browser, &app.url(&format!("/clients/{client}/templates/{template}/versions/{version}"))).await;
    hydrated(&browser).await;
    wait_for_text(&browser, "#sms-count", "GSM-7").await;
    wait_for_text(&browser, "#whatsapp-meta", "approved").await;
    wait_for_text(&browser, "#whatsapp-count", "Meta sees it as: Hallo {{1}}").await;
    button(&browser, "New version from this one").await.click().await.unwrap();
    wait_for_text(&browser, "main h1", "version 2").await;
    hydrated(&browser).await;
    fill(&browser, "#field-sms", "{{ brand.name }}: Wie gefällt es Ihnen? 🙂 {{ review_url }} Abmelden: STOP antworten").await;
    wait_for_text(&browser, "#sms-count", "UCS-2 (Unicode), because of \"🙂\"").await;
    fill(&browser, "#field-sms", "Wie gefällt es Ihnen? {{ review_url }}").await;
    wait_for_text(&browser, ".findings", "does not say how to opt out").await;
    wait_for_text(&browser, ".findings", "Abmelden: STOP antworten").await;
    fill(&browser, "#field-whatsapp", "{{ customer.first_name }}, wie war es mit {{ brand.name }}? {{ review_url }}").await;
    wait_for_text(&browser, ".findings", "may not begin with a variable").await;
    wait_for_text(&browser, ".findings", "may not end with a variable").await;
    screenshot(&browser, "template-sms.png").await;
    sign_out(&browser).await;

    // The manager gives the brand a sender and a WhatsApp number, checked as typed.
    sign_in(&browser, &app, MANAGER).await;
    open(&browser, &app.url(&format!("/clients/{client}/brands/{brand}/edit"))).await;
    hydrated(&browser).await;
    fill(&browser, "#field-sms_sender", "Nordlicht Outdoor Shop").await;
    fill(&browser, "#field-whatsapp_phone_id", "+49 151 2345678").await;
    button(&browser, "Save brand").await.click().await.unwrap();
    wait_for_text(&browser, "main", "is not an SMS sender").await;
    wait_for_text(&browser, "main", "is not a WhatsApp phone number id").await;
    fill(&browser, "#field-sms_sender", crate::texts::SENDER).await;
    fill(&browser, "#field-whatsapp_phone_id", cloud_api::PHONE_NUMBER_ID).await;
    button(&browser, "Save brand").await.click().await.unwrap();
    wait_for_path(&browser, &format!("/clients/{client}")).await;
    // The refused save is the only thing the console has to say.
    let errors = console_errors(&browser).await;
    assert!(errors.iter().all(|e| e.contains("save_brand") && e.contains("422")), "{errors:?}");

    // A campaign with WhatsApp, else SMS: the preview counts per channel.
    open(&browser, &app.url(&format!("/clients/{client}/campaigns"))).await;
    hydrated(&browser).await;
    button(&browser, "New campaign").await.click().await.unwrap();
    browser.find(Locator::Css("#field-channel")).await.unwrap().select_by_label("WhatsApp, else SMS").await.unwrap();
    fill(&browser, "#field-name", "WhatsApp zuerst").await;
    browser.find(Locator::Css("#field-trigger")).await.unwrap().select_by_label("One-off batch, now").await.unwrap();
    fill(&browser, "#field-fallback", "de").await;
    button(&browser, "Create and preview").await.click().await.unwrap();
    wait_for_text(&browser, ".by-channel", "WhatsApp 1").await;
    wait_for_text(&browser, ".by-channel", "SMS 1").await;
    screenshot(&browser, "campaign-channels.png").await;
    let row = "//tr[td[contains(., 'WhatsApp zuerst')]]";
    browser.find(Locator::XPath(&format!("{row}//button[normalize-space()='Launch']"))).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "main table", "running").await;

    // The WhatsApp message and the text go out; both are reported delivered.
    let stats = whatsapper(&app, &fake, &wa).pass(afternoon()).await.unwrap();
    assert_eq!(stats.sent, 1, "{stats:?}");
    let stats = texter(&app, &fake).pass(afternoon()).await.unwrap();
    assert_eq!(stats.sent, 1, "{stats:?}");
    let wamid = wa.messages()[0].id.clone();
    assert_eq!(wa.report(&wamid, "delivered", None).await, 200);
    let sid = fake.texts()[0].sid.clone();
    assert_eq!(fake.report(&sid, "delivered", None).await, 200);

    // The month's usage: one WhatsApp message and one text at the contract's prices.
    open(&browser, &app.url(&format!("/clients/{client}/usage"))).await;
    hydrated(&browser).await;
    wait_for_text(&browser, "table.usage", "WhatsApp").await;
    wait_for_text(&browser, "table.usage", "0.05 USD").await;
    wait_for_text(&browser, "table.usage", "0.012 USD").await;
    wait_for_text(&browser, "main", "Download CSV").await;
    screenshot(&browser, "usage.png").await;
    let errors = console_errors(&browser).await;
    assert!(errors.is_empty(), "{errors:?}");
    browser.close().await.ok();
}

#[tokio::test]
async fn a_client_viewer_reads_the_report_changes_the_range_and_downloads_the_csv() {
    let app = TestApp::spawn().await;
    let mailer = app::common::mailer::Mailer::new(None, app.data_dir.join("outbox"), "Starling <starling@localhost>").unwrap();
    app::demo::seed_history(&app.db, &mailer, &app.base, 150).await.unwrap();
    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000, false).await;
    sign_in(&browser, &app, VIEWER).await;
    open(&browser, &app.url("/clients/1")).await;
    hydrated(&browser).await;
    wait_for_text(&browser, "main h1", "Nordlicht").await;
    click_link(&browser, "Reports").await;
    wait_for_path(&browser, "/clients/1/reports").await;
    wait_for_text(&browser, "main h1", "Reports").await;
    hydrated(&browser).await;
    let days = |b: &Browser| {
        let b = b.clone();
        async move { b.find_all(Locator::Css(".trend-numbers tbody tr")).await.map(|r| r.len()).unwrap_or(0) }
    };
    let chart = |b: &Browser| {
        let b = b.clone();
        async move { b.find(Locator::Css("figure.chart svg")).await.unwrap().html(false).await.unwrap() }
    };
    let before_days = days(&browser).await;
    let before_chart = chart(&browser).await;
    assert!(before_days >= 20, "about six weeks of sending in the last 30 days: {before_days} days");
    assert!(before_chart.contains("Messages per day"));
    screenshot(&browser, "report-30-days.png").await;

    // The last seven days only.
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(6)).format("%Y-%m-%d").to_string();
    browser.execute("document.getElementById('report-from').value = arguments[0];", vec![json!(from)]).await.unwrap();
    button(&browser, "Show").await.click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let url = browser.current_url().await.unwrap();
        if url.query().unwrap_or("").contains(&format!("from={from}")) && days(&browser).await <= 7 && days(&browser).await > 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            screenshot(&browser, "report-range-failed.png").await;
            panic!("the range did not change: {url}, {} days shown", days(&browser).await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(chart(&browser).await, before_chart, "the chart is redrawn for the new range");
    screenshot(&browser, "report-7-days.png").await;

    // The CSV link downloads the same range's numbers (fetched as the signed-in viewer).
    let href = browser.find(Locator::LinkText("Download CSV")).await.unwrap().attr("href").await.unwrap().unwrap();
    assert!(href.contains(&format!("from={from}")), "{href}");
    let csv = browser.execute_async("fetch(arguments[0]).then(r => r.text()).then(arguments[1]);", vec![json!(href)]).await.unwrap();
    let csv = csv.as_str().unwrap_or_default();
    assert!(csv.starts_with("grouping,key,sent,delivered"), "{csv:.200}");
    assert!(csv.lines().any(|l| l.starts_with("day,")), "days in the CSV");

    browser.close().await.ok();

    // At phone width the report still reads (no horizontal overflow of the page).
    // (The same browser profile: the viewer is still signed in.)
    let phone = driver.browser(390, 844, true).await;
    open(&phone, &app.url("/clients/1/reports")).await;
    wait_for_path(&phone, "/clients/1/reports").await;
    hydrated(&phone).await;
    let overflow = phone.execute("return document.documentElement.scrollWidth - window.innerWidth;", vec![]).await.unwrap();
    assert!(overflow.as_i64().unwrap_or(99) <= 1, "the page scrolls sideways at phone width: {overflow}");
    screenshot(&phone, "report-phone.png").await;
    phone.close().await.ok();
}

/// The address of a Starling started by the run command (`bash .ci/start`), which the test
/// command starts on a fresh data folder before it runs the journeys marked
/// `#[ignore = "the run command's server"]`.
fn run_command_url() -> String {
    std::env::var("STARLING_DEMO_URL")
        .expect("STARLING_DEMO_URL: the address of `bash .ci/start` (the test command sets it)")
        .trim_end_matches('/')
        .to_string()
}

/// Signs in through the sign-in form at `base` (hydrated or not, as the browser is).
async fn sign_in_at(browser: &Browser, base: &str, email: &str, password: &str) {
    open(browser, &format!("{base}/sign-in")).await;
    fill(browser, "#field-email", email).await;
    fill(browser, "#field-password", password).await;
    browser.find(Locator::Css(".signin form button[type=submit]")).await.unwrap().click().await.unwrap();
}

/// Every demo user signs in to the console the run command serves, with the WASM bundle it
/// built, and opens every page their navigation offers and every tab of their first
/// client: each page must come alive with nothing in the console at level SEVERE and no
/// error box.
#[tokio::test]
#[ignore = "the run command's server"]
async fn run_command_every_user_signs_in_and_every_page_they_reach_comes_alive() {
    let base = run_command_url();
    let driver = Driver::start().await;
    // The console log is read for real: an error logged on purpose comes back.
    let probe = driver.browser(1280, 900, false).await;
    open(&probe, &format!("{base}/sign-in")).await;
    probe.execute("console.error('starling-console-probe')", vec![]).await.unwrap();
    let seen = console_errors(&probe).await;
    assert!(seen.iter().any(|e| e.contains("starling-console-probe")), "the console log is not readable: {seen:?}");
    probe.close().await.ok();
    let mut failures = Vec::new();
    for login in LOGINS.iter() {
        let browser = driver.browser(1280, 900, false).await;
        open(&browser, &format!("{base}/sign-in")).await;
        hydrated(&browser).await;
        sign_in_at(&browser, &base, login.email, login.password).await;
        wait_for_path(&browser, "/").await;
        wait_for_text(&browser, "main h1", "Dashboard").await;
        hydrated(&browser).await;
        screenshot(&browser, &format!("run-command-dashboard-{}.png", login.email.replace(['@', '.'], "-"))).await;
        // The pages this user reaches: the navigation, then the tabs of their first client.
        let mut pages = Vec::new();
        for link in browser.find_all(Locator::Css("nav.sidebar a")).await.unwrap() {
            pages.push(link.attr("href").await.unwrap().unwrap_or_default());
        }
        open(&browser, &format!("{base}/clients")).await;
        let first = browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("main table a[href^='/clients/']"))
            .await
            .expect("the user's first client");
        let client = first.attr("href").await.unwrap().unwrap_or_default();
        pages.push(client.clone());
        open(&browser, &format!("{base}{client}")).await;
        hydrated(&browser).await;
        for tab in browser.find_all(Locator::Css("main nav.tabs a")).await.unwrap() {
            pages.push(tab.attr("href").await.unwrap().unwrap_or_default());
        }
        pages.sort();
        pages.dedup();
        assert!(pages.len() >= 5, "{} reaches only {pages:?}", login.email);
        console_errors(&browser).await;
        for page in &pages {
            open(&browser, &format!("{base}{page}")).await;
            let alive = browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("body[data-hydrated]")).await;
            if alive.is_err() {
                failures.push(format!("{} {page}: did not hydrate", login.email));
            }
            for error in console_errors(&browser).await {
                failures.push(format!("{} {page}: console: {error}", login.email));
            }
            if let Ok(boxes) = browser.find_all(Locator::Css("main .notice.error")).await {
                for b in boxes {
                    failures.push(format!("{} {page}: error shown: {}", login.email, b.text().await.unwrap_or_default()));
                }
            }
        }
        eprintln!("{} ({}): {} pages: {}", login.email, login.role.label(), pages.len(), pages.join(" "));
        if login.email == VIEWER {
            // The report's A/B table shows every column at desktop width: nothing scrolls
            // out of sight.
            open(&browser, &format!("{base}/clients/1/reports")).await;
            hydrated(&browser).await;
            let widths = browser
                .execute(
                    "const w = document.querySelector('.ab-test .table-wrap'); \
                     return w ? [w.scrollWidth, w.clientWidth] : null",
                    vec![],
                )
                .await
                .unwrap();
            let (scroll, client) = (widths[0].as_i64().expect("an A/B table in the demo report"), widths[1].as_i64().unwrap());
            assert!(scroll <= client, "the A/B table is cut off: {scroll}px of content in {client}px");
            let table = browser.find(Locator::Css(".ab-test")).await.unwrap();
            std::fs::write(artifact("run-command-ab-table.png"), table.screenshot().await.unwrap()).unwrap();
        }
        sign_out(&browser).await;
        browser.close().await.ok();
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// With JavaScript off, against the run command's server.
#[tokio::test]
#[ignore = "the run command's server"]
async fn run_command_works_with_javascript_off() {
    let driver = Driver::start().await;
    let base = run_command_url();
    javascript_off_journey(&driver, &base).await;
    // Every demo user signs in and out with JavaScript off.
    let browser = driver.browser_with(1280, 900, false, false).await;
    for login in LOGINS.iter() {
        sign_in_at(&browser, &base, login.email, login.password).await;
        wait_for_path(&browser, "/").await;
        wait_for_text(&browser, "main h1", "Dashboard").await;
        sign_out(&browser).await;
    }
    browser.close().await.ok();
}

/// With JavaScript off, against the test's own server (on SQLite or PostgreSQL).
#[tokio::test]
async fn the_console_works_with_javascript_off() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    javascript_off_journey(&driver, &app.base).await;
}

/// Signing in, a write and signing out with JavaScript off, as before the WASM has loaded:
/// a wrong password comes back as the page with the message, and nothing typed travels
/// in an address; the account manager launches the demo's draft campaign; signing out
/// returns to the sign-in page.
async fn javascript_off_journey(driver: &Driver, base: &str) {
    let browser = driver.browser_with(1280, 900, false, false).await;
    let (email, password) = login(MANAGER);
    sign_in_at(&browser, base, email, "not-the-password-1").await;
    wait_for_text(&browser, "form .notice.error", "password is wrong").await;
    let url = browser.current_url().await.unwrap().to_string();
    assert!(url.starts_with(&format!("{base}/sign-in")), "{url}");
    assert!(!url.contains("not-the-password") && !url.contains("password=") && !url.contains("email="), "{url}");
    // Had the page's scripts run, the WASM would have marked the page by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(browser.find(Locator::Css("body[data-hydrated]")).await.is_err(), "the page's scripts ran: JavaScript is not off");

    sign_in_at(&browser, base, email, password).await;
    wait_for_path(&browser, "/").await;
    wait_for_text(&browser, "main h1", "Dashboard").await;
    let url = browser.current_url().await.unwrap().to_string();
    assert!(!url.contains(password), "{url}");

    // The demo's draft campaign of Nordlicht, launched from the campaign list.
    open(&browser, &format!("{base}/clients/1/campaigns")).await;
    wait_for_text(&browser, "main table", "draft").await;
    button(&browser, "Launch").await.click().await.unwrap();
    wait_for_path(&browser, "/clients/1/campaigns").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        // The post and the page it comes back to may still be loading: read again.
        let table = match browser.find(Locator::Css("main table")).await {
            Ok(table) => table.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if !table.is_empty() && !table.contains("draft") {
            assert!(table.contains("running") || table.contains("canary"), "{table}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the campaign was not launched: {table}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    screenshot(&browser, "javascript-off-launched.png").await;

    sign_out(&browser).await;
    open(&browser, &format!("{base}/")).await;
    wait_for_path(&browser, "/sign-in").await;
    browser.close().await.ok();
}
