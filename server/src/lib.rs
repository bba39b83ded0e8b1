//! The Starling process: configuration, the HTTP router with its guards, and start-up.
//! `main.rs` is a thin wrapper so that tests can start the same server on port 0.

#![recursion_limit = "512"]

/// Every binary built on this library (the server, the benchmark, the tests' servers)
/// allocates through mimalloc (see Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod config;
pub mod connectors;
pub mod http;
pub mod orders;
pub mod page_cache;
pub mod reports;
pub mod routes;
pub mod texts;
pub mod tracking;
pub mod upload;

use app::db::Db;
use app::outbox::model::Channel;
use app::{shell, App, ServerState};
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use config::Config;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::net::SocketAddr;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub server: ServerState,
    pub max_body_bytes: usize,
    /// Rendered console pages, per session, for a second.
    pub pages: std::sync::Arc<page_cache::PageCache>,
    /// The SMS provider, when one is configured (its webhooks verify against it).
    pub sms: Option<std::sync::Arc<dyn app::messaging::SmsProvider>>,
    /// The WhatsApp Cloud API account, when one is configured, and the token Meta echoes
    /// when its webhook is subscribed.
    pub whatsapp: Option<std::sync::Arc<app::messaging::whatsapp::WhatsappCloud>>,
    pub whatsapp_verify_token: Option<std::sync::Arc<secrecy::SecretString>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos.clone()
    }
}

/// The whole HTTP application for `config`, over an open database.
/// The largest body of the ingest API (1,000 orders with long product lists).
pub const API_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The largest bounce or complaint report: the report and the quoted original message
/// (Starling's own messages are far smaller; providers truncate attachments).
pub const FEEDBACK_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn router(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: secrecy::SecretString,
    mailer: std::sync::Arc<app::common::mailer::Mailer>,
) -> Router {
    let leptos = LeptosOptions::builder()
        .output_name("starling")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let state = AppState {
        leptos: leptos.clone(),
        server: ServerState {
            db,
            secure_cookies: config.secure_cookies(),
            secret_key: secret_key.clone(),
            data_dir: config.data_dir.clone(),
            max_upload_bytes: config.max_upload_bytes,
            public_url: public_url(config, addr),
            mailer,
            dns_server: config.dns_server,
            spf_include: config.spf_include.clone(),
            trusted_proxies: config.trusted_proxy_addresses().unwrap_or_default(),
            connectors: app::connectors::Connectors::new(config.connector_settings(), &secret_key),
        },
        max_body_bytes: config.max_body_bytes,
        pages: Default::default(),
        sms: sms_provider(config, addr).map(|p| p as std::sync::Arc<dyn app::messaging::SmsProvider>),
        whatsapp: whatsapp_cloud(config),
        whatsapp_verify_token: config.whatsapp_verify_token.clone().map(std::sync::Arc::new),
    };
    let server_state = routes::server_state(&state);
    let context = move || provide_context(server_state.clone());
    let routes = generate_route_list(App);
    // Uploads stream to disk and enforce their own, larger limit while streaming.
    let uploads = Router::new()
        .route("/clients/{id}/imports/upload", post(orders::upload_orders))
        .route("/clients/{id}/suppression/upload", post(orders::upload_suppression))
        .route("/clients/{id}/reviews/upload", post(reports::upload_reviews))
        .layer(DefaultBodyLimit::disable());
    // The ingest API: at most 1,000 orders per request, in at most 16 MB of JSON, read
    // only once the key is checked. Bounce and complaint reports may quote the whole
    // original message.
    let api = Router::new()
        .route("/api/v1/orders", post(orders::ingest_orders))
        .route("/api/v1/reviews", post(reports::ingest_reviews))
        .layer(DefaultBodyLimit::disable())
        .route("/webhooks/feedback", post(tracking::feedback).layer(DefaultBodyLimit::max(FEEDBACK_BODY_LIMIT)))
        .route("/webhooks/shopify", post(connectors::shopify_webhook).layer(DefaultBodyLimit::max(FEEDBACK_BODY_LIMIT)))
        .route("/webhooks/sms/status", post(texts::status))
        .route("/webhooks/sms/inbound", post(texts::inbound))
        .route(
            "/webhooks/whatsapp",
            get(texts::whatsapp_subscribe).post(texts::whatsapp).layer(DefaultBodyLimit::max(FEEDBACK_BODY_LIMIT)),
        );
    let pages = Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/favicon.ico", get(routes::favicon))
        .route("/t/o/{client}/{token}", get(tracking::open))
        .route("/t/c/{client}/{token}", get(tracking::click))
        .route("/t/s/{code}", get(texts::short_link))
        .route("/t/u/{client}/{token}", get(tracking::unsubscribe_page).post(tracking::unsubscribe))
        .route("/connections/authorize", post(connectors::authorize))
        .route("/connections/{platform}/callback", get(connectors::callback))
        .route("/clients/{id}/orders.csv", get(orders::orders_csv))
        .route("/clients/{id}/suppression.csv", get(orders::suppression_csv))
        .route("/clients/{id}/imports/{job}/rejects.csv", get(orders::rejects_csv))
        .route("/clients/{id}/customers/{customer}/export.json", get(orders::customer_export))
        .route("/clients/{id}/reports/export.csv", get(reports::export_csv))
        .route("/clients/{id}/reports/export.parquet", get(reports::export_parquet))
        .route("/clients/{id}/usage.csv", get(reports::usage_csv))
        .leptos_routes_with_context(&state, routes, context, {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), page_cache::serve))
        .layer(axum::middleware::from_fn_with_state(state.clone(), routes::page_guard))
        .layer(axum::Extension(state.server.clone()))
        .layer(axum::middleware::from_fn(routes::rpc_status))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(axum::middleware::map_response_with_state(state.clone(), routes::explain_limits));
    Router::new()
        .merge(uploads)
        .merge(api)
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), page_cache::invalidate_on_write))
        .layer(axum::middleware::from_fn(routes::csrf_guard))
        .layer(axum::middleware::from_fn(routes::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // Path only: query strings may carry tokens, and headers carry cookies.
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %request.method(), path = %routes::loggable_path(request.uri().path()))
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The outbox worker of this process (named by host and process id in its claims).
pub fn sender(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: secrecy::SecretString,
    mailer: std::sync::Arc<app::common::mailer::Mailer>,
) -> app::delivery::sender::Sender {
    let worker = format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "starling".into()), std::process::id());
    // Accepted messages are noted here at once, so a crash re-sends only what was in flight.
    let journal = match app::delivery::journal::Journal::open(&config.data_dir.join("outbox-journal"), &worker) {
        Ok(journal) => Some(std::sync::Arc::new(journal)),
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "the outbox journal cannot be written: a crash may re-send a batch");
            None
        }
    };
    app::delivery::sender::Sender {
        db,
        mailer,
        secret: std::sync::Arc::new(secret_key),
        public_url: public_url(config, addr),
        journal,
        worker,
        concurrency: config.send_concurrency,
        batch: 200,
        // Checked when the server starts (`start`), so a bad entry stops it with its name.
        limits: std::sync::Arc::new(app::delivery::limits::DomainLimits::parse(&config.domain_rate_limits).unwrap_or_default()),
        retry: retry_policy(config),
        lease_ms: config.send_lease_secs as i64 * 1000,
    }
}

