//! Changing the simulated directory between syncs. Every change is logged
//! with a version, which is what the simulated delta queries read.

use super::data::{guid, SimAssignment, SimGroup, SimMember, SimUser, TenantData, DEFAULT_ACCESS};

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    User(String),
    Group(String),
    Member {
        group: String,
        member: SimMember,
        removed: bool,
    },
}

/// The change log: a version per change.
#[derive(Debug, Default)]
pub(crate) struct ChangeLog {
    pub version: u64,
    pub events: Vec<(u64, Change)>,
}

impl ChangeLog {
    fn push(&mut self, c: Change) {
        self.version += 1;
        self.events.push((self.version, c));
    }

    /// The changes after `since`, up to and including `until`.
    pub fn between(&self, since: u64, until: u64) -> impl Iterator<Item = &Change> {
        let start = self.events.partition_point(|(v, _)| *v <= since);
        self.events
            .iter()
            .skip(start)
            .take_while(move |(v, _)| *v <= until)
            .map(|(_, c)| c)
    }
}

/// A handle to change the directory; see `TenantHandle::mutate`.
pub struct TenantMut<'a> {
    pub(crate) data: &'a mut TenantData,
    pub(crate) log: &'a mut ChangeLog,
    pub(crate) rng: &'a mut rand::rngs::StdRng,
}

impl TenantMut<'_> {
    /// The directory as it is now.
    pub fn data(&self) -> &TenantData {
        self.data
    }

    /// A fresh object id.
    pub fn new_id(&mut self) -> String {
        guid(self.rng)
    }

    /// A plausible new enabled user named `alias@sim.example` (not added yet).
    pub fn new_user(&mut self, alias: &str) -> SimUser {
        let upn = format!("{alias}@sim.example");
        SimUser {
            id: self.new_id(),
            user_principal_name: upn.clone(),
            mail: Some(upn.clone()),
            display_name: Some(alias.to_string()),
            account_enabled: true,
            proxy_addresses: vec![format!("SMTP:{upn}")],
            user_type: "Member".into(),
            ..SimUser::default()
        }
    }

    /// Adds a user.
    pub fn add_user(&mut self, user: SimUser) {
        self.log.push(Change::User(user.id.clone()));
        self.data.users.push(user);
    }

    /// Changes a user; false if there is none with this id.
    pub fn update_user(&mut self, id: &str, f: impl FnOnce(&mut SimUser)) -> bool {
        let Some(u) = self.data.users.iter_mut().find(|u| u.id == id) else {
            return false;
        };
        f(u);
        self.log.push(Change::User(id.to_string()));
        true
    }

    /// Deletes a user, their memberships and direct app assignments.
    pub fn delete_user(&mut self, id: &str) -> bool {
        let before = self.data.users.len();
        self.data.users.retain(|u| u.id != id);
        if before == self.data.users.len() {
            return false;
        }
        self.remove_from_all_groups(id);
        self.data.assignments.retain(|a| a.principal_id != id);
        self.log.push(Change::User(id.to_string()));
        true
    }

    /// Adds a group (without members).
    pub fn add_group(&mut self, group: SimGroup) {
        self.log.push(Change::Group(group.id.clone()));
        self.data.members.insert(group.id.clone(), Vec::new());
        self.data.groups.push(group);
    }

    /// Changes a group; false if there is none with this id.
    pub fn update_group(&mut self, id: &str, f: impl FnOnce(&mut SimGroup)) -> bool {
        let Some(g) = self.data.groups.iter_mut().find(|g| g.id == id) else {
            return false;
        };
        f(g);
        self.log.push(Change::Group(id.to_string()));
        true
    }

    /// Deletes a group, its place in other groups and its app assignments.
    pub fn delete_group(&mut self, id: &str) -> bool {
        let before = self.data.groups.len();
        self.data.groups.retain(|g| g.id != id);
        if before == self.data.groups.len() {
            return false;
        }
        self.data.members.remove(id);
        self.remove_from_all_groups(id);
        self.data.assignments.retain(|a| a.principal_id != id);
        self.log.push(Change::Group(id.to_string()));
        true
    }

    /// Adds a direct member to a group; false if the group does not exist
    /// or already has it.
    pub fn add_member(&mut self, group: &str, member: SimMember) -> bool {
        let Some(list) = self.data.members.get_mut(group) else {
            return false;
        };
        if list.iter().any(|m| m.id == member.id) {
            return false;
        }
        list.push(member.clone());
        self.log.push(Change::Member {
            group: group.to_string(),
            member,
            removed: false,
        });
        true
    }

    /// Removes a direct member from a group.
    pub fn remove_member(&mut self, group: &str, member_id: &str) -> bool {
        let Some(list) = self.data.members.get_mut(group) else {
            return false;
        };
        let Some(pos) = list.iter().position(|m| m.id == member_id) else {
            return false;
        };
        let member = list.remove(pos);
        self.log.push(Change::Member {
            group: group.to_string(),
            member,
            removed: true,
        });
        true
    }

    /// Assigns a user (`"User"`) or group (`"Group"`) to the SSO app; `role`
    /// `None` is default access.
    pub fn assign(&mut self, principal_id: &str, principal_type: &str, role: Option<&str>) {
        let id = self.new_id();
        self.data.assignments.push(SimAssignment {
            id,
            principal_id: principal_id.to_string(),
            principal_type: principal_type.to_string(),
            app_role_id: role.unwrap_or(DEFAULT_ACCESS).to_string(),
        });
    }

    /// Removes every assignment of this principal.
    pub fn unassign(&mut self, principal_id: &str) -> bool {
        let before = self.data.assignments.len();
        self.data
            .assignments
            .retain(|a| a.principal_id != principal_id);
        before != self.data.assignments.len()
    }

    fn remove_from_all_groups(&mut self, member_id: &str) {
        let groups: Vec<String> = self
            .data
            .members
            .iter()
            .filter(|(_, list)| list.iter().any(|m| m.id == member_id))
            .map(|(g, _)| g.clone())
            .collect();
        for g in groups {
            self.remove_member(&g, member_id);
        }
    }
}
