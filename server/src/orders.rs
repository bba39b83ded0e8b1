//! Plain HTTP routes of orders in: file uploads (streamed to the data folder, never held in
//! memory), CSV and JSON downloads, and the ingest API for shops. Each checks the caller
//! (session or API key) and the client the data belongs to.

use crate::http::{download, error_response, json_error, key_store, redirect, signed_in, too_large};
use crate::upload;
use crate::AppState;
use app::accounts::api::caller_from_headers;
use app::accounts::model::Actor;
use app::accounts::rules::{authorize, Action};
use app::error::AppError;
use app::orders::model::{ImportState, OrderFilter};
use app::orders::{api::server as orders_api, export, import, ingest, jobs, privacy, store};
use app::shell::table::encode;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;

/// A file name safe to show and log: its last path part, printable, at most 120 characters.
fn clean_file_name(name: Option<&str>) -> String {
    let base = name.unwrap_or("upload.csv").rsplit(['/', '\\']).next().unwrap_or("upload.csv");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(120).collect();
    if cleaned.trim().is_empty() {
        "upload.csv".into()
    } else {
        cleaned
    }
}

/// `POST /clients/{id}/imports/upload` (multipart: `store`, then `file`): stores the file,
/// detects its format and opens the import's page for the preview.
pub async fn upload_orders(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let back = |message: String| redirect(&format!("/clients/{client_id}/imports?error={}", encode(&message)));
    let actor = match signed_in(&state, &headers, Action::ManageOrders(client_id)).await {
        Ok(actor) => actor,
        Err(e) => return error_response(e),
    };
    match receive_orders(&state, client_id, &actor, &headers, multipart).await {
        Ok(job_id) => redirect(&format!("/clients/{client_id}/imports/{job_id}")),
        Err(message) => back(message),
    }
}

async fn receive_orders(
    state: &AppState,
    client_id: i64,
    actor: &Actor,
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<i64, String> {
    let db = &state.server.db;
    let limit = state.server.max_upload_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + 64 * 1024) {
        return Err(too_large(limit));
    }
    let mut store_id: Option<i64> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| format!("The upload was interrupted: {e}"))? {
        match field.name() {
            Some("store") => store_id = upload::field_text(field).await?.trim().parse().ok(),
            Some("file") => {
                let target = match store_id {
                    Some(id) => store::target(db, id).await.map_err(|e| e.to_string())?.filter(|t| t.client_id == client_id),
                    None => None,
                }
                .ok_or_else(|| "Pick one of this client's stores.".to_string())?;
                let file_name = clean_file_name(field.file_name());
                let job_id = jobs::create(db, &target, &file_name, &actor.email).await.map_err(|e| e.to_string())?;
                let path = jobs::upload_path(&state.server.data_dir, job_id);
                let fail = |message: String| async move {
                    let _ = tokio::fs::remove_file(&jobs::upload_path(&state.server.data_dir, job_id)).await;
                    let _ = jobs::received(db, job_id, 0, "", "", ImportState::Failed, &message).await;
                    Err::<i64, String>(message)
                };
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|e| format!("The data folder is not writable: {e}"))?;
                }
                let mut file = tokio::fs::File::create(&path).await.map_err(|e| format!("The data folder is not writable: {e}"))?;
                let mut size: u64 = 0;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if size > limit {
                                drop(file);
                                return fail(too_large(limit)).await;
                            }
                            if let Err(e) = file.write_all(&chunk).await {
                                return fail(format!("The file could not be stored: {e}")).await;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return fail(format!("The upload was interrupted: {e}")).await,
                    }
                }
                if let Err(e) = file.flush().await {
                    return fail(format!("The file could not be stored: {e}")).await;
                }
                drop(file);
                if size == 0 {
                    return fail("The file is empty.".into()).await;
                }
                let opened = tokio::task::spawn_blocking({
                    let path = path.clone();
                    move || {
                        let file = std::fs::File::open(&path).map_err(|e| import::FileError::Unreadable(e.to_string()))?;
                        import::Import::open(std::io::BufReader::new(file), None).map(|i| i.detected)
                    }
                })
                .await
                .map_err(|e| e.to_string())?;
                let (layout, encoding, job_state, message) = match opened {
                    Ok(detected) => {
                        (detected.layout.key().to_string(), detected.encoding.name().to_string(), ImportState::Uploaded, String::new())
                    }
                    Err(import::FileError::UnknownLayout(_)) => (String::new(), String::new(), ImportState::NeedsMapping, String::new()),
                    Err(e) => return fail(e.to_string()).await,
                };
                jobs::received(db, job_id, size as i64, &layout, &encoding, job_state, &message).await.map_err(|e| e.to_string())?;
                let _ = app::audit::record(
                    db,
                    Some(actor),
                    &actor.email,
                    "orders.upload",
                    Some(client_id),
                    &format!("import #{job_id}"),
                    &file_name,
                )
                .await;
                return Ok(job_id);
            }
            _ => {}
        }
    }
    Err("Choose a file to upload.".into())
}

