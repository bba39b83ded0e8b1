//! Turning a planned message into the exact bytes that go out: the approved version
//! recorded at planning rendered for its order and buyer, the A/B variant's subject,
//! tracked links and the open pixel, and the headers mailbox providers expect —
//! Message-ID (stable across attempts), `List-Unsubscribe` (https and mailto) with
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), Feedback-ID, and a
//! multipart/alternative body with the plain-text part. Messages to Amazon buyers follow
//! Amazon's rules instead: no opt-out link or header, no pixel, no rewritten links.

use super::tokens::{self, Claims, Purpose as TokenPurpose};
use crate::campaigns::planner::CampaignRules;
use crate::common::render::{self, BrandVars, CustomerVars, OrderVars, ProductVars, RenderContext, StoreVars};
use crate::error::AppError;
use crate::orders::model::OrderItem;
use hmac::{Hmac, Mac};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::Sha256;
use std::sync::OnceLock;

/// Everything the sender needs about one message, read in one query per batch
/// (`store::outgoing`).
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: i64,
    pub client_id: i64,
    pub brand_id: i64,
    pub campaign_id: i64,
    pub purpose: String,
    pub locale: String,
    pub variant: i64,
    pub attempts: i64,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub rules: String,
    pub email: String,
    pub customer_name: String,
    pub platform_order_id: String,
    pub placed_at: i64,
    pub total_minor: Option<i64>,
    pub currency: String,
    pub items: String,
    pub store_name: String,
    pub platform: String,
    pub marketplace: String,
    pub brand_name: String,
    pub sender_name: String,
    pub sender_email: String,
    pub sending_domain: String,
    pub postal_address: String,
    /// The buyer's phone (E.164), the version's SMS part and the brand's SMS sender, for
    /// texts.
    pub phone: String,
    pub sms_body: String,
    pub sms_sender: String,
    pub sms_number: String,
    /// The version's WhatsApp part, the brand's WhatsApp number (its Cloud API id) and the
    /// part's template at Meta (name and language; empty until submitted).
    pub whatsapp_body: String,
    pub whatsapp_phone_id: String,
    /// `email`, `sms`, `whatsapp` or `amazon`.
    pub channel: String,
    pub whatsapp_template: String,
    pub whatsapp_language: String,
}

impl Outgoing {
    pub fn is_amazon(&self) -> bool {
        self.platform.eq_ignore_ascii_case("amazon")
    }
}

/// A message ready for the SMTP envelope.
#[derive(Clone, Debug)]
pub struct Composed {
    /// The envelope sender (bounces come back here, addressed to this message).
    pub from: String,
    pub to: String,
    pub message_id: String,
    pub bytes: Vec<u8>,
}

/// The signed local part naming a message, `m42.<tag>`: the tag is 64 bits of an HMAC of
/// the message id, so a report naming a message can't be forged by guessing ids.
fn signed_local(secret: &str, id: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("message-id {id}").as_bytes());
    format!("m{id}.{}", hex::encode(&mac.finalize().into_bytes()[..8]))
}

/// `<m42.1a2b3c4d5e6f7a8b@mail.brand.example>`: the same for every attempt at one message,
/// so a receiver that sees a repeat after an ambiguous SMTP failure can tell it is one.
pub fn message_id(secret: &str, id: i64, domain: &str) -> String {
    format!("<{}@{domain}>", signed_local(secret, id))
}

/// `bounces+m42.<tag>@mail.brand.example`: the envelope sender (VERP), so a bounce that
/// quotes nothing of the original still names the message it is about.
pub fn return_path(secret: &str, id: i64, domain: &str) -> String {
    format!("bounces+{}@{domain}", signed_local(secret, id))
}

/// The message a Message-ID header or return path of ours names, when its tag verifies
/// (anything else, ours with an altered tag included, is `None`).
pub fn parse_message_id(secret: &str, value: &str) -> Option<i64> {
    let inner = value.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = inner.rsplit_once('@')?;
    let local = local.strip_prefix("bounces+").unwrap_or(local);
    let (id, tag) = local.strip_prefix('m')?.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    let tag = hex::decode(tag).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("message-id {id}").as_bytes());
    (tag.len() == 8 && mac.verify_truncated_left(&tag).is_ok()).then_some(id)
}

