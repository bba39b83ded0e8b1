//! The audit log as the agency admin reads it: its server function and page. It sits with
//! accounts, which decides who may read it; the log itself (`audit`) is written by every
//! capability and depends on none.

use crate::audit::AuditEntry;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use crate::shell::{format_time, Breadcrumbs, EmptyState, ErrorBox, Pager, SearchBox, SortHeader};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::hooks::use_query_map;

#[server(prefix = "/rpc", endpoint = "list_audit", input = Json)]
pub async fn list_audit(query: ListQuery) -> Result<Page<AuditEntry>, AppError> {
    use super::rules::{authorize, Action};
    crate::request::scoped(async {
        let actor = super::api::caller().await?;
        authorize(&actor, Action::ReadAuditLog)?;
        crate::audit::store::list(&crate::ServerState::get()?.db, &query).await
    })
    .await
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params(|k| p.get(k))
    });
    let entries = Resource::new(move || query.get(), list_audit);
    view! {
        <Breadcrumbs items=vec![("Audit log".into(), String::new())]/>
        <div class="page-head">
            <h1>"Audit log"</h1>
            <SearchBox query=query placeholder="Filter by action, person or subject"/>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || entries.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(page) if page.rows.is_empty() => view! {
                    <EmptyState title="Nothing recorded yet"><p>"Sign-ins and changes will appear here."</p></EmptyState>
                }.into_any(),
                Ok(page) => view! {
                    <div class="table-wrap">
                        <table>
                            <thead><tr>
                                <SortHeader label="When" column="at" query=query/>
                                <SortHeader label="Who" column="actor" query=query/>
                                <SortHeader label="Action" column="action" query=query/>
                                <th>"Client"</th><th>"Subject"</th><th>"Detail"</th>
                            </tr></thead>
                            <tbody>
                                {page.rows.clone().into_iter().map(|e| view! {
                                    <tr>
                                        <td data-label="When">{format_time(e.at)}</td>
                                        <td data-label="Who">{e.actor_email}</td>
                                        <td data-label="Action"><code>{e.action}</code></td>
                                        <td data-label="Client">{e.client_name.unwrap_or_default()}</td>
                                        <td data-label="Subject">{e.subject}</td>
                                        <td data-label="Detail">{e.detail}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <Pager page=page query=query.get()/>
                }.into_any(),
            })}
        </Transition>
    }
}
