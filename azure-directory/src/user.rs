//! A Graph user on the wire, decoded without buffering: known properties go
//! straight into typed fields, every other property into `rest` (kept as
//! custom attributes). Nulls are tolerated everywhere; a wrong type is an
//! error that names its JSON path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use directory_core::{Address, Attributes, DirectoryUser, Email, PhoneNumber, UserStatus};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A user as Graph sends it. The properties that map one to one onto the
/// model (names, title, department, address parts...) are decoded straight
/// into `model` and `address`; the rest wait here for `into_model`.
#[derive(Debug, Default)]
pub(crate) struct WireUser {
    pub id: String,
    model: DirectoryUser,
    address: Address,
    user_principal_name: Option<String>,
    mail: Option<String>,
    other_mails: Option<Vec<Option<String>>>,
    mobile_phone: Option<String>,
    business_phones: Option<Vec<Option<String>>>,
    account_enabled: Option<bool>,
    on_premises_extension_attributes: Option<NonNull>,
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

/// An object key, borrowed from the input when it has no escapes (the common
/// case), so known keys cost no allocation.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

/// An object's non-null members; null members are skipped without
/// allocating their names (`onPremisesExtensionAttributes` is mostly nulls).
#[derive(Debug, Default)]
struct NonNull(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for NonNull {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NonNull;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NonNull, A::Error> {
                let mut out = Vec::new();
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: Value = map.next_value()?;
                    if !v.is_null() {
                        out.push((k.into_owned(), v));
                    }
                }
                Ok(NonNull(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'de> Visitor<'de> for UserVisitor {
    type Value = WireUser;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph user object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireUser, A::Error> {
        let mut u = WireUser::default();
        let mut id: Option<String> = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let (m, a) = (&mut u.model, &mut u.address);
            match key.as_ref() {
                "id" => id = Some(map.next_value()?),
                "userPrincipalName" => u.user_principal_name = map.next_value()?,
                "mail" => u.mail = map.next_value()?,
                "otherMails" => u.other_mails = map.next_value()?,
                "mobilePhone" => u.mobile_phone = map.next_value()?,
                "businessPhones" => u.business_phones = map.next_value()?,
                "accountEnabled" => u.account_enabled = map.next_value()?,
                "displayName" => m.display_name = map.next_value()?,
                "givenName" => m.name.given_name = map.next_value()?,
                "surname" => m.name.family_name = map.next_value()?,
                "jobTitle" => m.title = map.next_value()?,
                "department" => m.department = map.next_value()?,
                "employeeId" => m.employee_number = map.next_value()?,
                "companyName" => m.organization = map.next_value()?,
                "userType" => m.user_type = map.next_value()?,
                "onPremisesImmutableId" => m.external_id = map.next_value()?,
                "preferredLanguage" => m.preferred_language = map.next_value()?,
                "streetAddress" => a.street_address = map.next_value()?,
                "city" => a.locality = map.next_value()?,
                "state" => a.region = map.next_value()?,
                "postalCode" => a.postal_code = map.next_value()?,
                "country" => a.country = map.next_value()?,
                "onPremisesExtensionAttributes" => {
                    u.on_premises_extension_attributes = map.next_value()?
                }
                "@removed" => u.removed = map.next_value()?,
                _ => {
                    let v: Value = map.next_value()?;
                    u.rest.insert(key.into_owned(), v);
                }
            }
        }
        u.id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        Ok(u)
    }
}

impl WireUser {
    /// The model user. Fields are moved, not copied.
    pub fn into_model(mut self) -> DirectoryUser {
        let user_name = self
            .user_principal_name
            .take()
            .or_else(|| self.mail.clone())
            .unwrap_or_else(|| self.id.clone());
        let mut u = std::mem::take(&mut self.model);
        u.id = std::mem::take(&mut self.id);
        u.user_name = user_name;
        u.emails = self.emails();
        u.phone_numbers = self.phones();
        u.addresses = self.address().into_iter().collect();
        u.status = match self.account_enabled {
            Some(true) => UserStatus::Active,
            Some(false) => UserStatus::Disabled,
            None => UserStatus::Other("unknown".into()),
        };
        u.custom_attributes = self.custom();
        u
    }

    fn emails(&mut self) -> Vec<Email> {
        let mut out: Vec<Email> = self
            .mail
            .take()
            .into_iter()
            .map(|m| Email::new(m, "work", true))
            .collect();
        for other in self.other_mails.take().into_iter().flatten().flatten() {
            if !out.iter().any(|e| e.value.eq_ignore_ascii_case(&other)) {
                out.push(Email::new(other, "other", false));
            }
        }
        // Pushing grew the list to room for four; it lives as long as the
        // snapshot.
        out.shrink_to_fit();
        out
    }

    fn phones(&mut self) -> Vec<PhoneNumber> {
        let phone = |value: String, kind: &str| PhoneNumber::new(value, kind, false);
        let mut out: Vec<PhoneNumber> = self
            .business_phones
            .take()
            .into_iter()
            .flatten()
            .flatten()
            .map(|p| phone(p, "work"))
            .collect();
        out.extend(self.mobile_phone.take().map(|p| phone(p, "mobile")));
        if let Some(first) = out.first_mut() {
            first.primary = true;
        }
        out.shrink_to_fit();
        out
    }

    fn address(&mut self) -> Option<Address> {
        let a = Address {
            kind: Some("work".into()),
            primary: true,
            ..std::mem::take(&mut self.address)
        };
        (!a.is_empty()).then_some(a)
    }

    fn custom(self) -> Attributes {
        let mut out: Attributes = self
            .rest
            .into_iter()
            .filter(|(k, v)| {
                !k.starts_with('@') && !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty())
            })
            .collect();
        for (k, v) in self
            .on_premises_extension_attributes
            .map(|m| m.0)
            .into_iter()
            .flatten()
        {
            out.insert(k, v);
        }
        out
    }
}
