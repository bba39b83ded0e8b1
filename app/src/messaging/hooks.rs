//! The providers' webhooks: status reports on sent texts and WhatsApp messages, buyers'
//! replies, and Meta's reviews of WhatsApp templates. All are signed by the provider
//! (`SmsProvider::verify`, `WhatsappCloud::verify`); an unsigned or altered request changes
//! nothing. Reports are recorded once each (a replayed report is a no-op). A reply that is
//! an opt-out keyword (`keywords`) suppresses the buyer for every brand sending from that
//! number, on every channel at once: the number, and the e-mail of each customer of the
//! brand with that number; what is still queued for them is cancelled.

use super::whatsapp::{Notice, WhatsappCloud};
use super::{SmsProvider, TextStatus};
use crate::campaigns::monitor;
use crate::common::opt_out as keywords;
use crate::db::Db;
use crate::error::AppError;
use crate::orders::model::Reason;
use crate::orders::privacy::{self, Scope};
use crate::outbox::model::Channel;
use crate::outbox::model::EventKind;
use crate::outbox::store as outbox;

/// Why a webhook request was refused.
#[derive(Debug)]
pub enum HookError {
    /// The signature is missing or does not verify.
    Forged,
    /// Signed, but not the parameters the provider documents (named).
    Malformed(String),
    Internal(AppError),
}

impl From<AppError> for HookError {
    fn from(e: AppError) -> Self {
        HookError::Internal(e)
    }
}

/// What a reply did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An opt-out: the brands it suppressed the buyer for.
    OptedOut { brands: usize },
    /// Anything else (kept for nobody: Starling does not converse by text).
    Ignored,
}

