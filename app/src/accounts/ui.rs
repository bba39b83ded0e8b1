//! Pages of accounts: sign-in, my account (password), users & roles.

use super::api::{assignable_clients, list_users, ChangePassword, CreateUser, NewUser, SignIn, UpdateUser, UserChange};
use super::model::{Role, UserSummary};
use crate::shell::{field_error, format_time, last_answer, Breadcrumbs, EmptyState, ErrorBox, FormStatus, SelectField, TextField};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn SignInPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = ServerAction::<SignIn>::new();
    let value = last_answer(action);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = value.get() {
            navigate("/", Default::default());
        }
    });
    view! {
        <div class="signin">
            <form
                class="card"
                method="post"
                action={crate::shell::forms::url_of::<SignIn>()}
                on:submit=move |ev| {
                    ev.prevent_default();
                    action.dispatch(SignIn { email: email.get_untracked(), password: password.get_untracked() });
                }
            >
                <h1>"Sign in to Starling"</h1>
                <p class="muted">"The operations console for post-purchase outreach."</p>
                <FormStatus value=value/>
                <TextField label="E-mail" name="email" kind="email" value=email error=field_error(value, "email") required=true autocomplete="username"/>
                <TextField label="Password" name="password" kind="password" value=password error=field_error(value, "password") required=true autocomplete="current-password"/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </div>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let action = ServerAction::<ChangePassword>::new();
    let value = last_answer(action);
    Effect::new(move |_| {
        if let Some(Ok(())) = value.get() {
            current.set(String::new());
            new_password.set(String::new());
            confirm.set(String::new());
        }
    });
    view! {
        <Breadcrumbs items=vec![("My account".into(), String::new())]/>
        <h1>"My account"</h1>
        <form
            class="card narrow"
            method="post"
            action={crate::shell::forms::url_of::<ChangePassword>()}
            on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(ChangePassword {
                    current: current.get_untracked(),
                    new_password: new_password.get_untracked(),
                    confirm: confirm.get_untracked(),
                });
            }
        >
            <h2>"Change password"</h2>
            <FormStatus value=value success="Your password was changed. Other sessions were signed out."/>
            <TextField label="Current password" name="current" kind="password" value=current error=field_error(value, "current") required=true autocomplete="current-password"/>
            <TextField label="New password" name="new_password" kind="password" value=new_password error=field_error(value, "new_password") required=true hint="At least 10 characters." autocomplete="new-password"/>
            <TextField label="Repeat new password" name="confirm" kind="password" value=confirm error=field_error(value, "confirm") required=true autocomplete="new-password"/>
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Change password"</button>
        </form>
    }
}

