//! WhatsApp through Meta's WhatsApp Business Cloud API (Graph API, `graph.facebook.com`, or
//! any server with the same contract). A business opens a conversation with a template
//! Meta approved: `POST /{version}/{phone-number-id}/messages` with a bearer token and a
//! JSON body naming the template, its language and its body parameters; the answer names
//! the message (`wamid.…`). Templates are created with `POST
//! /{version}/{business-account-id}/message_templates` and looked up with a `GET` on the
//! same path (paged by `paging.next`). Errors come as `{"error": {"code", "message",
//! "error_subcode"}}`. Meta posts statuses (sent, delivered, read, failed), buyers'
//! replies and template reviews to one webhook, signed with `X-Hub-Signature-256`:
//! `sha256=` and the hex HMAC-SHA256 of the raw body under the app's secret.

use super::{Accepted, Price, SendFailure, Sms, TextProvider};
use crate::common::whatsapp::MetaStatus;
use crate::connectors::http::{json_body, retry_after, Failure};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// Meta's error codes Starling acts on.
mod code {
    /// The access token expired or was revoked.
    pub const TOKEN: i64 = 190;
    /// Rate limits: the app's, the account's, the Cloud API's, and per recipient.
    pub const RATE_LIMITS: &[i64] = &[4, 80007, 130429, 131056];
    /// Temporary trouble at Meta.
    pub const TEMPORARY: &[i64] = &[1, 2, 131000, 131016];
    /// The buyer stopped the business's marketing messages in WhatsApp.
    pub const STOPPED_MARKETING: i64 = 131050;
}

/// A WhatsApp Business account on the Cloud API.
#[derive(Clone, Debug)]
pub struct WhatsappCloud {
    /// `https://graph.facebook.com`, or a test server.
    pub base_url: String,
    /// The Graph API version, `v21.0`.
    pub version: String,
    /// The WhatsApp Business account (templates live there).
    pub account_id: String,
    /// A system user's access token with `whatsapp_business_messaging` and
    /// `whatsapp_business_management`.
    pub token: SecretString,
    /// The Meta app's secret: webhooks are signed with it.
    pub app_secret: SecretString,
    pub client: reqwest::Client,
}

/// What Meta answered a template submission or lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateState {
    pub id: String,
    pub status: MetaStatus,
    pub category: String,
    pub reason: String,
}

