//! Eligibility rules: the edges of each rule (delays, consent, caps, suppression), and properties over random histories.

use super::eligibility::*;
use crate::orders::model::OrderStatus;
use crate::outbox::model::Channel;
use crate::templates::model::Purpose;
use proptest::prelude::*;

/// 2026-03-02 12:00 UTC (13:00 in Berlin: inside the default send window).
const NOON: i64 = 1_772_452_800_000;

fn order(platform: &str, country: &str, delivered_days_ago: Option<i64>) -> OrderFacts {
    OrderFacts {
        order_id: 1,
        store_id: 10,
        platform: platform.into(),
        status: if delivered_days_ago.is_some() { OrderStatus::Delivered } else { OrderStatus::Pending },
        placed_at: NOON - 40 * DAY_MS,
        fulfilled_at: delivered_days_ago.map(|d| NOON - (d + 2) * DAY_MS),
        delivered_at: delivered_days_ago.map(|d| NOON - d * DAY_MS),
        earliest_delivery_at: None,
        latest_delivery_at: None,
        country: country.into(),
        total_minor: Some(4_990),
    }
}

fn customer(country: &str, locale: &str) -> CustomerFacts {
    CustomerFacts {
        customer_id: 100,
        has_email: true,
        country: country.into(),
        locale: locale.into(),
        suppressed: None,
        email_consent: false,
        phone: String::new(),
        sms_consent: false,
        whatsapp_consent: false,
    }
}

fn rules(purpose: Purpose) -> Rules {
    Rules {
        purpose,
        trigger: Trigger::AfterDelivery { days: 0 },
        audience: Audience::default(),
        cap: Cap::default(),
        window: SendWindow::default(),
        approved_locales: vec!["en".into(), "de".into(), "fr".into()],
        fallback_locales: vec!["en".into()],
        delay_ms: 0,
        channel: Channel::Email,
        channels: Vec::new(),
        sms_locales: vec!["de".into()],
        whatsapp_locales: Vec::new(),
        whatsapp_marketing: Vec::new(),
    }
}

fn decide_now(o: &OrderFacts, c: &CustomerFacts, r: &Rules) -> Decision {
    decide(o, Some(c), &History::default(), r, NOON)
}

#[test]
fn amazon_review_requests_open_on_day_5_and_close_after_day_30() {
    let r = rules(Purpose::ReviewRequest);
    let c = customer("GB", "en-GB");
    assert!(
        matches!(decide_now(&order("amazon", "GB", Some(4)), &c, &r), Decision::Wait(Waiting::AmazonTooEarly { opens_at }) if opens_at == NOON + DAY_MS)
    );
    assert!(matches!(decide_now(&order("amazon", "GB", Some(5)), &c, &r), Decision::Send { at: NOON, .. }));
    assert!(matches!(decide_now(&order("amazon", "GB", Some(30)), &c, &r), Decision::Send { at: NOON, .. }));
    assert_eq!(decide_now(&order("amazon", "GB", Some(31)), &c, &r), Decision::Exclude(Exclusion::AmazonTooLate));
    // The window closes 30 days after the *latest* delivery date when the report gives one.
    let mut late = order("amazon", "GB", Some(31));
    late.latest_delivery_at = Some(NOON - 10 * DAY_MS);
    assert!(matches!(decide_now(&late, &c, &r), Decision::Send { .. }));
    // Other platforms have no such window.
    assert!(matches!(decide_now(&order("shopify", "GB", Some(45)), &c, &r), Decision::Send { .. }));
}

/// An Amazon order as SP-API reports it: shipped, no reported delivery, the promised
/// delivery window `earliest` to `latest` days ago, no buyer record.
fn amazon_shipped(earliest_days_ago: i64, latest_days_ago: i64) -> OrderFacts {
    OrderFacts {
        status: OrderStatus::Fulfilled,
        fulfilled_at: Some(NOON - (earliest_days_ago + 2) * DAY_MS),
        delivered_at: None,
        earliest_delivery_at: Some(NOON - earliest_days_ago * DAY_MS),
        latest_delivery_at: Some(NOON - latest_days_ago * DAY_MS),
        ..order("amazon", "DE", None)
    }
}

