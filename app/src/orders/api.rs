//! Server functions of orders, imports, customers, suppression and API keys. Each one
//! checks the caller's role for the client the row really belongs to (read from the
//! database), never the client named in the request alone.

use super::model::*;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// The orders page: its stores (for the filter) and a page of orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersData {
    pub client_name: String,
    pub stores: Vec<(i64, String)>,
    pub page: Page<OrderRow>,
    pub can_manage: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetail {
    pub customer: Customer,
    pub orders: Vec<OrderRow>,
    pub consents: Vec<Consent>,
    pub suppressed: bool,
    pub opt_in_required: bool,
    pub can_manage: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsData {
    pub client_name: String,
    pub stores: Vec<(i64, String)>,
    pub jobs: Vec<Job>,
    pub max_upload_mb: u64,
}

/// The first orders of an uploaded file as Starling reads them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub layout: String,
    pub encoding: String,
    pub delimiter: String,
    pub orders: Vec<ParsedOrder>,
    pub errors: Vec<RowError>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportDetail {
    pub client_name: String,
    pub job: Job,
    pub preview: Option<Preview>,
    /// Set when the file's layout is unknown: its headers, and the mapping to confirm.
    pub headers: Vec<String>,
    pub mapping: Option<Mapping>,
    pub problem: String,
    pub rejects: Vec<RowError>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyData {
    pub client_name: String,
    pub brands: Vec<(i64, String)>,
    pub page: Page<Entry>,
    pub retention_months: i64,
    pub can_manage: bool,
    pub can_edit_agency: bool,
    pub can_set_retention: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysData {
    pub client_name: String,
    pub store_name: String,
    pub keys: Vec<ApiKey>,
}

#[server(prefix = "/rpc", endpoint = "list_orders", input = Json)]
pub async fn list_orders(client_id: i64, filter: OrderFilter, query: ListQuery) -> Result<OrdersData, AppError> {
    crate::request::scoped(server::list_orders(client_id, filter, query)).await
}

#[server(prefix = "/rpc", endpoint = "get_customer", input = Json)]
pub async fn get_customer(client_id: i64, customer_id: i64) -> Result<CustomerDetail, AppError> {
    crate::request::scoped(server::get_customer(client_id, customer_id)).await
}

/// Records a buyer's consent by hand (a signed form, a call): the channel (`email`, `sms`),
/// its scope (`marketing`, `service`), the words agreed to and the day it was given.
#[server(prefix = "/rpc", endpoint = "record_consent", input = crate::shell::forms::FormOrJson)]
pub async fn record_consent(form: ConsentEntry) -> Result<(), AppError> {
    crate::request::scoped(server::record_consent(form)).await
}

/// A consent as typed on the buyer's page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntry {
    pub client_id: i64,
    pub customer_id: i64,
    /// `email` or `sms`.
    pub channel: String,
    /// `marketing` or `service`.
    pub scope: String,
    pub wording: String,
    /// `YYYY-MM-DD`; empty for today.
    pub given_on: String,
}

#[server(prefix = "/rpc", endpoint = "erase_customer", input = Json)]
pub async fn erase_customer(client_id: i64, customer_id: i64) -> Result<i64, AppError> {
    crate::request::scoped(server::erase_customer(client_id, customer_id)).await
}

#[server(prefix = "/rpc", endpoint = "list_imports", input = Json)]
pub async fn list_imports(client_id: i64) -> Result<ImportsData, AppError> {
    crate::request::scoped(server::list_imports(client_id)).await
}

#[server(prefix = "/rpc", endpoint = "get_import", input = Json)]
pub async fn get_import(client_id: i64, job_id: i64) -> Result<ImportDetail, AppError> {
    crate::request::scoped(server::get_import(client_id, job_id)).await
}

#[server(prefix = "/rpc", endpoint = "start_import", input = crate::shell::forms::FormOrJson)]
pub async fn start_import(client_id: i64, job_id: i64) -> Result<(), AppError> {
    crate::request::scoped(server::start_import(client_id, job_id)).await
}

#[server(prefix = "/rpc", endpoint = "save_mapping", input = crate::shell::forms::FormOrJson)]
pub async fn save_mapping(client_id: i64, job_id: i64, mapping: Mapping) -> Result<(), AppError> {
    crate::request::scoped(server::save_mapping(client_id, job_id, mapping)).await
}

#[server(prefix = "/rpc", endpoint = "list_suppressions", input = Json)]
pub async fn list_suppressions(client_id: i64, query: ListQuery) -> Result<PrivacyData, AppError> {
    crate::request::scoped(server::list_suppressions(client_id, query)).await
}

#[server(prefix = "/rpc", endpoint = "add_suppression", input = crate::shell::forms::FormOrJson)]
pub async fn add_suppression(client_id: i64, brand_id: Option<i64>, address: String, note: String) -> Result<bool, AppError> {
    crate::request::scoped(server::add_suppression(client_id, brand_id, address, note)).await
}

#[server(prefix = "/rpc", endpoint = "remove_suppression", input = Json)]
pub async fn remove_suppression(client_id: i64, id: i64) -> Result<(), AppError> {
    crate::request::scoped(server::remove_suppression(client_id, id)).await
}

#[server(prefix = "/rpc", endpoint = "set_retention", input = crate::shell::forms::FormOrJson)]
pub async fn set_retention(client_id: i64, months: i64) -> Result<i64, AppError> {
    crate::request::scoped(server::set_retention(client_id, months)).await
}

#[server(prefix = "/rpc", endpoint = "list_api_keys", input = Json)]
pub async fn list_api_keys(client_id: i64, store_id: i64) -> Result<KeysData, AppError> {
    crate::request::scoped(server::list_api_keys(client_id, store_id)).await
}

#[server(prefix = "/rpc", endpoint = "create_api_key", input = Json)]
pub async fn create_api_key(client_id: i64, store_id: i64, label: String) -> Result<String, AppError> {
    crate::request::scoped(server::create_api_key(client_id, store_id, label)).await
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key", input = Json)]
pub async fn revoke_api_key(client_id: i64, key_id: i64) -> Result<(), AppError> {
    crate::request::scoped(server::revoke_api_key(client_id, key_id)).await
}

#[cfg(feature = "ssr")]
pub mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::model::Actor;
    use crate::accounts::rules::{authorize, Action};
    use crate::audit;
    use crate::clients::store as clients;
    use crate::orders::{import, jobs, keys, privacy, store};
    use crate::ServerState;

    async fn client_name(db: &crate::db::Db, client_id: i64) -> Result<String, AppError> {
        Ok(clients::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?.name)
    }

    async fn store_options(db: &crate::db::Db, client_id: i64) -> Result<Vec<(i64, String)>, AppError> {
        Ok(clients::stores(db, client_id).await?.into_iter().map(|s| (s.id, format!("{} · {}", s.brand_name, s.name))).collect())
    }

    async fn record(db: &crate::db::Db, actor: &Actor, action: &str, client_id: i64, subject: &str, detail: &str) -> Result<(), AppError> {
        audit::record(db, Some(actor), &actor.email, action, Some(client_id), subject, detail).await
    }

    pub async fn list_orders(client_id: i64, filter: OrderFilter, query: ListQuery) -> Result<OrdersData, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadOrders(client_id))?;
        let db = &ServerState::get()?.db;
        Ok(OrdersData {
            client_name: client_name(db, client_id).await?,
            stores: store_options(db, client_id).await?,
            page: store::list(db, client_id, &filter, &query).await?,
            can_manage: authorize(&actor, Action::ManageOrders(client_id)).is_ok(),
        })
    }

    /// The customer, after checking it belongs to `client_id` (404 otherwise, so ids of
    /// other clients' customers reveal nothing).
    async fn own_customer(db: &crate::db::Db, client_id: i64, customer_id: i64) -> Result<Customer, AppError> {
        store::customer(db, customer_id)
            .await?
            .filter(|c| c.client_id == client_id)
            .ok_or_else(|| AppError::NotFound(format!("customer {customer_id}")))
    }

    pub async fn get_customer(client_id: i64, customer_id: i64) -> Result<CustomerDetail, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let customer = own_customer(db, client_id, customer_id).await?;
        let salt = crate::common::fingerprint::salt(db).await?;
        let mut suppressed = false;
        for address in [&customer.email, &customer.phone] {
            if !address.is_empty() {
                suppressed |= privacy::is_suppressed(db, &salt, customer.brand_id, address).await?;
            }
        }
        Ok(CustomerDetail {
            orders: store::customer_orders(db, customer_id).await?,
            consents: store::consents(db, customer_id).await?,
            opt_in_required: requires_opt_in(&customer.country),
            customer,
            suppressed,
            can_manage: authorize(&actor, Action::ManageOrders(client_id)).is_ok(),
        })
    }

    pub async fn record_consent(form: ConsentEntry) -> Result<(), AppError> {
        let ConsentEntry { client_id, customer_id, channel, scope, wording, given_on } = form;
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        own_customer(db, client_id, customer_id).await?;
        let now = crate::db::now_millis();
        let mut v = crate::common::values::Validation::default();
        let channel = channel.trim().to_string();
        if !matches!(channel.as_str(), "email" | "sms" | "whatsapp") {
            v.check::<()>(Err(AppError::invalid("channel", "Choose e-mail, SMS or WhatsApp.")));
        }
        let scope = scope.trim().to_string();
        if !matches!(scope.as_str(), "marketing" | "service") {
            v.check::<()>(Err(AppError::invalid("scope", "Choose marketing or service messages.")));
        }
        let wording = wording.trim().to_string();
        if matches!(channel.as_str(), "sms" | "whatsapp") && wording.is_empty() {
            v.check::<()>(Err(AppError::invalid(
                "wording",
                "Give the words the buyer agreed to: consent to texts and WhatsApp messages must be express and kept with its wording.",
            )));
        }
        if wording.chars().count() > 2_000 {
            v.check::<()>(Err(AppError::invalid("wording", "At most 2,000 characters.")));
        }
        let given_at = match given_on.trim() {
            "" => Some(now),
            day => match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) if d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis() <= now => {
                    Some(d.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc().timestamp_millis().min(now))
                }
                Ok(_) => v.check(Err(AppError::invalid("given_on", "A consent cannot be given in the future."))),
                Err(_) => v.check(Err(AppError::invalid("given_on", format!("\"{day}\" is not a date (YYYY-MM-DD).")))),
            },
        };
        v.finish()?;
        let consent = crate::orders::model::Consent {
            channel: channel.clone(),
            source: format!("entered by {}", actor.email),
            given_at: given_at.unwrap_or(now),
            scope,
            wording,
        };
        store::record_consent(db, customer_id, &consent, now).await?;
        record(db, &actor, "buyer.consent", client_id, &format!("customer #{customer_id}"), &format!("{channel} consent recorded")).await?;
        Ok(())
    }

    pub async fn erase_customer(client_id: i64, customer_id: i64) -> Result<i64, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        own_customer(db, client_id, customer_id).await?;
        let salt = crate::common::fingerprint::salt(db).await?;
        let stripped = privacy::erase_buyer(db, &salt, customer_id, &actor.email).await?;
        // The log names the record, never the buyer's address.
        record(
            db,
            &actor,
            "buyer.erase",
            client_id,
            &format!("customer #{customer_id}"),
            &format!("{stripped} orders stripped of personal data"),
        )
        .await?;
        Ok(stripped)
    }

    /// The export as JSON, for the download route (checks and logs like the others).
    pub async fn export_customer(
        db: &crate::db::Db,
        actor: &Actor,
        client_id: i64,
        customer_id: i64,
    ) -> Result<privacy::BuyerExport, AppError> {
        authorize(actor, Action::ManageOrders(client_id))?;
        own_customer(db, client_id, customer_id).await?;
        let salt = crate::common::fingerprint::salt(db).await?;
        let export = privacy::export_buyer(db, &salt, customer_id).await?;
        record(db, actor, "buyer.export", client_id, &format!("customer #{customer_id}"), &format!("{} orders", export.orders.len()))
            .await?;
        Ok(export)
    }

    pub async fn list_imports(client_id: i64) -> Result<ImportsData, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let state = ServerState::get()?;
        let db = &state.db;
        Ok(ImportsData {
            client_name: client_name(db, client_id).await?,
            stores: store_options(db, client_id).await?,
            jobs: jobs::list(db, client_id).await?,
            max_upload_mb: state.max_upload_bytes / (1024 * 1024),
        })
    }

    /// The job, after checking it belongs to `client_id`.
    pub async fn own_job(db: &crate::db::Db, client_id: i64, job_id: i64) -> Result<Job, AppError> {
        jobs::get(db, job_id).await?.filter(|j| j.client_id == client_id).ok_or_else(|| AppError::NotFound(format!("import {job_id}")))
    }

    /// Reads the first orders of an uploaded file (for the preview), off the async threads.
    pub async fn preview(path: std::path::PathBuf, mapping: Option<Mapping>) -> Result<Result<Preview, import::FileError>, AppError> {
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path).map_err(|e| import::FileError::Unreadable(e.to_string()))?;
            let mut import = import::Import::open(std::io::BufReader::new(file), mapping.as_ref())?;
            let detected = import.detected;
            let mut orders = Vec::new();
            let mut errors = Vec::new();
            for item in import.by_ref().take(10) {
                match item.and_then(|o| jobs::check(&o).map(|_| o)) {
                    Ok(o) => orders.push(o),
                    Err(e) => errors.push(e),
                }
            }
            Ok(Preview {
                layout: detected.layout.label().to_string(),
                encoding: detected.encoding.name().to_string(),
                delimiter: match detected.delimiter {
                    b'\t' => "tab".into(),
                    d => (d as char).to_string(),
                },
                orders,
                errors,
            })
        })
        .await
        .map_err(|e| AppError::caused("a background task stopped", e))
    }

    pub async fn get_import(client_id: i64, job_id: i64) -> Result<ImportDetail, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let state = ServerState::get()?;
        let db = &state.db;
        let job = own_job(db, client_id, job_id).await?;
        let path = jobs::upload_path(&state.data_dir, job.id);
        let mut detail = ImportDetail {
            client_name: client_name(db, client_id).await?,
            preview: None,
            headers: Vec::new(),
            mapping: None,
            problem: String::new(),
            rejects: jobs::rejects(db, job.id, Some(200), 0).await?,
            job,
        };
        if detail.job.state.awaits_start() {
            let saved = jobs::saved_mapping(db, detail.job.store_id).await?;
            match preview(path.clone(), saved.clone()).await? {
                Ok(p) => detail.preview = Some(p),
                Err(import::FileError::UnknownLayout(_)) | Err(import::FileError::MissingColumns { layout: "column mapping", .. }) => {
                    let headers = tokio::task::spawn_blocking(move || {
                        std::fs::File::open(&path)
                            .map_err(|e| import::FileError::Unreadable(e.to_string()))
                            .and_then(|f| import::Import::headers(std::io::BufReader::new(f)))
                    })
                    .await
                    .map_err(|e| AppError::caused("a background task stopped", e))?;
                    match headers {
                        Ok(h) => {
                            detail.mapping = Some(saved.unwrap_or_else(|| Mapping::guess(&h)));
                            detail.headers = h;
                        }
                        Err(e) => detail.problem = e.to_string(),
                    }
                }
                Err(e) => detail.problem = e.to_string(),
            }
            if detail.mapping.is_none() && detail.preview.is_none() && detail.problem.is_empty() {
                detail.problem = "The file could not be read.".into();
            }
        }
        Ok(detail)
    }

    pub async fn start_import(client_id: i64, job_id: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let job = own_job(db, client_id, job_id).await?;
        if job.state == ImportState::NeedsMapping && jobs::saved_mapping(db, job.store_id).await?.is_none() {
            return Err(AppError::Conflict("Map the file's columns first.".into()));
        }
        if !jobs::queue(db, job_id).await? {
            return Err(AppError::Conflict(format!("This import is already {}.", job.state.as_str())));
        }
        record(db, &actor, "orders.import", client_id, &format!("import #{job_id}"), &job.file_name).await
    }

    pub async fn save_mapping(client_id: i64, job_id: i64, mapping: Mapping) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let state = ServerState::get()?;
        let db = &state.db;
        let job = own_job(db, client_id, job_id).await?;
        let path = jobs::upload_path(&state.data_dir, job.id);
        let headers = tokio::task::spawn_blocking(move || {
            std::fs::File::open(&path)
                .map_err(|e| import::FileError::Unreadable(e.to_string()))
                .and_then(|f| import::Import::headers(std::io::BufReader::new(f)))
        })
        .await
        .map_err(|e| AppError::caused("a background task stopped", e))?
        .map_err(|e| AppError::Conflict(e.to_string()))?;
        let problems = mapping.problems(&headers);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems.into_iter().map(|(f, m)| crate::error::FieldError { field: f, message: m }).collect()));
        }
        jobs::save_mapping(db, job.store_id, &mapping).await?;
        jobs::received(db, job.id, job.size_bytes, "mapped", &job.encoding, ImportState::Uploaded, "").await?;
        record(db, &actor, "orders.mapping", client_id, &format!("store #{}", job.store_id), "column mapping saved").await
    }

    pub async fn list_suppressions(client_id: i64, query: ListQuery) -> Result<PrivacyData, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let client = clients::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?;
        let retention_months = clients::retention_months(db, client_id).await?;
        // The agency-wide list can hold any client's buyers: only agency admins see it.
        let can_edit_agency = authorize(&actor, Action::ManageAgencyLists).is_ok();
        Ok(PrivacyData {
            client_name: client.name,
            brands: clients::brands(db, client_id).await?.into_iter().map(|b| (b.id, b.name)).collect(),
            page: privacy::list(db, client_id, can_edit_agency, &query).await?,
            retention_months,
            can_manage: authorize(&actor, Action::ManageOrders(client_id)).is_ok(),
            can_edit_agency,
            can_set_retention: authorize(&actor, Action::EditClient(client_id)).is_ok(),
        })
    }

    pub async fn add_suppression(client_id: i64, brand_id: Option<i64>, address: String, note: String) -> Result<bool, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let scope = match brand_id {
            Some(brand) => {
                let owner = clients::brand(db, brand).await?.filter(|b| b.client_id == client_id);
                owner.ok_or_else(|| AppError::invalid("brand", "Pick one of this client's brands."))?;
                privacy::Scope { client_id: Some(client_id), brand_id: Some(brand) }
            }
            None => {
                authorize(&actor, Action::ManageAgencyLists)?;
                privacy::Scope { client_id: None, brand_id: None }
            }
        };
        let salt = crate::common::fingerprint::salt(db).await?;
        let note: String = note.trim().chars().take(200).collect();
        let added = privacy::suppress(db, &salt, scope, &address, Reason::Manual, &note, &actor.email).await?;
        if added {
            let list = if brand_id.is_some() { "brand list" } else { "agency-wide list" };
            record(db, &actor, "suppression.add", client_id, list, Reason::Manual.as_str()).await?;
        }
        Ok(added)
    }

    pub async fn remove_suppression(client_id: i64, id: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let (owner, brand, reason) = privacy::entry_scope(db, id).await?.ok_or_else(|| AppError::NotFound(format!("entry {id}")))?;
        match brand {
            None => authorize(&actor, Action::ManageAgencyLists)?,
            Some(_) if owner != Some(client_id) => return Err(AppError::NotFound(format!("entry {id}"))),
            Some(_) => {}
        }
        if !reason.is_removable() {
            return Err(AppError::Conflict("Unsubscribes, complaints and erasures are the buyer's decision and stay on the list.".into()));
        }
        privacy::remove(db, id).await?;
        record(db, &actor, "suppression.remove", client_id, &format!("entry #{id}"), reason.as_str()).await
    }

    pub async fn set_retention(client_id: i64, months: i64) -> Result<i64, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::EditClient(client_id))?;
        if !(0..=240).contains(&months) {
            return Err(AppError::invalid("months", "Enter a number of months from 0 (keep everything) to 240."));
        }
        let db = &ServerState::get()?.db;
        clients::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?;
        clients::set_retention(db, client_id, months).await?;
        record(db, &actor, "client.retention", client_id, &format!("client #{client_id}"), &format!("{months} months")).await?;
        let purged = purge(db, Some(client_id)).await?;
        Ok(purged)
    }

    /// Applies retention now (for one client, or all) and logs what went.
    pub async fn purge(db: &crate::db::Db, only: Option<i64>) -> Result<i64, AppError> {
        let mut total = 0;
        for (client, deleted) in privacy::purge_expired(db, crate::db::now_millis()).await? {
            if only.is_none() || only == Some(client) {
                total += deleted;
            }
            audit::record(
                db,
                None,
                "system",
                "orders.purge",
                Some(client),
                &format!("client #{client}"),
                &format!("{deleted} orders past retention deleted"),
            )
            .await?;
        }
        Ok(total)
    }

    async fn own_store(db: &crate::db::Db, client_id: i64, store_id: i64) -> Result<store::Target, AppError> {
        store::target(db, store_id)
            .await?
            .filter(|t| t.client_id == client_id)
            .ok_or_else(|| AppError::NotFound(format!("store {store_id}")))
    }

    pub async fn list_api_keys(client_id: i64, store_id: i64) -> Result<KeysData, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        own_store(db, client_id, store_id).await?;
        let store_name = clients::stores(db, client_id).await?.into_iter().find(|s| s.id == store_id).map(|s| s.name).unwrap_or_default();
        Ok(KeysData { client_name: client_name(db, client_id).await?, store_name, keys: keys::list(db, store_id).await? })
    }

    pub async fn create_api_key(client_id: i64, store_id: i64, label: String) -> Result<String, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 80 {
            return Err(AppError::invalid("label", "Name the key (up to 80 characters), e.g. the shop system that uses it."));
        }
        let db = &ServerState::get()?.db;
        let target = own_store(db, client_id, store_id).await?;
        let (id, key) = keys::create(db, &target, label, &actor.email).await?;
        record(db, &actor, "apikey.create", client_id, &format!("key #{id} of store #{store_id}"), label).await?;
        Ok(key)
    }

    pub async fn revoke_api_key(client_id: i64, key_id: i64) -> Result<(), AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageOrders(client_id))?;
        let db = &ServerState::get()?.db;
        let (owner, store_id) = keys::owner(db, key_id).await?.ok_or_else(|| AppError::NotFound(format!("key {key_id}")))?;
        if owner != client_id {
            return Err(AppError::NotFound(format!("key {key_id}")));
        }
        keys::revoke(db, key_id).await?;
        record(db, &actor, "apikey.revoke", client_id, &format!("key #{key_id} of store #{store_id}"), "").await
    }
}
