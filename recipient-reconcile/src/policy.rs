//! The customer's sync policy: scope, statuses, ownership, mapping, filters,
//! protected records and safety limits.

use std::collections::{BTreeMap, BTreeSet};

use directory_core::UserStatus;
use serde::{Deserialize, Serialize};

use crate::mapping::{normalize_email, Mapping};

/// Which directory users become recipients in which host locations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// Every directory user is a recipient in every location.
    AllToAll,
    /// Members of the mapped groups (direct or transitive) become recipients in
    /// the group's locations. Several groups may map to one location and one
    /// group to several locations; a user in several groups mapped to one
    /// location lands there once.
    Groups {
        /// Directory group id -> host location ids.
        groups: BTreeMap<String, BTreeSet<String>>,
    },
}

impl Scope {
    /// Group scope from `(group id, location id)` pairs.
    pub fn groups<G: Into<String>, L: Into<String>>(
        pairs: impl IntoIterator<Item = (G, L)>,
    ) -> Self {
        let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (g, l) in pairs {
            groups.entry(g.into()).or_default().insert(l.into());
        }
        Scope::Groups { groups }
    }
}

/// Who may change whose records.
///
/// The directory always owns the records it created and those it adopted.
/// A CSV import always may update CSV-created and hand-made records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ownership {
    /// A directory sync may adopt (link, then update and own) a CSV-created
    /// record whose email matches a directory user.
    pub directory_updates_csv: bool,
    /// A directory sync may adopt a hand-made record whose email matches a
    /// directory user.
    pub directory_updates_manual: bool,
    /// A CSV import may update a record the directory owns.
    pub csv_updates_directory: bool,
}

/// Which emails may become SSO user candidates. Empty lists let everyone
/// through; otherwise an email passes when its domain (or a parent domain)
/// is listed or the address itself is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailFilter {
    /// Allowed domains (`acme.com` also allows `eu.acme.com`).
    pub domains: BTreeSet<String>,
    /// Allowed single addresses.
    pub addresses: BTreeSet<String>,
}

impl EmailFilter {
    /// Whether a normalized email passes.
    pub fn allows(&self, email: &str) -> bool {
        if self.domains.is_empty() && self.addresses.is_empty() {
            return true;
        }
        if self.addresses.iter().any(|a| normalize_email(a) == email) {
            return true;
        }
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.domains
            .iter()
            .any(|d| domain_within(domain, &normalize_email(d)))
    }
}

fn domain_within(domain: &str, allowed: &str) -> bool {
    let allowed = allowed.trim_start_matches('@');
    domain == allowed
        || domain
            .strip_suffix(allowed)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Records that are never deactivated (break-glass accounts, owners).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Protected {
    /// Host record ids.
    pub record_ids: BTreeSet<String>,
    /// Emails (compared normalized).
    pub emails: BTreeSet<String>,
}

/// When a plan must stop instead of deactivating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyLimits {
    /// At most this many deactivations in one location per run.
    pub max_deactivations: Option<u64>,
    /// At most this share (0.0-1.0) of the active records the sync owns in a
    /// location (created by the directory or adopted by it) deactivated per
    /// run. CSV-created and hand-made records are not counted: a sync never
    /// deactivates them, so they must not dilute the share.
    pub max_deactivation_share: Option<f64>,
    /// Up to this many deactivations in a location never trip the share
    /// limit (so one leaver in a location of five is not an alarm).
    pub share_ignored_up_to: u64,
}

impl Default for SafetyLimits {
    /// No count limit; at most 10% of the records the sync owns in a location,
    /// checked above 3 deactivations.
    fn default() -> Self {
        Self {
            max_deactivations: None,
            max_deactivation_share: Some(0.10),
            share_ignored_up_to: 3,
        }
    }
}

/// A deliberate override of the safety checks. The two are separate: allowing
/// an empty directory does not lift the deactivation limits, so a plan from
/// an empty directory still stops at a location's limit unless both are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyOverride {
    /// Plan even from a snapshot with no users (or none in scope).
    pub allow_empty_directory: bool,
    /// Plan even when a location exceeds its deactivation limits.
    pub allow_mass_deactivation: bool,
}

impl SafetyOverride {
    /// Both overrides at once: the plan proceeds whatever the limits say.
    pub fn all() -> Self {
        Self {
            allow_empty_directory: true,
            allow_mass_deactivation: true,
        }
    }

    /// Either this or `other` allows it.
    pub fn or(self, other: SafetyOverride) -> Self {
        Self {
            allow_empty_directory: self.allow_empty_directory || other.allow_empty_directory,
            allow_mass_deactivation: self.allow_mass_deactivation || other.allow_mass_deactivation,
        }
    }
}

/// What the customer chose. Every field has a serde default, so a policy
/// stored as JSON only needs what differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Who lands where.
    pub scope: Scope,
    /// Directory statuses that count as present. Users in any other status
    /// are treated as gone: no record is created and existing ones are
    /// deactivated.
    pub present_statuses: BTreeSet<UserStatus>,
    /// Who may change whose records.
    pub ownership: Ownership,
    /// Deactivate directory-owned records whose user is gone, not present or
    /// out of scope. When off, those records are listed as skips.
    pub deactivate_missing: bool,
    /// Directory attributes -> recipient fields.
    pub mapping: Mapping,
    /// Which emails may become SSO user candidates.
    pub sso_filter: EmailFilter,
    /// Records never deactivated.
    pub protected: Protected,
    /// When to stop instead of deactivating.
    pub limits: SafetyLimits,
    /// A standing override of the safety checks (prefer passing one per run).
    pub safety_override: SafetyOverride,
}

