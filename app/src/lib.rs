//! Starling's Leptos application: the router and pages (compiled for both the server and
//! the browser), and, with feature `ssr`, the server functions and SQL behind them.

#![recursion_limit = "256"]

pub mod accounts;
pub mod audit;
pub mod campaigns;
pub mod clients;
pub mod common;
pub mod compliance;
pub mod connectors;
#[cfg(feature = "ssr")]
pub mod db;
pub mod delivery;
#[cfg(feature = "ssr")]
pub mod demo;
pub mod error;
pub mod layout;
pub mod messaging;
pub mod orders;
pub mod outbox;
pub mod reports;
#[cfg(feature = "ssr")]
pub mod request;
pub mod shell;
pub mod templates;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_router::SsrMode;

/// What server functions need from the process, provided as Leptos context per request.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct ServerState {
    pub db: db::Db,
    /// Mark cookies `Secure` (the console is served over https).
    pub secure_cookies: bool,
    /// Key for signed links and tokens (never logged: `Debug` prints it redacted).
    pub secret_key: secrecy::SecretString,
    /// The data folder (uploads wait in `imports/` until imported).
    pub data_dir: std::path::PathBuf,
    /// Largest upload accepted (order files, suppression lists), in bytes.
    pub max_upload_bytes: u64,
    /// Base URL for links in e-mails (`http://127.0.0.1:3000` when not configured).
    pub public_url: String,
    /// Where mail goes: the SMTP relay, or the outbox folder.
    pub mailer: std::sync::Arc<common::mailer::Mailer>,
    /// The DNS server domain checks ask (host:port); the system's when `None`.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The relay's SPF domain (`include:` it in brands' SPF records); empty when unknown.
    pub spf_include: String,
    /// Reverse proxies in front of the server, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Platform endpoints and keys, the credentials' sealing key, the HTTP client.
    pub connectors: connectors::Connectors,
}

#[cfg(feature = "ssr")]
impl ServerState {
    /// The process state for this request: from the Leptos context, or else from the
    /// request's extensions (the server puts it there too). During streaming SSR some
    /// resource tasks see the request parts but not the extra context, so both are tried.
    pub fn get() -> Result<ServerState, error::AppError> {
        request::current()
            .and_then(|scope| scope.state)
            .or_else(use_context::<ServerState>)
            .or_else(|| use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<ServerState>().cloned()))
            .ok_or_else(|| error::AppError::internal("server state missing"))
    }
}

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from this server or inline with this
/// response's nonce (the hydration script), WASM compiled, no plugins, no framing by other
/// sites, forms posting only here. Images may come from https and data URLs: template
/// previews show the brand's own images.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    use accounts::audit_log::AuditPage;
    use accounts::ui::{AccountPage, SignInPage, UsersPage};
    use campaigns::ui::{CampaignPage, CampaignsPage};
    use clients::ui::{BrandFormPage, ClientFormPage, ClientPage, ClientsPage, DashboardPage, StoreFormPage};
    use delivery::ui::{OutboxPage, SendingPage};
    use layout::Layout;
    use orders::ui::{ApiKeysPage, CustomerPage, ImportJobPage, ImportsPage, OrdersPage, PrivacyPage};
    use shell::NotFound;
    use templates::ui::{ApprovalsPage, TemplatePage, TemplatesPage, VersionPage};
    view! {
        <Stylesheet id="leptos" href="/pkg/starling.css"/>
        <Title text="Starling"/>
        // Flat routes, each page inside the shell: nested routes whose parent and child both
        // suspend do not hydrate reliably in Leptos 0.8 (leptos-rs/leptos#4781).
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                <Route path=path!("/") view=|| view! { <Layout><DashboardPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients") view=|| view! { <Layout><ClientsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/new") view=|| view! { <Layout><ClientFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id") view=|| view! { <Layout><ClientPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/edit") view=|| view! { <Layout><ClientFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/brands/new") view=|| view! { <Layout><BrandFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/brands/:brand/edit") view=|| view! { <Layout><BrandFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/brands/:brand/sending") view=|| view! { <Layout><SendingPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/stores/new") view=|| view! { <Layout><StoreFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/stores/:store/edit") view=|| view! { <Layout><StoreFormPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/stores/:store/keys") view=|| view! { <Layout><ApiKeysPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/orders") view=|| view! { <Layout><OrdersPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/customers/:customer") view=|| view! { <Layout><CustomerPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/imports") view=|| view! { <Layout><ImportsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/imports/:job") view=|| view! { <Layout><ImportJobPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/privacy") view=|| view! { <Layout><PrivacyPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/templates") view=|| view! { <Layout><TemplatesPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/templates/:template") view=|| view! { <Layout><TemplatePage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/templates/:template/versions/:version") view=|| view! { <Layout><VersionPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/campaigns") view=|| view! { <Layout><CampaignsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/campaigns/:campaign") view=|| view! { <Layout><CampaignPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/reports") view=|| view! { <Layout><reports::ui::ReportsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/reviews") view=|| view! { <Layout><reports::ui::ReviewsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/sla") view=|| view! { <Layout><reports::ui::ClientSlaPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/clients/:id/usage") view=|| view! { <Layout><reports::ui::UsagePage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/alerts") view=|| view! { <Layout><reports::ui::AlertsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/connections") view=|| view! { <Layout><connectors::ui::ConnectionsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/sla") view=|| view! { <Layout><reports::ui::SlaOverviewPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/approvals") view=|| view! { <Layout><ApprovalsPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/outbox") view=|| view! { <Layout><OutboxPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/users") view=|| view! { <Layout><UsersPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/audit") view=|| view! { <Layout><AuditPage/></Layout> } ssr=SsrMode::Async/>
                <Route path=path!("/account") view=|| view! { <Layout><AccountPage/></Layout> } ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Marks the document once the WASM has taken over (hydration panics before this on a
    // mismatch), so browser tests can tell a live page from a server-rendered one.
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
