//! One sync of one claimed connection: check, sync, reconcile, then apply
//! or hold, and the run record that says what happened.

use chrono::{DateTime, TimeDelta, Utc};
use directory_core::{
    CheckReport, DirectoryProvider, DirectoryProviderExt, Error as DirectoryError, RoundKind,
    Snapshot, SyncRound, SyncState,
};
use recipient_reconcile::{
    reconcile, reconcile_with_override, HostData, Plan, Policy, ReconcileError, SafetyOverride,
};

use crate::clock::delta;
use crate::connection::Connection;
use crate::host::ApplyOutcome;
use crate::metrics::Counter;
use crate::runner::Runner;
use crate::secrets::{SecretError, SecretRef, SecretResolver};
use crate::store::{
    Claim, Completion, HeldChange, HeldPlan, OperationCounts, RunError, RunKind, RunOutcome,
    RunRecord, SavedSync,
};

/// What a successful attempt produced.
struct Done {
    kind: RunKind,
    requests: Option<u64>,
    counts: OperationCounts,
    outcome: RunOutcome,
    saved: Option<SavedSync>,
    applied_hash: Option<String>,
    held: HeldChange,
}

/// Why an attempt failed, and how far it got.
struct Failure {
    kind: RunKind,
    requests: Option<u64>,
    error: Box<RunError>,
}

impl Failure {
    fn new(kind: RunKind, stage: &str, error_kind: &str, message: String) -> Self {
        Failure {
            kind,
            requests: None,
            error: Box::new(RunError {
                stage: stage.to_string(),
                kind: error_kind.to_string(),
                message,
                fixes: Vec::new(),
            }),
        }
    }

    fn directory(kind: RunKind, stage: &str, e: &DirectoryError) -> Self {
        Failure::new(kind, stage, e.kind().as_str(), e.to_string())
    }
}

/// What reconcile decided.
pub(crate) enum Decision {
    /// Within the safety limits.
    Apply(Plan),
    /// Over a limit: the plan made with the checks overridden, and why.
    Hold(Plan, String),
}