impl WhatsappCloud {
    fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.base_url.trim_end_matches('/'), self.version.trim_matches('/'), path.trim_start_matches('/'))
    }

    /// Whether a webhook body carries Meta's signature (`sha256=<hex>`).
    pub fn verify(&self, body: &[u8], signature: &str) -> bool {
        let Some(hex_given) = signature.trim().strip_prefix("sha256=") else { return false };
        let Ok(given) = hex::decode(hex_given) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(self.app_secret.expose_secret().as_bytes()).expect("HMAC takes a key of any length");
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    }

    /// Submits a template for review: its name, Meta language code, category and body in
    /// Meta's form, with an example value for each parameter (Meta requires them).
    pub async fn submit(
        &self,
        name: &str,
        language: &str,
        category: &str,
        body: &str,
        examples: &[String],
    ) -> Result<TemplateState, Failure> {
        let mut component = json!({ "type": "BODY", "text": body });
        if !examples.is_empty() {
            component["example"] = json!({ "body_text": [examples] });
        }
        let request = json!({ "name": name, "language": language, "category": category, "components": [component] });
        let response = self
            .client
            .post(self.url(&format!("{}/message_templates", self.account_id)))
            .bearer_auth(self.token.expose_secret())
            .json(&request)
            .send()
            .await
            .map_err(|e| Failure::of_request(&e))?;
        let answer = read(response).await?;
        let id = answer.get("id").and_then(text).ok_or_else(|| Failure::Transient("the answer names no template id".into()))?;
        Ok(TemplateState {
            id,
            status: answer.get("status").and_then(Value::as_str).and_then(MetaStatus::parse).unwrap_or(MetaStatus::Pending),
            category: answer.get("category").and_then(Value::as_str).unwrap_or(category).to_string(),
            reason: String::new(),
        })
    }

    /// The account's template of this name and language, following `paging.next` (Meta's
    /// name filter matches parts of names) up to ten pages.
    pub async fn lookup(&self, name: &str, language: &str) -> Result<Option<TemplateState>, Failure> {
        let mut url = self.url(&format!("{}/message_templates", self.account_id));
        let mut query: Vec<(String, String)> = vec![
            ("name".into(), name.to_string()),
            ("fields".into(), "id,name,language,status,category,rejected_reason".into()),
            ("limit".into(), "100".into()),
        ];
        for _ in 0..10 {
            let response = self
                .client
                .get(&url)
                .query(&query)
                .bearer_auth(self.token.expose_secret())
                .send()
                .await
                .map_err(|e| Failure::of_request(&e))?;
            let page = read(response).await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| Failure::Transient("the answer has no data list (not the JSON the API documents)".into()))?;
            let found = data.iter().find(|t| {
                t.get("name").and_then(Value::as_str) == Some(name) && t.get("language").and_then(Value::as_str) == Some(language)
            });
            if let Some(t) = found {
                let reason = t.get("rejected_reason").and_then(Value::as_str).filter(|r| *r != "NONE").unwrap_or("");
                return Ok(Some(TemplateState {
                    id: t.get("id").and_then(text).unwrap_or_default(),
                    status: t.get("status").and_then(Value::as_str).and_then(MetaStatus::parse).unwrap_or(MetaStatus::Pending),
                    category: t.get("category").and_then(Value::as_str).unwrap_or_default().to_string(),
                    reason: reason.to_string(),
                }));
            }
            match page.pointer("/paging/next").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                // Meta's next link is absolute and repeats the access token in its query:
                // the token goes in the header only, never in a URL.
                Some(next) => {
                    let mut link = reqwest::Url::parse(next).map_err(|_| Failure::Transient("paging.next is not a URL".into()))?;
                    let kept: Vec<(String, String)> =
                        link.query_pairs().filter(|(k, _)| k != "access_token").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                    link.set_query(None);
                    url = link.to_string();
                    query = kept;
                }
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}

impl TextProvider for WhatsappCloud {
    fn name(&self) -> &'static str {
        "WhatsApp"
    }

    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<Accepted, SendFailure>> {
        Box::pin(async move {
            let Some(template) = &sms.template else {
                return Err(Failure::Rejected("a WhatsApp message that opens a conversation must be a template".into()).into());
            };
            let parameters: Vec<Value> = template.parameters.iter().map(|p| json!({ "type": "text", "text": p })).collect();
            let mut message = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": sms.to.trim_start_matches('+'),
                "type": "template",
                // Echoed in the status reports: a report on a try whose answer was lost
                // still finds its message.
                "biz_opaque_callback_data": format!("starling:{}", sms.message_id),
                "template": { "name": template.name, "language": { "code": template.language } },
            });
            if !parameters.is_empty() {
                message["template"]["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            let response = self
                .client
                .post(self.url(&format!("{}/messages", sms.from)))
                .bearer_auth(self.token.expose_secret())
                .json(&message)
                .send()
                .await
                .map_err(|e| SendFailure::from(Failure::of_request(&e)))?;
            let answer = match read(response).await {
                Ok(answer) => answer,
                Err(Refused { failure, code }) => {
                    return Err(SendFailure { failure, opted_out: code == Some(code::STOPPED_MARKETING) });
                }
            };
            let id = answer.pointer("/messages/0/id").and_then(Value::as_str).filter(|id| !id.is_empty()).ok_or_else(|| {
                SendFailure::from(Failure::Transient("the answer names no message id (not the JSON the API documents)".into()))
            })?;
            Ok(Accepted { provider_ref: id.to_string(), segments: Some(1), price: None })
        })
    }

    /// The Cloud API lists no sent messages: a try cut off by a crash is found by its
    /// status report instead (`biz_opaque_callback_data`), which the sender checks first.
    fn find<'a>(&'a self, _from: &'a str, _to: &'a str, _body: &'a str, _since: i64) -> BoxFuture<'a, Result<Option<Accepted>, Failure>> {
        Box::pin(async { Ok(None) })
    }

    /// Meta reports a message's pricing category, not an amount: the contract prices it.
    fn price<'a>(&'a self, _provider_ref: &'a str) -> BoxFuture<'a, Result<Option<Price>, Failure>> {
        Box::pin(async { Ok(None) })
    }

    fn reports_prices(&self) -> bool {
        false
    }
}

