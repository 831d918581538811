//! The simulated tenant behind the provider-neutral simulator interface
//! ([`directory_core::testing::SimulatedDirectory`]): neutral faults,
//! misconfigurations and changes in Graph's terms.

use std::any::Any;
use std::sync::Arc;

use directory_core::testing::{
    Change, Fault as NeutralFault, Injection, Misconfiguration, NewUser, OrgSpec, SimStats,
    SimulatedDirectory, SimulatorKind, Target, Tuning, UserUpdate,
};
use directory_core::{DirectoryProvider, Result, Snapshot};

use super::{
    Fault, FaultKind, FaultTarget, MemberType, Misconfig, RateLimit, SimGroup, SimMember, SimUser,
    SimulatedTenant, TenantHandle, TenantMut, DEFAULT_ACCESS,
};

/// Starts simulated Entra tenants from an [`OrgSpec`] (see
/// [`SimulatorKind`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AzureSimulator;

#[async_trait::async_trait]
impl SimulatorKind for AzureSimulator {
    fn name(&self) -> &'static str {
        "azure"
    }

    async fn start(&self, spec: &OrgSpec) -> Result<Box<dyn SimulatedDirectory>> {
        let tenant = SimulatedTenant::builder().spec(spec).start().await?;
        Ok(Box::new(tenant))
    }
}

impl SimulatedTenant {
    /// Takes the shape, latency and rate limits of a provider-neutral
    /// [`OrgSpec`]: with its rate limits, Graph's budget for the tenant's
    /// size ([`RateLimit::for_tenant_size`]); without, no throttling.
    pub fn spec(self, spec: &OrgSpec) -> Self {
        let limit = spec
            .rate_limits
            .then(|| RateLimit::for_tenant_size(spec.users));
        self.seed(spec.seed)
            .users(spec.users)
            .groups(spec.groups)
            .memberships_per_user(spec.memberships_per_user)
            .app_users(spec.app_users)
            .latency(spec.latency)
            .rate_limit(limit)
    }
}

