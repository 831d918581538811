//! Simulated delta queries: `users/delta` and `groups/delta` (with
//! `members@delta` in slices), opaque skip and delta tokens that carry the
//! `$select`, token expiry (400 `syncStateNotFound`) and sync reset (410).

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::data::{SimMember, TenantData};
use super::graph::{group_json, member_json, user_json, Query};
use super::mutate::Change;
use super::server::{graph_error, lock, read, unix_now, Reply, Sim};

/// Objects per delta page.
const PAGE: usize = 200;
/// Members per group entry; bigger groups come back in several entries.
const MEMBER_SLICE: usize = 500;

/// Where a round is: which changes (since `base`, `None` for a full round)
/// up to `round`, and how far it got.
struct Cursor {
    generation: u64,
    base: Option<u64>,
    round: u64,
    offset: usize,
    issued: u64,
    select: String,
}

impl Cursor {
    fn encode(&self, kind: char) -> String {
        let base = self.base.map_or("-".to_string(), |b| b.to_string());
        URL_SAFE_NO_PAD.encode(format!(
            "{kind}|{}|{base}|{}|{}|{}|{}",
            self.generation, self.round, self.offset, self.issued, self.select
        ))
    }

    fn decode(tok: &str, kind: char) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(tok).ok()?).ok()?;
        let mut p = raw.splitn(7, '|');
        if p.next()? != kind.to_string() {
            return None;
        }
        Some(Self {
            generation: p.next()?.parse().ok()?,
            base: match p.next()? {
                "-" => None,
                b => Some(b.parse().ok()?),
            },
            round: p.next()?.parse().ok()?,
            offset: p.next()?.parse().ok()?,
            issued: p.next()?.parse().ok()?,
            select: p.next()?.to_string(),
        })
    }
}

/// Serves `users/delta` or `groups/delta`.
pub(crate) fn serve(sim: &Sim, kind: &str, q: &Query) -> Reply {
    let cursor = match start(sim, q) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let tenant = read(&sim.tenant);
    let data = &tenant.data;
    let (start, sel) = (cursor.offset, select(&cursor));
    let (total, value) = match (kind, cursor.base) {
        ("users", None) => {
            let end = start.saturating_add(PAGE).min(data.users.len());
            (
                data.users.len(),
                data.users
                    .get(start.min(end)..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|u| user_json(u, &sel))
                    .collect(),
            )
        }
        ("users", Some(base)) => window(
            changed_users(data, tenant.log.between(base, cursor.round), &sel),
            start,
        ),
        (_, None) => {
            let entries = group_entries(data);
            let end = start.saturating_add(PAGE).min(entries.len());
            let value = entries
                .get(start.min(end)..end)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| render_entry(data, e, &sel))
                .collect();
            (entries.len(), value)
        }
        (_, Some(base)) => window(
            changed_groups(
                data,
                tenant.log.between(base, cursor.round).cloned().collect(),
                &sel,
            ),
            start,
        ),
    };
    page(sim, kind, cursor, total, value)
}

fn window(items: Vec<Value>, start: usize) -> (usize, Vec<Value>) {
    let end = start.saturating_add(PAGE).min(items.len());
    let page = items.get(start.min(end)..end).unwrap_or_default();
    (items.len(), page.to_vec())
}

