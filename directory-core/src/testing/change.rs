//! Provider-neutral changes to a simulated directory
//! ([`super::SimulatedDirectory::apply`]).

use crate::snapshot::Snapshot;

/// A user to create: active, in no group, not assigned to the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// The id (any URL-safe text not taken in the directory).
    pub id: String,
    /// The login (Okta `login`, Entra `userPrincipalName`).
    pub user_name: String,
    /// The primary email.
    pub email: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Name to show.
    pub display_name: Option<String>,
}

impl NewUser {
    /// A user with this id and login, and the login as primary email.
    pub fn new(id: impl Into<String>, user_name: impl Into<String>) -> Self {
        let user_name = user_name.into();
        Self {
            id: id.into(),
            email: Some(user_name.clone()),
            user_name,
            ..Self::default()
        }
    }

    /// Sets the given and family name, and `"{given} {family}"` as the
    /// name to show.
    pub fn name(mut self, given: &str, family: &str) -> Self {
        self.given_name = Some(given.to_string());
        self.family_name = Some(family.to_string());
        self.display_name = Some(format!("{given} {family}"));
        self
    }
}

/// What a [`Change::UpdateUser`] sets; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Name to show.
    pub display_name: Option<String>,
    /// The primary email.
    pub email: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
}

/// One change an admin makes, in terms every simulated organisation can
/// apply. Ids are the organisation's own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Creates an active user.
    CreateUser(NewUser),
    /// Changes a user's attributes.
    UpdateUser {
        /// The user.
        id: String,
        /// What changes.
        update: UserUpdate,
    },
    /// Suspends a user (Okta `SUSPENDED`; Entra: sign-in blocked).
    SuspendUser(String),
    /// Lets a suspended or deprovisioned user sign in again.
    ReactivateUser(String),
    /// Deprovisions a user (Okta `DEPROVISIONED`, still listed; Entra has
    /// no such state: the user is deleted).
    DeprovisionUser(String),
    /// Deletes a user, with their memberships and app assignments.
    DeleteUser(String),
    /// Adds a user to a group directly (and, where the group is assigned to
    /// the app, to the app through it).
    AddMember {
        /// The group.
        group: String,
        /// The user.
        user: String,
    },
    /// Removes a direct member from a group.
    RemoveMember {
        /// The group.
        group: String,
        /// The member.
        member: String,
    },
    /// Creates an empty group.
    CreateGroup {
        /// The id (any URL-safe text not taken in the directory).
        id: String,
        /// Its name.
        name: String,
    },
    /// Renames a group.
    RenameGroup {
        /// The group.
        id: String,
        /// The new name.
        name: String,
    },
    /// Deletes a group, with its memberships and the app assignments made
    /// through it.
    DeleteGroup(String),
    /// Assigns a user, or a group's members, to the SSO app (default
    /// access). Okta's simulated org keeps assignments per user: a group
    /// with no members assigns no one.
    AssignApp(String),
    /// Removes a user's direct assignment, or a group's, from the SSO app.
    UnassignApp(String),
}

impl Change {
    /// How many kinds of change [`Change::arbitrary`] picks among.
    pub const KINDS: usize = 13;

    /// A change picked by numbers, for property tests: kind `which %`
    /// [`Change::KINDS`] acting on the `a`-th user or group of `truth` (and
    /// the `b`-th group or member), modulo their counts; `serial` makes
    /// new ids and names unique. `None` when `truth` has nothing to act on.
    pub fn arbitrary(
        which: usize,
        a: usize,
        b: usize,
        truth: &Snapshot,
        serial: usize,
    ) -> Option<Change> {
        let user = nth(&truth.users, a).map(|u| u.id.clone());
        let group = nth(&truth.groups, a).map(|g| g.id.clone());
        Some(match which % Self::KINDS {
            0 => Change::CreateUser(
                NewUser::new(format!("sim-u{serial}"), format!("new{serial}@sim.example"))
                    .name("New", &format!("User {serial}")),
            ),
            1 => Change::UpdateUser {
                id: user?,
                update: UserUpdate {
                    title: Some(format!("Title {serial}")),
                    department: Some(format!("Dept {serial}")),
                    ..UserUpdate::default()
                },
            },
            2 => Change::SuspendUser(user?),
            3 => Change::ReactivateUser(user?),
            4 => Change::DeprovisionUser(user?),
            5 => Change::DeleteUser(user?),
            6 => Change::AddMember {
                group: nth(&truth.groups, b)?.id.clone(),
                user: user?,
            },
            7 => {
                let m = nth(&truth.memberships, a)?;
                Change::RemoveMember {
                    group: m.group_id.clone(),
                    member: m.user_id.clone(),
                }
            }
            8 => Change::CreateGroup {
                id: format!("sim-g{serial}"),
                name: format!("Team {serial}"),
            },
            9 => Change::RenameGroup {
                id: group?,
                name: format!("Renamed {serial}"),
            },
            10 => Change::DeleteGroup(group?),
            11 if b % 2 == 0 => Change::AssignApp(group?),
            11 => Change::AssignApp(user?),
            _ => Change::UnassignApp(nth(&truth.app_assignments, a)?.user_id.clone()),
        })
    }

    /// Whether the change deletes a user or a group (on Entra,
    /// [`Change::DeprovisionUser`] deletes too).
    pub fn deletes(&self) -> bool {
        matches!(self, Change::DeleteUser(_) | Change::DeleteGroup(_))
    }
}

fn nth<T>(items: &[T], i: usize) -> Option<&T> {
    items.get(i.checked_rem(items.len())?)
}
