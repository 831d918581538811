//! `Reconciler`: the directory side computed once, then a plan per location.

use std::collections::BTreeSet;

use directory_core::Snapshot;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::candidates::{candidates, SsoCandidate};
use crate::decide::{changes, decide, in_sync, new_fields, Decision, Link, Owner, State};
use crate::desired::{BitSet, Class, Desired, InScope};
use crate::mapping::normalize_email;
use crate::plan::{
    Change, Conflict, ConflictKind, Create, Deactivate, LocationPlan, Operation, Plan, Reason, Skip,
};
use crate::policy::{Policy, SafetyOverride, Scope};
use crate::record::{HostData, HostUser, Location, Recipient, Source};
use crate::safety::{check_deactivations, ReconcileError, SafetyError};

/// Plans location by location against one snapshot and one policy.
///
/// [`Reconciler::new`] computes once what the directory wants (every user's
/// normalized email and mapped fields, who is present, the scope of each
/// location, duplicate-email conflicts); [`Reconciler::plan_location`] then
/// plans one location from its records, and [`Reconciler::finish`] puts the
/// locations' outcomes together into one [`Plan`], or one [`SafetyError`]
/// naming every location stopped. A host can load one location's records at
/// a time, so memory is bounded by the snapshot plus the largest location.
/// [`reconcile`] is this same path over a [`HostData`]: both give the same
/// plan and hash for the same inputs.
///
/// ```
/// use directory_core::{DirectoryUser, Snapshot};
/// use recipient_reconcile::{Location, Policy, Reconciler};
///
/// let snapshot = Snapshot::from_parts(
///     "test",
///     vec![DirectoryUser::new("u1", "ada").with_email("ada@acme.test", true)],
///     vec![], vec![], vec![],
/// );
/// let policy = Policy::default();
/// let reconciler = Reconciler::new(&snapshot, &policy)?;
/// let mut outcomes = Vec::new();
/// for location in [Location::new("ber", "Berlin"), Location::new("par", "Paris")] {
///     let records = vec![]; // load this location's records from the host's store
///     outcomes.push(reconciler.plan_location(&location, &records));
/// }
/// // One plan, or one error with the numbers of every location stopped.
/// let plan = reconciler.finish(outcomes, &[])?;
/// assert_eq!(plan.counts.creates, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reconciler<'a> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    safety: SafetyOverride,
    desired: Desired<'a>,
    /// The empty-directory stop (numbers to be filled in), whether or not
    /// it is overridden.
    empty: Option<SafetyError>,
}

impl<'a> Reconciler<'a> {
    /// Prepares to plan. Fails on an invalid policy. An empty snapshot (or
    /// one with nobody present in scope) stops every location's plan, with
    /// the numbers, unless the policy overrides it.
    pub fn new(snapshot: &'a Snapshot, policy: &'a Policy) -> Result<Self, ReconcileError> {
        Self::with_override(snapshot, policy, SafetyOverride::default())
    }

    /// As [`Reconciler::new`], with a deliberate override for this run (on
    /// top of any standing override in the policy). A limit that would have
    /// stopped the plan is recorded in it (`overridden`, `warnings`).
    pub fn with_override(
        snapshot: &'a Snapshot,
        policy: &'a Policy,
        safety: SafetyOverride,
    ) -> Result<Self, ReconcileError> {
        policy.validate()?;
        let safety = policy.safety_override.or(safety);
        let mut desired = Desired::new(snapshot, policy);
        let empty = empty_directory(snapshot, &desired);
        if let Some(e) = empty.as_ref().filter(|_| safety.allow_empty_directory) {
            let warning = format!("planned anyway (allow_empty_directory): {}", e.cause());
            desired.warnings.push(warning);
        }
        Ok(Self {
            snapshot,
            policy,
            safety,
            desired,
            empty,
        })
    }

