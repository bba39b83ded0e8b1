//! The authorization matrix: every server function and every route, called by each kind
//! of user against their own client and a foreign one, gets the expected answer. A server
//! function or route missing from the matrix fails the test, so nothing new ships
//! unchecked.
//!
//! Demo tenancy: client 1 (Nordlicht, brands 1-2) is assigned to the account manager, the
//! copywriter and the Nordlicht viewer; client 3 (Maison Verte, brands 5-6) to none of them.

use crate::orders::upload;
use serde_json::{json, Value};
use server::routes::{RouteAccess, HTTP_ROUTES};
use starling_tests::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Admin,
    Manager,
    Writer,
    Viewer,
}

const EVERYONE: [Who; 5] = [Who::Anonymous, Who::Admin, Who::Manager, Who::Writer, Who::Viewer];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Own,
    Foreign,
}

#[derive(Debug)]
enum Expect {
    /// This exact status.
    Status(u16),
    /// Refused: 401 when signed out, 403 when signed in.
    Deny,
}

struct Case {
    body: Value,
    expect: Expect,
    /// Text that must not appear in an allowed answer (a foreign client's data).
    hidden: &'static [&'static str],
}

fn email_of(who: Who) -> Option<&'static str> {
    match who {
        Who::Anonymous => None,
        Who::Admin => Some(ADMIN),
        Who::Manager => Some(MANAGER),
        Who::Writer => Some(WRITER),
        Who::Viewer => Some(VIEWER),
    }
}

/// What each kind of user must not see in client-scoped lists.
fn foreign_names(who: Who) -> &'static [&'static str] {
    match who {
        Who::Manager | Who::Writer => &["Maison Verte"],
        Who::Viewer => &["Maison Verte", "Sakura"],
        _ => &[],
    }
}

fn client_of(target: Target) -> i64 {
    match target {
        Target::Own => 1,
        Target::Foreign => 3,
    }
}

fn brand_of(target: Target) -> i64 {
    match target {
        Target::Own => 1,
        Target::Foreign => 5,
    }
}

fn allow_if(yes: bool) -> Expect {
    if yes {
        Expect::Status(200)
    } else {
        Expect::Deny
    }
}

