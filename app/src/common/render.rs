//! Rendering a version with minijinja: HTML parts autoescaped, the documented variables
//! only (an unknown one is an error, never a blank), and a `default` filter for values a
//! buyer's order may lack. Pure, so the editor's live preview runs the same code.

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

/// The parts of a version: the e-mail's three, the text (SMS) message and the WhatsApp
/// message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Part {
    Subject,
    Html,
    Text,
    Sms,
    Whatsapp,
}

impl Part {
    pub const ALL: [Part; 5] = [Part::Subject, Part::Html, Part::Text, Part::Sms, Part::Whatsapp];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Html => "html",
            Part::Text => "text",
            Part::Sms => "sms",
            Part::Whatsapp => "whatsapp",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Part::Subject => "Subject",
            Part::Html => "HTML part",
            Part::Text => "Plain-text part",
            Part::Sms => "SMS part",
            Part::Whatsapp => "WhatsApp part",
        }
    }
}

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
    pub part: Part,
    pub message: String,
}

/// A variable or syntax problem in one part's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableProblem {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// The filters a message may use: text transformations whose output is never much larger
/// than their input. (Jinja's others can build huge values from a short source:
/// `indent(10**8)`, `format("%100000000s")`, `replace` chains; and messages have no lists to
/// sort, map or join.)
pub const FILTERS: &[&str] =
    &["default", "upper", "lower", "title", "capitalize", "trim", "length", "first", "last", "string", "escape", "e"];

/// The statements a message may use. Loops, assignments, macros and includes are not
/// available: a message's variables are single values, and without them a template's
/// work and output stay proportional to its own length.
const STATEMENTS: &[&str] = &["if", "elif", "else", "endif"];

/// The most work one part may take to render (minijinja counts about one unit per
/// instruction; a long real message takes a few thousand).
const FUEL: u64 = 100_000;

/// The largest rendered part (mailbox providers clip messages far smaller than this).
pub const MAX_RENDERED_BYTES: usize = 512 * 1024;

fn environment(escape: bool) -> Environment<'static> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    // Unknown variables fail loudly instead of rendering as nothing.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(move |_| if escape { AutoEscape::Html } else { AutoEscape::None });
    env.set_fuel(Some(FUEL));
    env.add_filter("default", default_filter);
    env.add_filter("upper", filters::upper);
    env.add_filter("lower", filters::lower);
    env.add_filter("title", filters::title);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("trim", filters::trim);
    env.add_filter("length", filters::length);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("string", filters::string);
    env.add_filter("escape", filters::escape);
    env.add_filter("e", filters::escape);
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env
}

/// What in a source a message may not use, with where it is: a statement other than
/// `if`, a filter outside [`FILTERS`], a function call, or `*` (string repetition).
pub fn unsupported(source: &str) -> Vec<VariableProblem> {
    use regex::Regex;
    use std::sync::LazyLock;
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}").expect("tag pattern"));
    static STATEMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\{%[-+]?\s*([A-Za-z_]\w*)").expect("statement pattern"));
    static STRING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"#).expect("string pattern"));
    static CALL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\|\s*)?\b([A-Za-z_]\w*)\s*(\()?").expect("call pattern"));
    let mut problems = Vec::new();
    for tag in TAG.find_iter(source) {
        let (start, end) = (tag.start(), tag.end());
        let problem = |message: String| VariableProblem { start, end, message };
        if let Some(keyword) = STATEMENT.captures(tag.as_str()).and_then(|c| c.get(1)) {
            let keyword = keyword.as_str();
            if !STATEMENTS.contains(&keyword) {
                problems.push(problem(format!(
                    "{{% {keyword} %}} is not available in messages: they use variables, filters and {{% if %}} only."
                )));
                continue;
            }
        }
        // Blank out string literals (keeping offsets), then read the expression.
        let code = STRING.replace_all(tag.as_str(), |m: &regex::Captures| " ".repeat(m[0].len()));
        if code.contains('*') {
            problems.push(problem("Multiplication (*) is not available in messages.".into()));
            continue;
        }
        for call in CALL.captures_iter(&code) {
            let name = &call[2];
            let is_filter = call.get(1).is_some();
            if is_filter && !FILTERS.contains(&name) {
                problems.push(problem(format!("The filter | {name} is not available in messages; these are: {}.", FILTERS.join(", "))));
            } else if !is_filter && call.get(3).is_some() {
                problems.push(problem(format!("{name}() is not available in messages: they use variables and filters only.")));
            }
        }
    }
    problems
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
    use Part;
    let value = Value::from_serialize(context);
    let plain = environment(false);
    let escaped = environment(true);
    let one = |env: &Environment<'static>, source: &str, part: Part| -> Result<String, RenderError> {
        if let Some(problem) = unsupported(source).into_iter().next() {
            return Err(RenderError { part, message: problem.message });
        }
        let template = env.template_from_str(source).map_err(|e| RenderError { part, message: describe(&e) })?;
        let mut out = Capped { bytes: Vec::with_capacity(source.len() + 256), full: false };
        match template.render_captured_to(&value, &mut out) {
            Ok(_) => Ok(String::from_utf8_lossy(&out.bytes).into_owned()),
            Err(_) if out.full => {
                Err(RenderError { part, message: format!("This part renders to more than {} KB; shorten it.", MAX_RENDERED_BYTES / 1024) })
            }
            Err(e) => Err(RenderError { part, message: describe(&e) }),
        }
    };
    Ok(Rendered {
        subject: one(&plain, subject, Part::Subject)?.replace(['\r', '\n'], " ").trim().to_string(),
        html: one(&escaped, html, Part::Html)?,
        text: one(&plain, text, Part::Text)?,
    })
}

