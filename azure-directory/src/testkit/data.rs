//! The simulated tenant's directory: generation from a seed, Graph-shaped
//! records, and the ground truth as a `directory_core::Snapshot`, computed
//! here independently of the provider's decoding.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use directory_core::{
    Address, AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, Email, GroupKind,
    Membership, MembershipKind, PersonName, PhoneNumber, Snapshot, UserStatus,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// A user as the simulated Graph stores it (Graph property names).
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct SimUser {
    pub id: String,
    pub user_principal_name: String,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub office_location: Option<String>,
    pub mobile_phone: Option<String>,
    pub business_phones: Vec<String>,
    pub employee_id: Option<String>,
    pub account_enabled: bool,
    pub other_mails: Vec<String>,
    pub proxy_addresses: Vec<String>,
    pub user_type: String,
    pub on_premises_immutable_id: Option<String>,
    pub preferred_language: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// `onPremisesExtensionAttributes.extensionAttribute1`.
    pub extension_attribute1: Option<String>,
    /// Directory extension properties (`extension_{appId}_{name}`).
    pub extensions: BTreeMap<String, Value>,
}

/// A group as the simulated Graph stores it.
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct SimGroup {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub group_types: Vec<String>,
    pub mail_enabled: bool,
    pub security_enabled: bool,
}

/// The type of a group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberType {
    /// A user.
    User,
    /// A nested group.
    Group,
    /// A device (skipped by the provider).
    Device,
    /// A service principal (skipped by the provider).
    ServicePrincipal,
}

impl MemberType {
    /// The `@odata.type` Graph sends.
    pub fn odata_type(self) -> &'static str {
        match self {
            MemberType::User => "#microsoft.graph.user",
            MemberType::Group => "#microsoft.graph.group",
            MemberType::Device => "#microsoft.graph.device",
            MemberType::ServicePrincipal => "#microsoft.graph.servicePrincipal",
        }
    }
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimMember {
    /// The member's object id.
    pub id: String,
    /// What it is.
    pub kind: MemberType,
}

/// An `appRoleAssignment` on the SSO app's service principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAssignment {
    /// The assignment's id.
    pub id: String,
    /// The user, group or service principal assigned.
    pub principal_id: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: String,
    /// The app role (all zeros: default access).
    pub app_role_id: String,
}

/// A service principal known to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimServicePrincipal {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
}

/// Everything in the simulated directory.
#[derive(Debug, Clone, Default)]
pub struct TenantData {
    /// Users in list order.
    pub users: Vec<SimUser>,
    /// Groups in list order.
    pub groups: Vec<SimGroup>,
    /// Each group's direct members, in order.
    pub members: HashMap<String, Vec<SimMember>>,
    /// The SSO app's assignments.
    pub assignments: Vec<SimAssignment>,
    /// The SSO app's service principal.
    pub sso_app: SimServicePrincipal,
    /// Directory extension names defined for users.
    pub extension_names: Vec<String>,
}

/// The shape of the generated directory.
#[derive(Debug, Clone)]
pub struct GenSpec {
    /// Random seed: same seed, same tenant.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Number of groups.
    pub groups: usize,
    /// Group memberships per user.
    pub memberships_per_user: usize,
    /// Users assigned to the SSO app (about half directly, half via groups).
    pub app_users: usize,
    /// Share of users disabled (`accountEnabled=false`), in percent.
    pub disabled_percent: u32,
    /// Whether to add awkward data: unicode names, missing emails, guests,
    /// extension attributes, devices among members.
    pub awkward: bool,
    /// Whether to nest groups (with one cycle).
    pub nested_groups: bool,
}

/// The role id for default access.
pub const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";
/// A role the SSO app defines.
pub const ADMIN_ROLE: &str = "5c1f6a2e-0d84-4b3e-9f77-2a6c8e1d4b90";

const GIVEN: &[&str] = &[
    "Ada", "Rachel", "Jon", "Mia", "Noah", "Lena", "Omar", "Priya", "Kenji", "Sofia", "Liam", "Ava",
];
const FAMILY: &[&str] = &[
    "Kim", "Ortega", "Schmidt", "Okafor", "Rossi", "Nguyen", "Haddad", "Larsen", "Silva", "Tanaka",
];
const UNICODE_GIVEN: &[&str] = &["Zoë", "Łukasz", "Søren", "José", "明", "Ærin", "Đorđe"];
const DEPTS: &[&str] = &[
    "Finance",
    "Engineering",
    "Sales",
    "Support",
    "Legal",
    "Operations",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("Seattle", "US"),
    ("Paris", "FR"),
    ("Tokyo", "JP"),
];

