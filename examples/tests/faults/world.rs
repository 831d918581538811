//! One small directory, served by either org, and every way it can change.
//!
//! Six people, three groups: `berlin` and `paris` are mapped to host
//! locations, `legacy` is not. Ada and Bob are assigned to the SSO app
//! directly, the `paris` group is assigned as a group. Each org gets the same
//! people under its own ids; [`World::id`] maps a name to the org's id.

use std::collections::BTreeMap;

use azure_directory::testkit::{MemberType, SimGroup, SimMember, SimulatedTenant, TenantMut};
use directory_core::{
    AppAssignment, AssignedVia, DirectoryData, DirectoryGroup, DirectoryUser, Membership,
    UserStatus,
};
use okta_directory::testkit::OktaOrg;

use crate::orgs::{Kind, Sim};

/// `(name, groups)` of the people at the start.
pub const PEOPLE: &[(&str, &[&str])] = &[
    ("ada", &["berlin"]),
    ("bob", &["berlin", "legacy"]),
    ("cy", &["paris"]),
    ("dee", &["berlin", "paris"]),
    ("eve", &["paris"]),
    ("fay", &["legacy"]),
];
pub const GROUPS: &[&str] = &["berlin", "paris", "legacy"];
/// People assigned to the SSO app directly (the `paris` group is assigned too).
pub const DIRECT_APP_USERS: &[&str] = &["ada", "bob"];

pub fn email(name: &str) -> String {
    format!("{name}@acme.test")
}

fn title(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A simulated org serving the small directory.
pub struct World {
    pub sim: Sim,
    ids: BTreeMap<String, String>,
}

impl World {
    pub async fn start(kind: Kind) -> World {
        match kind {
            Kind::Okta => okta_world().await,
            Kind::Azure => azure_world().await,
        }
    }

    /// The org's id for a person or group name.
    pub fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no one called {name}"))
    }

    /// Removes every person (an app whose assignments were all removed,
    /// or a sync scope that matches no one).
    pub fn remove_everyone(&self) {
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                d.users.clear();
                d.memberships.clear();
                d.app_assignments.clear();
            }),
            Sim::Azure(t) => t.mutate(|m| {
                let ids: Vec<String> = m.data().users.iter().map(|u| u.id.clone()).collect();
                for id in ids {
                    assert!(m.delete_user(&id));
                }
            }),
        }
    }

    /// Adds a person to the directory, in these groups.
    pub fn create_user(&mut self, name: &str, groups: &[&str]) {
        let gids: Vec<String> = groups.iter().map(|g| self.id(g)).collect();
        let id = match &self.sim {
            Sim::Okta(org) => {
                let id = format!("00u{name}");
                let user = okta_user(&id, name);
                org.mutate(|d| {
                    d.users.push(user);
                    d.memberships
                        .extend(gids.iter().map(|g| Membership::direct(g, &id)));
                });
                id
            }
            Sim::Azure(t) => t.mutate(|m| azure_add_user(m, name, &gids)),
        };
        self.ids.insert(name.to_string(), id);
    }

    pub fn rename(&self, name: &str, given: &str, family: &str) {
        let id = self.id(name);
        let display = format!("{given} {family}");
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                if let Some(u) = d.users.iter_mut().find(|u| u.id == id) {
                    u.name.given_name = Some(given.into());
                    u.name.family_name = Some(family.into());
                    u.display_name = Some(display.into());
                }
            }),
            Sim::Azure(t) => assert!(t.mutate(|m| m.update_user(&id, |u| {
                u.given_name = Some(given.into());
                u.surname = Some(family.into());
                u.display_name = Some(display);
            }))),
        }
    }

    pub fn change_email(&self, name: &str, new: &str) {
        let id = self.id(name);
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                if let Some(u) = d.users.iter_mut().find(|u| u.id == id) {
                    for e in u.emails.iter_mut().filter(|e| e.primary) {
                        e.value = new.to_string();
                    }
                }
            }),
            Sim::Azure(t) => assert!(t.mutate(|m| m.update_user(&id, |u| {
                u.mail = Some(new.to_string());
                u.proxy_addresses = vec![format!("SMTP:{new}")];
            }))),
        }
    }

    /// Okta: `SUSPENDED` (or back to `ACTIVE`); Entra: `accountEnabled`.
    pub fn set_suspended(&self, name: &str, suspended: bool) {
        let id = self.id(name);
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                if let Some(u) = d.users.iter_mut().find(|u| u.id == id) {
                    u.status = if suspended {
                        UserStatus::Suspended
                    } else {
                        UserStatus::Active
                    };
                }
            }),
            Sim::Azure(t) => {
                assert!(t.mutate(|m| m.update_user(&id, |u| u.account_enabled = !suspended)))
            }
        }
    }

    /// Okta: `DEPROVISIONED` (still listed, with that status); Entra: the
    /// user is deleted (gone from `/users`).
    pub fn deprovision(&self, name: &str) {
        let id = self.id(name);
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                if let Some(u) = d.users.iter_mut().find(|u| u.id == id) {
                    u.status = UserStatus::Deprovisioned;
                }
            }),
            Sim::Azure(t) => assert!(t.mutate(|m| m.delete_user(&id))),
        }
    }

    pub fn move_user(&self, name: &str, from: &str, to: &str) {
        let (uid, from, to) = (self.id(name), self.id(from), self.id(to));
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                d.memberships
                    .retain(|m| !(m.user_id == uid && m.group_id == from));
                d.memberships.push(Membership::direct(&to, &uid));
                d.app_assignments
                    .retain(|a| !(a.user_id == uid && a.via == via_group(&from)));
            }),
            Sim::Azure(t) => t.mutate(|m| {
                assert!(m.remove_member(&from, &uid));
                assert!(m.add_member(&to, user_member(&uid)));
            }),
        }
    }

    pub fn delete_group(&self, group: &str) {
        let gid = self.id(group);
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                d.groups.retain(|g| g.id != gid);
                d.memberships.retain(|m| m.group_id != gid);
                d.app_assignments.retain(|a| a.via != via_group(&gid));
            }),
            Sim::Azure(t) => assert!(t.mutate(|m| m.delete_group(&gid))),
        }
    }

    /// Removes the person's direct assignment to the SSO app.
    pub fn unassign_app(&self, name: &str) {
        let id = self.id(name);
        match &self.sim {
            Sim::Okta(org) => org.mutate(|d| {
                d.app_assignments
                    .retain(|a| !(a.user_id == id && a.via == AssignedVia::Direct))
            }),
            Sim::Azure(t) => assert!(t.mutate(|m| m.unassign(&id))),
        }
    }
}

