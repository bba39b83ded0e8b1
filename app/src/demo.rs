//! Demo data: an agency with three clients, two brands each, stores on several platforms
//! and one user per role. Seeded once, into an empty database.

use crate::accounts::api::hash_password;
use crate::accounts::model::Role;
use crate::accounts::store as users;
use crate::clients::model::{BrandForm, ClientForm, StoreForm};
use crate::clients::store as clients;
use crate::db::Db;
use crate::error::AppError;
use secrecy::SecretString;

/// A demo login, printed at start so a new user can sign in.
pub struct DemoLogin {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
}

pub const LOGINS: [DemoLogin; 6] = [
    DemoLogin { email: "admin@starling.test", password: "admin-demo-2026", role: Role::Admin },
    DemoLogin { email: "am@starling.test", password: "manager-demo-2026", role: Role::AccountManager },
    DemoLogin { email: "copy@starling.test", password: "writer-demo-2026", role: Role::Copywriter },
    DemoLogin { email: "lektor@starling.test", password: "reviewer-demo-2026", role: Role::Copywriter },
    DemoLogin { email: "viewer@nordlicht.test", password: "viewer-demo-2026", role: Role::ClientViewer },
    DemoLogin { email: "viewer@sakura.test", password: "viewer2-demo-2026", role: Role::ClientViewer },
];