fn href_pattern() -> &'static regex::Regex {
    static HREF: OnceLock<regex::Regex> = OnceLock::new();
    HREF.get_or_init(|| regex::Regex::new(r#"href="([^"]+)""#).expect("a valid pattern"))
}

/// An attribute value as the browser reads it: the entities minijinja's HTML escaping
/// writes (`&#x2f;` for `/` among them) decoded.
fn unescape_attribute(value: &str) -> String {
    value
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Renders and builds the message. `public_url` is where tracking links point.
pub fn compose(m: &Outgoing, secret: &str, public_url: &str, now: i64) -> Result<Composed, AppError> {
    let token = |purpose: TokenPurpose, url: &str| {
        tokens::sign(secret, m.client_id, &Claims { purpose, message_id: m.id, issued_at: now, url: url.to_string() })
    };
    let base = public_url.trim_end_matches('/');
    let amazon = m.is_amazon();
    let unsubscribe_token = token(TokenPurpose::Unsubscribe, "");
    let unsubscribe_url = if amazon { String::new() } else { format!("{base}/t/u/{}/{unsubscribe_token}", m.client_id) };
    let context = context(m, unsubscribe_url.clone());
    let rules: Option<CampaignRules> = serde_json::from_str(&m.rules).ok();
    let subject_source = rules
        .as_ref()
        .and_then(|r| r.variants.get(m.variant as usize))
        .map(|v| v.subject.clone())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| m.subject.clone());
    let rendered = render::render(&subject_source, &m.html, &m.text, &context)
        .map_err(|e| AppError::internal(format!("message {} cannot be rendered ({}): {}", m.id, e.part.as_str(), e.message)))?;
    let mut html = rendered.html;
    if !amazon {
        // Tracked clicks: every absolute link except the unsubscribe link itself.
        html = href_pattern()
            .replace_all(&html, |caps: &regex::Captures| {
                let url = unescape_attribute(&caps[1]);
                let web = url.starts_with("https://") || url.starts_with("http://");
                if !web || url == unsubscribe_url {
                    caps[0].to_string()
                } else {
                    format!("href=\"{base}/t/c/{}/{}\"", m.client_id, token(TokenPurpose::Click, &url))
                }
            })
            .into_owned();
        let pixel = format!(
            "<img src=\"{base}/t/o/{}/{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0\">",
            m.client_id,
            token(TokenPurpose::Open, "")
        );
        html = match html.rfind("</body>") {
            Some(at) => format!("{}{pixel}{}", &html[..at], &html[at..]),
            None => format!("{html}{pixel}"),
        };
    }
    let domain = if m.sending_domain.is_empty() { "localhost".to_string() } else { m.sending_domain.clone() };
    let from: Mailbox = format!("{} <{}>", m.sender_name.replace(['<', '>', '"'], ""), m.sender_email)
        .parse()
        .map_err(|e| AppError::internal(format!("brand {} sender address: {e}", m.brand_id)))?;
    let to: Mailbox = m.email.parse().map_err(|e| AppError::invalid("email", format!("\"{}\" is not an address: {e}", m.email)))?;
    let id = message_id(secret, m.id, &domain);
    let mut builder = Message::builder().from(from).to(to).subject(rendered.subject).message_id(Some(id.clone())).date_now();
    let header = |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
    if !amazon {
        builder = builder
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{unsubscribe_url}>, <mailto:unsubscribe@{domain}?subject=unsubscribe%20{unsubscribe_token}>"),
            ))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    builder = builder.raw_header(header("Feedback-ID", format!("{}:{}:{}:starling", m.campaign_id, m.client_id, m.purpose)));
    let message = builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(rendered.text))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        )
        .map_err(|e| AppError::internal(format!("building message {}: {e}", m.id)))?;
    Ok(Composed { from: return_path(secret, m.id, &domain), to: m.email.clone(), message_id: id, bytes: message.formatted() })
}