    /// Plans one location from all of its records (in any order). Fails
    /// when the directory is empty or the plan would deactivate more than
    /// the safety limits allow, unless overridden; the error gives this
    /// location's numbers ([`Reconciler::finish`] gathers every location's).
    pub fn plan_location(
        &self,
        location: &Location,
        records: &[Recipient],
    ) -> Result<LocationPlan, SafetyError> {
        let mut pass = Pass::new(self, location, records);
        pass.link_by_id();
        let unmatched = pass.wanted_without_record();
        let creates = pass.link_by_email(unmatched);
        pass.decide_records();
        pass.create(creates);
        pass.finish()
    }

    /// Conflicts across the whole directory (users sharing an email).
    pub fn conflicts(&self) -> &[Conflict] {
        &self.desired.conflicts
    }

    /// Notes about the directory side for the reviewer (mapped groups
    /// missing, an empty directory planned anyway). [`Reconciler::finish`]
    /// adds those that depend on the host's locations.
    pub fn warnings(&self) -> &[String] {
        &self.desired.warnings
    }

    /// Directory users that could become SSO users of the host: see
    /// [`sso_candidates`](crate::sso_candidates). Users the plan holds in a
    /// duplicate-email conflict are not among them.
    pub fn sso_candidates(&self, host_users: &[HostUser]) -> Vec<SsoCandidate> {
        candidates(self.snapshot, self.policy, &self.desired, host_users)
    }

    /// Puts the outcome of [`Reconciler::plan_location`] for every location
    /// of the host (in any order) together with the directory-wide
    /// conflicts, warnings and SSO candidates into one hashed [`Plan`].
    ///
    /// When any location was stopped (or the directory is empty and not
    /// overridden), gives one [`SafetyError`] with the numbers of every
    /// location stopped instead. A host that applied each location's plan
    /// as it went passes those plans as `plans.into_iter().map(Ok)`.
    pub fn finish(
        &self,
        locations: impl IntoIterator<Item = Result<LocationPlan, SafetyError>>,
        host_users: &[HostUser],
    ) -> Result<Plan, SafetyError> {
        let mut plans = Vec::new();
        let mut stopped = Vec::new();
        for outcome in locations {
            match outcome {
                Ok(plan) => plans.push(plan),
                Err(e) => stopped.extend_from_slice(e.locations()),
            }
        }
        if let Some(empty) = self
            .empty
            .as_ref()
            .filter(|_| !self.safety.allow_empty_directory)
        {
            return Err(empty.with_locations(stopped));
        }
        if !stopped.is_empty() {
            return Err(SafetyError::too_many(stopped));
        }
        let mut warnings = self.desired.warnings.clone();
        warnings.extend(unknown_locations(self.policy, &plans));
        Ok(Plan::seal(
            self.snapshot.provider.clone(),
            plans,
            self.desired.conflicts.clone(),
            self.sso_candidates(host_users),
            warnings,
        ))
    }
}

/// Plans every location of `host` in one call: [`Reconciler::plan_location`]
/// for each, then [`Reconciler::finish`].
///
/// ```
/// use directory_core::{DirectoryUser, Snapshot};
/// use recipient_reconcile::{reconcile, HostData, HostLocation, Location, Policy};
///
/// let snapshot = Snapshot::from_parts(
///     "test",
///     vec![DirectoryUser::new("u1", "ada").with_email("Ada@Acme.test", true)],
///     vec![], vec![], vec![],
/// );
/// let host = HostData {
///     locations: vec![HostLocation { location: Location::new("ber", "Berlin"), records: vec![] }],
///     users: vec![],
/// };
/// let plan = reconcile(&snapshot, &Policy::default(), &host).unwrap();
/// assert_eq!(plan.counts.creates, 1);
/// ```
pub fn reconcile(
    snapshot: &Snapshot,
    policy: &Policy,
    host: &HostData,
) -> Result<Plan, ReconcileError> {
    reconcile_with_override(snapshot, policy, host, SafetyOverride::default())
}

