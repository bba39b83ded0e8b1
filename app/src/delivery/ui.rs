//! The Outbox page: mail Starling wrote to the outbox folder (no SMTP configured).

use super::api::{list_outbox, outbox_message};
use crate::shell::{format_time, Breadcrumbs, EmptyState, ErrorBox};
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
