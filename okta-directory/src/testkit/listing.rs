//! The org's directory, indexed for paging, and Okta's list endpoints:
//! `limit` capped per endpoint, an opaque `after` cursor, `Link` headers
//! (one per relation), and the `filter` expressions a sync uses.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use directory_core::http::url::form_urlencoded;
use directory_core::{DirectoryData, DirectoryGroup, DirectoryUser};
use serde::Serialize;

use super::faults::FaultKind;
use super::server::Reply;
use super::wire::{app_user_json, group_json, okta_status, user_json};

/// The directory with the indexes paging needs.
pub(crate) struct Directory {
    pub(crate) data: DirectoryData,
    /// Group id -> positions of its members in `data.users` (sorted by id).
    members: HashMap<String, Vec<usize>>,
}

/// What a list request asked for.
pub(crate) struct PageCtx<'a> {
    pub(crate) base: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) fault: Option<&'a FaultKind>,
}

impl PageCtx<'_> {
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    pub(crate) fn limit(&self, default: usize, max: usize) -> usize {
        self.param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(default)
            .clamp(1, max)
    }
}

/// One `attr op "value"` term of an Okta filter; terms are joined by `or`.
pub(crate) struct Term {
    pub(crate) attr: String,
    pub(crate) op: String,
    pub(crate) value: String,
}

pub(crate) fn parse_filter(f: &str) -> Option<Vec<Term>> {
    f.split(" or ")
        .map(|t| {
            let mut it = t.trim().splitn(3, ' ');
            let (attr, op, value) = (it.next()?, it.next()?, it.next()?);
            let value = value.strip_prefix('"')?.strip_suffix('"')?;
            matches!(op, "eq" | "gt" | "ge" | "lt" | "le").then(|| Term {
                attr: attr.to_string(),
                op: op.to_string(),
                value: value.to_string(),
            })
        })
        .collect()
}

fn time_matches(t: Option<&DateTime<Utc>>, op: &str, value: &str) -> bool {
    let (Some(t), Ok(v)) = (t, DateTime::parse_from_rfc3339(value)) else {
        return false;
    };
    let v = v.with_timezone(&Utc);
    match op {
        "gt" => *t > v,
        "ge" => *t >= v,
        "lt" => *t < v,
        "le" => *t <= v,
        _ => *t == v,
    }
}

fn user_matches(u: &DirectoryUser, terms: &[Term]) -> bool {
    terms.iter().any(|t| match t.attr.as_str() {
        "status" => okta_status(&u.status) == t.value,
        "id" => u.id == t.value,
        "profile.login" => u.user_name == t.value,
        "lastUpdated" => time_matches(u.last_updated.as_ref(), &t.op, &t.value),
        _ => false,
    })
}

fn group_matches(g: &DirectoryGroup, terms: &[Term]) -> bool {
    terms.iter().any(|t| match t.attr.as_str() {
        "id" => g.id == t.value,
        "lastUpdated" => time_matches(g.last_updated.as_ref(), &t.op, &t.value),
        "lastMembershipUpdated" => {
            time_matches(g.last_membership_updated.as_ref(), &t.op, &t.value)
        }
        _ => false,
    })
}

fn bad_filter() -> Reply {
    Reply::api_error(400, "E0000031", "Invalid search criteria.")
}

/// A users page body.
pub(crate) fn users_body(users: &[DirectoryUser], base: &str) -> Vec<u8> {
    array(users.iter().map(|u| user_json(u, base)))
}

/// Serializes items as a JSON array into one buffer.
fn array<T: Serialize>(items: impl Iterator<Item = T>) -> Vec<u8> {
    let mut buf = vec![b'['];
    for (i, item) in items.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let _ = serde_json::to_writer(&mut buf, &item);
    }
    buf.push(b']');
    buf
}

