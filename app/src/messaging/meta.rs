//! WhatsApp templates at Meta: each approved version with a WhatsApp part is submitted as
//! a message template (name `starling_<template>_<version>`, Meta's language for the
//! version's locale, the category the copywriter chose), and Meta's review is followed
//! until it is decided. Meta reports decisions to the webhook as they happen
//! (`hooks::whatsapp`); templates still pending after a while are also looked up, in case
//! a report was lost. Only templates Meta approved are sent (the planner and the sender
//! read `whatsapp_templates`).

use super::whatsapp::{TemplateState, WhatsappCloud};
use crate::common::render;
use crate::common::whatsapp::{self, Category, MetaStatus};
use crate::connectors::http::Failure;
use crate::db::Db;
use crate::error::AppError;
use crate::templates::store;

/// How long a template may stay pending before Meta is asked about it.
const LOOK_AFTER_MS: i64 = 10 * 60_000;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub submitted: u64,
    pub refused: u64,
    pub looked_up: u64,
}

/// Submits what is due and looks up what has been pending long. A failure to reach Meta
/// leaves the rest for the next round.
pub async fn sync(db: &Db, cloud: &WhatsappCloud, now: i64) -> Result<SyncStats, AppError> {
    let mut stats = SyncStats::default();
    for due in store::whatsapp_due(db, 20).await? {
        match submit(db, cloud, &due, now).await? {
            Some(MetaStatus::Refused) => stats.refused += 1,
            Some(_) => stats.submitted += 1,
            None => break,
        }
    }
    for (name, language) in store::whatsapp_pending(db, now - LOOK_AFTER_MS, 20).await? {
        match cloud.lookup(&name, &language).await {
            Ok(Some(state)) => {
                store::record_whatsapp_status(db, &name, &language, Some(state.status), &state.reason, Some(&state.category), now).await?;
                stats.looked_up += 1;
            }
            Ok(None) => {
                // Gone at Meta (deleted in WhatsApp Manager): it can no longer be sent.
                store::record_whatsapp_status(
                    db,
                    &name,
                    &language,
                    Some(MetaStatus::Disabled),
                    "Meta no longer has this template",
                    None,
                    now,
                )
                .await?;
            }
            Err(f) => {
                tracing::warn!(reason = %f.describe("WhatsApp"), "could not look up a pending WhatsApp template");
                break;
            }
        }
    }
    Ok(stats)
}

/// Submits one version's WhatsApp part; answers the status recorded, or `None` when Meta
/// could not be reached (tried again next round).
async fn submit(db: &Db, cloud: &WhatsappCloud, due: &store::WhatsappDue, now: i64) -> Result<Option<MetaStatus>, AppError> {
    let name = whatsapp::template_name(due.template_id, due.version_id);
    let language = whatsapp::language(&due.locale).unwrap_or_default();
    let refuse = |reason: String| refuse(db, due, &name, language, reason, now);
    if language.is_empty() {
        return refuse(format!("Meta has no WhatsApp templates in {}: this locale cannot be sent by WhatsApp", due.locale)).await;
    }
    let Some(category) = Category::parse(&due.category) else {
        return refuse("the version names no WhatsApp category (marketing or utility)".into()).await;
    };
    let body = match whatsapp::meta_body(&due.body) {
        Ok(body) => body,
        Err(problems) => return refuse(problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join(" ")).await,
    };
    let examples = examples(db, due, &body.variables).await?;
    let answer = match cloud.submit(&name, language, category.as_str(), &body.text, &examples).await {
        // Submitted before (an answer lost on the way back): Meta has it under this name.
        Err(Failure::Rejected(words)) if words.contains("already exists") => match cloud.lookup(&name, language).await {
            Ok(Some(state)) => Ok(state),
            Ok(None) => Err(Failure::Rejected(words)),
            Err(f) => Err(f),
        },
        other => other,
    };
    match answer {
        Ok(TemplateState { id, status, category, reason }) => {
            store::record_whatsapp_submission(db, due.version_id, &name, language, &category, &id, status, &reason, now).await?;
            Ok(Some(status))
        }
        Err(Failure::Rejected(words)) => refuse(format!("Meta refused the template: {words}")).await,
        Err(f) => {
            tracing::warn!(reason = %f.describe("WhatsApp"), version = due.version_id, "could not submit a WhatsApp template");
            Ok(None)
        }
    }
}

async fn refuse(
    db: &Db,
    due: &store::WhatsappDue,
    name: &str,
    language: &str,
    reason: String,
    now: i64,
) -> Result<Option<MetaStatus>, AppError> {
    store::record_whatsapp_submission(db, due.version_id, name, language, &due.category, "", MetaStatus::Refused, &reason, now).await?;
    Ok(Some(MetaStatus::Refused))
}

/// An example for each parameter, as Meta requires: the variable filled in with the
/// editor's made-up sample for the version's brand.
async fn examples(db: &Db, due: &store::WhatsappDue, variables: &[String]) -> Result<Vec<String>, AppError> {
    let (brand, postal_address) = match store::template(db, due.template_id).await? {
        Some(t) => {
            let (brand, address, _) = store::brand_facts(db, t.brand_id).await?;
            (brand, address)
        }
        None => (String::new(), String::new()),
    };
    let sample = render::placeholder_context(&brand, &postal_address);
    Ok(variables
        .iter()
        .map(|v| {
            let value = render::render("", "", &format!("{{{{ {v} }}}}"), &sample).map(|r| r.text).unwrap_or_default();
            whatsapp::parameter_value(&value)
        })
        .collect())
}
