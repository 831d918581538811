//! `check()`: every misconfiguration the issue lists, produced by the
//! simulated org, reported as its own error with the fix, Okta's code and
//! the request id.

use directory_core::{DirectoryProvider, ErrorKind};
use okta_directory::testkit::{Misconfig, OktaOrg};
use okta_directory::OktaDirectory;

async fn org() -> OktaOrg {
    OktaOrg::builder()
        .users(30)
        .groups(3)
        .app_users(5)
        .start()
        .await
        .unwrap()
}

/// Runs check() and returns the problems as (probe, kind, code, message).
async fn problems(okta: &OktaDirectory) -> Vec<(String, ErrorKind, Option<String>, String)> {
    let report = okta.check().await;
    report
        .problems()
        .map(|(name, e)| {
            assert!(
                e.request_id().is_some() || e.status().is_none(),
                "{name}: no request id: {e}"
            );
            (
                name.to_string(),
                e.kind(),
                e.code().map(str::to_string),
                e.to_string(),
            )
        })
        .collect()
}

async fn only_problem(m: Misconfig) -> (String, ErrorKind, Option<String>, String) {
    let org = org().await;
    org.misconfigure(m.clone());
    let okta = org.provider_builder().build().unwrap();
    let mut p = problems(&okta).await;
    assert_eq!(p.len(), 1, "{m:?}: {p:#?}");
    p.remove(0)
}

#[tokio::test]
async fn a_healthy_org_passes_every_probe() {
    let org = org().await;
    let report = org.provider_builder().build().unwrap().check().await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.probes.len(), 5, "{report}");
    let mode = &report.probes.last().unwrap().name;
    assert!(mode.contains("System Log not requested"), "{report}");
}

#[tokio::test]
async fn unknown_domain() {
    let (_, kind, _, msg) = only_problem(Misconfig::UnknownDomain).await;
    assert_eq!(kind, ErrorKind::InvalidConfig);
    assert!(
        msg.contains("no Okta org answers") && msg.contains("domain"),
        "{msg}"
    );
}

#[tokio::test]
async fn unreachable_domain_names_the_domain() {
    let org = org().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let okta = org
        .provider_builder()
        .domain(format!("http://{dead}"))
        .retry_policy(directory_core::http::RetryPolicy::none())
        .build()
        .unwrap();
    let p = problems(&okta).await;
    assert_eq!(p[0].1, ErrorKind::InvalidConfig, "{p:?}");
    assert!(
        p[0].3.contains("could not connect") && p[0].3.contains("domain"),
        "{}",
        p[0].3
    );
}

#[tokio::test]
async fn wrong_client_id() {
    let (_, kind, code, msg) = only_problem(Misconfig::WrongClientId).await;
    assert_eq!(kind, ErrorKind::Unauthenticated);
    assert_eq!(code.as_deref(), Some("invalid_client"));
    assert!(
        msg.contains("client_id") && msg.contains("API Services"),
        "{msg}"
    );
}

#[tokio::test]
async fn key_not_registered() {
    let (_, kind, code, msg) = only_problem(Misconfig::KeyNotRegistered).await;
    assert_eq!(kind, ErrorKind::InvalidCredential);
    assert_eq!(code.as_deref(), Some("invalid_client"));
    assert!(msg.contains("kid") && msg.contains("Public Keys"), "{msg}");
}

#[tokio::test]
async fn bad_signature() {
    let (_, kind, _, msg) = only_problem(Misconfig::BadSignature).await;
    assert_eq!(kind, ErrorKind::InvalidCredential);
    assert!(
        msg.contains("signature") && msg.contains("private_jwk"),
        "{msg}"
    );
}

#[tokio::test]
async fn clock_skew() {
    let (_, kind, _, msg) = only_problem(Misconfig::ClockSkew(600)).await;
    assert_eq!(kind, ErrorKind::InvalidCredential);
    assert!(msg.contains("clock") && msg.contains("NTP"), "{msg}");
}

#[tokio::test]
async fn dpop_mismatch() {
    let (_, kind, code, msg) = only_problem(Misconfig::DpopMismatch).await;
    assert_eq!(kind, ErrorKind::InvalidCredential);
    assert_eq!(code.as_deref(), Some("invalid_dpop_proof"));
    assert!(msg.contains("DPoP") && msg.contains("clock"), "{msg}");
}

#[tokio::test]
async fn no_scope_granted() {
    let (_, kind, code, msg) = only_problem(Misconfig::GrantedScopes(vec![])).await;
    assert_eq!(kind, ErrorKind::PermissionDenied);
    assert_eq!(code.as_deref(), Some("consent_required"));
    assert!(
        msg.contains("Okta API Scopes") && msg.contains("okta.users.read"),
        "{msg}"
    );
}

#[tokio::test]
async fn token_granted_with_fewer_scopes_than_asked() {
    let org = org().await;
    org.misconfigure(Misconfig::GrantedScopes(vec![
        "okta.users.read".into(),
        "okta.groups.read".into(),
    ]));
    let okta = org.provider_builder().build().unwrap();
    let p = problems(&okta).await;
    assert_eq!(p.len(), 2, "{p:#?}");
    // The token response said so, and the app-users call failed for it.
    assert!(p
        .iter()
        .all(|(_, k, _, m)| *k == ErrorKind::PermissionDenied
            && m.contains("okta.apps.read")
            && m.contains("Okta API Scopes")));
    assert_eq!(p[1].2.as_deref(), Some("insufficient_scope"));
}

#[tokio::test]
async fn no_admin_role() {
    let org = org().await;
    org.misconfigure(Misconfig::NoAdminRole);
    let okta = org.provider_builder().build().unwrap();
    let p = problems(&okta).await;
    assert_eq!(p.len(), 3, "every resource probe fails: {p:#?}");
    for (_, kind, code, msg) in &p {
        assert_eq!(*kind, ErrorKind::AdminRoleMissing);
        assert_eq!(code.as_deref(), Some("E0000006"));
        assert!(
            msg.contains("Read-Only Administrator") && msg.contains("request id"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn wrong_saml_app_id() {
    let (probe, kind, code, msg) = only_problem(Misconfig::WrongAppId).await;
    assert!(probe.contains("SAML app"));
    assert_eq!(kind, ErrorKind::NotFound);
    assert_eq!(code.as_deref(), Some("E0000007"));
    assert!(msg.contains("app_id") && msg.contains("0oa"), "{msg}");
}

#[tokio::test]
async fn all_problems_are_reported_at_once() {
    let org = org().await;
    org.misconfigure(Misconfig::GrantedScopes(vec!["okta.users.read".into()]));
    org.misconfigure(Misconfig::WrongAppId);
    let okta = org.provider_builder().build().unwrap();
    let p = problems(&okta).await;
    let probes: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
    assert!(probes.iter().any(|n| n.contains("groups")), "{probes:?}");
    assert!(probes.iter().any(|n| n.contains("SAML app")), "{probes:?}");
}
