//! Attribute mapping (directory attribute -> recipient field) and normalization.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use directory_core::DirectoryUser;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A directory attribute a recipient field can be filled from.
///
/// Written as its SCIM path in policies and JSON (`name.givenName`,
/// `emails.primary`, `department`...); a provider's own attribute is
/// `custom:NAME`, read from [`DirectoryUser::custom_attributes`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Attribute {
    /// `userName` (Okta `login`, Entra `userPrincipalName`).
    UserName,
    /// `externalId`.
    ExternalId,
    /// `name.givenName`.
    GivenName,
    /// `name.familyName`.
    FamilyName,
    /// `name.middleName`.
    MiddleName,
    /// `name.formatted`.
    FormattedName,
    /// `displayName`.
    DisplayName,
    /// `nickName`.
    NickName,
    /// `emails.primary`: the primary email, else the first.
    PrimaryEmail,
    /// `phoneNumbers.primary`: the primary phone number, else the first.
    PrimaryPhone,
    /// `title`.
    Title,
    /// `userType`.
    UserType,
    /// `preferredLanguage`.
    PreferredLanguage,
    /// `locale`.
    Locale,
    /// `timezone`.
    Timezone,
    /// `employeeNumber` (enterprise).
    EmployeeNumber,
    /// `costCenter` (enterprise).
    CostCenter,
    /// `organization` (enterprise).
    Organization,
    /// `division` (enterprise).
    Division,
    /// `department` (enterprise).
    Department,
    /// `manager.value`: the manager's directory id.
    ManagerId,
    /// `manager.displayName`.
    ManagerName,
    /// `addresses.primary.formatted`.
    AddressFormatted,
    /// `addresses.primary.locality`: the city.
    AddressLocality,
    /// `custom:NAME`: a provider attribute kept in `custom_attributes`.
    Custom(String),
}

const NAMED: &[(&str, Attribute)] = &[
    ("userName", Attribute::UserName),
    ("externalId", Attribute::ExternalId),
    ("name.givenName", Attribute::GivenName),
    ("name.familyName", Attribute::FamilyName),
    ("name.middleName", Attribute::MiddleName),
    ("name.formatted", Attribute::FormattedName),
    ("displayName", Attribute::DisplayName),
    ("nickName", Attribute::NickName),
    ("emails.primary", Attribute::PrimaryEmail),
    ("phoneNumbers.primary", Attribute::PrimaryPhone),
    ("title", Attribute::Title),
    ("userType", Attribute::UserType),
    ("preferredLanguage", Attribute::PreferredLanguage),
    ("locale", Attribute::Locale),
    ("timezone", Attribute::Timezone),
    ("employeeNumber", Attribute::EmployeeNumber),
    ("costCenter", Attribute::CostCenter),
    ("organization", Attribute::Organization),
    ("division", Attribute::Division),
    ("department", Attribute::Department),
    ("manager.value", Attribute::ManagerId),
    ("manager.displayName", Attribute::ManagerName),
    ("addresses.primary.formatted", Attribute::AddressFormatted),
    ("addresses.primary.locality", Attribute::AddressLocality),
];

