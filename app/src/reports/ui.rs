//! The client portal's pages: the report (figures, trend and A/B charts with their
//! numbers as tables, exports), reviews (list and import), the alerts page and the SLA
//! board.

use super::api::*;
use super::model::*;
use super::rules::{amount, basis_points, duration, percent, Rate, HOUR_MS};
use crate::accounts::model::Role;
use crate::shell::route_id as param;
use crate::shell::table::{encode, ListQuery, Page, PER_PAGE};
use crate::shell::ClientTabs;
use crate::shell::{format_time, last_answer, signed_in, Breadcrumbs, EmptyState, ErrorBox, FormStatus, Pager, SortHeader};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Whether the signed-in user works on buyers' data (the client tabs that show it).
fn works_on_buyers() -> bool {
    signed_in().is_some_and(|a| matches!(a.role, Role::Admin | Role::AccountManager))
}

fn rate_cell(f: &Figures, rate: Rate) -> String {
    percent(f.rate(rate))
}

#[component]
pub fn ReportsPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let range = move || {
        let p = params.get();
        (p.get("from").unwrap_or_default(), p.get("until").unwrap_or_default())
    };
    let data = Resource::new(move || (client_id.get(), range()), |(c, (from, until))| client_report(c, from, until));
    view! {
        <Transition fallback=|| view! { <p class="muted" role="status">"Computing the report…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(report) => view! { <ReportView report=report/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ReportView(report: Report) -> impl IntoView {
    let client_id = report.client_id;
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params_with(|k| p.get(k), &["from", "until", "view"])
    });
    let range = format!("from={}&until={}", encode(&report.from), encode(&report.until));
    let t = report.totals;
    let cards = vec![
        ("Sent", t.sent.to_string(), String::new()),
        ("Delivered", t.delivered().to_string(), format!("{} of sent", rate_cell(&t, Rate::Delivery))),
        ("Bounced", t.bounced.to_string(), format!("{} of sent", rate_cell(&t, Rate::Bounce))),
        ("Opened", t.opened.to_string(), format!("{} of delivered", rate_cell(&t, Rate::Open))),
        ("Clicked", t.clicked.to_string(), format!("{} of delivered", rate_cell(&t, Rate::Click))),
        ("Unsubscribed", t.unsubscribed.to_string(), format!("{} of delivered", rate_cell(&t, Rate::Unsubscribe))),
        ("Complaints", t.complained.to_string(), format!("{} of delivered", rate_cell(&t, Rate::Complaint))),
        ("Reviews", t.reviews.to_string(), t.average_rating().map(|a| format!("average {a:.2} ★")).unwrap_or_else(|| "no reviews".into())),
    ];
    let days = report.groupings.iter().find(|g| g.name == "day").map(|g| g.rows.clone()).unwrap_or_default();
    let groupings = report.groupings.clone();
    let empty = t.sent == 0;
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (report.client.clone(), format!("/clients/{client_id}")), ("Reports".into(), String::new())]/>
        <div class="page-head">
            <h1>"Reports"</h1>
            <div class="actions">
                <a class="button" href=format!("/clients/{client_id}/reports/export.csv?{range}") download="">"Download CSV"</a>
                <a class="button" href=format!("/clients/{client_id}/reports/export.parquet?{range}") download="">"Download Parquet"</a>
            </div>
        </div>
        <ClientTabs client_id=client_id current="reports" buyer_data=works_on_buyers()/>
        <form class="card range" method="get" aria-label="Date range">
            <div class="field"><label for="report-from">"From"</label><input id="report-from" type="date" name="from" value=report.from.clone()/></div>
            <div class="field"><label for="report-until">"Until"</label><input id="report-until" type="date" name="until" value=report.until.clone()/></div>
            <div class="actions"><button type="submit" class="primary">"Show"</button></div>
            <p class="muted small">"Days are UTC. A message counts on the day it was sent; its later opens, clicks and reviews count toward that day. Opens and clicks are counted once per message."</p>
        </form>
        {if empty {
            view! {
                <EmptyState title="Nothing sent in this period">
                    <p>"No message of this client was sent between these days. Pick a wider range, or come back once a campaign runs."</p>
                </EmptyState>
            }.into_any()
        } else {
            view! {
                <section class="tiles" aria-label="Totals">
                    {cards.into_iter().map(|(label, value, note)| view! {
                        <div class="tile stat"><div class="stat-label">{label}</div><div class="stat-value">{value}</div><div class="muted small">{note}</div></div>
                    }).collect_view()}
                </section>
                <section class="chart-pair" aria-label="Messages per day">
                    <figure class="chart" inner_html=report.trend_svg.clone()></figure>
                    <div class="table-wrap chart-table trend-numbers"><table class="compact">
                        <caption>"Messages per day (the chart's numbers)"</caption>
                        <thead><tr><th>"Day"</th><th class="num">"Sent"</th><th class="num">"Delivered"</th><th class="num">"Opened"</th><th class="num">"Clicked"</th></tr></thead>
                        <tbody>
                            {days.iter().map(|d| view! {
                                <tr><td>{d.label.clone()}</td><td class="num">{d.figures.sent}</td><td class="num">{d.figures.delivered()}</td><td class="num">{d.figures.opened}</td><td class="num">{d.figures.clicked}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                </section>
                <GroupingTable groupings=groupings query=query/>
                {(!report.tests.is_empty()).then(|| view! {
                    <section aria-label="A/B tests">
                        <h2>"A/B tests"</h2>
                        {report.tests.iter().map(|test| view! {
                            <div class="card ab-test">
                                <h3>{test.campaign.clone()}</h3>
                                <p class="decision">{test.decision.clone()}</p>
                                <div class="chart-pair">
                                    <figure class="chart" inner_html=test.chart_svg.clone()></figure>
                                    <div class="table-wrap chart-table"><table class="compact">
                                        <caption>{format!("{} per variant (of delivered)", test.metric)}</caption>
                                        <thead><tr><th>"Variant"</th><th class="num">"Delivered"</th><th class="num">{if test.metric == "Review rate" { "Reviews" } else { "Clicked" }}</th><th class="num">"Rate"</th><th class="num">"95 % interval"</th></tr></thead>
                                        <tbody>
                                            {test.arms.iter().map(|a| view! {
                                                <tr>
                                                    <td>{a.variant.clone()}</td><td class="num">{a.trials}</td><td class="num">{a.successes}</td>
                                                    <td class="num">{format!("{:.2} %", a.rate * 100.0)}</td>
                                                    <td class="num">{format!("{:.2}–{:.2} %", a.low * 100.0, a.high * 100.0)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table></div>
                                </div>
                            </div>
                        }).collect_view()}
                    </section>
                })}
            }.into_any()
        }}
        <section aria-label="Reviews received">
            <h2>"Reviews received"</h2>
            {if report.reviews.is_empty() {
                view! { <p class="muted">"No reviews in this period."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table>
                        <thead><tr><th>"Brand"</th><th class="num">"Reviews"</th><th class="num">"Average"</th><th class="num">"1–3 stars"</th></tr></thead>
                        <tbody>
                            {report.reviews.iter().map(|r| view! {
                                <tr>
                                    <td data-label="Brand">{r.brand.clone()}</td><td data-label="Reviews" class="num">{r.reviews}</td>
                                    <td data-label="Average" class="num">{r.average_rating.map(|a| format!("{a:.2} ★")).unwrap_or_default()}</td>
                                    <td data-label="1–3 stars" class="num">{r.negative}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
            <p><a href=format!("/clients/{client_id}/reviews")>"All reviews →"</a></p>
        </section>
        <p class="muted small">{format!("Figures computed with polars in {} ms.", report.computed_ms)}</p>
    }
}

/// The figures per brand, store, campaign, variant, locale or day: sortable and paged
/// (in the page, from the report already loaded).
#[component]
fn GroupingTable(groupings: Vec<Grouping>, query: Signal<ListQuery>) -> impl IntoView {
    let view_of = move || query.get().filter("view").unwrap_or("brand").to_string();
    let tabs = groupings.iter().map(|g| (g.name.clone(), g.label.clone())).collect::<Vec<_>>();
    let rows = move || {
        let q = query.get();
        let name = view_of();
        let mut rows = groupings.iter().find(|g| g.name == name).map(|g| g.rows.clone()).unwrap_or_default();
        let key = |r: &ReportRow| -> f64 {
            let f = &r.figures;
            match q.sort.as_str() {
                "sent" => f.sent as f64,
                "delivered" => f.delivered() as f64,
                "bounced" => f.bounced as f64,
                "opened" => f.rate(Rate::Open).unwrap_or(-1.0),
                "clicked" => f.rate(Rate::Click).unwrap_or(-1.0),
                "unsubscribed" => f.unsubscribed as f64,
                "complained" => f.complained as f64,
                "reviews" => f.reviews as f64,
                "rating" => f.average_rating().unwrap_or(-1.0),
                _ => f64::NAN,
            }
        };
        if q.sort == "label" {
            rows.sort_by(|a, b| a.label.cmp(&b.label));
        } else if !q.sort.is_empty() {
            rows.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal));
        }
        if q.desc {
            rows.reverse();
        }
        let total = rows.len() as i64;
        let start = ((q.page.max(1) - 1) * PER_PAGE) as usize;
        let page_rows: Vec<ReportRow> = rows.into_iter().skip(start).take(PER_PAGE as usize).collect();
        (Page::new(page_rows, total, &q), q)
    };
    view! {
        <section aria-label="Breakdown">
            <h2>"Breakdown"</h2>
            <nav class="tabs small" aria-label="Group by">
                {tabs.into_iter().map(|(name, label)| {
                    let current = name.clone();
                    let href = move || {
                        let q = query.get();
                        let mut filters: Vec<(String, String)> = q.filters.iter().filter(|(k, _)| k != "view").cloned().collect();
                        filters.push(("view".into(), current.clone()));
                        ListQuery { filters, page: 1, sort: String::new(), desc: false, ..q }.to_search()
                    };
                    let is_current = { let name = name.clone(); move || view_of() == name };
                    view! { <a href=href class=move || if is_current() { "tab current" } else { "tab" }>{label}</a> }
                }).collect_view()}
            </nav>
            {move || {
                let (page, q) = rows();
                view! {
                    <div class="table-wrap"><table class="report">
                        <thead><tr>
                            <SortHeader label="Name" column="label" query=query/>
                            <SortHeader label="Sent" column="sent" query=query numeric=true/>
                            <SortHeader label="Delivered" column="delivered" query=query numeric=true/>
                            <SortHeader label="Bounced" column="bounced" query=query numeric=true/>
                            <SortHeader label="Opened (of delivered)" column="opened" query=query numeric=true/>
                            <SortHeader label="Clicked (of delivered)" column="clicked" query=query numeric=true/>
                            <SortHeader label="Unsubscribed" column="unsubscribed" query=query numeric=true/>
                            <SortHeader label="Complaints" column="complained" query=query numeric=true/>
                            <SortHeader label="Reviews" column="reviews" query=query numeric=true/>
                            <SortHeader label="Average rating" column="rating" query=query numeric=true/>
                            {(view_of() == "channel").then(|| view! { <th scope="col" class="num">"Cost"</th> })}
                        </tr></thead>
                        <tbody>
                            {page.rows.iter().map(|r| {
                                let f = r.figures;
                                view! {
                                    <tr>
                                        <td data-label="Name">{r.label.clone()}</td>
                                        <td data-label="Sent" class="num">{f.sent}</td>
                                        <td data-label="Delivered" class="num">{format!("{} ({})", f.delivered(), rate_cell(&f, Rate::Delivery))}</td>
                                        <td data-label="Bounced" class="num">{format!("{} ({})", f.bounced, rate_cell(&f, Rate::Bounce))}</td>
                                        <td data-label="Opened" class="num">{format!("{} ({})", f.opened, rate_cell(&f, Rate::Open))}</td>
                                        <td data-label="Clicked" class="num">{format!("{} ({})", f.clicked, rate_cell(&f, Rate::Click))}</td>
                                        <td data-label="Unsubscribed" class="num">{format!("{} ({})", f.unsubscribed, rate_cell(&f, Rate::Unsubscribe))}</td>
                                        <td data-label="Complaints" class="num">{format!("{} ({})", f.complained, rate_cell(&f, Rate::Complaint))}</td>
                                        <td data-label="Reviews" class="num">{f.reviews}</td>
                                        <td data-label="Average rating" class="num">{f.average_rating().map(|a| format!("{a:.2} ★")).unwrap_or_else(|| "–".into())}</td>
                                        {(view_of() == "channel").then(|| {
                                            let cost = if r.cost.is_empty() { "–".to_string() } else { r.cost.clone() };
                                            view! { <td data-label="Cost" class="num">{cost}</td> }
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                    <Pager page=page query=q/>
                }
            }}
        </section>
    }
}

#[component]
pub fn ReviewsPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params(|k| p.get(k))
    });
    let data = Resource::new(move || (client_id.get(), query.get()), |(c, q)| list_reviews(c, q));
    let outcome = move || {
        let p = params.get();
        p.get("imported").map(|summary| (summary, p.get("problems").unwrap_or_default()))
    };
    let error = move || params.get().get("error");
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading reviews…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => {
                    let client_id = d.client_id;
                    view! {
                        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (d.client.clone(), format!("/clients/{client_id}")), ("Reviews".into(), String::new())]/>
                        <h1>"Reviews"</h1>
                        <ClientTabs client_id=client_id current="reviews" buyer_data=works_on_buyers()/>
                        {outcome().map(|(summary, problems)| view! {
                            <div class="notice ok" role="status">
                                <p>{summary}</p>
                                {(!problems.is_empty()).then(|| view! {
                                    <ul class="problems">{problems.split('\n').map(|p| view! { <li>{p.to_string()}</li> }).collect_view()}</ul>
                                })}
                            </div>
                        })}
                        {error().map(|e| view! { <div class="notice error" role="alert">{e}</div> })}
                        {(d.can_import && !d.brands.is_empty()).then(|| view! {
                            <form class="card narrow upload" method="post" enctype="multipart/form-data" action=format!("/clients/{client_id}/reviews/upload") aria-label="Import reviews">
                                <h2>"Import reviews"</h2>
                                <p class="muted">"A CSV from the platform or review app: rating and date are required; the order id or buyer e-mail attributes a review to the request that asked for it. Importing the same file again changes nothing."</p>
                                <div class="field">
                                    <label for="reviews-brand">"Brand *"</label>
                                    <select id="reviews-brand" name="brand" required=true>
                                        {d.brands.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                                    </select>
                                </div>
                                <div class="field"><label for="reviews-file">"File *"</label><input id="reviews-file" type="file" name="file" required=true accept=".csv,.tsv,.txt,text/csv"/></div>
                                <div class="actions"><button type="submit" class="primary">"Import"</button></div>
                            </form>
                        })}
                        {if d.reviews.rows.is_empty() {
                            view! { <EmptyState title="No reviews yet"><p>"Reviews arrive by import here or from the shop through POST /api/v1/reviews."</p></EmptyState> }.into_any()
                        } else {
                            let page = d.reviews.clone();
                            view! {
                                <div class="table-wrap"><table class="reviews">
                                    <thead><tr>
                                        <SortHeader label="Date" column="date" query=query/>
                                        <SortHeader label="Brand" column="brand" query=query/>
                                        <SortHeader label="Stars" column="rating" query=query numeric=true/>
                                        <th>"Review"</th><th>"Order"</th><th>"Asked by"</th>
                                    </tr></thead>
                                    <tbody>
                                        {page.rows.iter().map(|r| view! {
                                            <tr class:negative=super::rules::is_negative(r.rating)>
                                                <td data-label="Date">{format_time(r.reviewed_at)}</td>
                                                <td data-label="Brand">{r.brand.clone()}</td>
                                                <td data-label="Stars" class="num" aria-label=format!("{} stars", r.rating)>{"★".repeat(r.rating.clamp(0, 5) as usize)}</td>
                                                <td data-label="Review"><strong>{r.title.clone()}</strong><div class="small">{r.body.clone()}</div><div class="muted small">{r.author.clone()}</div></td>
                                                <td data-label="Order">{r.platform_order_id.clone()}</td>
                                                <td data-label="Asked by">{match r.message_id {
                                                    Some(m) => format!("{} (message {m})", r.campaign),
                                                    None => "not attributed".into(),
                                                }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                                <Pager page=page query=query.get()/>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let params = use_query_map();
    let status = move || params.get().get("status").unwrap_or_default();
    let save = ServerAction::<UpdateAlert>::new();
    let data = Resource::new(move || (status(), save.version().get()), |(s, _)| list_alerts(s));
    let answer = last_answer(save);
    view! {
        <h1>"Review alerts"</h1>
        <p class="muted">"A 1–3 star review opens an alert at once and e-mails the client's support contact and account managers. The clock runs until the first response."</p>
        <nav class="tabs" aria-label="Alert status">
            {std::iter::once(("", "All")).chain(AlertState::ALL.map(|s| (s.as_str(), s.label()))).map(|(value, label)| {
                let href = if value.is_empty() { "/alerts".to_string() } else { format!("/alerts?status={value}") };
                view! { <a href=href class=move || if status() == value { "tab current" } else { "tab" }>{label}</a> }
            }).collect_view()}
        </nav>
        <FormStatus value=answer success="Saved."/>
        <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(list) if list.alerts.is_empty() => view! {
                    <EmptyState title="No alerts here"><p>"Negative reviews raise alerts; none match this filter."</p></EmptyState>
                }.into_any(),
                Ok(list) => {
                    let now = list.now;
                    view! {
                        <div class="table-wrap"><table class="alerts">
                            <thead><tr><th>"Review"</th><th>"Client"</th><th>"Response clock"</th><th>"Owner"</th><th>"Status"</th><th>"Note"</th><th></th></tr></thead>
                            <tbody>
                                {list.alerts.into_iter().map(|a| {
                                    let owners = list.owners.clone();
                                    let id = a.id;
                                    let owner = RwSignal::new(a.owner_id.map(|o| o.to_string()).unwrap_or_default());
                                    let state = RwSignal::new(a.status.as_str().to_string());
                                    let note = RwSignal::new(a.note.clone());
                                    let took = a.responded_at.unwrap_or(now) - a.opened_at;
                                    let late = took > a.response_hours * HOUR_MS;
                                    let clock = match a.responded_at {
                                        Some(_) => format!("answered after {}", duration(took)),
                                        None => format!("waiting {}", duration(took)),
                                    };
                                    view! {
                                        <tr id=format!("alert-{id}") class:late=late>
                                            <td data-label="Review">
                                                <span aria-label=format!("{} stars", a.rating)>{"★".repeat(a.rating.clamp(0, 5) as usize)}</span>
                                                " "<strong>{a.title.clone()}</strong>
                                                <div class="small">{a.body.clone()}</div>
                                                <div class="muted small">{format!("{} · order {} · {}", a.brand, a.platform_order_id, format_time(a.opened_at))}</div>
                                            </td>
                                            <td data-label="Client"><a href=format!("/clients/{}/reviews", a.client_id)>{a.client.clone()}</a></td>
                                            <td data-label="Response clock">
                                                <span class=if late { "badge late" } else { "badge" }>{clock}</span>
                                                <div class="muted small">{format!("target {} h", a.response_hours)}</div>
                                            </td>
                                            <td data-label="Owner">
                                                <select aria-label="Owner" on:change=move |ev| owner.set(event_target_value(&ev))>
                                                    <option value="" selected=a.owner_id.is_none()>"Nobody"</option>
                                                    {owners.into_iter().map(|(oid, name)| view! { <option value=oid.to_string() selected=a.owner_id == Some(oid)>{name}</option> }).collect_view()}
                                                </select>
                                            </td>
                                            <td data-label="Status">
                                                <select aria-label="Status" on:change=move |ev| state.set(event_target_value(&ev))>
                                                    {AlertState::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=a.status == s>{s.as_str()}</option> }).collect_view()}
                                                </select>
                                            </td>
                                            <td data-label="Note"><input type="text" aria-label="Note" maxlength="2000" bind:value=note/></td>
                                            <td class="row-actions">
                                                <button class="small primary" disabled=move || save.pending().get() on:click=move |_| {
                                                    save.dispatch(UpdateAlert { id, status: state.get_untracked(), owner_id: owner.get_untracked().parse().ok(), note: note.get_untracked() });
                                                }>"Save"</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn SlaLines(board: SlaBoard) -> impl IntoView {
    view! {
        <div class="table-wrap"><table class="sla">
            <thead><tr><th>"Target"</th><th>"Contract"</th><th>"Last 30 days"</th><th>"Holds"</th><th class="num">"Breaches (30 days)"</th></tr></thead>
            <tbody>
                {board.lines.into_iter().map(|l| view! {
                    <tr>
                        <td data-label="Target">{l.label}</td>
                        <td data-label="Contract">{l.target}</td>
                        <td data-label="Last 30 days">{l.current}</td>
                        <td data-label="Holds">{if l.holds { view! { <span class="badge ok">"✓ holds"</span> }.into_any() } else { view! { <span class="badge late">"✗ breached"</span> }.into_any() }}</td>
                        <td data-label="Breaches" class="num">{l.breaches}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
fn BreachList(breaches: Vec<Breach>) -> impl IntoView {
    if breaches.is_empty() {
        return view! { <p class="muted">"No breaches recorded."</p> }.into_any();
    }
    let label = |rule: &str| RULE_LABELS.iter().find(|(r, _)| *r == rule).map(|(_, l)| *l).unwrap_or("");
    view! {
        <div class="table-wrap"><table class="breaches">
            <thead><tr><th>"When"</th><th>"Target"</th><th>"What"</th><th>"Measured"</th><th>"Contract"</th><th>"Evidence"</th></tr></thead>
            <tbody>
                {breaches.into_iter().map(|b| view! {
                    <tr>
                        <td data-label="When">{format_time(b.happened_at)}</td>
                        <td data-label="Target">{label(&b.rule)}</td>
                        <td data-label="What">{b.subject}</td>
                        <td data-label="Measured">{b.measured}</td>
                        <td data-label="Contract">{b.target}</td>
                        <td data-label="Evidence"><ul class="evidence">{b.evidence.into_iter().map(|e| view! { <li><a href=e.href>{e.label}</a></li> }).collect_view()}</ul></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
    .into_any()
}

#[component]
pub fn SlaOverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_sla_overview());
    view! {
        <h1>"SLA board"</h1>
        <p class="muted">"Each client's contract targets, their value over the last 30 days, and the latest breaches with their evidence."</p>
        <Transition fallback=|| view! { <p class="muted">"Evaluating contracts…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(o) if o.clients.is_empty() => view! { <EmptyState title="No clients"><p>"No client is assigned to you."</p></EmptyState> }.into_any(),
                Ok(o) => o.clients.into_iter().map(|b| {
                    let id = b.client_id;
                    let breaches = b.breaches.clone();
                    let (name, label) = (b.client.clone(), b.client.clone());
                    view! {
                        <section class="card" aria-label=label>
                            <h2><a href=format!("/clients/{id}/sla")>{name}</a></h2>
                            <SlaLines board=b/>
                            {(!breaches.is_empty()).then(|| view! { <h3>"Latest breaches"</h3><BreachList breaches=breaches/> })}
                        </section>
                    }
                }).collect_view().into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn ClientSlaPage() -> impl IntoView {
    let client_id = param("id");
    let save = ServerAction::<SaveContract>::new();
    let data = Resource::new(move || (client_id.get(), save.version().get()), |(c, _)| get_sla_board(c));
    let answer = last_answer(save);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Evaluating the contract…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(b) => {
                    let id = b.client_id;
                    let c = b.contract;
                    let fields: Vec<(&'static str, &'static str, RwSignal<String>)> = vec![
                        ("min_delivery_rate_bp", "Minimum delivery rate (basis points; 9500 = 95 %)", RwSignal::new(c.min_delivery_rate_bp.to_string())),
                        ("unsubscribe_hours", "Unsubscribe processing (hours)", RwSignal::new(c.unsubscribe_hours.to_string())),
                        ("review_response_hours", "First response to a negative review (hours)", RwSignal::new(c.review_response_hours.to_string())),
                        ("approval_hours", "Template approval turnaround (hours)", RwSignal::new(c.approval_hours.to_string())),
                        ("launch_grace_hours", "Launch grace after the scheduled time (hours)", RwSignal::new(c.launch_grace_hours.to_string())),
                        ("attribution_days", "Review attribution window (days)", RwSignal::new(c.attribution_days.to_string())),
                    ];
                    let signals: Vec<RwSignal<String>> = fields.iter().map(|f| f.2).collect();
                    let breaches = b.breaches.clone();
                    view! {
                        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (b.client.clone(), format!("/clients/{id}")), ("SLA".into(), String::new())]/>
                        <h1>"SLA"</h1>
                        <ClientTabs client_id=id current="sla" buyer_data=works_on_buyers()/>
                        <p class="muted">{format!("Contract: delivery ≥ {}, unsubscribes within {} h, first response to a negative review within {} h, approvals within {} h, launches within {} h of schedule.",
                            basis_points(c.min_delivery_rate_bp), c.unsubscribe_hours, c.review_response_hours, c.approval_hours, c.launch_grace_hours)}</p>
                        <SlaLines board=b.clone()/>
                        <h2>"Breaches"</h2>
                        <BreachList breaches=breaches/>
                        {b.can_edit.then(|| view! {
                            <form class="card narrow" method="post" action={crate::shell::forms::url_of::<SaveContract>()} aria-label="Contract" on:submit=move |ev| {
                                ev.prevent_default();
                                let v: Vec<i64> = signals.iter().map(|s| s.get_untracked().trim().parse().unwrap_or(-1)).collect();
                                save.dispatch(SaveContract { client_id: id, contract: Contract {
                                    min_delivery_rate_bp: v[0], unsubscribe_hours: v[1], review_response_hours: v[2],
                                    approval_hours: v[3], launch_grace_hours: v[4], attribution_days: v[5],
                                }});
                            }>
                                <h2>"Contract targets"</h2>
                                {fields.into_iter().map(|(name, label, value)| {
                                    let error = crate::shell::field_error(answer, name);
                                    view! {
                                        <div class="field" class:invalid=move || error.get().is_some()>
                                            <label for=format!("contract-{name}")>{label}</label>
                                            <input id=format!("contract-{name}") type="number" name=name bind:value=value/>
                                            <small class="error" role="alert">{move || error.get()}</small>
                                        </div>
                                    }
                                }).collect_view()}
                                <FormStatus value=answer success="Contract saved."/>
                                <div class="actions"><button type="submit" class="primary" disabled=move || save.pending().get()>"Save contract"</button></div>
                            </form>
                        })}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// A client's usage and cost per channel in one month, with the CSV to rebill from and,
/// for admins, the contract's prices per 1,000 messages.
#[component]
pub fn UsagePage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let save = ServerAction::<SavePrice>::new();
    let answer = last_answer(save);
    let data = Resource::new(
        move || (client_id.get(), params.get().get("month").unwrap_or_default(), save.version().get()),
        |(c, month, _)| get_usage_statement(c, month),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted" role="status">"Adding up the month…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(s) => {
                    let id = s.client_id;
                    let month = s.month.clone();
                    let channel = RwSignal::new("sms".to_string());
                    let price = RwSignal::new(String::new());
                    let currency = RwSignal::new("USD".to_string());
                    view! {
                        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (s.client.clone(), format!("/clients/{id}")), ("Usage".into(), String::new())]/>
                        <div class="page-head">
                            <h1>"Usage and cost"</h1>
                            <div class="actions">
                                <a class="button" href=format!("/clients/{id}/usage.csv?month={}", encode(&month)) download="">"Download CSV"</a>
                            </div>
                        </div>
                        <ClientTabs client_id=id current="usage" buyer_data=works_on_buyers()/>
                        <form class="card range" method="get" aria-label="Month">
                            <div class="field"><label for="usage-month">"Month"</label><input id="usage-month" type="month" name="month" value=month.clone()/></div>
                            <div class="actions"><button type="submit" class="primary">"Show"</button></div>
                            <p class="muted small">"Messages sent in the month (UTC). A text costs what the provider reported, else the contract's price when it was sent; e-mails and Amazon requests cost the contract's price per 1,000."</p>
                        </form>
                        {if s.rows.is_empty() {
                            view! { <EmptyState title="Nothing sent this month"><p>"No message of this client was sent in this month."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table class="usage">
                                    <thead><tr><th>"Channel"</th><th class="num">"Messages"</th><th class="num">"Parts"</th><th class="num">"Cost"</th><th>"Priced by"</th></tr></thead>
                                    <tbody>
                                        {s.rows.iter().map(|r| view! {
                                            <tr>
                                                <td data-label="Channel">{r.channel.clone()}</td>
                                                <td data-label="Messages" class="num">{r.messages}</td>
                                                <td data-label="Parts" class="num">{r.parts}</td>
                                                <td data-label="Cost" class="num">{r.cost_micros.map(|c| format!("{} {}", amount(c), r.currency)).unwrap_or_else(|| "—".into())}</td>
                                                <td data-label="Priced by">{r.priced.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            }.into_any()
                        }}
                        <section class="card narrow" aria-label="Prices">
                            <h2>"Contract prices per 1,000 messages"</h2>
                            {if s.prices.is_empty() {
                                view! { <p class="muted">"No prices set: costs are the provider's alone."</p> }.into_any()
                            } else {
                                view! { <ul>{s.prices.iter().map(|(c, p, cur)| view! { <li>{format!("{c}: {p} {cur}")}</li> }).collect_view()}</ul> }.into_any()
                            }}
                            {s.can_edit_prices.then(|| view! {
                                <form method="post" action={crate::shell::forms::url_of::<SavePrice>()} aria-label="Price" on:submit=move |ev| {
                                    ev.prevent_default();
                                    save.dispatch(SavePrice { client_id: id, channel: channel.get_untracked(), price: price.get_untracked(), currency: currency.get_untracked() });
                                }>
                                    <FormStatus value=answer/>
                                    <input type="hidden" name="client_id" value=id.to_string()/>
                                    <div class="field">
                                        <label for="price-channel">"Channel"</label>
                                        <select id="price-channel" name="channel" on:change=move |ev| channel.set(event_target_value(&ev))>
                                            <option value="sms" selected=true>"SMS"</option>
                                            <option value="whatsapp">"WhatsApp"</option>
                                            <option value="email">"E-mail"</option>
                                            <option value="amazon">"Amazon Request a Review"</option>
                                        </select>
                                    </div>
                                    <div class="field" class:invalid=move || crate::shell::field_error(answer, "price").get().is_some()>
                                        <label for="price-price">"Price per 1,000"</label>
                                        <input id="price-price" name="price" inputmode="decimal" required=true bind:value=price/>
                                        <small class="error" role="alert">{move || crate::shell::field_error(answer, "price").get()}</small>
                                    </div>
                                    <div class="field" class:invalid=move || crate::shell::field_error(answer, "currency").get().is_some()>
                                        <label for="price-currency">"Currency"</label>
                                        <input id="price-currency" name="currency" maxlength="3" required=true bind:value=currency/>
                                        <small class="error" role="alert">{move || crate::shell::field_error(answer, "currency").get()}</small>
                                    </div>
                                    <div class="actions"><button type="submit" class="primary" disabled=move || save.pending().get()>"Save price"</button></div>
                                </form>
                            })}
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}
