//! The host side: locations, recipient records and SSO users as the host keeps them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a host record came from. Decides who may change it (see
/// [`Ownership`](crate::Ownership)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Created by a directory sync.
    Directory,
    /// Created by a CSV import.
    Csv,
    /// Created by hand in the host app.
    Manual,
}

impl Source {
    /// The stable string form (`directory`, `csv`, `manual`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Directory => "directory",
            Source::Csv => "csv",
            Source::Manual => "manual",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host location (an office, a mailroom): recipients are kept per location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    /// The host's id for the location; group mappings name it.
    pub id: String,
    /// A name for people (`Berlin`), used in messages.
    pub name: String,
}

impl Location {
    /// A location with the given id and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// One recipient record in the host's store: a contact who cannot log in,
/// kept per location.
///
/// `fields` holds the mapped fields by the names the policy's
/// [`Mapping`](crate::Mapping) gives them; fields the mapping does not name
/// belong to the host and are never read or changed. An empty string counts
/// as no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The host's id for the record.
    pub id: String,
    /// The location the record belongs to.
    pub location_id: String,
    /// The directory user's id, once the record is linked to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Who created the record.
    pub source: Source,
    /// Whether the directory adopted this record (it was created by CSV or by
    /// hand and later linked to a directory user): the directory then owns it.
    #[serde(default)]
    pub adopted: bool,
    /// Whether the record is active.
    pub active: bool,
    /// The email address: the key that links CSV and manual records to
    /// directory users (compared trimmed and case-insensitively).
    pub email: String,
    /// The mapped fields, by name.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

impl Recipient {
    /// An active record with no external id, no fields and no adoption.
    pub fn new(
        id: impl Into<String>,
        location_id: impl Into<String>,
        source: Source,
        email: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            location_id: location_id.into(),
            external_id: None,
            source,
            adopted: false,
            active: true,
            email: email.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Sets the external (directory) id, builder style.
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Sets a field, builder style.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets the active flag, builder style.
    pub fn with_active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Whether the directory owns this record: it created it or adopted it.
    pub fn directory_owned(&self) -> bool {
        self.source == Source::Directory || self.adopted
    }

    /// A field's value, treating an empty string as no value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// A location and its records, as [`reconcile`](crate::reconcile) takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLocation {
    /// The location.
    pub location: Location,
    /// Its records (any order).
    pub records: Vec<Recipient>,
}

/// A user of the host app (someone who logs in by SSO): what the SSO
/// candidate list needs to know to leave out people who already are users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostUser {
    /// The user's email (compared trimmed and case-insensitively).
    pub email: String,
    /// The directory user id the host linked the user to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl HostUser {
    /// A host user known by email only.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            external_id: None,
        }
    }
}

/// Everything the host holds that a full reconcile looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostData {
    /// Every location with its records.
    pub locations: Vec<HostLocation>,
    /// The host's existing SSO users.
    #[serde(default)]
    pub users: Vec<HostUser>,
}
