//! The schemas this server serves (RFC 7643 §4, §8.7) and what the rest of
//! the crate needs to know about attributes: canonical names, types, which are
//! multi-valued, which compare case-exactly.

use serde_json::{json, Value};

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The ListResponse message URN.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// An attribute's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Str,
    Bool,
    Complex,
    Reference,
}

/// One attribute of a schema.
#[derive(Debug)]
pub(crate) struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub case_exact: bool,
    pub read_only: bool,
    pub required: bool,
    pub subs: &'static [Attr],
}

const fn s(name: &'static str) -> Attr {
    Attr {
        name,
        ty: Type::Str,
        multi: false,
        case_exact: false,
        read_only: false,
        required: false,
        subs: &[],
    }
}

const fn b(name: &'static str) -> Attr {
    Attr {
        ty: Type::Bool,
        ..s(name)
    }
}

const fn r(name: &'static str) -> Attr {
    Attr {
        ty: Type::Reference,
        case_exact: true,
        ..s(name)
    }
}

const fn c(name: &'static str, subs: &'static [Attr]) -> Attr {
    Attr {
        ty: Type::Complex,
        subs,
        ..s(name)
    }
}

const fn m(name: &'static str, subs: &'static [Attr]) -> Attr {
    Attr {
        multi: true,
        ..c(name, subs)
    }
}

const VALUE_TYPE_PRIMARY: &[Attr] = &[s("value"), s("display"), s("type"), b("primary")];
const ADDRESS: &[Attr] = &[
    s("formatted"),
    s("streetAddress"),
    s("locality"),
    s("region"),
    s("postalCode"),
    s("country"),
    s("type"),
    b("primary"),
];
const NAME: &[Attr] = &[
    s("formatted"),
    s("familyName"),
    s("givenName"),
    s("middleName"),
    s("honorificPrefix"),
    s("honorificSuffix"),
];
const USER_GROUPS: &[Attr] = &[
    Attr {
        read_only: true,
        case_exact: true,
        ..s("value")
    },
    Attr {
        read_only: true,
        ..r("$ref")
    },
    Attr {
        read_only: true,
        ..s("display")
    },
    Attr {
        read_only: true,
        ..s("type")
    },
];

/// The core User attributes (a subset of RFC 7643 §4.1: what Okta and Entra
/// send; anything else is kept as a custom attribute).
pub(crate) const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..s("userName")
    },
    c("name", NAME),
    s("displayName"),
    s("nickName"),
    r("profileUrl"),
    s("title"),
    s("userType"),
    s("preferredLanguage"),
    s("locale"),
    s("timezone"),
    b("active"),
    m("emails", VALUE_TYPE_PRIMARY),
    m("phoneNumbers", VALUE_TYPE_PRIMARY),
    m("addresses", ADDRESS),
    Attr {
        read_only: true,
        ..m("groups", USER_GROUPS)
    },
];

const MANAGER: &[Attr] = &[
    Attr {
        case_exact: true,
        ..s("value")
    },
    r("$ref"),
    Attr {
        read_only: true,
        ..s("displayName")
    },
];

/// The enterprise User extension attributes (RFC 7643 §4.3).
pub(crate) const ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber"),
    s("costCenter"),
    s("organization"),
    s("division"),
    s("department"),
    c("manager", MANAGER),
];

const MEMBER: &[Attr] = &[
    Attr {
        case_exact: true,
        ..s("value")
    },
    r("$ref"),
    Attr {
        read_only: true,
        ..s("display")
    },
    s("type"),
];

/// The core Group attributes (RFC 7643 §4.2).
pub(crate) const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..s("displayName")
    },
    m("members", MEMBER),
];

/// Common attributes every resource has (RFC 7643 §3.1).
pub(crate) const COMMON_ATTRS: &[Attr] = &[
    Attr {
        case_exact: true,
        read_only: true,
        ..s("id")
    },
    Attr {
        case_exact: true,
        ..s("externalId")
    },
];

/// Which resource a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceType {
    /// `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    /// The endpoint segment: `Users` or `Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "Users",
            ResourceType::Group => "Groups",
        }
    }

    /// The core schema URN.
    pub fn schema(self) -> &'static str {
        match self {
            ResourceType::User => USER_SCHEMA,
            ResourceType::Group => GROUP_SCHEMA,
        }
    }

    pub(crate) fn core_attrs(self) -> &'static [Attr] {
        match self {
            ResourceType::User => USER_ATTRS,
            ResourceType::Group => GROUP_ATTRS,
        }
    }

    /// The extension schemas this type accepts, with their attributes.
    pub(crate) fn extensions(self) -> &'static [(&'static str, &'static [Attr])] {
        match self {
            ResourceType::User => &[(ENTERPRISE_SCHEMA, ENTERPRISE_ATTRS)],
            ResourceType::Group => &[],
        }
    }
}

