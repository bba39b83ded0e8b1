//! Eligibility: whether one order gets one campaign's message, and when. Pure functions of
//! (order, customer, history, rules, now), no IO, so the planner, the audience preview and
//! the tests decide exactly the same way.

use crate::orders::model::{requires_opt_in, OrderStatus};
use crate::outbox::model::Channel;
use crate::templates::model::Purpose;
use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub const DAY_MS: i64 = 86_400_000;

/// What the campaign waits for before an order's message is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Trigger {
    /// N days after the order was fulfilled (shipped).
    AfterFulfilment { days: u32 },
    /// N days after it was delivered.
    AfterDelivery { days: u32 },
    /// Once, now, to every order the audience filter selects.
    Batch,
}

/// Which orders a campaign looks at. Empty lists mean "any".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub store_ids: Vec<i64>,
    /// ISO country codes, upper case.
    pub countries: Vec<String>,
    pub statuses: Vec<OrderStatus>,
    pub min_total_minor: Option<i64>,
    pub max_total_minor: Option<i64>,
    pub min_days_since_purchase: Option<u32>,
    pub max_days_since_purchase: Option<u32>,
    /// Orders in these statuses are never mailed (default: cancelled, refunded, returned).
    pub exclude_statuses: Vec<OrderStatus>,
}

impl Default for Audience {
    fn default() -> Self {
        Audience {
            store_ids: Vec::new(),
            countries: Vec::new(),
            statuses: Vec::new(),
            min_total_minor: None,
            max_total_minor: None,
            min_days_since_purchase: None,
            max_days_since_purchase: None,
            exclude_statuses: vec![OrderStatus::Cancelled, OrderStatus::Refunded, OrderStatus::Returned],
        }
    }
}

/// The frequency cap: at most `max` proactive messages per customer and brand in any
/// `window_days` days (default 2 per 30, overridable per client contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    pub max: u32,
    pub window_days: u32,
}

impl Default for Cap {
    fn default() -> Self {
        Cap { max: 2, window_days: 30 }
    }
}

/// Hours of the buyer's local day in which mail may go out (default 09:00-20:00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    pub start_hour: u32,
    pub end_hour: u32,
}

impl Default for SendWindow {
    fn default() -> Self {
        SendWindow { start_hour: 9, end_hour: 20 }
    }
}

/// Everything a campaign decides with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub purpose: Purpose,
    pub trigger: Trigger,
    pub audience: Audience,
    pub cap: Cap,
    pub window: SendWindow,
    /// Locales with an approved version of the campaign's template.
    pub approved_locales: Vec<String>,
    /// Tried after the buyer's own locale and its language (e.g. `["en"]`).
    pub fallback_locales: Vec<String>,
    /// Added to the trigger's due time (an A/B variant's extra send delay; 0 otherwise).
    pub delay_ms: i64,
    /// E-mail, a text, or Amazon's own request (no address, consent or template needed).
    pub channel: Channel,
    /// The channels in order of preference (each buyer gets the first one that reaches
    /// them); empty means `channel` alone.
    pub channels: Vec<Channel>,
    /// Locales with an approved version that has an SMS part.
    pub sms_locales: Vec<String>,
    /// Locales with an approved version whose WhatsApp template Meta approved, and those
    /// of them Meta files as marketing.
    #[serde(default)]
    pub whatsapp_locales: Vec<String>,
    #[serde(default)]
    pub whatsapp_marketing: Vec<String>,
}

impl Rules {
    /// The channels in order of preference.
    pub fn channel_order(&self) -> Vec<Channel> {
        if self.channels.is_empty() {
            vec![self.channel]
        } else {
            self.channels.clone()
        }
    }
}

/// What the planner knows about one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFacts {
    pub order_id: i64,
    pub store_id: i64,
    /// The store's platform: `shopify`, `amazon`, `ebay`, …
    pub platform: String,
    pub status: OrderStatus,
    pub placed_at: i64,
    pub fulfilled_at: Option<i64>,
    pub delivered_at: Option<i64>,
    /// The delivery window the platform promised (Amazon's EarliestDeliveryDate and
    /// LatestDeliveryDate), when known.
    pub earliest_delivery_at: Option<i64>,
    pub latest_delivery_at: Option<i64>,
    pub country: String,
    pub total_minor: Option<i64>,
}

