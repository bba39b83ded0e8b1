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

#[server(prefix = "/rpc", endpoint = "create_campaign", input = Json)]
pub async fn create_campaign(form: CampaignForm) -> Result<i64, AppError> {
    crate::request::scoped(server::create_campaign(form)).await
}

/// The audience preview: how many orders qualify now, and why the others do not.
#[server(prefix = "/rpc", endpoint = "preview_campaign", input = Json)]
pub async fn preview_campaign(id: i64) -> Result<Preview, AppError> {
    crate::request::scoped(server::preview_campaign(id)).await
}

/// Launch (and plan at once), pause, resume or cancel; answers the new state.
#[server(prefix = "/rpc", endpoint = "campaign_step", input = Json)]
pub async fn run_campaign_step(id: i64, step: CampaignStep) -> Result<String, AppError> {
    crate::request::scoped(server::campaign_step(id, step)).await
}

#[cfg(feature = "ssr")]
mod server {
    use super::*;
    use crate::accounts::api::caller;
    use crate::accounts::rules::{authorize, Action};
    use crate::campaigns::eligibility::{Audience, Trigger};
    use crate::campaigns::planner::{self, CampaignRules};
    use crate::db::{now_millis, Db};
    use crate::error::FieldError;
    use crate::templates::model::Purpose;
    use crate::{audit, ServerState};
    use sqlx::Row;

    fn describe_trigger(rules: &str) -> String {
        match serde_json::from_str::<CampaignRules>(rules).map(|r| r.trigger) {
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
        let rows = sqlx::query(
            "SELECT c.id, c.name, b.name AS brand, t.name AS template, c.purpose, c.state, c.rules, c.created_at, \
               (SELECT COUNT(*) FROM campaign_decisions d WHERE d.campaign_id = c.id AND d.outcome = 'send') AS planned, \
               (SELECT COUNT(*) FROM campaign_decisions d WHERE d.campaign_id = c.id AND d.outcome = 'exclude') AS excluded \
             FROM campaigns c JOIN brands b ON b.id = c.brand_id JOIN templates t ON t.id = c.template_id \
             WHERE c.client_id = $1 ORDER BY c.id DESC",
        )
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?;
        let campaigns = rows
            .iter()
            .map(|r| CampaignRow {
                id: r.get("id"),
                name: r.get("name"),
                brand: r.get("brand"),
                template: r.get("template"),
                purpose: r.get("purpose"),
                state: r.get("state"),
                trigger: describe_trigger(&r.get::<String, _>("rules")),
                planned: r.get("planned"),
                excluded: r.get("excluded"),
                created_at: r.get("created_at"),
            })
            .collect();
        let approved: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT t.id, t.name, b.name, t.purpose, v.locale FROM templates t JOIN brands b ON b.id = t.brand_id \
             JOIN template_versions v ON v.template_id = t.id AND v.status = 'approved' WHERE t.client_id = $1 ORDER BY t.name, v.locale",
        )
        .bind(client_id)
        .fetch_all(&db.pool)
        .await?;
        let mut templates: Vec<UsableTemplate> = Vec::new();
        for (id, name, brand, purpose, locale) in approved {
            match templates.iter_mut().find(|t| t.0 == id) {
                Some(t) if !t.4.contains(&locale) => t.4.push(locale),
                Some(_) => {}
                None => templates.push((id, name, brand, purpose, vec![locale])),
            }
        }
        Ok(CampaignList { client_id, client: client.name, campaigns, templates })
    }

    fn list_of(raw: &str) -> Vec<String> {
        raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
    }

    pub async fn create_campaign(form: CampaignForm) -> Result<i64, AppError> {
        let actor = caller().await?;
        authorize(&actor, Action::ManageCampaigns(form.client_id))?;
        let db = &ServerState::get()?.db;
        let template = sqlx::query("SELECT id, client_id, brand_id, purpose FROM templates WHERE id = $1")
            .bind(form.template_id)
            .fetch_optional(&db.pool)
            .await?
            .filter(|t| t.get::<i64, _>("client_id") == form.client_id);
        let mut errors = Vec::new();
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            errors.push(FieldError::new("name", "Give the campaign a name (at most 120 characters)."));
        }
        if template.is_none() {
            errors.push(FieldError::new("template_id", "Choose one of this client's templates."));
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
        let weights: Vec<u32> = match list_of(&form.weights).iter().map(|w| w.parse::<u32>()).collect::<Result<Vec<_>, _>>() {
            Ok(w) if w.is_empty() || ((2..=4).contains(&w.len()) && w.iter().all(|&x| (1..=100).contains(&x))) => w,
            _ => {
                errors.push(FieldError::new(
                    "weights",
                    "An A/B test has 2 to 4 variants, each weighted 1-100 (e.g. 50,50); leave empty for none.",
                ));
                Vec::new()
            }
        };
        let Some(template) = template.filter(|_| errors.is_empty()) else { return Err(AppError::Invalid(errors)) };
        let purpose = Purpose::parse("purpose", &template.get::<String, _>("purpose"))?;
        let rules = CampaignRules {
            trigger,
            audience: Audience { countries, ..Audience::default() },
            cap: Default::default(),
            window: Default::default(),
            fallback_locales: list_of(&form.fallback),
            weights,
        };
        let id =
            planner::create(db, form.client_id, template.get("brand_id"), form.template_id, name, purpose, &rules, &actor.email).await?;
        audit::record(db, Some(&actor), &actor.email, "campaign.create", Some(form.client_id), &format!("campaign {id}"), name).await?;
        Ok(id)
    }

    async fn client_of(db: &Db, id: i64) -> Result<(i64, String), AppError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT client_id, state FROM campaigns WHERE id = $1").bind(id).fetch_optional(&db.pool).await?;
        row.ok_or_else(|| AppError::NotFound(format!("campaign {id}")))
    }

    pub async fn preview_campaign(id: i64) -> Result<Preview, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, _) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let salt = crate::orders::privacy::salt(db).await?;
        planner::preview(db, &salt, id, now_millis()).await
    }

    pub async fn campaign_step(id: i64, step: CampaignStep) -> Result<String, AppError> {
        let actor = caller().await?;
        let db = &ServerState::get()?.db;
        let (client_id, state) = client_of(db, id).await?;
        authorize(&actor, Action::ManageCampaigns(client_id))?;
        let next = step
            .next(&state)
            .ok_or_else(|| AppError::Conflict(format!("A {state} campaign cannot be told to {}.", step.label().to_lowercase())))?;
        let changed = sqlx::query("UPDATE campaigns SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
            .bind(next)
            .bind(now_millis())
            .bind(id)
            .bind(&state)
            .execute(&db.pool)
            .await?;
        if changed.rows_affected() == 0 {
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
        if next == "running" {
            let salt = crate::orders::privacy::salt(db).await?;
            planner::plan(db, &salt, id, now_millis()).await?;
        }
        Ok(next.to_string())
    }
}
