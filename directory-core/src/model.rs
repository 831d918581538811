//! The provider-neutral directory model.
//!
//! Field names follow the SCIM 2.0 core user schema (RFC 7643 §4.1) and the
//! enterprise user extension (§4.3) wherever one exists, so that a pulled user
//! and a SCIM-pushed user map 1:1. Everything else a provider sends is kept in
//! [`DirectoryUser::custom_attributes`], never dropped.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::attributes::Attributes;

/// A person in the customer's directory.
///
/// `id` is the provider's immutable identifier (Okta user id, Entra object id,
/// SCIM `id`); it never changes when the person is renamed or their email
/// changes, which is why reconcile keys on it.
#[derive(Debug, Clone, PartialEq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    /// Immutable provider identifier.
    pub id: String,
    /// Login name: Okta `login`, Entra `userPrincipalName`, SCIM `userName`.
    pub user_name: String,
    /// An identifier set by a system upstream of the provider (SCIM `externalId`,
    /// Entra `onPremisesImmutableId`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Box<str>>,
    /// The person's name parts.
    #[serde(default)]
    pub name: PersonName,
    /// Name to show (SCIM `displayName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Box<str>>,
    /// Casual name (SCIM `nickName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<Box<str>>,
    /// Email addresses; at most one is marked primary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email>,
    /// Phone numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<PhoneNumber>,
    /// Postal addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Box<str>>,
    /// Kind of user (`Employee`, `Contractor`, Entra `Member`/`Guest`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<Box<str>>,
    /// Preferred written or spoken language (RFC 7231 language tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<Box<str>>,
    /// Locale for formatting (e.g. `en-US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Box<str>>,
    /// IANA time zone (e.g. `Europe/Berlin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Box<str>>,
    /// Enterprise extension: employee number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<Box<str>>,
    /// Enterprise extension: cost center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<Box<str>>,
    /// Enterprise extension: organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Box<str>>,
    /// Enterprise extension: division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<Box<str>>,
    /// Enterprise extension: department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<Box<str>>,
    /// Enterprise extension: manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
    /// Lifecycle state as the provider reports it.
    #[serde(default)]
    pub status: UserStatus,
    /// When the provider last changed this user, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<DateTime<Utc>>,
    /// Every other attribute the provider sent, keyed by its provider name
    /// (Okta profile attribute, Graph property or extension, SCIM attribute).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub custom_attributes: Attributes,
}

impl DirectoryUser {
    /// A user with the given id and user name, everything else empty and status
    /// [`UserStatus::Active`].
    pub fn new(id: impl Into<String>, user_name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            user_name: user_name.into(),
            status: UserStatus::Active,
            ..Self::default()
        }
    }

    /// The primary email: the one marked primary, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }

    /// Adds an email (builder style). The first email added with `primary`
    /// set becomes the primary one.
    pub fn with_email(mut self, value: impl Into<String>, primary: bool) -> Self {
        let kind = if primary { "work" } else { "other" };
        self.emails.push(Email::new(value, kind, primary));
        self
    }
}

/// The parts of a person's name (SCIM `name`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonName {
    /// The full name, formatted for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<Box<str>>,
    /// Family (last) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<Box<str>>,
    /// Given (first) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<Box<str>>,
    /// Middle name(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Box<str>>,
    /// Honorific prefix (`Ms.`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<Box<str>>,
    /// Honorific suffix (`III`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<Box<str>>,
}

/// An email address (SCIM multi-valued `emails`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email {
    /// The address as the provider sent it (not normalized).
    pub value: String,
    /// `work`, `home`, `other`...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Box<str>>,
    /// Whether this is the primary address.
    #[serde(default)]
    pub primary: bool,
}

/// A phone number (SCIM multi-valued `phoneNumbers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhoneNumber {
    /// The number as sent.
    pub value: String,
    /// `work`, `mobile`, `fax`...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Box<str>>,
    /// Whether this is the primary number.
    #[serde(default)]
    pub primary: bool,
}

/// A postal address (SCIM multi-valued `addresses`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// `work`, `home`, `other`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Box<str>>,
    /// The full address, formatted for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<Box<str>>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<Box<str>>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<Box<str>>,
    /// State or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Box<str>>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<Box<str>>,
    /// Country (ISO 3166-1 alpha-2 where the provider uses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Box<str>>,
    /// Whether this is the primary address.
    #[serde(default)]
    pub primary: bool,
}