/// `POST /clients/{id}/suppression/upload` (multipart: `brand` then `file`, a CSV with
/// an `email` or `phone` column and optional `reason` and `note`).
pub async fn upload_suppression(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let page = format!("/clients/{client_id}/privacy");
    let actor = match signed_in(&state, &headers, Action::ManageOrders(client_id)).await {
        Ok(actor) => actor,
        Err(e) => return error_response(e),
    };
    let db = &state.server.db;
    let back = |message: &str| redirect(&format!("{page}?error={}", encode(message)));
    let mut scope = None;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return back(&format!("The upload was interrupted: {e}")),
        };
        match field.name() {
            Some("brand") => {
                let value = match upload::field_text(field).await {
                    Ok(v) => v,
                    Err(message) => return back(&message),
                };
                scope = match value.trim() {
                    "agency" if authorize(&actor, Action::ManageAgencyLists).is_ok() => {
                        Some(privacy::Scope { client_id: None, brand_id: None })
                    }
                    v => match v.parse::<i64>() {
                        Ok(brand) => app::clients::store::brand(db, brand)
                            .await
                            .ok()
                            .flatten()
                            .filter(|b| b.client_id == client_id)
                            .map(|b| privacy::Scope { client_id: Some(client_id), brand_id: Some(b.id) }),
                        Err(_) => None,
                    },
                };
            }
            Some("file") => match upload::spool(field, &state.server.data_dir, state.server.max_upload_bytes, too_large).await {
                Ok(spooled) => file = Some(spooled),
                Err(message) => return back(&message),
            },
            _ => {}
        }
    }
    let Some(scope) = scope else {
        return back("Pick one of this client's lists.");
    };
    let Some(file) = file else { return back("Choose a file to upload.") };
    let salt = match app::common::fingerprint::salt(db).await {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let opened = match file.open() {
        Ok(f) => f,
        Err(message) => return back(&message),
    };
    let imported = match privacy::import_list(db, &salt, scope, &actor.email, opened).await {
        Ok(imported) => imported,
        Err(AppError::Invalid(fields)) => return back(&fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join(" ")),
        Err(e) => return error_response(e),
    };
    let privacy::ListImport { added, known, rejected: bad } = imported;
    let _ = app::audit::record(
        db,
        Some(&actor),
        &actor.email,
        "suppression.import",
        Some(client_id),
        "suppression list",
        &format!("{added} added, {known} already listed, {} rejected", bad.len()),
    )
    .await;
    let mut result = format!("{added} added, {known} already on the list, {} rejected.", bad.len());
    if !bad.is_empty() {
        let shown: Vec<&str> = bad.iter().take(10).map(String::as_str).collect();
        result.push_str(&format!(" Rejected: {}{}", shown.join("; "), if bad.len() > 10 { "; …" } else { "" }));
    }
    redirect(&format!("{page}?result={}", encode(&result)))
}

