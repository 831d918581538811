//! Okta's wire format and its mapping onto the directory model. The page
//! decoders are public for benchmarks and property tests as
//! `okta_directory::wire` (feature `testkit`); the provider uses the same
//! code (`decode_page` with the same mappings).
//!
//! Decoding is lenient where Okta is loose: every field but `id` may be
//! missing or null, an empty email or phone is none, unknown statuses and
//! group types are kept as `Other`, and every profile attribute this module
//! does not map is kept in `custom_attributes` (nulls are dropped). A body
//! that is not the expected shape is an error naming the JSON path.
//!
//! `tests/decode_fixtures.rs` decodes fixtures written from Okta's API
//! reference (`tests/fixtures/`), not from the simulated org's encoder.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use directory_core::Error;
use directory_core::{
    Address, AppAssignment, AssignedVia, DirectoryGroup, DirectoryUser, Email, GroupKind, Manager,
    PersonName, PhoneNumber, Result, UserStatus,
};
use serde::Deserialize;
use serde_json::Value;

/// An Okta `User` as listed by `/api/v1/users` and `/api/v1/groups/{id}/users`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OktaUser {
    pub(crate) id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    last_updated: Option<DateTime<Utc>>,
    #[serde(default)]
    profile: Option<UserProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserProfile {
    login: Option<String>,
    email: Option<String>,
    second_email: Option<String>,
    first_name: Option<Box<str>>,
    last_name: Option<Box<str>>,
    middle_name: Option<Box<str>>,
    honorific_prefix: Option<Box<str>>,
    honorific_suffix: Option<Box<str>>,
    display_name: Option<Box<str>>,
    nick_name: Option<Box<str>>,
    title: Option<Box<str>>,
    user_type: Option<Box<str>>,
    preferred_language: Option<Box<str>>,
    locale: Option<Box<str>>,
    timezone: Option<Box<str>>,
    employee_number: Option<Box<str>>,
    cost_center: Option<Box<str>>,
    organization: Option<Box<str>>,
    division: Option<Box<str>>,
    department: Option<Box<str>>,
    manager_id: Option<Box<str>>,
    manager: Option<Box<str>>,
    mobile_phone: Option<String>,
    primary_phone: Option<String>,
    street_address: Option<Box<str>>,
    city: Option<Box<str>>,
    state: Option<Box<str>>,
    zip_code: Option<Box<str>>,
    country_code: Option<Box<str>>,
    postal_address: Option<Box<str>>,
    #[serde(flatten)]
    custom: BTreeMap<String, Value>,
}

/// Okta's user status names onto the model.
pub(crate) fn user_status(s: &str) -> UserStatus {
    match s {
        "ACTIVE" => UserStatus::Active,
        "STAGED" => UserStatus::Staged,
        "PROVISIONED" => UserStatus::Provisioned,
        "RECOVERY" => UserStatus::Recovery,
        "PASSWORD_EXPIRED" => UserStatus::PasswordExpired,
        "LOCKED_OUT" => UserStatus::LockedOut,
        "SUSPENDED" => UserStatus::Suspended,
        "DEPROVISIONED" => UserStatus::Deprovisioned,
        other => UserStatus::Other(other.to_string()),
    }
}

/// Okta's group type names onto the model.
pub(crate) fn group_kind(s: &str) -> GroupKind {
    match s {
        "OKTA_GROUP" => GroupKind::Directory,
        "APP_GROUP" => GroupKind::Application,
        "BUILT_IN" => GroupKind::BuiltIn,
        other => GroupKind::Other(other.to_string()),
    }
}

impl OktaUser {
    pub(crate) fn into_user(self) -> DirectoryUser {
        let mut p = self.profile.unwrap_or_default();
        DirectoryUser {
            id: self.id,
            user_name: p.login.take().unwrap_or_default(),
            external_id: None,
            name: p.name(),
            emails: p.emails(),
            phone_numbers: p.phones(),
            addresses: p.address().into_iter().collect(),
            manager: p.manager(),
            display_name: p.display_name,
            nick_name: p.nick_name,
            title: p.title,
            user_type: p.user_type,
            preferred_language: p.preferred_language,
            locale: p.locale,
            timezone: p.timezone,
            employee_number: p.employee_number,
            cost_center: p.cost_center,
            organization: p.organization,
            division: p.division,
            department: p.department,
            status: self
                .status
                .as_deref()
                .map_or(UserStatus::Other(String::new()), user_status),
            last_updated: self.last_updated,
            custom_attributes: p.custom.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        }
    }
}

