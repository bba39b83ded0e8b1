//! The application shell: layout, navigation, and the widgets every page shares
//! (breadcrumbs, sortable headers, pager, form fields, empty states).

pub mod forms;
pub mod table;

use crate::common::identity::Actor;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};
use table::{ListQuery, Page};

/// The signed-in user, provided by the layout to every page under it.
#[derive(Clone, Copy)]
pub struct SignedIn(pub Signal<Option<Actor>>);

pub fn signed_in() -> Option<Actor> {
    use_context::<SignedIn>().and_then(|s| s.0.get())
}

/// "2026-11-22 20:40 UTC" for a time in epoch milliseconds.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// A numeric route parameter (`:id`, `:template`…) as a signal; 0 when absent.
pub fn route_id(name: &'static str) -> Signal<i64> {
    let params = leptos_router::hooks::use_params_map();
    Signal::derive(move || params.get().get(name).and_then(|v| v.parse().ok()).unwrap_or(0))
}

#[component]
pub fn Breadcrumbs(items: Vec<(String, String)>) -> impl IntoView {
    let last = items.len().saturating_sub(1);
    view! {
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <A href="/">"Home"</A>
            {items
                .into_iter()
                .enumerate()
                .map(|(i, (label, href))| {
                    if i == last || href.is_empty() {
                        view! { <span class="sep">"/"</span><span aria-current="page">{label}</span> }.into_any()
                    } else {
                        view! { <span class="sep">"/"</span><A href=href>{label}</A> }.into_any()
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// A column header that sorts the list by `column` (click again to reverse).
#[component]
pub fn SortHeader(label: &'static str, column: &'static str, query: Signal<ListQuery>, #[prop(optional)] numeric: bool) -> impl IntoView {
    let href = move || query.get().sorted_by(column).to_search();
    let marker = move || {
        let q = query.get();
        if q.sort == column {
            if q.desc {
                " ▼"
            } else {
                " ▲"
            }
        } else {
            ""
        }
    };
    let aria = move || {
        let q = query.get();
        if q.sort == column {
            if q.desc {
                "descending"
            } else {
                "ascending"
            }
        } else {
            "none"
        }
    };
    view! {
        <th aria-sort=aria class:num=numeric>
            <A href=move || { let h = href(); if h.is_empty() { "?".to_string() } else { h } }>{label}{marker}</A>
        </th>
    }
}

#[component]
pub fn Pager<T: Clone + Send + Sync + 'static>(page: Page<T>, query: ListQuery) -> impl IntoView {
    let prev = (page.page > 1).then(|| query.at_page(page.page - 1).to_search());
    let next = (page.page < page.pages).then(|| query.at_page(page.page + 1).to_search());
    view! {
        <div class="pager">
            <span class="muted">{format!("{} in all · page {} of {}", page.total, page.page, page.pages)}</span>
            {prev.map(|h| view! { <A href=if h.is_empty() { "?".to_string() } else { h }>"← Previous"</A> })}
            {next.map(|h| view! { <A href=h>"Next →"</A> })}
        </div>
    }
}

/// A search box that updates `?q=` (resetting to page 1).
#[component]
pub fn SearchBox(query: Signal<ListQuery>, placeholder: &'static str) -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    let text = RwSignal::new(query.get_untracked().q);
    view! {
        <form
            class="search"
            method="get"
            role="search"
            on:submit=move |ev| {
                ev.prevent_default();
                let q = ListQuery { q: text.get_untracked(), page: 1, ..query.get_untracked() };
                navigate(&format!("{}{}", location.pathname.get_untracked(), q.to_search()), Default::default());
            }
        >
            <input type="search" name="q" placeholder=placeholder aria-label=placeholder bind:value=text/>
            <button type="submit">"Search"</button>
        </form>
    }
}

/// Live pages: while the page is open (in the browser), `tick` counts up every `period`,
/// so resources keyed on it load again.
pub fn refresh_every(tick: RwSignal<u32>, period: std::time::Duration) {
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || tick.update(|t| *t += 1), period).ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    });
}

/// A server action's last answer as a plain signal, for [`field_error`] and [`FormStatus`].
pub fn last_answer<S, T>(action: ServerAction<S>) -> Signal<Option<Result<T, AppError>>>
where
    S: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get())
}

