//! The one authorization check. Every server function and HTTP route asks `authorize`
//! before it reads or writes; nothing else decides access.

use super::model::{Actor, Role};
use crate::error::AppError;

/// What a caller wants to do, with the client it concerns when it concerns one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create, edit, disable users and assign roles and clients (agency admins).
    ManageUsers,
    /// Read the agency-wide audit log.
    ReadAuditLog,
    /// Create a new client (seller).
    CreateClient,
    /// Edit a client's own record (name, contacts).
    EditClient(i64),
    /// See a client and everything under it, read-only.
    ReadClient(i64),
    /// Create and edit the brands and stores of a client (account managers run their
    /// assigned clients).
    ManageBrands(i64),
    /// See a client's orders, customers and suppression lists (buyers' personal data:
    /// not for copywriters).
    ReadOrders(i64),
    /// Import orders, manage API keys and suppression lists, export or erase a buyer.
    ManageOrders(i64),
    /// Change the agency-wide suppression list.
    ManageAgencyLists,
    /// See a client's templates, versions and their history (everyone assigned).
    ReadTemplates(i64),
    /// Create templates and versions and edit their text (copywriters, account managers).
    WriteTemplates(i64),
    /// Read the mail outbox folder (agency-wide system mail).
    ReadOutbox,
    /// Create, preview, launch, pause and cancel a client's campaigns (they select buyers:
    /// account managers of the client, and admins).
    ManageCampaigns(i64),
    /// Read a client's reports, reviews and SLA board (everyone assigned: it is the
    /// client viewers' whole portal).
    ReadReports(i64),
    /// Import reviews and work on a client's negative-review alerts.
    ManageAlerts(i64),
    /// Change a client's contract targets (SLA) and prices.
    EditContract(i64),
    /// Read a client's usage and cost statement (its account managers and viewers: what
    /// the agency rebills).
    ReadUsage(i64),
    /// See the health of a client's store connections (its account managers and viewers).
    ReadConnections(i64),
    /// Connect, disconnect and re-authorize a client's stores (account managers).
    ManageConnections(i64),
}

pub fn authorize(actor: &Actor, action: Action) -> Result<(), AppError> {
    let assigned = |client: i64| actor.clients.contains(&client);
    let allowed = match (actor.role, action) {
        (Role::Admin, _) => true,
        (_, Action::ReadClient(client)) => assigned(client),
        (Role::AccountManager, Action::ManageBrands(client)) => assigned(client),
        (Role::AccountManager | Role::ClientViewer, Action::ReadOrders(client)) => assigned(client),
        (Role::AccountManager, Action::ManageOrders(client)) => assigned(client),
        (_, Action::ReadTemplates(client)) => assigned(client),
        (Role::AccountManager | Role::Copywriter, Action::WriteTemplates(client)) => assigned(client),
        (Role::AccountManager, Action::ManageCampaigns(client)) => assigned(client),
        (_, Action::ReadReports(client)) => assigned(client),
        (Role::AccountManager, Action::ManageAlerts(client)) => assigned(client),
        (Role::AccountManager | Role::ClientViewer, Action::ReadConnections(client)) => assigned(client),
        (Role::AccountManager | Role::ClientViewer, Action::ReadUsage(client)) => assigned(client),
        (Role::AccountManager, Action::ManageConnections(client)) => assigned(client),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden(describe(action).into()))
    }
}

/// `true` when the actor sees every client (no client filter on lists).
pub fn sees_all_clients(actor: &Actor) -> bool {
    actor.role == Role::Admin
}

