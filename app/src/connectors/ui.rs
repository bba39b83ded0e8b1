//! The Connections page: every connected store of the caller's clients with its health,
//! sortable and filterable to the feeds that need attention; forms to connect a store (a
//! pasted token, or the platform's own authorization page) and to disconnect, pull now or
//! change how often a store is pulled. Every form is a plain post that works before the
//! WASM has loaded.

use super::api::*;
use super::model::*;
use crate::shell::forms::ActionButton;
use crate::shell::table::{ListQuery, PER_PAGE};
use crate::shell::*;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// "4 min ago", "3 h ago", "2 days ago".
fn ago(at: i64, now: i64) -> String {
    let secs = (now - at).max(0) / 1000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// How far behind a feed is: "lag 40 s", "lag 12 min", "lag 3.5 h".
fn lag(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("lag {s} s"),
        s if s < 3600 => format!("lag {} min", s / 60),
        s => format!("lag {:.1} h", s as f64 / 3600.0),
    }
}

fn badge(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Healthy => "badge on",
        ConnectionState::Pending => "badge",
        ConnectionState::Failing => "badge warning",
        ConnectionState::NeedsReauth => "badge danger",
        ConnectionState::Disconnected => "badge off",
    }
}

/// The rows the query asks for: filtered, sorted, and the current page.
fn arrange(rows: &[ConnectionRow], query: &ListQuery, now: i64) -> (Vec<ConnectionRow>, usize) {
    let q = query.q.trim().to_lowercase();
    let mut rows: Vec<ConnectionRow> = rows
        .iter()
        .filter(|r| query.filter("attention") != Some("1") || r.needs_attention(now))
        .filter(|r| q.is_empty() || format!("{} {} {}", r.client, r.store, r.account).to_lowercase().contains(&q))
        .cloned()
        .collect();
    match query.sort.as_str() {
        "store" => rows.sort_by(|a, b| a.store.cmp(&b.store)),
        "state" => rows.sort_by_key(|r| (!r.needs_attention(now), r.state.as_str())),
        "synced" => rows.sort_by_key(|r| r.last_success_at.unwrap_or(0)),
        "received" => rows.sort_by_key(|r| r.received_today),
        _ => rows.sort_by(|a, b| (&a.client, &a.store).cmp(&(&b.client, &b.store))),
    }
    if query.desc {
        rows.reverse();
    }
    let total = rows.len();
    let start = ((query.page.max(1) - 1) * PER_PAGE) as usize;
    (rows.into_iter().skip(start).take(PER_PAGE as usize).collect(), total)
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params_with(|k| p.get(k), &["attention"])
    });
    // Health at a glance: while the page is open it refreshes every five seconds.
    let tick = RwSignal::new(0u32);
    refresh_every(tick, std::time::Duration::from_secs(5));
    let data = Resource::new(move || tick.get(), |_| list_connections());
    let connect = ServerAction::<ConnectStore>::new();
    let forms = Resource::new(move || connect.version().get(), |_| list_connections());
    let connected = last_answer(connect);
    let disconnect = ServerAction::<DisconnectStore>::new();
    let sync = ServerAction::<SyncStoreNow>::new();
    let interval = ServerAction::<SetSyncInterval>::new();
    Effect::new(move |_| {
        let done = [disconnect.version().get(), sync.version().get(), interval.version().get(), connect.version().get()];
        if done.iter().any(|v| *v > 0) {
            tick.update(|t| *t += 1);
        }
    });
    let notice = move || {
        let p = params.get();
        if let Some(e) = p.get("error") {
            Some(view! { <p class="notice error" role="alert">{e}</p> }.into_any())
        } else {
            p.get("connected")
                .map(|_| view! { <p class="notice ok" role="status">"Connected. The first pull starts within seconds."</p> }.into_any())
        }
    };
    view! {
        <Breadcrumbs items=vec![("Connections".into(), String::new())]/>
        <div class="page-head">
            <h1>"Connections"</h1>
            <SearchBox query=query placeholder="Filter by client, store or account"/>
        </div>
        {notice}
        <FormStatus value=last_answer(disconnect) success="Disconnected: the store's credentials are deleted."/>
        <FormStatus value=last_answer(sync) success="A pull is due now."/>
        <FormStatus value=last_answer(interval) success="Schedule saved."/>
        <Transition fallback=|| view! { <p class="muted">"Loading connections…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => {
                    let now = d.now;
                    let attention = d.rows.iter().filter(|r| r.needs_attention(now)).count();
                    let live = d.rows.iter().filter(|r| r.state != ConnectionState::Disconnected).count();
                    let (rows, total) = arrange(&d.rows, &query.get(), now);
                    let only = query.get().filter("attention") == Some("1");
                    let all_href = ListQuery { filters: vec![], page: 1, ..query.get() }.to_search();
                    let attention_href = ListQuery { filters: vec![("attention".into(), "1".into())], page: 1, ..query.get() }.to_search();
                    let can_manage = d.can_manage;
                    let pages = total.div_ceil(PER_PAGE as usize).max(1) as u32;
                    let page = crate::shell::table::Page { rows: rows.clone(), total: total as i64, page: query.get().page.max(1), pages };
                    view! {
                        <p class="muted">{format!("{live} store(s) connected · {attention} need attention")}</p>
                        <nav class="filters" aria-label="Filter">
                            <a href=if all_href.is_empty() { "?".to_string() } else { all_href } class:current=!only>"All"</a>
                            " · "
                            <a href=attention_href class:current=only>{format!("Needs attention ({attention})")}</a>
                        </nav>
                        {if rows.is_empty() {
                            view! { <EmptyState title="No connections here"><p>{if only { "Every feed is healthy." } else { "Connect a Shopify, Amazon or eBay store below, and its orders arrive on their own." }}</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table class="connections">
                                    <thead><tr>
                                        <SortHeader label="Client" column="client" query=query/>
                                        <SortHeader label="Store" column="store" query=query/>
                                        <SortHeader label="State" column="state" query=query/>
                                        <SortHeader label="Last successful sync" column="synced" query=query/>
                                        <SortHeader label="Orders today" column="received" query=query numeric=true/>
                                        <th>"Last error"</th>
                                        <th>"Authorization"</th>
                                        {can_manage.then(|| view! { <th>"Schedule"</th><th></th> })}
                                    </tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|c| row(c, now, can_manage, disconnect, sync, interval)).collect_view()}
                                    </tbody>
                                </table></div>
                                <Pager page=page query=query.get()/>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
        // Apart from the list, which refreshes every few seconds: what is typed stays.
        <Transition fallback=|| ()>
            {move || forms.get().and_then(Result::ok).filter(|d| d.can_manage && !d.stores.is_empty()).map(|d| view! {
                <ConnectForms stores=d.stores oauth=d.oauth connect=connect connected=connected/>
            })}
        </Transition>
    }
}

fn row(
    c: ConnectionRow,
    now: i64,
    can_manage: bool,
    disconnect: ServerAction<DisconnectStore>,
    sync: ServerAction<SyncStoreNow>,
    interval: ServerAction<SetSyncInterval>,
) -> impl IntoView {
    let id = c.id;
    let live = c.state != ConnectionState::Disconnected;
    let auth = match c.reauthorize_by {
        Some(by) if by - now < 30 * 86_400_000 => {
            view! { <span class="badge warning">{format!("ends {}", &format_time(by)[..10])}</span> }.into_any()
        }
        Some(by) => view! { <span>{format!("until {}", &format_time(by)[..10])}</span> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let minutes = RwSignal::new((c.interval_secs / 60).to_string());
    view! {
        <tr class:attention=c.needs_attention(now)>
            <td data-label="Client"><a href=format!("/clients/{}", c.client_id)>{c.client.clone()}</a></td>
            <td data-label="Store">{c.store.clone()}<br/><small class="muted">{format!("{} · {}", c.platform.label(), c.account)}</small></td>
            <td data-label="State"><span class=badge(c.state)>{c.state.label()}</span>
                {c.alert.clone().map(|a| view! { <br/><small class="error">{format!("Alert: {a}")}</small> })}</td>
            <td data-label="Last successful sync">{c.last_success_at.map(|at| ago(at, now)).unwrap_or_else(|| "never".into())}
                {c.lag_secs.map(|s| view! { <br/><small class="muted">{lag(s)}</small> })}</td>
            <td data-label="Orders today" class="num">{c.received_today}</td>
            <td data-label="Last error">{if c.last_error.is_empty() { "—".to_string() } else { c.last_error.clone() }}</td>
            <td data-label="Authorization">{auth}</td>
            {can_manage.then(|| view! {
                <td data-label="Schedule">
                    {live.then(|| view! {
                        <form class="inline" method="post" action={crate::shell::forms::url_of::<SetSyncInterval>()} on:submit=move |ev| {
                            ev.prevent_default();
                            interval.dispatch(SetSyncInterval { id, minutes: minutes.get_untracked().parse().unwrap_or(5) });
                        }>
                            <input type="hidden" name="id" value=id/>
                            <label class="sr-only" for=format!("interval-{id}")>"Pull every"</label>
                            <select id=format!("interval-{id}") name="minutes" on:change=move |ev| minutes.set(event_target_value(&ev))>
                                {INTERVAL_MINUTES.iter().map(|m| {
                                    let selected = m.to_string() == minutes.get_untracked();
                                    view! { <option value=m.to_string() selected=selected>{format!("every {m} min")}</option> }
                                }).collect_view()}
                            </select>
                            <button type="submit" class="link">"Save"</button>
                        </form>
                    })}
                </td>
                <td>
                    {live.then(|| view! {
                        <ActionButton action=sync input=SyncStoreNow { id } label="Sync now" class="link"/>
                        <ActionButton action=disconnect input=DisconnectStore { id } label="Disconnect" class="link danger"/>
                    })}
                </td>
            })}
        </tr>
    }
}

/// Connecting a store: with a pasted credential, or through the platform's consent page
/// when this server has the app's keys.
#[component]
fn ConnectForms(
    stores: Vec<StoreChoice>,
    oauth: Vec<Platform>,
    connect: ServerAction<ConnectStore>,
    connected: Signal<Option<Result<i64, crate::error::AppError>>>,
) -> impl IntoView {
    let first = stores.first().map(|s| s.store_id.to_string()).unwrap_or_default();
    let store = RwSignal::new(first);
    let account = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let webhook_secret = RwSignal::new(String::new());
    let region = RwSignal::new(String::new());
    let markets = RwSignal::new(String::new());
    let choices: Vec<(String, String)> = stores
        .iter()
        .map(|s| (s.store_id.to_string(), format!("{} ({}{})", s.label, s.platform, if s.connected { ", connected" } else { "" })))
        .collect();
    let platforms = StoredValue::new(stores.iter().map(|s| (s.store_id.to_string(), s.platform.clone())).collect::<Vec<_>>());
    let platform = Signal::derive(move || {
        platforms.with_value(|p| p.iter().find(|(id, _)| *id == store.get()).map(|(_, p)| p.clone()).unwrap_or_default())
    });
    let regions: Vec<(String, String)> = std::iter::once((String::new(), "From the store's marketplace".to_string()))
        .chain(Region::ALL.iter().map(|r| (r.as_str().to_string(), r.label().to_string())))
        .collect();
    let oauth_choices = choices.clone();
    Effect::new(move |_| {
        if matches!(connected.get(), Some(Ok(_))) {
            token.set(String::new());
            webhook_secret.set(String::new());
        }
    });
    view! {
        <section class="card" aria-labelledby="connect-title">
            <h2 id="connect-title">"Connect a store"</h2>
            <p class="muted">"The credential is encrypted when saved and never shown again. Shopify: a custom app's Admin API access token (scopes read_orders, read_customers, read_fulfillments) and, for its webhooks, the app's API secret key. Amazon and eBay: the seller's refresh token."</p>
            <form method="post" action={crate::shell::forms::url_of::<ConnectStore>()} aria-label="Connect with a token" on:submit=move |ev| {
                ev.prevent_default();
                connect.dispatch(ConnectStore { form: ConnectForm {
                    store_id: store.get_untracked().parse().unwrap_or(0),
                    account: account.get_untracked(),
                    token: token.get_untracked(),
                    webhook_secret: webhook_secret.get_untracked(),
                    region: region.get_untracked(),
                    marketplace_ids: markets.get_untracked(),
                }});
            }>
                <SelectField label="Store" name="form[store_id]" value=store error=field_error(connected, "store_id") choices=Signal::derive(move || choices.clone())/>
                <TextField label="Shop address, selling partner id or eBay user" name="form[account]" value=account error=field_error(connected, "account") required=true hint="nordlicht.myshopify.com · A2EXAMPLE123 · eva_h"/>
                <TextField label="Token" name="form[token]" value=token error=field_error(connected, "token") kind="password" maxlength=4096 required=true autocomplete="off"/>
                <Show when=move || platform.get() == "shopify">
                    <TextField label="Webhook secret (custom app's API secret key)" name="form[webhook_secret]" value=webhook_secret error=field_error(connected, "webhook_secret") kind="password" maxlength=200 autocomplete="off"/>
                </Show>
                <Show when=move || platform.get() == "amazon">
                    <SelectField label="Region" name="form[region]" value=region error=field_error(connected, "region") choices=Signal::derive({ let r = regions.clone(); move || r.clone() })/>
                    <TextField label="Marketplace ids" name="form[marketplace_ids]" value=markets error=field_error(connected, "marketplace_ids") hint="Empty: the store's own marketplace"/>
                </Show>
                <FormStatus value=connected success="Connected. The first pull starts within seconds."/>
                <div class="actions"><button type="submit" class="primary" disabled=move || connect.pending().get()>"Connect"</button></div>
            </form>
            {(!oauth.is_empty()).then(|| view! {
                <h3>"Or let the seller authorize Starling"</h3>
                <form method="post" action="/connections/authorize" aria-label="Authorize on the platform">
                    <div class="field">
                        <label for="authorize-store">"Store"</label>
                        <select id="authorize-store" name="store_id">
                            {oauth_choices.iter().map(|(v, l)| view! { <option value=v.clone()>{l.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="authorize-account">"Shop address (Shopify), region na/eu/fe (Amazon) or user (eBay)"</label>
                        <input id="authorize-account" name="account" maxlength="100" required/>
                    </div>
                    <p class="muted">{format!("Opens the platform's consent page ({}).", oauth.iter().map(|p| p.label()).collect::<Vec<_>>().join(", "))}</p>
                    <div class="actions"><button type="submit">"Authorize on the platform"</button></div>
                </form>
            })}
        </section>
    }
}