/// [`reconcile`] with a deliberate safety override for this run.
pub fn reconcile_with_override(
    snapshot: &Snapshot,
    policy: &Policy,
    host: &HostData,
    safety: SafetyOverride,
) -> Result<Plan, ReconcileError> {
    let r = Reconciler::with_override(snapshot, policy, safety)?;
    let outcomes = host
        .locations
        .iter()
        .map(|l| r.plan_location(&l.location, &l.records));
    Ok(r.finish(outcomes, &host.users)?)
}

/// A warning when the group mapping names locations none of `plans` is for.
fn unknown_locations(policy: &Policy, plans: &[LocationPlan]) -> Option<String> {
    let Scope::Groups { groups } = &policy.scope else {
        return None;
    };
    let known: BTreeSet<&str> = plans.iter().map(|l| l.location_id.as_str()).collect();
    let named: BTreeSet<&str> = groups.values().flatten().map(String::as_str).collect();
    let unknown: Vec<&str> = named.difference(&known).copied().collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "the group mapping names locations the host does not have: {}",
            unknown.join(", ")
        )
    })
}

fn empty_directory(snapshot: &Snapshot, desired: &Desired<'_>) -> Option<SafetyError> {
    if snapshot.users.is_empty() {
        return Some(SafetyError::EmptyDirectory {
            provider: snapshot.provider.clone(),
            users_received: 0,
            locations: Vec::new(),
        });
    }
    (!desired.any_eligible_in_scope()).then(|| SafetyError::EmptyScope {
        provider: snapshot.provider.clone(),
        users_received: snapshot.users.len() as u64,
        locations: Vec::new(),
    })
}

/// One location's planning, step by step.
struct Pass<'p, 'a> {
    r: &'p Reconciler<'a>,
    location: &'p Location,
    records: &'p [Recipient],
    scope: InScope<'p>,
    /// Per record: the user its directory id names.
    claims: Vec<Option<u32>>,
    /// Users named by some record here.
    seen: BitSet,
    /// Users named by more than one record here.
    duplicated: FxHashSet<u32>,
    /// Links found by email, by record index.
    by_email: FxHashMap<usize, Link>,
    /// Active records the directory owns: the base of the share limit.
    owned: u64,
    unchanged: u64,
    operations: Vec<Operation>,
    conflicts: Vec<Conflict>,
    skips: Vec<Skip>,
}

impl<'p, 'a> Pass<'p, 'a> {
    fn new(r: &'p Reconciler<'a>, location: &'p Location, records: &'p [Recipient]) -> Self {
        Self {
            r,
            location,
            records,
            scope: r.desired.in_scope(&location.id),
            claims: Vec::with_capacity(records.len()),
            seen: BitSet::new(r.desired.users.len()),
            duplicated: FxHashSet::default(),
            by_email: FxHashMap::default(),
            owned: 0,
            unchanged: 0,
            operations: Vec::new(),
            conflicts: Vec::new(),
            skips: Vec::new(),
        }
    }

    fn wanted(&self, u: usize) -> bool {
        self.r.desired.class(u) == Class::Eligible && self.scope.contains(u)
    }

    /// Links records to users by directory id; notes duplicates.
    fn link_by_id(&mut self) {
        for rec in self.records {
            self.owned += u64::from(rec.active && rec.directory_owned());
            let user = rec
                .external_id
                .as_deref()
                .and_then(|id| self.r.desired.by_id.get(id).copied());
            if let Some(u) = user {
                if self.seen.insert(u as usize) {
                    self.duplicated.insert(u);
                }
            }
            self.claims.push(user);
        }
        if !self.duplicated.is_empty() {
            self.report_duplicate_records();
        }
    }

    fn report_duplicate_records(&mut self) {
        let mut dups: Vec<u32> = self.duplicated.iter().copied().collect();
        dups.sort_unstable();
        for u in dups {
            let record_ids = self
                .records
                .iter()
                .zip(&self.claims)
                .filter(|(_, c)| **c == Some(u))
                .map(|(rec, _)| rec.id.clone())
                .collect();
            self.conflict(ConflictKind::DuplicateRecords, u, record_ids);
        }
    }

