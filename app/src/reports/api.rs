//! Server functions of reports, reviews, alerts and SLA: each asks `authorize` for the
//! client the data belongs to (found in the database, never taken from the caller).

use super::model::*;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// A client's reviews, a page at a time, with what the import form needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewPage {
    pub client_id: i64,
    pub client: String,
    pub reviews: Page<ReviewRow>,
    pub brands: Vec<(i64, String)>,
    pub can_import: bool,
}

/// The client's report over `from ..= until` (`YYYY-MM-DD`; the last 30 days when empty).
#[server(prefix = "/rpc", endpoint = "client_report", input = Json)]
pub async fn client_report(client_id: i64, from: String, until: String) -> Result<Report, AppError> {
    crate::request::scoped(server::client_report(client_id, from, until)).await
}

#[server(prefix = "/rpc", endpoint = "list_reviews", input = Json)]
pub async fn list_reviews(client_id: i64, query: ListQuery) -> Result<ReviewPage, AppError> {
    crate::request::scoped(server::list_reviews(client_id, query)).await
}

/// Alerts of the clients the caller works on (`status` "" for all).
#[server(prefix = "/rpc", endpoint = "list_alerts", input = Json)]
pub async fn list_alerts(status: String) -> Result<AlertList, AppError> {
    crate::request::scoped(server::list_alerts(status)).await
}

/// Gives an alert an owner, a status (open, responded, resolved) and a note.
#[server(prefix = "/rpc", endpoint = "update_alert", input = Json)]
pub async fn update_alert(id: i64, status: String, owner_id: Option<i64>, note: String) -> Result<(), AppError> {
    crate::request::scoped(server::update_alert(id, status, owner_id, note)).await
}

#[server(prefix = "/rpc", endpoint = "sla_board", input = Json)]
pub async fn get_sla_board(client_id: i64) -> Result<SlaBoard, AppError> {
    crate::request::scoped(server::sla_board(client_id)).await
}

/// Every client the caller sees, with its targets and breaches.
#[server(prefix = "/rpc", endpoint = "sla_overview", input = Json)]
pub async fn get_sla_overview() -> Result<SlaOverview, AppError> {
    crate::request::scoped(server::sla_overview()).await
}

#[server(prefix = "/rpc", endpoint = "save_contract", input = crate::shell::forms::FormOrJson)]
pub async fn save_contract(client_id: i64, contract: Contract) -> Result<(), AppError> {
    crate::request::scoped(server::save_contract(client_id, contract)).await
}

/// A client's usage and cost per channel in `month` (`YYYY-MM`; the current one when empty).
#[server(prefix = "/rpc", endpoint = "usage_statement", input = Json)]
pub async fn get_usage_statement(client_id: i64, month: String) -> Result<UsageStatement, AppError> {
    crate::request::scoped(server::usage_statement(client_id, month)).await
}

