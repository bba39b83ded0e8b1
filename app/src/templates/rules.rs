//! The approval workflow as one pure function: may this person take this step on this
//! version now, and to which status does it lead?

use super::model::Status;
use crate::accounts::model::{Actor, Role};
use serde::{Deserialize, Serialize};

/// The facts about a version that decide its next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionFacts {
    pub client_id: i64,
    pub status: Status,
    pub locale: String,
    /// Everyone who wrote any of its text.
    pub editors: Vec<i64>,
    /// The version has at least one blocking lint finding.
    pub blocking: bool,
    /// The client's contract asks its viewer to approve last.
    pub client_approval: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Edit,
    Submit,
    Approve,
    RequestChanges,
    Retire,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Edit => "edited",
            Step::Submit => "submitted",
            Step::Approve => "approved",
            Step::RequestChanges => "changes_requested",
            Step::Retire => "retired",
        }
    }
}

/// Why a step is refused, in words for the person who tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's role or assignment does not allow it.
    NotAllowed(String),
    /// The version's state does not allow it.
    Conflict(String),
}

/// Writers: admins, and the client's account managers and copywriters (the one
/// authorization check decides).
pub fn may_write(actor: &Actor, client_id: i64) -> bool {
    use crate::accounts::rules::{authorize, Action};
    authorize(actor, Action::WriteTemplates(client_id)).is_ok()
}

/// A copywriter reviews the locales assigned to them: `de` covers `de-AT`; `de-AT` covers
/// only itself.
pub fn reviews_locale(actor: &Actor, locale: &str) -> bool {
    let language = locale.split('-').next().unwrap_or(locale);
    actor.locales.iter().any(|l| l.eq_ignore_ascii_case(locale) || l.eq_ignore_ascii_case(language))
}