/// The matrix for server functions. `None`: the function is not in the matrix.
fn rpc_case(name: &str, who: Who, target: Target, n: usize) -> Option<Case> {
    let signed_in = who != Who::Anonymous;
    let admin = who == Who::Admin;
    let own = target == Target::Own;
    let client = client_of(target);
    let case = |body: Value, expect: Expect| Case { body, expect, hidden: &[] };
    let list_query = json!({ "query": { "q": "", "sort": "", "desc": false, "page": 1 } });
    Some(match name {
        "sign_in" => match email_of(who) {
            Some(email) => case(json!({ "email": email, "password": login(email).1 }), Expect::Status(200)),
            None => case(json!({ "email": "someone@x.test", "password": "not-a-password" }), Expect::Status(422)),
        },
        "sign_out" | "current_user" => case(json!({}), Expect::Status(200)),
        // Signed-in users reach the password check (422 for a wrong current password).
        "change_password" => case(
            json!({ "current": "wrong-current", "new_password": "a-new-password-1", "confirm": "a-new-password-1" }),
            if signed_in { Expect::Status(422) } else { Expect::Deny },
        ),
        "list_users" | "assignable_clients" => case(json!({}), allow_if(admin)),
        "list_audit" => case(list_query, allow_if(admin)),
        "create_user" => case(
            json!({ "user": { "email": format!("matrix{n}@starling.test"), "name": "Matrix", "role": "copywriter",
                               "password": "matrix-password-1", "clients": [client] } }),
            allow_if(admin),
        ),
        "update_user" => case(
            json!({ "change": { "id": 3, "name": "Clara Copy", "role": "copywriter", "disabled": false,
                                "clients": [1, 2], "new_password": "" } }),
            allow_if(admin),
        ),
        "list_clients" => Case { body: list_query, expect: allow_if(signed_in), hidden: foreign_names(who) },
        "client_options" | "dashboard" => Case { body: json!({}), expect: allow_if(signed_in), hidden: foreign_names(who) },
        "get_client" => case(json!({ "id": client }), allow_if(admin || (signed_in && own))),
        "save_client" => {
            let names = ["", "Nordlicht Outdoor GmbH", "Sakura Home Co.", "Maison Verte SARL"];
            case(
                json!({ "form": { "id": client, "name": names[client as usize], "contact_email": "", "support_email": "" } }),
                allow_if(admin),
            )
        }
        "save_brand" => case(
            json!({ "form": { "id": null, "client_id": client, "name": format!("Matrix brand {n}"),
                              "sender_name": "Matrix", "sender_email": "care@mail.matrix.test",
                              "sending_domain": "mail.matrix.test", "default_locale": "en",
                              "postal_address": "1 Test Street, Testville" } }),
            allow_if(admin || (who == Who::Manager && own)),
        ),
        "save_store" => case(
            json!({ "form": { "id": null, "brand_id": brand_of(target), "name": format!("Matrix store {n}"),
                              "platform": "shopify", "marketplace": "matrix.test", "currency": "EUR",
                              "time_zone": "Europe/Berlin" } }),
            allow_if(admin || (who == Who::Manager && own)),
        ),
        // Orders in. Functions that change or look up one record are called with an id
        // that does not exist: an allowed caller gets past the role check to 404.
        "list_orders" => {
            let body = json!({ "client_id": client, "filter": {}, "query": { "q": "", "sort": "", "desc": false, "page": 1 } });
            Case { body, expect: allow_if(reads_orders(who, own)), hidden: foreign_names(who) }
        }
        // The agency-wide list can hold any client's buyers: only admins read it.
        "list_suppressions" => {
            let body = json!({ "client_id": client, "query": { "q": "", "sort": "", "desc": false, "page": 1 } });
            let hidden: &'static [&'static str] = match who {
                Who::Manager | Who::Writer => &["Maison Verte", AGENCY_WIDE_ENTRY],
                Who::Viewer => &["Maison Verte", "Sakura", AGENCY_WIDE_ENTRY],
                _ => &[],
            };
            Case { body, expect: allow_if(reads_orders(who, own)), hidden }
        }
        "get_customer" | "erase_customer" => case(
            json!({ "client_id": client, "customer_id": 999_999 }),
            found_if(reads_orders(who, own) && (name == "get_customer" || manages_orders(who, own)), who),
        ),
        "record_consent" => case(
            json!({ "form": { "client_id": client, "customer_id": 999_999, "channel": "sms", "scope": "marketing", "wording": "Yes",
                "given_on": "" } }),
            found_if(manages_orders(who, own), who),
        ),
        "list_imports" => case(json!({ "client_id": client }), allow_if(manages_orders(who, own))),
        "get_import" | "start_import" => case(json!({ "client_id": client, "job_id": 999_999 }), found_if(manages_orders(who, own), who)),
        "save_mapping" => case(json!({ "client_id": client, "job_id": 999_999, "mapping": {} }), found_if(manages_orders(who, own), who)),
        "add_suppression" => case(
            json!({ "client_id": client, "brand_id": brand_of(target), "address": format!("matrix{n}@example.test"), "note": "" }),
            allow_if(manages_orders(who, own)),
        ),
        "remove_suppression" => case(json!({ "client_id": client, "id": 999_999 }), found_if(manages_orders(who, own), who)),
        "set_retention" => case(json!({ "client_id": client, "months": 0 }), allow_if(admin)),
        "list_api_keys" | "create_api_key" => case(
            json!({ "client_id": client, "store_id": store_of(target), "label": format!("matrix {n}") }),
            allow_if(manages_orders(who, own)),
        ),
        "revoke_api_key" => case(json!({ "client_id": client, "key_id": 999_999 }), found_if(manages_orders(who, own), who)),
        // Templates: everyone assigned reads; copywriters and managers write; workflow
        // steps reach the version's state check (409 on a draft) only for the client's users.
        "list_templates" => {
            let body = json!({ "client_id": client, "query": { "q": "", "sort": "", "desc": false, "page": 1 } });
            Case { body, expect: allow_if(admin || (signed_in && own)), hidden: foreign_names(who) }
        }
        "get_template" => case(json!({ "id": template_of(target) }), allow_if(admin || (signed_in && own))),
        "version_editor" => case(json!({ "id": version_of(target) }), allow_if(admin || (signed_in && own))),
        "compare_versions" => case(json!({ "from": version_of(target), "to": version_of(target) }), allow_if(admin || (signed_in && own))),
        "create_template" => case(
            json!({ "form": { "client_id": client, "brand_id": brand_of(target), "name": format!("Matrix template {n}"),
                              "purpose": "care", "platform": "any", "locale": "en" } }),
            allow_if(writes_templates(who, own)),
        ),
        "new_version" => case(
            json!({ "template_id": template_of(target), "locale": format!("en-{:03}", n % 1000), "copy_from": null }),
            allow_if(writes_templates(who, own)),
        ),
        "save_version" => case(
            json!({ "id": version_of(target), "subject": format!("Matrix {n}"), "html": "<p>x</p>", "text": "x" }),
            allow_if(writes_templates(who, own)),
        ),
        "version_step" => case(
            json!({ "id": version_of(target), "step": "Approve", "comment": "" }),
            if admin || (signed_in && own) { Expect::Status(409) } else { Expect::Deny },
        ),
        "approval_queue" => Case { body: json!({}), expect: allow_if(signed_in), hidden: foreign_names(who) },
        "list_outbox" => case(json!({}), allow_if(admin)),
        // Campaigns: the client's account managers and admins; demo campaign 1 belongs to
        // client 1, campaign 2 to client 3 (both drafts, so "Resume" is a 409 conflict).
        "list_campaigns" => {
            Case { body: json!({ "client_id": client }), expect: allow_if(manages_orders(who, own)), hidden: foreign_names(who) }
        }
        "create_campaign" => case(
            json!({ "form": { "client_id": client, "template_id": template_of(target), "name": format!("Matrix campaign {n}"),
                              "trigger": "batch", "days": 0, "countries": "", "fallback": "", "variants": [] } }),
            allow_if(manages_orders(who, own)),
        ),
        "preview_campaign" => case(json!({ "id": campaign_of(target) }), allow_if(manages_orders(who, own))),
        // Brands' sending set-up: admins and the client's account managers.
        "brand_sending" => Case {
            body: json!({ "brand_id": brand_of(target) }),
            expect: allow_if(admin || (who == Who::Manager && own)),
            hidden: foreign_names(who),
        },
        "check_domain" => Case {
            body: json!({ "brand_id": brand_of(target) }),
            expect: allow_if(admin || (who == Who::Manager && own)),
            hidden: foreign_names(who),
        },
        "generate_dkim_key" => {
            case(json!({ "brand_id": brand_of(target), "algorithm": "ed25519" }), allow_if(admin || (who == Who::Manager && own)))
        }
        "campaign_messages" => Case {
            body: json!({ "id": campaign_of(target), "query": { "q": "", "sort": "", "desc": false, "page": 1 } }),
            expect: allow_if(manages_orders(who, own)),
            hidden: foreign_names(who),
        },
        "campaign_form" => case(json!({ "id": campaign_of(target) }), allow_if(manages_orders(who, own))),
        "update_campaign" => case(
            json!({ "id": campaign_of(target), "form": { "client_id": client, "template_id": template_of(target), "name": format!("Matrix edit {n}"),
                              "trigger": "delivery", "days": 7, "countries": "", "fallback": "en", "variants": [] } }),
            allow_if(manages_orders(who, own)),
        ),
        "campaign_detail" => {
            Case { body: json!({ "id": campaign_of(target) }), expect: allow_if(manages_orders(who, own)), hidden: foreign_names(who) }
        }
        "campaign_step" => case(
            json!({ "id": campaign_of(target), "step": "Resume" }),
            if manages_orders(who, own) { Expect::Status(409) } else { Expect::Deny },
        ),
        "outbox_message" => case(json!({ "file": "no-such-message.eml" }), found_if(admin, who)),
        // Reports: everyone assigned to the client reads them (the client viewers' portal);
        // alerts are worked on by admins and account managers; contracts by admins.
        "client_report" => Case {
            body: json!({ "client_id": client, "from": "", "until": "" }),
            expect: allow_if(admin || (signed_in && own)),
            hidden: foreign_names(who),
        },
        "list_reviews" => Case {
            body: json!({ "client_id": client, "query": { "q": "", "sort": "", "desc": false, "page": 1 } }),
            expect: allow_if(admin || (signed_in && own)),
            hidden: foreign_names(who),
        },
        "sla_board" => {
            Case { body: json!({ "client_id": client }), expect: allow_if(admin || (signed_in && own)), hidden: foreign_names(who) }
        }
        "sla_overview" => Case { body: json!({}), expect: allow_if(signed_in), hidden: foreign_names(who) },
        "save_contract" => case(
            json!({ "client_id": client, "contract": { "min_delivery_rate_bp": 9500, "unsubscribe_hours": 48, "review_response_hours": 24,
                                                       "approval_hours": 72, "launch_grace_hours": 24, "attribution_days": 30 } }),
            allow_if(admin),
        ),
        // Usage and prices: the client's account managers and viewers read what it costs;
        // admins set the prices.
        "usage_statement" => {
            Case { body: json!({ "client_id": client, "month": "" }), expect: allow_if(reads_orders(who, own)), hidden: foreign_names(who) }
        }
        "save_price" => case(json!({ "client_id": client, "channel": "sms", "price": "12.00", "currency": "USD" }), allow_if(admin)),
        "list_alerts" => Case { body: json!({ "status": "" }), expect: allow_if(admin || who == Who::Manager), hidden: foreign_names(who) },
        "update_alert" => {
            case(json!({ "id": 999_999, "status": "open", "owner_id": null, "note": "" }), found_if(admin || who == Who::Manager, who))
        }
        // Connections: store 2 is client 1's Shopify shop, store 8 client 3's; connecting
        // runs first (the functions are called in name order), so connection 1 is client
        // 1's and connection 2 client 3's.
        "list_connections" => Case { body: json!({}), expect: allow_if(signed_in && who != Who::Writer), hidden: foreign_names(who) },
        "connect_store" => case(
            json!({ "form": { "store_id": if own { 2 } else { 8 }, "account": "matrixshop", "token": "shpat_matrix_token" } }),
            allow_if(manages_orders(who, own)),
        ),
        "disconnect_store" | "sync_store_now" => case(json!({ "id": if own { 1 } else { 2 } }), allow_if(manages_orders(who, own))),
        "set_sync_interval" => case(json!({ "id": if own { 1 } else { 2 }, "minutes": 15 }), allow_if(manages_orders(who, own))),
        _ => return None,
    })
}

