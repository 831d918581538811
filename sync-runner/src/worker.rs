//! `Worker`: claims due connections, runs them with a heartbeat, writes
//! what they did, and stops gracefully.

use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tracing::Instrument;

use crate::clock::delta;
use crate::error::{Error, Result};
use crate::metrics::Counter;
use crate::runner::Runner;
use crate::store::{Claim, Lease};

/// One worker: any number of them, in any number of processes, may share a
/// store. Each syncs at most [`RunnerConfig::concurrency`](crate::RunnerConfig)
/// connections at once.
#[derive(Debug, Clone)]
pub struct Worker {
    runner: Runner,
    id: String,
}

impl Worker {
    pub(crate) fn new(runner: Runner, id: String) -> Self {
        Worker { runner, id }
    }

    /// The worker's id, as leases and run records name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims up to the concurrency bound of due connections, runs them all
    /// to the end and returns how many it claimed.
    pub async fn run_once(&self) -> Result<usize> {
        let claims = self.claim(self.runner.config.concurrency).await?;
        let n = claims.len();
        futures::future::join_all(claims.into_iter().map(|c| self.process(c))).await;
        Ok(n)
    }

    /// Runs until `shutdown` turns `true` (or its sender is dropped): claims
    /// due connections whenever a slot is free, polls when none is due. On
    /// shutdown it claims nothing more and finishes what it holds, so every
    /// lease is released by a written run. A store that fails to answer a
    /// claim is asked again at the next poll.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut running = FuturesUnordered::new();
        let mut stopping = false;
        loop {
            stopping = stopping || *shutdown.borrow();
            if !stopping {
                let free = self.runner.config.concurrency.saturating_sub(running.len());
                // A store that fails to answer is asked again at the next poll.
                let claims = self.claim(free).await.unwrap_or_else(|e| {
                    tracing::warn!(worker_id = %self.id, error = %e, "claiming failed: retrying at the next poll");
                    Vec::new()
                });
                running.extend(claims.into_iter().map(|c| self.process(c)));
            }
            if stopping && running.is_empty() {
                tracing::info!(worker_id = %self.id, "worker stopped");
                return;
            }
            let poll = tokio::time::sleep(self.runner.config.poll_every);
            tokio::select! {
                Some(()) = running.next(), if !running.is_empty() => {}
                changed = shutdown.changed(), if !stopping => stopping = changed.is_err() || *shutdown.borrow(),
                () = poll, if !stopping => {}
            }
        }
    }

    async fn claim(&self, limit: usize) -> Result<Vec<Claim>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let r = &self.runner;
        let lease_for = delta(r.config.lease);
        r.store
            .claim_due(&self.id, r.clock.now(), lease_for, limit)
            .await
    }

    /// Runs one claim under a heartbeat and writes its completion.
    async fn process(&self, claim: Claim) {
        let span =
            tracing::info_span!("sync", worker_id = %self.id, connection_id = %claim.connection.id);
        self.process_in_span(claim).instrument(span).await;
    }

    async fn process_in_span(&self, claim: Claim) {
        let r = &self.runner;
        let lease = claim.lease.clone();
        let work = r.sync_claim(&claim, &self.id);
        let completion = match heartbeat_while(r, &lease, work).await {
            Ok(c) => c,
            Err(e) => return self.lost(&e),
        };
        match r.store.complete(&lease, completion).await {
            Ok(()) => {}
            Err(e @ Error::LeaseLost(_)) => self.lost(&e),
            Err(e) => {
                tracing::error!(error = %e, "run not written: the lease lapses and another worker retries")
            }
        }
    }

    fn lost(&self, e: &Error) {
        self.runner.metrics.bump(Counter::LeasesLost);
        tracing::warn!(worker_id = %self.id, error = %e, "lease lost: the run's results are dropped");
    }
}

/// Drives `work` while renewing `lease` every `heartbeat_every`; a renewal
/// that fails stops the work (it is dropped) with the error.
pub(crate) async fn heartbeat_while<T>(
    r: &Runner,
    lease: &Lease,
    work: impl Future<Output = T>,
) -> Result<T> {
    let beat = async {
        let mut current = lease.clone();
        loop {
            tokio::time::sleep(r.config.heartbeat_every).await;
            match r
                .store
                .heartbeat(&current, r.clock.now(), delta(r.config.lease))
                .await
            {
                Ok(renewed) => current = renewed,
                Err(e @ Error::LeaseLost(_)) => return e,
                // A passing store fault: the lease holds until it expires, so try again.
                Err(e) => tracing::warn!(error = %e, "heartbeat failed: retrying"),
            }
        }
    };
    tokio::select! {
        done = work => Ok(done),
        err = beat => Err(err),
    }
}
