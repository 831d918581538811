//! SCIM PATCH (RFC 7644 §3.5.2), with the tolerance real clients need.
//!
//! * `op` is case-insensitive: Entra sends `Add`, `Replace`, `Remove`.
//! * A path-less `add`/`replace` takes an object whose keys are paths:
//!   Okta's `{"active": false}` deactivation, Entra's dotted
//!   `{"name.givenName": ..}` and URN-qualified keys, extension objects. An
//!   `id` key equal to anything is ignored (Okta includes it for groups).
//! * Value paths: `members[value eq "id"]`, `emails[type eq "work"].value`.
//!   An `add`/`replace` whose equality filter matches nothing creates the
//!   element from the filter (Entra's `emails[type eq "work"].value`); a
//!   `remove` that matches nothing is a no-op, so a retried request succeeds.
//! * `remove` of `members` with a `value` list removes those members (Entra
//!   without `aadOptscim062020`).
//! * Values go through the same normalization as a POST (`"False"` -> false).

use serde_json::{Map, Value};

use crate::errors::{ScimError, ScimType};
use crate::filter::{self, AttrPath, CompareOp, Filter, FilterLimits};
use crate::model::{normalize_element, normalize_value};
use crate::schema::{self, Attr, ResourceType};

/// Maximum number of operations in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `replace`.
    Replace,
}

/// A PATCH target: `attrPath[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (with its sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter, for multi-valued attributes.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[..].value`).
    pub sub: Option<String>,
}

/// One parsed PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` for a path-less add/replace.
    pub path: Option<PatchPath>,
    /// The value, when the op has one.
    pub value: Option<Value>,
}

/// Parses a PatchOp request body. Never panics; errors are SCIM 400s.
pub fn parse_patch(body: &Value, limits: FilterLimits) -> Result<Vec<PatchOp>, ScimError> {
    let ops = filter::get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp needs an `Operations` array"))?;
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "at most {MAX_PATCH_OPERATIONS} operations are accepted in one PATCH"
        )));
    }
    ops.iter().map(|op| parse_op(op, limits)).collect()
}

fn parse_op(op: &Value, limits: FilterLimits) -> Result<PatchOp, ScimError> {
    let kind = match filter::get_ci(op, "op").and_then(Value::as_str) {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(
                "each operation needs `op`: add, remove or replace",
            ))
        }
    };
    let path = match filter::get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(p.trim(), limits)?),
        Some(_) => return Err(ScimError::invalid_path("`path` must be a string")),
    };
    let value = filter::get_ci(op, "value").cloned();
    if path.is_none() && (kind == OpKind::Remove || !matches!(value, Some(Value::Object(_)))) {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            "an operation without `path` must be add or replace with an object `value`",
        ));
    }
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_value("add and replace need a `value`"));
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

/// Parses `attrPath`, `attrPath[filter]` or `attrPath[filter].sub`.
pub fn parse_path(p: &str, limits: FilterLimits) -> Result<PatchPath, ScimError> {
    let invalid = || ScimError::invalid_path(format!("`{}` is not a valid PATCH path", short(p)));
    let Some(open) = p.find('[') else {
        let attr = AttrPath::parse(p).map_err(|_| invalid())?;
        return Ok(PatchPath {
            attr,
            filter: None,
            sub: None,
        });
    };
    let close = p.rfind(']').filter(|&c| c > open).ok_or_else(invalid)?;
    let attr = AttrPath::parse(&p[..open]).map_err(|_| invalid())?;
    if attr.sub.is_some() {
        return Err(invalid());
    }
    let filter = filter::parse_filter(&p[open + 1..close], limits)
        .map_err(|e| ScimError::invalid_path(e.detail().to_string()))?;
    let sub = match &p[close + 1..] {
        "" => None,
        rest => Some(
            rest.strip_prefix('.')
                .filter(|s| !s.is_empty() && !s.contains(['.', '[', ']']))
                .ok_or_else(invalid)?
                .to_string(),
        ),
    };
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    })
}