impl UserProfile {
    fn name(&mut self) -> PersonName {
        PersonName {
            formatted: None,
            family_name: self.last_name.take(),
            given_name: self.first_name.take(),
            middle_name: self.middle_name.take(),
            honorific_prefix: self.honorific_prefix.take(),
            honorific_suffix: self.honorific_suffix.take(),
        }
    }

    /// `email` is the primary (work) address, `secondEmail` another one.
    /// An empty string is no address (Okta's own examples send
    /// `"secondEmail": ""`).
    fn emails(&mut self) -> Vec<Email> {
        let primary = given(self.email.take()).map(|e| Email::new(e, "work", true));
        let second = given(self.second_email.take()).map(|e| Email::new(e, "other", false));
        primary.into_iter().chain(second).collect()
    }

    fn phones(&mut self) -> Vec<PhoneNumber> {
        let primary = given(self.primary_phone.take()).map(|n| PhoneNumber::new(n, "work", true));
        let mobile = given(self.mobile_phone.take()).map(|n| PhoneNumber::new(n, "mobile", false));
        primary.into_iter().chain(mobile).collect()
    }

    /// Okta's flat address attributes as one primary work address.
    fn address(&mut self) -> Option<Address> {
        let a = Address {
            kind: Some("work".into()),
            formatted: self.postal_address.take(),
            street_address: self.street_address.take(),
            locality: self.city.take(),
            region: self.state.take(),
            postal_code: self.zip_code.take(),
            country: self.country_code.take(),
            primary: true,
        };
        (!a.is_empty()).then_some(a)
    }

    fn manager(&mut self) -> Option<Manager> {
        match (self.manager_id.take(), self.manager.take()) {
            (None, None) => None,
            (value, display_name) => Some(Manager {
                value,
                display_name,
            }),
        }
    }
}

/// A value that says something: not missing, not empty.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A group member: a full Okta `User` on the wire, of which only the id is
/// needed (the rest is skipped without being built).
#[derive(Debug, Deserialize)]
pub(crate) struct OktaMember {
    pub(crate) id: String,
}

/// An Okta `Group`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OktaGroup {
    id: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    last_updated: Option<DateTime<Utc>>,
    #[serde(default)]
    last_membership_updated: Option<DateTime<Utc>>,
    #[serde(default)]
    profile: Option<GroupProfile>,
}

/// Both `okta:user_group` and `okta:windows_security_principal` profiles
/// carry `name` and `description`; the rest is ignored.
#[derive(Debug, Default, Deserialize)]
struct GroupProfile {
    name: Option<String>,
    description: Option<String>,
}

impl OktaGroup {
    pub(crate) fn into_group(self) -> DirectoryGroup {
        let p = self.profile.unwrap_or_default();
        DirectoryGroup {
            name: p.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            description: p.description,
            kind: self
                .kind
                .as_deref()
                .map_or(GroupKind::Directory, group_kind),
            last_updated: self.last_updated,
            last_membership_updated: self.last_membership_updated,
        }
    }
}

/// An Okta `AppUser` from `/api/v1/apps/{id}/users`.
#[derive(Debug, Deserialize)]
pub(crate) struct OktaAppUser {
    id: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default, rename = "_links")]
    links: Option<AppUserLinks>,
}

#[derive(Debug, Default, Deserialize)]
struct AppUserLinks {
    group: Option<Link>,
}

#[derive(Debug, Deserialize)]
struct Link {
    href: Option<String>,
}

