//! Templates over HTTP: the lint blocks on the server whatever the browser shows, the
//! approval workflow (author never approves, locale reviewers, the client last), mail to
//! approvers through a real SMTP server, history and diffs, and client isolation.
//!
//! Demo tenancy: client 1 (Nordlicht, brand 1, contract: client approves last) is
//! assigned to the manager, both copywriters and viewer@nordlicht; client 3 to nobody but
//! the admin. The demo seeds template 1 (de v1 approved, en v1 in review) and template 2
//! (Amazon, de draft) for client 1.

use serde_json::{json, Value};
use starling_tests::*;

const FOOTER_HTML: &str = "<p>{{ brand.postal_address }} · <a href=\"{{ unsubscribe_url }}\">Abmelden</a></p>";
const FOOTER_TEXT: &str = "{{ brand.postal_address }}\nAbmelden: {{ unsubscribe_url }}";

async fn create(client: &Client, client_id: i64, brand_id: i64, name: &str, locale: &str) -> (i64, i64) {
    let answer = client
        .rpc("create_template", json!({ "form": { "client_id": client_id, "brand_id": brand_id, "name": name, "purpose": "review_request", "platform": "shopify", "locale": locale } }))
        .await;
    assert_eq!(answer.status, 200, "create_template: {}", answer.body);
    let ids = answer.json();
    (ids[0].as_i64().unwrap(), ids[1].as_i64().unwrap())
}

async fn save(client: &Client, id: i64, subject: &str, html: &str, text: &str) -> Answer {
    client.rpc("save_version", json!({ "id": id, "subject": subject, "html": html, "text": text })).await
}

async fn step(client: &Client, id: i64, step: &str, comment: &str) -> Answer {
    client.rpc("version_step", json!({ "id": id, "step": step, "comment": comment })).await
}