/// Demo campaigns: 1 of client 1, 2 of client 3.
fn campaign_of(target: Target) -> i64 {
    match target {
        Target::Own => 1,
        Target::Foreign => 2,
    }
}

/// Admins, and the client's account managers and copywriters.
fn writes_templates(who: Who, own: bool) -> bool {
    who == Who::Admin || (own && matches!(who, Who::Manager | Who::Writer))
}

/// Demo templates: 1 of client 1 (versions 1-2), 3 of client 3 (version 4).
fn template_of(target: Target) -> i64 {
    match target {
        Target::Own => 1,
        Target::Foreign => 3,
    }
}

/// Demo versions: 3 is client 1's Amazon draft, 4 client 3's French draft.
fn version_of(target: Target) -> i64 {
    match target {
        Target::Own => 3,
        Target::Foreign => 4,
    }
}

/// Admins, and the client's account managers and viewers (copywriters see no buyers).
fn reads_orders(who: Who, own: bool) -> bool {
    who == Who::Admin || (own && matches!(who, Who::Manager | Who::Viewer))
}

/// Admins and the client's account managers.
fn manages_orders(who: Who, own: bool) -> bool {
    who == Who::Admin || (own && who == Who::Manager)
}

/// Allowed callers reach the look-up of a record that does not exist.
fn found_if(allowed: bool, _who: Who) -> Expect {
    if allowed {
        Expect::Status(404)
    } else {
        Expect::Deny
    }
}

