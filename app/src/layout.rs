//! The console's frame around every page: the top bar with the client switcher and the
//! user menu, and the navigation of the signed-in user's role. It sits above every
//! capability (it links to their pages and asks for the user and their clients), so no
//! capability depends on it; the widgets pages share are in `shell`.

use crate::accounts::api::{current_user, SignOut};
use crate::accounts::model::{Actor, Role};
use crate::clients::api::client_options;
use crate::error::AppError;
use crate::shell::SignedIn;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Every resource and action of the shell is created here, unconditionally and in this
    // order: they are matched between server and browser by creation order, so one created
    // only once the user is known would shift the page's resources during hydration.
    let user = Resource::new(|| (), |_| current_user());
    let client_choices = Resource::new(|| (), |_| client_options());
    let sign_out = ServerAction::<SignOut>::new();
    let actor = Signal::derive(move || user.get().and_then(Result::ok).flatten());
    provide_context(SignedIn(actor));
    let menu_open = RwSignal::new(false);
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        menu_open.set(false);
    });
    view! {
        <div class="app" class:menu-open=move || menu_open.get()>
            <header class="topbar">
                <button
                    class="menu-toggle"
                    aria-label="Menu"
                    on:click=move |_| menu_open.update(|o| *o = !*o)
                >
                    "☰"
                </button>
                <A href="/" attr:class="brandmark">
                    "Starling"
                </A>
                <Transition fallback=|| ()>
                    {move || actor.get().map(|a| view! { <ClientSwitcher options=client_choices/> <UserMenu actor=a sign_out=sign_out/> })}
                </Transition>
            </header>
            <nav class="sidebar" aria-label="Main">
                <Transition fallback=|| ()>{move || actor.get().map(|a| view! { <NavLinks actor=a/> })}</Transition>
            </nav>
            <main class="content">
                // Each page suspends on its own data. Signed-out visitors never get here
                // (the server redirects them to /sign-in).
                {children()}
            </main>
        </div>
    }
}

#[component]
fn SignInNeeded() -> impl IntoView {
    view! {
        <div class="empty">
            <h1>"Your session has ended"</h1>
            <p>"Please sign in again."</p>
            <a class="button" href="/sign-in">"Sign in"</a>
        </div>
    }
}

#[component]
fn NavLinks(actor: Actor) -> impl IntoView {
    let admin = actor.role == Role::Admin;
    view! {
        <ul>
            <li><A href="/" exact=true>"Dashboard"</A></li>
            <li><A href="/clients">"Clients"</A></li>
            // A client's own staff come for their report.
            {(actor.role == Role::ClientViewer).then(|| actor.clients.first().map(|c| view! {
                <li><A href=format!("/clients/{c}/reports")>"Reports"</A></li>
            }))}
            <li><A href="/approvals">"Approvals"</A></li>
            {matches!(actor.role, Role::Admin | Role::AccountManager).then(|| view! {
                <li><A href="/alerts">"Review alerts"</A></li>
            })}
            <li><A href="/sla">"SLA board"</A></li>
            {(actor.role != Role::Copywriter).then(|| view! {
                <li><A href="/connections">"Connections"</A></li>
            })}
            {admin.then(|| view! {
                <li><A href="/users">"Users & roles"</A></li>
                <li><A href="/audit">"Audit log"</A></li>
                <li><A href="/outbox">"Outbox"</A></li>
            })}
            <li><A href="/account">"My account"</A></li>
        </ul>
    }
}

#[component]
fn ClientSwitcher(options: Resource<Result<Vec<(i64, String)>, AppError>>) -> impl IntoView {
    let navigate = use_navigate();
    view! {
        <Transition fallback=|| ()>
            {
                let navigate = navigate.clone();
                move || {
                    let navigate = navigate.clone();
                    options.get().and_then(Result::ok).map(move |opts| {
                        view! {
                            <label class="switcher">
                                <span class="visually-hidden">"Client"</span>
                                <select
                                    aria-label="Switch client"
                                    on:change=move |ev| {
                                        let id = event_target_value(&ev);
                                        if !id.is_empty() {
                                            navigate(&format!("/clients/{id}"), Default::default());
                                        }
                                    }
                                >
                                    <option value="">"Switch client…"</option>
                                    {opts.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                                </select>
                            </label>
                        }
                    })
                }
            }
        </Transition>
    }
}

#[component]
fn UserMenu(actor: Actor, sign_out: ServerAction<SignOut>) -> impl IntoView {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            navigate("/sign-in", Default::default());
        }
    });
    view! {
        <details class="usermenu">
            <summary>
                <span class="avatar">{actor.name.chars().next().unwrap_or('?').to_string()}</span>
                <span class="who">{actor.name.clone()}</span>
            </summary>
            <div class="usermenu-panel">
                <p>
                    <strong>{actor.name.clone()}</strong>
                    <br/>
                    <span class="muted">{actor.email.clone()}</span>
                    <br/>
                    <span class="badge">{actor.role.label()}</span>
                </p>
                <A href="/account">"Change password"</A>
                <form method="post" action={crate::shell::forms::url_of::<SignOut>()} on:submit=move |ev| {
                    ev.prevent_default();
                    sign_out.dispatch(SignOut {});
                }>
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </div>
        </details>
    }
}
