//! Pages of templates: the list, a template's versions, the editor with live lint and
//! preview (computed in the browser by the same Rust the server enforces), and the
//! approval queue.

use super::api::*;
use super::model::*;
use super::rules::Step;
use crate::clients::model::Platform;
use crate::common::render::{render, VARIABLES};
use crate::compliance::{lint, Finding, Part, Severity};
use crate::shell::forms::{url_of, ActionButton};
use crate::shell::table::ListQuery;
use crate::shell::ClientTabs;
use crate::shell::{
    field_error, format_time, last_answer, Breadcrumbs, EmptyState, ErrorBox, FormStatus, Pager, SearchBox, SelectField, SortHeader,
    TextField,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::shell::route_id as param;

#[component]
fn StatusBadge(status: Status) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.label()}</span> }
}

fn platform_label(raw: &str) -> &'static str {
    if raw == "any" {
        "Any non-Amazon store"
    } else {
        Platform::parse("platform", raw).map(|p| p.label()).unwrap_or("?")
    }
}

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let client_id = param("id");
    let params = use_query_map();
    let query = Signal::derive(move || {
        let p = params.get();
        ListQuery::from_params(|k| p.get(k))
    });
    let data = Resource::new(move || (client_id.get(), query.get()), |(c, q)| list_templates(c, q));
    let creating = RwSignal::new(false);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading templates…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => {
                    let base = format!("/clients/{}/templates", d.client_id);
                    view! {
                        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), (d.client.clone(), format!("/clients/{}", d.client_id)), ("Templates".into(), String::new())]/>
                        <div class="page-head">
                            <h1>"Templates"</h1>
                            <SearchBox query=query placeholder="Search templates or brands"/>
                            {d.can_write.then(|| view! { <button class="primary" on:click=move |_| creating.set(true)>"New template"</button> })}
                        </div>
                        <ClientTabs client_id=d.client_id current="templates" buyer_data=d.can_read_orders/>
                        {move || creating.get().then(|| view! { <NewTemplateForm client_id=d.client_id brands=d.brands.clone() creating=creating/> })}
                        {if d.page.rows.is_empty() {
                            view! {
                                <EmptyState title="No templates yet">
                                    <p>{if query.get_untracked().q.is_empty() { "A template holds one message (a review request, say) in every language, each version reviewed before use." } else { "No template matches this search." }}</p>
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table class="templates">
                                    <thead><tr>
                                        <SortHeader label="Template" column="name" query=query/>
                                        <SortHeader label="Brand" column="brand" query=query/>
                                        <SortHeader label="Purpose" column="purpose" query=query/>
                                        <th>"For"</th>
                                        <th>"Languages"</th>
                                        <SortHeader label="Updated" column="updated" query=query/>
                                    </tr></thead>
                                    <tbody>
                                        {d.page.rows.clone().into_iter().map(|t| view! {
                                            <tr>
                                                <td data-label="Template"><A href=format!("{base}/{}", t.id)>{t.name.clone()}</A></td>
                                                <td data-label="Brand">{t.brand.clone()}</td>
                                                <td data-label="Purpose">{Purpose::label_of(&t.purpose)}</td>
                                                <td data-label="For">{platform_label(&t.platform)}</td>
                                                <td data-label="Languages" class="locales">
                                                    {t.locales.iter().map(|(l, s)| view! {
                                                        <span class=format!("locale status-{}", s.as_str()) title=s.label()>{l.clone()}</span>
                                                    }).collect_view()}
                                                </td>
                                                <td data-label="Updated">{format_time(t.updated_at)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                                <Pager page=d.page.clone() query=query.get_untracked()/>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn NewTemplateForm(client_id: i64, brands: Vec<(i64, String, String)>, creating: RwSignal<bool>) -> impl IntoView {
    let first = brands.first().cloned();
    let brand = RwSignal::new(first.as_ref().map(|b| b.0.to_string()).unwrap_or_default());
    let name = RwSignal::new(String::new());
    let purpose = RwSignal::new(Purpose::ReviewRequest.as_str().to_string());
    let platform = RwSignal::new("any".to_string());
    let locale = RwSignal::new(first.as_ref().map(|b| b.2.clone()).unwrap_or_else(|| "en".into()));
    let brand_choices = Signal::derive({
        let brands = brands.clone();
        move || brands.iter().map(|(id, n, _)| (id.to_string(), n.clone())).collect::<Vec<_>>()
    });
    let purposes = Signal::derive(|| Purpose::ALL.iter().map(|p| (p.as_str().to_string(), p.label().to_string())).collect::<Vec<_>>());
    let platforms = Signal::derive(|| {
        let mut all = vec![("any".to_string(), "Any non-Amazon store".to_string())];
        all.extend(Platform::ALL.iter().filter(|p| **p != Platform::Other).map(|p| (p.as_str().to_string(), p.label().to_string())));
        all
    });
    // Choosing a brand proposes its default language for the first version.
    {
        let brands = brands.clone();
        Effect::new(move |_| {
            let chosen = brand.get();
            if let Some((_, _, default_locale)) = brands.iter().find(|(id, _, _)| id.to_string() == chosen) {
                locale.set(default_locale.clone());
            }
        });
    }
    let action = ServerAction::<CreateTemplate>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok((template, version))) = value.get() {
            navigate(&format!("/clients/{client_id}/templates/{template}/versions/{version}"), Default::default());
        }
    });
    view! {
        <form class="card narrow" method="post" action={crate::shell::forms::url_of::<CreateTemplate>()} aria-label="New template" on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(CreateTemplate { form: TemplateForm {
                client_id,
                brand_id: brand.get_untracked().parse().unwrap_or(0),
                name: name.get_untracked(),
                purpose: purpose.get_untracked(),
                platform: platform.get_untracked(),
                locale: locale.get_untracked(),
            }});
        }>
            <h2>"New template"</h2>
            <FormStatus value=value/>
            <SelectField label="Brand" name="brand_id" value=brand error=field_error(value, "brand_id") choices=brand_choices/>
            <TextField label="Name" name="name" value=name error=field_error(value, "name") required=true maxlength=120/>
            <SelectField label="Purpose" name="purpose" value=purpose error=field_error(value, "purpose") choices=purposes/>
            <SelectField label="Sent to buyers of" name="platform" value=platform error=field_error(value, "platform") choices=platforms/>
            <TextField label="First language" name="locale" value=locale error=field_error(value, "locale") required=true maxlength=20
                hint="A BCP-47 tag: en, de, fr, es, it, ja, zh-Hans, de-AT…"/>
            <div class="actions">
                <button type="button" on:click=move |_| creating.set(false)>"Cancel"</button>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Create and edit"</button>
            </div>
        </form>
    }
}

#[component]
pub fn TemplatePage() -> impl IntoView {
    let client_id = param("id");
    let template_id = param("template");
    let data = Resource::new(move || template_id.get(), get_template);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading template…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <TemplateView detail=d client_id=client_id.get_untracked()/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn TemplateView(detail: TemplateDetail, client_id: i64) -> impl IntoView {
    let t = detail.template.clone();
    let base = format!("/clients/{client_id}/templates/{}", t.id);
    let locale = RwSignal::new(String::new());
    let copy_from = RwSignal::new(String::new());
    let action = ServerAction::<NewVersion>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    {
        let base = base.clone();
        Effect::new(move |_| {
            if let Some(Ok(id)) = value.get() {
                navigate(&format!("{base}/versions/{id}"), Default::default());
            }
        });
    }
    let copy_choices = Signal::derive({
        let versions = detail.versions.clone();
        move || {
            let mut all = vec![(String::new(), "— the starter text —".to_string())];
            all.extend(versions.iter().map(|v| (v.id.to_string(), format!("{} version {} ({})", v.locale, v.number, v.status.label()))));
            all
        }
    });
    let template_id = t.id;
    view! {
        <Breadcrumbs items=vec![("Clients".into(), "/clients".into()), ("Templates".into(), format!("/clients/{client_id}/templates")), (t.name.clone(), String::new())]/>
        <div class="page-head"><h1>{t.name.clone()}</h1></div>
        <dl class="facts">
            <dt>"Brand"</dt><dd>{t.brand.clone()}</dd>
            <dt>"Purpose"</dt><dd>{Purpose::label_of(&t.purpose)}</dd>
            <dt>"Channel"</dt><dd>{t.channel.clone()}</dd>
            <dt>"Sent to buyers of"</dt><dd>{platform_label(&t.platform)}</dd>
            <dt>"Created"</dt><dd>{format_time(t.created_at)}</dd>
        </dl>
        <section>
            <h2>"Versions"</h2>
            {if detail.versions.is_empty() {
                view! { <EmptyState title="No versions yet"><p>"Add a language below."</p></EmptyState> }.into_any()
            } else {
                let base = base.clone();
                view! {
                    <div class="table-wrap"><table class="versions">
                        <thead><tr><th>"Language"</th><th>"Version"</th><th>"Status"</th><th>"Author"</th><th>"Findings"</th><th>"Updated"</th></tr></thead>
                        <tbody>
                            {detail.versions.clone().into_iter().map(|v| view! {
                                <tr>
                                    <td data-label="Language"><A href=format!("{base}/versions/{}", v.id)>{v.locale.clone()}</A></td>
                                    <td data-label="Version"><A href=format!("{base}/versions/{}", v.id)>{format!("v{}", v.number)}</A></td>
                                    <td data-label="Status"><StatusBadge status=v.status/></td>
                                    <td data-label="Author">{v.author_email.clone()}</td>
                                    <td data-label="Findings">{findings_summary(v.blocking, v.warnings)}</td>
                                    <td data-label="Updated">{format_time(v.updated_at)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            }}
        </section>
        {detail.can_write.then(|| view! {
            <form class="card narrow" method="post" action={crate::shell::forms::url_of::<NewVersion>()} aria-label="Add a language" on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(NewVersion { template_id, locale: locale.get_untracked(), copy_from: copy_from.get_untracked().parse().ok() });
            }>
                <h2>"Add a language"</h2>
                <FormStatus value=value/>
                <TextField label="Language" name="locale" value=locale error=field_error(value, "locale") required=true maxlength=20 hint="de, fr, es, it, ja, de-AT…"/>
                <SelectField label="Start from" name="copy_from" value=copy_from error=field_error(value, "copy_from") choices=copy_choices/>
                <div class="actions"><button type="submit" class="primary" disabled=move || action.pending().get()>"Add draft"</button></div>
            </form>
        })}
    }
}

fn findings_summary(blocking: i64, warnings: i64) -> String {
    match (blocking, warnings) {
        (0, 0) => "clean".into(),
        (b, w) => format!("{b} blocking · {w} warnings"),
    }
}

#[component]
pub fn VersionPage() -> impl IntoView {
    let client_id = param("id");
    let version_id = param("version");
    let reload = RwSignal::new(0u32);
    let data = Resource::new(move || (version_id.get(), reload.get()), |(id, _)| version_editor(id));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the editor…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(d) => view! { <Editor data=d client_id=client_id.get_untracked() reload=reload/> }.into_any(),
            })}
        </Transition>
    }
}

/// The editor: three parts on the left, the live preview on the right, findings as you type.
#[component]
fn Editor(data: EditorData, client_id: i64, reload: RwSignal<u32>) -> impl IntoView {
    let subject = RwSignal::new(data.version.subject.clone());
    let html = RwSignal::new(data.version.html.clone());
    let text = RwSignal::new(data.version.text.clone());
    let sms = RwSignal::new(data.version.sms.clone());
    let whatsapp = RwSignal::new(data.version.whatsapp.clone());
    let whatsapp_category = RwSignal::new(data.version.whatsapp_category.clone());
    let phone = move || Phone { sms: sms.get(), whatsapp: whatsapp.get(), whatsapp_category: whatsapp_category.get() };
    let phone_untracked = move || Phone {
        sms: sms.get_untracked(),
        whatsapp: whatsapp.get_untracked(),
        whatsapp_category: whatsapp_category.get_untracked(),
    };
    let saved = RwSignal::new((data.version.subject.clone(), data.version.html.clone(), data.version.text.clone(), data.version.phone()));
    let dirty = Signal::derive(move || saved.get() != (subject.get(), html.get(), text.get(), phone()));
    let data = StoredValue::new(data);
    // The lint and the preview run in the browser on every keystroke: the same Rust code
    // the server runs on save, submit and approve.
    let findings = Memo::new(move |_| data.with_value(|d| lint(&d.lint_input(&subject.get(), &html.get(), &text.get(), &phone()))));
    let preview = Memo::new(move |_| data.with_value(|d| render(&subject.get(), &html.get(), &text.get(), &d.sample)));
    // The text as the sample buyer would get it, and what it costs in parts (counted on
    // the rendered text: variables change its length).
    let sms_preview = Memo::new(move |_| data.with_value(|d| render("", "", &sms.get(), &d.sample).map(|r| r.text.trim().to_string())));
    let sms_parts = Signal::derive(move || {
        let rendered = sms_preview.get().unwrap_or_else(|_| sms.get());
        crate::common::segments::count(&rendered)
    });
    // The WhatsApp message as the sample buyer would get it.
    let whatsapp_preview =
        Memo::new(move |_| data.with_value(|d| render("", "", &whatsapp.get(), &d.sample).map(|r| r.text.trim().to_string())));
    let blocking = Signal::derive(move || findings.with(|f| f.iter().filter(|f| f.blocks()).count()));
    let warnings = Signal::derive(move || findings.with(|f| f.len()) - blocking.get());

    let save = ServerAction::<SaveVersion>::new();
    let save_value = last_answer(save);
    let step = ServerAction::<VersionStep>::new();
    let step_value = last_answer(step);
    let comment = RwSignal::new(String::new());
    let compare = RwSignal::new(String::new());
    let diff = Resource::new(
        move || compare.get(),
        move |other: String| {
            let this = data.with_value(|d| d.version.row.id);
            async move {
                match other.parse::<i64>() {
                    Ok(from) => compare_versions(from, this).await.map(Some),
                    Err(_) => Ok(None),
                }
            }
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(_)) = save_value.get() {
            saved.set((subject.get_untracked(), html.get_untracked(), text.get_untracked(), phone_untracked()));
            reload.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = step_value.get() {
            reload.update(|n| *n += 1);
        }
    });
    let d = data.get_value();
    let editable = d.can_edit;
    let version_id = d.version.row.id;
    let template_id = d.template.id;
    let copy = ServerAction::<NewVersion>::new();
    let copy_value = last_answer(copy);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = copy_value.get() {
            navigate(&format!("/clients/{client_id}/templates/{template_id}/versions/{id}"), Default::default());
        }
    });
    let row = d.version.row.clone();
    let locale_for_copy = row.locale.clone();
    let compare_choices = Signal::derive({
        let siblings = d.siblings.clone();
        move || {
            let mut all = vec![(String::new(), "— choose a version —".to_string())];
            all.extend(siblings.iter().map(|v| (v.id.to_string(), format!("{} v{} ({})", v.locale, v.number, v.status.label()))));
            all
        }
    });
    let parts_form = view! {
            <form class="editor-parts" method="post" action={crate::shell::forms::url_of::<SaveVersion>()} aria-label="Message" on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(SaveVersion {
                    id: version_id,
                    subject: subject.get_untracked(),
                    html: html.get_untracked(),
                    text: text.get_untracked(),
                    sms: sms.get_untracked(),
                    whatsapp: whatsapp.get_untracked(),
                    whatsapp_category: whatsapp_category.get_untracked(),
                });
            }>
                <div class="field" class:invalid=move || field_error(save_value, "subject").get().is_some()>
                    <label for="field-subject">"Subject"</label>
                    <input id="field-subject" name="subject" type="text" maxlength="300" readonly=!editable bind:value=subject/>
                    <small class="error" role="alert">{move || field_error(save_value, "subject").get()}</small>
                    <Marked part=Part::Subject source=subject findings=findings/>
                </div>
                <div class="field">
                    <label for="field-html">"HTML part"</label>
                    <textarea id="field-html" name="html" rows="12" spellcheck="true" readonly=!editable bind:value=html></textarea>
                    <Marked part=Part::Html source=html findings=findings/>
                </div>
                <div class="field">
                    <label for="field-text">"Plain-text part"</label>
                    <textarea id="field-text" name="text" rows="8" readonly=!editable bind:value=text></textarea>
                    <Marked part=Part::Text source=text findings=findings/>
                </div>
                <div class="field" class:invalid=move || field_error(save_value, "sms").get().is_some()>
                    <label for="field-sms">"SMS part " <span class="muted">"(optional: campaigns with SMS text buyers who agreed to texts)"</span></label>
                    <textarea id="field-sms" name="sms" rows="4" maxlength="1600" readonly=!editable bind:value=sms aria-describedby="sms-count"></textarea>
                    <small id="sms-count" class="muted" aria-live="polite">{move || {
                        let c = sms_parts.get();
                        if c.parts == 0 {
                            "No SMS part: this version is sent by e-mail only.".to_string()
                        } else {
                            let why = c.unicode_because.map(|ch| format!(", because of \"{ch}\"")).unwrap_or_default();
                            format!("{} characters as the sample buyer gets it: {} SMS part{} ({}{why})", c.units, c.parts, if c.parts == 1 { "" } else { "s" }, c.encoding.label())
                        }
                    }}</small>
                    <small class="error" role="alert">{move || field_error(save_value, "sms").get()}</small>
                    <Marked part=Part::Sms source=sms findings=findings/>
                </div>
                <div class="field" class:invalid=move || field_error(save_value, "whatsapp").get().is_some()>
                    <label for="field-whatsapp">"WhatsApp part " <span class="muted">"(optional: submitted to Meta as a template once this version is approved)"</span></label>
                    <textarea id="field-whatsapp" name="whatsapp" rows="4" maxlength="1024" readonly=!editable bind:value=whatsapp aria-describedby="whatsapp-count"></textarea>
                    <small id="whatsapp-count" class="muted" aria-live="polite">{move || {
                        let n = whatsapp.with(|w| w.chars().count());
                        if n == 0 {
                            "No WhatsApp part: this version sends no WhatsApp messages.".to_string()
                        } else {
                            match crate::common::whatsapp::meta_body(&whatsapp.get()) {
                                Ok(body) => format!("{n} of 1,024 characters; Meta sees it as: {}", body.text),
                                Err(_) => format!("{n} of 1,024 characters"),
                            }
                        }
                    }}</small>
                    <small class="error" role="alert">{move || field_error(save_value, "whatsapp").get()}</small>
                    <Marked part=Part::Whatsapp source=whatsapp findings=findings/>
                </div>
                <SelectField label="WhatsApp category (Meta's)" name="whatsapp_category" value=whatsapp_category
                    error=field_error(save_value, "whatsapp_category")
                    choices=Signal::derive(|| vec![
                        (String::new(), "— none —".to_string()),
                        ("MARKETING".to_string(), "Marketing: review requests, offers, surveys".to_string()),
                        ("UTILITY".to_string(), "Utility: about the order itself (care)".to_string()),
                    ])/>
                {editable.then(|| view! {
                    <div class="actions">
                        <span class="muted" aria-live="polite">{move || if dirty.get() { "Unsaved changes" } else { "Saved" }}</span>
                        <button type="submit" class="primary" disabled=move || save.pending().get() || !dirty.get()>"Save"</button>
                    </div>
                })}
                <details class="variables">
                    <summary>"Variables you can use"</summary>
                    <dl>
                        {VARIABLES.iter().map(|(name, what)| view! { <dt><code>{format!("{{{{ {name} }}}}")}</code></dt><dd>{*what}</dd> }).collect_view()}
                    </dl>
                    <p class="muted">"Add a fallback for values an order may lack: {{ customer.first_name | default(\"there\") }}."</p>
                </details>
            </form>
    }
    .into_any();
    let side = view! {
            <div class="editor-side">
                <section class="findings" aria-live="polite" aria-label="Compliance findings">
                    <h2>"Compliance"
                        <span class="counts">
                            {move || view! {
                                <span class={move || if blocking.get() > 0 { "badge off" } else { "badge on" }}>{format!("{} blocking", blocking.get())}</span>
                                " "<span class="badge">{format!("{} warnings", warnings.get())}</span>
                            }}
                        </span>
                    </h2>
                    {move || findings.with(|all| if all.is_empty() {
                        view! { <p class="notice ok">"No findings: nothing blocks this version."</p> }.into_any()
                    } else {
                        view! { <ul class="finding-list">{all.iter().cloned().map(|f| view! { <FindingItem finding=f/> }).collect_view()}</ul> }.into_any()
                    })}
                </section>
                <section class="preview" aria-label="Preview">
                    <h2>"Preview"</h2>
                    {move || match preview.get() {
                        Err(e) => view! { <p class="notice error" role="alert">{format!("{} can't be rendered: {}", e.part.label(), e.message)}</p> }.into_any(),
                        Ok(out) => view! {
                            <p class="preview-subject"><strong>{out.subject.clone()}</strong></p>
                            // Sandboxed: the message's HTML can't run scripts or touch the console.
                            <iframe class="preview-html" title="HTML preview" sandbox="" srcdoc=out.html.clone()></iframe>
                            <pre class="preview-text">{out.text.clone()}</pre>
                        }.into_any(),
                    }}
                    {move || match sms_preview.get() {
                        Ok(t) if !t.is_empty() => view! { <h3>"SMS"</h3><pre class="preview-sms">{t}</pre> }.into_any(),
                        Ok(_) => ().into_any(),
                        Err(e) => view! { <p class="notice error" role="alert">{format!("The SMS part can't be rendered: {}", e.message)}</p> }.into_any(),
                    }}
                    {move || match whatsapp_preview.get() {
                        Ok(t) if !t.is_empty() => view! { <h3>"WhatsApp"</h3><pre class="preview-whatsapp">{t}</pre> }.into_any(),
                        Ok(_) => ().into_any(),
                        Err(e) => view! { <p class="notice error" role="alert">{format!("The WhatsApp part can't be rendered: {}", e.message)}</p> }.into_any(),
                    }}
                    {d.whatsapp_meta.clone().map(|meta| {
                        use crate::common::whatsapp::MetaStatus;
                        let class = match meta.status {
                            MetaStatus::Approved => "badge on",
                            MetaStatus::Pending => "badge",
                            _ => "badge off",
                        };
                        let reason = (!meta.reason.is_empty()).then(|| format!(": {}", meta.reason)).unwrap_or_default();
                        view! {
                            <p id="whatsapp-meta" class="meta-status">"Meta template "<code>{meta.name.clone()}</code>" ("{meta.language.clone()}", "{meta.category.to_lowercase()}"): "
                                <span class=class>{meta.status.as_str()}</span>{reason}</p>
                        }
                    })}
                </section>
                <section class="workflow" aria-label="Review">
                    <h2>"Review"</h2>
                    {(d.can_submit).then(|| view! {
                        <ActionButton action=step input=VersionStep { id: version_id, step: Step::Submit, comment: String::new() }
                            label="Submit for review" class="primary"
                            disabled=Signal::derive(move || blocking.get() > 0 || dirty.get())
                            title=Signal::derive(move || if blocking.get() > 0 { "Fix the blocking findings first".to_string() } else if dirty.get() { "Save first".to_string() } else { String::new() })/>
                    })}
                    {(d.can_approve || d.can_request_changes).then(|| view! {
                        // One form for both answers: posted by the browser itself, the button
                        // pressed sends its `step`; once hydrated, each button dispatches.
                        <form method="post" action={url_of::<VersionStep>()}>
                            <input type="hidden" name="id" value=version_id.to_string()/>
                            <div class="field">
                                <label for="field-comment">"Comment"</label>
                                <textarea id="field-comment" name="comment" rows="3" bind:value=comment></textarea>
                                <small class="error" role="alert">{move || field_error(step_value, "comment").get()}</small>
                            </div>
                            <div class="actions">
                                {d.can_request_changes.then(|| view! {
                                    <button type="submit" name="step" value="RequestChanges" disabled=move || step.pending().get() on:click=move |ev| {
                                        ev.prevent_default();
                                        step.dispatch(VersionStep { id: version_id, step: Step::RequestChanges, comment: comment.get_untracked() });
                                    }>"Request changes"</button>
                                })}
                                {d.can_approve.then(|| view! {
                                    <button type="submit" name="step" value="Approve" class="primary" disabled=move || step.pending().get() on:click=move |ev| {
                                        ev.prevent_default();
                                        step.dispatch(VersionStep { id: version_id, step: Step::Approve, comment: comment.get_untracked() });
                                    }>"Approve"</button>
                                })}
                            </div>
                        </form>
                    })}
                    {(!d.approve_hint.is_empty()).then(|| view! { <p class="muted">{format!("Approval: {}", d.approve_hint)}</p> })}
                    {d.can_retire.then(|| view! {
                        <ActionButton action=step input=VersionStep { id: version_id, step: Step::Retire, comment: String::new() }
                            label="Retire this version" class="link danger"/>
                    })}
                    {(d.can_copy && matches!(row.status, Status::Approved | Status::Retired)).then(|| view! {
                        <button on:click=move |_| { copy.dispatch(NewVersion { template_id, locale: locale_for_copy.clone(), copy_from: Some(version_id) }); }>"New version from this one"</button>
                    })}
                </section>
                <section class="history" aria-label="History">
                    <h2>"History"</h2>
                    <ol class="timeline">
                        {d.events.iter().cloned().map(|e| view! {
                            <li>
                                <span class="when">{format_time(e.at)}</span>" "
                                <strong>{e.actor_email.clone()}</strong>" "{e.action.replace('_', " ")}
                                {(e.from_status != e.to_status).then(|| format!(" ({} → {})", e.from_status.label(), e.to_status.label()))}
                                {(!e.comment.is_empty()).then(|| view! { <blockquote>{e.comment.clone()}</blockquote> })}
                            </li>
                        }).collect_view()}
                    </ol>
                </section>
                {(!d.siblings.is_empty()).then(|| view! {
                    <section class="compare" aria-label="Compare">
                        <h2>"Compare with another version"</h2>
                        <SelectField label="Version" name="compare" value=compare error=Signal::derive(|| None) choices=compare_choices/>
                        <Transition fallback=|| ()>
                            {move || diff.get().map(|r| match r {
                                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                                Ok(None) => ().into_any(),
                                Ok(Some(diff)) => view! {
                                    <p class="muted">{format!("From {} v{} to this version", diff.from.locale, diff.from.number)}</p>
                                    {diff.parts.into_iter().map(|(label, lines)| view! {
                                        <h3>{label}</h3>
                                        <pre class="diff">{lines.into_iter().map(|l| {
                                            let class = match l.sign { '+' => "add", '-' => "del", _ => "same" };
                                            view! { <span class=class>{format!("{} {}\n", l.sign, l.text)}</span> }
                                        }).collect_view()}</pre>
                                    }).collect_view()}
                                }.into_any(),
                            })}
                        </Transition>
                    </section>
                })}
            </div>
    }
    .into_any();
    view! {
        <Breadcrumbs items=vec![
            ("Clients".into(), "/clients".into()),
            ("Templates".into(), format!("/clients/{client_id}/templates")),
            (d.template.name.clone(), format!("/clients/{client_id}/templates/{template_id}")),
            (format!("{} v{}", row.locale, row.number), String::new()),
        ]/>
        <div class="page-head">
            <h1>{format!("{} · {} · version {}", d.template.name, row.locale, row.number)}</h1>
            <StatusBadge status=row.status/>
        </div>
        <p class="muted">{format!("{} · {} · for {} · sample: {}", d.template.brand, Purpose::label_of(&d.template.purpose), platform_label(&d.template.platform), d.sample_source)}</p>
        <FormStatus value=save_value/>
        <FormStatus value=step_value/>
        <FormStatus value=copy_value/>
        <div class="editor">
            {parts_form}
            {side}
        </div>
    }
}

#[component]
fn FindingItem(finding: Finding) -> impl IntoView {
    let class = if finding.severity == Severity::Block { "finding block" } else { "finding warn" };
    let label = if finding.severity == Severity::Block { "Blocks" } else { "Warning" };
    view! {
        <li class=class data-rule=finding.rule.clone() data-category=finding.category.clone()>
            <span class="badge">{label}</span>" "
            <span class="where">{finding.part.label()}</span>": "
            <strong>{finding.message.clone()}</strong>
            <p>{finding.explanation.clone()}</p>
            <p class="muted source">{format!("Source: {}", finding.source)}</p>
        </li>
    }
}

/// A copy of one part's text with each finding marked, under its field (a textarea can't
/// hold marks); shown only when the part has findings with a place.
#[component]
fn Marked(part: Part, source: RwSignal<String>, findings: Memo<Vec<Finding>>) -> impl IntoView {
    move || {
        let text = source.get();
        let mut marks: Vec<Finding> = findings
            .with(|all| all.iter().filter(|f| f.part == part && f.end > f.start && text.get(f.start..f.end).is_some()).cloned().collect());
        if marks.is_empty() {
            return ().into_any();
        }
        marks.sort_by_key(|f| f.start);
        let mut pieces: Vec<AnyView> = Vec::new();
        let mut at = 0;
        for f in marks {
            if f.start < at {
                continue;
            }
            pieces.push(text[at..f.start].to_string().into_any());
            let class = if f.blocks() { "mark-block" } else { "mark-warn" };
            pieces.push(view! { <mark class=class title=f.message.clone()>{text[f.start..f.end].to_string()}</mark> }.into_any());
            at = f.end;
        }
        pieces.push(text[at..].to_string().into_any());
        view! { <pre class="marked" aria-label=format!("{} with findings marked", part.label())>{pieces}</pre> }.into_any()
    }
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| approval_queue());
    view! {
        <Breadcrumbs items=vec![("Approvals".into(), String::new())]/>
        <h1>"Approvals"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading the queue…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(q) => view! {
                    <div class="tiles">
                        <div class="tile"><span class="tile-n">{q.in_review}</span><span>"in review"</span></div>
                        <div class="tile"><span class="tile-n">{q.client_review}</span><span>"awaiting the client"</span></div>
                        <div class="tile"><span class="tile-n">{q.changes_requested}</span><span>"changes requested"</span></div>
                    </div>
                    <h2>{format!("Waiting for you ({})", q.items.len())}</h2>
                    {if q.items.is_empty() {
                        view! { <EmptyState title="Nothing waits for you"><p>"Versions you can review or approve appear here, oldest first."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap"><table class="queue">
                                <thead><tr><th>"Client"</th><th>"Template"</th><th>"Language"</th><th>"Status"</th><th>"Author"</th><th>"Waiting since"</th></tr></thead>
                                <tbody>
                                    {q.items.into_iter().map(|i| view! {
                                        <tr>
                                            <td data-label="Client">{i.client.clone()}</td>
                                            <td data-label="Template"><A href=format!("/clients/{}/templates/{}/versions/{}", i.client_id, i.version.template_id, i.version.id)>{format!("{} v{}", i.template, i.version.number)}</A></td>
                                            <td data-label="Language">{i.version.locale.clone()}</td>
                                            <td data-label="Status"><StatusBadge status=i.version.status/></td>
                                            <td data-label="Author">{i.version.author_email.clone()}</td>
                                            <td data-label="Waiting since">{format_time(i.waiting_since)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any()
                    }}
                }.into_any(),
            })}
        </Transition>
    }
}
