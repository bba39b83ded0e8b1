//! Connectors: a client's store connected to its platform's API, so orders arrive without
//! anyone uploading files. Shopify (OAuth or a custom app's token; webhooks and GraphQL
//! pulls), Amazon (Login with Amazon, the SP-API Orders API per region) and eBay (OAuth,
//! the Fulfillment API). Every order goes in through the same idempotent upsert as file
//! imports; one scheduler pulls each connected store on its own cursor; the Connections
//! page shows every feed's health across clients.
//!
//! Parts: `model` (what pages show, shared with the browser), `store` (the tables
//! `connections`, `webhook_deliveries`, `connection_alerts`, `oauth_states`,
//! `rate_buckets`), `seal`
//! (credentials encrypted at rest), `http` (the one way requests to platforms are made and
//! their failures classified), one module per platform (its client and how its orders map
//! to Starling's), `sync` (the scheduler and a pull), `solicit` (Amazon's request a
//! review, within Amazon's rate limits shared by every process), `webhooks` (Shopify's pushes),
//! `api` (server functions) and `ui` (pages).

pub mod api;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod amazon;
#[cfg(feature = "ssr")]
pub mod draft;
#[cfg(feature = "ssr")]
pub mod ebay;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod seal;
#[cfg(feature = "ssr")]
pub mod shopify;
#[cfg(feature = "ssr")]
pub mod solicit;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod sync;
#[cfg(feature = "ssr")]
pub mod webhooks;

/// What this process needs to talk to platforms: the settings, the key that seals
/// credentials, and one HTTP client.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct Connectors {
    pub settings: std::sync::Arc<http::Settings>,
    pub sealer: seal::Sealer,
    pub client: reqwest::Client,
}

#[cfg(feature = "ssr")]
impl Connectors {
    pub fn new(settings: http::Settings, secret: &secrecy::SecretString) -> Connectors {
        let client = settings.client();
        Connectors { settings: std::sync::Arc::new(settings), sealer: seal::Sealer::new(secret), client }
    }
}

/// Mails the client's account managers (nothing when it has none).
#[cfg(feature = "ssr")]
pub async fn mail_managers(
    db: &crate::db::Db,
    mailer: &crate::common::mailer::Mailer,
    client_id: i64,
    subject: &str,
    text: &str,
) -> Result<(), crate::error::AppError> {
    let mut addresses = crate::accounts::store::account_managers_of(db, client_id).await?.into_iter().map(|(_, _, email)| email);
    let Some(to) = addresses.next() else { return Ok(()) };
    let mail = crate::common::mailer::Mail {
        to,
        cc: addresses.collect(),
        subject: subject.into(),
        text: text.into(),
        html: None,
        attachments: Vec::new(),
    };
    mailer.send(&mail).await
}
