//! Server functions of campaigns: each finds the client a campaign or template really
//! belongs to in the database and asks `authorize` before anything else.

use super::model::*;
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[server(prefix = "/rpc", endpoint = "list_campaigns", input = Json)]
pub async fn list_campaigns(client_id: i64) -> Result<CampaignList, AppError> {
    crate::request::scoped(server::list_campaigns(client_id)).await
}

#[server(prefix = "/rpc", endpoint = "create_campaign", input = crate::shell::forms::FormOrJson)]
pub async fn create_campaign(form: CampaignForm) -> Result<i64, AppError> {
    crate::request::scoped(server::create_campaign(form)).await
}

/// The audience preview: how many orders qualify now, and why the others do not.
#[server(prefix = "/rpc", endpoint = "preview_campaign", input = Json)]
pub async fn preview_campaign(id: i64) -> Result<Preview, AppError> {
    crate::request::scoped(server::preview_campaign(id)).await
}

/// Changes a campaign that is not running (audit-logged with what changed).
#[server(prefix = "/rpc", endpoint = "update_campaign", input = crate::shell::forms::FormOrJson)]
pub async fn update_campaign(id: i64, form: CampaignForm) -> Result<i64, AppError> {
    crate::request::scoped(server::update_campaign(id, form)).await
}

/// A campaign as its form shows it, for editing.
#[server(prefix = "/rpc", endpoint = "campaign_form", input = Json)]
pub async fn campaign_for_edit(id: i64) -> Result<CampaignForm, AppError> {
    crate::request::scoped(server::campaign_form(id)).await
}

/// One campaign with its canary, A/B results and history.
#[server(prefix = "/rpc", endpoint = "campaign_detail", input = Json)]
pub async fn get_campaign(id: i64) -> Result<CampaignDetail, AppError> {
    crate::request::scoped(server::campaign_detail(id)).await
}

/// A campaign's messages, a page at a time, each with its event timeline.
#[server(prefix = "/rpc", endpoint = "campaign_messages", input = Json)]
pub async fn campaign_messages(id: i64, query: crate::shell::table::ListQuery) -> Result<crate::shell::table::Page<MessageRow>, AppError> {
    crate::request::scoped(server::campaign_messages(id, query)).await
}