impl SimulatedDirectory for TenantHandle {
    fn kind(&self) -> &'static str {
        "azure"
    }

    fn base_url(&self) -> &str {
        TenantHandle::base_url(self)
    }

    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn DirectoryProvider>> {
        use crate::builder::AzureDirectoryBuilder as B;
        let b = tuning.apply_to(
            self.provider_builder(),
            B::timeout,
            B::retry_policy,
            B::page_size,
        );
        Ok(Arc::new(b.build()?))
    }

    fn ground_truth(&self) -> Snapshot {
        TenantHandle::ground_truth(self)
    }

    fn stats(&self) -> SimStats {
        let r = self.requests();
        SimStats {
            requests: r.total + r.throttled,
            token_requests: r.endpoint("token"),
            throttled: r.throttled,
        }
    }

    fn inject(&self, injection: Injection) {
        TenantHandle::inject(self, azure_fault(&injection));
    }

    fn clear_faults(&self) {
        TenantHandle::clear_faults(self);
    }

    fn misconfigure(&self, m: Misconfiguration) {
        TenantHandle::misconfigure(self, azure_misconfig(m));
    }

    fn clear_misconfig(&self) {
        TenantHandle::clear_misconfig(self);
    }

    fn revoke_tokens(&self) {
        TenantHandle::revoke_tokens(self);
    }

    fn apply(&self, change: &Change) -> bool {
        self.mutate(|m| apply(m, change))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A neutral injection as the tenant's own [`Fault`].
pub(crate) fn azure_fault(i: &Injection) -> Fault {
    let kind = match &i.fault {
        NeutralFault::Status(s) => FaultKind::Status {
            status: *s,
            retry_after: (*s == 429 || *s == 503).then_some(1),
        },
        NeutralFault::Stall(d) => FaultKind::Delay(*d),
        NeutralFault::CutBody => FaultKind::CutConnection,
        NeutralFault::TruncatedJson => FaultKind::TruncatedJson,
        NeutralFault::MalformedJson => FaultKind::MalformedJson,
        NeutralFault::EmptyPage => FaultKind::EmptyPage,
        NeutralFault::CyclicNext => FaultKind::CyclingNextLink,
        _ => FaultKind::ForeignNextLink,
    };
    let path = |p: &str| FaultTarget::PathContains(p.to_string());
    let target = match &i.target {
        Target::Users => path("/v1.0/users"),
        Target::Members => path("/members"),
        Target::MembersOf(g) => path(&format!("/groups/{g}/members")),
        Target::Groups => path("/v1.0/groups"),
        Target::Apps => path("/appRoleAssignedTo"),
        Target::Token => FaultTarget::TokenEndpoint,
        _ => FaultTarget::Graph,
    };
    let f = Fault::new(kind).on(target).after(u64::from(i.after));
    match i.times {
        Some(n) => f.times(u64::from(n)),
        None => f.always(),
    }
}

fn azure_misconfig(m: Misconfiguration) -> Misconfig {
    match m {
        Misconfiguration::UnknownOrg => Misconfig::UnknownTenant,
        Misconfiguration::UnknownClient => Misconfig::UnknownClient,
        Misconfiguration::WrongCredential => Misconfig::WrongSecret,
        Misconfiguration::NoAccess => Misconfig::NoAdminConsent,
        _ => Misconfig::ServicePrincipalDeleted,
    }
}

/// Applies a neutral change through the tenant's mutation API.
fn apply(m: &mut TenantMut<'_>, change: &Change) -> bool {
    match change {
        Change::CreateUser(n) => create_user(m, n),
        Change::UpdateUser { id, update } => m.update_user(id, |u| update_user(u, update)),
        Change::SuspendUser(id) => m.update_user(id, |u| u.account_enabled = false),
        Change::ReactivateUser(id) => m.update_user(id, |u| u.account_enabled = true),
        // Entra has no deprovisioned state: offboarding ends in deletion.
        Change::DeprovisionUser(id) | Change::DeleteUser(id) => m.delete_user(id),
        Change::AddMember { group, user } => {
            let known = m.data().users.iter().any(|u| u.id == *user);
            let member = SimMember {
                id: user.clone(),
                kind: MemberType::User,
            };
            known && m.add_member(group, member)
        }
        Change::RemoveMember { group, member } => m.remove_member(group, member),
        Change::CreateGroup { id, name } => {
            let taken = m.data().groups.iter().any(|g| g.id == *id);
            if !taken {
                m.add_group(SimGroup {
                    id: id.clone(),
                    display_name: name.clone(),
                    security_enabled: true,
                    ..SimGroup::default()
                });
            }
            !taken
        }
        Change::RenameGroup { id, name } => m.update_group(id, |g| g.display_name = name.clone()),
        Change::DeleteGroup(id) => m.delete_group(id),
        Change::AssignApp(p) => assign(m, p),
        Change::UnassignApp(p) => m.unassign(p),
        _ => false,
    }
}

fn create_user(m: &mut TenantMut<'_>, n: &NewUser) -> bool {
    if m.data().users.iter().any(|u| u.id == n.id) {
        return false;
    }
    m.add_user(SimUser {
        id: n.id.clone(),
        user_principal_name: n.user_name.clone(),
        mail: n.email.clone(),
        proxy_addresses: n.email.iter().map(|e| format!("SMTP:{e}")).collect(),
        display_name: n.display_name.clone(),
        given_name: n.given_name.clone(),
        surname: n.family_name.clone(),
        account_enabled: true,
        user_type: "Member".into(),
        ..SimUser::default()
    });
    true
}

fn update_user(u: &mut SimUser, c: &UserUpdate) {
    let set = |to: &mut Option<String>, v: &Option<String>| {
        if v.is_some() {
            to.clone_from(v);
        }
    };
    set(&mut u.given_name, &c.given_name);
    set(&mut u.surname, &c.family_name);
    set(&mut u.display_name, &c.display_name);
    set(&mut u.job_title, &c.title);
    set(&mut u.department, &c.department);
    if let Some(email) = &c.email {
        u.mail = Some(email.clone());
        u.proxy_addresses = vec![format!("SMTP:{email}")];
    }
}

/// Default access for a user or group not assigned it yet.
fn assign(m: &mut TenantMut<'_>, principal: &str) -> bool {
    let d = m.data();
    let kind = if d.users.iter().any(|u| u.id == principal) {
        "User"
    } else if d.groups.iter().any(|g| g.id == principal) {
        "Group"
    } else {
        return false;
    };
    let assigned = d
        .assignments
        .iter()
        .any(|a| a.principal_id == principal && a.app_role_id == DEFAULT_ACCESS);
    if !assigned {
        m.assign(principal, kind, None);
    }
    !assigned
}
