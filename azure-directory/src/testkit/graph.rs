//! The simulated Graph v1.0 resources: users, groups, members, service
//! principals and app role assignments, paged with `$top` and an opaque
//! `$skiptoken` in `@odata.nextLink`, shaped by `$select`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::needs;
use super::data::{SimAssignment, SimGroup, SimMember, SimUser, TenantData};
use super::server::{graph_error, read, Reply, Sim};

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
    let tenant = read(&sim.tenant);
    let data = &tenant.data;
    match s.as_slice() {
        ["users"] => {
            let select = q.select(USER_DEFAULT);
            list(sim, "users", &q, &data.users, |user| UserView {
                user,
                select: &select,
            })
        }
        ["groups"] => {
            let select = q.select(GROUP_DEFAULT);
            list(sim, "groups", &q, &data.groups, |g| group_json(g, &select))
        }
        [kind @ ("users" | "groups"), "delta"] => {
            let kind = *kind;
            drop(tenant);
            super::deltas::serve(sim, kind, &q)
        }
        ["groups", id, "members"] => match data.members.get(*id) {
            Some(members) => list(sim, &format!("groups/{id}/members"), &q, members, |m| {
                MemberView {
                    odata_type: m.kind.odata_type(),
                    id: &m.id,
                }
            }),
            None => not_found(id),
        },
        ["servicePrincipals", id, "appRoleAssignedTo"] if sp_ok(sim, data, id) => list(
            sim,
            &format!("servicePrincipals/{id}/appRoleAssignedTo"),
            &q,
            &data.assignments,
            |a| assignment_json(data, a),
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
fn list<'a, S, T: Serialize>(
    sim: &Sim,
    what: &str,
    q: &Query,
    items: &'a [S],
    item: impl Fn(&'a S) -> T,
) -> Reply {
    let len = items.len();
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
    let end = offset.saturating_add(top).min(len);
    let next = (end < len).then(|| {
        let rest = q.without_skiptoken();
        let sep = if rest.is_empty() { "" } else { "&" };
        let path = what.split('?').next().unwrap_or(what);
        format!(
            "{}/v1.0/{path}?{rest}{sep}$skiptoken={}",
            sim.base,
            encode_offset(end)
        )
    });
    let page = Page {
        context: format!("{}/v1.0/$metadata#{what}", sim.base),
        value: items
            .get(offset.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(item)
            .collect(),
        next,
    };
    match serde_json::to_string(&page) {
        Ok(text) => Reply::text(200, text),
        Err(e) => graph_error(500, "InternalServerError", &e.to_string()),
    }
}

/// One page of a collection as Graph writes it.
#[derive(Serialize)]
pub(crate) struct Page<T> {
    #[serde(rename = "@odata.context")]
    pub context: String,
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
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

/// A user with the selected properties (unset ones as `null`, like Graph),
/// serialized straight from the stored user: a page of 999 users is written
/// without building a `Value` tree first.
pub(crate) struct UserView<'a> {
    pub user: &'a SimUser,
    pub select: &'a [String],
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut m = s.serialize_map(Some(self.select.len()))?;
        for name in self.select {
            let key = name.as_str();
            match key {
                "id" => m.serialize_entry(key, &u.id)?,
                "userPrincipalName" => m.serialize_entry(key, &u.user_principal_name)?,
                "mail" => m.serialize_entry(key, &u.mail)?,
                "displayName" => m.serialize_entry(key, &u.display_name)?,
                "givenName" => m.serialize_entry(key, &u.given_name)?,
                "surname" => m.serialize_entry(key, &u.surname)?,
                "jobTitle" => m.serialize_entry(key, &u.job_title)?,
                "department" => m.serialize_entry(key, &u.department)?,
                "officeLocation" => m.serialize_entry(key, &u.office_location)?,
                "mobilePhone" => m.serialize_entry(key, &u.mobile_phone)?,
                "businessPhones" => m.serialize_entry(key, &u.business_phones)?,
                "employeeId" => m.serialize_entry(key, &u.employee_id)?,
                "accountEnabled" => m.serialize_entry(key, &u.account_enabled)?,
                "otherMails" => m.serialize_entry(key, &u.other_mails)?,
                "proxyAddresses" => m.serialize_entry(key, &u.proxy_addresses)?,
                "userType" => m.serialize_entry(key, &u.user_type)?,
                "onPremisesImmutableId" => m.serialize_entry(key, &u.on_premises_immutable_id)?,
                "preferredLanguage" => m.serialize_entry(key, &u.preferred_language)?,
                "city" => m.serialize_entry(key, &u.city)?,
                "country" => m.serialize_entry(key, &u.country)?,
                "onPremisesExtensionAttributes" => {
                    m.serialize_entry(key, &ExtensionAttributes(u))?
                }
                other => m.serialize_entry(key, u.extensions.get(other).unwrap_or(&Value::Null))?,
            }
        }
        m.end()
    }
}

/// `onPremisesExtensionAttributes`: all fifteen, unset ones `null`.
struct ExtensionAttributes<'a>(&'a SimUser);

impl Serialize for ExtensionAttributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const NAMES: [&str; 15] = [
            "extensionAttribute1",
            "extensionAttribute2",
            "extensionAttribute3",
            "extensionAttribute4",
            "extensionAttribute5",
            "extensionAttribute6",
            "extensionAttribute7",
            "extensionAttribute8",
            "extensionAttribute9",
            "extensionAttribute10",
            "extensionAttribute11",
            "extensionAttribute12",
            "extensionAttribute13",
            "extensionAttribute14",
            "extensionAttribute15",
        ];
        let mut m = s.serialize_map(Some(NAMES.len()))?;
        for (i, name) in NAMES.iter().enumerate() {
            let v = if i == 0 {
                self.0.extension_attribute1.as_deref()
            } else {
                None
            };
            m.serialize_entry(name, &v)?;
        }
        m.end()
    }
}

/// A user with the selected properties, as a `Value` (delta pages, which
/// are small and edited after rendering).
pub(crate) fn user_json(u: &SimUser, select: &[String]) -> Value {
    serde_json::to_value(UserView { user: u, select }).unwrap_or(Value::Null)
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

/// A directory object reference in a members list, written straight from
/// the stored member.
#[derive(Serialize)]
struct MemberView<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    id: &'a str,
}

/// A directory object reference in a members list, as a `Value` (delta
/// pages).
pub(crate) fn member_json(m: &SimMember) -> Value {
    json!({ "@odata.type": m.kind.odata_type(), "id": m.id })
}

fn assignment_json(data: &TenantData, a: &SimAssignment) -> Value {
    json!({
        "id": a.id, "deletedDateTime": null, "appRoleId": a.app_role_id,
        "createdDateTime": "2025-03-11T09:14:52Z", "principalDisplayName": null,
        "principalId": a.principal_id, "principalType": a.principal_type,
        "resourceDisplayName": data.sso_app.display_name, "resourceId": data.sso_app.id,
    })
}