/// The connectors' scheduler of this process (named by host and process id in its leases).
pub fn syncer(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: &secrecy::SecretString,
    mailer: std::sync::Arc<app::common::mailer::Mailer>,
) -> app::connectors::sync::Syncer {
    let cx = app::connectors::Connectors::new(config.connector_settings(), secret_key);
    app::connectors::sync::Syncer {
        db,
        settings: cx.settings,
        sealer: cx.sealer,
        client: cx.client,
        owner: format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "starling".into()), std::process::id()),
        mailer,
        public_url: public_url(config, addr),
        concurrency: config.sync_concurrency,
    }
}

/// When and for how long temporary failures of e-mails and Amazon requests are retried.
fn retry_policy(config: &Config) -> app::delivery::sender::RetryPolicy {
    app::delivery::sender::RetryPolicy {
        first_ms: config.retry_first_ms as i64,
        max_ms: config.retry_max_ms as i64,
        give_up_after_ms: config.retry_give_up_hours as i64 * 3_600_000,
    }
}

/// Amazon's review requests of this process (named as its outbox worker, with its e-mail
/// retry policy and claim lease).
pub fn solicitor(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: &secrecy::SecretString,
    mailer: std::sync::Arc<app::common::mailer::Mailer>,
) -> app::connectors::solicit::Solicitor {
    let syncer = syncer(config, db, addr, secret_key, mailer);
    app::connectors::solicit::Solicitor {
        worker: format!("{}:amazon", syncer.owner),
        syncer: std::sync::Arc::new(syncer),
        retry: retry_policy(config),
        lease_ms: config.send_lease_secs as i64 * 1000,
    }
}

