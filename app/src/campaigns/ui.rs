//! The campaigns page of a client: the list with planned and excluded counts, a form for a
//! new campaign, the audience preview with each exclusion's reason and a sample, and the
//! launch / pause / resume / cancel steps.

use super::api::*;
use super::model::*;
use crate::orders::ui::ClientTabs;
use crate::shell::route_id as param;
use crate::shell::{field_error, format_time, last_answer, Breadcrumbs, EmptyState, ErrorBox, FormStatus, SelectField, TextField};
use crate::templates::model::Purpose;
use leptos::prelude::*;

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
                        <button class="primary" on:click=move |_| creating.set(true) disabled=d.templates.is_empty()>"New campaign"</button>
                    </div>
                    <ClientTabs client_id=d.client_id current="campaigns"/>
                    {d.templates.is_empty().then(|| view! {
                        <p class="notice">"A campaign sends an approved template version: approve a template first."</p>
                    })}
                    {move || creating.get().then(|| view! {
                        <NewCampaignForm client_id=d.client_id templates=d.templates.clone() creating=creating created=created previewing=previewing/>
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
                                                <td data-label="Campaign">{c.name.clone()}<div class="muted small">{c.template.clone()}</div></td>
                                                <td data-label="Brand">{c.brand.clone()}</td>
                                                <td data-label="Purpose">{Purpose::label_of(&c.purpose)}</td>
                                                <td data-label="When">{c.trigger.clone()}</td>
                                                <td data-label="State"><span class=format!("badge campaign-{}", c.state)>{c.state.clone()}</span></td>
                                                <td data-label="Planned" class="num">{c.planned}</td>
                                                <td data-label="Excluded" class="num">{c.excluded}</td>
                                                <td data-label="Created">{format_time(c.created_at)}</td>
                                                <td class="row-actions">
                                                    <button class="link" on:click=move |_| previewing.set(Some(id))>"Preview audience"</button>
                                                    {CampaignStep::offered(&c.state).into_iter().map(|s| view! {
                                                        <button class=if s == CampaignStep::Launch { "primary small" } else { "small" }
                                                            disabled=move || step.pending().get()
                                                            on:click=move |_| { step.dispatch(RunCampaignStep { id, step: s }); }>
                                                            {s.label()}
                                                        </button>
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
    view! {
        <section class="card preview" aria-label="Audience preview">
            <div class="section-head"><h2>"Audience preview"</h2><button class="link" on:click=move |_| close.set(None)>"Close"</button></div>
            <p class="summary">
                <strong>{preview.would_send}</strong>" of "{preview.looked_at}" orders qualify now; "
                {preview.waiting}" wait for their trigger; "
                {excluded}" are excluded."
            </p>
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

#[component]
fn NewCampaignForm(
    client_id: i64,
    templates: Vec<UsableTemplate>,
    creating: RwSignal<bool>,
    created: RwSignal<u32>,
    previewing: RwSignal<Option<i64>>,
) -> impl IntoView {
    let template = RwSignal::new(templates.first().map(|t| t.0.to_string()).unwrap_or_default());
    let name = RwSignal::new(String::new());
    let trigger = RwSignal::new("delivery".to_string());
    let days = RwSignal::new("7".to_string());
    let countries = RwSignal::new(String::new());
    let fallback = RwSignal::new("en".to_string());
    let weights = RwSignal::new(String::new());
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
    let action = ServerAction::<CreateCampaign>::new();
    let value = last_answer(action);
    Effect::new(move |_| {
        if let Some(Ok(id)) = value.get() {
            creating.set(false);
            created.update(|n| *n += 1);
            previewing.set(Some(id));
        }
    });
    view! {
        <form class="card narrow" aria-label="New campaign" on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(CreateCampaign { form: CampaignForm {
                client_id,
                template_id: template.get_untracked().parse().unwrap_or(0),
                name: name.get_untracked(),
                trigger: trigger.get_untracked(),
                days: days.get_untracked().trim().parse().unwrap_or(u32::MAX),
                countries: countries.get_untracked(),
                fallback: fallback.get_untracked(),
                weights: weights.get_untracked(),
            }});
        }>
            <h2>"New campaign"</h2>
            <FormStatus value=value/>
            <TextField label="Name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <SelectField label="Template" name="template_id" value=template error=field_error(value, "template_id") choices=template_choices/>
            <SelectField label="When" name="trigger" value=trigger error=field_error(value, "trigger") choices=triggers/>
            <TextField label="Days" name="days" value=days error=field_error(value, "days") kind="number" maxlength=3/>
            <TextField label="Countries" name="countries" value=countries error=field_error(value, "countries") maxlength=200
                hint="Comma-separated country codes (DE, FR); empty for all."/>
            <TextField label="Fallback languages" name="fallback" value=fallback error=field_error(value, "fallback") maxlength=100
                hint="Tried after the buyer's language and its region, in order: de-AT -> de -> these."/>
            <TextField label="A/B weights" name="weights" value=weights error=field_error(value, "weights") maxlength=40
                hint="2-4 variants, e.g. 50,50; empty for no test."/>
            <div class="actions">
                <button type="button" on:click=move |_| creating.set(false)>"Cancel"</button>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Create and preview"</button>
            </div>
        </form>
    }
}
