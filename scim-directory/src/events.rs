//! The ordered change log a host reads from a cursor.
//!
//! Every write the SCIM service accepts appends its changes in the same
//! transaction as the write, so the log and the directory never disagree. A
//! request that changes nothing (Entra's periodic `active: true`) writes and
//! appends nothing; every write appends at least one change (a write to an
//! attribute the directory model does not map is a `UserUpdated` or
//! `GroupUpdated`, since it moves `last_updated`), so a reader that re-reads
//! what the log names misses no write.

use chrono::{DateTime, Utc};
use directory_core::{DirectoryGroup, DirectoryUser};
use serde::{Deserialize, Serialize};

/// One change to a tenant's directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A user was created (POST).
    UserCreated {
        /// The user as stored.
        user: DirectoryUser,
    },
    /// A user's attributes changed.
    UserUpdated {
        /// The user after the change.
        user: DirectoryUser,
    },
    /// A user went from active to `active: false` (Okta deactivation, Entra
    /// disable or soft delete). Other attribute changes in the same request
    /// are in `user`.
    UserDeactivated {
        /// The user after the change.
        user: DirectoryUser,
    },
    /// A user went from `active: false` back to active.
    UserReactivated {
        /// The user after the change.
        user: DirectoryUser,
    },
    /// A user was deleted (DELETE: Entra hard delete).
    UserDeleted {
        /// The deleted user's id.
        user_id: String,
    },
    /// A group was created.
    GroupCreated {
        /// The group as stored.
        group: DirectoryGroup,
    },
    /// A group's own attributes changed (its name).
    GroupUpdated {
        /// The group after the change.
        group: DirectoryGroup,
    },
    /// The groups nested in a group changed (a member of type Group was
    /// added or removed): the group's transitive members may have changed.
    NestedGroupsChanged {
        /// The id of the group whose nested groups changed.
        group_id: String,
    },
    /// A group was deleted.
    GroupDeleted {
        /// The deleted group's id.
        group_id: String,
    },
    /// A user became a direct member of a group. (Membership through a
    /// nested group is not logged; a snapshot lists it as transitive.)
    MembershipAdded {
        /// The group's id.
        group_id: String,
        /// The user's id.
        user_id: String,
    },
    /// A user stopped being a member of a group.
    MembershipRemoved {
        /// The group's id.
        group_id: String,
        /// The user's id.
        user_id: String,
    },
}

/// A change with its place in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the store's log; strictly increasing.
    pub seq: u64,
    /// The tenant whose directory changed.
    pub tenant: String,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// What changed.
    pub change: Change,
}

/// Where a reader is in the log. [`EventCursor::START`] reads from the start.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct EventCursor(pub u64);

impl EventCursor {
    /// Before the first event.
    pub const START: EventCursor = EventCursor(0);
}

/// A page of events and the cursor to read the next page from.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// Events after the cursor, oldest first.
    pub events: Vec<Event>,
    /// Pass this to read what follows (equal to the input cursor when empty).
    pub next: EventCursor,
}
