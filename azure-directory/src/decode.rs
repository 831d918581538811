//! Graph's wire shapes and their lenient mapping onto the model: nulls are
//! tolerated, unknown values kept as `Other`, extension and unknown
//! properties kept as custom attributes. A body that does not fit at all is
//! an error naming the JSON path (`Error::decode_json`).

use directory_core::{DirectoryGroup, GroupKind};
use serde::Deserialize;
use serde_json::Value;

// The whole-page decoders are for tests and benchmarks (`wire`).
#[cfg(any(test, feature = "testkit"))]
use crate::client::GraphPage;
#[cfg(any(test, feature = "testkit"))]
use crate::user::WireUser;
#[cfg(any(test, feature = "testkit"))]
use directory_core::{DirectoryUser, Error, Result};

/// The user properties requested with `$select` (default properties omit
/// `accountEnabled`, `employeeId`, `userType`...; `$select` also lowers the
/// request's resource-unit cost).
pub const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "officeLocation",
    "mobilePhone",
    "businessPhones",
    "employeeId",
    "employeeType",
    "companyName",
    "accountEnabled",
    "otherMails",
    "proxyAddresses",
    "userType",
    "onPremisesImmutableId",
    "preferredLanguage",
    "usageLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "onPremisesExtensionAttributes",
];

/// The group properties requested with `$select`.
pub const GROUP_SELECT: &[&str] = &[
    "id",
    "displayName",
    "description",
    "groupTypes",
    "mailEnabled",
    "securityEnabled",
];

/// A member's properties requested with `$select`.
pub const MEMBER_SELECT: &[&str] = &["id"];

/// The `appRoleId` that means "default access, no specific role".
pub const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";

/// A group as Graph sends it (delta pages add `members@delta`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireGroup {
    pub id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    group_types: Option<Vec<Option<String>>>,
    #[serde(default)]
    mail_enabled: Option<bool>,
    #[serde(default)]
    security_enabled: Option<bool>,
    #[serde(default, rename = "@removed")]
    pub removed: Option<Value>,
    #[serde(default, rename = "members@delta")]
    pub members_delta: Option<Vec<WireMember>>,
}

/// A directory object in a members list or in `members@delta`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WireMember {
    pub id: String,
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    #[serde(default, rename = "@removed")]
    pub removed: Option<Value>,
}

/// What a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberKind {
    User,
    Group,
    /// A device, service principal, org contact or a type we do not know.
    Other,
}

impl WireMember {
    pub fn kind(&self) -> MemberKind {
        match self
            .odata_type
            .as_deref()
            .map(|t| t.trim_start_matches("#microsoft.graph."))
        {
            Some(t) if t.eq_ignore_ascii_case("user") => MemberKind::User,
            Some(t) if t.eq_ignore_ascii_case("group") => MemberKind::Group,
            _ => MemberKind::Other,
        }
    }
}

/// One `appRoleAssignment` of the SSO app's service principal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireAssignment {
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub app_role_id: Option<String>,
}

impl WireAssignment {
    /// The role, `None` for default access.
    pub fn role(&self) -> Option<String> {
        self.app_role_id
            .clone()
            .filter(|r| r != DEFAULT_ACCESS_ROLE)
    }
}

/// A service principal, as `check()` reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireServicePrincipal {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Decodes one Graph users page (`/users` or `/users/delta`) into model
/// users and the page's next link. Removed entries of a delta page are left
/// out. Errors name the JSON path; no input makes it panic.
#[cfg(any(test, feature = "testkit"))]
pub fn decode_users_page(body: &[u8]) -> Result<(Vec<DirectoryUser>, Option<String>)> {
    let page: GraphPage<WireUser> = Error::decode_json("Graph users page", body)?;
    let users = page
        .value
        .into_iter()
        .filter(|u| u.removed.is_none())
        .map(WireUser::into_model)
        .collect();
    Ok((users, page.next_link))
}

/// Decodes one Graph groups page into model groups and the next link.
#[cfg(any(test, feature = "testkit"))]
pub fn decode_groups_page(body: &[u8]) -> Result<(Vec<DirectoryGroup>, Option<String>)> {
    let page: GraphPage<WireGroup> = Error::decode_json("Graph groups page", body)?;
    Ok((
        page.value
            .iter()
            .filter(|g| g.removed.is_none())
            .map(WireGroup::to_model)
            .collect(),
        page.next_link,
    ))
}

/// Decodes one Graph members page into the ids of its user members and of
/// its nested groups (devices and service principals are skipped), and the
/// next link.
#[cfg(any(test, feature = "testkit"))]
pub fn decode_members_page(body: &[u8]) -> Result<(Vec<String>, Vec<String>, Option<String>)> {
    let page: GraphPage<WireMember> = Error::decode_json("Graph members page", body)?;
    let (mut users, mut groups) = (Vec::new(), Vec::new());
    for m in page.value {
        match m.kind() {
            MemberKind::User => users.push(m.id),
            MemberKind::Group => groups.push(m.id),
            MemberKind::Other => {}
        }
    }
    Ok((users, groups, page.next_link))
}

impl WireGroup {
    /// The model group.
    pub fn to_model(&self) -> DirectoryGroup {
        let mut g = DirectoryGroup::new(
            self.id.clone(),
            self.display_name.clone().unwrap_or_default(),
        );
        g.description = self.description.clone();
        let types: Vec<&str> = self
            .group_types
            .iter()
            .flatten()
            .flatten()
            .map(String::as_str)
            .collect();
        g.kind = group_kind(&types, self.mail_enabled, self.security_enabled);
        g
    }
}