/// The status `step` leads to, or why it may not be taken.
pub fn next(facts: &VersionFacts, step: Step, actor: &Actor) -> Result<Status, Refusal> {
    let assigned = actor.role == Role::Admin || actor.clients.contains(&facts.client_id);
    if !assigned {
        return Err(Refusal::NotAllowed("this client is not assigned to you.".into()));
    }
    match step {
        Step::Edit | Step::Submit => {
            if !may_write(actor, facts.client_id) {
                return Err(Refusal::NotAllowed("only copywriters and account managers write templates.".into()));
            }
            if !facts.status.editable() {
                return Err(Refusal::Conflict(format!(
                    "a version that is {} can't change; copy it into a new draft.",
                    facts.status.label().to_lowercase()
                )));
            }
            if step == Step::Submit && facts.blocking {
                return Err(Refusal::Conflict("fix the blocking findings before submitting for review.".into()));
            }
            Ok(if step == Step::Edit { facts.status } else { Status::InReview })
        }
        Step::Approve | Step::RequestChanges => {
            let approving = step == Step::Approve;
            match facts.status {
                Status::InReview => {
                    if actor.role != Role::Copywriter || !reviews_locale(actor, &facts.locale) {
                        return Err(Refusal::NotAllowed(format!("a copywriter assigned to {} reviews this version.", facts.locale)));
                    }
                    if facts.editors.contains(&actor.user_id) {
                        return Err(Refusal::NotAllowed("you wrote part of this version; another reviewer approves it.".into()));
                    }
                }
                Status::ClientReview => {
                    if actor.role != Role::ClientViewer {
                        return Err(Refusal::NotAllowed("the client approves this version last.".into()));
                    }
                }
                other => return Err(Refusal::Conflict(format!("the version is {}, not in review.", other.label().to_lowercase()))),
            }
            if !approving {
                return Ok(Status::ChangesRequested);
            }
            if facts.blocking {
                return Err(Refusal::Conflict("a version with blocking findings can't be approved.".into()));
            }
            Ok(if facts.status == Status::InReview && facts.client_approval { Status::ClientReview } else { Status::Approved })
        }
        Step::Retire => {
            if !may_write(actor, facts.client_id) || actor.role == Role::Copywriter {
                return Err(Refusal::NotAllowed("only account managers and admins retire versions.".into()));
            }
            if facts.status == Status::Retired {
                return Err(Refusal::Conflict("the version is already retired.".into()));
            }
            Ok(Status::Retired)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn actor(user_id: i64, role: Role, locales: &[&str]) -> Actor {
        Actor {
            user_id,
            email: format!("u{user_id}@example.com"),
            name: format!("U{user_id}"),
            role,
            clients: vec![1],
            locales: locales.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn facts(status: Status) -> VersionFacts {
        VersionFacts { client_id: 1, status, locale: "de-AT".into(), editors: vec![1], blocking: false, client_approval: true }
    }

    #[test]
    fn the_author_cannot_approve_their_own_version() {
        let author = actor(1, Role::Copywriter, &["de"]);
        assert!(matches!(next(&facts(Status::InReview), Step::Approve, &author), Err(Refusal::NotAllowed(_))));
        let other = actor(2, Role::Copywriter, &["de"]);
        assert_eq!(next(&facts(Status::InReview), Step::Approve, &other), Ok(Status::ClientReview));
    }

    #[test]
    fn only_a_reviewer_of_the_locale_approves() {
        let french = actor(2, Role::Copywriter, &["fr"]);
        assert!(next(&facts(Status::InReview), Step::Approve, &french).is_err());
        let austrian = actor(3, Role::Copywriter, &["de-AT"]);
        assert!(next(&facts(Status::InReview), Step::Approve, &austrian).is_ok());
        let manager = actor(4, Role::AccountManager, &["de"]);
        assert!(next(&facts(Status::InReview), Step::Approve, &manager).is_err());
    }

    #[test]
    fn the_client_viewer_approves_last_when_the_contract_asks() {
        let viewer = actor(5, Role::ClientViewer, &[]);
        assert!(next(&facts(Status::InReview), Step::Approve, &viewer).is_err());
        assert_eq!(next(&facts(Status::ClientReview), Step::Approve, &viewer), Ok(Status::Approved));
        assert_eq!(next(&facts(Status::ClientReview), Step::RequestChanges, &viewer), Ok(Status::ChangesRequested));
        let no_contract = VersionFacts { client_approval: false, ..facts(Status::InReview) };
        assert_eq!(next(&no_contract, Step::Approve, &actor(2, Role::Copywriter, &["de"])), Ok(Status::Approved));
    }

    #[test]
    fn blocking_findings_stop_submission_and_approval() {
        let blocked = VersionFacts { blocking: true, ..facts(Status::Draft) };
        assert!(next(&blocked, Step::Submit, &actor(1, Role::Copywriter, &[])).is_err());
        let in_review = VersionFacts { blocking: true, ..facts(Status::InReview) };
        assert!(next(&in_review, Step::Approve, &actor(2, Role::Copywriter, &["de"])).is_err());
        assert_eq!(next(&in_review, Step::RequestChanges, &actor(2, Role::Copywriter, &["de"])), Ok(Status::ChangesRequested));
    }

    #[test]
    fn other_clients_users_can_do_nothing() {
        let mut stranger = actor(9, Role::Copywriter, &["de"]);
        stranger.clients = vec![2];
        for step in [Step::Edit, Step::Submit, Step::Approve, Step::RequestChanges, Step::Retire] {
            assert!(matches!(next(&facts(Status::InReview), step, &stranger), Err(Refusal::NotAllowed(_))));
        }
    }

    fn any_actor() -> impl Strategy<Value = Actor> {
        let role = prop_oneof![Just(Role::Admin), Just(Role::AccountManager), Just(Role::Copywriter), Just(Role::ClientViewer)];
        let locales = proptest::sample::subsequence(vec!["de", "de-AT", "en", "fr"], 0..3);
        (1i64..6, role, locales, any::<bool>()).prop_map(|(id, role, locales, assigned)| Actor {
            user_id: id,
            email: format!("u{id}@example.com"),
            name: String::new(),
            role,
            clients: if assigned { vec![1] } else { vec![2] },
            locales: locales.into_iter().map(String::from).collect(),
        })
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![Just(Step::Edit), Just(Step::Submit), Just(Step::Approve), Just(Step::RequestChanges), Just(Step::Retire)]
    }

    proptest! {
        /// Whatever anyone tries in whatever order, a version reaches "approved" only
        /// without blocking findings, through a reviewer who wrote none of it, and (when
        /// the contract asks) through the client's viewer.
        #[test]
        fn no_path_reaches_approved_with_blocking_findings_or_by_an_author(
            client_approval in any::<bool>(),
            moves in proptest::collection::vec((any_actor(), any_step(), any::<bool>()), 1..40),
        ) {
            let mut v = VersionFacts { client_id: 1, status: Status::Draft, locale: "de-AT".into(), editors: vec![], blocking: false, client_approval };
            let mut reviewed_by_non_editor = false;
            for (who, step, makes_blocking) in moves {
                let before = v.status;
                if let Ok(to) = next(&v, step, &who) {
                    if step == Step::Edit || step == Step::Submit {
                        if !v.editors.contains(&who.user_id) {
                            v.editors.push(who.user_id);
                        }
                        if step == Step::Edit {
                            v.blocking = makes_blocking;
                        }
                    }
                    if step == Step::Approve && before == Status::InReview {
                        prop_assert!(!v.editors.contains(&who.user_id));
                        prop_assert_eq!(who.role, Role::Copywriter);
                        reviewed_by_non_editor = true;
                    }
                    if to == Status::ChangesRequested || to == Status::InReview {
                        reviewed_by_non_editor = false;
                    }
                    if to == Status::Approved {
                        prop_assert!(!v.blocking, "approved with a blocking finding");
                        prop_assert!(reviewed_by_non_editor, "approved without an independent reviewer");
                        if client_approval {
                            prop_assert_eq!(before, Status::ClientReview);
                            prop_assert_eq!(who.role, Role::ClientViewer);
                        }
                    }
                    v.status = to;
                }
            }
        }
    }
}