/// What the planner knows about the order's buyer (a customer of the brand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerFacts {
    pub customer_id: i64,
    pub has_email: bool,
    pub country: String,
    pub locale: String,
    /// The suppression reason, when the address is on the brand's or the agency's list.
    pub suppressed: Option<String>,
    /// A recorded e-mail opt-in.
    pub email_consent: bool,
    /// The phone in E.164 ('' when unknown).
    pub phone: String,
    /// A recorded consent to marketing texts.
    pub sms_consent: bool,
    /// A recorded opt-in to WhatsApp messages from the brand.
    pub whatsapp_consent: bool,
}

/// What was already planned or sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Purposes of messages already planned for this order, by any campaign.
    pub order_purposes: Vec<Purpose>,
    /// Send times of proactive messages planned for this customer of this brand.
    pub customer_sends: Vec<i64>,
}

/// Why an order gets no message from a campaign. Final: recorded once per (campaign, order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Exclusion {
    /// The audience filter does not select it (which filter).
    Filter {
        filter: String,
    },
    Status {
        status: OrderStatus,
    },
    NoContact,
    Suppressed {
        reason: String,
    },
    AlreadyAsked,
    Capped {
        planned: u32,
        max: u32,
        window_days: u32,
    },
    AmazonTooLate,
    AmazonMarketing,
    NoConsent,
    NoApprovedVersion {
        locale: String,
    },
    /// Amazon's request is for Amazon orders only.
    NotAmazon,
    NoPhone,
    /// Texts that ask for something (a review, a purchase, a survey) need recorded consent.
    NoTextConsent,
    /// Amazon forbids contacting its buyers outside its own messaging.
    AmazonTexts,
    NoTextVersion {
        locale: String,
    },
    /// No hour of the send window falls within the quiet hours in the number's zones.
    QuietHours,
    /// None of the campaign's channels reaches the buyer: why, per channel.
    NoChannel {
        reasons: String,
    },
    /// WhatsApp lets a business open a conversation only with buyers who opted in.
    NoWhatsappConsent,
    NoWhatsappTemplate {
        locale: String,
    },
    /// Meta delivers no marketing templates to United States (+1) numbers.
    WhatsappMarketingUs,
}

impl Exclusion {
    /// A stable key, for counts per rule.
    pub fn key(&self) -> &'static str {
        match self {
            Exclusion::Filter { .. } => "filter",
            Exclusion::Status { .. } => "status",
            Exclusion::NoContact => "no_contact",
            Exclusion::Suppressed { .. } => "suppressed",
            Exclusion::AlreadyAsked => "already_asked",
            Exclusion::Capped { .. } => "capped",
            Exclusion::AmazonTooLate => "amazon_window",
            Exclusion::AmazonMarketing => "amazon_marketing",
            Exclusion::NoConsent => "no_consent",
            Exclusion::NoApprovedVersion { .. } => "no_version",
            Exclusion::NotAmazon => "not_amazon",
            Exclusion::NoPhone => "no_phone",
            Exclusion::NoTextConsent => "no_text_consent",
            Exclusion::AmazonTexts => "amazon_texts",
            Exclusion::NoTextVersion { .. } => "no_text_version",
            Exclusion::QuietHours => "quiet_hours",
            Exclusion::NoChannel { .. } => "no_channel",
            Exclusion::NoWhatsappConsent => "no_whatsapp_consent",
            Exclusion::NoWhatsappTemplate { .. } => "no_whatsapp_template",
            Exclusion::WhatsappMarketingUs => "whatsapp_marketing_us",
        }
    }

    /// The reason in plain words.
    pub fn explain(&self) -> String {
        match self {
            Exclusion::Filter { filter } => format!("not selected by the audience filter ({filter})"),
            Exclusion::Status { status } => format!("the order is {}", status.as_str()),
            Exclusion::NoContact => "the buyer has no e-mail address".into(),
            Exclusion::Suppressed { reason } => format!("the address is suppressed ({reason})"),
            Exclusion::AlreadyAsked => "this order already has a message for this purpose".into(),
            Exclusion::Capped { planned, max, window_days } => {
                format!("frequency cap: {planned} messages already within {window_days} days (at most {max})")
            }
            Exclusion::AmazonTooLate => "Amazon's window closed: more than 30 days after the latest delivery date".into(),
            Exclusion::AmazonMarketing => "Amazon buyers get no repurchase or marketing messages".into(),
            Exclusion::NoConsent => {
                "buyer in a country that needs recorded consent for review requests by e-mail, and none is recorded".into()
            }
            Exclusion::NoApprovedVersion { locale } => format!("no approved version for locale {locale} or its fallbacks"),
            Exclusion::NotAmazon => "not an Amazon order: Amazon's request a review is for Amazon orders only".into(),
            Exclusion::NoPhone => "the buyer has no phone number".into(),
            Exclusion::NoTextConsent => {
                "no recorded consent to marketing texts (required for review requests, offers and surveys by SMS)".into()
            }
            Exclusion::AmazonTexts => "Amazon buyers are contacted through Amazon only, never by text or WhatsApp".into(),
            Exclusion::NoTextVersion { locale } => format!("no approved version with an SMS part for locale {locale} or its fallbacks"),
            Exclusion::QuietHours => "no hour of the send window is within 08:00-21:00 in the number's time zones".into(),
            Exclusion::NoChannel { reasons } => format!("no channel reaches the buyer ({reasons})"),
            Exclusion::NoWhatsappConsent => "no recorded opt-in to WhatsApp messages from the brand (WhatsApp requires one)".into(),
            Exclusion::NoWhatsappTemplate { locale } => {
                format!("no approved version with a WhatsApp template Meta approved for locale {locale} or its fallbacks")
            }
            Exclusion::WhatsappMarketingUs => "Meta delivers no marketing WhatsApp templates to +1 (United States) numbers".into(),
        }
    }
}