struct DemoStore(&'static str, &'static str, &'static str, &'static str, &'static str);
struct DemoBrand(&'static str, &'static str, &'static str, &'static str, &'static str, &'static [DemoStore]);
struct DemoClient(&'static str, &'static str, &'static [DemoBrand]);

const CLIENTS: [DemoClient; 3] = [
    DemoClient(
        "Nordlicht Outdoor GmbH",
        "ops@nordlicht.test",
        &[
            DemoBrand(
                "Nordlicht",
                "Nordlicht Kundenservice",
                "mail.nordlicht.test",
                "de",
                "Nordlicht Outdoor GmbH, Hafenstraße 12, 20457 Hamburg, Germany",
                &[
                    DemoStore("Amazon DE", "amazon", "amazon.de", "EUR", "Europe/Berlin"),
                    DemoStore("nordlicht.test shop", "shopify", "nordlicht.test", "EUR", "Europe/Berlin"),
                ],
            ),
            DemoBrand(
                "Fjell Gear",
                "Fjell Gear Care",
                "mail.fjellgear.test",
                "en",
                "Fjell Gear, Hafenstraße 12, 20457 Hamburg, Germany",
                &[DemoStore("eBay UK", "ebay", "ebay.co.uk", "GBP", "Europe/London")],
            ),
        ],
    ),
    DemoClient(
        "Sakura Home Co.",
        "hello@sakura.test",
        &[
            DemoBrand(
                "Sakura Home",
                "Sakura Home Support",
                "mail.sakura.test",
                "ja",
                "Sakura Home Co., 1-2-3 Shibuya, Tokyo 150-0002, Japan",
                &[
                    DemoStore("Amazon JP", "amazon", "amazon.co.jp", "JPY", "Asia/Tokyo"),
                    DemoStore("AliExpress", "aliexpress", "aliexpress.com", "USD", "Asia/Shanghai"),
                ],
            ),
            DemoBrand(
                "Kumo Kitchen",
                "Kumo Kitchen",
                "mail.kumokitchen.test",
                "en",
                "Kumo Kitchen, 1-2-3 Shibuya, Tokyo 150-0002, Japan",
                &[DemoStore("Walmart US", "walmart", "walmart.com", "USD", "America/New_York")],
            ),
        ],
    ),
    DemoClient(
        "Maison Verte SARL",
        "contact@maisonverte.test",
        &[
            DemoBrand(
                "Maison Verte",
                "Maison Verte",
                "mail.maisonverte.test",
                "fr",
                "Maison Verte SARL, 8 rue de la Paix, 75002 Paris, France",
                &[
                    DemoStore("Amazon FR", "amazon", "amazon.fr", "EUR", "Europe/Paris"),
                    DemoStore("maisonverte.test", "shopify", "maisonverte.test", "EUR", "Europe/Paris"),
                ],
            ),
            DemoBrand(
                "Verde Casa",
                "Verde Casa",
                "mail.verdecasa.test",
                "it",
                "Maison Verte SARL, 8 rue de la Paix, 75002 Paris, France",
                &[DemoStore("eBay IT", "ebay", "ebay.it", "EUR", "Europe/Rome")],
            ),
        ],
    ),
];

/// Seeds the demo agency when there are no users yet. Returns whether it seeded.
/// Order `{prefix}-{i}` of its own British buyer (`buyer{i}@example.test`, no opt-in
/// needed, marketing accepted): one pair of Wool Socks placed at `placed_at` and delivered
/// four days later. For tests and benchmarks that need many sendable orders.
pub fn delivered_order(prefix: &str, i: u64, placed_at: i64) -> crate::orders::model::ParsedOrder {
    use crate::orders::model::{OrderStatus, ParsedOrder};
    ParsedOrder {
        line: i + 2,
        currency: "GBP".into(),
        accepts_marketing: Some(true),
        sms_consent: None,
        ..ParsedOrder::one_item(
            format!("{prefix}-{i}"),
            format!("buyer{i}@example.test"),
            format!("Buyer {i}"),
            "GB",
            placed_at,
            OrderStatus::Delivered,
            placed_at + 4 * 86_400_000,
            "Wool Socks",
            1,
            2_500,
        )
    }
}

pub async fn seed(db: &Db) -> Result<bool, AppError> {
    if users::count_users(db).await? > 0 {
        return Ok(false);
    }
    let mut client_ids = Vec::new();
    for DemoClient(name, contact, brands) in CLIENTS {
        let form = ClientForm {
            id: None,
            name: name.into(),
            contact_email: contact.into(),
            support_email: contact.into(),
            template_approval: name.starts_with("Nordlicht"),
        };
        let client_id = clients::insert_client(db, &form).await?;
        client_ids.push(client_id);
        for DemoBrand(brand, sender, domain, locale, address, stores) in brands {
            let brand_form = BrandForm {
                id: None,
                client_id,
                name: brand.to_string(),
                sender_name: sender.to_string(),
                sender_email: format!("care@{domain}"),
                sending_domain: domain.to_string(),
                default_locale: locale.to_string(),
                postal_address: address.to_string(),
                sms_sender: String::new(),
                sms_number: String::new(),
                whatsapp_phone_id: String::new(),
            };
            let brand_id = clients::insert_brand(db, &brand_form.parse()?).await?;
            for DemoStore(store, platform, market, currency, tz) in stores.iter() {
                let store_form = StoreForm {
                    id: None,
                    brand_id,
                    name: store.to_string(),
                    platform: platform.to_string(),
                    marketplace: market.to_string(),
                    currency: currency.to_string(),
                    time_zone: tz.to_string(),
                };
                clients::insert_store(db, client_id, &store_form.parse()?).await?;
            }
        }
    }
    let names = ["Ada Admin", "Max Manager", "Clara Copy", "Lena Lektor", "Nora Nordlicht", "Sora Sakura"];
    for (login, name) in LOGINS.iter().zip(names) {
        let hash = hash_password(SecretString::from(login.password.to_string())).await?;
        let id = users::insert_user(db, login.email, name, &hash, login.role).await?;
        let assigned: Vec<i64> = match login.email {
            "am@starling.test" | "copy@starling.test" | "lektor@starling.test" => vec![client_ids[0], client_ids[1]],
            "viewer@nordlicht.test" => vec![client_ids[0]],
            "viewer@sakura.test" => vec![client_ids[1]],
            _ => vec![],
        };
        users::set_clients(db, id, &assigned).await?;
        // Each copywriter reviews the languages of the other's writing.
        let locales: &[&str] = match login.email {
            "copy@starling.test" => &["en", "ja", "es", "it"],
            "lektor@starling.test" => &["de", "fr", "en"],
            _ => &[],
        };
        users::set_locales(db, id, &locales.iter().map(|l| l.to_string()).collect::<Vec<_>>()).await?;
    }
    seed_orders(db).await?;
    seed_templates(db, client_ids[0], client_ids[2]).await?;
    seed_campaigns(db, &[client_ids[0], client_ids[2]]).await?;
    Ok(true)
}

const FIRST: [&str; 12] = ["Anna", "Jonas", "Léa", "Marco", "Yuki", "Sofia", "Lukas", "Chloé", "Hiro", "Emma", "Mateo", "Ingrid"];
const LAST: [&str; 12] =
    ["Becker", "Schmidt", "Dubois", "Rossi", "Tanaka", "García", "Müller", "Martin", "Sato", "Wilson", "López", "Larsen"];
const PRODUCTS: [&str; 8] =
    ["Trail Jacket", "Wool Socks", "Headlamp", "Tea Set", "Linen Towels", "Rice Cooker", "Plant Pot", "Camping Stove"];

/// Thirty orders per demo store over the last ninety days, some buyers returning, in
/// every status, so the orders, customer and suppression pages have something to show.
async fn seed_orders(db: &Db) -> Result<(), AppError> {
    use crate::orders::model::{OrderItem, OrderStatus, ParsedOrder};
    use crate::orders::{privacy, store};
    let salt = crate::common::fingerprint::salt(db).await?;
    let store_ids = crate::clients::store::store_platforms(db).await?;
    let now = crate::db::now_millis();
    let mut seed: u64 = 20_261_122;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n
    };
    for (store_id, _, _) in store_ids {
        let Some(target) = store::target(db, store_id).await? else { continue };
        let country = match target.marketplace.rsplit('.').next().unwrap_or("") {
            "de" => "DE",
            "uk" => "GB",
            "jp" => "JP",
            "fr" => "FR",
            "it" => "IT",
            _ => "US",
        };
        let mut orders = Vec::new();
        for i in 0..30 {
            let (first, last) = (FIRST[next(12)], LAST[next(12)]);
            let status = [
                OrderStatus::Delivered,
                OrderStatus::Delivered,
                OrderStatus::Fulfilled,
                OrderStatus::Pending,
                OrderStatus::Refunded,
                OrderStatus::Returned,
                OrderStatus::Cancelled,
            ][next(7)];
            let placed_at = now - (next(90) as i64 + 1) * 86_400_000 - next(86_400) as i64 * 1000;
            let quantity = 1 + next(3) as u32;
            let price = 990 + next(9000) as i64;
            let email = if target.platform == "amazon" && next(3) > 0 {
                String::new()
            } else {
                format!("{}.{}{}@example.test", first.to_lowercase(), last.to_lowercase(), next(4))
            };
            // The same draws in the same order as always, so the demo data stays the same.
            let sku = format!("SKU-{}", next(50));
            let product = PRODUCTS[next(8)];
            let one = ParsedOrder::one_item(
                format!("{}-{}", store_id, 1001 + i),
                email,
                format!("{first} {last}"),
                country,
                placed_at,
                status,
                placed_at + 2 * 86_400_000,
                product,
                quantity,
                price,
            );
            orders.push(ParsedOrder {
                line: i + 2,
                marketplace: target.marketplace.clone(),
                accepts_marketing: Some(next(2) == 0),
                sms_consent: None,
                items: vec![OrderItem { sku, ..one.items[0].clone() }],
                ..one
            });
        }
        let unsubscribed = orders.iter().map(|o| o.buyer_email.clone()).find(|e| !e.is_empty());
        store::upsert(db, &target, orders, "demo", &salt).await?;
        if let Some(address) = unsubscribed.as_deref() {
            let scope = privacy::Scope { client_id: Some(target.client_id), brand_id: Some(target.brand_id) };
            privacy::suppress(db, &salt, scope, address, crate::orders::model::Reason::Unsubscribed, "demo", "demo").await?;
        }
    }
    Ok(())
}

/// A draft campaign on the first template of each of these clients: a review request 7
/// days after delivery with an A/B test of two variants.
async fn seed_campaigns(db: &Db, clients: &[i64]) -> Result<(), AppError> {
    use crate::campaigns::eligibility::Trigger;
    use crate::campaigns::planner::{self, CampaignRules};
    for &client_id in clients {
        let Some((template_id, brand_id, purpose)) = crate::templates::store::first_of_client(db, client_id).await? else { continue };
        let purpose = crate::templates::model::Purpose::parse("purpose", &purpose)?;
        let rules = CampaignRules {
            fallback_locales: vec!["en".into()],
            ..CampaignRules::new(Trigger::AfterDelivery { days: 7 }).weighted(&[50, 50])
        };
        planner::create(db, client_id, brand_id, Some(template_id), "Review request, 7 days after delivery", purpose, &rules, "demo")
            .await?;
    }
    Ok(())
}

/// Two templates of Nordlicht: a German and English review request for its shop (German
/// approved, English waiting for review) and an Amazon message still in draft.
async fn seed_templates(db: &Db, client_id: i64, other_client: i64) -> Result<(), AppError> {
    use crate::templates::model::{Phone, Status, TemplateForm};
    use crate::templates::store::{self as templates, NewVersion};
    let writer = users::actor_by_email(db, "copy@starling.test").await?;
    let reviewer = users::actor_by_email(db, "lektor@starling.test").await?;
    let viewer = users::actor_by_email(db, "viewer@nordlicht.test").await?;
    let (Some(writer), Some(reviewer), Some(viewer)) = (writer, reviewer, viewer) else { return Ok(()) };
    let Some(brand) = clients::brands(db, client_id).await?.into_iter().next() else { return Ok(()) };
    let shop = TemplateForm {
        client_id,
        brand_id: brand.id,
        name: "Bewertungsanfrage".into(),
        purpose: "review_request".into(),
        platform: "shopify".into(),
        locale: "de".into(),
    };
    let template_id = templates::insert_template(db, client_id, &shop, &writer).await?;
    let german_phone = Phone {
        sms: "{{ brand.name }}: Hallo {{ customer.first_name | default(\"zusammen\") }}, wie gefällt Ihnen {{ product.name }}? Ihre ehrliche Bewertung: {{ review_url }} Abmelden: STOP antworten".into(),
        whatsapp: "Hallo {{ customer.first_name | default(\"zusammen\") }}, wie gefällt Ihnen {{ product.name }} von {{ brand.name }}? Wir freuen uns über Ihre ehrliche Bewertung: {{ review_url }} Vielen Dank!".into(),
        whatsapp_category: "MARKETING".into(),
    };
    let english_phone = Phone {
        sms: "{{ brand.name }}: Hi {{ customer.first_name | default(\"there\") }}, how do you like {{ product.name }}? Your honest review: {{ review_url }} Reply STOP to opt out".into(),
        whatsapp: "Hi {{ customer.first_name | default(\"there\") }}, how do you like {{ product.name }} from {{ brand.name }}? Your honest review helps: {{ review_url }} Thank you!".into(),
        whatsapp_category: "MARKETING".into(),
    };
    let no_phone = Phone::default();
    let german = NewVersion {
        template_id,
        client_id,
        locale: "de",
        subject: "Wie gefällt Ihnen {{ product.name }}?",
        html: "<p>Hallo {{ customer.first_name | default(\"zusammen\") }},</p>\n<p>vielen Dank für Ihre Bestellung {{ order.id }}. Wie zufrieden sind Sie mit {{ product.name }}? Wir freuen uns über Ihre ehrliche Bewertung – ob gut oder schlecht.</p>\n<p><a href=\"{{ review_url }}\">Bewertung schreiben</a></p>\n<p style=\"font-size:12px;color:#666\">{{ brand.postal_address }}<br><a href=\"{{ unsubscribe_url }}\">Abmelden</a></p>",
        text: "Hallo {{ customer.first_name | default(\"zusammen\") }},\n\nvielen Dank für Ihre Bestellung {{ order.id }}. Wie zufrieden sind Sie mit {{ product.name }}? Wir freuen uns über Ihre ehrliche Bewertung: {{ review_url }}\n\n{{ brand.postal_address }}\nAbmelden: {{ unsubscribe_url }}",
        phone: &german_phone,
        blocking: 0,
        warnings: 0,
        copied_from: None,
    };
    let de = templates::insert_version(db, &german, &writer).await?;
    templates::record(db, de, client_id, Status::Draft, "created", "", &writer).await?;
    let steps = [
        (Status::InReview, "submitted", &writer),
        (Status::ClientReview, "approved", &reviewer),
        (Status::Approved, "client_approved", &viewer),
    ];
    for (to, action, who) in steps {
        let Some((version, _)) = templates::version(db, de).await? else { break };
        templates::transition(db, &version.row, client_id, to, action, "", who).await?;
    }
    let english = NewVersion {
        locale: "en",
        subject: "How do you like {{ product.name }}?",
        html: "<p>Hi {{ customer.first_name | default(\"there\") }},</p>\n<p>Thanks for your order {{ order.id }}. How is {{ product.name }} working out? We read every review, good or bad.</p>\n<p><a href=\"{{ review_url }}\">Write a review</a></p>\n<p style=\"font-size:12px;color:#666\">{{ brand.postal_address }}<br><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>",
        text: "Hi {{ customer.first_name | default(\"there\") }},\n\nThanks for your order {{ order.id }}. How is {{ product.name }} working out? {{ review_url }}\n\n{{ brand.postal_address }}\nUnsubscribe: {{ unsubscribe_url }}",
        phone: &english_phone,
        ..german
    };
    let en = templates::insert_version(db, &english, &writer).await?;
    templates::record(db, en, client_id, Status::Draft, "created", "", &writer).await?;
    if let Some((version, _)) = templates::version(db, en).await? {
        templates::transition(db, &version.row, client_id, Status::InReview, "submitted", "", &writer).await?;
    }
    let amazon = TemplateForm { name: "Amazon-Bewertungsanfrage".into(), platform: "amazon".into(), ..shop };
    let amazon_id = templates::insert_template(db, client_id, &amazon, &writer).await?;
    let draft = NewVersion {
        template_id: amazon_id,
        locale: "de",
        subject: "Ihre Bestellung {{ order.id }}",
        html: "<p>Hallo,</p>\n<p>wir hoffen, {{ product.name }} gefällt Ihnen. Über eine ehrliche Bewertung auf Amazon freuen wir uns: <a href=\"{{ review_url }}\">Bewertung schreiben</a></p>",
        text: "Hallo,\n\nwir hoffen, {{ product.name }} gefällt Ihnen. Über eine ehrliche Bewertung auf Amazon freuen wir uns: {{ review_url }}",
        phone: &no_phone,
        ..german
    };
    let id = templates::insert_version(db, &draft, &writer).await?;
    templates::record(db, id, client_id, Status::Draft, "created", "", &writer).await?;
    // Maison Verte's French draft, written by the admin (no copywriter works for it yet).
    let admin = users::actor_by_email(db, "admin@starling.test").await?;
    let maison = clients::brands(db, other_client).await?.into_iter().next();
    if let (Some(admin), Some(maison)) = (admin, maison) {
        let form = TemplateForm {
            client_id: other_client,
            brand_id: maison.id,
            name: "Demande d'avis".into(),
            platform: "shopify".into(),
            locale: "fr".into(),
            ..amazon
        };
        let template_id = templates::insert_template(db, other_client, &form, &admin).await?;
        let french = NewVersion {
            template_id,
            client_id: other_client,
            locale: "fr",
            subject: "Votre avis sur {{ product.name }}",
            html: "<p>Bonjour {{ customer.first_name | default(\"\") }},</p>\n<p>Que pensez-vous de {{ product.name }} ? <a href=\"{{ review_url }}\">Donner votre avis</a></p>\n<p>{{ brand.postal_address }} · <a href=\"{{ unsubscribe_url }}\">Se désabonner</a></p>",
            text: "Bonjour,\n\nQue pensez-vous de {{ product.name }} ? {{ review_url }}\n\n{{ brand.postal_address }}\nSe désabonner : {{ unsubscribe_url }}",
            phone: &no_phone,
            ..german
        };
        let id = templates::insert_version(db, &french, &admin).await?;
        templates::record(db, id, other_client, Status::Draft, "created", "", &admin).await?;
    }
    Ok(())
}

/// Six weeks of outreach history for the first demo client, so its report, reviews,
/// alerts and SLA board have something to show: `orders` delivered orders, a two-variant
/// review request sent over the last 42 days, with opens, clicks, a few bounces,
/// unsubscribes and a complaint, and reviews (some negative, which open alerts). Run by
/// `--demo` (not by tests, which build their own history). Deterministic.
pub async fn seed_history(db: &Db, mailer: &crate::common::mailer::Mailer, public_url: &str, orders: u64) -> Result<(), AppError> {
    use crate::campaigns::eligibility::Trigger;
    use crate::campaigns::model::CampaignState;
    use crate::campaigns::monitor::record_event;
    use crate::campaigns::planner::{self, CampaignRules, Variant};
    use crate::clients::model::Platform;
    use crate::outbox::model::EventKind;
    use crate::reports::reviews::{self, Alerting, Destination, Incoming};
    const DAY: i64 = 86_400_000;
    let Some((template_id, client_id, brand_id)) = crate::templates::store::first_approved(db).await? else { return Ok(()) };
    let stores = crate::clients::store::store_platforms(db).await?;
    let Some(&(store_id, _, _)) = stores.iter().find(|(_, brand, platform)| *brand == brand_id && platform != Platform::Amazon.as_str())
    else {
        return Ok(());
    };
    let Some(target) = crate::orders::store::target(db, store_id).await? else { return Ok(()) };
    let salt = crate::common::fingerprint::salt(db).await?;
    let now = crate::db::now_millis();
    let placed = now - 50 * DAY;
    let history: Vec<_> = (0..orders).map(|i| delivered_order("H", i, placed)).collect();
    crate::orders::store::upsert(db, &target, history, "demo", &salt).await?;
    let variants = vec![
        Variant { weight: 50, subject: String::new(), delay_hours: 0 },
        Variant { weight: 50, subject: "Wie gefällt Ihnen {{ product.name }}?".into(), delay_hours: 0 },
    ];
    let rules = CampaignRules { fallback_locales: vec!["de".into(), "en".into()], variants, ..CampaignRules::new(Trigger::Batch) };
    let purpose = crate::templates::model::Purpose::ReviewRequest;
    let campaign =
        planner::create(db, client_id, brand_id, Some(template_id), "Review request, autumn batch", purpose, &rules, "demo").await?;
    planner::set_state(db, campaign, CampaignState::Running).await?;
    planner::plan(db, &salt, campaign, now).await?;
    let messages = crate::outbox::store::campaign_message_orders(db, campaign).await?;
    let alerting = Alerting { mailer, public_url };
    let to = Destination { client_id, brand_id, store_id: Some(store_id) };
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for (i, (message, order)) in messages.iter().enumerate() {
        let sent_at = now - (42 - (i as i64 * 42 / messages.len().max(1) as i64)) * DAY + next(8) as i64 * 3_600_000;
        let at = |hours: u64| sent_at + hours as i64 * 3_600_000;
        record_event(db, *message, EventKind::Sent, &format!("demo:{message}"), sent_at, "250 2.0.0 Ok").await?;
        let roll = next(1000);
        if roll < 25 {
            record_event(db, *message, EventKind::Bounced, "demo", at(1), "550 5.1.1 mailbox unknown").await?;
            continue;
        }
        if roll < 560 {
            record_event(db, *message, EventKind::Opened, "demo", at(3), "").await?;
        }
        if roll < 170 {
            record_event(db, *message, EventKind::Clicked, "demo", at(4), "").await?;
        }
        if (560..575).contains(&roll) {
            crate::delivery::unsubscribe(db, *message, at(5)).await?;
        }
        if roll == 999 {
            record_event(db, *message, EventKind::Complained, "demo", at(6), "").await?;
        }
        if roll < 120 && at(30) < now {
            let rating = [5, 5, 4, 5, 4, 3, 5, 2, 4, 5][next(10) as usize];
            let review = Incoming {
                review_id: format!("demo-{message}"),
                platform_order_id: order.clone(),
                rating,
                title: ["Warm and comfortable", "Good value", "As described", "Runs small", "Fast delivery"][next(5) as usize].into(),
                body: "Demo review.".into(),
                author: format!("Buyer {i}"),
                reviewed_at: at(30),
                ..Incoming::default()
            };
            reviews::record(db, &alerting, to, &review, "import").await?;
        }
    }
    Ok(())
}