/// Sets the contract's price per 1,000 messages of a channel (`email`, `sms`, `whatsapp`, `amazon`).
#[server(prefix = "/rpc", endpoint = "save_price", input = crate::shell::forms::FormOrJson)]
pub async fn save_price(client_id: i64, channel: String, price: String, currency: String) -> Result<(), AppError> {
    crate::request::scoped(server::save_price(client_id, channel, price, currency)).await
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::model::Actor;
    use crate::accounts::rules::{authorize, sees_all_clients, Action};
    use crate::db::now_millis;
    use crate::reports::{build, rules, sla, store};
    use crate::{audit, ServerState};

    async fn client_name(db: &crate::db::Db, client_id: i64) -> Result<String, AppError> {
        Ok(crate::clients::store::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?.name)
    }

    /// The report as the page, the exports and tests read it, after the access check.
    pub async fn report_for(
        actor: &Actor,
        db: &crate::db::Db,
        data_dir: &std::path::Path,
        client_id: i64,
        from: &str,
        until: &str,
    ) -> Result<Report, AppError> {
        authorize(actor, Action::ReadReports(client_id))?;
        let name = client_name(db, client_id).await?;
        let (from, until) = rules::date_range(from, until, rules::day_of(now_millis()));
        build::report(db, Some(data_dir), client_id, name, from, until).await
    }

    pub async fn client_report(client_id: i64, from: String, until: String) -> Result<Report, AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        report_for(&actor, &state.db, &state.data_dir, client_id, &from, &until).await
    }

    pub async fn list_reviews(client_id: i64, query: ListQuery) -> Result<ReviewPage, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadReports(client_id))?;
        let db = &ServerState::get()?.db;
        let client = client_name(db, client_id).await?;
        let reviews = store::list_reviews(db, client_id, &query).await?;
        let brands = crate::clients::store::brands(db, client_id).await?.into_iter().map(|b| (b.id, b.name)).collect();
        let can_import = authorize(&actor, Action::ManageAlerts(client_id)).is_ok();
        Ok(ReviewPage { client_id, client, reviews, brands, can_import })
    }

    /// The clients whose alerts the caller works on (`None`: all).
    fn alert_scope(actor: &Actor) -> Result<Option<Vec<i64>>, AppError> {
        if sees_all_clients(actor) {
            return Ok(None);
        }
        let clients: Vec<i64> = actor.clients.iter().copied().filter(|c| authorize(actor, Action::ManageAlerts(*c)).is_ok()).collect();
        if clients.is_empty() {
            return Err(AppError::Forbidden("alerts are worked on by agency admins and account managers.".into()));
        }
        Ok(Some(clients))
    }

    pub async fn list_alerts(status: String) -> Result<AlertList, AppError> {
        let actor = caller().await?;
        let scope = alert_scope(&actor)?;
        let db = &ServerState::get()?.db;
        let status = match status.trim() {
            "" => None,
            s => Some(AlertState::parse(s).ok_or_else(|| AppError::invalid("status", "Pick open, responded or resolved."))?),
        };
        let alerts = store::list_alerts(db, scope.as_deref(), status).await?;
        Ok(AlertList { alerts, owners: crate::accounts::store::staff(db).await?, can_manage: true, now: now_millis() })
    }

    pub async fn update_alert(id: i64, status: String, owner_id: Option<i64>, note: String) -> Result<(), AppError> {
        let actor = caller().await?;
        alert_scope(&actor)?;
        let db = &ServerState::get()?.db;
        let client = store::alert_client(db, id).await?.ok_or_else(|| AppError::NotFound(format!("alert {id}")))?;
        authorize(&actor, Action::ManageAlerts(client))?;
        let status = AlertState::parse(&status).ok_or_else(|| AppError::invalid("status", "Pick open, responded or resolved."))?;
        if let Some(owner) = owner_id {
            if !crate::accounts::store::staff(db).await?.iter().any(|(id, _)| *id == owner) {
                return Err(AppError::invalid("owner", "The owner must be an admin or account manager."));
            }
        }
        if note.chars().count() > 2000 {
            return Err(AppError::invalid("note", "Keep the note under 2,000 characters."));
        }
        store::update_alert(db, id, status, owner_id, note.trim(), now_millis()).await?;
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "alert.update",
            Some(client),
            &format!("alert {id}"),
            &format!("status {}", status.as_str()),
        )
        .await?;
        Ok(())
    }

    pub async fn sla_board(client_id: i64) -> Result<SlaBoard, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadReports(client_id))?;
        let state = ServerState::get()?;
        let name = client_name(&state.db, client_id).await?;
        let can_edit = authorize(&actor, Action::EditContract(client_id)).is_ok();
        sla::board(&state.db, Some(&state.data_dir), client_id, name, now_millis(), can_edit).await
    }

    pub async fn sla_overview() -> Result<SlaOverview, AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let db = &state.db;
        let clients = crate::clients::store::options(db, if sees_all_clients(&actor) { None } else { Some(&actor.clients) }).await?;
        let mut boards = Vec::new();
        for (id, name) in clients {
            if authorize(&actor, Action::ReadReports(id)).is_ok() {
                let can_edit = authorize(&actor, Action::EditContract(id)).is_ok();
                let mut board = sla::board(db, Some(&state.data_dir), id, name, now_millis(), can_edit).await?;
                board.breaches.truncate(5);
                boards.push(board);
            }
        }
        Ok(SlaOverview { clients: boards })
    }

    pub async fn usage_statement(client_id: i64, month: String) -> Result<UsageStatement, AppError> {
        let actor = caller().await?;
        usage_for(&actor, &ServerState::get()?.db, client_id, &month).await
    }

    /// The statement after the access check (the page and the CSV download).
    pub async fn usage_for(actor: &Actor, db: &crate::db::Db, client_id: i64, month: &str) -> Result<UsageStatement, AppError> {
        authorize(actor, Action::ReadUsage(client_id))?;
        let name = client_name(db, client_id).await?;
        let can_edit = authorize(actor, Action::EditContract(client_id)).is_ok();
        crate::reports::usage::statement(db, client_id, name, month, now_millis(), can_edit).await
    }

    pub async fn save_price(client_id: i64, channel: String, price: String, currency: String) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::EditContract(client_id))?;
        let db = &ServerState::get()?.db;
        client_name(db, client_id).await?;
        let channel = crate::outbox::model::Channel::parse(channel.trim())
            .ok_or_else(|| AppError::invalid("channel", "Choose e-mail, SMS, WhatsApp or Amazon's request a review."))?;
        let micros = crate::reports::usage::parse_price(&price)?;
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(AppError::invalid("currency", format!("\"{currency}\" is not a currency code (three letters, like USD).")));
        }
        crate::clients::store::set_channel_price(db, client_id, channel.as_str(), micros, &currency).await?;
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "contract.price",
            Some(client_id),
            &format!("client {client_id}"),
            &format!("{}: {} {currency} per 1,000", channel.as_str(), crate::reports::usage::amount(micros)),
        )
        .await?;
        Ok(())
    }

    pub async fn save_contract(client_id: i64, contract: Contract) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::EditContract(client_id))?;
        let db = &ServerState::get()?.db;
        client_name(db, client_id).await?;
        let before = sla::contract(db, client_id).await?;
        sla::save_contract(db, client_id, &contract, &actor.email, now_millis()).await?;
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "contract.update",
            Some(client_id),
            &format!("client {client_id}"),
            &format!("{before:?} -> {contract:?}"),
        )
        .await?;
        Ok(())
    }
}