impl Directory {
    pub(crate) fn new(mut data: DirectoryData) -> Self {
        normalize_times(&mut data);
        data.users.sort_by(|a, b| a.id.cmp(&b.id));
        data.users.dedup_by(|a, b| a.id == b.id);
        data.groups.sort_by(|a, b| a.id.cmp(&b.id));
        data.groups.dedup_by(|a, b| a.id == b.id);
        data.memberships.sort();
        data.memberships.dedup();
        data.app_assignments.sort();
        data.app_assignments.dedup();
        let pos: HashMap<&str, usize> = data
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id.as_str(), i))
            .collect();
        let mut members: HashMap<String, Vec<usize>> = HashMap::new();
        for m in &data.memberships {
            if let Some(&i) = pos.get(m.user_id.as_str()) {
                members.entry(m.group_id.clone()).or_default().push(i);
            }
        }
        for v in members.values_mut() {
            v.sort_unstable();
        }
        Self { data, members }
    }

    pub(crate) fn users(&self, ctx: &PageCtx<'_>) -> Reply {
        let limit = ctx.limit(200, 200);
        let terms = match ctx.param("filter").map(|f| parse_filter(&f)) {
            Some(None) => return bad_filter(),
            Some(Some(t)) => Some(t),
            None => None,
        };
        // The plain list omits DEPROVISIONED users; a filter decides alone.
        let keep = |u: &&DirectoryUser| match &terms {
            Some(t) => user_matches(u, t),
            None => u.status != directory_core::UserStatus::Deprovisioned,
        };
        let users = &self.data.users;
        let start = ctx
            .param("after")
            .map_or(0, |a| users.partition_point(|u| u.id <= a));
        let mut it = users.iter().skip(start).filter(keep);
        let page: Vec<&DirectoryUser> = it.by_ref().take(limit).collect();
        let more = it.next().is_some();
        let next = more.then(|| page.last().map(|u| u.id.clone())).flatten();
        let body = array(page.iter().map(|u| user_json(u, ctx.base)));
        paged(ctx, body, next, limit)
    }

    pub(crate) fn groups(&self, ctx: &PageCtx<'_>) -> Reply {
        let limit = ctx.limit(10_000, 10_000);
        let terms = match ctx.param("filter").map(|f| parse_filter(&f)) {
            Some(None) => return bad_filter(),
            Some(Some(t)) => Some(t),
            None => None,
        };
        let groups = &self.data.groups;
        let start = ctx
            .param("after")
            .map_or(0, |a| groups.partition_point(|g| g.id <= a));
        let mut it = groups
            .iter()
            .skip(start)
            .filter(|g| terms.as_ref().is_none_or(|t| group_matches(g, t)));
        let page: Vec<&DirectoryGroup> = it.by_ref().take(limit).collect();
        let more = it.next().is_some();
        let next = more.then(|| page.last().map(|g| g.id.clone())).flatten();
        let body = array(page.iter().map(|g| group_json(g, ctx.base)));
        paged(ctx, body, next, limit)
    }

    pub(crate) fn members(&self, ctx: &PageCtx<'_>, gid: &str) -> Reply {
        if self
            .data
            .groups
            .binary_search_by(|g| g.id.as_str().cmp(gid))
            .is_err()
        {
            return Reply::api_error(
                404,
                "E0000007",
                &format!("Not found: Resource not found: {gid} (UserGroup)"),
            );
        }
        let limit = ctx.limit(1_000, 1_000);
        let all: &[usize] = self.members.get(gid).map_or(&[], Vec::as_slice);
        let users = &self.data.users;
        let start = ctx.param("after").map_or(0, |a| {
            all.partition_point(|&i| users.get(i).is_some_and(|u| u.id <= a))
        });
        let end = start.saturating_add(limit).min(all.len());
        let page = all.get(start..end).unwrap_or_default();
        let page: Vec<&DirectoryUser> = page.iter().filter_map(|&i| users.get(i)).collect();
        let next = (end < all.len())
            .then(|| page.last().map(|u| u.id.clone()))
            .flatten();
        let body = array(page.iter().map(|u| user_json(u, ctx.base)));
        paged(ctx, body, next, limit)
    }

    pub(crate) fn app_users(&self, ctx: &PageCtx<'_>, app: &str) -> Reply {
        let limit = ctx.limit(50, 500);
        let all = &self.data.app_assignments;
        let start = ctx
            .param("after")
            .and_then(|a| a.parse::<usize>().ok())
            .unwrap_or(0)
            .min(all.len());
        let end = (start + limit).min(all.len());
        let next = (end < all.len()).then(|| end.to_string());
        let body = array(
            all.get(start..end)
                .unwrap_or_default()
                .iter()
                .map(|a| app_user_json(a, ctx.base, app)),
        );
        paged(ctx, body, next, limit)
    }
}

/// Okta keeps timestamps to the millisecond; so does the simulated org.
fn normalize_times(data: &mut DirectoryData) {
    let ms = |t: &mut Option<DateTime<Utc>>| *t = t.map(|t| t.trunc_subsecs(3));
    data.users.iter_mut().for_each(|u| ms(&mut u.last_updated));
    for g in &mut data.groups {
        ms(&mut g.last_updated);
        ms(&mut g.last_membership_updated);
    }
}

/// A page with `Link` headers (self, and next when there is more), with the
/// page faults applied.
fn paged(ctx: &PageCtx<'_>, body: Vec<u8>, next_after: Option<String>, limit: usize) -> Reply {
    let this = format!("{}{}?{}", ctx.base, ctx.path, ctx.query);
    let link_to = |after: &str, extra: Option<(&str, &str)>| -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("limit", &limit.to_string());
        q.append_pair("after", after);
        if let Some(f) = ctx.param("filter") {
            q.append_pair("filter", &f);
        }
        if let Some((k, v)) = extra {
            q.append_pair(k, v);
        }
        format!("{}{}?{}", ctx.base, ctx.path, q.finish())
    };
    let mut reply = Reply::empty(200);
    reply
        .headers
        .push(("content-type", "application/json".into()));
    reply
        .headers
        .push(("link", format!("<{this}>; rel=\"self\"")));
    let current_after = ctx.param("after").unwrap_or_default();
    let (body, next) = match ctx.fault {
        Some(FaultKind::EmptyPage) => (
            b"[]".to_vec(),
            Some(link_to(&current_after, Some(("page", "empty")))),
        ),
        Some(FaultKind::CyclicNext) => (body, Some(this.clone())),
        Some(FaultKind::ForeignNext) => {
            let foreign = link_to(next_after.as_deref().unwrap_or("x"), None).replacen(
                "127.0.0.1",
                "127.0.0.2",
                1,
            );
            (body, Some(foreign))
        }
        _ => (body, next_after.map(|a| link_to(&a, None))),
    };
    if let Some(n) = next {
        reply.headers.push(("link", format!("<{n}>; rel=\"next\"")));
    }
    reply.body = body;
    reply
}
