//! Safety limits: an empty directory, or too many deactivations in a location,
//! stop the plan with an error that gives the numbers.

use serde::{Deserialize, Serialize};

use crate::policy::{PolicyError, SafetyLimits};

/// A safety limit stopped the plan. Every variant names the numbers and says
/// how to proceed on purpose.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "limit", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SafetyError {
    /// The snapshot has no users at all.
    #[error("no directory users received from {provider}: check the app's assignments / the sync scope (an empty directory would deactivate every synced recipient; override with allow_empty_directory if it really is empty)")]
    EmptyDirectory {
        /// The provider the snapshot came from.
        provider: String,
    },
    /// The snapshot has users but none is present and in scope.
    #[error("none of the {users} directory users from {provider} is present and in the sync scope: check the app's assignments / the group mapping and the present statuses (override with allow_empty_directory if intended)")]
    EmptyScope {
        /// The provider the snapshot came from.
        provider: String,
        /// Users in the snapshot.
        users: u64,
    },
    /// A location would lose more records than the policy allows.
    #[error("would deactivate {} of {} recipients in {location_name} ({}), over the limit of {}: check the directory and the sync scope, or override with allow_mass_deactivation", thousands(*deactivations), thousands(*active), percent(*deactivations, *active), limit_text(*max_count, *max_share))]
    TooManyDeactivations {
        /// The location's id.
        location_id: String,
        /// The location's name.
        location_name: String,
        /// Deactivations the plan would make.
        deactivations: u64,
        /// Active records in the location now.
        active: u64,
        /// The count limit that was exceeded, if that one.
        max_count: Option<u64>,
        /// The share limit that was exceeded, if that one.
        max_share: Option<f64>,
    },
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

/// Checks one location's deactivations against the limits.
pub(crate) fn check_deactivations(
    limits: &SafetyLimits,
    location: (&str, &str),
    deactivations: u64,
    active: u64,
) -> Result<(), SafetyError> {
    let over_count = limits.max_deactivations.filter(|&max| deactivations > max);
    let over_share = limits.max_deactivation_share.filter(|&share| {
        deactivations > limits.share_ignored_up_to
            && active > 0
            && deactivations as f64 > share * active as f64
    });
    if over_count.is_none() && over_share.is_none() {
        return Ok(());
    }
    Err(SafetyError::TooManyDeactivations {
        location_id: location.0.to_string(),
        location_name: location.1.to_string(),
        deactivations,
        active,
        max_count: over_count,
        max_share: over_share,
    })
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

fn limit_text(count: Option<u64>, share: Option<f64>) -> String {
    match (count, share) {
        (Some(c), Some(s)) => format!("{} records and {}", thousands(c), format_share(s)),
        (Some(c), None) => format!("{} records", thousands(c)),
        (None, Some(s)) => format_share(s),
        (None, None) => "none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let err = check_deactivations(&limits, ("ber", "Berlin"), 410, 1000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "would deactivate 410 of 1,000 recipients in Berlin (41%), over the limit of 10%: \
             check the directory and the sync scope, or override with allow_mass_deactivation"
        );
        assert_eq!(check_deactivations(&limits, ("b", "B"), 100, 1000), Ok(()));
        // A few deactivations in a small location do not trip the share.
        assert_eq!(check_deactivations(&limits, ("b", "B"), 3, 5), Ok(()));
        assert!(check_deactivations(&limits, ("b", "B"), 4, 5).is_err());
    }

    #[test]
    fn the_count_limit_gives_the_numbers() {
        let limits = SafetyLimits {
            max_deactivations: Some(50),
            max_deactivation_share: None,
            share_ignored_up_to: 0,
        };
        let err = check_deactivations(&limits, ("p", "Paris"), 51, 100_000).unwrap_err();
        assert!(err.to_string().starts_with(
            "would deactivate 51 of 100,000 recipients in Paris (0.1%), over the limit of 50 records"
        ));
        assert_eq!(check_deactivations(&limits, ("p", "Paris"), 50, 60), Ok(()));
    }

    #[test]
    fn the_empty_directory_error_says_where_to_look() {
        let e = SafetyError::EmptyDirectory {
            provider: "okta(acme.okta.com)".into(),
        };
        assert!(e
            .to_string()
            .contains("no directory users received from okta(acme.okta.com): check the app's assignments / the sync scope"));
    }
}
