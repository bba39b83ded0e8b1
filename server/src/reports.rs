//! Plain HTTP routes of reports and reviews: the report's CSV and Parquet exports, the
//! reviews upload, and `POST /api/v1/reviews` for shops (with the store's API key). Each
//! checks the caller and the client the data belongs to.

use crate::http::{download, error_response, json_error, key_store, redirect, signed_in, too_large};
use crate::upload;
use crate::AppState;
use app::accounts::rules::Action;
use app::reports::api::server::report_for;
use app::reports::reviews::{self, Alerting, ApiBatch, Destination, Recorded};
use app::shell::table::encode;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;

/// `GET /clients/{id}/reports/export.csv?from=&until=`: the report's table.
pub async fn export_csv(state: State<AppState>, client: Path<i64>, params: Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    export(state, client, params, headers, "csv").await
}

/// `GET /clients/{id}/reports/export.parquet?from=&until=`.
pub async fn export_parquet(
    state: State<AppState>,
    client: Path<i64>,
    params: Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    export(state, client, params, headers, "parquet").await
}

async fn export(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    format: &'static str,
) -> Response {
    let actor = match signed_in(&state, &headers, Action::ReadReports(client_id)).await {
        Ok(actor) => actor,
        Err(e) => return error_response(e),
    };
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let report = match report_for(&actor, &state.server.db, &state.server.data_dir, client_id, get("from"), get("until")).await {
        Ok(r) => r,
        Err(e) => return error_response(e),
    };
    let name = format!("starling-report-{client_id}-{}-{}", report.from, report.until);
    let written = tokio::task::spawn_blocking(move || {
        let mut table = app::reports::build::table(&report)?;
        match format {
            "csv" => app::reports::engine::to_csv(&mut table).map(|b| Some(("text/csv; charset=utf-8", "csv", b))),
            "parquet" => app::reports::engine::to_parquet(&mut table).map(|b| Some(("application/vnd.apache.parquet", "parquet", b))),
            _ => Ok(None),
        }
    })
    .await;
    match written {
        Ok(Ok(Some((content_type, extension, body)))) => download(content_type, &format!("{name}.{extension}"), body),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "Exports are export.csv and export.parquet.").into_response(),
        Ok(Err(e)) => error_response(app::reports::engine::polars_error(e)),
        Err(e) => error_response(app::error::AppError::caused("the export task stopped", e)),
    }
}

/// `GET /clients/{id}/usage.csv?month=YYYY-MM`: the usage statement.
pub async fn usage_csv(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let actor = match signed_in(&state, &headers, Action::ReadUsage(client_id)).await {
        Ok(actor) => actor,
        Err(e) => return error_response(e),
    };
    let month = params.get("month").map(String::as_str).unwrap_or("");
    match app::reports::api::server::usage_for(&actor, &state.server.db, client_id, month).await {
        Ok(statement) => {
            let name = format!("starling-usage-{client_id}-{}.csv", statement.month);
            download("text/csv; charset=utf-8", &name, app::reports::usage::csv(&statement).into_bytes())
        }
        Err(e) => error_response(e),
    }
}

