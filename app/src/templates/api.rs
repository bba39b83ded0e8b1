//! Server functions of templates: each reads the client a template or version really
//! belongs to from the database, asks `authorize` (and the workflow rules for steps), and
//! lints on the server whatever the browser showed.

use super::model::*;
use super::rules::Step;
use crate::compliance::Finding;
use crate::error::AppError;
use crate::shell::table::{ListQuery, Page};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateList {
    pub client_id: i64,
    pub client: String,
    pub can_write: bool,
    pub can_read_orders: bool,
    /// (id, name, default locale) of the client's brands, for the new-template form.
    pub brands: Vec<(i64, String, String)>,
    pub page: Page<TemplateRow>,
}

#[server(prefix = "/rpc", endpoint = "list_templates", input = Json)]
pub async fn list_templates(client_id: i64, query: ListQuery) -> Result<TemplateList, AppError> {
    crate::request::scoped(server::list_templates(client_id, query)).await
}

#[server(prefix = "/rpc", endpoint = "create_template", input = crate::shell::forms::FormOrJson)]
pub async fn create_template(form: TemplateForm) -> Result<(i64, i64), AppError> {
    crate::request::scoped(server::create_template(form)).await
}

#[server(prefix = "/rpc", endpoint = "get_template", input = Json)]
pub async fn get_template(id: i64) -> Result<TemplateDetail, AppError> {
    crate::request::scoped(server::get_template(id)).await
}

/// A new draft: for a new locale (`locale` set), or a new round of an existing version's
/// locale; its text is copied from `copy_from` when given.
#[server(prefix = "/rpc", endpoint = "new_version", input = crate::shell::forms::FormOrJson)]
pub async fn new_version(template_id: i64, locale: String, copy_from: Option<i64>) -> Result<i64, AppError> {
    crate::request::scoped(server::new_version(template_id, locale, copy_from)).await
}

#[server(prefix = "/rpc", endpoint = "version_editor", input = Json)]
pub async fn version_editor(id: i64) -> Result<EditorData, AppError> {
    crate::request::scoped(server::version_editor(id)).await
}

/// Saves the text; answers the server's own lint findings.
#[server(prefix = "/rpc", endpoint = "save_version", input = crate::shell::forms::FormOrJson)]
pub async fn save_version(
    id: i64,
    subject: String,
    html: String,
    text: String,
    #[server(default)] sms: String,
    #[server(default)] whatsapp: String,
    #[server(default)] whatsapp_category: String,
) -> Result<Vec<Finding>, AppError> {
    crate::request::scoped(server::save_version(id, subject, html, text, Phone { sms, whatsapp, whatsapp_category })).await
}

/// Submit, approve, request changes or retire; answers the new status.
#[server(prefix = "/rpc", endpoint = "version_step", input = crate::shell::forms::FormOrJson)]
pub async fn version_step(id: i64, step: Step, comment: String) -> Result<Status, AppError> {
    crate::request::scoped(server::version_step(id, step, comment)).await
}

#[server(prefix = "/rpc", endpoint = "compare_versions", input = Json)]
pub async fn compare_versions(from: i64, to: i64) -> Result<VersionDiff, AppError> {
    crate::request::scoped(server::compare_versions(from, to)).await
}