/// The group's kind from `groupTypes`, `mailEnabled` and `securityEnabled`.
pub(crate) fn group_kind(
    group_types: &[&str],
    mail_enabled: Option<bool>,
    security_enabled: Option<bool>,
) -> GroupKind {
    if group_types
        .iter()
        .any(|t| t.eq_ignore_ascii_case("Unified"))
    {
        return GroupKind::Microsoft365;
    }
    match (mail_enabled, security_enabled) {
        (Some(false), Some(true)) => GroupKind::Security,
        (Some(true), Some(true)) => GroupKind::MailEnabledSecurity,
        (Some(true), Some(false)) => GroupKind::Distribution,
        (m, s) => GroupKind::Other(format!(
            "mailEnabled={},securityEnabled={}",
            flag(m),
            flag(s)
        )),
    }
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory_core::UserStatus;
    use proptest::prelude::*;

    const PAGE: &str = r##"{"value":[
      {"id":"3f2c9b1e-7a41-4c0d-9e55-0b8f6d2a1c77","userPrincipalName":"rachel.kim@fabrikam.com",
       "mail":"rachel.kim@fabrikam.com","displayName":"Rachel Kim","givenName":"Rachel","surname":"Kim",
       "jobTitle":"Payroll Analyst","department":"Finance","officeLocation":"Building 4 / 2.117",
       "mobilePhone":"+1 206 555 0144","businessPhones":["+1 206 555 0100"],"employeeId":"004871",
       "accountEnabled":true,"otherMails":[],"proxyAddresses":["SMTP:rachel.kim@fabrikam.com"],
       "userType":"Member","onPremisesImmutableId":"q1Zr6cS0dUW3cI0XbV3m9A==",
       "extension_0f3c_costCenter":"CC-7","onPremisesExtensionAttributes":{"extensionAttribute1":"badge-1","extensionAttribute2":null}},
      {"id":"a8d05c33-1f6e-4b7a-8c2d-5e9f40b3d611","userPrincipalName":"jon.ortega_contoso.com#EXT#@fabrikam.onmicrosoft.com",
       "mail":null,"displayName":null,"givenName":null,"surname":null,"businessPhones":null,
       "accountEnabled":false,"otherMails":["jon@contoso.com"],"userType":"Guest"},
      {"id":"b0000000-0000-0000-0000-000000000001"}
    ]}"##;

    #[test]
    fn users_map_leniently_and_keep_extensions() {
        let page: GraphPage<WireUser> = Error::decode_json("users page", PAGE.as_bytes()).unwrap();
        let users: Vec<DirectoryUser> = page.value.into_iter().map(WireUser::into_model).collect();
        let r = &users[0];
        assert_eq!(r.primary_email(), Some("rachel.kim@fabrikam.com"));
        assert_eq!(r.employee_number.as_deref(), Some("004871"));
        assert_eq!(r.status, UserStatus::Active);
        assert_eq!(r.phone_numbers.len(), 2);
        assert_eq!(r.custom_attributes["extension_0f3c_costCenter"], "CC-7");
        assert_eq!(r.custom_attributes["extensionAttribute1"], "badge-1");
        assert_eq!(r.custom_attributes["officeLocation"], "Building 4 / 2.117");
        assert!(!r.custom_attributes.contains_key("extensionAttribute2"));
        let guest = &users[1];
        assert_eq!(guest.status, UserStatus::Disabled);
        assert_eq!(guest.primary_email(), Some("jon@contoso.com"));
        assert_eq!(users[2].status, UserStatus::Other("unknown".into()));
        assert_eq!(users[2].user_name, "b0000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn malformed_bodies_name_the_json_path() {
        let bad = r#"{"value":[{"id":"a"},{"id":"b","accountEnabled":"yes"}]}"#;
        let e =
            Error::decode_json::<GraphPage<WireUser>>("users page", bad.as_bytes()).unwrap_err();
        assert!(
            e.message().contains("$.value[1].accountEnabled"),
            "{}",
            e.message()
        );
        let e =
            Error::decode_json::<GraphPage<WireUser>>("users page", br#"{"value":[{"mail":"x"}]}"#)
                .unwrap_err();
        assert!(e.message().contains("$.value[0]"), "{}", e.message());
    }

    #[test]
    fn group_kinds_follow_the_three_properties() {
        assert_eq!(
            group_kind(&["Unified"], Some(true), Some(false)),
            GroupKind::Microsoft365
        );
        assert_eq!(
            group_kind(&["DynamicMembership"], Some(false), Some(true)),
            GroupKind::Security
        );
        assert_eq!(
            group_kind(&[], Some(true), Some(true)),
            GroupKind::MailEnabledSecurity
        );
        assert_eq!(
            group_kind(&[], Some(true), Some(false)),
            GroupKind::Distribution
        );
        assert!(matches!(group_kind(&[], None, None), GroupKind::Other(_)));
    }

    #[test]
    fn members_are_classified_by_odata_type() {
        let m: Vec<WireMember> = serde_json::from_str(r##"[{"@odata.type":"#microsoft.graph.user","id":"1"},
            {"@odata.type":"#microsoft.graph.group","id":"2"},{"@odata.type":"#microsoft.graph.device","id":"3"},{"id":"4"}]"##).unwrap();
        let kinds: Vec<MemberKind> = m.iter().map(WireMember::kind).collect();
        assert_eq!(
            kinds,
            vec![
                MemberKind::User,
                MemberKind::Group,
                MemberKind::Other,
                MemberKind::Other
            ]
        );
    }

    proptest! {
        #[test]
        fn page_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), text in ".{0,300}") {
            let _ = decode_users_page(&bytes);
            let _ = decode_groups_page(text.as_bytes());
            let _ = decode_members_page(text.as_bytes());
            let wrapped = format!("{{\"value\":[{{\"id\":\"x\",{text}}}]}}");
            let _ = decode_users_page(wrapped.as_bytes());
        }
    }
}