/// The cursor for this request: a new full round, a new round from a delta
/// token, or the next page of a round.
fn start(sim: &Sim, q: &Query) -> Result<Cursor, Reply> {
    let clock = lock(&sim.delta);
    let now = unix_now();
    if let Some(tok) = q.get("$skiptoken") {
        return Cursor::decode(tok, 's').ok_or_else(bad_token);
    }
    let version = read(&sim.tenant).log.version;
    let Some(tok) = q.get("$deltatoken") else {
        let select = q.get("$select").unwrap_or("id").to_string();
        return Ok(Cursor {
            generation: clock.generation,
            base: None,
            round: version,
            offset: 0,
            issued: now,
            select,
        });
    };
    let c = Cursor::decode(tok, 'd').ok_or_else(bad_token)?;
    if c.generation < clock.reset_below {
        let e = graph_error(
            410,
            "resyncRequired",
            "The sync state was reset; the app must synchronize again.",
        );
        return Err(e.header(
            "location",
            format!("{}/v1.0/users/delta?$deltatoken=", sim.base),
        ));
    }
    if c.generation < clock.expired_below || now.saturating_sub(c.issued) > clock.ttl_secs {
        return Err(graph_error(400, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again."));
    }
    Ok(Cursor {
        generation: clock.generation,
        base: Some(c.round),
        round: version,
        offset: 0,
        issued: now,
        select: c.select,
    })
}

fn bad_token() -> Reply {
    graph_error(
        400,
        "Request_BadRequest",
        "The delta or skip token is not valid.",
    )
}

/// One page of the round's items, with the next or the delta link.
fn page(sim: &Sim, kind: &str, cursor: Cursor, total: usize, value: Vec<Value>) -> Reply {
    let end = cursor.offset.saturating_add(value.len());
    let mut body =
        json!({ "@odata.context": format!("{}/v1.0/$metadata#{kind}", sim.base), "value": value });
    if end < total {
        let next = Cursor {
            offset: end,
            ..cursor
        };
        let link = format!(
            "{}/v1.0/{kind}/delta?$skiptoken={}",
            sim.base,
            next.encode('s')
        );
        set(&mut body, "@odata.nextLink", json!(link));
    } else {
        let delta = Cursor {
            offset: 0,
            issued: unix_now(),
            ..cursor
        };
        let link = format!(
            "{}/v1.0/{kind}/delta?$deltatoken={}",
            sim.base,
            delta.encode('d')
        );
        set(&mut body, "@odata.deltaLink", json!(link));
    }
    Reply::json(200, body)
}

fn select(cursor: &Cursor) -> Vec<String> {
    cursor.select.split(',').map(String::from).collect()
}

fn removed(id: &str) -> Value {
    json!({ "id": id, "@removed": { "reason": "deleted" } })
}

fn changed_users<'a>(
    data: &TenantData,
    changes: impl Iterator<Item = &'a Change>,
    sel: &[String],
) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // By id, not by a scan per change: a round of 1,000 changes in a
    // 100,000-user tenant would otherwise cost the simulator more than
    // the client it measures.
    let mut by_id = None;
    for ch in changes {
        let Change::User(id) = ch else { continue };
        if !seen.insert(id.clone()) {
            continue;
        }
        let by_id = by_id.get_or_insert_with(|| {
            let ids = data.users.iter().map(|u| (u.id.as_str(), u));
            ids.collect::<std::collections::HashMap<_, _>>()
        });
        match by_id.get(id.as_str()) {
            Some(u) => out.push(user_json(u, sel)),
            None => out.push(removed(id)),
        }
    }
    out
}

/// A full round's group entries: (group index, member slice index); a
/// group with many members comes back in several entries.
fn group_entries(data: &TenantData) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (gi, g) in data.groups.iter().enumerate() {
        let n = data.members.get(&g.id).map_or(0, Vec::len);
        out.extend((0..n.div_ceil(MEMBER_SLICE).max(1)).map(|si| (gi, si)));
    }
    out
}

fn render_entry(data: &TenantData, &(gi, si): &(usize, usize), sel: &[String]) -> Option<Value> {
    let g = data.groups.get(gi)?;
    let mut v = group_json(g, sel);
    if sel.iter().any(|s| s == "members") {
        let members = data
            .members
            .get(&g.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let slice: &[SimMember] = members.chunks(MEMBER_SLICE).nth(si).unwrap_or_default();
        let members = slice.iter().map(member_json).collect::<Vec<_>>();
        set(&mut v, "members@delta", Value::from(members));
    }
    Some(v)
}

/// Sets `key` on a JSON object (the pages and entries built here always are).
fn set(v: &mut Value, key: &str, value: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_string(), value);
    }
}

fn changed_groups(data: &TenantData, changes: Vec<Change>, sel: &[String]) -> Vec<Value> {
    let mut order: Vec<&str> = Vec::new();
    for ch in &changes {
        let id = match ch {
            Change::Group(id) => id.as_str(),
            Change::Member { group, .. } => group.as_str(),
            Change::User(_) => continue,
        };
        if !order.contains(&id) {
            order.push(id);
        }
    }
    order
        .into_iter()
        .map(|id| match data.groups.iter().find(|g| g.id == id) {
            None => removed(id),
            Some(g) => {
                let mut v = group_json(g, sel);
                set(
                    &mut v,
                    "members@delta",
                    Value::from(member_changes(&changes, id)),
                );
                v
            }
        })
        .collect()
}

/// The last state of each member changed in `group`.
fn member_changes(changes: &[Change], group: &str) -> Vec<Value> {
    let mut last: Vec<(&SimMember, bool)> = Vec::new();
    for ch in changes {
        if let Change::Member {
            group: g,
            member,
            removed,
        } = ch
        {
            if g == group {
                last.retain(|(m, _)| m.id != member.id);
                last.push((member, *removed));
            }
        }
    }
    last.into_iter()
        .map(|(m, gone)| {
            let mut v = member_json(m);
            if gone {
                set(&mut v, "@removed", json!({ "reason": "deleted" }));
            }
            v
        })
        .collect()
}
