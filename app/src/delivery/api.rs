//! Server functions of the Outbox page (agency admins only).

use super::OutboxEntry;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxPage {
    /// `None` when mail goes to an SMTP server instead of the folder.
    pub folder: Option<String>,
    pub messages: Vec<OutboxEntry>,
}

#[server(prefix = "/rpc", endpoint = "list_outbox", input = Json)]
pub async fn list_outbox() -> Result<OutboxPage, AppError> {
    crate::request::scoped(async {
        let actor = crate::accounts::api::caller().await?;
        crate::accounts::rules::authorize(&actor, crate::accounts::rules::Action::ReadOutbox)?;
        let state = crate::ServerState::get()?;
        Ok(OutboxPage { folder: state.mailer.outbox().map(|p| p.display().to_string()), messages: state.mailer.list_outbox(200) })
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "outbox_message", input = Json)]
pub async fn outbox_message(file: String) -> Result<String, AppError> {
    crate::request::scoped(async move {
        let actor = crate::accounts::api::caller().await?;
        crate::accounts::rules::authorize(&actor, crate::accounts::rules::Action::ReadOutbox)?;
        let state = crate::ServerState::get()?;
        state.mailer.read_outbox(&file).ok_or_else(|| AppError::NotFound(format!("outbox message {file}")))
    })
    .await
}
