//! The engine on single cases, and on the labelled corpus with precision and recall.

use super::*;
use serde::Deserialize;

fn email(locale: &str, platform: &str, subject: &str, html: &str, text: &str) -> LintInput {
    LintInput {
        locale: locale.into(),
        platform: platform.into(),
        purpose: "review_request".into(),
        postal_address: "Hafenstraße 12, 20457 Hamburg".into(),
        subject: subject.into(),
        html: html.into(),
        text: text.into(),
        sms: String::new(),
        whatsapp: String::new(),
        whatsapp_category: String::new(),
    }
}

const FOOTER: &str = "{{ brand.postal_address }} · <a href=\"{{ unsubscribe_url }}\">Abmelden</a>";

#[test]
fn every_rule_pattern_compiles() {
    for (index, rule) in rules::RULES.iter().enumerate() {
        if matches!(rule.check, Check::Forbidden(_) | Check::Required(_)) {
            assert!(pattern(index).is_some(), "rule {} does not compile", rule.id);
        }
    }
}

#[test]
fn five_sterne_blocks_with_its_byte_range() {
    let html = format!("<p>Bitte geben Sie uns 5 Sterne!</p>{FOOTER}");
    let findings = lint(&email("de-DE", "shopify", "Ihre Bestellung", &html, &format!("Bitte bewerten Sie uns. {FOOTER}")));
    let incentive = findings.iter().find(|f| f.category == "incentive").expect("an incentive finding");
    assert_eq!(incentive.severity, Severity::Block);
    assert_eq!(incentive.part, Part::Html);
    assert_eq!(&html[incentive.start..incentive.end], "5 Sterne");
    assert!(incentive.source.contains("FTC"));
    assert!(has_blocking(&findings));
}