/// The variables a message renders with: the buyer, the order and its first product, the
/// brand and store, the review link and the unsubscribe link.
fn context(m: &Outgoing, unsubscribe_url: String) -> RenderContext {
    let items: Vec<OrderItem> = serde_json::from_str(&m.items).unwrap_or_default();
    let first = items.first();
    let date = chrono::DateTime::from_timestamp_millis(m.placed_at).unwrap_or_default();
    let (first_name, last_name) = m.customer_name.split_once(' ').unwrap_or((m.customer_name.as_str(), ""));
    use chrono::Datelike;
    RenderContext {
        customer: CustomerVars { first_name: first_name.into(), last_name: last_name.into(), name: m.customer_name.clone() },
        order: OrderVars {
            id: m.platform_order_id.clone(),
            date: render::local_date(&m.locale, date.year(), date.month(), date.day()),
            total: m.total_minor.map(|t| render::local_amount(&m.locale, t, &m.currency)).unwrap_or_default(),
        },
        product: ProductVars {
            name: first.map(|i| i.product_name.clone()).unwrap_or_default(),
            sku: first.map(|i| i.sku.clone()).unwrap_or_default(),
        },
        brand: BrandVars { name: m.brand_name.clone(), postal_address: m.postal_address.clone() },
        store: StoreVars { name: m.store_name.clone() },
        review_url: review_url(m, first),
        unsubscribe_url,
    }
}

fn url_pattern() -> &'static regex::Regex {
    static URL: OnceLock<regex::Regex> = OnceLock::new();
    URL.get_or_init(|| regex::Regex::new(r#"https?://[^\s<>"]+"#).expect("a valid pattern"))
}

/// The web links of a text in order, without the punctuation that ends a sentence after
/// them ("… at https://shop.example/r." links to `https://shop.example/r`).
fn text_links(text: &str) -> Vec<(usize, usize)> {
    url_pattern()
        .find_iter(text)
        .map(|m| {
            let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
            (m.start(), m.start() + trimmed.len())
        })
        .collect()
}

/// The tag of a text's short link: 64 bits of an HMAC of (message, link number).
fn short_tag(secret: &str, message_id: i64, index: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("text-link {message_id} {index}").as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..8])
}

/// The code of a text's n-th link, `42.0.<tag>`: short (every character of a text costs),
/// and naming no target, which the click looks up by rendering the message again.
pub fn short_link_code(secret: &str, message_id: i64, index: usize) -> String {
    format!("{message_id}.{index}.{}", short_tag(secret, message_id, index))
}

/// The (message, link number) a genuine short-link code names.
pub fn parse_short_link(secret: &str, code: &str) -> Option<(i64, usize)> {
    let mut parts = code.splitn(3, '.');
    let id: i64 = parts.next()?.parse().ok()?;
    let index: usize = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    let expected = short_tag(secret, id, index);
    // Compared in constant time.
    let same = tag.len() == expected.len() && tag.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    same.then_some((id, index))
}

/// The text as rendered, before its links are shortened.
pub fn render_text(m: &Outgoing) -> Result<String, AppError> {
    let body = if m.channel == "whatsapp" { &m.whatsapp_body } else { &m.sms_body };
    render_text_of(m, body)
}

fn render_text_of(m: &Outgoing, body: &str) -> Result<String, AppError> {
    let rendered = render::render("", "", body, &context(m, String::new()))
        .map_err(|e| AppError::internal(format!("text {} cannot be rendered: {}", m.id, e.message)))?;
    Ok(rendered.text.trim().to_string())
}