fn role_options() -> Signal<Vec<(String, String)>> {
    Signal::stored(Role::ALL.iter().map(|r| (r.as_str().to_string(), r.label().to_string())).collect())
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let users = Resource::new(move || (create.version().get(), update.version().get()), |_| list_users());
    let clients = Resource::new(|| (), |_| assignable_clients());
    let editing = RwSignal::new(None::<UserSummary>);
    view! {
        <Breadcrumbs items=vec![("Users & roles".into(), String::new())]/>
        <div class="page-head">
            <h1>"Users & roles"</h1>
            <button class="primary" on:click=move |_| editing.set(Some(UserSummary {
                id: 0, email: String::new(), name: String::new(), role: Role::AccountManager,
                disabled: false, clients: vec![], created_at: 0, locales: vec![],
            }))>"New user"</button>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || {
                let client_names = clients.get().and_then(Result::ok).unwrap_or_default();
                users.get().map(|r| match r {
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No users yet"><p>"Create the first one with New user."</p></EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap">
                            <table>
                                <thead><tr><th>"Name"</th><th>"E-mail"</th><th>"Role"</th><th>"Clients"</th><th>"Status"</th><th>"Created"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| {
                                        let names = u.clients.iter().map(|c| client_names.iter().find(|(id, _)| id == c).map(|(_, n)| n.clone()).unwrap_or_else(|| format!("#{c}"))).collect::<Vec<_>>().join(", ");
                                        let edit = u.clone();
                                        view! {
                                            <tr>
                                                <td data-label="Name">{u.name.clone()}</td>
                                                <td data-label="E-mail">{u.email.clone()}</td>
                                                <td data-label="Role"><span class="badge">{u.role.label()}</span></td>
                                                <td data-label="Clients">{if u.role == Role::Admin { "all".to_string() } else { names }}</td>
                                                <td data-label="Status">{if u.disabled { view!{<span class="badge off">"disabled"</span>}.into_any() } else { view!{<span class="badge on">"active"</span>}.into_any() }}</td>
                                                <td data-label="Created">{format_time(u.created_at)}</td>
                                                <td><button class="link" on:click=move |_| editing.set(Some(edit.clone()))>"Edit"</button></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })
            }}
        </Transition>
        {move || editing.get().map(|u| view! { <UserForm user=u create=create update=update editing=editing clients=clients/> })}
    }
}

#[component]
fn UserForm(
    user: UserSummary,
    create: ServerAction<CreateUser>,
    update: ServerAction<UpdateUser>,
    editing: RwSignal<Option<UserSummary>>,
    clients: Resource<Result<Vec<(i64, String)>, crate::error::AppError>>,
) -> impl IntoView {
    let is_new = user.id == 0;
    let email = RwSignal::new(user.email.clone());
    let name = RwSignal::new(user.name.clone());
    let role = RwSignal::new(user.role.as_str().to_string());
    let password = RwSignal::new(String::new());
    let disabled = RwSignal::new(user.disabled);
    let assigned = RwSignal::new(user.clients.clone());
    let locales = RwSignal::new(user.locales.join(" "));
    // Both actions answer through one signal so the fields show whichever ran.
    let create_value = last_answer(create);
    let update_value = last_answer(update);
    let err = move |field: &'static str| {
        Signal::derive(move || {
            if is_new {
                create_value.get().and_then(|r| r.err()).and_then(|e| e.field(field))
            } else {
                update_value.get().and_then(|r| r.err()).and_then(|e| e.field(field))
            }
        })
    };
    let version_at_open = if is_new { create.version().get_untracked() } else { update.version().get_untracked() };
    Effect::new(move |_| {
        let (version, ok) = if is_new {
            (create.version().get(), matches!(create.value().get(), Some(Ok(_))))
        } else {
            (update.version().get(), matches!(update.value().get(), Some(Ok(_))))
        };
        if version > version_at_open && ok {
            editing.set(None);
        }
    });
    let id = user.id;
    view! {
        <div class="dialog-backdrop">
            <form
                class="card dialog"
                method="post"
                action={if is_new { crate::shell::forms::url_of::<CreateUser>() } else { crate::shell::forms::url_of::<UpdateUser>() }}
                aria-label=if is_new { "New user" } else { "Edit user" }
                on:submit=move |ev| {
                    ev.prevent_default();
                    if is_new {
                        create.dispatch(CreateUser { user: NewUser {
                            email: email.get_untracked(), name: name.get_untracked(), role: role.get_untracked(),
                            password: password.get_untracked(), clients: assigned.get_untracked(),
                            locales: locales.get_untracked(),
                        }});
                    } else {
                        update.dispatch(UpdateUser { change: UserChange {
                            id, name: name.get_untracked(), role: role.get_untracked(), disabled: disabled.get_untracked(),
                            clients: assigned.get_untracked(), new_password: password.get_untracked(),
                            locales: locales.get_untracked(),
                        }});
                    }
                }
            >
                <h2>{if is_new { "New user".to_string() } else { format!("Edit {}", user.email) }}</h2>
                {if is_new { view! { <FormStatus value=create_value/> }.into_any() } else { view! { <FormStatus value=update_value/> }.into_any() }}
                {is_new.then(|| view! { <TextField label="E-mail" name="email" kind="email" value=email error=err("email") required=true/> })}
                <TextField label="Name" name="name" value=name error=err("name") required=true maxlength=120/>
                <SelectField label="Role" name="role" value=role error=err("role") choices=role_options()/>
                <TextField
                    label=if is_new { "Password" } else { "New password (leave empty to keep)" }
                    name="password" kind="password" value=password
                    error=Signal::derive(move || err("password").get().or_else(|| err("new_password").get()))
                    required=is_new hint="At least 10 characters." autocomplete="new-password"
                />
                <fieldset class="field" class:invalid=move || err("clients").get().is_some()>
                    <legend>"Clients"</legend>
                    <Transition fallback=|| ()>
                        {move || clients.get().and_then(Result::ok).map(|list| list.into_iter().map(|(cid, cname)| view! {
                            <label class="check">
                                <input type="checkbox" name="clients" value=cid.to_string()
                                    prop:checked=move || assigned.get().contains(&cid)
                                    on:change=move |_| assigned.update(|a| if let Some(i) = a.iter().position(|c| *c == cid) { a.remove(i); } else { a.push(cid); })
                                />
                                {cname}
                            </label>
                        }).collect_view())}
                    </Transition>
                    <small class="hint">"Admins see every client. A client viewer belongs to exactly one."</small>
                    <small class="error" role="alert">{move || err("clients").get()}</small>
                </fieldset>
                <TextField label="Review languages" name="locales" value=locales error=err("locales")
                    hint="Copywriters approve versions in these locales, e.g. \"de en fr-CA\" (de covers de-AT)."/>
                {(!is_new).then(|| view! {
                    <label class="check"><input type="checkbox" name="disabled" bind:checked=disabled/>"Disabled (cannot sign in)"</label>
                })}
                <div class="actions">
                    <button type="button" on:click=move |_| editing.set(None)>"Cancel"</button>
                    <button type="submit" class="primary">{if is_new { "Create user" } else { "Save" }}</button>
                </div>
            </form>
        </div>
    }
}