/// Why an order is not due yet (it is looked at again later, nothing is recorded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Waiting {
    /// Not fulfilled or delivered yet.
    Trigger,
    /// Due at this time.
    Due { at: i64 },
    /// Amazon accepts review requests from 5 days after the (earliest) delivery date.
    AmazonTooEarly { opens_at: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    Send { at: i64, locale: String, channel: Channel },
    Wait(Waiting),
    Exclude(Exclusion),
}

/// Whether a purpose counts against the frequency cap (all of today's purposes do; a
/// transactional message would not).
pub fn proactive(purpose: Purpose) -> bool {
    matches!(purpose, Purpose::ReviewRequest | Purpose::Care | Purpose::Repurchase | Purpose::Survey)
}

fn is_amazon(platform: &str) -> bool {
    platform.eq_ignore_ascii_case("amazon")
}

/// The audience filter, first failing filter named.
pub fn filter(order: &OrderFacts, audience: &Audience, now: i64) -> Result<(), Exclusion> {
    let fail = |filter: &str| Err(Exclusion::Filter { filter: filter.into() });
    if !audience.store_ids.is_empty() && !audience.store_ids.contains(&order.store_id) {
        return fail("store");
    }
    if !audience.countries.is_empty() && !audience.countries.iter().any(|c| c.eq_ignore_ascii_case(&order.country)) {
        return fail("country");
    }
    if !audience.statuses.is_empty() && !audience.statuses.contains(&order.status) {
        return fail("order status");
    }
    let total = order.total_minor.unwrap_or(0);
    if audience.min_total_minor.is_some_and(|min| total < min) || audience.max_total_minor.is_some_and(|max| total > max) {
        return fail("order value");
    }
    let days = (now - order.placed_at).div_euclid(DAY_MS);
    if audience.min_days_since_purchase.is_some_and(|d| days < i64::from(d))
        || audience.max_days_since_purchase.is_some_and(|d| days > i64::from(d))
    {
        return fail("days since purchase");
    }
    Ok(())
}

/// The buyer's locale, else its language, else the fallbacks in order: the first with an
/// approved version. `de-AT` tries `de-AT`, `de`, then e.g. `en`.
pub fn resolve_locale(locale: &str, approved: &[String], fallbacks: &[String]) -> Option<String> {
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    let candidates = [locale, language].into_iter().chain(fallbacks.iter().map(String::as_str));
    for candidate in candidates.filter(|c| !c.is_empty()) {
        if let Some(found) = approved.iter().find(|a| a.eq_ignore_ascii_case(candidate)) {
            return Some(found.clone());
        }
    }
    None
}