fn store_of(target: Target) -> i64 {
    match target {
        Target::Own => 1,
        Target::Foreign => 7,
    }
}

fn check(what: &str, who: Who, target: Target, expect: &Expect, hidden: &[&str], answer: &Answer) -> Option<String> {
    let wanted = match expect {
        Expect::Status(code) => *code,
        Expect::Deny if who == Who::Anonymous => 401,
        Expect::Deny => 403,
    };
    if answer.status != wanted {
        return Some(format!("{what} as {who:?} on {target:?} client: expected {wanted}, got {} ({})", answer.status, answer.body));
    }
    if answer.status == 200 {
        if let Some(name) = hidden.iter().find(|name| answer.body.contains(*name)) {
            return Some(format!("{what} as {who:?} shows a foreign client's data ({name})"));
        }
    }
    None
}

/// An address on the agency-wide suppression list (a buyer of another client).
const AGENCY_WIDE_ENTRY: &str = "agency-wide.buyer@maison-verte.test";

#[tokio::test]
async fn every_server_function_checks_role_and_client() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN).await;
    let added = admin.rpc("add_suppression", json!({ "client_id": 3, "brand_id": null, "address": AGENCY_WIDE_ENTRY, "note": "" })).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let seen = admin
        .rpc("list_suppressions", json!({ "client_id": 1, "query": { "q": "agency-wide", "sort": "", "desc": false, "page": 1 } }))
        .await;
    assert!(seen.body.contains(AGENCY_WIDE_ENTRY), "admins see the agency-wide list on every client's page: {}", seen.body);
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_string()).collect();
    paths.sort();
    assert!(paths.len() >= 14, "server functions registered: {paths:?}");
    let mut failures = Vec::new();
    let mut n = 0;
    for path in &paths {
        let name = path.strip_prefix("/rpc/").unwrap_or_else(|| panic!("{path} is outside /rpc/"));
        for who in EVERYONE {
            for target in [Target::Own, Target::Foreign] {
                n += 1;
                let Some(case) = rpc_case(name, who, target, n) else {
                    panic!("server function {path} is not in the authorization matrix (tests/suite/authz.rs)");
                };
                // A fresh session per call: sign-in, sign-out and password checks change it.
                let client = match email_of(who) {
                    Some(email) => app.signed_in(email).await,
                    None => app.client(),
                };
                let answer = client.rpc(name, case.body).await;
                failures.extend(check(path, who, target, &case.expect, case.hidden, &answer));
            }
        }
    }
    assert!(failures.is_empty(), "{} authorization failures:\n{}", failures.len(), failures.join("\n"));
}