#[test]
fn an_honest_german_review_request_is_clean() {
    let html = format!("<p>Hallo {{{{ customer.first_name | default(\"zusammen\") }}}}, wie gefällt Ihnen {{{{ product.name }}}}? <a href=\"{{{{ review_url }}}}\">Ehrliche Bewertung schreiben</a></p><p>{FOOTER}</p>");
    let text = format!("Wie gefällt Ihnen {{{{ product.name }}}}? {{{{ review_url }}}}\n{FOOTER}");
    let findings = lint(&email("de", "shopify", "Wie gefällt Ihnen Ihr Einkauf?", &html, &text));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn amazon_messages_may_not_opt_out_market_or_link_elsewhere() {
    let html = "<p>Thanks! Shop our new arrivals at <a href=\"https://nordlicht.test/sale\">our shop</a>. <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> <a href=\"https://www.amazon.de/review\">Review</a></p>";
    let findings = lint(&email("en", "amazon", "Your order", html, "Review: {{ review_url }}"));
    let cats = categories(&findings);
    for expected in ["amazon-external-link", "amazon-marketing", "amazon-opt-out"] {
        assert!(cats.contains(&expected.to_string()), "{expected} missing in {cats:?}");
    }
    let links: Vec<&str> = findings.iter().filter(|f| f.category == "amazon-external-link").map(|f| f.excerpt.as_str()).collect();
    assert_eq!(links, vec!["https://nordlicht.test/sale"], "amazon.de is allowed");
    assert!(!cats.contains(&"missing-unsubscribe".to_string()), "Amazon manages opt-outs");
}

#[test]
fn missing_unsubscribe_and_address_block_outside_amazon() {
    let findings = lint(&email("en", "shopify", "How was it?", "<p>Review: {{ review_url }}</p>", "Review: {{ review_url }}"));
    let blocking: Vec<_> = findings.iter().filter(|f| f.blocks()).map(|f| (f.category.as_str(), f.part)).collect();
    assert!(blocking.contains(&("missing-unsubscribe", Part::Html)));
    assert!(blocking.contains(&("missing-unsubscribe", Part::Text)));
    assert!(blocking.contains(&("missing-postal-address", Part::Html)));
}

#[test]
fn warnings_do_not_block() {
    let html = format!("<p>FREE shipping on returns!!! <img src=\"x.png\"></p>{FOOTER}");
    let findings = lint(&email("en", "shopify", "PLEASE REVIEW YOUR ORDER NOW", &html, ""));
    let cats = categories(&findings);
    for expected in ["caps-subject", "exclamation", "image-alt", "missing-plain-text", "spam-words"] {
        assert!(cats.contains(&expected.to_string()), "{expected} missing in {cats:?}");
    }
    assert!(!has_blocking(&findings), "{findings:#?}");
}

#[test]
fn gating_is_found_in_each_language() {
    let cases = [
        ("en", "If you are happy with your order, please leave a review. If not, please contact us first."),
        ("de", "Wenn Sie zufrieden sind, freuen wir uns über eine Bewertung. Falls nicht, schreiben Sie uns bitte."),
        ("fr", "Si vous êtes satisfait, laissez un avis. Sinon, contactez-nous."),
        ("es", "Si está satisfecho, deje una reseña. Si no, contáctenos."),
        ("it", "Se sei soddisfatto lascia una recensione, altrimenti contattaci."),
        ("ja", "ご満足いただけた場合はレビューを、ご不満な点がある場合はまずご連絡ください。"),
        ("zh", "如果您满意请留下评价，如有不满意请先联系我们。"),
    ];
    for (locale, body) in cases {
        let findings = lint(&email(locale, "shopify", "Hi", &format!("<p>{body}</p>{FOOTER}"), &format!("{body} {FOOTER}")));
        assert!(categories(&findings).contains(&"gating".to_string()), "{locale}: {findings:#?}");
    }
}

#[test]
fn unknown_variables_block_with_a_suggestion() {
    let findings = lint(&email("en", "shopify", "Hi {{ customer.frist_name }}", &format!("<p>x</p>{FOOTER}"), &format!("x {FOOTER}")));
    let f = findings.iter().find(|f| f.category == "unknown-variable").expect("a variable finding");
    assert!(f.blocks());
    assert!(f.message.contains("customer.first_name"), "{}", f.message);
}

#[derive(Deserialize)]
struct Example {
    id: String,
    locale: String,
    platform: String,
    purpose: String,
    subject: String,
    html: String,
    text: String,
    expect: Vec<String>,
}

/// Precision and recall over (example, category) pairs of the labelled corpus.
#[test]
fn corpus_precision_and_recall_are_at_least_0_9() {
    let corpus: Vec<Example> = serde_json::from_str(include_str!("corpus.json")).expect("corpus.json parses");
    assert!(corpus.len() >= 80, "the corpus has {} examples", corpus.len());
    let mut per_category: std::collections::BTreeMap<String, (u32, u32, u32)> = Default::default();
    let mut misses = Vec::new();
    for example in &corpus {
        let input = LintInput {
            locale: example.locale.clone(),
            platform: example.platform.clone(),
            purpose: example.purpose.clone(),
            postal_address: String::new(),
            subject: example.subject.clone(),
            html: example.html.clone(),
            text: example.text.clone(),
            sms: String::new(),
            whatsapp: String::new(),
            whatsapp_category: String::new(),
        };
        let found = categories(&lint(&input));
        for category in found.iter().chain(example.expect.iter()) {
            let entry = per_category.entry(category.clone()).or_default();
            match (found.contains(category), example.expect.contains(category)) {
                (true, true) => entry.0 += 1,
                (true, false) => entry.1 += 1,
                (false, true) => entry.2 += 1,
                (false, false) => {}
            }
        }
        if found != {
            let mut e = example.expect.clone();
            e.sort();
            e.dedup();
            e
        } {
            misses.push(format!("{}: expected {:?}, found {:?}", example.id, example.expect, found));
        }
    }
    // Pairs were counted once per side above; an agreeing pair was seen twice.
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    println!("{:<24} {:>4} {:>4} {:>4} {:>9} {:>6}", "category", "tp", "fp", "fn", "precision", "recall");
    for (category, (t, f, n)) in &per_category {
        let t = t / 2;
        tp += t;
        fp += f;
        fn_ += n;
        let precision = if t + f == 0 { 1.0 } else { f64::from(t) / f64::from(t + f) };
        let recall = if t + n == 0 { 1.0 } else { f64::from(t) / f64::from(t + n) };
        println!("{category:<24} {t:>4} {f:>4} {n:>4} {precision:>9.3} {recall:>6.3}");
    }
    let precision = f64::from(tp) / f64::from(tp + fp);
    let recall = f64::from(tp) / f64::from(tp + fn_);
    println!("{:<24} {tp:>4} {fp:>4} {fn_:>4} {precision:>9.3} {recall:>6.3}", "ALL");
    println!("{} examples, {} classified exactly; differences:", corpus.len(), corpus.len() - misses.len());
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(precision >= 0.9, "precision {precision:.3} < 0.9");
    assert!(recall >= 0.9, "recall {recall:.3} < 0.9");
}

#[test]
fn country_rules_apply_by_the_locale_region() {
    let html = format!("<p>Wie war es? {{{{ review_url }}}}</p>{FOOTER}");
    let text = format!("Wie war es? {FOOTER}");
    let german = lint(&email("de-DE", "shopify", "Ihre Meinung", &html, &text));
    assert_eq!(categories(&german), vec!["country-consent".to_string()]);
    assert!(!has_blocking(&german));
    let austrian = lint(&email("de-AT", "shopify", "Ihre Meinung", &html, &text));
    assert!(austrian.is_empty(), "{austrian:#?}");
}

#[test]
fn a_text_must_name_the_brand_and_how_to_stop_and_stay_short() {
    let good = "{{ brand.name }}: Hi {{ customer.first_name }}, how do you like it? {{ review_url }} Reply STOP to opt out";
    let with = |sms: &str, locale: &str, platform: &str| LintInput { sms: sms.into(), ..email(locale, platform, "Hi", "", "") };
    let sms_categories =
        |input: &LintInput| -> Vec<String> { lint(input).into_iter().filter(|f| f.part == Part::Sms).map(|f| f.category).collect() };
    assert!(sms_categories(&with(good, "en", "shopify")).is_empty(), "{:?}", lint(&with(good, "en", "shopify")));
    assert_eq!(sms_categories(&with("{{ brand.name }}: how was it? {{ review_url }}", "en", "shopify")), vec!["sms-opt-out"]);
    let german = with("Wie war es? {{ review_url }} Abmelden: STOP antworten", "de", "shopify");
    assert_eq!(sms_categories(&german), vec!["sms-sender"]);
    // The suggested line is in the version's language.
    let finding = lint(&with("{{ brand.name }}: Wie war es?", "de", "shopify")).into_iter().find(|f| f.category == "sms-opt-out").unwrap();
    assert!(finding.message.contains("STOP antworten"), "{}", finding.message);
    // Review gating and incentives are caught in texts as in e-mails.
    let gated = with("{{ brand.name }}: Happy? Leave a 5-star review! Unhappy? Contact us first. Reply STOP to opt out", "en", "shopify");
    assert!(has_blocking(&lint(&gated)), "{:?}", lint(&gated));
    // Long texts warn with their part count; Amazon buyers are never texted.
    let long = format!("{{{{ brand.name }}}}: {} Reply STOP to opt out", "word ".repeat(70));
    let findings = lint(&with(&long, "en", "shopify"));
    let length = findings.iter().find(|f| f.category == "sms-length").expect("a length warning");
    assert!(length.message.contains("3 parts"), "{}", length.message);
    assert_eq!(sms_categories(&with(good, "en", "amazon")).first().map(String::as_str), Some("amazon-texts"));
    // No SMS part, no SMS finding.
    assert!(sms_categories(&with("", "en", "shopify")).is_empty());
}

#[test]
fn a_whatsapp_part_must_be_a_template_meta_accepts_in_the_right_category() {
    let good = "Hi {{ customer.first_name }}, how do you like your order from {{ brand.name }}? {{ review_url }} Thank you!";
    let with = |body: &str, category: &str, purpose: &str| LintInput {
        whatsapp: body.into(),
        whatsapp_category: category.into(),
        purpose: purpose.into(),
        ..email("en", "shopify", "Hi", "", "")
    };
    let categories =
        |input: &LintInput| -> Vec<String> { lint(input).into_iter().filter(|f| f.part == Part::Whatsapp).map(|f| f.category).collect() };
    assert!(categories(&with(good, "MARKETING", "review_request")).is_empty(), "{:?}", lint(&with(good, "MARKETING", "review_request")));
    assert_eq!(categories(&with(good, "UTILITY", "review_request")), vec!["whatsapp-category"], "a review request is marketing");
    assert!(categories(&with(good, "UTILITY", "care")).is_empty(), "care is utility");
    assert_eq!(categories(&with(good, "", "care")), vec!["whatsapp-category"], "a category is chosen");
    let edges = with("{{ customer.first_name }}, how is it from {{ brand.name }}? {{ review_url }}", "MARKETING", "review_request");
    let findings: Vec<Finding> = lint(&edges).into_iter().filter(|f| f.category == "whatsapp-template").collect();
    assert_eq!(findings.len(), 2, "begins and ends with a variable: {findings:?}");
    assert!(findings.iter().all(|f| f.blocks() && f.source.contains("developers.facebook.com")));
    assert!(
        categories(&with("Hi, how is it? {{ review_url }} Thanks", "MARKETING", "review_request")).contains(&"whatsapp-sender".to_string())
    );
    // Incentives are caught in WhatsApp as everywhere; Amazon buyers get no WhatsApp.
    let paid = with("Hi from {{ brand.name }}: leave a 5-star review and get a gift card! Thanks", "MARKETING", "review_request");
    assert!(has_blocking(&lint(&paid)));
    let amazon = LintInput { platform: "amazon".into(), ..with(good, "MARKETING", "review_request") };
    assert!(categories(&amazon).contains(&"amazon-texts".to_string()));
    assert!(categories(&with("", "", "review_request")).is_empty(), "no WhatsApp part, no finding");
}
