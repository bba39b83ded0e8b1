//! Server functions of connectors, and the two steps of an OAuth authorization the
//! server's plain routes call (the platform's consent page is a full-page redirect). Each
//! asks `authorize` with the client the store really belongs to.

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/rpc", endpoint = "list_connections", input = Json)]
pub async fn list_connections() -> Result<Connections, AppError> {
    crate::request::scoped(server::list_connections()).await
}

#[server(prefix = "/rpc", endpoint = "connect_store", input = crate::shell::forms::FormOrJson)]
pub async fn connect_store(form: ConnectForm) -> Result<i64, AppError> {
    crate::request::scoped(server::connect_store(form)).await
}

#[server(prefix = "/rpc", endpoint = "disconnect_store", input = crate::shell::forms::FormOrJson)]
pub async fn disconnect_store(id: i64) -> Result<(), AppError> {
    crate::request::scoped(server::disconnect_store(id)).await
}

#[server(prefix = "/rpc", endpoint = "sync_store_now", input = crate::shell::forms::FormOrJson)]
pub async fn sync_store_now(id: i64) -> Result<(), AppError> {
    crate::request::scoped(server::sync_store_now(id)).await
}

#[server(prefix = "/rpc", endpoint = "set_sync_interval", input = crate::shell::forms::FormOrJson)]
pub async fn set_sync_interval(id: i64, minutes: i64) -> Result<(), AppError> {
    crate::request::scoped(server::set_sync_interval(id, minutes)).await
}

