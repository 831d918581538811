//! # recipient-reconcile
//!
//! Turns a directory [`Snapshot`](directory_core::Snapshot), the customer's
//! sync [`Policy`] and the host's current records into a [`Plan`] of create /
//! update / reactivate / deactivate operations, each with its reason. Pure:
//! no I/O, no async, no HTTP; the same inputs always give the same plan.
//!
//! ## Main types
//!
//! * [`Recipient`], [`Location`], [`Source`], [`HostUser`], [`HostData`]: the
//!   host's side. Every record carries its source (directory, CSV, manual)
//!   and whether the directory adopted it.
//! * [`Policy`]: [`Scope`] (all to all, or groups mapped to locations),
//!   present statuses, [`Ownership`] switches, deactivation of missing users,
//!   the attribute [`Mapping`], the SSO [`EmailFilter`], [`Protected`] records
//!   and [`SafetyLimits`].
//! * [`Reconciler`]: computes the directory side once, then
//!   [`Reconciler::plan_location`] per location and [`Reconciler::finish`]
//!   for the whole plan; [`reconcile`] does all locations in one call, by
//!   the same path (same plan, same hash).
//! * [`Plan`] / [`LocationPlan`]: [`Operation`]s with [`Reason`]s,
//!   [`Conflict`]s and [`Skip`]s as data, [`Counts`], SSO candidates and a
//!   SHA-256 hash of the canonical form; JSON both ways.
//! * [`SafetyError`]: an empty directory or too many deactivations, with the
//!   numbers of every location concerned ([`LocationDeactivations`]);
//!   [`SafetyOverride`] proceeds on purpose.
//! * [`read_csv`] / [`plan_csv`]: CSV import under the same ownership rules;
//!   rows they refuse are [`RowError`]s with their line, like unreadable ones.
//! * [`apply_location`] / [`apply`]: apply a plan to records in memory.
//!
//! ## Use
//!
//! ```
//! use directory_core::{DirectoryUser, Snapshot};
//! use recipient_reconcile::{apply_location, Location, Policy, Reconciler, Recipient, Source};
//!
//! let snapshot = Snapshot::from_parts(
//!     "okta(acme.okta.com)",
//!     vec![
//!         DirectoryUser::new("00u1", "ada").with_email("Ada@Acme.test", true),
//!         DirectoryUser::new("00u2", "bob").with_email("bob@acme.test", true),
//!     ],
//!     vec![], vec![], vec![],
//! );
//! let policy = Policy::default();
//! let berlin = Location::new("ber", "Berlin");
//! // The host already has Bob from a CSV import, and someone who left.
//! let mut records = vec![
//!     Recipient::new("r1", "ber", Source::Csv, "bob@acme.test"),
//!     Recipient::new("r2", "ber", Source::Directory, "old@acme.test").with_external_id("00u9"),
//! ];
//!
//! let reconciler = Reconciler::new(&snapshot, &policy)?;
//! let plan = reconciler.plan_location(&berlin, &records)?;
//! assert_eq!(plan.counts.creates, 1); // Ada
//! assert_eq!(plan.counts.deactivations, 1); // the leaver
//! assert_eq!(plan.conflicts.len(), 1); // Bob's CSV record: the policy may not adopt it
//!
//! apply_location(&mut records, &plan, |c| format!("new-{}", c.email))?;
//! let again = reconciler.plan_location(&berlin, &records)?;
//! assert!(again.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Design notes
//!
//! * **Decide, then act.** Reconcile returns data; the host applies it in its
//!   own store and transaction. Every operation says why; conflicts (two
//!   directory users with one email, a CSV record the policy may not adopt,
//!   a record linked to another directory id that matches by email, several
//!   records for one user) are data too, and hold only the records involved
//!   while the rest of the plan proceeds.
//! * **One decision table.** Each record gets a small state (who owns it,
//!   active or not, protected, how it relates to what the directory wants
//!   here) and one exhaustive `match` decides.
//! * **Ownership is explicit.** The directory changes only records it created
//!   or adopted; adopting a CSV-created or hand-made record needs a policy
//!   switch, and so does a CSV import changing a directory-owned record; a
//!   CSV import never reactivates one (the directory deactivated it, and
//!   would again: the directory is the source of truth for its people).
//!   Deactivation touches only directory-owned records. SSO candidates are
//!   the users reconcile syncs: users sharing an email are held, not offered.
//! * **Safety first.** An empty directory (or nothing in scope) and a location
//!   losing more than its limit are errors with the numbers of every
//!   location, not plans. The share limit is a share of the records the sync
//!   owns in the location, not of all its records: CSV and hand-made records
//!   cannot be deactivated by a sync, so they must not dilute it.
//! * **Location by location.** The directory side (normalized emails, mapped
//!   fields, scope bitsets, a user-id index) is computed once per snapshot,
//!   borrowing from it; a location is planned with one hash lookup per record
//!   and no allocation for records already in sync. Memory is the snapshot
//!   plus one location.
//! * **Stable.** Locations, operations, conflicts and skips are sorted, so
//!   shuffled inputs (records, users, the host's order of locations) give the
//!   same plan and hash; applying a plan and planning again gives an empty
//!   plan.
//!
//! ## Feature flags
//!
//! None. The crate depends on `directory-core` without its `http` feature,
//! so it compiles no HTTP stack and no async runtime.

// Library code never panics on bad input; tests may.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(not(test), deny(clippy::panic, clippy::indexing_slicing))]

mod apply;
mod candidates;
mod csv_import;
mod decide;
mod desired;
mod mapping;
mod plan;
mod policy;
mod reconciler;
mod record;
mod safety;

pub use apply::{apply, apply_location, ApplyError};
pub use candidates::{sso_candidates, SsoCandidate};
pub use csv_import::{plan_csv, read_csv, CsvError, CsvImport, CsvPlan, CsvRow, RowError};
pub use mapping::{normalize_email, Attribute, FieldMapping, Mapping, UnknownAttribute};
pub use plan::{
    Change, Conflict, ConflictKind, Counts, Create, Deactivate, FieldChange, LocationPlan,
    Operation, Plan, Reason, Skip,
};
pub use policy::{
    EmailFilter, Ownership, Policy, PolicyError, Protected, SafetyLimits, SafetyOverride, Scope,
};
pub use reconciler::{reconcile, reconcile_with_override, Reconciler};
pub use record::{HostData, HostLocation, HostUser, Location, Recipient, Source};
pub use safety::{LocationDeactivations, ReconcileError, SafetyError};
