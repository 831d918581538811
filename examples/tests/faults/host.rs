//! The host side of a sync: a group-scoped policy (`berlin` -> location
//! `ber`, `paris` -> `par`), the host's records, and plans read back as
//! `(location, op, email, reason)` so cases can compare them whole.

use std::sync::Arc;

use directory_core::DirectoryProvider;
use recipient_reconcile::{
    apply, reconcile, HostData, HostLocation, Location, Operation, Plan, Policy, Reason, Scope,
};

use crate::orgs::{provider_with, sync, tuning, Kind, Tuning};
use crate::world::{email, World};

/// One operation as the test reads it: location, op, whose email, why.
pub type Op = (String, &'static str, String, Reason);

/// A world synced once, with the plan applied to the host.
pub struct Run {
    pub world: World,
    pub provider: Arc<dyn DirectoryProvider>,
    pub policy: Policy,
    pub host: HostData,
}

impl Run {
    pub async fn start(kind: Kind) -> (Run, Plan) {
        Self::start_with(kind, &tuning()).await
    }

    /// Starts the small world, syncs once and applies the plan.
    pub async fn start_with(kind: Kind, tuning: &Tuning) -> (Run, Plan) {
        let world = World::start(kind).await;
        let provider = provider_with(&world.sim, tuning);
        let policy = Policy {
            scope: Scope::groups([(world.id("berlin"), "ber"), (world.id("paris"), "par")]),
            ..Policy::default()
        };
        let host = HostData {
            locations: vec![location("ber", "Berlin"), location("par", "Paris")],
            users: vec![],
        };
        let mut run = Run {
            world,
            provider,
            policy,
            host,
        };
        let first = run.plan().await;
        run.apply(&first);
        (run, first)
    }

    pub async fn plan(&self) -> Plan {
        let snapshot = sync(self.provider.as_ref()).await.expect("a complete sync");
        reconcile(&snapshot, &self.policy, &self.host).expect("a plan")
    }

    pub fn apply(&mut self, plan: &Plan) {
        apply(&mut self.host, plan).expect("the plan applies");
    }

    /// Plans, applies, and checks that planning again finds nothing to do.
    pub async fn plan_and_apply(&mut self) -> Plan {
        let plan = self.plan().await;
        self.apply(&plan);
        let again = self.plan().await;
        assert!(
            again.is_empty(),
            "idempotent: {:?}",
            ops(&self.host, &again)
        );
        plan
    }

    pub fn record_email(&self, record_id: &str) -> String {
        self.host
            .locations
            .iter()
            .flat_map(|l| &l.records)
            .find(|r| r.id == record_id)
            .map(|r| r.email.clone())
            .unwrap_or_else(|| record_id.to_string())
    }
}

fn location(id: &str, name: &str) -> HostLocation {
    HostLocation {
        location: Location::new(id, name),
        records: vec![],
    }
}

/// Every operation of the plan, sorted, named by email.
pub fn ops(host: &HostData, plan: &Plan) -> Vec<Op> {
    let email_of = |id: &str| {
        host.locations
            .iter()
            .flat_map(|l| &l.records)
            .find(|r| r.id == id)
            .map(|r| r.email.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let mut out: Vec<Op> = plan
        .locations
        .iter()
        .flat_map(|l| l.operations.iter().map(move |o| (l.location_id.clone(), o)))
        .map(|(loc, o)| match o {
            Operation::Create(c) => (loc, "create", c.email.clone(), c.reason.clone()),
            Operation::Update(c) => (loc, "update", email_of(&c.record_id), c.reason.clone()),
            Operation::Reactivate(c) => {
                (loc, "reactivate", email_of(&c.record_id), c.reason.clone())
            }
            Operation::Deactivate(d) => {
                (loc, "deactivate", email_of(&d.record_id), d.reason.clone())
            }
        })
        .collect();
    out.sort();
    out
}

pub fn op(loc: &str, what: &'static str, name: &str, reason: Reason) -> Op {
    (loc.to_string(), what, email(name), reason)
}

pub fn candidates(plan: &Plan) -> Vec<String> {
    plan.sso_candidates
        .iter()
        .map(|c| c.email.clone())
        .collect()
}

pub fn emails(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| email(n)).collect()
}