/// The field error of a server action's last answer, for one field.
pub fn field_error<T: Clone + Send + Sync + 'static>(
    value: Signal<Option<Result<T, AppError>>>,
    field: impl Into<String>,
) -> Signal<Option<String>> {
    let field: String = field.into();
    Signal::derive(move || match value.get() {
        Some(Err(e)) => e.field(&field),
        _ => None,
    })
}

/// A labelled text input bound to `value`, with its validation message underneath.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = 200)] maxlength: usize,
    #[prop(optional)] required: bool,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] autocomplete: &'static str,
) -> impl IntoView {
    let id = format!("field-{name}");
    let err_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}{required.then_some(" *")}</label>
            <input
                id=id
                name=name
                type=kind
                maxlength=maxlength
                required=required
                autocomplete=if autocomplete.is_empty() { None } else { Some(autocomplete) }
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=err_id.clone()
                bind:value=value
            />
            {(!hint.is_empty()).then(|| view! { <small class="hint">{hint}</small> })}
            <small class="error" id=err_id role="alert">{move || error.get()}</small>
        </div>
    }
}

/// A labelled textarea bound to `value`.
#[component]
pub fn TextArea(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    #[prop(default = 500)] maxlength: usize,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}{required.then_some(" *")}</label>
            <textarea id=id name=name maxlength=maxlength required=required rows="3" bind:value=value></textarea>
            <small class="error" role="alert">{move || error.get()}</small>
        </div>
    }
}

/// A labelled select over (value, label) choices bound to `value`.
#[component]
pub fn SelectField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    choices: Signal<Vec<(String, String)>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            <select id=id name=name on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
                {move || choices.get().into_iter().map(|(v, l)| {
                    let selected = v == value.get_untracked();
                    view! { <option value=v selected=selected>{l}</option> }
                }).collect_view()}
            </select>
            <small class="error" role="alert">{move || error.get()}</small>
        </div>
    }
}

/// The form-wide message of a server action's last answer (errors not tied to a field).
#[component]
pub fn FormStatus<T: Clone + Send + Sync + 'static>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    #[prop(optional)] success: &'static str,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(AppError::Invalid(errors))) => {
            let general: Vec<String> = errors.iter().filter(|e| e.field == "form").map(|e| e.message.clone()).collect();
            let text = if general.is_empty() { "Please correct the highlighted fields.".to_string() } else { general.join(" ") };
            view! { <p class="notice error" role="alert">{text}</p> }.into_any()
        }
        Some(Err(e)) => view! { <p class="notice error" role="alert">{e.to_string()}</p> }.into_any(),
        Some(Ok(_)) if !success.is_empty() => view! { <p class="notice ok" role="status">{success}</p> }.into_any(),
        _ => ().into_any(),
    }
}

#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    view! { <div class="notice error" role="alert">{error.to_string()}</div> }
}

#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="empty">
            <p class="empty-title">{title}</p>
            {children()}
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
        options.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <div class="empty">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the dashboard"</a></p>
        </div>
    }
}

/// The client's section tabs (orders, imports, privacy, templates), shown on each of its
/// pages; `buyer_data = false` (copywriters) leaves out the tabs with buyers' data.
#[component]
pub fn ClientTabs(client_id: i64, current: &'static str, #[prop(default = true)] buyer_data: bool) -> impl IntoView {
    let tab = move |key: &'static str, label: &'static str, href: String| {
        view! { <A href=href attr:class=if key == current { "tab current" } else { "tab" }>{label}</A> }
    };
    view! {
        <nav class="tabs" aria-label="Client sections">
            {tab("overview", "Overview", format!("/clients/{client_id}"))}
            {buyer_data.then(|| view! {
                {tab("orders", "Orders", format!("/clients/{client_id}/orders"))}
                {tab("imports", "Imports", format!("/clients/{client_id}/imports"))}
                {tab("privacy", "Suppression & privacy", format!("/clients/{client_id}/privacy"))}
            })}
            {tab("templates", "Templates", format!("/clients/{client_id}/templates"))}
            {buyer_data.then(|| tab("campaigns", "Campaigns", format!("/clients/{client_id}/campaigns")))}
            {tab("reports", "Reports", format!("/clients/{client_id}/reports"))}
            {tab("reviews", "Reviews", format!("/clients/{client_id}/reviews"))}
            {tab("sla", "SLA", format!("/clients/{client_id}/sla"))}
            {buyer_data.then(|| tab("usage", "Usage", format!("/clients/{client_id}/usage")))}
        </nav>
    }
}