/// Finds an attribute by name, case-insensitively.
pub(crate) fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Finds a top-level attribute of a resource type (core or common).
pub(crate) fn find_top(rt: ResourceType, name: &str) -> Option<&'static Attr> {
    find(rt.core_attrs(), name).or_else(|| find(COMMON_ATTRS, name))
}

/// The extension URN matching `urn` case-insensitively, with its attributes.
pub(crate) fn find_extension(
    rt: ResourceType,
    urn: &str,
) -> Option<(&'static str, &'static [Attr])> {
    rt.extensions()
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(urn))
        .copied()
}

/// An attribute definition; `unique` names the schema's attribute the
/// server keeps unique (`userName`, a group's `displayName`), if any.
fn attr_json(a: &Attr, unique: Option<&str>) -> Value {
    let ty = match a.ty {
        Type::Str => "string",
        Type::Bool => "boolean",
        Type::Complex => "complex",
        Type::Reference => "reference",
    };
    let mut v = json!({
        "name": a.name,
        "type": ty,
        "multiValued": a.multi,
        "description": a.name,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": if a.read_only { "readOnly" } else { "readWrite" },
        "returned": "default",
        "uniqueness": if unique == Some(a.name) { "server" } else { "none" },
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if a.ty == Type::Complex {
        let subs = a.subs.iter().map(|s| attr_json(s, None)).collect();
        obj.insert("subAttributes".into(), Value::Array(subs));
    }
    if a.ty == Type::Reference {
        let types = match a.name {
            "profileUrl" => json!(["external"]),
            _ => json!(["User", "Group"]),
        };
        obj.insert("referenceTypes".into(), types);
    }
    v
}

fn schema_json(id: &str, name: &str, attrs: &[Attr], base: &str) -> Value {
    let unique = match id {
        USER_SCHEMA => Some("userName"),
        GROUP_SCHEMA => Some("displayName"),
        _ => None,
    };
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": format!("{name} schema"),
        "attributes": attrs.iter().map(|a| attr_json(a, unique)).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// Every schema served at `/Schemas`.
pub(crate) fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema_json(USER_SCHEMA, "User", USER_ATTRS, base),
        schema_json(ENTERPRISE_SCHEMA, "EnterpriseUser", ENTERPRISE_ATTRS, base),
        schema_json(GROUP_SCHEMA, "Group", GROUP_ATTRS, base),
    ]
}

fn resource_type_json(rt: ResourceType, base: &str) -> Value {
    let extensions: Vec<Value> = rt
        .extensions()
        .iter()
        .map(|(urn, _)| json!({"schema": urn, "required": false}))
        .collect();
    json!({
        "schemas": [RT_SCHEMA],
        "id": rt.name(),
        "name": rt.name(),
        "endpoint": format!("/{}", rt.endpoint()),
        "description": format!("{} accounts", rt.name()),
        "schema": rt.schema(),
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", rt.name())},
    })
}

/// Every resource type served at `/ResourceTypes`.
pub(crate) fn resource_types(base: &str) -> Vec<Value> {
    [ResourceType::User, ResourceType::Group]
        .into_iter()
        .map(|rt| resource_type_json(rt, base))
        .collect()
}

/// The `/ServiceProviderConfig` document.
pub(crate) fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://example.invalid/directory-sync/scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The bearer token shown once when the directory was created",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(
            find_top(ResourceType::User, "USERNAME").map(|a| a.name),
            Some("userName")
        );
        assert_eq!(
            find_top(ResourceType::User, "externalid").map(|a| a.name),
            Some("externalId")
        );
        let (urn, _) =
            find_extension(ResourceType::User, &ENTERPRISE_SCHEMA.to_lowercase()).unwrap();
        assert_eq!(urn, ENTERPRISE_SCHEMA);
        assert!(find_extension(ResourceType::Group, ENTERPRISE_SCHEMA).is_none());
    }

    #[test]
    fn schemas_describe_sub_attributes() {
        let all = schemas("http://x");
        let user = &all[0];
        let emails = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"].as_array().unwrap().len(), 4);
        assert_eq!(all[2]["id"], GROUP_SCHEMA);
    }
}
