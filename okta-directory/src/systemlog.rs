//! Deletions from Okta's System Log (`GET /api/v1/logs`, scope
//! `okta.logs.read`), for incremental rounds with
//! [`system_log(true)`](crate::OktaDirectoryBuilder::system_log).
//!
//! A deleted user or group vanishes from every listing, so no change filter
//! shows it; the log does (`user.lifecycle.delete.completed`,
//! `group.lifecycle.delete`). A round reads it as Okta's polling clients
//! do: `since` the previous round's start less the overlap, `ASCENDING`,
//! following `next` links until a page is short (a polling request always
//! carries a `next` link). Events Okta writes late are read by the next
//! round, whose window overlaps this one.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use directory_core::http::url::Url;
use directory_core::{Error, Page, Result};
use futures::TryStreamExt;
use serde::Deserialize;

use crate::client::next;
use crate::decode::decode_page;
use crate::provider::{okta_time, OktaDirectory, LOGS_SCOPE};

/// The events that say a user or a group is gone.
const USER_DELETED: &str = "user.lifecycle.delete.completed";
const GROUP_DELETED: &str = "group.lifecycle.delete";

/// Events per page (Okta's largest).
const PAGE: usize = 1_000;

/// Pages one round reads at most (10 million events).
const MAX_PAGES: usize = 10_000;

/// Okta keeps System Log events 90 days; a window that starts within a day
/// of that is not trusted (the retention is counted by Okta's clock).
pub(crate) fn retention() -> Duration {
    Duration::days(89)
}

/// Users and groups deleted in a window.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Deletions {
    pub(crate) users: HashSet<String>,
    pub(crate) groups: HashSet<String>,
}

#[derive(Clone, PartialEq, Deserialize)]
struct LogEvent {
    #[serde(rename = "eventType")]
    event_type: String,
    #[serde(default)]
    target: Vec<Target>,
}

#[derive(Clone, PartialEq, Deserialize)]
struct Target {
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl Deletions {
    fn add(&mut self, event: LogEvent) {
        let (set, kind) = match event.event_type.as_str() {
            USER_DELETED => (&mut self.users, "User"),
            GROUP_DELETED => (&mut self.groups, "UserGroup"),
            _ => return,
        };
        set.extend(
            event
                .target
                .into_iter()
                .filter(|t| t.kind == kind)
                .map(|t| t.id),
        );
    }
}

/// Whether a token's grants include the log: Okta lists the granted scopes;
/// a token that lists none was granted what was asked.
pub(crate) fn log_granted(granted: &[String]) -> bool {
    granted.is_empty() || granted.iter().any(|g| g == LOGS_SCOPE)
}

impl OktaDirectory {
    /// Whether this round reads the System Log: asked for and granted.
    pub(crate) async fn log_mode(&self) -> Result<bool> {
        if !self.system_log {
            return Ok(false);
        }
        Ok(log_granted(&self.client.api.tokens().get().await?.granted))
    }

    /// The users and groups deleted since `since`, every page of the log.
    /// A short page is the last (a polling request always carries a next
    /// link).
    pub(crate) async fn deletions(&self, since: DateTime<Utc>) -> Result<Deletions> {
        let what = "Okta System Log page";
        let listing = self.log_url(Some(since), PAGE)?;
        let mut pages = self.client.pages(vec![listing], what, |resp| {
            let events = decode_page(what, &resp.body, |e: LogEvent| e)?;
            let next = if events.len() < PAGE {
                None
            } else {
                next(resp)
            };
            Ok(Page::new(events, next))
        });
        let mut found = Deletions::default();
        let mut read = 0;
        while let Some(events) = pages.try_next().await? {
            read += 1;
            if read > MAX_PAGES {
                return Err(Error::invalid_response(format!(
                    "the Okta System Log sent more than {MAX_PAGES} pages of deletions in one round"
                ))
                .with_provider(self.client.name()));
            }
            events.into_iter().for_each(|e| found.add(e));
        }
        Ok(found)
    }

    /// `GET /api/v1/logs` for the deletion events, oldest first.
    pub(crate) fn log_url(&self, since: Option<DateTime<Utc>>, limit: usize) -> Result<Url> {
        let mut url = self.client.url("api/v1/logs")?;
        let filter = format!("eventType eq \"{USER_DELETED}\" or eventType eq \"{GROUP_DELETED}\"");
        {
            let mut q = url.query_pairs_mut();
            if let Some(since) = since {
                q.append_pair("since", &okta_time(since));
            }
            q.append_pair("filter", &filter)
                .append_pair("sortOrder", "ASCENDING")
                .append_pair("limit", &limit.to_string());
        }
        Ok(url)
    }

    /// `check()`'s word on how deletions are found: the probe's name says
    /// the mode; only a log that was granted but cannot be read is an error.
    pub(crate) async fn log_probe(&self, granted: &[String]) -> (&'static str, Result<()>) {
        if !self.system_log {
            let name = "deletions: found by scheduled full rounds (System Log not requested)";
            return (name, Ok(()));
        }
        if !log_granted(granted) {
            let name = "deletions: found by scheduled full rounds (okta.logs.read not granted)";
            return (name, Ok(()));
        }
        let name = "deletions: read from the System Log (okta.logs.read)";
        (name, self.probe(name, self.log_url(None, 1)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, targets: &[(&str, &str)]) -> LogEvent {
        LogEvent {
            event_type: kind.into(),
            target: targets
                .iter()
                .map(|(k, id)| Target {
                    id: (*id).into(),
                    kind: (*k).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn only_deletion_events_and_their_own_kind_of_target_count() {
        let mut d = Deletions::default();
        d.add(event(
            USER_DELETED,
            &[("User", "00u1"), ("UserGroup", "00gX")],
        ));
        d.add(event(
            GROUP_DELETED,
            &[("UserGroup", "00g1"), ("User", "00uX")],
        ));
        d.add(event(
            "user.lifecycle.delete.initiated",
            &[("User", "00u2")],
        ));
        d.add(event(
            "group.user_membership.remove",
            &[("UserGroup", "00g2")],
        ));
        assert_eq!(d.users, HashSet::from(["00u1".to_string()]));
        assert_eq!(d.groups, HashSet::from(["00g1".to_string()]));
    }

    /// A page of events as the System Log reference documents them (actor,
    /// client, outcome, debug context, targets; one event with no target).
    #[test]
    fn a_documented_log_page_yields_its_deleted_users_and_groups() {
        let body = include_bytes!("../tests/fixtures/system_log.json");
        let events = decode_page("Okta System Log page", body, |e: LogEvent| e).unwrap();
        assert_eq!(events.len(), 4);
        let mut d = Deletions::default();
        events.into_iter().for_each(|e| d.add(e));
        assert_eq!(d.users, HashSet::from(["00u4gone00000000001".to_string()]));
        assert_eq!(d.groups, HashSet::from(["00g4gone00000000001".to_string()]));
    }

    #[test]
    fn a_token_that_lists_its_scopes_must_list_the_log() {
        assert!(log_granted(&[]));
        assert!(log_granted(&["okta.users.read".into(), LOGS_SCOPE.into()]));
        assert!(!log_granted(&["okta.users.read".into()]));
    }
}