/// The SMS provider of this server, when an auth token is configured.
pub fn sms_provider(config: &Config, addr: SocketAddr) -> Option<std::sync::Arc<app::messaging::twilio::Twilio>> {
    let token = config.sms_token.clone()?;
    Some(std::sync::Arc::new(app::messaging::twilio::Twilio {
        base_url: config.sms_url.clone(),
        account_sid: config.sms_account.clone(),
        auth_token: token,
        status_callback: format!("{}/webhooks/sms/status", public_url(config, addr)),
        client: config.connector_settings().client(),
    }))
}

/// The WhatsApp Cloud API account of this server, when an access token is configured.
pub fn whatsapp_cloud(config: &Config) -> Option<std::sync::Arc<app::messaging::whatsapp::WhatsappCloud>> {
    let token = config.whatsapp_token.clone()?;
    Some(std::sync::Arc::new(app::messaging::whatsapp::WhatsappCloud {
        base_url: config.whatsapp_url.clone(),
        version: config.whatsapp_version.clone(),
        account_id: config.whatsapp_account.clone(),
        token,
        app_secret: config.whatsapp_app_secret.clone().unwrap_or_else(|| secrecy::SecretString::from(String::new())),
        client: config.connector_settings().client(),
    }))
}

/// The text worker of this process, when an SMS provider is configured.
pub fn texter(config: &Config, db: Db, addr: SocketAddr, secret_key: secrecy::SecretString) -> Option<app::messaging::sender::TextSender> {
    let provider = sms_provider(config, addr)?;
    Some(phone_worker(config, db, addr, secret_key, Channel::Sms, provider, config.sms_concurrency))
}

/// The WhatsApp worker of this process, when a WhatsApp account is configured.
pub fn whatsapper(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: secrecy::SecretString,
) -> Option<app::messaging::sender::TextSender> {
    let cloud = whatsapp_cloud(config)?;
    Some(phone_worker(config, db, addr, secret_key, Channel::Whatsapp, cloud, config.whatsapp_concurrency))
}