/// A GUID from the generator.
pub(crate) fn guid(rng: &mut StdRng) -> String {
    let b: u128 = rng.gen();
    let h = format!("{b:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl TenantData {
    /// Generates a directory from `spec`.
    pub fn generate(spec: &GenSpec, extension_app: &str) -> Self {
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let ext = format!("extension_{}_costCenter", extension_app.replace('-', ""));
        let users: Vec<SimUser> = (0..spec.users)
            .map(|i| gen_user(&mut rng, i, spec, &ext))
            .collect();
        let groups: Vec<SimGroup> = (0..spec.groups).map(|i| gen_group(&mut rng, i)).collect();
        let mut data = TenantData {
            users,
            groups,
            sso_app: SimServicePrincipal {
                id: guid(&mut rng),
                app_id: guid(&mut rng),
                display_name: "Mailroom SSO".into(),
            },
            extension_names: vec![ext],
            ..TenantData::default()
        };
        data.gen_members(&mut rng, spec);
        data.gen_assignments(&mut rng, spec);
        data
    }

    fn gen_members(&mut self, rng: &mut StdRng, spec: &GenSpec) {
        let g = self.groups.len();
        if g == 0 {
            return;
        }
        let mut lists: Vec<Vec<SimMember>> = vec![Vec::new(); g];
        let per_user = spec.memberships_per_user.min(g);
        let mut picked = Vec::with_capacity(per_user);
        for u in &self.users {
            picked.clear();
            while picked.len() < per_user {
                let gi = rng.gen_range(0..g);
                if !picked.contains(&gi) {
                    picked.push(gi);
                    push(&mut lists, gi, u.id.clone(), MemberType::User);
                }
            }
        }
        if spec.nested_groups && g >= 3 {
            let groups = &self.groups;
            let mut nest = |parent: usize, child: usize| {
                if let Some(g) = groups.get(child) {
                    push(&mut lists, parent, g.id.clone(), MemberType::Group);
                }
            };
            nest(0, 1);
            nest(1, 2);
            nest(2, 0);
            for i in (3..g).step_by(20) {
                let child = rng.gen_range(0..g);
                if child != i {
                    nest(i, child);
                }
            }
        }
        if spec.awkward {
            for list in lists.iter_mut().step_by(25) {
                list.push(SimMember {
                    id: guid(rng),
                    kind: MemberType::Device,
                });
            }
            push(&mut lists, 0, guid(rng), MemberType::ServicePrincipal);
        }
        self.members = self
            .groups
            .iter()
            .map(|g| g.id.clone())
            .zip(lists)
            .collect();
    }

    fn gen_assignments(&mut self, rng: &mut StdRng, spec: &GenSpec) {
        let target = spec.app_users.min(self.users.len());
        if target == 0 {
            return;
        }
        let mut via_groups = 0;
        // Groups from the end (not nested, not in the cycle) until about half.
        for g in self.groups.iter().rev() {
            if via_groups * 2 >= target || self.groups.len() < 4 {
                break;
            }
            let n = self.members.get(&g.id).map_or(0, |m| {
                m.iter().filter(|m| m.kind == MemberType::User).count()
            });
            if n == 0 || via_groups + n > target {
                continue;
            }
            via_groups += n;
            let role = if self.assignments.is_empty() {
                ADMIN_ROLE
            } else {
                DEFAULT_ACCESS
            };
            self.assignments.push(SimAssignment {
                id: guid(rng),
                principal_id: g.id.clone(),
                principal_type: "Group".into(),
                app_role_id: role.into(),
            });
        }
        let step = (self.users.len() / (target - via_groups.min(target)).max(1)).max(1);
        for u in self
            .users
            .iter()
            .step_by(step)
            .take(target.saturating_sub(via_groups))
        {
            let role = if u.id.ends_with('0') {
                ADMIN_ROLE
            } else {
                DEFAULT_ACCESS
            };
            self.assignments.push(SimAssignment {
                id: guid(rng),
                principal_id: u.id.clone(),
                principal_type: "User".into(),
                app_role_id: role.into(),
            });
        }
        self.assignments.push(SimAssignment {
            id: guid(rng),
            principal_id: guid(rng),
            principal_type: "ServicePrincipal".into(),
            app_role_id: DEFAULT_ACCESS.into(),
        });
    }

    /// The ground truth: what a correct provider must return.
    pub fn snapshot(&self, provider: &str) -> Snapshot {
        let users = self.users.iter().map(SimUser::to_model).collect();
        let groups = self.groups.iter().map(SimGroup::to_model).collect();
        Snapshot::from_parts(
            provider,
            users,
            groups,
            self.memberships(),
            self.app_assignments(),
        )
    }

    fn memberships(&self) -> Vec<Membership> {
        let mut out = Vec::new();
        for g in &self.groups {
            let mut seen_groups = HashSet::from([g.id.as_str()]);
            let mut seen_users = HashSet::new();
            let mut queue = VecDeque::from([(g.id.as_str(), MembershipKind::Direct)]);
            while let Some((gid, kind)) = queue.pop_front() {
                for m in self.members.get(gid).into_iter().flatten() {
                    match m.kind {
                        MemberType::User if seen_users.insert(m.id.as_str()) => {
                            out.push(Membership {
                                group_id: g.id.clone(),
                                user_id: m.id.clone(),
                                kind,
                            })
                        }
                        MemberType::Group if seen_groups.insert(m.id.as_str()) => {
                            queue.push_back((&m.id, MembershipKind::Transitive))
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }

    fn app_assignments(&self) -> Vec<AppAssignment> {
        let mut out = Vec::new();
        for a in &self.assignments {
            let role = (a.app_role_id != DEFAULT_ACCESS).then(|| a.app_role_id.clone());
            match a.principal_type.as_str() {
                "User" => out.push(AppAssignment {
                    user_id: a.principal_id.clone(),
                    via: AssignedVia::Direct,
                    role,
                }),
                "Group" => {
                    for m in self
                        .members
                        .get(&a.principal_id)
                        .into_iter()
                        .flatten()
                        .filter(|m| m.kind == MemberType::User)
                    {
                        out.push(AppAssignment {
                            user_id: m.id.clone(),
                            via: AssignedVia::Group {
                                group_id: Some(a.principal_id.clone()),
                            },
                            role: role.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Adds a member to the list of group `gi`, if there is such a group.
fn push(lists: &mut [Vec<SimMember>], gi: usize, id: String, kind: MemberType) {
    if let Some(list) = lists.get_mut(gi) {
        list.push(SimMember { id, kind });
    }
}

/// `items[i % len]`: cycles through a constant table (the default for an
/// empty one).
fn nth<T: Copy + Default>(items: &[T], i: usize) -> T {
    items
        .get(i.checked_rem(items.len()).unwrap_or(0))
        .copied()
        .unwrap_or_default()
}

fn gen_user(rng: &mut StdRng, i: usize, spec: &GenSpec, ext: &str) -> SimUser {
    let awkward = spec.awkward && i % 17 == 3;
    let given = if awkward {
        nth(UNICODE_GIVEN, i)
    } else {
        nth(GIVEN, rng.gen_range(0..GIVEN.len()))
    };
    let family = nth(FAMILY, rng.gen_range(0..FAMILY.len()));
    let alias = format!("user{i:06}");
    let guest = spec.awkward && i % 31 == 7;
    let upn = if guest {
        format!("{alias}_partner.example#EXT#@sim.onmicrosoft.com")
    } else {
        format!("{alias}@sim.example")
    };
    let no_mail = spec.awkward && i % 29 == 5;
    let mail = (!no_mail).then(|| {
        if guest {
            format!("{alias}@partner.example")
        } else {
            upn.clone()
        }
    });
    let (city, country) = nth(CITIES, i);
    let mut u = SimUser {
        id: guid(rng),
        display_name: Some(format!("{given} {family}")),
        given_name: Some(given.to_string()),
        surname: Some(family.to_string()),
        job_title: (i % 3 != 0).then(|| "Analyst".to_string()),
        department: Some(nth(DEPTS, i).to_string()),
        office_location: (i % 4 == 0).then(|| format!("Building {}", i % 9)),
        mobile_phone: (i % 5 == 0).then(|| format!("+1 206 555 {:04}", i % 10_000)),
        business_phones: if i % 2 == 0 {
            vec![format!("+1 206 555 {:04}", (i + 1) % 10_000)]
        } else {
            Vec::new()
        },
        employee_id: Some(format!("{:06}", i)),
        account_enabled: rng.gen_range(0..100) >= spec.disabled_percent,
        other_mails: if no_mail && i % 2 == 1 {
            vec![format!("{alias}@home.example")]
        } else {
            Vec::new()
        },
        proxy_addresses: mail.iter().map(|m| format!("SMTP:{m}")).collect(),
        user_type: if guest { "Guest" } else { "Member" }.to_string(),
        on_premises_immutable_id: (i % 2 == 1).then(|| format!("imm{i}")),
        preferred_language: (i % 3 == 1).then(|| "en-US".to_string()),
        city: Some(city.to_string()),
        country: Some(country.to_string()),
        extension_attribute1: (spec.awkward && i % 7 == 0).then(|| format!("badge-{i}")),
        mail,
        user_principal_name: upn,
        extensions: BTreeMap::new(),
    };
    if spec.awkward && i % 11 == 0 {
        u.extensions
            .insert(ext.to_string(), Value::String(format!("CC-{}", i % 50)));
    }
    u
}

fn gen_group(rng: &mut StdRng, i: usize) -> SimGroup {
    let (types, mail, sec): (Vec<String>, bool, bool) = match i % 10 {
        0..=5 => (Vec::new(), false, true),
        6 | 7 => (vec!["Unified".into()], true, false),
        8 => (Vec::new(), true, true),
        _ => (Vec::new(), true, false),
    };
    SimGroup {
        id: guid(rng),
        display_name: format!("SG-{}-{i:04}", nth(DEPTS, i)),
        description: (i % 2 == 0).then(|| format!("Group number {i}")),
        group_types: types,
        mail_enabled: mail,
        security_enabled: sec,
    }
}

impl SimUser {
    /// The model user a correct provider must produce.
    pub fn to_model(&self) -> DirectoryUser {
        let mut u = DirectoryUser::new(self.id.clone(), self.user_principal_name.clone());
        u.external_id = self.on_premises_immutable_id.as_deref().map(Into::into);
        u.display_name = self.display_name.as_deref().map(Into::into);
        u.name = PersonName {
            given_name: self.given_name.as_deref().map(Into::into),
            family_name: self.surname.as_deref().map(Into::into),
            ..PersonName::default()
        };
        u.emails = self
            .mail
            .iter()
            .map(|m| Email {
                value: m.clone(),
                kind: Some("work".into()),
                primary: true,
            })
            .collect();
        for m in &self.other_mails {
            if self.mail.as_deref() != Some(m.as_str()) {
                u.emails.push(Email {
                    value: m.clone(),
                    kind: Some("other".into()),
                    primary: false,
                });
            }
        }
        let phones = self
            .business_phones
            .iter()
            .map(|p| (p, "work"))
            .chain(self.mobile_phone.iter().map(|p| (p, "mobile")));
        u.phone_numbers = phones
            .enumerate()
            .map(|(i, (p, k))| PhoneNumber {
                value: p.clone(),
                kind: Some(k.into()),
                primary: i == 0,
            })
            .collect();
        if self.city.is_some() || self.country.is_some() {
            u.addresses = vec![Address {
                kind: Some("work".into()),
                locality: self.city.as_deref().map(Into::into),
                country: self.country.as_deref().map(Into::into),
                primary: true,
                ..Address::default()
            }];
        }
        u.title = self.job_title.as_deref().map(Into::into);
        u.user_type = Some(self.user_type.as_str().into());
        u.preferred_language = self.preferred_language.as_deref().map(Into::into);
        u.employee_number = self.employee_id.as_deref().map(Into::into);
        u.department = self.department.as_deref().map(Into::into);
        u.status = if self.account_enabled {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        };
        u.custom_attributes = self.custom();
        u
    }

    fn custom(&self) -> directory_core::Attributes {
        let mut c = directory_core::Attributes::from(self.extensions.clone());
        if let Some(o) = &self.office_location {
            c.insert("officeLocation".into(), Value::String(o.clone()));
        }
        if !self.proxy_addresses.is_empty() {
            c.insert(
                "proxyAddresses".into(),
                Value::from(self.proxy_addresses.clone()),
            );
        }
        if let Some(x) = &self.extension_attribute1 {
            c.insert("extensionAttribute1".into(), Value::String(x.clone()));
        }
        c
    }
}

impl SimGroup {
    /// The model group a correct provider must produce.
    pub fn to_model(&self) -> DirectoryGroup {
        let mut g = DirectoryGroup::new(self.id.clone(), self.display_name.clone());
        g.description = self.description.clone();
        g.kind = if self.group_types.iter().any(|t| t == "Unified") {
            GroupKind::Microsoft365
        } else {
            match (self.mail_enabled, self.security_enabled) {
                (false, true) => GroupKind::Security,
                (true, true) => GroupKind::MailEnabledSecurity,
                (true, false) => GroupKind::Distribution,
                (false, false) => {
                    GroupKind::Other("mailEnabled=false,securityEnabled=false".into())
                }
            }
        };
        g
    }
}
