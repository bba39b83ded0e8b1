//! One typed configuration, read from an optional TOML file (`starling.toml`, or the file
//! named by `STARLING_CONFIG`) overlaid with `STARLING_*` environment variables.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/starling.db`.
    pub database_url: String,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder for the SQLite file, the secret key and the mail outbox.
    pub data_dir: PathBuf,
    /// Public base URL (used in links in e-mails; `https://…` marks cookies Secure).
    pub public_url: String,
    /// Where cargo-leptos put the compiled site (the `pkg/` folder with WASM, JS and CSS).
    pub site_root: PathBuf,
    /// Largest request body accepted outside uploads, in bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded file (order exports, suppression lists), in bytes.
    pub max_upload_bytes: u64,
    /// `text` (default) or `json` log lines.
    pub log_format: String,
    /// Seed demo data into an empty database and print the demo logins.
    pub demo: bool,
    /// With `demo`: also six weeks of sent messages, events and reviews (the run command).
    pub demo_history: bool,
    /// The sender of Starling's own mail (approval notifications).
    pub mail_from: String,
    /// SMTP relay URL (`smtps://user:pass@host:465`); empty means mail goes to the outbox folder.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// Key for signing tokens; generated into `<data_dir>/secret.key` when absent.
    #[serde(skip_serializing)]
    pub secret_key: Option<SecretString>,
    /// Run the outbox worker (send campaigns' planned messages); off in most tests.
    pub send: bool,
    /// Messages sent at once by the outbox worker.
    pub send_concurrency: usize,
    /// Per-recipient-domain send rates, `gmail.com=20,*=50` (messages per second).
    pub domain_rate_limits: String,
    /// The first retry's delay after a 4xx or a dropped connection (doubling after).
    pub retry_first_ms: u64,
    /// The longest delay between two tries.
    pub retry_max_ms: u64,
    /// A message still failing temporarily this long after its first try fails.
    pub retry_give_up_hours: u64,
    /// How long a claim may go unrenewed before it counts as abandoned by a process that
    /// died and is settled (a live worker renews its claims every third of this).
    pub send_lease_secs: u64,
    /// The DNS server brand domain checks ask (`host:port`); empty means the system's.
    pub dns_server: Option<SocketAddr>,
    /// The relay's SPF domain, which brands' SPF records must `include:`; empty if unknown.
    pub spf_include: String,
    /// Clients with at least this many sent messages get a daily Parquet snapshot of their
    /// events, so their reports read it instead of the whole database.
    pub snapshot_min_messages: u64,
    /// Reverse proxies in front of Starling (comma-separated addresses): a request from one
    /// of them counts, for sign-in throttling, against the client its `X-Forwarded-For`
    /// names. Empty: every request is its connection's peer.
    pub trusted_proxies: String,
    /// Pull connected stores (Shopify, Amazon, eBay) on their schedule; off in most tests.
    pub sync: bool,
    /// Stores pulled at once by this process.
    pub sync_concurrency: usize,
    /// Minutes between two pulls of a newly connected store (settable per store).
    pub sync_interval_secs: i64,
    /// A feed with no successful pull for this long opens an alert.
    pub sync_stale_after_secs: i64,
    /// A platform request unanswered after this is a timeout (retried).
    pub connector_timeout_secs: u64,
    /// The first retry's delay after a timeout or a 5xx (doubling after).
    pub connector_retry_first_ms: u64,
    /// Shopify's shop URL, `{shop}` standing for the shop's domain.
    pub shopify_base_url: String,
    /// The Shopify app's client id and secret (OAuth, webhook signatures); empty: custom
    /// apps' pasted tokens only.
    pub shopify_api_key: String,
    #[serde(skip_serializing)]
    pub shopify_api_secret: Option<SecretString>,
    /// Login with Amazon and the SP-API endpoints per region.
    pub amazon_lwa_url: String,
    pub amazon_endpoint_na: String,
    pub amazon_endpoint_eu: String,
    pub amazon_endpoint_fe: String,
    /// Seller Central (the consent page) and the app's ids.
    pub amazon_consent_url: String,
    pub amazon_app_id: String,
    pub amazon_client_id: String,
    #[serde(skip_serializing)]
    pub amazon_client_secret: Option<SecretString>,
    /// eBay's identity service, APIs and consent page, and the app's keys.
    pub ebay_identity_url: String,
    pub ebay_api_url: String,
    pub ebay_auth_url: String,
    pub ebay_client_id: String,
    #[serde(skip_serializing)]
    pub ebay_client_secret: Option<SecretString>,
    /// eBay's redirect URL name (RuName) of the app.
    pub ebay_ru_name: String,
    /// The SMS provider's Programmable Messaging API (Twilio's, or a compatible provider's
    /// or sandbox's), its account SID and auth token. No texts are sent without a token.
    pub sms_url: String,
    pub sms_account: String,
    #[serde(skip_serializing)]
    pub sms_token: Option<SecretString>,
    /// Texts in flight at once.
    pub sms_concurrency: usize,
    /// Meta's Graph API (the WhatsApp Business Cloud API) and its version, the WhatsApp
    /// Business account that holds the templates, a system user's access token, the Meta
    /// app's secret (webhooks are signed with it) and the token Meta echoes when the
    /// webhook is subscribed. No WhatsApp messages are sent without a token.
    pub whatsapp_url: String,
    pub whatsapp_version: String,
    pub whatsapp_account: String,
    #[serde(skip_serializing)]
    pub whatsapp_token: Option<SecretString>,
    #[serde(skip_serializing)]
    pub whatsapp_app_secret: Option<SecretString>,
    #[serde(skip_serializing)]
    pub whatsapp_verify_token: Option<SecretString>,
    /// WhatsApp messages in flight at once.
    pub whatsapp_concurrency: usize,
    /// How often approved versions' WhatsApp parts are submitted to Meta, in milliseconds.
    pub whatsapp_sync_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        let connectors = app::connectors::http::Settings::default();
        let [na, eu, fe] = connectors.amazon_endpoints.clone();
        Config {
            database_url: String::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            public_url: String::new(),
            site_root: std::env::var("LEPTOS_SITE_ROOT").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/site")),
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 200 * 1024 * 1024,
            log_format: "text".into(),
            demo: false,
            demo_history: false,
            mail_from: "Starling <starling@localhost>".into(),
            smtp_url: None,
            secret_key: None,
            send: true,
            send_concurrency: 20,
            domain_rate_limits: String::new(),
            retry_first_ms: 60_000,
            retry_max_ms: 2 * 3_600_000,
            retry_give_up_hours: 24,
            send_lease_secs: 60,
            dns_server: None,
            spf_include: String::new(),
            snapshot_min_messages: 500_000,
            trusted_proxies: String::new(),
            sync: true,
            sync_concurrency: 4,
            sync_interval_secs: connectors.default_interval_secs,
            sync_stale_after_secs: connectors.stale_after_secs,
            connector_timeout_secs: connectors.timeout.as_secs(),
            connector_retry_first_ms: connectors.retry_first.as_millis() as u64,
            shopify_base_url: connectors.shopify_base_url,
            shopify_api_key: String::new(),
            shopify_api_secret: None,
            amazon_lwa_url: connectors.amazon_lwa_url,
            amazon_endpoint_na: na,
            amazon_endpoint_eu: eu,
            amazon_endpoint_fe: fe,
            amazon_consent_url: connectors.amazon_consent_url,
            amazon_app_id: String::new(),
            amazon_client_id: String::new(),
            amazon_client_secret: None,
            ebay_identity_url: connectors.ebay_identity_url,
            ebay_api_url: connectors.ebay_api_url,
            ebay_auth_url: connectors.ebay_auth_url,
            ebay_client_id: String::new(),
            ebay_client_secret: None,
            ebay_ru_name: String::new(),
            sms_url: "https://api.twilio.com".into(),
            sms_account: String::new(),
            sms_token: None,
            sms_concurrency: 32,
            whatsapp_url: "https://graph.facebook.com".into(),
            whatsapp_version: "v21.0".into(),
            whatsapp_account: String::new(),
            whatsapp_token: None,
            whatsapp_app_secret: None,
            whatsapp_verify_token: None,
            whatsapp_concurrency: 32,
            whatsapp_sync_ms: 30_000,
        }
    }
}