/// Rendered output that refuses to grow past [`MAX_RENDERED_BYTES`].
struct Capped {
    bytes: Vec<u8>,
    full: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_RENDERED_BYTES {
            self.full = true;
            return Err(std::io::Error::other("rendered part too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn describe(e: &minijinja::Error) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        return format!("This part takes too much work to render (more than {FUEL} steps); simplify it.");
    }
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
    let unsupported = unsupported(source);
    if !unsupported.is_empty() {
        return unsupported;
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
        assert_eq!(err.part, Part::Html);
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
    fn loops_assignments_repetition_and_other_filters_are_refused_with_their_place() {
        let cases = [
            ("{% for i in range(6000) %}{% for j in range(6000) %}x{% endfor %}{% endfor %}", "{% for %} is not available"),
            ("{% set a = 'x' %}{{ a ~ a }}", "{% set %} is not available"),
            ("{{ 'x' * 100000000 }}", "Multiplication"),
            ("{{ customer.name | indent(100000000) }}", "| indent is not available"),
            ("{{ '%100000000s' | format(1) }}", "| format is not available"),
            ("{{ range(10) }}", "range() is not available"),
            ("{% macro m() %}x{% endmacro %}", "{% macro %} is not available"),
        ];
        for (source, expected) in cases {
            let problems = variable_problems(source);
            assert!(problems.iter().any(|p| p.message.contains(expected)), "{source}: {problems:?}");
            let tag_start = source.find("{").unwrap();
            assert_eq!(problems[0].start, tag_start, "{source}");
            let refused = render(source, "", "", &context()).unwrap_err();
            assert!(refused.message.contains(expected), "{source}: {}", refused.message);
        }
        // What messages do use still renders; a star or a name inside a string is text.
        let fine = "{% if customer.first_name %}Hi {{ customer.first_name | title }}{% else %}Hi{% endif %} {{ '***' }} {{ customer.last_name | default('call(me)') | upper }}";
        assert!(variable_problems(fine).is_empty(), "{:?}", variable_problems(fine));
        assert!(render(fine, "", "", &context()).is_ok());
    }

    #[test]
    fn a_huge_output_or_too_much_work_is_refused() {
        // Within the rules, output is proportional to the source; a part of 600 KB is
        // refused as too large a result rather than sent…
        let long = "x".repeat(600 * 1024);
        let refused = render("s", &long, "t", &context()).unwrap_err();
        assert!(refused.message.contains("renders to more than 512 KB"), "{}", refused.message);
        // …and 50,000 variables are more work than any message needs.
        let busy = "{{ customer.name }}".repeat(50_000);
        let refused = render("s", "h", &busy, &context()).unwrap_err();
        assert!(refused.message.contains("too much work"), "{}", refused.message);
    }

    #[test]
    fn syntax_errors_are_problems() {
        let problems = variable_problems("Hello {{ customer.first_name ");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("Template syntax"), "{}", problems[0].message);
    }
}