/// A country's main time zone, for the send window in the buyer's local time (UTC when
/// unknown).
pub fn time_zone(country: &str) -> Tz {
    use chrono_tz::{America, Asia, Australia, Europe};
    match country.to_ascii_uppercase().as_str() {
        "DE" => Europe::Berlin,
        "AT" => Europe::Vienna,
        "CH" | "LI" => Europe::Zurich,
        "FR" | "MC" => Europe::Paris,
        "BE" => Europe::Brussels,
        "LU" => Europe::Luxembourg,
        "NL" => Europe::Amsterdam,
        "IT" | "SM" | "VA" => Europe::Rome,
        "ES" => Europe::Madrid,
        "PT" => Europe::Lisbon,
        "GB" => Europe::London,
        "IE" => Europe::Dublin,
        "SE" => Europe::Stockholm,
        "DK" => Europe::Copenhagen,
        "NO" => Europe::Oslo,
        "FI" => Europe::Helsinki,
        "PL" => Europe::Warsaw,
        "CZ" => Europe::Prague,
        "JP" => Asia::Tokyo,
        "CN" => Asia::Shanghai,
        "TW" => Asia::Taipei,
        "HK" => Asia::Hong_Kong,
        "SG" => Asia::Singapore,
        "KR" => Asia::Seoul,
        "IN" => Asia::Kolkata,
        "AU" => Australia::Sydney,
        "US" => America::New_York,
        "CA" => America::Toronto,
        "MX" => America::Mexico_City,
        "BR" => America::Sao_Paulo,
        "AR" => America::Argentina::Buenos_Aires,
        _ => Tz::UTC,
    }
}

/// The first moment at or after `at` that falls inside the send window in `tz`.
pub fn next_in_window(at: i64, window: SendWindow, tz: Tz) -> i64 {
    let Some(utc) = chrono::DateTime::from_timestamp_millis(at) else { return at };
    let local = utc.with_timezone(&tz);
    let hour = local.hour();
    if hour >= window.start_hour && hour < window.end_hour {
        return at;
    }
    // The next start of the window: today if before it, else tomorrow.
    let day = if hour < window.start_hour { local.date_naive() } else { local.date_naive() + chrono::Days::new(1) };
    let start = day.and_hms_opt(window.start_hour, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&start)
        .earliest()
        // The start hour does not exist that day (a DST gap): an hour later does.
        .or_else(|| tz.from_local_datetime(&(start + chrono::Duration::hours(1))).earliest())
        .map_or(at, |t| t.timestamp_millis())
}

/// When the order was delivered: the reported delivery, else (Amazon, which does not
/// report delivery of most orders) the earliest promised delivery date of a shipped order.
fn delivered(order: &OrderFacts) -> Option<i64> {
    let shipped = matches!(order.status, OrderStatus::Fulfilled | OrderStatus::Delivered) || order.fulfilled_at.is_some();
    order.delivered_at.or(order.earliest_delivery_at.filter(|_| shipped && is_amazon(&order.platform)))
}

/// When the trigger makes the order due, if it has happened.
fn due_at(order: &OrderFacts, trigger: Trigger, now: i64) -> Option<i64> {
    match trigger {
        Trigger::Batch => Some(now),
        Trigger::AfterFulfilment { days } => {
            let shipped = order.fulfilled_at.or(order.delivered_at)?;
            Some(shipped + i64::from(days) * DAY_MS)
        }
        Trigger::AfterDelivery { days } => delivered(order).map(|d| d + i64::from(days) * DAY_MS),
    }
}

/// Amazon's window for a review request of a shipped order: from 5 days after the earliest
/// delivery date (or the delivery) to 30 days after the latest (or the delivery). `None`
/// while the order is neither delivered nor shipped with a promised date.
pub fn amazon_window(order: &OrderFacts) -> Option<(i64, i64)> {
    let delivered = delivered(order)?;
    let earliest = order.earliest_delivery_at.unwrap_or(delivered).min(delivered);
    let latest = order.latest_delivery_at.unwrap_or(delivered).max(delivered);
    Some((earliest + 5 * DAY_MS, latest + 30 * DAY_MS))
}

/// Messages already planned within `window_days` either side of `at`: keeping that below
/// the cap for every new message keeps every window of that length at or below it.
pub fn planned_near(sends: &[i64], at: i64, window_days: u32) -> u32 {
    let width = i64::from(window_days) * DAY_MS;
    sends.iter().filter(|&&s| (s - at).abs() < width).count() as u32
}