fn amazon_request() -> Rules {
    Rules { channel: Channel::Amazon, approved_locales: Vec::new(), fallback_locales: Vec::new(), ..rules(Purpose::ReviewRequest) }
}

#[test]
fn amazons_own_request_needs_no_address_consent_or_version_and_keeps_the_delivery_window() {
    let r = amazon_request();
    let none = &History::default();
    // Five days after the earliest promised date it opens; no buyer record is needed.
    assert_eq!(
        decide(&amazon_shipped(5, 3), None, none, &r, NOON),
        Decision::Send { at: NOON, locale: String::new(), channel: Channel::Amazon }
    );
    assert!(matches!(
        decide(&amazon_shipped(4, 2), None, none, &r, NOON),
        Decision::Wait(Waiting::AmazonTooEarly { opens_at }) if opens_at == NOON + DAY_MS
    ));
    // Open until 30 days after the latest date, closed a day later.
    assert!(matches!(decide(&amazon_shipped(33, 30), None, none, &r, NOON), Decision::Send { .. }));
    assert_eq!(decide(&amazon_shipped(33, 31), None, none, &r, NOON), Decision::Exclude(Exclusion::AmazonTooLate));
    // Not shipped yet: the promised dates alone do not make it due.
    let pending = OrderFacts { status: OrderStatus::Pending, fulfilled_at: None, ..amazon_shipped(10, 8) };
    assert_eq!(decide(&pending, None, none, &r, NOON), Decision::Wait(Waiting::Trigger));
    // Other platforms' orders, any earlier contact, suppression and cancellations exclude.
    assert_eq!(decide(&order("shopify", "DE", Some(6)), None, none, &r, NOON), Decision::Exclude(Exclusion::NotAmazon));
    let asked = History { order_purposes: vec![Purpose::Care], customer_sends: vec![] };
    assert_eq!(decide(&amazon_shipped(10, 8), None, &asked, &r, NOON), Decision::Exclude(Exclusion::AlreadyAsked));
    let suppressed = CustomerFacts { suppressed: Some("unsubscribed".into()), has_email: false, ..customer("DE", "de-DE") };
    assert!(matches!(decide(&amazon_shipped(10, 8), Some(&suppressed), none, &r, NOON), Decision::Exclude(Exclusion::Suppressed { .. })));
    let cancelled = OrderFacts { status: OrderStatus::Cancelled, ..amazon_shipped(10, 8) };
    assert!(matches!(decide(&cancelled, None, none, &r, NOON), Decision::Exclude(Exclusion::Status { .. })));
    // A consent-requiring country and no e-mail at all change nothing: Amazon writes to its buyer.
    let buyer = CustomerFacts { has_email: false, email_consent: false, ..customer("DE", "de-DE") };
    assert!(matches!(decide(&amazon_shipped(10, 8), Some(&buyer), none, &r, NOON), Decision::Send { .. }));
    // An A/B variant's extra delay moves it, within the window.
    let delayed = Rules { delay_ms: 7 * DAY_MS, ..amazon_request() };
    assert!(
        matches!(decide(&amazon_shipped(5, 3), None, none, &delayed, NOON), Decision::Wait(Waiting::Due { at }) if at == NOON + 2 * DAY_MS)
    );
}

