//! Forms that work before the WASM has loaded, with JavaScript off, or with a bundle that
//! failed to load: every form is a real `<form method="post">` to its server function, so
//! nothing typed into it ever lands in an address bar, a history or a proxy's log.
//!
//! How a plain post comes back: the server function runs as usual; a browser's own form
//! post asks for `text/html`, so leptos answers with a redirect to the page it came from
//! (the page then shows the new state), or on an error to that page with the error in its
//! `__err` parameter, which the page's `ServerAction` of the same function reads to show
//! the message beside the form. Once hydrated, the same forms are taken over by their
//! `on:submit` / `on:click` handlers and nothing reloads.

use leptos::prelude::*;
use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The argument codec of server functions that a form posts to: the hydrated page (and
/// every API client and test) sends JSON, a browser posting the form itself sends
/// `application/x-www-form-urlencoded`, and the server reads either.
pub struct FormOrJsonEncoding;

/// Server functions declared with `input = FormOrJson` accept a plain HTML form post.
pub type FormOrJson = Post<FormOrJsonEncoding>;

impl ContentType for FormOrJsonEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for FormOrJsonEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for FormOrJsonEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for FormOrJsonEncoding {
    type Error = String;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        decode_form_or_json(&bytes)
    }
}

/// JSON arguments are an object, so their first non-blank byte is `{`; a form body never
/// starts with one (a browser sends it as `%7B`).
pub fn decode_form_or_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| format!("The request could not be read: {e}"))
    } else {
        serde_qs::Config::new(5, false).deserialize_bytes(bytes).map_err(|e| {
            format!("The form could not be read ({e}). This form needs the page to have finished loading: reload it and try again.")
        })
    }
}

/// The address a form posts to for server function `S`.
pub fn url_of<S: leptos::server_fn::ServerFn>() -> &'static str {
    S::PATH
}

/// The hidden inputs that carry `input`'s fields (numbers, text, flags and named choices)
/// in a plain form post, named as the server function's arguments.
pub fn hidden_fields<T: Serialize>(input: &T) -> impl IntoView {
    let fields: Vec<(String, String)> = match serde_json::to_value(input) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(s) => Some((name, s)),
                serde_json::Value::Number(n) => Some((name, n.to_string())),
                serde_json::Value::Bool(b) => Some((name, b.to_string())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    fields.into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value/> }).collect_view()
}

/// One button that runs a server function with fixed arguments (launch, pause, start an
/// import…): a small form posting `input` to the function, which the hydrated page
/// dispatches through `action` instead.
#[component]
pub fn ActionButton<S>(
    action: ServerAction<S>,
    input: S,
    label: &'static str,
    #[prop(optional)] class: &'static str,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional, into)] title: Signal<String>,
) -> impl IntoView
where
    S: leptos::server_fn::ServerFn + Serialize + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let fields = hidden_fields(&input);
    let input = StoredValue::new(input);
    view! {
        <form class="inline" method="post" action={url_of::<S>()} on:submit=move |ev| {
            ev.prevent_default();
            action.dispatch(input.get_value());
        }>
            {fields}
            <button type="submit" class=class disabled=move || disabled.get() || action.pending().get() title=move || title.get()>{label}</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    enum Step {
        Approve,
        RequestChanges,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Args {
        id: i64,
        step: Step,
        comment: String,
    }

    #[test]
    fn a_browser_form_post_and_json_give_the_same_arguments() {
        let form: Args = decode_form_or_json(b"id=42&comment=Looks+good%2C+ship+it%21&step=RequestChanges").unwrap();
        let json: Args = decode_form_or_json(br#" {"id":42,"step":"RequestChanges","comment":"Looks good, ship it!"}"#).unwrap();
        assert_eq!(form, json);
        assert_eq!(form, Args { id: 42, step: Step::RequestChanges, comment: "Looks good, ship it!".into() });
        let approve: Args = decode_form_or_json(b"step=Approve&id=7&comment=").unwrap();
        assert_eq!(approve.step, Step::Approve);
    }

    #[test]
    fn a_form_missing_an_argument_or_with_a_bad_number_says_which() {
        let missing = decode_form_or_json::<Args>(b"id=42&comment=x").unwrap_err();
        assert!(missing.contains("step"), "{missing}");
        let bad = decode_form_or_json::<Args>(b"id=forty&comment=x&step=Approve").unwrap_err();
        assert!(bad.contains("The form could not be read"), "{bad}");
    }
}
