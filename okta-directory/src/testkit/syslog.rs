//! The simulated org's System Log (`GET /api/v1/logs`): the events the
//! mutations caused, kept 90 days, read with `since`, `until`, `filter`
//! (`eventType eq "..."` joined by `or`), `limit` (100 by default, at most
//! 1,000) and an opaque `after` cursor in `Link` headers. A polling request
//! (no `until`) always gets a `next` link, as Okta's does; a bounded one
//! gets one only while more events match.

use chrono::{DateTime, Duration, Utc};
use directory_core::http::url::form_urlencoded;
use serde_json::{json, Value};

use super::changes::Event;
use super::listing::{parse_filter, PageCtx, Term};
use super::server::Reply;
use super::wire::okta_time;

/// How long Okta keeps System Log events.
pub(crate) const RETENTION_DAYS: i64 = 90;

/// The events in the order they were written, each with its number.
#[derive(Debug, Default)]
pub(crate) struct SystemLog {
    events: Vec<(u64, Event)>,
}

impl SystemLog {
    /// Writes events, numbering them on.
    pub(crate) fn append(&mut self, events: Vec<Event>) {
        let first = self.events.last().map_or(1, |(n, _)| n + 1);
        self.events.extend((first..).zip(events));
    }

    /// Moves every event `by` into the past (tests of retention and gaps).
    pub(crate) fn age(&mut self, by: Duration) {
        for (_, e) in &mut self.events {
            e.published -= by;
        }
    }

    /// Events written so far, older than the retention included.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// `GET /api/v1/logs`.
    pub(crate) fn serve(&self, ctx: &PageCtx<'_>, now: DateTime<Utc>) -> Reply {
        let query = match Query::read(ctx, now) {
            Ok(q) => q,
            Err(reply) => return reply,
        };
        let after: u64 = ctx.param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
        let mut it = self
            .events
            .iter()
            .filter(|(n, e)| *n > after && query.keeps(e));
        let page: Vec<&(u64, Event)> = it.by_ref().take(query.limit).collect();
        let more = it.next().is_some();
        let last = page.last().map_or(after, |(n, _)| *n);
        let next = (query.polling || more).then_some(last);
        let body = serde_json::to_vec(
            &page
                .iter()
                .map(|(n, e)| event_json(*n, e))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        linked(ctx, body, next)
    }
}

/// A log request's parameters.
struct Query {
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    terms: Option<Vec<Term>>,
    limit: usize,
    polling: bool,
}

impl Query {
    fn read(ctx: &PageCtx<'_>, now: DateTime<Utc>) -> Result<Query, Reply> {
        let until = time_param(ctx, "until")?;
        let kept_from = now - Duration::days(RETENTION_DAYS);
        let since = time_param(ctx, "since")?
            .unwrap_or_else(|| until.unwrap_or(now) - Duration::days(7))
            .max(kept_from);
        let terms = match ctx.param("filter") {
            None => None,
            Some(f) => Some(
                parse_filter(&f)
                    .filter(|t| t.iter().all(|t| t.attr == "eventType" && t.op == "eq"))
                    .ok_or_else(|| invalid("filter"))?,
            ),
        };
        if ctx.param("sortOrder").is_some_and(|s| s != "ASCENDING") {
            // Okta also sorts DESCENDING; a sync polls ASCENDING only.
            return Err(invalid("sortOrder (the simulated org serves ASCENDING)"));
        }
        Ok(Query {
            since,
            until,
            terms,
            limit: ctx.limit(100, 1_000),
            polling: until.is_none(),
        })
    }

    fn keeps(&self, e: &Event) -> bool {
        e.published >= self.since
            && self.until.is_none_or(|u| e.published < u)
            && self
                .terms
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t.value == e.event_type))
    }
}

fn time_param(ctx: &PageCtx<'_>, name: &str) -> Result<Option<DateTime<Utc>>, Reply> {
    ctx.param(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid(name))
        })
        .transpose()
}

fn invalid(what: &str) -> Reply {
    Reply::api_error(400, "E0000001", &format!("Api validation failed: {what}"))
}

/// An event as Okta's `LogEvent`.
fn event_json(n: u64, e: &Event) -> Value {
    let targets: Vec<Value> = e
        .targets
        .iter()
        .map(|(kind, id, name)| {
            json!({"id": id, "type": kind, "alternateId": name, "displayName": name})
        })
        .collect();
    json!({
        "uuid": format!("sim-event-{n:012}"),
        "published": okta_time(&e.published),
        "eventType": e.event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": e.event_type,
        "actor": {"id": "00uADMIN", "type": "User", "alternateId": "admin@example.test"},
        "outcome": {"result": "SUCCESS"},
        "target": targets,
    })
}

/// The page with `Link` headers: `self`, and `next` (the same query from
/// after the last event) when there is one.
fn linked(ctx: &PageCtx<'_>, body: Vec<u8>, next_after: Option<u64>) -> Reply {
    let mut reply = Reply::empty(200);
    reply
        .headers
        .push(("content-type", "application/json".into()));
    let this = format!("{}{}?{}", ctx.base, ctx.path, ctx.query);
    reply
        .headers
        .push(("link", format!("<{this}>; rel=\"self\"")));
    if let Some(after) = next_after {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(ctx.query.as_bytes()).filter(|(k, _)| k != "after") {
            q.append_pair(&k, &v);
        }
        q.append_pair("after", &after.to_string());
        let next = format!("{}{}?{}", ctx.base, ctx.path, q.finish());
        reply
            .headers
            .push(("link", format!("<{next}>; rel=\"next\"")));
    }
    reply.body = body;
    reply
}