/// `POST /clients/{id}/reviews/upload` (multipart: `brand`, then `file`).
pub async fn upload_reviews(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let page = format!("/clients/{client_id}/reviews");
    if let Err(e) = signed_in(&state, &headers, Action::ManageAlerts(client_id)).await {
        return error_response(e);
    }
    let db = &state.server.db;
    let back = |message: &str| redirect(&format!("{page}?error={}", encode(message)));
    let mut brand = None;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return back(&format!("The upload was interrupted: {e}")),
        };
        match field.name() {
            Some("brand") => {
                let id = match upload::field_text(field).await {
                    Ok(text) => text.trim().parse::<i64>().ok(),
                    Err(message) => return back(&message),
                };
                brand = match id {
                    Some(id) => app::clients::store::brand(db, id).await.ok().flatten().filter(|b| b.client_id == client_id),
                    None => None,
                };
            }
            Some("file") => match upload::spool(field, &state.server.data_dir, state.server.max_upload_bytes, too_large).await {
                Ok(spooled) => file = Some(spooled),
                Err(message) => return back(&message),
            },
            _ => {}
        }
    }
    let Some(brand) = brand else { return back("Pick one of this client's brands.") };
    let alerting = Alerting { mailer: &state.server.mailer, public_url: &state.server.public_url };
    let to = Destination { client_id, brand_id: brand.id, store_id: None };
    let Some(file) = file else { return back("Choose a file to upload.") };
    let opened = match file.open() {
        Ok(f) => std::io::BufReader::with_capacity(256 * 1024, f),
        Err(message) => return back(&message),
    };
    match reviews::import(db, &alerting, to, opened).await {
        Ok(r) => {
            let summary = format!(
                "{} reviews imported ({} attributed to a request, {} negative raised alerts); {} already known; {} rows rejected.",
                r.created,
                r.attributed,
                r.alerts,
                r.duplicates,
                r.rejected.len()
            );
            let mut problems: Vec<String> =
                r.rejected.iter().take(20).map(|(line, field, reason)| format!("Line {line}, {field}: {reason}")).collect();
            if r.rejected.len() > 20 {
                problems.push(format!("… and {} more rows.", r.rejected.len() - 20));
            }
            redirect(&format!("{page}?imported={}&problems={}", encode(&summary), encode(&problems.join("\n"))))
        }
        Err(e) => back(&match e {
            app::error::AppError::Invalid(fields) => fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        }),
    }
}

#[derive(Serialize)]
struct ReviewResult {
    index: usize,
    id: String,
    /// created | duplicate | rejected
    result: String,
    attributed: bool,
    alert: Option<i64>,
    errors: Vec<app::orders::ingest::FieldProblem>,
}

/// `POST /api/v1/reviews` with `Authorization: Bearer <store API key>`: up to 1,000 reviews
/// as `{"reviews": [{"id", "order_id", "email", "rating", "title", "text", "author", "date"}]}`,
/// each with its own result.
pub async fn ingest_reviews(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Body) -> Response {
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
    let batch: ApiBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("The body is not {{\"reviews\": [...]}}: {e}")),
    };
    if batch.reviews.len() > reviews::MAX_BATCH {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("At most {} reviews per request; this one has {}.", reviews::MAX_BATCH, batch.reviews.len()),
        );
    }
    let alerting = Alerting { mailer: &state.server.mailer, public_url: &state.server.public_url };
    // The key's own store: a shop's key never writes another store's or client's reviews.
    let to = Destination { client_id: target.client_id, brand_id: target.brand_id, store_id: Some(target.store_id) };
    let mut results = Vec::with_capacity(batch.reviews.len());
    for (index, review) in batch.reviews.into_iter().enumerate() {
        let id = review.id.clone();
        let mut result = ReviewResult { index, id, result: String::new(), attributed: false, alert: None, errors: vec![] };
        match review.parse(index) {
            Err(e) => {
                result.result = "rejected".into();
                result.errors.push(app::orders::ingest::FieldProblem { field: e.field, reason: e.reason });
            }
            Ok(incoming) => {
                match reviews::record(db, &alerting, to, &incoming, "api").await {
                    Ok(Recorded::Created { attributed, alert }) => {
                        result.result = "created".into();
                        result.attributed = attributed;
                        result.alert = alert;
                    }
                    Ok(Recorded::Duplicate) => result.result = "duplicate".into(),
                    Err(e) => {
                        tracing::error!(error = %app::error::report(&e), "review ingest failed");
                        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "The reviews could not be stored; earlier ones in the batch were. Send the batch again: known reviews are skipped.");
                    }
                }
            }
        }
        results.push(result);
    }
    let count = |r: &str| results.iter().filter(|x| x.result == r).count();
    let status = if count("rejected") == results.len() && !results.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (
        status,
        axum::Json(serde_json::json!({
            "created": count("created"),
            "duplicate": count("duplicate"),
            "rejected": count("rejected"),
            "results": results,
        })),
    )
        .into_response()
}
