//! Server function of the audit log.

use super::AuditEntry;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/rpc", endpoint = "list_audit", input = Json)]
pub async fn list_audit(query: ListQuery) -> Result<Page<AuditEntry>, AppError> {
    use crate::accounts::rules::{authorize, Action};
    crate::request::scoped(async {
        let actor = crate::accounts::api::caller().await?;
        authorize(&actor, Action::ReadAuditLog)?;
        super::store::list(&crate::ServerState::get()?.db, &query).await
    })
    .await
}