fn phone_worker(
    config: &Config,
    db: Db,
    addr: SocketAddr,
    secret_key: secrecy::SecretString,
    channel: Channel,
    provider: std::sync::Arc<dyn app::messaging::TextProvider>,
    concurrency: usize,
) -> app::messaging::sender::TextSender {
    app::messaging::sender::TextSender {
        db,
        channel,
        provider,
        secret: std::sync::Arc::new(secret_key),
        public_url: public_url(config, addr),
        worker: format!("{}-{}:{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "starling".into()), std::process::id(), channel.as_str()),
        concurrency: concurrency.max(1),
        batch: 500,
        retry: retry_policy(config),
        lease_ms: config.send_lease_secs as i64 * 1000,
    }
}

/// Every two seconds, gives the C library's freed heap memory back to the system. SQLite
/// allocates with the C library's malloc (Rust's allocator is mimalloc), and glibc keeps
/// what SQLite frees (page caches shrunk after a planning pass, finished statements) in its
/// heap until trimmed: a sending SQLite server held about 40 MB more than the same server on
/// PostgreSQL. A trim takes well under a millisecond when there is nothing to give back.
async fn trim_c_heap() {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory of glibc's arenas; it takes the
        // arenas' locks itself and touches no memory still allocated.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Base URL for links in e-mails.
pub fn public_url(config: &Config, addr: SocketAddr) -> String {
    if config.public_url.is_empty() {
        format!("http://{addr}")
    } else {
        config.public_url.trim_end_matches('/').to_string()
    }
}

/// A running server: where it listens and its database.
pub struct Running {
    pub addr: SocketAddr,
    pub db: Db,
    pub task: tokio::task::JoinHandle<()>,
}

/// Opens the database, runs migrations, optionally seeds demo data, binds and serves in
/// the background.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    app::delivery::limits::DomainLimits::parse(&config.domain_rate_limits)
        .map_err(|e| anyhow::anyhow!("STARLING_DOMAIN_RATE_LIMITS: {e}"))?;
    config.trusted_proxy_addresses().map_err(|e| anyhow::anyhow!(e))?;
    std::fs::create_dir_all(&config.data_dir)?;
    let db = Db::connect(&config.database_url()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let secret_key = config.resolve_secret_key()?;
    let mailer = app::common::mailer::Mailer::new(config.smtp_url.as_ref(), config.data_dir.join("outbox"), &config.mail_from)
        .map_err(|e| anyhow::anyhow!(e))?;
    tracing::info!(mailer = ?mailer, "mail");
    if config.demo {
        let seeded = app::demo::seed(&db).await.map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))?;
        if seeded && config.demo_history {
            app::demo::seed_history(&db, &mailer, &public_url(&config, addr), 400)
                .await
                .map_err(|e| anyhow::anyhow!("seeding demo history: {e}"))?;
        }
    }
    let mailer = std::sync::Arc::new(mailer);
    let app = router(&config, db.clone(), addr, secret_key.clone(), mailer.clone());
    if config.sync {
        tokio::spawn(syncer(&config, db.clone(), addr, &secret_key, mailer.clone()).run());
    }
    if config.send {
        // E-mail and Amazon's review requests: what campaigns send.
        tokio::spawn(solicitor(&config, db.clone(), addr, &secret_key, mailer.clone()).run());
        if let Some(texter) = texter(&config, db.clone(), addr, secret_key.clone()) {
            tokio::spawn(texter.run());
        }
        if let Some(whatsapper) = whatsapper(&config, db.clone(), addr, secret_key.clone()) {
            tokio::spawn(whatsapper.run());
        }
        if let Some(cloud) = whatsapp_cloud(&config) {
            tokio::spawn(texts::meta_templates(db.clone(), cloud, config.whatsapp_sync_ms.max(100)));
        }
        tokio::spawn(sender(&config, db.clone(), addr, secret_key, mailer.clone()).run());
    }
    // Background work: import jobs and the daily retention purge.
    tokio::spawn(app::orders::jobs::work(db.clone(), config.data_dir.clone()));
    tokio::spawn(orders::retention_loop(db.clone()));
    tokio::spawn(app::campaigns::monitor::work(db.clone()));
    if db.backend == app::db::Backend::Sqlite {
        tokio::spawn(trim_c_heap());
    }
    // Hourly: SLA breaches of every client, and last month's report e-mails once a month.
    tokio::spawn(app::reports::monthly::work(
        db.clone(),
        config.data_dir.clone(),
        mailer.clone(),
        public_url(&config, addr),
        config.snapshot_min_messages as i64,
    ));
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if let Err(e) =
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await
        {
            tracing::error!(error = %app::error::report(&e), "server stopped");
        }
    });
    Ok(Running { addr, db, task })
}

/// What `starling backup` wrote.
#[derive(Debug)]
pub struct Backup {
    pub database: std::path::PathBuf,
    /// The copy of `<data dir>/secret.key`; `None` when the key is configured
    /// (`STARLING_SECRET_KEY`), which the operator keeps themselves.
    pub secret_key: Option<std::path::PathBuf>,
}

/// Backs up a running (or stopped) SQLite Starling into the new folder `to`: a consistent
/// copy of the database and the secret key that signs its links and tokens (without it,
/// sent unsubscribe links stop working after a restore). Restoring is copying both into an
/// empty data folder and starting the server on it.
pub async fn backup(config: &Config, to: &std::path::Path) -> anyhow::Result<Backup> {
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        anyhow::bail!("{} is not empty; back up into a new folder", to.display());
    }
    std::fs::create_dir_all(to)?;
    let db = Db::connect(&config.database_url()).await?;
    let database = to.join("starling.db");
    db.backup_to(&database).await.map_err(|e| match e {
        app::error::AppError::Invalid(fields) => anyhow::anyhow!(fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join(" ")),
        other => anyhow::anyhow!(other.to_string()),
    })?;
    // Buyers' personal data: readable by the owner only, like the key.
    #[cfg(unix)]
    std::fs::set_permissions(&database, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let configured = config.secret_key.as_ref().is_some_and(|k| !secrecy::ExposeSecret::expose_secret(k).trim().is_empty());
    let secret_key = if configured {
        None
    } else {
        let from = config.data_dir.join("secret.key");
        let copy = to.join("secret.key");
        std::fs::copy(&from, &copy).map_err(|e| anyhow::anyhow!("copying {}: {e}", from.display()))?;
        #[cfg(unix)]
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Some(copy)
    };
    Ok(Backup { database, secret_key })
}

/// The path pattern of every page route of the app (for the authorization matrix test).
pub fn page_routes() -> Vec<String> {
    generate_route_list(App).iter().map(|r| r.path().to_string()).collect()
}
