//! The simulated org behind the provider-neutral simulator interface
//! ([`directory_core::testing::SimulatedDirectory`]): neutral faults,
//! misconfigurations and changes in Okta's terms.

use std::any::Any;
use std::sync::Arc;

use directory_core::testing::{
    Change, Fault as NeutralFault, Injection, Misconfiguration, NewUser, OrgSpec, SimStats,
    SimulatedDirectory, SimulatorKind, Target, Tuning, UserUpdate,
};
use directory_core::{
    AppAssignment, AssignedVia, DirectoryData, DirectoryGroup, DirectoryProvider, DirectoryUser,
    Email, Membership, Result, Snapshot, UserStatus,
};

use super::{Fault, FaultKind, Misconfig, OktaOrg, OktaOrgBuilder};

/// Starts simulated Okta orgs from an [`OrgSpec`] (see [`SimulatorKind`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OktaSimulator;

#[async_trait::async_trait]
impl SimulatorKind for OktaSimulator {
    fn name(&self) -> &'static str {
        "okta"
    }

    async fn start(&self, spec: &OrgSpec) -> Result<Box<dyn SimulatedDirectory>> {
        let org = OktaOrg::builder().spec(spec).start().await?;
        Ok(Box::new(org))
    }
}

impl OktaOrgBuilder {
    /// Takes the shape, latency and rate limits of a provider-neutral
    /// [`OrgSpec`]; without its rate limits the org throttles nothing
    /// (no bucket or concurrency limit).
    pub fn spec(self, spec: &OrgSpec) -> Self {
        let b = self
            .seed(spec.seed)
            .users(spec.users)
            .groups(spec.groups)
            .memberships_per_user(spec.memberships_per_user)
            .app_users(spec.app_users)
            .latency(spec.latency);
        if spec.rate_limits {
            b
        } else {
            b.rate_limit(u64::MAX).concurrency_limit(usize::MAX)
        }
    }
}

impl SimulatedDirectory for OktaOrg {
    fn kind(&self) -> &'static str {
        "okta"
    }

    fn base_url(&self) -> &str {
        OktaOrg::base_url(self)
    }

    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn DirectoryProvider>> {
        use crate::builder::OktaDirectoryBuilder as B;
        let b = tuning.apply_to(
            self.provider_builder(),
            B::timeout,
            B::retry_policy,
            B::page_size,
        );
        Ok(Arc::new(b.build()?))
    }

    fn ground_truth(&self) -> Snapshot {
        OktaOrg::ground_truth(self)
    }

    fn stats(&self) -> SimStats {
        SimStats {
            requests: self.total_requests(),
            token_requests: self.requests("token"),
            throttled: self.rate_limited(),
        }
    }

    fn inject(&self, injection: Injection) {
        OktaOrg::inject(self, okta_fault(&injection));
    }

    fn clear_faults(&self) {
        OktaOrg::clear_faults(self);
    }

    fn misconfigure(&self, m: Misconfiguration) {
        OktaOrg::misconfigure(self, okta_misconfig(m));
    }

    fn clear_misconfig(&self) {
        OktaOrg::clear_misconfig(self);
    }

    fn revoke_tokens(&self) {
        OktaOrg::revoke_tokens(self);
    }

    fn apply(&self, change: &Change) -> bool {
        self.mutate(|d| apply(d, change))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The path fragment of Okta's requests a target names.
fn okta_path(t: &Target) -> String {
    match t {
        Target::Users => "/api/v1/users".into(),
        // `/api/v1/groups/` is only in member paths (`/api/v1/groups/{id}/users`).
        Target::Members => "/api/v1/groups/".into(),
        Target::MembersOf(g) => format!("/api/v1/groups/{g}/users"),
        Target::Groups => "/api/v1/groups".into(),
        Target::Apps => "/api/v1/apps/".into(),
        Target::Token => "/oauth2/v1/token".into(),
        _ => "/api/v1/".into(),
    }
}

/// A neutral injection as the org's own [`Fault`].
pub(crate) fn okta_fault(i: &Injection) -> Fault {
    let kind = match &i.fault {
        NeutralFault::Status(s) => FaultKind::Status(*s),
        NeutralFault::Stall(d) => FaultKind::Delay(*d),
        NeutralFault::CutBody => FaultKind::CutBody,
        NeutralFault::TruncatedJson => FaultKind::TruncatedJson,
        NeutralFault::MalformedJson => FaultKind::MalformedJson,
        NeutralFault::EmptyPage => FaultKind::EmptyPage,
        NeutralFault::CyclicNext => FaultKind::CyclicNext,
        _ => FaultKind::ForeignNext,
    };
    let f = Fault::new(kind)
        .on_path(okta_path(&i.target))
        .after(i.after);
    match i.times {
        Some(n) => f.times(n),
        None => f.always(),
    }
}

fn okta_misconfig(m: Misconfiguration) -> Misconfig {
    match m {
        Misconfiguration::UnknownOrg => Misconfig::UnknownDomain,
        Misconfiguration::UnknownClient => Misconfig::WrongClientId,
        Misconfiguration::WrongCredential => Misconfig::BadSignature,
        Misconfiguration::NoAccess => Misconfig::NoAdminRole,
        _ => Misconfig::WrongAppId,
    }
}

/// Applies a neutral change to the org's data; [`OktaOrg::mutate`] adds
/// Okta's side effects.
fn apply(d: &mut DirectoryData, change: &Change) -> bool {
    match change {
        Change::CreateUser(n) => create_user(d, n),
        Change::UpdateUser { id, update } => with_user(d, id, |u| update_user(u, update)),
        Change::SuspendUser(id) => with_user(d, id, |u| u.status = UserStatus::Suspended),
        Change::ReactivateUser(id) => with_user(d, id, |u| u.status = UserStatus::Active),
        Change::DeprovisionUser(id) => with_user(d, id, |u| u.status = UserStatus::Deprovisioned),
        Change::DeleteUser(id) => removed(&mut d.users, |u| u.id == *id),
        Change::AddMember { group, user } => add_member(d, group, user),
        Change::RemoveMember { group, member } => remove_member(d, group, member),
        Change::CreateGroup { id, name } => {
            let taken = d.groups.iter().any(|g| g.id == *id);
            if !taken {
                d.groups.push(DirectoryGroup::new(id, name));
            }
            !taken
        }
        Change::RenameGroup { id, name } => match d.groups.iter_mut().find(|g| g.id == *id) {
            Some(g) => {
                g.name = name.clone();
                true
            }
            None => false,
        },
        Change::DeleteGroup(id) => removed(&mut d.groups, |g| g.id == *id),
        Change::AssignApp(p) => assign(d, p),
        Change::UnassignApp(p) => {
            let via = via_group(p);
            removed(&mut d.app_assignments, |a| {
                (a.user_id == *p && a.via == AssignedVia::Direct) || a.via == via
            })
        }
        _ => false,
    }
}

fn via_group(group: &str) -> AssignedVia {
    AssignedVia::Group {
        group_id: Some(group.to_string()),
    }
}

/// Removes what matches; whether anything did.
fn removed<T>(items: &mut Vec<T>, hit: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|t| !hit(t));
    items.len() != before
}

