//! The plan: operations with reasons, conflicts, skips, counts, a stable hash.

use std::collections::BTreeMap;
use std::fmt;

use directory_core::UserStatus;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::candidates::SsoCandidate;
use crate::record::Source;
use crate::safety::SafetyError;

/// Why an operation, a skip or a hold happens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The user is present and in scope, and the location has no record.
    NewInDirectory,
    /// Mapped attributes changed in the directory.
    AttributesChanged,
    /// A CSV-created record matches the user by email; the policy lets the
    /// directory adopt it.
    AdoptCsvRecord,
    /// A hand-made record matches the user by email; the policy lets the
    /// directory adopt it.
    AdoptManualRecord,
    /// A directory-created record without an external id matches by email.
    LinkByEmail,
    /// The user is present and in scope again.
    BackInDirectory,
    /// The record's user is not in the directory.
    NotInDirectory,
    /// The user's status does not count as present.
    StatusNotPresent {
        /// The user's status.
        status: UserStatus,
    },
    /// The user is not in any group mapped to this location.
    OutOfScope,
    /// A CSV row names a new recipient.
    CsvNewRow,
    /// A CSV row changes a record.
    CsvChanged,
    /// A CSV row names an inactive record.
    CsvReactivated,
    /// The record is protected by the policy.
    Protected,
    /// The policy does not deactivate missing users' records.
    DeactivationDisabled,
    /// The user is in scope but has no usable email.
    NoEmail,
    /// The policy does not let a CSV import change a directory-owned record.
    CsvMayNotUpdateDirectory,
    /// A CSV row names an inactive record the directory owns: the directory
    /// deactivated it (its user left, is not present or is out of scope), and
    /// only the directory brings it back.
    CsvMayNotReactivateDirectory,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Reason::NewInDirectory => "new in the directory and in scope",
            Reason::AttributesChanged => "attributes changed in the directory",
            Reason::AdoptCsvRecord => "CSV record matches a directory user by email; policy lets the directory adopt it",
            Reason::AdoptManualRecord => "hand-made record matches a directory user by email; policy lets the directory adopt it",
            Reason::LinkByEmail => "directory record without an id matches a directory user by email",
            Reason::BackInDirectory => "the user is present and in scope again",
            Reason::NotInDirectory => "the user is no longer in the directory",
            Reason::StatusNotPresent { status } => {
                return write!(f, "the user's status {} does not count as present", status.as_str())
            }
            Reason::OutOfScope => "the user is not in a group mapped to this location",
            Reason::CsvNewRow => "new in the CSV import",
            Reason::CsvChanged => "changed by the CSV import",
            Reason::CsvReactivated => "listed again by the CSV import",
            Reason::Protected => "the record is protected by the policy",
            Reason::DeactivationDisabled => "the policy does not deactivate records of missing users",
            Reason::NoEmail => "the directory user has no usable email",
            Reason::CsvMayNotUpdateDirectory => "the policy does not let a CSV import change a directory-owned record",
            Reason::CsvMayNotReactivateDirectory => "the directory owns this inactive record: a CSV import does not bring back someone the directory deactivated; restore the person in the directory",
        };
        f.write_str(text)
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field (`email` for the email).
    pub field: String,
    /// Its value now (`None`: no value).
    pub old: Option<String>,
    /// Its value after the change (`None`: cleared).
    pub new: Option<String>,
}

/// A record to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    /// The location to create it in.
    pub location_id: String,
    /// The directory user id (none for a CSV row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Who creates it.
    pub source: Source,
    /// The email, normalized.
    pub email: String,
    /// The mapped fields with a value.
    pub fields: BTreeMap<String, String>,
    /// Why.
    pub reason: Reason,
}

/// A change to an existing record (an update or a reactivation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The host record.
    pub record_id: String,
    /// The directory user id the record is (or becomes) linked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whether this links the record: set `external_id` and mark the record
    /// adopted by the directory.
    #[serde(default)]
    pub link: bool,
    /// Field-level changes (may be empty for a bare reactivation or link).
    pub changes: Vec<FieldChange>,
    /// Why.
    pub reason: Reason,
}

/// A record to deactivate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deactivate {
    /// The host record.
    pub record_id: String,
    /// The directory user id it was linked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Why.
    pub reason: Reason,
}

/// One operation for the host to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a record.
    Create(Create),
    /// Change fields of an active record (and maybe link it).
    Update(Change),
    /// Make an inactive record active again (with any field changes).
    Reactivate(Change),
    /// Make an active record inactive.
    Deactivate(Deactivate),
}

impl Operation {
    /// The reason the operation is planned.
    pub fn reason(&self) -> &Reason {
        match self {
            Operation::Create(c) => &c.reason,
            Operation::Update(c) | Operation::Reactivate(c) => &c.reason,
            Operation::Deactivate(d) => &d.reason,
        }
    }