/// A refused request: the failure, and Meta's error code when it gave one.
struct Refused {
    failure: Failure,
    code: Option<i64>,
}

impl From<Refused> for Failure {
    fn from(r: Refused) -> Failure {
        r.failure
    }
}

/// An answer's JSON; a refusal classified by Meta's error code (rate limits waited out,
/// an expired token and temporary trouble retried, the rest refused with Meta's words).
async fn read(response: reqwest::Response) -> Result<Value, Refused> {
    let status = response.status();
    let wait = retry_after(response.headers(), Duration::from_secs(2));
    let refused = |failure: Failure, code: Option<i64>| Refused { failure, code };
    if status.is_server_error() {
        return Err(refused(Failure::server_error(status), None));
    }
    let body = match json_body(response).await {
        Ok(body) => body,
        Err(_) if status == reqwest::StatusCode::TOO_MANY_REQUESTS => return Err(refused(Failure::RateLimited(wait), None)),
        Err(f) => return Err(refused(f, None)),
    };
    if status.is_success() {
        return Ok(body);
    }
    let code = body.pointer("/error/code").and_then(Value::as_i64);
    let words = error_words(&body);
    let failure = match code {
        _ if status == reqwest::StatusCode::TOO_MANY_REQUESTS => Failure::RateLimited(wait),
        Some(c) if code::RATE_LIMITS.contains(&c) => Failure::RateLimited(wait),
        Some(code::TOKEN) => Failure::Unauthorized(words),
        Some(c) if code::TEMPORARY.contains(&c) => Failure::Transient(words),
        _ if status == reqwest::StatusCode::UNAUTHORIZED => Failure::Unauthorized(words),
        _ => Failure::Rejected(words),
    };
    Err(refused(failure, code))
}

/// Meta's error in words: `131026: Message undeliverable`.
fn error_words(body: &Value) -> String {
    let error = body.get("error");
    let message = error
        .and_then(|e| e.pointer("/error_data/details").or_else(|| e.get("error_user_msg")).or_else(|| e.get("message")))
        .and_then(Value::as_str)
        .unwrap_or("no reason given");
    match error.and_then(|e| e.get("code")).and_then(Value::as_i64) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_string(),
    }
}

/// An id Meta writes as a string or a number.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `X-Hub-Signature-256` header of a body, as Meta computes it.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One thing a webhook delivery reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A message's status: `sent`, `delivered`, `read` or `failed` (with Meta's error).
    Status { provider_ref: String, status: String, error: Option<(i64, String)>, message_id: Option<i64> },
    /// A buyer wrote to one of the business's numbers (text, or a quick-reply button).
    Reply { phone_number_id: String, from: String, text: String, id: String },
    /// Meta reviewed a template (or paused, disabled or re-categorised it).
    Template { name: String, language: String, status: Option<MetaStatus>, reason: String, category: Option<String> },
}

