//! Rendering stored resources as SCIM JSON, list queries (filter, paging)
//! and attribute projection.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::errors::{json_response, ScimError, ScimType};
use crate::filter::{self, get_ci, AttrPath, Filter};
use crate::model::schemas_of;
use crate::resources::{Ctx, MEMBER_KIND};
use crate::schema::{self, ResourceType};
use crate::service::{list_body, ServiceConfig};
use crate::store::{query, ResourceQuery, StoredResource};

/// The `W/"n"` ETag of a resource version.
pub(crate) fn etag(r: &StoredResource) -> String {
    format!("W/\"{}\"", r.version)
}

/// The resource's URL.
pub(crate) fn location(base: &str, r: &StoredResource) -> String {
    format!("{base}/{}/{}", r.resource_type.endpoint(), r.id)
}

/// Groups per user: (group id, display name).
type GroupsOf = BTreeMap<String, Vec<(String, String)>>;

/// The groups of the users among `resources`, in one lookup by the
/// membership index (group ids and names only, never group bodies).
async fn groups_of(ctx: &Ctx<'_>, resources: &[StoredResource]) -> Result<GroupsOf, ScimError> {
    let users: Vec<String> = resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .map(|r| r.id.clone())
        .collect();
    let mut out = GroupsOf::new();
    if users.is_empty() {
        return Ok(out);
    }
    for g in ctx.service.store().group_refs(ctx.tenant, &users).await? {
        out.entry(g.member_id)
            .or_default()
            .push((g.group_id, g.display_name));
    }
    Ok(out)
}

/// Resources as the client sees them, with one lookup for all their groups.
async fn render_all(ctx: &Ctx<'_>, resources: &[StoredResource]) -> Result<Vec<Value>, ScimError> {
    let groups = groups_of(ctx, resources).await?;
    let mut out = Vec::with_capacity(resources.len());
    for r in resources {
        out.push(render(ctx, r, &groups).await?);
    }
    Ok(out)
}

/// A stored resource as the client sees it.
pub(crate) async fn resource(ctx: &Ctx<'_>, r: &StoredResource) -> Result<Value, ScimError> {
    let groups = groups_of(ctx, std::slice::from_ref(r)).await?;
    render(ctx, r, &groups).await
}

/// A resource just created, as the client sees it: a new user is in no
/// group yet, so its groups are not looked up.
pub(crate) async fn new_resource(ctx: &Ctx<'_>, r: &StoredResource) -> Result<Value, ScimError> {
    render(ctx, r, &GroupsOf::new()).await
}

async fn render(ctx: &Ctx<'_>, r: &StoredResource, groups: &GroupsOf) -> Result<Value, ScimError> {
    let mut obj = r.body.as_object().cloned().unwrap_or_default();
    obj.insert(
        "schemas".into(),
        json!(schemas_of(r.resource_type, &r.body)),
    );
    obj.insert("id".into(), json!(r.id));
    match r.resource_type {
        ResourceType::User => {
            if let Some(list) = groups.get(&r.id) {
                obj.insert("groups".into(), user_groups(ctx.base, list));
            }
        }
        ResourceType::Group => {
            if let Some(Value::Array(members)) = obj.get_mut("members") {
                for m in members.iter_mut() {
                    describe_member(ctx, m);
                }
            }
        }
    }
    obj.insert(
        "meta".into(),
        json!({
            "resourceType": r.resource_type.name(),
            "created": r.created.to_rfc3339(),
            "lastModified": r.last_modified.to_rfc3339(),
            "location": location(ctx.base, r),
            "version": etag(r),
        }),
    );
    Ok(Value::Object(obj))
}

fn user_groups(base: &str, list: &[(String, String)]) -> Value {
    list.iter()
        .map(|(id, name)| {
            json!({"value": id, "display": name, "$ref": format!("{base}/Groups/{id}"), "type": "direct"})
        })
        .collect()
}

fn describe_member(ctx: &Ctx<'_>, m: &mut Value) {
    let Some(obj) = m.as_object_mut() else { return };
    let id = obj
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let rt = match obj.remove(MEMBER_KIND).as_ref().and_then(Value::as_str) {
        Some("Group") => ResourceType::Group,
        _ => ResourceType::User,
    };
    obj.insert(
        "$ref".into(),
        json!(format!("{}/{}/{id}", ctx.base, rt.endpoint())),
    );
}