/// Launch (and plan at once), pause, resume or cancel; answers the new state.
#[server(prefix = "/rpc", endpoint = "campaign_step", input = crate::shell::forms::FormOrJson)]
pub async fn run_campaign_step(id: i64, step: CampaignStep) -> Result<CampaignState, AppError> {
    crate::request::scoped(server::campaign_step(id, step)).await
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::rules::{authorize, Action};
    use crate::campaigns::canary::{CanaryRule, Thresholds};
    use crate::campaigns::eligibility::{Audience, Trigger};
    use crate::campaigns::monitor;
    use crate::campaigns::planner::{self, CampaignRules, Variant};
    use crate::campaigns::store;
    use crate::compliance::model::{Finding, LintInput, Part};
    use crate::db::{now_millis, Db};
    use crate::error::FieldError;
    use crate::outbox::model::{Channel, MessageState};
    use crate::outbox::store as outbox;
    use crate::templates::model::Purpose;
    use crate::{audit, ServerState};

    fn describe_trigger(rules: &str) -> String {
        match CampaignRules::parse(rules).map(|r| r.trigger) {
            Ok(Trigger::AfterFulfilment { days }) => format!("{days} days after fulfilment"),
            Ok(Trigger::AfterDelivery { days }) => format!("{days} days after delivery"),
            Ok(Trigger::Batch) => "one-off batch".into(),
            Err(_) => "?".into(),
        }
    }

    pub async fn list_campaigns(client_id: i64) -> Result<CampaignList, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let db = &ServerState::get()?.db;
        let client =
            crate::clients::store::client(db, client_id).await?.ok_or_else(|| AppError::NotFound(format!("client {client_id}")))?;
        let campaigns = store::list(db, client_id)
            .await?
            .into_iter()
            .map(|c| CampaignRow {
                trigger: describe_trigger(&c.rules),
                id: c.id,
                name: c.name,
                brand: c.brand,
                // Amazon's request has no template: the list names the channel instead.
                template: if c.template.is_empty() { Channel::Amazon.label().into() } else { c.template },
                purpose: c.purpose,
                state: c.state,
                planned: c.planned,
                excluded: c.excluded,
                created_at: c.created_at,
            })
            .collect();
        let templates = usable_templates(db, client_id).await?;
        let amazon_brands = amazon_brands(db, client_id).await?;
        Ok(CampaignList { client_id, client: client.name, campaigns, templates, amazon_brands })
    }

    /// The client's templates with at least one approved version, with those locales.
    async fn usable_templates(db: &Db, client_id: i64) -> Result<Vec<UsableTemplate>, AppError> {
        let approved = store::approved_locales(db, client_id).await?;
        let mut templates: Vec<UsableTemplate> = Vec::new();
        for (id, name, brand, purpose, locale) in approved {
            match templates.iter_mut().find(|t| t.0 == id) {
                Some(t) if !t.4.contains(&locale) => t.4.push(locale),
                Some(_) => {}
                None => templates.push((id, name, brand, purpose, vec![locale])),
            }
        }
        Ok(templates)
    }

    /// (id, name) of the client's brands with an Amazon store, by name.
    async fn amazon_brands(db: &Db, client_id: i64) -> Result<Vec<(i64, String)>, AppError> {
        let mut brands: Vec<(i64, String)> = crate::clients::store::stores(db, client_id)
            .await?
            .into_iter()
            .filter(|s| s.platform.eq_ignore_ascii_case("amazon"))
            .map(|s| (s.brand_id, s.brand_name))
            .collect();
        brands.sort_by(|a, b| a.1.cmp(&b.1));
        brands.dedup();
        Ok(brands)
    }

    fn list_of(raw: &str) -> Vec<String> {
        raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    /// What a valid form decides: the campaign's brand, purpose, template (none for
    /// Amazon's request) and rules.
    struct Checked {
        brand_id: i64,
        purpose: Purpose,
        template_id: Option<i64>,
        rules: CampaignRules,
    }

    /// The form checked against the client's templates and brands, or every problem, each
    /// naming its field.
    async fn validate(db: &Db, form: &CampaignForm) -> Result<Checked, AppError> {
        let mut errors = Vec::new();
        // One channel, or WhatsApp, SMS and e-mail in order of preference ("whatsapp,sms,email").
        let mut channels: Vec<Channel> = Vec::new();
        for raw in form.channel.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            match Channel::parse(raw) {
                Some(c) if !channels.contains(&c) => channels.push(c),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "channel",
                    format!(
                        "\"{raw}\" is not a channel: choose WhatsApp, SMS or e-mail (in order of preference, each falling back to the next) or Amazon's request a review."
                    ),
                )),
            }
        }
        if channels.contains(&Channel::Amazon) && channels.len() > 1 {
            errors.push(FieldError::new(
                "channel",
                "Amazon's request a review is a channel of its own: it cannot fall back to e-mail, SMS or WhatsApp.",
            ));
        }
        let channel = channels.first().copied().unwrap_or(Channel::Email);
        let texts = channels.contains(&Channel::Sms);
        let whatsapp = channels.contains(&Channel::Whatsapp);
        // Amazon writes its own message: an Amazon campaign names a brand, not a template.
        let template = match channel {
            Channel::Email | Channel::Sms | Channel::Whatsapp => {
                crate::templates::store::template(db, form.template_id).await?.filter(|t| t.client_id == form.client_id)
            }
            Channel::Amazon => None,
        };
        let amazon_brand = match channel {
            Channel::Amazon => amazon_brands(db, form.client_id).await?.into_iter().find(|(id, _)| *id == form.brand_id),
            Channel::Email | Channel::Sms | Channel::Whatsapp => None,
        };
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            errors.push(FieldError::new("name", "Give the campaign a name (at most 120 characters)."));
        }
        if channel != Channel::Amazon && template.is_none() {
            errors.push(FieldError::new("template_id", "Choose one of this client's templates."));
        }
        if let (true, Some(t)) = (texts, &template) {
            if !store::has_approved_text(db, t.id).await? {
                errors.push(FieldError::new(
                    "template_id",
                    format!("\"{}\" has no approved version with an SMS part: write one (and have it approved) to send texts.", t.name),
                ));
            }
            let brand = crate::clients::store::brand(db, t.brand_id).await?;
            if brand.as_ref().is_none_or(|b| b.sms_sender.trim().is_empty() && b.sms_number.trim().is_empty()) {
                errors.push(FieldError::new(
                    "channel",
                    format!("The brand {} has no SMS sender: set one on the brand's page before texting its buyers.", t.brand),
                ));
            }
        }
        if let (true, Some(t)) = (whatsapp, &template) {
            if !store::has_approved_whatsapp(db, t.id).await? {
                errors.push(FieldError::new(
                    "template_id",
                    format!(
                        "\"{}\" has no approved version with a WhatsApp part: write one (and have it approved) to send WhatsApp messages.",
                        t.name
                    ),
                ));
            }
            let brand = crate::clients::store::brand(db, t.brand_id).await?;
            if brand.as_ref().is_none_or(|b| b.whatsapp_phone_id.trim().is_empty()) {
                errors.push(FieldError::new(
                    "channel",
                    format!("The brand {} has no WhatsApp number: set its phone number id on the brand's page first.", t.brand),
                ));
            }
        }
        if channel == Channel::Amazon && amazon_brand.is_none() {
            errors.push(FieldError::new(
                "brand_id",
                "Choose a brand of this client with an Amazon store: Amazon's request a review is for Amazon orders.",
            ));
        }
        if channel == Channel::Amazon && form.variants.iter().any(|v| !v.subject.trim().is_empty()) {
            errors.push(FieldError::new(
                "variants",
                "Amazon writes the request itself: an A/B test of Amazon's request can differ only in its extra delay, not its subject.",
            ));
        }
        let trigger = match form.trigger.as_str() {
            "fulfilment" => Trigger::AfterFulfilment { days: form.days },
            "delivery" => Trigger::AfterDelivery { days: form.days },
            "batch" => Trigger::Batch,
            _ => {
                errors.push(FieldError::new("trigger", "Choose when messages go out."));
                Trigger::Batch
            }
        };
        if form.days > 365 {
            errors.push(FieldError::new("days", "At most 365 days."));
        }
        let countries: Vec<String> = list_of(&form.countries).into_iter().map(|c| c.to_ascii_uppercase()).collect();
        if let Some(bad) = countries.iter().find(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic())) {
            errors.push(FieldError::new("countries", format!("\"{bad}\" is not a two-letter country code (DE, FR, …).")));
        }
        let lint: Vec<LintInput> = match &template {
            Some(t) => store::approved_lint_targets(db, t.id)
                .await?
                .into_iter()
                .map(|(locale, platform, purpose)| LintInput { locale, platform, purpose, ..LintInput::default() })
                .collect(),
            None => Vec::new(),
        };
        let variants = parse_variants(&form.variants, &lint, &mut errors);
        let metric = match form.metric.as_str() {
            "" | "click" => "click",
            "review" => "review",
            _ => {
                errors.push(FieldError::new("metric", "Choose click rate or review rate."));
                "click"
            }
        };
        let canary = if form.canary { parse_canary(form, &mut errors) } else { None };
        let scheduled_at = match form.scheduled_at.trim() {
            "" => None,
            raw => match chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
                Ok(t) => Some(t.and_utc().timestamp_millis()),
                Err(_) => {
                    errors.push(FieldError::new("scheduled_at", format!("\"{raw}\" is not a date and time (YYYY-MM-DDTHH:MM, UTC).")));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let (brand_id, purpose, template_id) = match (&template, amazon_brand) {
            (Some(t), _) => (t.brand_id, Purpose::parse("purpose", &t.purpose)?, Some(t.id)),
            (None, Some((brand_id, _))) => (brand_id, Purpose::ReviewRequest, None),
            (None, None) => return Err(AppError::Invalid(vec![FieldError::new("template_id", "Choose one of this client's templates.")])),
        };
        let rules = CampaignRules {
            audience: Audience { countries, ..Audience::default() },
            fallback_locales: list_of(&form.fallback),
            variants,
            // Amazon's request has no link to click: its A/B test is judged by reviews.
            metric: if channel == Channel::Amazon { "review".into() } else { metric.into() },
            auto_promote: form.auto_promote,
            canary,
            scheduled_at,
            channel,
            channels: if channels.len() > 1 { channels } else { Vec::new() },
            ..CampaignRules::new(trigger)
        };
        Ok(Checked { brand_id, purpose, template_id, rules })
    }

    /// The planned launch as a column, for the SLA board.
    async fn schedule(db: &Db, id: i64, rules: &CampaignRules) -> Result<(), AppError> {
        store::set_schedule(db, id, rules.scheduled_at).await
    }

    pub async fn create_campaign(form: CampaignForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageCampaigns(form.client_id))?;
        let db = &ServerState::get()?.db;
        let Checked { brand_id, purpose, template_id, rules } = validate(db, &form).await?;
        let name = form.name.trim();
        let id = planner::create(db, form.client_id, brand_id, template_id, name, purpose, &rules, &actor.email).await?;
        schedule(db, id, &rules).await?;
        audit::record(db, Some(&actor), &actor.email, "campaign.create", Some(form.client_id), &format!("campaign {id}"), name).await?;
        Ok(id)
    }

    /// Changes a draft, paused or halted campaign (a running one is paused first). After
    /// launch the template and the A/B variants stay as they were, so messages already
    /// planned and the test's counts keep their meaning; every change is audit-logged with
    /// what changed.
    pub async fn update_campaign(id: i64, form: CampaignForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, state) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        if form.client_id != client_id {
            return Err(AppError::NotFound(format!("campaign {id}")));
        }
        if !state.is_editable() {
            return Err(AppError::Conflict(format!("A {state} campaign cannot be changed; pause it first.")));
        }
        let store::Editable { name: old_name, template_id: old_template, rules: old_rules } = store::editable(db, id).await?;
        let old: CampaignRules = CampaignRules::parse(&old_rules)?;
        let Checked { brand_id, purpose, template_id, rules } = validate(db, &form).await?;
        if state != CampaignState::Draft {
            let mut errors = Vec::new();
            if template_id != old_template {
                errors.push(FieldError::new("template_id", "The template cannot change after launch; create a new campaign."));
            }
            if rules.channel != old.channel || rules.channels != old.channels {
                errors.push(FieldError::new("channel", "The channel cannot change after launch; create a new campaign."));
            }
            if rules.variants != old.variants {
                errors.push(FieldError::new(
                    "variants",
                    "The A/B test's variants cannot change after launch: its counts would lose their meaning.",
                ));
            }
            if !errors.is_empty() {
                return Err(AppError::Invalid(errors));
            }
        }
        let name = form.name.trim();
        let mut changed: Vec<String> = Vec::new();
        if name != old_name {
            changed.push(format!("name: {old_name} → {name}"));
        }
        if template_id != old_template {
            let shown = |t: Option<i64>| t.map_or_else(|| "none (Amazon writes the request)".to_string(), |t| t.to_string());
            changed.push(format!("template: {} → {}", shown(old_template), shown(template_id)));
        }
        let (before, after) = (serde_json::to_value(&old).unwrap_or_default(), serde_json::to_value(&rules).unwrap_or_default());
        if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
            for (key, value) in after {
                if before.get(key) != Some(value) {
                    changed.push(format!("{key}: {} → {value}", before.get(key).cloned().unwrap_or_default()));
                }
            }
        }
        if changed.is_empty() {
            return Ok(id);
        }
        // A draft's canary choice decides the phase it starts in; after launch the phase
        // is the canary's own business.
        let phase =
            (state == CampaignState::Draft).then_some(if rules.canary.is_some() { CampaignPhase::Canary } else { CampaignPhase::Full });
        let edit = store::CampaignEdit {
            name,
            template_id,
            channel: rules.channel,
            brand_id,
            purpose,
            rules: serde_json::to_string(&rules).map_err(|e| AppError::caused("encoding failed", e))?,
            phase,
        };
        store::update(db, id, &edit, now_millis()).await?;
        schedule(db, id, &rules).await?;
        audit::record(db, Some(&actor), &actor.email, "campaign.edit", Some(client_id), &format!("campaign {id}"), &changed.join("; "))
            .await?;
        Ok(id)
    }

    /// The campaign as the form shows it, for editing.
    pub async fn campaign_form(id: i64) -> Result<CampaignForm, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, _) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let store::Editable { name, template_id, rules } = store::editable(db, id).await?;
        let rules: CampaignRules = CampaignRules::parse(&rules)?;
        let brand_id = store::brand_of(db, id).await?.unwrap_or_default();
        let (trigger, days) = match rules.trigger {
            Trigger::AfterFulfilment { days } => ("fulfilment", days),
            Trigger::AfterDelivery { days } => ("delivery", days),
            Trigger::Batch => ("batch", 0),
        };
        let number = |x: f64| {
            let s = format!("{:.3}", x * 100.0);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        let canary = rules.canary.unwrap_or_default();
        Ok(CampaignForm {
            client_id,
            channel: rules.channel.as_str().into(),
            template_id: template_id.unwrap_or_default(),
            brand_id,
            name,
            trigger: trigger.into(),
            days,
            countries: rules.audience.countries.join(", "),
            fallback: rules.fallback_locales.join(", "),
            variants: rules
                .variants
                .iter()
                .map(|v| VariantForm { weight: v.weight.to_string(), subject: v.subject.clone(), delay_hours: v.delay_hours.to_string() })
                .collect(),
            metric: rules.metric.clone(),
            auto_promote: rules.auto_promote,
            canary: rules.canary.is_some(),
            canary_share: number(canary.share),
            bounce_pct: number(canary.thresholds.bounce),
            complaint_pct: number(canary.thresholds.complaint),
            unsubscribe_pct: number(canary.thresholds.unsubscribe),
            hold_hours: canary.hold_hours.to_string(),
            scheduled_at: rules
                .scheduled_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
                .unwrap_or_default(),
        })
    }

    /// Variants as typed: none, or 2-4 with weights 1-100, subjects of at most 200
    /// characters and delays of at most 720 hours; errors name the variant and field.
    fn parse_variants(forms: &[VariantForm], lint: &[LintInput], errors: &mut Vec<FieldError>) -> Vec<Variant> {
        if forms.is_empty() {
            return Vec::new();
        }
        if !(2..=4).contains(&forms.len()) {
            errors.push(FieldError::new("variants", "An A/B test has 2 to 4 variants."));
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, f) in forms.iter().enumerate() {
            let label = variant_label(i);
            let weight = match f.weight.trim().parse::<u32>() {
                Ok(w) if (1..=100).contains(&w) => w,
                _ => {
                    errors.push(FieldError::new(format!("variant-{i}-weight"), format!("Variant {label}: a weight from 1 to 100.")));
                    0
                }
            };
            let delay_hours = match f.delay_hours.trim() {
                "" => 0,
                raw => match raw.parse::<u32>() {
                    Ok(h) if h <= 720 => h,
                    _ => {
                        errors.push(FieldError::new(
                            format!("variant-{i}-delay"),
                            format!("Variant {label}: extra delay in whole hours, at most 720 (30 days)."),
                        ));
                        0
                    }
                },
            };
            let subject = f.subject.trim().to_string();
            if subject.chars().count() > 200 {
                errors.push(FieldError::new(format!("variant-{i}-subject"), format!("Variant {label}: at most 200 characters.")));
            } else if let Some(problem) = crate::common::render::variable_problems(&subject).into_iter().next() {
                errors.push(FieldError::new(format!("variant-{i}-subject"), format!("Variant {label}: {}", problem.message)));
            } else if let Some((locale, finding)) = blocking_subject_finding(&subject, lint) {
                errors.push(FieldError::new(
                    format!("variant-{i}-subject"),
                    format!("Variant {label} ({locale}): {} {}", finding.message, finding.explanation),
                ));
            }
            out.push(Variant { weight, subject, delay_hours });
        }
        out
    }

    /// A subject override is checked like the approved subject it replaces: against the
    /// compliance rules of each approved locale (incentives, gating, …).
    fn blocking_subject_finding(subject: &str, lint: &[LintInput]) -> Option<(String, Finding)> {
        if subject.is_empty() {
            return None;
        }
        lint.iter().find_map(|input| {
            let input = LintInput { subject: subject.to_string(), ..input.clone() };
            crate::compliance::lint(&input).into_iter().find(|f| f.blocks() && f.part == Part::Subject).map(|f| (input.locale.clone(), f))
        })
    }

    /// A percentage as typed ("5", "0.1", "2,5") within `max`, as a fraction.
    fn percent(raw: &str, field: &str, what: &str, max: f64, errors: &mut Vec<FieldError>) -> f64 {
        match raw.trim().trim_end_matches('%').replace(',', ".").trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= max => p / 100.0,
            _ => {
                errors.push(FieldError::new(field, format!("{what}: a percentage above 0 and at most {max}.")));
                0.0
            }
        }
    }

    fn parse_canary(form: &CampaignForm, errors: &mut Vec<FieldError>) -> Option<CanaryRule> {
        let or = |raw: &str, default: &str| if raw.trim().is_empty() { default.to_string() } else { raw.to_string() };
        let share = percent(&or(&form.canary_share, "5"), "canary_share", "Canary share", 50.0, errors);
        let bounce = percent(&or(&form.bounce_pct, "5"), "bounce_pct", "Bounce threshold", 100.0, errors);
        let complaint = percent(&or(&form.complaint_pct, "0.1"), "complaint_pct", "Complaint threshold", 100.0, errors);
        let unsubscribe = percent(&or(&form.unsubscribe_pct, "2"), "unsubscribe_pct", "Unsubscribe threshold", 100.0, errors);
        let hold_hours = match or(&form.hold_hours, "24").trim().parse::<u32>() {
            Ok(h) if h <= 168 => h,
            _ => {
                errors.push(FieldError::new("hold_hours", "Watch the canary for 0 to 168 hours (a week)."));
                0
            }
        };
        Some(CanaryRule { share, thresholds: Thresholds { bounce, complaint, unsubscribe, ..Thresholds::default() }, hold_hours })
    }

    async fn client_of(db: &Db, id: i64) -> Result<(i64, CampaignState), AppError> {
        store::client_and_state(db, id).await?.ok_or_else(|| AppError::NotFound(format!("campaign {id}")))
    }

    pub async fn preview_campaign(id: i64) -> Result<Preview, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, _) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let salt = crate::common::fingerprint::salt(db).await?;
        planner::preview(db, &salt, id, now_millis()).await
    }

    pub async fn campaign_step(id: i64, step: CampaignStep) -> Result<CampaignState, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, state) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let next = step
            .next(state)
            .ok_or_else(|| AppError::Conflict(format!("A {state} campaign cannot be told to {}.", step.label().to_lowercase())))?;
        // The first launch is stamped once (the SLA's "launched on schedule").
        if !store::step(db, id, state, next, now_millis()).await? {
            return Err(AppError::Conflict("The campaign changed meanwhile; reload and try again.".into()));
        }
        audit::record(
            db,
            Some(&actor),
            &actor.email,
            &format!("campaign.{}", step.label().to_lowercase()),
            Some(client_id),
            &format!("campaign {id}"),
            &format!("{state} -> {next}"),
        )
        .await?;
        match (state, next) {
            // Resuming a halted campaign accepts what halted it: rates are judged afresh
            // from now, and a halted canary counts as seen, so the held audience goes.
            (CampaignState::Halted, CampaignState::Running) => {
                store::accept_halt(db, id, now_millis()).await?;
                monitor::release(db, id, now_millis()).await?;
            }
            (_, CampaignState::Cancelled) => {
                outbox::cancel_campaign(db, id).await?;
            }
            _ => {}
        }
        if next == CampaignState::Running {
            let salt = crate::common::fingerprint::salt(db).await?;
            planner::plan(db, &salt, id, now_millis()).await?;
        }
        Ok(next)
    }

    pub async fn campaign_detail(id: i64) -> Result<CampaignDetail, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, _) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let row = store::shown(db, id).await?;
        let rules: CampaignRules = CampaignRules::parse(&row.rules)?;
        let phase = row.phase;
        let messages = outbox::state_counts(db, id).await?;
        let canary = match rules.canary {
            Some(rule) => {
                let counts = monitor::counts(db, id, phase == CampaignPhase::Canary, row.monitor_from).await?;
                let held = messages.iter().find(|(s, _)| *s == MessageState::Held).map_or(0, |m| m.1 as u64);
                Some(CanaryView {
                    share: rule.share,
                    bounce: rule.thresholds.bounce,
                    complaint: rule.thresholds.complaint,
                    unsubscribe: rule.thresholds.unsubscribe,
                    min_sent: rule.thresholds.min_sent,
                    hold_hours: rule.hold_hours,
                    phase,
                    sent: counts.sent,
                    delivered: counts.delivered,
                    bounced: counts.bounced,
                    complained: counts.complained,
                    unsubscribed: counts.unsubscribed,
                    held,
                })
            }
            None => None,
        };
        let (mut variants, mut verdict, mut winner) = (Vec::new(), String::new(), None);
        if rules.variants.len() > 1 {
            let (counts, arms, decision, won) = monitor::judge_test(db, id).await?;
            for (i, v) in rules.variants.iter().enumerate() {
                let c = counts.iter().find(|c| c.variant == i as i64).cloned().unwrap_or_default();
                let (low, high) = arms[i].interval();
                variants.push(VariantResult {
                    label: variant_label(i),
                    weight: v.weight,
                    subject: v.subject.clone(),
                    delay_hours: v.delay_hours,
                    planned: c.planned,
                    sent: c.sent,
                    delivered: c.delivered,
                    opened: c.opened,
                    successes: arms[i].successes,
                    rate: arms[i].rate(),
                    low,
                    high,
                });
            }
            verdict = match decision {
                crate::campaigns::ab::Verdict::Collecting => format!(
                    "Collecting: every variant needs {} delivered messages before the test can decide.",
                    crate::campaigns::ab::MIN_PER_ARM
                ),
                crate::campaigns::ab::Verdict::Undecided => "No winner yet: the difference is not yet beyond chance.".into(),
                crate::campaigns::ab::Verdict::Winner(w) => format!("Variant {} wins.", variant_label(w)),
            };
            winner = won.map(|w| variant_label(w as usize));
        }
        let history = crate::audit::store::subject_history(db, client_id, &format!("campaign {id}"), 100).await?;
        let window = rules.window;
        let mut settings = vec![("Channel".to_string(), rules.channel.label().to_string())];
        if rules.channel == Channel::Amazon {
            settings.push((
                "Message".into(),
                "written and translated by Amazon; one request per order, from 5 days after the earliest delivery date to 30 days after the latest".into(),
            ));
        }
        settings.extend([
            ("Countries".to_string(), if rules.audience.countries.is_empty() { "all".into() } else { rules.audience.countries.join(", ") }),
            ("Excluded statuses".into(), rules.audience.exclude_statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
            ("Send window".into(), format!("{:02}:00-{:02}:00 buyer's local time", window.start_hour, window.end_hour)),
            ("Frequency cap".into(), format!("{} proactive messages per {} days", rules.cap.max, rules.cap.window_days)),
            (
                "Fallback languages".into(),
                if rules.fallback_locales.is_empty() { "none".into() } else { rules.fallback_locales.join(" → ") },
            ),
        ]);
        Ok(CampaignDetail {
            client_id,
            trigger: describe_trigger(&row.rules),
            client: row.client,
            id,
            name: row.name,
            brand: row.brand,
            template: if rules.channel == Channel::Amazon { Channel::Amazon.label().into() } else { row.template },
            purpose: row.purpose,
            state: row.state,
            halt_reason: row.halt_reason,
            settings,
            messages,
            canary,
            metric: rules.metric.clone(),
            variants,
            verdict,
            winner,
            auto_promote: rules.auto_promote,
            history,
            templates: usable_templates(db, client_id).await?,
            channel: rules.channel.as_str().into(),
            amazon_brands: amazon_brands(db, client_id).await?,
        })
    }

    pub async fn campaign_messages(
        id: i64,
        query: crate::shell::table::ListQuery,
    ) -> Result<crate::shell::table::Page<MessageRow>, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, _) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let (total, rows) = outbox::campaign_messages(db, id, &query).await?;
        let mut messages: Vec<MessageRow> = rows
            .into_iter()
            .map(|m| MessageRow {
                id: m.id,
                // Amazon keeps its buyers' addresses: its requests go to "the buyer".
                recipient: if m.email.is_empty() { "Amazon buyer".into() } else { m.email },
                order: m.platform_order_id,
                variant: variant_label(m.variant as usize),
                locale: m.locale,
                state: m.state,
                send_at: m.send_at,
                attempts: m.attempts,
                last_error: m.last_error,
                events: Vec::new(),
            })
            .collect();
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        for event in outbox::events_of(db, &ids).await? {
            if let Some(m) = messages.iter_mut().find(|m| m.id == event.message_id) {
                m.events.push((event.kind, event.at, event.detail));
            }
        }
        Ok(crate::shell::table::Page::new(messages, total, &query))
    }
}
