//! Safety limits: an empty directory, or too many deactivations in a location,
//! stop the plan with an error that gives the numbers of every location.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::{PolicyError, SafetyLimits};
use crate::record::Location;

/// One location's numbers in a safety stop.
///
/// The share limit is a share of `owned`: the active records the sync owns
/// there (created by the directory, or adopted by it). CSV-created and
/// hand-made records are not counted, because the sync never deactivates
/// them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationDeactivations {
    /// The location's id.
    pub location_id: String,
    /// The location's name.
    pub location_name: String,
    /// Active records here that the sync owns.
    pub owned: u64,
    /// Deactivations the plan would make here.
    pub deactivations: u64,
    /// The count limit this location exceeds, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
    /// The share limit this location exceeds, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_share: Option<f64>,
}

impl LocationDeactivations {
    /// Whether the location exceeds a deactivation limit.
    pub fn over_limit(&self) -> bool {
        self.max_count.is_some() || self.max_share.is_some()
    }
}

/// A safety limit stopped the plan. Every variant carries the numbers of
/// each location concerned (sorted by location id), and its message names
/// them and says how to proceed on purpose.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "limit", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SafetyError {
    /// The snapshot has no users at all.
    EmptyDirectory {
        /// The provider the snapshot came from.
        provider: String,
        /// Users received: 0.
        users_received: u64,
        /// What planning from this directory would do, per location.
        locations: Vec<LocationDeactivations>,
    },
    /// The snapshot has users but none is present and in scope.
    EmptyScope {
        /// The provider the snapshot came from.
        provider: String,
        /// Users received.
        users_received: u64,
        /// What planning from this directory would do, per location.
        locations: Vec<LocationDeactivations>,
    },
    /// One or more locations would lose more records than the policy allows.
    TooManyDeactivations {
        /// Every location over its limit.
        locations: Vec<LocationDeactivations>,
    },
}

impl SafetyError {
    /// The numbers of each location concerned.
    pub fn locations(&self) -> &[LocationDeactivations] {
        match self {
            SafetyError::EmptyDirectory { locations, .. }
            | SafetyError::EmptyScope { locations, .. }
            | SafetyError::TooManyDeactivations { locations } => locations,
        }
    }

    /// A stop for the locations over their limits (sorted here).
    pub(crate) fn too_many(locations: Vec<LocationDeactivations>) -> Self {
        SafetyError::TooManyDeactivations { locations: vec![] }.with_locations(locations)
    }

    /// The same stop, with `locations` (sorted here) as its numbers.
    pub(crate) fn with_locations(&self, mut numbers: Vec<LocationDeactivations>) -> Self {
        numbers.sort_by(|a, b| a.location_id.cmp(&b.location_id));
        match self {
            SafetyError::EmptyDirectory { provider, .. } => SafetyError::EmptyDirectory {
                provider: provider.clone(),
                users_received: 0,
                locations: numbers,
            },
            SafetyError::EmptyScope {
                provider,
                users_received,
                ..
            } => SafetyError::EmptyScope {
                provider: provider.clone(),
                users_received: *users_received,
                locations: numbers,
            },
            SafetyError::TooManyDeactivations { .. } => {
                SafetyError::TooManyDeactivations { locations: numbers }
            }
        }
    }

    /// What is wrong, without the numbers (for a warning).
    pub(crate) fn cause(&self) -> String {
        match self {
            SafetyError::EmptyDirectory { provider, .. } => {
                format!("no directory users received from {provider}")
            }
            SafetyError::EmptyScope {
                provider,
                users_received,
                ..
            } => format!(
                "none of the {} directory users from {provider} is present and in the sync scope",
                thousands(*users_received)
            ),
            SafetyError::TooManyDeactivations { locations } => {
                format!(
                    "{} location(s) over the deactivation limits",
                    locations.len()
                )
            }
        }
    }
}

impl fmt::Display for SafetyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = self.cause();
        match self {
            SafetyError::EmptyDirectory { locations, .. } => write!(
                f,
                "{cause}: check the app's assignments / the sync scope. Planned anyway, this would deactivate {}; override with {} if the directory really is empty",
                would_deactivate(locations),
                empty_override(locations)
            ),
            SafetyError::EmptyScope { locations, .. } => write!(
                f,
                "{cause}: check the app's assignments / the group mapping and the present statuses. Planned anyway, this would deactivate {}; override with {} if intended",
                would_deactivate(locations),
                empty_override(locations)
            ),
            SafetyError::TooManyDeactivations { locations } => {
                let over: Vec<String> = locations
                    .iter()
                    .filter(|l| l.over_limit())
                    .map(|l| format!("{}, over the limit of {}", one(l), limit_text(l)))
                    .collect();
                write!(
                    f,
                    "would deactivate {}: check the directory and the sync scope, or override with allow_mass_deactivation",
                    over.join("; ")
                )
            }
        }
    }
}