/// A list or get query: filter, paging and projection.
#[derive(Debug, Default)]
pub(crate) struct Query {
    filter: Option<Filter>,
    start: usize,
    count: usize,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number(name: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
}

impl Query {
    /// Parses a URL query string.
    pub(crate) fn parse(query: &str, config: &ServiceConfig) -> Result<Self, ScimError> {
        let mut q = Query {
            start: 1,
            count: config.default_page_size,
            ..Query::default()
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            q.set(&k, &v, config)?;
        }
        Ok(q)
    }

    /// Reads a `POST /.search` body.
    pub(crate) fn from_search(body: &Value, config: &ServiceConfig) -> Result<Self, ScimError> {
        let mut q = Query {
            start: 1,
            count: config.default_page_size,
            ..Query::default()
        };
        for key in [
            "filter",
            "startIndex",
            "count",
            "attributes",
            "excludedAttributes",
        ] {
            let text = match get_ci(body, key) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                Some(other) => other.to_string(),
            };
            q.set(key, &text, config)?;
        }
        Ok(q)
    }

    fn set(&mut self, key: &str, v: &str, config: &ServiceConfig) -> Result<(), ScimError> {
        match key {
            "filter" => self.filter = Some(filter::parse_filter(v, config.filter_limits)?),
            "startIndex" => self.start = number(key, v)?.max(1).try_into().unwrap_or(1),
            "count" => {
                let n: usize = number(key, v)?.max(0).try_into().unwrap_or(0);
                self.count = n.min(config.max_page_size);
            }
            "attributes" => self.attributes = split_list(v),
            "excludedAttributes" => self.excluded = split_list(v),
            _ => {}
        }
        Ok(())
    }

    /// Whether the client named `attributes` or `excludedAttributes`.
    pub(crate) fn asks_for_attributes(&self) -> bool {
        !self.attributes.is_empty() || !self.excluded.is_empty()
    }

