//! The Outbox page: mail Starling wrote to the outbox folder (no SMTP configured).

use super::api::{brand_sending, list_outbox, outbox_message, CheckDomain, GenerateDkimKey};
use crate::shell::{format_time, last_answer, route_id, Breadcrumbs, EmptyState, ErrorBox, FormStatus};
use leptos::prelude::*;

#[component]
pub fn OutboxPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_outbox());
    let open = RwSignal::new(None::<String>);
    let message = Resource::new(
        move || open.get(),
        |file| async move {
            match file {
                Some(f) => outbox_message(f).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Breadcrumbs items=vec![("Outbox".into(), String::new())]/>
        <h1>"Outbox"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading the outbox…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(page) => match page.folder {
                    None => view! { <p class="notice">"Mail goes to the configured SMTP server, so the outbox folder is not used."</p> }.into_any(),
                    Some(folder) if page.messages.is_empty() => view! {
                        <EmptyState title="The outbox is empty"><p>{format!("With no SMTP server configured, mail is written to {folder}.")}</p></EmptyState>
                    }.into_any(),
                    Some(folder) => view! {
                        <p class="muted">{format!("No SMTP server is configured: mail is written to {folder}. Newest first.")}</p>
                        <div class="table-wrap"><table class="outbox">
                            <thead><tr><th>"Written"</th><th>"To"</th><th>"Subject"</th><th></th></tr></thead>
                            <tbody>
                                {page.messages.into_iter().map(|m| {
                                    let file = m.file.clone();
                                    view! {
                                        <tr>
                                            <td data-label="Written">{format_time(m.at)}</td>
                                            <td data-label="To">{m.to}</td>
                                            <td data-label="Subject">{m.subject}</td>
                                            <td><button class="link" on:click=move |_| open.set(Some(file.clone()))>"Show"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any(),
                },
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || message.get().map(|r| match r {
                Ok(Some(raw)) => view! {
                    <section class="card">
                        <div class="section-head"><h2>"Message"</h2><button class="link" on:click=move |_| open.set(None)>"Close"</button></div>
                        <pre class="raw-mail">{raw}</pre>
                    </section>
                }.into_any(),
                Ok(None) => ().into_any(),
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
            })}
        </Transition>
    }
}

/// A brand's sending set-up: the DKIM key (generate RSA-2048 or Ed25519) and the exact SPF,
/// DKIM and DMARC records to publish.
#[component]
pub fn SendingPage() -> impl IntoView {
    let brand_id = route_id("brand");
    let generate = ServerAction::<GenerateDkimKey>::new();
    let check = ServerAction::<CheckDomain>::new();
    let data = Resource::new(move || (brand_id.get(), generate.version().get()), |(id, _)| brand_sending(id));
    let answer = last_answer(generate);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                Ok(s) => {
                    let id = s.brand_id;
                    view! {
                        <Breadcrumbs items=vec![
                            ("Clients".into(), "/clients".into()),
                            (s.client.clone(), format!("/clients/{}", s.client_id)),
                            (format!("{}: sending", s.brand), String::new()),
                        ]/>
                        <div class="page-head"><h1>{format!("Sending for {}", s.brand)}</h1></div>
                        <FormStatus value=answer/>
                        <section class="card">
                            <h2>"DKIM key"</h2>
                            {match s.dkim.clone() {
                                Some(k) => view! {
                                    <dl class="facts" id="dkim-key">
                                        <dt>"Domain"</dt><dd>{k.domain}</dd>
                                        <dt>"Selector"</dt><dd><code>{k.selector}</code></dd>
                                        <dt>"Algorithm"</dt><dd>{k.algorithm}</dd>
                                        <dt>"Created"</dt><dd>{format_time(k.created_at)}</dd>
                                    </dl>
                                }.into_any(),
                                None => view! {
                                    <p class="notice">"No DKIM key yet: mail from "{s.domain.clone()}" goes out unsigned. Generate one and publish its record."</p>
                                }.into_any(),
                            }}
                            <div class="actions">
                                <button class="primary" disabled=move || generate.pending().get()
                                    on:click=move |_| { generate.dispatch(GenerateDkimKey { brand_id: id, algorithm: "rsa".into() }); }>
                                    "Generate RSA-2048 key"
                                </button>
                                <button disabled=move || generate.pending().get()
                                    on:click=move |_| { generate.dispatch(GenerateDkimKey { brand_id: id, algorithm: "ed25519".into() }); }>
                                    "Generate Ed25519 key"
                                </button>
                            </div>
                            <p class="muted small">"The private key stays on the server; only the public half appears, in the record below."</p>
                        </section>
                        <section class="card">
                            <h2>"Records to publish"</h2>
                            <div class="table-wrap"><table class="records">
                                <thead><tr><th>"Name"</th><th>"Type"</th><th>"Value"</th></tr></thead>
                                <tbody>
                                    {s.records.iter().map(|(name, kind, value)| view! {
                                        <tr>
                                            <td data-label="Name"><code>{name.clone()}</code></td>
                                            <td data-label="Type">{kind.clone()}</td>
                                            <td data-label="Value"><code class="record">{value.clone()}</code></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                            <p class="muted small">"From-domain alignment: the From address "{s.sender_email.clone()}
                                " must be at "{s.domain.clone()}" (or a subdomain) for DKIM and DMARC to align."</p>
                        </section>
                        <section class="card" id="dns-check">
                            <div class="section-head">
                                <h2>"What DNS says now"</h2>
                                <button class="primary" disabled=move || check.pending().get()
                                    on:click=move |_| { check.dispatch(CheckDomain { brand_id: id }); }>
                                    {move || if check.pending().get() { "Checking…" } else { "Check" }}
                                </button>
                            </div>
                            {move || match check.value().get() {
                                None => view! { <p class="muted">"Press Check to look up the SPF, DKIM and DMARC records and whether the From domain aligns."</p> }.into_any(),
                                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                                Some(Ok(result)) => view! { <DomainCheckTable result/> }.into_any(),
                            }}
                        </section>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The verdicts of a DNS check, one row per record.
#[component]
fn DomainCheckTable(result: super::DomainCheck) -> impl IntoView {
    let summary = if result.checks.iter().all(|c| c.level == "ok") {
        "Everything is in place."
    } else if result.aligned {
        "Some records need attention."
    } else {
        "DMARC will fail: the From domain does not align."
    };
    view! {
        <p class="muted">{format!("Checked {}. {summary}", format_time(result.checked_at))}</p>
        <div class="table-wrap"><table class="records dns-check">
            <thead><tr><th>"Record"</th><th>"Name"</th><th>"Found"</th><th>"Verdict"</th></tr></thead>
            <tbody>
                {result.checks.into_iter().map(|c| {
                    let badge = format!("badge {}", match c.level.as_str() { "ok" => "on", "warning" => "warning", _ => "off" });
                    let label = match c.level.as_str() { "ok" => "OK", "warning" => "Warning", _ => "Error" };
                    let record = c.record.clone();
                    view! {
                        <tr data-record=record>
                            <td data-label="Record">{c.record}</td>
                            <td data-label="Name"><code>{c.name}</code></td>
                            <td data-label="Found">
                                {if c.found.is_empty() { view! { <span class="muted">"nothing"</span> }.into_any() } else { view! { <code class="record">{c.found}</code> }.into_any() }}
                            </td>
                            <td data-label="Verdict">
                                <span class=badge>{label}</span>" "{c.verdict}
                                {(!c.publish.is_empty() && c.level != "ok").then(|| view! { <div class="small">"Publish: "<code class="record">{c.publish}</code></div> })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