    /// The key that orders operations: kind, then record id (or external id
    /// and email for creates).
    fn sort_key(&self) -> (u8, &str, &str) {
        match self {
            Operation::Create(c) => (0, c.external_id.as_deref().unwrap_or(""), &c.email),
            Operation::Update(c) => (1, &c.record_id, ""),
            Operation::Reactivate(c) => (2, &c.record_id, ""),
            Operation::Deactivate(d) => (3, &d.record_id, ""),
        }
    }
}

/// What kind of conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// Two or more present directory users share one email: none of them is
    /// created or changed until the directory is fixed. Resolve in the
    /// directory (give each person their own address).
    DuplicateEmail,
    /// A CSV-created or hand-made record matches a directory user by email
    /// and the policy does not let the directory adopt it: the user is not
    /// created there. Resolve by allowing adoption in the policy, or by
    /// removing or re-addressing the record.
    NotAdoptable,
    /// A record linked to another directory id matches the user by email (the
    /// user was re-created, or the email moved to someone else): neither is
    /// changed until someone decides. Resolve by clearing the record's
    /// external id (the next sync links it to the new user) or by removing it.
    IdChanged,
    /// Several records in one location carry the same directory id or match
    /// one user by email: none of them is changed. Resolve by merging or
    /// removing the extra records.
    DuplicateRecords,
}

/// A conflict: data for a person to resolve. The rest of the plan proceeds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Conflict {
    /// What kind.
    pub kind: ConflictKind,
    /// The location, for conflicts within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// The email involved (normalized).
    pub email: String,
    /// The directory user ids involved, sorted.
    pub user_ids: Vec<String>,
    /// The host record ids involved, sorted.
    pub record_ids: Vec<String>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ConflictKind::DuplicateEmail => "directory users share one email",
            ConflictKind::NotAdoptable => {
                "a CSV or hand-made record matches a directory user the policy may not adopt"
            }
            ConflictKind::IdChanged => "a record linked to another directory id matches by email",
            ConflictKind::DuplicateRecords => "several host records match one directory user",
        };
        write!(
            f,
            "{what}: {} (users {:?}, records {:?})",
            self.email, self.user_ids, self.record_ids
        )
    }
}

/// Something left alone on purpose, with why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skip {
    /// The host record, if one is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The directory user, if one is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Why.
    pub reason: Reason,
}

/// How many of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Host records looked at.
    pub records: u64,
    /// Records linked to a wanted user and already right.
    pub unchanged: u64,
    /// Records to create.
    pub creates: u64,
    /// Records to update.
    pub updates: u64,
    /// Records to reactivate.
    pub reactivations: u64,
    /// Records to deactivate.
    pub deactivations: u64,
    /// Conflicts.
    pub conflicts: u64,
    /// Skips.
    pub skips: u64,
}

impl fmt::Display for Counts {
    /// `2 to create, 1 to update, 0 to reactivate, 1 to deactivate (96 unchanged, 1 conflict, 0 skipped)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} to reactivate, {} to deactivate ({} unchanged, {} conflict{}, {} skipped)",
            self.creates,
            self.updates,
            self.reactivations,
            self.deactivations,
            self.unchanged,
            self.conflicts,
            if self.conflicts == 1 { "" } else { "s" },
            self.skips
        )
    }
}

impl Counts {
    /// Operations in total.
    pub fn operations(&self) -> u64 {
        self.creates + self.updates + self.reactivations + self.deactivations
    }

    pub(crate) fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.unchanged += o.unchanged;
        self.creates += o.creates;
        self.updates += o.updates;
        self.reactivations += o.reactivations;
        self.deactivations += o.deactivations;
        self.conflicts += o.conflicts;
        self.skips += o.skips;
    }

    fn count(&mut self, op: &Operation) {
        match op {
            Operation::Create(_) => self.creates += 1,
            Operation::Update(_) => self.updates += 1,
            Operation::Reactivate(_) => self.reactivations += 1,
            Operation::Deactivate(_) => self.deactivations += 1,
        }
    }
}

/// The plan for one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationPlan {
    /// The location's id.
    pub location_id: String,
    /// The location's name.
    pub location_name: String,
    /// Operations, in a stable order: creates, updates, reactivations,
    /// deactivations, each by record id (creates by directory id).
    pub operations: Vec<Operation>,
    /// Conflicts in this location, sorted.
    pub conflicts: Vec<Conflict>,
    /// Skips in this location, sorted.
    pub skips: Vec<Skip>,
    /// Counts.
    pub counts: Counts,
    /// A safety limit this plan exceeds, planned anyway because of an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<SafetyError>,
    /// SHA-256 of the canonical form of everything above (hex).
    pub hash: String,
}