fn describe(action: Action) -> &'static str {
    match action {
        Action::ManageUsers => "only agency admins manage users.",
        Action::ReadAuditLog => "only agency admins read the audit log.",
        Action::CreateClient => "only agency admins create clients.",
        Action::EditClient(_) => "only agency admins edit a client's record.",
        Action::ReadClient(_) => "this client is not assigned to you.",
        Action::ManageBrands(_) => "only agency admins and the client's account managers change brands and stores.",
        Action::ReadOrders(_) => "orders and buyers are shown to the client's account managers and viewers only.",
        Action::ManageOrders(_) => "only agency admins and the client's account managers import orders and manage buyers.",
        Action::ManageAgencyLists => "only agency admins change the agency-wide suppression list.",
        Action::ReadTemplates(_) => "this client is not assigned to you.",
        Action::WriteTemplates(_) => "only the client's copywriters and account managers write templates.",
        Action::ReadOutbox => "only agency admins read the outbox.",
        Action::ManageCampaigns(_) => "only agency admins and the client's account managers run its campaigns.",
        Action::ReadReports(_) => "this client's reports are shown to the people assigned to it only.",
        Action::ManageAlerts(_) => "only agency admins and the client's account managers import reviews and work on alerts.",
        Action::EditContract(_) => "only agency admins change a client's contract.",
        Action::ReadUsage(_) => "usage and costs are shown to the client's account managers and viewers only.",
        Action::ReadConnections(_) => "store connections are shown to the client's account managers and viewers only.",
        Action::ManageConnections(_) => "only agency admins and the client's account managers connect and disconnect stores.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, clients: &[i64]) -> Actor {
        Actor { user_id: 1, email: "a@example.com".into(), name: "A".into(), role, clients: clients.to_vec(), locales: vec![] }
    }

    #[test]
    fn admin_may_do_everything() {
        let a = actor(Role::Admin, &[]);
        for action in [
            Action::ManageUsers,
            Action::ReadAuditLog,
            Action::CreateClient,
            Action::EditClient(9),
            Action::ReadClient(9),
            Action::ManageBrands(9),
            Action::ReadOrders(9),
            Action::ManageOrders(9),
            Action::ManageAgencyLists,
        ] {
            assert!(authorize(&a, action).is_ok());
        }
    }

    #[test]
    fn account_manager_runs_only_assigned_clients() {
        let am = actor(Role::AccountManager, &[1]);
        assert!(authorize(&am, Action::ReadClient(1)).is_ok());
        assert!(authorize(&am, Action::ManageBrands(1)).is_ok());
        assert!(authorize(&am, Action::ReadClient(2)).is_err());
        assert!(authorize(&am, Action::ManageBrands(2)).is_err());
        assert!(authorize(&am, Action::ManageOrders(1)).is_ok());
        assert!(authorize(&am, Action::ManageOrders(2)).is_err());
        assert!(authorize(&am, Action::ManageCampaigns(1)).is_ok());
        assert!(authorize(&am, Action::ManageCampaigns(2)).is_err());
        assert!(authorize(&actor(Role::Copywriter, &[1]), Action::ManageCampaigns(1)).is_err());
        assert!(authorize(&actor(Role::ClientViewer, &[1]), Action::ManageCampaigns(1)).is_err());
        assert!(authorize(&am, Action::ReadOrders(2)).is_err());
        assert!(authorize(&am, Action::ManageAgencyLists).is_err());
        assert!(authorize(&am, Action::CreateClient).is_err());
        assert!(authorize(&am, Action::ManageUsers).is_err());
    }

    #[test]
    fn copywriter_and_client_viewer_only_read_their_clients() {
        for role in [Role::Copywriter, Role::ClientViewer] {
            let u = actor(role, &[1]);
            assert!(authorize(&u, Action::ReadClient(1)).is_ok());
            assert!(authorize(&u, Action::ReadClient(2)).is_err());
            assert!(authorize(&u, Action::ManageBrands(1)).is_err());
            assert!(authorize(&u, Action::EditClient(1)).is_err());
            assert!(authorize(&u, Action::ReadAuditLog).is_err());
            assert!(authorize(&u, Action::ManageOrders(1)).is_err());
        }
        assert!(authorize(&actor(Role::ClientViewer, &[1]), Action::ReadOrders(1)).is_ok());
        assert!(authorize(&actor(Role::Copywriter, &[1]), Action::ReadOrders(1)).is_err(), "copywriters see no buyer data");
    }
}