/// `GET /clients/{id}/orders.csv` with the orders page's filters.
pub async fn orders_csv(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let actor = match signed_in(&state, &headers, Action::ReadOrders(client_id)).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    let day = |key: &str| {
        params
            .get(key)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
    };
    let filter = OrderFilter {
        store_id: params.get("store").and_then(|v| v.parse().ok()),
        status: params.get("status").cloned(),
        from: day("from"),
        until: day("until").map(|t| t + 86_400_000),
    };
    let mut sheet = export::Sheet::new(&[
        "order_id",
        "store",
        "placed_at",
        "status",
        "status_at",
        "buyer_name",
        "buyer_email",
        "country",
        "currency",
        "total",
        "items",
    ]);
    let result = store::for_each_order(&state.server.db, client_id, &filter, |rows| {
        for o in rows {
            let total = o
                .total_minor
                .map(|m| format!("{}{}.{:02}", if m < 0 { "-" } else { "" }, m.abs() / 100, m.abs() % 100))
                .unwrap_or_default();
            sheet.row(&[
                o.platform_order_id.as_str(),
                &o.store_name,
                &app::shell::format_time(o.placed_at),
                o.status.as_str(),
                &app::shell::format_time(o.status_at),
                &o.buyer_name,
                &o.buyer_email,
                &o.country,
                &o.currency,
                &total,
                &o.items.to_string(),
            ])?;
        }
        Ok(())
    })
    .await;
    if let Err(e) = result {
        return error_response(e);
    }
    let _ = app::audit::record(&state.server.db, Some(&actor), &actor.email, "orders.export", Some(client_id), "orders CSV", "").await;
    download("text/csv; charset=utf-8", "orders.csv", sheet.into_bytes())
}

/// `GET /clients/{id}/suppression.csv`: the client's brand lists (erased entries without
/// an address), plus the agency-wide list for admins.
pub async fn suppression_csv(State(state): State<AppState>, Path(client_id): Path<i64>, headers: HeaderMap) -> Response {
    let actor = match signed_in(&state, &headers, Action::ReadOrders(client_id)).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    let db = &state.server.db;
    let mut entries = match privacy::all(db, Some(client_id)).await {
        Ok(e) => e,
        Err(e) => return error_response(e),
    };
    if authorize(&actor, Action::ManageAgencyLists).is_ok() {
        entries.extend(privacy::all(db, None).await.unwrap_or_default());
    }
    let mut sheet = export::Sheet::new(&["address", "list", "reason", "note", "added_at", "added_by"]);
    for e in entries {
        let list = if e.brand_id.is_none() { "agency-wide" } else { e.brand_name.as_str() };
        let written =
            sheet.row(&[e.value.as_str(), list, e.reason.as_str(), &e.note, &app::shell::format_time(e.created_at), &e.created_by]);
        if let Err(e) = written {
            return error_response(e);
        }
    }
    download("text/csv; charset=utf-8", "suppression.csv", sheet.into_bytes())
}

/// `GET /clients/{id}/imports/{job}/rejects.csv`: line, field, reason of every rejected row.
pub async fn rejects_csv(State(state): State<AppState>, Path((client_id, job_id)): Path<(i64, i64)>, headers: HeaderMap) -> Response {
    if let Err(e) = signed_in(&state, &headers, Action::ManageOrders(client_id)).await {
        return error_response(e);
    }
    let db = &state.server.db;
    let job = match orders_api::own_job(db, client_id, job_id).await {
        Ok(j) => j,
        Err(e) => return error_response(e),
    };
    let rejects = match jobs::rejects(db, job.id, None, 0).await {
        Ok(r) => r,
        Err(e) => return error_response(e),
    };
    let mut sheet = export::Sheet::new(&["line", "field", "reason"]);
    for r in rejects {
        if let Err(e) = sheet.row(&[r.line.to_string().as_str(), &r.field, &r.reason]) {
            return error_response(e);
        }
    }
    download("text/csv; charset=utf-8", &format!("import-{job_id}-rejected-rows.csv"), sheet.into_bytes())
}

