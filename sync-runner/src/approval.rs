//! Approving a plan held for review: re-plan against the host's current
//! records and the latest snapshot, and apply only what was reviewed.

use chrono::{DateTime, Utc};
use recipient_reconcile::{Plan, ReconcileError};

use crate::clock::delta;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::metrics::Counter;
use crate::run::{counts, decide, decode_saved, plan_for_review, Decision};
use crate::runner::Runner;
use crate::store::{
    Claim, Completion, HeldChange, HeldPlan, OperationCounts, RunKind, RunOutcome, RunRecord,
};
use crate::worker::heartbeat_while;

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Approval {
    /// The reviewed plan was applied.
    Applied {
        /// Its hash.
        plan_hash: String,
    },
    /// The records or the directory changed since the review: nothing was
    /// applied, and the plan as it is now is held instead for a new review.
    Stale {
        /// The hash that was reviewed.
        reviewed: String,
        /// The hash of the plan now held.
        current: String,
    },
}

impl Runner {
    /// Approves the plan `plan_hash` held on `connection_id`, as `approver`
    /// (an admin's id, kept in the run history as the run's worker). The
    /// plan is made again from the latest snapshot and the host's records
    /// now; it is applied only if its hash is the one reviewed.
    pub async fn approve(
        &self,
        connection_id: &str,
        plan_hash: &str,
        approver: &str,
    ) -> Result<Approval> {
        let held = self
            .store
            .held_plan(connection_id)
            .await?
            .filter(|h| h.plan.hash == plan_hash)
            .ok_or_else(|| no_held(connection_id, plan_hash))?;
        let lease_for = delta(self.config.lease);
        let claim = self
            .store
            .claim(connection_id, approver, self.clock.now(), lease_for)
            .await?;
        let work = self.approve_claimed(&claim, &held, approver);
        let result = heartbeat_while(self, &claim.lease, work).await?;
        if result.is_err() {
            self.store.release(&claim.lease).await?;
        }
        result
    }

    async fn approve_claimed(
        &self,
        claim: &Claim,
        held: &HeldPlan,
        approver: &str,
    ) -> Result<Approval> {
        let c = &claim.connection;
        // Re-read under the lease: another approval may have applied it.
        let still_held = self.store.held_plan(&c.id).await?;
        if still_held.as_ref().map(|h| &h.plan.hash) != Some(&held.plan.hash) {
            return Err(no_held(&c.id, &held.plan.hash));
        }
        let started_at = self.clock.now();
        self.metrics.bump(Counter::RunsStarted);
        let (current, safety) = self.replan(claim).await?;
        if current.hash != held.plan.hash {
            let stale = Approval::Stale {
                reviewed: held.plan.hash.clone(),
                current: current.hash.clone(),
            };
            let fresh = HeldPlan {
                connection_id: c.id.clone(),
                plan: current,
                safety,
                held_at: started_at,
            };
            let run =
                self.approval_run(c, approver, started_at, &stale, OperationCounts::default());
            self.finish_approval(claim, run, None, HeldChange::Hold(Box::new(fresh)))
                .await?;
            return Ok(stale);
        }
        self.apply(&c.tenant_id, &current).await?;
        let applied = Approval::Applied {
            plan_hash: current.hash.clone(),
        };
        let run = self.approval_run(c, approver, started_at, &applied, counts(&current));
        self.finish_approval(claim, run, Some(current.hash), HeldChange::Clear)
            .await?;
        Ok(applied)
    }

    fn approval_run(
        &self,
        c: &Connection,
        approver: &str,
        started_at: DateTime<Utc>,
        approval: &Approval,
        counts: OperationCounts,
    ) -> RunRecord {
        let outcome = match approval {
            Approval::Applied { plan_hash } => RunOutcome::Applied {
                plan_hash: plan_hash.clone(),
            },
            Approval::Stale { reviewed, current } => RunOutcome::Stale {
                reviewed: reviewed.clone(),
                current: current.clone(),
            },
        };
        RunRecord {
            connection_id: c.id.clone(),
            worker_id: approver.to_string(),
            started_at,
            finished_at: self.clock.now(),
            kind: RunKind::Approval,
            requests: Some(0),
            counts,
            outcome,
        }
    }

    /// Writes the approval's run and releases the lease; the due time and
    /// the failure count stay as they were.
    async fn finish_approval(
        &self,
        claim: &Claim,
        run: RunRecord,
        applied_hash: Option<String>,
        held: HeldChange,
    ) -> Result<()> {
        let completion = Completion {
            run,
            saved: None,
            applied_hash,
            held,
            next_due: None,
            consecutive_failures: None,
        };
        self.store.complete(&claim.lease, completion).await
    }

    /// The plan as it would be now (latest snapshot, current records, the
    /// safety checks overridden: the admin reviews exactly that), and which
    /// limits it breaks.
    async fn replan(&self, claim: &Claim) -> Result<(Plan, String)> {
        let c = &claim.connection;
        let corrupt = |problem: &str| Error::Corrupt {
            connection_id: c.id.clone(),
            problem: problem.to_string(),
        };
        let saved = self
            .store
            .saved_sync(&c.id)
            .await?
            .ok_or_else(|| corrupt("no snapshot is stored"))?;
        let (snapshot, _) = decode_saved(&c.id, &saved)
            .ok_or_else(|| corrupt("the stored snapshot cannot be read"))?;
        let records = self.host.records(&c.tenant_id).await?;
        let policy_error = |e: ReconcileError| Error::invalid("policy", e.to_string());
        let safety = match decide(&snapshot, &c.policy, &records).map_err(policy_error)? {
            Decision::Hold(_, safety) => safety,
            Decision::Apply(_) => "within the safety limits now".to_string(),
        };
        let plan = plan_for_review(&snapshot, &c.policy, &records).map_err(policy_error)?;
        Ok((plan, safety))
    }
}

fn no_held(connection_id: &str, hash: &str) -> Error {
    Error::NoHeldPlan {
        connection_id: connection_id.to_string(),
        hash: hash.to_string(),
    }
}
