//! Server functions of the Outbox page (agency admins only).

use crate::common::OutboxEntry;
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

/// A brand's sending domain, DKIM key and the DNS records to publish.
#[server(prefix = "/rpc", endpoint = "brand_sending", input = Json)]
pub async fn brand_sending(brand_id: i64) -> Result<super::SendingSettings, AppError> {
    crate::request::scoped(async move {
        let actor = crate::accounts::api::caller().await?;
        let db = &crate::ServerState::get()?.db;
        let client_id = brand_client(db, brand_id).await?;
        crate::accounts::rules::authorize(&actor, crate::accounts::rules::Action::ManageBrands(client_id))?;
        sending_settings(db, brand_id).await
    })
    .await
}

/// Generates a new DKIM key pair for the brand (`rsa` or `ed25519`); the previous key stays
/// until the new record is published.
#[server(prefix = "/rpc", endpoint = "generate_dkim_key", input = Json)]
pub async fn generate_dkim_key(brand_id: i64, algorithm: String) -> Result<super::SendingSettings, AppError> {
    crate::request::scoped(async move {
        use super::dkim::{self, Algorithm};
        let actor = crate::accounts::api::caller().await?;
        let db = &crate::ServerState::get()?.db;
        let client_id = brand_client(db, brand_id).await?;
        crate::accounts::rules::authorize(&actor, crate::accounts::rules::Action::ManageBrands(client_id))?;
        let algorithm = match algorithm.as_str() {
            "rsa" => Algorithm::Rsa2048,
            "ed25519" => Algorithm::Ed25519,
            _ => return Err(AppError::invalid("algorithm", "Choose RSA-2048 or Ed25519.")),
        };
        let key = dkim::create_key(db, brand_id, algorithm, crate::db::now_millis()).await?;
        crate::audit::record(
            db,
            Some(&actor),
            &actor.email,
            "brand.dkim_key",
            Some(client_id),
            &format!("brand {brand_id}"),
            &format!("new {} key, selector {}", key.algorithm, key.selector),
        )
        .await?;
        sending_settings(db, brand_id).await
    })
    .await
}

/// Looks up the brand's SPF, DKIM and DMARC records now and judges them, with alignment.
#[server(prefix = "/rpc", endpoint = "check_domain", input = Json)]
pub async fn check_domain(brand_id: i64) -> Result<super::DomainCheck, AppError> {
    crate::request::scoped(async move {
        let actor = crate::accounts::api::caller().await?;
        let state = crate::ServerState::get()?;
        let db = &state.db;
        let client_id = brand_client(db, brand_id).await?;
        crate::accounts::rules::authorize(&actor, crate::accounts::rules::Action::ManageBrands(client_id))?;
        let settings = sending_settings(db, brand_id).await?;
        let resolver = super::domain::resolver(state.dns_server)?;
        Ok(super::domain::check_domain(&resolver, &settings, &state.spf_include, crate::db::now_millis()).await)
    })
    .await
}

#[cfg(feature = "ssr")]
async fn brand_client(db: &crate::db::Db, brand_id: i64) -> Result<i64, AppError> {
    Ok(brand(db, brand_id).await?.client_id)
}

#[cfg(feature = "ssr")]
async fn brand(db: &crate::db::Db, brand_id: i64) -> Result<crate::clients::model::Brand, AppError> {
    crate::clients::store::brand(db, brand_id).await?.ok_or_else(|| AppError::NotFound(format!("brand {brand_id}")))
}

/// The relay's SPF domain when configured, else a placeholder naming what goes there.
#[cfg(feature = "ssr")]
fn spf_include(state: Option<crate::ServerState>) -> String {
    state.map(|s| s.spf_include).filter(|s| !s.is_empty()).unwrap_or_else(|| "<your relay's SPF domain>".into())
}

#[cfg(feature = "ssr")]
async fn sending_settings(db: &crate::db::Db, brand_id: i64) -> Result<super::SendingSettings, AppError> {
    let brand = brand(db, brand_id).await?;
    let client_id = brand.client_id;
    let client = crate::clients::store::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?.name;
    let (domain, sender_email) = (brand.sending_domain, brand.sender_email);
    let dkim = super::dkim::public_key(db, brand_id).await?;
    let mut records = vec![
        (domain.clone(), "TXT".to_string(), format!("v=spf1 include:{} ~all", spf_include(crate::ServerState::get().ok()))),
        (format!("_dmarc.{domain}"), "TXT".to_string(), format!("v=DMARC1; p=none; rua=mailto:dmarc@{domain}; adkim=r; aspf=r")),
    ];
    if let Some(key) = &dkim {
        records.insert(0, (key.record_name.clone(), "TXT".to_string(), key.record.clone()));
    }
    Ok(super::SendingSettings { client_id, client, brand_id, brand: brand.name, domain, sender_email, dkim, records })
}