    /// Wanted users no record names; notes in-scope users without email.
    fn wanted_without_record(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        for u in self.scope.users(self.r.desired.users.len()) {
            let class = self.r.desired.class(u);
            if class == Class::Eligible && !self.seen.contains(u) {
                out.push(u as u32);
            } else if class == Class::NoEmail {
                self.skips.push(Skip {
                    record_id: None,
                    user_id: Some(self.r.desired.user_id(u)),
                    reason: Reason::NoEmail,
                });
            }
        }
        out
    }

    /// Matches users without a record to unlinked records by email; returns
    /// the users to create.
    fn link_by_email(&mut self, unmatched: Vec<u32>) -> Vec<u32> {
        if unmatched.is_empty() {
            return unmatched;
        }
        let index = self.email_index();
        let mut creates = Vec::new();
        for u in unmatched {
            let email = self.r.desired.email(u as usize);
            match index.get(email).map(Vec::as_slice) {
                None => creates.push(u),
                Some(&[i]) => self.link_one(u, i),
                Some(many) => {
                    let ids = many
                        .iter()
                        .filter_map(|&i| self.records.get(i))
                        .map(|r| r.id.clone())
                        .collect();
                    many.iter()
                        .for_each(|&i| _ = self.by_email.insert(i, Link::Held));
                    self.conflict(ConflictKind::DuplicateRecords, u, ids);
                }
            }
        }
        creates
    }