proptest! {
    /// Whatever the delivery window, the trigger's delay and the time: Amazon's request is
    /// only ever decided to go inside [earliest + 5 days, latest + 30 days], and an order
    /// already contacted is never asked again.
    #[test]
    fn amazons_request_never_goes_outside_its_window(
        earliest in 0i64..60, spread in 0i64..10, days in 0u32..20, hour in 0i64..24, contacted in prop::bool::ANY,
    ) {
        let o = amazon_shipped(earliest, (earliest - spread).max(0));
        let r = Rules { trigger: Trigger::AfterDelivery { days }, ..amazon_request() };
        let now = NOON + hour * 3_600_000;
        let history = History { order_purposes: if contacted { vec![Purpose::ReviewRequest] } else { vec![] }, customer_sends: vec![] };
        let (opens, closes) = amazon_window(&o).unwrap();
        match decide(&o, None, &history, &r, now) {
            Decision::Send { at, .. } => {
                prop_assert!(!contacted);
                prop_assert!(at >= opens && at <= closes, "at {} outside {}..{}", at, opens, closes);
            }
            Decision::Exclude(Exclusion::AlreadyAsked) => prop_assert!(contacted),
            Decision::Exclude(Exclusion::AmazonTooLate) => {
                // Only when the first moment it could go (due, not before the window opens,
                // then the next hour of the send window) is after the window closed.
                let due = o.earliest_delivery_at.unwrap() + i64::from(days) * DAY_MS;
                let first = next_in_window(due.max(now).max(opens), SendWindow::default(), time_zone("DE"));
                prop_assert!(!contacted && first > closes, "excluded although it could go at {}", first);
            }
            Decision::Wait(_) => prop_assert!(!contacted),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

#[test]
fn amazon_buyers_get_no_marketing_and_one_message_per_order() {
    let c = customer("FR", "fr-FR");
    assert_eq!(decide_now(&order("amazon", "FR", Some(6)), &c, &rules(Purpose::Repurchase)), Decision::Exclude(Exclusion::AmazonMarketing));
    let history = History { order_purposes: vec![Purpose::Care], customer_sends: vec![] };
    assert_eq!(
        decide(&order("amazon", "FR", Some(6)), Some(&c), &history, &rules(Purpose::ReviewRequest), NOON),
        Decision::Exclude(Exclusion::AlreadyAsked)
    );
    // Elsewhere a care message does not use up the order's review request.
    assert!(matches!(
        decide(&order("shopify", "FR", Some(6)), Some(&c), &history, &rules(Purpose::ReviewRequest), NOON),
        Decision::Send { .. }
    ));
}

#[test]
fn german_buyers_get_review_requests_only_with_recorded_consent() {
    let r = rules(Purpose::ReviewRequest);
    let o = order("shopify", "DE", Some(7));
    assert_eq!(decide_now(&o, &customer("DE", "de-DE"), &r), Decision::Exclude(Exclusion::NoConsent));
    let consented = CustomerFacts { email_consent: true, ..customer("DE", "de-DE") };
    assert!(matches!(decide_now(&o, &consented, &r), Decision::Send { ref locale, .. } if locale == "de"));
    // A care message is not a review request; a French buyer needs no opt-in.
    assert!(matches!(decide_now(&o, &customer("DE", "de-DE"), &rules(Purpose::Care)), Decision::Send { .. }));
    assert!(matches!(decide_now(&order("shopify", "FR", Some(7)), &customer("FR", "fr-FR"), &r), Decision::Send { .. }));
}

#[test]
fn locale_falls_back_from_region_to_language_to_the_chain() {
    let approved: Vec<String> = ["en", "de", "fr-CA"].iter().map(|s| s.to_string()).collect();
    let fallbacks = vec!["en".to_string()];
    assert_eq!(resolve_locale("de-AT", &approved, &fallbacks).as_deref(), Some("de"));
    assert_eq!(resolve_locale("fr-CA", &approved, &fallbacks).as_deref(), Some("fr-CA"));
    assert_eq!(resolve_locale("fr-FR", &approved, &fallbacks).as_deref(), Some("en"));
    assert_eq!(resolve_locale("ja-JP", &approved, &[]), None);
    let mut r = rules(Purpose::Care);
    r.approved_locales = vec!["de".into()];
    r.fallback_locales = vec![];
    assert_eq!(
        decide_now(&order("shopify", "JP", Some(3)), &customer("JP", "ja-JP"), &r),
        Decision::Exclude(Exclusion::NoApprovedVersion { locale: "ja-JP".into() })
    );
}

#[test]
fn suppressed_contactless_and_excluded_statuses_get_nothing() {
    let r = rules(Purpose::Care);
    let o = order("shopify", "FR", Some(3));
    let suppressed = CustomerFacts { suppressed: Some("unsubscribed".into()), ..customer("FR", "fr") };
    assert_eq!(decide_now(&o, &suppressed, &r), Decision::Exclude(Exclusion::Suppressed { reason: "unsubscribed".into() }));
    assert_eq!(decide(&o, None, &History::default(), &r, NOON), Decision::Exclude(Exclusion::NoContact));
    let no_email = CustomerFacts { has_email: false, ..customer("FR", "fr") };
    assert_eq!(decide_now(&o, &no_email, &r), Decision::Exclude(Exclusion::NoContact));
    for status in [OrderStatus::Cancelled, OrderStatus::Refunded, OrderStatus::Returned] {
        let o = OrderFacts { status, ..o.clone() };
        assert_eq!(decide_now(&o, &customer("FR", "fr"), &r), Decision::Exclude(Exclusion::Status { status }));
    }
}

#[test]
fn audience_filters_name_the_filter_that_excluded() {
    let c = customer("FR", "fr");
    let o = order("shopify", "FR", Some(3));
    let with = |audience: Audience| Rules { audience, ..rules(Purpose::Care) };
    let excluded_by = |r: Rules| match decide_now(&o, &c, &r) {
        Decision::Exclude(Exclusion::Filter { filter }) => filter,
        other => panic!("{other:?}"),
    };
    assert_eq!(excluded_by(with(Audience { store_ids: vec![11], ..Audience::default() })), "store");
    assert_eq!(excluded_by(with(Audience { countries: vec!["DE".into()], ..Audience::default() })), "country");
    assert_eq!(excluded_by(with(Audience { min_total_minor: Some(5_000), ..Audience::default() })), "order value");
    assert_eq!(excluded_by(with(Audience { max_days_since_purchase: Some(30), ..Audience::default() })), "days since purchase");
    assert!(matches!(decide_now(&o, &c, &with(Audience { countries: vec!["fr".into()], ..Audience::default() })), Decision::Send { .. }));
}

#[test]
fn automations_wait_for_their_trigger_and_the_send_window() {
    let c = customer("DE", "de");
    let mut r = rules(Purpose::Care);
    r.trigger = Trigger::AfterFulfilment { days: 3 };
    assert_eq!(decide_now(&order("shopify", "DE", None), &c, &r), Decision::Wait(Waiting::Trigger));
    let mut o = order("shopify", "DE", None);
    o.fulfilled_at = Some(NOON - DAY_MS);
    assert_eq!(decide_now(&o, &c, &r), Decision::Wait(Waiting::Due { at: NOON + 2 * DAY_MS }));
    // Due at 22:00 Berlin time: sent at 09:00 the next morning, Berlin time (08:00 UTC).
    o.fulfilled_at = Some(NOON - 3 * DAY_MS + 9 * 3_600_000);
    match decide(&o, Some(&c), &History::default(), &r, NOON + 9 * 3_600_000) {
        Decision::Send { at, .. } => assert_eq!(at, NOON + DAY_MS - 4 * 3_600_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn frequency_cap_counts_messages_within_the_window() {
    let r = rules(Purpose::Care);
    let o = order("shopify", "FR", Some(3));
    let c = customer("FR", "fr");
    let two = History { order_purposes: vec![], customer_sends: vec![NOON - 10 * DAY_MS, NOON - 29 * DAY_MS] };
    assert_eq!(decide(&o, Some(&c), &two, &r, NOON), Decision::Exclude(Exclusion::Capped { planned: 2, max: 2, window_days: 30 }));
    let older = History { order_purposes: vec![], customer_sends: vec![NOON - 10 * DAY_MS, NOON - 31 * DAY_MS] };
    assert!(matches!(decide(&o, Some(&c), &older, &r, NOON), Decision::Send { .. }));
    let contract = Rules { cap: Cap { max: 3, window_days: 30 }, ..r };
    assert!(matches!(decide(&o, Some(&c), &two, &contract, NOON), Decision::Send { .. }));
}

/// A planner over one customer's orders, run day by day (possibly "restarted": history is
/// all it keeps), returning the messages it planned as (order, send time).
fn simulate(orders: &[OrderFacts], cap: Cap, purposes: &[Purpose], restart_every: usize) -> Vec<(i64, Purpose, i64)> {
    let c = customer("FR", "fr");
    let mut planned: Vec<(i64, Purpose, i64)> = Vec::new();
    let mut decided: std::collections::HashSet<(i64, Purpose)> = Default::default();
    for day in 0..120 {
        if restart_every > 0 && day % restart_every == 0 {
            // A restarted planner forgets what it decided in memory; the durable record
            // (planned messages) is all that is left.
            decided = planned.iter().map(|(o, p, _)| (*o, *p)).collect();
        }
        let now = NOON + day as i64 * DAY_MS;
        for &purpose in purposes {
            let r = Rules { cap, trigger: Trigger::AfterFulfilment { days: 1 }, ..rules(purpose) };
            for o in orders {
                if decided.contains(&(o.order_id, purpose)) {
                    continue;
                }
                let history = History {
                    order_purposes: planned.iter().filter(|(id, _, _)| *id == o.order_id).map(|(_, p, _)| *p).collect(),
                    customer_sends: planned.iter().map(|(_, _, at)| *at).collect(),
                };
                match decide(o, Some(&c), &history, &r, now) {
                    Decision::Send { at, .. } => {
                        planned.push((o.order_id, purpose, at));
                        decided.insert((o.order_id, purpose));
                    }
                    Decision::Exclude(_) => {
                        decided.insert((o.order_id, purpose));
                    }
                    Decision::Wait(_) => {}
                }
            }
        }
    }
    planned
}

fn orders_strategy() -> impl Strategy<Value = Vec<OrderFacts>> {
    prop::collection::vec((0i64..100, 0i64..6, prop::bool::ANY), 1..12).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (placed_day, ship_after, amazon))| {
                let placed = NOON + placed_day * DAY_MS - 5 * 3_600_000;
                OrderFacts {
                    order_id: i as i64 + 1,
                    store_id: 10,
                    platform: if amazon { "amazon" } else { "shopify" }.into(),
                    status: OrderStatus::Delivered,
                    placed_at: placed,
                    fulfilled_at: Some(placed + ship_after * DAY_MS),
                    delivered_at: Some(placed + (ship_after + 2) * DAY_MS),
                    earliest_delivery_at: None,
                    latest_delivery_at: None,
                    country: "FR".into(),
                    total_minor: Some(1_000),
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_customer_exceeds_the_cap_in_any_window(
        orders in orders_strategy(),
        max in 1u32..4,
        window_days in 7u32..45,
        restart_every in 0usize..10,
    ) {
        let cap = Cap { max, window_days };
        let planned = simulate(&orders, cap, &[Purpose::ReviewRequest, Purpose::Care, Purpose::Survey], restart_every);
        let mut times: Vec<i64> = planned.iter().map(|(_, _, at)| *at).collect();
        times.sort();
        for (i, &start) in times.iter().enumerate() {
            let within = times[i..].iter().take_while(|&&t| t < start + i64::from(window_days) * DAY_MS).count();
            prop_assert!(within as u32 <= max, "{within} messages within {window_days} days from {start} (cap {max}): {times:?}");
        }
    }

    #[test]
    fn no_order_gets_two_messages_of_one_purpose(orders in orders_strategy(), restart_every in 0usize..10) {
        let cap = Cap { max: 50, window_days: 30 };
        let planned = simulate(&orders, cap, &[Purpose::ReviewRequest, Purpose::Care], restart_every);
        let mut seen = std::collections::HashSet::new();
        for (order, purpose, _) in &planned {
            prop_assert!(seen.insert((*order, *purpose)), "order {order} got two {purpose:?} messages");
        }
        // Amazon orders get one proactive message at most.
        for o in orders.iter().filter(|o| o.platform == "amazon") {
            prop_assert!(planned.iter().filter(|(id, _, _)| *id == o.order_id).count() <= 1);
        }
    }

    #[test]
    fn sends_are_inside_the_local_send_window(start in 0i64..(400 * DAY_MS), country in prop::sample::select(vec!["DE", "JP", "US", "GB", "AU", "ZZ"])) {
        let at = next_in_window(NOON + start, SendWindow::default(), time_zone(country));
        prop_assert!(at >= NOON + start && at - (NOON + start) <= DAY_MS);
        let local = chrono::DateTime::from_timestamp_millis(at).unwrap().with_timezone(&time_zone(country));
        prop_assert!((9..20).contains(&chrono::Timelike::hour(&local)), "{local}");
    }
}

#[test]
fn a_variant_delay_moves_the_due_time() {
    let r = rules(Purpose::Care);
    let o = order("shopify", "DE", Some(1));
    let c = customer("DE", "de");
    assert!(matches!(decide_now(&o, &c, &r), Decision::Send { .. }));
    let later = Rules { delay_ms: 2 * DAY_MS, ..r };
    assert_eq!(decide_now(&o, &c, &later), Decision::Wait(Waiting::Due { at: NOON + DAY_MS }));
}

fn texts_then_email(purpose: Purpose) -> Rules {
    Rules { channels: vec![Channel::Sms, Channel::Email], window: SendWindow { start_hour: 0, end_hour: 24 }, ..rules(purpose) }
}

fn texter(phone: &str, consent: bool) -> CustomerFacts {
    CustomerFacts { phone: phone.into(), sms_consent: consent, ..customer("GB", "de") }
}

#[test]
fn each_buyer_gets_the_first_channel_that_reaches_them() {
    let o = order("shopify", "GB", Some(7));
    let r = texts_then_email(Purpose::ReviewRequest);
    let channel = |c: &CustomerFacts| match decide_now(&o, c, &r) {
        Decision::Send { channel, .. } => Some(channel),
        _ => None,
    };
    assert_eq!(channel(&texter("+447700900001", true)), Some(Channel::Sms));
    assert_eq!(channel(&texter("+447700900001", false)), Some(Channel::Email), "no consent to texts: e-mail");
    assert_eq!(channel(&texter("", true)), Some(Channel::Email), "no phone: e-mail");
    // No consent to texts and no address: the exclusion names both channels' reasons.
    let nobody = CustomerFacts { has_email: false, ..texter("+447700900001", false) };
    match decide_now(&o, &nobody, &r) {
        Decision::Exclude(Exclusion::NoChannel { reasons }) => {
            assert!(
                reasons.contains("SMS: no recorded consent") && reasons.contains("E-mail: the buyer has no e-mail address"),
                "{reasons}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A care message about the order needs no consent to texts; a review request does.
    assert_eq!(
        match decide_now(&o, &texter("+447700900001", false), &Rules { channels: vec![Channel::Sms], ..rules(Purpose::Care) }) {
            Decision::Send { channel, .. } => Some(channel),
            _ => None,
        },
        Some(Channel::Sms)
    );
    // Amazon buyers are never texted; a version without an SMS part sends none.
    let amazon = order("amazon", "GB", Some(7));
    let sms_only = Rules { channels: vec![Channel::Sms], ..rules(Purpose::ReviewRequest) };
    assert_eq!(decide_now(&amazon, &texter("+447700900001", true), &sms_only), Decision::Exclude(Exclusion::AmazonTexts));
    let no_part = Rules { sms_locales: Vec::new(), ..sms_only.clone() };
    assert!(matches!(decide_now(&o, &texter("+447700900001", true), &no_part), Decision::Exclude(Exclusion::NoTextVersion { .. })));
    // One message per (order, purpose) across channels.
    let asked = History { order_purposes: vec![Purpose::ReviewRequest], ..History::default() };
    assert_eq!(decide(&o, Some(&texter("+447700900001", true)), &asked, &r, NOON), Decision::Exclude(Exclusion::AlreadyAsked));
}

#[test]
fn whatsapp_goes_first_where_meta_and_the_buyer_allow_it() {
    let o = order("shopify", "GB", Some(7));
    let r = Rules {
        channels: vec![Channel::Whatsapp, Channel::Sms, Channel::Email],
        whatsapp_locales: vec!["de".into()],
        whatsapp_marketing: vec!["de".into()],
        ..texts_then_email(Purpose::ReviewRequest)
    };
    let opted_in = |phone: &str| CustomerFacts { whatsapp_consent: true, ..texter(phone, true) };
    let channel = |c: &CustomerFacts, r: &Rules| match decide_now(&o, c, r) {
        Decision::Send { channel, .. } => Some(channel),
        other => panic!("{other:?}"),
    };
    assert_eq!(channel(&opted_in("+447700900001"), &r), Some(Channel::Whatsapp));
    assert_eq!(channel(&texter("+447700900001", true), &r), Some(Channel::Sms), "no WhatsApp opt-in: a text");
    assert_eq!(channel(&opted_in("+12125550100"), &r), Some(Channel::Sms), "no marketing templates to +1 numbers");
    // A utility template (care) reaches +1 numbers.
    let utility = Rules { whatsapp_marketing: Vec::new(), ..r.clone() };
    assert_eq!(channel(&opted_in("+12125550100"), &utility), Some(Channel::Whatsapp));
    // Until Meta approves a template nobody gets WhatsApp; WhatsApp alone then names why.
    let only = Rules { channels: vec![Channel::Whatsapp], ..r.clone() };
    let pending = Rules { whatsapp_locales: Vec::new(), ..only.clone() };
    assert!(matches!(decide_now(&o, &opted_in("+447700900001"), &pending), Decision::Exclude(Exclusion::NoWhatsappTemplate { .. })));
    assert_eq!(decide_now(&o, &texter("+447700900001", true), &only), Decision::Exclude(Exclusion::NoWhatsappConsent));
    assert_eq!(decide_now(&o, &opted_in("+12125550100"), &only), Decision::Exclude(Exclusion::WhatsappMarketingUs));
    assert_eq!(decide_now(&order("amazon", "GB", Some(7)), &opted_in("+447700900001"), &only), Decision::Exclude(Exclusion::AmazonTexts));
    // Quiet hours hold for WhatsApp as for texts.
    let late = NOON + 10 * 3_600_000; // 22:00 in London
    match decide(&o, Some(&opted_in("+447700900001")), &History::default(), &r, late) {
        Decision::Send { at, channel: Channel::Whatsapp, .. } => assert!(at > late, "held until 08:00"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn texts_are_timed_inside_the_quiet_hours_of_the_number_not_the_country() {
    // A buyer in Germany with a New York number: 08:00 in New York, not in Berlin.
    let o = order("shopify", "DE", Some(7));
    let c = CustomerFacts { email_consent: true, ..texter("+12125550100", true) };
    let r = Rules { channels: vec![Channel::Sms], ..texts_then_email(Purpose::ReviewRequest) };
    // NOON is 12:00 UTC = 07:00 in New York (winter) or 08:00 (summer).
    match decide_now(&o, &c, &r) {
        Decision::Send { at, channel: Channel::Sms, .. } => {
            let local = chrono::DateTime::from_timestamp_millis(at).unwrap().with_timezone(&chrono_tz::America::New_York);
            use chrono::Timelike;
            assert!((8..21).contains(&local.hour()), "{local}");
            assert!(at >= NOON);
        }
        other => panic!("{other:?}"),
    }
}
