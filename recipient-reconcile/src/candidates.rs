//! SSO user candidates: directory users assigned to the SSO app who are not
//! yet host users. Proposed, never created.

use std::collections::BTreeSet;

use directory_core::{AssignedVia, Snapshot};
use serde::{Deserialize, Serialize};

use crate::desired::{Class, Desired};
use crate::mapping::normalize_email;
use crate::policy::Policy;
use crate::record::HostUser;

/// A directory user the host could make an SSO user (after choosing a role).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SsoCandidate {
    /// The email, normalized.
    pub email: String,
    /// The directory user id.
    pub user_id: String,
    /// A name to show: display name, else given + family name, else user name.
    pub display_name: String,
    /// How the user is assigned to the app (directly, through groups), sorted.
    pub assigned_via: Vec<AssignedVia>,
    /// App roles from the assignments (Entra `appRoleId`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Directory users assigned to the SSO app (directly or through a group) whose
/// status counts as present, whose email passes the policy's
/// [`EmailFilter`](crate::EmailFilter), and who are not yet host users (by
/// directory id or email). Sorted by email, then user id.
///
/// The same users a reconcile syncs: present with a usable email of their
/// own. Users who share an email with another present user are left out,
/// as reconcile holds them in a duplicate-email conflict until the directory
/// gives each their own address.
pub fn sso_candidates(
    snapshot: &Snapshot,
    policy: &Policy,
    host_users: &[HostUser],
) -> Vec<SsoCandidate> {
    candidates(
        snapshot,
        policy,
        &Desired::new(snapshot, policy),
        host_users,
    )
}

/// [`sso_candidates`] from the directory side reconcile already computed.
pub(crate) fn candidates(
    snapshot: &Snapshot,
    policy: &Policy,
    desired: &Desired<'_>,
    host_users: &[HostUser],
) -> Vec<SsoCandidate> {
    let known_ids: BTreeSet<&str> = host_users
        .iter()
        .filter_map(|u| u.external_id.as_deref())
        .collect();
    let known_emails: BTreeSet<String> = host_users
        .iter()
        .map(|u| normalize_email(&u.email).into_owned())
        .collect();
    let mut out: Vec<SsoCandidate> = Vec::new();
    // Assignments are sorted by user id, so one user's come together.
    for a in &snapshot.app_assignments {
        if let Some(last) = out.last_mut().filter(|c| c.user_id == a.user_id) {
            add_assignment(last, &a.via, a.role.as_deref());
            continue;
        }
        let Some(&u) = desired.by_id.get(a.user_id.as_str()) else {
            continue;
        };
        let (Some(user), email) = (desired.user(u as usize), desired.email(u as usize)) else {
            continue;
        };
        if desired.class(u as usize) != Class::Eligible
            || known_ids.contains(user.id.as_str())
            || !policy.sso_filter.allows(email)
            || known_emails.contains(email)
        {
            continue;
        }
        let mut c = SsoCandidate {
            email: email.to_string(),
            user_id: user.id.clone(),
            display_name: display_name(user),
            assigned_via: Vec::new(),
            roles: Vec::new(),
        };
        add_assignment(&mut c, &a.via, a.role.as_deref());
        out.push(c);
    }
    out.sort();
    out
}

fn add_assignment(c: &mut SsoCandidate, via: &AssignedVia, role: Option<&str>) {
    if !c.assigned_via.contains(via) {
        c.assigned_via.push(via.clone());
        c.assigned_via.sort();
    }
    if let Some(r) = role.filter(|r| !c.roles.iter().any(|x| x == r)) {
        c.roles.push(r.to_string());
        c.roles.sort();
    }
}

fn display_name(u: &directory_core::DirectoryUser) -> String {
    if let Some(d) = u.display_name.as_deref().filter(|d| !d.trim().is_empty()) {
        return d.trim().to_string();
    }
    let parts: Vec<&str> = [u.name.given_name.as_deref(), u.name.family_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        u.user_name.clone()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::{AppAssignment, DirectoryUser, UserStatus};

    fn snapshot() -> Snapshot {
        let mut suspended = DirectoryUser::new("u4", "dee").with_email("dee@acme.com", true);
        suspended.status = UserStatus::Suspended;
        let mut ada = DirectoryUser::new("u1", "ada").with_email("Ada@Acme.com", true);
        ada.display_name = Some("Ada L.".into());
        let mut bob = DirectoryUser::new("u2", "bob").with_email("bob@acme.com", true);
        bob.name.given_name = Some("Bob".into());
        bob.name.family_name = Some("Builder".into());
        let mut admin = AppAssignment::via_group("u1", "g-admins");
        admin.role = Some("admin".into());
        Snapshot::from_parts(
            "test",
            vec![
                ada,
                bob,
                DirectoryUser::new("u3", "cy").with_email("cy@other.org", true),
                suspended,
                DirectoryUser::new("u5", "eve").with_email("eve@acme.com", true),
                DirectoryUser::new("u6", "fay").with_email("fay@acme.com", true),
            ],
            vec![directory_core::DirectoryGroup::new("g1", "Sales")],
            vec![],
            vec![
                AppAssignment::direct("u1"),
                admin,
                AppAssignment::via_group("u2", "g1"),
                AppAssignment::direct("u3"),
                AppAssignment::direct("u4"),
                AppAssignment::direct("u5"),
                AppAssignment::direct("u6"),
                AppAssignment::direct("missing"),
            ],
        )
    }

    #[test]
    fn candidates_are_assigned_present_filtered_and_new() {
        let mut policy = Policy::default();
        policy.sso_filter.domains.insert("acme.com".into());
        let host = [
            HostUser::new("EVE@acme.com"),
            HostUser {
                email: "fay.old@acme.com".into(),
                external_id: Some("u6".into()),
            },
        ];
        let c = sso_candidates(&snapshot(), &policy, &host);
        let ids: Vec<_> = c.iter().map(|c| c.user_id.as_str()).collect();
        // u3: filtered domain; u4: suspended; u5 by email, u6 by id: already users.
        assert_eq!(ids, ["u1", "u2"]);
        assert_eq!(c[0].email, "ada@acme.com");
        assert_eq!(c[0].display_name, "Ada L.");
        assert_eq!(c[0].roles, ["admin"]);
        assert_eq!(c[0].assigned_via.len(), 2);
        assert_eq!(c[1].display_name, "Bob Builder");
        assert_eq!(
            c[1].assigned_via,
            [AssignedVia::Group {
                group_id: Some("g1".into())
            }]
        );
    }

    #[test]
    fn no_filter_lets_every_domain_through() {
        let c = sso_candidates(&snapshot(), &Policy::default(), &[]);
        assert_eq!(c.len(), 5);
    }
}