/// Ids of records of client 1 (own) and client 3 (foreign) that only exist once the test
/// made them: a customer (demo data) and an import job (uploaded here).
struct Records {
    customer: [i64; 2],
    job: [i64; 2],
}

async fn records(app: &TestApp) -> Records {
    let admin = app.signed_in(ADMIN).await;
    let mut customer = [0; 2];
    let mut job = [0; 2];
    for (i, (client, store)) in [(1, 1), (3, 7)].into_iter().enumerate() {
        let (id,): (i64,) =
            sqlx::query_as("SELECT MIN(id) FROM customers WHERE client_id = $1").bind(client).fetch_one(&app.db.pool).await.unwrap();
        customer[i] = id;
        job[i] = upload(&admin, client, store, "orders.csv", b"Name,Created at,Financial Status,Fulfillment Status,Lineitem name,Lineitem quantity\n#1,2024-03-05 10:00:00 +0100,paid,,Cap,1\n".to_vec()).await;
    }
    Records { customer, job }
}

/// A concrete path for a route pattern, on the given client's rows.
fn concrete(pattern: &str, target: Target, records: &Records) -> String {
    let (client, brand, store, i) = match target {
        Target::Own => ("1", "1", "1", 0),
        Target::Foreign => ("3", "5", "7", 1),
    };
    pattern
        .replace("{id}", client)
        .replace("{brand}", brand)
        .replace("{store}", store)
        .replace("{template}", &template_of(target).to_string())
        .replace("{version}", &version_of(target).to_string())
        .replace("{customer}", &records.customer[i].to_string())
        .replace("{job}", &records.job[i].to_string())
        .replace("{campaign}", &campaign_of(target).to_string())
}