impl Config {
    /// The connectors' settings.
    pub fn connector_settings(&self) -> app::connectors::http::Settings {
        app::connectors::http::Settings {
            shopify_base_url: self.shopify_base_url.clone(),
            shopify_api_key: self.shopify_api_key.clone(),
            shopify_api_secret: self.shopify_api_secret.clone(),
            amazon_lwa_url: self.amazon_lwa_url.clone(),
            amazon_endpoints: [self.amazon_endpoint_na.clone(), self.amazon_endpoint_eu.clone(), self.amazon_endpoint_fe.clone()],
            amazon_consent_url: self.amazon_consent_url.clone(),
            amazon_app_id: self.amazon_app_id.clone(),
            amazon_client_id: self.amazon_client_id.clone(),
            amazon_client_secret: self.amazon_client_secret.clone(),
            ebay_identity_url: self.ebay_identity_url.clone(),
            ebay_api_url: self.ebay_api_url.clone(),
            ebay_auth_url: self.ebay_auth_url.clone(),
            ebay_client_id: self.ebay_client_id.clone(),
            ebay_client_secret: self.ebay_client_secret.clone(),
            ebay_ru_name: self.ebay_ru_name.clone(),
            timeout: std::time::Duration::from_secs(self.connector_timeout_secs.max(1)),
            default_interval_secs: self.sync_interval_secs.max(30),
            stale_after_secs: self.sync_stale_after_secs.max(1),
            retry_first: std::time::Duration::from_millis(self.connector_retry_first_ms),
            ..app::connectors::http::Settings::default()
        }
    }