fn short(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Applies operations to a normalized body, in order.
pub(crate) fn apply(
    rt: ResourceType,
    body: &mut Map<String, Value>,
    ops: Vec<PatchOp>,
    limits: FilterLimits,
) -> Result<(), ScimError> {
    for op in ops {
        match op.path {
            Some(path) => apply_at(rt, body, op.op, &path, op.value)?,
            None => apply_pathless(rt, body, op.op, op.value, limits)?,
        }
    }
    Ok(())
}

fn apply_pathless(
    rt: ResourceType,
    body: &mut Map<String, Value>,
    op: OpKind,
    value: Option<Value>,
    limits: FilterLimits,
) -> Result<(), ScimError> {
    let Some(Value::Object(obj)) = value else {
        return Err(ScimError::invalid_value(
            "a path-less operation needs an object value",
        ));
    };
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("id") || key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let ext = schema::find_extension(rt, &key).map(|(urn, _)| urn);
        match (ext, v) {
            (Some(urn), Value::Object(inner)) => {
                for (k, v) in inner {
                    let path = parse_path(&format!("{urn}:{k}"), limits)?;
                    apply_at(rt, body, op, &path, Some(v))?;
                }
            }
            (_, v) => apply_at(rt, body, op, &parse_path(&key, limits)?, Some(v))?,
        }
    }
    Ok(())
}

/// Where an attribute lives: its container object and its definition.
struct Target<'a> {
    container: &'a mut Map<String, Value>,
    key: String,
    def: Option<&'static Attr>,
}

fn target<'a>(
    rt: ResourceType,
    body: &'a mut Map<String, Value>,
    attr: &AttrPath,
    create: bool,
) -> Result<Option<Target<'a>>, ScimError> {
    let (container, defs): (&mut Map<String, Value>, Option<&'static [Attr]>) = match &attr.urn {
        None => (body, None),
        Some(urn) if urn.eq_ignore_ascii_case(rt.schema()) => (body, None),
        Some(urn) => {
            let (key, defs) = match schema::find_extension(rt, urn) {
                Some((u, attrs)) => (u.to_string(), Some(attrs)),
                None => (existing_key(body, urn).unwrap_or_else(|| urn.clone()), None),
            };
            if !body.contains_key(&key) && !create {
                return Ok(None);
            }
            let slot = body.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner) = slot else {
                return Err(ScimError::invalid_path(format!("{urn} is not an object")));
            };
            (inner, Some(defs.unwrap_or(&[])))
        }
    };
    let def = match defs {
        None => schema::find_top(rt, &attr.name),
        Some(defs) => schema::find(defs, &attr.name),
    };
    if def.is_some_and(|d| d.read_only) {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("{} is read-only", attr.name),
        ));
    }
    let key = def
        .map(|d| d.name.to_string())
        .or_else(|| existing_key(container, &attr.name))
        .unwrap_or_else(|| attr.name.clone());
    Ok(Some(Target {
        container,
        key,
        def,
    }))
}

fn existing_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn apply_at(
    rt: ResourceType,
    body: &mut Map<String, Value>,
    op: OpKind,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if rt == ResourceType::User
        && path.attr.urn.is_none()
        && path.attr.name.eq_ignore_ascii_case("id")
    {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            "id is read-only",
        ));
    }
    if let Some(urn) = whole_extension(rt, path) {
        return apply_extension(rt, body, urn, op, value);
    }
    let attr = enterprise_manager(rt, &path.attr);
    let attr = attr.as_ref().unwrap_or(&path.attr);
    let Some(t) = target(rt, body, attr, op != OpKind::Remove)? else {
        return Ok(());
    };
    match (&path.filter, &attr.sub) {
        (Some(f), _) => apply_filtered(t, op, f, path.sub.as_deref(), value),
        (None, Some(sub)) => apply_sub(t, op, sub, value),
        (None, None) => apply_whole(t, op, value),
    }
}