fn with_user(d: &mut DirectoryData, id: &str, f: impl FnOnce(&mut DirectoryUser)) -> bool {
    d.users.iter_mut().find(|u| u.id == id).map(f).is_some()
}

fn create_user(d: &mut DirectoryData, n: &NewUser) -> bool {
    if d.users.iter().any(|u| u.id == n.id) {
        return false;
    }
    let mut u = DirectoryUser::new(&n.id, &n.user_name);
    if let Some(e) = &n.email {
        u = u.with_email(e, true);
    }
    u.name.given_name = n.given_name.as_deref().map(Into::into);
    u.name.family_name = n.family_name.as_deref().map(Into::into);
    u.display_name = n.display_name.as_deref().map(Into::into);
    d.users.push(u);
    true
}

fn update_user(u: &mut DirectoryUser, c: &UserUpdate) {
    let set = |to: &mut Option<Box<str>>, v: &Option<String>| {
        if let Some(v) = v {
            *to = Some(v.as_str().into());
        }
    };
    set(&mut u.name.given_name, &c.given_name);
    set(&mut u.name.family_name, &c.family_name);
    set(&mut u.display_name, &c.display_name);
    set(&mut u.title, &c.title);
    set(&mut u.department, &c.department);
    if let Some(email) = &c.email {
        if u.emails.iter().any(|e| e.primary) {
            for e in u.emails.iter_mut().filter(|e| e.primary) {
                e.value = email.clone();
            }
        } else {
            u.emails.push(Email::new(email, "work", true));
        }
    }
}

/// A direct membership; where the group is assigned to the app, its new
/// member is assigned through it as well.
fn add_member(d: &mut DirectoryData, group: &str, user: &str) -> bool {
    let known = d.groups.iter().any(|g| g.id == group) && d.users.iter().any(|u| u.id == user);
    let member = |m: &Membership| m.group_id == group && m.user_id == user;
    if !known || d.memberships.iter().any(member) {
        return false;
    }
    d.memberships.push(Membership::direct(group, user));
    let via = via_group(group);
    if d.app_assignments.iter().any(|a| a.via == via) {
        d.app_assignments
            .push(AppAssignment::via_group(user, group));
    }
    true
}

fn remove_member(d: &mut DirectoryData, group: &str, user: &str) -> bool {
    let hit = removed(&mut d.memberships, |m| {
        m.group_id == group && m.user_id == user
    });
    let via = via_group(group);
    removed(&mut d.app_assignments, |a| {
        a.user_id == user && a.via == via
    });
    hit
}

/// A user directly, or each member of a group through it.
fn assign(d: &mut DirectoryData, principal: &str) -> bool {
    let grants: Vec<AppAssignment> = if d.users.iter().any(|u| u.id == principal) {
        vec![AppAssignment::direct(principal)]
    } else {
        d.memberships
            .iter()
            .filter(|m| m.group_id == principal)
            .map(|m| AppAssignment::via_group(&m.user_id, principal))
            .collect()
    };
    let before = d.app_assignments.len();
    for g in grants {
        if !d.app_assignments.contains(&g) {
            d.app_assignments.push(g);
        }
    }
    d.app_assignments.len() != before
}
