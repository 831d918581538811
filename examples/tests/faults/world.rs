//! One small directory, served by either org, and every way it can change.
//!
//! Six people, three groups: `berlin` and `paris` are mapped to host
//! locations, `legacy` is not. Ada and Bob are assigned to the SSO app
//! directly, the `paris` group is assigned as a group. Each org starts empty
//! and gets the people through the provider-neutral
//! [`Change`]s; [`World::id`] maps a name to its id.

use std::collections::BTreeMap;

use directory_core::testing::{Change, NewUser, OrgSpec, UserUpdate};

use crate::orgs::{start_spec, Kind, Sim};

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
    /// An empty org of this kind, filled with the people through the
    /// provider-neutral changes.
    pub async fn start(kind: Kind) -> World {
        let empty = OrgSpec::default().users(0).groups(0).app_users(0);
        let mut world = World {
            sim: start_spec(kind, &empty).await,
            ids: BTreeMap::new(),
        };
        for g in GROUPS {
            let id = format!("g-{g}");
            world.apply(Change::CreateGroup {
                id: id.clone(),
                name: title(g),
            });
            world.ids.insert(g.to_string(), id);
        }
        for (name, groups) in PEOPLE {
            world.create_user(name, groups);
            if DIRECT_APP_USERS.contains(name) {
                world.apply(Change::AssignApp(world.id(name)));
            }
        }
        world.apply(Change::AssignApp(world.id("paris")));
        world
    }

    /// The org's id for a person or group name.
    pub fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no one called {name}"))
    }

    fn apply(&self, change: Change) {
        let applied = self.sim.apply(&change);
        assert!(applied, "{}: {change:?} did not apply", self.sim.kind());
    }

    fn update(&self, name: &str, update: UserUpdate) {
        let id = self.id(name);
        self.apply(Change::UpdateUser { id, update });
    }

    /// Removes every person (an app whose assignments were all removed,
    /// or a sync scope that matches no one).
    pub fn remove_everyone(&self) {
        for u in self.sim.ground_truth().users {
            self.apply(Change::DeleteUser(u.id));
        }
    }

    /// Adds a person to the directory, in these groups.
    pub fn create_user(&mut self, name: &str, groups: &[&str]) {
        let id = format!("u-{name}");
        let user = NewUser::new(&id, email(name)).name(&title(name), "Tester");
        self.apply(Change::CreateUser(user));
        self.ids.insert(name.to_string(), id.clone());
        for g in groups {
            let (group, user) = (self.id(g), id.clone());
            self.apply(Change::AddMember { group, user });
        }
    }

    pub fn rename(&self, name: &str, given: &str, family: &str) {
        let update = UserUpdate {
            given_name: Some(given.into()),
            family_name: Some(family.into()),
            display_name: Some(format!("{given} {family}")),
            ..UserUpdate::default()
        };
        self.update(name, update);
    }

    pub fn change_email(&self, name: &str, new: &str) {
        let email = Some(new.to_string());
        self.update(
            name,
            UserUpdate {
                email,
                ..UserUpdate::default()
            },
        );
    }

    /// Okta: `SUSPENDED` (or back to `ACTIVE`); Entra: `accountEnabled`.
    pub fn set_suspended(&self, name: &str, suspended: bool) {
        let id = self.id(name);
        self.apply(if suspended {
            Change::SuspendUser(id)
        } else {
            Change::ReactivateUser(id)
        });
    }

    /// Okta: `DEPROVISIONED` (still listed, with that status); Entra: the
    /// user is deleted (gone from `/users`).
    pub fn deprovision(&self, name: &str) {
        self.apply(Change::DeprovisionUser(self.id(name)));
    }

    pub fn move_user(&self, name: &str, from: &str, to: &str) {
        let (uid, from, to) = (self.id(name), self.id(from), self.id(to));
        self.apply(Change::RemoveMember {
            group: from,
            member: uid.clone(),
        });
        self.apply(Change::AddMember {
            group: to,
            user: uid,
        });
    }

    pub fn delete_group(&self, group: &str) {
        self.apply(Change::DeleteGroup(self.id(group)));
    }

    /// Removes the person's direct assignment to the SSO app.
    pub fn unassign_app(&self, name: &str) {
        self.apply(Change::UnassignApp(self.id(name)));
    }
}
