//! The runner over the providers' simulated orgs (real HTTP on 127.0.0.1):
//! a host's factory builds Okta and Entra providers from connection
//! settings and secrets it resolves; two connections to one Okta org never
//! run at once; a misconfigured org is recorded with check()'s fix; Entra
//! re-syncs incrementally through its delta links.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azure_directory::testkit::SimulatedTenant;
use common::providers::HostFactory;
use common::*;
use directory_core::SecretString;
use okta_directory::testkit::{Misconfig, OktaOrg};
use sync_runner::{
    Connection, ManualClock, MemoryHost, MemorySecrets, MemoryStore, ProviderSettings, RunKind,
    RunOutcome, Runner, RunnerStore,
};

fn okta_connection(id: &str, org: &OktaOrg, secrets: &MemorySecrets) -> Connection {
    let tenant = format!("tenant-{id}");
    secrets.insert(&tenant, "okta-key", SecretString::new(org.private_jwk()));
    Connection {
        provider: ProviderSettings {
            kind: "okta".into(),
            settings: serde_json::json!({ "domain": org.base_url(), "clientId": org.client_id(), "appId": org.app_id() }),
            secrets: BTreeMap::from([("private_jwk".to_string(), "okta-key".into())]),
        },
        idp_org_key: org.base_url().to_string(),
        ..connection(id, "unused", "unused")
    }
}

struct Sim {
    store: Arc<MemoryStore>,
    host: MemoryHost,
    secrets: MemorySecrets,
    clock: ManualClock,
    per_org: Arc<Gauge>,
    runner: Runner,
}

fn sim() -> Sim {
    let store = Arc::new(MemoryStore::new());
    let host = MemoryHost::new();
    let secrets = MemorySecrets::default();
    let clock = ManualClock::new(t0());
    let per_org = Arc::new(Gauge::default());
    let factory = TrackingFactory {
        inner: Arc::new(HostFactory),
        per_tenant: Arc::new(Gauge::default()),
        per_org: per_org.clone(),
        hold: Duration::from_millis(20),
    };
    let runner = Runner::new(
        store.clone(),
        Arc::new(host.clone()),
        Arc::new(factory),
        Arc::new(secrets.clone()),
    )
    .with_clock(Arc::new(clock.clone()))
    .with_config(config());
    Sim {
        store,
        host,
        secrets,
        clock,
        per_org,
        runner,
    }
}

#[tokio::test]
async fn okta_connections_sharing_an_org_take_turns_and_a_misconfigured_org_is_recorded_with_its_fix(
) {
    let s = sim();
    let org = OktaOrg::builder()
        .users(40)
        .groups(4)
        .app_users(5)
        .start()
        .await
        .unwrap();
    let broken = OktaOrg::builder()
        .users(10)
        .groups(2)
        .app_users(2)
        .start()
        .await
        .unwrap();
    broken.misconfigure(Misconfig::NoAdminRole);
    for (id, o) in [("brand-a", &org), ("brand-b", &org), ("broken", &broken)] {
        let c = okta_connection(id, o, &s.secrets);
        s.host.set(&c.tenant_id, host_data(vec![]));
        s.store.put_connection(c, t0()).await.unwrap();
    }
    let (a, b) = (s.runner.worker("a"), s.runner.worker("b"));
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 3);
    assert_eq!(s.per_org.max(), 1, "two syncs ran at once on one Okta org");

    let present = org
        .ground_truth()
        .users
        .iter()
        .filter(|u| u.status.as_str() == "ACTIVE")
        .count();
    for id in ["brand-a", "brand-b"] {
        let runs = s.store.runs(id).await.unwrap();
        assert!(
            matches!(runs[0].outcome, RunOutcome::Applied { .. }),
            "{runs:?}"
        );
        let records = s.host.get(&format!("tenant-{id}")).locations[0]
            .records
            .len();
        assert!(
            records > 0 && records <= org.ground_truth().users.len(),
            "{records} of {present} active"
        );
    }
    let runs = s.store.runs("broken").await.unwrap();
    let RunOutcome::Failed(e) = &runs[0].outcome else {
        panic!("{runs:?}")
    };
    assert_eq!(
        (e.stage.as_str(), e.kind.as_str()),
        ("check", "admin_role_missing"),
        "{e:?}"
    );
    assert!(
        !e.fixes.is_empty() && e.fixes.iter().any(|f| f.contains("admin")),
        "{e:?}"
    );
    assert!(!format!("{:?}", s.store).contains(org.private_jwk()));

    // The next window: incremental rounds (Okta's lastUpdated filters), nothing to change.
    s.clock.advance(chrono::TimeDelta::minutes(75));
    broken.clear_misconfig();
    let (na, nb) = tokio::join!(drain(&a), drain(&b));
    assert_eq!(na + nb, 3);
    for id in ["brand-a", "brand-b"] {
        let runs = s.store.runs(id).await.unwrap();
        assert_eq!(runs[1].kind, RunKind::Incremental, "{:?}", runs[1]);
        assert_eq!(runs[1].outcome, RunOutcome::NoChanges);
    }
    assert!(matches!(
        s.store.runs("broken").await.unwrap()[1].outcome,
        RunOutcome::Applied { .. }
    ));
}

#[tokio::test]
async fn an_entra_connection_resyncs_incrementally_and_applies_a_leaver() {
    let s = sim();
    let tenant = SimulatedTenant::builder()
        .users(30)
        .groups(3)
        .app_users(5)
        .start()
        .await
        .unwrap();
    s.secrets
        .insert("tenant-entra", "graph-secret", tenant.client_secret());
    let c = Connection {
        provider: ProviderSettings {
            kind: "entra".into(),
            settings: serde_json::json!({
                "endpoint": tenant.base_url(), "tenantId": tenant.tenant_id(),
                "clientId": tenant.client_id(), "servicePrincipalId": tenant.service_principal_id(),
            }),
            secrets: BTreeMap::from([("client_secret".to_string(), "graph-secret".into())]),
        },
        idp_org_key: tenant.tenant_id().to_string(),
        ..connection("entra", "unused", "unused")
    };
    s.host.set(&c.tenant_id, host_data(vec![]));
    s.store.put_connection(c, t0()).await.unwrap();
    let w = s.runner.worker("w");
    assert_eq!(drain(&w).await, 1);
    let runs = s.store.runs("entra").await.unwrap();
    assert!(
        matches!(runs[0].outcome, RunOutcome::Applied { .. }),
        "{runs:?}"
    );
    let active = |h: &MemoryHost| {
        h.get("tenant-entra").locations[0]
            .records
            .iter()
            .filter(|r| r.active)
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = active(&s.host);
    let leaver = before[0].external_id.clone().unwrap();
    tenant.mutate(|t| assert!(t.delete_user(&leaver)));

    s.clock.advance(chrono::TimeDelta::minutes(75));
    assert_eq!(drain(&w).await, 1);
    let runs = s.store.runs("entra").await.unwrap();
    assert_eq!(runs[1].kind, RunKind::Incremental, "{:?}", runs[1]);
    assert_eq!(runs[1].counts.deactivations, 1, "{:?}", runs[1]);
    let after = active(&s.host);
    assert_eq!(after.len(), before.len() - 1);
    assert!(after
        .iter()
        .all(|r| r.external_id.as_deref() != Some(leaver.as_str())));
}
