//! SCIM resources <-> the directory model.
//!
//! Incoming JSON is normalized once, on write: attribute names take their
//! schema spelling (`username` -> `userName`), `"True"`/`"False"` strings on
//! boolean attributes become booleans (Entra), nulls are dropped (unassigned),
//! read-only and server-owned attributes (`id`, `meta`, `groups`) are ignored,
//! and anything unknown is kept as sent. The stored JSON then maps 1:1 to a
//! [`DirectoryUser`] or [`DirectoryGroup`]; unknown attributes become
//! `custom_attributes`.

use chrono::{DateTime, Utc};
use directory_core::{
    Address, Attributes, DirectoryGroup, DirectoryUser, Email, Manager, PersonName, PhoneNumber,
    UserStatus,
};
use serde_json::{Map, Value};

use crate::errors::ScimError;
use crate::filter::get_ci;
use crate::schema::{self, Attr, ResourceType, Type, ENTERPRISE_SCHEMA};

/// Normalizes a resource body sent by a client (see the module docs).
pub(crate) fn normalize(rt: ResourceType, input: Value) -> Result<Value, ScimError> {
    let Value::Object(obj) = input else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    let mut out = Map::new();
    for (key, value) in obj {
        set_normalized(rt, &mut out, &key, value)?;
    }
    check_required(rt, &out)?;
    Ok(Value::Object(out))
}

/// Attributes a client may send but the server never stores: its own
/// (`id`, `meta`, `schemas`) and `password` (Okta sends one on create; this
/// service does not authenticate users, and a password must never be
/// returned or kept).
const SERVER_OWNED: &[&str] = &["schemas", "id", "meta", "password"];

/// Normalizes one top-level `key: value` into `out`.
pub(crate) fn set_normalized(
    rt: ResourceType,
    out: &mut Map<String, Value>,
    key: &str,
    value: Value,
) -> Result<(), ScimError> {
    if value.is_null() || SERVER_OWNED.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Ok(());
    }
    if let Some((urn, attrs)) = schema::find_extension(rt, key) {
        let normalized = normalize_complex(attrs, value, urn)?;
        out.insert(urn.to_string(), normalized);
    } else if key.eq_ignore_ascii_case(rt.schema()) {
        let Value::Object(inner) = value else {
            return Err(ScimError::invalid_value(format!("{key} must be an object")));
        };
        for (k, v) in inner {
            set_normalized(rt, out, &k, v)?;
        }
    } else if let Some(attr) = schema::find_top(rt, key) {
        if !attr.read_only {
            out.insert(attr.name.to_string(), normalize_value(attr, value)?);
        }
    } else {
        out.insert(key.to_string(), value);
    }
    Ok(())
}

fn check_required(rt: ResourceType, out: &Map<String, Value>) -> Result<(), ScimError> {
    let required = match rt {
        ResourceType::User => "userName",
        ResourceType::Group => "displayName",
    };
    match out.get(required) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        _ => Err(ScimError::invalid_value(format!(
            "{required} is required and must be a non-empty string"
        ))),
    }
}

/// Normalizes a value for a known attribute.
pub(crate) fn normalize_value(attr: &Attr, value: Value) -> Result<Value, ScimError> {
    if attr.multi {
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        let items = items
            .into_iter()
            .filter(|v| !v.is_null())
            .map(|v| normalize_element(attr, v))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::Array(items));
    }
    normalize_single(attr, value)
}

/// Normalizes one element of a multi-valued attribute.
pub(crate) fn normalize_element(attr: &Attr, value: Value) -> Result<Value, ScimError> {
    match value {
        Value::Object(_) => normalize_complex(attr.subs, value, attr.name),
        Value::String(s) => Ok(serde_json::json!({ "value": s })),
        _ => Err(ScimError::invalid_value(format!(
            "each value of {} must be an object",
            attr.name
        ))),
    }
}

fn normalize_single(attr: &Attr, value: Value) -> Result<Value, ScimError> {
    match (attr.ty, value) {
        (Type::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Type::Bool, Value::String(s)) => parse_bool(&s)
            .map(Value::Bool)
            .ok_or_else(|| ScimError::invalid_value(format!("{} must be a boolean", attr.name))),
        (Type::Complex, v @ Value::Object(_)) => normalize_complex(attr.subs, v, attr.name),
        // Entra sends `manager` as the manager's id string.
        (Type::Complex, Value::String(s)) if schema::find(attr.subs, "value").is_some() => {
            Ok(serde_json::json!({ "value": s }))
        }
        // ...and, in its tutorial, as a list of one (`[{"value": id}]`).
        (Type::Complex, Value::Array(items)) if items.len() == 1 => {
            match items.into_iter().next() {
                Some(one) => normalize_single(attr, one),
                None => Ok(Value::Null),
            }
        }
        (Type::Str | Type::Reference, Value::String(s)) => Ok(Value::String(s)),
        (Type::Str, v @ (Value::Number(_) | Value::Bool(_))) => Ok(Value::String(v.to_string())),
        _ => Err(ScimError::invalid_value(format!(
            "{} has the wrong type of value",
            attr.name
        ))),
    }
}