#[cfg(feature = "ssr")]
pub use server::{begin_authorization, finish_authorization, Callback};

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::model::{Actor, Role};
    use crate::accounts::rules::{authorize, sees_all_clients, Action};
    use crate::connectors::seal::Credentials;
    use crate::connectors::store::{self, NewConnection, OAuthState};
    use crate::connectors::{amazon, ebay, shopify, Connectors};
    use crate::db::{now_millis, Db};
    use crate::ServerState;

    /// The clients whose connections the caller may see (`None`: all).
    fn readable(actor: &Actor) -> Option<Vec<i64>> {
        if sees_all_clients(actor) {
            None
        } else {
            Some(actor.clients.iter().copied().filter(|c| authorize(actor, Action::ReadConnections(*c)).is_ok()).collect())
        }
    }

    pub async fn list_connections() -> Result<Connections, AppError> {
        let actor = caller().await?;
        if actor.role == Role::Copywriter {
            return Err(AppError::Forbidden("store connections are shown to account managers, admins and the client's viewers.".into()));
        }
        let state = ServerState::get()?;
        let now = now_millis();
        let clients = readable(&actor);
        let rows = store::list(&state.db, clients.as_deref(), now).await?;
        let can_manage = actor.role != Role::ClientViewer;
        let stores = if can_manage { choices(&state.db, &actor, &rows).await? } else { Vec::new() };
        let settings = &state.connectors.settings;
        let mut oauth = Vec::new();
        if !settings.shopify_api_key.is_empty() && settings.shopify_api_secret.is_some() {
            oauth.push(Platform::Shopify);
        }
        if !settings.amazon_app_id.is_empty() && !settings.amazon_client_id.is_empty() {
            oauth.push(Platform::Amazon);
        }
        if !settings.ebay_client_id.is_empty() && !settings.ebay_ru_name.is_empty() {
            oauth.push(Platform::Ebay);
        }
        Ok(Connections { rows, stores, can_manage, oauth, now })
    }

    /// The stores the caller may connect (Shopify, Amazon and eBay stores of clients they manage).
    async fn choices(db: &Db, actor: &Actor, rows: &[ConnectionRow]) -> Result<Vec<StoreChoice>, AppError> {
        let clients = match readable(actor) {
            None => crate::clients::store::ids(db).await?,
            Some(ids) => ids,
        };
        let mut out = Vec::new();
        for client_id in clients.into_iter().filter(|c| authorize(actor, Action::ManageConnections(*c)).is_ok()) {
            let client = crate::clients::store::client(db, client_id).await?.map(|c| c.name).unwrap_or_default();
            for s in crate::clients::store::stores(db, client_id).await? {
                if Platform::parse(&s.platform).is_some() {
                    let connected = rows.iter().any(|r| r.store_id == s.id && r.state != ConnectionState::Disconnected);
                    out.push(StoreChoice {
                        store_id: s.id,
                        client_id,
                        label: format!("{client} · {}", s.name),
                        platform: s.platform,
                        connected,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The store's client and platform, once the caller may manage its connection.
    async fn managed_store(db: &Db, actor: &Actor, store_id: i64) -> Result<(i64, Platform), AppError> {
        let target = crate::orders::store::target(db, store_id).await?.ok_or_else(|| AppError::NotFound(format!("store {store_id}")))?;
        authorize(actor, Action::ManageConnections(target.client_id))?;
        let platform = Platform::parse(&target.platform).ok_or_else(|| {
            AppError::invalid(
                "store_id",
                "Only Shopify, Amazon and eBay stores can be connected; this store takes files or the ingest API.",
            )
        })?;
        Ok((target.client_id, platform))
    }

    /// The connection, once the caller may manage it.
    async fn managed(db: &Db, actor: &Actor, id: i64) -> Result<store::Connection, AppError> {
        let c = store::get(db, id).await?.ok_or_else(|| AppError::NotFound(format!("connection {id}")))?;
        authorize(actor, Action::ManageConnections(c.client_id))?;
        Ok(c)
    }

    /// Amazon marketplace ids: upper-case letters and digits, comma-separated.
    fn marketplace_ids(raw: &str) -> Result<String, AppError> {
        let ids: Vec<String> = raw.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_ascii_uppercase).collect();
        if ids.is_empty() {
            return Err(AppError::invalid("marketplace_ids", "Name at least one marketplace id (A1PA6795UKMFR9 is amazon.de)."));
        }
        if let Some(bad) = ids.iter().find(|id| !(8..=20).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(AppError::invalid("marketplace_ids", format!("\"{bad}\" is not a marketplace id (like A1PA6795UKMFR9).")));
        }
        Ok(ids.join(","))
    }

    pub async fn connect_store(form: ConnectForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let (client_id, platform) = managed_store(&state.db, &actor, form.store_id).await?;
        let token = form.token.trim();
        if token.is_empty() {
            let what = if platform == Platform::Shopify { "the Admin API access token" } else { "the refresh token" };
            return Err(AppError::invalid("token", format!("Paste {what}.")));
        }
        if token.len() > 4096 || token.chars().any(char::is_whitespace) {
            return Err(AppError::invalid("token", "This is not a token: it has spaces or is far too long."));
        }
        let now = now_millis();
        let (account, region, markets, reauthorize_by) = match platform {
            Platform::Shopify => {
                let shop = shopify::shop_domain(&form.account)
                    .ok_or_else(|| AppError::invalid("account", "Give the shop's address, like nordlicht.myshopify.com."))?;
                (shop, String::new(), String::new(), None)
            }
            Platform::Amazon => {
                let seller = form.account.trim().to_ascii_uppercase();
                if seller.is_empty() || seller.len() > 20 || !seller.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(AppError::invalid(
                        "account",
                        "Give the selling partner id (Seller Central, Settings, Account Info: Merchant Token).",
                    ));
                }
                // The store's own marketplace, unless the form names others.
                let target =
                    crate::orders::store::target(&state.db, form.store_id).await?.ok_or_else(|| AppError::NotFound("store".into()))?;
                let own = amazon::marketplace(&target.marketplace);
                let region = match Region::parse(&form.region) {
                    Some(r) => r,
                    None => own.map(|(_, r)| r).ok_or_else(|| AppError::invalid("region", "Choose the seller's region."))?,
                };
                let markets = match (form.marketplace_ids.trim(), own) {
                    ("", Some((id, _))) => id.to_string(),
                    (raw, _) => marketplace_ids(raw)?,
                };
                (seller, region.as_str().to_string(), markets, Some(now + amazon::AUTHORIZATION_DAYS * 86_400_000))
            }
            Platform::Ebay => {
                let user = form.account.trim().to_string();
                if user.is_empty() || user.len() > 64 {
                    return Err(AppError::invalid("account", "Give the seller's eBay user name."));
                }
                (user, String::new(), String::new(), None)
            }
        };
        let credentials = Credentials { token: token.to_string(), webhook_secret: form.webhook_secret.trim().to_string(), access: None };
        save(&state, &actor, client_id, form.store_id, platform, &account, &region, &markets, credentials, reauthorize_by, "pasted token")
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn save(
        state: &ServerState,
        actor: &Actor,
        client_id: i64,
        store_id: i64,
        platform: Platform,
        account: &str,
        region: &str,
        markets: &str,
        credentials: Credentials,
        reauthorize_by: Option<i64>,
        how: &str,
    ) -> Result<i64, AppError> {
        let sealed = state.connectors.sealer.seal(store_id, &credentials)?;
        let id = store::connect(
            &state.db,
            &NewConnection {
                client_id,
                store_id,
                platform,
                account,
                region,
                marketplace_ids: markets,
                sealed: &sealed,
                reauthorize_by,
                interval_secs: state.connectors.settings.default_interval_secs,
                by: &actor.email,
            },
            now_millis(),
        )
        .await?;
        crate::audit::store::record(
            &state.db,
            Some(actor),
            &actor.email,
            "connect store",
            Some(client_id),
            &format!("store {store_id}"),
            &format!("{} {account} ({how})", platform.label()),
        )
        .await?;
        Ok(id)
    }

    pub async fn disconnect_store(id: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let c = managed(&state.db, &actor, id).await?;
        if store::disconnect(&state.db, id).await? {
            store::close_alert(&state.db, id, now_millis()).await?;
            crate::audit::store::record(
                &state.db,
                Some(&actor),
                &actor.email,
                "disconnect store",
                Some(c.client_id),
                &format!("store {}", c.store_id),
                &format!("{} {}: credentials deleted", c.platform.label(), c.account),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn sync_store_now(id: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        managed(&state.db, &actor, id).await?;
        store::due_now(&state.db, id, now_millis()).await
    }

    pub async fn set_sync_interval(id: i64, minutes: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        managed(&state.db, &actor, id).await?;
        if !INTERVAL_MINUTES.contains(&minutes) {
            return Err(AppError::invalid("minutes", format!("Choose one of {INTERVAL_MINUTES:?} minutes.")));
        }
        store::set_interval(&state.db, id, minutes * 60).await
    }

    /// Where the platform sends the merchant back.
    fn callback_url(public_url: &str, platform: Platform) -> String {
        format!("{public_url}/connections/{}/callback", platform.as_str())
    }

    /// Step one of OAuth: the platform's consent page for this store, with a one-time state.
    pub async fn begin_authorization(
        db: &Db,
        cx: &Connectors,
        public_url: &str,
        actor: &Actor,
        store_id: i64,
        account: &str,
    ) -> Result<String, AppError> {
        let (_, platform) = managed_store(db, actor, store_id).await?;
        let settings = &cx.settings;
        let nonce = hex::encode(rand::random::<[u8; 24]>());
        let (account, url) = match platform {
            Platform::Shopify => {
                if settings.shopify_api_key.is_empty() {
                    return Err(AppError::invalid("account", "This server has no Shopify app keys: paste a custom app's token instead."));
                }
                let shop = shopify::shop_domain(account)
                    .ok_or_else(|| AppError::invalid("account", "Give the shop's address, like nordlicht.myshopify.com."))?;
                let url = shopify::authorize_url(settings, &shop, &callback_url(public_url, platform), &nonce);
                (shop, url)
            }
            Platform::Amazon => {
                if settings.amazon_app_id.is_empty() {
                    return Err(AppError::invalid(
                        "account",
                        "This server has no Amazon app id: paste the seller's refresh token instead.",
                    ));
                }
                let region = Region::parse(account).ok_or_else(|| AppError::invalid("region", "Choose the seller's region."))?;
                (region.as_str().to_string(), amazon::authorize_url(settings, &nonce))
            }
            Platform::Ebay => {
                if settings.ebay_client_id.is_empty() {
                    return Err(AppError::invalid(
                        "account",
                        "This server has no eBay app keys: paste the seller's refresh token instead.",
                    ));
                }
                (account.trim().to_string(), ebay::authorize_url(settings, &nonce))
            }
        };
        store::save_state(db, &nonce, &OAuthState { store_id, platform, account, user_id: actor.user_id, created_at: now_millis() })
            .await?;
        Ok(url)
    }

    /// What the platform sent back to the callback.
    pub struct Callback {
        pub platform: Platform,
        /// The whole query, for Shopify's signature.
        pub params: Vec<(String, String)>,
    }

    impl Callback {
        fn get(&self, name: &str) -> &str {
            self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
        }
    }

    /// Step two: checks the state (one use, ten minutes, the same user), trades the code
    /// for credentials and connects the store. Answers the store connected.
    pub async fn finish_authorization(state: &ServerState, actor: &Actor, back: Callback) -> Result<i64, AppError> {
        let db = &state.db;
        let cx = &state.connectors;
        let refused =
            || AppError::invalid("state", "This authorization link is unknown, used or expired: start again from the Connections page.");
        let pending = store::take_state(db, back.get("state")).await?.ok_or_else(refused)?;
        if pending.platform != back.platform || pending.user_id != actor.user_id || now_millis() - pending.created_at > 10 * 60_000 {
            return Err(refused());
        }
        let (client_id, platform) = managed_store(db, actor, pending.store_id).await?;
        let settings = &cx.settings;
        let now = now_millis();
        let failed = |f: crate::connectors::http::Failure| AppError::invalid("code", f.describe(platform.label()));
        let (account, region, credentials, reauthorize_by, markets) = match platform {
            Platform::Shopify => {
                let secret = crate::connectors::http::exposed(&settings.shopify_api_secret);
                if !shopify::verify_redirect(&secret, &back.params) || back.get("shop") != pending.account {
                    return Err(AppError::invalid("hmac", "Shopify's answer is not signed by Shopify, or names another shop."));
                }
                let token = shopify::exchange_code(&cx.client, settings, &pending.account, back.get("code")).await.map_err(failed)?;
                (pending.account.clone(), String::new(), Credentials { token, ..Default::default() }, None, String::new())
            }
            Platform::Amazon => {
                let refresh =
                    amazon::exchange_code(&cx.client, settings, back.get("spapi_oauth_code"), &callback_url(&state.public_url, platform))
                        .await
                        .map_err(failed)?;
                let seller = back.get("selling_partner_id").to_string();
                let target = crate::orders::store::target(db, pending.store_id).await?.ok_or_else(|| AppError::NotFound("store".into()))?;
                let markets = amazon::marketplace(&target.marketplace).map(|(id, _)| id.to_string()).ok_or_else(|| {
                    AppError::invalid(
                        "marketplace",
                        format!("The store's marketplace \"{}\" is not an Amazon marketplace Starling knows.", target.marketplace),
                    )
                })?;
                (
                    seller,
                    pending.account.clone(),
                    Credentials { token: refresh, ..Default::default() },
                    Some(now + amazon::AUTHORIZATION_DAYS * 86_400_000),
                    markets,
                )
            }
            Platform::Ebay => {
                let (refresh, ends) = ebay::exchange_code(&cx.client, settings, back.get("code"), now).await.map_err(failed)?;
                (pending.account.clone(), String::new(), Credentials { token: refresh, ..Default::default() }, ends, String::new())
            }
        };
        save(state, actor, client_id, pending.store_id, platform, &account, &region, &markets, credentials, reauthorize_by, "OAuth")
            .await?;
        Ok(pending.store_id)
    }
}