impl Email {
    /// An address of `kind` (`work`, `other`...).
    pub fn new(value: impl Into<String>, kind: &str, primary: bool) -> Self {
        Self {
            value: value.into(),
            kind: Some(kind.into()),
            primary,
        }
    }
}

impl PhoneNumber {
    /// A number of `kind` (`work`, `mobile`...).
    pub fn new(value: impl Into<String>, kind: &str, primary: bool) -> Self {
        Self {
            value: value.into(),
            kind: Some(kind.into()),
            primary,
        }
    }
}

impl Address {
    /// Whether no part of the address is given (its kind and primary flag
    /// aside): a provider's flat address attributes, all missing.
    pub fn is_empty(&self) -> bool {
        [
            &self.formatted,
            &self.street_address,
            &self.locality,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .all(|part| part.is_none())
    }
}

/// A user's manager (SCIM enterprise `manager`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    /// The manager's directory id, when the provider gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Box<str>>,
    /// The manager's display name, when the provider gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Box<str>>,
}

/// A user's lifecycle state, covering what Okta, Entra and SCIM express.
///
/// Serialized as a lower-case string (`"active"`, `"suspended"`...); any
/// status this library does not know is kept verbatim as [`UserStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum UserStatus {
    /// Can sign in (Okta `ACTIVE`, Entra `accountEnabled=true`, SCIM `active=true`).
    #[default]
    Active,
    /// Created but not yet activated (Okta `STAGED`).
    Staged,
    /// Activated, waiting for the user to finish setup (Okta `PROVISIONED`).
    Provisioned,
    /// Password reset in progress (Okta `RECOVERY`).
    Recovery,
    /// Must change an expired password (Okta `PASSWORD_EXPIRED`).
    PasswordExpired,
    /// Locked after failed sign-ins (Okta `LOCKED_OUT`).
    LockedOut,
    /// Temporarily suspended by an admin (Okta `SUSPENDED`).
    Suspended,
    /// Sign-in blocked (Entra `accountEnabled=false`, SCIM `active=false`).
    Disabled,
    /// Deactivated (Okta `DEPROVISIONED`).
    Deprovisioned,
    /// Deleted (Entra soft delete seen through a delta query).
    Deleted,
    /// A status this library does not know, kept verbatim.
    Other(String),
}

impl UserStatus {
    /// The stable string form used in JSON and policies.
    pub fn as_str(&self) -> &str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Staged => "staged",
            UserStatus::Provisioned => "provisioned",
            UserStatus::Recovery => "recovery",
            UserStatus::PasswordExpired => "password_expired",
            UserStatus::LockedOut => "locked_out",
            UserStatus::Suspended => "suspended",
            UserStatus::Disabled => "disabled",
            UserStatus::Deprovisioned => "deprovisioned",
            UserStatus::Deleted => "deleted",
            UserStatus::Other(s) => s,
        }
    }

    /// Parses the stable string form (case-insensitive); unknown strings become
    /// [`UserStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => UserStatus::Active,
            "staged" => UserStatus::Staged,
            "provisioned" => UserStatus::Provisioned,
            "recovery" => UserStatus::Recovery,
            "password_expired" => UserStatus::PasswordExpired,
            "locked_out" => UserStatus::LockedOut,
            "suspended" => UserStatus::Suspended,
            "disabled" => UserStatus::Disabled,
            "deprovisioned" => UserStatus::Deprovisioned,
            "deleted" => UserStatus::Deleted,
            _ => UserStatus::Other(s.to_string()),
        }
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for UserStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UserStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(UserStatus::parse(&s))
    }
}

/// A group in the customer's directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryGroup {
    /// Immutable provider identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What kind of group the provider says this is.
    #[serde(default)]
    pub kind: GroupKind,
    /// When the group's own attributes last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<DateTime<Utc>>,
    /// When the group's membership last changed (Okta `lastMembershipUpdated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_membership_updated: Option<DateTime<Utc>>,
}

impl DirectoryGroup {
    /// A group with the given id and name, of kind [`GroupKind::Directory`].
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: None,
            kind: GroupKind::Directory,
            last_updated: None,
            last_membership_updated: None,
        }
    }
}

/// The kind of a group, as the provider classifies it.
///
/// Serialized as a lower-case string; unknown kinds are kept as
/// [`GroupKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum GroupKind {
    /// A group managed in the directory itself (Okta `OKTA_GROUP`, SCIM groups).
    #[default]
    Directory,
    /// A group imported from an application or another directory (Okta `APP_GROUP`).
    Application,
    /// A group the provider maintains itself (Okta `BUILT_IN`, e.g. Everyone).
    BuiltIn,
    /// An Entra security group.
    Security,
    /// An Entra mail-enabled security group.
    MailEnabledSecurity,
    /// An Entra Microsoft 365 (unified) group.
    Microsoft365,
    /// An Entra distribution list.
    Distribution,
    /// A kind this library does not know, kept verbatim.
    Other(String),
}

