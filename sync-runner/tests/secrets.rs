//! Secrets reach the provider through the host's resolver only: never in
//! the store, in Debug output, in run records or in error messages.

mod common;

use common::*;
use directory_core::SecretString;
use sync_runner::{Error, RunOutcome, RunnerStore};

const SECRET: &str = "tok-9f8e7d6c5b4a";

fn with_token(id: &str) -> sync_runner::Connection {
    let mut c = connection(id, id, "d");
    c.provider
        .secrets
        .insert("token".into(), "acme-okta-token".into());
    c
}

#[tokio::test(start_paused = true)]
async fn a_secret_is_resolved_for_the_provider_and_never_kept_or_shown() {
    let f = fixture(std::time::Duration::ZERO);
    f.factory
        .register("d", directory("d", 2), Some(SecretString::new(SECRET)));
    f.secrets
        .insert("tenant-good", "acme-okta-token", SecretString::new(SECRET));
    f.secrets.insert(
        "tenant-bad",
        "acme-okta-token",
        SecretString::new("tok-wrong-0000"),
    );
    for id in ["good", "bad", "missing"] {
        let c = with_token(id);
        f.host.set(&c.tenant_id, host_data(vec![]));
        f.store.put_connection(c, t0()).await.unwrap();
    }
    drain(&f.runner.worker("w")).await;

    assert!(matches!(
        f.store.runs("good").await.unwrap()[0].outcome,
        RunOutcome::Applied { .. }
    ));
    for (id, kind) in [("bad", "invalid_credential"), ("missing", "invalid_config")] {
        let runs = f.store.runs(id).await.unwrap();
        let RunOutcome::Failed(e) = &runs[0].outcome else {
            panic!("{runs:?}")
        };
        assert_eq!(
            (e.stage.as_str(), e.kind.as_str()),
            ("provider", kind),
            "{e:?}"
        );
    }
    let missing = f.store.runs("missing").await.unwrap();
    assert!(
        format!("{missing:?}").contains("acme-okta-token"),
        "the error names the secret"
    );

    let shown = [
        format!("{:?}", f.store),
        format!("{:?}", f.secrets),
        format!("{:?}", f.factory),
        format!("{:?}", f.runner),
        format!("{:?}", f.store.connection("good").await.unwrap()),
        format!("{:?}", f.store.runs("bad").await.unwrap()),
    ];
    for text in shown {
        assert!(
            !text.contains(SECRET) && !text.contains("tok-wrong"),
            "secret shown: {text}"
        );
    }
}

#[tokio::test]
async fn a_secret_in_the_plain_settings_is_refused_naming_the_field() {
    let store = sync_runner::MemoryStore::new();
    let mut c = connection("c", "org", "d");
    c.provider.settings =
        serde_json::json!({ "domain": "acme.okta.com", "auth": { "clientSecret": SECRET } });
    let err = store.put_connection(c.clone(), t0()).await.unwrap_err();
    let Error::InvalidConnection { field, problem } = &err else {
        panic!("{err}")
    };
    assert_eq!(field, "provider.settings.auth.clientSecret");
    assert!(problem.contains("provider.secrets"), "{problem}");
    assert!(!err.to_string().contains(SECRET));
    assert!(store.connection("c").await.unwrap().is_none());
}

#[tokio::test]
async fn a_connection_that_cannot_run_is_refused_naming_the_field() {
    let store = sync_runner::MemoryStore::new();
    let mut zero = connection("c", "org", "d");
    zero.schedule = sync_runner::Schedule::every(std::time::Duration::ZERO);
    let mut no_key = connection("c", "org", "d");
    no_key.idp_org_key = " ".into();
    for (c, field) in [(zero, "schedule.every"), (no_key, "idp_org_key")] {
        let err = store.put_connection(c, t0()).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConnection { field: f, .. } if f == field),
            "{err}"
        );
    }
}