fn categories(findings: &Value) -> Vec<String> {
    findings.as_array().unwrap().iter().map(|f| f["category"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_german_version_goes_from_draft_through_both_reviews_to_approved_with_mail_at_each_step() {
    let smtp = SmtpSink::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(move |c| c.smtp_url = Some(secrecy::SecretString::from(url))).await;
    let writer = app.signed_in(WRITER).await;
    let (template, version) = create(&writer, 1, 1, "Nachkauf-Bewertung", "de").await;

    // "5 Sterne" blocks: the server's own lint answers the save and refuses submission.
    let html = format!("<p>Bitte geben Sie uns 5 Sterne für {{{{ product.name }}}}.</p>{FOOTER_HTML}");
    let saved = save(&writer, version, "Wie gefällt es Ihnen?", &html, &format!("Wie gefällt es Ihnen? {FOOTER_TEXT}")).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let findings = saved.json();
    let incentive = findings.as_array().unwrap().iter().find(|f| f["category"] == "incentive").expect("an incentive finding");
    assert_eq!(incentive["severity"], "Block");
    assert_eq!(&html[incentive["start"].as_u64().unwrap() as usize..incentive["end"].as_u64().unwrap() as usize], "5 Sterne");
    let refused = step(&writer, version, "Submit", "").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("blocking"), "{}", refused.body);

    let html =
        format!("<p>Wie gefällt Ihnen {{{{ product.name }}}}? <a href=\"{{{{ review_url }}}}\">Ehrlich bewerten</a></p>{FOOTER_HTML}");
    let saved =
        save(&writer, version, "Wie gefällt es Ihnen?", &html, &format!("Wie gefällt es Ihnen? {{{{ review_url }}}}\n{FOOTER_TEXT}")).await;
    assert!(categories(&saved.json()).is_empty(), "{}", saved.body);
    let submitted = step(&writer, version, "Submit", "").await;
    assert_eq!(submitted.json(), json!("InReview"), "{}", submitted.body);
    let mail = smtp.wait_for(REVIEWER, "Review requested").await;
    assert!(mail.data.contains(&format!("/clients/1/templates/{template}/versions/{version}")), "{}", mail.data);
    assert!(!smtp.messages().iter().any(|m| m.to.iter().any(|t| t == WRITER)), "the author is not asked to review");

    // The author can't approve their own version; the German reviewer can.
    let own = step(&writer, version, "Approve", "").await;
    assert_eq!(own.status, 403, "{}", own.body);
    let reviewer = app.signed_in(REVIEWER).await;
    let approved = step(&reviewer, version, "Approve", "Passt.").await;
    assert_eq!(approved.json(), json!("ClientReview"), "{}", approved.body);
    smtp.wait_for(VIEWER, "Your approval is requested").await;

    // The client's viewer approves last; the writer hears of it.
    let viewer = app.signed_in(VIEWER).await;
    let done = step(&viewer, version, "Approve", "").await;
    assert_eq!(done.json(), json!("Approved"), "{}", done.body);
    smtp.wait_for(WRITER, "Approved").await;

    let editor = writer.rpc("version_editor", json!({ "id": version })).await.json();
    assert_eq!(editor["version"]["row"]["status"], "Approved");
    let actions: Vec<&str> = editor["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["created", "edited", "edited", "submitted", "approved", "client_approved"]);
    assert_eq!(editor["can_edit"], false, "an approved version can't change");
    let again = save(&writer, version, "x", "y", "z").await;
    assert_eq!(again.status, 409, "{}", again.body);
}

#[tokio::test]
async fn changes_requested_need_a_comment_and_go_back_to_the_writer() {
    let smtp = SmtpSink::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(move |c| c.smtp_url = Some(secrecy::SecretString::from(url))).await;
    let reviewer = app.signed_in(REVIEWER).await;
    // Demo: the English version 2 of template 1 waits for review, written by WRITER.
    let without = step(&reviewer, 2, "RequestChanges", "  ").await;
    assert_eq!(without.status, 422, "{}", without.body);
    let answer = step(&reviewer, 2, "RequestChanges", "Please name the product in the subject.").await;
    assert_eq!(answer.json(), json!("ChangesRequested"), "{}", answer.body);
    let mail = smtp.wait_for(WRITER, "Changes requested").await;
    assert!(mail.data.contains("Please name the product"), "{}", mail.data);
    // The writer edits and resubmits; the reviewer who edited nothing may approve.
    let writer = app.signed_in(WRITER).await;
    let editor = writer.rpc("version_editor", json!({ "id": 2 })).await.json();
    let subject = format!("{} (updated)", editor["version"]["subject"].as_str().unwrap());
    let saved = save(&writer, 2, &subject, editor["version"]["html"].as_str().unwrap(), editor["version"]["text"].as_str().unwrap()).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(step(&writer, 2, "Submit", "").await.json(), json!("InReview"));
    assert_eq!(step(&reviewer, 2, "Approve", "").await.json(), json!("ClientReview"));
}

#[tokio::test]
async fn an_editor_of_a_version_cannot_approve_it_and_a_reviewer_of_another_language_neither() {
    let app = TestApp::spawn().await;
    let writer = app.signed_in(WRITER).await;
    let reviewer = app.signed_in(REVIEWER).await;
    let (_, version) = create(&writer, 1, 1, "Care DE", "de").await;
    // The reviewer edits the text too: now both wrote it, and neither may approve.
    let editor = reviewer.rpc("version_editor", json!({ "id": version })).await.json();
    let saved = save(
        &reviewer,
        version,
        "Ihre Bestellung",
        editor["version"]["html"].as_str().unwrap(),
        editor["version"]["text"].as_str().unwrap(),
    )
    .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(step(&writer, version, "Submit", "").await.status, 200);
    let by_editor = step(&reviewer, version, "Approve", "").await;
    assert_eq!(by_editor.status, 403, "{}", by_editor.body);
    // A Japanese version can't be approved by a reviewer of German.
    let (_, japanese) = create(&writer, 1, 1, "Care JA", "ja").await;
    assert_eq!(step(&writer, japanese, "Submit", "").await.status, 200);
    let wrong_language = step(&reviewer, japanese, "Approve", "").await;
    assert_eq!(wrong_language.status, 403, "{}", wrong_language.body);
    assert!(wrong_language.body.contains("ja"), "{}", wrong_language.body);
}

#[tokio::test]
async fn without_smtp_notifications_land_in_the_outbox_that_only_admins_read() {
    let app = TestApp::spawn().await;
    let writer = app.signed_in(WRITER).await;
    let (_, version) = create(&writer, 1, 1, "Outbox check", "de").await;
    assert_eq!(step(&writer, version, "Submit", "").await.status, 200);
    let admin = app.signed_in(ADMIN).await;
    let outbox = admin.rpc("list_outbox", json!({})).await;
    assert_eq!(outbox.status, 200, "{}", outbox.body);
    let messages = outbox.json()["messages"].as_array().unwrap().clone();
    let mail = messages.iter().find(|m| m["to"].as_str().unwrap().contains(REVIEWER)).expect("a notification in the outbox");
    assert!(mail["subject"].as_str().unwrap().contains("Review requested"), "{mail}");
    let raw = admin.rpc("outbox_message", json!({ "file": mail["file"] })).await;
    assert!(raw.body.contains("Outbox check"), "{}", raw.body);
    let sneaky = admin.rpc("outbox_message", json!({ "file": "../starling.db" })).await;
    assert_eq!(sneaky.status, 404);
    let manager = app.signed_in(MANAGER).await;
    assert_eq!(manager.rpc("list_outbox", json!({})).await.status, 403);
}

#[tokio::test]
async fn users_of_one_client_cannot_read_or_change_another_clients_templates() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    let (template, version) = create(&admin, 3, 5, "Maison Verte avis", "fr").await;
    for who in [MANAGER, WRITER, REVIEWER, VIEWER, VIEWER_SAKURA] {
        let client = app.signed_in(who).await;
        let calls = [
            client.rpc("list_templates", json!({ "client_id": 3, "query": { "q": "", "sort": "", "desc": false, "page": 1 } })).await,
            client.rpc("get_template", json!({ "id": template })).await,
            client.rpc("version_editor", json!({ "id": version })).await,
            save(&client, version, "x", "y", "z").await,
            step(&client, version, "Submit", "").await,
            client.rpc("new_version", json!({ "template_id": template, "locale": "de", "copy_from": null })).await,
            client
                .rpc(
                    "create_template",
                    json!({ "form": { "client_id": 3, "brand_id": 5, "name": "x", "purpose": "care", "platform": "any", "locale": "fr" } }),
                )
                .await,
            client.rpc("compare_versions", json!({ "from": 1, "to": version })).await,
        ];
        for answer in calls {
            assert!(answer.status == 403 || answer.status == 422, "{who}: {} {}", answer.status, answer.body);
            assert!(!answer.body.contains("Maison Verte avis"), "{who} saw another client's template");
        }
    }
    // Another client's queue items never show either.
    let queue = app.signed_in(VIEWER_SAKURA).await.rpc("approval_queue", json!({})).await.json();
    assert!(queue["items"].as_array().unwrap().is_empty(), "{queue}");
}

#[tokio::test]
async fn a_client_viewer_reads_their_templates_but_changes_only_their_own_approvals() {
    let app = TestApp::spawn().await;
    let viewer = app.signed_in(VIEWER).await;
    let list = viewer.rpc("list_templates", json!({ "client_id": 1, "query": { "q": "", "sort": "", "desc": false, "page": 1 } })).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    assert_eq!(list["can_write"], false);
    assert_eq!(list["page"]["total"], 2);
    assert_eq!(save(&viewer, 3, "x", "y", "z").await.status, 403);
    assert_eq!(step(&viewer, 3, "Submit", "").await.status, 403);
    // The English version waits for the agency's reviewer, not for the client yet.
    assert_eq!(step(&viewer, 2, "Approve", "").await.status, 403);
}

#[tokio::test]
async fn a_new_round_after_approval_is_a_new_version_and_the_diff_shows_the_change() {
    let app = TestApp::spawn().await;
    let writer = app.signed_in(WRITER).await;
    // Demo version 1 (de) of template 1 is approved: a new round copies it.
    let copy = writer.rpc("new_version", json!({ "template_id": 1, "locale": "de", "copy_from": 1 })).await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    let id = copy.json().as_i64().unwrap();
    let editor = writer.rpc("version_editor", json!({ "id": id })).await.json();
    assert_eq!(editor["version"]["row"]["number"], 2);
    let html = editor["version"]["html"].as_str().unwrap().replace("ehrliche Bewertung", "offene Meinung");
    assert_eq!(
        save(&writer, id, editor["version"]["subject"].as_str().unwrap(), &html, editor["version"]["text"].as_str().unwrap()).await.status,
        200
    );
    let diff = writer.rpc("compare_versions", json!({ "from": 1, "to": id })).await.json();
    let html_lines = diff["parts"][1][1].as_array().unwrap();
    assert!(html_lines.iter().any(|l| l["sign"] == "-" && l["text"].as_str().unwrap().contains("ehrliche Bewertung")), "{diff}");
    assert!(html_lines.iter().any(|l| l["sign"] == "+" && l["text"].as_str().unwrap().contains("offene Meinung")), "{diff}");
    // A second open draft of the same language is refused: work goes on in the first.
    let twice = writer.rpc("new_version", json!({ "template_id": 1, "locale": "de", "copy_from": 1 })).await;
    assert_eq!(twice.status, 409, "{}", twice.body);
}

#[tokio::test]
async fn the_demo_versions_are_as_clean_as_their_counts_say() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    for id in 1..=4 {
        let editor = admin.rpc("version_editor", json!({ "id": id })).await.json();
        let findings = editor["findings"].as_array().unwrap();
        let blocking = findings.iter().filter(|f| f["severity"] == "Block").count() as i64;
        assert_eq!(blocking, editor["version"]["row"]["blocking"].as_i64().unwrap(), "version {id}: {findings:?}");
        assert_eq!(findings.len() as i64 - blocking, editor["version"]["row"]["warnings"].as_i64().unwrap(), "version {id}: {findings:?}");
        // The preview sample is a real order of the brand, its date written for the locale.
        assert!(editor["sample_source"].as_str().unwrap().starts_with("order "), "{}", editor["sample_source"]);
    }
    let german = admin.rpc("version_editor", json!({ "id": 1 })).await.json();
    let date = german["sample"]["order"]["date"].as_str().unwrap();
    assert!(date.len() == 10 && &date[2..3] == "." && &date[5..6] == ".", "a German date: {date}");
}

#[tokio::test]
async fn a_new_template_starts_in_its_language_without_findings() {
    let app = TestApp::spawn().await;
    let writer = app.signed_in(WRITER).await;
    for (i, (locale, word)) in [
        ("en", "Unsubscribe"),
        ("de", "Abmelden"),
        ("fr", "Se désabonner"),
        ("es", "Darse de baja"),
        ("it", "Disiscriviti"),
        ("ja", "配信停止"),
        ("zh-Hans", "退订"),
    ]
    .into_iter()
    .enumerate()
    {
        let (_, version) = create(&writer, 1, 1, &format!("Starter {i}"), locale).await;
        let editor = writer.rpc("version_editor", json!({ "id": version })).await.json();
        assert_eq!(editor["findings"], json!([]), "{locale}: {}", editor["findings"]);
        assert!(editor["version"]["text"].as_str().unwrap().contains(word), "{locale}: {}", editor["version"]["text"]);
    }
}

/// Copying a version carries its authors: whoever wrote the text being copied cannot
/// approve the copy, even though someone else made it.
#[tokio::test]
async fn whoever_wrote_the_text_cannot_approve_a_copy_of_it() {
    let app = TestApp::spawn().await;
    let reviewer = app.signed_in(REVIEWER).await;
    let (template, original) = create(&reviewer, 1, 1, "Copied text", "en").await;
    let html = format!("<p>How do you like {{{{ product.name }}}}? <a href=\"{{{{ review_url }}}}\">Review it</a></p>{FOOTER_HTML}");
    let text = format!("How do you like it? {{{{ review_url }}}}\n{FOOTER_TEXT}");
    assert_eq!(save(&reviewer, original, "How is it?", &html, &text).await.status, 200);

    // The other copywriter copies it into German and submits it unchanged.
    let writer = app.signed_in(WRITER).await;
    let copy = writer.rpc("new_version", json!({ "template_id": template, "locale": "de", "copy_from": original })).await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    let copy = copy.json().as_i64().unwrap();
    let submitted = step(&writer, copy, "Submit", "").await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);

    // The German reviewer wrote that text: they may not approve it.
    let approve = step(&reviewer, copy, "Approve", "looks good").await;
    assert_eq!(approve.status, 403, "{}", approve.body);
    assert!(approve.body.contains("you wrote part of this version"), "{}", approve.body);
}

/// A draft that would loop 36 million times is a blocking finding where it is written, and
/// its editor page shows that instead of rendering it.
#[tokio::test]
async fn a_template_that_would_loop_for_seconds_is_refused_with_a_finding() {
    let app = TestApp::spawn().await;
    let writer = app.signed_in(WRITER).await;
    let (template, version) = create(&writer, 1, 1, "Heavy", "de").await;
    let heavy = format!("<p>{{% for i in range(6000) %}}{{% for j in range(6000) %}}x{{% endfor %}}{{% endfor %}}</p>{FOOTER_HTML}");
    let saved = save(&writer, version, "Betreff", &heavy, &format!("Text {FOOTER_TEXT}")).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let findings = saved.json();
    let finding = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["message"].as_str().unwrap_or("").contains("{% for %} is not available"))
        .unwrap_or_else(|| panic!("a finding about the loop: {findings}"));
    assert_eq!(finding["severity"], "Block", "{finding}");
    assert_eq!(step(&writer, version, "Submit", "").await.status, 409, "a blocking finding stops submission");
    let page = writer.get(&format!("/clients/1/templates/{template}/versions/{version}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("is not available in messages"), "the editor shows the finding");
}