/// The decision for one order of one campaign at `now`. Rules are applied in a fixed
/// order, so an order excluded for several reasons is reported under the first.
pub fn decide(order: &OrderFacts, customer: Option<&CustomerFacts>, history: &History, rules: &Rules, now: i64) -> Decision {
    use Decision::{Exclude, Wait};
    if rules.audience.exclude_statuses.contains(&order.status) {
        return Exclude(Exclusion::Status { status: order.status });
    }
    if let Err(e) = filter(order, &rules.audience, now) {
        return Exclude(e);
    }
    if rules.channel == Channel::Amazon {
        return decide_amazon_request(order, customer, history, rules, now);
    }
    let amazon = is_amazon(&order.platform);
    if amazon && matches!(rules.purpose, Purpose::Repurchase) {
        return Exclude(Exclusion::AmazonMarketing);
    }
    let order_channels = rules.channel_order();
    let Some(customer) = customer else {
        let only_email = order_channels == [Channel::Email];
        return Exclude(if only_email { Exclusion::NoContact } else { Exclusion::NoPhone });
    };
    if let Some(reason) = &customer.suppressed {
        return Exclude(Exclusion::Suppressed { reason: reason.clone() });
    }
    // One message per (order, purpose) across channels; Amazon allows one proactive
    // message per order.
    if history.order_purposes.contains(&rules.purpose) || (amazon && !history.order_purposes.is_empty()) {
        return Exclude(Exclusion::AlreadyAsked);
    }
    let country = if customer.country.is_empty() { &order.country } else { &customer.country };
    // The first channel that reaches the buyer.
    let mut refusals: Vec<(Channel, Exclusion)> = Vec::new();
    let mut chosen = None;
    for channel in order_channels {
        match reaches(channel, customer, rules, country, amazon) {
            Ok(locale) => {
                chosen = Some((channel, locale));
                break;
            }
            Err(e) => refusals.push((channel, e)),
        }
    }
    let Some((channel, locale)) = chosen else {
        if refusals.len() == 1 {
            return Exclude(refusals.remove(0).1);
        }
        let reasons = refusals.iter().map(|(c, e)| format!("{}: {}", c.label(), e.explain())).collect::<Vec<_>>().join("; ");
        return Exclude(Exclusion::NoChannel { reasons });
    };
    let Some(due) = due_at(order, rules.trigger, now).map(|due| due + rules.delay_ms) else {
        return Wait(Waiting::Trigger);
    };
    let window = if amazon && matches!(rules.purpose, Purpose::ReviewRequest) {
        let Some(window) = amazon_window(order) else { return Wait(Waiting::Trigger) };
        Some(window)
    } else {
        None
    };
    let zones = match channel {
        Channel::Sms | Channel::Whatsapp => {
            let zones = crate::campaigns::quiet::zones_of(&customer.phone);
            if zones.is_empty() {
                vec![time_zone(country)]
            } else {
                zones
            }
        }
        _ => vec![time_zone(country)],
    };
    let at = match timed(due, window, rules.window, &zones, channel, now) {
        Ok(at) => at,
        Err(decision) => return decision,
    };
    if proactive(rules.purpose) {
        let planned = planned_near(&history.customer_sends, at, rules.cap.window_days);
        if planned >= rules.cap.max {
            return Exclude(Exclusion::Capped { planned, max: rules.cap.max, window_days: rules.cap.window_days });
        }
    }
    Decision::Send { at, locale, channel }
}

