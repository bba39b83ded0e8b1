//! The campaigns page of a client: the list with planned and excluded counts, a form for a
//! new campaign, the audience preview with each exclusion's reason and a sample, and the
//! launch / pause / resume / cancel steps.

use super::api::*;
use super::model::*;
use crate::shell::forms::ActionButton;
use crate::shell::route_id as param;
use crate::shell::table::{ListQuery, Page};
use crate::shell::ClientTabs;
use crate::shell::{field_error, format_time, last_answer, Breadcrumbs, EmptyState, ErrorBox, FormStatus, SelectField, TextField};
use crate::shell::{refresh_every, Pager, SearchBox, SortHeader};
use crate::templates::model::Purpose;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let client_id = param("id");
    let step = ServerAction::<RunCampaignStep>::new();
    let created = RwSignal::new(0u32);
    let data = Resource::new(move || (client_id.get(), step.version().get(), created.get()), |(c, _, _)| list_campaigns(c));
    let creating = RwSignal::new(false);
    let previewing = RwSignal::new(None::<i64>);
    let preview = Resource::new(
        move || previewing.get(),
        |id| async move {
            match id {
                Some(id) => preview_campaign(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let step_value = last_answer(step);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading campaigns…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! {
                    <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (d.client.clone(), format!("/clients/{}", d.client_id)), ("Campaigns".into(), String::new())]/>
                    <div class="page-head">
                        <h1>"Campaigns"</h1>
                        <button class="primary" on:click=move |_| creating.set(true) disabled=d.templates.is_empty() && d.amazon_brands.is_empty()>"New campaign"</button>
                    </div>
                    <ClientTabs client_id=d.client_id current="campaigns"/>
                    {(d.templates.is_empty() && d.amazon_brands.is_empty()).then(|| view! {
                        <p class="notice">"A campaign sends an approved template version: approve a template first."</p>
                    })}
                    {move || creating.get().then(|| view! {
                        <CampaignEditor
                            initial=CampaignForm { client_id: d.client_id, ..CampaignForm::default() }
                            editing=None
                            templates=d.templates.clone()
                            amazon_brands=d.amazon_brands.clone()
                            close=Callback::new(move |_: ()| creating.set(false))
                            done=Callback::new(move |id: i64| {
                                creating.set(false);
                                created.update(|n| *n += 1);
                                previewing.set(Some(id));
                            })/>
                    })}
                    <FormStatus value=step_value/>
                    {if d.campaigns.is_empty() {
                        view! {
                            <EmptyState title="No campaigns yet">
                                <p>"A campaign sends one approved message to the orders its audience selects, a set number of days after fulfilment or delivery, or once as a batch."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap"><table class="campaigns">
                                <thead><tr>
                                    <th>"Campaign"</th><th>"Brand"</th><th>"Purpose"</th><th>"When"</th><th>"State"</th>
                                    <th class="num">"Planned"</th><th class="num">"Excluded"</th><th>"Created"</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {d.campaigns.clone().into_iter().map(|c| {
                                        let id = c.id;
                                        view! {
                                            <tr>
                                                <td data-label="Campaign"><a href=format!("/clients/{}/campaigns/{}", d.client_id, id)>{c.name.clone()}</a><div class="muted small">{c.template.clone()}</div></td>
                                                <td data-label="Brand">{c.brand.clone()}</td>
                                                <td data-label="Purpose">{Purpose::label_of(&c.purpose)}</td>
                                                <td data-label="When">{c.trigger.clone()}</td>
                                                <td data-label="State"><span class=format!("badge campaign-{}", c.state.as_str())>{c.state.as_str()}</span></td>
                                                <td data-label="Planned" class="num">{c.planned}</td>
                                                <td data-label="Excluded" class="num">{c.excluded}</td>
                                                <td data-label="Created">{format_time(c.created_at)}</td>
                                                <td class="row-actions">
                                                    <button class="link" on:click=move |_| previewing.set(Some(id))>"Preview audience"</button>
                                                    {CampaignStep::offered(c.state).into_iter().map(|s| view! {
                                                        <ActionButton action=step input=RunCampaignStep { id, step: s } label=s.label()
                                                            class=if s == CampaignStep::Launch { "primary small" } else { "small" }/>
                                                    }).collect_view()}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any()
                    }}
                }.into_any(),
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted" role="status">"Working out the audience…"</p> }>
            {move || preview.get().map(|r| match r {
                Ok(Some(p)) => view! { <PreviewPanel preview=p close=previewing/> }.into_any(),
                Ok(None) => ().into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn PreviewPanel(preview: Preview, close: RwSignal<Option<i64>>) -> impl IntoView {
    let total = preview.looked_at.max(1) as f64;
    let excluded: u64 = preview.excluded.iter().map(|e| e.2).sum();
    let by_language = preview.locales.iter().map(|(l, n)| format!("{l} {n}")).collect::<Vec<_>>().join(", ");
    let by_channel = preview.channels.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
    view! {
        <section class="card preview" aria-label="Audience preview">
            <div class="section-head"><h2>"Audience preview"</h2><button class="link" on:click=move |_| close.set(None)>"Close"</button></div>
            <p class="summary">
                <strong>{preview.would_send}</strong>" of "{preview.looked_at}" orders qualify now; "
                {preview.waiting}" wait for their trigger; "
                {excluded}" are excluded."
            </p>
            {(!by_channel.is_empty()).then(|| view! { <p class="by-channel">"By channel: "{by_channel}</p> })}
            {(!by_language.is_empty()).then(|| view! { <p class="muted">"By language: "{by_language}</p> })}
            {if preview.excluded.is_empty() {
                view! { <p class="muted">"No order is excluded by any rule."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap"><table class="exclusions">
                        <thead><tr><th>"Rule"</th><th class="num">"Orders"</th><th>"Share"</th><th>"Why"</th><th>"Sample"</th></tr></thead>
                        <tbody>
                            {preview.excluded.into_iter().map(|(key, why, n, sample)| view! {
                                <tr>
                                    <td data-label="Rule"><code>{key}</code></td>
                                    <td data-label="Orders" class="num">{n}</td>
                                    <td data-label="Share"><span class="bar" style=format!("width:{:.0}%", n as f64 / total * 100.0)></span></td>
                                    <td data-label="Why">{why}</td>
                                    <td data-label="Sample" class="muted">{sample.join(", ")}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
    }
}

/// The campaign form, new (`editing` None) or changing an existing campaign.
#[component]
fn CampaignEditor(
    initial: CampaignForm,
    editing: Option<i64>,
    templates: Vec<UsableTemplate>,
    /// The client's brands with an Amazon store (Amazon's request a review).
    amazon_brands: Vec<(i64, String)>,
    close: Callback<()>,
    done: Callback<i64>,
) -> impl IntoView {
    let client_id = initial.client_id;
    // A new campaign of a client with no approved template can only be Amazon's request.
    let channel = RwSignal::new(match initial.channel.as_str() {
        "" if templates.is_empty() && !amazon_brands.is_empty() => "amazon".to_string(),
        "" => "email".to_string(),
        chosen => chosen.to_string(),
    });
    let first_brand = amazon_brands.first().map(|b| b.0.to_string()).unwrap_or_default();
    let brand = RwSignal::new(if initial.brand_id > 0 { initial.brand_id.to_string() } else { first_brand });
    let channels = Signal::derive({
        let offer_amazon = !amazon_brands.is_empty();
        move || {
            let mut choices = vec![
                ("email".to_string(), "E-mail (an approved template)".to_string()),
                ("sms".to_string(), "SMS (the template's approved SMS part; buyers who agreed to texts)".to_string()),
                ("sms,email".to_string(), "SMS, else e-mail".to_string()),
                ("email,sms".to_string(), "E-mail, else SMS".to_string()),
                ("whatsapp".to_string(), "WhatsApp (the template Meta approved; buyers who opted in)".to_string()),
                ("whatsapp,sms".to_string(), "WhatsApp, else SMS".to_string()),
                ("whatsapp,sms,email".to_string(), "WhatsApp, else SMS, else e-mail".to_string()),
                ("whatsapp,email".to_string(), "WhatsApp, else e-mail".to_string()),
            ];
            if offer_amazon {
                choices.push(("amazon".to_string(), "Amazon Request a Review (written by Amazon)".to_string()));
            }
            choices
        }
    });
    let brand_choices = Signal::derive({
        let brands = amazon_brands.clone();
        move || brands.iter().map(|(id, name)| (id.to_string(), name.clone())).collect::<Vec<_>>()
    });
    let amazon = move || channel.get() == "amazon";
    let first_template = templates.first().map(|t| t.0.to_string()).unwrap_or_default();
    let template = RwSignal::new(if initial.template_id > 0 { initial.template_id.to_string() } else { first_template });
    let name = RwSignal::new(initial.name.clone());
    let or = |value: &str, default: &str| if value.is_empty() { default.to_string() } else { value.to_string() };
    let trigger = RwSignal::new(or(&initial.trigger, "delivery"));
    let days = RwSignal::new(if editing.is_some() { initial.days.to_string() } else { "7".to_string() });
    let countries = RwSignal::new(initial.countries.clone());
    let fallback = RwSignal::new(if editing.is_some() { initial.fallback.clone() } else { "en".to_string() });
    // Up to four variant rows; the first `variant_count` are part of the test.
    let variant_count = RwSignal::new(initial.variants.len().to_string());
    let rows: Vec<(RwSignal<String>, RwSignal<String>, RwSignal<String>)> = (0..4)
        .map(|i| {
            let v = initial.variants.get(i).cloned().unwrap_or(VariantForm { weight: "50".into(), ..VariantForm::default() });
            (RwSignal::new(v.weight), RwSignal::new(v.subject), RwSignal::new(v.delay_hours))
        })
        .collect();
    let metric = RwSignal::new(or(&initial.metric, "click"));
    let auto_promote = RwSignal::new(initial.auto_promote);
    let canary = RwSignal::new(initial.canary);
    let canary_share = RwSignal::new(or(&initial.canary_share, "5"));
    let bounce_pct = RwSignal::new(or(&initial.bounce_pct, "5"));
    let complaint_pct = RwSignal::new(or(&initial.complaint_pct, "0.1"));
    let unsubscribe_pct = RwSignal::new(or(&initial.unsubscribe_pct, "2"));
    let hold_hours = RwSignal::new(or(&initial.hold_hours, "24"));
    let scheduled_at = RwSignal::new(initial.scheduled_at.clone());
    let counts = Signal::derive(|| {
        vec![
            ("0".to_string(), "No A/B test".to_string()),
            ("2".to_string(), "2 variants".to_string()),
            ("3".to_string(), "3 variants".to_string()),
            ("4".to_string(), "4 variants".to_string()),
        ]
    });
    let metrics = Signal::derive(|| {
        vec![
            ("click".to_string(), "Click rate (clicks / delivered)".to_string()),
            ("review".to_string(), "Review rate (reviews / delivered)".to_string()),
        ]
    });
    let template_choices = Signal::derive({
        let templates = templates.clone();
        move || {
            templates
                .iter()
                .map(|(id, n, brand, purpose, locales)| {
                    (id.to_string(), format!("{n} ({brand}, {}; approved: {})", Purpose::label_of(purpose), locales.join(" ")))
                })
                .collect::<Vec<_>>()
        }
    });
    let triggers = Signal::derive(|| {
        vec![
            ("delivery".to_string(), "Days after delivery".to_string()),
            ("fulfilment".to_string(), "Days after fulfilment".to_string()),
            ("batch".to_string(), "One-off batch, now".to_string()),
        ]
    });
    let submitted_rows = rows.clone();
    let create = ServerAction::<CreateCampaign>::new();
    let update = ServerAction::<UpdateCampaign>::new();
    let (created_value, updated_value) = (last_answer(create), last_answer(update));
    let value = Signal::derive(move || if editing.is_some() { updated_value.get() } else { created_value.get() });
    let pending = Signal::derive(move || create.pending().get() || update.pending().get());
    Effect::new(move |_| {
        if let Some(Ok(id)) = value.get() {
            done.run(id);
        }
    });
    view! {
        <form class="card narrow" method="post" action={if editing.is_some() { crate::shell::forms::url_of::<UpdateCampaign>() } else { crate::shell::forms::url_of::<CreateCampaign>() }} aria-label=if editing.is_some() { "Change campaign" } else { "New campaign" } on:submit=move |ev| {
            ev.prevent_default();
            let form = CampaignForm {
                client_id,
                channel: channel.get_untracked(),
                template_id: template.get_untracked().parse().unwrap_or(0),
                brand_id: brand.get_untracked().parse().unwrap_or(0),
                name: name.get_untracked(),
                trigger: trigger.get_untracked(),
                days: days.get_untracked().trim().parse().unwrap_or(u32::MAX),
                countries: countries.get_untracked(),
                fallback: fallback.get_untracked(),
                variants: submitted_rows
                    .iter()
                    .take(variant_count.get_untracked().parse().unwrap_or(0))
                    .map(|(w, s, d)| VariantForm { weight: w.get_untracked(), subject: s.get_untracked(), delay_hours: d.get_untracked() })
                    .collect(),
                metric: metric.get_untracked(),
                auto_promote: auto_promote.get_untracked(),
                canary: canary.get_untracked(),
                canary_share: canary_share.get_untracked(),
                bounce_pct: bounce_pct.get_untracked(),
                complaint_pct: complaint_pct.get_untracked(),
                unsubscribe_pct: unsubscribe_pct.get_untracked(),
                hold_hours: hold_hours.get_untracked(),
                scheduled_at: scheduled_at.get_untracked(),
            };
            match editing {
                Some(id) => { update.dispatch(UpdateCampaign { id, form }); }
                None => { create.dispatch(CreateCampaign { form }); }
            }
        }>
            <h2>{if editing.is_some() { "Change campaign" } else { "New campaign" }}</h2>
            <FormStatus value=value/>
            <TextField label="Name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <SelectField label="Channel" name="channel" value=channel error=field_error(value, "channel") choices=channels/>
            <div class:hidden=amazon>
                <SelectField label="Template" name="template_id" value=template error=field_error(value, "template_id") choices=template_choices/>
            </div>
            <div class:hidden=move || !amazon()>
                <SelectField label="Brand" name="brand_id" value=brand error=field_error(value, "brand_id") choices=brand_choices/>
                <p class="muted small">"Amazon writes and translates this review request itself and sends it once per order, from 5 days after the earliest delivery date to 30 days after the latest. There is no template, so the editor and the compliance lint do not apply; audience, exclusions, suppression, timing, A/B of timing and the canary do."</p>
            </div>
            <SelectField label="When" name="trigger" value=trigger error=field_error(value, "trigger") choices=triggers/>
            <TextField label="Days" name="days" value=days error=field_error(value, "days") kind="number" maxlength=3/>
            <TextField label="Countries" name="countries" value=countries error=field_error(value, "countries") maxlength=200
                hint="Comma-separated country codes (DE, FR); empty for all."/>
            <TextField label="Planned launch (UTC, optional)" name="scheduled_at" value=scheduled_at error=field_error(value, "scheduled_at") kind="datetime-local" maxlength=16
                hint="The SLA board reports a launch later than this, past the contract's grace period."/>
            <TextField label="Fallback languages" name="fallback" value=fallback error=field_error(value, "fallback") maxlength=100
                hint="Tried after the buyer's language and its region, in order: de-AT -> de -> these."/>
            <fieldset class="group">
                <legend>"A/B test"</legend>
                <SelectField label="Variants" name="variant_count" value=variant_count error=field_error(value, "variants") choices=counts/>
                {rows.into_iter().enumerate().map(|(i, (weight, subject, delay))| {
                    let label = variant_label(i);
                    view! {
                        <div class="variant-row" class:hidden={move || variant_count.get().parse::<usize>().unwrap_or(0) <= i}>
                            <strong class="variant-label">{label.clone()}</strong>
                            <VariantInput label="Weight" field=format!("variant-{i}-weight") value=weight error=field_error(value, format!("variant-{i}-weight")) kind="number"/>
                            <div class:hidden=amazon>
                                <VariantInput label="Subject (empty: the template's)" field=format!("variant-{i}-subject") value=subject error=field_error(value, format!("variant-{i}-subject")) kind="text"/>
                            </div>
                            <VariantInput label="Extra delay (hours)" field=format!("variant-{i}-delay") value=delay error=field_error(value, format!("variant-{i}-delay")) kind="number"/>
                        </div>
                    }
                }).collect_view()}
                <div class:hidden=move || variant_count.get() == "0">
                    <SelectField label="Target metric" name="metric" value=metric error=field_error(value, "metric") choices=metrics/>
                    <label class="check"><input type="checkbox" id="field-auto_promote" bind:checked=auto_promote/>
                        " Send the winner to the rest of the audience once the test decides"</label>
                </div>
            </fieldset>
            <fieldset class="group">
                <legend>"Canary"</legend>
                <label class="check"><input type="checkbox" id="field-canary" bind:checked=canary/>
                    " Send to a share first; hold the rest until it passes, halt on bad rates"</label>
                <div class="grid-3" class:hidden=move || !canary.get()>
                    <TextField label="Canary share (%)" name="canary_share" value=canary_share error=field_error(value, "canary_share") maxlength=6/>
                    <TextField label="Halt at bounce rate (%)" name="bounce_pct" value=bounce_pct error=field_error(value, "bounce_pct") maxlength=6/>
                    <TextField label="Halt at complaint rate (%)" name="complaint_pct" value=complaint_pct error=field_error(value, "complaint_pct") maxlength=6/>
                    <TextField label="Halt at unsubscribe rate (%)" name="unsubscribe_pct" value=unsubscribe_pct error=field_error(value, "unsubscribe_pct") maxlength=6/>
                    <TextField label="Watch after the last canary message (hours)" name="hold_hours" value=hold_hours error=field_error(value, "hold_hours") maxlength=3/>
                </div>
            </fieldset>
            <div class="actions">
                <button type="button" on:click=move |_| close.run(())>"Cancel"</button>
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {if editing.is_some() { "Save changes" } else { "Create and preview" }}
                </button>
            </div>
        </form>
    }
}

/// One input of a variant row (its id is dynamic, unlike `TextField`'s).
#[component]
fn VariantInput(
    label: &'static str,
    field: String,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    kind: &'static str,
) -> impl IntoView {
    let id = format!("field-{field}");
    let err_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            <input id=id name=field type=kind maxlength=200 bind:value=value
                aria-invalid=move || error.get().is_some().to_string() aria-describedby=err_id.clone()/>
            <small class="error" id=err_id role="alert">{move || error.get()}</small>
        </div>
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// One campaign: state and steps, why it halted, its canary against the thresholds, the
/// A/B results with intervals and the test's decision, its outbox and its history.
#[component]
pub fn CampaignPage() -> impl IntoView {
    let campaign_id = param("campaign");
    let step = ServerAction::<RunCampaignStep>::new();
    let saved = RwSignal::new(0u32);
    // Live progress: while the page is open the numbers refresh every five seconds.
    let tick = RwSignal::new(0u32);
    refresh_every(tick, std::time::Duration::from_secs(5));
    let data = Resource::new(move || (campaign_id.get(), step.version().get(), saved.get(), tick.get()), |(id, _, _, _)| get_campaign(id));
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params_with(|k| p.get(k), &["state"])
    });
    let messages =
        Resource::new(move || (campaign_id.get(), query.get(), step.version().get(), tick.get()), |(id, q, _, _)| campaign_messages(id, q));
    let step_value = last_answer(step);
    let editing = RwSignal::new(false);
    let form = Resource::new(
        move || (editing.get(), campaign_id.get()),
        |(open, id)| async move {
            if open {
                campaign_for_edit(id).await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the campaign…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => {
                    let id = d.id;
                    view! {
                        <Breadcrumbs items=vec![
                            ("Clients".into(), "/clients".into()),
                            (d.client.clone(), format!("/clients/{}", d.client_id)),
                            ("Campaigns".into(), format!("/clients/{}/campaigns", d.client_id)),
                            (d.name.clone(), String::new()),
                        ]/>
                        <div class="page-head">
                            <h1>{d.name.clone()}" "<span class=format!("badge campaign-{}", d.state.as_str())>{d.state.as_str()}</span></h1>
                            <div class="actions">
                                {CampaignStep::offered(d.state).into_iter().map(|s| view! {
                                    <ActionButton action=step input=RunCampaignStep { id, step: s } label=s.label()
                                        class=if matches!(s, CampaignStep::Launch | CampaignStep::Resume) { "primary" } else { "" }/>
                                }).collect_view()}
                                {d.state.is_editable().then(|| view! {
                                    <button on:click=move |_| editing.set(true)>"Change"</button>
                                })}
                            </div>
                        </div>
                        <FormStatus value=step_value/>
                        {(d.state == CampaignState::Running).then(|| view! {
                            <p class="muted small">"Pause the campaign to change its rules; every change is recorded in its history."</p>
                        })}
                        {let (templates, amazon_brands) = (d.templates.clone(), d.amazon_brands.clone());
                        move || form.get().map(|r| match r {
                            Ok(Some(initial)) => view! {
                                <CampaignEditor initial=initial editing=Some(id) templates=templates.clone() amazon_brands=amazon_brands.clone()
                                    close=Callback::new(move |_: ()| editing.set(false))
                                    done=Callback::new(move |_: i64| { editing.set(false); saved.update(|n| *n += 1); })/>
                            }.into_any(),
                            Ok(None) => ().into_any(),
                            Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        })}
                        {(!d.halt_reason.is_empty()).then(|| view! {
                            <p class="notice danger" role="alert" id="halt-reason">
                                <strong>"Halted: "</strong>{d.halt_reason.clone()}
                                ". Resume to accept this and send the rest, or cancel."
                            </p>
                        })}
                        <p class="muted">{d.brand.clone()}" · "{Purpose::label_of(&d.purpose)}" · "{d.trigger.clone()}" · template "{d.template.clone()}</p>
                        <div class="grid-2">
                            <section class="card">
                                <h2>"Rules"</h2>
                                <dl class="facts">
                                    {d.settings.iter().map(|(k, v)| view! { <dt>{k.clone()}</dt><dd>{v.clone()}</dd> }).collect_view()}
                                </dl>
                            </section>
                            <section class="card">
                                <h2>"Outbox"</h2>
                                {if d.messages.is_empty() {
                                    view! { <p class="muted">"Nothing planned yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <dl class="facts" id="message-states">
                                            {d.messages.iter().map(|(state, n)| view! { <dt>{state.as_str()}</dt><dd>{*n}</dd> }).collect_view()}
                                        </dl>
                                    }.into_any()
                                }}
                            </section>
                        </div>
                        {d.canary.clone().map(|c| view! { <CanaryCard canary=c/> })}
                        {(!d.variants.is_empty()).then(|| view! { <TestCard detail=d.clone()/> })}
                        <section class="card" aria-label="Messages" id="messages">
                            <div class="section-head">
                                <h2>"Messages"</h2>
                                <SearchBox query=query placeholder="Find a recipient"/>
                            </div>
                            <MessageLog messages=messages query=query/>
                        </section>
                        <section class="card">
                            <h2>"History"</h2>
                            {if d.history.is_empty() {
                                view! { <p class="muted">"No changes yet."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-wrap"><table class="history">
                                        <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Detail"</th></tr></thead>
                                        <tbody>
                                            {d.history.iter().map(|(at, who, what, detail)| view! {
                                                <tr>
                                                    <td data-label="When">{format_time(*at)}</td>
                                                    <td data-label="Who">{who.clone()}</td>
                                                    <td data-label="What"><code>{what.clone()}</code></td>
                                                    <td data-label="Detail">{detail.clone()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }.into_any()
                            }}
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn CanaryCard(canary: CanaryView) -> impl IntoView {
    let c = canary;
    let rate = |n: u64, base: u64| if base == 0 { 0.0 } else { n as f64 / base as f64 };
    let meters = vec![
        ("Bounces", c.bounced, c.sent, "sent", c.bounce),
        ("Complaints", c.complained, c.delivered, "delivered", c.complaint),
        ("Unsubscribes", c.unsubscribed, c.delivered, "delivered", c.unsubscribe),
    ];
    let status = if c.phase == CampaignPhase::Canary {
        format!(
            "The canary ({} of the audience) goes first; {} messages are held until it has {} sent and {} hours have passed since its last message without a breach.",
            pct(c.share),
            c.held,
            c.min_sent,
            c.hold_hours
        )
    } else {
        "The canary passed; the whole audience is sending. Rates are still watched.".to_string()
    };
    view! {
        <section class="card" aria-label="Canary" id="canary">
            <h2>"Canary"</h2>
            <p>{status}</p>
            <div class="table-wrap"><table class="meters">
                <thead><tr><th>"Rate"</th><th class="num">"Count"</th><th class="num">"Rate"</th><th class="num">"Halts above"</th><th>"Against the threshold"</th></tr></thead>
                <tbody>
                    {meters.into_iter().map(|(label, n, base, of, threshold)| {
                        let r = rate(n, base);
                        let fill = if threshold > 0.0 { (r / threshold * 100.0).min(100.0) } else { 0.0 };
                        view! {
                            <tr>
                                <td data-label="Rate">{label}</td>
                                <td data-label="Count" class="num">{format!("{n} of {base} {of}")}</td>
                                <td data-label="Rate" class="num">{pct(r)}</td>
                                <td data-label="Halts above" class="num">{pct(threshold)}</td>
                                <td data-label="Against the threshold">
                                    <span class="meter" role="img" aria-label=format!("{label}: {:.0}% of the threshold", fill)>
                                        <span class={if fill >= 100.0 { "fill over" } else { "fill" }} style=format!("width:{fill:.0}%")></span>
                                    </span>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    }
}

#[component]
fn TestCard(detail: CampaignDetail) -> impl IntoView {
    let what = if detail.metric == "review" { "Review rate" } else { "Click rate" };
    let top = detail.variants.iter().map(|v| v.high).fold(0.0f64, f64::max).max(0.0001);
    view! {
        <section class="card" aria-label="A/B test" id="ab-test">
            <h2>"A/B test: "{what}" (per delivered message)"</h2>
            <p class="verdict" id="verdict"><strong>{detail.verdict.clone()}</strong>
                {detail.winner.clone().map(|w| if detail.auto_promote {
                    format!(" Variant {w} now goes to the rest of the audience.")
                } else {
                    format!(" Variant {w} is recorded as the winner.")
                })}
            </p>
            <p class="muted small">"Decided by a mixture sequential probability ratio test: checking every day does not raise the 5% false-positive rate. Bars show each rate with its 95% interval."</p>
            <div class="table-wrap"><table class="variants">
                <thead><tr>
                    <th>"Variant"</th><th class="num">"Weight"</th><th>"Differs by"</th><th class="num">"Planned"</th><th class="num">"Sent"</th>
                    <th class="num">"Delivered"</th><th class="num">"Opened"</th><th class="num">{what}</th><th>"Rate, 95% interval"</th>
                </tr></thead>
                <tbody>
                    {detail.variants.iter().map(|v| {
                        let differs = [
                            (!v.subject.is_empty()).then(|| format!("subject \"{}\"", v.subject)),
                            (v.delay_hours > 0).then(|| format!("+{} h", v.delay_hours)),
                        ].into_iter().flatten().collect::<Vec<_>>().join(", ");
                        let left = v.low / top * 100.0;
                        let width = ((v.high - v.low) / top * 100.0).max(0.5);
                        let mark = v.rate / top * 100.0;
                        view! {
                            <tr class:winner=detail.winner.as_deref() == Some(v.label.as_str())>
                                <td data-label="Variant"><strong>{v.label.clone()}</strong></td>
                                <td data-label="Weight" class="num">{v.weight}</td>
                                <td data-label="Differs by">{if differs.is_empty() { "template as approved".to_string() } else { differs }}</td>
                                <td data-label="Planned" class="num">{v.planned}</td>
                                <td data-label="Sent" class="num">{v.sent}</td>
                                <td data-label="Delivered" class="num">{v.delivered}</td>
                                <td data-label="Opened" class="num">{v.opened}</td>
                                <td data-label=what class="num">{format!("{} ({})", v.successes, pct(v.rate))}</td>
                                <td data-label="Rate, 95% interval">
                                    <span class="interval" role="img" aria-label=format!("{} from {} to {}", pct(v.rate), pct(v.low), pct(v.high))>
                                        <span class="range" style=format!("left:{left:.1}%;width:{width:.1}%")></span>
                                        <span class="point" style=format!("left:{mark:.1}%")></span>
                                    </span>
                                    <small class="muted">{format!("{} – {}", pct(v.low), pct(v.high))}</small>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    }
}

/// The campaign's messages with their event timelines, sortable and paged.
#[component]
fn MessageLog(messages: Resource<Result<Page<MessageRow>, crate::error::AppError>>, query: Signal<ListQuery>) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading messages…"</p> }>
            {move || messages.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(page) if page.rows.is_empty() => view! {
                    <p class="muted">"No messages yet: they are planned when the campaign is launched and its orders are due."</p>
                }.into_any(),
                Ok(page) => view! {
                    <div class="table-wrap"><table class="messages">
                        <thead><tr>
                            <SortHeader label="Recipient" column="recipient" query=query/>
                            <th>"Order"</th><th>"Variant"</th><th>"Language"</th>
                            <SortHeader label="State" column="state" query=query/>
                            <SortHeader label="Due" column="send_at" query=query/>
                            <SortHeader label="Tries" column="attempts" query=query numeric=true/>
                            <th>"Timeline"</th>
                        </tr></thead>
                        <tbody>
                            {page.rows.clone().into_iter().map(|m| view! {
                                <tr>
                                    <td data-label="Recipient">{m.recipient}</td>
                                    <td data-label="Order">{m.order}</td>
                                    <td data-label="Variant">{m.variant}</td>
                                    <td data-label="Language">{m.locale}</td>
                                    <td data-label="State"><span class=format!("badge message-{}", m.state.as_str())>{m.state.as_str()}</span>
                                        {(!m.last_error.is_empty()).then(|| view! { <div class="muted small">{m.last_error.clone()}</div> })}</td>
                                    <td data-label="Due">{format_time(m.send_at)}</td>
                                    <td data-label="Tries" class="num">{m.attempts}</td>
                                    <td data-label="Timeline">
                                        {if m.events.is_empty() {
                                            view! { <span class="muted">"—"</span> }.into_any()
                                        } else {
                                            view! {
                                                <ol class="events">
                                                    {m.events.into_iter().map(|(kind, at, detail)| view! {
                                                        <li title=detail><strong>{kind.as_str()}</strong>" "<span class="muted">{format_time(at)}</span></li>
                                                    }).collect_view()}
                                                </ol>
                                            }.into_any()
                                        }}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                    <Pager page=page query=query.get()/>
                }.into_any(),
            })}
        </Transition>
    }
}
