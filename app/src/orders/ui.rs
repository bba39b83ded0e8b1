//! Pages of orders in: the orders list, a customer, imports (upload, preview, column
//! mapping, progress, rejected rows), suppression and privacy, and a store's API keys.

use super::api::*;
use super::model::*;
use crate::shell::forms::ActionButton;
use crate::shell::table::ListQuery;
use crate::shell::ClientTabs;
use crate::shell::{
    field_error, format_time, last_answer, Breadcrumbs, EmptyState, ErrorBox, FormStatus, Pager, SearchBox, SelectField, SortHeader,
    TextArea, TextField,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::shell::route_id as param;

/// "EUR 59.80" for minor units.
pub fn money(currency: &str, minor: Option<i64>) -> String {
    match minor {
        None => "—".into(),
        Some(m) => {
            let sign = if m < 0 { "-" } else { "" };
            format!("{currency} {sign}{}.{:02}", m.abs() / 100, m.abs() % 100).trim().to_string()
        }
    }
}

fn day_to_millis(day: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp_millis())
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params_with(|k| p.get(k), &["store", "status", "from", "until"])
    });
    let data = Resource::new(
        move || (client_id.get(), query.get()),
        |(client_id, query)| {
            let filter = OrderFilter {
                store_id: query.filter("store").and_then(|v| v.parse().ok()),
                status: query.filter("status").map(str::to_string),
                from: query.filter("from").and_then(day_to_millis),
                until: query.filter("until").and_then(day_to_millis).map(|t| t + 86_400_000),
            };
            list_orders(client_id, filter, query)
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading orders…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <OrdersView data=d client_id=client_id.get() query=query/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn OrdersView(data: OrdersData, client_id: i64, query: Signal<ListQuery>) -> impl IntoView {
    let navigate = use_navigate();
    let q = query.get_untracked();
    let store = RwSignal::new(q.filter("store").unwrap_or("").to_string());
    let status = RwSignal::new(q.filter("status").unwrap_or("").to_string());
    let from = RwSignal::new(q.filter("from").unwrap_or("").to_string());
    let until = RwSignal::new(q.filter("until").unwrap_or("").to_string());
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let filters = [
            ("store", store.get_untracked()),
            ("status", status.get_untracked()),
            ("from", from.get_untracked()),
            ("until", until.get_untracked()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let next = ListQuery { filters, page: 1, ..query.get_untracked() };
        navigate(&format!("/clients/{client_id}/orders{}", next.to_search()), Default::default());
    };
    let page = data.page.clone();
    let filtered = !q.filters.is_empty() || !q.q.is_empty();
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (data.client_name.clone(), format!("/clients/{client_id}")), ("Orders".into(), String::new())]/>
        <div class="page-head">
            <h1>"Orders"</h1>
            <SearchBox query=query placeholder="Order id, buyer name or e-mail"/>
            {data.can_manage.then(|| view! { <A href=format!("/clients/{client_id}/imports") attr:class="button primary">"Import orders"</A> })}
            <a class="button" href=move || format!("/clients/{client_id}/orders.csv{}", query.get().to_search()) download="">"Export CSV"</a>
        </div>
        <ClientTabs client_id=client_id current="orders"/>
        <form class="filters" method="get" aria-label="Filter orders" on:submit=apply>
            <label>"Store"
                <select name="store" bind:value=store aria-label="Store">
                    <option value="">"All stores"</option>
                    {data.stores.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                </select>
            </label>
            <label>"Status"
                <select name="status" bind:value=status aria-label="Status">
                    <option value="">"Any status"</option>
                    {OrderStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label>"From" <input type="date" name="from" bind:value=from aria-label="Placed from"/></label>
            <label>"Until" <input type="date" name="until" bind:value=until aria-label="Placed until"/></label>
            <button type="submit">"Apply"</button>
            {filtered.then(|| view! { <A href=format!("/clients/{client_id}/orders")>"Clear filters"</A> })}
        </form>
        {if page.rows.is_empty() {
            view! {
                <EmptyState title=if filtered { "No orders match" } else { "No orders yet" }>
                    <p>{if filtered { "Change or clear the filters." } else { "Upload a platform export on the Imports tab, or push orders with a store's API key." }}</p>
                </EmptyState>
            }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="orders">
                        <thead><tr>
                            <SortHeader label="Order" column="order" query=query/>
                            <th>"Store"</th>
                            <th>"Buyer"</th>
                            <SortHeader label="Country" column="country" query=query/>
                            <SortHeader label="Placed" column="placed" query=query/>
                            <SortHeader label="Status" column="status" query=query/>
                            <SortHeader label="Total" column="total" query=query numeric=true/>
                            <th class="num">"Items"</th>
                        </tr></thead>
                        <tbody>
                            {page.rows.clone().into_iter().map(|o| {
                                let buyer = if o.buyer_name.is_empty() { o.buyer_email.clone() } else { o.buyer_name.clone() };
                                let buyer = if buyer.is_empty() { "—".to_string() } else { buyer };
                                view! {
                                    <tr>
                                        <td data-label="Order"><code>{o.platform_order_id.clone()}</code></td>
                                        <td data-label="Store">{o.store_name.clone()}</td>
                                        <td data-label="Buyer">{match o.customer_id {
                                            Some(c) => view! { <A href=format!("/clients/{client_id}/customers/{c}")>{buyer}</A> }.into_any(),
                                            None => view! { <span class="muted">{buyer}</span> }.into_any(),
                                        }}</td>
                                        <td data-label="Country">{o.country.clone()}</td>
                                        <td data-label="Placed">{format_time(o.placed_at)}</td>
                                        <td data-label="Status"><span class=format!("badge status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                                        <td data-label="Total" class="num">{money(&o.currency, o.total_minor)}</td>
                                        <td data-label="Items" class="num">{o.items}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <Pager page=page.clone() query=query.get_untracked()/>
            }.into_any()
        }}
    }
}

#[component]
pub fn CustomerPage() -> impl IntoView {
    let client_id = param("id");
    let customer_id = param("customer");
    let consent = ServerAction::<RecordConsent>::new();
    let data = Resource::new(move || (client_id.get(), customer_id.get(), consent.version().get()), |(c, id, _)| get_customer(c, id));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading customer…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <CustomerView detail=d client_id=client_id.get() consent=consent/> }.into_any(),
            })}
        </Transition>
    }
}

/// Records a consent given outside the shop (a signed form, a call), with its words.
#[component]
fn ConsentForm(client_id: i64, customer_id: i64, consent: ServerAction<RecordConsent>) -> impl IntoView {
    let answer = last_answer(consent);
    let channel = RwSignal::new("sms".to_string());
    let scope = RwSignal::new("marketing".to_string());
    let wording = RwSignal::new(String::new());
    let given_on = RwSignal::new(String::new());
    let error = move |field: &'static str| crate::shell::field_error(answer, field);
    let channels = Signal::derive(|| {
        vec![
            ("sms".to_string(), "SMS".to_string()),
            ("whatsapp".to_string(), "WhatsApp".to_string()),
            ("email".to_string(), "E-mail".to_string()),
        ]
    });
    let scopes = Signal::derive(|| {
        vec![
            ("marketing".to_string(), "Marketing (review requests, offers, surveys)".to_string()),
            ("service".to_string(), "Service messages only".to_string()),
        ]
    });
    view! {
        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<RecordConsent>()} aria-label="Record a consent" on:submit=move |ev| {
            ev.prevent_default();
            consent.dispatch(RecordConsent { form: ConsentEntry {
                client_id, customer_id, channel: channel.get_untracked(), scope: scope.get_untracked(),
                wording: wording.get_untracked(), given_on: given_on.get_untracked(),
            }});
        }>
            <h2>"Record a consent"</h2>
            <p class="muted">"A consent given outside the shop: a signed form, a call. Texts need the words the buyer agreed to."</p>
            <FormStatus value=answer/>
            <input type="hidden" name="form[client_id]" value=client_id.to_string()/>
            <input type="hidden" name="form[customer_id]" value=customer_id.to_string()/>
            <SelectField label="Channel" name="form[channel]" value=channel error=error("channel") choices=channels/>
            <SelectField label="Scope" name="form[scope]" value=scope error=error("scope") choices=scopes/>
            <TextArea label="Words the buyer agreed to" name="form[wording]" value=wording error=error("wording") maxlength=2000/>
            <TextField label="Given on (empty: today)" name="form[given_on]" kind="date" value=given_on error=error("given_on")/>
            <div class="actions"><button type="submit" class="primary" disabled=move || consent.pending().get()>"Record consent"</button></div>
        </form>
    }
}

#[component]
fn CustomerView(detail: CustomerDetail, client_id: i64, consent: ServerAction<RecordConsent>) -> impl IntoView {
    let c = detail.customer.clone();
    let erase = ServerAction::<EraseCustomer>::new();
    let erased = last_answer(erase);
    let confirm = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = erased.get() {
            navigate(&format!("/clients/{client_id}/orders"), Default::default());
        }
    });
    let shown = |v: &str| if v.is_empty() { "—".to_string() } else { v.to_string() };
    let title = if c.name.is_empty() { shown(&c.email) } else { c.name.clone() };
    let customer_id = c.id;
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), ("Orders".into(), format!("/clients/{client_id}/orders")), (title.clone(), String::new())]/>
        <div class="page-head">
            <h1>{title}</h1>
            {detail.suppressed.then(|| view! { <span class="badge danger">"Suppressed: never contacted"</span> })}
        </div>
        <dl class="facts">
            <dt>"Brand"</dt><dd>{c.brand_name.clone()}</dd>
            <dt>"E-mail"</dt><dd>{shown(&c.email)}</dd>
            <dt>"Phone"</dt><dd>{shown(&c.phone)}</dd>
            <dt>"Country"</dt><dd>{shown(&c.country)}</dd>
            <dt>"Language"</dt><dd>{shown(&c.locale)}</dd>
            <dt>"Customer since"</dt><dd>{format_time(c.created_at)}</dd>
            <dt>"Consents"</dt>
            <dd>{if detail.consents.is_empty() {
                if detail.opt_in_required { "None recorded: review requests by e-mail need opt-in in this country, and texts need consent everywhere.".to_string() } else { "None recorded (texts need recorded consent).".to_string() }
            } else {
                String::new()
            }}
            {(!detail.consents.is_empty()).then(|| view! {
                <ul class="consents">
                    {detail.consents.iter().map(|k| {
                        let channel = match k.channel.as_str() {
                            "sms" => "SMS",
                            "whatsapp" => "WhatsApp",
                            _ => "E-mail",
                        };
                        let scope = if k.scope.is_empty() { String::new() } else { format!(", {}", k.scope) };
                        view! {
                            <li>
                                <strong>{channel}</strong>{format!(" ({}{scope}, {})", k.source, format_time(k.given_at))}
                                {(!k.wording.is_empty()).then(|| view! { <blockquote class="wording">{k.wording.clone()}</blockquote> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}</dd>
        </dl>
        <section>
            <h2>"Orders"</h2>
            <div class="table-wrap"><table>
                <thead><tr><th>"Order"</th><th>"Store"</th><th>"Placed"</th><th>"Status"</th><th class="num">"Total"</th></tr></thead>
                <tbody>
                    {detail.orders.iter().map(|o| view! {
                        <tr>
                            <td data-label="Order"><code>{o.platform_order_id.clone()}</code></td>
                            <td data-label="Store">{o.store_name.clone()}</td>
                            <td data-label="Placed">{format_time(o.placed_at)}</td>
                            <td data-label="Status"><span class=format!("badge status-{}", o.status.as_str())>{o.status.as_str()}</span>" "<span class="muted">{format_time(o.status_at)}</span></td>
                            <td data-label="Total" class="num">{money(&o.currency, o.total_minor)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
        <section>
            <h2>"Messages"</h2>
            <p class="muted">"No messages sent to this buyer yet."</p>
        </section>
        {detail.can_manage.then(|| view! { <ConsentForm client_id=client_id customer_id=customer_id consent=consent/> })}
        {detail.can_manage.then(|| view! {
            <section class="card danger-zone">
                <h2>"Buyer's data requests"</h2>
                <p>"On the buyer's request, download everything Starling holds about them, or erase them: their orders keep only what is not personal, and their address stays on the brand's suppression list as a salted hash so they are never contacted again."</p>
                <div class="actions">
                    <a class="button" href=format!("/clients/{client_id}/customers/{customer_id}/export.json") download="">"Export data (JSON)"</a>
                    <button class="danger" on:click=move |_| confirm.set(true)>"Erase buyer…"</button>
                </div>
                <FormStatus value=erased/>
                <Show when=move || confirm.get()>
                    <div class="confirm" role="alertdialog" aria-label="Confirm erasure">
                        <p><strong>"Erase this buyer for good?"</strong>" This cannot be undone."</p>
                        <button class="danger" disabled=move || erase.pending().get()
                            on:click=move |_| { erase.dispatch(EraseCustomer { client_id, customer_id }); }>"Yes, erase"</button>
                        <button on:click=move |_| confirm.set(false)>"Cancel"</button>
                    </div>
                </Show>
            </section>
        })}
    }
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let error = move || params.get().get("error");
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || (client_id.get(), tick.get()), |(c, _)| list_imports(c));
    // While a job runs, refresh the list (the browser only: effects do not run on the server).
    Effect::new(move |_| {
        if let Some(Ok(d)) = data.get() {
            if d.jobs.iter().any(|j| j.state.in_progress()) {
                set_timeout(move || tick.update(|t| *t += 1), std::time::Duration::from_millis(800));
            }
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading imports…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <ImportsView data=d client_id=client_id.get() error=error()/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ImportsView(data: ImportsData, client_id: i64, error: Option<String>) -> impl IntoView {
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (data.client_name.clone(), format!("/clients/{client_id}")), ("Imports".into(), String::new())]/>
        <h1>"Imports"</h1>
        <ClientTabs client_id=client_id current="imports"/>
        {if data.stores.is_empty() {
            view! { <EmptyState title="No stores yet"><p>"Add a store on the client's overview first: orders are imported into a store."</p></EmptyState> }.into_any()
        } else {
            view! {
                <form class="card narrow upload" method="post" enctype="multipart/form-data" action=format!("/clients/{client_id}/imports/upload") aria-label="Upload orders">
                    <h2>"Upload an order export"</h2>
                    <p class="muted">{format!(
                        "Shopify orders export (CSV), Amazon order report (TSV), eBay orders report (CSV), or any CSV (you map its columns once per store). UTF-8, UTF-16 or Windows-1252. Up to {} MB.",
                        data.max_upload_mb
                    )}</p>
                    {error.map(|e| view! { <div class="alert error" role="alert">{e}</div> })}
                    <div class="field">
                        <label for="upload-store">"Store *"</label>
                        <select id="upload-store" name="store" required=true>
                            {data.stores.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="upload-file">"File *"</label>
                        <input id="upload-file" type="file" name="file" required=true accept=".csv,.tsv,.txt,text/csv,text/tab-separated-values"/>
                    </div>
                    <div class="actions"><button type="submit" class="primary">"Upload and preview"</button></div>
                </form>
            }.into_any()
        }}
        <h2>"Recent imports"</h2>
        {let jobs = data.jobs.clone();
        if jobs.is_empty() {
            view! { <EmptyState title="No imports yet"><p>"Uploaded files and their results appear here."</p></EmptyState> }.into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="imports">
                    <thead><tr><th>"File"</th><th>"Store"</th><th>"Format"</th><th>"State"</th><th>"Progress"</th><th class="num">"New"</th><th class="num">"Updated"</th><th class="num">"Unchanged"</th><th class="num">"Rejected"</th><th>"Uploaded"</th></tr></thead>
                    <tbody>
                        {jobs.into_iter().map(|j| { let percent = j.percent(); view! {
                            <tr>
                                <td data-label="File"><A href=format!("/clients/{client_id}/imports/{}", j.id)>{j.file_name.clone()}</A></td>
                                <td data-label="Store">{j.store_name.clone()}</td>
                                <td data-label="Format">{j.layout.clone()}</td>
                                <td data-label="State"><span class=format!("badge job-{}", j.state.as_str())>{j.state.label()}</span></td>
                                <td data-label="Progress"><progress max="100" value=percent.to_string()>{format!("{percent}%")}</progress></td>
                                <td data-label="New" class="num">{j.orders_new}</td>
                                <td data-label="Updated" class="num">{j.orders_updated}</td>
                                <td data-label="Unchanged" class="num">{j.orders_unchanged}</td>
                                <td data-label="Rejected" class="num">{j.rows_rejected}</td>
                                <td data-label="Uploaded">{format_time(j.created_at)}</td>
                            </tr>
                        }}).collect_view()}
                    </tbody>
                </table></div>
            }.into_any()
        }}
    }
}

#[component]
pub fn ImportJobPage() -> impl IntoView {
    let client_id = param("id");
    let job_id = param("job");
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || (client_id.get(), job_id.get(), tick.get()), |(c, j, _)| get_import(c, j));
    Effect::new(move |_| {
        if let Some(Ok(d)) = data.get() {
            if d.job.state.in_progress() {
                set_timeout(move || tick.update(|t| *t += 1), std::time::Duration::from_millis(700));
            }
        }
    });
    let refresh = Callback::new(move |_: ()| tick.update(|t| *t += 1));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading import…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <ImportJobView detail=d client_id=client_id.get() refresh=refresh/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ImportJobView(detail: ImportDetail, client_id: i64, refresh: Callback<()>) -> impl IntoView {
    let job = detail.job.clone();
    let job_id = job.id;
    let start = ServerAction::<StartImport>::new();
    let started = last_answer(start);
    Effect::new(move |_| {
        if let Some(Ok(())) = started.get() {
            refresh.run(());
        }
    });
    let waiting = job.state == ImportState::Uploaded;
    let running = job.state.in_progress();
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), ("Imports".into(), format!("/clients/{client_id}/imports")), (job.file_name.clone(), String::new())]/>
        <div class="page-head">
            <h1>{job.file_name.clone()}</h1>
            <span class=format!("badge job-{}", job.state.as_str())>{job.state.label()}</span>
        </div>
        <dl class="facts">
            <dt>"Store"</dt><dd>{job.store_name.clone()}</dd>
            <dt>"Size"</dt><dd>{format!("{:.1} MB", job.size_bytes as f64 / 1_048_576.0)}</dd>
            <dt>"Uploaded"</dt><dd>{format!("{} by {}", format_time(job.created_at), job.created_by)}</dd>
        </dl>
        {(!detail.problem.is_empty()).then(|| view! { <div class="alert error" role="alert">{detail.problem.clone()}</div> })}
        {(running || job.state.has_ended()).then(|| view! {
            <section class="card">
                <h2>"Progress"</h2>
                <progress class="wide" max="100" value=job.percent().to_string() aria-label="Import progress">{format!("{}%", job.percent())}</progress>
                <p>{format!("{}% of the file read · line {}", job.percent(), job.rows_read)}</p>
                <div class="tiles">
                    <div class="tile"><span class="tile-n">{job.orders_new}</span><span>"new orders"</span></div>
                    <div class="tile"><span class="tile-n">{job.orders_updated}</span><span>"moved forward"</span></div>
                    <div class="tile"><span class="tile-n">{job.orders_unchanged}</span><span>"already known"</span></div>
                    <div class="tile"><span class="tile-n">{job.rows_rejected}</span><span>"rows rejected"</span></div>
                    {(job.values_set_aside > 0).then(|| view! {
                        <div class="tile"><span class="tile-n">{job.values_set_aside}</span><span>"values set aside (orders kept)"</span></div>
                    })}
                </div>
                {(!job.message.is_empty()).then(|| view! { <p class="result" role="status">{job.message.clone()}</p> })}
            </section>
        })}
        {detail.preview.clone().map(|p| view! {
            <section>
                <h2>"Preview"</h2>
                <p>{format!("Detected: {} · {} · delimiter {}", p.layout, p.encoding, p.delimiter)}</p>
                <PreviewTable preview=p/>
            </section>
        })}
        {detail.mapping.clone().map(|m| view! { <MappingForm client_id=client_id job_id=job_id headers=detail.headers.clone() mapping=m refresh=refresh/> })}
        {waiting.then(|| view! {
            <div class="actions">
                <FormStatus value=started/>
                <ActionButton action=start input=StartImport { client_id, job_id } label="Run import" class="primary"/>
            </div>
        })}
        {(job.rows_rejected + job.values_set_aside > 0).then(|| view! {
            <section>
                <div class="section-head">
                    <h2>{if job.values_set_aside == 0 { "Rejected rows" } else { "Rejected rows and values set aside" }}</h2>
                    <a class="button" href=format!("/clients/{client_id}/imports/{job_id}/rejects.csv") download="">"Download report (CSV)"</a>
                </div>
                <p class="muted">"Every other row was imported. A row whose reason ends \"the order is kept without it\" was imported without that value. Fix the rows in the file and import it again: orders already imported are not duplicated."</p>
                <div class="table-wrap"><table class="rejects">
                    <thead><tr><th class="num">"Line"</th><th>"Field"</th><th>"Reason"</th></tr></thead>
                    <tbody>
                        {detail.rejects.iter().map(|e| view! {
                            <tr><td data-label="Line" class="num">{e.line}</td><td data-label="Field">{e.field.clone()}</td><td data-label="Reason">{e.reason.clone()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
                {(job.rows_rejected + job.values_set_aside > detail.rejects.len() as i64).then(|| view! { <p class="muted">{format!("Showing the first {} of {}; the report has them all.", detail.rejects.len(), job.rows_rejected + job.values_set_aside)}</p> })}
            </section>
        })}
    }
}

#[component]
fn PreviewTable(preview: Preview) -> impl IntoView {
    view! {
        {(!preview.errors.is_empty()).then(|| view! {
            <ul class="alert warn">
                {preview.errors.iter().map(|e| view! { <li>{format!("Line {}, {}: {}", e.line, e.field, e.reason)}</li> }).collect_view()}
            </ul>
        })}
        <div class="table-wrap"><table class="preview">
            <thead><tr><th class="num">"Line"</th><th>"Order id"</th><th>"Placed"</th><th>"Status"</th><th>"Buyer"</th><th>"E-mail"</th><th>"Country"</th><th>"Items"</th><th class="num">"Total"</th></tr></thead>
            <tbody>
                {preview.orders.iter().map(|o| view! {
                    <tr>
                        <td data-label="Line" class="num">{o.line}</td>
                        <td data-label="Order id"><code>{o.platform_order_id.clone()}</code></td>
                        <td data-label="Placed">{o.placed_at.map(format_time).unwrap_or_default()}</td>
                        <td data-label="Status">{o.status.map(|s| s.as_str()).unwrap_or("")}</td>
                        <td data-label="Buyer">{o.buyer_name.clone()}</td>
                        <td data-label="E-mail">{o.buyer_email.clone()}</td>
                        <td data-label="Country">{o.country.clone()}</td>
                        <td data-label="Items">{o.items.iter().map(|i| format!("{} × {}", i.quantity, i.product_name)).collect::<Vec<_>>().join("; ")}</td>
                        <td data-label="Total" class="num">{money(&o.currency, o.total_minor)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
fn MappingForm(client_id: i64, job_id: i64, headers: Vec<String>, mapping: Mapping, refresh: Callback<()>) -> impl IntoView {
    let save = ServerAction::<SaveMapping>::new();
    let saved = last_answer(save);
    Effect::new(move |_| {
        if let Some(Ok(())) = saved.get() {
            refresh.run(());
        }
    });
    let choices: Vec<(String, String)> =
        std::iter::once((String::new(), "— not in the file —".to_string())).chain(headers.iter().map(|h| (h.clone(), h.clone()))).collect();
    let slots: Vec<(&'static str, &'static str, bool, RwSignal<String>)> =
        FIELDS.iter().map(|(key, label, required)| (*key, *label, *required, RwSignal::new(mapping.get(key).to_string()))).collect();
    let values = slots.clone();
    view! {
        <form class="card" method="post" action={crate::shell::forms::url_of::<SaveMapping>()} aria-label="Column mapping" on:submit=move |ev| {
            ev.prevent_default();
            let mut m = Mapping::default();
            for (key, _, _, value) in &values {
                m.set(key, value.get_untracked());
            }
            save.dispatch(SaveMapping { client_id, job_id, mapping: m });
        }>
            <h2>"Map the columns"</h2>
            <p class="muted">"This file is not a known platform export. Say which column holds what; the mapping is saved for this store and used for its next files."</p>
            <FormStatus value=saved/>
            <div class="grid-2">
                {slots.into_iter().map(|(key, label, _, value)| view! {
                    <SelectField label=label name=key value=value error=field_error(saved, key) choices=Signal::stored(choices.clone())/>
                }).collect_view()}
            </div>
            <div class="actions"><button type="submit" class="primary" disabled=move || save.pending().get()>"Save mapping and preview"</button></div>
        </form>
    }
}

#[component]
pub fn PrivacyPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params(|k| p.get(k))
    });
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || (client_id.get(), query.get(), tick.get()), |(c, q, _)| list_suppressions(c, q));
    let refresh = Callback::new(move |_: ()| tick.update(|t| *t += 1));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <PrivacyView data=d client_id=client_id.get() query=query refresh=refresh/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn PrivacyView(data: PrivacyData, client_id: i64, query: Signal<ListQuery>, refresh: Callback<()>) -> impl IntoView {
    let params = use_query_map();
    let upload_error = move || params.get().get("error");
    let upload_result = move || params.get().get("result");
    let add = ServerAction::<AddSuppression>::new();
    let added = last_answer(add);
    let remove = ServerAction::<RemoveSuppression>::new();
    let removed = last_answer(remove);
    let retention = ServerAction::<SetRetention>::new();
    let retained = last_answer(retention);
    Effect::new(move |_| {
        if matches!(added.get(), Some(Ok(_))) || matches!(removed.get(), Some(Ok(_))) || matches!(retained.get(), Some(Ok(_))) {
            refresh.run(());
        }
    });
    let address = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let first_brand = data.brands.first().map(|b| b.0.to_string()).unwrap_or_default();
    let brand = RwSignal::new(first_brand);
    let months = RwSignal::new(data.retention_months.to_string());
    let mut lists: Vec<(String, String)> = data.brands.iter().map(|(id, name)| (id.to_string(), format!("{name} (brand list)"))).collect();
    if data.can_edit_agency {
        lists.push(("agency".into(), "Agency-wide list (every client)".into()));
    }
    let page = data.page.clone();
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (data.client_name.clone(), format!("/clients/{client_id}")), ("Suppression & privacy".into(), String::new())]/>
        <div class="page-head">
            <h1>"Suppression & privacy"</h1>
            <SearchBox query=query placeholder="Search addresses"/>
            <a class="button" href=format!("/clients/{client_id}/suppression.csv") download="">"Export CSV"</a>
        </div>
        <ClientTabs client_id=client_id current="privacy"/>
        <p class="muted">"Nobody on these lists is ever contacted: the brand's own list and the agency-wide list both apply. Erased buyers appear without their address: only a salted hash is kept."</p>
        {data.can_manage.then(|| view! {
            <div class="grid-2">
                <form class="card" method="post" action={crate::shell::forms::url_of::<AddSuppression>()} aria-label="Add to suppression list" on:submit=move |ev| {
                    ev.prevent_default();
                    let b = brand.get_untracked();
                    add.dispatch(AddSuppression { client_id, brand_id: b.parse().ok(), address: address.get_untracked(), note: note.get_untracked() });
                }>
                    <h2>"Add an address"</h2>
                    <FormStatus value=added/>
                    <TextField label="E-mail or phone (+country code)" name="address" value=address error=field_error(added, "address") required=true/>
                    <SelectField label="List" name="brand" value=brand error=field_error(added, "brand") choices=Signal::stored(lists.clone())/>
                    <TextField label="Note" name="note" value=note error=field_error(added, "note")/>
                    <div class="actions"><button type="submit" class="primary" disabled=move || add.pending().get()>"Add"</button></div>
                </form>
                <form class="card" method="post" enctype="multipart/form-data" action=format!("/clients/{client_id}/suppression/upload") aria-label="Import suppression list">
                    <h2>"Import a list (CSV)"</h2>
                    <p class="muted">"Columns: email (or phone), reason (unsubscribed, hard bounce, complaint, manual), note. Bad rows are reported; the rest are added."</p>
                    {upload_error().map(|e| view! { <div class="alert error" role="alert">{e}</div> })}
                    {upload_result().map(|r| view! { <div class="alert ok" role="status">{r}</div> })}
                    <div class="field">
                        <label for="suppression-brand">"List"</label>
                        <select id="suppression-brand" name="brand">
                            {lists.iter().map(|(v, l)| view! { <option value=v.clone()>{l.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field"><label for="suppression-file">"File"</label><input id="suppression-file" type="file" name="file" required=true accept=".csv,text/csv"/></div>
                    <div class="actions"><button type="submit">"Import"</button></div>
                </form>
            </div>
        })}
        <FormStatus value=removed/>
        {if page.rows.is_empty() {
            view! { <EmptyState title="Nobody is suppressed"><p>"Unsubscribes, hard bounces, complaints and erased buyers land here automatically."</p></EmptyState> }.into_any()
        } else {
            let can = data.can_manage;
            view! {
                <div class="table-wrap"><table class="suppressions">
                    <thead><tr>
                        <SortHeader label="Address" column="value" query=query/>
                        <SortHeader label="List" column="brand" query=query/>
                        <SortHeader label="Reason" column="reason" query=query/>
                        <th>"Note"</th>
                        <SortHeader label="Added" column="created" query=query/>
                        <th></th>
                    </tr></thead>
                    <tbody>
                        {page.rows.clone().into_iter().map(|e| {
                            let removable = can && e.reason.is_removable();
                            let reason = e.reason.label();
                            let id = e.id;
                            view! {
                                <tr>
                                    <td data-label="Address">{if e.value.is_empty() { view! { <span class="muted">"(erased: hash only)"</span> }.into_any() } else { view! { <code>{e.value.clone()}</code> }.into_any() }}</td>
                                    <td data-label="List">{if e.brand_id.is_none() { "Agency-wide".to_string() } else { e.brand_name.clone() }}</td>
                                    <td data-label="Reason">{reason}</td>
                                    <td data-label="Note">{e.note.clone()}</td>
                                    <td data-label="Added">{format!("{} · {}", format_time(e.created_at), e.created_by)}</td>
                                    <td>{removable.then(|| view! { <button class="link" on:click=move |_| { remove.dispatch(RemoveSuppression { client_id, id }); }>"Remove"</button> })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table></div>
                <Pager page=page.clone() query=query.get_untracked()/>
            }.into_any()
        }}
        <section class="card narrow">
            <h2>"Data retention"</h2>
            <p class="muted">{if data.retention_months == 0 { "Orders are kept until deleted.".to_string() } else { format!("Orders older than {} months are deleted every day.", data.retention_months) }}</p>
            {data.can_set_retention.then(|| view! {
                <form method="post" action={crate::shell::forms::url_of::<SetRetention>()} aria-label="Retention" on:submit=move |ev| {
                    ev.prevent_default();
                    retention.dispatch(SetRetention { client_id, months: months.get_untracked().trim().parse().unwrap_or(-1) });
                }>
                    <FormStatus value=retained/>
                    <TextField label="Keep orders for (months, 0 = keep)" name="months" kind="number" value=months error=field_error(retained, "months")/>
                    <div class="actions"><button type="submit" disabled=move || retention.pending().get()>"Save retention"</button></div>
                </form>
            })}
        </section>
    }
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let client_id = param("id");
    let store_id = param("store");
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || (client_id.get(), store_id.get(), tick.get()), |(c, s, _)| list_api_keys(c, s));
    let create = ServerAction::<CreateApiKey>::new();
    let created = last_answer(create);
    let revoke = ServerAction::<RevokeApiKey>::new();
    let revoked = last_answer(revoke);
    Effect::new(move |_| {
        if matches!(created.get(), Some(Ok(_))) || matches!(revoked.get(), Some(Ok(_))) {
            tick.update(|t| *t += 1);
        }
    });
    let label = RwSignal::new(String::new());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => {
                    let client = client_id.get();
                    let store = store_id.get();
                    view! {
                        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (d.client_name.clone(), format!("/clients/{client}")), (format!("API keys of {}", d.store_name), String::new())]/>
                        <h1>{format!("API keys of {}", d.store_name)}</h1>
                        <p class="muted">"A shop pushes orders to POST /api/v1/orders with the header \"Authorization: Bearer <key>\", in JSON batches of up to 1,000 orders. A key writes this store's orders only."</p>
                        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<CreateApiKey>()} aria-label="New API key" on:submit=move |ev| {
                            ev.prevent_default();
                            create.dispatch(CreateApiKey { client_id: client, store_id: store, label: label.get_untracked() });
                        }>
                            <TextField label="Key name" name="label" value=label error=field_error(created, "label") required=true maxlength=80 hint="e.g. the shop system that uses it"/>
                            {move || match created.get() {
                                Some(Ok(key)) => view! { <div class="alert ok" role="status"><p>"Copy the key now: it is shown only once."</p><code class="secret">{key}</code></div> }.into_any(),
                                Some(Err(e)) if e.field("label").is_none() => view! { <ErrorBox error=e/> }.into_any(),
                                _ => ().into_any(),
                            }}
                            <div class="actions"><button type="submit" class="primary" disabled=move || create.pending().get()>"Create key"</button></div>
                        </form>
                        <FormStatus value=revoked/>
                        {if d.keys.is_empty() {
                            view! { <EmptyState title="No keys yet"><p>"Create one for each system that sends this store's orders."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table class="keys">
                                    <thead><tr><th>"Name"</th><th>"Key"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                                    <tbody>
                                        {d.keys.iter().map(|k| {
                                            let id = k.id;
                                            let live = k.revoked_at.is_none();
                                            view! {
                                                <tr>
                                                    <td data-label="Name">{k.label.clone()}</td>
                                                    <td data-label="Key"><code>{format!("{}…", k.prefix)}</code></td>
                                                    <td data-label="Created">{format!("{} · {}", format_time(k.created_at), k.created_by)}</td>
                                                    <td data-label="Last used">{k.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                                    <td data-label="State">{if live { "active".to_string() } else { format!("revoked {}", k.revoked_at.map(format_time).unwrap_or_default()) }}</td>
                                                    <td>{live.then(|| view! { <button class="link danger" on:click=move |_| { revoke.dispatch(RevokeApiKey { client_id: client, key_id: id }); }>"Revoke"</button> })}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
    }
}