/// The bare `manager` path of Microsoft's SCIM tutorial
/// (`"path":"manager"`): the User core schema has no `manager`, so it means
/// the enterprise extension's, not a custom attribute.
fn enterprise_manager(rt: ResourceType, attr: &AttrPath) -> Option<AttrPath> {
    let bare = rt == ResourceType::User
        && attr.urn.is_none()
        && attr.name.eq_ignore_ascii_case("manager")
        && schema::find_top(rt, &attr.name).is_none();
    bare.then(|| AttrPath {
        urn: Some(schema::ENTERPRISE_SCHEMA.to_string()),
        ..attr.clone()
    })
}

/// A path naming a whole extension (`urn:...:enterprise:2.0:User`), which
/// the attribute-path grammar splits at its last colon.
fn whole_extension(rt: ResourceType, path: &PatchPath) -> Option<&'static str> {
    let urn = path.attr.urn.as_deref()?;
    if path.filter.is_some() || path.attr.sub.is_some() {
        return None;
    }
    schema::find_extension(rt, &format!("{urn}:{}", path.attr.name)).map(|(u, _)| u)
}

fn apply_extension(
    rt: ResourceType,
    body: &mut Map<String, Value>,
    urn: &str,
    op: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if op == OpKind::Remove {
        body.remove(urn);
        return Ok(());
    }
    let mut staged = Map::new();
    crate::model::set_normalized(rt, &mut staged, urn, value.unwrap_or(Value::Null))?;
    if let Some(Value::Object(new)) = staged.remove(urn) {
        match body.get_mut(urn) {
            Some(Value::Object(old)) => old.extend(new),
            _ => {
                body.insert(urn.to_string(), Value::Object(new));
            }
        }
    }
    Ok(())
}

fn sub_def(def: Option<&'static Attr>, sub: &str) -> Option<&'static Attr> {
    def.and_then(|d| schema::find(d.subs, sub))
}

fn norm(def: Option<&Attr>, v: Value) -> Result<Value, ScimError> {
    match def {
        Some(d) => normalize_value(d, v),
        None => Ok(v),
    }
}

fn apply_whole(t: Target<'_>, op: OpKind, value: Option<Value>) -> Result<(), ScimError> {
    let value = value.filter(|v| !v.is_null());
    let multi = t.def.is_some_and(|d| d.multi);
    match (op, value) {
        (OpKind::Remove, Some(Value::Array(items))) if multi => {
            remove_listed(t.container, &t.key, &items);
        }
        (OpKind::Remove, _) | (OpKind::Replace, None) => {
            t.container.remove(&t.key);
        }
        (OpKind::Add, None) => return Err(ScimError::invalid_value("add needs a value")),
        (OpKind::Add, Some(v)) if multi => {
            let new = norm(t.def, v)?;
            append(t.container, &t.key, new);
        }
        (_, Some(v)) => {
            let new = norm(t.def, v)?;
            match (t.container.get_mut(&t.key), new) {
                (Some(Value::Object(old)), Value::Object(new)) if !multi => old.extend(new),
                (_, new) => {
                    t.container.insert(t.key, new);
                }
            }
        }
    }
    Ok(())
}

/// Two elements of a multi-valued attribute are the same value when they
/// are equal or share their `value` (a member added twice stays once).
fn same_element(a: &Value, b: &Value) -> bool {
    a == b || matches!((a.get("value"), b.get("value")), (Some(x), Some(y)) if x == y)
}

fn append(container: &mut Map<String, Value>, key: &str, new: Value) {
    let slot = container
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(vec![slot.take()]);
    }
    if let (Value::Array(list), Value::Array(new)) = (slot, new) {
        for item in new {
            if !list.iter().any(|e| same_element(e, &item)) {
                list.push(item);
            }
        }
    }
}

