//! The simulated org's side of the wire: the model written as Okta JSON
//! (the inverse of the provider's decoding for every field Okta has).

use chrono::{DateTime, SecondsFormat, Utc};
use directory_core::{
    AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, GroupKind, UserStatus,
};
use serde::Serialize;
use serde_json::Value;

/// The Okta name of a status; statuses Okta does not have are sent
/// upper-cased (and come back as `Other`).
pub(crate) fn okta_status(s: &UserStatus) -> String {
    match s {
        UserStatus::Active => "ACTIVE".into(),
        UserStatus::Staged => "STAGED".into(),
        UserStatus::Provisioned => "PROVISIONED".into(),
        UserStatus::Recovery => "RECOVERY".into(),
        UserStatus::PasswordExpired => "PASSWORD_EXPIRED".into(),
        UserStatus::LockedOut => "LOCKED_OUT".into(),
        UserStatus::Suspended => "SUSPENDED".into(),
        UserStatus::Deprovisioned => "DEPROVISIONED".into(),
        UserStatus::Other(s) => s.clone(),
        other => other.as_str().to_ascii_uppercase(),
    }
}

fn okta_group_type(k: &GroupKind) -> String {
    match k {
        GroupKind::Directory => "OKTA_GROUP".into(),
        GroupKind::Application => "APP_GROUP".into(),
        GroupKind::BuiltIn => "BUILT_IN".into(),
        GroupKind::Other(s) => s.clone(),
        other => other.as_str().to_ascii_uppercase(),
    }
}

pub(crate) fn okta_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireUser<'a> {
    id: &'a str,
    status: String,
    created: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated: Option<String>,
    profile: WireProfile<'a>,
    #[serde(rename = "_links")]
    links: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireProfile<'a> {
    login: &'a str,
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    second_email: Option<&'a str>,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    middle_name: Option<&'a str>,
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nick_name: Option<&'a str>,
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<&'a str>,
    employee_number: Option<&'a str>,
    cost_center: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    division: Option<&'a str>,
    department: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manager: Option<&'a str>,
    mobile_phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_address: Option<&'a str>,
    #[serde(flatten)]
    custom: &'a directory_core::Attributes,
}

fn s(v: &Option<Box<str>>) -> Option<&str> {
    v.as_deref()
}

/// A user as Okta lists it.
pub(crate) fn user_json<'a>(u: &'a DirectoryUser, base: &str) -> impl Serialize + 'a {
    let email = u
        .emails
        .iter()
        .find(|e| e.primary)
        .map(|e| e.value.as_str());
    let second = u
        .emails
        .iter()
        .find(|e| !e.primary)
        .map(|e| e.value.as_str());
    let phone = |kind: &str, primary: bool| {
        u.phone_numbers
            .iter()
            .find(|p| p.primary == primary && (primary || p.kind.as_deref() == Some(kind)))
            .map(|p| p.value.as_str())
    };
    let addr = u.addresses.first();
    let a =
        |f: fn(&directory_core::Address) -> &Option<Box<str>>| addr.and_then(|x| f(x).as_deref());
    WireUser {
        id: &u.id,
        status: okta_status(&u.status),
        created: "2023-01-01T00:00:00.000Z",
        last_updated: u.last_updated.as_ref().map(okta_time),
        profile: WireProfile {
            login: &u.user_name,
            email,
            second_email: second,
            first_name: s(&u.name.given_name),
            last_name: s(&u.name.family_name),
            middle_name: s(&u.name.middle_name),
            display_name: s(&u.display_name),
            nick_name: s(&u.nick_name),
            title: s(&u.title),
            user_type: s(&u.user_type),
            locale: s(&u.locale),
            timezone: s(&u.timezone),
            employee_number: s(&u.employee_number),
            cost_center: s(&u.cost_center),
            organization: s(&u.organization),
            division: s(&u.division),
            department: s(&u.department),
            manager_id: u.manager.as_ref().and_then(|m| s(&m.value)),
            manager: u.manager.as_ref().and_then(|m| s(&m.display_name)),
            mobile_phone: phone("mobile", false),
            primary_phone: phone("work", true),
            street_address: a(|x| &x.street_address),
            city: a(|x| &x.locality),
            state: a(|x| &x.region),
            zip_code: a(|x| &x.postal_code),
            country_code: a(|x| &x.country),
            postal_address: a(|x| &x.formatted),
            custom: &u.custom_attributes,
        },
        links: serde_json::json!({"self": {"href": format!("{base}/api/v1/users/{}", u.id)}}),
    }
}

/// A group as Okta lists it.
pub(crate) fn group_json(g: &DirectoryGroup, base: &str) -> Value {
    serde_json::json!({
        "id": g.id,
        "created": "2023-01-01T00:00:00.000Z",
        "lastUpdated": g.last_updated.as_ref().map(okta_time),
        "lastMembershipUpdated": g.last_membership_updated.as_ref().map(okta_time),
        "objectClass": ["okta:user_group"],
        "type": okta_group_type(&g.kind),
        "profile": {"name": g.name, "description": g.description},
        "_links": {"users": {"href": format!("{base}/api/v1/groups/{}/users", g.id)}},
    })
}

/// An app user row: `scope` USER or GROUP, `_links.group` for the latter.
pub(crate) fn app_user_json(a: &AppAssignment, base: &str, app_id: &str) -> Value {
    let mut links = serde_json::json!({
        "app": {"href": format!("{base}/api/v1/apps/{app_id}")},
        "user": {"href": format!("{base}/api/v1/users/{}", a.user_id)},
    });
    let scope = match &a.via {
        AssignedVia::Direct => "USER",
        AssignedVia::Group { group_id } => {
            if let (Some(g), Some(links)) = (group_id, links.as_object_mut()) {
                let href = serde_json::json!({"href": format!("{base}/api/v1/groups/{g}")});
                links.insert("group".into(), href);
            }
            "GROUP"
        }
    };
    serde_json::json!({
        "id": a.user_id,
        "externalId": null,
        "scope": scope,
        "status": "ACTIVE",
        "syncState": "DISABLED",
        "credentials": {"userName": a.user_id},
        "_links": links,
    })
}

/// Okta's Management API error body.
pub(crate) fn api_error(code: &str, summary: &str) -> Value {
    serde_json::json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", uuid::Uuid::new_v4().simple()),
        "errorCauses": [],
    })
}

/// An OAuth error body.
pub(crate) fn oauth_error(error: &str, description: &str) -> Value {
    serde_json::json!({"error": error, "error_description": description})
}
