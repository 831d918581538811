//! A Graph user on the wire, decoded without buffering: known properties go
//! straight into typed fields, every other property into `rest` (kept as
//! custom attributes). Nulls are tolerated everywhere; a wrong type is an
//! error that names its JSON path.

use std::collections::BTreeMap;
use std::fmt;

use directory_core::{Address, DirectoryUser, Email, PersonName, PhoneNumber, UserStatus};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A user as Graph sends it.
#[derive(Debug, Default)]
pub(crate) struct WireUser {
    pub id: String,
    user_principal_name: Option<String>,
    mail: Option<String>,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    mobile_phone: Option<String>,
    business_phones: Option<Vec<Option<String>>>,
    employee_id: Option<String>,
    company_name: Option<String>,
    account_enabled: Option<bool>,
    other_mails: Option<Vec<Option<String>>>,
    user_type: Option<String>,
    on_premises_immutable_id: Option<String>,
    preferred_language: Option<String>,
    street_address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    on_premises_extension_attributes: Option<BTreeMap<String, Value>>,
    /// Set on delta pages for a removed user.
    pub removed: Option<Value>,
    /// Everything else: `officeLocation`, `proxyAddresses`, `extension_*`...
    rest: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for WireUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UserVisitor)
    }
}

struct UserVisitor;

impl<'de> Visitor<'de> for UserVisitor {
    type Value = WireUser;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph user object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireUser, A::Error> {
        let mut u = WireUser::default();
        let mut id: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => id = Some(map.next_value()?),
                "userPrincipalName" => u.user_principal_name = map.next_value()?,
                "mail" => u.mail = map.next_value()?,
                "displayName" => u.display_name = map.next_value()?,
                "givenName" => u.given_name = map.next_value()?,
                "surname" => u.surname = map.next_value()?,
                "jobTitle" => u.job_title = map.next_value()?,
                "department" => u.department = map.next_value()?,
                "mobilePhone" => u.mobile_phone = map.next_value()?,
                "businessPhones" => u.business_phones = map.next_value()?,
                "employeeId" => u.employee_id = map.next_value()?,
                "companyName" => u.company_name = map.next_value()?,
                "accountEnabled" => u.account_enabled = map.next_value()?,
                "otherMails" => u.other_mails = map.next_value()?,
                "userType" => u.user_type = map.next_value()?,
                "onPremisesImmutableId" => u.on_premises_immutable_id = map.next_value()?,
                "preferredLanguage" => u.preferred_language = map.next_value()?,
                "streetAddress" => u.street_address = map.next_value()?,
                "city" => u.city = map.next_value()?,
                "state" => u.state = map.next_value()?,
                "postalCode" => u.postal_code = map.next_value()?,
                "country" => u.country = map.next_value()?,
                "onPremisesExtensionAttributes" => {
                    u.on_premises_extension_attributes = map.next_value()?
                }
                "@removed" => u.removed = map.next_value()?,
                _ => {
                    let v: Value = map.next_value()?;
                    u.rest.insert(key, v);
                }
            }
        }
        u.id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        Ok(u)
    }
}

impl WireUser {
    /// The model user.
    pub fn into_model(self) -> DirectoryUser {
        let mut u = DirectoryUser::new(self.id.clone(), String::new());
        u.user_name = self
            .user_principal_name
            .clone()
            .or_else(|| self.mail.clone())
            .unwrap_or_else(|| self.id.clone());
        u.external_id = self.on_premises_immutable_id.clone();
        u.display_name = self.display_name.clone();
        u.name = PersonName {
            given_name: self.given_name.clone(),
            family_name: self.surname.clone(),
            ..PersonName::default()
        };
        u.emails = self.emails();
        u.phone_numbers = self.phones();
        u.addresses = self.address().into_iter().collect();
        u.title = self.job_title.clone();
        u.user_type = self.user_type.clone();
        u.preferred_language = self.preferred_language.clone();
        u.employee_number = self.employee_id.clone();
        u.organization = self.company_name.clone();
        u.department = self.department.clone();
        u.status = match self.account_enabled {
            Some(true) => UserStatus::Active,
            Some(false) => UserStatus::Disabled,
            None => UserStatus::Other("unknown".into()),
        };
        u.custom_attributes = self.custom();
        u
    }

    fn emails(&self) -> Vec<Email> {
        let mut out: Vec<Email> = self
            .mail
            .iter()
            .map(|m| Email {
                value: m.clone(),
                kind: Some("work".into()),
                primary: true,
            })
            .collect();
        for other in self.other_mails.iter().flatten().flatten() {
            if !out.iter().any(|e| e.value.eq_ignore_ascii_case(other)) {
                out.push(Email {
                    value: other.clone(),
                    kind: Some("other".into()),
                    primary: false,
                });
            }
        }
        out
    }

    fn phones(&self) -> Vec<PhoneNumber> {
        let mut out: Vec<PhoneNumber> = self
            .business_phones
            .iter()
            .flatten()
            .flatten()
            .map(|p| PhoneNumber {
                value: p.clone(),
                kind: Some("work".into()),
                primary: false,
            })
            .collect();
        out.extend(self.mobile_phone.iter().map(|p| PhoneNumber {
            value: p.clone(),
            kind: Some("mobile".into()),
            primary: false,
        }));
        if let Some(first) = out.first_mut() {
            first.primary = true;
        }
        out
    }

    fn address(&self) -> Option<Address> {
        let any = [
            &self.street_address,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .any(|f| f.is_some());
        any.then(|| Address {
            kind: Some("work".into()),
            street_address: self.street_address.clone(),
            locality: self.city.clone(),
            region: self.state.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            primary: true,
            ..Address::default()
        })
    }

    fn custom(self) -> BTreeMap<String, Value> {
        let mut out: BTreeMap<String, Value> = self
            .rest
            .into_iter()
            .filter(|(k, v)| {
                !k.starts_with('@') && !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty())
            })
            .collect();
        for (k, v) in self.on_premises_extension_attributes.into_iter().flatten() {
            if !v.is_null() {
                out.insert(k, v);
            }
        }
        out
    }
}