fn verified(provider: &dyn SmsProvider, url: &str, params: &[(String, String)], signature: Option<&str>) -> Result<(), HookError> {
    match signature {
        Some(signature) if provider.verify(url, params, signature) => Ok(()),
        _ => Err(HookError::Forged),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A status report: `delivered` (or `read`) becomes a `delivered` event, `undelivered` or
/// `failed` fails the message with the provider's error code; the states in between change
/// nothing. A report on a text Starling does not know is accepted and ignored (the provider
/// would otherwise retry it). Answers whether anything was recorded.
pub async fn status(
    db: &Db,
    provider: &dyn SmsProvider,
    url: &str,
    params: &[(String, String)],
    signature: Option<&str>,
    now: i64,
) -> Result<bool, HookError> {
    verified(provider, url, params, signature)?;
    let report = super::twilio::status_report(params)
        .ok_or_else(|| HookError::Malformed("MessageSid and a known MessageStatus are required".into()))?;
    let kind = match report.status {
        TextStatus::Delivered | TextStatus::Read => EventKind::Delivered,
        status if status.is_failure() => EventKind::Failed,
        _ => return Ok(false),
    };
    let Some((message_id, _, _)) = outbox::message_of_provider_ref(db, &report.provider_ref).await? else {
        tracing::info!(provider_ref = %report.provider_ref, "a status report on an unknown text was ignored");
        return Ok(false);
    };
    let detail = match (&report.error, kind) {
        (Some(code), EventKind::Failed) => format!("{}: the carrier did not deliver it (error {code})", provider.name()),
        (None, EventKind::Failed) => format!("{}: the carrier did not deliver it", provider.name()),
        _ => String::new(),
    };
    let source = format!("{}:{}", report.provider_ref, kind.as_str());
    let price = report.price.as_ref().map(|p| (p.micros, p.currency.as_str()));
    let new = outbox::record_text_status(db, message_id, kind, &source, now, &detail, price).await?;
    if new && kind == EventKind::Failed {
        // The canary judges failures as they happen (a delivery changes no halt rule).
        if let Some(campaign) = outbox::campaign_of(db, message_id).await? {
            monitor::evaluate(db, campaign, now).await?;
        }
    }
    Ok(new)
}

/// A buyer's reply. An opt-out suppresses the buyer for each brand texting from the
/// number replied to; anything else is ignored.
pub async fn reply(
    db: &Db,
    provider: &dyn SmsProvider,
    url: &str,
    params: &[(String, String)],
    signature: Option<&str>,
    now: i64,
) -> Result<Reply, HookError> {
    verified(provider, url, params, signature)?;
    let (Some(from), Some(to)) = (param(params, "From"), param(params, "To")) else {
        return Err(HookError::Malformed("From and To are required".into()));
    };
    let body = param(params, "Body").unwrap_or_default();
    if !keywords::is_opt_out(body) {
        return Ok(Reply::Ignored);
    }
    let phone = crate::orders::customers::normalise_phone(from, "");
    if phone.is_empty() {
        return Err(HookError::Malformed(format!("From ({from}) is not a phone number in international form")));
    }
    let brands = crate::clients::store::brands_with_sms_sender(db, to).await?;
    let note = format!("replied \"{}\" by text", body.trim().chars().take(20).collect::<String>());
    let source = format!("reply:{}", param(params, "MessageSid").unwrap_or_default());
    opt_out(db, &brands, &phone, &note, &source, Channel::Sms, now).await?;
    if brands.is_empty() {
        tracing::warn!("an opt-out reply to a number no brand texts from");
    }
    Ok(Reply::OptedOut { brands: brands.len() })
}

/// Suppresses the buyer with this phone for each brand, on every channel: the number, the
/// e-mail of each of the brand's customers with it, and what is still queued for them;
/// the opt-out counts against the last message of `channel` the buyer got.
async fn opt_out(
    db: &Db,
    brands: &[(i64, i64)],
    phone: &str,
    note: &str,
    source: &str,
    channel: Channel,
    now: i64,
) -> Result<(), AppError> {
    let salt = crate::common::fingerprint::salt(db).await?;
    for &(brand_id, client_id) in brands {
        let scope = Scope { client_id: Some(client_id), brand_id: Some(brand_id) };
        privacy::suppress(db, &salt, scope, phone, Reason::Unsubscribed, note, "buyer").await?;
        for (customer_id, email) in crate::orders::store::customers_with_phone(db, brand_id, phone).await? {
            if !email.is_empty() {
                privacy::suppress(db, &salt, scope, &email, Reason::Unsubscribed, note, "buyer").await?;
            }
            outbox::cancel_for_buyer(db, brand_id, customer_id).await?;
            // The opt-out counts against the last message the buyer got, as an unsubscribe does.
            if let Some(message_id) = outbox::last_text_to(db, brand_id, customer_id, channel).await? {
                if monitor::record_event(db, message_id, EventKind::Unsubscribed, source, now, note).await? {
                    outbox::mark_unsubscribe_processed(db, message_id, crate::db::now_millis()).await?;
                }
            }
        }
    }
    Ok(())
}

/// What a WhatsApp webhook delivery did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WhatsappOutcome {
    /// Status reports recorded (new ones only).
    pub statuses: u64,
    /// Buyers who opted out by replying.
    pub opt_outs: u64,
    /// Template reviews recorded.
    pub templates: u64,
}

/// A WhatsApp webhook delivery (Meta's JSON, signed over the raw body): message statuses
/// (`delivered` and `read` become a `delivered` event, `read` also an `opened` one;
/// `failed` fails the message with Meta's error, and a buyer who stopped the brand's
/// marketing messages in WhatsApp is suppressed), replies (an opt-out keyword or Meta's
/// "Stop promotions" button suppresses the buyer on every channel) and template reviews.
pub async fn whatsapp(
    db: &Db,
    cloud: &WhatsappCloud,
    body: &[u8],
    signature: Option<&str>,
    now: i64,
) -> Result<WhatsappOutcome, HookError> {
    match signature {
        Some(signature) if cloud.verify(body, signature) => {}
        _ => return Err(HookError::Forged),
    }
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| HookError::Malformed("the body is not JSON".into()))?;
    let notices = super::whatsapp::notices(&json).map_err(HookError::Malformed)?;
    let mut outcome = WhatsappOutcome::default();
    for notice in notices {
        match notice {
            Notice::Status { provider_ref, status, error, message_id } => {
                let known = match outbox::message_of_provider_ref(db, &provider_ref).await? {
                    Some((id, _, _)) => Some(id),
                    // A send whose answer was lost: Starling's id came back with the report.
                    None => match message_id {
                        Some(id) if outbox::record_provider_ref(db, id, Channel::Whatsapp, &provider_ref).await? => Some(id),
                        _ => None,
                    },
                };
                let Some(message_id) = known else {
                    tracing::info!(provider_ref = %provider_ref, "a WhatsApp status on an unknown message was ignored");
                    continue;
                };
                let kinds: &[EventKind] = match status.as_str() {
                    "delivered" => &[EventKind::Delivered],
                    "read" => &[EventKind::Delivered, EventKind::Opened],
                    "failed" => &[EventKind::Failed],
                    _ => &[],
                };
                for &kind in kinds {
                    let detail = match (&error, kind) {
                        (Some((code, words)), EventKind::Failed) => format!("WhatsApp: not delivered ({code}: {words})"),
                        (None, EventKind::Failed) => "WhatsApp: not delivered".to_string(),
                        _ => String::new(),
                    };
                    let source = format!("{provider_ref}:{}", kind.as_str());
                    let new = outbox::record_text_status(db, message_id, kind, &source, now, &detail, None).await?;
                    outcome.statuses += u64::from(new);
                    if new && kind == EventKind::Failed {
                        if error.as_ref().is_some_and(|(code, _)| *code == 131050) {
                            crate::delivery::suppress_buyer(db, message_id, Reason::Unsubscribed, &detail, "whatsapp").await?;
                        }
                        if let Some(campaign) = outbox::campaign_of(db, message_id).await? {
                            monitor::evaluate(db, campaign, now).await?;
                        }
                    }
                }
            }
            Notice::Reply { phone_number_id, from, text, id } => {
                let stop_button = text.trim().eq_ignore_ascii_case("stop promotions");
                if !(keywords::is_opt_out(&text) || stop_button) {
                    continue;
                }
                let phone = crate::orders::customers::normalise_phone(&format!("+{}", from.trim_start_matches('+')), "");
                if phone.is_empty() {
                    return Err(HookError::Malformed(format!("from ({from}) is not a phone number")));
                }
                let brands = crate::clients::store::brands_with_whatsapp_number(db, &phone_number_id).await?;
                let note = format!("replied \"{}\" on WhatsApp", text.trim().chars().take(20).collect::<String>());
                opt_out(db, &brands, &phone, &note, &format!("reply:{id}"), Channel::Whatsapp, now).await?;
                if brands.is_empty() {
                    tracing::warn!("an opt-out reply to a WhatsApp number no brand sends from");
                }
                outcome.opt_outs += 1;
            }
            Notice::Template { name, language, status, reason, category } => {
                if crate::templates::store::record_whatsapp_status(db, &name, &language, status, &reason, category.as_deref(), now).await? {
                    outcome.templates += 1;
                }
            }
        }
    }
    Ok(outcome)
}
