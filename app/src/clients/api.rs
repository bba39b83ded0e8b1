//! Server functions of clients, brands and stores. Each one asks `authorize` with the
//! client the row really belongs to (read from the database, never from the request).

use super::model::*;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardData {
    pub clients: i64,
    pub brands: i64,
    pub stores: i64,
    pub recent: Vec<ClientRow>,
}

#[server(prefix = "/rpc", endpoint = "list_clients", input = Json)]
pub async fn list_clients(query: ListQuery) -> Result<Page<ClientRow>, AppError> {
    crate::request::scoped(server::list_clients(query)).await
}

#[server(prefix = "/rpc", endpoint = "client_options", input = Json)]
pub async fn client_options() -> Result<Vec<(i64, String)>, AppError> {
    crate::request::scoped(server::client_options()).await
}

#[server(prefix = "/rpc", endpoint = "dashboard", input = Json)]
pub async fn dashboard() -> Result<DashboardData, AppError> {
    crate::request::scoped(server::dashboard()).await
}

#[server(prefix = "/rpc", endpoint = "get_client", input = Json)]
pub async fn get_client(id: i64) -> Result<ClientDetail, AppError> {
    crate::request::scoped(server::get_client(id)).await
}

#[server(prefix = "/rpc", endpoint = "save_client", input = crate::shell::forms::FormOrJson)]
pub async fn save_client(form: ClientForm) -> Result<i64, AppError> {
    crate::request::scoped(server::save_client(form)).await
}

#[server(prefix = "/rpc", endpoint = "save_brand", input = crate::shell::forms::FormOrJson)]
pub async fn save_brand(form: BrandForm) -> Result<i64, AppError> {
    crate::request::scoped(server::save_brand(form)).await
}

#[server(prefix = "/rpc", endpoint = "save_store", input = crate::shell::forms::FormOrJson)]
pub async fn save_store(form: StoreForm) -> Result<i64, AppError> {
    crate::request::scoped(server::save_store(form)).await
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::model::Actor;
    use crate::accounts::rules::{authorize, sees_all_clients, Action};
    use crate::audit;
    use crate::clients::store;
    use crate::ServerState;

    fn scope(actor: &Actor) -> Option<&[i64]> {
        if sees_all_clients(actor) {
            None
        } else {
            Some(&actor.clients)
        }
    }

    pub async fn list_clients(query: ListQuery) -> Result<Page<ClientRow>, AppError> {
        let actor = caller().await?;
        store::list(&ServerState::get()?.db, scope(&actor), &query).await
    }

    pub async fn client_options() -> Result<Vec<(i64, String)>, AppError> {
        let actor = caller().await?;
        store::options(&ServerState::get()?.db, scope(&actor)).await
    }

    pub async fn dashboard() -> Result<DashboardData, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (clients, brands, stores) = store::counts(db, scope(&actor)).await?;
        let recent_query = ListQuery { sort: "created".into(), desc: true, page: 1, ..Default::default() };
        let recent = store::list(db, scope(&actor), &recent_query).await?.rows;
        Ok(DashboardData { clients, brands, stores, recent: recent.into_iter().take(5).collect() })
    }

    pub async fn get_client(id: i64) -> Result<ClientDetail, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadClient(id))?;
        let db = &ServerState::get()?.db;
        let client = store::client(db, id).await?.ok_or_else(|| AppError::NotFound(format!("client {id}")))?;
        Ok(ClientDetail {
            client,
            brands: store::brands(db, id).await?,
            stores: store::stores(db, id).await?,
            can_manage: authorize(&actor, Action::ManageBrands(id)).is_ok(),
            can_edit: authorize(&actor, Action::EditClient(id)).is_ok(),
            can_read_orders: authorize(&actor, Action::ReadOrders(id)).is_ok(),
        })
    }

    pub async fn save_client(form: ClientForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        match form.id {
            None => authorize(&actor, Action::CreateClient)?,
            Some(id) => {
                authorize(&actor, Action::EditClient(id))?;
                if !store::exists(db, id).await? {
                    return Err(AppError::NotFound(format!("client {id}")));
                }
            }
        }
        let form = form.parse()?;
        let id = match form.id {
            None => store::insert_client(db, &form).await?,
            Some(id) => {
                store::update_client(db, id, &form).await?;
                id
            }
        };
        let action = if form.id.is_none() { "client_created" } else { "client_updated" };
        audit::record(db, Some(&actor), &actor.email, action, Some(id), &form.name, "").await?;
        Ok(id)
    }

    pub async fn save_brand(form: BrandForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        // The client is the brand's own for an edit, the form's for a new brand.
        let client_id = match form.id {
            Some(id) => store::brand(db, id).await?.map(|b| b.client_id),
            None => store::exists(db, form.client_id).await?.then_some(form.client_id),
        };
        let Some(client_id) = client_id else {
            return Err(AppError::NotFound("brand or client".into()));
        };
        authorize(&actor, Action::ManageBrands(client_id))?;
        let form = BrandForm { client_id, ..form.parse()? };
        let id = match form.id {
            None => store::insert_brand(db, &form).await?,
            Some(id) => {
                store::update_brand(db, id, &form).await?;
                id
            }
        };
        let action = if form.id.is_none() { "brand_created" } else { "brand_updated" };
        let detail = format!("domain={} locale={}", form.sending_domain, form.default_locale);
        audit::record(db, Some(&actor), &actor.email, action, Some(client_id), &form.name, &detail).await?;
        Ok(id)
    }

    pub async fn save_store(form: StoreForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let brand = store::brand(db, form.brand_id).await?;
        let client_id = match (form.id, &brand) {
            (Some(id), _) => store::store_client(db, id).await?,
            (None, Some(brand)) => Some(brand.client_id),
            (None, None) => None,
        };
        let Some(client_id) = client_id else {
            return Err(AppError::NotFound("store or brand".into()));
        };
        authorize(&actor, Action::ManageBrands(client_id))?;
        let form = form.parse()?;
        // A store can only sell under a brand of its own client.
        if brand.as_ref().map(|b| b.client_id) != Some(client_id) {
            return Err(AppError::invalid("brand_id", "Choose a brand of this client."));
        }
        if form.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(AppError::invalid("time_zone", format!("\"{}\" is not an IANA time zone like Europe/Berlin.", form.time_zone)));
        }
        let id = match form.id {
            None => store::insert_store(db, client_id, &form).await?,
            Some(id) => {
                store::update_store(db, id, &form).await?;
                id
            }
        };
        let action = if form.id.is_none() { "store_created" } else { "store_updated" };
        let detail = format!("platform={} marketplace={}", form.platform, form.marketplace);
        audit::record(db, Some(&actor), &actor.email, action, Some(client_id), &form.name, &detail).await?;
        Ok(id)
    }
}