impl LocationPlan {
    /// Builds a location plan: sorts everything, counts, hashes.
    pub(crate) fn seal(
        location_id: String,
        location_name: String,
        mut operations: Vec<Operation>,
        mut conflicts: Vec<Conflict>,
        mut skips: Vec<Skip>,
        records: u64,
        unchanged: u64,
    ) -> Self {
        operations.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        conflicts.sort();
        conflicts.dedup();
        skips.sort();
        let mut counts = Counts {
            records,
            unchanged,
            conflicts: conflicts.len() as u64,
            skips: skips.len() as u64,
            ..Counts::default()
        };
        operations.iter().for_each(|op| counts.count(op));
        let mut plan = Self {
            location_id,
            location_name,
            operations,
            conflicts,
            skips,
            counts,
            overridden: None,
            hash: String::new(),
        };
        plan.rehash();
        plan
    }

    /// Whether the plan has no operations (conflicts and skips may remain).
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Whether the stored hash matches the content.
    pub fn verify(&self) -> bool {
        self.hash == self.compute_hash()
    }

    /// Recomputes the hash (after setting `overridden`).
    pub(crate) fn rehash(&mut self) {
        self.hash = self.compute_hash();
    }

    /// The hash of the canonical form (every field but `hash`).
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"recipient-reconcile/location-plan/v1\n");
        hash_json(&mut h, &self.location_id);
        hash_json(&mut h, &self.location_name);
        hash_json(&mut h, &self.operations);
        hash_json(&mut h, &self.conflicts);
        hash_json(&mut h, &self.skips);
        hash_json(&mut h, &self.counts);
        hash_json(&mut h, &self.overridden);
        hex(&h.finalize())
    }
}

/// The whole plan: every location's plan plus what is not per location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The provider the snapshot came from.
    pub provider: String,
    /// Per-location plans, sorted by location id (whatever order the host
    /// listed its locations in).
    pub locations: Vec<LocationPlan>,
    /// Conflicts across the directory (duplicate emails), sorted.
    pub conflicts: Vec<Conflict>,
    /// Directory users that could become SSO users, sorted by email. Never
    /// created by the plan: the host chooses a role and creates them.
    pub sso_candidates: Vec<SsoCandidate>,
    /// Notes for the reviewer (mapped groups missing from the directory...).
    pub warnings: Vec<String>,
    /// Counts over all locations (plus directory-wide conflicts).
    pub counts: Counts,
    /// SHA-256 over the canonical form of the plan (hex): review a plan,
    /// then check the hash of what runs is the same.
    pub hash: String,
}

impl Plan {
    pub(crate) fn seal(
        provider: String,
        mut locations: Vec<LocationPlan>,
        mut conflicts: Vec<Conflict>,
        sso_candidates: Vec<SsoCandidate>,
        warnings: Vec<String>,
    ) -> Self {
        locations.sort_by(|a, b| (&a.location_id, &a.hash).cmp(&(&b.location_id, &b.hash)));
        conflicts.sort();
        let mut counts = Counts::default();
        locations.iter().for_each(|l| counts.add(&l.counts));
        counts.conflicts += conflicts.len() as u64;
        let mut plan = Plan {
            provider,
            locations,
            conflicts,
            sso_candidates,
            warnings,
            counts,
            hash: String::new(),
        };
        plan.hash = plan.compute_hash();
        plan
    }

    /// Whether no location has any operation.
    pub fn is_empty(&self) -> bool {
        self.locations.iter().all(LocationPlan::is_empty)
    }

    /// All operations, location by location.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.locations.iter().flat_map(|l| l.operations.iter())
    }

    /// The hash of the canonical form: each location's own hash (recomputed)
    /// and everything else in a fixed order, as compact JSON.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"recipient-reconcile/plan/v1\n");
        hash_json(&mut h, &self.provider);
        for l in &self.locations {
            h.update(l.compute_hash().as_bytes());
            h.update(b"\n");
        }
        hash_json(&mut h, &self.conflicts);
        hash_json(&mut h, &self.sso_candidates);
        hash_json(&mut h, &self.warnings);
        hash_json(&mut h, &self.counts);
        hex(&h.finalize())
    }

    /// Whether the stored hash matches the content (nothing was changed
    /// since the plan was made or reviewed).
    pub fn verify(&self) -> bool {
        self.hash == self.compute_hash()
    }

    /// The plan as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Reads a plan from JSON.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Feeds one value's compact JSON and a separator into the hash. Serde writes
/// struct fields in declaration order and maps sorted (BTreeMap), so the
/// form is canonical for these types.
fn hash_json<T: Serialize>(h: &mut Sha256, v: &T) {
    // Writing into a hasher cannot fail; a type that fails to serialize
    // would fail the same way every time, so the hash stays stable. The
    // buffer turns serde's many small writes into few hasher updates.
    let mut w = std::io::BufWriter::with_capacity(16 * 1024, HashWriter(h));
    let _ = serde_json::to_writer(&mut w, v);
    let _ = std::io::Write::flush(&mut w);
    drop(w);
    h.update(b"\n");
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