impl Attribute {
    /// The raw value of this attribute on `user`, trimmed; `None` when absent
    /// or blank. Borrows from the user unless the value must be rendered
    /// (a number or structure in a custom attribute).
    pub fn value<'a>(&self, user: &'a DirectoryUser) -> Option<Cow<'a, str>> {
        if let Attribute::Custom(name) = self {
            return user.custom_attributes.get(name).and_then(json_text);
        }
        self.standard(user).and_then(non_blank).map(Cow::Borrowed)
    }

    fn standard<'a>(&self, u: &'a DirectoryUser) -> Option<&'a str> {
        let s = |o: &'a Option<Box<str>>| o.as_deref();
        match self {
            Attribute::UserName => Some(&u.user_name),
            Attribute::ExternalId => s(&u.external_id),
            Attribute::GivenName => s(&u.name.given_name),
            Attribute::FamilyName => s(&u.name.family_name),
            Attribute::MiddleName => s(&u.name.middle_name),
            Attribute::FormattedName => s(&u.name.formatted),
            Attribute::DisplayName => s(&u.display_name),
            Attribute::NickName => s(&u.nick_name),
            Attribute::PrimaryEmail => u.primary_email(),
            Attribute::PrimaryPhone => primary_phone(u),
            Attribute::Title => s(&u.title),
            Attribute::UserType => s(&u.user_type),
            Attribute::PreferredLanguage => s(&u.preferred_language),
            Attribute::Locale => s(&u.locale),
            Attribute::Timezone => s(&u.timezone),
            Attribute::EmployeeNumber => s(&u.employee_number),
            Attribute::CostCenter => s(&u.cost_center),
            Attribute::Organization => s(&u.organization),
            Attribute::Division => s(&u.division),
            Attribute::Department => s(&u.department),
            Attribute::ManagerId => u.manager.as_ref().and_then(|m| s(&m.value)),
            Attribute::ManagerName => u.manager.as_ref().and_then(|m| s(&m.display_name)),
            Attribute::AddressFormatted => primary_address(u).and_then(|a| s(&a.formatted)),
            Attribute::AddressLocality => primary_address(u).and_then(|a| s(&a.locality)),
            Attribute::Custom(_) => None,
        }
    }
}

fn primary_phone(u: &DirectoryUser) -> Option<&str> {
    let p = u.phone_numbers.iter().find(|p| p.primary);
    p.or_else(|| u.phone_numbers.first())
        .map(|p| p.value.as_str())
}

fn primary_address(u: &DirectoryUser) -> Option<&directory_core::Address> {
    let a = u.addresses.iter().find(|a| a.primary);
    a.or_else(|| u.addresses.first())
}

fn non_blank(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// A custom attribute's value as text: strings as they are, numbers and
/// booleans printed, arrays and objects as compact JSON, null as nothing.
fn json_text(v: &serde_json::Value) -> Option<Cow<'_, str>> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => non_blank(s).map(Cow::Borrowed),
        serde_json::Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Attribute::Custom(name) = self {
            return write!(f, "custom:{name}");
        }
        let name = NAMED.iter().find(|(_, a)| a == self).map(|(n, _)| *n);
        f.write_str(name.unwrap_or("?"))
    }
}

/// An attribute name that is neither a known SCIM path nor `custom:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown directory attribute {0:?}: use a SCIM path such as name.givenName, emails.primary or department, or custom:NAME for a provider attribute")]
pub struct UnknownAttribute(pub String);

impl FromStr for Attribute {
    type Err = UnknownAttribute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(name) = s.strip_prefix("custom:").filter(|n| !n.is_empty()) {
            return Ok(Attribute::Custom(name.to_string()));
        }
        NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, a)| a.clone())
            .ok_or_else(|| UnknownAttribute(s.to_string()))
    }
}

impl Serialize for Attribute {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Attribute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One recipient field and the attribute that fills it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    /// The recipient field's name (a key of [`Recipient::fields`](crate::Recipient::fields)).
    pub field: String,
    /// The directory attribute it is filled from.
    pub from: Attribute,
}

/// Which directory attributes fill which recipient fields.
///
/// The recipient's email (the matching key) comes from `email`; every other
/// field is listed in `fields`. A field whose attribute is blank is cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The attribute that gives the recipient's email (default `emails.primary`).
    #[serde(default = "default_email")]
    pub email: Attribute,
    /// The other fields.
    #[serde(default)]
    pub fields: Vec<FieldMapping>,
}

fn default_email() -> Attribute {
    Attribute::PrimaryEmail
}