fn remove_listed(container: &mut Map<String, Value>, key: &str, items: &[Value]) {
    let values: Vec<&Value> = items
        .iter()
        .filter_map(|i| i.get("value").or(Some(i)))
        .collect();
    if let Some(Value::Array(list)) = container.get_mut(key) {
        list.retain(|e| !values.iter().any(|v| e.get("value") == Some(v)));
    }
}

fn apply_sub(t: Target<'_>, op: OpKind, sub: &str, value: Option<Value>) -> Result<(), ScimError> {
    let def = sub_def(t.def, sub);
    let key = def
        .map(|d| d.name.to_string())
        .unwrap_or_else(|| sub.to_string());
    if op == OpKind::Remove {
        match t.container.get_mut(&t.key) {
            Some(Value::Object(obj)) => {
                obj.remove(&key);
            }
            Some(Value::Array(list)) => {
                list.iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|o| {
                        o.remove(&key);
                    })
            }
            _ => {}
        }
        return Ok(());
    }
    let new = norm(def, value.unwrap_or(Value::Null))?;
    let slot = t
        .container
        .entry(t.key)
        .or_insert_with(|| Value::Object(Map::new()));
    match slot {
        Value::Object(obj) => {
            obj.insert(key, new);
        }
        Value::Array(list) => list
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(|o| {
                o.insert(key.clone(), new.clone());
            }),
        other => *other = Value::Object(Map::from_iter([(key, new)])),
    }
    Ok(())
}

fn apply_filtered(
    t: Target<'_>,
    op: OpKind,
    f: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let exact = |_: Option<&str>, n: &str, _: Option<&str>| n.eq_ignore_ascii_case("value");
    let slot = t
        .container
        .entry(t.key.clone())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(list) = slot else {
        return Err(ScimError::invalid_path(format!(
            "{} is not multi-valued",
            t.key
        )));
    };
    if op == OpKind::Remove && sub.is_none() {
        list.retain(|e| !filter::matches(f, e, &exact));
        return Ok(());
    }
    if !list.iter().any(|e| filter::matches(f, e, &exact)) {
        if op == OpKind::Remove {
            return Ok(());
        }
        list.push(element_from_filter(f).ok_or_else(|| {
            ScimError::bad_request(
                ScimType::NoTarget,
                format!("no value of {} matches the filter", t.key),
            )
        })?);
    }
    let subdef = sub.and_then(|s| sub_def(t.def, s));
    let new = match (op, value) {
        (OpKind::Remove, _) => None,
        (_, Some(v)) => Some(match sub {
            Some(_) => norm(subdef, v)?,
            None => match t.def {
                Some(d) => normalize_element(d, v)?,
                None => v,
            },
        }),
        (_, None) => return Err(ScimError::invalid_value("add and replace need a value")),
    };
    for el in list.iter_mut().filter(|e| filter::matches(f, e, &exact)) {
        update_element(el, sub, subdef, new.clone());
    }
    Ok(())
}

fn update_element(el: &mut Value, sub: Option<&str>, subdef: Option<&Attr>, new: Option<Value>) {
    let Value::Object(obj) = el else { return };
    match (sub, new) {
        (Some(s), None) => {
            obj.remove(subdef.map_or(s, |d| d.name));
        }
        (Some(s), Some(v)) => {
            obj.insert(subdef.map_or(s, |d| d.name).to_string(), v);
        }
        (None, Some(Value::Object(v))) => obj.extend(v),
        (None, _) => {}
    }
}

/// For `[type eq "work" and ...]`: the element the equalities describe.
fn element_from_filter(f: &Filter) -> Option<Value> {
    let mut out = Map::new();
    collect_equalities(f, &mut out).then_some(Value::Object(out))
}

fn collect_equalities(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare(p, CompareOp::Eq, v) if p.urn.is_none() && p.sub.is_none() => {
            out.insert(p.name.clone(), v.clone());
            true
        }
        Filter::And(a, b) => collect_equalities(a, out) && collect_equalities(b, out),
        _ => false,
    }
}