/// The notices of a webhook body (`object: whatsapp_business_account`, each entry's
/// changes), in order; `Err` names what is not the documented shape.
pub fn notices(body: &Value) -> Result<Vec<Notice>, String> {
    if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err("object must be whatsapp_business_account".into());
    }
    let entries = body.get("entry").and_then(Value::as_array).ok_or("entry must be a list")?;
    let mut out = Vec::new();
    let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    for entry in entries {
        for change in entry.get("changes").and_then(Value::as_array).into_iter().flatten() {
            let value = change.get("value").ok_or("a change has no value")?;
            match change.get("field").and_then(Value::as_str) {
                Some("messages") => {
                    let phone_number_id = value.pointer("/metadata/phone_number_id").and_then(Value::as_str).unwrap_or_default();
                    for status in value.get("statuses").and_then(Value::as_array).into_iter().flatten() {
                        let error = status.pointer("/errors/0").map(|e| {
                            let words = e
                                .pointer("/error_data/details")
                                .or_else(|| e.get("title"))
                                .or_else(|| e.get("message"))
                                .and_then(Value::as_str)
                                .unwrap_or("no reason given");
                            (e.get("code").and_then(Value::as_i64).unwrap_or(0), words.to_string())
                        });
                        let message_id = status
                            .get("biz_opaque_callback_data")
                            .and_then(Value::as_str)
                            .and_then(|d| d.strip_prefix("starling:"))
                            .and_then(|id| id.parse().ok());
                        let provider_ref = str_of(status, "id");
                        if provider_ref.is_empty() {
                            return Err("a status has no id".into());
                        }
                        out.push(Notice::Status { provider_ref, status: str_of(status, "status"), error, message_id });
                    }
                    for message in value.get("messages").and_then(Value::as_array).into_iter().flatten() {
                        let text = message
                            .pointer("/text/body")
                            .or_else(|| message.pointer("/button/text"))
                            .or_else(|| message.pointer("/interactive/button_reply/title"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        out.push(Notice::Reply {
                            phone_number_id: phone_number_id.to_string(),
                            from: str_of(message, "from"),
                            text: text.to_string(),
                            id: str_of(message, "id"),
                        });
                    }
                }
                Some("message_template_status_update") => out.push(Notice::Template {
                    name: str_of(value, "message_template_name"),
                    language: str_of(value, "message_template_language"),
                    status: value.get("event").and_then(Value::as_str).and_then(MetaStatus::parse),
                    reason: value.get("reason").and_then(Value::as_str).filter(|r| *r != "NONE").unwrap_or_default().to_string(),
                    category: None,
                }),
                Some("template_category_update") => out.push(Notice::Template {
                    name: str_of(value, "message_template_name"),
                    language: str_of(value, "message_template_language"),
                    status: None,
                    reason: String::new(),
                    category: value.get("new_category").and_then(Value::as_str).map(str::to_string),
                }),
                // Other fields (account updates, quality ratings) are not Starling's business.
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_hex_hmac_of_the_raw_body() {
        let cloud = WhatsappCloud {
            base_url: String::new(),
            version: "v21.0".into(),
            account_id: "1".into(),
            token: SecretString::from("t"),
            app_secret: SecretString::from("app-secret"),
            client: reqwest::Client::new(),
        };
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let signed = signature("app-secret", body);
        assert!(signed.starts_with("sha256=") && signed.len() == 7 + 64);
        assert!(cloud.verify(body, &signed));
        assert!(!cloud.verify(b"{\"object\":\"x\"}", &signed), "another body");
        assert!(!cloud.verify(body, &signature("other-secret", body)), "another secret");
        assert!(!cloud.verify(body, signed.trim_start_matches("sha256=")), "no prefix");
        assert!(!cloud.verify(body, "sha256=zz"));
    }

    #[test]
    fn webhook_bodies_read_as_meta_documents_them() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [
                {"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000000", "phone_number_id": "1065"},
                    "statuses": [
                        {"id": "wamid.A", "status": "delivered", "timestamp": "1700000000", "recipient_id": "4915112345678",
                         "biz_opaque_callback_data": "starling:42"},
                        {"id": "wamid.B", "status": "failed", "recipient_id": "4915112345679",
                         "errors": [{"code": 131026, "title": "Message undeliverable"}]}
                    ],
                    "messages": [{"from": "4915112345678", "id": "wamid.R", "type": "text", "text": {"body": "STOPP"}}]
                }},
                {"field": "message_template_status_update", "value": {
                    "event": "REJECTED", "message_template_id": 77, "message_template_name": "starling_1_2",
                    "message_template_language": "de", "reason": "INVALID_FORMAT"
                }}
            ]}]
        });
        let n = notices(&body).unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(n[0], Notice::Status { provider_ref: "wamid.A".into(), status: "delivered".into(), error: None, message_id: Some(42) });
        assert!(matches!(&n[1], Notice::Status { error: Some((131026, words)), .. } if words == "Message undeliverable"));
        assert!(matches!(&n[2], Notice::Reply { phone_number_id, text, .. } if phone_number_id == "1065" && text == "STOPP"));
        assert!(matches!(&n[3], Notice::Template { status: Some(MetaStatus::Rejected), reason, .. } if reason == "INVALID_FORMAT"));
        assert!(notices(&json!({"object": "page", "entry": []})).is_err());
    }
}