impl Default for Mapping {
    /// Email from `emails.primary`; `given_name`, `family_name` and
    /// `display_name` from the SCIM name attributes.
    fn default() -> Self {
        Self::new(Attribute::PrimaryEmail)
            .field("given_name", Attribute::GivenName)
            .field("family_name", Attribute::FamilyName)
            .field("display_name", Attribute::DisplayName)
    }
}

impl Mapping {
    /// A mapping with only the email, taken from `email`.
    pub fn new(email: Attribute) -> Self {
        Self {
            email,
            fields: Vec::new(),
        }
    }

    /// Adds a field filled from `from`, builder style.
    pub fn field(mut self, field: impl Into<String>, from: Attribute) -> Self {
        self.fields.push(FieldMapping {
            field: field.into(),
            from,
        });
        self
    }
}

/// Normalizes an email for comparison: trimmed and lower-cased. Borrows when
/// the address already is in that form, which is the common case.
pub fn normalize_email(raw: &str) -> Cow<'_, str> {
    let t = raw.trim();
    if t.chars().any(char::is_uppercase) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// Whether `raw` normalizes to `normalized` (already normalized), without
/// allocating when the two are equal as written.
pub(crate) fn email_matches(raw: &str, normalized: &str) -> bool {
    raw == normalized || normalize_email(raw) == normalized
}

/// Whether a normalized email looks usable: one `@` with text on both sides
/// and no spaces.
pub(crate) fn plausible_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !e.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_through_their_names() {
        for (name, attr) in NAMED {
            assert_eq!(name.parse::<Attribute>().unwrap(), *attr);
            assert_eq!(attr.to_string(), *name);
        }
        let c: Attribute = "custom:badge.id".parse().unwrap();
        assert_eq!(c, Attribute::Custom("badge.id".into()));
        assert_eq!(c.to_string(), "custom:badge.id");
        let err = "nmae.givenName".parse::<Attribute>().unwrap_err();
        assert!(err.to_string().contains("custom:NAME"));
        assert!("custom:".parse::<Attribute>().is_err());
    }

    #[test]
    fn values_are_trimmed_and_blank_is_none() {
        let mut u = DirectoryUser::new("1", "ada").with_email(" Ada@X.com ", true);
        u.title = Some("  ".into());
        u.department = Some(" R&D ".into());
        u.custom_attributes
            .insert("n".into(), serde_json::json!(42));
        u.custom_attributes
            .insert("s".into(), serde_json::json!(" x "));
        u.custom_attributes
            .insert("z".into(), serde_json::Value::Null);
        assert_eq!(Attribute::Title.value(&u), None);
        assert_eq!(Attribute::Department.value(&u).as_deref(), Some("R&D"));
        assert_eq!(
            Attribute::PrimaryEmail.value(&u).as_deref(),
            Some("Ada@X.com")
        );
        let custom = |n: &str| Attribute::Custom(n.into()).value(&u);
        assert_eq!(custom("n").as_deref(), Some("42"));
        assert!(matches!(custom("s"), Some(Cow::Borrowed("x"))));
        assert_eq!(custom("z"), None);
        assert_eq!(custom("missing"), None);
    }

    #[test]
    fn emails_normalize_without_allocating_when_already_normal() {
        assert!(matches!(
            normalize_email("a@x.com"),
            Cow::Borrowed("a@x.com")
        ));
        assert_eq!(normalize_email("  A@X.Com "), "a@x.com");
        assert!(email_matches(" A@x.com", "a@x.com"));
        assert!(!email_matches("b@x.com", "a@x.com"));
        assert!(plausible_email("a@x.com"));
        for bad in ["", "a", "@x", "a@", "a@b@c", "a b@x.com"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn mapping_json_uses_attribute_names() {
        let m = Mapping::default().field("badge", Attribute::Custom("badgeId".into()));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["email"], "emails.primary");
        assert_eq!(json["fields"][3]["from"], "custom:badgeId");
        let back: Mapping = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }
}