    /// Applies `attributes` / `excludedAttributes`; `id` and `schemas` stay.
    pub(crate) fn project(&self, value: Value) -> Value {
        let Value::Object(obj) = value else {
            return value;
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for k in ["id", "schemas"] {
                if let Some(v) = obj.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            for a in &self.attributes {
                copy_path(&obj, &mut out, a);
            }
            return Value::Object(out);
        }
        let mut obj = obj;
        for a in &self.excluded {
            remove_path(&mut obj, a);
        }
        Value::Object(obj)
    }
}

fn real_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn copy_path(src: &Map<String, Value>, out: &mut Map<String, Value>, path: &str) {
    if let Some(key) = real_key(src, path) {
        out.insert(key.clone(), src[&key].clone());
        return;
    }
    let Ok(p) = AttrPath::parse(path) else { return };
    let (src, out) = match &p.urn {
        Some(urn)
            if !urn.eq_ignore_ascii_case(ResourceType::User.schema())
                && !urn.eq_ignore_ascii_case(ResourceType::Group.schema()) =>
        {
            let Some(key) = real_key(src, urn) else {
                return;
            };
            let Some(Value::Object(inner)) = src.get(&key) else {
                return;
            };
            let slot = out.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(slot) = slot else { return };
            (inner, slot)
        }
        _ => (src, out),
    };
    let Some(key) = real_key(src, &p.name) else {
        return;
    };
    let Some(v) = src.get(&key) else { return };
    let v = match &p.sub {
        None => v.clone(),
        Some(sub) => keep_sub(v, sub),
    };
    out.insert(key, v);
}

fn keep_sub(v: &Value, sub: &str) -> Value {
    let pick = |o: &Value| -> Value {
        let mut m = Map::new();
        if let Some(obj) = o.as_object() {
            if let Some(k) = real_key(obj, sub) {
                m.insert(k.clone(), obj[&k].clone());
            }
        }
        Value::Object(m)
    };
    match v {
        Value::Array(items) => Value::Array(items.iter().map(pick).collect()),
        other => pick(other),
    }
}

fn remove_path(obj: &mut Map<String, Value>, path: &str) {
    if let Some(key) = real_key(obj, path).filter(|k| k != "id" && k != "schemas") {
        obj.remove(&key);
        return;
    }
    let Ok(p) = AttrPath::parse(path) else { return };
    if p.urn.is_none() && p.sub.is_none() && (p.name == "id" || p.name == "schemas") {
        return;
    }
    let scope = match &p.urn {
        Some(urn) => match real_key(obj, urn).and_then(|k| obj.get_mut(&k)) {
            Some(Value::Object(inner)) => inner,
            _ => return,
        },
        None => obj,
    };
    let Some(key) = real_key(scope, &p.name) else {
        return;
    };
    match (&p.sub, scope.get_mut(&key)) {
        (None, _) => {
            scope.remove(&key);
        }
        (Some(sub), Some(Value::Object(o))) => {
            o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
        }
        (Some(sub), Some(Value::Array(items))) => {
            for o in items.iter_mut().filter_map(Value::as_object_mut) {
                o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
            }
        }
        _ => {}
    }
}

fn case_exact(rt: ResourceType) -> impl Fn(Option<&str>, &str, Option<&str>) -> bool {
    move |urn: Option<&str>, name: &str, sub: Option<&str>| {
        let top = match urn.and_then(|u| schema::find_extension(rt, u)) {
            Some((_, attrs)) => schema::find(attrs, name),
            None => schema::find_top(rt, name),
        };
        match (top, sub) {
            (Some(a), None) => a.case_exact,
            (Some(a), Some(s)) => schema::find(a.subs, s).is_some_and(|d| d.case_exact),
            (None, _) => name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("meta"),
        }
    }
}

/// Answers a list (or `.search`) request over one or more resource types:
/// `startIndex` and `count` run over the types in turn, each in creation
/// order.
pub(crate) async fn list(
    ctx: &Ctx<'_>,
    types: &[ResourceType],
    q: &Query,
) -> Result<Response<Bytes>, ScimError> {
    let mut total = 0;
    let mut skip = q.start.saturating_sub(1);
    let mut page = Vec::new();
    for &rt in types {
        let room = q.count.saturating_sub(page.len());
        let (selected, found) = list_of(ctx, rt, q.filter.as_ref(), skip, room).await?;
        total += selected;
        skip = skip.saturating_sub(selected);
        page.extend(found);
    }
    let page: Vec<Value> = page.into_iter().map(|v| q.project(v)).collect();
    Ok(json_response(
        StatusCode::OK,
        &list_body(total, q.start, page),
    ))
}

/// How many resources of one type `filter` matches, and `limit` of them
/// from `offset`, rendered.
///
/// The indexed part of the filter ([`query::split`]) goes to the store as
/// SQL. When it is the whole filter, the store pages and counts. Otherwise
/// the rest is evaluated here over the candidates the indexed part selects
/// (every resource of the type when nothing is indexed), and only when
/// there are at most `max_filter_candidates` of them: more is a 400
/// `tooMany`, never a scan of a large tenant per request.
async fn list_of(
    ctx: &Ctx<'_>,
    rt: ResourceType,
    filter: Option<&Filter>,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Value>), ScimError> {
    let store = ctx.service.store();
    let (indexed, exact) = match filter {
        Some(f) => query::split(rt, f),
        None => (None, true),
    };
    let selecting = |offset, limit| ResourceQuery {
        filter: indexed.as_ref(),
        offset,
        limit,
    };
    let Some(f) = filter.filter(|_| !exact) else {
        let page = store
            .query(ctx.tenant, rt, &selecting(offset, limit))
            .await?;
        return Ok((page.total, render_all(ctx, &page.resources).await?));
    };
    let bound = ctx.service.config().max_filter_candidates;
    let candidates = store.query(ctx.tenant, rt, &selecting(0, 0)).await?.total;
    if candidates > bound {
        return Err(too_many(rt, candidates, bound, indexed.is_some()));
    }
    let candidates = store.query(ctx.tenant, rt, &selecting(0, bound)).await?;
    let exact = case_exact(rt);
    let matched: Vec<Value> = render_all(ctx, &candidates.resources)
        .await?
        .into_iter()
        .filter(|v| filter::matches(f, v, &exact))
        .collect();
    let total = matched.len();
    Ok((
        total,
        matched.into_iter().skip(offset).take(limit).collect(),
    ))
}

fn too_many(rt: ResourceType, candidates: usize, bound: usize, narrowed: bool) -> ScimError {
    let kind = rt.endpoint();
    let what = if narrowed {
        format!("its indexed part selects {candidates} {kind}")
    } else {
        format!("it names no indexed attribute and there are {candidates} {kind}")
    };
    let indexed = match rt {
        ResourceType::User => "id, externalId or userName",
        ResourceType::Group => "id, externalId, displayName or members.value",
    };
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "the filter cannot be answered: {what}, more than the {bound} the server evaluates \
             a filter over; narrow it with {indexed} (eq or sw) joined by `and`"
        ),
    )
}
