//! The simulated Graph v1.0 resources: users, groups, members, service
//! principals and app role assignments, paged with `$top` and an opaque
//! `$skiptoken` in `@odata.nextLink`, shaped by `$select`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::auth::needs;
use super::data::{SimGroup, SimMember, SimUser, TenantData};
use super::server::{graph_error, lock, Reply, Sim};

/// Graph's default user properties (no `$select`).
const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];
const GROUP_DEFAULT: &[&str] = &[
    "id",
    "displayName",
    "description",
    "groupTypes",
    "mailEnabled",
    "securityEnabled",
    "mail",
];

/// Query parameters, decoded.
pub(crate) struct Query {
    pub pairs: Vec<(String, String)>,
    pub raw: String,
}

impl Query {
    pub fn parse(raw: &str) -> Self {
        let pairs = directory_core::http::url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        Self {
            pairs,
            raw: raw.to_string(),
        }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    /// `$select` as a list, or the defaults.
    pub fn select(&self, default: &[&str]) -> Vec<String> {
        match self.get("$select") {
            Some(s) => s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            None => default.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The raw query without `$skiptoken`, to build the next link from.
    fn without_skiptoken(&self) -> String {
        self.raw
            .split('&')
            .filter(|kv| !kv.starts_with("$skiptoken=") && !kv.starts_with("%24skiptoken="))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Serves one Graph GET.
pub(crate) fn serve(sim: &Sim, segs: &[String], raw_query: &str, roles: &[String]) -> Reply {
    let q = Query::parse(raw_query);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let area = match s.first().copied() {
        Some("users") => "users",
        Some("groups") => "groups",
        _ => "apps",
    };
    if !needs(area).iter().any(|n| roles.iter().any(|r| r == n)) {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let tenant = lock(&sim.tenant);
    let data = &tenant.data;
    match s.as_slice() {
        ["users"] => {
            let select = q.select(USER_DEFAULT);
            list(sim, "users", &q, data.users.len(), |i| {
                user_json(&data.users[i], &select)
            })
        }
        ["groups"] => {
            let select = q.select(GROUP_DEFAULT);
            list(sim, "groups", &q, data.groups.len(), |i| {
                group_json(&data.groups[i], &select)
            })
        }
        ["users", "delta"] | ["groups", "delta"] => {
            drop(tenant);
            super::deltas::serve(sim, s[0], &q)
        }
        ["groups", id, "members"] => match data.members.get(*id) {
            Some(members) => list(
                sim,
                &format!("groups/{id}/members"),
                &q,
                members.len(),
                |i| member_json(&members[i]),
            ),
            None => not_found(id),
        },
        ["servicePrincipals", id, "appRoleAssignedTo"] if sp_ok(sim, data, id) => list(
            sim,
            &format!("servicePrincipals/{id}/appRoleAssignedTo"),
            &q,
            data.assignments.len(),
            |i| assignment_json(data, i),
        ),
        [sp] if sp.starts_with("servicePrincipals(appId=") => {
            service_principal_by_app_id(sim, data, sp)
        }
        ["servicePrincipals", id] if sp_ok(sim, data, id) => Reply::json(200, sp_json(data)),
        ["servicePrincipals", id, ..] => not_found(id),
        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
    }
}

fn sp_ok(sim: &Sim, data: &TenantData, id: &str) -> bool {
    id == data.sso_app.id && !sim.sp_deleted.load(std::sync::atomic::Ordering::SeqCst)
}

fn not_found(id: &str) -> Reply {
    graph_error(404, "Request_ResourceNotFound", &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."))
}

fn sp_json(data: &TenantData) -> Value {
    json!({
        "id": data.sso_app.id, "appId": data.sso_app.app_id, "displayName": data.sso_app.display_name,
        "appRoleAssignmentRequired": true,
    })
}

fn service_principal_by_app_id(sim: &Sim, data: &TenantData, seg: &str) -> Reply {
    let app_id = seg
        .trim_start_matches("servicePrincipals(appId=")
        .trim_end_matches(')')
        .trim_matches('\'');
    if app_id == data.sso_app.app_id && !sim.sp_deleted.load(std::sync::atomic::Ordering::SeqCst) {
        return Reply::json(200, sp_json(data));
    }
    not_found(app_id)
}

/// One page of a collection: `$top` (1..=999, default 100) items from the
/// offset in `$skiptoken`, with a next link while more remain.
fn list(sim: &Sim, what: &str, q: &Query, len: usize, item: impl Fn(usize) -> Value) -> Reply {
    let top = match q.get("$top").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=999).contains(&n) => n,
        Some(_) => {
            let v = q.get("$top").unwrap_or_default();
            return graph_error(
                400,
                "Request_BadRequest",
                &format!(
                    "Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive."
                ),
            );
        }
    };
    let Some(offset) = q.get("$skiptoken").map_or(Some(0), decode_offset) else {
        return graph_error(400, "Request_BadRequest", "The specified page token value has expired and can no longer be included in your request.");
    };
    let end = (offset + top).min(len);
    let value: Vec<Value> = (offset.min(end)..end).map(item).collect();
    let mut body =
        json!({ "@odata.context": format!("{}/v1.0/$metadata#{what}", sim.base), "value": value });
    if end < len {
        let rest = q.without_skiptoken();
        let sep = if rest.is_empty() { "" } else { "&" };
        let path = what.split('?').next().unwrap_or(what);
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/{path}?{rest}{sep}$skiptoken={}",
            sim.base,
            encode_offset(end)
        ));
    }
    Reply::json(200, body)
}

fn encode_offset(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("RFNwdA{n:08}"))
}

fn decode_offset(tok: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(tok).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("RFNwdA")?
        .parse()
        .ok()
}

/// A user with the selected properties (unset ones as `null`, like Graph).
pub(crate) fn user_json(u: &SimUser, select: &[String]) -> Value {
    let mut m = Map::new();
    for name in select {
        let v = match name.as_str() {
            "id" => json!(u.id),
            "userPrincipalName" => json!(u.user_principal_name),
            "mail" => json!(u.mail),
            "displayName" => json!(u.display_name),
            "givenName" => json!(u.given_name),
            "surname" => json!(u.surname),
            "jobTitle" => json!(u.job_title),
            "department" => json!(u.department),
            "officeLocation" => json!(u.office_location),
            "mobilePhone" => json!(u.mobile_phone),
            "businessPhones" => json!(u.business_phones),
            "employeeId" => json!(u.employee_id),
            "accountEnabled" => json!(u.account_enabled),
            "otherMails" => json!(u.other_mails),
            "proxyAddresses" => json!(u.proxy_addresses),
            "userType" => json!(u.user_type),
            "onPremisesImmutableId" => json!(u.on_premises_immutable_id),
            "preferredLanguage" => json!(u.preferred_language),
            "city" => json!(u.city),
            "country" => json!(u.country),
            "onPremisesExtensionAttributes" => extension_attributes(u),
            other => u.extensions.get(other).cloned().unwrap_or(Value::Null),
        };
        m.insert(name.clone(), v);
    }
    Value::Object(m)
}

fn extension_attributes(u: &SimUser) -> Value {
    let mut m = Map::new();
    for i in 1..=15 {
        let v = if i == 1 {
            json!(u.extension_attribute1)
        } else {
            Value::Null
        };
        m.insert(format!("extensionAttribute{i}"), v);
    }
    Value::Object(m)
}

/// A group with the selected properties.
pub(crate) fn group_json(g: &SimGroup, select: &[String]) -> Value {
    let mut m = Map::new();
    for name in select {
        let v = match name.as_str() {
            "id" => json!(g.id),
            "displayName" => json!(g.display_name),
            "description" => json!(g.description),
            "groupTypes" => json!(g.group_types),
            "mailEnabled" => json!(g.mail_enabled),
            "securityEnabled" => json!(g.security_enabled),
            "members" => continue,
            _ => Value::Null,
        };
        m.insert(name.clone(), v);
    }
    Value::Object(m)
}

/// A directory object reference in a members list.
pub(crate) fn member_json(m: &SimMember) -> Value {
    json!({ "@odata.type": m.kind.odata_type(), "id": m.id })
}

fn assignment_json(data: &TenantData, i: usize) -> Value {
    let a = &data.assignments[i];
    json!({
        "id": a.id, "deletedDateTime": null, "appRoleId": a.app_role_id,
        "createdDateTime": "2025-03-11T09:14:52Z", "principalDisplayName": null,
        "principalId": a.principal_id, "principalType": a.principal_type,
        "resourceDisplayName": data.sso_app.display_name, "resourceId": data.sso_app.id,
    })
}