fn via_group(gid: &str) -> AssignedVia {
    AssignedVia::Group {
        group_id: Some(gid.to_string()),
    }
}

fn okta_user(id: &str, name: &str) -> DirectoryUser {
    let mut u = DirectoryUser::new(id, email(name)).with_email(email(name), true);
    u.name.given_name = Some(title(name).into());
    u.name.family_name = Some("Tester".into());
    u.display_name = Some(format!("{} Tester", title(name)).into());
    u
}

async fn okta_world() -> World {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut data = DirectoryData::default();
    for g in GROUPS {
        let id = format!("00g{g}");
        data.groups.push(DirectoryGroup::new(&id, title(g)));
        ids.insert(g.to_string(), id);
    }
    for (name, groups) in PEOPLE {
        let id = format!("00u{name}");
        data.users.push(okta_user(&id, name));
        for g in *groups {
            data.memberships.push(Membership::direct(&ids[*g], &id));
        }
        if DIRECT_APP_USERS.contains(name) {
            data.app_assignments.push(AppAssignment::direct(&id));
        }
        if groups.contains(&"paris") {
            data.app_assignments
                .push(AppAssignment::via_group(&id, &ids["paris"]));
        }
        ids.insert(name.to_string(), id);
    }
    let org = OktaOrg::builder()
        .data(data)
        .start()
        .await
        .expect("okta org starts");
    World {
        sim: Sim::Okta(org),
        ids,
    }
}

fn user_member(id: &str) -> SimMember {
    SimMember {
        id: id.to_string(),
        kind: MemberType::User,
    }
}

fn azure_add_user(m: &mut TenantMut<'_>, name: &str, groups: &[String]) -> String {
    let mut u = m.new_user(name);
    u.user_principal_name = email(name);
    u.mail = Some(email(name));
    u.proxy_addresses = vec![format!("SMTP:{}", email(name))];
    u.given_name = Some(title(name));
    u.surname = Some("Tester".into());
    u.display_name = Some(format!("{} Tester", title(name)));
    let id = u.id.clone();
    m.add_user(u);
    for g in groups {
        assert!(m.add_member(g, user_member(&id)));
    }
    id
}

/// Starts a small generated tenant, empties it, and adds the people.
async fn azure_world() -> World {
    let tenant = SimulatedTenant::builder()
        .users(2)
        .groups(1)
        .app_users(1)
        .awkward_data(false)
        .nested_groups(false)
        .rate_limit(None)
        .start()
        .await
        .expect("tenant starts");
    let ids = tenant.mutate(|m| {
        let old_users: Vec<String> = m.data().users.iter().map(|u| u.id.clone()).collect();
        let old_groups: Vec<String> = m.data().groups.iter().map(|g| g.id.clone()).collect();
        for id in old_users {
            m.delete_user(&id);
        }
        for id in old_groups {
            m.delete_group(&id);
        }
        let mut ids = BTreeMap::new();
        for g in GROUPS {
            let id = m.new_id();
            m.add_group(SimGroup {
                id: id.clone(),
                display_name: title(g),
                security_enabled: true,
                ..SimGroup::default()
            });
            ids.insert(g.to_string(), id);
        }
        for (name, groups) in PEOPLE {
            let gids: Vec<String> = groups.iter().map(|g| ids[*g].clone()).collect();
            let id = azure_add_user(m, name, &gids);
            if DIRECT_APP_USERS.contains(name) {
                m.assign(&id, "User", None);
            }
            ids.insert(name.to_string(), id);
        }
        m.assign(&ids["paris"], "Group", None);
        ids
    });
    World {
        sim: Sim::Azure(tenant),
        ids,
    }
}