impl Default for Policy {
    /// All users to all locations; every status but suspended, disabled,
    /// deprovisioned and deleted counts as present; the directory adopts
    /// nothing and CSV updates nothing of the directory's; missing users are
    /// deactivated; the default mapping and limits.
    fn default() -> Self {
        Self {
            scope: Scope::AllToAll,
            present_statuses: default_present(),
            ownership: Ownership::default(),
            deactivate_missing: true,
            mapping: Mapping::default(),
            sso_filter: EmailFilter::default(),
            protected: Protected::default(),
            limits: SafetyLimits::default(),
            safety_override: SafetyOverride::default(),
        }
    }
}

fn default_present() -> BTreeSet<UserStatus> {
    [
        UserStatus::Active,
        UserStatus::Staged,
        UserStatus::Provisioned,
        UserStatus::Recovery,
        UserStatus::PasswordExpired,
        UserStatus::LockedOut,
    ]
    .into_iter()
    .collect()
}

/// A policy that cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Two mappings fill the same field, or one fills the reserved `email`.
    #[error("the mapping fills recipient field {0:?} twice or uses the reserved name: give each field one attribute and map the email with `mapping.email`")]
    DuplicateField(String),
    /// A field name is empty.
    #[error("the mapping has a recipient field with an empty name")]
    EmptyField,
    /// The share limit is not between 0 and 1.
    #[error("limits.max_deactivation_share is {0}: give a share between 0.0 and 1.0 (0.1 = 10%)")]
    BadShare(String),
    /// No status counts as present, so every record would be deactivated.
    #[error("present_statuses is empty: every directory user would count as gone; list at least \"active\"")]
    NoPresentStatus,
}

impl Policy {
    /// Checks the policy can be used.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut seen = BTreeSet::from(["email"]);
        for f in &self.mapping.fields {
            if f.field.is_empty() {
                return Err(PolicyError::EmptyField);
            }
            if !seen.insert(f.field.as_str()) {
                return Err(PolicyError::DuplicateField(f.field.clone()));
            }
        }
        if let Some(s) = self.limits.max_deactivation_share {
            if !(0.0..=1.0).contains(&s) {
                return Err(PolicyError::BadShare(s.to_string()));
            }
        }
        if self.present_statuses.is_empty() {
            return Err(PolicyError::NoPresentStatus);
        }
        Ok(())
    }

    /// Whether a record (by id or normalized email) is protected.
    pub(crate) fn is_protected(&self, record_id: &str, email: &str) -> bool {
        let p = &self.protected;
        p.record_ids.contains(record_id)
            || (!p.emails.is_empty()
                && p.emails
                    .iter()
                    .any(|e| normalize_email(e) == normalize_email(email)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_filter_takes_domains_subdomains_and_addresses() {
        let f = EmailFilter {
            domains: ["Acme.com".to_string()].into(),
            addresses: ["guest@partner.io".to_string()].into(),
        };
        assert!(f.allows("ada@acme.com"));
        assert!(f.allows("ada@eu.acme.com"));
        assert!(!f.allows("ada@notacme.com"));
        assert!(f.allows("guest@partner.io"));
        assert!(!f.allows("other@partner.io"));
        assert!(EmailFilter::default().allows("any@where.net"));
    }

    #[test]
    fn policy_validation_names_the_problem() {
        let mut p = Policy::default();
        assert_eq!(p.validate(), Ok(()));
        p.mapping = p.mapping.field("email", crate::Attribute::UserName);
        assert_eq!(
            p.validate(),
            Err(PolicyError::DuplicateField("email".into()))
        );
        let mut p = Policy::default();
        p.limits.max_deactivation_share = Some(10.0);
        assert!(p.validate().unwrap_err().to_string().contains("0.1 = 10%"));
        p = Policy::default();
        p.present_statuses.clear();
        assert_eq!(p.validate(), Err(PolicyError::NoPresentStatus));
    }

    #[test]
    fn a_partial_json_policy_takes_defaults() {
        let p: Policy = serde_json::from_str(
            r#"{"scope":{"type":"groups","groups":{"g1":["berlin","paris"]}},
                "present_statuses":["active","suspended"],
                "ownership":{"directory_updates_csv":true}}"#,
        )
        .unwrap();
        assert_eq!(p.scope, Scope::groups([("g1", "berlin"), ("g1", "paris")]));
        assert!(p.present_statuses.contains(&UserStatus::Suspended));
        assert!(p.ownership.directory_updates_csv);
        assert!(!p.ownership.csv_updates_directory);
        assert!(p.deactivate_missing);
        assert_eq!(p.limits, SafetyLimits::default());
    }

    #[test]
    fn protected_matches_ids_and_emails_case_insensitively() {
        let mut p = Policy::default();
        p.protected.record_ids.insert("r1".into());
        p.protected.emails.insert("Boss@Acme.com".into());
        assert!(p.is_protected("r1", "x@y.z"));
        assert!(p.is_protected("r2", " boss@acme.COM"));
        assert!(!p.is_protected("r2", "x@y.z"));
    }
}
