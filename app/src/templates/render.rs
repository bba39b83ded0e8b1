//! Rendering a version with minijinja: HTML parts autoescaped, the documented variables
//! only (an unknown one is an error, never a blank), and a `default` filter for values a
//! buyer's order may lack. Pure, so the editor's live preview runs the same code.

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

/// The variables a template may use, with what they hold (shown in the editor).
pub const VARIABLES: &[(&str, &str)] = &[
    ("customer.first_name", "The buyer's first name (often empty on Amazon: use | default(\"there\"))"),
    ("customer.last_name", "The buyer's last name"),
    ("customer.name", "The buyer's full name"),
    ("order.id", "The platform's order number"),
    ("order.date", "The order date, in the buyer's locale"),
    ("order.total", "The order total with currency"),
    ("product.name", "The first product of the order"),
    ("product.sku", "The first product's SKU"),
    ("brand.name", "The brand's name"),
    ("brand.postal_address", "The brand's postal address (required in every email)"),
    ("store.name", "The store the order came from"),
    ("review_url", "The link to the platform's review page for this order"),
    ("unsubscribe_url", "The buyer's one-click unsubscribe link (required in every email, except to Amazon buyers)"),
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerVars {
    pub first_name: String,
    pub last_name: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderVars {
    pub id: String,
    pub date: String,
    pub total: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductVars {
    pub name: String,
    pub sku: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandVars {
    pub name: String,
    pub postal_address: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreVars {
    pub name: String,
}

/// Everything a message can say about its order: exactly the documented variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderContext {
    pub customer: CustomerVars,
    pub order: OrderVars,
    pub product: ProductVars,
    pub brand: BrandVars,
    pub store: StoreVars,
    pub review_url: String,
    pub unsubscribe_url: String,
}

/// A rendered message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Why a part could not be rendered, with the byte range when the engine knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderError {
    pub part: crate::compliance::Part,
    pub message: String,
}

/// A variable or syntax problem in one part's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableProblem {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

fn environment(escape: bool) -> Environment<'static> {
    let mut env = Environment::new();
    // Unknown variables fail loudly instead of rendering as nothing.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(move |_| if escape { AutoEscape::Html } else { AutoEscape::None });
    env.add_filter("default", default_filter);
    env
}

/// `{{ x | default("there") }}`: the fallback when `x` is missing or empty (an Amazon
/// buyer's first name, say), unlike Jinja's own `default`, which ignores empty strings.
fn default_filter(value: Value, fallback: Option<Value>) -> Value {
    let missing = value.is_undefined() || value.is_none() || value.as_str().is_some_and(|s| s.trim().is_empty());
    if missing {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// Renders the three parts with `context`; the HTML part is autoescaped, so a buyer named
/// `<script>` shows as text.
pub fn render(subject: &str, html: &str, text: &str, context: &RenderContext) -> Result<Rendered, RenderError> {
    use crate::compliance::Part;
    let value = Value::from_serialize(context);
    let plain = environment(false);
    let escaped = environment(true);
    let one = |env: &Environment<'static>, source: &str, part: Part| -> Result<String, RenderError> {
        env.render_str(source, &value).map_err(|e| RenderError { part, message: describe(&e) })
    };
    Ok(Rendered {
        subject: one(&plain, subject, Part::Subject)?.replace(['\r', '\n'], " ").trim().to_string(),
        html: one(&escaped, html, Part::Html)?,
        text: one(&plain, text, Part::Text)?,
    })
}

fn describe(e: &minijinja::Error) -> String {
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    match e.line() {
        Some(line) => format!("{}{detail} (line {line})", e.kind()),
        None => format!("{}{detail}", e.kind()),
    }
}

/// Syntax errors and variables outside `VARIABLES` in one part's source, each with the
/// byte range to mark and, for a near miss, the variable that was probably meant.
pub fn variable_problems(source: &str) -> Vec<VariableProblem> {
    if !source.contains("{{") && !source.contains("{%") {
        return vec![];
    }
    let env = environment(false);
    let template = match env.template_from_str(source) {
        Ok(t) => t,
        Err(e) => {
            let (start, end) = e.range().map(|r| (r.start, r.end)).unwrap_or((0, 0));
            return vec![VariableProblem { start, end, message: format!("Template syntax: {}", describe(&e)) }];
        }
    };
    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
    names.sort();
    names
        .into_iter()
        .filter(|name| !VARIABLES.iter().any(|(known, _)| known == name))
        // A whole object (`{{ customer }}`) when its fields are used elsewhere is fine
        // only as a prefix of a documented name; printed alone it is still unknown.
        .map(|name| {
            let (start, end) = source.find(&name).map(|s| (s, s + name.len())).unwrap_or((0, 0));
            let hint = closest(&name).map(|known| format!(" Did you mean {{{{ {known} }}}}?")).unwrap_or_default();
            VariableProblem { start, end, message: format!("Unknown variable {{{{ {name} }}}}.{hint}") }
        })
        .collect()
}

/// The documented variable nearest to a misspelled one, if it is near enough.
fn closest(name: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .map(|(known, _)| (*known, strsim::damerau_levenshtein(name, known)))
        .filter(|(known, distance)| *distance <= 3.max(known.len() / 5))
        .min_by_key(|(_, distance)| *distance)
        .map(|(known, _)| known)
}

/// A date as buyers of `locale` write it (`05.03.2024` in German, `2024年3月5日` in
/// Japanese); ISO 8601 for languages without a rule here.
pub fn local_date(locale: &str, year: i32, month: u32, day: u32) -> String {
    match locale.split('-').next().unwrap_or("") {
        "de" => format!("{day:02}.{month:02}.{year}"),
        "fr" | "es" | "it" => format!("{day:02}/{month:02}/{year}"),
        "ja" | "zh" => format!("{year}年{month}月{day}日"),
        "en" if locale.ends_with("-US") => format!("{month:02}/{day:02}/{year}"),
        "en" => format!("{day:02}/{month:02}/{year}"),
        _ => format!("{year}-{month:02}-{day:02}"),
    }
}

/// An amount in minor units as buyers of `locale` write it (`59,80 EUR` in German).
pub fn local_amount(locale: &str, minor: i64, currency: &str) -> String {
    let plain = format!("{}.{:02}", minor / 100, (minor % 100).abs());
    let decimal_comma = matches!(locale.split('-').next().unwrap_or(""), "de" | "fr" | "es" | "it");
    let number = if decimal_comma { plain.replace('.', ",") } else { plain };
    format!("{number} {currency}").trim().to_string()
}

/// A context with made-up values, for previews when a brand has no order yet.
pub fn placeholder_context(brand: &str, postal_address: &str) -> RenderContext {
    RenderContext {
        customer: CustomerVars { first_name: "Alex".into(), last_name: "Example".into(), name: "Alex Example".into() },
        order: OrderVars { id: "1001".into(), date: "2026-11-01".into(), total: "49.90 EUR".into() },
        product: ProductVars { name: "Sample product".into(), sku: "SKU-1".into() },
        brand: BrandVars { name: brand.into(), postal_address: postal_address.into() },
        store: StoreVars { name: brand.into() },
        review_url: "https://example.com/review".into(),
        unsubscribe_url: "https://example.com/unsubscribe".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> RenderContext {
        placeholder_context("Nordlicht", "Hafenstraße 12, Hamburg")
    }

    #[test]
    fn buyer_named_script_is_escaped_in_html_and_kept_in_text() {
        let mut ctx = context();
        ctx.customer.first_name = "<script>alert(1)</script>".into();
        let out =
            render("Hi {{ customer.first_name }}", "<p>Hi {{ customer.first_name }}</p>", "Hi {{ customer.first_name }}", &ctx).unwrap();
        assert_eq!(out.html, "<p>Hi &lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>");
        assert!(!out.html.contains("<script>"));
        assert_eq!(out.text, "Hi <script>alert(1)</script>");
    }

    #[test]
    fn unknown_variable_fails_instead_of_rendering_blank() {
        let err = render("Hi", "<p>{{ customer.frist_name }}</p>", "x", &context()).unwrap_err();
        assert_eq!(err.part, crate::compliance::Part::Html);
        assert!(err.message.contains("undefined"), "{}", err.message);
    }

    #[test]
    fn default_filter_fills_missing_and_empty_values() {
        let mut ctx = context();
        ctx.customer.first_name = String::new();
        let out = render("Hi {{ customer.first_name | default(\"there\") }}", "", "", &ctx).unwrap();
        assert_eq!(out.subject, "Hi there");
        ctx.customer.first_name = "Jonas".into();
        assert_eq!(render("Hi {{ customer.first_name | default(\"there\") }}", "", "", &ctx).unwrap().subject, "Hi Jonas");
    }

    #[test]
    fn unknown_and_misspelled_variables_are_problems_with_their_place() {
        let source = "Hallo {{ customer.frist_name }}, {{ order.id }} {{ coupon_code }}";
        let problems = variable_problems(source);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let misspelled = problems.iter().find(|p| p.message.contains("frist_name")).unwrap();
        assert_eq!(&source[misspelled.start..misspelled.end], "customer.frist_name");
        assert!(misspelled.message.contains("Did you mean {{ customer.first_name }}"), "{}", misspelled.message);
        assert!(problems.iter().any(|p| p.message.contains("coupon_code") && !p.message.contains("Did you mean")));
        assert!(variable_problems("{{ order.id }} {{ review_url }}").is_empty());
    }

    #[test]
    fn dates_and_amounts_follow_the_locale() {
        assert_eq!(local_date("de-AT", 2024, 3, 5), "05.03.2024");
        assert_eq!(local_date("ja", 2024, 3, 5), "2024年3月5日");
        assert_eq!(local_date("en-US", 2024, 3, 5), "03/05/2024");
        assert_eq!(local_amount("de", 5980, "EUR"), "59,80 EUR");
        assert_eq!(local_amount("en", 5980, "GBP"), "59.80 GBP");
    }

    #[test]
    fn syntax_errors_are_problems() {
        let problems = variable_problems("Hello {{ customer.first_name ");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("Template syntax"), "{}", problems[0].message);
    }
}