impl OktaAppUser {
    /// `scope: USER` is a direct assignment, `GROUP` one through a group
    /// (named by `_links.group` when Okta includes it).
    pub(crate) fn into_assignment(self) -> AppAssignment {
        let via = match self.scope.as_deref() {
            Some("GROUP") => AssignedVia::Group {
                group_id: self
                    .links
                    .and_then(|l| l.group)
                    .and_then(|g| g.href)
                    .and_then(|h| h.rsplit('/').next().map(str::to_string))
                    .filter(|id| !id.is_empty()),
            },
            _ => AssignedVia::Direct,
        };
        AppAssignment {
            user_id: self.id,
            via,
            role: None,
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
/// Decodes one page of `GET /api/v1/users` (a JSON array of Okta users).
pub fn users_page(body: &[u8]) -> Result<Vec<DirectoryUser>> {
    decode_page("Okta users page", body, OktaUser::into_user)
}

#[cfg(any(test, feature = "testkit"))]
/// Decodes one page of `GET /api/v1/groups`.
pub fn groups_page(body: &[u8]) -> Result<Vec<DirectoryGroup>> {
    decode_page("Okta groups page", body, OktaGroup::into_group)
}

#[cfg(any(test, feature = "testkit"))]
/// Decodes one page of `GET /api/v1/groups/{group_id}/users` into memberships.
pub fn members_page(group_id: &str, body: &[u8]) -> Result<Vec<directory_core::Membership>> {
    decode_page("Okta group members page", body, |m: OktaMember| {
        directory_core::Membership::direct(group_id, m.id)
    })
}

#[cfg(any(test, feature = "testkit"))]
/// Decodes one page of `GET /api/v1/apps/{app_id}/users` into assignments.
pub fn app_users_page(body: &[u8]) -> Result<Vec<AppAssignment>> {
    decode_page(
        "Okta SAML app users page",
        body,
        OktaAppUser::into_assignment,
    )
}

/// Decodes a page (a JSON array) of `W` and maps each item.
pub(crate) fn decode_page<W, T>(what: &str, body: &[u8], map: impl Fn(W) -> T) -> Result<Vec<T>>
where
    W: serde::de::DeserializeOwned,
{
    let items: Vec<W> = Error::decode_json(what, body)?;
    Ok(items.into_iter().map(map).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_user_maps_to_the_model() {
        let body = br#"[{"id":"00u8k2mQx4TyHvR1s5d7","status":"ACTIVE","lastUpdated":"2026-05-30T16:20:11.000Z",
          "profile":{"login":"maria.lopez@example.org","email":"maria.lopez@example.org","secondEmail":null,
          "firstName":"Maria","lastName":"Lopez","displayName":"Maria Lopez","mobilePhone":"+34 600 123 456",
          "title":"SRE","department":"Platform","employeeNumber":"E-20931","managerId":"00u5p1aZr8QmHvT2k5d7",
          "costCenter":null,"customAttribute":"kept","badge":7},
          "credentials":{"provider":{"type":"OKTA","name":"OKTA"}},"_links":{"self":{"href":"x"}}}]"#;
        let users = decode_page("users", body, OktaUser::into_user).unwrap();
        let u = &users[0];
        assert_eq!(u.user_name, "maria.lopez@example.org");
        assert_eq!(u.primary_email(), Some("maria.lopez@example.org"));
        assert_eq!(u.name.given_name.as_deref(), Some("Maria"));
        assert_eq!(u.cost_center, None);
        assert_eq!(
            u.manager.as_ref().unwrap().value.as_deref(),
            Some("00u5p1aZr8QmHvT2k5d7")
        );
        assert_eq!(u.custom_attributes["customAttribute"], "kept");
        assert_eq!(u.custom_attributes["badge"], 7);
        assert_eq!(u.phone_numbers[0].kind.as_deref(), Some("mobile"));
        assert!(u.last_updated.is_some());
    }

    #[test]
    fn unknown_values_are_kept_and_nulls_tolerated() {
        let body = br#"[{"id":"1","status":"ACTIVATING","profile":null},{"id":"2","status":null,"lastUpdated":null}]"#;
        let users = decode_page("users", body, OktaUser::into_user).unwrap();
        assert_eq!(users[0].status, UserStatus::Other("ACTIVATING".into()));
        let g = br#"[{"id":"00g1","type":"FUTURE_GROUP","profile":{"name":"x","dn":"cn=x"}}]"#;
        let groups = decode_page("groups", g, OktaGroup::into_group).unwrap();
        assert_eq!(groups[0].kind, GroupKind::Other("FUTURE_GROUP".into()));
    }

    #[test]
    fn malformed_page_names_the_json_path() {
        let body = br#"[{"id":"1","profile":{"login":"a"}},{"id":"2","profile":{"login":5}}]"#;
        let e = decode_page("Okta users page", body, OktaUser::into_user).unwrap_err();
        assert!(e.message().contains("[1].profile.login"), "{}", e.message());
    }

    #[test]
    fn app_users_direct_and_via_group() {
        let body = br#"[{"id":"00u1","scope":"USER"},
          {"id":"00u2","scope":"GROUP","_links":{"group":{"href":"https://x.okta.com/api/v1/groups/00g9"}}},
          {"id":"00u3","scope":"GROUP"}]"#;
        let a = decode_page("app users", body, OktaAppUser::into_assignment).unwrap();
        assert_eq!(a[0], AppAssignment::direct("00u1"));
        assert_eq!(a[1], AppAssignment::via_group("00u2", "00g9"));
        assert_eq!(a[2].via, AssignedVia::Group { group_id: None });
    }
}