/// `GET /clients/{id}/customers/{customer}/export.json`: the buyer's data (GDPR access).
pub async fn customer_export(
    State(state): State<AppState>,
    Path((client_id, customer_id)): Path<(i64, i64)>,
    headers: HeaderMap,
) -> Response {
    let db = &state.server.db;
    let actor = match caller_from_headers(db, &headers).await {
        Ok(a) => a,
        Err(e) => return error_response(e),
    };
    match orders_api::export_customer(db, &actor, client_id, customer_id).await {
        Ok(export) => {
            download("application/json", &format!("customer-{customer_id}.json"), serde_json::to_vec_pretty(&export).unwrap_or_default())
        }
        Err(e) => error_response(e),
    }
}

/// `POST /api/v1/orders`: a shop's batch of up to 1,000 orders, authenticated by the
/// store's API key; 200 with one result per order (created, updated, unchanged, rejected).
pub async fn ingest_orders(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let db = &state.server.db;
    // The key first: a request without a valid one is refused before its body is read.
    let target = match key_store(&state, &headers).await {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let body = match upload::read_body(body, crate::API_BODY_LIMIT).await {
        Ok(b) => b,
        Err(message) => return json_error(StatusCode::PAYLOAD_TOO_LARGE, &message),
    };
    let batch: ingest::Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("The body is not {{\"orders\": [...]}}: {e}")),
    };
    if batch.orders.len() > ingest::MAX_BATCH {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("At most {} orders per request; this one has {}.", ingest::MAX_BATCH, batch.orders.len()),
        );
    }
    let mut results = Vec::with_capacity(batch.orders.len());
    let mut good = Vec::new();
    let mut positions = Vec::new();
    for (index, value) in batch.orders.into_iter().enumerate() {
        let id = value.get("id").and_then(|v| v.as_str()).unwrap_or("").to_string();
        match ingest::parse(index, value).and_then(|o| jobs::check(&o).map(|_| o)) {
            Ok(mut order) => {
                positions.push(results.len());
                // Values set aside (the order is stored without them) are told beside it.
                let errors = std::mem::take(&mut order.notes)
                    .into_iter()
                    .map(|note| ingest::FieldProblem { field: note.field, reason: note.reason })
                    .collect();
                results.push(ingest::OrderResult { index, id, result: String::new(), errors });
                good.push(order);
            }
            Err(e) => results.push(ingest::OrderResult {
                index,
                id,
                result: "rejected".into(),
                errors: vec![ingest::FieldProblem { field: e.field, reason: e.reason }],
            }),
        }
    }
    let salt = match app::common::fingerprint::salt(db).await {
        Ok(s) => s,
        Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "Try again."),
    };
    let outcomes = match store::upsert(db, &target, good, "api", &salt).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %app::error::report(&e), "ingest failed");
            return json_error(StatusCode::INTERNAL_SERVER_ERROR, "The batch could not be stored; nothing was written. Try again.");
        }
    };
    for (position, outcome) in positions.into_iter().zip(outcomes) {
        results[position].result = match outcome {
            store::Outcome::Created => "created",
            store::Outcome::Updated => "updated",
            store::Outcome::Unchanged => "unchanged",
        }
        .into();
    }
    let count = |r: &str| results.iter().filter(|x| x.result == r).count();
    let summary = serde_json::json!({
        "created": count("created"),
        "updated": count("updated"),
        "unchanged": count("unchanged"),
        "rejected": count("rejected"),
        "results": results,
    });
    (StatusCode::OK, axum::Json(summary)).into_response()
}

/// Daily: deletes orders past each client's retention period.
pub async fn retention_loop(db: app::db::Db) {
    loop {
        if let Err(e) = orders_api::purge(&db, None).await {
            tracing::error!(error = %app::error::report(&e), "retention purge failed");
        }
        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
    }
}