/// Whether `channel` reaches the buyer: the contact, the consent the channel needs in the
/// buyer's country for this purpose, and an approved version (with that channel's part) in
/// the buyer's locale or a fallback, whose locale it answers.
fn reaches(channel: Channel, customer: &CustomerFacts, rules: &Rules, country: &str, amazon: bool) -> Result<String, Exclusion> {
    match channel {
        Channel::Email => {
            if !customer.has_email {
                return Err(Exclusion::NoContact);
            }
            if matches!(rules.purpose, Purpose::ReviewRequest) && requires_opt_in(country) && !customer.email_consent {
                return Err(Exclusion::NoConsent);
            }
            resolve_locale(&customer.locale, &rules.approved_locales, &rules.fallback_locales)
                .ok_or_else(|| Exclusion::NoApprovedVersion { locale: customer.locale.clone() })
        }
        Channel::Sms => {
            if amazon {
                return Err(Exclusion::AmazonTexts);
            }
            if customer.phone.is_empty() {
                return Err(Exclusion::NoPhone);
            }
            // TCPA (US): prior express written consent for marketing texts; ePrivacy (EU):
            // consent. A review request, an offer or a survey asks for something: only a
            // care message about the order itself goes without.
            if !matches!(rules.purpose, Purpose::Care) && !customer.sms_consent {
                return Err(Exclusion::NoTextConsent);
            }
            resolve_locale(&customer.locale, &rules.sms_locales, &rules.fallback_locales)
                .ok_or_else(|| Exclusion::NoTextVersion { locale: customer.locale.clone() })
        }
        Channel::Whatsapp => {
            if amazon {
                return Err(Exclusion::AmazonTexts);
            }
            if customer.phone.is_empty() {
                return Err(Exclusion::NoPhone);
            }
            // WhatsApp Business Messaging Policy: a business may message people who gave
            // it their number and agreed to be contacted on WhatsApp, whatever the purpose.
            if !customer.whatsapp_consent {
                return Err(Exclusion::NoWhatsappConsent);
            }
            let locale = resolve_locale(&customer.locale, &rules.whatsapp_locales, &rules.fallback_locales)
                .ok_or_else(|| Exclusion::NoWhatsappTemplate { locale: customer.locale.clone() })?;
            if rules.whatsapp_marketing.contains(&locale) && !crate::common::whatsapp::marketing_allowed_to(&customer.phone) {
                return Err(Exclusion::WhatsappMarketingUs);
            }
            Ok(locale)
        }
        Channel::Amazon => Err(Exclusion::NotAmazon),
    }
}

/// When a due message goes out: not before Amazon's window opens (when it has one), then
/// at the next hour of the send window in the buyer's time zone; excluded when that is
/// after Amazon's window closed, waiting when it is still ahead.
fn timed(due: i64, amazon: Option<(i64, i64)>, send: SendWindow, zones: &[Tz], channel: Channel, now: i64) -> Result<i64, Decision> {
    let mut at = due.max(now);
    if let Some((opens, closes)) = amazon {
        if at > closes {
            return Err(Decision::Exclude(Exclusion::AmazonTooLate));
        }
        if now < opens {
            return Err(Decision::Wait(Waiting::AmazonTooEarly { opens_at: opens }));
        }
        at = at.max(opens);
    }
    if at > now {
        return Err(Decision::Wait(Waiting::Due { at }));
    }
    let at = match channel {
        // Texts: the send window within the quiet hours, in every zone the number may be in.
        Channel::Sms | Channel::Whatsapp => {
            crate::campaigns::quiet::next_allowed(at, send, zones).ok_or(Decision::Exclude(Exclusion::QuietHours))?
        }
        _ => next_in_window(at, send, zones.first().copied().unwrap_or(Tz::UTC)),
    };
    if amazon.is_some_and(|(_, closes)| at > closes) {
        return Err(Decision::Exclude(Exclusion::AmazonTooLate));
    }
    Ok(at)
}

/// Amazon's own request a review: for Amazon orders only, one contact per order in all
/// (by any campaign, channel or purpose), within Amazon's window. Amazon holds the buyer's
/// address and writes the message in the buyer's language, so neither an address, a
/// consent record nor an approved version is needed; the locale is left empty. The
/// frequency cap does not apply: Amazon itself allows one request per order.
fn decide_amazon_request(order: &OrderFacts, customer: Option<&CustomerFacts>, history: &History, rules: &Rules, now: i64) -> Decision {
    use Decision::{Exclude, Wait};
    if !is_amazon(&order.platform) {
        return Exclude(Exclusion::NotAmazon);
    }
    if let Some(reason) = customer.and_then(|c| c.suppressed.as_ref()) {
        return Exclude(Exclusion::Suppressed { reason: reason.clone() });
    }
    if !history.order_purposes.is_empty() {
        return Exclude(Exclusion::AlreadyAsked);
    }
    let Some(due) = due_at(order, rules.trigger, now).map(|due| due + rules.delay_ms) else {
        return Wait(Waiting::Trigger);
    };
    let Some(window) = amazon_window(order) else { return Wait(Waiting::Trigger) };
    let country = customer.map(|c| c.country.as_str()).filter(|c| !c.is_empty()).unwrap_or(&order.country);
    match timed(due, Some(window), rules.window, &[time_zone(country)], Channel::Amazon, now) {
        Ok(at) => Decision::Send { at, locale: String::new(), channel: Channel::Amazon },
        Err(decision) => decision,
    }
}