    /// The addresses of `trusted_proxies`, or which entry is not an address.
    pub fn trusted_proxy_addresses(&self) -> Result<Vec<std::net::IpAddr>, String> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| a.parse().map_err(|_| format!("STARLING_TRUSTED_PROXIES: \"{a}\" is not an IP address")))
            .collect()
    }

    /// Defaults, then the config file, then the environment.
    pub fn load() -> Result<Config, figment::Error> {
        let file = std::env::var("STARLING_CONFIG").unwrap_or_else(|_| "starling.toml".into());
        Figment::from(Serialized::defaults(Config::default())).merge(Toml::file(file)).merge(Env::prefixed("STARLING_")).extract()
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("starling.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The key for signed tokens: `secret_key` when configured, else the one kept in
    /// `<data_dir>/secret.key` (created on first start, readable by the owner only), so
    /// that links signed before a restart stay valid after it.
    pub fn resolve_secret_key(&self) -> std::io::Result<SecretString> {
        use rand::RngCore;
        use secrecy::ExposeSecret;
        if let Some(key) = &self.secret_key {
            if !key.expose_secret().trim().is_empty() {
                return Ok(key.clone());
            }
        }
        let path = self.data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(existing) if !existing.trim().is_empty() => return Ok(SecretString::from(existing.trim().to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = hex::encode(bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&path)?, key.as_bytes())?;
        Ok(SecretString::from(key))
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_configuration_never_print() {
        let config = Config {
            smtp_url: Some(SecretString::from("smtps://mailer:hunter2-smtp@smtp.example.com:465".to_string())),
            secret_key: Some(SecretString::from("k3y-material-never-shown".to_string())),
            sms_token: Some(SecretString::from("sms-t0ken-never-shown".to_string())),
            whatsapp_token: Some(SecretString::from("wa-t0ken-never-shown".to_string())),
            whatsapp_app_secret: Some(SecretString::from("wa-app-s3cret".to_string())),
            whatsapp_verify_token: Some(SecretString::from("wa-v3rify".to_string())),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        let secrets = ["hunter2-smtp", "k3y-material", "sms-t0ken", "wa-t0ken", "wa-app-s3cret", "wa-v3rify"];
        for secret in secrets {
            assert!(!printed.contains(secret), "{printed}");
        }
        let serialized = serde_json::to_string(&config).unwrap();
        for secret in secrets {
            assert!(!serialized.contains(secret), "{serialized}");
        }
    }

    #[test]
    fn a_secret_key_is_generated_once_into_the_data_folder_and_kept() {
        use secrecy::ExposeSecret;
        let dir = std::env::temp_dir().join(format!("starling-key-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let first = config.resolve_secret_key().unwrap();
        let second = config.resolve_secret_key().unwrap();
        assert_eq!(first.expose_secret().len(), 64);
        assert_eq!(first.expose_secret(), second.expose_secret(), "the key survives restarts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner may read the key");
        }
        let configured = Config { secret_key: Some(SecretString::from("configured-key".to_string())), ..config };
        assert_eq!(configured.resolve_secret_key().unwrap().expose_secret(), "configured-key");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_environment_overrides_the_file_and_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("starling.toml", "listen = \"0.0.0.0:8080\"\ndata_dir = \"/srv/starling\"")?;
            jail.set_env("STARLING_LISTEN", "127.0.0.1:9000");
            jail.set_env("STARLING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/starling");
            let config = Config::load()?;
            assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
            assert_eq!(config.data_dir, PathBuf::from("/srv/starling"));
            assert_eq!(config.database_url(), "postgres://postgres@127.0.0.1:5432/starling");
            Ok(())
        });
    }
}
