//! What a mutation of the simulated org does besides the change itself, as
//! Okta would: `lastUpdated` and `lastMembershipUpdated` stamped on what
//! changed, the memberships and app assignments of deleted users and groups
//! dropped, and System Log events for each change.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use directory_core::{AppAssignment, AssignedVia, DirectoryData, UserStatus};

/// One System Log event, before it is numbered and written as JSON.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) published: DateTime<Utc>,
    pub(crate) event_type: &'static str,
    /// `(type, id, display name)` of each target.
    pub(crate) targets: Vec<(&'static str, String, String)>,
}

/// Applies Okta's side effects of going from `old` to `new` and returns the
/// events they leave in the System Log.
pub(crate) fn settle(
    old: &DirectoryData,
    new: &mut DirectoryData,
    now: DateTime<Utc>,
) -> Vec<Event> {
    cascade(new);
    let mut log = Log {
        now,
        events: Vec::new(),
    };
    log.users(old, new);
    log.groups(old, new);
    log.memberships(old, new);
    log.assignments(old, new);
    log.events
}

/// A deleted user or group leaves no membership or assignment behind.
fn cascade(d: &mut DirectoryData) {
    let users: HashSet<String> = d.users.iter().map(|u| u.id.clone()).collect();
    let groups: HashSet<String> = d.groups.iter().map(|g| g.id.clone()).collect();
    d.memberships
        .retain(|m| users.contains(&m.user_id) && groups.contains(&m.group_id));
    d.app_assignments.retain(|a| {
        users.contains(&a.user_id)
            && match &a.via {
                AssignedVia::Group { group_id: Some(g) } => groups.contains(g),
                _ => true,
            }
    });
}

struct Log {
    now: DateTime<Utc>,
    events: Vec<Event>,
}

fn user_target(id: &str, name: &str) -> (&'static str, String, String) {
    ("User", id.to_string(), name.to_string())
}

fn group_target(id: &str, name: &str) -> (&'static str, String, String) {
    ("UserGroup", id.to_string(), name.to_string())
}

impl Log {
    fn push(&mut self, event_type: &'static str, targets: Vec<(&'static str, String, String)>) {
        self.events.push(Event {
            published: self.now,
            event_type,
            targets,
        });
    }

    fn users(&mut self, old: &DirectoryData, new: &mut DirectoryData) {
        let before: HashMap<&str, _> = old.users.iter().map(|u| (u.id.as_str(), u)).collect();
        for u in &mut new.users {
            let target = vec![user_target(&u.id, &u.user_name)];
            match before.get(u.id.as_str()) {
                None => {
                    u.last_updated = Some(self.now);
                    self.push("user.lifecycle.create", target);
                }
                Some(o) if *o != u => {
                    if o.last_updated == u.last_updated {
                        u.last_updated = Some(self.now);
                    }
                    self.push(user_event(&o.status, &u.status), target);
                }
                Some(_) => {}
            }
        }
        let kept: HashSet<&str> = new.users.iter().map(|u| u.id.as_str()).collect();
        for u in old.users.iter().filter(|u| !kept.contains(u.id.as_str())) {
            let target = vec![user_target(&u.id, &u.user_name)];
            self.push("user.lifecycle.delete.initiated", target.clone());
            self.push("user.lifecycle.delete.completed", target);
        }
    }

    fn groups(&mut self, old: &DirectoryData, new: &mut DirectoryData) {
        let before: HashMap<&str, _> = old.groups.iter().map(|g| (g.id.as_str(), g)).collect();
        for g in &mut new.groups {
            let target = vec![group_target(&g.id, &g.name)];
            let Some(o) = before.get(g.id.as_str()) else {
                g.last_updated = Some(self.now);
                g.last_membership_updated = Some(self.now);
                self.push("group.lifecycle.create", target);
                continue;
            };
            let mut same = (*o).clone();
            same.last_membership_updated = g.last_membership_updated;
            if same != *g {
                if o.last_updated == g.last_updated {
                    g.last_updated = Some(self.now);
                }
                self.push("group.profile.update", target);
            }
        }
        let kept: HashSet<&str> = new.groups.iter().map(|g| g.id.as_str()).collect();
        for g in old.groups.iter().filter(|g| !kept.contains(g.id.as_str())) {
            self.push("group.lifecycle.delete", vec![group_target(&g.id, &g.name)]);
        }
    }

    /// Membership changes of users and groups that still exist (the
    /// memberships a deletion takes along leave no event of their own).
    fn memberships(&mut self, old: &DirectoryData, new: &mut DirectoryData) {
        let pairs = |d: &DirectoryData| -> BTreeSet<(String, String)> {
            d.memberships
                .iter()
                .map(|m| (m.group_id.clone(), m.user_id.clone()))
                .collect()
        };
        let (before, after) = (pairs(old), pairs(new));
        let users: HashSet<&str> = new.users.iter().map(|u| u.id.as_str()).collect();
        let mut touched = HashSet::new();
        for (g, u) in after.difference(&before) {
            touched.insert(g.clone());
            self.push(
                "group.user_membership.add",
                vec![user_target(u, u), group_target(g, g)],
            );
        }
        for (g, u) in before
            .difference(&after)
            .filter(|(_, u)| users.contains(u.as_str()))
        {
            touched.insert(g.clone());
            self.push(
                "group.user_membership.remove",
                vec![user_target(u, u), group_target(g, g)],
            );
        }
        let old_stamp: HashMap<&str, _> = old
            .groups
            .iter()
            .map(|g| (g.id.as_str(), g.last_membership_updated))
            .collect();
        for g in new.groups.iter_mut().filter(|g| touched.contains(&g.id)) {
            if old_stamp.get(g.id.as_str()) == Some(&g.last_membership_updated) {
                g.last_membership_updated = Some(self.now);
            }
        }
    }

    fn assignments(&mut self, old: &DirectoryData, new: &DirectoryData) {
        let set = |d: &DirectoryData| -> BTreeSet<AppAssignment> {
            d.app_assignments.iter().cloned().collect()
        };
        let (before, after) = (set(old), set(new));
        for a in after.difference(&before) {
            let target = vec![user_target(&a.user_id, &a.user_id)];
            self.push("application.user_membership.add", target);
        }
        for a in before.difference(&after) {
            let target = vec![user_target(&a.user_id, &a.user_id)];
            self.push("application.user_membership.remove", target);
        }
    }
}

fn user_event(old: &UserStatus, new: &UserStatus) -> &'static str {
    match (old == new, new) {
        (true, _) => "user.account.update_profile",
        (false, UserStatus::Deprovisioned) => "user.lifecycle.deactivate",
        (false, UserStatus::Suspended) => "user.lifecycle.suspend",
        (false, _) => "user.lifecycle.activate",
    }
}
