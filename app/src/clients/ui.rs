//! Pages of clients, brands and stores, and the dashboard.

use super::api::{dashboard, get_client, list_clients, SaveBrand, SaveClient, SaveStore};
use super::model::*;
use crate::accounts::model::Role;
use crate::shell::table::ListQuery;
use crate::shell::{
    field_error, format_time, last_answer, signed_in, Breadcrumbs, EmptyState, ErrorBox, FormStatus, Pager, SearchBox, SelectField,
    SortHeader, TextArea, TextField,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::shell::route_id as param;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| dashboard());
    view! {
        <h1>"Dashboard"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! {
                    <div class="tiles">
                        <A href="/clients" attr:class="tile"><span class="tile-n">{d.clients}</span><span>"clients"</span></A>
                        <div class="tile"><span class="tile-n">{d.brands}</span><span>"brands"</span></div>
                        <div class="tile"><span class="tile-n">{d.stores}</span><span>"stores"</span></div>
                    </div>
                    <h2>"Newest clients"</h2>
                    {if d.recent.is_empty() {
                        view! { <EmptyState title="No clients yet"><p>"Clients assigned to you will appear here."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <ul class="cards">
                                {d.recent.into_iter().map(|c| view! {
                                    <li class="card"><A href=format!("/clients/{}", c.id)>{c.name}</A>
                                    <span class="muted">{format!(" · {} brands · {} stores", c.brands, c.stores)}</span></li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params(|k| p.get(k))
    });
    let clients = Resource::new(move || query.get(), list_clients);
    let is_admin = move || signed_in().is_some_and(|a| a.role == Role::Admin);
    view! {
        <Breadcrumbs items=vec![("Clients".into(), String::new())]/>
        <div class="page-head">
            <h1>"Clients"</h1>
            <SearchBox query=query placeholder="Search clients"/>
            // Inside a boundary: who is signed in comes from a resource, and a resource
            // read outside one renders differently on the server and in the browser.
            <Transition fallback=|| ()>
                {move || is_admin().then(|| view! { <A href="/clients/new" attr:class="button primary">"New client"</A> })}
            </Transition>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading clients…"</p> }>
            {move || clients.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(page) if page.rows.is_empty() => view! {
                    <EmptyState title="No clients found">
                        <p>{if query.get().q.is_empty() { "No client is assigned to you yet." } else { "No client matches this search." }}</p>
                    </EmptyState>
                }.into_any(),
                Ok(page) => view! {
                    <div class="table-wrap">
                        <table class="clients">
                            <thead><tr>
                                <SortHeader label="Name" column="name" query=query/>
                                <SortHeader label="Brands" column="brands" query=query numeric=true/>
                                <SortHeader label="Stores" column="stores" query=query numeric=true/>
                                <SortHeader label="Created" column="created" query=query/>
                            </tr></thead>
                            <tbody>
                                {page.rows.clone().into_iter().map(|c| view! {
                                    <tr>
                                        <td data-label="Name"><A href=format!("/clients/{}", c.id)>{c.name}</A></td>
                                        <td data-label="Brands" class="num">{c.brands}</td>
                                        <td data-label="Stores" class="num">{c.stores}</td>
                                        <td data-label="Created">{format_time(c.created_at)}</td>
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

#[component]
pub fn ClientPage() -> impl IntoView {
    let id = param("id");
    let detail = Resource::new(move || id.get(), get_client);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading client…"</p> }>
            {move || detail.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <ClientView detail=d/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ClientView(detail: ClientDetail) -> impl IntoView {
    let c = detail.client.clone();
    let base = format!("/clients/{}", c.id);
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (c.name.clone(), String::new())]/>
        <div class="page-head">
            <h1>{c.name.clone()}</h1>
            {detail.can_edit.then(|| view! { <A href=format!("{base}/edit") attr:class="button">"Edit client"</A> })}
        </div>
        <nav class="tabs" aria-label="Client sections">
            <A href=base.clone() attr:class="tab current">"Overview"</A>
            // Copywriters see no buyer data (orders, customers, suppression lists).
            {detail.can_read_orders.then(|| view! {
                <A href=format!("{base}/orders") attr:class="tab">"Orders"</A>
                <A href=format!("{base}/privacy") attr:class="tab">"Suppression & privacy"</A>
            })}
            {detail.can_manage.then(|| view! { <A href=format!("{base}/imports") attr:class="tab">"Imports"</A> })}
            <A href=format!("{base}/templates") attr:class="tab">"Templates"</A>
            {detail.can_manage.then(|| view! { <A href=format!("{base}/campaigns") attr:class="tab">"Campaigns"</A> })}
            <A href=format!("{base}/reports") attr:class="tab">"Reports"</A>
            <A href=format!("{base}/reviews") attr:class="tab">"Reviews"</A>
            <A href=format!("{base}/sla") attr:class="tab">"SLA"</A>
        </nav>
        <dl class="facts">
            <dt>"Contact"</dt><dd>{if c.contact_email.is_empty() { "—".to_string() } else { c.contact_email.clone() }}</dd>
            <dt>"Support contact"</dt><dd>{if c.support_email.is_empty() { "—".to_string() } else { c.support_email.clone() }}</dd>
            <dt>"Template approval"</dt><dd>{if c.template_approval { "the client approves last" } else { "agency reviewers only" }}</dd>
            <dt>"Client since"</dt><dd>{format_time(c.created_at)}</dd>
        </dl>
        <section>
            <div class="section-head">
                <h2>"Brands"</h2>
                {detail.can_manage.then(|| view! { <A href=format!("{base}/brands/new") attr:class="button primary">"Add brand"</A> })}
            </div>
            {if detail.brands.is_empty() {
                view! { <EmptyState title="No brands yet"><p>"A brand is a sender identity: name, sending domain, language and postal address."</p></EmptyState> }.into_any()
            } else {
                let base = base.clone();
                let can = detail.can_manage;
                view! {
                    <div class="table-wrap"><table class="brands">
                        <thead><tr><th>"Brand"</th><th>"Sender"</th><th>"Sending domain"</th><th>"Language"</th><th>"Postal address"</th><th></th></tr></thead>
                        <tbody>
                            {detail.brands.clone().into_iter().map(|b| view! {
                                <tr>
                                    <td data-label="Brand">{b.name.clone()}</td>
                                    <td data-label="Sender">{format!("{} <{}>", b.sender_name, b.sender_email)}</td>
                                    <td data-label="Sending domain"><code>{b.sending_domain.clone()}</code></td>
                                    <td data-label="Language">{b.default_locale.clone()}</td>
                                    <td data-label="Postal address">{b.postal_address.clone()}</td>
                                    <td>{can.then(|| view! {
                                        <A href=format!("{base}/brands/{}/edit", b.id)>"Edit"</A>" · "
                                        <A href=format!("{base}/brands/{}/sending", b.id)>"Sending & DKIM"</A>
                                    })}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
        <section>
            <div class="section-head">
                <h2>"Stores"</h2>
                {(detail.can_manage && !detail.brands.is_empty()).then(|| view! { <A href=format!("{base}/stores/new") attr:class="button primary">"Add store"</A> })}
            </div>
            {if detail.stores.is_empty() {
                view! { <EmptyState title="No stores yet"><p>"A store is a sales channel: Amazon DE, a Shopify shop, eBay UK…"</p></EmptyState> }.into_any()
            } else {
                let base = base.clone();
                let can = detail.can_manage;
                view! {
                    <div class="table-wrap"><table class="stores">
                        <thead><tr><th>"Store"</th><th>"Brand"</th><th>"Platform"</th><th>"Marketplace"</th><th>"Currency"</th><th>"Time zone"</th><th></th></tr></thead>
                        <tbody>
                            {detail.stores.clone().into_iter().map(|s| {
                                let platform = Platform::parse("platform", &s.platform).map(|p| p.label()).unwrap_or("?");
                                view! {
                                    <tr>
                                        <td data-label="Store">{s.name.clone()}</td>
                                        <td data-label="Brand">{s.brand_name.clone()}</td>
                                        <td data-label="Platform">{platform}</td>
                                        <td data-label="Marketplace">{s.marketplace.clone()}</td>
                                        <td data-label="Currency">{s.currency.clone()}</td>
                                        <td data-label="Time zone">{s.time_zone.clone()}</td>
                                        <td>{can.then(|| view! {
                                            <A href=format!("{base}/stores/{}/edit", s.id)>"Edit"</A>" · "
                                            <A href=format!("{base}/stores/{}/keys", s.id)>"API keys"</A>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
    }
}

/// New client (no `:id`) or edit client.
#[component]
pub fn ClientFormPage() -> impl IntoView {
    let id = param("id");
    let existing = Resource::new(
        move || id.get(),
        |id| async move {
            if id == 0 {
                Ok(None)
            } else {
                get_client(id).await.map(|d| Some(d.client))
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || existing.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(c) => view! { <ClientForm client=c/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn ClientForm(client: Option<Client>) -> impl IntoView {
    let c = client.clone().unwrap_or_default();
    let name = RwSignal::new(c.name.clone());
    let contact = RwSignal::new(c.contact_email.clone());
    let support = RwSignal::new(c.support_email.clone());
    let template_approval = RwSignal::new(c.template_approval);
    let action = ServerAction::<SaveClient>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = value.get() {
            navigate(&format!("/clients/{id}"), Default::default());
        }
    });
    let id = client.as_ref().map(|c| c.id);
    let title = if id.is_some() { format!("Edit {}", c.name) } else { "New client".to_string() };
    let crumbs = match id {
        Some(i) => vec![("Clients".into(), "/clients".into()), (c.name.clone(), format!("/clients/{i}")), ("Edit".into(), String::new())],
        None => vec![("Clients".into(), "/clients".into()), ("New client".into(), String::new())],
    };
    view! {
        <Breadcrumbs items=crumbs/>
        <h1>{title}</h1>
        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<SaveClient>()} on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(SaveClient { form: ClientForm {
                id, name: name.get_untracked(), contact_email: contact.get_untracked(), support_email: support.get_untracked(),
                template_approval: template_approval.get_untracked(),
            }});
        }>
            <FormStatus value=value/>
            <TextField label="Client name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <TextField label="Contact e-mail (monthly reports)" name="contact_email" kind="email" value=contact error=field_error(value, "contact_email")/>
            <TextField label="Support e-mail (negative-review alerts)" name="support_email" kind="email" value=support error=field_error(value, "support_email")/>
            <label class="check"><input type="checkbox" name="template_approval" bind:checked=template_approval/>
                "Contract: the client approves templates last"</label>
            <div class="actions">
                <A href=id.map(|i| format!("/clients/{i}")).unwrap_or_else(|| "/clients".into()) attr:class="button">"Cancel"</A>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Save client"</button>
            </div>
        </form>
    }
}

/// New brand under `:id`, or edit brand `:brand`.
#[component]
pub fn BrandFormPage() -> impl IntoView {
    view! {
        <ClientChildPage child="brand" form=|detail, brand_id| {
            let brand = detail.brands.iter().find(|b| b.id == brand_id).cloned();
            (brand_id == 0 || brand.is_some())
                .then(|| view! { <BrandForm client=detail.client brand=brand/> }.into_any())
        }/>
    }
}

/// A page with a form for one row under a client (`:id`): loads the client, and shows
/// `form` for the row named by the route parameter `child` (0 or absent: a new row), or
/// "not found" when `form` finds no such row under this client.
#[component]
fn ClientChildPage<F>(child: &'static str, form: F) -> impl IntoView
where
    F: Fn(ClientDetail, i64) -> Option<AnyView> + Clone + Send + Sync + 'static,
{
    let id = param("id");
    let child_id = param(child);
    let detail = Resource::new(move || id.get(), get_client);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let form = form.clone();
                detail.get().map(move |r| match r {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(d) => form(d, child_id.get()).unwrap_or_else(|| {
                        view! { <ErrorBox error=crate::error::AppError::NotFound(child.into())/> }.into_any()
                    }),
                })
            }}
        </Transition>
    }
}

#[component]
fn BrandForm(client: Client, brand: Option<Brand>) -> impl IntoView {
    let b = brand.clone().unwrap_or(Brand { default_locale: "en".into(), ..Default::default() });
    let name = RwSignal::new(b.name.clone());
    let sender_name = RwSignal::new(b.sender_name.clone());
    let sender_email = RwSignal::new(b.sender_email.clone());
    let domain = RwSignal::new(b.sending_domain.clone());
    let locale = RwSignal::new(b.default_locale.clone());
    let address = RwSignal::new(b.postal_address.clone());
    let sms_sender = RwSignal::new(b.sms_sender.clone());
    let sms_number = RwSignal::new(b.sms_number.clone());
    let whatsapp_phone_id = RwSignal::new(b.whatsapp_phone_id.clone());
    let action = ServerAction::<SaveBrand>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    let client_id = client.id;
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            navigate(&format!("/clients/{client_id}"), Default::default());
        }
    });
    let id = brand.as_ref().map(|b| b.id);
    let title = if id.is_some() { format!("Edit brand {}", b.name) } else { "New brand".to_string() };
    view! {
        <Breadcrumbs items=vec![
            ("Clients".into(), "/clients".into()),
            (client.name.clone(), format!("/clients/{client_id}")),
            (title.clone(), String::new()),
        ]/>
        <h1>{title}</h1>
        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<SaveBrand>()} aria-label="Brand" on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(SaveBrand { form: BrandForm {
                id, client_id,
                name: name.get_untracked(), sender_name: sender_name.get_untracked(),
                sender_email: sender_email.get_untracked(), sending_domain: domain.get_untracked(),
                default_locale: locale.get_untracked(), postal_address: address.get_untracked(),
                sms_sender: sms_sender.get_untracked(), sms_number: sms_number.get_untracked(),
                whatsapp_phone_id: whatsapp_phone_id.get_untracked(),
            }});
        }>
            <FormStatus value=value/>
            <TextField label="Brand name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <TextField label="Sender name" name="sender_name" value=sender_name error=field_error(value, "sender_name") required=true maxlength=120 hint="Shown as the From name, e.g. \"Acme Care Team\"."/>
            <TextField label="Sending domain" name="sending_domain" value=domain error=field_error(value, "sending_domain") required=true hint="The domain SPF, DKIM and DMARC are published on, e.g. mail.acme.de."/>
            <TextField label="Sender address" name="sender_email" kind="email" value=sender_email error=field_error(value, "sender_email") required=true hint="Must be on the sending domain."/>
            <TextField label="Default language" name="default_locale" value=locale error=field_error(value, "default_locale") required=true maxlength=20 hint="A language tag: en, de, fr-CA, ja…"/>
            <TextArea label="Postal address" name="postal_address" value=address error=field_error(value, "postal_address") required=true/>
            <TextField label="SMS sender (optional)" name="sms_sender" value=sms_sender error=field_error(value, "sms_sender") maxlength=16 hint="Who texts come from: a sender ID of up to 11 letters (where the country allows one), a short code, or a number such as +12025550143. Replies (STOP) reach a number only."/>
            <TextField label="SMS number (optional)" name="sms_number" value=sms_number error=field_error(value, "sms_number") maxlength=16 hint="The number texts come from where sender IDs are not allowed (the US, Canada, China) and buyers can reply to."/>
            <TextField label="WhatsApp phone number id (optional)" name="whatsapp_phone_id" value=whatsapp_phone_id error=field_error(value, "whatsapp_phone_id") maxlength=30 hint="The id Meta gives the brand's WhatsApp Business number (WhatsApp Manager, Phone numbers): WhatsApp messages come from that number, and replies to it (STOP) are honoured."/>
            <div class="actions">
                <A href=format!("/clients/{client_id}") attr:class="button">"Cancel"</A>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Save brand"</button>
            </div>
        </form>
    }
}

/// New store under `:id`, or edit store `:store`.
#[component]
pub fn StoreFormPage() -> impl IntoView {
    view! {
        <ClientChildPage child="store" form=|detail, store_id| {
            let store = detail.stores.iter().find(|s| s.id == store_id).cloned();
            (store_id == 0 || store.is_some())
                .then(|| view! { <StoreForm detail=detail store=store/> }.into_any())
        }/>
    }
}

#[component]
fn StoreForm(detail: ClientDetail, store: Option<Store>) -> impl IntoView {
    let first_brand = detail.brands.first().map(|b| b.id).unwrap_or(0);
    let s = store.clone().unwrap_or(Store {
        brand_id: first_brand,
        platform: "shopify".into(),
        currency: "EUR".into(),
        time_zone: "Europe/Berlin".into(),
        ..Default::default()
    });
    let name = RwSignal::new(s.name.clone());
    let brand = RwSignal::new(s.brand_id.to_string());
    let platform = RwSignal::new(s.platform.clone());
    let marketplace = RwSignal::new(s.marketplace.clone());
    let currency = RwSignal::new(s.currency.clone());
    let time_zone = RwSignal::new(s.time_zone.clone());
    let action = ServerAction::<SaveStore>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    let client_id = detail.client.id;
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            navigate(&format!("/clients/{client_id}"), Default::default());
        }
    });
    let brands: Vec<(String, String)> = detail.brands.iter().map(|b| (b.id.to_string(), b.name.clone())).collect();
    let platforms: Vec<(String, String)> = Platform::ALL.iter().map(|p| (p.as_str().to_string(), p.label().to_string())).collect();
    let id = store.as_ref().map(|s| s.id);
    let title = if id.is_some() { format!("Edit store {}", s.name) } else { "New store".to_string() };
    view! {
        <Breadcrumbs items=vec![
            ("Clients".into(), "/clients".into()),
            (detail.client.name.clone(), format!("/clients/{client_id}")),
            (title.clone(), String::new()),
        ]/>
        <h1>{title}</h1>
        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<SaveStore>()} aria-label="Store" on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(SaveStore { form: StoreForm {
                id, brand_id: brand.get_untracked().parse().unwrap_or(0),
                name: name.get_untracked(), platform: platform.get_untracked(),
                marketplace: marketplace.get_untracked(), currency: currency.get_untracked(),
                time_zone: time_zone.get_untracked(),
            }});
        }>
            <FormStatus value=value/>
            <TextField label="Store name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <SelectField label="Brand" name="brand_id" value=brand error=field_error(value, "brand_id") choices=Signal::stored(brands)/>
            <SelectField label="Platform" name="platform" value=platform error=field_error(value, "platform") choices=Signal::stored(platforms)/>
            <TextField label="Marketplace / site" name="marketplace" value=marketplace error=field_error(value, "marketplace") required=true hint="e.g. amazon.de, ebay.co.uk, acme.com"/>
            <TextField label="Currency" name="currency" value=currency error=field_error(value, "currency") required=true maxlength=3/>
            <TextField label="Time zone" name="time_zone" value=time_zone error=field_error(value, "time_zone") required=true maxlength=64 hint="IANA name, e.g. Europe/Berlin"/>
            <div class="actions">
                <A href=format!("/clients/{client_id}") attr:class="button">"Cancel"</A>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Save store"</button>
            </div>
        </form>
    }
}