/// Plans `snapshot` against `records`; a plan over the safety limits is
/// planned again with the checks overridden, to be held for review.
pub(crate) fn decide(
    snapshot: &Snapshot,
    policy: &Policy,
    records: &HostData,
) -> Result<Decision, ReconcileError> {
    match reconcile(snapshot, policy, records) {
        Ok(plan) => Ok(Decision::Apply(plan)),
        Err(ReconcileError::Safety(e)) => {
            let plan = reconcile_with_override(snapshot, policy, records, SafetyOverride::all())?;
            Ok(Decision::Hold(plan, e.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// The plan held for review, as the approval re-plans it.
pub(crate) fn plan_for_review(
    snapshot: &Snapshot,
    policy: &Policy,
    records: &HostData,
) -> Result<Plan, ReconcileError> {
    reconcile_with_override(snapshot, policy, records, SafetyOverride::all())
}

pub(crate) fn counts(plan: &Plan) -> OperationCounts {
    OperationCounts {
        creates: plan.counts.creates,
        updates: plan.counts.updates,
        reactivations: plan.counts.reactivations,
        deactivations: plan.counts.deactivations,
    }
}

fn run_kind(round: &RoundKind) -> RunKind {
    match round {
        RoundKind::Full { reason } => RunKind::Full {
            reason: reason.to_string(),
        },
        RoundKind::Incremental => RunKind::Incremental,
    }
}

/// A failed `check()`: every problem with its remedy.
fn check_failure(report: &CheckReport) -> Failure {
    let fixes: Vec<String> = report
        .problems()
        .map(|(probe, e)| format!("{probe}: {e}"))
        .collect();
    let first_kind = report
        .problems()
        .next()
        .map_or("unknown", |(_, e)| e.kind().as_str());
    let mut failure = Failure::new(
        RunKind::NotStarted,
        "check",
        first_kind,
        format!(
            "check() found {} problem(s): {}",
            fixes.len(),
            fixes.join("; ")
        ),
    );
    failure.error.fixes = fixes;
    failure
}

/// Opens every sealed secret before the provider is built, so those that
/// do not open are all reported, each with its fix, as `check()` reports
/// its probes. Named secrets are left to the factory (one trip to the
/// host's store each).
fn check_sealed(c: &Connection, secrets: &dyn SecretResolver) -> Result<(), Failure> {
    let errors: Vec<SecretError> = c
        .provider
        .secrets
        .iter()
        .filter_map(|(purpose, r)| match r {
            SecretRef::Sealed(sealed) => secrets.open(c, purpose, sealed).err(),
            SecretRef::Named(_) => None,
        })
        .collect();
    let Some(first) = errors.first() else {
        return Ok(());
    };
    let fixes: Vec<String> = errors
        .iter()
        .map(|e| format!("provider.secrets.{}: {}", e.name, e.problem))
        .collect();
    let mut failure = Failure::new(
        RunKind::NotStarted,
        "secrets",
        first.kind.as_str(),
        format!(
            "{} sealed secret(s) cannot be opened: {}",
            fixes.len(),
            fixes.join("; ")
        ),
    );
    failure.error.fixes = fixes;
    Err(failure)
}

/// The previous snapshot and state as stored; unreadable ones are dropped
/// (the round is then full), with a warning.
pub(crate) fn decode_saved(
    connection_id: &str,
    saved: &SavedSync,
) -> Option<(Snapshot, SyncState)> {
    saved
        .decode()
        .inspect_err(|e| tracing::warn!(connection_id, error = %e, "stored sync unreadable: a full round follows"))
        .ok()
}

fn encode(round: &SyncRound) -> Result<SavedSync, Failure> {
    SavedSync::new(&round.snapshot, &round.state)
        .map_err(|e| Failure::directory(run_kind(&round.report.round), "store", &e))
}

/// `base * 2^(failures - 1)`, at most `max`.
pub(crate) fn backoff(
    base: std::time::Duration,
    max: std::time::Duration,
    failures: u32,
) -> TimeDelta {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
    delta(base.saturating_mul(factor).min(max))
}

impl Runner {
    /// Runs one claimed connection to its completion (not yet written).
    pub(crate) async fn sync_claim(&self, claim: &Claim, worker_id: &str) -> Completion {
        let started_at = self.clock.now();
        self.metrics.bump(Counter::RunsStarted);
        let result = self.attempt(claim).await;
        let finished_at = self.clock.now();
        let record = |kind, requests, counts, outcome| RunRecord {
            connection_id: claim.connection.id.clone(),
            worker_id: worker_id.to_string(),
            started_at,
            finished_at,
            kind,
            requests,
            counts,
            outcome,
        };
        match result {
            Ok(done) => self.succeeded(claim, finished_at, done, record),
            Err(f) => {
                let run = record(
                    f.kind,
                    f.requests,
                    OperationCounts::default(),
                    RunOutcome::Failed(*f.error),
                );
                self.failed(claim, finished_at, run)
            }
        }
    }

    fn succeeded(
        &self,
        claim: &Claim,
        finished_at: DateTime<Utc>,
        done: Done,
        record: impl FnOnce(RunKind, Option<u64>, OperationCounts, RunOutcome) -> RunRecord,
    ) -> Completion {
        let c = &claim.connection;
        tracing::info!(connection_id = %c.id, tenant_id = %c.tenant_id, outcome = ?done.outcome, "sync finished");
        Completion {
            run: record(done.kind, done.requests, done.counts, done.outcome),
            saved: done.saved,
            applied_hash: done.applied_hash,
            held: done.held,
            next_due: Some(c.schedule.next_after(&c.id, finished_at)),
            consecutive_failures: Some(0),
        }
    }

    fn failed(&self, claim: &Claim, finished_at: DateTime<Utc>, run: RunRecord) -> Completion {
        self.metrics.bump(Counter::RunsFailed);
        let failures = claim.consecutive_failures.saturating_add(1);
        let wait = backoff(self.config.backoff_base, self.config.backoff_max, failures);
        let c = &claim.connection;
        tracing::warn!(connection_id = %c.id, tenant_id = %c.tenant_id, failures, outcome = ?run.outcome, "sync failed: backing off");
        Completion {
            run,
            saved: None,
            applied_hash: None,
            held: HeldChange::Keep,
            next_due: Some(finished_at + wait),
            consecutive_failures: Some(failures),
        }
    }

    async fn attempt(&self, claim: &Claim) -> Result<Done, Failure> {
        let c = &claim.connection;
        check_sealed(c, self.secrets.as_ref())?;
        let provider = self
            .factory
            .build(c, self.secrets.as_ref())
            .await
            .map_err(|e| Failure::directory(RunKind::NotStarted, "provider", &e))?;
        let report = provider.check().await;
        if !report.is_ok() {
            return Err(check_failure(&report));
        }
        let round = self.round(c, provider.as_ref()).await?;
        drop(provider);
        self.count_round(&round.report.round);
        self.reconcile_and_apply(claim, round).await
    }

    /// The provider's round from the previous snapshot and state, handed
    /// over ([`DirectoryProviderExt::sync_owned`]): a provider that merges
    /// changes moves the previous snapshot's unchanged parts into the new
    /// one, so the round, like the rest of the run, holds one snapshot at
    /// most. (A failed round loses nothing: the pair is in the store.)
    async fn round(
        &self,
        c: &Connection,
        provider: &dyn DirectoryProvider,
    ) -> Result<SyncRound, Failure> {
        let previous = self.previous(&c.id).await?;
        provider
            .sync_owned(previous, &self.config.sync)
            .await
            .map_err(|e| Failure::directory(RunKind::NotStarted, "sync", &e))
    }

    fn count_round(&self, round: &RoundKind) {
        self.metrics.bump(if round.is_full() {
            Counter::FullRounds
        } else {
            Counter::IncrementalRounds
        });
    }

    async fn previous(
        &self,
        connection_id: &str,
    ) -> Result<Option<(Snapshot, SyncState)>, Failure> {
        let saved = self
            .store
            .saved_sync(connection_id)
            .await
            .map_err(|e| Failure::new(RunKind::NotStarted, "store", "store", e.to_string()))?;
        Ok(saved.and_then(|s| decode_saved(connection_id, &s)))
    }

    /// Keeps the round (compressed), plans it against the host's records,
    /// then applies or holds the plan. The snapshot and the records are
    /// dropped once planned: only the plan is held while the host applies.
    async fn reconcile_and_apply(&self, claim: &Claim, round: SyncRound) -> Result<Done, Failure> {
        let c = &claim.connection;
        let kind = run_kind(&round.report.round);
        let requests = round.report.requests;
        let fail = |stage: &str, message: String| Failure {
            requests,
            ..Failure::new(kind.clone(), stage, stage, message)
        };
        let saved = encode(&round)?;
        let snapshot = round.snapshot;
        let records = self
            .host
            .records(&c.tenant_id)
            .await
            .map_err(|e| fail("host", e.to_string()))?;
        let decision =
            decide(&snapshot, &c.policy, &records).map_err(|e| fail("policy", e.to_string()))?;
        drop((snapshot, records));
        let mut done = Done {
            kind: kind.clone(),
            requests,
            counts: OperationCounts::default(),
            outcome: RunOutcome::NoChanges,
            saved: Some(saved),
            applied_hash: None,
            held: HeldChange::Clear,
        };
        match decision {
            Decision::Apply(plan) => self
                .apply_within_limits(&c.tenant_id, plan, &mut done)
                .await
                .map_err(|e| fail("host", e.to_string()))?,
            Decision::Hold(plan, safety) => self.hold(&c.id, plan, safety, &mut done),
        }
        Ok(done)
    }

    /// Applies a plan that passed the safety limits (an empty one is not sent).
    async fn apply_within_limits(
        &self,
        tenant_id: &str,
        plan: Plan,
        done: &mut Done,
    ) -> Result<(), crate::HostError> {
        done.counts = counts(&plan);
        if plan.is_empty() {
            return Ok(());
        }
        self.apply(tenant_id, &plan).await?;
        done.outcome = RunOutcome::Applied {
            plan_hash: plan.hash.clone(),
        };
        done.applied_hash = Some(plan.hash);
        Ok(())
    }

    /// Holds a plan that broke a safety limit for review.
    fn hold(&self, connection_id: &str, plan: Plan, safety: String, done: &mut Done) {
        self.metrics.bump(Counter::PlansHeld);
        tracing::warn!(connection_id, %safety, "plan held for review");
        done.counts = counts(&plan);
        done.outcome = RunOutcome::Held {
            plan_hash: plan.hash.clone(),
        };
        done.held = HeldChange::Hold(Box::new(HeldPlan {
            connection_id: connection_id.to_string(),
            plan,
            safety,
            held_at: self.clock.now(),
        }));
    }

    /// Applies a plan through the host, counting it once.
    pub(crate) async fn apply(
        &self,
        tenant_id: &str,
        plan: &Plan,
    ) -> Result<ApplyOutcome, crate::HostError> {
        let outcome = self.host.apply(tenant_id, plan).await?;
        if outcome == ApplyOutcome::Applied {
            self.metrics.bump(Counter::PlansApplied);
        }
        Ok(outcome)
    }
}