#[server(prefix = "/rpc", endpoint = "approval_queue", input = Json)]
pub async fn approval_queue() -> Result<Queue, AppError> {
    crate::request::scoped(server::approval_queue()).await
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::model::{Actor, Role};
    use crate::accounts::rules::{authorize, sees_all_clients, Action};
    use crate::common::mailer::Mail;
    use crate::common::render;
    use crate::common::values::Locale;
    use crate::compliance::{lint, LintInput};
    use crate::templates::rules::{next, reviews_locale, Refusal, VersionFacts};
    use crate::templates::store;
    use crate::{audit, ServerState};

    fn refused(r: Refusal) -> AppError {
        match r {
            Refusal::NotAllowed(m) => AppError::Forbidden(m),
            Refusal::Conflict(m) => AppError::Conflict(format!("Not possible: {m}")),
        }
    }

    async fn template_of(db: &crate::db::Db, id: i64) -> Result<Template, AppError> {
        store::template(db, id).await?.ok_or_else(|| AppError::NotFound(format!("template {id}")))
    }

    async fn version_of(db: &crate::db::Db, id: i64) -> Result<(Version, i64), AppError> {
        store::version(db, id).await?.ok_or_else(|| AppError::NotFound(format!("template version {id}")))
    }

    fn lint_of(
        template: &Template,
        postal_address: &str,
        locale: &str,
        subject: &str,
        html: &str,
        text: &str,
        phone: &Phone,
    ) -> Vec<Finding> {
        lint(&LintInput {
            locale: locale.into(),
            platform: template.platform.clone(),
            purpose: template.purpose.clone(),
            postal_address: postal_address.into(),
            subject: subject.into(),
            html: html.into(),
            text: text.into(),
            sms: phone.sms.clone(),
            whatsapp: phone.whatsapp.clone(),
            whatsapp_category: phone.whatsapp_category.clone(),
        })
    }

    /// A version the caller may read, with all the workflow decides on: its template, the
    /// brand, the server's own lint of the stored text, and the facts for `next`.
    struct Opened {
        version: Version,
        client_id: i64,
        template: Template,
        brand: String,
        postal_address: String,
        findings: Vec<Finding>,
        facts: VersionFacts,
    }

    async fn open(db: &crate::db::Db, id: i64, actor: &Actor) -> Result<Opened, AppError> {
        let (version, client_id) = version_of(db, id).await?;
        authorize(actor, Action::ReadTemplates(client_id))?;
        let template = template_of(db, version.row.template_id).await?;
        let (brand, postal_address, client_approval) = store::brand_facts(db, template.brand_id).await?;
        // The server lints the stored text itself: a finding the browser missed still blocks.
        let findings =
            lint_of(&template, &postal_address, &version.row.locale, &version.subject, &version.html, &version.text, &version.phone());
        let facts = VersionFacts {
            client_id,
            status: version.row.status,
            locale: version.row.locale.clone(),
            editors: store::editors(db, id).await?,
            blocking: crate::compliance::has_blocking(&findings),
            client_approval,
        };
        Ok(Opened { version, client_id, template, brand, postal_address, findings, facts })
    }

    fn counts(findings: &[Finding]) -> (i64, i64) {
        let blocking = findings.iter().filter(|f| f.blocks()).count() as i64;
        (blocking, findings.len() as i64 - blocking)
    }

    pub async fn list_templates(client_id: i64, query: ListQuery) -> Result<TemplateList, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ReadTemplates(client_id))?;
        let db = &ServerState::get()?.db;
        let client =
            crate::clients::store::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?;
        let brands = crate::clients::store::brands(db, client_id).await?.into_iter().map(|b| (b.id, b.name, b.default_locale)).collect();
        Ok(TemplateList {
            client_id,
            client: client.name,
            can_write: authorize(&actor, Action::WriteTemplates(client_id)).is_ok(),
            can_read_orders: authorize(&actor, Action::ReadOrders(client_id)).is_ok(),
            brands,
            page: store::list(db, client_id, &query).await?,
        })
    }

    pub async fn create_template(form: TemplateForm) -> Result<(i64, i64), AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        // The client is the brand's own, never the form's word for it.
        let brand = crate::clients::store::brand(db, form.brand_id).await?;
        let client_id = brand.as_ref().map(|b| b.client_id).unwrap_or(form.client_id);
        authorize(&actor, Action::WriteTemplates(client_id))?;
        let mut v = crate::common::values::Validation::default();
        let brand = v.check(
            brand.filter(|b| b.client_id == client_id).ok_or_else(|| AppError::invalid("brand_id", "Choose a brand of this client.")),
        );
        let name = v.check(crate::common::values::required_text("name", &form.name, 120));
        let purpose = v.check(Purpose::parse("purpose", &form.purpose));
        let platform = if form.platform == "any" {
            Some("any".to_string())
        } else {
            v.check(crate::clients::model::Platform::parse("platform", &form.platform).map(|p| p.as_str().to_string()))
        };
        let locale = v.check(Locale::parse("locale", &form.locale));
        v.finish()?;
        let (brand, name, purpose, platform, locale) = (
            brand.expect("validated"),
            name.expect("validated"),
            purpose.expect("validated"),
            platform.expect("validated"),
            locale.expect("validated"),
        );
        let form = TemplateForm {
            client_id,
            brand_id: brand.id,
            name,
            purpose: purpose.as_str().into(),
            platform,
            locale: locale.as_str().into(),
        };
        let template_id = store::insert_template(db, client_id, &form, &actor).await?;
        let template = template_of(db, template_id).await?;
        let (subject, html, text) = starter_text(&template, locale.as_str());
        let findings = lint_of(&template, &brand.postal_address, locale.as_str(), &subject, &html, &text, &Phone::default());
        let (blocking, warnings) = counts(&findings);
        let version_id = store::insert_version(
            db,
            &store::NewVersion {
                template_id,
                client_id,
                locale: locale.as_str(),
                subject: &subject,
                html: &html,
                text: &text,
                phone: &Phone::default(),
                blocking,
                warnings,
                copied_from: None,
            },
            &actor,
        )
        .await?;
        store::record(db, version_id, client_id, Status::Draft, "created", "", &actor).await?;
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            "template_created",
            Some(client_id),
            &form.name,
            &format!("purpose={} platform={} locale={}", form.purpose, form.platform, form.locale),
        )
        .await?;
        Ok((template_id, version_id))
    }

    /// A first draft in the version's language that already passes the blocking rules
    /// for its platform (the copywriter replaces the body).
    fn starter_text(template: &Template, locale: &str) -> (String, String, String) {
        let (hello, there, thanks, subject, unsubscribe) = match locale.split('-').next().unwrap_or("") {
            "de" => (
                "Hallo",
                "zusammen",
                "vielen Dank für Ihre Bestellung von",
                "Ihre Bestellung {{ order.id }} bei {{ brand.name }}",
                "Abmelden",
            ),
            "fr" => ("Bonjour", "", "merci pour votre commande de", "Votre commande {{ order.id }} chez {{ brand.name }}", "Se désabonner"),
            "es" => ("Hola", "", "gracias por su pedido de", "Su pedido {{ order.id }} en {{ brand.name }}", "Darse de baja"),
            "it" => ("Ciao", "", "grazie per il tuo ordine di", "Il tuo ordine {{ order.id }} da {{ brand.name }}", "Disiscriviti"),
            "ja" => ("", "お客様", "ご注文ありがとうございます：", "{{ brand.name }}からのご注文 {{ order.id }}", "配信停止"),
            "zh" => ("您好", "", "感谢您订购", "您在{{ brand.name }}的订单 {{ order.id }}", "退订"),
            _ => ("Hello", "there", "thank you for ordering", "Your order {{ order.id }} from {{ brand.name }}", "Unsubscribe"),
        };
        let greeting = format!("{hello} {{{{ customer.first_name | default(\"{there}\") }}}}").trim().to_string();
        let amazon = template.platform == "amazon";
        let footer_html = if amazon {
            String::new()
        } else {
            format!("\n<p style=\"font-size:12px;color:#666\">{{{{ brand.postal_address }}}}<br><a href=\"{{{{ unsubscribe_url }}}}\">{unsubscribe}</a></p>")
        };
        let footer_text =
            if amazon { String::new() } else { format!("\n\n{{{{ brand.postal_address }}}}\n{unsubscribe}: {{{{ unsubscribe_url }}}}") };
        let html = format!("<p>{greeting},</p>\n<p>{thanks} {{{{ product.name }}}}.</p>{footer_html}");
        let text = format!("{greeting},\n\n{thanks} {{{{ product.name }}}}.{footer_text}");
        (subject.to_string(), html, text)
    }

    pub async fn get_template(id: i64) -> Result<TemplateDetail, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let template = template_of(db, id).await?;
        authorize(&actor, Action::ReadTemplates(template.client_id))?;
        Ok(TemplateDetail {
            can_write: authorize(&actor, Action::WriteTemplates(template.client_id)).is_ok(),
            versions: store::versions(db, id).await?,
            template,
        })
    }

    pub async fn new_version(template_id: i64, locale: String, copy_from: Option<i64>) -> Result<i64, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let template = template_of(db, template_id).await?;
        authorize(&actor, Action::WriteTemplates(template.client_id))?;
        let locale = Locale::parse("locale", &locale)?;
        let existing = store::versions(db, template_id).await?;
        let source = match copy_from {
            Some(id) => {
                let (version, _) = version_of(db, id).await?;
                if version.row.template_id != template_id {
                    return Err(AppError::invalid("copy_from", "Copy from a version of this template."));
                }
                Some(version)
            }
            None => None,
        };
        // One open draft per locale: editing goes on there instead of forking.
        let open = existing
            .iter()
            .find(|v| v.locale == locale.as_str() && (v.status.editable() || matches!(v.status, Status::InReview | Status::ClientReview)));
        if let Some(open) = open {
            return Err(AppError::Conflict(format!(
                "{} already has version {} that is {}; continue there.",
                locale.as_str(),
                open.number,
                open.status.label().to_lowercase()
            )));
        }
        let (_, postal_address, _) = store::brand_facts(db, template.brand_id).await?;
        let (subject, html, text, phone) = match &source {
            Some(v) => (v.subject.clone(), v.html.clone(), v.text.clone(), v.phone()),
            None => {
                let (subject, html, text) = starter_text(&template, locale.as_str());
                (subject, html, text, Phone::default())
            }
        };
        let findings = lint_of(&template, &postal_address, locale.as_str(), &subject, &html, &text, &phone);
        let (blocking, warnings) = counts(&findings);
        let id = store::insert_version(
            db,
            &store::NewVersion {
                template_id,
                client_id: template.client_id,
                locale: locale.as_str(),
                subject: &subject,
                html: &html,
                text: &text,
                phone: &phone,
                blocking,
                warnings,
                copied_from: source.as_ref().map(|v| v.row.id),
            },
            &actor,
        )
        .await?;
        let comment = source.map(|v| format!("copied from {} version {}", v.row.locale, v.row.number)).unwrap_or_default();
        store::record(db, id, template.client_id, Status::Draft, "created", &comment, &actor).await?;
        Ok(id)
    }

    pub async fn version_editor(id: i64) -> Result<EditorData, AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let db = &state.db;
        let Opened { version, client_id, template, brand, postal_address, findings, facts } = open(db, id, &actor).await?;
        let unsubscribe = format!("{}/u/preview", state.public_url);
        // Copywriters see buyers' data only as this one preview sample: they write messages, they do not handle buyers.
        let (sample, sample_source) = match store::sample(db, template.brand_id, &version.row.locale, &unsubscribe).await? {
            Some(found) => found,
            None => (render::placeholder_context(&brand, &postal_address), "made-up values (this brand has no orders yet)".into()),
        };
        let approve = next(&facts, Step::Approve, &actor);
        let approve_hint = match (&approve, facts.status) {
            (Err(Refusal::NotAllowed(m) | Refusal::Conflict(m)), Status::InReview | Status::ClientReview) => m.clone(),
            _ => String::new(),
        };
        let siblings = store::versions(db, template.id).await?.into_iter().filter(|v| v.id != id).collect();
        Ok(EditorData {
            can_edit: next(&facts, Step::Edit, &actor).is_ok(),
            can_submit: next(&VersionFacts { blocking: false, ..facts.clone() }, Step::Submit, &actor).is_ok(),
            can_approve: approve.is_ok(),
            can_request_changes: next(&facts, Step::RequestChanges, &actor).is_ok(),
            can_retire: next(&facts, Step::Retire, &actor).is_ok(),
            can_copy: authorize(&actor, Action::WriteTemplates(client_id)).is_ok(),
            approve_hint,
            whatsapp_meta: store::whatsapp_template(db, id).await?,
            events: store::events(db, id).await?,
            siblings,
            template,
            version,
            postal_address,
            sample,
            sample_source,
            findings,
        })
    }

    pub async fn save_version(id: i64, subject: String, html: String, text: String, phone: Phone) -> Result<Vec<Finding>, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let Opened { version, client_id, template, postal_address, facts, .. } = open(db, id, &actor).await?;
        next(&facts, Step::Edit, &actor).map_err(refused)?;
        let mut v = crate::common::values::Validation::default();
        v.check(limit("subject", &subject, 300));
        v.check(limit("html", &html, 100_000));
        v.check(limit("text", &text, 50_000));
        // 1,600 characters: the most a provider sends as one (10-part) message.
        v.check(limit("sms", &phone.sms, 1_600));
        v.check(limit("whatsapp", &phone.whatsapp, 2_000));
        let category = phone.whatsapp_category.trim();
        if !category.is_empty() && crate::common::whatsapp::Category::parse(category).is_none() {
            v.check::<()>(Err(AppError::invalid("whatsapp_category", "Choose marketing or utility.")));
        }
        v.finish()?;
        let phone = Phone { whatsapp_category: category.to_ascii_uppercase(), ..phone };
        let findings = lint_of(&template, &postal_address, &version.row.locale, &subject, &html, &text, &phone);
        let (blocking, warnings) = counts(&findings);
        let before = (version.subject.as_str(), version.html.as_str(), version.text.as_str(), version.phone());
        if before != (subject.as_str(), html.as_str(), text.as_str(), phone.clone()) {
            store::update_text(db, id, version.row.status, &subject, &html, &text, &phone, blocking, warnings, &actor).await?;
            let summary = format!("{blocking} blocking, {warnings} warnings");
            store::record(db, id, client_id, version.row.status, "edited", &summary, &actor).await?;
        }
        Ok(findings)
    }

    fn limit(field: &str, value: &str, max: usize) -> Result<(), AppError> {
        if value.len() > max {
            Err(AppError::invalid(field, format!("At most {max} characters.")))
        } else if field == "subject" && value.trim().is_empty() {
            Err(AppError::invalid(field, "A subject is required."))
        } else {
            Ok(())
        }
    }

    pub async fn version_step(id: i64, step: Step, comment: String) -> Result<Status, AppError> {
        let actor = caller().await?;
        let state = ServerState::get()?;
        let db = &state.db;
        let Opened { version, client_id, template, facts, .. } = open(db, id, &actor).await?;
        let editors = facts.editors.clone();
        if step == Step::Edit {
            return Err(AppError::Request("Save the text to edit it.".into()));
        }
        let comment = comment.trim().to_string();
        if step == Step::RequestChanges && comment.is_empty() {
            return Err(AppError::invalid("comment", "Say what should change."));
        }
        if comment.len() > 4000 {
            return Err(AppError::invalid("comment", "At most 4,000 characters."));
        }
        let to = next(&facts, step, &actor).map_err(refused)?;
        let action = match (step, version.row.status) {
            (Step::Approve, Status::ClientReview) => "client_approved",
            (Step::RequestChanges, Status::ClientReview) => "client_requested_changes",
            (step, _) => step.as_str(),
        };
        store::transition(db, &version.row, client_id, to, action, &comment, &actor).await?;
        let label = format!("{} · {} v{}", template.name, version.row.locale, version.row.number);
        audit::record(db, Some(&actor), &actor.email, &format!("template_{action}"), Some(client_id), &label, &comment).await?;
        notify(&state, &template, &version.row, &editors, to, &actor, &comment).await;
        Ok(to)
    }

    /// Mails whoever acts next: reviewers of the locale on submission, the client's
    /// viewers when it waits for them, the writers when changes are asked or it is approved.
    async fn notify(
        state: &ServerState,
        template: &Template,
        version: &VersionRow,
        editors: &[i64],
        to: Status,
        actor: &Actor,
        comment: &str,
    ) {
        let db = &state.db;
        let link = format!("{}/clients/{}/templates/{}/versions/{}", state.public_url, template.client_id, template.id, version.id);
        let what = format!("\"{}\" ({}, version {})", template.name, version.locale, version.number);
        let recipients: Vec<String> = match to {
            Status::InReview => match store::assigned_users(db, template.client_id, Role::Copywriter.as_str()).await {
                Ok(users) => users
                    .into_iter()
                    .filter(|(id, _, locales)| {
                        !editors.contains(id) && reviews_locale(&Actor { locales: locales.clone(), ..actor.clone() }, &version.locale)
                    })
                    .map(|(_, email, _)| email)
                    .collect(),
                Err(_) => vec![],
            },
            Status::ClientReview => store::assigned_users(db, template.client_id, Role::ClientViewer.as_str())
                .await
                .map(|users| users.into_iter().map(|(_, email, _)| email).collect())
                .unwrap_or_default(),
            Status::ChangesRequested | Status::Approved => {
                let mut out = Vec::new();
                for id in editors {
                    if let Ok(Some(email)) = store::user_email(db, *id).await {
                        out.push(email);
                    }
                }
                out
            }
            _ => vec![],
        };
        let (subject, intro) = match to {
            Status::InReview => (format!("Review requested: {what}"), format!("{} submitted {what} for your review.", actor.email)),
            Status::ClientReview => (
                format!("Your approval is requested: {what}"),
                format!("The agency's reviewer approved {what}; it now waits for your approval."),
            ),
            Status::ChangesRequested => (format!("Changes requested: {what}"), format!("{} asked for changes to {what}.", actor.email)),
            Status::Approved => (format!("Approved: {what}"), format!("{what} is approved and can be used by campaigns.")),
            _ => return,
        };
        let quoted = if comment.is_empty() { String::new() } else { format!("\n\nComment:\n{comment}") };
        let text = format!("{intro}{quoted}\n\nOpen it: {link}\nYour approval queue: {}/approvals\n\n— Starling", state.public_url);
        for to in recipients.into_iter().filter(|r| *r != actor.email) {
            let mail = Mail { to: to.clone(), subject: subject.clone(), text: text.clone(), ..Mail::default() };
            if let Err(e) = state.mailer.send(&mail).await {
                tracing::warn!(error = %crate::error::report(&e), "approval notification not sent");
            }
        }
    }

    pub async fn compare_versions(from: i64, to: i64) -> Result<VersionDiff, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (a, client_a) = version_of(db, from).await?;
        let (b, client_b) = version_of(db, to).await?;
        authorize(&actor, Action::ReadTemplates(client_a))?;
        authorize(&actor, Action::ReadTemplates(client_b))?;
        if a.row.template_id != b.row.template_id {
            return Err(AppError::invalid("to", "Compare two versions of the same template."));
        }
        let parts = [
            ("Subject", &a.subject, &b.subject),
            ("HTML part", &a.html, &b.html),
            ("Plain-text part", &a.text, &b.text),
            ("SMS part", &a.sms, &b.sms),
            ("WhatsApp part", &a.whatsapp, &b.whatsapp),
        ]
        .into_iter()
        .map(|(label, old, new)| (label.to_string(), diff_lines(old, new)))
        .collect();
        Ok(VersionDiff { from: a.row, to: b.row, parts })
    }

    fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
        similar::TextDiff::from_lines(old, new)
            .iter_all_changes()
            .map(|change| DiffLine {
                sign: match change.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                },
                text: change.value().trim_end_matches('\n').to_string(),
            })
            .collect()
    }

    pub async fn approval_queue() -> Result<Queue, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let scope = if sees_all_clients(&actor) { None } else { Some(actor.clients.as_slice()) };
        let waiting = store::waiting(db, scope).await?;
        let mut queue = Queue::default();
        for item in waiting {
            match item.version.status {
                Status::InReview => queue.in_review += 1,
                Status::ClientReview => queue.client_review += 1,
                Status::ChangesRequested => queue.changes_requested += 1,
                _ => {}
            }
            // Each person's queue holds what waits for them: a reviewer's locales (not
            // their own writing), the client's final approvals, or a writer's changes.
            let mine = match (actor.role, item.version.status) {
                (Role::Copywriter, Status::InReview) => {
                    reviews_locale(&actor, &item.version.locale) && !store::editors(db, item.version.id).await?.contains(&actor.user_id)
                }
                (Role::ClientViewer, Status::ClientReview) => true,
                (Role::Copywriter | Role::AccountManager, Status::ChangesRequested) => {
                    store::editors(db, item.version.id).await?.contains(&actor.user_id)
                }
                (Role::Admin | Role::AccountManager, Status::InReview | Status::ClientReview) => true,
                _ => false,
            };
            if mine {
                queue.items.push(item);
            }
        }
        Ok(queue)
    }
}