/// Parses the boolean strings Entra sends (`"True"`, `"False"`), any case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn normalize_complex(subs: &[Attr], value: Value, what: &str) -> Result<Value, ScimError> {
    let Value::Object(obj) = value else {
        return Err(ScimError::invalid_value(format!(
            "{what} must be an object"
        )));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        match schema::find(subs, &k) {
            Some(sub) => {
                out.insert(sub.name.to_string(), normalize_value(sub, v)?);
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// The `schemas` list of a stored body: the core schema and every URN key.
pub(crate) fn schemas_of(rt: ResourceType, body: &Value) -> Vec<String> {
    let mut out = vec![rt.schema().to_string()];
    if let Some(obj) = body.as_object() {
        out.extend(obj.keys().filter(|k| k.starts_with("urn:")).cloned());
    }
    out
}

/// A string attribute, as a `String` or a `Box<str>` (the model's optional
/// attributes).
fn string<T: for<'a> From<&'a str>>(obj: &Value, key: &str) -> Option<T> {
    get_ci(obj, key).and_then(Value::as_str).map(T::from)
}

fn boolean(obj: &Value, key: &str) -> bool {
    get_ci(obj, key).and_then(Value::as_bool).unwrap_or(false)
}

fn items<'a>(obj: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    get_ci(obj, key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

const USER_MAPPED: &[&str] = &[
    "schemas",
    "id",
    "meta",
    "userName",
    "externalId",
    "name",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "groups",
];
const ENTERPRISE_MAPPED: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

/// Maps a stored SCIM user to the directory model.
pub(crate) fn user_to_model(id: &str, body: &Value, modified: DateTime<Utc>) -> DirectoryUser {
    let empty = Value::Null;
    let ent = get_ci(body, ENTERPRISE_SCHEMA).unwrap_or(&empty);
    let active = get_ci(body, "active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    DirectoryUser {
        id: id.to_string(),
        user_name: string(body, "userName").unwrap_or_default(),
        external_id: string(body, "externalId"),
        name: person_name(get_ci(body, "name").unwrap_or(&empty)),
        display_name: string(body, "displayName"),
        nick_name: string(body, "nickName"),
        emails: items(body, "emails").map(email).collect(),
        phone_numbers: items(body, "phoneNumbers").map(phone).collect(),
        addresses: items(body, "addresses").map(address).collect(),
        title: string(body, "title"),
        user_type: string(body, "userType"),
        preferred_language: string(body, "preferredLanguage"),
        locale: string(body, "locale"),
        timezone: string(body, "timezone"),
        employee_number: string(ent, "employeeNumber"),
        cost_center: string(ent, "costCenter"),
        organization: string(ent, "organization"),
        division: string(ent, "division"),
        department: string(ent, "department"),
        manager: get_ci(ent, "manager").map(manager),
        status: if active {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        },
        last_updated: Some(modified),
        custom_attributes: custom_attributes(body),
    }
}

fn person_name(v: &Value) -> PersonName {
    PersonName {
        formatted: string(v, "formatted"),
        family_name: string(v, "familyName"),
        given_name: string(v, "givenName"),
        middle_name: string(v, "middleName"),
        honorific_prefix: string(v, "honorificPrefix"),
        honorific_suffix: string(v, "honorificSuffix"),
    }
}

fn email(v: &Value) -> Email {
    Email {
        value: string(v, "value").unwrap_or_default(),
        kind: string(v, "type"),
        primary: boolean(v, "primary"),
    }
}

fn phone(v: &Value) -> PhoneNumber {
    PhoneNumber {
        value: string(v, "value").unwrap_or_default(),
        kind: string(v, "type"),
        primary: boolean(v, "primary"),
    }
}

fn address(v: &Value) -> Address {
    Address {
        kind: string(v, "type"),
        formatted: string(v, "formatted"),
        street_address: string(v, "streetAddress"),
        locality: string(v, "locality"),
        region: string(v, "region"),
        postal_code: string(v, "postalCode"),
        country: string(v, "country"),
        primary: boolean(v, "primary"),
    }
}

fn manager(v: &Value) -> Manager {
    match v {
        Value::String(s) => Manager {
            value: Some(s.as_str().into()),
            display_name: None,
        },
        _ => Manager {
            value: string(v, "value"),
            display_name: string(v, "displayName"),
        },
    }
}

/// Every attribute the model has no field for: top-level unknown keys by
/// name, and each unmapped attribute of an extension as `urn:...:attr`.
fn custom_attributes(body: &Value) -> Attributes {
    let mut out = Attributes::new();
    let Some(obj) = body.as_object() else {
        return out;
    };
    for (key, value) in obj {
        let mapped = |list: &[&str], k: &str| list.iter().any(|m| m.eq_ignore_ascii_case(k));
        if key.starts_with("urn:") {
            let is_ent = key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA);
            match value.as_object() {
                Some(ext) => {
                    for (k, v) in ext
                        .iter()
                        .filter(|(k, _)| !(is_ent && mapped(ENTERPRISE_MAPPED, k)))
                    {
                        out.insert(format!("{key}:{k}"), v.clone());
                    }
                }
                None => {
                    out.insert(key.clone(), value.clone());
                }
            }
        } else if !mapped(USER_MAPPED, key) {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Maps a stored SCIM group to the directory model.
pub(crate) fn group_to_model(id: &str, body: &Value, modified: DateTime<Utc>) -> DirectoryGroup {
    let mut group = DirectoryGroup::new(
        id,
        string::<String>(body, "displayName").unwrap_or_default(),
    );
    group.description = string(body, "description");
    group.last_updated = Some(modified);
    group
}

/// A user model without its change time, to tell real changes from no-ops.
pub(crate) fn same_user(a: &DirectoryUser, b: &DirectoryUser) -> bool {
    DirectoryUser {
        last_updated: None,
        ..a.clone()
    } == DirectoryUser {
        last_updated: None,
        ..b.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_fixes_case_booleans_and_nulls_and_keeps_unknowns() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "client-chosen", "username": "ada@x.test", "Active": "False",
            "name": {"GivenName": "Ada", "familyName": null},
            "emails": [{"value": "ada@x.test", "primary": "True"}],
            "groups": [{"value": "g"}],
            "badgeNumber": 7,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "R&D"}
        });
        let out = normalize(ResourceType::User, body).unwrap();
        assert_eq!(out["userName"], "ada@x.test");
        assert_eq!(out["active"], false);
        assert_eq!(out["name"], json!({"givenName": "Ada"}));
        assert_eq!(out["emails"][0]["primary"], true);
        assert_eq!(out["badgeNumber"], 7);
        assert_eq!(out[ENTERPRISE_SCHEMA]["department"], "R&D");
        assert!(out.get("id").is_none() && out.get("groups").is_none());
    }

    #[test]
    fn missing_user_name_and_bad_types_are_invalid_value() {
        let e = normalize(ResourceType::User, json!({"displayName": "x"})).unwrap_err();
        assert_eq!(e.scim_type(), Some(crate::ScimType::InvalidValue));
        let e = normalize(
            ResourceType::User,
            json!({"userName": "a", "active": "maybe"}),
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(normalize(ResourceType::User, json!([1])).is_err());
    }

    #[test]
    fn user_maps_one_to_one_with_custom_attributes() {
        let body = normalize(
            ResourceType::User,
            json!({
                "userName": "ada@x.test", "externalId": "00u1", "active": false,
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@x.test", "type": "work", "primary": true}],
                "profileUrl": "https://x.test/ada",
                ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": "m1", "displayName": "Boss"}, "badge": "B7"},
                "urn:okta:custom:1.0:user": {"shoeSize": 42}
            }),
        )
        .unwrap();
        let u = user_to_model("id1", &body, Utc::now());
        assert_eq!(u.status, UserStatus::Disabled);
        assert_eq!(u.primary_email(), Some("ada@x.test"));
        assert_eq!(u.name.family_name.as_deref(), Some("Lovelace"));
        assert_eq!(u.department.as_deref(), Some("R&D"));
        assert_eq!(
            u.manager.as_ref().and_then(|m| m.display_name.as_deref()),
            Some("Boss")
        );
        assert_eq!(u.custom_attributes["profileUrl"], "https://x.test/ada");
        assert_eq!(
            u.custom_attributes[&format!("{ENTERPRISE_SCHEMA}:badge")],
            "B7"
        );
        assert_eq!(u.custom_attributes["urn:okta:custom:1.0:user:shoeSize"], 42);
        assert_eq!(u.custom_attributes.len(), 3);
    }
}