    /// Records not linked to a wanted user, by normalized email.
    fn email_index(&self) -> FxHashMap<std::borrow::Cow<'p, str>, Vec<usize>> {
        let records: &'p [Recipient] = self.records;
        let mut index: FxHashMap<_, Vec<usize>> = FxHashMap::default();
        for (i, rec) in records.iter().enumerate() {
            if self.claim(i).is_some_and(|u| self.wanted(u as usize)) {
                continue;
            }
            index
                .entry(normalize_email(&rec.email))
                .or_default()
                .push(i);
        }
        index
    }

    fn link_one(&mut self, u: u32, i: usize) {
        let Some(rec) = self.records.get(i) else {
            return;
        };
        match &rec.external_id {
            Some(other) => {
                self.by_email.insert(i, Link::Held);
                let mut c = self.new_conflict(ConflictKind::IdChanged, u, vec![rec.id.clone()]);
                c.user_ids.push(other.clone());
                c.user_ids.sort();
                self.conflicts.push(c);
            }
            None => {
                self.by_email.insert(
                    i,
                    Link::Wanted {
                        user: u,
                        by_email: true,
                    },
                );
            }
        }
    }

    /// The user record `i`'s directory id names, if any.
    fn claim(&self, i: usize) -> Option<u32> {
        self.claims.get(i).copied().flatten()
    }

    fn link_of(&self, i: usize) -> Link {
        // Email links are rare: skip the lookup when there are none.
        let by_email = (!self.by_email.is_empty()).then(|| self.by_email.get(&i));
        if let Some(link) = by_email.flatten() {
            return link.clone();
        }
        let Some(u) = self.claim(i) else {
            return Link::Gone(Reason::NotInDirectory);
        };
        if self.duplicated.contains(&u) {
            return Link::Held;
        }
        let status = self.r.desired.user(u as usize).map(|u| &u.status);
        match (
            self.r.desired.class(u as usize),
            self.scope.contains(u as usize),
        ) {
            (Class::NotPresent, _) => Link::Gone(Reason::StatusNotPresent {
                status: status.cloned().unwrap_or_default(),
            }),
            (_, false) => Link::Gone(Reason::OutOfScope),
            (Class::Eligible, true) => Link::Wanted {
                user: u,
                by_email: false,
            },
            (Class::NoEmail | Class::DuplicateEmail, true) => Link::Held,
        }
    }

    fn decide_records(&mut self) {
        let records = self.records;
        for (i, rec) in records.iter().enumerate() {
            let link = self.link_of(i);
            let protected =
                matches!(link, Link::Gone(_)) && self.r.policy.is_protected(&rec.id, &rec.email);
            let state = State {
                owner: Owner::of(rec),
                active: rec.active,
                protected,
                link,
            };
            match decide(state, self.r.policy) {
                Decision::Nothing => {}
                Decision::Sync { user, link, reason } => self.sync(rec, user, link, reason),
                Decision::Deactivate(reason) => {
                    self.operations.push(Operation::Deactivate(Deactivate {
                        record_id: rec.id.clone(),
                        external_id: rec.external_id.clone(),
                        reason,
                    }))
                }
                Decision::Skip(reason) => self.skips.push(Skip {
                    record_id: Some(rec.id.clone()),
                    user_id: rec.external_id.clone(),
                    reason,
                }),
                Decision::NotAdoptable { user } => {
                    self.conflict(ConflictKind::NotAdoptable, user, vec![rec.id.clone()])
                }
            }
        }
    }

    fn sync(&mut self, rec: &Recipient, u: u32, link: bool, reason: Reason) {
        let d = &self.r.desired;
        let email = d.email(u as usize);
        let values = d.values(u as usize);
        if rec.active && !link && in_sync(rec, email, &d.field_names, values) {
            self.unchanged += 1;
            return;
        }
        let change = Change {
            record_id: rec.id.clone(),
            external_id: Some(d.user_id(u as usize)),
            link,
            changes: changes(rec, email, &d.field_names, values),
            reason,
        };
        self.operations.push(if rec.active {
            Operation::Update(change)
        } else {
            Operation::Reactivate(change)
        });
    }

    fn create(&mut self, users: Vec<u32>) {
        let d = &self.r.desired;
        for u in users {
            self.operations.push(Operation::Create(Create {
                location_id: self.location.id.clone(),
                external_id: Some(d.user_id(u as usize)),
                source: Source::Directory,
                email: d.email(u as usize).to_string(),
                fields: new_fields(&d.field_names, d.values(u as usize)),
                reason: Reason::NewInDirectory,
            }));
        }
    }

    fn new_conflict(&self, kind: ConflictKind, u: u32, mut record_ids: Vec<String>) -> Conflict {
        record_ids.sort();
        Conflict {
            kind,
            location_id: Some(self.location.id.clone()),
            email: self.r.desired.email(u as usize).to_string(),
            user_ids: vec![self.r.desired.user_id(u as usize)],
            record_ids,
        }
    }

    fn conflict(&mut self, kind: ConflictKind, u: u32, record_ids: Vec<String>) {
        let c = self.new_conflict(kind, u, record_ids);
        self.conflicts.push(c);
    }

    fn finish(self) -> Result<LocationPlan, SafetyError> {
        let (id, name) = (&self.location.id, &self.location.name);
        let mut plan = LocationPlan::seal(
            id.clone(),
            name.clone(),
            self.operations,
            self.conflicts,
            self.skips,
            self.records.len() as u64,
            self.unchanged,
        );
        let (limits, safety) = (&self.r.policy.limits, self.r.safety);
        let numbers =
            check_deactivations(limits, self.location, self.owned, plan.counts.deactivations);
        let mut overridden = match &self.r.empty {
            Some(e) if !safety.allow_empty_directory => return Err(e.with_locations(vec![numbers])),
            Some(e) => Some(e.with_locations(vec![numbers.clone()])),
            None => None,
        };
        if numbers.over_limit() {
            let over = SafetyError::too_many(vec![numbers]);
            if !safety.allow_mass_deactivation {
                return Err(over);
            }
            overridden = overridden.or(Some(over));
        }
        if overridden.is_some() {
            plan.overridden = overridden;
            plan.rehash();
        }
        Ok(plan)
    }
}
