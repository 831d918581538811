//! Incremental rounds for [`ScimDirectory`] from the store's change log.
//!
//! The cursor kept between rounds names the tenant and the last event
//! applied: its sequence number and commit time. A round first checks that
//! the log still holds that very event (a truncated or reset log, a cursor
//! ahead of the log, or a state from another store fails the check and
//! makes a full round that says why), then reads every event after it, and
//! re-reads from the store only the users and groups those events name: the
//! log says *what* changed, the store says *what it is now*.
//!
//! The log position is read before any resource, and that position is what
//! the round keeps, so a write committed while the round runs is either in
//! this round or read again in the next one, never lost.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use directory_core::{
    AppAssignment, CollectOptions, Error, PreviousRound, ProviderRound, Snapshot, UserStatus,
};
use serde::{Deserialize, Serialize};

use crate::events::{Change, Event, EventCursor};
use crate::model::{group_to_model, user_to_model};
use crate::provider::{members_of, ScimDirectory};
use crate::schema::ResourceType;
use crate::store::Store;

/// Events read from the store per request.
const EVENT_PAGE: usize = 1000;

/// What a SCIM round keeps: the tenant and the last event applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LogCursor {
    tenant: String,
    seq: u64,
    at: Option<DateTime<Utc>>,
}

impl LogCursor {
    fn after(tenant: &str, last: Option<&Event>, before: Option<&LogCursor>) -> LogCursor {
        match last {
            Some(e) => LogCursor {
                tenant: tenant.to_string(),
                seq: e.seq,
                at: Some(e.at),
            },
            None => before.cloned().unwrap_or_else(|| LogCursor {
                tenant: tenant.to_string(),
                seq: 0,
                at: None,
            }),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The users and groups a run of events names.
#[derive(Debug, Default)]
struct Touched {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl Touched {
    fn from_events(events: &[Event]) -> Touched {
        let mut t = Touched::default();
        for e in events {
            t.add(&e.change);
        }
        t
    }

    fn add(&mut self, change: &Change) {
        match change {
            Change::UserCreated { user }
            | Change::UserUpdated { user }
            | Change::UserDeactivated { user }
            | Change::UserReactivated { user } => self.users.insert(user.id.clone()),
            Change::UserDeleted { user_id } => self.users.insert(user_id.clone()),
            Change::GroupCreated { group } | Change::GroupUpdated { group } => {
                self.groups.insert(group.id.clone())
            }
            Change::GroupDeleted { group_id }
            | Change::NestedGroupsChanged { group_id }
            | Change::MembershipAdded { group_id, .. }
            | Change::MembershipRemoved { group_id, .. } => self.groups.insert(group_id.clone()),
        };
    }
}

impl ScimDirectory {
    /// One round: incremental from `previous` when the log proves nothing
    /// was missed, full otherwise.
    pub(crate) async fn log_round(
        &self,
        previous: Option<PreviousRound<'_>>,
        options: &CollectOptions,
    ) -> Result<ProviderRound, Error> {
        let Some(p) = previous else {
            return self.full_round(None, options).await;
        };
        match self.check_cursor(p.cursor).await? {
            Ok(cursor) => self.incremental_round(p.snapshot, cursor).await,
            Err(reason) => self.full_round(Some(reason), options).await,
        }
    }

    async fn full_round(
        &self,
        reason: Option<String>,
        options: &CollectOptions,
    ) -> Result<ProviderRound, Error> {
        let last = self.store.last_event(self.tenant()).await?;
        let cursor = LogCursor::after(self.tenant(), last.as_ref(), None);
        let snapshot = Snapshot::collect(self, options).await?;
        Ok(ProviderRound {
            cursor: cursor.to_json(),
            full_reason: reason,
            ..ProviderRound::full(snapshot)
        })
    }

    async fn incremental_round(
        &self,
        previous: &Snapshot,
        cursor: LogCursor,
    ) -> Result<ProviderRound, Error> {
        let events = self.events_after(EventCursor(cursor.seq)).await?;
        let next = LogCursor::after(self.tenant(), events.last(), Some(&cursor));
        let touched = Touched::from_events(&events);
        let snapshot = self.apply(previous, touched).await?;
        Ok(ProviderRound {
            snapshot,
            cursor: next.to_json(),
            incremental: true,
            full_reason: None,
            requests: None,
        })
    }

    /// `Ok(Ok(cursor))` when the log still holds the cursor's event;
    /// `Ok(Err(reason))` when the round must be full.
    async fn check_cursor(
        &self,
        value: &serde_json::Value,
    ) -> Result<Result<LogCursor, String>, Error> {
        let Ok(cursor) = serde_json::from_value::<LogCursor>(value.clone()) else {
            return Ok(Err("the state holds no SCIM change-log position".into()));
        };
        if cursor.tenant != self.tenant() {
            return Ok(Err(format!(
                "the state is of SCIM tenant {}, not {}",
                cursor.tenant,
                self.tenant()
            )));
        }
        Ok(self.anchor_holds(&cursor).await?.map(|()| cursor))
    }

    /// Whether the event the cursor names is still in the log, unchanged.
    async fn anchor_holds(&self, cursor: &LogCursor) -> Result<Result<(), String>, Error> {
        let Some(before) = cursor.seq.checked_sub(1) else {
            return Ok(match cursor.at {
                None => Ok(()),
                Some(_) => Err("the state's change-log position is not valid".into()),
            });
        };
        let found = self
            .store
            .events(self.tenant(), EventCursor(before), 1)
            .await?;
        let seq = cursor.seq;
        Ok(match found.first() {
            None => Err(format!(
                "the state is at event {seq}, ahead of the change log (a reset or another store)"
            )),
            Some(e) if e.seq == seq && Some(e.at) == cursor.at => Ok(()),
            Some(_) => Err(format!(
                "the change log no longer holds event {seq} as the state saw it \
                 (truncated, reset, or another store)"
            )),
        })
    }

    /// Every event of the tenant after `after`, oldest first.
    async fn events_after(&self, mut after: EventCursor) -> Result<Vec<Event>, Error> {
        let mut out = Vec::new();
        loop {
            let page = self.store.events(self.tenant(), after, EVENT_PAGE).await?;
            let done = page.len() < EVENT_PAGE;
            if let Some(last) = page.last() {
                after = EventCursor(last.seq);
            }
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// The previous snapshot with every touched user and group re-read.
    async fn apply(&self, previous: &Snapshot, touched: Touched) -> Result<Snapshot, Error> {
        let groups = ancestors_too(self.store.as_ref(), self.tenant(), touched.groups).await?;
        let mut users = previous.users.clone();
        let mut assignments = previous.app_assignments.clone();
        users.retain(|u| !touched.users.contains(&u.id));
        assignments.retain(|a| !touched.users.contains(&a.user_id));
        for id in &touched.users {
            self.reread_user(id, &mut users, &mut assignments).await?;
        }
        let mut all_groups = previous.groups.clone();
        let mut memberships = previous.memberships.clone();
        all_groups.retain(|g| !groups.contains(&g.id));
        memberships.retain(|m| !groups.contains(&m.group_id));
        for id in &groups {
            let Some(r) = self
                .store
                .get(self.tenant(), ResourceType::Group, id)
                .await?
            else {
                continue;
            };
            all_groups.push(group_to_model(&r.id, &r.body, r.last_modified));
            memberships.extend(members_of(self.store.as_ref(), self.tenant(), id).await?);
        }
        let provider = previous.provider.clone();
        Ok(Snapshot::from_parts(
            provider,
            users,
            all_groups,
            memberships,
            assignments,
        ))
    }

    async fn reread_user(
        &self,
        id: &str,
        users: &mut Vec<directory_core::DirectoryUser>,
        assignments: &mut Vec<AppAssignment>,
    ) -> Result<(), Error> {
        let Some(r) = self
            .store
            .get(self.tenant(), ResourceType::User, id)
            .await?
        else {
            return Ok(());
        };
        let user = user_to_model(&r.id, &r.body, r.last_modified);
        if user.status == UserStatus::Active {
            assignments.push(AppAssignment::direct(&user.id));
        }
        users.push(user);
        Ok(())
    }
}

/// `groups` and every group that nests one of them, at any depth: their
/// transitive members change with them.
async fn ancestors_too(
    store: &dyn Store,
    tenant: &str,
    groups: BTreeSet<String>,
) -> Result<BTreeSet<String>, Error> {
    let mut queue: Vec<String> = groups.iter().cloned().collect();
    let mut out = groups;
    while let Some(id) = queue.pop() {
        for parent in store.groups_with_member(tenant, &id).await? {
            if out.insert(parent.id.clone()) {
                queue.push(parent.id);
            }
        }
    }
    Ok(out)
}