#[tokio::test]
async fn every_route_is_in_the_matrix_and_pages_never_show_a_foreign_client() {
    let app = TestApp::spawn().await;
    // The router's page routes must all be listed with their access rule.
    let listed: Vec<&str> = HTTP_ROUTES.iter().map(|(path, _)| *path).collect();
    let routes = leptos_axum_route_paths();
    let missing: Vec<&String> = routes.iter().filter(|r| !listed.contains(&r.as_str())).collect();
    assert!(missing.is_empty(), "routes not in HTTP_ROUTES (server/src/routes.rs): {missing:?}");

    let records = records(&app).await;
    let mut failures = Vec::new();
    for (pattern, access) in HTTP_ROUTES {
        for who in EVERYONE {
            for target in [Target::Own, Target::Foreign] {
                let client = match email_of(who) {
                    Some(email) => app.signed_in(email).await,
                    None => app.client(),
                };
                let path = concrete(pattern, target, &records);
                let answer = client.get(&path).await;
                let wanted = match (access, who, *pattern) {
                    (RouteAccess::Public, Who::Anonymous, _) => 200,
                    // A signed-in user opening the sign-in page goes to the dashboard.
                    (RouteAccess::Public, _, "/sign-in") => 303,
                    (RouteAccess::Public, _, _) => 200,
                    (_, Who::Anonymous, _) => 303,
                    (_, Who::Admin, _) => 200,
                    (RouteAccess::SignedIn, _, _) => 200,
                    (RouteAccess::AdminOnly, _, _) => 403,
                    (RouteAccess::Client, _, _) if target == Target::Own => 200,
                    (RouteAccess::Client, _, _) => 403,
                    (RouteAccess::ClientOrders, _, _) if reads_orders(who, target == Target::Own) => 200,
                    (RouteAccess::ClientManage, _, _) if manages_orders(who, target == Target::Own) => 200,
                    (RouteAccess::ClientOrders | RouteAccess::ClientManage, _, _) => 403,
                    (RouteAccess::Managers, Who::Manager, _) => 200,
                    (RouteAccess::Managers, _, _) => 403,
                    (RouteAccess::NotCopywriters, Who::Writer, _) => 403,
                    (RouteAccess::NotCopywriters, _, _) => 200,
                };
                if answer.status != wanted {
                    failures.push(format!("GET {path} as {who:?}: expected {wanted}, got {}", answer.status));
                    continue;
                }
                if wanted == 303 {
                    let location = answer.headers.get("location").and_then(|l| l.to_str().ok()).unwrap_or("");
                    let expected = if who == Who::Anonymous { "/sign-in" } else { "/" };
                    if location != expected {
                        failures.push(format!("GET {path} as {who:?} redirects to {location:?}"));
                    }
                }
                if let Some(name) = foreign_names(who).iter().find(|name| answer.body.contains(*name)) {
                    failures.push(format!("GET {path} as {who:?} shows a foreign client's data ({name})"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} route failures:\n{}", failures.len(), failures.join("\n"));
}

fn leptos_axum_route_paths() -> Vec<String> {
    server::page_routes()
}