impl GroupKind {
    /// The stable string form.
    pub fn as_str(&self) -> &str {
        match self {
            GroupKind::Directory => "directory",
            GroupKind::Application => "application",
            GroupKind::BuiltIn => "built_in",
            GroupKind::Security => "security",
            GroupKind::MailEnabledSecurity => "mail_enabled_security",
            GroupKind::Microsoft365 => "microsoft365",
            GroupKind::Distribution => "distribution",
            GroupKind::Other(s) => s,
        }
    }

    /// Parses the stable string form; unknown strings become [`GroupKind::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "directory" => GroupKind::Directory,
            "application" => GroupKind::Application,
            "built_in" => GroupKind::BuiltIn,
            "security" => GroupKind::Security,
            "mail_enabled_security" => GroupKind::MailEnabledSecurity,
            "microsoft365" => GroupKind::Microsoft365,
            "distribution" => GroupKind::Distribution,
            other => GroupKind::Other(other.to_string()),
        }
    }
}

impl Serialize for GroupKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GroupKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(GroupKind::parse(&s))
    }
}

/// How a user belongs to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipKind {
    /// The user is a member of the group itself.
    Direct,
    /// The user is a member through a nested group.
    Transitive,
}

/// One user's membership in one group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// The group's id.
    pub group_id: String,
    /// The member user's id.
    pub user_id: String,
    /// Direct or through a nested group.
    pub kind: MembershipKind,
}

impl Membership {
    /// A direct membership.
    pub fn direct(group_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            user_id: user_id.into(),
            kind: MembershipKind::Direct,
        }
    }
}

/// How a user came to be assigned to the SSO app.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AssignedVia {
    /// Assigned to the user directly.
    Direct,
    /// Assigned through a group; the group id when the provider names it.
    Group {
        /// The assigned group's id, when the provider says which.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
    },
}

/// A user assigned to the customer's SSO application.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppAssignment {
    /// The assigned user's id.
    pub user_id: String,
    /// Direct or through a group.
    pub via: AssignedVia,
    /// The app role, where the provider has roles (Entra `appRoleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl AppAssignment {
    /// A direct assignment without a role.
    pub fn direct(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            via: AssignedVia::Direct,
            role: None,
        }
    }

    /// An assignment through the given group.
    pub fn via_group(user_id: impl Into<String>, group_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            via: AssignedVia::Group {
                group_id: Some(group_id.into()),
            },
            role: None,
        }
    }
}

/// One row of the SSO app's assignments as a provider lists them, before
/// assigned groups are expanded to their members (see
/// [`crate::DirectoryProvider::app_grants`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppGrant {
    /// A user assigned to the app.
    User(AppAssignment),
    /// A group assigned to the app: its direct user members are assigned,
    /// with this role.
    Group {
        /// The assigned group's id.
        group_id: String,
        /// The app role, where the provider has roles.
        role: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_keeps_unknown_values() {
        for s in [
            UserStatus::Active,
            UserStatus::Suspended,
            UserStatus::Deprovisioned,
            UserStatus::Other("ON_HOLD".into()),
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<UserStatus>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::from_str::<UserStatus>("\"SUSPENDED\"").unwrap(),
            UserStatus::Suspended
        );
    }

    #[test]
    fn primary_email_prefers_the_flagged_one() {
        let u = DirectoryUser::new("1", "a")
            .with_email("second@x.com", false)
            .with_email("first@x.com", true);
        assert_eq!(u.primary_email(), Some("first@x.com"));
        let u = DirectoryUser::new("1", "a").with_email("only@x.com", false);
        assert_eq!(u.primary_email(), Some("only@x.com"));
    }

    #[test]
    fn user_json_is_camel_case_and_round_trips() {
        let mut u =
            DirectoryUser::new("00u1", "ada@example.com").with_email("ada@example.com", true);
        u.cost_center = Some("CC-1".into());
        u.custom_attributes
            .insert("badge".into(), serde_json::json!(42));
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["userName"], "ada@example.com");
        assert_eq!(json["costCenter"], "CC-1");
        let back: DirectoryUser = serde_json::from_value(json).unwrap();
        assert_eq!(back, u);
    }
}
