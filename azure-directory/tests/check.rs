//! Every `check()` error, produced by the simulated tenant, with its fix.

use azure_directory::testkit::{Misconfig, SimulatedTenant, TenantHandle};
use azure_directory::AzureDirectoryBuilder;
use directory_core::{CheckReport, DirectoryProvider, Error, ErrorKind};

async fn tenant() -> TenantHandle {
    SimulatedTenant::builder()
        .seed(5)
        .users(40)
        .groups(5)
        .start()
        .await
        .unwrap()
}

async fn report(b: AzureDirectoryBuilder) -> CheckReport {
    b.build().unwrap().check().await
}

/// The one failed probe's error.
fn only_problem(r: &CheckReport) -> &Error {
    let problems: Vec<_> = r.problems().collect();
    assert_eq!(problems.len(), 1, "expected one problem:\n{r}");
    problems[0].1
}

#[tokio::test]
async fn a_correct_setup_passes_every_probe() {
    let t = tenant().await;
    for b in [t.provider_builder(), t.provider_builder_with_certificate()] {
        let r = report(b).await;
        assert!(r.is_ok(), "{r}");
        assert!(r.probes.len() >= 6, "{r}");
    }
}

#[tokio::test]
async fn unknown_tenant_is_aadsts90002() {
    let t = tenant().await;
    t.misconfigure(Misconfig::UnknownTenant);
    let r = report(t.provider_builder()).await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert_eq!(e.code(), Some("AADSTS90002"));
    assert!(e.request_id().is_some());
    assert!(
        e.message().contains("AZURE_TENANT_ID") && e.message().contains("Directory (tenant) ID"),
        "{e}"
    );
}

#[tokio::test]
async fn unknown_application_is_aadsts700016() {
    let t = tenant().await;
    let r = report(
        t.provider_builder()
            .client_id("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
    )
    .await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.code(), Some("AADSTS700016"));
    assert!(e.message().contains("Application (client) ID"), "{e}");
}

#[tokio::test]
async fn wrong_secret_is_aadsts7000215_and_says_value_not_id() {
    let t = tenant().await;
    t.misconfigure(Misconfig::WrongSecret);
    let r = report(t.provider_builder()).await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::InvalidCredential);
    assert_eq!(e.code(), Some("AADSTS7000215"));
    assert!(
        e.message().contains("Value") && e.message().contains("not its Secret ID"),
        "{e}"
    );
    assert_eq!(e.status(), Some(401));
}

#[tokio::test]
async fn expired_secret_is_aadsts7000222_and_must_be_renewed() {
    let t = tenant().await;
    t.misconfigure(Misconfig::ExpiredSecret);
    let r = report(t.provider_builder()).await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::ExpiredCredential);
    assert_eq!(e.code(), Some("AADSTS7000222"));
    assert!(e.message().contains("renewed"), "{e}");
}

#[tokio::test]
async fn unregistered_certificate_is_a_rejected_assertion() {
    let t = tenant().await;
    t.misconfigure(Misconfig::CertificateNotRegistered);
    let r = report(t.provider_builder_with_certificate()).await;
    let e = r
        .problems()
        .map(|p| p.1)
        .find(|e| e.code().is_some())
        .expect("a token error");
    assert_eq!(e.kind(), ErrorKind::InvalidCredential);
    assert_eq!(e.code(), Some("AADSTS700027"));
    assert!(
        e.message().contains("upload this certificate") && e.message().contains("thumbprint"),
        "{e}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_reported_with_its_date() {
    let t = tenant().await;
    let b = t
        .provider_builder_with_certificate()
        .client_certificate(t.expired_certificate_pem(), Some(t.certificate_key_pem()));
    let r = report(b).await;
    let e = r.problems().next().expect("a problem").1;
    assert_eq!(e.kind(), ErrorKind::ExpiredCredential);
    assert!(e.message().contains("expired on 2021-01-01"), "{e}");
}

#[tokio::test]
async fn missing_admin_consent_names_every_missing_permission() {
    let t = tenant().await;
    t.misconfigure(Misconfig::NoAdminConsent);
    let r = report(t.provider_builder()).await;
    let problems: Vec<&Error> = r.problems().map(|p| p.1).collect();
    let roles = problems
        .iter()
        .find(|e| e.code() == Some("missingRoles"))
        .expect("the roles probe fails");
    assert!(roles.message().contains("admin consent"), "{roles}");
    for p in [
        "User.Read.All",
        "GroupMember.Read.All",
        "Application.Read.All",
    ] {
        assert!(roles.message().contains(p), "{roles}");
    }
    let denied: Vec<&&Error> = problems
        .iter()
        .filter(|e| e.code() == Some("Authorization_RequestDenied"))
        .collect();
    assert!(denied.len() >= 2, "{r}");
    assert!(denied
        .iter()
        .all(|e| e.kind() == ErrorKind::PermissionDenied
            && e.request_id().is_some()
            && e.message().contains("Grant admin consent")));
}

#[tokio::test]
async fn one_missing_permission_is_named() {
    let t = tenant().await;
    t.misconfigure(Misconfig::MissingPermission("Application.Read.All".into()));
    let r = report(t.provider_builder()).await;
    let problems: Vec<&Error> = r.problems().map(|p| p.1).collect();
    assert!(
        problems
            .iter()
            .all(|e| e.message().contains("Application.Read.All")),
        "{r}"
    );
    assert!(
        problems
            .iter()
            .any(|e| e.code() == Some("Authorization_RequestDenied") && e.status() == Some(403)),
        "{r}"
    );
}

#[tokio::test]
async fn wrong_service_principal_id_is_request_resource_not_found() {
    let t = tenant().await;
    let r = report(
        t.provider_builder()
            .service_principal_id("0badc0de-0000-4000-8000-000000000000"),
    )
    .await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.code(), Some("Request_ResourceNotFound"));
    assert!(e.request_id().is_some());
    assert!(
        e.message()
            .contains("Object ID under Enterprise applications"),
        "{e}"
    );
}

#[tokio::test]
async fn the_application_id_given_as_service_principal_id_is_caught_and_the_right_id_named() {
    let t = tenant().await;
    let r = report(t.provider_builder().service_principal_id(t.sso_app_id())).await;
    let e = only_problem(&r);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.message().contains("is the Application (client) ID"),
        "{e}"
    );
    assert!(
        e.message().contains(&t.service_principal_id()),
        "the right object id is named: {e}"
    );
    // The sync app's own client id is refused before any request.
    let own = t
        .provider_builder()
        .service_principal_id(t.client_id())
        .build()
        .unwrap_err();
    assert!(own.message().starts_with("service_principal_id:"), "{own}");
}

#[tokio::test]
async fn a_deleted_service_principal_is_reported() {
    let t = tenant().await;
    t.misconfigure(Misconfig::ServicePrincipalDeleted);
    let r = report(t.provider_builder()).await;
    assert_eq!(only_problem(&r).code(), Some("Request_ResourceNotFound"));
}