/// A text's body: the version's SMS part rendered for the order and buyer, each web link
/// replaced by a short tracked link (`{public_url}/t/s/{code}`). Texts to Amazon buyers
/// are never planned (Amazon forbids contacting them outside its messaging).
pub fn compose_text(m: &Outgoing, secret: &str, public_url: &str) -> Result<String, AppError> {
    if m.sms_body.trim().is_empty() {
        return Err(AppError::internal(format!("text {}: the version has no SMS part", m.id)));
    }
    let text = render_text(m)?;
    let base = public_url.trim_end_matches('/');
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (index, (start, end)) in text_links(&text).into_iter().enumerate() {
        out.push_str(&text[last..start]);
        out.push_str(&format!("{base}/t/s/{}", short_link_code(secret, m.id, index)));
        last = end;
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// A WhatsApp message: the template Meta approved for the version, and its parameters
/// rendered for the order and buyer, each web link replaced by a short tracked link as in
/// texts. Also the message as the buyer reads it (the template with its parameters),
/// for the record.
pub fn compose_whatsapp(m: &Outgoing, secret: &str, public_url: &str) -> Result<(Vec<String>, String), AppError> {
    use crate::common::whatsapp;
    if m.whatsapp_template.is_empty() {
        return Err(AppError::internal(format!("WhatsApp message {}: the version's template is not at Meta", m.id)));
    }
    let body = whatsapp::meta_body(&m.whatsapp_body).map_err(|problems| {
        AppError::internal(format!(
            "WhatsApp message {}: {}",
            m.id,
            problems.first().map(|p| p.message.as_str()).unwrap_or("the WhatsApp part is not a template")
        ))
    })?;
    // The links are numbered across the whole message, as the click looks them up.
    let text = render_text_of(m, &m.whatsapp_body)?;
    let links = text_links(&text);
    let base = public_url.trim_end_matches('/');
    let context = context(m, String::new());
    let mut params = Vec::with_capacity(body.variables.len());
    for variable in &body.variables {
        let value = render::render("", "", &format!("{{{{ {variable} }}}}"), &context)
            .map_err(|e| AppError::internal(format!("WhatsApp message {}: {}", m.id, e.message)))?
            .text;
        let value = value.trim().to_string();
        let value = match links.iter().position(|&(start, end)| text[start..end] == value) {
            Some(index) => format!("{base}/t/s/{}", short_link_code(secret, m.id, index)),
            None => value,
        };
        params.push(whatsapp::parameter_value(&value));
    }
    let mut shown = body.text.clone();
    for (n, value) in params.iter().enumerate().rev() {
        shown = shown.replace(&format!("{{{{{}}}}}", n + 1), value);
    }
    Ok((params, shown))
}

/// The target of a text's n-th link.
pub fn text_link_target(m: &Outgoing, index: usize) -> Option<String> {
    let text = render_text(m).ok()?;
    text_links(&text).get(index).map(|&(start, end)| text[start..end].to_string())
}

/// Where the buyer leaves a review: the platform's own page for the first product.
fn review_url(m: &Outgoing, first: Option<&OrderItem>) -> String {
    let listing = first.map(|i| i.listing_id.as_str()).unwrap_or("");
    let market = if m.marketplace.is_empty() { "amazon.com" } else { m.marketplace.as_str() };
    match m.platform.to_ascii_lowercase().as_str() {
        "amazon" if !listing.is_empty() => format!("https://www.{market}/review/create-review?asin={listing}"),
        "amazon" => format!("https://www.{market}/gp/css/order-history"),
        "ebay" => "https://www.ebay.com/fdbk/leave_feedback".into(),
        _ if !m.sending_domain.is_empty() => format!("https://{}/", m.sending_domain.trim_start_matches("mail.")),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_links_verify_only_with_their_own_tag() {
        let code = short_link_code("k", 42, 1);
        assert_eq!(parse_short_link("k", &code), Some((42, 1)));
        assert_eq!(parse_short_link("other", &code), None);
        assert_eq!(parse_short_link("k", &code.replacen("42.", "43.", 1)), None);
        assert_eq!(parse_short_link("k", &code.replacen(".1.", ".0.", 1)), None);
        assert_eq!(parse_short_link("k", "42.1"), None);
        assert!(code.len() < 20, "{code}");
    }

    #[test]
    fn links_in_texts_end_before_the_sentence_does() {
        let text = "Rate it at https://shop.example/r?o=1. Thanks! (or https://x.example/a)";
        let links: Vec<&str> = text_links(text).into_iter().map(|(a, b)| &text[a..b]).collect();
        assert_eq!(links, vec!["https://shop.example/r?o=1", "https://x.example/a"]);
    }

    #[test]
    fn escaped_links_are_read_as_the_browser_reads_them() {
        assert_eq!(unescape_attribute("https:&#x2f;&#x2f;shop.example&#x2f;p?a=1&amp;b=2"), "https://shop.example/p?a=1&b=2");
    }

    #[test]
    fn message_ids_are_stable_and_parse_back() {
        let a = message_id("k", 42, "mail.example.com");
        assert_eq!(a, message_id("k", 42, "mail.example.com"));
        assert_ne!(a, message_id("k", 43, "mail.example.com"));
        assert_eq!(parse_message_id("k", &a), Some(42));
        assert_eq!(parse_message_id("k", &return_path("k", 42, "mail.example.com")), Some(42));
        assert_eq!(parse_message_id("other key", &a), None, "a tag made with another key");
        assert_eq!(parse_message_id("k", &a.replace("m42.", "m43.")), None, "another message's id with this tag");
        assert_eq!(parse_message_id("k", "<abc@example.com>"), None);
    }
}