/// Why a reconcile produced no plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// A safety limit stopped the plan.
    #[error(transparent)]
    Safety(#[from] SafetyError),
    /// The policy cannot be used as written.
    #[error("invalid sync policy: {0}")]
    Policy(#[from] PolicyError),
}

/// One location's numbers against the limits.
pub(crate) fn check_deactivations(
    limits: &SafetyLimits,
    location: &Location,
    owned: u64,
    deactivations: u64,
) -> LocationDeactivations {
    let over_count = limits.max_deactivations.filter(|&max| deactivations > max);
    let over_share = limits.max_deactivation_share.filter(|&share| {
        deactivations > limits.share_ignored_up_to
            && owned > 0
            && deactivations as f64 > share * owned as f64
    });
    LocationDeactivations {
        location_id: location.id.clone(),
        location_name: location.name.clone(),
        owned,
        deactivations,
        max_count: over_count,
        max_share: over_share,
    }
}

/// `412 of 1,000 synced recipients in Berlin (41.2%)`.
fn one(l: &LocationDeactivations) -> String {
    let name = if l.location_name.is_empty() {
        &l.location_id
    } else {
        &l.location_name
    };
    format!(
        "{} of {} synced recipients in {name} ({})",
        thousands(l.deactivations),
        thousands(l.owned),
        percent(l.deactivations, l.owned)
    )
}

/// Every location that would lose records, or that nothing would be lost.
fn would_deactivate(locations: &[LocationDeactivations]) -> String {
    let losing: Vec<String> = locations
        .iter()
        .filter(|l| l.deactivations > 0)
        .map(one)
        .collect();
    if losing.is_empty() {
        "no synced recipient".to_string()
    } else {
        losing.join(", ")
    }
}

fn empty_override(locations: &[LocationDeactivations]) -> &'static str {
    if locations.iter().any(LocationDeactivations::over_limit) {
        "allow_empty_directory and allow_mass_deactivation"
    } else {
        "allow_empty_directory"
    }
}

/// `1234567` -> `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "all".to_string();
    }
    format_share(part as f64 / whole as f64)
}

fn format_share(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{}%", p.round())
    } else {
        format!("{p:.1}%")
    }
}

fn limit_text(l: &LocationDeactivations) -> String {
    match (l.max_count, l.max_share) {
        (Some(c), Some(s)) => format!("{} records and {}", thousands(c), format_share(s)),
        (Some(c), None) => format!("{} records", thousands(c)),
        (None, Some(s)) => format_share(s),
        (None, None) => "none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(limits: &SafetyLimits, name: &str, owned: u64, d: u64) -> LocationDeactivations {
        check_deactivations(limits, &Location::new(name.to_lowercase(), name), owned, d)
    }

    fn stop(numbers: Vec<LocationDeactivations>) -> SafetyError {
        SafetyError::TooManyDeactivations { locations: numbers }
    }

    #[test]
    fn numbers_print_with_separators_and_shares() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(percent(412, 1000), "41.2%");
        assert_eq!(percent(41, 100), "41%");
    }

    #[test]
    fn the_share_limit_gives_the_numbers() {
        let limits = SafetyLimits::default();
        let berlin = check(&limits, "Berlin", 1000, 410);
        assert!(berlin.over_limit());
        assert_eq!(
            stop(vec![berlin]).to_string(),
            "would deactivate 410 of 1,000 synced recipients in Berlin (41%), over the limit of 10%: \
             check the directory and the sync scope, or override with allow_mass_deactivation"
        );
        assert!(!check(&limits, "B", 1000, 100).over_limit());
        // A few deactivations in a small location do not trip the share.
        assert!(!check(&limits, "B", 5, 3).over_limit());
        assert!(check(&limits, "B", 5, 4).over_limit());
    }

    #[test]
    fn the_count_limit_gives_the_numbers() {
        let limits = SafetyLimits {
            max_deactivations: Some(50),
            max_deactivation_share: None,
            share_ignored_up_to: 0,
        };
        let paris = check(&limits, "Paris", 100_000, 51);
        assert!(stop(vec![paris]).to_string().starts_with(
            "would deactivate 51 of 100,000 synced recipients in Paris (0.1%), over the limit of 50 records"
        ));
        assert!(!check(&limits, "Paris", 60, 50).over_limit());
    }

    #[test]
    fn every_location_over_its_limit_is_named() {
        let limits = SafetyLimits::default();
        let e = stop(vec![
            check(&limits, "Berlin", 100, 30),
            check(&limits, "Paris", 10, 10),
        ]);
        assert_eq!(
            e.to_string(),
            "would deactivate 30 of 100 synced recipients in Berlin (30%), over the limit of 10%; \
             10 of 10 synced recipients in Paris (100%), over the limit of 10%: \
             check the directory and the sync scope, or override with allow_mass_deactivation"
        );
    }

    #[test]
    fn the_empty_directory_error_says_where_to_look_and_what_it_would_cost() {
        let limits = SafetyLimits::default();
        let e = SafetyError::EmptyDirectory {
            provider: "okta(acme.okta.com)".into(),
            users_received: 0,
            locations: vec![],
        };
        assert_eq!(
            e.to_string(),
            "no directory users received from okta(acme.okta.com): check the app's assignments / \
             the sync scope. Planned anyway, this would deactivate no synced recipient; override \
             with allow_empty_directory if the directory really is empty"
        );
        let e = e.with_locations(vec![
            check(&limits, "Paris", 2, 2),
            check(&limits, "Berlin", 1000, 1000),
            check(&limits, "Rome", 0, 0),
        ]);
        assert_eq!(e.locations()[0].location_id, "berlin", "sorted by id");
        assert!(e.to_string().contains(
            "this would deactivate 1,000 of 1,000 synced recipients in Berlin (100%), \
             2 of 2 synced recipients in Paris (100%); override with allow_empty_directory \
             and allow_mass_deactivation if"
        ));
    }
}
